"""Memory ops on strided arrays: alloc, dim, load, store, view, copy, fill.

Invariants: arrays are mutable references; `view` aliases its source (a
view of a view composes); indices given to `load`/`store`/`view` are
already normalized (non-negative, no wrap-around: the tracer handles
Python's negative indices), so an out-of-range index is a bounds error.
View slices are `start:stop:step` with absolute bounds: the length is
`max(0, ceil((stop - start) / step))`, and a negative stop means "before 0".
"""
from __future__ import annotations

import numpy as np

from ..types import I64, ArrayType
from .core import TypeRuleError, define, expect_array, expect_same
from .lowering import Special

VIEW_OPERANDS = {"i": 1, "s": 3, "f": 0, "n": 0}


def _alloc_rule(types, attrs):
    t = attrs["type"]
    if not isinstance(t, ArrayType):
        raise TypeRuleError(0, "an array result type", t)
    if len(types) != t.ndim:
        raise TypeRuleError(len(types), f"{t.ndim} extents", f"{len(types)} extents")
    for i in range(len(types)):
        expect_same(types, i, I64)
    return [t]


define("alloc", _alloc_rule, syntax="alloc", effect="alloc", llvm=Special("alloc"),
       evaluate=lambda *shape, type: np.empty(tuple(int(s) for s in shape), type.dtype.numpy))


def _dim_rule(types, attrs):
    t = expect_array(types, 0)
    if not 0 <= attrs["axis"] < t.ndim:
        raise TypeRuleError(0, f"an array with an axis {attrs['axis']}", t)
    return [I64]


define("dim", _dim_rule, syntax="dim", llvm=Special("dim"), evaluate=lambda a, *, axis: np.int64(a.shape[axis]))


def _indices_rule(types, first_index, t: ArrayType):
    if len(types) - first_index != t.ndim:
        raise TypeRuleError(len(types), f"{t.ndim} indices (one per dimension of {t})",
                            f"{len(types) - first_index}")
    for i in range(first_index, len(types)):
        expect_same(types, i, I64)


def _load_rule(types, attrs):
    t = expect_array(types, 0)
    _indices_rule(types, 1, t)
    return [t.dtype]


def _load_vjp(b, ct, r, a, *idx):
    return None  # handled by the reverse pass: it accumulates into the shadow


define("load", _load_rule, syntax="load", effect="read", llvm=Special("load"),
       evaluate=lambda a, *idx: a[checked(a, idx)], differentiable=True)


def _store_rule(types, attrs):
    t = expect_array(types, 1)
    expect_same(types, 0, t.dtype)
    _indices_rule(types, 2, t)
    return []


def check_index(i: int, axis: int, extent: int) -> int:
    if not 0 <= i < extent:
        raise IndexError(f"index {i} is out of bounds for axis {axis} with extent {extent}")
    return i


def checked(a, idx) -> tuple:
    """idx as a tuple of ints, or IndexError when one is outside its extent."""
    return tuple(check_index(int(i), axis, n) for axis, (i, n) in enumerate(zip(idx, a.shape)))


def _store_eval(v, a, *idx):
    a[checked(a, idx)] = v


define("store", _store_rule, syntax="store", effect="write", evaluate=_store_eval,
       llvm=Special("store"),
       differentiable=True)


def view_result_type(source: ArrayType, spec: str) -> ArrayType:
    if sum(k != "n" for k in spec) != source.ndim:
        raise TypeRuleError(0, f"a view spec covering {len(spec)} dims", source)
    ndim = sum(k != "i" for k in spec)
    rest = spec.lstrip("i")
    contiguous = source.layout == "C" and set(rest) <= {"f", "n"}
    return ArrayType(source.dtype, ndim, "C" if contiguous else "strided")


def _view_rule(types, attrs):
    source = expect_array(types, 0)
    spec = attrs["spec"]
    wanted = sum(VIEW_OPERANDS[k] for k in spec)
    if len(types) - 1 != wanted:
        raise TypeRuleError(len(types), f"{wanted} index operands", f"{len(types) - 1}")
    for i in range(1, len(types)):
        expect_same(types, i, I64)
    return [view_result_type(source, spec)]


def slice_length(start: int, stop: int, step: int) -> int:
    if step > 0:
        return max(0, (stop - start + step - 1) // step)
    return max(0, (start - stop - step - 1) // -step)


def _view_eval(a, *operands, spec):
    it, key, axis = iter(int(o) for o in operands), [], 0
    for kind in spec:
        extent = a.shape[axis] if kind != "n" else 1
        axis += kind != "n"
        if kind == "i":
            key.append(check_index(next(it), axis - 1, extent))
        elif kind == "s":
            start, stop, step = next(it), next(it), next(it)
            if step == 0:
                raise ValueError("slice step cannot be zero")
            n = slice_length(start, stop, step)
            if n and not (0 <= start < extent and 0 <= start + (n - 1) * step < extent):
                raise IndexError(f"slice {start}:{stop}:{step} is out of bounds for axis "
                                 f"{axis - 1} with extent {extent}")
            end = start + n * step
            key.append(slice(start, end if end >= 0 else None, step) if n else slice(0, 0))
        elif kind == "f":
            key.append(slice(None))
        else:
            key.append(None)
    return a[tuple(key)]


define("view", _view_rule, syntax="view", evaluate=_view_eval, differentiable=True,
       llvm=Special("view"))


def _copy_rule(types, attrs):
    src, dst = expect_array(types, 0), expect_array(types, 1)
    if (src.dtype, src.ndim) != (dst.dtype, dst.ndim):
        raise TypeRuleError(1, f"array<{src.dtype},{src.ndim},_>", dst)
    return []


def _copy_eval(src, dst):
    dst[...] = src


define("copy", _copy_rule, effect="write", evaluate=_copy_eval, differentiable=True, llvm=Special("copy"),
       notes="dst[...] = src; shapes must match")


def _fill_rule(types, attrs):
    t = expect_array(types, 0)
    expect_same(types, 1, t.dtype)
    return []


def _fill_eval(a, v):
    a[...] = v


define("fill", _fill_rule, effect="write", evaluate=_fill_eval, differentiable=True,
       llvm=Special("fill"))
