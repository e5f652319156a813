"""How the reverse sweep obtains the primal values its derivative rules read.

`PrimalValues` is the part of `passes/reverse.py`'s `Reverser` that answers
`primal(v)`: the value v had when the forward sweep computed it, available
where the reverse sweep is building code.
- Values of the function's top-level block: directly; the forward sweep
  defined them and they dominate the reverse sweep.
- Inside loops and branches, cheapest first: recomputed when pure and
  recomputing costs at most one new tape (values taped anyway are free:
  `reverse` builds twice when that helps); integers a `for` loop steps by an
  invariant amount are recomputed from the induction variable; re-loaded
  when no store may overwrite the location after the load; a load that
  reads the same location in every iteration of its loop is taped once per
  entry into the loop; otherwise popped from a tape that the forward sweep
  pushes the value onto. Every tape is a separate stack, so pushes and pops
  pair up whatever the nesting.
- An integer a `for` loop carries as `v + step`, where step does not depend
  on v (a counter bumped by a varying amount, or by an inner loop's trip
  count), is recovered backwards instead of taped: the reverse loop carries
  the loop's final value and subtracts each iteration's step (integers wrap,
  so the subtraction undoes the addition exactly).
- A loop nest that reads an array the code after it overwrites gets a
  snapshot of the array as the nest starts: taped element by element, or,
  when the last writer before the nest is a loop filling every element from
  loads nothing overwrites, refilled by running that fill again. A load
  that a later sibling loop's snapshot also holds (no write in between)
  reads the snapshot instead of a tape.
- Arrays are never taped: an array's extents are (`extent`).

Invariant: a value obtained here equals the forward sweep's value at the
matching iteration; nothing here reads memory that may have changed since.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import UnsupportedError
from ..ir import Block, BlockArg, Builder, Func, Op, OpResult, Region, Value
from ..types import I64, TapeType
from .activity import Activity, defining_block, written_array
from .rewrite import const_value

@dataclass
class Context:
    """The reverse code of one primal block, and the primal values it has obtained there."""

    block: Block
    b: Builder
    cache: dict = field(default_factory=dict)
    shadows: dict = field(default_factory=dict)
    recovered: list = field(default_factory=list)   # [(carried index, value this iteration)]


class PrimalValues:
    """Mixin for `Reverser`: expects source, act, fwd, grad, top, top_block, contexts,
    extra_defs, reload_ok, tapes, reverse_start, extents, hoisted, free, taped_leaves and
    taped_others (see Reverser.__init__)."""

    def context_of(self, block) -> Context:
        return self.top if block is self.top_block else self.contexts[block]

    def primal(self, v: Value) -> Value:
        if v in self.extra_defs:
            block, fwd_value = self.extra_defs[v]
            if block is self.top_block:
                return fwd_value
            ctx = self.context_of(block)
            if v not in ctx.cache:
                ctx.cache[v] = self.tape(fwd_value, ctx)
            return ctx.cache[v]
        block = defining_block(v)
        if block is self.top_block:
            return self.fwd[v]
        ctx = self.context_of(block)
        if v not in ctx.cache:
            ctx.cache[v] = self.obtain(v, ctx)
        return ctx.cache[v]

    def recomputable(self, op: Op) -> bool:
        return (op.opdef.pure and not op.regions) or op.name == "dim" or op.opdef.is_view \
            or (op.name == "load" and op in self.reload_ok)

    def tapes_to_recompute(self, v: Value, limit: int, seen=None) -> set:
        """The values that recomputing v would have to tape (stops counting past limit)."""
        seen = set() if seen is None else seen
        if v in seen or defining_block(v) is self.top_block or v in self.extra_defs:
            return set()
        seen.add(v)
        if v in self.free or v in self.context_of(defining_block(v)).cache:
            return set()
        if v.type.is_array and (isinstance(v, BlockArg) or not self.recomputable(v.op)):
            return {v, ("untapeable", v)}          # arrays are never taped: too costly
        if isinstance(v, BlockArg):
            return {v}
        if not self.recomputable(v.op):
            snapshotted = self.snapshot_loop(v.op) is not None or self.sibling_snapshot(v.op) is not None
            return set() if snapshotted else {v}
        if v.op.name == "dim":
            return self.extent_tapes(v.op.operands[0], v.op.attrs["axis"], limit, seen)
        needed: set = set()
        for x in v.op.operands:
            needed |= self.tapes_to_recompute(x, limit, seen)
            if len(needed) > limit:
                break
        return needed

    def extent_tapes(self, array: Value, axis: int, limit: int, seen: set) -> set:
        """What `extent(array, axis)` would tape."""
        if defining_block(array) is self.top_block:
            return set()
        if isinstance(array, OpResult) and array.op.name == "alloc":
            return self.tapes_to_recompute(array.op.operands[axis], limit, seen)
        if isinstance(array, OpResult) and array.op.opdef.is_view and not self.tapes_to_recompute(array, 0):
            return set()
        return {(array, axis)}

    def obtain(self, v: Value, ctx: Context) -> Value:
        """Recompute v when that costs at most one tape, else tape v itself."""
        if isinstance(v, BlockArg):
            induction = self.induction(v, ctx)
            if induction is not None:
                return induction
            recovered = self.recover_backwards(v, ctx)
            if recovered is not None:
                return recovered
            self.taped_leaves.add(v)
            return self.tape(self.fwd[v], ctx)
        op = v.op
        if op.name == "dim":
            return self.extent(op.operands[0], op.attrs["axis"], ctx)
        if op.opdef.expensive:
            stored = self.stored_copy(v)
            if stored is not None:
                array, idx = stored
                return ctx.b.load(self.primal(array), *[self.primal(i) for i in idx])
        if not self.recomputable(op) or len(self.tapes_to_recompute(v, 1)) > 1:
            snapshot = self.snapshot_loop(op)
            if snapshot is not None:
                copy = self.restored(op.operands[0], snapshot)
                return ctx.b.load(copy, *[self.primal(i) for i in op.operands[1:]])
            copy = self.sibling_snapshot(op)
            if copy is not None:
                return ctx.b.load(copy, *[self.primal(i) for i in op.operands[1:]])
            loop = self.invariant_loop(op)
            if loop is not None:
                return self.primal(self.hoisted_load(op, loop))
            (self.taped_others if self.recomputable(op) else self.taped_leaves).add(v)
            return self.tape(self.fwd[v], ctx)
        operands = [self.primal(x) for x in op.operands]
        new = Op(op.name, operands, [r.type for r in op.results], op.attrs, loc=op.loc,
                 hints=[r.hint for r in op.results])
        ctx.b.block.append(new)
        return new.results[op.results.index(v)]

    def stored_copy(self, v: Value):
        """(array, indices) where the forward sweep stored v and nothing overwrites it later,
        so re-loading it is cheaper than recomputing a transcendental function; else None.
        Each loop around the store, up to the array's block, must index by its own
        induction variable (every iteration stores to a different element)."""
        order, loops, writes = self.ordering()
        if any(op.name == "call" for op in order):      # a callee may write anything
            return None
        for store in v.op.parent.ops:
            if store.name != "store" or store.operands[0] is not v:
                continue
            array, idx = store.operands[1], store.operands[2:]
            if self.tapes_to_recompute(array, 0) or any(self.tapes_to_recompute(i, 0) for i in idx):
                continue
            home, block, ivs = defining_block(root_array(array)), store.parent, set()
            while block is not home and block is not self.top_block:
                owner = block.parent.parent
                if owner.name != "for":
                    break
                ivs.add(owner.regions[0].block.args[0])
                block = owner.parent
            if block is not home or not ivs <= set(idx):
                continue
            cls = self.act.cls(array)
            if any(c is cls and w is not store and (order[w] > order[store] or loops[w] & loops[store])
                   for w, c in writes):
                continue
            return array, idx
        return None

    def ordering(self):
        """`program_order` of the source, computed once."""
        if self.order is None:
            self.order = program_order(self.source, self.act)
        return self.order

    def induction(self, v: BlockArg, ctx: Context) -> Value | None:
        """v recomputed from the induction variable, when v is an integer its `for` loop
        steps by a loop-invariant amount: init + (iv - lo) // step * amount."""
        block = v.block
        loop = block.parent.parent if block.parent is not None else None
        if loop is None or loop.name != "for" or v.index == 0 or not v.type.is_int:
            return None
        y = block.terminator.operands[v.index - 1]
        if not (isinstance(y, OpResult) and y.op.name == "add" and y.op.parent is block and v in y.op.operands):
            return None
        amount = y.op.operands[1] if y.op.operands[0] is v else y.op.operands[0]
        if amount is v or encloses(loop, defining_block(amount)):
            return None
        b = ctx.b
        lo, step, init = (self.primal(x) for x in (loop.operands[0], loop.operands[2], loop.operands[2 + v.index]))
        trips_before = b.floordiv(b.sub(self.primal(block.args[0]), lo), step)
        return b.add(init, b.mul(trips_before, self.primal(amount)))

    def recover_backwards(self, v: BlockArg, ctx: Context) -> Value | None:
        """v in this iteration as (v after it) - step, for an integer its `for` loop carries as
        v + step with step independent of v. The reverse loop carries v after each iteration,
        from the loop's result down (`reverse_for` adds the initial value and the yield)."""
        step = carried_step(v)
        if step is None or ctx.b.block.parent is not None:     # the reverse body is complete
            return None
        value = ctx.b.sub(ctx.b.block.add_arg(v.type, v.hint), step(self.primal, ctx.b))
        ctx.recovered.append((v.index - 1, value))
        return value

    def sibling_snapshot(self, load: Op) -> Value | None:
        """The restored snapshot of load's array taken when a later loop in the same block as
        load's innermost loop started, if the reverse sweep made one (it reverses that loop
        first) and nothing writes the array from load's loop up to it: the snapshot then holds
        what the load read, in the matching iteration of every enclosing loop."""
        array = load.operands[0]
        if load.name != "load" or defining_block(array) is not self.top_block:
            return None
        block, own = load.parent, None
        while block is not self.top_block and own is None:
            op = block.parent.parent
            own, block = (op if op.name in ("for", "while") else None), op.parent
        ctx = None if own is None else self.top if own.parent is self.top_block else self.contexts.get(own.parent)
        if ctx is None:
            return None
        cls, ops = self.act.cls(array), own.parent.ops
        if self.writes(own, cls):
            return None
        for later in ops[ops.index(own) + 1:]:
            copy = ctx.cache.get(("snapshot", array, later))
            if copy is not None or self.writes(later, cls):
                return copy
        return None

    def writes(self, op: Op, cls) -> bool:
        """May op (or an op nested in it) write memory of alias class cls? Calls may."""
        return any(o.name == "call" or self.writes_directly(o, cls) for o in op.walk())

    def writes_directly(self, op: Op, cls) -> bool:
        return written_array(op) is not None and self.act.cls(written_array(op)) is cls

    def invariant_loop(self, load: Op) -> Op | None:
        """The `for` loop whose body holds `load` directly, if the load reads the same
        location in every iteration (operands from outside, no write to its array inside)."""
        block = load.parent
        loop = block.parent.parent if block.parent is not None else None
        if load.name != "load" or loop is None or loop.name != "for" \
                or any(encloses(loop, defining_block(x)) for x in load.operands):
            return None
        return None if self.writes(loop, self.act.cls(load.operands[0])) else loop

    def hoisted_load(self, load: Op, loop: Op) -> Value:
        """A stand-in for an invariant load, defined before its loop in the forward sweep (as
        `if trips > 0 { load } else { 0 }`, so a loop that never runs reads nothing): it is
        obtained once per entry into the loop instead of once per iteration."""
        if load in self.hoisted:
            return self.hoisted[load]
        t = load.results[0].type
        then, otherwise = Block(), Block()
        fetched = then.append(Op("load", [self.fwd[x] for x in load.operands], [t], load.attrs, loc=load.loc))
        Builder(then).emit("yield", fetched.result)
        Builder(otherwise).emit("yield", Builder(otherwise).const(0, t) if t.is_int else
                                Builder(otherwise).const(0.0, t))
        f_loop = self.fwd_ops[loop]
        scratch = Block()
        b = Builder(scratch, loc=load.loc)
        runs = b.gt(trip_count(b, *[self.fwd[x] for x in loop.operands[:3]]), b.const(0, I64))
        value = b.emit("if", runs, regions=[Region([then]), Region([otherwise])], types=(t,))
        self.insert_forward(f_loop, scratch.ops)
        marker = Value(t, load.results[0].hint)
        self.extra_defs[marker] = (loop.parent, value)
        self.hoisted[load] = marker
        return marker

    def insert_forward(self, anchor: Op, ops) -> None:
        """Insert ops into the forward sweep just before anchor."""
        parent = anchor.parent
        at = parent.ops.index(anchor)
        for k, op in enumerate(ops):
            op.parent = parent
            parent.ops.insert(at + k, op)
        if parent is self.grad.body.block:
            self.reverse_start += len(ops)

    def tape(self, fwd_value: Value, ctx: Context) -> Value:
        """Push fwd_value in the forward sweep each time it is defined; pop it here."""
        if not fwd_value.type.is_scalar:
            raise UnsupportedError("reverse mode cannot cache an array allocated inside a loop",
                                   getattr(getattr(fwd_value, "op", None), "loc", None),
                                   "allocate scratch arrays before the loop")
        top = self.grad.body.block
        tape = self.new_tape(fwd_value.type)
        push = Op("tape_push", [tape, fwd_value], [])
        insert_after_definition(fwd_value, push)
        self.reserve_at_loop_entry(tape, fwd_value)
        self.reverse_start += fwd_value_is_top(fwd_value, top)
        return ctx.b.emit("tape_pop", tape)

    def new_tape(self, element) -> Value:
        """A tape created at the start of the gradient, rewound where the reverse sweep starts
        (and freed at its end, by `build`)."""
        t_type = TapeType(element)
        new = Op("tape_new", [], [t_type], {"type": t_type}, hints=["tape"])
        top = self.grad.body.block
        new.parent = top
        top.ops.insert(0, new)
        self.reverse_start += 1
        self.tapes.append(new.result)
        rewind = Op("tape_rewind", [new.result], [])
        rewind.parent = top
        top.ops.insert(self.reverse_start, rewind)
        self.reverse_start += 1
        return new.result

    # ---- array snapshots: a loop nest reading an array the code after it overwrites ----
    def snapshot_loop(self, load: Op) -> Op | None:
        """The outermost loop around `load` that writes nothing to its array, if the load
        sits in a loop nested inside it (a loop nest reads the array many times per element):
        snapshotting the array once per entry into that loop beats taping every read."""
        array = load.operands[0]
        if load.name != "load" or defining_block(array) is not self.top_block:
            return None
        cls, chosen, depth = self.act.cls(array), None, 0
        block = load.parent
        while block is not self.top_block:
            op = block.parent.parent
            if op.name in ("for", "while"):
                if self.writes(op, cls):
                    break
                chosen, depth = op, depth + 1
            block = op.parent
        return chosen if depth >= 2 else None

    def restored(self, array: Value, loop: Op) -> Value:
        """A scratch array holding `array` as it was when `loop` started (in the matching
        iteration). When a loop just before filled every element from arrays nothing
        overwrites, the reverse sweep runs that fill again (`refill`); otherwise the forward
        sweep pushes every element on entry to the loop and the reverse sweep pops them back,
        just before reversing the loop."""
        ctx = self.context_of(loop.parent)
        key = ("snapshot", array, loop)
        if key in ctx.cache:
            return ctx.cache[key]
        t = array.type
        source = self.fwd[array]
        top = self.top.b
        copy = top.alloc(*[top.dim(source, axis=k) for k in range(t.ndim)], type=t.with_layout("C"))
        extents = [ctx.b.dim(copy, axis=k) for k in range(t.ndim)]
        fill = self.refill(array, loop)
        if fill is not None:          # over the fill's own range: fuse-loops may join it to a neighbour
            extent, element = fill
            element_loop(ctx.b, [self.primal(extent)], lambda eb, idx: eb.store(element(eb, idx[0]), copy, *idx))
        else:
            tape = self.new_tape(t.dtype)
            scratch = Block()
            b = Builder(scratch, loc=loop.loc)
            forward_extents = [b.dim(source, axis=k) for k in range(t.ndim)]
            size = b.const(1, I64)
            for e in forward_extents:
                size = b.mul(size, e)
            b.emit("tape_reserve", tape, size)
            element_loop(b, forward_extents, lambda eb, idx: eb.emit("tape_push", tape, eb.load(source, *idx)))
            self.insert_forward(self.fwd_ops[loop], scratch.ops)
            element_loop(ctx.b, extents, lambda eb, idx: eb.store(eb.emit("tape_pop", tape), copy, *idx),
                         backwards=True)
        ctx.cache[key] = copy
        return copy

    def refill(self, array: Value, loop: Op):
        """(extent, function (builder, index) -> the element `array` holds when `loop` starts)
        when the last writer before it is a `for` over the whole (1-D) array, in the same block,
        that stores at [iv] a value computed by pure ops from loads nothing overwrites; else None."""
        ops, cls = loop.parent.ops, self.act.cls(array)
        fill = next((o for o in reversed(ops[:ops.index(loop)]) if self.writes(o, cls)), None)
        if fill is None or fill.name != "for" or fill.results or array.type.ndim != 1 \
                or not _covers(fill, array):
            return None
        body = fill.regions[0].block
        iv = body.args[0]
        stores = [o for o in fill.walk() if self.writes_directly(o, cls)]
        if len(stores) != 1 or stores[0].name != "store" or stores[0].parent is not body \
                or stores[0].operands[1] is not array or stores[0].operands[2:] != [iv]:
            return None
        inside = [o for o in body.ops if o is not stores[0] and o.name != "yield"]
        if any(o.regions or o.name == "call" or not (o.opdef.pure or o in self.reload_ok) for o in inside):
            return None

        def element(b: Builder, index: Value) -> Value:
            mapped = {iv: index}
            for o in inside:
                operands = [mapped[x] if x in mapped else self.primal(x) for x in o.operands]
                new = b.block.append(Op(o.name, operands, [r.type for r in o.results], o.attrs, loc=o.loc))
                mapped.update(zip(o.results, new.results))
            value = stores[0].operands[0]
            return mapped[value] if value in mapped else self.primal(value)
        return fill.operands[1], element

    def reserve_at_loop_entry(self, tape: Value, fwd_value: Value):
        """Size the tape for a `for` loop's trip count when the loop starts, if its body
        defines the value directly."""
        block = fwd_value.block if isinstance(fwd_value, BlockArg) else fwd_value.op.parent
        loop = block.parent.parent if block.parent is not None else None
        if loop is None or loop.name != "for" or loop.parent is None:
            return
        scratch = Block()
        b = Builder(scratch)
        b.emit("tape_reserve", tape, trip_count(b, *loop.operands[:3]))
        self.insert_forward(loop, scratch.ops)

    def extent(self, array: Value, axis: int, ctx: Context | None = None) -> Value:
        """array's extent along axis, in the reverse sweep, without needing the array itself
        where it lives inside a loop or branch (arrays are never taped; their extents are)."""
        if defining_block(array) is self.top_block:
            return (ctx or self.ctx).b.dim(self.fwd[array], axis=axis)
        known = self.contexts.get(defining_block(array))
        if known is not None and array in known.cache:
            return (ctx or self.ctx).b.dim(known.cache[array], axis=axis)
        if isinstance(array, OpResult) and array.op.name == "alloc":
            return self.primal(array.op.operands[axis])
        if isinstance(array, OpResult) and array.op.opdef.is_view and not self.tapes_to_recompute(array, 0):
            return (ctx or self.ctx).b.dim(self.primal(array), axis=axis)
        key = (array, axis)
        if key not in self.extents:
            fwd = self.fwd[array]
            dim = Op("dim", [fwd], [I64], {"axis": axis}, loc=getattr(fwd, "op", None) and fwd.op.loc)
            insert_after_definition(fwd, dim)
            marker = Value(I64, "extent")
            self.extra_defs[marker] = (defining_block(array), dim.result)
            self.extents[key] = marker
        return self.primal(self.extents[key])


