"""Constant folding, algebraic simplification and folding of control flow
with constant conditions. Registered as "fold" (alias "simplify").

Invariants:
- Folding uses the op's own `evaluate` slot (the interpreter's semantics)
  under `np.errstate(all="ignore")`, so a folded constant is bit for bit
  what the interpreter would compute. Only pure ops whose operands are all
  `const` scalars fold; ops with array operands or results never do.
- Simplification is the op table's `simplify(builder, op, constants)`
  slot; the builder carries `fastmath`. Rules that are not IEEE-exact
  (x + 0.0 → x, x * 0 → 0, ...) fire only with fastmath (see
  irad/ops/scalar.py). New ops a rule emits land just before the op.
- `if` on a constant condition is replaced by the ops of the chosen
  region; a `for` with a constant trip count of 0 becomes its inits, of 1
  its inlined body; a `while` whose condition is constant false becomes
  one run of its before region. A value a `for` carries that every
  iteration yields unchanged is its initial value, inside and after; in a
  `for i = 0 to n step 1`, a broadcast index `i * cast(n != 1)` is i. A
  `check` that cannot fail (one value against itself, constants that pass)
  goes.
- Removed ops leave their operands' definitions behind: run "dce" after.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from ..ir import Block, Builder, Func, Op
from ..ops.memory import check_holds
from .driver import DEFAULT_OPTIONS, PassOptions, register, register_in_place
from .rewrite import ValueMap, const_value, python_scalar


@register_in_place("fold")
def fold(func: Func, options: PassOptions = DEFAULT_OPTIONS) -> None:
    _Folder(options).block(func.body.block)


register("simplify")(fold)


class _Folder:
    def __init__(self, options: PassOptions):
        self.fastmath = options.fastmath
        self.vmap = ValueMap()

    def block(self, block: Block) -> None:
        """Rebuild block.ops; ops inlined from regions join the queue."""
        pending = deque(block.ops)
        block.ops = []
        while pending:
            op = pending.popleft()
            self.vmap.apply(op)
            inlined = self.visit(op, block)
            if inlined:
                pending.extendleft(reversed(inlined))

    def visit(self, op: Op, block: Block) -> list[Op]:
        """Append op (or what replaces it) to block; return ops to inline."""
        if op.name in _BY_NAME:
            return _BY_NAME[op.name](self, op, block)
        if op.regions:
            return self.regions(op, block)
        if op.opdef.pure and op.name != "const" and self.fold_constant(op, block):
            return []
        if op.opdef.simplify is not None and self.simplify(op, block):
            return []
        block.append(op)
        return []

    def fold_constant(self, op: Op, block: Block) -> bool:
        if op.opdef.evaluate is None or not op.operands or len(op.results) != 1:
            return False
        if not all(v.type.is_scalar for v in op.operands) or not op.result.type.is_scalar:
            return False
        values = [const_value(v) for v in op.operands]
        if any(v is None for v in values):
            return False
        try:
            with np.errstate(all="ignore"):
                out = op.opdef.evaluate_op(op, *values)
            value = python_scalar(out, op.result.type)
        except (ArithmeticError, ValueError, TypeError):
            return False
        b = Builder(block, op.loc)
        folded = b.emit("const", value=value, type=op.result.type, hints=[op.result.hint])
        self.vmap.replace(op.result, folded)
        return True

    def simplify(self, op: Op, block: Block) -> bool:
        if len(op.results) != 1:
            return False
        b = Builder(block, op.loc, fastmath=self.fastmath)
        emitted = len(block.ops)
        result = op.opdef.simplify(b, op, [const_value(v) for v in op.operands])
        if result is None or result.type != op.result.type:
            return False
        if getattr(result, "op", None) in block.ops[emitted:] and result.hint is None:
            result.hint = op.result.hint  # the replacement keeps the replaced name
        self.vmap.replace(op.result, result)
        return True

    def regions(self, op: Op, block: Block) -> list[Op]:
        for region in op.regions:
            for b in region.blocks:
                self.block(b)
        block.append(op)
        return []

    def inline(self, op: Op, body: Block, args, results) -> list[Op]:
        """Map body's args to `args` and op's results to `results`; return body's ops."""
        for a, v in zip(body.args, args):
            self.vmap.replace(a, v)
        for r, v in zip(op.results, results):
            self.vmap.replace(r, v)
        return body.ops[:-1]


def _fold_if(f: _Folder, op: Op, block: Block) -> list[Op]:
    cond = const_value(op.operands[0])
    if cond is None:
        return f.regions(op, block)
    chosen = op.regions[0 if cond else 1].block
    return f.inline(op, chosen, [], chosen.terminator.operands)


def _trip_count(op: Op) -> int | None:
    bounds = [const_value(v) for v in op.operands[:3]]
    if any(b is None for b in bounds) or bounds[2] == 0:
        return None
    return len(range(*(int(b) for b in bounds)))


def _fold_for(f: _Folder, op: Op, block: Block) -> list[Op]:
    trips = _trip_count(op)
    inits = op.operands[3:]
    if trips == 0:
        for r, v in zip(op.results, inits):
            f.vmap.replace(r, v)
        return []
    body = op.regions[0].block
    if trips == 1:
        return f.inline(op, body, [op.operands[0], *inits], body.terminator.operands)
    for arg, yielded, init, result in zip(body.args[1:], body.terminator.operands, inits, op.results):
        if yielded is arg:
            f.vmap.replace(arg, init)
            f.vmap.replace(result, init)
    for scaled in _broadcast_scaled(op):
        f.vmap.replace(scaled.result, body.args[0])
    return f.regions(op, block)


def _broadcast_scaled(loop: Op) -> list[Op]:
    """In `for i = 0 to n step 1`, the broadcast index `i * (n != 1)` is i: when n is 1 the only
    i is 0. (An operand broadcast at run time is indexed `i * (extent != 1)`; once its extent
    is known to be the loop's, the index is plain.)"""
    lo, n, step = loop.operands[:3]
    if const_value(lo) != 0 or const_value(step) != 1:
        return []
    iv = loop.regions[0].block.args[0]
    found = []
    for op in loop.regions[0].walk():
        if op.name == "mul" and iv in op.operands:
            flag = op.operands[1] if op.operands[0] is iv else op.operands[0]
            cast = getattr(flag, "op", None)
            ne = getattr(cast.operands[0], "op", None) if cast is not None and cast.name == "cast" else None
            if ne is not None and ne.name == "ne" and n in ne.operands and any(
                    const_value(v) == 1 for v in ne.operands if v is not n):
                found.append(op)
    return found


def _fold_while(f: _Folder, op: Op, block: Block) -> list[Op]:
    f.regions(op, block)
    before = op.regions[0].block
    condition = before.terminator
    cond = const_value(f.vmap(condition.operands[0]))
    if cond is None or cond:
        return []
    block.ops.pop()  # the while itself, appended by regions()
    return f.inline(op, before, op.operands, condition.operands[1:])


def _fold_check(f: _Folder, op: Op, block: Block) -> list[Op]:
    """A check of one value against itself, or of constants that pass, cannot fail: it goes."""
    expected, actual = op.operands
    k = [const_value(v) for v in op.operands]
    if expected is actual or (None not in k and check_holds(op.attrs["kind"], int(k[0]), int(k[1]))):
        return []
    block.append(op)
    return []


_BY_NAME = {"if": _fold_if, "for": _fold_for, "while": _fold_while, "check": _fold_check}
