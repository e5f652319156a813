"""Statements: assignment, augmented assignment, if, for, while, break,
continue, return — and the constructs irad rejects, with what to do instead.

Invariant: every statement either updates `self.env` / emits IR, or raises
an `UnsupportedError` at its own source position.
"""
from __future__ import annotations

import ast

from ..errors import TypingError, UnsupportedError
from ..ir import Block, Region
from ..types import I1, I64
from .arith import BINARY_IR
from .control import RV
from .lazy import Lazy
from .values import Array, Scalar, is_static_number

OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
             ast.Mod: "%", ast.Pow: "**", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^",
             ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>"}

REJECTED = {
    "Try": ("try/except", "check the condition with `if` before the operation instead"),
    "TryStar": ("try/except*", "check the condition with `if` instead"),
    "With": ("`with` blocks", "enter the context outside the compiled function"),
    "AsyncWith": ("`async with`", "compiled functions are synchronous"),
    "AsyncFor": ("`async for`", "compiled functions are synchronous"),
    "Raise": ("`raise`", "return a flag or a NaN instead, and raise outside the compiled function"),
    "Global": ("`global` declarations", "pass the value as an argument and return the new value"),
    "Nonlocal": ("`nonlocal` declarations", "pass the value as an argument and return the new value"),
    "FunctionDef": ("nested function definitions", "define the helper at module level; irad inlines calls to it"),
    "AsyncFunctionDef": ("nested function definitions", "define the helper at module level"),
    "ClassDef": ("class definitions", "define classes at module level"),
    "Import": ("`import` inside a compiled function", "import at module level"),
    "ImportFrom": ("`import` inside a compiled function", "import at module level"),
    "Delete": ("`del`", "let the variable go out of use instead"),
    "Assert": ("`assert`", "check the condition outside the compiled function"),
    "Match": ("`match` statements", "use if/elif"),
}


def binop_symbol(op, tracer) -> str:
    symbol = OPERATORS.get(type(op))
    if symbol is None or (symbol not in BINARY_IR and symbol != "@"):
        raise UnsupportedError(f"the operator {type(op).__name__} is not supported", tracer.loc,
                               "use + - * / // % ** & | ^")
    return symbol


COMPOUND = frozenset({"For", "While", "If", "With", "Try", "AsyncFor", "AsyncWith", "Match"})


