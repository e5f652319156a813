"""Expressions: names, constants, operators, comparisons, short-circuit
logic, conditional expressions, attributes, subscripts and calls.

Invariants: an expression evaluates to a trace value (values.py); ops it
emits carry the location of the innermost AST node that caused them;
indices reaching `load`/`store`/`view` are normalized (Python's negative
indices wrapped unless a lower bound proves them non-negative).
"""
from __future__ import annotations

import ast
import builtins
import types

import numpy as np

from ..errors import TypingError, UnsupportedError
from ..ir import Block
from ..types import I1, I64
from .control import PLACEHOLDER, Spec, flatten, join, tree_shape, _Incompatible
from .lazy import Lazy
from .statements import binop_symbol
from .values import Array, Scalar, Struct, Undefined, is_static_number

COMPARE_SYMBOLS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}

REJECTED_EXPRESSIONS = {
    "List": ("list values", "use a tuple, or np.zeros(n) for an array you fill in"),
    "Set": ("set values", "use a tuple"),
    "ListComp": ("list comprehensions", "write a for loop that fills an array"),
    "SetComp": ("set comprehensions", "write a for loop"),
    "DictComp": ("dict comprehensions", "write a for loop, or build the dict outside"),
    "GeneratorExp": ("generator expressions", "write a for loop with an accumulator"),
    "Yield": ("generators (yield)", "return a value instead"),
    "YieldFrom": ("generators (yield from)", "return a value instead"),
    "Await": ("await", "compiled functions are synchronous"),
    "Lambda": ("lambdas inside compiled functions", "define the function at module level"),
    "NamedExpr": ("assignment expressions (:=)", "assign in a separate statement"),
    "JoinedStr": ("f-strings", "format strings outside the compiled function"),
    "Starred": ("star arguments", "pass arguments one by one"),
}


