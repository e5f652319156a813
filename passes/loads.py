"""Redundant-load elimination: a load of the same array at the same indices
as an earlier load or store in the same block, with nothing in between
that may write memory, reuses the value loaded or stored.

Invariants: only loads are replaced; anything that may write (a store,
copy, fill, a tape op, a call, or a region op containing one) ends the
availability of every earlier load, whatever array it touches, so no
aliasing reasoning is needed; a store then makes its own value (of the
element type) available at its indices. Loads are not moved, so no bounds
check is added or lost. (For reverse mode this matters: one load instead of two is
one tape instead of two.)
"""
from __future__ import annotations

from ..ir import Block, Func, Op
from .driver import DEFAULT_OPTIONS, PassOptions, register_in_place
from .rewrite import ValueMap


def _may_write(op: Op) -> bool:
    if op.opdef.effect in ("write", "control"):
        return op.opdef.effect == "write" or any(_may_write(inner) for region in op.regions
                                                 for b in region.blocks for inner in b.ops) \
            or op.name == "call"
    return False


def _block(block: Block, vmap: ValueMap) -> None:
    available: dict = {}
    kept = []
    for op in block.ops:
        vmap.apply(op)
        for region in op.regions:
            for b in region.blocks:
                _block(b, vmap)
        if op.name == "load":
            key = tuple(op.operands)
            twin = available.get(key)
            if twin is not None and twin.type == op.result.type:
                vmap.replace(op.result, twin)
                continue
            available[key] = op.result
        elif _may_write(op):
            available.clear()
            if op.name == "store":
                available[tuple(op.operands[1:])] = op.operands[0]
        kept.append(op)
    block.ops = kept


@register_in_place("load-cse")
def load_cse(func: Func, options: PassOptions = DEFAULT_OPTIONS) -> None:
    _block(func.body.block, ValueMap())
