"""Callables that enter compiled code through the shared CPython-API wrapper
(`irad.rt.call`, runtime/support.py): the fast path below 1 µs.

A callable is a builtin function made from `irad.rt.call` and a state tuple
whose descriptor says what each argument must be. Two kinds of descriptor:
- `lenient` (a `CompiledFunction`'s `__call__`): takes what the C-API
  conversions take (any float-convertible object for a float, any index
  for an int), as the Python paths would; results as a list of NumPy
  scalars, or through `box`.
- `strict` (a JIT function's dispatch, irad/api.py): takes exactly what
  has the argument signature key of one specialization (same leaf types;
  arrays of the same dtype, ndim and C-contiguity), so anything else falls
  back to the Python dispatch, which finds or compiles the right one; its
  single scalar result comes back as a Python number where the function
  returned a Python number.

Invariants: descriptors follow runtime/support.py's layout exactly; a kind
the wrapper cannot take is NEVER (always the fallback). The object layouts
the wrapper relies on (tuple items, bytes data, float and NumPy scalar
values, ndarray fields) are verified at import (`LAYOUT_OK`), else no
callable is made and the Python paths serve every call.
"""
from __future__ import annotations

import ctypes
import struct

import numpy as np

from irad.types import ArrayType, ScalarType

from . import entry as E
from . import support as R
from .abi import ERR_FIELDS

METH_FASTCALL = 0x0080
_CTYPES = {"f64": ctypes.c_double, "f32": ctypes.c_float, "i64": ctypes.c_int64,
           "i32": ctypes.c_int32, "i1": ctypes.c_bool}
_KINDS = {"f64": R.F64K, "f32": R.F32K, "i64": R.I64K, "i32": R.I32K, "i1": R.I1K}
_NUMPY = {np.float64: "f64", np.float32: "f32", np.int64: "i64", np.int32: "i32", np.bool_: "i1"}


def _verify() -> bool:
    t = (object(), object())
    if ctypes.c_void_p.from_address(id(t) + R.TUPLE_ITEMS + 8).value != id(t[1]):
        return False
    data = b"\x01\x02\x03\x04\x05\x06\x07\x08"
    if ctypes.string_at(id(data) + R.BYTES_DATA, len(data)) != data:
        return False
    if ctypes.c_void_p.from_address(id(data) + R.OB_TYPE).value != id(bytes):
        return False
    if ctypes.c_double.from_address(id(2.5) + R.VALUE).value != 2.5:
        return False
    samples = [(np.float64(1.25), "f64"), (np.float32(-3.5), "f32"), (np.int64(-7), "i64"),
               (np.int32(9), "i32"), (np.True_, "i1")]
    return all(_CTYPES[n].from_address(id(v) + R.VALUE).value == v for v, n in samples)


LAYOUT_OK = E.LAYOUT is not None and _verify()


# ---- descriptors ---------------------------------------------------------------------------

def _bits(*names) -> int:
    return sum(1 << R.S[n] for n in names)


def _array_words(t: ArrayType, written: bool, contiguous: bool | None) -> list[int]:
    """contiguous None: C layout required only by layout "C"; else exactly as given."""
    size = t.dtype.numpy.itemsize
    mask = E.NPY_ALIGNED | (E.NPY_WRITEABLE if written else 0)
    want = mask | (E.NPY_C_CONTIGUOUS if t.layout == "C" or contiguous else 0)
    if t.layout == "C" or contiguous is not None:
        mask |= E.NPY_C_CONTIGUOUS
    nums = E.type_nums(t.dtype)
    packed = len(nums) | sum(n << (8 * (j + 1)) for j, n in enumerate(nums))
    info = t.ndim | (t.layout == "C") << 8 | (size.bit_length() - 1) << 16
    return [R.ARRAY, info, mask | want << 32, packed]


_LENIENT = {"f64": [_bits("float", "f64"), R.CONVERT_ANY, 0], "f32": [_bits("f32"), R.CONVERT_ANY, 0],
            "i64": [_bits("i64"), R.CONVERT_ANY, 0], "i32": [_bits("i32"), R.CONVERT_ANY, 0],
            "i1": [_bits("true", "np_true"), R.CONVERT_NONE, 0]}


