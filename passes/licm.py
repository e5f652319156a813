"""Loop-invariant code motion of pure ops out of `for` and `while` loops.

Invariants:
- Only pure ops move (no loads: a store in the loop may change what a load
  reads; no region ops). An op moves when every operand is defined outside
  the loop, or by an op already moved; moved ops keep their order and land
  just before the loop.
- Inner loops are processed first, so an op invariant in two nested loops
  rises out of both. Ops nested in an `if` inside the loop stay there.
- Hoisting out of a loop that may run zero times is safe for pure ops: they
  have no side effects and never trap (float division follows IEEE, integer
  floordiv/mod by zero give 0, casts of NaN to int give 0 in this IR). Pure
  ops that may raise (`can_fail`: views check their indices) stay: hoisted
  out of a loop that never runs, they could raise where the program did not.
"""
from __future__ import annotations

from ..ir import Block, Func, Op
from .driver import DEFAULT_OPTIONS, PassOptions, register_in_place
from .rewrite import LOOPS, values_defined_in


@register_in_place("licm")
def licm(func: Func, options: PassOptions = DEFAULT_OPTIONS) -> None:
    _block(func.body.block)


def _block(block: Block) -> None:
    out = []
    for op in block.ops:
        for region in op.regions:
            for b in region.blocks:
                _block(b)
        if op.name in LOOPS:
            out.extend(_hoist(op))
        out.append(op)
    block.ops = []
    for op in out:
        block.append(op)


def _hoist(loop: Op) -> list[Op]:
    """Remove the invariant ops from the loop's regions; return them in order."""
    inside = values_defined_in(loop)
    hoisted = []
    for region in loop.regions:
        for block in region.blocks:
            kept = []
            for op in block.ops:
                if op.opdef.pure and not op.opdef.can_fail and not any(v in inside for v in op.operands):
                    hoisted.append(op)
                    inside.difference_update(op.results)
                else:
                    kept.append(op)
            block.ops = kept
    return hoisted
