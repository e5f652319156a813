"""Cold code: the checked copies of versioned loops, compiled on first use.

A versioned loop (runtime/versioning.py) runs its bounds-checked copy only
when the fast path's precondition fails, mostly on the way to an error.
Compiling those copies with every function cost about a tenth of a first
call, so they live in a second LLVM module, lowered with the function but
compiled and linked only when a call first needs one.

Invariants:
- The main module calls each copy through an exported pointer global (a
  slot), null until the copies are linked. On null it calls
  `irad_materialize_cold(slot)`, a ctypes callback (it takes the GIL),
  which compiles and links the whole cold module once, under this
  module's lock, and stores every copy's address into its slot; then the
  main code reads the slot again. It returns non-zero on failure, and the
  main code raises `CompileError` at the loop (the cause is logged).
- Slot writes happen after linking, so a thread that reads a non-null
  slot (acquire) finds the code in place.
- `ColdCode` lives as long as its `CompiledFunction`, which holds it, and
  its library as long as it; the slots are forgotten when the function is
  collected. A disk-cache entry stores the cold object code too
  (`object_code()` compiles it): a cache hit has no IR to lower it from.
- The cold module's sites are numbered with the main module's, so the
  signature's sites describe both.
"""
from __future__ import annotations

import ctypes
import logging
import threading
import time
import weakref

from . import slots

MATERIALIZE = "irad_materialize_cold"    # (ptr slot) -> i32: 0 once the slot holds its function

log = logging.getLogger("irad")
_lock = threading.RLock()
_by_slot: dict[int, "ColdCode"] = {}     # slot address -> the cold code that fills it


class ColdCode:
    """The cold module of one compiled function: an llvmlite module until compiled, then its
    object code; linked on first use."""

    def __init__(self, name: str, slot_functions, exported, module=None,
                 object_code: bytes | None = None):
        self.name = name
        self.slot_functions = tuple(slot_functions)    # (slot symbol, function symbol)
        self.exported = list(exported)                 # the cold module's slot functions (slots.py)
        self._module, self._object = module, object_code
        self._slot_addresses: list[int] = []
        self._tracker = None

    def object_code(self) -> bytes:
        with _lock:
            if self._object is None:
                from .jit import compile_module
                self._object, self._module = compile_module(self._module), None
            return self._object

    def attach(self, owner, addresses: dict) -> None:
        """Serve the slots at `addresses` (symbol -> address) of `owner`'s library until `owner`
        is collected."""
        self._slot_addresses = [addresses[slot] for slot, _ in self.slot_functions]
        with _lock:
            for address in self._slot_addresses:
                _by_slot[address] = self
        weakref.finalize(owner, _forget, tuple(self._slot_addresses))

    def materialize(self) -> None:
        with _lock:
            if self._tracker is not None:
                return
            from .jit import link
            start = time.perf_counter()
            functions = [fn for _, fn in self.slot_functions]
            obj = self.object_code()
            tracker, addresses = link(obj, functions + self.exported)
            slots.release_on_collect(self, tracker, self.exported)
            for slot, fn in zip(self._slot_addresses, functions):
                ctypes.c_void_p.from_address(slot).value = addresses[fn]
            self._tracker = tracker
            log.info("compiled the checked loop copies of %s on first use in %.1f ms", self.name,
                     (time.perf_counter() - start) * 1e3)


def _forget(addresses) -> None:
    with _lock:
        for address in addresses:
            _by_slot.pop(address, None)


@ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p)
def _materialize(slot_address):
    try:
        with _lock:
            cold = _by_slot.get(slot_address)
            if cold is None:
                return 1
            cold.materialize()
        return 0
    except BaseException:  # never unwind into native code
        log.exception("irad: compiling cold code failed")
        return 1


def symbols() -> dict:
    """The runtime symbol that generated code with slots imports."""
    return {MATERIALIZE: ctypes.cast(_materialize, ctypes.c_void_p).value}
