"""Order-free accumulations into private arrays: what the loop passes over them share.

Reverse mode adds each contribution to a shadow as `D[index] = D[index] + e
{reassoc}`: a sum whose order the program does not define. When a loop
touches an array only through such accumulations, the loop may add the
contributions in any order, and at any point of the loop, as long as each
is added exactly once to its element. `promote.py` and `retime.py` exploit
that; this module finds the accumulations and checks that nothing else in
the loop can see the array.

Invariants: an `Accumulation` is a `load` used only by an `add {reassoc}`
used only by a `store` of the same element, all three at the top level of
one loop body, on a float array defined outside the loop, `inbounds`.
An array is private when it is fresh memory (`alloc`) or an argument the
caller named in `noalias_args` (a gradient's shadow): no other array value
can share its memory (`runtime/alias.py`'s roots).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import Block, Builder, Op, Region, Value
from ..runtime.alias import array_roots
from .rewrite import ValueMap, const_value, values_defined_in


@dataclass
class Accumulation:
    """`D[index] = D[index] + contribution {reassoc}` in a loop body."""

    load: Op
    add: Op
    store: Op

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

    @property
    def ops(self) -> tuple:
        return self.load, self.add, self.store


class PrivateMemory:
    """Which array values of one function are private, and which may share memory (see the
    module docstring)."""

    def __init__(self, func, options):
        self.roots = array_roots(func)
        self.noalias = {("arg", k) for k in options.get("noalias_args", ())}

    def private(self, array: Value) -> bool:
        roots = self.roots.get(array)
        return bool(roots) and all(r[0] == "alloc" or r in self.noalias for r in roots)

    def may_share(self, a: Value, b: Value) -> bool:
        """a and b may share memory: unless their roots are known and disjoint and one side is
        private (two plain arguments may be the same array)."""
        ra, rb = self.roots.get(a), self.roots.get(b)
        if a is b or ra is None or rb is None or ra & rb:
            return True
        return not (self.private(a) or self.private(b))

    def only_through(self, loop: Op, array: Value, accs: list[Accumulation]) -> bool:
        """`array` is private, and `loop` touches its memory only through `accs`."""
        mine = self.roots.get(array)
        if not self.private(array):
            return False
        own = {id(op) for a in accs for op in a.ops}
        for op in loop.regions[0].walk():
            if id(op) in own:
                continue
            for v in op.operands:
                if not v.type.is_array:
                    continue
                theirs = self.roots.get(v)
                if theirs is None or theirs & mine or op.name not in ("load", "store", "dim"):
                    return False
        return True


def rewrite_loops(func, options, rewrite) -> object:
    """A copy of `func` in which every `for` loop, inner loops first, is replaced by the ops
    `rewrite(loop, memory, vmap)` returns (None: kept); `vmap` maps old loop results to new."""
    new = func.clone()
    memory = PrivateMemory(new, options)
    vmap = ValueMap()
    _visit(new.body.block, rewrite, memory, vmap)
    for op in new.walk():
        vmap.apply(op)
    return new


def _visit(block: Block, rewrite, memory: PrivateMemory, vmap: ValueMap) -> None:
    ops = []
    for op in block.ops:
        for region in op.regions:
            for b in region.blocks:
                _visit(b, rewrite, memory, vmap)
        replaced = rewrite(op, memory, vmap) if op.name == "for" else None
        ops.extend(replaced if replaced is not None else [op])
    block.ops = []
    for op in ops:
        block.append(op)


def accumulations(loop: Op) -> list[Accumulation]:
    """The accumulations at the top level of `loop`'s body, in program order."""
    body = loop.regions[0].block
    inside = values_defined_in(loop)
    users: dict = {}
    for op in loop.regions[0].walk():
        for v in op.operands:
            users.setdefault(v, []).append(op)

    def only_user(v):
        found = users.get(v, [])
        return found[0] if len(found) == 1 and found[0].parent is body else None

    found = []
    for load in body.ops:
        if load.name != "load" or not load.attrs.get("inbounds") or not load.results[0].type.is_float:
            continue
        add = only_user(load.results[0])
        if add is None or add.name != "add" or not add.attrs.get("reassoc"):
            continue
        store = only_user(add.results[0])
        if (store is not None and store.name == "store" and store.operands[0] is add.results[0]
                and store.operands[1:] == load.operands and store.attrs.get("inbounds")
                and load.operands[0] not in inside):
            found.append(Accumulation(load, add, store))
    return found


def by_array(accs: list[Accumulation]) -> dict:
    """Array -> its accumulations, in program order."""
    out: dict = {}
    for acc in accs:
        out.setdefault(acc.array, []).append(acc)
    return out


def without(loop: Op, dead: set) -> tuple[Block, Op]:
    """Empty the loop body but for the ops not in `dead` (ids) and its `yield`; return the body
    (to append to) and the removed yield."""
    body = loop.regions[0].block
    yield_op = body.ops[-1]
    kept = [op for op in body.ops[:-1] if id(op) not in dead]
    body.ops = []
    for op in kept:
        body.append(op)
    return body, yield_op


def with_carried(loop: Op, inits: list[Value]) -> Op:
    """A copy of `loop` that also carries `inits` (its body must already take and yield them);
    the old loop gives up its region."""
    new = Op("for", [*loop.operands, *inits], [*[r.type for r in loop.results], *[v.type for v in inits]],
             loop.attrs, loop.regions, loop.loc, [r.hint for r in loop.results] + [None] * len(inits))
    loop.regions = []
    return new


def step_sign(loop: Op) -> int:
    """1 or -1 for a `for` loop with a constant step going up or down, else 0."""
    step = const_value(loop.operands[2])
    return 0 if step is None or step == 0 else (1 if step > 0 else -1)


def ran(b: Builder, loop: Op) -> Value:
    """A condition true when `loop` (constant step) ran at least once."""
    lo, hi = loop.operands[:2]
    return b.lt(lo, hi) if step_sign(loop) > 0 else b.lt(hi, lo)


def emit_if(b: Builder, cond: Value, build_then) -> None:
    """`if cond { build_then(builder) }` with no results."""
    then, other = Block(), Block()
    tb = Builder(then, loc=b.loc)
    build_then(tb)
    tb.emit("yield")
    Builder(other).emit("yield")
    b.emit("if", cond, regions=[Region([then]), Region([other])], types=())


def sum_terms(b: Builder, terms) -> Value:
    total = terms[0]
    for term in terms[1:]:
        total = b.add(total, term, reassoc=True)
    return total


def accumulate(b: Builder, array: Value, index, total: Value) -> None:
    """`array[index] += total` as an order-free accumulation."""
    old = b.load(array, *index, inbounds=True)
    b.store(b.add(old, total, reassoc=True), array, *index, inbounds=True)
