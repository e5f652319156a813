"""The NumPy function table for arrays: ufunc-like functions, reductions,
linear algebra, creation and shape functions, and the array methods.

Each entry binds its arguments with NumPy's own parameter names (through
a Python signature, so positional and keyword forms both work), refuses
parameters irad does not implement (`out=`, `where=`, ...) by name, and
calls the tracer's array machinery. Elementwise functions keep working on
plain numbers (the scalar handlers of library.py) and lift to arrays
element by element.

Invariants: installing this module replaces LIBRARY entries only by
handlers that defer to the previous handler when no argument is an
array; `LIST_ARGUMENTS` are the callables whose list-literal arguments
the tracer accepts (`np.array([a, b])`).
"""
from __future__ import annotations

import ast
import builtins
import inspect

import numpy as np

from ..errors import TypingError, UnsupportedError
from ..types import I1
from .library import LIBRARY, NUMPY_UNARY, dtype_of
from .values import Array, Scalar, is_static_number, result_type

LIST_ARGUMENTS: set = set()
METHODS: dict = {}
NOVALUE = object()


def signature(fn):
    """A binder for NumPy's parameters, written as a Python function's signature."""
    sig = inspect.signature(fn)
    name = fn.__name__.lstrip("_")

    def bind(tracer, args, kwargs):
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as e:
            raise TypingError(f"{name}(): {e}", tracer.loc) from None
        bound.apply_defaults()
        params = dict(bound.arguments)
        for p in UNSUPPORTED:
            if p in sig.parameters and not _is_default(params[p], sig.parameters[p].default):
                raise UnsupportedError(f"{name}(): the '{p}' argument is not supported", tracer.loc,
                                       "irad's array functions return new arrays")
        return params
    return bind


UNSUPPORTED = ("out", "where", "initial", "order", "casting", "subok", "like")


def _is_default(value, default) -> bool:
    return value is default or (isinstance(value, str) and value == default)


def arraylike(tracer, *values) -> bool:
    return any(tracer.is_arraylike(v) for v in values)


def to_array(tracer, v):
    """A tuple or list of numbers becomes an array, as NumPy's functions do."""
    return tracer.np_array(v) if isinstance(v, (tuple, list)) else v


def register(*fns, lists=True):
    def deco(handler):
        for fn in fns:
            LIBRARY[fn] = handler
            if lists:
                LIST_ARGUMENTS.add(fn)
        return handler
    return deco


def lift(scalar_handler, callee):
    """The element function of a scalar handler, run as if `callee` were being called."""
    def fn(t, *xs):
        saved, t.current_callee = t.current_callee, callee
        try:
            return scalar_handler(t, list(xs), {})
        finally:
            t.current_callee = saved
    return fn


# ---- elementwise functions -------------------------------------------------------

FLOAT_RESULT = {"sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "exp",
                "expm1", "log", "log1p", "log2", "log10", "sqrt", "fabs", "arctan2", "hypot"}


def _elementwise_over(fn, scalar_handler):
    def handler(tracer, args, kwargs):
        if fn is not builtins.abs:
            args = [to_array(tracer, a) for a in args]
        if not arraylike(tracer, *args):
            return scalar_handler(tracer, args, kwargs)
        if kwargs:
            raise UnsupportedError(f"np.{fn.__name__}(): keyword arguments are not supported: "
                                   f"{', '.join(kwargs)}", tracer.loc)
        name = fn.__name__
        if name in FLOAT_RESULT and all(tracer.element_type(a) == I1 for a in args if tracer.is_arraylike(a)):
            raise TypingError(f"np.{name} of a bool array gives float16 in NumPy, which irad does not "
                              "support", tracer.loc, "convert with .astype(float)")
        if name in ("floor", "ceil") and not tracer.element_type(args[0]).is_float:
            return tracer.elementwise(lambda t, x: x, args)
        if name in ("abs", "absolute") and tracer.element_type(args[0]) == I1:
            return tracer.elementwise(lambda t, x: x, args)
        return tracer.elementwise(lift(scalar_handler, fn), args)
    return handler


