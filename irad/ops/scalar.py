"""Scalar ops: constants, arithmetic, math functions, comparisons, logic,
select and casts.

`add`, `sub` and `mul` may carry `reassoc = true`: the value is a sum whose
order the program does not define (reverse mode's adjoint accumulations),
so native code may reassociate it; the interpreter computes it in order.
Its sign of zero means nothing either: `x + 0.0 {reassoc}` simplifies to x
(a shadow slot read, zeroed and accumulated into again).

Math functions (`extra["approximable"]`) may carry `approx = true`: only
derivatives use the value, so native code may take it from a vector math
library accurate to a few ULP instead of libm (passes/approximate.py marks
them; the interpreter computes them exactly).

Invariants: operands of one op share one scalar type (the tracer inserts
casts; the IR never promotes implicitly); `evaluate` uses NumPy scalars so
the interpreter keeps float32 float32 and wraps int64 on overflow; `//` and
`%` floor like Python; `min`/`max` are Python's (`min(a, b)` is
`b if b < a else a`); math functions and float `pow` are the C library's
(ops/libm.py), as in native code and CPython, never NumPy's SIMD variants.
`partials` gives one derivative expression per operand (Enzyme's table
style); `jvp`/`vjp` are derived from it unless an op states them directly.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ..types import F64, I1, ScalarType
from .core import (OPS, TypeRuleError, arity, compare_rule, define, expect_scalar,
                   same_type_rule)
from .derivatives import ONE, MINUS_ONE, from_partials
from .libm import c_math
from .lowering import Binary, Compare, Intrinsic, Libm, Special

FLOAT, NUM, INT_BOOL = ("float",), ("float", "int"), ("int", "bool")


def _c(b, value, like):
    return b.const(value, like.type)


# ---- constants and casts ----------------------------------------------------

def _const_rule(types, attrs):
    arity(0)(types)
    return [attrs["type"]]


define("const", _const_rule, syntax="const", llvm=Special("const"),
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
    """Float casts pass the adjoint through; integers take part as reals; truncation to an
    integer and anything boolean have no derivative."""
    if x.type.is_bool or r.type.is_bool or (x.type.is_float and r.type.is_int):
        return (None,)
    target = x.type if x.type.is_float else F64
    return (ct if ct.type == target else b.emit("cast", ct, type=target),)


def _cast_jvp(b, r, x, dx):
    return b.emit("cast", dx, type=r.type) if x.type.is_float and r.type.is_float else None


define("cast", _cast_rule, syntax="cast", evaluate=_cast_eval, differentiable=True, llvm=Special("cast"),
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
    if isinstance(x, np.integer) or y in _NUMPY_POW_SHORTCUTS:
        return np.power(x, y)
    return _c_pow(x, y)


# NumPy's power computes these exponents as 1/x, 1, sqrt(x), x and x*x (exactly, but unlike C's
# pow at signed zeros and -inf); native code takes the same shortcuts (runtime/scalars.py).
_NUMPY_POW_SHORTCUTS = (-1.0, 0.0, 0.5, 1.0, 2.0)
_c_pow = c_math("pow", np.power, 2)


def _is(k, value):
    """k is the constant `value`; a float zero must also have `value`'s sign."""
    return k is not None and k == value and not (isinstance(k, (float, np.floating)) and math.copysign(1, k) != math.copysign(1, value))


def _is_zero(k, sign):
    """k is a zero of the given sign (ints have both signs)."""
    return k is not None and k == 0 and (not isinstance(k, (float, np.floating)) or math.copysign(1, k) == sign)


def _def(v, name):
    """The op defining v when it is a `name` op, else None."""
    op = getattr(v, "op", None)
    return op if op is not None and op.name == name else None


# IEEE: x + (-0.0) == x and x - (+0.0) == x for every x (signed zeros and NaN
# included), but x + 0.0 turns -0.0 into +0.0 and x * 0 is NaN for inf/NaN:
# those rewrites need fastmath (nsz, nnan, ninf) or an integer type (and
# x + 0.0 -> x is also fine in a `reassoc` sum, whose sign of zero means nothing).

def _simplify_add(b, op, k):
    x, y = op.operands
    exact = x.type.is_int or b.fastmath or op.attrs.get("reassoc", False)
    if _is_zero(k[1], -1) or (exact and _is_zero(k[1], 1)):
        return x
    if _is_zero(k[0], -1) or (exact and _is_zero(k[0], 1)):
        return y
    if x.type.is_int:
        return _gather_constants(b, x, y, k)
    return None


