"""Version loops on the small last extent of the arrays they index at constant positions.

Physics codes keep vectors in (n, 3) arrays and index them as `pos[j, 0]`,
`pos[j, 1]`, `pos[j, 2]`. The last extent, and so the row stride, is only
known at run time: LLVM cannot tell the three columns of one row from the
next row's, so a loop over j that writes them stays scalar (an "unsafe
indirect dependence"). This pass gives such a loop a copy in which the
array is seen through a view whose last extent is the constant K = (the
largest position used) + 1, taken when the array's extent is K:

    for j { ... pos[j, 0] ... pos[j, 2] ... }
      =>  if dim(pos, 1) == 3 { p = reshape(pos, dim(pos, 0), 3); for j { ... p[j, 0] ... } }
          else { for j { ... pos[j, 0] ... } }

Invariants:
- Only C-layout arrays of two or more dimensions defined outside the
  loop, every load and store of which in the loop uses a constant last
  index in [0, MAX_EXTENT), at least one with an index that varies in the
  loop. Under the condition the view has the array's extents, strides
  and memory, so the copy computes exactly what the loop does.
- Loops are versioned outermost first, and a versioned loop is not
  visited again, so each loop is copied at most once.
"""
from __future__ import annotations

from ..ir import Block, Builder, Func, Op, Region, Value, clone_op
from ..types import I64
from .driver import DEFAULT_OPTIONS, PassOptions, register
from .rewrite import ValueMap, const_value, values_defined_in

MAX_EXTENT = 8


@register("specialize-extents")
def specialize_extents(func: Func, options: PassOptions = DEFAULT_OPTIONS) -> Func:
    new = func.clone()
    vmap = ValueMap()
    _visit(new.body.block, vmap)
    for op in new.walk():
        vmap.apply(op)
    return new


def _visit(block: Block, vmap: ValueMap) -> None:
    ops = []
    for op in block.ops:
        extents = _small_extents(op) if op.name == "for" else {}
        if extents:
            ops.extend(_version(op, extents, vmap))
            continue
        for region in op.regions:
            for b in region.blocks:
                _visit(b, vmap)
        ops.append(op)
    block.ops = []
    for op in ops:
        block.append(op)


def _small_extents(loop: Op) -> dict:
    """Array -> K for the arrays this loop indexes at constant last positions below K."""
    inside = values_defined_in(loop)
    positions: dict = {}
    varying: set = set()
    for op in loop.regions[0].walk():
        if op.name not in ("load", "store"):
            continue
        array, *index = op.operands if op.name == "load" else op.operands[1:]
        t = array.type
        if array in inside or t.layout != "C" or t.ndim < 2:
            continue
        positions.setdefault(array, []).append(const_value(index[-1]))
        if any(v in inside for v in index[:-1]):
            varying.add(array)
    return {array: int(max(cs)) + 1 for array, cs in positions.items()
            if array in varying and None not in cs and 0 <= min(cs) and max(cs) < MAX_EXTENT}


def _version(loop: Op, extents: dict, vmap: ValueMap) -> list[Op]:
    outer = Block()
    b = Builder(outer, loc=loop.loc)
    conds = [b.eq(b.dim(a, axis=a.type.ndim - 1), b.const(k, I64)) for a, k in extents.items()]
    cond = conds[0]
    for c in conds[1:]:
        cond = b.emit("and", cond, c)

    then = Block()
    tb = Builder(then, loc=loop.loc)
    views = {a: _with_last_extent(tb, a, k) for a, k in extents.items()}
    copy = clone_op(loop, dict(views))
    then.append(copy)
    tb.emit("yield", *copy.results)

    other = Block()
    original = clone_op(loop, {})
    other.append(original)
    Builder(other, loc=loop.loc).emit("yield", *original.results)

    types = [r.type for r in loop.results]
    versioned = b.emit("if", cond, regions=[Region([then]), Region([other])], types=types)
    results = [] if not types else [versioned] if len(types) == 1 else list(versioned)
    for old, new in zip(loop.results, results):
        vmap.replace(old, new)
    return outer.ops


def _with_last_extent(b: Builder, array: Value, k: int) -> Value:
    ndim = array.type.ndim
    extents = [b.dim(array, axis=axis) for axis in range(ndim - 1)]
    return b.reshape(array, *extents, b.const(k, I64))
