"""Loops over operands broadcast at run time, specialized for the usual case.

When the tracer cannot prove that an operand's extent equals the extent
it iterates over, it indexes the operand with `i * scale`, where
`scale = cast(ne(extent, 1))` is 0 only if the operand is broadcast. LLVM
cannot vectorize a loop that accumulates into memory at such an index (the
shadow of a broadcast operand, in a gradient), so a `for` loop whose body
multiplies by scales defined outside it is lowered twice:

    if every scale == 1:  the loop with the scales replaced by the constant 1
    else:                 the loop as written

Invariants:
- Both copies compute exactly what the loop computes: in the first, every
  scale is 1 by the condition.
- Only the outermost such loop is specialized: loops inside either copy
  are lowered plainly (inside the first copy no scale is left; inside the
  second one copy of the nest is enough).
"""
from __future__ import annotations

from irad.ir import Op, Value
from irad.types import I1, I64

from .abi import LIKELY, i64
from .loops import add_incoming, group_values, phi_group


def is_scale(v: Value) -> bool:
    """Whether v is `cast(ne(x, 1)) : i1 -> i64` (the tracer's broadcast scale)."""
    op = getattr(v, "op", None)
    if op is None or op.name != "cast" or op.operands[0].type != I1 or op.results[0].type != I64:
        return False
    ne = getattr(op.operands[0], "op", None)
    if ne is None or ne.name != "ne":
        return False
    one = getattr(ne.operands[1], "op", None)
    return one is not None and one.name == "const" and one.attrs.get("value") == 1


def scales_used(loop: Op) -> list[Value]:
    """Scales defined outside `loop` that ops in it multiply by, in first-use order."""
    inside = {r for o in loop.walk() for r in o.results}
    found: dict = {}
    for o in loop.walk():
        if o.name == "mul":
            for v in o.operands:
                if v not in inside and is_scale(v):
                    found.setdefault(v, None)
    return list(found)


def specialized_loop(L, op: Op, values, lower) -> list:
    """Lower `for` op by `lower(values)` twice, under `all scales == 1` and otherwise."""
    scales = scales_used(op) if not L.plain_broadcast else []
    if not scales:
        return lower(values)
    b = L.b
    unit = b.icmp_unsigned("==", L.env[scales[0]], i64(1))
    for s in scales[1:]:
        unit = b.and_(unit, b.icmp_unsigned("==", L.env[s], i64(1)))
    same, broadcast, merge = L.new_block("unit.scales"), L.new_block("broadcast"), L.new_block("scales.end")
    L.ml.weigh(b.cbranch(unit, same, broadcast), LIKELY)
    arms = []
    for block, override in ((same, True), (broadcast, False)):
        b.position_at_end(block)
        saved = {s: L.env[s] for s in scales}
        if override:
            L.env.update({s: i64(1) for s in scales})
        L.plain_broadcast = True
        try:
            arms.append((lower(values), b.block))
        finally:
            L.plain_broadcast = False       # (it was False: else no scales were looked for)
            L.env.update(saved)
        b.branch(merge)
    b.position_at_end(merge)
    types = [r.type for r in op.results]
    (first, first_end), (second, second_end) = arms
    groups = phi_group(L, types, first, first_end)
    add_incoming(types, groups, second, second_end)
    return group_values(L, types, groups)

