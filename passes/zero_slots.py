"""Shadow slots that are zero whenever read. Registered as "zero-slots".

Reverse mode accumulates an adjoint into a private shadow array and then
reads and zeroes it: `s[i] = s[i] + g; ...; d = s[i]; s[i] = 0`. When
every non-zero store into such an array is undone that way within its own
block, every element is zero except inside those windows, so reads
outside a window are the constant 0 and reads inside one are the value
stored; the array is then only written, and its writes go (the heat
gradient's `tmp` shadow: two loads and two stores per element).

Invariants:
- Only arrays of floats made by an `alloc` that a `fill` with +0.0 follows in
  the same block, before any other use, qualify; their every other use is
  `dim`, or an `inbounds` `load`/`store` (reverse mode's, proven in
  range: removing one removes no bounds check).
- A window is a store of something other than the constant 0 at index I,
  followed in the same block by a store of +0.0 at the same index values I,
  with nothing between that touches the array except loads at exactly I.
  Any store that is neither a window's start nor a 0 store disqualifies.
- The array's stores and fill are removed once no load reads it; the
  alloc is left to "dce". Run "fold" and "dce" after (0 + x in adjoint
  sums folds; what fed only the removed stores dies).
"""
from __future__ import annotations

import math

from ..ir import Block, Func, Op
from .driver import DEFAULT_OPTIONS, PassOptions, register_in_place
from .rewrite import ValueMap, const_value


@register_in_place("zero-slots")
def zero_slots(func: Func, options: PassOptions = DEFAULT_OPTIONS) -> None:
    for alloc in [op for op in func.walk() if op.name == "alloc"]:
        uses = _uses(func, alloc.result)
        plan = _plan(alloc, uses)
        if plan is not None:
            _rewrite(func, *plan)


def _uses(func: Func, array) -> list[Op]:
    return [op for op in func.walk() if array in op.operands]


def _plan(alloc: Op, uses: list[Op]):
    """(window value per load, loads reading zero, ops to remove), or None."""
    array = alloc.result
    if not array.type.dtype.is_float or not uses or uses[0].name != "fill":
        return None
    fill = uses[0]
    if fill.parent is not alloc.parent or not _is_zero(fill.operands[1]):
        return None
    if not _follows(alloc.parent, fill, uses[1:]):
        return None
    stores = [u for u in uses[1:] if u.name == "store"]
    loads = [u for u in uses[1:] if u.name == "load"]
    if any(u.name not in ("store", "load", "dim") for u in uses[1:]) \
            or not all(u.attrs.get("inbounds") for u in stores + loads):
        return None
    forwarded: dict = {}
    for store in stores:
        if _is_zero(store.operands[0]):
            continue
        window = _window(store, array)
        if window is None:
            return None
        forwarded.update(window)
    return forwarded, [x for x in loads if x not in forwarded], [fill, *stores]


def _follows(block: Block, first: Op, ops) -> bool:
    """Whether every op in `ops` runs after `first` (a later op of `block` or inside one)."""
    position = {id(op): k for k, op in enumerate(block.ops)}
    start = position[id(first)]
    for op in ops:
        while op.parent is not block:
            parent = op.parent.parent.parent if op.parent is not None else None
            if parent is None:
                return False
            op = parent
        if position[id(op)] <= start:
            return False
    return True


def _window(store: Op, array) -> dict | None:
    """{load: stored value} for the loads between `store` and the 0 store that undoes it."""
    block, index = store.parent, store.operands[2:]
    value, forwarded = store.operands[0], {}
    for op in block.ops[block.ops.index(store) + 1:]:
        touches = [x for x in op.walk() if array in x.operands]
        if not touches:
            continue
        if op.name == "load" and op.operands[1:] == index:
            forwarded[op] = value
        elif op.name == "store" and op.operands[1] is array and op.operands[2:] == index \
                and _is_zero(op.operands[0]):
            return forwarded
        else:
            return None
    return None


def _is_zero(v) -> bool:
    """Whether v is the constant +0.0 (the value a replaced read gets; -0.0 is not it)."""
    c = const_value(v)
    return c is not None and c == 0 and math.copysign(1.0, c) > 0


def _rewrite(func: Func, forwarded: dict, zero_loads, removed) -> None:
    vmap = ValueMap()
    for load, value in forwarded.items():
        vmap.replace(load.result, value)
    if zero_loads:
        t = zero_loads[0].result.type
        zero = Op("const", [], [t], {"value": 0.0, "type": t})
        func.body.block.ops.insert(0, zero)             # the entry block dominates every read
        zero.parent = func.body.block
        for load in zero_loads:
            vmap.replace(load.result, zero.result)
    gone = {id(op) for op in (*removed, *forwarded, *zero_loads)}
    for op in func.walk():
        vmap.apply(op)
    _drop(func.body.block, gone)


def _drop(block: Block, gone: set) -> None:
    block.ops = [op for op in block.ops if id(op) not in gone]
    for op in block.ops:
        for region in op.regions:
            for b in region.blocks:
                _drop(b, gone)
