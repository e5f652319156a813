"""Scatter-adds at constant offsets, lowered as gathers (reverse-mode stencils).

Reverse mode turns a stencil's loads `u[i-1], u[i], u[i+1]` into updates
`du[i+1] += a; du[i] += b; du[i-1] += c` in a loop over i. Each element of
du is then read and written by three iterations: the loop is bound by its
stores and cannot vectorize. Lowered here, an iteration instead finishes
one element: it loads `du[i + c*]` once, adds every contribution that
element receives, in the original order, and stores it once; contributions
made by earlier iterations travel in registers (a fixed-order recurrence,
which LLVM vectorizes).

Applies to a group of updates `x = load d[..., i + c, ...]; y = add x, v;
store y, d[..., i + c, ...]` in the body block of a `for` with step +-1
(offsets c forming a contiguous range; the other axes' indices invariant
and the same within a group, provably different between groups of the
same array) when nothing else in the loop touches d, every other array the
loop uses provably never shares memory with d (runtime/alias.py), and the
loop body cannot fail (no op that can raise, once the versioning
precondition has removed the bounds checks) — so the difference between
the two lowerings is unobservable.

Invariants (for step s and offsets c_min..c_max, c* = c_max if s < 0 else
c_min; an update with offset c has distance dist = s * (c - c*) >= 0):
- iteration i stores element i + c* once, after adding to its loaded
  value the contributions of the updates, ordered by decreasing distance
  (earlier iterations first) then program order: exactly the original
  sequence of additions, so results are bit-identical. A contribution
  from before the first iteration is -0.0 (x + -0.0 == x for every x).
- after the loop, if it ran, the D = c_max - c_min elements only earlier
  iterations contribute to are finished the same way; together the loop
  touches exactly the elements the original touched.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from llvmlite import ir

from irad.ir import BlockArg, Op, Value

from .abi import i64, mem_type, reg_type
from .hoist import _linear

MAY_FAIL = frozenset({"load", "store", "view", "reshape", "check", "alloc", "copy", "fill", "gemm", "call", "for", "while",
                      "if", "tape_new", "tape_push", "tape_pop", "tape_drop", "tape_reserve", "tape_rewind", "tape_free"})
MAX_SPAN = 8


@dataclass(eq=False)
class Update:
    load: Op
    add: Op
    store: Op
    offset: int
    value: Value              # the add's other operand: what is added


@dataclass(eq=False)
class Group:
    array: Value
    axis: int                 # the axis indexed by i + offset
    others: tuple             # the invariant index values of the other axes
    updates: list = field(default_factory=list)

    def finishing_offset(self, step: int) -> int:
        offsets = [u.offset for u in self.updates]
        return max(offsets) if step < 0 else min(offsets)

    def distance(self, u: Update, step: int) -> int:
        return step * (u.offset - self.finishing_offset(step))

    def ordered(self, step: int) -> list:
        """Updates in the order their contributions reach one element."""
        order = {u.store: k for k, u in enumerate(self.updates)}
        return sorted(self.updates, key=lambda u: (-self.distance(u, step), order[u.store]))


def _const(v: Value):
    if isinstance(v, BlockArg) or v.op.name != "const":
        return None
    return int(v.op.attrs["value"])


def _uses(func) -> dict:
    counts: dict = {}
    for op in func.walk():
        for v in op.operands:
            counts[v] = counts.get(v, 0) + 1
    return counts


def _offset(L, loop: Op, v: Value):
    """c when v is `iv + c` (c constant), else None."""
    form = L.analysis.affine(v, (loop,))
    if form is None or set(form.coeffs) != {loop} or form.coeffs[loop] != ("const", 1):
        return None
    return form.const[1] if form.const[0] == "const" else None


def _triple(L, loop, body, k, uses):
    """The update starting with load body.ops[k], as (Update, axis, others), or None."""
    load = body.ops[k]
    x = load.results[0]
    array, idx = load.operands[0], load.operands[1:]
    if uses.get(x) != 1 or not load.results[0].type.is_float:
        return None
    for j in range(k + 1, len(body.ops)):
        op = body.ops[j]
        if op.name == "add" and x in op.operands:
            add, y = op, op.results[0]
            break
        if array in op.operands:
            return None
    else:
        return None
    value = add.operands[1] if add.operands[0] is x else add.operands[0]
    if value is x or uses.get(y) != 1 or add.attrs:
        return None
    for op in body.ops[j + 1:]:
        if op.name == "store" and op.operands[0] is y:
            store = op
            break
        if array in op.operands:
            return None
    else:
        return None
    if store.operands[1] is not array:
        return None
    axis = None
    for a, (p, q) in enumerate(zip(idx, store.operands[2:])):
        c, c2 = _offset(L, loop, p), _offset(L, loop, q)
        if c is not None:
            if axis is not None or c != c2:
                return None
            axis = a
        elif p is not q or L.analysis.inside(p, loop):
            return None
    if axis is None:
        return None
    others = tuple(p for a, p in enumerate(idx) if a != axis)
    return Update(load, add, store, _offset(L, loop, idx[axis]), value), axis, others


def _disjoint(g: Group, h: Group) -> bool:
    """Provably different elements: some other-axis index differs by a nonzero constant."""
    for p, q in zip(g.others, h.others):
        diff = _linear(p)
        for key, c in _linear(q).items():
            diff[key] = diff.get(key, 0) - c
        if all(c == 0 for key, c in diff.items() if key is not None) and diff.get(None, 0) != 0:
            return True
    return False


def find_groups(L, loop: Op, promoted=frozenset()) -> list:
    """The groups of loop `loop` that can be lowered as gathers (see the module invariants);
    `promoted`: the loop's tape ops that the fast copy keeps in registers (they cannot fail)."""
    step = _const(loop.operands[2])
    if step not in (1, -1):
        return []
    body = loop.regions[0].block
    if L.analysis.uses is None:
        L.analysis.uses = _uses(L.func)
    uses = L.analysis.uses
    groups: dict = {}
    members: set = set()
    for k, op in enumerate(body.ops):
        if op.name == "load" and op not in members:
            found = _triple(L, loop, body, k, uses)
            if found is not None:
                u, axis, others = found
                array = u.load.operands[0]
                g = groups.setdefault((array, axis, others), Group(array, axis, others))
                g.updates.append(u)
                members |= {u.load, u.add, u.store}
    if not groups or not _body_cannot_fail(L, loop, promoted):
        return []
    arrays: dict = {}
    for g in groups.values():
        arrays.setdefault(g.array, []).append(g)
    chosen = []
    for array, gs in arrays.items():
        if not _exclusive(L, loop, array, members) or not all(
                _disjoint(g, h) for a, g in enumerate(gs) for h in gs[a + 1:]):
            continue
        for g in gs:
            offsets = sorted({u.offset for u in g.updates})
            if offsets[-1] - offsets[0] < MAX_SPAN and len(offsets) == offsets[-1] - offsets[0] + 1:
                chosen.append(g)
    return chosen


