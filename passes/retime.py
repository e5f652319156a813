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
from .rewrite import ValueMap, const_value, values_defined_in

MAX_SPAN = 8            # registers per accumulated array: cmax - cmin


@dataclass
class Accumulation:
    """`D[index] = D[index] + contribution {reassoc}`, index[axis] = iv + offset."""

    load: Op
    add: Op
    store: Op
    axis: int
    offset: int

    @property
    def array(self) -> Value:
        return self.load.operands[0]

    @property
    def index(self) -> list:
        return self.load.operands[1:]

    @property
    def contribution(self) -> Value:
        a, b = self.add.operands
        return b if a is self.load.results[0] else a


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
    new = func.clone()
    roots = array_roots(new)
    noalias = {("arg", k) for k in options.get("noalias_args", ())}
    private = lambda root: root[0] == "alloc" or root in noalias   # nothing else aliases it
    vmap = ValueMap()
    _visit(new.body.block, roots, private, vmap)
    for op in new.walk():
        vmap.apply(op)
    return new


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
    inside = values_defined_in(loop)
    users: dict = {}
    for op in loop.regions[0].walk():
        for v in op.operands:
            users.setdefault(v, []).append(op)
    found: dict = {}
    for op in body.ops:
        acc = _accumulation(op, body, inside, users)
        if acc is not None:
            found.setdefault(acc.array, []).append(acc)
    groups = [_group(accs) for accs in found.values()]
    return [g for g in groups if g is not None and _isolated(loop, g, roots, private)]


def _accumulation(load: Op, body: Block, inside: set, users: dict) -> Accumulation | None:
    """The accumulation `load` starts, if it starts one."""
    def only_user(v):
        found = users.get(v, [])
        return found[0] if len(found) == 1 and found[0].parent is body else None

    if load.name != "load" or not load.attrs.get("inbounds") or not load.results[0].type.is_float:
        return None
    add = only_user(load.results[0])
    if add is None or add.name != "add" or not add.attrs.get("reassoc"):
        return None
    store = only_user(add.results[0])
    if (store is None or store.name != "store" or store.operands[0] is not add.results[0]
            or store.operands[1:] != load.operands or not store.attrs.get("inbounds")
            or load.operands[0] in inside):
        return None
    varying = [(axis, _offset(v, body.args[0])) for axis, v in enumerate(load.operands[1:]) if v in inside]
    if len(varying) != 1 or varying[0][1] is None:
        return None
    return Accumulation(load, add, store, *varying[0])


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


def _group(accs) -> Group | None:
    """The accumulations, when they share one axis and the other indices at distinct offsets."""
    items = sorted(accs, key=lambda a: a.offset)
    offsets = [a.offset for a in items]
    others = {tuple(v for k, v in enumerate(a.index) if k != a.axis) for a in items}
    if (len(items) < 2 or len({a.axis for a in items}) != 1 or len(others) != 1
            or len(set(offsets)) != len(offsets) or offsets[-1] - offsets[0] > MAX_SPAN):
        return None
    return Group(items)


def _isolated(loop: Op, group: Group, roots, private) -> bool:
    """D is private memory, and the loop touches it only through the group's accumulations."""
    mine = roots.get(group.array)
    if not mine or not all(private(r) for r in mine):
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
    nexts = []
    for g in groups:        # register j of acc holds its contribution from j iterations ago
        chains = [[body.add_arg(g.dtype) for _ in range(g.depth(acc))] for acc in g.items]
        for acc, chain in zip(g.items, chains):
            nexts.extend([acc.contribution, *chain[:-1]] if chain else [])
        terms = [chain[-1] if chain else acc.contribution for acc, chain in zip(g.items, chains)]
        _accumulate(b, g, g.index[g.axis], _sum(b, terms))        # the element iv + cmin
    b.emit("yield", *yield_op.operands, *nexts, loc=yield_op.loc)

    outer = Block()
    ob = Builder(outer, loc=loop.loc)
    zeros = [z for g in groups for z in [ob.const(-0.0, g.dtype)] * sum(map(g.depth, g.items))]
    new_loop = Op("for", [*loop.operands, *zeros], [*[r.type for r in loop.results], *[z.type for z in zeros]],
                  loop.attrs, loop.regions, loop.loc, [r.hint for r in loop.results] + [None] * len(zeros))
    loop.regions = []
    outer.append(new_loop)
    for old, new in zip(loop.results, new_loop.results):
        vmap.replace(old, new)
    _epilogue(ob, loop, groups, iter(new_loop.results[len(loop.results):]))
    return outer.ops


def _epilogue(b: Builder, loop: Op, groups: list[Group], finals) -> None:
    """After a loop that ran: element hi + cmin + t gets the registers of depth > t."""
    lo, hi = loop.operands[:2]
    last = {(id(acc), j): next(finals) for g in groups for acc in g.items for j in range(1, g.depth(acc) + 1)}
    then = Block()
    tb = Builder(then, loc=loop.loc)
    for g in groups:
        for t in range(g.items[-1].offset - g.cmin):
            terms = [last[(id(acc), g.depth(acc) - t)] for acc in g.items if g.depth(acc) > t]
            _accumulate(tb, g, _shifted(tb, hi, g.cmin + t), _sum(tb, terms))
    tb.emit("yield")
    b.emit("if", b.lt(lo, hi), regions=[Region([then]), Region([_empty_yield()])], types=())


def _sum(b: Builder, terms) -> Value:
    total = terms[0]
    for term in terms[1:]:
        total = b.add(total, term, reassoc=True)
    return total


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