for _fn in [*(getattr(np, n) for n in [*NUMPY_UNARY, "arctan2", "hypot", "abs", "absolute", "isnan",
                                       "isinf", "isfinite"]), builtins.abs]:
    LIBRARY[_fn] = _elementwise_over(_fn, LIBRARY[_fn])
    LIST_ARGUMENTS.add(_fn)


def ufunc(tracer, fn, args, static=None):
    """fn(t, *elements) over arrays lazily, or once on numbers (statically when all are)."""
    args = [to_array(tracer, a) for a in args]
    if arraylike(tracer, *args):
        return tracer.elementwise(fn, args)
    if static is not None and all(is_static_number(a) for a in args):
        return static(*args)
    return fn(tracer, *args)


def common(t, values):
    """The NEP 50 type of values (bool stays bool)."""
    types = [t.type_of(v) for v in values]
    if all(ty == I1 for ty, _ in types):
        return I1
    acc = types[0]
    for other in types[1:]:
        acc = result_type(acc, other)
    return acc[0]


def _extremum(kind):
    def fn(t, a, b):
        ty = common(t, [a, b])
        return t.pick_nan(kind, t.scalar(a, ty, weak=False), t.scalar(b, ty, weak=False))
    return fn


@register(np.maximum)
def _maximum(tracer, args, kwargs):
    _no_kwargs(tracer, kwargs, "maximum")
    return ufunc(tracer, _extremum("max"), _two(tracer, args, "maximum"), np.maximum)


@register(np.minimum)
def _minimum(tracer, args, kwargs):
    _no_kwargs(tracer, kwargs, "minimum")
    return ufunc(tracer, _extremum("min"), _two(tracer, args, "minimum"), np.minimum)


def _clip(a, a_min=None, a_max=None, out=None):
    pass


_bind_clip = signature(_clip)


@register(np.clip)
def _np_clip(tracer, args, kwargs):
    p = _bind_clip(tracer, args, kwargs)
    return clip(tracer, p["a"], p["a_min"], p["a_max"])


def clip(tracer, a, lo, hi):
    bounds = [v for v in (lo, hi) if v is not None]
    if not bounds:
        raise TypingError("clip: a_min and a_max cannot both be None", tracer.loc)

    def fn(t, x, *b):
        ty = common(t, [x, *b])
        it, v = iter(b), t.scalar(x, ty, weak=False)
        if lo is not None:
            v = t.pick_nan("max", v, t.scalar(next(it), ty, weak=False))
        if hi is not None:
            v = t.pick_nan("min", v, t.scalar(next(it), ty, weak=False))
        return v
    return ufunc(tracer, fn, [a, *bounds])


@register(np.where)
def _where(tracer, args, kwargs):
    _no_kwargs(tracer, kwargs, "where")
    if len(args) != 3:
        raise UnsupportedError("np.where(condition) (the indices form) is not supported", tracer.loc,
                               "use np.where(condition, x, y)")

    def fn(t, c, a, b):
        ty = common(t, [a, b])
        c = t.truth(c)
        x, y = t.scalar(a, ty, weak=False), t.scalar(b, ty, weak=False)
        if isinstance(c, bool):
            return x if c else y
        return Scalar(t.b.select(c.value, x.value, y.value), False)
    return ufunc(tracer, fn, args)


@register(np.sign)
def _sign(tracer, args, kwargs):
    _no_kwargs(tracer, kwargs, "sign")

    def fn(t, x):
        ty, _ = t.type_of(x)
        if ty == I1:
            raise TypingError("np.sign of bools is not supported by NumPy", t.loc, "convert with .astype(int)")
        s, b = t.scalar(x, ty, weak=False), t.b
        zero, one, minus = (b.const(v, ty) for v in (0, 1, -1))
        rest = b.select(b.lt(s.value, zero), minus, b.select(b.eq(s.value, s.value), zero, s.value))
        return Scalar(b.select(b.gt(s.value, zero), one, rest), False)
    return ufunc(tracer, fn, _one(tracer, args, "sign"), np.sign)


