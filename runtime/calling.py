"""Calling compiled code from Python: arguments, results, errors.

Invariants:
- `CompiledFunction(*args)` takes the function's arguments in order and
  returns a list of results: scalars as NumPy scalars of the result type,
  arrays as NumPy arrays. A returned array that is a fresh allocation owns
  its memory (freed with libc `free` when the last view of it dies); one
  that aliases an argument keeps that argument alive, and is the argument
  itself when it covers it exactly.
- Three ways in, fastest first: the CPython-API wrapper (runtime/cpython.py,
  a builtin installed as `__call__`); the ctypes path, which hands arrays to
  the native Python entry as object pointers and scalars as ctypes values
  (the wrapper's fallback); `call_raw`, which marshals in Python through
  the C entry. All release the GIL during the native call. Anything the
  native checks refuse takes a slow path that converts (ndarray
  subclasses, NumPy scalars of another type) or raises a precise
  `ArgumentError`.
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
    symbols: tuple = ()          # exported: C entry, then Python entry and wrapper if built
    noalias: frozenset = frozenset()   # array arguments that may not overlap any other argument

    @classmethod
    def of(cls, func: Func, sites, written, symbols, *, fastmath: bool, boundscheck: bool,
           noalias=frozenset()) -> "Signature":
        return cls(func.name, tuple(a.type for a in func.args), tuple(a.hint or f"arg{k}" for k, a in
                   enumerate(func.args)), tuple(func.result_types), tuple(sites), frozenset(written),
                   fastmath, boundscheck, tuple(symbols), frozenset(noalias))

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

    def __init__(self, signature: Signature, llvm_ir: str, llvm_ir_optimized: str, object_code: bytes,
                 tracker, entry_address: int, pyentry_address: int | None,
                 wrapper_address: int | None = None):
        self.signature = signature
        self.name = signature.name
        self.llvm_ir = llvm_ir
        self.llvm_ir_optimized = llvm_ir_optimized
        self.object_code = object_code
        self._asm = None
        self._tracker = tracker
        self._out = out_ctype(signature.result_types)
        self._words = max(ERR_FIELDS, -(-ctypes.sizeof(self._out) // 8))
        self._tls = threading.local()
        raw = [c for t in signature.arg_types for c in _raw_ctypes(t)]
        self._entry = ctypes.CFUNCTYPE(ctypes.c_int32, *raw, ctypes.c_void_p)(entry_address)
        self._pyentry = None
        if pyentry_address is not None:
            py = [ctypes.py_object if t.is_array else _raw_ctypes(t)[0] for t in signature.arg_types]
            self._pyentry = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, *py, ctypes.c_void_p)(
                pyentry_address)
            self.__class__ = _specialize(self, wrapper_address)

    def __repr__(self) -> str:
        return f"<CompiledFunction @{self.name}>"

    @property
    def asm(self) -> str:
        if self._asm is None:
            from .jit import assemble
            self._asm = assemble(self.llvm_ir_optimized)
        return self._asm

    def __call__(self, *args) -> list:
        return self.call_raw(*args)

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

    def _invoke(self, args) -> list:
        """The native Python entry on already converted arguments."""
        res, err, addr = getattr(self._tls, "bufs", None) or self._buffers()
        status = self._pyentry(_NDARRAY, *args, addr)
        if status:
            return self._failed(status, err, args, retry=False)
        return box_results(res, args, self.signature.result_types)

    def _convert_and_call(self, args) -> list:
        self._arity(args)
        sig = self.signature
        converted = tuple(convert(sig, k, v, t) for k, (v, t) in enumerate(zip(args, sig.arg_types)))
        return self._invoke(converted)

    def _failed(self, status, err, args, retry=True):
        if status == ARGUMENT:
            k, reason = err[1], err[2]
            if retry and reason == E.NOT_NDARRAY and isinstance(args[k], np.ndarray):
                return self._convert_and_call(args)
            if reason == E.ALIASED:
                sig = self.signature
                raise InvalidValueError(f"{sig.where(k)} shares memory with {sig.where(err[3])}, but "
                                        f"@{sig.name} was compiled assuming it does not (noalias)", None,
                                        "give each gradient shadow its own buffer, e.g. np.zeros_like(x)")
            raise argument_error(self.signature, k, reason, args[k])
        site: Site = self.signature.sites[err[1]]
        raise site.exception(err[2], err[3])

    def call_raw(self, *args) -> list:
        """Call through the C entry, marshalling in Python (the portable path)."""
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
            return self._failed(status, err, arrays, retry=False)
        return box_results(res, arrays, sig.result_types)


_NDARRAY = id(np.ndarray)


def _raw_ctypes(t) -> list:
    if t.is_scalar:
        return [_OUT_CTYPES[t.name]]
    if isinstance(t, TapeType):
        return [ctypes.c_void_p]
    return [ctypes.c_void_p] + [ctypes.c_int64] * (2 * t.ndim)


def _specialize(cf: CompiledFunction, wrapper_address: int | None) -> type:
    """A subclass whose `__call__` is the CPython wrapper (if built) or a ctypes
    call generated for this signature."""
    sig = cf.signature
    names = ", ".join(f"a{k}" for k in range(len(sig.arg_types)))
    packed = f"({names},)" if sig.arg_types else "()"
    if all(t.is_scalar for t in sig.result_types):
        converters = {f"_c{j}": t.numpy.type for j, t in enumerate(sig.result_types)}
        result = "[" + ", ".join(f"_c{j}(res.r{j})" for j in range(len(sig.result_types))) + "]"
    else:
        converters = {}
        result = f"_box(res, {packed}, _types)"
    guards = "".join(f"    if type(a{k}) is not _Tape or a{k}.element != _e{k}:\n"
                     f"        return self._convert_and_call({packed})\n"
                     for k, t in enumerate(sig.arg_types) if isinstance(t, TapeType))
    elements = {f"_e{k}": t.element for k, t in enumerate(sig.arg_types) if isinstance(t, TapeType)}
    source = (
        f"def __call__(self{', ' if names else ''}{names}):\n"
        f"{guards}"
        f"    try:\n"
        f"        res, err, addr = _tls.bufs\n"
        f"    except AttributeError:\n"
        f"        res, err, addr = self._buffers()\n"
        f"    try:\n"
        f"        status = _py(_nd{', ' if names else ''}{names}, addr)\n"
        f"    except _ctypes_error:\n"
        f"        return self._convert_and_call({packed})\n"
        f"    if status:\n"
        f"        return self._failed(status, err, {packed})\n"
        f"    return {result}\n")
    scope = {"_tls": cf._tls, "_py": cf._pyentry, "_nd": _NDARRAY, "_ctypes_error": ctypes.ArgumentError,
             "_box": box_results, "_types": sig.result_types, "_Tape": TapeHandle, **elements, **converters}
    exec(compile(source, f"<irad call @{sig.name}>", "exec"), scope)
    members = {"__call__": scope["__call__"], "_ctypes_call": scope["__call__"]}
    if wrapper_address is not None:
        members["__call__"] = _wrapper_callable(cf, wrapper_address)
    return type(f"Compiled_{sig.name}", (CompiledFunction,), members)


def _wrapper_callable(cf: CompiledFunction, address: int):
    from .cpython import make_callable
    types, out = cf.signature.result_types, cf._out

    def fallback(*args):                   # unusual arguments: convert with NumPy's rules
        return cf._convert_and_call(args)

    def box(address, *args):
        return box_results(out.from_address(address), args, types)

    def failed(address, *args):
        err = (ctypes.c_int64 * ERR_FIELDS).from_address(address)
        return cf._failed(err[0], err, args)

    return make_callable(address, cf.name, fallback, box, failed, cf._tracker)
