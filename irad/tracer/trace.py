"""The tracer's entry point: Python function + example arguments → typed Func.

`trace(fn, args)` specializes `fn` on the types of `args` (see pytree.py),
runs its body symbolically, and returns a `Traced`: the Func, how to
flatten call arguments into the Func's parameters, how to rebuild results,
the arrays captured from globals and closures (passed as extra trailing
parameters, so in-place updates reach them), and the source of every
function traced into (for cache keys).

Invariants: the Func verifies; arguments and results cross the boundary
flattened depth-first; a call with the same `signature_key` traces to the
same Func.
"""
from __future__ import annotations

import ast
import dataclasses
import types
from dataclasses import dataclass, field

import numpy as np

from ..errors import Location, TypingError, UnsupportedError
from ..ir import Builder, Func
from ..types import ArrayType, scalar_from_numpy
from ..verifier import verify
from . import numpy_lib  # noqa: F401  (installs the array handlers into LIBRARY)
from .arith import Arithmetic
from .array_create import ArrayCreation
from .array_ops import ArrayMethod, ArrayOperators
from .arrays import ArrayExpressions
from .control import RV, ControlFlow, flatten
from .expressions import Expressions
from .library import LIBRARY
from .reductions import Reductions
from .pytree import array_layout, children, is_dataclass_instance
from .source import Source, get_source
from .statements import Statements
from .values import Array, Scalar, Struct, Undefined, is_static_number, result_type


@dataclass
class Session:
    """What all frames of one trace share: the Func, captures, traced sources."""

    func: Func
    captured: list = field(default_factory=list)       # arrays passed as trailing parameters
    captured_ids: dict = field(default_factory=dict)
    captured_reads: list = field(default_factory=list)  # the read that found each captured array
    sources: list = field(default_factory=list)
    stack: list = field(default_factory=list)
    reads: list = field(default_factory=list)           # Read per name or attribute resolved
    provenance: dict = field(default_factory=dict)      # id(function or module) -> read index
    cacheable: bool = True
    pending: list = field(default_factory=list)         # lazy arrays not yet used (arrays.py)
    deferred: list = field(default_factory=list)        # lazy arrays bound to names (arrays.py)
    frames: list = field(default_factory=list)          # the FunctionTracers being run, outermost first
    held: list = field(default_factory=list)            # per call being inlined: the caller's pending lazies
    settle_at: frozenset = frozenset()                  # Locations whose named values are materialized
    named: list = field(default_factory=list)           # every deferred value (arrays.py)
    consumer: int = 0                                   # top-level bindings so far (arrays.py)
    bind_depth: int = 0                                 # bind_to calls in progress
    probing: bool = False                               # binding only for shape checks

    def capture(self, array: np.ndarray, name: str, read: int | None) -> Array:
        if id(array) in self.captured_ids:
            return self.captured_ids[id(array)]
        t = array_type(array)
        arg = self.func.body.block.add_arg(t, name)
        value = Array(arg)
        self.captured.append(array)
        self.captured_reads.append(read)
        self.cacheable &= read is not None
        self.captured_ids[id(array)] = value
        return value

    def record(self, parent: int | None, kind: str, name: str, obj) -> int | None:
        """Note that `name` was resolved (in the owner produced by read `parent`) to obj."""
        if parent is None:
            self.cacheable = False
            return None
        self.reads.append(Read(parent, kind, name, obj))
        index = len(self.reads) - 1
        if isinstance(obj, (types.FunctionType, types.ModuleType)):
            self.provenance.setdefault(id(obj), index)
        return index


@dataclass(frozen=True)
class Read:
    """One lookup the trace depended on: `name` in the globals, closure or builtins of the
    function found by read `parent` (-1: the traced function), or an attribute of it."""

    parent: int
    kind: str
    name: str
    value: object


def array_type(a: np.ndarray) -> ArrayType:
    dtype = scalar_from_numpy(a.dtype)
    if dtype is None:
        raise TypingError(f"arrays of dtype {a.dtype} are not supported",
                          hint="use float64, float32, int64, int32 or bool arrays")
    return ArrayType(dtype, a.ndim, array_layout(a))