class Statements:
    def exec_stmt(self, stmt):
        self.session.pending.clear()
        self.at(stmt)
        name = type(stmt).__name__
        if name in COMPOUND and self.session.deferred:
            self.force_deferred()
        method = getattr(self, "stmt_" + name, None)
        if method is None:
            what, hint = REJECTED.get(name, (f"the statement {name}", "rewrite it with supported constructs"))
            raise UnsupportedError(f"{what} not supported in compiled code", self.loc, hint)
        method(stmt)

    def stmt_Pass(self, node):
        pass

    def stmt_Expr(self, node):
        if isinstance(node.value, ast.Constant):
            return
        self.expr(node.value)

    def stmt_Assign(self, node):
        value = self.expr(node.value)
        for target in node.targets:
            self.assign(target, value)

    def stmt_AnnAssign(self, node):
        if node.value is not None:
            self.assign(node.target, self.expr(node.value))

    def stmt_AugAssign(self, node):
        op = binop_symbol(node.op, self)
        target = node.target
        if isinstance(target, ast.Name):
            current = self.lookup(target.id)
            rhs = self.expr(node.value)
            self.at(node)
            if isinstance(current, Array) or (isinstance(current, Lazy) and current.name is not None):
                self.inplace(op, current, rhs)         # a named value is updated in place
                return
            self.env[target.id] = self.settle(self.binary_any(op, current, rhs))
            self.last_assignment[target.id] = self.source.loc(target)
        elif isinstance(target, ast.Subscript):
            base = self.expr(target.value)
            key = self.subscript_key(target.slice)
            rhs = self.expr(node.value)
            self.at(node)
            current = self.getitem(base, key)
            if isinstance(current, Array) and isinstance(base, Array):
                self.inplace(op, current, rhs)
                return
            self.setitem(base, key, self.binary_any(op, current, rhs))
        else:
            raise UnsupportedError("augmented assignment to an attribute is not supported", self.loc,
                                   "assign to a variable or an array element")

    def assign(self, target, value):
        if isinstance(target, ast.Name):
            value = self.defer(value, target.id)
            if isinstance(value, (Scalar, Array)) and value.value.hint is None:
                value.value.hint = target.id
            self.env[target.id] = value
            self.last_assignment[target.id] = self.source.loc(target)
        elif isinstance(target, (ast.Tuple, ast.List)):
            self.unpack(target, value)
        elif isinstance(target, ast.Subscript):
            base = self.expr(target.value)
            key = self.subscript_key(target.slice)
            self.at(target)
            self.setitem(base, key, value)
        elif isinstance(target, ast.Attribute):
            raise UnsupportedError("assigning to an attribute is not supported", self.loc,
                                   "mutate arrays in place (`obj.a[i] = v`) or return the new value")
        else:
            raise UnsupportedError(f"assignment to {type(target).__name__} is not supported", self.loc)

    def unpack(self, target, value):
        if isinstance(value, (Scalar, Array)) or not isinstance(value, (tuple, list)):
            raise UnsupportedError(f"cannot unpack {self.describe(value)} into {len(target.elts)} names",
                                   self.loc, "unpack tuples, e.g. `a, b = b, a` or `n, m = x.shape`")
        if any(isinstance(e, ast.Starred) for e in target.elts):
            raise UnsupportedError("starred assignment is not supported", self.loc)
        if len(value) != len(target.elts):
            raise TypingError(f"cannot unpack {len(value)} values into {len(target.elts)} names", self.loc)
        for t, v in zip(target.elts, value):
            self.assign(t, v)

    # ---- if ----
    def stmt_If(self, node):
        cond = self.truth(self.expr(node.test))
        self.at(node)
        if isinstance(cond, bool):
            self.exec_block(node.body if cond else node.orelse)
            return
        self.branch(cond, lambda: self.exec_block(node.body), lambda: self.exec_block(node.orelse))

    # ---- exits ----
    def stmt_Break(self, node):
        self.env[".brk"] = True

    def stmt_Continue(self, node):
        self.env[".cont"] = True

    def stmt_Return(self, node):
        value = self.expr(node.value) if node.value is not None else None
        self.env[RV] = self.defer(value) if self.inlined else self.settle(value)
        self.env[".ret"] = True

    # ---- loops ----
    def stmt_For(self, node):
        if node.orelse:
            raise UnsupportedError("for/else is not supported", self.loc, "use a flag variable")
        if not isinstance(node.target, (ast.Name, ast.Tuple)):
            raise UnsupportedError("the loop target must be a name", self.loc)
        it = node.iter
        if isinstance(it, ast.Call) and self.expr(it.func) is range:
            bounds = self.range_bounds(it)
            self.at(node)
            if not isinstance(node.target, ast.Name):
                raise UnsupportedError("a range loop needs a single name as its target", self.loc)
            self.for_range(node, *bounds)
            return
        seq = self.expr(it)
        self.at(node)
        if isinstance(seq, (tuple, list)):
            self.env[".brk"] = False
            self.unrolled(node, list(seq))
            self.env.pop(".brk", None)
            self.env.pop(".cont", None)
            return
        raise UnsupportedError(f"iterating over {self.describe(seq)} is not supported", self.loc,
                               "loop over range(...) and index, e.g. `for i in range(len(a))`")

    def range_bounds(self, call: ast.Call):
        if call.keywords or not 1 <= len(call.args) <= 3:
            raise UnsupportedError("range takes 1 to 3 positional arguments", self.loc)
        args = [self.expr(a) for a in call.args]
        if len(args) == 1:
            args = [0, args[0], 1]
        elif len(args) == 2:
            args.append(1)
        lo, hi, step = args
        if is_static_number(step) and step == 0:
            raise TypingError("range() step must not be zero", self.loc)
        return lo, hi, step

    def loop_var_lb(self, lo, hi, step):
        def lb(x):
            return int(x) if is_static_number(x) else x.lb
        if not is_static_number(step):
            return None
        if step > 0:
            return lb(lo)
        return lb(hi) + 1 if lb(hi) is not None else None

    def for_range(self, node, lo, hi, step):
        iv_lb = self.loop_var_lb(lo, hi, step)
        facts = self.facts(node.body)
        if facts.breaks or facts.returns:
            self.for_as_while(node, lo, hi, step, iv_lb)
            return
        lo, hi, step = self.index(lo), self.index(hi), self.index(step)
        name = node.target.id
        carried = self.initial_specs(self.carried_names(node.body, exclude={name}))

        def build(carried):
            block = Block([I64, *self.runtime_types(carried)])
            env = self.bind(carried, block.args[1:])
            block.args[0].hint = name
            env[name] = Scalar(block.args[0], True, iv_lb)
            env[".cont"] = False
            with self.into(block, env):
                self.exec_block(node.body)
                out = self.env
            changed = self.widen(carried, out)
            if not changed:
                with self.into(block):
                    self.b.emit("yield", *self.carried_values(carried, out))
            return [Region([block])], changed

        regions = self.trace_loop(carried, build)
        inits = self.carried_values(carried, self.env)
        op = self.b.emit("for", lo.value, hi.value, step.value, *inits, regions=regions)
        self.finish_loop(carried, _results(op), [*facts.assigned, name])

    def for_as_while(self, node, lo, hi, step, iv_lb):
        name, counter = node.target.id, f".k{node.lineno}.{node.col_offset}"
        trip = self.range_length(lo, hi, step)
        lo, step = self.index(lo), self.index(step)
        self.env[counter] = self.scalar(0, I64, weak=True)
        self.env[".brk"] = False
        names = [*self.carried_names(node.body, exclude={name}), counter, ".brk"]
        if self.facts(node.body).returns:
            names += [".ret", RV]

        def body():
            k = self.env[counter]
            i = self.binary("+", lo, self.binary("*", k, step))
            i.value.hint = i.value.hint or name
            self.env[name] = Scalar(i.value, True, iv_lb)
            self.exec_block(node.body)
            self.at(node)
            self.env[counter] = self.binary("+", k, 1)

        self.while_loop(names, lambda: self.compare("<", self.env[counter], trip), body,
                        [*self.facts(node.body).assigned, name, counter])

    def stmt_While(self, node):
        if node.orelse:
            raise UnsupportedError("while/else is not supported", self.loc, "use a flag variable")
        names = self.carried_names(node.body)
        facts = self.facts(node.body)
        if facts.breaks:
            self.env[".brk"] = False
            names.append(".brk")
        if facts.returns:
            names += [".ret", RV]
        self.while_loop(names, lambda: self.expr(node.test), lambda: self.exec_block(node.body),
                        list(facts.assigned))

    def while_loop(self, names, cond_fn, body_fn, body_assigned):
        carried = self.initial_specs(list(dict.fromkeys(names)))
        loc = self.loc

        def build(carried):
            before = Block(self.runtime_types(carried))
            with self.into(before, self.bind(carried, before.args)):
                stop = self.either(self.env.get(".brk", False), self.env.get(".ret", False))
                cond = self.value_if(stop, lambda: False, lambda: self.truth(cond_fn())) \
                    if stop is not False else self.truth(cond_fn())
                self.at_loc(loc)
                self.b.emit("condition", self.scalar(cond, I1).value, *before.args)
            after = Block(self.runtime_types(carried))
            env = self.bind(carried, after.args)
            env.update({flag: False for flag in (".brk", ".ret", ".cont") if flag in env or flag == ".cont"})
            with self.into(after, env):
                body_fn()
                out = self.env
            changed = self.widen(carried, out)
            if not changed:
                with self.into(after):
                    self.b.emit("yield", *self.carried_values(carried, out))
            return [Region([before]), Region([after])], changed

        regions = self.trace_loop(carried, build)
        inits = self.carried_values(carried, self.env)
        op = self.b.emit("while", *inits, regions=regions)
        self.finish_loop(carried, _results(op), body_assigned)
        for name in names:
            if name.startswith(".k"):
                self.env.pop(name, None)

    def range_length(self, lo, hi, step):
        """Python's len(range(lo, hi, step)) for a static or runtime step."""
        def length(sign):
            span = self.binary("-", hi, lo) if sign > 0 else self.binary("-", lo, hi)
            size = self.binary("*", step, sign)
            if not (is_static_number(size) and size == 1):
                span = self.binary("//", self.binary("-", self.binary("+", span, size), 1), size)
            return self.max_of(span, 0)
        if is_static_number(step):
            return length(1 if step > 0 else -1)
        positive = self.compare(">", step, 0)
        return Scalar(self.b.select(positive.value, length(1).value, length(-1).value), True)

    def unrolled(self, node, items):
        for k, item in enumerate(items):
            pending = self.either(self.env.get(".brk", False), self.env.get(".ret", False))
            if pending is True:
                return
            if pending is not False:
                self.unless_exited(pending, lambda: self.unrolled(node, items[k:]))
                return
            self.env[".cont"] = False
            self.assign(node.target, item)
            self.exec_block(node.body)


def _results(op):
    if isinstance(op, tuple):
        return list(op)
    return [op] if not hasattr(op, "name") else []
