"""Memory ops on strided arrays: alloc, dim, load, store, the views (view,
transpose, reshape), copy, fill, and the run-time shape check `check`.

Invariants: arrays are mutable references; a view op (`view`, `transpose`,
`reshape`: `OpDef.is_view`) aliases its source and never copies (a view of
a view composes); `transpose` permutes extents and strides (its result is
strided unless the permutation is the identity); `reshape` re-reads a
C-layout source row-major under new extents, which must be non-negative
with the source's element count (else a ValueError); `check` only raises
(a ValueError with its `message`) and is never moved by passes, nor removed
unless it cannot fail (passes/fold.py); indices given to `load`/`store`/`view` are
already normalized (non-negative, no wrap-around: the tracer handles
Python's negative indices), so an out-of-range index is a bounds error.
View slices are `start:stop:step` with absolute bounds: the length is
`max(0, ceil((stop - start) / step))`, and a negative stop means "before 0".
"""
from __future__ import annotations

import numpy as np

from ..types import I64, ArrayType
from .core import TypeRuleError, arity, define, expect_array, expect_same
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


def view_axes(view) -> list[tuple[str, list]]:
    """(kind, its operands) for each entry of a `view` op's spec."""
    operands = iter(view.operands[1:])
    return [(kind, [next(operands) for _ in range(VIEW_OPERANDS[kind])]) for kind in view.attrs["spec"]]


def _simplify_dim(b, op, k):
    """The extent of a view's axis from the view's operands: `max(stop - start, 0)` for a slice
    with step 1, the source's extent for a full axis, 1 for a new one. Slices of one length then
    share one extent value (after cse), and the loops over them one bound."""
    view = getattr(op.operands[0], "op", None)
    if view is None or view.name != "view":
        return None
    axis, source_axis = 0, 0
    for kind, taken in view_axes(view):
        if kind != "i" and axis == op.attrs["axis"]:
            if kind == "n":
                return b.const(1, I64)
            if kind == "f":
                return b.dim(view.operands[0], axis=source_axis)
            start, stop, step = taken
            one = getattr(step, "op", None)
            if one is None or one.name != "const" or one.attrs["value"] != 1:
                return None
            return b.max(b.sub(stop, start), b.const(0, I64))
        axis += kind != "i"
        source_axis += kind != "n"
    return None


define("dim", _dim_rule, syntax="dim", llvm=Special("dim"), evaluate=lambda a, *, axis: np.int64(a.shape[axis]),
       simplify=_simplify_dim)


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


# Derivative rules of memory ops take the reverse pass (`rev`, see passes/reverse.py: its
# `primal`, `shadow`, `take_shadow`, `add_to_shadow`, `accumulate`, `for_each_element`)
# and the primal op, and emit the reverse sweep's side effects on shadows.
MEMORY_RULE = {"vjp_form": "memory"}


def _load_vjp(rev, op):
    """d(array)[idx] += ct"""
    ct = rev.pop_adjoint(op.result)
    array, *idx = op.operands
    if ct is not None and rev.active_memory(array):
        rev.add_to_shadow(array, [rev.primal(i) for i in idx], ct)


define("load", _load_rule, syntax="load", effect="read", llvm=Special("load"),
       evaluate=lambda a, *idx, inbounds=False: a[checked(a, idx)], differentiable=True, vjp=_load_vjp,
       extra=MEMORY_RULE, notes="attribute inbounds: the indices are known valid (native code "
                                "checks nothing; the interpreter still does)")


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


def _store_eval(v, a, *idx, inbounds=False):
    a[checked(a, idx)] = v


def _store_vjp(rev, op):
    """d(value) += d(array)[idx]; d(array)[idx] = 0"""
    value, array, *idx = op.operands
    if rev.active_memory(array):
        rev.accumulate(value, rev.take_shadow(array, [rev.primal(i) for i in idx]))


define("store", _store_rule, syntax="store", effect="write", evaluate=_store_eval,
       llvm=Special("store"), differentiable=True, vjp=_store_vjp, extra={**MEMORY_RULE, "writes": 1})


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


def _view_vjp(rev, op):
    """Nothing to do: a view's shadow is the same view of its source's shadow, made on demand."""


define("view", _view_rule, syntax="view", evaluate=_view_eval, differentiable=True,
       llvm=Special("view"), vjp=_view_vjp, extra={**MEMORY_RULE, "view": True, "can_fail": True})


def _transpose_rule(types, attrs):
    arity(1)(types)
    source = expect_array(types, 0)
    perm = tuple(attrs["perm"])
    if sorted(perm) != list(range(source.ndim)):
        raise TypeRuleError(0, f"an array of {len(perm)} dimensions for perm {list(perm)}", source)
    layout = source.layout if perm == tuple(range(source.ndim)) else "strided"
    return [ArrayType(source.dtype, source.ndim, layout)]


