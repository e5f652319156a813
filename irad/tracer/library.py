"""Functions callable from compiled code: builtins, `math`, NumPy scalar
functions and array creation, and user Python functions (inlined).

Invariant: `LIBRARY` maps a Python callable to a handler
`handler(tracer, args, kwargs) -> trace value`; anything not in it and not
a plain Python function is rejected by name.
"""
from __future__ import annotations

import builtins
import math

import numpy as np

from ..errors import TypingError, UnsupportedError
from ..types import F32, F64, I1, I32, I64, scalar_from_numpy
from .values import Array, Scalar, is_static_number

LIBRARY: dict = {}


def handles(*fns):
    def register(handler):
        for fn in fns:
            LIBRARY[fn] = handler
        return handler
    return register


def _no_kwargs(tracer, kwargs, name):
    if kwargs:
        raise UnsupportedError(f"{name}() keyword arguments are not supported: {', '.join(kwargs)}", tracer.loc)


def _arity(tracer, args, n, name):
    if len(args) not in ((n,) if isinstance(n, int) else n):
        raise TypingError(f"{name}() takes {n} arguments, got {len(args)}", tracer.loc)


def _scalar_args(tracer, args, name):
    for a in args:
        if tracer.is_arraylike(a):
            raise TypingError(f"{name}() takes numbers, not arrays", tracer.loc,
                              "use the NumPy function (np.sin, np.abs, np.maximum, ...) for arrays")
        tracer.type_of(a)


# ---- math and NumPy scalar functions ------------------------------------------

MATH_UNARY = {"sin": "sin", "cos": "cos", "tan": "tan", "asin": "asin", "acos": "acos",
              "atan": "atan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "exp": "exp",
              "expm1": "expm1", "log": "log", "log1p": "log1p", "log2": "log2", "log10": "log10",
              "sqrt": "sqrt", "fabs": "abs"}
NUMPY_UNARY = {"sin": "sin", "cos": "cos", "tan": "tan", "arcsin": "asin", "arccos": "acos",
               "arctan": "atan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "exp": "exp",
               "expm1": "expm1", "log": "log", "log1p": "log1p", "log2": "log2", "log10": "log10",
               "sqrt": "sqrt", "floor": "floor", "ceil": "ceil", "fabs": "abs"}


def _math(op, weak, arity=1):
    def handler(tracer, args, kwargs):
        _no_kwargs(tracer, kwargs, op)
        _arity(tracer, args, arity, op)
        _scalar_args(tracer, args, op)
        return tracer.math_call(op, args, weak_result=weak)
    return handler


for _py, _op in MATH_UNARY.items():
    LIBRARY[getattr(math, _py)] = _math(_op, weak=True)
for _py, _op in NUMPY_UNARY.items():
    LIBRARY[getattr(np, _py)] = _math(_op, weak=False)
LIBRARY[math.atan2] = _math("atan2", True, 2)
LIBRARY[math.hypot] = _math("hypot", True, 2)
LIBRARY[math.pow] = _math("pow", True, 2)
LIBRARY[np.arctan2] = _math("atan2", False, 2)
LIBRARY[np.hypot] = _math("hypot", False, 2)


@handles(math.floor, math.ceil)
def _math_round(tracer, args, kwargs):
    _arity(tracer, args, 1, "floor")
    x = args[0]
    name = "floor" if tracer.current_callee is math.floor else "ceil"
    if is_static_number(x):
        return getattr(math, name)(x)
    if tracer.type_of(x)[0].is_int:
        return x
    return tracer.math_call(name, [x], weak_result=True, result_int=True)


@handles(math.trunc, builtins.int)
def _to_int(tracer, args, kwargs):
    _no_kwargs(tracer, kwargs, "int")
    _arity(tracer, args, 1, "int")
    x = args[0]
    if is_static_number(x):
        return int(x)
    _scalar_args(tracer, args, "int")
    return tracer.scalar(x, I64, weak=True)


@handles(builtins.float)
def _to_float(tracer, args, kwargs):
    _arity(tracer, args, 1, "float")
    x = args[0]
    if is_static_number(x) or isinstance(x, str):
        return float(x)
    _scalar_args(tracer, args, "float")
    return tracer.scalar(x, F64, weak=True)


@handles(builtins.bool)
def _to_bool(tracer, args, kwargs):
    _arity(tracer, args, 1, "bool")
    return tracer.truth(args[0])


def _numpy_cast(t):
    def handler(tracer, args, kwargs):
        _arity(tracer, args, 1, t.numpy.name)
        if is_static_number(args[0]):
            return t.numpy.type(args[0])
        _scalar_args(tracer, args, t.numpy.name)
        if t.is_bool:
            c = tracer.truth(args[0])
            return tracer.scalar(c, I1, weak=False)
        return tracer.scalar(args[0], t, weak=False)
    return handler


for _t in (F64, F32, I64, I32, I1):
    LIBRARY[_t.numpy.type] = _numpy_cast(_t)


@handles(math.isnan, np.isnan)
def _isnan(tracer, args, kwargs):
    x = args[0]
    if is_static_number(x):
        return math.isnan(x)
    s = tracer.scalar(x)
    if not s.type.is_float:
        return False
    return Scalar(tracer.b.ne(s.value, s.value), tracer.current_callee is math.isnan)