@register(np.square)
def _square(tracer, args, kwargs):
    return ufunc(tracer, lambda t, x: t.binary("*", x, x), _one(tracer, args, "square"), np.square)


BINARY_UFUNCS = {np.add: "+", np.subtract: "-", np.multiply: "*", np.divide: "/", np.true_divide: "/",
                 np.floor_divide: "//", np.power: "**", np.mod: "%", np.remainder: "%",
                 np.bitwise_and: "&", np.bitwise_or: "|", np.bitwise_xor: "^"}
COMPARE_UFUNCS = {np.equal: "==", np.not_equal: "!=", np.less: "<", np.less_equal: "<=",
                  np.greater: ">", np.greater_equal: ">="}


def _binary_ufunc(symbol):
    def handler(tracer, args, kwargs):
        _no_kwargs(tracer, kwargs, symbol)
        a, b = _two(tracer, [to_array(tracer, x) for x in args], symbol)
        return tracer.binary_any(symbol, a, b)
    return handler


def _compare_ufunc(symbol):
    def handler(tracer, args, kwargs):
        _no_kwargs(tracer, kwargs, symbol)
        a, b = _two(tracer, [to_array(tracer, x) for x in args], symbol)
        if arraylike(tracer, a, b):
            return tracer.array_compare(symbol, a, b)
        return tracer.compare(symbol, a, b)
    return handler


for _fn, _sym in BINARY_UFUNCS.items():
    register(_fn)(_binary_ufunc(_sym))
for _fn, _sym in COMPARE_UFUNCS.items():
    register(_fn)(_compare_ufunc(_sym))


@register(np.negative)
def _negative(tracer, args, kwargs):
    (x,) = _one(tracer, args, "negative")
    return tracer.array_unary(ast.USub(), x) if arraylike(tracer, x) else tracer.negate(x)


def _logical(name):
    def fn(t, *xs):
        cs = [t.scalar(t.truth(x), I1, weak=False) for x in xs]
        if name == "not":
            return Scalar(t.b.emit("not", cs[0].value), False)
        return Scalar(t.b.emit(name, cs[0].value, cs[1].value), False)

    def handler(tracer, args, kwargs):
        _no_kwargs(tracer, kwargs, f"logical_{name}")
        return ufunc(tracer, fn, args)
    return handler


for _name in ("and", "or", "xor", "not"):
    register(getattr(np, f"logical_{_name}"))(_logical(_name))


# ---- reductions ---------------------------------------------------------------

def _sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=NOVALUE, where=NOVALUE):
    pass


def _max(a, axis=None, out=None, keepdims=False, initial=NOVALUE, where=NOVALUE):
    pass


def _mean(a, axis=None, dtype=None, out=None, keepdims=False, where=NOVALUE):
    pass


def _var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=NOVALUE):
    pass


def _argmax(a, axis=None, out=None):
    pass


def _any(a, axis=None, out=None, keepdims=False, where=NOVALUE):
    pass


def _cumsum(a, axis=None, dtype=None, out=None):
    pass


REDUCTIONS = {"sum": _sum, "prod": _sum, "max": _max, "min": _max, "mean": _mean, "var": _var,
              "std": _var, "argmax": _argmax, "argmin": _argmax, "any": _any, "all": _any}
NUMPY_REDUCTIONS = {np.sum: "sum", np.prod: "prod", np.max: "max", np.amax: "max", np.min: "min",
                    np.amin: "min", np.mean: "mean", np.var: "var", np.std: "std", np.argmax: "argmax",
                    np.argmin: "argmin", np.any: "any", np.all: "all"}


