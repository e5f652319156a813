"""Cache slots: buffers that generated code keeps across calls.

Allocating a large buffer afresh on every call costs page faults (malloc
hands big blocks out as fresh mmaps), often more than the work done in
them. So every tape site and every scratch `alloc` site owns a slot, an
internal module global {buffer or null, hits} holding at most one parked
buffer and counting the takes that found one; a call takes
the buffer when it starts using the site and parks it again when the
buffer is released (runtime/arena.py, runtime/tapes.py).

Invariants:
- A parked buffer is a malloc'd block of at least 8 bytes whose first
  8 bytes hold its capacity in bytes; nothing else points to it.
- `take` empties the slot with an atomic exchange, so the buffer it
  returns belongs to the caller alone; concurrent or recursive calls that
  find the slot empty malloc their own buffer. Every pointer obtained by
  an exchange is owned exclusively, so `park` never frees a buffer
  another thread uses: it fills an empty slot (compare-exchange), or else
  keeps the larger of the two buffers and frees the other.
- A buffer that leaves the call (a result array, a tape returned to
  Python) is never parked: Python owns it.
- A scratch `alloc` takes the parked buffer only if it fits and wastes
  at most its size plus 4 KiB (else frees it and mallocs), so a small
  array never keeps a huge buffer alive.
- Retained memory: per site, the buffer of its last call (a tape's final
  capacity, at least the bytes pushed; a scratch array's size), so about
  one call's tapes and scratch arrays per compiled function (the larger
  one when threads race). It is held until the slot is taken again or
  `irad_release_caches()` frees them all; every module with slots
  defines it (`exported`), and its owner calls it before unloading the
  module (`release_on_collect`); it must not run while a call is in
  flight. `irad_cache_hits()` sums the slots' hits (for tests and debugging).
- `take`, `park` and `clear` belong to the runtime library
  (runtime/library.py): compiled once per process, called by every module.
"""
from __future__ import annotations

import ctypes
import weakref

from llvmlite import ir

from .abi import I32, I64, PTR, VOID, i64

RELEASE_SYMBOL = "irad_release_caches"      # () -> i64: frees every parked buffer, returns their bytes
HITS_SYMBOL = "irad_cache_hits"             # () -> i64: takes that found a buffer, since loading
MIN_BYTES = 8                               # room for the capacity while parked
_NULL = ir.Constant(PTR, None)
TAKEN = ir.LiteralStructType([PTR, I64])


SLOT = ir.LiteralStructType([PTR, I64])     # the parked buffer (or null), takes that found one


def new_slot(ml) -> ir.GlobalVariable:
    """A fresh empty slot, registered with the module's release and hits functions."""
    slot = _global(ml, "irad.slot", SLOT, ir.Constant(SLOT, [None, 0]))
    _append_sum(ml, RELEASE_SYMBOL, lambda b: b.call(clear_fn(ml), [slot]))
    _append_sum(ml, HITS_SYMBOL, lambda b: b.load_atomic(_hits(b, slot), "monotonic", 8, typ=I64))
    return slot


def _append_sum(ml, name: str, term) -> None:
    """Add `term(builder)` to what the module's function `name() -> i64` returns."""
    fn = ml.module.globals.get(name)
    if fn is None:
        fn = ir.Function(ml.module, ir.FunctionType(I64, []), name)
        fn.attributes.add("nounwind")
        ir.IRBuilder(fn.append_basic_block("entry")).ret(i64(0))
    block = fn.blocks[0]
    ret = block.terminator
    block.instructions.remove(ret)
    block.terminator = None
    b = ir.IRBuilder(block)
    b.ret(b.add(ret.operands[0], term(b)))


def _hits(b, slot) -> ir.Value:
    return b.gep(slot, [ir.Constant(I32, 0), ir.Constant(I32, 1)], inbounds=True, source_etype=SLOT)