# ---- helpers -----------------------------------------------------------------------

def carried_step(v: BlockArg):
    """For an integer its `for` loop carries as v + step, with step not computed from v: a
    function (primal, builder) -> step in the reverse sweep; else None. The step is an amount
    added (or subtracted) in the body, or an inner `for` loop's trip count times the invariant
    amount that loop adds to its own carried copy of v."""
    block = v.block
    loop = block.parent.parent if block.parent is not None else None
    if loop is None or loop.name != "for" or v.index == 0 or not v.type.is_int:
        return None
    y = block.terminator.operands[v.index - 1]
    if not isinstance(y, OpResult) or y.op.parent is not block:
        return None
    if y.op.name in ("add", "sub") and v in y.op.operands:
        amount = y.op.operands[1] if y.op.operands[0] is v else y.op.operands[0]
        if amount is v or (y.op.name == "sub" and y.op.operands[0] is not v) or depends_on(amount, v, loop):
            return None
        if y.op.name == "sub":
            return lambda primal, b: b.neg(primal(amount))
        return lambda primal, b: primal(amount)
    inner = y.op
    k = inner.results.index(y) if inner.name == "for" else -1
    if k < 0 or inner.operands[3 + k] is not v or any(depends_on(x, v, loop) for x in inner.operands[:3]):
        return None
    w = inner.regions[0].block.args[1 + k]
    bumped = inner.regions[0].block.terminator.operands[k]
    if not (isinstance(bumped, OpResult) and bumped.op.name == "add" and w in bumped.op.operands
            and bumped.op.parent is w.block):
        return None
    amount = bumped.op.operands[1] if bumped.op.operands[0] is w else bumped.op.operands[0]
    if encloses(inner, defining_block(amount)) or depends_on(amount, v, loop):
        return None
    return lambda primal, b: b.mul(trip_count(b, *[primal(x) for x in inner.operands[:3]]), primal(amount))


