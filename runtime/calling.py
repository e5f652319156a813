"""Calling compiled code from Python: arguments, results, errors.

Invariants:
- `CompiledFunction(*args)` takes the function's arguments in order and
  returns a list of results: scalars as NumPy scalars of the result type,
  arrays as NumPy arrays. A returned array that is a fresh allocation owns
  its memory (freed with libc `free` when the last view of it dies); one
  that aliases an argument keeps that argument alive, and is the argument
  itself when it covers it exactly.
- Two ways in: the shared CPython-API wrapper (runtime/cpython.py and
  support.py, a builtin installed as `__call__`), and `call_raw`, which
  converts and checks in Python and calls the C entry through ctypes.
  Both release the GIL during the native call. Anything the wrapper does
  not take goes to `call_raw`, which converts (ndarray subclasses, NumPy
  scalars of another type) or raises a precise `ArgumentError`.
- Output buffers are per thread, so one function can run on many threads.
"""
from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass

import numpy as np

from irad.ir import Func
from irad.types import ArrayType, ScalarType, TapeType

from . import entry as E
from .abi import ERR_FIELDS
from .cpython import LAYOUT_OK, lenient, make_callable, strict
from .errors import ARGUMENT, ArgumentError, InvalidValueError, Site
from .tapes import TapeHandle

_ARG_CTYPES = {"f64": ctypes.c_double, "f32": ctypes.c_float, "i64": ctypes.c_int64,
               "i32": ctypes.c_int32, "i1": ctypes.c_bool}
_OUT_CTYPES = {**_ARG_CTYPES, "i1": ctypes.c_uint8}
_libc = ctypes.CDLL(None)
_free = _libc.free
_free.argtypes, _free.restype = [ctypes.c_void_p], None


@dataclass(frozen=True)
class Signature:
    """What Python needs to know to call a compiled function."""

    name: str
    arg_types: tuple
    arg_names: tuple
    result_types: tuple
    sites: tuple
    written: frozenset
    fastmath: bool
    boundscheck: bool
    symbols: tuple = ()          # exported: C entry, then packed entry
    noalias: frozenset = frozenset()   # array arguments that may not overlap any other argument
    cold_slots: tuple = ()       # (slot, function) of each checked loop copy (runtime/cold.py)
    cold_exports: tuple = ()     # the cold module's slot functions (runtime/slots.py)

    @classmethod
    def of(cls, func: Func, sites, written, symbols, *, fastmath: bool, boundscheck: bool,
           noalias=frozenset(), cold_slots=(), cold_exports=()) -> "Signature":
        return cls(func.name, tuple(a.type for a in func.args), tuple(a.hint or f"arg{k}" for k, a in
                   enumerate(func.args)), tuple(func.result_types), tuple(sites), frozenset(written),
                   fastmath, boundscheck, tuple(symbols), frozenset(noalias), tuple(cold_slots),
                   tuple(cold_exports))

    def where(self, k: int) -> str:
        return f"@{self.name} argument {k} (%{self.arg_names[k]})"


# ---- results -------------------------------------------------------------------------

def out_ctype(result_types) -> type:
    fields = []
    for j, t in enumerate(result_types):
        if isinstance(t, ScalarType):
            fields.append((f"r{j}", _OUT_CTYPES[t.name]))
            continue
        if isinstance(t, TapeType):
            fields.append((f"r{j}", ctypes.c_void_p))
            continue
        class ArrayOut(ctypes.Structure):
            _fields_ = [("data", ctypes.c_void_p), ("base", ctypes.c_void_p), ("owner", ctypes.c_int64),
                        ("shape", ctypes.c_int64 * t.ndim), ("strides", ctypes.c_int64 * t.ndim)]
        fields.append((f"r{j}", ArrayOut))
    return type("Out", (ctypes.Structure,), {"_fields_": fields})


class _Owner:
    """Owns one allocation made by native code; frees it when collected."""

    __slots__ = ("ptr",)

    def __init__(self, ptr: int):
        self.ptr = ptr

    def __del__(self):
        _free(self.ptr)


class _Exposed:
    """Presents native memory to NumPy; keeps its owner alive."""

    __slots__ = ("__array_interface__", "keep")

    def __init__(self, keep, data, shape, strides, typestr, readonly):
        self.keep = keep
        self.__array_interface__ = {"version": 3, "data": (data, readonly), "shape": shape,
                                    "strides": strides, "typestr": typestr}