class FunctionTracer(Statements, Expressions, ControlFlow, ArrayOperators, ArrayCreation, Reductions,
                     ArrayExpressions, Arithmetic):
    """Traces one Python function body (each inlined call gets its own frame)."""

    def __init__(self, fn, source: Source, session: Session, builder: Builder, owner: int | None = -1):
        self.fn, self.source, self.session = fn, source, session
        self.owner = owner
        self.b = builder
        self.env: dict = {}
        self.loc = source.loc(source.node)
        self.current_callee = None
        self.last_assignment: dict[str, Location] = {}
        self.inlined = False                # an inlined call: its lazy result fuses into the caller

    def assigned_at(self, name: str) -> Location:
        """Where `name` was last assigned (the best place to report a type change)."""
        return self.last_assignment.get(name, self.loc)

    # ---- locations ----
    def at(self, node):
        if hasattr(node, "lineno"):
            self.at_loc(self.source.loc(node))

    def at_loc(self, loc: Location):
        self.loc = loc
        self.b.loc = loc

    # ---- running a body ----
    def run(self):
        node = self.source.node
        if isinstance(node, ast.Lambda):
            return self.expr(node.body)
        self.exec_block(node.body)
        returned = self.env.get(".ret", False)
        if returned is True:
            return self.env[RV]
        if returned is False:
            return None
        if self.env.get(RV) is None:
            return None
        raise UnsupportedError(f"'{self.fn.__name__}' does not return a value on every path",
                               self.source.loc(node), "add a return statement at the end")

    # ---- calls ----
    def call(self, callee, args, kwargs, name: str):
        if isinstance(callee, ArrayMethod):
            return self.call_method(callee, args, kwargs)
        handler = LIBRARY.get(callee) if _hashable(callee) else None
        if handler is not None:
            saved, self.current_callee = self.current_callee, callee
            try:
                return handler(self, args, kwargs)
            finally:
                self.current_callee = saved
        if isinstance(callee, types.FunctionType):
            return self.inline(callee, args, kwargs)
        if isinstance(callee, type) and issubclass(callee, tuple) and hasattr(callee, "_fields"):
            return callee(*args, **kwargs)
        if isinstance(callee, types.BuiltinFunctionType) or isinstance(callee, np.ufunc):
            raise UnsupportedError(f"call to '{name}' is not supported", self.loc,
                                   "irad compiles the math module, NumPy scalar functions, "
                                   "array creation and your own Python functions")
        what = f"call to '{name}'" if callable(callee) else f"calling {self.describe(callee)} ('{name}')"
        raise UnsupportedError(f"{what} is not supported", self.loc,
                               "irad compiles calls to your own Python functions (inlined), the math "
                               "module, NumPy scalar functions and array creation")

    def inline(self, fn, args, kwargs):
        code = fn.__code__
        if code in self.session.stack:
            raise UnsupportedError(f"recursive call to '{fn.__name__}' is not supported", self.loc,
                                   "rewrite the recursion as a loop")
        if code.co_flags & 0x0C:
            raise UnsupportedError(f"'{fn.__name__}' takes *args or **kwargs, which irad does not "
                                   "support", self.loc)
        import inspect
        try:
            bound = inspect.signature(fn).bind(*args, **kwargs)
        except TypeError as e:
            raise TypingError(f"calling '{fn.__name__}': {e}", self.loc) from None
        bound.apply_defaults()
        source = get_source(fn)
        self.session.held.append(self.hold_pending())
        frame = FunctionTracer(fn, source, self.session, self.b, self.session.provenance.get(id(fn)))
        frame.inlined = True
        frame.env = {k: frame.import_value(self.defer(v, k), k) for k, v in bound.arguments.items()}
        self.session.sources.append(source.text)
        self.session.stack.append(code)
        self.session.frames.append(frame)
        try:
            result = frame.defer(frame.run())
        finally:
            self.session.stack.pop()
            self.session.frames.pop()
            self.session.held.pop()
        self.at_loc(self.loc)
        return result

    # ---- helpers used by the library ----
    def pick(self, name, a, b):
        if is_static_number(a) and is_static_number(b):
            return min(a, b) if name == "min" else max(a, b)
        t, weak = result_type(self.type_of(a), self.type_of(b)) \
            if self.type_of(a)[0] != self.type_of(b)[0] else (self.type_of(a)[0], self.type_of(a)[1] and self.type_of(b)[1])
        x, y = self.scalar(a, t), self.scalar(b, t)
        return Scalar(self.b.emit(name, x.value, y.value), weak)

    def new_array(self, shape, dtype, fill):
        a = self.b.alloc(*[d.value for d in shape], type=ArrayType(dtype, len(shape), "C"))
        if fill is not None:
            self.b.fill(a, self.scalar(fill, dtype).value)
        return Array(a)


def _hashable(x) -> bool:
    try:
        hash(x)
        return True
    except TypeError:
        return False


# ---- parameters and results ---------------------------------------------------------

def _parameter(func: Func, value, hint: str):
    """A trace value for one argument leaf, adding Func parameters for runtime leaves."""
    if isinstance(value, np.ndarray):
        return Array(func.body.block.add_arg(array_type(value), hint))
    if type(value) in (bool, int, float):
        t = {bool: "i1", int: "i64", float: "f64"}[type(value)]
        from ..types import SCALARS
        return Scalar(func.body.block.add_arg(SCALARS[t], hint), True)
    if isinstance(value, np.generic):
        t = scalar_from_numpy(value.dtype)
        if t is None:
            raise TypingError(f"scalars of dtype {value.dtype} are not supported")
        return Scalar(func.body.block.add_arg(t, hint), False)
    node = children(value)
    if node is None:
        return value
    rebuild, cs = node
    names = _child_names(value)
    traced = [_parameter(func, c, f"{hint}.{n}") for c, n in zip(cs, names)]
    if is_dataclass_instance(value):
        return Struct(type(value), dict(zip(names, traced)))
    return rebuild(traced)


