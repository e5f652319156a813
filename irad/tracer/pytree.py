"""Structured arguments and results: signature keys, flattening, rebuilding.

A call's arguments form a tree whose inner nodes are tuples, lists, dicts
with string keys, namedtuples and dataclasses, and whose leaves are arrays,
numbers (runtime values) or static objects (strings, None, functions,
modules). Invariants: `signature_key` is hashable and equal exactly when two
argument trees trace to the same IR; `runtime_leaves` lists the runtime
leaves in the same depth-first order the tracer gives the IR arguments.
"""
from __future__ import annotations

import dataclasses
import types

import numpy as np

from ..errors import TypingError
from ..types import scalar_from_numpy

_NUMBERS = (bool, int, float)
_LEAF_TYPES = frozenset({np.ndarray, bool, int, float, str, type(None)})


def is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def is_dataclass_instance(x) -> bool:
    return dataclasses.is_dataclass(x) and not isinstance(x, type)


def array_layout(a: np.ndarray) -> str:
    return "C" if a.flags.c_contiguous else "strided"


_SUPPORTED_DTYPES = {np.dtype(n) for n in ("float64", "float32", "int64", "int32", "bool")}


def _array_key(a: np.ndarray):
    dtype = a.dtype
    if dtype not in _SUPPORTED_DTYPES or not dtype.isnative:
        _reject_dtype(dtype)
    return ("A", dtype.char, a.ndim, a.flags.c_contiguous)


def _reject_dtype(dtype):
    if scalar_from_numpy(dtype) is not None and not dtype.isnative:
        raise TypingError(f"an array with non-native byte order ({dtype.str}) is not supported",
                          hint="convert it with a.astype(a.dtype.newbyteorder('='))")
    raise TypingError(f"arrays of dtype {dtype} are not supported",
                      hint="use float64, float32, int64, int32 or bool arrays")


def signature_key(x):
    """A hashable description of x's types and static values."""
    t = type(x)
    if t is np.ndarray:
        return _array_key(x)
    if t in _NUMBERS:
        return t
    if isinstance(x, np.generic):
        if scalar_from_numpy(x.dtype) is None:
            raise TypingError(f"scalars of dtype {x.dtype} are not supported")
        return ("s", x.dtype.char)
    if isinstance(x, np.ndarray):
        return _array_key(x)
    if is_namedtuple(x):
        return ("N", t, tuple(signature_key(e) for e in x))
    if t is tuple or t is list:
        return (t.__name__, tuple(signature_key(e) for e in x))
    if t is dict:
        for k in x:
            if not isinstance(k, str):
                raise TypingError(f"dict argument with key {k!r}: only string keys are supported")
        return ("D", tuple((k, signature_key(v)) for k, v in x.items()))
    if is_dataclass_instance(x):
        return ("C", t, tuple((f.name, signature_key(getattr(x, f.name)))
                              for f in dataclasses.fields(x)))
    return ("static", _static_key(x))


def _static_key(x):
    try:
        hash(x)
        return (type(x), x)
    except TypeError:
        return (type(x), id(x))


def is_runtime_leaf(x) -> bool:
    return isinstance(x, (np.ndarray, np.generic) + _NUMBERS)


def children(x):
    """(rebuild, children) for an inner node, or None for a leaf."""
    if type(x) in _LEAF_TYPES:
        return None
    if is_namedtuple(x):
        return (lambda cs, t=type(x): t(*cs)), list(x)
    if type(x) in (tuple, list):
        return (lambda cs, t=type(x): t(cs)), list(x)
    if type(x) is dict:
        keys = list(x)
        return (lambda cs: dict(zip(keys, cs))), [x[k] for k in keys]
    if is_dataclass_instance(x):
        names = [f.name for f in dataclasses.fields(x)]
        return (lambda cs, t=type(x): _rebuild_dataclass(t, names, cs)), [getattr(x, n) for n in names]
    return None


def _rebuild_dataclass(cls, names, values):
    obj = object.__new__(cls)
    for n, v in zip(names, values):
        object.__setattr__(obj, n, v)
    return obj


def runtime_leaves(x, out: list) -> list:
    """Append the runtime leaves of x to out, depth first."""
    if isinstance(x, (np.ndarray, np.generic)) or type(x) in _NUMBERS:
        out.append(x)
        return out
    node = children(x)
    if node is not None:
        for c in node[1]:
            runtime_leaves(c, out)
    return out


def map_tree(fn, x):
    """Rebuild x with every leaf replaced by fn(leaf)."""
    node = children(x)
    if node is None:
        return fn(x)
    rebuild, cs = node
    return rebuild([map_tree(fn, c) for c in cs])


def is_static_leaf(x) -> bool:
    return isinstance(x, (str, types.FunctionType, types.ModuleType, type(None)))