def reduction(kind):
    bind = signature(REDUCTIONS[kind])

    def run(tracer, args, kwargs):
        p = bind(tracer, args, kwargs)
        keepdims = p.get("keepdims", False)
        if not isinstance(keepdims, (bool, np.bool_)):
            raise TypingError(f"{kind}: keepdims must be a constant bool", tracer.loc)
        dtype = dtype_of(tracer, p["dtype"]) if p.get("dtype") is not None else None
        a = to_array(tracer, p["a"])
        return tracer.reduce(a, kind, p["axis"], bool(keepdims), dtype, p.get("ddof", 0))
    return run


for _fn, _kind in NUMPY_REDUCTIONS.items():
    register(_fn)(reduction(_kind))

_bind_cumsum = signature(_cumsum)


def scan(kind):
    def run(tracer, args, kwargs):
        p = _bind_cumsum(tracer, args, kwargs)
        dtype = dtype_of(tracer, p["dtype"]) if p["dtype"] is not None else None
        return tracer.scan(to_array(tracer, p["a"]), kind, p["axis"], dtype)
    return run


register(np.cumsum)(scan("cumsum"))
register(np.cumprod)(scan("cumprod"))


# ---- linear algebra --------------------------------------------------------------

@register(np.dot)
def _dot(tracer, args, kwargs):
    _no_kwargs(tracer, kwargs, "dot")
    a, b = _two(tracer, [to_array(tracer, x) for x in args], "dot")
    if not arraylike(tracer, a, b):
        return tracer.binary("*", a, b)
    return tracer.matmul(a, b, "dot")


@register(np.matmul)
def _matmul(tracer, args, kwargs):
    _no_kwargs(tracer, kwargs, "matmul")
    a, b = _two(tracer, [to_array(tracer, x) for x in args], "matmul")
    return tracer.matmul(a, b)


@register(np.outer)
def _outer(tracer, args, kwargs):
    _no_kwargs(tracer, kwargs, "outer")
    a, b = (tracer.as_lazy(to_array(tracer, x)) for x in _two(tracer, args, "outer"))
    if a.ndim != 1 or b.ndim != 1:
        a, b = tracer.reshape(a, -1, view=False), tracer.reshape(b, -1, view=False)
    col = tracer.mapped(a, [a.shape[0], 1], lambda t, idx: idx[:1])
    row = tracer.mapped(b, [1, b.shape[0]], lambda t, idx: idx[1:])
    return tracer.array_binary("*", col, row)


@register(np.transpose)
def _transpose(tracer, args, kwargs):
    p = signature(_transpose_sig)(tracer, args, kwargs)
    return tracer.transpose(to_array(tracer, p["a"]), p["axes"])


def _transpose_sig(a, axes=None):
    pass


# ---- creation and shapes -------------------------------------------------------------

@register(np.array, np.asarray)
def _array(tracer, args, kwargs):
    p = signature(_array_sig)(tracer, args, kwargs)
    if p["ndmin"] != 0 or p["copy"] not in (True, None, False):
        raise UnsupportedError("np.array(): ndmin and copy are not supported", tracer.loc)
    dtype = dtype_of(tracer, p["dtype"]) if p["dtype"] is not None else None
    obj = p["object"]
    if tracer.current_callee is np.asarray and isinstance(obj, Array) and dtype in (None, obj.type.dtype):
        return obj
    return tracer.np_array(obj, dtype)


def _array_sig(object, dtype=None, copy=True, order="K", subok=False, ndmin=0, like=None):
    pass


@register(np.copy)
def _copy(tracer, args, kwargs):
    _no_kwargs(tracer, kwargs, "copy")
    (a,) = _one(tracer, args, "copy")
    return tracer.np_array(to_array(tracer, a))


