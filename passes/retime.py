"""Retime order-free accumulations at constant offsets (a stencil's adjoint) so the loop vectorizes.

Reverse mode turns a stencil's reads `u[i - 1], u[i], u[i + 1]` into
accumulations `du[i + c] += e_c(i)` at several offsets c. Each iteration
then writes elements the next one reads, a memory dependence that keeps
the loop scalar. This pass makes iteration i finish one element instead:

    du[i + cmin] += e_cmin(i) + sum over c > cmin of e_c(i - (c - cmin))

carrying each e_c through `c - cmin` loop-carried registers (first-order
recurrences, which LLVM vectorizes), and adds what the registers still
hold to the last `cmax - cmin` elements after the loop.

Invariants (a loop is rewritten only when all hold):
- The loop is a `for` with constant step 1; the array `D` is private and
  the loop touches it only through accumulations (`accumulations.py`
  defines both), each indexed by i + c on one axis and by loop-invariant
  values on the others. Accumulations with the same axis and the same
  other indices (a row: `dv[r, j - 1]`, `dv[r, j + 1]`) are retimed
  together when their offsets are distinct and there are two or more;
  the other rows (`dv[r - 1, j]`) stay as they are.
- The rewrite touches only elements between the lowest and the highest
  the loop touched (so `inbounds` stays true) and adds each contribution
  exactly once; registers start at -0.0, which adds nothing (x + -0.0 is
  x, signed zeros included). Only the order of the sums changes, which
  `reassoc` allows.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import Block, Builder, Func, Op, Value
from .accumulations import (Accumulation, PrivateMemory, accumulate, accumulations, by_array, emit_if,
                            ran, rewrite_loops, sum_terms, with_carried, without)
from .driver import DEFAULT_OPTIONS, PassOptions, register
from .rewrite import ValueMap, const_value, iv_offset, values_defined_in

MAX_SPAN = 8            # registers per accumulated array: cmax - cmin


@dataclass
class Shifted(Accumulation):
    """An accumulation whose index on `axis` is the loop variable plus `offset`."""

    axis: int
    offset: int


@dataclass
class Group:
    """The accumulations into one array, ordered by offset."""

    items: list

    @property
    def array(self) -> Value:
        return self.items[0].array

    @property
    def axis(self) -> int:
        return self.items[0].axis

    @property
    def index(self) -> list:
        return self.items[0].index

    @property
    def dtype(self):
        return self.items[0].load.results[0].type

    @property
    def cmin(self) -> int:
        return self.items[0].offset

    def depth(self, acc: Accumulation) -> int:
        return acc.offset - self.cmin


@register("retime-accumulations")
def retime_accumulations(func: Func, options: PassOptions = DEFAULT_OPTIONS) -> Func:
    return rewrite_loops(func, options, _retime_loop)


def _retime_loop(loop: Op, memory: PrivateMemory, vmap: ValueMap) -> list[Op] | None:
    groups = _groups(loop, memory)
    return _rewrite(loop, groups, vmap) if groups else None


# ---- finding the accumulations ----------------------------------------------------------

def _groups(loop: Op, memory: PrivateMemory) -> list[Group]:
    if const_value(loop.operands[2]) != 1:
        return []
    iv = loop.regions[0].block.args[0]
    inside = values_defined_in(loop)
    groups = []
    for array, accs in by_array(accumulations(loop)).items():
        shifted = [_shifted_access(acc, iv, inside) for acc in accs]
        if None in shifted or not memory.only_through(loop, array, accs):
            continue
        rows: dict = {}
        for a in shifted:
            rows.setdefault((a.axis, *(v for k, v in enumerate(a.index) if k != a.axis)), []).append(a)
        groups.extend(g for g in map(_group, rows.values()) if g is not None)
    return groups


def _shifted_access(acc: Accumulation, iv: Value, inside: set) -> Shifted | None:
    """acc as a `Shifted` when exactly one index varies in the loop, as iv + a constant."""
    varying = [(axis, iv_offset(v, iv)) for axis, v in enumerate(acc.index) if v in inside]
    if len(varying) != 1 or varying[0][1] is None:
        return None
    return Shifted(*acc.ops, *varying[0])


def _group(row) -> Group | None:
    """A row's accumulations (one axis, the same other indices), when there are two or more, at
    distinct offsets no more than MAX_SPAN apart."""
    items = sorted(row, key=lambda a: a.offset)
    offsets = [a.offset for a in items]
    if len(items) < 2 or len(set(offsets)) != len(offsets) or offsets[-1] - offsets[0] > MAX_SPAN:
        return None
    return Group(items)


# ---- the rewrite ----------------------------------------------------------------------------

def _rewrite(loop: Op, groups: list[Group], vmap: ValueMap) -> list[Op]:
    """The new loop (with the registers as extra carried values) and the epilogue ops."""
    body, yield_op = without(loop, {id(op) for g in groups for a in g.items for op in a.ops})
    b = Builder(body, loc=loop.loc)
    nexts = []
    for g in groups:        # register j of acc holds its contribution from j iterations ago
        chains = [[body.add_arg(g.dtype) for _ in range(g.depth(acc))] for acc in g.items]
        for acc, chain in zip(g.items, chains):
            nexts.extend([acc.contribution, *chain[:-1]] if chain else [])
        terms = [chain[-1] if chain else acc.contribution for acc, chain in zip(g.items, chains)]
        accumulate(b, g.array, g.index, sum_terms(b, terms))        # the element iv + cmin
    b.emit("yield", *yield_op.operands, *nexts, loc=yield_op.loc)

    outer = Block()
    ob = Builder(outer, loc=loop.loc)
    zeros = [z for g in groups for z in [ob.const(-0.0, g.dtype)] * sum(map(g.depth, g.items))]
    new_loop = with_carried(loop, zeros)
    outer.append(new_loop)
    for old, new in zip(loop.results, new_loop.results):
        vmap.replace(old, new)
    finals = iter(new_loop.results[len(loop.results):])
    last = {(id(acc), j): next(finals) for g in groups for acc in g.items for j in range(1, g.depth(acc) + 1)}
    emit_if(ob, ran(ob, new_loop), lambda tb: _epilogue(tb, new_loop, groups, last))
    return outer.ops


def _epilogue(b: Builder, loop: Op, groups: list[Group], last: dict) -> None:
    """After a loop that ran: element hi + cmin + t gets the registers of depth > t."""
    hi = loop.operands[1]
    for g in groups:
        for t in range(g.items[-1].offset - g.cmin):
            terms = [last[(id(acc), g.depth(acc) - t)] for acc in g.items if g.depth(acc) > t]
            index = list(g.index)
            index[g.axis] = _shifted(b, hi, g.cmin + t)
            accumulate(b, g.array, index, sum_terms(b, terms))


def _shifted(b: Builder, base: Value, c: int) -> Value:
    return base if c == 0 else b.add(base, b.const(c, base.type))
