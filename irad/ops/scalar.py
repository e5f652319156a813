"""Scalar ops: constants, arithmetic, math functions, comparisons, logic,
select and casts.

Invariants: operands of one op share one scalar type (the tracer inserts
casts; the IR never promotes implicitly); `evaluate` uses NumPy scalars so
the interpreter keeps float32 float32 and wraps int64 on overflow; `//` and
`%` floor like Python; `min`/`max` are Python's (`min(a, b)` is
`b if b < a else a`). `partials` gives one derivative expression per operand
(Enzyme's table style); `jvp`/`vjp` are derived from it unless an op states
them directly.
"""
from __future__ import annotations

import math

import numpy as np

from ..types import F32, F64, I1, ScalarType
from .core import (TypeRuleError, arity, compare_rule, define, expect_scalar,
                   same_type_rule)
from .derivatives import ONE, MINUS_ONE, from_partials

FLOAT, NUM, INT_BOOL = ("float",), ("float", "int"), ("int", "bool")


def _c(b, value, like):
    return b.const(value, like.type)


# ---- constants and casts ----------------------------------------------------

def _const_rule(types, attrs):
    arity(0)(types)
    return [attrs["type"]]


define("const", _const_rule, syntax="const",
       evaluate=lambda *, value, type: type.numpy.type(value))


def _cast_rule(types, attrs):
    arity(1)(types)
    expect_scalar(types, 0)
    if not isinstance(attrs["type"], ScalarType):
        raise TypeRuleError(0, "a scalar target type", attrs["type"])
    return [attrs["type"]]


def _cast_eval(x, *, type):
    if type.is_bool:
        return np.bool_(x != 0)
    if type.is_int and isinstance(x, np.floating) and not np.isfinite(x):
        return type.numpy.type(0)
    return type.numpy.type(x)


def _cast_vjp(b, ct, r, x):
    return (b.emit("cast", ct, type=x.type),) if x.type.is_float and r.type.is_float else (None,)


def _cast_jvp(b, r, x, dx):
    return b.emit("cast", dx, type=r.type) if x.type.is_float and r.type.is_float else None


define("cast", _cast_rule, syntax="cast", evaluate=_cast_eval, differentiable=True,
       vjp=_cast_vjp, jvp=_cast_jvp, simplify=lambda b, op, k: op.operands[0]
       if op.operands[0].type == op.results[0].type else None)


# ---- arithmetic ---------------------------------------------------------------

def _floordiv(x, y):
    if isinstance(x, np.integer) and y == 0:
        return type(x)(0)
    return np.floor_divide(x, y)


def _mod(x, y):
    if isinstance(x, np.integer) and y == 0:
        return type(x)(0)
    return np.remainder(x, y)


def _pow(x, y):
    if isinstance(x, np.integer) and y < 0:
        return type(x)(1 if x == 1 else (-1 if y % 2 else 1) if x == -1 else 0)
    return np.power(x, y)


def _is(k, value):
    return k is not None and k == value and not (isinstance(k, (float, np.floating)) and math.copysign(1, k) != math.copysign(1, value))


def _simplify_add(b, op, k):
    x, y = op.operands
    if _is(k[1], 0) and (x.type.is_int or math.copysign(1, k[1]) < 0 or b.fastmath):
        return x
    if _is(k[0], 0) and (x.type.is_int or math.copysign(1, k[0]) < 0 or b.fastmath):
        return y
    return None


def _simplify_sub(b, op, k):
    return op.operands[0] if k[1] is not None and k[1] == 0 and (
        op.operands[0].type.is_int or math.copysign(1, k[1]) > 0 or b.fastmath) else None


def _simplify_mul(b, op, k):
    x, y = op.operands
    if k[1] is not None and k[1] == 1:
        return x
    if k[0] is not None and k[0] == 1:
        return y
    if (x.type.is_int or b.fastmath) and (_is(k[0], 0) or _is(k[1], 0)):
        return _c(b, 0, x)
    return None


