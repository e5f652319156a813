"""Typed arithmetic on trace-time values: materialize, cast, promote, fold.

Invariants: operations on two static numbers are computed by Python
(exactly CPython's result); anything involving a runtime value emits IR
whose types follow NEP 50 (`values.result_type`). Lower bounds (`lb`) are
propagated only where they are proofs.
"""
from __future__ import annotations

import operator

import numpy as np

from ..errors import TypingError
from ..types import F64, I1, I64, ScalarType
from .values import (Array, Scalar, Undefined, float_type, is_static_number, result_type,
                     static_type)

BINARY_IR = {"+": "add", "-": "sub", "*": "mul", "/": "div", "//": "floordiv", "%": "mod",
             "**": "pow", "&": "and", "|": "or", "^": "xor"}
BINARY_PY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
             "//": operator.floordiv, "%": operator.mod, "**": operator.pow,
             "&": operator.and_, "|": operator.or_, "^": operator.xor}
COMPARE_IR = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}
COMPARE_PY = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
              "==": operator.eq, "!=": operator.ne}


class Arithmetic:
    """Mixin of the tracer: `self.b` is the current Builder, `self.error` raises at a node."""

    # ---- materializing and casting ----
    def type_of(self, x) -> tuple[ScalarType, bool]:
        if isinstance(x, Scalar):
            return x.type, x.weak
        if is_static_number(x):
            return static_type(x)
        raise self.type_error(x)

    def type_error(self, x, what="a number"):
        from .lazy import Lazy
        if isinstance(x, (Array, Lazy)):
            return TypingError(f"expected {what}, got an array ({x.type})", self.loc,
                               "index the array, or reduce it (np.sum, np.max, ...)")
        if isinstance(x, Undefined):
            return TypingError(x.why, self.loc)
        return TypingError(f"expected {what}, got {_describe(x)}", self.loc,
                           "only numbers and arrays can be computed with")

    def scalar(self, x, t: ScalarType | None = None, weak: bool | None = None) -> Scalar:
        """x as a runtime Scalar, cast to t when given."""
        if isinstance(x, Scalar):
            if t is None or x.type == t:
                return x if weak is None else Scalar(x.value, weak, x.lb)
            return Scalar(self.b.cast(x.value, type=t), x.weak if weak is None else weak,
                          x.lb if t.is_int and x.type.is_int else None)
        xt, xw = self.type_of(x)
        t = t or xt
        value = _static_as(x, t)
        lb = int(value) if t.is_int else None
        return Scalar(self.b.const(value, t), xw if weak is None else weak, lb)

    def index(self, x) -> Scalar:
        """x as an i64 for indexing or ranges; floats are an error, as in Python."""
        t, _ = self.type_of(x)
        if t.is_float:
            raise TypingError("indices and range bounds must be integers, got a float", self.loc,
                              "convert with int(...)")
        return self.scalar(x, I64, weak=True)

    # ---- arithmetic ----
    def binary(self, op: str, a, b):
        if is_static_number(a) and is_static_number(b):
            return self.static_binary(op, a, b)
        ta, tb = self.type_of(a), self.type_of(b)
        if op in ("&", "|", "^"):
            return self.bitwise(op, a, b, ta, tb)
        t, weak = result_type(ta, tb)
        if op == "/" or (op == "**" and t.is_int and _negative_static(b)):
            t = float_type(t) if t.is_float else F64
        if op == "**" and _is_static(b, 2):
            x = self.scalar(a, t)
            return Scalar(self.b.mul(x.value, x.value), weak)
        x, y = self.scalar(a, t), self.scalar(b, t)
        value = self.b.emit(BINARY_IR[op], x.value, y.value)
        return Scalar(value, weak, _lower_bound(op, x, y))

    def static_binary(self, op, a, b):
        try:
            return BINARY_PY[op](a, b)
        except ZeroDivisionError:
            raise TypingError("division by zero in a constant expression", self.loc) from None

    def bitwise(self, op, a, b, ta, tb):
        if ta[0].is_float or tb[0].is_float:
            raise TypingError(f"'{op}' needs integers or booleans, got {ta[0]} and {tb[0]}", self.loc)
        if ta[0] == I1 and tb[0] == I1:
            t, weak = I1, ta[1] and tb[1]
        else:
            t, weak = result_type(ta, tb)
        x, y = self.scalar(a, t), self.scalar(b, t)
        return Scalar(self.b.emit(BINARY_IR[op], x.value, y.value), weak)

    def compare(self, op: str, a, b):
        if is_static_number(a) and is_static_number(b):
            return COMPARE_PY[op](a, b)
        ta, tb = self.type_of(a), self.type_of(b)
        t, weak = (ta[0], ta[1] and tb[1]) if ta[0] == tb[0] else result_type(ta, tb)
        x, y = self.scalar(a, t), self.scalar(b, t)
        return Scalar(self.b.emit(COMPARE_IR[op], x.value, y.value), weak)

    def negate(self, a):
        if is_static_number(a):
            return -a
        t, weak = self.type_of(a)
        x = self.scalar(a, I64 if t == I1 else t)
        return Scalar(self.b.neg(x.value), weak)

    def truth(self, x):
        """Python truthiness: a static bool, or a runtime i1 Scalar."""
        if isinstance(x, Scalar):
            if x.type == I1:
                return x
            zero = self.scalar(0, x.type)
            return Scalar(self.b.ne(x.value, zero.value), x.weak)
        from .lazy import Lazy
        if isinstance(x, (Array, Lazy)):
            raise TypingError("the truth value of an array is ambiguous", self.loc,
                              "use np.any(...) or np.all(...), or compare elements, e.g. `a[i] > 0`")
        if isinstance(x, Undefined):
            raise TypingError(x.why, self.loc)
        return bool(x)

    def logical_not(self, x):
        c = self.truth(x)
        return (not c) if isinstance(c, bool) else Scalar(self.b.emit("not", c.value), c.weak)

    def either(self, a, b):
        """Runtime `a or b` of two truth values (static bools or i1 Scalars)."""
        if a is True or b is True:
            return True
        if a is False:
            return b
        if b is False:
            return a
        return Scalar(self.b.emit("or", a.value, b.value), True)

    def math_call(self, name: str, args, weak_result: bool, float_only=True, result_int=False):
        """Apply scalar math op `name` to args (all numbers)."""
        types = [self.type_of(a) for a in args]
        t = types[0]
        for other in types[1:]:
            t = result_type(t, other)
        rt = (float_type(t[0]) if float_only else t[0])
        if weak_result:
            rt = F64 if float_only else rt
        if all(is_static_number(a) for a in args) and not result_int:
            fn = getattr(np, _NUMPY_NAME.get(name, name))
            value = fn(*[np.asarray(a, rt.numpy) for a in args])
            return float(value) if weak_result else rt.numpy.type(value)
        xs = [self.scalar(a, rt) for a in args]
        out = Scalar(self.b.emit(name, *[x.value for x in xs]), weak_result)
        if result_int:
            return Scalar(self.b.cast(out.value, type=I64), True)
        return out


