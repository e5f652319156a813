"""Counted loops, trip counts and phi groups shared by the lowerings.

Invariants:
- A trip count is an unsigned i64 equal to `len(range(lo, hi, step))`,
  computed without overflow for any i64 bounds (the difference of the
  bounds is taken as unsigned once it is known to be positive). Callers
  guarantee `step != 0` on the path that computes it.
- `add`/`sub`/`mul` fold i64 constants (wrapping, as LLVM's `add` does)
  and identities; code built from them is the same as the unfolded
  builder's, only shorter.
- `counted_loop` runs k = 0 .. trip-1 in a guarded, rotated loop (the
  shape LLVM's vectorizer wants); values carried across iterations are
  phi groups, one phi per flattened component (`abi.flat_types`).
"""
from __future__ import annotations

from llvmlite import ir

from .abi import I64, flat_types, flatten, i64, unflatten


def constant(v) -> int | None:
    """The value of an i64 constant (None for anything else)."""
    return v.constant if isinstance(v, ir.Constant) and v.type == I64 and isinstance(v.constant, int) \
        else None


def _wrap(x: int) -> ir.Constant:
    return i64((x + 2**63) % 2**64 - 2**63)


def add(b, x, y) -> ir.Value:
    cx, cy = constant(x), constant(y)
    if cx is not None and cy is not None:
        return _wrap(cx + cy)
    if cx == 0:
        return y
    return x if cy == 0 else b.add(x, y)


def sub(b, x, y) -> ir.Value:
    cx, cy = constant(x), constant(y)
    if cx is not None and cy is not None:
        return _wrap(cx - cy)
    return x if cy == 0 else b.sub(x, y)


def mul(b, x, y) -> ir.Value:
    cx, cy = constant(x), constant(y)
    if cx is not None and cy is not None:
        return _wrap(cx * cy)
    if cx == 0 or cy == 0:
        return i64(0)
    if cx == 1:
        return y
    return x if cy == 1 else b.mul(x, y)


def trip_count(L, lo, hi, step) -> ir.Value:
    b = L.b
    s = constant(step)
    if s is not None and s != 0:                 # the usual case: a known step, one direction
        if constant(lo) is not None and constant(hi) is not None:
            return i64(len(range(constant(lo), constant(hi), s)))
        first, last = (lo, hi) if s > 0 else (hi, lo)
        distance = sub(b, last, first)
        trip = distance if abs(s) == 1 else add(b, b.udiv(sub(b, distance, i64(1)), i64(abs(s))), i64(1))
        return b.select(b.icmp_signed("<", first, last), trip, i64(0))
    up = b.icmp_signed(">", step, i64(0))
    nonempty = b.select(up, b.icmp_signed("<", lo, hi), b.icmp_signed(">", lo, hi))
    distance = b.select(up, b.sub(hi, lo), b.sub(lo, hi))
    magnitude = b.select(up, step, b.sub(i64(0), step))
    trip = b.add(b.udiv(b.sub(distance, i64(1)), magnitude), i64(1))
    return b.select(nonempty, trip, i64(0))


def phi_group(L, types, incoming, pred: ir.Block):
    """Phis for values of IR `types`, with `incoming` from `pred`; returns (phis, values).

    Must be called at the start of a block; values are built after all phis."""
    groups = []
    for t, v in zip(types, incoming):
        phis = [L.b.phi(ft) for ft in flat_types(t)]
        for p, fv in zip(phis, flatten(t, v)):
            p.add_incoming(fv, pred)
        groups.append(phis)
    return groups


def group_values(L, types, groups) -> list:
    return [unflatten(L.b, t, phis) for t, phis in zip(types, groups)]


def add_incoming(types, groups, values, pred: ir.Block) -> None:
    for t, phis, v in zip(types, groups, values):
        for p, fv in zip(phis, flatten(t, v)):
            p.add_incoming(fv, pred)


def counted_loop(L, trip, types, inits, body, interleave: int | None = None) -> list:
    """Run `body(k, carried) -> next carried` for k in [0, trip); return the final values.
    `interleave`: how many vector iterations the vectorizer should interleave (its choice if None)."""
    b = L.b
    pre = b.block
    header, done = L.new_block("loop"), L.new_block("loop.exit")
    b.cbranch(b.icmp_unsigned("!=", trip, i64(0)), header, done)
    b.position_at_end(header)
    k = b.phi(I64)
    k.add_incoming(i64(0), pre)
    groups = phi_group(L, types, inits, pre)
    nexts = body(k, group_values(L, types, groups))
    latch = b.block
    k_next = b.add(k, i64(1), flags=["nuw"])
    k.add_incoming(k_next, latch)
    add_incoming(types, groups, nexts, latch)
    back = b.cbranch(b.icmp_unsigned("<", k_next, trip), header, done)
    if interleave is not None:
        back.set_metadata("llvm.loop", _loop_id(L.ml.module, "llvm.loop.interleave.count", interleave))
    b.position_at_end(done)
    finals = phi_group(L, types, inits, pre)
    add_incoming(types, finals, nexts, latch)
    return group_values(L, types, finals)


def _loop_id(module: ir.Module, key: str, value: int):
    """A fresh loop ID (`!n = distinct !{!n, !{key, value}}`) for one loop's back edge."""
    loop_id = module.add_metadata([f"irad.loop.{len(module.metadata)}"])   # unique until rewritten
    loop_id.operands = (loop_id, module.add_metadata([ir.MetaDataString(module, key), ir.IntType(32)(value)]))
    return loop_id


def loop_nest(L, shape, body) -> None:
    """Call `body(indices)` for every index tuple of `shape`, row-major."""
    def level(depth, indices):
        if depth == len(shape):
            body(indices)
            return
        def step(k, carried):
            level(depth + 1, indices + [k])
            return []
        counted_loop(L, shape[depth], [], [], step)
    level(0, [])
