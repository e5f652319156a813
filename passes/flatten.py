"""Index a view's source directly: `v[j]` of `v = a[s:e]` becomes `a[s + j]`.

Reverse mode reads and writes a slice stencil's shadow through views (`du[:-2]`, `du[1:-1]`,
`du[2:]`; `du[1:-1, :-2]`, ...): separate array values, which the accumulation passes cannot
relate. Indexed on `du` itself at `i`, `i + 1` and `i + 2`, they are one array at constant
offsets, which `retime.py` carries in registers.

Invariants: only `inbounds` loads and stores (reverse sweeps') through a `view` whose slices
all have step 1 are rewritten; the source's index is the view's fixed index on an axis it
takes, start + j on a slice, j on a full axis, and nothing for a new axis. An inbounds access
implies no slice is empty, and element j of a non-empty slice is its source's element
start + j (`ops/memory.py`), in range.
"""
from __future__ import annotations

from ..ir import Func, Op
from ..ops.memory import view_axes
from .driver import DEFAULT_OPTIONS, PassOptions, register
from .rewrite import const_value


@register("flatten-views")
def flatten_views(func: Func, options: PassOptions = DEFAULT_OPTIONS) -> Func:
    new = func.clone()
    sums: dict = {}                 # (block, start, index) -> the sum made for the first access
    for op in list(new.walk()):
        view = _unit_slices(op)
        if view is not None:
            _index_source(op, view, sums)
    return new


def _unit_slices(op: Op) -> Op | None:
    """The view `op` (an inbounds load or store) reads or writes through, when its slices all
    have step 1."""
    if op.name not in ("load", "store") or not op.attrs.get("inbounds"):
        return None
    array = op.operands[0] if op.name == "load" else op.operands[1]
    view = getattr(array, "op", None)
    if view is None or view.name != "view":
        return None
    unit = all(kind != "s" or const_value(taken[2]) == 1 for kind, taken in view_axes(view))
    return view if unit else None


def _index_source(op: Op, view: Op, sums: dict) -> None:
    """Make `op` access the view's source: a fixed index where the view takes one, start + j
    on a slice, j on a full axis, nothing for a new axis (its only index is 0). A sum is made
    before the block's first access with that start and index, which the others share (a load
    and the store that accumulates into the same element must name one index value)."""
    first = 1 if op.name == "load" else 2
    indices, source_index = iter(op.operands[first:]), []
    for kind, taken in view_axes(view):
        if kind == "i":
            source_index.append(taken[0])
        elif kind == "s":
            source_index.append(_sum(op, next(indices), taken[0], sums))
        elif kind == "f":
            source_index.append(next(indices))
        else:
            next(indices)
    op.operands[first - 1:] = [view.operands[0], *source_index]


def _sum(op: Op, index, start, sums: dict):
    """index + start, made once per block, before its first use (`op`)."""
    if const_value(start) == 0:
        return index
    block = op.parent
    key = (id(block), start, index)
    if key not in sums:
        flat = Op("add", [index, start], [index.type], loc=op.loc)
        flat.parent = block
        block.ops.insert(block.ops.index(op), flat)
        sums[key] = flat.result
    return sums[key]