def _child_names(value):
    if isinstance(value, dict):
        return list(value)
    if is_dataclass_instance(value):
        return [f.name for f in dataclasses.fields(value)]
    if hasattr(type(value), "_fields"):
        return list(type(value)._fields)
    return [str(i) for i in range(len(value))]


@dataclass
class Traced:
    func: Func
    out_tree: object           # results: leaves are ("result", index, weak) or ("static", value)
    captured: list
    sources: list
    session: Session = None


def _result_tree(value, results: list, b: Builder, tracer: FunctionTracer):
    if isinstance(value, Scalar):
        results.append(value.value)
        return ("result", len(results) - 1, value.weak)
    if isinstance(value, Array):
        results.append(value.value)
        return ("result", len(results) - 1, False)
    if isinstance(value, Undefined):
        raise TypingError(value.why, tracer.loc)
    if isinstance(value, Struct):
        return ("struct", value.cls, {k: _result_tree(v, results, b, tracer) for k, v in value.fields.items()})
    if isinstance(value, dict):
        return ("dict", {k: _result_tree(v, results, b, tracer) for k, v in value.items()})
    if isinstance(value, tuple):
        kind = type(value) if hasattr(type(value), "_fields") else tuple
        return ("tuple", kind, [_result_tree(v, results, b, tracer) for v in value])
    if isinstance(value, list):
        return ("tuple", list, [_result_tree(v, results, b, tracer) for v in value])
    return ("static", value)


def library_entry(fn, n: int):
    """A Python function calling library function `fn` (np.cumsum, np.sin, ...) with n
    arguments, so that it can be traced, compiled and differentiated like user code."""
    if n == 1:
        def call(a): return fn(a)
    elif n == 2:
        def call(a, b): return fn(a, b)
    elif n == 3:
        def call(a, b, c): return fn(a, b, c)
    else:
        raise UnsupportedError(f"compiling {getattr(fn, '__name__', fn)} directly with {n} arguments is not "
                               "supported", hint="wrap it in a function of your own")
    call.__name__ = call.__qualname__ = getattr(fn, "__name__", "call")
    return call


def trace(fn, args, name: str | None = None) -> Traced:
    """Trace fn on args. A named value that calls an expensive math function and ended up
    computed by two consumers is materialized at its assignment instead (a second trace)."""
    if _hashable(fn) and fn in LIBRARY:
        fn = library_entry(fn, len(args))
    traced = _trace_once(fn, args, name, frozenset())
    twice = frozenset(z.site for z in traced.session.named if z.costly and len(z.consumers) > 1)
    return _trace_once(fn, args, name, twice) if twice else traced


def _trace_once(fn, args, name, settle_at: frozenset) -> Traced:
    source = get_source(fn)
    func = Func(name or _func_name(fn), [], [], loc=source.loc(source.node))
    session = Session(func, sources=[source.text], settle_at=settle_at)
    session.stack.append(fn.__code__)
    params = _bind_parameters(fn, source, func, args)
    tracer = FunctionTracer(fn, source, session, Builder(func.body.block))
    tracer.env = params
    session.frames.append(tracer)
    value = tracer.settle(tracer.run())
    results: list = []
    tree = _result_tree(value, results, tracer.b, tracer)
    tracer.b.emit("return", *results, loc=source.loc(source.node))
    func.result_types = [v.type for v in results]
    verify(func)
    return Traced(func, tree, session.captured, session.sources, session)


def _func_name(fn) -> str:
    name = getattr(fn, "__name__", "f")
    return "lambda" if name == "<lambda>" else name


def _bind_parameters(fn, source: Source, func: Func, args) -> dict:
    node = source.node
    a = node.args
    if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs:
        raise UnsupportedError("compiled functions take plain positional parameters only",
                               source.loc(node), "remove *args, **kwargs and keyword-only parameters")
    names = [p.arg for p in a.args]
    defaults = list(fn.__defaults__ or ())
    if len(args) > len(names) or len(args) < len(names) - len(defaults):
        raise TypingError(f"'{_func_name(fn)}' takes {len(names)} arguments, got {len(args)}",
                          source.loc(node))
    params = {n: _parameter(func, v, n) for n, v in zip(names, args)}
    for n, v in zip(names[len(args):], defaults[len(defaults) - (len(names) - len(args)):]):
        params[n] = v
    return params


__all__ = ["trace", "Traced", "flatten"]