def _data_ptr(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def box_results(res, args, result_types) -> list:
    owners: dict[int, _Owner] = {}
    out = []
    for j, t in enumerate(result_types):
        r = getattr(res, f"r{j}")
        if isinstance(t, ScalarType):
            out.append(t.numpy.type(r))
            continue
        if isinstance(t, TapeType):
            out.append(next((a for a in args if isinstance(a, TapeHandle) and a.ptr == r), None)
                       or TapeHandle(r, t.element, _free))
            continue
        size = t.dtype.numpy.itemsize
        shape = tuple(r.shape)
        strides = tuple(s * size for s in r.strides)
        if r.owner >= 0:
            src = args[r.owner]
            if r.data == _data_ptr(src) and shape == src.shape and strides == src.strides:
                out.append(src)
                continue
            keep, readonly = src, not src.flags.writeable
        else:
            keep = owners.get(r.base) or owners.setdefault(r.base, _Owner(r.base))
            readonly = False
        out.append(np.asarray(_Exposed(keep, r.data, shape, strides, t.dtype.numpy.str, readonly)))
    return out


# ---- arguments -------------------------------------------------------------------------

def coerce_scalar(value, t: ScalarType, where: str):
    """A Python value ctypes passes exactly as NumPy would convert `value` to t."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if not isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating)):
        raise ArgumentError(f"{where}: expected a {t} scalar, got {type(value).__name__}")
    if not t.is_float and isinstance(value, (float, np.floating)) and not float(value).is_integer():
        raise ArgumentError(f"{where}: expected a {t} scalar, got the non-integral float {value!r}")
    return t.numpy.type(value).item()


_REASONS = {
    E.NDIM: "an array of another ndim",
    E.DTYPE: "an array of another dtype",
    E.BYTEORDER: "an array in non-native byte order",
    E.MISALIGNED: "a misaligned array",
    E.NOT_CONTIGUOUS: "an array that is not C-contiguous",
    E.STRIDE: "an array whose strides are not whole elements",
}
_HINTS = {E.NOT_CONTIGUOUS: "pass np.ascontiguousarray(a), or compile for layout 'strided'",
          E.BYTEORDER: "convert with a.astype(a.dtype.newbyteorder('='))"}


def argument_error(sig: Signature, k: int, reason: int, value) -> Exception:
    t = sig.arg_types[k]
    if reason == E.READONLY:
        return InvalidValueError(f"{sig.where(k)} is read-only, but @{sig.name} may write to it")
    if reason == E.NOT_NDARRAY or not isinstance(value, np.ndarray):
        return ArgumentError(f"{sig.where(k)}: expected {t} (a NumPy array), got {type(value).__name__}")
    got = f"{value.dtype} array of ndim {value.ndim}"
    return ArgumentError(f"{sig.where(k)}: expected {t}, got {_REASONS.get(reason, 'an array')} "
                         f"({got})", None, _HINTS.get(reason))


def check_tape(sig: Signature, k: int, value, t: TapeType) -> TapeHandle:
    if not isinstance(value, TapeHandle) or value.element != t.element:
        raise ArgumentError(f"{sig.where(k)}: expected a native {t} (a TapeHandle), got {value!r}")
    return value


def convert(sig: Signature, k: int, value, t):
    """Argument k as the fast path passes it (arrays and tapes checked, scalars converted)."""
    if isinstance(t, ArrayType):
        return check_array(sig, k, value, t)
    if isinstance(t, TapeType):
        return check_tape(sig, k, value, t)
    return coerce_scalar(value, t, sig.where(k))


def check_array(sig: Signature, k: int, value, t: ArrayType) -> np.ndarray:
    """The checks the native Python entry makes, in Python (portable path)."""
    if not isinstance(value, np.ndarray):
        raise argument_error(sig, k, E.NOT_NDARRAY, value)
    a = value.view(np.ndarray) if type(value) is not np.ndarray else value
    size = t.dtype.numpy.itemsize
    for failed, reason in ((a.ndim != t.ndim, E.NDIM), (a.dtype.newbyteorder("=") != t.dtype.numpy, E.DTYPE),
                           (not a.dtype.isnative, E.BYTEORDER),
                           (not a.flags.aligned, E.MISALIGNED),
                           (t.layout == "C" and not a.flags.c_contiguous, E.NOT_CONTIGUOUS),
                           (k in sig.written and not a.flags.writeable, E.READONLY),
                           (any(s % size for s in a.strides), E.STRIDE)):
        if failed:
            raise argument_error(sig, k, reason, a)
    return a


# ---- the compiled function ---------------------------------------------------------------

class CompiledFunction:
    """A natively compiled IR function; call it like the function itself."""

    def __init__(self, signature: Signature, llvm_ir: str, llvm_ir_optimized, object_code: bytes,
                 tracker, entry_address: int, packed_address: int):
        """`llvm_ir_optimized`: the text, or a function that makes it when first asked for."""
        self.signature = signature
        self.name = signature.name
        self.llvm_ir = llvm_ir
        self._optimized = llvm_ir_optimized
        self.object_code = object_code
        self.cold_code = None               # runtime/cold.py: set by load_compiled
        self.packed_address = packed_address
        self._asm = None
        self._tracker = tracker
        self._out = out_ctype(signature.result_types)
        self._words = max(ERR_FIELDS, -(-ctypes.sizeof(self._out) // 8))
        self._tls = threading.local()
        raw = [c for t in signature.arg_types for c in _raw_ctypes(t)]
        self._entry = ctypes.CFUNCTYPE(ctypes.c_int32, *raw, ctypes.c_void_p)(entry_address)
        if LAYOUT_OK:
            desc = lenient(signature, packed_address, self._out)
            call = make_callable(self.name, desc, self.call_raw, self._boxer(box_results), self._failed_handler,
                                 tracker)
            self.__class__ = type(f"Compiled_{self.name}", (CompiledFunction,), {"__call__": call})

    def __repr__(self) -> str:
        return f"<CompiledFunction @{self.name}>"

    def cold_object_code(self) -> bytes | None:
        """The object code of its checked loop copies (compiled now if not yet), for relinking
        with `load_compiled`; None when it has none."""
        return self.cold_code.object_code() if self.cold_code is not None else None

    @property
    def llvm_ir_optimized(self) -> str:
        if callable(self._optimized):
            self._optimized = self._optimized()
        return self._optimized

    @property
    def asm(self) -> str:
        if self._asm is None:
            from .jit import assemble
            self._asm = assemble(self.llvm_ir_optimized)
        return self._asm

    def __call__(self, *args) -> list:
        return self.call_raw(*args)

    def dispatcher(self, leaves, out_tree, fallback, output):
        """A builtin that calls this function on arguments with the signature key of `leaves`
        (exactly; anything else goes to `fallback`), returning `output(results)`, with a lone
        scalar result built natively (runtime/cpython.py); None where no wrapper can be made."""
        if not LAYOUT_OK:
            return None
        desc = strict(self.signature, self.packed_address, self._out, leaves, out_tree)
        return make_callable(self.name, desc, fallback, self._boxer(lambda *a: output(box_results(*a))),
                             self._failed_handler, self)

    def _boxer(self, box):
        out, types = self._out, self.signature.result_types
        return lambda address, *args: box(out.from_address(address), args, types)

    def _failed_handler(self, address, *args):
        err = (ctypes.c_int64 * ERR_FIELDS).from_address(address)
        return self._failed(err[0], err, args)

    def _buffers(self):
        buf = (ctypes.c_int64 * self._words)()
        bufs = (self._out.from_buffer(buf), (ctypes.c_int64 * ERR_FIELDS).from_buffer(buf),
                ctypes.addressof(buf))
        self._tls.bufs = bufs
        return bufs

    def _arity(self, args) -> None:
        if len(args) != len(self.signature.arg_types):
            raise ArgumentError(f"@{self.name} takes {len(self.signature.arg_types)} arguments, "
                                f"got {len(args)}")

    def _failed(self, status, err, args):
        if status == ARGUMENT:
            k, reason = err[1], err[2]
            if reason == E.ALIASED:
                sig = self.signature
                raise InvalidValueError(f"{sig.where(k)} shares memory with {sig.where(err[3])}, but "
                                        f"@{sig.name} was compiled assuming it does not (noalias)", None,
                                        "give each gradient shadow its own buffer, e.g. np.zeros_like(x)")
            raise argument_error(self.signature, k, reason, args[k])
        site: Site = self.signature.sites[err[1]]
        raise site.exception(err[2], err[3])

    def call_raw(self, *args) -> list:
        """Call through the C entry, converting and checking in Python (the portable path, and
        the fast path's fallback for what it does not take)."""
        self._arity(args)
        sig, flat, arrays = self.signature, [], []
        for k, (v, t) in enumerate(zip(args, sig.arg_types)):
            if not isinstance(t, ArrayType):
                converted = convert(sig, k, v, t)
                flat.append(converted.ptr if isinstance(t, TapeType) else converted)
                arrays.append(converted)
                continue
            a = check_array(sig, k, v, t)
            arrays.append(a)
            size = a.dtype.itemsize
            strides = [0] * a.ndim if t.layout == "C" else [s // size for s in a.strides]
            flat += [_data_ptr(a), *a.shape, *strides]
        res, err, addr = getattr(self._tls, "bufs", None) or self._buffers()
        status = self._entry(*flat, addr)
        if status:
            return self._failed(status, err, arrays)
        return box_results(res, arrays, sig.result_types)


def _raw_ctypes(t) -> list:
    if t.is_scalar:
        return [_OUT_CTYPES[t.name]]
    if isinstance(t, TapeType):
        return [ctypes.c_void_p]
    return [ctypes.c_void_p] + [ctypes.c_int64] * (2 * t.ndim)