def _lenient_words(sig, k: int, t) -> list[int]:
    if isinstance(t, ArrayType):
        return _array_words(t, k in sig.written, None)
    if isinstance(t, ScalarType):
        return [_KINDS[t.name]] + _LENIENT[t.name]
    return [R.NEVER, 0, 0, 0]


def _strict_words(sig, k: int, t, value) -> list[int]:
    """Words taking exactly the values with `value`'s signature key (NEVER where unsure)."""
    tp = type(value)
    if isinstance(t, ArrayType) and tp is np.ndarray:
        return _array_words(t, k in sig.written, bool(value.flags.c_contiguous))
    if not isinstance(t, ScalarType):
        return [R.NEVER, 0, 0, 0]
    kind = _KINDS[t.name]
    if tp is bool:
        return [kind, _bits("true"), 0, 0] if t.is_bool else [R.NEVER, 0, 0, 0]
    if tp is float and t.is_float:
        return [kind, _bits("float") if t.name == "f64" else 0, R.CONVERT_EXACT, R.S["float"]]
    if tp is int and not t.is_bool:
        return [kind, 0, R.CONVERT_EXACT, R.S["int"]]
    if _NUMPY.get(tp) == t.name:
        return [kind, _bits("np_true" if t.is_bool else t.name), R.CONVERT_NONE, 0]
    return [R.NEVER, 0, 0, 0]


def _slots(t) -> int:
    return 1 + 2 * t.ndim if isinstance(t, ArrayType) else 1


def descriptor(sig, packed_address: int, out_ctype, arg_words, mode: int, index: int = 0) -> bytes:
    """The descriptor bytes (runtime/support.py) of a compiled function's callable."""
    results = sig.result_types
    outwords = max(ERR_FIELDS, -(-ctypes.sizeof(out_ctype) // 8))
    words = [packed_address, len(sig.arg_types), sum(map(_slots, sig.arg_types)), outwords, mode, index,
             len(results)]
    for j, t in enumerate(results):
        words += [_KINDS[t.name] if isinstance(t, ScalarType) else R.NEVER, getattr(out_ctype, f"r{j}").offset]
    for w in arg_words:
        words += w
    return struct.pack(f"={len(words)}Q", *(w & (2**64 - 1) for w in words))


def lenient(sig, packed_address: int, out_ctype) -> bytes:
    mode = R.LIST if all(isinstance(t, ScalarType) for t in sig.result_types) else R.BOX
    words = [_lenient_words(sig, k, t) for k, t in enumerate(sig.arg_types)]
    return descriptor(sig, packed_address, out_ctype, words, mode)


def strict(sig, packed_address: int, out_ctype, leaves, out_tree) -> bytes:
    """For a JIT specialization called with `leaves`; a lone scalar result is returned as
    itself (a Python number when out_tree marks it weak), anything else through `box`."""
    words = [_strict_words(sig, k, t, v) for k, (t, v) in enumerate(zip(sig.arg_types, leaves))]
    mode, index = R.BOX, 0
    if out_tree[0] == "result" and isinstance(sig.result_types[out_tree[1]], ScalarType):
        mode, index = (R.PYTHON if out_tree[2] else R.NUMPY), out_tree[1]
    return descriptor(sig, packed_address, out_ctype, words, mode, index)


# ---- the callable --------------------------------------------------------------------------

class _MethodDef(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("meth", ctypes.c_void_p), ("flags", ctypes.c_int),
                ("doc", ctypes.c_char_p)]


_new_function = ctypes.pythonapi.PyCFunction_NewEx
_new_function.restype = ctypes.py_object
_new_function.argtypes = [ctypes.POINTER(_MethodDef), ctypes.py_object, ctypes.py_object]


def make_callable(name: str, desc: bytes, fallback, box, failed, keepalive):
    """A builtin function running `irad.rt.call` with `desc` (it keeps `keepalive` alive)."""
    method = _MethodDef(name.encode(), R.call_address(), METH_FASTCALL, None)
    state = {"fallback": fallback, "box": box, "failed": failed, "desc": desc, "ndarray": np.ndarray,
             "float": float, "int": int, "true": True, "false": False, "np_true": np.True_,
             "np_false": np.False_, "f64": np.float64, "f32": np.float32, "i64": np.int64, "i32": np.int32,
             "bool_": np.bool_, "keepalive": (keepalive, method)}
    return _new_function(ctypes.byref(method), tuple(state[k] for k in R.STATE), None)
