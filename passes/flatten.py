"""Index a 1-D slice's source directly: `v[j]` of `v = a[s:e]` becomes `a[s + j]`.

Reverse mode reads and writes a slice stencil's shadow through views (`du[:-2]`, `du[1:-1]`,
`du[2:]`): three array values, which the accumulation passes cannot relate. Indexed on `du`
itself at `i`, `i + 1` and `i + 2`, they are one array at constant offsets, which
`retime.py` carries in registers.

Invariants: only `inbounds` loads and stores (reverse sweeps') through a `view` of a 1-D array
with one slice of step 1 are rewritten. Such an access implies the slice is not empty, and a
non-empty slice's element j is its source's element start + j (`ops/memory.py`), in range.
"""
from __future__ import annotations

from ..ir import Func, Op
from .driver import DEFAULT_OPTIONS, PassOptions, register
from .rewrite import const_value


@register("flatten-views")
def flatten_views(func: Func, options: PassOptions = DEFAULT_OPTIONS) -> Func:
    new = func.clone()
    sums: dict = {}                 # (block, start, index) -> the sum made for the first access
    for op in list(new.walk()):
        view = _unit_slice(op)
        if view is not None:
            _index_source(op, view, sums)
    return new


def _unit_slice(op: Op) -> Op | None:
    """The view `op` (an inbounds load or store) reads or writes through, when it is a step-1
    slice of a 1-D array."""
    if op.name not in ("load", "store") or not op.attrs.get("inbounds"):
        return None
    array = op.operands[0] if op.name == "load" else op.operands[1]
    view = getattr(array, "op", None)
    if view is None or view.name != "view" or view.attrs["spec"] != "s":
        return None
    if view.operands[0].type.ndim != 1 or const_value(view.operands[3]) != 1:
        return None
    return view


def _index_source(op: Op, view: Op, sums: dict) -> None:
    """Make `op` access the view's source at start + index. The sum is made before the block's
    first access at that start and index, which the others share (a load and the store that
    accumulates into the same element must name one index value)."""
    index, start, block = op.operands[-1], view.operands[1], op.parent
    key = (id(block), start, index)
    if key not in sums:
        flat = Op("add", [index, start], [index.type], loc=op.loc)
        flat.parent = block
        block.ops.insert(block.ops.index(op), flat)
        sums[key] = flat.result
    array = 0 if op.name == "load" else 1
    op.operands[array], op.operands[-1] = view.operands[0], sums[key]
