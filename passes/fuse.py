"""Fuse a loop into the next one over the same range when that keeps every memory order.

Reverse mode emits one adjoint loop per primal loop. For a time step that
writes a scratch array and copies it back (`tmp[i] = f(u)`, then
`u[i] = tmp[i]`), the adjoint is two sweeps over the same range: move the
copy's adjoint into `dtmp`, then run the stencil's adjoint from `dtmp`.
Fused, each element is read and written once per step instead of twice.

    for i = lo to hi { A(i) }  ops  for i = lo to hi { B(i) }
      =>  ops  for i = lo to hi { A(i); B(i) }

Invariants (loops are fused only when all hold):
- Both are `for` loops with the same bound and step values, the step a
  constant 1 or -1; neither body contains a region op. The first may carry
  values (a sum) when nothing between the loops and nothing in the second
  uses its results: the fused loop carries them too, after the second's.
  The ops between them are pure (and cannot raise), or
  `tape_read`/`tape_drop` on a tape the first loop does not use: they
  move before the fused loop.
- Memory: the bodies touch arrays only by `load`/`store` and tapes only by
  tape ops, no tape in both. For every pair of accesses, one from each
  loop, at least one a store, on arrays that may share memory: both are
  the same array value, indexed identically but on one axis, where the
  index is `i + c1` in the first loop and `i + c2` in the second, with
  (c2 - c1) * step <= 0. Then an element the second loop touches at
  iteration i was touched by the first loop only at iterations up to i,
  so running A(i); B(i) for each i in turn keeps every read-write order.
- Arrays may share memory unless their roots (`runtime/alias.py`) are
  known, disjoint, and one side's are all private (`alloc`, or a
  `noalias_args` argument): two plain arguments may be the same array
  (`accumulations.PrivateMemory.may_share`).
- Errors keep their place: every access in both loops is `inbounds` (as
  in reverse sweeps) and no op in them or moved above the first can
  raise, so fusing never runs an iteration's effects before an error the
  unfused loops would have raised first.
"""
from __future__ import annotations

from ..ir import Block, Func, Op, clone_op
from ..types import TapeType
from .accumulations import PrivateMemory
from .driver import DEFAULT_OPTIONS, PassOptions, register
from .rewrite import ValueMap, const_value, iv_offset, values_defined_in

MOVABLE_TAPE_OPS = frozenset({"tape_read", "tape_drop"})      # they never allocate, so never raise


@register("fuse-loops")
def fuse_loops(func: Func, options: PassOptions = DEFAULT_OPTIONS) -> Func:
    new = func.clone()
    vmap = ValueMap()
    _visit(new.body.block, PrivateMemory(new, options), vmap)
    for op in new.walk():
        vmap.apply(op)
    return new


def _visit(block: Block, sharing: PrivateMemory, vmap: ValueMap) -> None:
    for op in block.ops:
        for region in op.regions:
            for b in region.blocks:
                _visit(b, sharing, vmap)
    ops = list(block.ops)
    k = 0
    while k < len(ops):
        first = ops[k]
        between = []
        j = k + 1
        while first.name == "for" and j < len(ops) and ops[j].name != "for" and _movable(ops[j], first):
            between.append(ops[j])
            j += 1
        if j < len(ops) and first.name == "for" and ops[j].name == "for":
            for op in (inner for o in [*between, ops[j]] for inner in o.walk()):
                vmap.apply(op)          # they may use an earlier fused loop's results
            if _fusible(first, ops[j], between, sharing):
                ops = ops[:k] + between + [_fuse(first, ops[j], vmap)] + ops[j + 1:]
                k += len(between)
                continue
        k += 1
    block.ops = []
    for op in ops:
        block.append(op)


def _movable(op: Op, loop: Op) -> bool:
    """op can move above `loop`: pure and unable to raise, or a tape op on a tape the loop does
    not use."""
    if op.regions or op.opdef.terminator:
        return False
    if op.opdef.effect == "none":
        return not op.opdef.can_fail
    return op.name in MOVABLE_TAPE_OPS and op.operands[0] not in _tapes(loop)


def _on_tape(op: Op) -> bool:
    return bool(op.operands) and isinstance(op.operands[0].type, TapeType)


def _tapes(loop: Op) -> set:
    return {op.operands[0] for op in loop.regions[0].walk() if _on_tape(op)}


def _fusible(first: Op, second: Op, between: list[Op], sharing: PrivateMemory) -> bool:
    step = const_value(first.operands[2])
    if step not in (1, -1) or any(x is not y for x, y in zip(first.operands[:3], second.operands[:3])):
        return False
    results = set(first.results)
    if results and any(results.intersection(op.operands) for o in [*between, second] for op in o.walk()):
        return False
    a, b = _accesses(first), _accesses(second)
    if a is None or b is None or _tapes(first) & _tapes(second):
        return False
    ivs = (first.regions[0].block.args[0], second.regions[0].block.args[0])
    inside = values_defined_in(first) | values_defined_in(second)
    return all(_ordered(x, y, step, sharing, ivs, inside) for x in a for y in b if x[2] or y[2])


def _accesses(loop: Op) -> list | None:
    """(array, index, is_store) of each array access in a flat body; None when the body has a
    region op, an op that may raise, an access not proven in bounds, or an effect other than
    loads, stores and tape ops."""
    out = []
    for op in loop.regions[0].block.ops[:-1]:
        if op.regions or op.opdef.can_fail or (op.name in ("load", "store") and not op.attrs.get("inbounds")):
            return None
        if op.name == "load":
            out.append((op.operands[0], op.operands[1:], False))
        elif op.name == "store":
            out.append((op.operands[1], op.operands[2:], True))
        elif op.opdef.effect != "none" and not _on_tape(op):
            return None
    return out


def _ordered(x, y, step: int, sharing: PrivateMemory, ivs, inside: set) -> bool:
    """Fusing keeps the order of access x (first loop) and access y (second loop)."""
    if not sharing.may_share(x[0], y[0]):
        return True
    if x[0] is not y[0]:
        return False
    iv1, iv2 = ivs
    varying = [k for k, (u, v) in enumerate(zip(x[1], y[1])) if u in inside or v in inside]
    if len(varying) != 1 or any(u is not v for k, (u, v) in enumerate(zip(x[1], y[1])) if k not in varying):
        return False
    c1, c2 = iv_offset(x[1][varying[0]], iv1), iv_offset(y[1][varying[0]], iv2)
    return c1 is not None and c2 is not None and (c2 - c1) * step <= 0


def _fuse(first: Op, second: Op, vmap: ValueMap) -> Op:
    """The second loop with a copy of first's body in front of its own (first's loop variable
    renamed to second's), also carrying first's values, after its own; first's results map to
    the fused loop's last ones."""
    body, head = second.regions[0].block, first.regions[0].block
    carried = [body.add_arg(a.type, a.hint) for a in head.args[1:]]
    mapping = dict(zip(head.args, [body.args[0], *carried]))
    moved = [clone_op(op, mapping) for op in head.ops[:-1]]
    rest, yielded = body.ops[:-1], body.ops[-1]
    yielded.operands += [mapping.get(v, v) for v in head.ops[-1].operands]
    body.ops = []
    for op in [*moved, *rest, yielded]:
        body.append(op)
    types = [r.type for r in (*second.results, *first.results)]
    hints = [r.hint for r in (*second.results, *first.results)]
    fused = Op("for", [*second.operands, *first.operands[3:]], types, second.attrs, second.regions,
               second.loc, hints)
    second.regions = []
    for old, new in zip((*second.results, *first.results), fused.results):
        vmap.replace(old, new)
    return fused
