"""Structured control flow: for, while, if, their terminators, call, return.

Invariants (checked by the verifier):
- `for %i = lo to hi step s iter_args(...)`: lo, hi, s are i64; the body
  block's arguments are the induction variable then one per iter_arg; the
  body yields the next iter_args; results are the final iter_args. The trip
  count follows Python's `range(lo, hi, s)` for either sign of `s`.
- `while (...)`: the before region receives the carried values and ends
  with `condition %c, <carried>`; the after region receives those values and
  yields the next carried values; results are the values given to the
  `condition` that ended the loop.
- `if %c`: two regions, each yielding the op's result types.
"""
from __future__ import annotations

from ..types import I1, I64
from .core import TypeRuleError, define, expect_same
from .lowering import Special


def _for_rule(types, attrs):
    for i in range(3):
        expect_same(types, i, I64)
    return list(types[3:])


def _for_exec(interp, op, args):
    lo, hi, step, *carried = (int(a) if i < 3 else a for i, a in enumerate(args))
    for i in range(lo, hi, step):
        carried = interp.run_block(op.regions[0].block, [I64.numpy.type(i), *carried])
    return carried


define("for", _for_rule, syntax="for", effect="control", regions=1, execute=_for_exec,
       llvm=Special("for"))


def _while_exec(interp, op, args):
    before, after = op.regions[0].block, op.regions[1].block
    carried = list(args)
    while True:
        cond, *carried = interp.run_block(before, carried)
        if not cond:
            return carried
        carried = interp.run_block(after, carried)


define("while", lambda types, attrs: list(types), syntax="while", effect="control", llvm=Special("while"),
       regions=2, execute=_while_exec)


def _if_rule(types, attrs):
    expect_same(types, 0, I1)
    return list(attrs["types"])


def _if_exec(interp, op, args):
    region = op.regions[0] if args[0] else op.regions[1]
    return interp.run_block(region.block, [])


define("if", _if_rule, syntax="if", effect="control", regions=2, execute=_if_exec,
       llvm=Special("if"))


def _condition_rule(types, attrs):
    if not types or types[0] != I1:
        raise TypeRuleError(0, "i1", types[0] if types else "nothing")
    return []


define("yield", lambda types, attrs: [], syntax="terminator", terminator=True, llvm=Special("yield"))
define("condition", _condition_rule, syntax="terminator", terminator=True,
       llvm=Special("condition"))
define("return", lambda types, attrs: [], syntax="terminator", terminator=True,
       llvm=Special("return"))


def _call_exec(interp, op, args):
    return interp.call(op.attrs["callee"], args)


define("call", lambda types, attrs: list(attrs["types"]), syntax="call", effect="control",
       llvm=Special("call"),
       execute=_call_exec, notes="calls a function of the same module; effects: any")