def _simplify_div(b, op, k):
    return op.operands[0] if k[1] is not None and k[1] == 1 else None


define("add", same_type_rule(2, NUM), evaluate=np.add, simplify=_simplify_add,
       **from_partials(lambda b, r, x, y: (ONE, ONE)))
define("sub", same_type_rule(2, NUM), evaluate=np.subtract, simplify=_simplify_sub,
       **from_partials(lambda b, r, x, y: (ONE, MINUS_ONE)))
define("mul", same_type_rule(2, NUM), evaluate=np.multiply, simplify=_simplify_mul,
       **from_partials(lambda b, r, x, y: (y, x)))
define("div", same_type_rule(2, FLOAT), evaluate=np.true_divide, simplify=_simplify_div,
       differentiable=True,
       vjp=lambda b, ct, r, x, y: (b.div(ct, y), b.neg(b.div(b.mul(ct, r), y))),
       jvp=lambda b, r, x, y, dx, dy: b.div(
           b.sub(dx or _c(b, 0.0, x), b.mul(r, dy)) if dy is not None else dx, y))
define("floordiv", same_type_rule(2, NUM), evaluate=_floordiv,
       **from_partials(lambda b, r, x, y: (None, None)))
define("mod", same_type_rule(2, NUM), evaluate=_mod,
       **from_partials(lambda b, r, x, y: (ONE, b.neg(b.floordiv(x, y)))))
define("pow", same_type_rule(2, NUM), evaluate=_pow,
       **from_partials(lambda b, r, x, y: (
           b.mul(y, b.pow(x, b.sub(y, _c(b, 1.0, y)))),
           b.select(b.eq(x, _c(b, 0.0, x)), _c(b, 0.0, x), b.mul(r, b.log(x))))))
define("fma", same_type_rule(3, FLOAT), evaluate=lambda x, y, z: x * y + z,
       **from_partials(lambda b, r, x, y, z: (y, x, ONE)))
define("neg", same_type_rule(1, NUM), evaluate=np.negative,
       **from_partials(lambda b, r, x: (MINUS_ONE,)))
define("abs", same_type_rule(1, NUM), evaluate=np.abs,
       **from_partials(lambda b, r, x: (b.select(b.lt(x, _c(b, 0.0, x)), _c(b, -1.0, x), _c(b, 1.0, x)),)))
define("min", same_type_rule(2, NUM), evaluate=lambda x, y: y if y < x else x,
       **from_partials(lambda b, r, x, y: (
           b.select(b.lt(y, x), _c(b, 0.0, x), _c(b, 1.0, x)),
           b.select(b.lt(y, x), _c(b, 1.0, x), _c(b, 0.0, x)))))
define("max", same_type_rule(2, NUM), evaluate=lambda x, y: y if y > x else x,
       **from_partials(lambda b, r, x, y: (
           b.select(b.gt(y, x), _c(b, 0.0, x), _c(b, 1.0, x)),
           b.select(b.gt(y, x), _c(b, 1.0, x), _c(b, 0.0, x)))))


# ---- math functions (floats only) ---------------------------------------------

def _unary(name, fn, partial):
    define(name, same_type_rule(1, FLOAT), evaluate=fn, **from_partials(partial))


def _inv_sqrt_1m_x2(b, x):
    return b.div(_c(b, 1.0, x), b.sqrt(b.sub(_c(b, 1.0, x), b.mul(x, x))))


