"""Common-subexpression elimination of pure ops, with scoped tables.

Invariants:
- Only pure ops (`OpDef.pure`: no memory effect, no regions, not a
  terminator) are merged; loads never are (a store may come between).
- Two ops match when name, operands, attributes and result types are
  equal; ops marked `extra["commutative"]` in the op table match with their
  operands in either order. Attribute floats compare by bit pattern, and
  `const` values by the bits of the value in its type, so `0.0` and `-0.0`
  stay apart while two NaN constants with one payload merge.
- An *idempotent* op (`extra["idempotent"]`: a `check`, which cannot fail
  after an identical one passed) is dropped when one with the same
  operands and kind dominates it, whatever its message.
- `approx = true` (passes/approximate.py) is left out of the match: an exact
  op replaces an approximate twin, while an approximate one never replaces
  an exact twin (it takes the twin's place in the table instead).
- An op may be replaced by an identical op that dominates it: one earlier in
  the same block or in an enclosing block. Each region gets a child scope,
  so nothing defined inside a region replaces anything outside it, and the
  two regions of an `if` (or of a `while`) never share entries.
"""
from __future__ import annotations

import struct
from collections import ChainMap

import numpy as np

from ..ir import Block, Func, Op
from ..ops.core import semantic_attrs
from .driver import DEFAULT_OPTIONS, PassOptions, register_in_place
from .rewrite import ValueMap


@register_in_place("cse")
def cse(func: Func, options: PassOptions = DEFAULT_OPTIONS) -> None:
    _block(func.body.block, ChainMap(), ValueMap())


def _block(block: Block, scope: ChainMap, vmap: ValueMap) -> None:
    kept = []
    for op in block.ops:
        vmap.apply(op)
        if op.opdef.extra.get("idempotent"):
            repeat = ("idempotent", op.name, tuple(op.operands), op.attrs.get("kind"))
            if repeat in scope:
                continue
            scope[repeat] = op
        key = op_key(op)
        if key is not None:
            twin = scope.get(key)
            if twin is not None and not (twin.attrs.get("approx") and not op.attrs.get("approx")):
                for r, t in zip(op.results, twin.results):
                    vmap.replace(r, t)
                continue
            scope[key] = op
        for region in op.regions:
            for b in region.blocks:
                _block(b, scope.new_child(), vmap)
        kept.append(op)
    block.ops = kept


def op_key(op: Op):
    """A hashable key equal for ops that compute the same value, or None."""
    if not op.opdef.pure or not op.results:
        return None
    operands = tuple(op.operands)
    if op.opdef.extra.get("commutative"):
        operands = tuple(sorted(operands, key=id))
    attrs = _const_attrs(op) if op.name == "const" else _freeze(semantic_attrs(op.attrs))
    key = (op.name, operands, attrs, tuple(r.type for r in op.results))
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _const_attrs(op: Op):
    t, value = op.attrs["type"], op.attrs["value"]
    try:
        return (t, np.array(value, dtype=t.numpy).tobytes())
    except (OverflowError, ValueError, TypeError):
        return (t, _freeze(value))


def _freeze(x):
    """A hashable form of an attribute value; floats by bit pattern."""
    if isinstance(x, float):
        return ("f64", struct.pack("<d", x))
    if isinstance(x, np.generic):
        return (x.dtype.str, x.tobytes())
    if isinstance(x, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in x.items()))
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, tuple(_freeze(v) for v in x))
    return x
