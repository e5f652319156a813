"""Dead-code elimination (mark and sweep).

Invariants:
- Roots are ops with side effects (`rewrite.has_side_effects`): stores,
  copies, fills, calls, ops of unknown effect, and `return`. Everything a
  live op needs is live: its operands' definitions, its enclosing ops, and
  the terminators of its regions. Everything else is removed: pure ops,
  loads and allocs with unused results, and `for`/`if`/`while` ops whose
  results are unused and whose regions write nothing.
- A `while` whose results are unused and whose regions write nothing is
  removed even though it might not terminate: like LLVM under
  `mustprogress`, a loop without side effects is assumed to finish.
- A dead load that would have been out of bounds is removed too: an
  out-of-range index is an error of the program, not an effect to keep.
- `for` loops lose the iter_args nobody needs, and `if` ops the results
  nobody uses: result slot i of a `for` is live when result i is used or
  body argument i+1 feeds a live op other than its own yield slot; slot i
  of an `if` when result i is used. Dead slots leave the op's results, its
  yields, and (for `for`) its inits and body arguments.
"""
from __future__ import annotations

from ..ir import BlockArg, Func, Op, OpResult, Value
from .driver import DEFAULT_OPTIONS, PassOptions, register_in_place
from .rewrite import enclosing_op, has_side_effects, owner_op


@register_in_place("dce")
def dce(func: Func, options: PassOptions = DEFAULT_OPTIONS) -> None:
    _sweep(func.body.block, Liveness(func))


class Liveness:
    """Live ops, and live (op, result index) slots of `for` and `if` ops: what `roots` (default:
    the ops with side effects and the return) and `values` need."""

    def __init__(self, func: Func, roots=None, values=()):
        self.ops: set[Op] = set()
        self.slots: set[tuple[Op, int]] = set()
        self.work: list[Op] = []
        if roots is None:
            roots = [op for op in func.walk() if not op.opdef.terminator and has_side_effects(op)]
            roots.append(func.body.block.terminator)
        for op in roots:
            self.mark_op(op)
        for v in values:
            self.mark_value(v)
        while self.work:
            self.visit(self.work.pop())

    def mark_op(self, op: Op) -> None:
        if op not in self.ops:
            self.ops.add(op)
            self.work.append(op)

    def mark_value(self, v: Value) -> None:
        if isinstance(v, OpResult):
            if v.op.name in _SLOTTED:
                self.mark_slot(v.op, v.index)
            self.mark_op(v.op)
        elif isinstance(v, BlockArg):
            owner = owner_op(v)
            if owner is not None and owner.name == "for" and v.index > 0:
                self.mark_slot(owner, v.index - 1)

    def mark_slot(self, op: Op, i: int) -> None:
        if (op, i) in self.slots:
            return
        self.slots.add((op, i))
        self.mark_op(op)
        if op.name == "for":
            self.mark_value(op.operands[3 + i])
        for region in op.regions:
            self.mark_value(region.block.terminator.operands[i])

    def visit(self, op: Op) -> None:
        parent = enclosing_op(op.parent)
        if parent is not None:
            self.mark_op(parent)
        if op.name in _SLOTTED:
            operands = op.operands[:_SLOTTED[op.name]]
        elif _is_slotted_yield(op):
            operands = []  # marked through slots
        else:
            operands = op.operands
        for v in operands:
            self.mark_value(v)
        for region in op.regions:
            for block in region.blocks:
                self.mark_op(block.terminator)


_SLOTTED = {"for": 3, "if": 1}   # op -> number of operands that are not slots


def _is_slotted_yield(op: Op) -> bool:
    parent = enclosing_op(op.parent)
    return op.name == "yield" and parent is not None and parent.name in _SLOTTED


def _sweep(block, live: Liveness) -> None:
    block.ops = [op for op in block.ops if op in live.ops]
    for op in block.ops:
        if op.name in _SLOTTED:
            _prune_slots(op, live)
        for region in op.regions:
            for b in region.blocks:
                _sweep(b, live)


def _prune_slots(op: Op, live: Liveness) -> None:
    keep = [i for i in range(len(op.results)) if (op, i) in live.slots]
    if len(keep) == len(op.results):
        return
    op.results = [op.results[i] for i in keep]
    for k, r in enumerate(op.results):
        r.index = k
    for region in op.regions:
        term = region.block.terminator
        term.operands = [term.operands[i] for i in keep]
    if op.name == "if":
        op.attrs["types"] = tuple(r.type for r in op.results)
        return
    body = op.regions[0].block
    op.operands = op.operands[:3] + [op.operands[3 + i] for i in keep]
    body.args = body.args[:1] + [body.args[1 + i] for i in keep]
    for k, a in enumerate(body.args):
        a.index = k