define("transpose", _transpose_rule, syntax="transpose", differentiable=True, llvm=Special("transpose"),
       evaluate=lambda a, *, perm: np.transpose(a, perm), vjp=_view_vjp,
       extra={**MEMORY_RULE, "view": True}, notes="a view with axes permuted: result axis k is source axis perm[k]")


def _reshape_rule(types, attrs):
    source = expect_array(types, 0)
    if source.layout != "C":
        raise TypeRuleError(0, "a C-layout array (reshape views only contiguous arrays)", source)
    for i in range(1, len(types)):
        expect_same(types, i, I64)
    return [ArrayType(source.dtype, len(types) - 1, "C")]


def show_shape(extents) -> str:
    """NumPy's text of a shape: `(3,)`, `(2,3)`."""
    return "(" + ",".join(str(e) for e in extents) + ("," if len(extents) == 1 else "") + ")"


def _reshape_eval(a, *extents):
    shape = tuple(int(e) for e in extents)
    if any(e < 0 for e in shape):
        raise ValueError(f"negative dimensions are not allowed: {show_shape(shape)}")
    if int(np.prod(shape, dtype=np.int64)) != a.size:
        raise ValueError(f"cannot reshape array of size {a.size} into shape {show_shape(shape)}")
    return np.reshape(a, shape, copy=False)


define("reshape", _reshape_rule, syntax="reshape", differentiable=True, llvm=Special("reshape"),
       evaluate=_reshape_eval, vjp=_view_vjp, extra={**MEMORY_RULE, "view": True, "can_fail": True},
       notes="a view of a C-layout array under new extents (same element count)")


CHECK_KINDS = ("equal", "broadcast")


def _check_rule(types, attrs):
    arity(2)(types)
    expect_same(types, 0, I64)
    expect_same(types, 1, I64)
    if attrs.get("kind") not in CHECK_KINDS or not isinstance(attrs.get("message"), str):
        raise TypeRuleError(0, f"attributes kind (one of {', '.join(CHECK_KINDS)}) and message", attrs)
    return []


def check_holds(kind: str, expected: int, actual: int) -> bool:
    """`equal`: actual == expected; `broadcast`: actual is 1 or expected."""
    return actual == expected or (kind == "broadcast" and actual == 1)


def check_message(message: str, expected: int, actual: int) -> str:
    """The message of a failed check: `{0}` stands for expected, `{1}` for actual."""
    return message.replace("{0}", str(expected)).replace("{1}", str(actual))


def _check_eval(expected, actual, *, kind, message):
    if not check_holds(kind, int(expected), int(actual)):
        raise ValueError(check_message(message, int(expected), int(actual)))


define("check", _check_rule, effect="read", evaluate=_check_eval, llvm=Special("check"),
       extra={"idempotent": True},
       notes="raise ValueError(message) unless operand 1 equals operand 0 (or is 1, kind broadcast)")


def _copy_rule(types, attrs):
    src, dst = expect_array(types, 0), expect_array(types, 1)
    if (src.dtype, src.ndim) != (dst.dtype, dst.ndim):
        raise TypeRuleError(1, f"array<{src.dtype},{src.ndim},_>", dst)
    return []


def _copy_eval(src, dst):
    if src.shape != dst.shape:
        if len(src.shape) == len(dst.shape):
            axis = next(k for k, (m, n) in enumerate(zip(src.shape, dst.shape)) if m != n)
            raise ValueError(f"cannot copy: source extent {src.shape[axis]} differs from destination "
                             f"extent {dst.shape[axis]} on axis {axis}")
        raise ValueError(f"copy between arrays of shapes {src.shape} and {dst.shape}")
    dst[...] = src


def _copy_vjp(rev, op):
    """d(src) += d(dst); d(dst) = 0, element by element"""
    src, dst = op.operands
    if not rev.active_memory(dst):
        return

    def element(idx):
        d = rev.take_shadow(dst, idx)
        if rev.active_memory(src):
            rev.add_to_shadow(src, idx, d)
    rev.for_each_element(dst, element)


define("copy", _copy_rule, effect="write", evaluate=_copy_eval, differentiable=True, llvm=Special("copy"),
       vjp=_copy_vjp, extra={**MEMORY_RULE, "writes": 1}, notes="dst[...] = src; shapes must match")


def _fill_rule(types, attrs):
    t = expect_array(types, 0)
    expect_same(types, 1, t.dtype)
    return []


def _fill_eval(a, v):
    a[...] = v


def _fill_vjp(rev, op):
    """d(value) += sum(d(array)); d(array) = 0"""
    array, value = op.operands
    if not rev.active_memory(array):
        return
    total = rev.for_each_element(array, lambda idx: rev.take_shadow(array, idx),
                                 accumulate=rev.active(value))
    if total is not None:
        rev.accumulate(value, total)


define("fill", _fill_rule, effect="write", evaluate=_fill_eval, differentiable=True,
       llvm=Special("fill"), vjp=_fill_vjp, extra={**MEMORY_RULE, "writes": 0})