def clear_fn(ml) -> ir.Function:
    """irad.slot.clear(slot) -> i64: free the parked buffer, if any; its capacity or 0."""
    def build(fn):
        (slot,) = fn.args
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        p = b.atomic_rmw("xchg", slot, _NULL, "seq_cst")
        with b.if_then(b.icmp_unsigned("==", p, _NULL)):
            b.ret(i64(0))
        nbytes = b.load(p, typ=I64, align=8)
        b.call(ml.declare("free", VOID, [PTR]), [p])
        b.ret(nbytes)
    return ml.shared("irad.slot.clear", I64, [PTR], build)


def _global(ml, name, ty, init) -> ir.GlobalVariable:
    g = ir.GlobalVariable(ml.module, ty, ml.module.get_unique_name(name))
    g.linkage = "internal"
    g.initializer = init
    g.align = 8
    return g


def take_fn(ml) -> ir.Function:
    """irad.slot.take(slot) -> {buffer or null, its capacity in bytes or 0}."""
    def build(fn):
        (slot,) = fn.args
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        p = b.atomic_rmw("xchg", slot, _NULL, "seq_cst")
        empty = fn.append_basic_block("empty")
        full = fn.append_basic_block("full")
        b.cbranch(b.icmp_unsigned("==", p, _NULL), empty, full)
        b.position_at_end(empty)
        b.ret(ir.Constant(TAKEN, [None, 0]))
        b.position_at_end(full)
        b.atomic_rmw("add", _hits(b, slot), i64(1), "monotonic")
        taken = b.insert_value(ir.Constant(TAKEN, ir.Undefined), p, 0)
        b.ret(b.insert_value(taken, b.load(p, typ=I64, align=8), 1))
    return ml.shared("irad.slot.take", TAKEN, [PTR], build)


def park_fn(ml) -> ir.Function:
    """irad.slot.park(slot, buffer, bytes): give back a buffer this caller owns (null: nothing;
    no slot or too small: free it)."""
    return ml.shared("irad.slot.park", VOID, [PTR, PTR, I64], lambda fn: _build_park(ml, fn))


def _build_park(ml, fn):
    slot, p, nbytes = fn.args
    free = ml.declare("free", VOID, [PTR])
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    with b.if_then(b.icmp_unsigned("==", p, _NULL)):
        b.ret_void()
    unusable = b.or_(b.icmp_unsigned("==", slot, _NULL), b.icmp_unsigned("<", nbytes, i64(MIN_BYTES)))
    with b.if_then(unusable, likely=False):
        b.call(free, [p])
        b.ret_void()
    b.store(nbytes, p, align=8)
    filled = b.cmpxchg(slot, _NULL, p, "seq_cst", "seq_cst")
    with b.if_then(b.extract_value(filled, 1), likely=True):
        b.ret_void()
    old = b.atomic_rmw("xchg", slot, p, "seq_cst")          # p is parked; old is ours now
    with b.if_then(b.icmp_unsigned("==", old, _NULL)):
        b.ret_void()
    with b.if_else(b.icmp_unsigned(">", b.load(old, typ=I64, align=8), nbytes)) as (larger, smaller):
        with larger:                                          # park old instead, free what it displaces
            b.call(free, [b.atomic_rmw("xchg", slot, old, "seq_cst")])
        with smaller:
            b.call(free, [old])
    b.ret_void()


# ---- Python side ------------------------------------------------------------------------

def exported(ml) -> list[str]:
    """The cache functions this module defines, to export when linking it."""
    return [name for name in (RELEASE_SYMBOL, HITS_SYMBOL) if name in ml.module.globals]


def call(address: int) -> int:
    """Call a module's `RELEASE_SYMBOL` or `HITS_SYMBOL` function by address."""
    return ctypes.CFUNCTYPE(ctypes.c_int64)(address)()


def release_on_collect(owner, tracker, symbols) -> None:
    """Free the module's parked buffers when `owner`, which holds its library (`tracker`), is
    collected; the finalizer keeps the library loaded until then."""
    if RELEASE_SYMBOL in symbols:
        weakref.finalize(owner, _release, tracker[RELEASE_SYMBOL], tracker)


def _release(address: int, tracker) -> None:
    """Free the parked buffers; `tracker` rides along so the library outlives the call."""
    call(address)