def depends_on(x: Value, v: Value, loop: Op) -> bool:
    """Is x computed from v by ops inside loop?"""
    stack, seen = [x], set()
    while stack:
        x = stack.pop()
        if x is v:
            return True
        if x in seen or not encloses(loop, defining_block(x)):
            continue
        seen.add(x)
        if isinstance(x, BlockArg):
            if x.block is not v.block:
                return True          # another loop's carried value: unknown, assume it might
            continue
        stack.extend(x.op.operands)
    return False


def encloses(op: Op, block: Block) -> bool:
    """Is block nested (at any depth) in op's regions?"""
    while block is not None and block.parent is not None:
        owner = block.parent.parent
        if owner is op:
            return True
        block = owner.parent if owner is not None else None
    return False


def insert_after_definition(value: Value, new: Op):
    if isinstance(value, BlockArg):
        block, index = value.block, 0
    else:
        block = value.op.parent
        index = block.ops.index(value.op) + 1
    new.parent = block
    block.ops.insert(index, new)


def fwd_value_is_top(value: Value, top: Block) -> int:
    block = value.block if isinstance(value, BlockArg) else value.op.parent
    return 1 if block is top else 0


def trip_count(b: Builder, lo, hi, step) -> Value:
    """len(range(lo, hi, step)) for either sign of step: max((hi - lo + step - sign) // step, 0)."""
    zero, one = b.const(0, I64), b.const(1, I64)
    sign = b.select(b.gt(step, zero), one, b.neg(one))
    return b.max(b.floordiv(b.sub(b.add(b.sub(hi, lo), step), sign), step), zero)