def _gather_constants(b, x, y, k):
    """Integer sums put their constant last and add constants up, `(n + c1) + c2` -> `n + (c1 +
    c2)`, exact in wrapping arithmetic: index expressions built different ways become one value
    (`u[1:-1]` and `u[2:]` have the extent n - 2 both)."""
    if k[0] is not None and k[1] is None:
        return b.add(y, x)
    inner = _def(x, "add")
    c = _def(inner.operands[1], "const") if inner is not None and k[1] is not None else None
    if c is None:
        return None
    with np.errstate(over="ignore"):
        total = np.add(x.type.numpy.type(c.attrs["value"]), k[1])
    return b.add(inner.operands[0], _c(b, total.item(), x))


def _simplify_sub(b, op, k):
    x, y = op.operands
    exact = x.type.is_int or b.fastmath
    if _is_zero(k[1], 1) or (exact and _is_zero(k[1], -1)):
        return x
    if _is_zero(k[0], -1) or (exact and _is_zero(k[0], 1)):
        return b.neg(y)
    if x is y and exact:
        return _c(b, 0, x)
    if x.type.is_int and k[1] is not None:     # x - c is x + (-c), wrapping as the sub does
        with np.errstate(over="ignore"):
            return b.add(x, _c(b, np.negative(k[1]).item(), x))
    return None


def _simplify_mul(b, op, k):
    x, y = op.operands
    if _is(k[1], 1):
        return x
    if _is(k[0], 1):
        return y
    if _is(k[1], -1):
        return b.neg(x)
    if _is(k[0], -1):
        return b.neg(y)
    if (x.type.is_int or b.fastmath) and (_is(k[0], 0) or _is(k[1], 0)):
        return _c(b, 0, x)
    return None


def _simplify_div(b, op, k):
    if _is(k[1], 1):
        return op.operands[0]
    if _is(k[1], -1):
        return b.neg(op.operands[0])
    return None


def _simplify_floordiv(b, op, k):
    """x // 1 is x for integers (for floats, -0.0 // 1 is -0.0 but inf // 1 is nan)."""
    return op.operands[0] if op.operands[0].type.is_int and _is(k[1], 1) else None


def _simplify_neg(b, op, k):
    inner = _def(op.operands[0], "neg")
    return inner.operands[0] if inner is not None else None


define("add", same_type_rule(2, NUM), evaluate=lambda x, y, reassoc=False: np.add(x, y), simplify=_simplify_add,
       llvm=Binary(float="fadd", int="add"),
       **from_partials(lambda b, r, x, y: (ONE, ONE)))
define("sub", same_type_rule(2, NUM), evaluate=lambda x, y, reassoc=False: np.subtract(x, y), simplify=_simplify_sub,
       llvm=Binary(float="fsub", int="sub"),
       **from_partials(lambda b, r, x, y: (ONE, MINUS_ONE)))
define("mul", same_type_rule(2, NUM), evaluate=lambda x, y, reassoc=False: np.multiply(x, y), simplify=_simplify_mul,
       llvm=Binary(float="fmul", int="mul"),
       **from_partials(lambda b, r, x, y: (y, x)))
def _div_vjp(b, ct_over_y, r):
    """d(x / y) = ct / y and -ct x / y**2 = -(ct / y) r: one division for both."""
    return ct_over_y, b.neg(b.mul(ct_over_y, r))


define("div", same_type_rule(2, FLOAT), evaluate=np.true_divide, simplify=_simplify_div,
       differentiable=True, llvm=Binary(float="fdiv"),
       vjp=lambda b, ct, r, x, y: _div_vjp(b, b.div(ct, y), r),
       jvp=lambda b, r, x, y, dx, dy: b.div(
           b.sub(dx or _c(b, 0.0, x), b.mul(r, dy)) if dy is not None else dx, y))
define("floordiv", same_type_rule(2, NUM), evaluate=_floordiv, llvm=Special("floordiv"), simplify=_simplify_floordiv,
       **from_partials(lambda b, r, x, y: (None, None)))
define("mod", same_type_rule(2, NUM), evaluate=_mod, llvm=Special("mod"),
       **from_partials(lambda b, r, x, y: (ONE, b.neg(b.floordiv(x, y)))))
define("pow", same_type_rule(2, NUM), evaluate=_pow, llvm=Special("pow"),
       **from_partials(lambda b, r, x, y: (
           b.mul(y, b.pow(x, b.sub(y, _c(b, 1.0, y)))),
           b.select(b.eq(x, _c(b, 0.0, x)), _c(b, 0.0, x), b.mul(r, b.log(x)))), expensive=True))
