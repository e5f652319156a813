"""Fuse a copy-back loop into the loop that fills its scratch array, one element behind.

An explicit time step often computes into a scratch array, then copies it back:

    for i = lo to hi { ... u[i - 1], u[i], u[i + 1] ...; tmp[i] = v(i) }
    for i = lo to hi { u[i] = tmp[i] }

Iteration i + 1 of the first loop is the last to read u[i], so u[i] may take its new value
right after it: one sweep instead of two, the value in a register.

    if lo < hi and the accesses are in bounds {
        p = u[lo - 1]
        last = for i = lo to hi iter_args(p) { ...; tmp[i] = v(i); u[i - 1] = p; yield v(i) }
        u[hi - 1] = last
    } else { both loops as they were }

(The first store writes u[lo - 1] back unchanged. When the first loop reads u only at i and
beyond, u[i] is stored in iteration i itself. When nothing but the copy reads tmp, the fused
loop does not fill it.)

Invariants (loops are fused only when all hold):
- Both are `for` loops with the same bound values and step 1, carrying nothing. The second's
  body is exactly `x = tmp[i]; u[i] = x`, with `tmp` fresh memory (an `alloc`) and u a 1-D
  array or a step-1 slice of one at a constant start (`u[1:-1] = ...`).
- The first's body holds no region op and only pure ops that cannot raise, loads of u's
  array at i + c (directly or through such slices; c relative to the element written) with
  c >= -1, which are its only loads, and one store, `tmp[i] = v`.
- The fused copy runs only when every access is in bounds (checked once, before it: each
  array, view or not, at the first and the last i). So no error can come between its stores;
  otherwise the original loops run and raise where they did. A slice's element is its
  array's element start + i, which the fused loop's own stores use. Every element of u ends
  with the value the two loops give it, and so does every element of tmp when anything but
  the copy reads tmp.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import Block, Builder, Func, Op, Region, Value, clone_op
from ..types import I64
from .accumulations import PrivateMemory
from .driver import DEFAULT_OPTIONS, PassOptions, register
from .rewrite import const_value, iv_offset


@dataclass
class Plan:
    tmp: Value
    base: Value         # the 1-D array the second loop writes, directly or through a slice
    start: int          # where that slice starts in base (0: base itself)
    fill: Op            # the store tmp[i] = v in the first loop
    cmin: int           # offsets, relative to the written element, of the first loop's loads
    cmax: int
    accesses: list      # (array, k): every access is array[i + k]
    keep_fill: bool = True      # False when nothing but the copy ever reads tmp


@register("fuse-copy-back")
def fuse_copy_back(func: Func, options: PassOptions = DEFAULT_OPTIONS) -> Func:
    new = func.clone()
    _visit(new.body.block, PrivateMemory(new, options), _readers(new))
    return new


def _readers(func: Func) -> dict:
    """Array value -> the ops that may read it (any use but as the target of a store or a
    fill, or in `dim`)."""
    readers: dict = {}
    for op in func.walk():
        for k, v in enumerate(op.operands):
            written = (op.name == "store" and k == 1) or (op.name == "fill" and k == 0)
            if v.type.is_array and not written and op.name != "dim":
                readers.setdefault(v, []).append(op)
    return readers


def _visit(block: Block, memory: PrivateMemory, readers: dict) -> None:
    for op in block.ops:
        for region in op.regions:
            for b in region.blocks:
                _visit(b, memory, readers)
    ops, out, k = list(block.ops), [], 0
    while k < len(ops):
        plan = _plan(ops[k], ops[k + 1], memory, readers) if k + 1 < len(ops) else None
        if plan is None:
            out.append(ops[k])
            k += 1
            continue
        out.extend(_fused(ops[k], ops[k + 1], plan))
        k += 2
    block.ops = []
    for op in out:
        block.append(op)


def _plan(first: Op, second: Op, memory: PrivateMemory, readers: dict) -> Plan | None:
    if first.name != "for" or second.name != "for" or len(first.operands) != 3 or len(second.operands) != 3:
        return None
    if any(x is not y for x, y in zip(first.operands, second.operands)) or const_value(first.operands[2]) != 1:
        return None
    copy = second.regions[0].block.ops[:-1]
    j = second.regions[0].block.args[0]
    if (len(copy) != 2 or copy[0].name != "load" or copy[1].name != "store" or copy[0].operands[1:] != [j]
            or copy[1].operands[2:] != [j] or copy[1].operands[0] is not copy[0].result):
        return None
    tmp, u = copy[0].operands[0], copy[1].operands[1]
    written = _in_base(u)
    if (written is None or not _fresh(tmp, memory) or memory.roots.get(u) is None
            or memory.roots[u] & memory.roots[tmp]):
        return None
    plan = _first_loop(first, tmp, *written)
    if plan is not None:
        plan.accesses.append((u, 0))
        plan.keep_fill = readers.get(tmp, []) != [copy[0]]
    return plan


def _in_base(array: Value) -> tuple | None:
    """(base, start) when `array` is a 1-D array or a step-1 slice of one at a constant start."""
    view = getattr(array, "op", None)
    if view is None or view.name != "view":
        return (array, 0) if array.type.ndim == 1 else None
    if view.attrs["spec"] != "s":
        return None
    _, start, _, step = view.operands
    if const_value(step) != 1 or const_value(start) is None:
        return None
    return view.operands[0], int(const_value(start))


def _fresh(array: Value, memory: PrivateMemory) -> bool:
    roots = memory.roots.get(array)
    return bool(roots) and all(r[0] == "alloc" for r in roots)


def _first_loop(loop: Op, tmp: Value, base: Value, start: int) -> Plan | None:
    """The plan when the first loop's body is as the module docstring requires."""
    i = loop.regions[0].block.args[0]
    offsets, fills, accesses = [], [], []
    for op in loop.regions[0].block.ops[:-1]:
        if op.regions:
            return None
        if op.name == "load":
            where, k = _in_base(op.operands[0]), iv_offset(op.operands[1], i)
            if where is None or where[0] is not base or k is None:
                return None
            offsets.append(where[1] + k - start)
            accesses.append((op.operands[0], k))
        elif op.name == "store" and op.operands[1] is tmp and op.operands[2:] == [i]:
            fills.append(op)
        elif not op.opdef.pure or op.opdef.can_fail:
            return None
    cmin, cmax = (min(offsets), max(offsets)) if offsets else (0, 0)
    if len(fills) != 1 or cmin < -1:
        return None
    return Plan(tmp, base, start, fills[0], cmin, cmax, [*accesses, (tmp, 0)])