def program_order(func: Func, act: Activity):
    """(position of each op in program order, the loops around it, [(writing op, alias class)])."""
    order, loops, writes = {}, {}, []

    def visit(block, enclosing):
        for op in block.ops:
            order[op] = len(order)
            loops[op] = enclosing
            if written_array(op) is not None:
                writes.append((op, act.cls(written_array(op))))
            inner = enclosing | {op} if op.name in ("for", "while") else enclosing
            for region in op.regions:
                visit(region.block, inner)
    visit(func.body.block, frozenset())
    return order, loops, writes


def reloadable_loads(func: Func, act: Activity) -> set:
    """Loads whose location no store can overwrite after they execute."""
    order, loops, writes = program_order(func, act)
    loop_allocs = {act.cls(op.result): op for op in order if op.name == "alloc" and loops[op]}
    ok = set()
    for op in order:
        if op.name != "load":
            continue
        cls = act.cls(op.operands[0])
        if cls in loop_allocs:
            continue
        clobbered = any(c is cls and (order[w] > order[op] or loops[w] & loops[op]) for w, c in writes)
        if not clobbered:
            ok.add(op)
    return ok


def root_array(v: Value) -> Value:
    """The array a chain of views selects from."""
    while isinstance(v, OpResult) and v.op.opdef.is_view:
        v = v.op.operands[0]
    return v


