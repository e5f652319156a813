"""Reverse mode, Enzyme-style, on structured IR.

`reverse(func, active_args, dup_args, seeded_results)` returns a gradient
Func in combined mode: the augmented forward sweep (a copy of the primal
plus tape pushes and while-loop counters), then the reverse sweep, which
visits the primal's ops in reverse order and propagates adjoints.

Gradient Func signature: the primal arguments; one shadow array per
Duplicated argument (its contents on entry seed the argument's final
contents, on exit they hold the gradient of its initial contents, as in
Enzyme); one seed per seeded result (a scalar, or an array for an array
result). Results: the primal results, then one adjoint per Active argument.

How the reverse sweep gets a primal value it needs (`primal`): recomputed,
re-loaded or taped, cheapest first; see passes/primal_values.py. Nothing is
taped that no derivative rule asks for: linear code needs no primal values.

Memory: the rules live with the ops (irad/ops/memory.py): `load`
accumulates into the shadow; `store` reads and zeroes the shadow slot.
Shadows are created in the reverse sweep (zeroed) for arrays
allocated by the function; a view's shadow is the same view of the
source's shadow.

Invariant: the output verifies, and does not depend on any value the
reverse sweep could observe overwritten.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType

from ..errors import UnsupportedError
from ..ir import Block, BlockArg, Builder, Func, Op, OpResult, Region, Value, clone_op
from ..types import F32, F64, I64, ArrayType, TapeType
from .activity import Activity, defining_block, is_numeric, written_array
from .carried_arrays import home_carried_arrays
from .driver import PassOptions
from .primal_values import Context, PrimalValues, program_order, reloadable_loads, trip_count


def adjoint_type(t):
    """Adjoints of floats keep their type; integers take part as f64 reals."""
    return t if t.is_float else F64


def shadow_type(t: ArrayType, layout=None) -> ArrayType:
    return ArrayType(F32 if t.dtype == F32 else F64, t.ndim, layout or t.layout)


@dataclass
class GradientInfo:
    """How the gradient Func's parameters and results map to the primal's."""

    dup_args: list
    active_args: list
    seeded_results: list
    has_gradient: list            # per primal argument: does it get a gradient?
    n_results: int
    boundary: int = 0             # index of the first top-level op of the reverse sweep


class Reverser(PrimalValues):
    def __init__(self, func: Func, activity: Activity, dup_args, active_args, seeded_results,
                 free=frozenset()):
        self.source, self.act = func, activity
        self.dup_args, self.active_args, self.seeded = dup_args, active_args, seeded_results
        self.top_block = func.body.block
        self.contexts: dict = {}
        self.adj: dict = {}
        self.tapes: list = []
        self.extra_defs: dict = {}
        self.while_counts: dict = {}
        self.extents: dict = {}
        self.hoisted: dict = {}
        self.fwd_ops: dict = {}           # primal region op -> its forward-sweep copy
        self.perms: dict = {}             # for op -> permutation of its carried arrays, or None
        self.order = None                 # program_order of the source, computed when needed
        self.finals: dict = {}            # for op -> its permuted arrays after the loop
        self.free = free                  # primal values known to be taped: free to recompute from
        self.taped_leaves: set = set()    # taped values that cannot be recomputed
        self.taped_others: set = set()
        self.reload_ok = reloadable_loads(func, activity)

    # ---- building the gradient Func ----
    def build(self, name: str) -> tuple[Func, GradientInfo]:
        p = self.source
        ret = self.top_block.terminator
        shadow_params = [shadow_type(p.args[i].type) for i in self.dup_args]
        seed_params = [shadow_type(ret.operands[i].type, "C") if ret.operands[i].type.is_array
                       else adjoint_type(ret.operands[i].type) for i in self.seeded]
        arg_types = [a.type for a in p.args] + shadow_params + seed_params
        hints = [a.hint for a in p.args] + [f"d{p.args[i].hint or i}" for i in self.dup_args] \
            + [f"seed{k}" for k in range(len(self.seeded))]
        adjoint_results = [adjoint_type(p.args[i].type) for i in self.active_args]
        g = Func(name, arg_types, list(p.result_types) + adjoint_results, hints, p.loc)
        self.grad = g
        self.fwd = dict(zip(p.args, g.args))
        self.shadow_args = dict(zip([p.args[i] for i in self.dup_args], g.args[len(p.args):]))
        seeds = g.args[len(p.args) + len(self.dup_args):]
        self.forward_sweep()
        self.reverse_start = len(g.body.block.ops)
        top = Context(self.top_block, Builder(g.body.block))
        self.ctx = top
        self.top = top
        for i, seed in zip(self.seeded, seeds):
            self.seed_result(ret.operands[i], seed)
        self.reverse_ops(self.top_block)
        b = top.b
        adjoints = [self.adj.get(p.args[i]) or self.zero(p.args[i]) for i in self.active_args]
        for t in self.tapes:
            b.emit("tape_free", t)
        b.emit("return", *[self.fwd[v] for v in ret.operands], *adjoints, loc=ret.loc)
        mark_inbounds(g.body.block.ops[self.reverse_start:], seeds)
        has = [self.act.arg_is_active(i) and (i in self.dup_args or i in self.active_args)
               for i in range(len(p.args))]
        return g, GradientInfo(self.dup_args, self.active_args, self.seeded, has, len(p.result_types),
                               self.reverse_start)

    # ---- the forward sweep ----
    def forward_sweep(self):
        body = self.grad.body.block
        for op in self.top_block.ops[:-1]:
            new = body.append(clone_op(op, self.fwd))
            for p_op, f_op in zip(op.walk(), new.walk()):
                if p_op.regions:
                    self.fwd_ops[p_op] = f_op
                if p_op.name == "while" and self.has_active(p_op):
                    self.add_while_counter(p_op, f_op)

    def add_while_counter(self, p_op: Op, f_op: Op):
        """Count the iterations of a forward `while`; the reverse sweep runs that many."""
        before, after = f_op.regions[0].block, f_op.regions[1].block
        zero = Op("const", [], [I64], {"value": 0, "type": I64}, loc=f_op.loc)
        f_op.operands.append(zero.result)
        n_before, n_after = before.add_arg(I64, "n"), after.add_arg(I64, "n")
        before.terminator.operands.append(n_before)
        one = Op("const", [], [I64], {"value": 1, "type": I64}, loc=f_op.loc)
        inc = Op("add", [n_after, one.result], [I64], loc=f_op.loc)
        for new_op in (one, inc):
            new_op.parent = after
            after.ops.insert(len(after.ops) - 1, new_op)
        after.terminator.operands.append(inc.result)
        count = OpResult(I64, f_op, len(f_op.results), "trips")
        f_op.results.append(count)
        marker = Value(I64, "trips")
        self.extra_defs[marker] = (p_op.parent, count)
        self.while_counts[p_op] = marker
        zero.parent = f_op.parent
        f_op.parent.ops.insert(f_op.parent.ops.index(f_op), zero)

    def has_active(self, op: Op) -> bool:
        """Does op (or anything nested in it) compute an active value or write active memory?"""
        return any(any(self.act.active(r) for r in o.results)
                   or (written_array(o) is not None and self.act.active_memory(written_array(o)))
                   for o in op.walk())

    # ---- adjoints ----
    def zero(self, v: Value) -> Value:
        return self.ctx.b.const(0.0, adjoint_type(v.type))

    def accumulate(self, v: Value, contribution: Value):
        if contribution is None or not self.act.active(v):
            return
        want = adjoint_type(v.type)
        if contribution.type != want:
            contribution = self.ctx.b.cast(contribution, type=want)
        old = self.adj.get(v)
        if old is None:
            self.adj[v] = contribution
        elif want.is_float:
            self.adj[v] = self.ctx.b.add(old, contribution, reassoc=True)
        else:
            self.adj[v] = self.ctx.b.add(old, contribution)

    def seed_result(self, v: Value, seed: Value):
        if v.type.is_array:
            if self.act.active_memory(v):
                self.for_each_element(v, lambda idx: self.add_to_shadow(v, idx, self.ctx.b.load(seed, *idx)))
        else:
            self.accumulate(v, seed)

    # ---- reversing ops ----
    def reverse_ops(self, block: Block):
        for op in reversed(block.ops[:-1]):
            handler = getattr(self, "reverse_" + op.name, None)
            if handler is not None:
                handler(op)
            elif op.opdef.extra.get("vjp_form") == "memory":
                op.opdef.vjp(self, op)
            elif op.results and op.opdef.vjp is not None:
                self.reverse_scalar(op)

    def reverse_scalar(self, op: Op):
        r = op.results[0]
        ct = self.adj.pop(r, None)
        if ct is None or not self.act.active(r):
            return
        wanted = [self.act.active(x) and is_numeric(x.type) for x in op.operands]
        contributions = self.apply_rule(op.opdef.vjp, ct, r, op.operands, wanted)
        for x, c in zip(op.operands, contributions):
            if c is not None:
                self.accumulate(x, c)

    def apply_rule(self, rule, ct, r, operands, wanted) -> list:
        """Run a VJP rule on stand-ins for the primal values, keep only the ops the wanted
        contributions need, and only then obtain the primal values those ops read."""
        real = r.type.is_int
        stand_ins = {}

        def stand_in(v):
            t = F64 if real and v.type.is_int else v.type
            s = Value(t, v.hint)
            stand_ins[s] = v
            return s
        scratch = Block()
        outs = rule(Builder(scratch, fastmath=self.ctx.b.fastmath), ct, stand_in(r),
                    *[stand_in(x) for x in operands])
        wanted_outs = [o if w else None for o, w in zip(outs, wanted)]
        needed = backward_slice(scratch, [o for o in wanted_outs if o is not None])
        mapping = {}
        for op in scratch.ops:
            if op not in needed:
                continue
            for v in op.operands:
                if v in stand_ins and v not in mapping:
                    mapping[v] = self.resolve_stand_in(stand_ins[v], v.type)
            self.ctx.b.block.append(clone_op(op, mapping))
        return [self.rule_output(o, mapping, stand_ins) for o in wanted_outs]

    def rule_output(self, o, mapping, stand_ins):
        if o is None or o in mapping:
            return mapping.get(o)
        if o in stand_ins:
            return self.resolve_stand_in(stand_ins[o], o.type)
        return o

    def resolve_stand_in(self, v: Value, t) -> Value:
        value = self.primal(v)
        return self.ctx.b.cast(value, type=t) if value.type != t else value

    # ---- the interface memory ops' derivative rules use (see irad/ops/memory.py) ----
    @property
    def b(self) -> Builder:
        return self.ctx.b

    def pop_adjoint(self, v: Value):
        return self.adj.pop(v, None)

    def active(self, v: Value) -> bool:
        return self.act.active(v)

    def active_memory(self, v: Value) -> bool:
        return self.act.active_memory(v)

    def take_shadow(self, array, idx):
        b = self.ctx.b
        shadow = self.shadow(array)
        d = b.load(shadow, *idx)
        b.store(b.const(0.0, d.type), shadow, *idx)
        return d

    def add_to_shadow(self, array: Value, idx, ct: Value):
        b = self.ctx.b
        shadow = self.shadow(array)
        if ct.type != shadow.type.dtype:
            ct = b.cast(ct, type=shadow.type.dtype)
        b.store(b.add(b.load(shadow, *idx), ct, reassoc=True), shadow, *idx)   # order-free sum

    def unchanged_operand(self, op: Op, array: Value) -> Value:
        """`array` for a memory rule of `op` that reads its contents as they were when op ran
        (a gemm's VJP). UnsupportedError when a write may change them after op, later in
        program order or in another iteration of a loop around both, or when the array
        is allocated inside a loop."""
        if overwritten_after(op, array, self.act, *program_order(self.source, self.act)):
            raise UnsupportedError(f"reverse mode needs the operands of '{op.name}' as they were, but "
                                   "one may be overwritten later (or is allocated inside a loop)",
                                   op.loc, "compute the product from arrays the program does not "
                                   "change afterwards, outside loops that rewrite them")
        return self.primal(array)

    # ---- shadows ----
    def shadow(self, a: Value) -> Value:
        block = defining_block(a)
        ctx = self.context_of(block)
        if a in ctx.shadows:
            return ctx.shadows[a]
        if a in self.shadow_args:
            s = self.shadow_args[a]
        elif isinstance(a, OpResult) and a.op.name == "alloc":
            s = self.zeroed_shadow(a, ctx)
        elif isinstance(a, BlockArg) and a.block is self.source.body.block:
            s = self.zeroed_shadow(a, ctx)   # a Const argument that receives active values
        elif isinstance(a, OpResult) and a.op.name == "if":
            s = self.zeroed_shadow(a, ctx)
        elif isinstance(a, OpResult) and a.op.name == "for" and a.index in (self.permutation(a.op) or {}):
            s = self.final_arrays(a.op)[1][a.index]
        elif isinstance(a, OpResult) and a.op.opdef.is_view:
            source, *rest = a.op.operands
            s = ctx.b.emit(a.op.name, self.shadow(source), *[self.primal(x) for x in rest], **a.op.attrs)
        else:
            raise unfollowable_array(a)
        ctx.shadows[a] = s
        return s

    def zeroed_shadow(self, a: Value, ctx: Context) -> Value:
        shape = [self.extent(a, k, ctx) for k in range(a.type.ndim)]
        s = ctx.b.alloc(*shape, type=shadow_type(a.type, "C"))
        ctx.b.fill(s, ctx.b.const(0.0, s.type.dtype))
        return s

    def branch_shadows(self, op: Op, region: Region):
        """How a branch hands an array result's adjoint (its shadow, filled by the code
        after the `if`) to the array the branch yields: an array the branch allocated
        takes that shadow as its own; any other array has it added to its shadow, which
        is exact only when nothing writes that array after the `if`."""
        pairs = [(y, self.ctx.shadows[r]) for y, r in zip(region.block.terminator.operands, op.results)
                 if r.type.is_array and r in self.ctx.shadows]

        def setup(ctx: Context):
            for y, s in pairs:
                if isinstance(y, OpResult) and y.op.name == "alloc" and y.op.parent is region.block:
                    ctx.shadows[y] = s
                elif self.act.active_memory(y):
                    if self.written_after(op, y):
                        raise UnsupportedError(
                            "reverse mode cannot differentiate an array chosen by a branch and "
                            "written after it", op.loc, "copy the chosen array (`y = x.copy()`) "
                            "before writing to it")
                    self.for_each_element(y, lambda idx, y=y, s=s: self.add_to_shadow(
                        y, idx, self.ctx.b.load(s, *idx)))
        return setup

    def written_after(self, op: Op, array: Value) -> bool:
        """May a write after op (or in a later iteration of a loop around it) reach array?"""
        order, loops, writes = self.ordering()
        cls, end = self.act.cls(array), max(order[o] for o in op.walk())
        return any(c is cls and (order[w] > end or loops[w] & loops[op]) for w, c in writes)

    def for_each_element(self, array: Value, fn, accumulate=False):
        """Loop over every index of `array` (in the reverse sweep), calling fn(indices)."""
        b = self.ctx.b
        extents = [self.extent(array, k) for k in range(array.type.ndim)]
        zero, one = b.const(0, I64), b.const(1, I64)
        acc_type = shadow_type(array.type).dtype
        return self.loop_nest(extents, [], fn, zero, one, accumulate, acc_type)

    def loop_nest(self, extents, idx, fn, zero, one, accumulate, acc_type):
        if not extents:
            value = fn(idx)
            return value if accumulate else None
        outer = self.ctx
        block = Block([I64] + ([acc_type] if accumulate else []))
        self.ctx = Context(outer.block, Builder(block), outer.cache, outer.shadows)
        inner = self.loop_nest(extents[1:], idx + [block.args[0]], fn, zero, one, accumulate, acc_type)
        if accumulate:
            inner = self.ctx.b.add(block.args[1], inner)
            self.ctx.b.emit("yield", inner)
        else:
            self.ctx.b.emit("yield")
        self.ctx = outer
        inits = [outer.b.const(0.0, acc_type)] if accumulate else []
        result = outer.b.emit("for", zero, extents[0], one, *inits, regions=[Region([block])])
        return result if accumulate else None

    # ---- control flow ----
    def outer_active(self, op: Op) -> list:
        """Active scalars defined outside op and used inside it (their adjoints are carried)."""
        inside = set()
        for o in op.walk():
            inside.update(o.results)
            for region in o.regions:
                for b in region.blocks:
                    inside.update(b.args)
        inside.difference_update(op.results)
        seen = {}
        for o in op.walk():
            if o is op:
                continue
            for v in o.operands:
                if v not in inside and not v.type.is_array and self.act.active(v) \
                        and not isinstance(v.type, TapeType):
                    seen.setdefault(v, None)
        return list(seen)

    def enter(self, primal_block: Block, block: Block) -> Context:
        ctx = Context(primal_block, Builder(block))
        self.contexts[primal_block] = ctx
        return ctx

    def run_region(self, primal_block: Block, block: Block, outer, seeds, setup=None):
        """Reverse primal_block into block with outer adjoints given; return (ctx, new adjoints of outer)."""
        saved_adj, saved_ctx = self.adj, self.ctx
        ctx = self.enter(primal_block, block)
        self.ctx = ctx
        self.adj = dict(outer)
        if setup:
            setup(ctx)
        for v, s in seeds:
            self.accumulate(v, s)
        self.reverse_ops(primal_block)
        return ctx, saved_adj, saved_ctx

    def leave(self, primal_block, saved_adj, saved_ctx):
        del self.contexts[primal_block]
        self.adj, self.ctx = saved_adj, saved_ctx

    def reverse_if(self, op: Op):
        active = [k for k, r in enumerate(op.results) if self.act.active(r)]
        cts = {k: self.adj.pop(op.results[k], None) for k in active}
        outer = self.outer_active(op)
        if not outer and not any(c is not None for c in cts.values()) and not self.has_active(op):
            return
        cond = self.primal(op.operands[0])
        inits = {v: self.adj.get(v) or self.zero(v) for v in outer}
        regions = []
        for region in op.regions:
            block = Block()
            yielded = region.block.terminator.operands
            seeds = [(yielded[k], cts[k]) for k in active if cts[k] is not None]
            ctx, saved_adj, saved_ctx = self.run_region(region.block, block, inits, seeds,
                                                        setup=self.branch_shadows(op, region))
            ctx.b.emit("yield", *[self.adj.get(v) or self.zero(v) for v in outer])
            self.leave(region.block, saved_adj, saved_ctx)
            regions.append(Region([block]))
        types = tuple(adjoint_type(v.type) for v in outer)
        results = self.ctx.b.emit("if", cond, regions=regions, types=types)
        for v, r in zip(outer, as_list(results)):
            self.adj[v] = r

    def reverse_for(self, op: Op):
        body = op.regions[0].block
        iv, carried = body.args[0], body.args[1:]
        active = [k for k, c in enumerate(carried) if self.act.active(c)]
        outer = self.outer_active(op)
        if not active and not outer and not self.has_active(op):
            return
        b = self.ctx.b
        cts = [self.adj.pop(op.results[k], None) or self.zero(carried[k]) for k in active]
        inits = [self.adj.get(v) or self.zero(v) for v in outer]
        arrays = self.permuted_carry(op)
        lo, hi, step = (self.primal(x) for x in op.operands[:3])
        first, stop, back = reversed_range(b, lo, hi, step)
        block = Block([I64] + [adjoint_type(carried[k].type) for k in active]
                      + [adjoint_type(v.type) for v in outer] + [v.type for v in arrays])
        block.args[0].hint = iv.hint
        n, m = len(active), len(outer)
        yielded = body.terminator.operands
        seeds = [(yielded[k], a) for k, a in zip(active, block.args[1:1 + n])]
        outer_args = dict(zip(outer, block.args[1 + n:1 + n + m]))

        def setup(c: Context):
            c.cache[iv] = block.args[0]
            self.unpermute(op, c, block.args[1 + n + m:])
        ctx, saved_adj, saved_ctx = self.run_region(body, block, outer_args, seeds, setup=setup)
        new_carried = [self.adj.get(carried[k]) or self.zero(carried[k]) for k in active]
        ctx.b.emit("yield", *new_carried, *[self.adj.get(v) or self.zero(v) for v in outer],
                   *self.permuted_now(op, ctx), *[value for _, value in ctx.recovered])
        self.leave(body, saved_adj, saved_ctx)
        finals = [self.primal(op.results[k]) for k, _ in ctx.recovered]   # counted down from
        passed_through = all(a is x for a, x in zip(new_carried, block.args[1:1 + n]))
        if passed_through and not arrays and not finals and self.order_free(op, block):
            read_tapes_in_order(block, self.ctx.b, lo, hi, step)
            first, stop, back = lo, hi, step
        results = as_list(self.ctx.b.emit("for", first, stop, back, *cts, *inits, *arrays, *finals,
                                          regions=[Region([block])]))
        for k, r in zip(active, results[:n]):
            self.accumulate(op.operands[3 + k], r)
        for v, r in zip(outer, results[n:]):
            self.adj[v] = r

    def order_free(self, loop: Op, reverse_body: Block) -> bool:
        """May the reverse of this `for` run its iterations in forward order (cheaper: no
        lane reversal when vectorized)? Yes when nothing orders them: the adjoints of its
        carried values pass through unchanged (a sum's), each tape is popped
        once per iteration, unconditionally (its segment is then read in order), and every
        array the loop writes is accessed only at one index tuple that contains the
        induction variable (each iteration owns its elements; the shadows of arrays only
        read receive commutative accumulations)."""
        body = loop.regions[0].block
        pops = [o.operands[0] for o in reverse_body.ops if o.name == "tape_pop"]
        if any(o.regions or o.name == "call" for o in body.ops[:-1]) or len(set(pops)) != len(pops) \
                or any(o.name == "tape_pop" for inner in reverse_body.ops if inner.regions
                       for o in inner.walk()):
            return False
        accesses: dict = {}
        for o in body.ops[:-1]:
            if written_array(o) is not None and o.name != "store":
                return False
            if o.name in ("load", "store"):
                array, idx = (o.operands[0], o.operands[1:]) if o.name == "load" else (o.operands[1], o.operands[2:])
                accesses.setdefault(self.act.cls(array), set()).add(tuple(idx))
        iv = body.args[0]
        for o in body.ops[:-1]:
            if o.name == "store":
                tuples = accesses[self.act.cls(o.operands[1])]
                if len(tuples) != 1 or iv not in next(iter(tuples)):
                    return False
        return True

    # ---- loops that permute their arrays (double buffering: `u, v = v, u`) ----
    def permutation(self, loop: Op) -> dict | None:
        """{k: j} when every array a `for` loop carries takes, each iteration, the value of
        carried array j (same type) and the positions form a permutation; else None."""
        if loop not in self.perms:
            body = loop.regions[0].block
            carried = body.args[1:]
            perm = {}
            for k, c in enumerate(carried):
                y = body.terminator.operands[k]
                if not c.type.is_array:
                    continue
                if not (isinstance(y, BlockArg) and y.block is body and y.index > 0
                        and carried[y.index - 1].type == c.type):
                    perm = None
                    break
                perm[k] = y.index - 1
            if perm is not None and sorted(perm.values()) != sorted(perm):
                perm = None
            self.perms[loop] = perm or None
        return self.perms[loop]

    def final_arrays(self, loop: Op) -> tuple[dict, dict]:
        """({k: primal}, {k: shadow}) of the permuted arrays after the loop: the initial ones
        permuted (trip count mod the permutation's order) times."""
        if loop not in self.finals:
            perm, keys = self.permutation(loop), sorted(self.permutation(loop))
            saved, self.ctx = self.ctx, self.context_of(loop.parent)
            inits = [loop.operands[3 + k] for k in keys]
            start = [self.primal(x) for x in inits] + [self.shadow(x) for x in inits]
            b = self.ctx.b
            trips = trip_count(b, *(self.primal(x) for x in loop.operands[:3]))
            spins = b.mod(trips, b.const(permutation_order(perm), I64))
            block = Block([I64] + [v.type for v in start])
            now = dict(zip(keys, block.args[1:1 + len(keys)])), dict(zip(keys, block.args[1 + len(keys):]))
            Builder(block).emit("yield", *[now[0][perm[k]] for k in keys], *[now[1][perm[k]] for k in keys])
            results = as_list(b.emit("for", b.const(0, I64), spins, b.const(1, I64), *start,
                                     regions=[Region([block])]))
            self.ctx = saved
            self.finals[loop] = (dict(zip(keys, results[:len(keys)])), dict(zip(keys, results[len(keys):])))
        return self.finals[loop]

    def permuted_carry(self, loop: Op) -> list:
        """The reverse loop's extra carried values: primal and shadow of each permuted array
        as after the loop (they are un-permuted once per reverse iteration)."""
        if self.permutation(loop) is None:
            return []
        primal, shadow = self.final_arrays(loop)
        keys = sorted(primal)
        return [primal[k] for k in keys] + [shadow[k] for k in keys]

    def unpermute(self, loop: Op, ctx: Context, carry) -> None:
        """In reverse iteration t, carried array j is what iteration t+1 had at position
        perm^-1(j): bind each carried array's primal and shadow accordingly."""
        perm = self.permutation(loop)
        if perm is None:
            return
        keys, carried = sorted(perm), loop.regions[0].block.args[1:]
        primal, shadow = dict(zip(keys, carry[:len(keys)])), dict(zip(keys, carry[len(keys):]))
        inverse = {j: k for k, j in perm.items()}
        for j in keys:
            ctx.cache[carried[j]] = primal[inverse[j]]
            ctx.shadows[carried[j]] = shadow[inverse[j]]

    def permuted_now(self, loop: Op, ctx: Context) -> list:
        perm = self.permutation(loop)
        if perm is None:
            return []
        keys, carried = sorted(perm), loop.regions[0].block.args[1:]
        return [ctx.cache[carried[j]] for j in keys] + [ctx.shadows[carried[j]] for j in keys]

    def reverse_while(self, op: Op):
        before, after = op.regions[0].block, op.regions[1].block
        if list(before.terminator.operands[1:]) != list(before.args):
            raise UnsupportedError("reverse mode needs a while loop whose condition region passes "
                                   "its values through unchanged", op.loc)
        carried = after.args
        active = [k for k, c in enumerate(carried) if self.act.active(c)]
        outer = self.outer_active(op)
        if op not in self.while_counts:
            return
        cts = [self.adj.pop(op.results[k], None) or self.zero(carried[k]) for k in active]
        inits = [self.adj.get(v) or self.zero(v) for v in outer]
        count = self.primal(self.while_counts[op])
        b = self.ctx.b
        zero, one = b.const(0, I64), b.const(1, I64)
        block = Block([I64] + [adjoint_type(carried[k].type) for k in active]
                      + [adjoint_type(v.type) for v in outer])
        n = len(active)
        yielded = after.terminator.operands
        seeds = [(yielded[k], a) for k, a in zip(active, block.args[1:1 + n])]
        ctx, saved_adj, saved_ctx = self.run_region(after, block, dict(zip(outer, block.args[1 + n:])), seeds)
        new_carried = [self.adj.get(carried[k]) or self.zero(carried[k]) for k in active]
        ctx.b.emit("yield", *new_carried, *[self.adj.get(v) or self.zero(v) for v in outer])
        self.leave(after, saved_adj, saved_ctx)
        results = as_list(self.ctx.b.emit("for", zero, count, one, *cts, *inits, regions=[Region([block])]))
        for k, r in zip(active, results[:n]):
            self.accumulate(op.operands[k], r)
        for v, r in zip(outer, results[n:]):
            self.adj[v] = r


# ---- helpers -----------------------------------------------------------------------

def backward_slice(block: Block, roots) -> set:
    """The ops of block that the values in roots depend on."""
    needed, work = set(), list(roots)
    while work:
        v = work.pop()
        op = getattr(v, "op", None)
        if op is None or op.parent is not block or op in needed:
            continue
        needed.add(op)
        work.extend(op.operands)
    return needed


def read_tapes_in_order(block: Block, outer: Builder, lo, hi, step) -> None:
    """Turn the pops of a reverse loop body that will run forwards into reads: each tape's
    segment (one value per iteration, pushed in order) is dropped from the cursor before
    the loop (`outer`), and iteration (iv - lo) / step reads its own position."""
    pops = [o for o in block.ops if o.name == "tape_pop"]
    if not pops:
        return
    trips = trip_count(outer, lo, hi, step)
    starts = {op: outer.emit("tape_drop", op.operands[0], trips) for op in pops}
    scratch = Block()
    b = Builder(scratch)
    k = b.floordiv(b.sub(block.args[0], lo), step)
    reads = {}
    for op in pops:
        read = Op("tape_read", [op.operands[0], b.add(starts[op], k)], [op.results[0].type])
        scratch.append(read)
        reads[op.results[0]] = read.results[0]
    block.ops = [o for o in block.ops if o.name != "tape_pop"]
    for o in reversed(scratch.ops):
        o.parent = block
        block.ops.insert(0, o)
    for o in block.ops:
        for inner in o.walk():
            inner.operands = [reads.get(v, v) for v in inner.operands]


def mark_inbounds(ops, seeds) -> None:
    """Every element access of the reverse sweep repeats one the forward sweep made at the
    same indices (into the array, a same-shaped shadow or a snapshot), which succeeded: the
    reverse sweep is not bounds-checked again. Reads of the caller's seed arrays stay checked."""
    for op in ops:
        for inner in op.walk():
            if inner.name == "store" or (inner.name == "load" and inner.operands[0] not in seeds):
                inner.attrs["inbounds"] = True


def permutation_order(perm: dict) -> int:
    """The smallest n > 0 with perm^n the identity (the lcm of its cycle lengths)."""
    order, seen = 1, set()
    for start in perm:
        length, k = 0, start
        while k not in seen:
            seen.add(k)
            k, length = perm[k], length + 1
        if length:
            order = order * length // math.gcd(order, length)
    return order


def unfollowable_array(a: Value) -> UnsupportedError:
    """The error for an active array reverse mode cannot give a shadow."""
    loop = a.block.parent.parent if isinstance(a, BlockArg) else a.op
    if loop.name in ("for", "while"):
        return UnsupportedError(
            "reverse mode cannot follow this loop-carried array: the loop writes into it in place, "
            "swaps it with another array, or keeps its old value in another variable", loop.loc,
            "keep one array and update it in place (`x[:] = ...`), or copy (`x = x.copy()`) "
            "before writing to it")
    where = getattr(getattr(a, "op", None), "loc", None)
    return UnsupportedError("reverse mode cannot follow an array chosen by a conditional expression",
                            where, "use an `if` statement that assigns the array in each branch")


def as_list(results) -> list:
    if isinstance(results, tuple):
        return list(results)
    if isinstance(results, Value):
        return [results]
    return []


def reversed_range(b: Builder, lo, hi, step):
    """(first, stop, -step) that visit range(lo, hi, step) backwards."""
    trips = trip_count(b, lo, hi, step)
    first = b.add(lo, b.mul(b.sub(trips, b.const(1, I64)), step))
    stop = b.sub(lo, step)
    return first, stop, b.neg(step)


def overwritten_after(op: Op, array: Value, act: Activity, order, loops, writes) -> bool:
    """Whether a write may change `array` after op: later in program order, or in another
    iteration of a loop around both (which includes arrays allocated inside a loop)."""
    cls = act.cls(array)
    return any(c is cls and (order[w] > order[op] or loops[w] & loops[op]) for w, c in writes)


def expand_overwritten_products(func: Func, *which) -> Func | None:
    """A copy of func whose gemms with an operand `overwritten_after` them are expanded into
    loops (the op table's `expand`), which reverse mode tapes element by element; None when
    there is no such gemm. `which`: the activity arguments of `reverse`."""
    def unsafe(f):
        act = Activity(f, *which)
        placed = program_order(f, act)
        return [op for op in placed[0] if "expand" in op.opdef.extra
                and any(overwritten_after(op, x, act, *placed) for x in op.operands if x.type.is_array)]
    if not unsafe(func):
        return None
    func = func.clone()
    for op in unsafe(func):
        scratch = Block()
        op.opdef.extra["expand"](Builder(scratch, loc=op.loc), op)
        block = op.parent
        at = block.ops.index(op)
        block.ops[at:at + 1] = scratch.ops
        for new in scratch.ops:
            new.parent = block
    return func


def reverse(func: Func, active_args, dup_args, seeded_results, name: str | None = None):
    """The combined-mode gradient Func of func, and how its signature maps to func's."""
    for i in list(active_args):
        if func.args[i].type.is_array or func.args[i].type.is_bool:
            raise UnsupportedError(f"argument {i} cannot be Active: it is {func.args[i].type}",
                                   func.loc, "arrays are Duplicated, booleans have no derivative")
    which = {"active_args": list(active_args), "dup_args": list(dup_args), "seeded": list(seeded_results)}
    func = home_carried_arrays(func, PassOptions(extra=MappingProxyType(which)))
    func = expand_overwritten_products(func, list(active_args), list(dup_args), list(seeded_results)) or func
    act = Activity(func, list(active_args), list(dup_args), list(seeded_results))
    name = name or f"{func.name}.grad"
    rev = Reverser(func, act, list(dup_args), list(active_args), list(seeded_results))
    built = rev.build(name)
    if rev.taped_leaves and rev.taped_others:
        # Leaves taped anyway are free inputs to recomputation: a second build recomputes
        # what the first taped only because its inputs were not yet known to be taped.
        rev = Reverser(func, act, list(dup_args), list(active_args), list(seeded_results),
                       free=frozenset(rev.taped_leaves))
        built = rev.build(name)
    return built


__all__ = ["reverse", "GradientInfo"]
