"""Structural checks on a Func: types, SSA dominance, region rules.

Invariant: a Func that passes `verify` can be printed, parsed, interpreted
and lowered. Each failure raises `VerificationError` naming the op, the
operand index, the expected versus the actual type, and the source location.
"""
from __future__ import annotations

from .errors import VerificationError
from .ir import Block, Func, Op
from .ops import OPS, TypeRuleError
from .types import I1, I64


def _fail(op: Op | None, message: str):
    where = f" at {op.loc}" if op is not None and op.loc else ""
    raise VerificationError(message + where, None)


def _types(values):
    return "(" + ", ".join(str(v.type) for v in values) + ")"


def _expect_terminator(op: Op, block: Block, name: str, types, what: str):
    term = block.terminator
    if term is None or term.name != name:
        _fail(op, f"op '{op.name}': {what} must end with '{name}', found "
                  f"'{term.name if term else 'nothing'}'")
    got = [v.type for v in term.operands]
    if got != list(types):
        want = "(" + ", ".join(map(str, types)) + ")"
        _fail(term, f"op '{name}' in {what} of '{op.name}': expected types {want}, got {_types(term.operands)}")


def _expect_block_args(op: Op, block: Block, types, what: str):
    got = [a.type for a in block.args]
    if got != list(types):
        want = "(" + ", ".join(map(str, types)) + ")"
        _fail(op, f"op '{op.name}': {what} arguments: expected {want}, got {_types(block.args)}")


def _check_regions(op: Op):
    d = op.opdef
    if len(op.regions) != d.regions:
        _fail(op, f"op '{op.name}': expected {d.regions} regions, got {len(op.regions)}")
    for region in op.regions:
        if len(region.blocks) != 1:
            _fail(op, f"op '{op.name}': a region must have exactly one block, got {len(region.blocks)}")
    results = [r.type for r in op.results]
    if op.name == "for":
        body = op.regions[0].block
        _expect_block_args(op, body, [I64, *results], "body")
        _expect_terminator(op, body, "yield", results, "body")
    elif op.name == "while":
        before, after = op.regions[0].block, op.regions[1].block
        _expect_block_args(op, before, results, "before region")
        _expect_block_args(op, after, results, "after region")
        _expect_terminator(op, before, "condition", [I1, *results], "before region")
        _expect_terminator(op, after, "yield", results, "after region")
    elif op.name == "if":
        for region, what in zip(op.regions, ("then region", "else region")):
            _expect_block_args(op, region.block, [], what)
            _expect_terminator(op, region.block, "yield", results, what)


def _check_op(op: Op, defined: set):
    if op.name not in OPS:
        _fail(op, f"unknown op '{op.name}'")
    for i, v in enumerate(op.operands):
        if v not in defined:
            _fail(op, f"op '{op.name}' operand {i}: value {v.hint and '%' + v.hint or ''} "
                      f"does not dominate this use")
    try:
        expected = OPS[op.name].infer([v.type for v in op.operands], op.attrs)
    except TypeRuleError as e:
        _fail(op, f"op '{op.name}' operand {e.index}: expected {e.expected}, got {e.actual}")
    except (KeyError, TypeError) as e:
        _fail(op, f"op '{op.name}': malformed attributes ({e})")
    actual = [r.type for r in op.results]
    if list(expected) != actual:
        _fail(op, f"op '{op.name}' results: expected {_types_of(expected)}, got {_types_of(actual)}")
    _check_regions(op)


def _types_of(types) -> str:
    return "(" + ", ".join(map(str, types)) + ")"


def _check_block(block: Block, defined: set):
    defined = set(defined)
    defined.update(block.args)
    for k, op in enumerate(block.ops):
        if op.opdef.terminator if op.name in OPS else False:
            if k != len(block.ops) - 1:
                _fail(op, f"op '{op.name}' must be the last op of its block")
        _check_op(op, defined)
        for region in op.regions:
            for b in region.blocks:
                _check_block(b, defined)
        defined.update(op.results)


def verify(func: Func) -> Func:
    """Raise VerificationError on the first broken rule; return func otherwise."""
    block = func.body.block
    if len(func.body.blocks) != 1:
        _fail(None, f"func @{func.name}: the body must have exactly one block")
    _check_block(block, set())
    term = block.terminator
    if term is None or term.name != "return":
        _fail(term, f"func @{func.name}: the body must end with 'return'")
    got = [v.type for v in term.operands]
    if got != func.result_types:
        _fail(term, f"op 'return' in func @{func.name}: expected types "
                    f"{_types_of(func.result_types)}, got {_types(term.operands)}")
    return func


def verify_module(module) -> None:
    for f in module.funcs.values():
        verify(f)
