"""Python operators, attributes, methods and indexing on whole arrays.

`a + b`, `-a`, `a < b`, `a @ b`, `a.T`, `a.sum(axis=0)`, `a[idx]` (an
integer array gathers), `a[1:-1] = expr` (broadcast store), `a += b` (in
place, like NumPy) and `np.add.at(a, idx, v)`, all built on the lazy values
of arrays.py.

Invariants: element types follow NumPy 2 for arrays (arrays are strong,
Python numbers weak: NEP 50); bool arrays add and multiply as logical
or/and, and refuse what NumPy refuses (`-`, and results NumPy would give
as int8 or float16, which irad has no type for); an in-place update keeps
the target's dtype and, like NumPy's `same_kind` rule, refuses a float
result into an integer array. `a.T` is a view (array_create.py); a copy
made where NumPy may return a view (`reshape`/`ravel` of a strided array)
carries a note and refuses writes.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass

import numpy as np

from ..errors import TypingError, UnsupportedError
from ..types import I1
from .lazy import Lazy, broadcast_shape, may_alias
from .values import Array, Scalar, is_static_number

KIND_ORDER = {"b": 0, "i": 1, "f": 2}


@dataclass(frozen=True, eq=False)
class ArrayMethod:
    """`a.name` for a method of an array, waiting to be called."""

    name: str
    target: object


def dtype_kind(t) -> str:
    return "b" if t == I1 else ("i" if t.is_int else "f")


class ArrayOperators:
    """Mixin of the tracer (needs ArrayExpressions, Reductions, Arithmetic)."""

    def element_type(self, v):
        if isinstance(v, Lazy):
            return v.dtype
        return v.type.dtype if isinstance(v, Array) else self.type_of(v)[0]

    # ---- operators ----
    def array_binary(self, op, left, right):
        if op == "@":
            return self.matmul(left, right)
        types = [self.element_type(v) for v in (left, right)]
        if types[0] == I1 and types[1] == I1:
            op = self.bool_operator(op)
        if op == "**" and types[0].is_int and types[1].is_int and is_static_number(right) and right < 0:
            raise TypingError("integers to negative integer powers are not allowed", self.loc,
                              "use a float exponent, e.g. x ** -1.0")
        return self.elementwise(lambda t, a, b: t.binary(op, a, b), [left, right])

    def bool_operator(self, op):
        if op in ("+", "*"):
            return "|" if op == "+" else "&"
        if op == "-":
            raise TypingError("NumPy does not subtract bool arrays", self.loc,
                              "use ^ or np.logical_xor, or convert with .astype(int)")
        if op in ("//", "%", "**"):
            raise TypingError(f"'{op}' of bool arrays gives int8 in NumPy, which irad does not support",
                              self.loc, "convert with .astype(int)")
        return op

    def array_compare(self, symbol, left, right):
        return self.elementwise(lambda t, a, b: t.compare(symbol, a, b), [left, right])

    def array_unary(self, op, x):
        t = self.element_type(x)
        if isinstance(op, ast.Not):
            self.truth(x)
        if isinstance(op, ast.UAdd):
            return self.elementwise(lambda tr, a: a, [x])
        if isinstance(op, ast.USub):
            if t == I1:
                raise TypingError("NumPy does not negate bool arrays", self.loc, "use ~ or np.logical_not")
            return self.elementwise(lambda tr, a: tr.negate(a), [x])
        if t.is_float:
            raise TypingError(f"'~' needs an integer or bool array, got {t}", self.loc)
        if t == I1:
            return self.elementwise(lambda tr, a: tr.logical_not(a), [x])
        return self.elementwise(lambda tr, a: tr.binary("^", a, -1), [x])

    def inplace(self, op, target, rhs):
        """target op= rhs, writing into target (NumPy's in-place operators)."""
        if isinstance(target, Lazy):
            target = self.materialize(target)
        self.writable(target)
        value = self.array_binary(op, target, rhs)
        have, want = dtype_kind(self.element_type(value)), dtype_kind(target.type.dtype)
        if KIND_ORDER[have] > KIND_ORDER[want]:
            raise TypingError(f"cannot cast the {self.element_type(value)} result of '{op}=' to the "
                              f"{target.type.dtype} array it updates (NumPy's same_kind rule)", self.loc,
                              f"write `x = x {op} ...` for a new array, or convert with .astype")
        self.store_into(target, value)

    def writable(self, a):
        """Refuse writes into copies standing for NumPy views, and into temporaries."""
        note = a.note if isinstance(a, (Array, Lazy)) else None
        if note is not None:
            raise UnsupportedError(f"cannot write into {note}: irad makes it a copy where NumPy "
                                   "may give a view", self.loc,
                                   "write into the original array, or take a writable copy with "
                                   ".copy() or .flatten()")
        if isinstance(a, Lazy):
            raise UnsupportedError("assigning into the result of an array expression has no effect",
                                   self.loc, "assign the expression to a name first")
        if self.session.deferred:
            self.force_readers(a)

    # ---- attributes and methods ----
    def arraylike_attribute(self, a, attr):
        if attr == "T":
            return self.transpose(a)
        if attr in ("shape", "ndim", "size", "dtype") and isinstance(a, Lazy):
            if attr == "shape":
                return tuple(e if isinstance(e, int) else Scalar(e.value, True, 0) for e in a.shape)
            if attr == "ndim":
                return a.ndim
            if attr == "dtype":
                return a.dtype.numpy
            return self.count(a, range(a.ndim))
        from .numpy_lib import METHODS
        if attr in METHODS:
            return ArrayMethod(attr, a)
        return self.array_attribute(self.materialize(a), attr)

    def call_method(self, m: ArrayMethod, args, kwargs):
        from .numpy_lib import METHODS
        return METHODS[m.name](self, m.target, list(args), dict(kwargs))

    # ---- reading with integer arrays ----
    def has_array_index(self, items) -> bool:
        return any(self.is_arraylike(x) for x in items)

    def index_plan(self, a: Array, items, name="indexing"):
        """(shape, index_fn, checks) of a[items]: integer arrays or ints first, full slices after."""
        lead = 0
        while lead < len(items) and (self.is_arraylike(items[lead]) or self.is_int_index(items[lead])):
            lead += 1
        if any(x is None or x != slice(None) for x in items[lead:]):
            raise UnsupportedError(f"{name} with integer arrays works only with the integer indices "
                                   "first and full slices after them", self.loc,
                                   "e.g. a[idx] or a[i, j] with index arrays i and j; take a view first")
        for x in items[:lead]:
            if self.is_arraylike(x) and not self.element_type(x).is_int:
                what = "boolean masks" if self.element_type(x) == I1 else "float index arrays"
                raise UnsupportedError(f"{what} are not supported as indices", self.loc,
                                       "use np.where(mask, a, 0), or integer index arrays")
        lazies = [self.as_lazy(x) for x in items[:lead] if self.is_arraylike(x)]
        shape = list(broadcast_shape(self, [z.shape for z in lazies]))
        bounds = [self.bind_to(z, shape) for z in lazies]
        extents = [self.index(self.extent(a.value, k)) for k in range(a.type.ndim)]

        def index_fn(t, idx):
            head, tail, it, out = idx[:len(shape)], idx[len(shape):], iter(bounds), []
            for k, x in enumerate(items[:lead]):
                if t.is_arraylike(x):
                    x = next(it).elem(t, head)
                out.append(t.normalize_index(x, extents[k]))
            return out + list(tail)
        rest = [self.extent(a.value, k) for k in range(lead, a.type.ndim)]
        return shape + rest, index_fn, [c for bd in bounds for c in bd.checks]

    def is_int_index(self, x) -> bool:
        return (isinstance(x, Scalar) and x.type.is_int) or (
            is_static_number(x) and not isinstance(x, (bool, float, np.bool_, np.floating)))

    def gather(self, a: Array, items) -> Lazy:
        shape, index_fn, checks = self.index_plan(a, items)
        value = a.value

        def elem(t, idx):
            return Scalar(t.b.load(value, *[i.value for i in index_fn(t, idx)]), False)
        return self.new_lazy(shape, a.type.dtype, elem, ((value, False),), checks)

    # ---- writing with integer arrays ----
    def scatter(self, a: Array, items, value, op=None):
        """a[items] = value (op None), or np.<ufunc>.at(a, items, value) for op in + - *."""
        shape, index_fn, checks = self.index_plan(a, items, "assignment" if op is None else "np.add.at")
        self.emit_checks(checks)
        get = (lambda t, idx: value)
        if self.is_arraylike(value):
            bound = self.bind_to(self.as_lazy(value), shape)
            if any(may_alias(v, a.value) for v, _ in bound.reads):
                bound = self.bind_to(self.leaf(self.materialize(self.as_lazy(value))), shape)
            self.emit_checks(bound.checks)
            get = bound.elem
        else:
            self.type_of(value)
        dtype = a.type.dtype

        def body(idx, _):
            where = [i.value for i in index_fn(self, idx)]
            v = get(self, idx)
            if op is not None:
                v = self.binary(op, Scalar(self.b.load(a.value, *where), False), v)
            self.b.store(self.scalar(v, dtype).value, a.value, *where)
            return []
        self.loop_nest(shape, body)

    # ---- the getitem / setitem entry points ----
    def arraylike_getitem(self, base, key):
        base = self.materialize(base)
        items = self.array_items(base, key)
        if self.has_array_index(items):
            return self.gather(base, items)
        return self.array_getitem(base, key)


__all__ = ["ArrayOperators", "ArrayMethod"]