def _fused(first: Op, second: Op, plan: Plan) -> list[Op]:
    outer = Block()
    b = Builder(outer, loc=first.loc)
    lo, hi = first.operands[:2]
    zero = b.const(0, I64)
    cond = b.lt(lo, hi)
    for array, k in plan.accesses:          # array[i + k] in bounds for i = lo and i = hi - 1
        cond = b.emit("and", cond, b.le(zero, _plus(b, lo, k)))
        cond = b.emit("and", cond, b.lt(_plus(b, hi, k - 1), b.dim(array, axis=0)))
    then, other = Block(), Block()
    _one_sweep(Builder(then, loc=first.loc), first, plan)
    Builder(then).emit("yield")
    other.append(first)
    other.append(second)
    Builder(other).emit("yield")
    b.emit("if", cond, regions=[Region([then]), Region([other])], types=())
    return outer.ops


def _one_sweep(b: Builder, first: Op, plan: Plan) -> None:
    """The fused loop (see the module docstring), its accesses marked in bounds. Its own
    accesses index the base array: element i of the written slice is base[start + i]."""
    lo, hi, step = first.operands[:3]
    lag = -plan.cmin
    old = first.regions[0].block
    body = Block([old.args[0].type, *([plan.base.type.dtype] * lag)], [old.args[0].hint, *(["prev"] * lag)])
    mapping = {old.args[0]: body.args[0]}
    for op in old.ops[:-1]:
        if op is plan.fill and not plan.keep_fill:
            continue
        new = clone_op(op, mapping)
        if op.name in ("load", "store"):
            new.attrs["inbounds"] = True
        body.append(new)
    value = mapping.get(plan.fill.operands[0], plan.fill.operands[0])
    ib = Builder(body, loc=first.loc)
    if lag:
        ib.store(body.args[1], plan.base, _plus(ib, body.args[0], plan.start - 1), inbounds=True)
        ib.emit("yield", value)
        start = b.load(plan.base, _plus(b, lo, plan.start - 1), inbounds=True)
        loop = b.block.append(Op("for", [lo, hi, step, start], [start.type], first.attrs, [Region([body])],
                                 first.loc))
        b.store(loop.result, plan.base, _plus(b, hi, plan.start - 1), inbounds=True)
    else:
        ib.store(value, plan.base, _plus(ib, body.args[0], plan.start), inbounds=True)
        ib.emit("yield")
        b.block.append(Op("for", [lo, hi, step], [], first.attrs, [Region([body])], first.loc))


def _plus(b: Builder, v: Value, c: int) -> Value:
    return v if c == 0 else b.add(v, b.const(c, I64))