def _fma(x, y, z):
    """x * y + z rounded once, as the hardware instruction does."""
    if not all(np.isfinite(v) for v in (x, y, z)):
        return x * y + z
    exact = Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z))
    return _round_once(exact, type(x))


def _round_once(exact: Fraction, kind):
    """The value of type `kind` nearest to `exact` (ties to even)."""
    guess = kind(float(exact))
    if kind is np.float64 or not np.isfinite(guess):
        return guess
    candidates = (np.nextafter(guess, kind(-np.inf)), guess, np.nextafter(guess, kind(np.inf)))
    return min(candidates, key=lambda c: (abs(Fraction(float(c)) - exact),
                                         int(np.asarray(c).view(np.int32)) & 1))


define("fma", same_type_rule(3, FLOAT), evaluate=_fma, llvm=Special("fma"),
       **from_partials(lambda b, r, x, y, z: (y, x, ONE)))
define("neg", same_type_rule(1, NUM), evaluate=np.negative, simplify=_simplify_neg,
       llvm=Special("neg"), **from_partials(lambda b, r, x: (MINUS_ONE,)))
define("abs", same_type_rule(1, NUM), evaluate=np.abs, llvm=Special("abs"),
       **from_partials(lambda b, r, x: (b.select(b.lt(x, _c(b, 0.0, x)), _c(b, -1.0, x), _c(b, 1.0, x)),)))
define("min", same_type_rule(2, NUM), evaluate=lambda x, y: y if y < x else x, llvm=Special("min"),
       **from_partials(lambda b, r, x, y: (
           b.select(b.lt(y, x), _c(b, 0.0, x), _c(b, 1.0, x)),
           b.select(b.lt(y, x), _c(b, 1.0, x), _c(b, 0.0, x)))))
define("max", same_type_rule(2, NUM), evaluate=lambda x, y: y if y > x else x, llvm=Special("max"),
       **from_partials(lambda b, r, x, y: (
           b.select(b.gt(y, x), _c(b, 0.0, x), _c(b, 1.0, x)),
           b.select(b.gt(y, x), _c(b, 1.0, x), _c(b, 0.0, x)))))


# ---- math functions (floats only) ---------------------------------------------

def _unary(name, fn, partial, llvm, expensive=True):
    """`expensive`: a transcendental function, taped rather than recomputed, that a vector math
    library approximates (`approximable`, see the module docstring)."""
    define(name, same_type_rule(1, FLOAT), evaluate=fn, llvm=llvm,
           **from_partials(partial, expensive=expensive, approximable=expensive))


def _inv_sqrt_1m_x2(b, x):
    return b.div(_c(b, 1.0, x), b.sqrt(b.sub(_c(b, 1.0, x), b.mul(x, x))))


_unary("sin", c_math("sin", np.sin), lambda b, r, x: (b.cos(x),), Intrinsic("llvm.sin"))
_unary("cos", c_math("cos", np.cos), lambda b, r, x: (b.neg(b.sin(x)),), Intrinsic("llvm.cos"))
_unary("tan", c_math("tan", np.tan), lambda b, r, x: (b.add(_c(b, 1.0, x), b.mul(r, r)),), Libm("tan"))
_unary("asin", c_math("asin", np.arcsin), lambda b, r, x: (_inv_sqrt_1m_x2(b, x),), Libm("asin"))
_unary("acos", c_math("acos", np.arccos), lambda b, r, x: (b.neg(_inv_sqrt_1m_x2(b, x)),), Libm("acos"))
_unary("atan", c_math("atan", np.arctan), lambda b, r, x: (b.div(_c(b, 1.0, x), b.add(_c(b, 1.0, x), b.mul(x, x))),), Libm("atan"))
_unary("sinh", c_math("sinh", np.sinh), lambda b, r, x: (b.cosh(x),), Libm("sinh"))
_unary("cosh", c_math("cosh", np.cosh), lambda b, r, x: (b.sinh(x),), Libm("cosh"))
_unary("tanh", c_math("tanh", np.tanh), lambda b, r, x: (b.sub(_c(b, 1.0, x), b.mul(r, r)),), Libm("tanh"))
_unary("exp", c_math("exp", np.exp), lambda b, r, x: (r,), Intrinsic("llvm.exp"))
_unary("expm1", c_math("expm1", np.expm1), lambda b, r, x: (b.add(r, _c(b, 1.0, x)),), Libm("expm1"))
_unary("log", c_math("log", np.log), lambda b, r, x: (b.div(_c(b, 1.0, x), x),), Intrinsic("llvm.log"))
_unary("log1p", c_math("log1p", np.log1p), lambda b, r, x: (b.div(_c(b, 1.0, x), b.add(x, _c(b, 1.0, x))),), Libm("log1p"))
_unary("log2", c_math("log2", np.log2), lambda b, r, x: (b.div(_c(b, 1 / math.log(2), x), x),), Intrinsic("llvm.log2"))
_unary("log10", c_math("log10", np.log10), lambda b, r, x: (b.div(_c(b, 1 / math.log(10), x), x),), Intrinsic("llvm.log10"))
_unary("sqrt", np.sqrt, lambda b, r, x: (b.div(_c(b, 0.5, x), r),), Intrinsic("llvm.sqrt"), expensive=False)
_unary("floor", np.floor, lambda b, r, x: (None,), Intrinsic("llvm.floor"), expensive=False)
_unary("ceil", np.ceil, lambda b, r, x: (None,), Intrinsic("llvm.ceil"), expensive=False)


