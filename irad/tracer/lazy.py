"""Lazy array expressions: the value, extents, broadcasting and aliasing.

A whole-array NumPy expression is traced to a `Lazy`: its shape (one
extent per axis: a static int or an i64 `Scalar`), its element type, and
how to emit one element. An *elementwise* lazy (`parts` set) is an
n-ary scalar function of other lazy values and numbers; an *opaque* one
(a leaf reading an array, a transpose of an expression, a gather,
`arange`, ...) has
`elem(tracer, idx)` at its own indices. Nothing is computed until a
consumer binds the value to the shape it iterates over (arrays.py):
binding maps every opaque operand's axes onto the iteration axes —
"same" (the extents are provably equal), "zero" (a static 1) or a scale
`i * (extent != 1)` decided at run time — and collects the `Check`s that
the run-time extents must pass.

Extents are compared at trace time only where that is a proof (the same
`dim`, an alloc's extent operand, equal constants, structurally equal pure
ops).

Invariants: elements are strong Scalars of `dtype`; `reads` of an opaque
value name every array it loads from, flagged `exact` when it loads at
exactly its own index (the overlap analysis of stores relies on it);
`checks` of an opaque value are stated on its own axes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import TypingError
from ..ir import OpResult, Value
from ..types import ArrayType, ScalarType
from .values import Scalar, is_static_number


@dataclass(frozen=True)
class Check:
    """A run-time shape condition on axis `axis`: `operand` is 1 or `result`
    (kind "broadcast"), or `operand` equals `result` (kind "equal").

    `message` is the ValueError's text when it fails, NumPy's wording with
    `{0}` for `result` and `{1}` for `operand` (see the `check` op)."""

    result: object
    operand: object
    axis: int
    kind: str = "broadcast"
    message: str | None = None

    def shifted(self, by: int) -> "Check":
        return Check(self.result, self.operand, self.axis + by, self.kind, self.message)

    def text(self) -> str:
        if self.message is not None:
            return self.message
        if self.kind == "broadcast":
            return "operands could not be broadcast together: extent {1} against {0} on axis " + str(self.axis)
        return "shapes do not match: extent {1} is different from {0} on axis " + str(self.axis)


@dataclass(eq=False)
class Lazy:
    """An array expression not yet in memory (see the module docstring)."""

    shape: tuple
    dtype: ScalarType
    elem: Callable | None = None     # opaque: (tracer, idx) -> Scalar at the value's own indices
    reads: tuple = ()                # opaque: (array Value, exact)
    checks: tuple = ()               # opaque: Check on the value's own axes
    parts: tuple | None = None       # elementwise: (fn, operands, positions, operand lazies)
    note: str | None = None          # NumPy may give a view here: copies refuse writes
    forced: object = None            # the Array once materialized
    consumed: bool = False
    block: object = None
    simple: bool = False             # only loads and index arithmetic: cheap to evaluate twice
    name: str | None = None          # set when bound to a name (deferred, arrays.py)
    site: object = None              # the Location of that binding
    costly: bool = False             # computes an expensive math function (OpDef.expensive)
    consumers: set | None = None     # top-level bindings that computed it (deferred ones)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def type(self) -> ArrayType:
        return ArrayType(self.dtype, self.ndim, "C")


@dataclass
class Bound:
    """A lazy value bound to an iteration shape: its element function, checks and reads."""

    elem: Callable                   # (tracer, idx) -> strong Scalar of the value's dtype
    checks: list
    reads: list


# ---- extents -----------------------------------------------------------------

def static_int(x):
    """The value of an extent or index known at trace time, else None."""
    if is_static_number(x) and not isinstance(x, float):
        return int(x)
    if isinstance(x, Scalar):
        op = getattr(x.value, "op", None)
        if op is not None and op.name == "const":
            return int(op.attrs["value"])
    return None


def same_value(u: Value, v: Value, depth: int = 6) -> bool:
    """u and v are provably the same value (identical, or the same pure op of the same operands)."""
    if u is v:
        return True
    if depth == 0 or not (isinstance(u, OpResult) and isinstance(v, OpResult)):
        return False
    a, b = u.op, v.op
    if a.name != b.name or u.index != v.index or not a.opdef.pure or a.attrs != b.attrs:
        return False
    return len(a.operands) == len(b.operands) and all(
        same_value(x, y, depth - 1) for x, y in zip(a.operands, b.operands))


def same_extent(a, b) -> bool:
    sa, sb = static_int(a), static_int(b)
    if sa is not None or sb is not None:
        return sa == sb
    return same_value(a.value, b.value)


def is_one(e) -> bool:
    return static_int(e) == 1


def show_shape(shape) -> str:
    parts = [str(static_int(e)) if static_int(e) is not None else "n" for e in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def shape_template(shape, at: int | None = None, slot: str = "") -> str:
    """NumPy's text of a shape for a run-time message: axis `at` reads `slot` (`{0}`
    or `{1}`, filled in by the `check` op), other run-time extents `?`."""
    parts = [slot if k == at else str(static_int(e)) if static_int(e) is not None else "?"
             for k, e in enumerate(shape)]
    return "(" + ",".join(parts) + ("," if len(parts) == 1 else "") + ")"


def broadcast_message(shape, own, axis: int, own_axis: int) -> str:
    """The message of a failed broadcast of `own` (its axis own_axis) to `shape` (its axis)."""
    return ("operands could not be broadcast together with shapes "
            f"{shape_template(shape, axis, '{0}')} {shape_template(own, own_axis, '{1}')}")


# ---- broadcasting ---------------------------------------------------------------

def broadcast_shape(tracer, shapes: list) -> tuple:
    """NumPy's broadcast of `shapes`; extents not decided at trace time are computed
    at run time (their compatibility is checked when the value is bound)."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for axis in range(ndim):
        extents = [s[axis - (ndim - len(s))] for s in shapes if axis >= ndim - len(s)]
        wide = []
        for e in extents:
            if not is_one(e) and not any(same_extent(e, w) for w in wide):
                wide.append(e)
        static = [w for w in wide if static_int(w) is not None]
        if len(static) > 1:
            raise TypingError("operands could not be broadcast together with shapes "
                              + " ".join(show_shape(s) for s in shapes), tracer.loc,
                              "extents must be equal or 1 on every axis (aligned from the right)")
        if not wide:
            out.append(1)
        elif len(wide) == 1 or static:
            out.append(static[0] if static else wide[0])
        else:
            out.append(_runtime_extent(tracer, wide))
    return tuple(out)


def _runtime_extent(tracer, wide):
    """select(r == 1, e, r) folded over the candidate extents."""
    r = wide[0]
    for e in wide[1:]:
        is1 = tracer.b.eq(r.value, tracer.b.const(1, r.type))
        r = Scalar(tracer.b.select(is1, e.value, r.value), True, 0)
    return r


# ---- aliasing ---------------------------------------------------------------------

def root(v: Value) -> Value:
    """The array a chain of views (view, transpose, reshape) selects from."""
    while isinstance(v, OpResult) and v.op.opdef.is_view:
        v = v.op.operands[0]
    return v


def may_alias(u: Value, v: Value) -> bool:
    """Whether arrays u and v may share memory: only distinct allocations provably do not
    (a caller may pass one array, or overlapping views of it, as two arguments)."""
    ru, rv = root(u), root(v)
    if ru is rv:
        return True
    return not any(isinstance(r, OpResult) and r.op.name == "alloc" for r in (ru, rv))


__all__ = ["Lazy", "Bound", "Check", "static_int", "same_extent", "same_value", "is_one",
           "broadcast_shape", "root", "may_alias", "show_shape", "shape_template", "broadcast_message"]