_NUMPY_NAME = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "atan2": "arctan2", "pow": "power"}


def _static_as(x, t: ScalarType):
    if t.is_bool:
        return bool(x)
    if t.is_int:
        return int(x)
    return float(x)


def _is_static(x, value) -> bool:
    return is_static_number(x) and not isinstance(x, (bool, np.bool_)) and x == value


def _negative_static(x) -> bool:
    return is_static_number(x) and x < 0


def _lower_bound(op, x: Scalar, y: Scalar):
    if x.lb is None or not x.type.is_int:
        return None
    if op == "+" and y.lb is not None:
        return x.lb + y.lb
    if op == "-" and _const_of(y) is not None:
        return x.lb - _const_of(y)
    if op == "*" and y.lb is not None and x.lb >= 0 and y.lb >= 0:
        return x.lb * y.lb
    if op in ("//", "%") and _const_of(y) is not None and _const_of(y) > 0 and x.lb >= 0:
        return 0
    return None


def _const_of(s: Scalar):
    op = getattr(s.value, "op", None)
    return op.attrs["value"] if op is not None and op.name == "const" else None


def _describe(x) -> str:
    if isinstance(x, str):
        return f"the string {x!r}"
    if x is None:
        return "None"
    return f"a {type(x).__name__}"


__all__ = ["Arithmetic", "BINARY_IR", "COMPARE_IR"]