def _atan2_partials(b, r, y, x):
    d = b.add(b.mul(x, x), b.mul(y, y))
    return b.div(x, d), b.neg(b.div(y, d))


define("atan2", same_type_rule(2, FLOAT), evaluate=c_math("atan2", np.arctan2, 2), llvm=Libm("atan2"),
       **from_partials(_atan2_partials, expensive=True, approximable=True))
define("hypot", same_type_rule(2, FLOAT), evaluate=c_math("hypot", np.hypot, 2), llvm=Libm("hypot"),
       **from_partials(lambda b, r, x, y: (b.div(x, r), b.div(y, r)), expensive=True, approximable=True))


# ---- comparisons, logic, select ------------------------------------------------

def _simplify_compare(reflexive):
    """cmp(x, x) is `reflexive` for ints and bools (a float may be NaN)."""
    def simplify(b, op, k):
        x, y = op.operands
        return b.const(reflexive, I1) if x is y and not x.type.is_float else None
    return simplify


for _name, _fn, _refl, _op in (("lt", np.less, False, "<"), ("le", np.less_equal, True, "<="),
                               ("gt", np.greater, False, ">"), ("ge", np.greater_equal, True, ">="),
                               ("eq", np.equal, True, "=="), ("ne", np.not_equal, False, "!=")):
    define(_name, compare_rule, evaluate=_fn, simplify=_simplify_compare(_refl), llvm=Compare(_op))


def _all_ones(k):
    return k is not None and (bool(k) if isinstance(k, (bool, np.bool_)) else k == -1)


def _simplify_and(b, op, k):
    x, y = op.operands
    if x is y:
        return x
    for c, other, const in ((k[1], x, y), (k[0], y, x)):
        if c is not None and c == 0:
            return const
        if _all_ones(c):
            return other
    return None


def _simplify_or(b, op, k):
    x, y = op.operands
    if x is y:
        return x
    for c, other, const in ((k[1], x, y), (k[0], y, x)):
        if c is not None and c == 0:
            return other
        if _all_ones(c):
            return const
    return None


def _simplify_xor(b, op, k):
    x, y = op.operands
    if x is y:
        return _c(b, 0, x)
    for c, other in ((k[1], x), (k[0], y)):
        if c is not None and c == 0:
            return other
    return None


def _simplify_not(b, op, k):
    inner = _def(op.operands[0], "not")
    return inner.operands[0] if inner is not None else None


define("and", same_type_rule(2, INT_BOOL), evaluate=np.bitwise_and, simplify=_simplify_and,
       llvm=Binary(int="and"))
define("or", same_type_rule(2, INT_BOOL), evaluate=np.bitwise_or, simplify=_simplify_or,
       llvm=Binary(int="or"))
define("xor", same_type_rule(2, INT_BOOL), evaluate=np.bitwise_xor, simplify=_simplify_xor,
       llvm=Binary(int="xor"))
define("not", same_type_rule(1, ("bool",)), evaluate=np.logical_not, simplify=_simplify_not,
       llvm=Special("not"))

# Operand order does not matter (IEEE add/mul commute, NaN payloads aside):
# CSE matches these ops with their operands in either order.
for _name in ("add", "mul", "and", "or", "xor", "eq", "ne"):
    OPS[_name].extra["commutative"] = True


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
       llvm=Special("select"),
       differentiable=True, vjp=_select_vjp, jvp=_select_jvp)

