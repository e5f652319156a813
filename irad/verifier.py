"""Structural checks on IR: types, SSA (single definition, dominance), regions.

Invariant: a Func that passes `verify` can be printed, parsed, interpreted
and lowered. The first broken rule raises `VerificationError`; its message
starts with the op's source location (`file:line:col: `) when the op has
one, then names the function, the op, the operand index and value where one
is at fault, and the expected versus the actual type, e.g.

    k.py:3:5: in @f: op 'add' operand 1 (%n): expected f64, got i64

Value names are the printer's, so messages match `print(func)`.

Rules: every op is in the op table; its operands are defined before it in
its block or an enclosing one (values of a nested region are invisible
outside it); its result types are those its type rule infers; it has the
op table's number of regions, each of one block; a block ends with exactly
one terminator, last; `for`/`while`/`if` block arguments and terminators
match the op's types; `return` matches the function's result types; a
`call` names a function of the module with matching types (checked when a
module is given).
"""
from __future__ import annotations

import numpy as np

from .errors import VerificationError
from .ir import Block, Func, Module, Op
from .ops import OPS, TypeRuleError
from .types import I1, I64, ScalarType

_MALFORMED = (KeyError, TypeError, IndexError, ValueError, AttributeError)
_CARRIED_FROM = {"for": 3, "while": 0}     # operand index of the first carried value


def _types(types) -> str:
    return "(" + ", ".join(map(str, types)) + ")"