@register(np.arange)
def _arange(tracer, args, kwargs):
    dtype = kwargs.pop("dtype", None)
    if kwargs:
        raise UnsupportedError(f"arange(): keyword arguments {', '.join(kwargs)} are not supported",
                               tracer.loc, "pass start, stop and step positionally")
    return tracer.arange(args, dtype_of(tracer, dtype) if dtype is not None else None)


@register(np.linspace)
def _linspace(tracer, args, kwargs):
    p = signature(_linspace_sig)(tracer, args, kwargs)
    if p["retstep"] or p["axis"] != 0:
        raise UnsupportedError("linspace(): retstep and axis are not supported", tracer.loc)
    dtype = dtype_of(tracer, p["dtype"]) if p["dtype"] is not None else None
    return tracer.linspace(p["start"], p["stop"], p["num"], p["endpoint"], dtype)


def _linspace_sig(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    pass


@register(np.eye)
def _eye(tracer, args, kwargs):
    p = signature(_eye_sig)(tracer, args, kwargs)
    return tracer.eye(p["N"], p["M"], p["k"], dtype_of(tracer, p["dtype"]))


def _eye_sig(N, M=None, k=0, dtype=float, order="C", like=None):
    pass


@register(np.identity)
def _identity(tracer, args, kwargs):
    p = signature(_identity_sig)(tracer, args, kwargs)
    return tracer.eye(p["n"], None, 0, dtype_of(tracer, p["dtype"]))


def _identity_sig(n, dtype=None, like=None):
    pass


@register(np.concatenate)
def _concatenate(tracer, args, kwargs):
    p = signature(_concatenate_sig)(tracer, args, kwargs)
    if p["dtype"] is not None:
        raise UnsupportedError("concatenate(): dtype is not supported", tracer.loc, "use .astype")
    if p["axis"] is None:
        return tracer.concatenate([tracer.reshape(x, -1, view=False) for x in p["arrays"]], 0)
    return tracer.concatenate(p["arrays"], p["axis"])


def _concatenate_sig(arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    pass


@register(np.stack)
def _stack(tracer, args, kwargs):
    p = signature(_stack_sig)(tracer, args, kwargs)
    return tracer.stack(p["arrays"], p["axis"])


def _stack_sig(arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    pass


@register(np.hstack, np.vstack)
def _hvstack(tracer, args, kwargs):
    _no_kwargs(tracer, kwargs, "hstack")
    (seq,) = _one(tracer, args, "hstack")
    if not isinstance(seq, (tuple, list)) or not seq:
        raise TypingError("hstack/vstack need a non-empty tuple or list of arrays", tracer.loc)
    one_d = tracer.as_lazy(seq[0]).ndim == 1
    if tracer.current_callee is np.hstack:
        return tracer.concatenate(seq, 0 if one_d else 1)
    return tracer.stack(seq, 0) if one_d else tracer.concatenate(seq, 0)


@register(np.reshape)
def _np_reshape(tracer, args, kwargs):
    p = signature(_reshape_sig)(tracer, args, kwargs)
    shape = p["shape"] if p["shape"] is not None else p["newshape"]
    a = to_array(tracer, p["a"])
    if p["copy"] is False and isinstance(a, Array) and a.type.layout != "C" and a.type.ndim != 1:
        raise UnsupportedError("reshape(copy=False) of a strided array: irad copies it", tracer.loc,
                               "reshape a C-contiguous array, or allow a copy")
    return tracer.reshape(a, shape, view=p["copy"] is not True)


def _reshape_sig(a, shape=None, order="C", newshape=None, copy=None):
    pass


@register(np.ravel)
def _np_ravel(tracer, args, kwargs):
    _no_kwargs(tracer, kwargs, "ravel")
    (a,) = _one(tracer, args, "ravel")
    return tracer.reshape(to_array(tracer, a), -1, ravel=True)


# ---- np.add.at ---------------------------------------------------------------------

@register(np.add.at, np.subtract.at, np.multiply.at, lists=False)
def _ufunc_at(tracer, args, kwargs):
    _no_kwargs(tracer, kwargs, "at")
    if len(args) != 3:
        raise TypingError("np.<ufunc>.at takes (a, indices, b)", tracer.loc)
    a, indices, b = args
    if not isinstance(a, Array):
        raise TypingError(f"np.add.at needs an array to update, got {tracer.describe(a)}", tracer.loc)
    tracer.writable(a)
    tracer.force_pending()
    op = {np.add.at: "+", np.subtract.at: "-", np.multiply.at: "*"}[tracer.current_callee]
    key = indices if isinstance(indices, tuple) else (indices,)
    tracer.scatter(a, tracer.array_items(a, key), to_array(tracer, b), op)


# ---- array methods ---------------------------------------------------------------------

def method(*names):
    def deco(handler):
        for n in names:
            METHODS[n] = handler
        return handler
    return deco


def _method_reduction(kind):
    run = reduction(kind)
    return lambda tracer, a, args, kwargs: run(tracer, [a, *args], kwargs)


for _kind in REDUCTIONS:
    METHODS[_kind] = _method_reduction(_kind)
METHODS["cumsum"] = lambda tracer, a, args, kwargs: scan("cumsum")(tracer, [a, *args], kwargs)
METHODS["cumprod"] = lambda tracer, a, args, kwargs: scan("cumprod")(tracer, [a, *args], kwargs)
METHODS["dot"] = lambda tracer, a, args, kwargs: _dot(tracer, [a, *args], kwargs)


@method("copy")
def _m_copy(tracer, a, args, kwargs):
    return tracer.np_array(a)


@method("astype")
def _m_astype(tracer, a, args, kwargs):
    if len(args) != 1:
        raise TypingError("astype() takes one dtype", tracer.loc)
    return tracer.np_array(a, dtype_of(tracer, args[0]))


@method("reshape")
def _m_reshape(tracer, a, args, kwargs):
    if kwargs:
        raise UnsupportedError("reshape(): keyword arguments are not supported", tracer.loc)
    shape = args[0] if len(args) == 1 else tuple(args)
    return tracer.reshape(a, shape)


def _flat(view):
    def handler(tracer, a, args, kwargs):
        if args or kwargs:
            raise UnsupportedError("ravel()/flatten() take no arguments in compiled code", tracer.loc)
        return tracer.reshape(a, -1, view=view, ravel=view)
    return handler


METHODS["ravel"] = _flat(True)
METHODS["flatten"] = _flat(False)


@method("transpose")
def _m_transpose(tracer, a, args, kwargs):
    axes = args[0] if len(args) == 1 and isinstance(args[0], tuple) else (tuple(args) or None)
    return tracer.transpose(a, axes)


@method("clip")
def _m_clip(tracer, a, args, kwargs):
    p = _bind_clip(tracer, [a, *args], kwargs)
    return clip(tracer, a, p["a_min"], p["a_max"])


@method("fill")
def _m_fill(tracer, a, args, kwargs):
    tracer.writable(a)
    if len(args) != 1 or kwargs:
        raise TypingError("fill() takes one number", tracer.loc)
    tracer.b.fill(a.value, tracer.scalar(args[0], a.type.dtype).value)


# ---- helpers ------------------------------------------------------------------------

def _no_kwargs(tracer, kwargs, name):
    if kwargs:
        raise UnsupportedError(f"np.{name}(): keyword arguments are not supported: {', '.join(kwargs)}",
                               tracer.loc)


def _one(tracer, args, name):
    if len(args) != 1:
        raise TypingError(f"np.{name}() takes one argument, got {len(args)}", tracer.loc)
    return list(args)


def _two(tracer, args, name):
    if len(args) != 2:
        raise TypingError(f"np.{name}() takes two arguments, got {len(args)}", tracer.loc)
    return list(args)


__all__ = ["LIST_ARGUMENTS", "METHODS"]
