"""Counted loops, trip counts and phi groups shared by the lowerings.

Invariants:
- A trip count is an unsigned i64 equal to `len(range(lo, hi, step))`,
  computed without overflow for any i64 bounds (the difference of the
  bounds is taken as unsigned once it is known to be positive). Callers
  guarantee `step != 0` on the path that computes it.
- `counted_loop` runs k = 0 .. trip-1 in a guarded, rotated loop (the
  shape LLVM's vectorizer wants); values carried across iterations are
  phi groups, one phi per flattened component (`abi.flat_types`).
"""
from __future__ import annotations

from llvmlite import ir

from .abi import I64, flat_types, flatten, i64, unflatten


def trip_count(L, lo, hi, step) -> ir.Value:
    b = L.b
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


def counted_loop(L, trip, types, inits, body) -> list:
    """Run `body(k, carried) -> next carried` for k in [0, trip); return the final values."""
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
    b.cbranch(b.icmp_unsigned("<", k_next, trip), header, done)
    b.position_at_end(done)
    finals = phi_group(L, types, inits, pre)
    add_incoming(types, finals, nexts, latch)
    return group_values(L, types, finals)


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