class _Verifier:
    def __init__(self, func: Func, module: Module | None):
        self.func, self.module = func, module
        self._namer = None
        self.def_block: dict = {}       # value -> the block that defines it
        self.enclosing: dict = {}       # block -> the block holding its op (None: body)
        self.seen: set = set()          # values defined so far (single definition)

    # ---- reporting ----
    def name(self, v) -> str:
        if self._namer is None:
            from .printer import Namer
            self._namer = Namer(self.func)
        return self._namer(v)

    def fail(self, op: Op | None, message: str, loc=None):
        loc = loc or (op.loc if op is not None else None) or self.func.loc
        raise VerificationError(f"in @{self.func.name}: {message}", loc)

    def operand(self, op: Op, i: int) -> str:
        return f"op '{op.name}' operand {i} ({self.name(op.operands[i])})"

    # ---- structure ----
    def run(self):
        if len(self.func.body.blocks) != 1:
            self.fail(None, f"the body must have exactly 1 block, got {len(self.func.body.blocks)}")
        self.index(self.func.body.block, None)
        block = self.func.body.block
        self.block(block, set())
        term = block.terminator
        if term is None or term.name != "return":
            found = f"'{term.name}'" if term else "nothing"
            self.fail(term, f"the function body must end with 'return', found {found}")
        self.values(term, "", term.operands, self.func.result_types)

    def index(self, block: Block, parent: Block | None):
        """Record where every value is defined, for dominance messages."""
        self.enclosing[block] = parent
        for a in block.args:
            self.def_block.setdefault(a, block)
        for op in block.ops:
            for region in op.regions:
                for b in region.blocks:
                    self.index(b, block)
            for r in op.results:
                self.def_block.setdefault(r, block)

    def block(self, block: Block, visible: set):
        visible = set(visible)
        self.define(None, block.args, visible)
        for k, op in enumerate(block.ops):
            if op.name in OPS and OPS[op.name].terminator and k != len(block.ops) - 1:
                self.fail(op, f"op '{op.name}' must be the last op of its block, "
                              f"but '{block.ops[k + 1].name}' follows it")
            self.op(op, block, visible)
            for region in op.regions:
                for b in region.blocks:
                    self.block(b, visible)
            self.define(op, op.results, visible)

    def define(self, op, values, visible: set):
        for v in values:
            if v in self.seen:
                self.fail(op, f"value {self.name(v)} is defined twice")
            self.seen.add(v)
            visible.add(v)

    # ---- one op ----
    def op(self, op: Op, block: Block, visible: set):
        if op.name not in OPS:
            self.fail(op, f"unknown op '{op.name}'")
        for i, v in enumerate(op.operands):
            if v not in visible:
                self.fail(op, f"{self.operand(op, i)} does not dominate this use: "
                              f"{self.why_invisible(v, block)}")
        self.results(op, self.infer(op))
        if op.name == "const":
            self.const(op)
        self.regions(op)
        if op.name == "call" and self.module is not None:
            self.call(op)

    def why_invisible(self, v, block: Block) -> str:
        home = self.def_block.get(v)
        if home is None:
            return f"it is not defined in @{self.func.name}"
        b = block
        while b is not None:
            if b is home:
                return "it is used before its definition"
            b = self.enclosing.get(b)
        return "it is defined inside a region that does not enclose this use"

    def infer(self, op: Op) -> list:
        try:
            return list(OPS[op.name].infer([v.type for v in op.operands], op.attrs))
        except TypeRuleError as e:
            if isinstance(e.index, int) and 0 <= e.index < len(op.operands) and "operands" not in str(e.expected):
                self.fail(op, f"{self.operand(op, e.index)}: expected {e.expected}, got {e.actual}")
            self.fail(op, f"op '{op.name}': expected {e.expected}, got {e.actual}")
        except _MALFORMED as e:
            self.fail(op, f"op '{op.name}' is malformed ({len(op.operands)} operands, "
                          f"attributes {sorted(op.attrs)}): {type(e).__name__}: {e}")

    def results(self, op: Op, expected: list):
        actual = [r.type for r in op.results]
        if actual == expected:
            return
        if op.name in _CARRIED_FROM:
            self.carried(op, actual)
        if len(actual) != len(expected):
            self.fail(op, f"op '{op.name}': expected {_count(expected, 'result')} {_types(expected)}, "
                          f"got {len(actual)} {_types(actual)}")
        k = next(k for k, (a, e) in enumerate(zip(actual, expected)) if a != e)
        self.fail(op, f"op '{op.name}' result {k} ({self.name(op.results[k])}): "
                      f"expected {expected[k]}, got {actual[k]}")

    def carried(self, op: Op, results: list):
        """`for`/`while`: the initial carried values (iter_args) must have the result types."""
        first = _CARRIED_FROM[op.name]
        inits = op.operands[first:]
        if len(inits) != len(results):
            self.fail(op, f"op '{op.name}': {_count(inits, 'iter_arg')} but "
                          f"{_count(results, 'result')} {_types(results)}")
        for k, (v, t) in enumerate(zip(inits, results)):
            if v.type != t:
                self.fail(op, f"{self.operand(op, first + k)} (iter_arg {k}): expected {t} "
                              f"(the type of result {k}), got {v.type}")

    def const(self, op: Op):
        t, value = op.attrs.get("type"), op.attrs.get("value")
        if not isinstance(t, ScalarType):
            self.fail(op, f"op 'const': expected a scalar type, got {t}")
        if not _const_fits(value, t):
            self.fail(op, f"op 'const': value {value!r} is not a {t}")

    # ---- regions ----
    def regions(self, op: Op):
        want = OPS[op.name].regions
        if len(op.regions) != want:
            self.fail(op, f"op '{op.name}': expected {want} region{'s' if want != 1 else ''}, "
                          f"got {len(op.regions)}")
        for i, region in enumerate(op.regions):
            if len(region.blocks) != 1:
                self.fail(op, f"op '{op.name}' region {i}: expected 1 block, got {len(region.blocks)}")
        check = _REGION_RULES.get(op.name)
        if check:
            check(self, op, [r.type for r in op.results])

    def block_args(self, op: Op, block: Block, types, what: str):
        got = [a.type for a in block.args]
        if len(got) != len(types):
            self.fail(op, f"op '{op.name}' {what}: expected {len(types)} block argument(s) "
                          f"{_types(types)}, got {len(got)} {_types(got)}")
        for i, (a, t) in enumerate(zip(block.args, types)):
            if a.type != t:
                self.fail(op, f"op '{op.name}' {what} argument {i} ({self.name(a)}): expected {t}, got {a.type}")

    def terminator(self, op: Op, block: Block, name: str, types, what: str):
        term = block.terminator
        if term is None or term.name != name:
            found = f"'{term.name}'" if term else "nothing"
            self.fail(term or op, f"op '{op.name}' {what} must end with '{name}', found {found}", op.loc)
        self.values(term, f" ({what} of '{op.name}')", term.operands, types, op.loc)

    def values(self, term: Op, where: str, values, types, loc=None):
        """Check a terminator's operands against `types`, one by one."""
        got = [v.type for v in values]
        if len(got) != len(types):
            self.fail(term, f"op '{term.name}'{where}: expected {_count(types)} "
                            f"{_types(types)}, got {len(got)} {_types(got)}", term.loc or loc)
        for i, (v, t) in enumerate(zip(values, types)):
            if v.type != t:
                self.fail(term, f"op '{term.name}'{where} operand {i} ({self.name(v)}): "
                                f"expected {t}, got {v.type}", term.loc or loc)

    def call(self, op: Op):
        callee = self.module.funcs.get(op.attrs.get("callee"))
        if callee is None:
            self.fail(op, f"op 'call': no function @{op.attrs.get('callee')} in the module")
        for i, (v, a) in enumerate(zip(op.operands, callee.args)):
            if v.type != a.type:
                self.fail(op, f"{self.operand(op, i)}: expected {a.type} (argument {i} of "
                              f"@{callee.name}), got {v.type}")
        if len(op.operands) != len(callee.args):
            self.fail(op, f"op 'call': @{callee.name} takes {_count(callee.args, 'argument')}, "
                          f"got {len(op.operands)}")
        actual = [r.type for r in op.results]
        if actual != callee.result_types:
            self.fail(op, f"op 'call' result types: expected {_types(callee.result_types)} "
                          f"(the results of @{callee.name}), got {_types(actual)}")