def _covers(loop: Op, array: Value) -> bool:
    """Does `for` loop run its variable over every index of 1-D `array`, 0 to its extent by 1?"""
    lo, hi, step = loop.operands[:3]
    extent = array.op.operands[0] if isinstance(array, OpResult) and array.op.name == "alloc" else None
    hi_is_extent = hi is extent or (isinstance(hi, OpResult) and hi.op.name == "dim"
                                    and hi.op.operands[0] is array and hi.op.attrs["axis"] == 0)
    return hi_is_extent and const_value(lo) == 0 and const_value(step) == 1


def element_loop(b: Builder, extents, body, backwards: bool = False) -> None:
    """A loop nest over every index of an array with these extents, in row-major order (or
    its reverse), calling body(builder, indices) innermost."""
    def nest(b, k, idx):
        if k == len(extents):
            body(b, idx)
            return
        block = Block([I64])
        inner = Builder(block, loc=b.loc)
        nest(inner, k + 1, idx + [block.args[0]])
        inner.emit("yield")
        zero, one = b.const(0, I64), b.const(1, I64)
        if backwards:
            b.emit("for", b.sub(extents[k], one), b.neg(one), b.neg(one), regions=[Region([block])])
        else:
            b.emit("for", zero, extents[k], one, regions=[Region([block])])
    nest(b, 0, [])
