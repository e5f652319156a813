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
- The loop is a `for` with constant step 1; the array `D` is defined
  outside it and is either fresh memory (`alloc`) or an argument named in
  the `noalias_args` option (a gradient's shadow), so no other array the
  loop touches can share its memory (`runtime/alias.py`'s roots).
- Every access to D in the loop is one of the accumulations: a top-level
  `load D[..., i + c, ...]` used only by an `add {reassoc}` (an order-free
  sum: reverse mode's shadow accumulation) used only by a `store` back to
  the same element, with distinct constant offsets c on one axis, the same
  loop-invariant indices on the others, float elements, `inbounds`.
- The rewrite touches only elements between the lowest and the highest
  the loop touched (so `inbounds` stays true) and adds each contribution
  exactly once; registers start at -0.0, which adds nothing (x + -0.0 is
  x, signed zeros included). Only the order of the sums changes, which
  `reassoc` allows.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import Block, Builder, Func, Op, Region, Value
from ..runtime.alias import array_roots
from .driver import DEFAULT_OPTIONS, PassOptions, register
from .rewrite import ValueMap, const_value

MAX_SPAN = 8            # registers per accumulated array: cmax - cmin


@dataclass
class Accumulation:
    load: Op
    add: Op
    store: Op
    offset: int

    @property
    def contribution(self) -> Value:
        a, b = self.add.operands
        return b if a is self.load.results[0] else a


@dataclass
class Group:
    """The accumulations into one array, ordered by offset."""

    array: Value
    axis: int
    index: list             # the indices of the lowest offset's access
    items: list

    @property
    def cmin(self) -> int:
        return self.items[0].offset

    def depth(self, acc: Accumulation) -> int:
        return acc.offset - self.cmin


@register("retime-accumulations")
def retime_accumulations(func: Func, options: PassOptions = DEFAULT_OPTIONS) -> Func:
    new = func.clone()
    roots = array_roots(new)
    private = _private_roots(new, roots, options.get("noalias_args", ()))
    vmap = ValueMap()
    _visit(new.body.block, roots, private, vmap)
    for op in new.walk():
        vmap.apply(op)
    return new


def _private_roots(func: Func, roots, noalias_args) -> set:
    """Roots no other root can alias: allocations and noalias arguments."""
    out = {("arg", k) for k in noalias_args}
    for op in func.walk():
        if op.name == "alloc":
            out.update(roots.get(op.results[0]) or ())
    return out


def _visit(block: Block, roots, private, vmap: ValueMap) -> None:
    ops = []
    for op in block.ops:
        for region in op.regions:
            for b in region.blocks:
                _visit(b, roots, private, vmap)
        groups = _groups(op, roots, private) if op.name == "for" else []
        if groups:
            ops.extend(_rewrite(op, groups, vmap))
        else:
            ops.append(op)
    block.ops = []
    for op in ops:
        block.append(op)


# ---- finding the accumulations ----------------------------------------------------------

def _groups(loop: Op, roots, private) -> list[Group]:
    if const_value(loop.operands[2]) != 1:
        return []
    body = loop.regions[0].block
    iv = body.args[0]
    inside = _defined_in(loop)
    found: dict = {}
    for op in body.ops:
        acc = _accumulation(op, iv, inside)
        if acc is not None:
            found.setdefault(acc[0].operands[1], []).append(acc)
    groups = []
    for array, accs in found.items():
        group = _group(array, accs)
        if group is not None and _isolated(loop, group, roots, private):
            groups.append(group)
    return groups


def _accumulation(load: Op, iv: Value, inside: set):
    """(store, axis, indices, Accumulation) when `load` starts `D[idx] = D[idx] + e {reassoc}`."""
    if load.name != "load" or not load.attrs.get("inbounds") or not load.results[0].type.is_float:
        return None
    add = _only_user(load.results[0], load.parent)
    if add is None or add.name != "add" or not add.attrs.get("reassoc"):
        return None
    store = _only_user(add.results[0], load.parent)
    if (store is None or store.name != "store" or store.operands[0] is not add.results[0]
            or store.operands[1] is not load.operands[0] or store.operands[2:] != load.operands[1:]
            or not store.attrs.get("inbounds")):
        return None
    if load.operands[0] in inside:
        return None
    varying = [(axis, _offset(v, iv)) for axis, v in enumerate(load.operands[1:]) if v in inside]
    if len(varying) != 1 or varying[0][1] is None:
        return None
    axis, offset = varying[0]
    return store, axis, load.operands[1:], Accumulation(load, add, store, offset)


def _offset(index: Value, iv: Value) -> int | None:
    """c when index is iv + c for a constant c."""
    if index is iv:
        return 0
    op = getattr(index, "op", None)
    if op is None or op.name not in ("add", "sub") or len(op.operands) != 2:
        return None
    x, y = op.operands
    if op.name == "add" and y is iv:
        x, y = y, x
    c = const_value(y)
    if x is not iv or c is None:
        return None
    return int(c) if op.name == "add" else -int(c)


def _group(array: Value, accs) -> Group | None:
    axes = {axis for _, axis, _, _ in accs}
    others = {tuple(v for k, v in enumerate(idx) if k != axis) for _, axis, idx, _ in accs}
    items = sorted((a for *_, a in accs), key=lambda a: a.offset)
    offsets = [a.offset for a in items]
    if (len(items) < 2 or len(axes) != 1 or len(others) != 1 or len(set(offsets)) != len(offsets)
            or offsets[-1] - offsets[0] > MAX_SPAN):
        return None
    lowest = next(idx for _, _, idx, a in accs if a is items[0])
    return Group(array, axes.pop(), list(lowest), items)


def _isolated(loop: Op, group: Group, roots, private) -> bool:
    """D is private memory, and the loop touches it only through the group's accumulations."""
    mine = roots.get(group.array)
    if not mine or not mine <= private:
        return False
    own = {id(op) for a in group.items for op in (a.load, a.add, a.store)}
    for op in loop.regions[0].walk():
        if id(op) in own:
            continue
        for v in op.operands:
            if not v.type.is_array:
                continue
            theirs = roots.get(v)
            if theirs is None or theirs & mine or op.name not in ("load", "store", "dim"):
                return False
    return True


def _only_user(v: Value, block: Block) -> Op | None:
    users = [op for op in block.ops for x in op.operands if x is v]
    nested = any(x is v for op in block.ops for r in op.regions for inner in r.walk()
                 for x in inner.operands)
    return users[0] if len(users) == 1 and not nested else None


def _defined_in(loop: Op) -> set:
    out = set()
    for op in loop.regions[0].walk():
        out.update(op.results)
    for region in [loop.regions[0], *[r for op in loop.regions[0].walk() for r in op.regions]]:
        for b in region.blocks:
            out.update(b.args)
    return out


# ---- the rewrite ----------------------------------------------------------------------------

def _rewrite(loop: Op, groups: list[Group], vmap: ValueMap) -> list[Op]:
    """The new loop (with the registers as extra carried values) and the epilogue ops."""
    body = loop.regions[0].block
    dead = {id(op) for g in groups for a in g.items for op in (a.load, a.add, a.store)}
    yield_op = body.ops[-1]
    kept = [op for op in body.ops[:-1] if id(op) not in dead]
    body.ops = []
    for op in kept:
        body.append(op)
    b = Builder(body, loc=loop.loc)
    nexts, registers = [], []
    iv = body.args[0]
    for g in groups:
        dtype = g.items[0].load.results[0].type
        regs = {}
        for acc in g.items:
            chain = [body.add_arg(dtype) for _ in range(g.depth(acc))]
            regs[id(acc)] = chain
            if chain:
                nexts.extend([acc.contribution, *chain[:-1]])
        total = None
        for acc in g.items:
            chain = regs[id(acc)]
            term = chain[-1] if chain else acc.contribution
            total = term if total is None else b.add(total, term, reassoc=True)
        _accumulate(b, g, _shifted(b, iv, g.cmin), total)
        registers.append((g, regs))
    b.emit("yield", *yield_op.operands, *nexts, loc=yield_op.loc)

    outer = Block()
    ob = Builder(outer, loc=loop.loc)
    zeros = []
    for g in groups:
        dtype = g.items[0].load.results[0].type
        zero = ob.const(-0.0, dtype)
        zeros.extend([zero] * sum(g.depth(a) for a in g.items))
    region = loop.regions[0]
    new_loop = Op("for", [*loop.operands, *zeros], [*[r.type for r in loop.results],
                                                     *[z.type for z in zeros]],
                  loop.attrs, [region], loop.loc, [r.hint for r in loop.results] + [None] * len(zeros))
    loop.regions = []
    outer.append(new_loop)
    for old, new in zip(loop.results, new_loop.results):
        vmap.replace(old, new)
    finals = iter(new_loop.results[len(loop.results):])
    _epilogue(ob, loop, registers, finals)
    return outer.ops


def _epilogue(b: Builder, loop: Op, registers, finals) -> None:
    """After a loop that ran: element hi + cmin + t gets the registers of depth > t."""
    lo, hi = loop.operands[:2]
    last = {}
    for g, regs in registers:
        for acc in g.items:
            for j in range(1, g.depth(acc) + 1):
                last[(id(acc), j)] = next(finals)
    then = Block()
    tb = Builder(then, loc=loop.loc)
    for g, regs in registers:
        span = g.items[-1].offset - g.cmin
        for t in range(span):
            total = None
            for acc in g.items:
                if g.depth(acc) > t:
                    term = last[(id(acc), g.depth(acc) - t)]
                    total = term if total is None else tb.add(total, term, reassoc=True)
            _accumulate(tb, g, _shifted(tb, hi, g.cmin + t), total)
    tb.emit("yield")
    b.emit("if", b.lt(lo, hi), regions=[Region([then]), Region([_empty_yield()])], types=())


def _empty_yield() -> Block:
    block = Block()
    Builder(block).emit("yield")
    return block


def _shifted(b: Builder, base: Value, c: int) -> Value:
    return base if c == 0 else b.add(base, b.const(c, base.type))


def _accumulate(b: Builder, g: Group, position: Value, total: Value) -> None:
    index = list(g.index)
    index[g.axis] = position
    old = b.load(g.array, *index, inbounds=True)
    b.store(b.add(old, total, reassoc=True), g.array, *index, inbounds=True)