def _count(items, noun: str = "value") -> str:
    return f"{len(items)} {noun}" + ("" if len(items) == 1 else "s")


def _const_fits(value, t: ScalarType) -> bool:
    """Whether `value` is a number representable as a constant of type `t`."""
    if not isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating)):
        return False
    if t.is_bool:
        return isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, np.integer)) and value in (0, 1))
    if t.is_int:
        try:
            ok = int(value) == value and not isinstance(value, float)
        except (TypeError, ValueError, OverflowError):
            return False
        bound = 2 ** (t.bits - 1)
        return ok and -bound <= int(value) < bound
    return True


def _check_for(v: _Verifier, op: Op, results):
    body = op.regions[0].block
    v.block_args(op, body, [I64, *results], "body")
    v.terminator(op, body, "yield", results, "body")


def _check_while(v: _Verifier, op: Op, results):
    before, after = op.regions[0].block, op.regions[1].block
    v.block_args(op, before, results, "before region")
    v.block_args(op, after, results, "after region")
    v.terminator(op, before, "condition", [I1, *results], "before region")
    v.terminator(op, after, "yield", results, "after region")


def _check_if(v: _Verifier, op: Op, results):
    for region, what in zip(op.regions, ("then region", "else region")):
        v.block_args(op, region.block, [], what)
        v.terminator(op, region.block, "yield", results, what)


_REGION_RULES = {"for": _check_for, "while": _check_while, "if": _check_if}


def verify(ir, module: Module | None = None):
    """Verify a Func (calls checked against `module` when given) or a whole
    Module; raise VerificationError on the first broken rule; return `ir`."""
    if isinstance(ir, Module):
        return verify_module(ir)
    _Verifier(ir, module).run()
    return ir


def verify_module(module: Module) -> Module:
    """Verify every function of `module`, including calls between them."""
    for f in module.funcs.values():
        _Verifier(f, module).run()
    return module