@handles(math.isinf, np.isinf, math.isfinite, np.isfinite)
def _isinf(tracer, args, kwargs):
    x, fn = args[0], tracer.current_callee
    if is_static_number(x):
        return fn(x)
    s = tracer.scalar(x)
    finite = fn in (math.isfinite, np.isfinite)
    if not s.type.is_float:
        return finite
    a = tracer.b.abs(s.value)
    inf = tracer.b.const(math.inf, s.type)
    return Scalar(tracer.b.lt(a, inf) if finite else tracer.b.eq(a, inf), fn in (math.isinf, math.isfinite))


# ---- builtins ------------------------------------------------------------------

@handles(builtins.abs, np.abs, np.absolute)
def _abs(tracer, args, kwargs):
    _arity(tracer, args, 1, "abs")
    x = args[0]
    if is_static_number(x):
        return abs(x)
    _scalar_args(tracer, args, "abs")
    t, weak = tracer.type_of(x)
    s = tracer.scalar(x, I64 if t == I1 else t)
    return Scalar(tracer.b.abs(s.value), weak if tracer.current_callee is builtins.abs else False)


def _min_max(name):
    def handler(tracer, args, kwargs):
        _no_kwargs(tracer, kwargs, name)
        if len(args) == 1 and isinstance(args[0], (tuple, list)):
            args = list(args[0])
        if len(args) < 2:
            raise TypingError(f"{name}() needs at least two numbers or one tuple", tracer.loc)
        _scalar_args(tracer, args, name)
        result = args[0]
        for x in args[1:]:
            result = tracer.pick(name, result, x)
        return result
    return handler


LIBRARY[builtins.min] = _min_max("min")
LIBRARY[builtins.max] = _min_max("max")


@handles(builtins.len)
def _len(tracer, args, kwargs):
    _arity(tracer, args, 1, "len")
    x = args[0]
    if tracer.is_arraylike(x):
        if x.type.ndim == 0:
            raise TypingError("len() of a 0-d array", tracer.loc)
        return tracer.dim(x, 0) if isinstance(x, Array) else tracer.arraylike_attribute(x, "shape")[0]
    if isinstance(x, (tuple, list, str, dict)):
        return len(x)
    raise TypingError(f"len() of {tracer.describe(x)}", tracer.loc)


@handles(builtins.range)
def _range(tracer, args, kwargs):
    raise UnsupportedError("range() is supported only as the iterable of a for loop", tracer.loc)


@handles(builtins.print)
def _print(tracer, args, kwargs):
    raise UnsupportedError("print() is not supported in compiled code", tracer.loc,
                           "return the values you want to see, or use target='interpreter' and f.ir(...)")


# ---- array creation -------------------------------------------------------------

def dtype_of(tracer, dtype, default=F64):
    if dtype is None:
        return default
    try:
        t = scalar_from_numpy(np.dtype(dtype))
    except TypeError:
        t = None
    if t is None:
        raise TypingError(f"dtype {dtype!r} is not supported", tracer.loc,
                          "use float64, float32, int64, int32 or bool")
    return t


def shape_of(tracer, shape):
    dims = list(shape) if isinstance(shape, (tuple, list)) else [shape]
    return [tracer.index(d) for d in dims]


def _create(fill):
    def handler(tracer, args, kwargs):
        shape = kwargs.pop("shape", None) if not args else args[0]
        rest = list(args[1:])
        value = None
        if fill == "full":
            value = rest.pop(0) if rest else kwargs.pop("fill_value")
        dtype = rest.pop(0) if rest else kwargs.pop("dtype", None)
        _no_kwargs(tracer, {k: v for k, v in kwargs.items() if k != "order"}, "array creation")
        default = F64 if value is None else _fill_default(tracer, value)
        return tracer.new_array(shape_of(tracer, shape), dtype_of(tracer, dtype, default),
                                {"zeros": 0, "ones": 1, "empty": None}.get(fill, value))
    return handler


def _fill_default(tracer, value):
    t, weak = tracer.type_of(value)
    if weak:
        return {I1: I1, I64: I64}.get(t, F64)
    return t


def _create_like(fill):
    def handler(tracer, args, kwargs):
        a = args[0]
        if not isinstance(a, Array):
            raise TypingError(f"np.{fill}_like needs an array, got {tracer.describe(a)}", tracer.loc)
        rest = list(args[1:])
        value = (rest.pop(0) if rest else kwargs.pop("fill_value")) if fill == "full" else None
        dtype = rest.pop(0) if rest else kwargs.pop("dtype", None)
        shape = [tracer.dim(a, k) for k in range(a.type.ndim)]
        return tracer.new_array(shape, dtype_of(tracer, dtype, a.type.dtype),
                                {"zeros": 0, "ones": 1, "empty": None}.get(fill, value))
    return handler


for _name in ("zeros", "ones", "empty", "full"):
    LIBRARY[getattr(np, _name)] = _create(_name)
    LIBRARY[getattr(np, _name + "_like")] = _create_like(_name)


__all__ = ["LIBRARY"]
