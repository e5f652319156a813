"""Small helpers the optimization passes share: effects, constants, and
value replacement.

Invariants: nothing here keeps state between calls; `ValueMap` belongs to
one pass run on one (cloned) function. Replacements are applied lazily:
a pass walks ops in program order and calls `ValueMap.apply(op)` before
looking at an op, which is enough because SSA dominance puts every
definition before its uses in that order.
"""
from __future__ import annotations

from ..ir import Block, BlockArg, Op, OpResult, Value

LOOPS = ("for", "while")


def has_side_effects(op: Op) -> bool:
    """True when removing `op` (its results unused) could change behavior.

    Terminators, writes, calls and unknown effects count; reads and allocs do
    not; a region op counts when something inside it does. Possible
    non-termination of a `while` does not count (LLVM's `mustprogress`).
    An op without results or regions exists for its effect, whatever it
    declares (a future `free` must not vanish).
    """
    d = op.opdef
    if d.terminator or (not op.results and not op.regions):
        return True
    if d.effect in ("none", "read", "alloc"):
        return False
    if d.effect == "control" and op.regions:
        return any(has_side_effects(inner) for region in op.regions
                   for block in region.blocks for inner in block.ops
                   if not inner.opdef.terminator)
    return True


def const_op(v: Value) -> Op | None:
    """The `const` op defining v, if any."""
    if isinstance(v, OpResult) and v.op.name == "const":
        return v.op
    return None


def const_value(v: Value):
    """The NumPy scalar a `const` defines (as the interpreter sees it), else None."""
    op = const_op(v)
    if op is None:
        return None
    return op.attrs["type"].numpy.type(op.attrs["value"])


def iv_offset(index: Value, iv: Value) -> int | None:
    """c when `index` is `iv + c` (or `iv - c`, `c + iv`) for a constant c, else None."""
    if index is iv:
        return 0
    op = index.op if isinstance(index, OpResult) else None
    if op is None or op.name not in ("add", "sub") or len(op.operands) != 2:
        return None
    x, y = op.operands
    if op.name == "add" and y is iv:
        x, y = y, x
    c = const_value(y)
    if x is not iv or c is None:
        return None
    return int(c) if op.name == "add" else -int(c)


def python_scalar(value, type):
    """`value` converted to `type` as a plain Python bool/int/float."""
    return type.numpy.type(value).item()


def enclosing_op(block: Block | None) -> Op | None:
    """The op whose region holds `block` (None for a function body)."""
    region = block.parent if block is not None else None
    return region.parent if region is not None else None


def owner_op(v: Value) -> Op | None:
    """For a block argument, the op whose region declares it."""
    return enclosing_op(v.block) if isinstance(v, BlockArg) else None


def values_defined_in(op: Op) -> set:
    """Every value defined inside op's regions (block arguments and results)."""
    out = set()
    for region in op.regions:
        for block in region.blocks:
            out.update(block.args)
            for inner in block.ops:
                out.update(inner.results)
                out.update(values_defined_in(inner))
    return out


class ValueMap:
    """Pending replacements `old -> new`, resolved through chains."""

    def __init__(self):
        self._map: dict[Value, Value] = {}

    def replace(self, old: Value, new: Value) -> None:
        assert old is not new and old.type == new.type, (old, new)
        self._map[old] = new

    def __call__(self, v: Value) -> Value:
        while v in self._map:
            v = self._map[v]
        return v

    def apply(self, op: Op) -> None:
        if self._map:
            op.operands = [self(v) for v in op.operands]