_unary("sin", np.sin, lambda b, r, x: (b.cos(x),))
_unary("cos", np.cos, lambda b, r, x: (b.neg(b.sin(x)),))
_unary("tan", np.tan, lambda b, r, x: (b.add(_c(b, 1.0, x), b.mul(r, r)),))
_unary("asin", np.arcsin, lambda b, r, x: (_inv_sqrt_1m_x2(b, x),))
_unary("acos", np.arccos, lambda b, r, x: (b.neg(_inv_sqrt_1m_x2(b, x)),))
_unary("atan", np.arctan, lambda b, r, x: (b.div(_c(b, 1.0, x), b.add(_c(b, 1.0, x), b.mul(x, x))),))
_unary("sinh", np.sinh, lambda b, r, x: (b.cosh(x),))
_unary("cosh", np.cosh, lambda b, r, x: (b.sinh(x),))
_unary("tanh", np.tanh, lambda b, r, x: (b.sub(_c(b, 1.0, x), b.mul(r, r)),))
_unary("exp", np.exp, lambda b, r, x: (r,))
_unary("expm1", np.expm1, lambda b, r, x: (b.add(r, _c(b, 1.0, x)),))
_unary("log", np.log, lambda b, r, x: (b.div(_c(b, 1.0, x), x),))
_unary("log1p", np.log1p, lambda b, r, x: (b.div(_c(b, 1.0, x), b.add(x, _c(b, 1.0, x))),))
_unary("log2", np.log2, lambda b, r, x: (b.div(_c(b, 1 / math.log(2), x), x),))
_unary("log10", np.log10, lambda b, r, x: (b.div(_c(b, 1 / math.log(10), x), x),))
_unary("sqrt", np.sqrt, lambda b, r, x: (b.div(_c(b, 0.5, x), r),))
_unary("floor", np.floor, lambda b, r, x: (None,))
_unary("ceil", np.ceil, lambda b, r, x: (None,))


def _atan2_partials(b, r, y, x):
    d = b.add(b.mul(x, x), b.mul(y, y))
    return b.div(x, d), b.neg(b.div(y, d))


define("atan2", same_type_rule(2, FLOAT), evaluate=np.arctan2, **from_partials(_atan2_partials))
define("hypot", same_type_rule(2, FLOAT), evaluate=np.hypot,
       **from_partials(lambda b, r, x, y: (b.div(x, r), b.div(y, r))))


# ---- comparisons, logic, select ------------------------------------------------

for _name, _fn in (("lt", np.less), ("le", np.less_equal), ("gt", np.greater),
                   ("ge", np.greater_equal), ("eq", np.equal), ("ne", np.not_equal)):
    define(_name, compare_rule, evaluate=_fn)

define("and", same_type_rule(2, INT_BOOL), evaluate=np.bitwise_and)
define("or", same_type_rule(2, INT_BOOL), evaluate=np.bitwise_or)
define("xor", same_type_rule(2, INT_BOOL), evaluate=np.bitwise_xor)
define("not", same_type_rule(1, ("bool",)), evaluate=np.logical_not)


def _select_rule(types, attrs):
    arity(3)(types)
    if types[0] != I1:
        raise TypeRuleError(0, "i1", types[0])
    if not isinstance(types[1], ScalarType) and not getattr(types[1], "is_array", False):
        raise TypeRuleError(1, "scalar or array", types[1])
    if types[2] != types[1]:
        raise TypeRuleError(2, str(types[1]), types[2])
    return [types[1]]


def _select_simplify(b, op, k):
    c, x, y = op.operands
    if x is y:
        return x
    if k[0] is not None:
        return x if k[0] else y
    return None


def _select_vjp(b, ct, r, c, x, y):
    if not x.type.is_scalar or not x.type.is_float:
        return None, None, None
    zero = _c(b, 0.0, x)
    return None, b.select(c, ct, zero), b.select(c, zero, ct)


def _select_jvp(b, r, c, x, y, dc, dx, dy):
    if dx is None and dy is None:
        return None
    zero = _c(b, 0.0, x)
    return b.select(c, dx if dx is not None else zero, dy if dy is not None else zero)


define("select", _select_rule, evaluate=lambda c, x, y: x if c else y, simplify=_select_simplify,
       differentiable=True, vjp=_select_vjp, jvp=_select_jvp)

FLOAT_TYPES = (F64, F32)