def _exclusive(L, loop, array, members) -> bool:
    """Nothing in the loop but the group's updates touches `array`'s memory."""
    mine = L.alias.roots.get(array)
    if not mine:
        return False
    for op in loop.walk():
        if op is loop or op in members:
            continue
        for v in op.operands:
            if not v.type.is_array or (op.name == "dim" and v is array):
                continue
            theirs = L.alias.roots.get(v)
            if v is array or not theirs or not all(L.alias.distinct(a, b) for a in mine for b in theirs):
                return False
    return True


def _body_cannot_fail(L, loop, promoted) -> bool:
    """No op of the body can raise in the fast copy (checks elided or off, tapes promoted)."""
    body = loop.regions[0].block
    for op in body.ops:
        if op.regions or op.name not in MAY_FAIL:
            if op.regions:
                return False
            continue
        if op.name in ("load", "store"):
            n = len(op.operands) - (1 if op.name == "load" else 2)
            if L.boundscheck and not all((op, a) in L.elided or (op, a) in L.analysis.proven
                                         for a in range(n)):
                return False
        elif op.name in ("tape_push", "tape_pop"):
            if op not in promoted:
                return False
        else:
            return False
    return True


# ---- lowering -------------------------------------------------------------------------------

class GatherState:
    """The registers and per-iteration contributions of a loop's groups."""

    def __init__(self, L, groups, step: int):
        self.L, self.groups, self.step = L, groups, step
        self.slots = [(g, u, d) for g in groups for u in g.updates for d in range(g.distance(u, step))]
        self.current: dict = {}

    def types(self) -> list:
        return [g.array.type.dtype for g, _u, _d in self.slots]

    def inits(self) -> list:
        return [ir.Constant(reg_type(g.array.type.dtype), -0.0) for g, _u, _d in self.slots]

    def intercept(self) -> dict:
        """Lowerings replacing the updates' ops: record what is added, emit nothing."""
        hooks = {}
        for g in self.groups:
            for u in g.updates:
                hooks[u.load] = lambda values: [None]
                hooks[u.add] = lambda values: [None]
                hooks[u.store] = lambda values, u=u: self.current.__setitem__(u, self.L.env[u.value]) or []
        return hooks

    def _register(self, regs, g, u, d):
        return regs[self.slots.index((g, u, d))]

    def _finish(self, g, i, contributions) -> None:
        L = self.L
        dtype = g.array.type.dtype
        a = L.env[g.array]
        index = list(L.env[v] for v in g.others)
        index.insert(g.axis, L.b.add(i, i64(g.finishing_offset(self.step))))
        from .memory import element_ptr
        ptr = element_ptr(L, a, dtype, index)
        x = L.b.load(ptr, typ=mem_type(dtype))
        L.alias.array_access(x, g.array)
        for c in contributions:
            x = L.b.fadd(x, c, flags=L.fm)          # the updates' adds are plain (find_groups)
        L.alias.array_access(L.b.store(x, ptr), g.array)

    def iteration(self, i, regs) -> list:
        """Finish this iteration's elements; return the next registers."""
        for g in self.groups:
            values = []
            for u in g.ordered(self.step):
                d = g.distance(u, self.step)
                values.append(self.current[u] if d == 0 else self._register(regs, g, u, d - 1))
            self._finish(g, i, values)
        nexts = []
        for g, u, d in self.slots:
            nexts.append(self.current[u] if d == 0 else self._register(regs, g, u, d - 1))
        self.current.clear()
        return nexts

    def epilogue(self, last, regs) -> None:
        """Finish the elements only the last iterations contributed to (the loop ran)."""
        L = self.L
        for g in self.groups:
            span = max(g.distance(u, self.step) for u in g.updates)
            for k in range(1, span + 1):
                values = [self._register(regs, g, u, g.distance(u, self.step) - k)
                          for u in g.ordered(self.step) if g.distance(u, self.step) >= k]
                self._finish(g, L.b.add(last, i64(self.step * k)), values)