class Expressions:
    def expr(self, node):
        saved = self.loc
        self.at(node)
        name = type(node).__name__
        method = getattr(self, "expr_" + name, None)
        if method is None:
            what, hint = REJECTED_EXPRESSIONS.get(name, (name, "rewrite it with supported constructs"))
            raise UnsupportedError(f"{what} not supported in compiled code", self.loc, hint)
        try:
            return method(node)
        finally:
            self.at_loc(saved)

    def expr_Constant(self, node):
        return node.value

    def expr_Name(self, node):
        return self.lookup(node.id)

    def expr_Tuple(self, node):
        return tuple(self.expr(e) for e in node.elts)

    def expr_Dict(self, node):
        keys = [self.expr(k) if k is not None else None for k in node.keys]
        if not all(isinstance(k, str) for k in keys):
            raise UnsupportedError("only dicts with constant string keys are supported", self.loc)
        return {k: self.expr(v) for k, v in zip(keys, node.values)}

    def expr_List(self, node):
        if getattr(node, "_irad_allowed", False):
            return [self.expr(e) for e in node.elts]
        what, hint = REJECTED_EXPRESSIONS["List"]
        raise UnsupportedError(f"{what} not supported in compiled code", self.loc, hint)

    def expr_BinOp(self, node):
        op = binop_symbol(node.op, self)
        left, right = self.expr(node.left), self.expr(node.right)
        self.at(node)
        return self.binary_any(op, left, right)

    def binary_any(self, op, left, right):
        for side in (left, right):
            if isinstance(side, str) or isinstance(side, (tuple, list, dict, type(None))):
                if is_static_number(left) or is_static_number(right) or isinstance(left, (Scalar, Array, Lazy)) \
                        or isinstance(right, (Scalar, Array, Lazy)):
                    raise TypingError(f"unsupported operand types for {op}: {self.describe(left)} "
                                      f"and {self.describe(right)}", self.loc,
                                      "arithmetic works on numbers and arrays")
        if not any(isinstance(v, (Scalar, Array, Lazy)) for v in (left, right)):
            try:
                return self.static_binary(op, left, right)
            except TypeError as e:
                raise TypingError(str(e), self.loc) from None
        if op == "@" or self.is_arraylike(left) or self.is_arraylike(right):
            return self.array_binary(op, left, right)
        return self.binary(op, left, right)

    def expr_UnaryOp(self, node):
        x = self.expr(node.operand)
        self.at(node)
        if self.is_arraylike(x):
            return self.array_unary(node.op, x)
        if isinstance(node.op, ast.Not):
            return self.logical_not(x)
        if isinstance(node.op, ast.UAdd):
            return x
        if isinstance(node.op, ast.USub):
            if not is_static_number(x):
                self.type_of(x)
            return self.negate(x)
        if is_static_number(x):
            return ~x
        c = self.truth(x) if isinstance(x, Scalar) and x.type == I1 else None
        if c is not None:
            return Scalar(self.b.emit("not", c.value), c.weak)
        return self.binary("^", x, -1)

    def expr_BoolOp(self, node):
        is_and = isinstance(node.op, ast.And)
        result = self.expr(node.values[0])
        for value_node in node.values[1:]:
            cond = self.truth(result)
            if isinstance(cond, bool):
                if cond == is_and:
                    result = self.expr(value_node)
                continue
            left = result
            if is_and:
                result = self.value_if(cond, lambda n=value_node: self.expr(n), lambda: left)
            else:
                result = self.value_if(cond, lambda: left, lambda n=value_node: self.expr(n))
        return result

    def expr_Compare(self, node):
        """Chained comparisons; later operands are evaluated eagerly (they cannot fail)."""
        left, result = self.expr(node.left), True
        for op, right_node in zip(node.ops, node.comparators):
            right = self.expr(right_node)
            self.at(node)
            result = self.both(result, self.compare_any(op, left, right))
            left = right
        return result

    def both(self, a, b):
        """`a and b` of two truth values (static bools or i1 Scalars)."""
        if a is False or b is False:
            return False
        if a is True:
            return b
        if b is True:
            return a
        return Scalar(self.b.emit("and", a.value, b.value), a.weak and b.weak)

    def compare_any(self, op, left, right):
        if isinstance(op, (ast.Is, ast.IsNot)):
            runtime = [isinstance(v, (Scalar, Array, Lazy)) for v in (left, right)]
            if all(runtime):
                raise UnsupportedError("`is` between two runtime values is not supported", self.loc,
                                       "compare numbers with ==; use `is` to test for None")
            same = left is right and not any(runtime)
            return same if isinstance(op, ast.Is) else not same
        symbol = COMPARE_SYMBOLS.get(type(op))
        if symbol is None:
            raise UnsupportedError(f"the comparison {type(op).__name__} is not supported", self.loc)
        if not any(isinstance(v, (Scalar, Array, Lazy)) for v in (left, right)):
            try:
                return bool(self.static_compare(symbol, left, right))
            except TypeError as e:
                raise TypingError(str(e), self.loc) from None
        if self.is_arraylike(left) or self.is_arraylike(right):
            for v in (left, right):
                if not self.is_arraylike(v):
                    self.type_of(v)
            return self.array_compare(symbol, left, right)
        for v in (left, right):
            if not isinstance(v, Scalar) and not is_static_number(v):
                raise self.type_error(v)
        return self.compare(symbol, left, right)

    def static_compare(self, symbol, a, b):
        from .arith import COMPARE_PY
        return COMPARE_PY[symbol](a, b)

    def expr_IfExp(self, node):
        cond = self.truth(self.expr(node.test))
        if isinstance(cond, bool):
            return self.expr(node.body if cond else node.orelse)
        return self.value_if(cond, lambda: self.expr(node.body), lambda: self.expr(node.orelse))

    def value_if(self, cond: Scalar, then_fn, else_fn):
        """An `if` op that yields the values of two expressions, evaluated lazily."""
        values, blocks = [], []
        self.force_pending()
        self.force_deferred()
        for fn in (then_fn, else_fn):
            block = Block()
            with self.into(block, dict(self.env)):
                values.append(self.settle(fn()))
            blocks.append(block)
        if tree_shape(values[0]) != tree_shape(values[1]):
            raise TypingError("the two branches give differently structured values", self.loc)
        leaves = [flatten(v)[0] for v in values]
        specs = []
        for pair in zip(*leaves):
            spec = Spec("static", value=PLACEHOLDER)
            try:
                for leaf in pair:
                    spec = join(spec, leaf)
            except _Incompatible as e:
                raise TypingError(f"the two branches give {e}", self.loc) from None
            specs.append(spec)
        carried = [("value", (flatten(values[0])[1], specs, leaves))]
        return self.emit_if(cond, blocks, None, carried)["value"]

    # ---- names ----
    def lookup(self, name: str):
        if name in self.env:
            value = self.env[name]
            if isinstance(value, Undefined):
                raise TypingError(value.why, self.loc, value.hint)
            if isinstance(value, Lazy) and value.forced is not None:
                return value.forced
            return value
        for kind, scope in zip(("closure", "global", "builtin"), self.scopes()):
            if name in scope:
                read = self.session.record(self.owner, kind, name, scope[name])
                return self.import_value(scope[name], name, read)
        raise UnsupportedError(f"name '{name}' is not defined", self.loc,
                               "define it before use, or pass it as an argument")

    def scopes(self):
        fn = self.fn
        code = fn.__code__
        cells = dict(zip(code.co_freevars, fn.__closure__ or ()))
        closure = {}
        for k, cell in cells.items():
            try:
                closure[k] = cell.cell_contents
            except ValueError:
                pass
        return closure, fn.__globals__, vars(builtins)

    def import_value(self, obj, name: str = "value", read: int | None = None):
        """A global or closure object as a trace value: arrays are captured by reference."""
        if isinstance(obj, np.ndarray):
            return self.session.capture(obj, name, read)
        if isinstance(obj, (tuple, list)) and any(isinstance(e, np.ndarray) for e in obj):
            return type(obj)(self.import_value(e, name) for e in obj) if type(obj) in (tuple, list) else obj
        if isinstance(obj, dict) and any(isinstance(e, np.ndarray) for e in obj.values()):
            return {k: self.import_value(v, name) for k, v in obj.items()}
        return obj

    # ---- attributes ----
    def expr_Attribute(self, node):
        value = self.expr(node.value)
        self.at(node)
        return self.getattr_(value, node.attr)

    def getattr_(self, value, attr):
        if self.is_arraylike(value):
            return self.arraylike_attribute(value, attr)
        if isinstance(value, np.ufunc) and attr == "at":
            return getattr(value, attr)
        if isinstance(value, Struct):
            if attr in value.fields:
                return value.fields[attr]
            raise TypingError(f"{value.cls.__name__} has no field '{attr}'", self.loc)
        if isinstance(value, types.ModuleType):
            if not hasattr(value, attr):
                raise UnsupportedError(f"module '{value.__name__}' has no attribute '{attr}'", self.loc)
            obj = getattr(value, attr)
            read = self.session.record(self.session.provenance.get(id(value)), "attr", attr, obj)
            return self.import_value(obj, attr, read)
        if isinstance(value, tuple) and hasattr(type(value), "_fields") and attr in type(value)._fields:
            return getattr(value, attr)
        if isinstance(value, (type, np.dtype)) or is_static_number(value):
            try:
                return getattr(value, attr)
            except AttributeError:
                pass
        raise UnsupportedError(f"attribute access on {self.describe(value)} is not supported "
                               f"('.{attr}')", self.loc,
                               "irad reads attributes of arrays (shape, ndim, size, dtype), modules, "
                               "dataclass and namedtuple arguments")

    def array_attribute(self, a: Array, attr):
        t = a.type
        if attr == "shape":
            return tuple(self.dim(a, k) for k in range(t.ndim))
        if attr == "ndim":
            return t.ndim
        if attr == "size":
            size = 1
            for k in range(t.ndim):
                size = self.binary("*", size, self.dim(a, k)) if k else self.dim(a, k)
            return size
        if attr == "dtype":
            return t.dtype.numpy
        from .numpy_lib import METHODS
        raise UnsupportedError(f"array attribute '.{attr}' is not supported", self.loc,
                               "supported: shape, ndim, size, dtype, T and the methods "
                               + ", ".join(sorted(METHODS)))

    def dim(self, a: Array, axis: int) -> Scalar:
        return Scalar(self.b.dim(a.value, axis=axis), True, 0)

    def describe(self, value) -> str:
        if isinstance(value, Scalar):
            return f"a {value.type} number"
        if isinstance(value, (Array, Lazy)):
            return f"an array ({value.type})"
        if isinstance(value, str):
            return f"the string {value!r}"
        if value is None:
            return "None"
        return f"a {type(value).__name__}"

    # ---- subscripts ----
    def subscript_key(self, node):
        if isinstance(node, ast.Tuple):
            return tuple(self.key_item(e) for e in node.elts)
        return self.key_item(node)

    def key_item(self, node):
        if isinstance(node, ast.Slice):
            parts = [self.expr(p) if p is not None else None for p in (node.lower, node.upper, node.step)]
            return slice(*parts)
        return self.expr(node)

    def expr_Subscript(self, node):
        base = self.expr(node.value)
        key = self.subscript_key(node.slice)
        self.at(node)
        return self.getitem(base, key)

    def getitem(self, base, key):
        if self.is_arraylike(base):
            return self.arraylike_getitem(base, key)
        if isinstance(base, dict):
            if not isinstance(key, str) or key not in base:
                raise TypingError(f"key {key!r} is not in the dict (keys: {', '.join(map(repr, base))})",
                                  self.loc, "index dicts with constant string keys")
            return base[key]
        if isinstance(base, (tuple, list, str)):
            return self.sequence_getitem(base, key)
        raise UnsupportedError(f"indexing {self.describe(base)} is not supported", self.loc)

    def sequence_getitem(self, seq, key):
        if isinstance(key, slice):
            if not all(p is None or is_static_number(p) for p in (key.start, key.stop, key.step)):
                raise UnsupportedError("slicing a tuple needs constant bounds", self.loc)
            return seq[key]
        if is_static_number(key):
            try:
                return seq[int(key)]
            except IndexError:
                raise TypingError(f"index {key} is out of range for a tuple of {len(seq)}", self.loc) from None
        if isinstance(key, Scalar) and key.type.is_int:
            return self.dynamic_tuple_index(seq, key)
        raise TypingError(f"cannot index a tuple with {self.describe(key)}", self.loc)

    def dynamic_tuple_index(self, seq, key: Scalar):
        if not seq or not all(isinstance(e, Scalar) or is_static_number(e) for e in seq):
            raise UnsupportedError("indexing a tuple with a runtime index needs a tuple of numbers",
                                   self.loc, "use a constant index")
        spec = Spec("static", value=PLACEHOLDER)
        for e in seq:
            spec = join(spec, e)
        t = spec.type if spec.runtime else self.type_of(seq[0])[0]
        n = len(seq)
        k = self.normalize_index(key, Scalar(self.b.const(n, I64), True, n))
        result = self.scalar(seq[-1], t).value
        for i in range(n - 2, -1, -1):
            hit = self.b.eq(k.value, self.b.const(i, I64))
            result = self.b.select(hit, self.scalar(seq[i], t).value, result)
        return Scalar(result, spec.weak if spec.runtime else True)

    def normalize_index(self, idx, extent: Scalar) -> Scalar:
        if is_static_number(idx) and idx < 0:
            return self.binary("+", extent, int(idx))
        i = self.index(idx)
        if i.lb is not None and i.lb >= 0:
            return i
        negative = self.b.lt(i.value, self.b.const(0, I64))
        wrapped = self.b.add(i.value, extent.value)
        return Scalar(self.b.select(negative, wrapped, i.value), True)

    def array_items(self, a: Array, key):
        items = list(key) if isinstance(key, tuple) else [key]
        if sum(x is Ellipsis for x in items) > 1:
            raise TypingError("an index can only have a single ellipsis", self.loc)
        if Ellipsis in items:
            k = items.index(Ellipsis)
            used = sum(1 for x in items if x is not None and x is not Ellipsis)
            items[k:k + 1] = [slice(None)] * (a.type.ndim - used)
        used = sum(1 for x in items if x is not None)
        if used > a.type.ndim:
            raise TypingError(f"too many indices for a {a.type.ndim}-d array: {used}", self.loc)
        return items + [slice(None)] * (a.type.ndim - used)

    def array_getitem(self, a: Array, key):
        items = self.array_items(a, key)
        if all(self.is_index(x) for x in items):
            idx = [self.normalize_index(x, self.dim(a, k)).value for k, x in enumerate(items)]
            return Scalar(self.b.load(a.value, *idx), False)
        return self.view(a, items)

    def is_index(self, x) -> bool:
        if isinstance(x, Scalar):
            if not x.type.is_int:
                raise TypingError(f"array indices must be integers, got {x.type}", self.loc,
                                  "convert with int(...)")
            return True
        if isinstance(x, (bool, np.bool_)):
            raise UnsupportedError("boolean indices are not supported", self.loc)
        if is_static_number(x):
            if isinstance(x, (float, np.floating)):
                raise TypingError("array indices must be integers, got a float", self.loc,
                                  "convert with int(...)")
            return True
        if isinstance(x, slice) or x is None:
            return False
        raise UnsupportedError(f"indexing an array with {self.describe(x)} is not supported", self.loc)

    def view(self, a: Array, items) -> Array:
        spec, operands, axis = "", [], 0
        for x in items:
            if x is None:
                spec += "n"
                continue
            extent = self.dim(a, axis)
            if self.is_index(x):
                spec += "i"
                operands.append(self.normalize_index(x, extent).value)
            elif x == slice(None):
                spec += "f"
            else:
                spec += "s"
                operands.extend(v.value for v in self.slice_bounds(x, extent))
            axis += 1
        return Array(self.b.view(a.value, *operands, spec=spec), a.note)

    def slice_bounds(self, s: slice, n: Scalar):
        step = 1 if s.step is None else s.step
        if not is_static_number(step):
            raise UnsupportedError("slice steps must be constants", self.loc)
        if step == 0:
            raise TypingError("slice step cannot be zero", self.loc)
        lo, hi = (0, n) if step > 0 else (-1, self.binary("-", n, 1))
        up = step > 0
        start = hi if (s.start is None and not up) else (0 if s.start is None else
                                                          self.clamp(s.start, n, lo, hi, "start" if up else None))
        stop = n if (s.stop is None and up) else (-1 if s.stop is None else
                                                  self.clamp(s.stop, n, lo, hi, "stop" if up else None))
        return self.index(start), self.index(stop), self.index(step)

    def clamp(self, bound, n, lo, hi, keep=None):
        """`bound` clamped to [lo, hi] as Python clamps slice bounds. `keep` ("start" or "stop"
        of an upward slice) leaves a constant start past the end, or a negative constant stop
        before the beginning, unclamped: the slice is empty either way, and plain bounds give
        extents that simplify to one value for slices of one length (`u[1:-1]`, `u[2:]`)."""
        if is_static_number(bound):
            bound = int(bound)
            if bound < 0:
                end = self.binary("+", n, bound)
                return end if keep == "stop" else self.max_of(end, lo)
            return bound if keep == "start" else self.min_of(bound, hi)
        b = self.normalize_index(bound, n)
        return self.min_of(self.max_of(b, lo), hi)

    def min_of(self, a, b):
        if is_static_number(a) and is_static_number(b):
            return min(a, b)
        x, y = self.index(a), self.index(b)
        return Scalar(self.b.emit("min", x.value, y.value), True)

    def max_of(self, a, b):
        if is_static_number(a) and is_static_number(b):
            return max(a, b)
        x, y = self.index(a), self.index(b)
        lb = max(v for v in (x.lb, y.lb) if v is not None) if (x.lb is not None or y.lb is not None) else None
        return Scalar(self.b.emit("max", x.value, y.value), True, lb)

    def const_value(self, x):
        if is_static_number(x):
            return x
        op = getattr(x.value, "op", None) if isinstance(x, Scalar) else None
        return op.attrs["value"] if op is not None and op.name == "const" else None

    # ---- stores ----
    def setitem(self, base, key, value):
        if isinstance(base, Lazy) and base.name is not None:
            base = self.materialize(base)           # a named value: NumPy's array, updated in place
        if isinstance(base, Lazy):
            self.writable(base)
        if not isinstance(base, Array):
            raise UnsupportedError(f"item assignment into {self.describe(base)} is not supported",
                                   self.loc, "only arrays can be mutated in compiled code")
        self.writable(base)
        items = self.array_items(base, key)
        if self.has_array_index(items):
            self.scatter(base, items, value)
            return
        if all(self.is_index(x) for x in items):
            if self.is_arraylike(value):
                raise TypingError("cannot store an array into a single element", self.loc)
            idx = [self.normalize_index(x, self.dim(base, k)).value for k, x in enumerate(items)]
            v = self.scalar(value, base.type.dtype)
            self.b.store(v.value, base.value, *idx)
            return
        target = self.view(base, items)
        if self.is_arraylike(value):
            self.store_into(target, value)
        else:
            self.b.fill(target.value, self.scalar(value, base.type.dtype).value)

    # ---- calls ----
    def expr_Call(self, node):
        callee = self.expr(node.func)
        if _takes_lists(callee):
            for a in [*node.args, *(k.value for k in node.keywords)]:
                _allow_lists(a)
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise UnsupportedError("star arguments are not supported", self.loc, "pass arguments one by one")
        if any(k.arg is None for k in node.keywords):
            raise UnsupportedError("** arguments are not supported", self.loc)
        args = [self.expr(a) for a in node.args]
        kwargs = {k.arg: self.expr(k.value) for k in node.keywords}
        self.at(node)
        return self.call(callee, args, kwargs, ast.unparse(node.func))


def _takes_lists(callee) -> bool:
    from .numpy_lib import LIST_ARGUMENTS
    try:
        return callee in LIST_ARGUMENTS
    except TypeError:
        return False


def _allow_lists(node):
    """Let list literals (nested too) be evaluated as arguments of NumPy functions."""
    if isinstance(node, (ast.List, ast.Tuple)):
        if isinstance(node, ast.List):
            node._irad_allowed = True
        for e in node.elts:
            _allow_lists(e)
