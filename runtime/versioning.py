"""Loop versioning: `for` loops without per-iteration bounds checks, and
tape headers kept in registers (the plans come from `runtime/hoist.py`).

A loop whose plan hoists checks (or pops from a tape, with bounds checks
on) is lowered twice:

    if precondition:  fast loop (hoisted checks elided, tapes in registers)
    else:             call irad.checked.<func>.<n>: the same loop, every check in place

Invariants:
- The precondition is computed once before the loop from loop-invariant
  values. It is true only if no hoisted check can fail on any iteration of
  the loop nest: every affine index lies in [0, extent) over the box of
  induction-variable values (its extremes are at the first and last
  iterations, as an affine function is monotone in each variable; a
  wrapped negative index `x + n if x < 0 else x` is in range when x's
  non-negative part is below the extent and its negative part, shifted by
  n, is inside it), every quantity is computed with overflow detection
  (an overflow makes the precondition false), and every popped tape holds
  enough elements. It is vacuously true when the loop runs zero times. It
  may be false when no check fails (an overflow, a zero step, a guard
  that an inner loop's emptiness provides): then the checked copy runs.
- The checked copy is the unversioned lowering of the very same loop,
  outlined as a cold, noinline, optnone function of the loop's free
  values, so a failing program raises exactly the error, index and source
  location it raises unhoisted, after exactly the same side effects. It
  runs only when the precondition fails, mostly on the way to an error,
  so it lives in the cold module, compiled on first use and called
  through a pointer (runtime/cold.py); inside the cold module itself,
  copies are direct calls.
- Promoted tapes (`LoopPlan.pushes`/`pops`) have their data pointer, length
  and cursor loaded once before the loop and written back once after it;
  pushes reserve room for all of the loop's pushes before it starts, so
  the data pointer stays valid inside the loop. If the loop fails halfway,
  the header keeps its value from before the loop (a tape is freed, or
  rewound before reuse, after a failed call).
"""
from __future__ import annotations

from llvmlite import ir

from .abi import (I1, I32, LIKELY, PTR, TAPE_CURSOR, TAPE_DATA, TAPE_LEN, flat_types, flatten, i64,
                  unflatten)
from .errors import VALUE
from .hoist import LoopPlan, free_values
from .loops import add, add_incoming, constant, counted_loop, group_values, mul, phi_group, sub, trip_count
from .scatter import GatherState, find_groups

TRUE, FALSE = ir.Constant(I1, 1), ir.Constant(I1, 0)


# ---- the precondition -------------------------------------------------------------------

class _Checked:
    """Evaluates invariant expressions (hoist.py trees) with overflow detection."""

    def __init__(self, L):
        self.L, self.b = L, L.b
        self.overflow = FALSE
        self._memo: dict = {}

    def flag(self, bad) -> None:
        self.overflow = self.b.or_(self.overflow, bad)

    def _op(self, method, x, y):
        cx, cy = constant(x), constant(y)
        if cx is not None and cy is not None:
            exact = {"sadd_with_overflow": cx + cy, "ssub_with_overflow": cx - cy,
                     "smul_with_overflow": cx * cy}[method]
            if -2**63 <= exact < 2**63:
                return i64(exact)
            self.overflow = TRUE
            return i64(0)
        if method == "smul_with_overflow" and (cx == 1 or cy == 1):
            return y if cx == 1 else x
        if method == "sadd_with_overflow" and (cx == 0 or cy == 0):
            return y if cx == 0 else x
        pair = getattr(self.b, method)(x, y)
        self.flag(self.b.extract_value(pair, 1))
        return self.b.extract_value(pair, 0)

    def add(self, x, y):
        return self._op("sadd_with_overflow", x, y)

    def mul(self, x, y):
        return self._op("smul_with_overflow", x, y)

    def expr(self, e):
        if e in self._memo:
            return self._memo[e]
        kind = e[0]
        if kind == "const":
            if not -2**63 <= e[1] < 2**63:
                self.overflow = TRUE
                value = i64(0)
            else:
                value = i64(e[1])
        elif kind == "val":
            value = self.L.env[e[1]]
        elif kind == "dim":
            value = self.L.env[e[1]].shape[e[2]]
        elif kind == "neg":
            value = self._op("ssub_with_overflow", i64(0), self.expr(e[1]))
        elif kind == "add":
            value = self.add(self.expr(e[1]), self.expr(e[2]))
        else:
            value = self.mul(self.expr(e[1]), self.expr(e[2]))
        self._memo[e] = value
        return value


def _loop_range(L, lo, step, trip):
    """(first, last) induction values of a loop with `trip` > 0 iterations (exact, no overflow)."""
    return lo, add(L.b, lo, mul(L.b, sub(L.b, trip, i64(1)), step))


def _direction(step) -> int | None:
    """+1 or -1 for a constant step, None when only known at run time."""
    s = constant(step)
    return None if not s else (1 if s > 0 else -1)


def _inner_ranges(L, chain, ranges, c: _Checked):
    """Ranges of the inner loops of a check's chain; returns whether any of them is empty."""
    b, empty = L.b, FALSE
    for loop in chain[1:]:
        if loop not in ranges:
            lo, hi, step = (L.env[v] for v in loop.operands[:3])
            if _direction(step) is None:
                zero = b.icmp_signed("==", step, i64(0))
                c.flag(zero)                        # a zero step raises: let the checked copy do it
                step = b.select(zero, i64(1), step)
            trip = trip_count(L, lo, hi, step)
            ranges[loop] = (*_loop_range(L, lo, step, trip), b.icmp_unsigned("==", trip, i64(0)),
                            _direction(step))
        empty = b.or_(empty, ranges[loop][2])
    return empty


def _check_holds(L, check, ranges, c: _Checked):
    """i1: the check's index lies in [0, extent) over its whole box (or the box is empty)."""
    b = L.b
    empty = _inner_ranges(L, check.chain, ranges, c)
    low = high = c.expr(check.index.const)
    for loop, coeff in check.index.coeffs.items():
        a = c.expr(coeff)
        first, last, _empty, direction = ranges[loop]
        x, y = c.mul(a, first), c.mul(a, last)
        if constant(a) is not None and direction is not None:   # monotone in a known direction
            smaller, larger = (x, y) if (constant(a) >= 0) == (direction > 0) else (y, x)
        else:
            is_smaller = b.icmp_signed("<", x, y)
            smaller, larger = b.select(is_smaller, x, y), b.select(is_smaller, y, x)
        low, high = c.add(low, smaller), c.add(high, larger)
    extent = L.env[check.array].shape[check.axis]
    below = b.icmp_signed("<", high, extent)
    if check.wrap is None:
        inside = b.and_(b.icmp_signed(">=", low, i64(0)), below)
    else:                                   # x + wrap for x < 0: check [low, min(high, -1)] + wrap
        e = c.expr(check.wrap)
        top = b.select(b.icmp_signed("<", high, i64(0)), high, i64(-1))
        negatives = b.and_(b.icmp_signed(">=", c.add(low, e), i64(0)),
                           b.icmp_signed("<", c.add(top, e), extent))
        inside = b.and_(below, b.or_(b.icmp_signed(">=", low, i64(0)), negatives))
    return b.or_(empty, inside)


def precondition(L, op, plan: LoopPlan, lo, step, trip, headers) -> ir.Value:
    b = L.b
    c = _Checked(L)
    ranges = {op: (*_loop_range(L, lo, step, trip), FALSE, _direction(step))}
    ok, seen = TRUE, set()
    for check in plan.checks:
        key = check.key()
        if key not in seen:                         # the same index into the same array, once
            seen.add(key)
            ok = b.and_(ok, _check_holds(L, check, ranges, c))
    for tape, pops in plan.pops.items():
        _data, length, cursor = headers[tape]
        total = b.umul_with_overflow(trip, i64(len(pops)))
        c.flag(b.extract_value(total, 1))
        enough = b.and_(b.icmp_unsigned("<=", cursor, length),
                        b.icmp_unsigned("<=", b.extract_value(total, 0), cursor))
        ok = b.and_(ok, enough)
    ok = b.and_(ok, b.not_(c.overflow))
    return b.or_(b.icmp_unsigned("==", trip, i64(0)), ok)


# ---- tapes in registers -----------------------------------------------------------------

def _load_headers(L, plan: LoopPlan) -> dict:
    """tape -> (data, length, cursor), loaded once (after any reservation)."""
    from .tapes import get_field
    return {tape: tuple(get_field(L, L.env[tape], f) for f in (TAPE_DATA, TAPE_LEN, TAPE_CURSOR))
            for tape in (*plan.pushes, *plan.pops)}


def _reserve(L, plan: LoopPlan, trip) -> None:
    from .tapes import reserve
    b = L.b
    for tape, pushes in plan.pushes.items():
        total = b.umul_with_overflow(trip, i64(len(pushes)))
        reserve(L, pushes[0], L.env[tape], b.extract_value(total, 0), b.extract_value(total, 1))


def _bind_promoted(L, plan: LoopPlan, headers, k) -> None:
    """Element indices of this iteration's promoted pushes and pops (k counts iterations)."""
    b = L.b
    for tapes, sign in ((plan.pushes, 1), (plan.pops, -1)):
        for tape, ops in tapes.items():
            data, length, cursor = headers[tape]
            done = b.mul(k, i64(len(ops)), flags=["nuw", "nsw"])
            for j, x in enumerate(ops):
                if sign > 0:
                    L.promoted[x] = (data, b.add(length, b.add(done, i64(j), flags=["nuw", "nsw"]),
                                                 flags=["nuw", "nsw"]))
                else:
                    L.promoted[x] = (data, b.sub(cursor, b.add(done, i64(j + 1), flags=["nuw", "nsw"])))


def _store_headers(L, plan: LoopPlan, headers, trip) -> None:
    from .tapes import set_field
    b = L.b
    for tapes, field, sign in ((plan.pushes, TAPE_LEN, 1), (plan.pops, TAPE_CURSOR, -1)):
        for tape, ops in tapes.items():
            _data, length, cursor = headers[tape]
            total = b.mul(trip, i64(len(ops)))
            set_field(L, L.env[tape], field, b.add(length, total) if sign > 0 else b.sub(cursor, total))
        for ops in tapes.values():
            for x in ops:
                L.promoted.pop(x, None)


# ---- the two copies -----------------------------------------------------------------------

def fast_loop(L, op, plan: LoopPlan, lo, step, trip, inits, headers=None) -> list:
    """The loop with `plan`'s checks elided, its tapes in registers and its scatter-adds
    lowered as gathers (runtime/scatter.py)."""
    if plan.pushes:
        _reserve(L, plan, trip)
    if headers is None or plan.pushes:
        headers = _load_headers(L, plan)
    elided = {(c.op, c.axis) for c in plan.checks} - L.elided
    L.elided |= elided
    block = op.regions[0].block
    types = [r.type for r in op.results]
    promoted = {x for ops in (*plan.pushes.values(), *plan.pops.values()) for x in ops}
    groups = find_groups(L, op, promoted)
    gather = GatherState(L, groups, op.operands[2].op.attrs["value"]) if groups else None
    n = len(types)
    if gather is not None:
        hooks = gather.intercept()
        L.intercept.update(hooks)
        types, inits = types + gather.types(), list(inits) + gather.inits()

    def body(k, carried):
        _bind_promoted(L, plan, headers, k)
        i = add(L.b, lo, mul(L.b, k, step))
        nexts = L.lower_block(block, [i, *carried[:n]])
        return nexts if gather is None else nexts + gather.iteration(i, carried[n:])

    results = counted_loop(L, trip, types, inits, body, interleave=_interleave(op))
    if gather is not None:
        for x in hooks:
            del L.intercept[x]
        with L.b.if_then(L.b.icmp_unsigned("!=", trip, i64(0))):
            gather.epilogue(_loop_range(L, lo, step, trip)[1], results[n:])
        results = results[:n]
    L.elided -= elided
    _store_headers(L, plan, headers, trip)
    return results


def _interleave(op) -> int | None:
    """2 for an innermost loop that calls math functions, else the vectorizer's choice. Each
    call is a long dependency chain the CPU's reorder window does not see past, and the
    vectorizer does not interleave loops with calls: two vector iterations side by side
    overlap their chains (Black-Scholes' gradient 15% faster)."""
    inner = list(op.walk())[1:]
    if any(x.name in ("for", "while") for x in inner):
        return None
    return 2 if any(x.opdef.extra.get("approximable") for x in inner) else None


def versioned_loop(L, op, plan: LoopPlan, values, trip) -> list:
    lo, _hi, step, *inits = values
    b = L.b
    headers = _load_headers(L, plan) if plan.pops else None
    ok = precondition(L, op, plan, lo, step, trip, headers or {})
    fast, slow, merge = L.new_block("fast"), L.new_block("checked"), L.new_block("versions.end")
    L.ml.weigh(b.cbranch(ok, fast, slow), LIKELY)
    b.position_at_end(fast)
    fast_results = fast_loop(L, op, plan, lo, step, trip, inits, headers)
    fast_end = b.block
    b.branch(merge)
    b.position_at_end(slow)
    slow_results = call_checked_copy(L, op, values)
    slow_end = b.block
    b.branch(merge)
    b.position_at_end(merge)
    types = [r.type for r in op.results]
    groups = phi_group(L, types, fast_results, fast_end)
    add_incoming(types, groups, slow_results, slow_end)
    return group_values(L, types, groups)


# ---- the outlined checked copy --------------------------------------------------------------

def call_checked_copy(L, op, values) -> list:
    fn, free, slot = checked_copy(L, op)
    flat = [x for v in free for x in flatten(v.type, L.env[v])]
    callee = fn if slot is None else _cold_pointer(L, op, fn, slot)
    # taken when the fast path's precondition failed: usually on the way to an error
    return L.call_with_status(callee, flat, op.results, "checked", fails_rarely=False)


def checked_copy(L, op):
    """(LLVM function running `op` with every check, its free values, the slot through which
    this module calls it or None). Built once per op, in the cold module (runtime/cold.py)."""
    from .alias import AliasScopes
    from .codegen import FuncLowering
    ml = L.ml
    key = id(op)
    if key in ml.checked_copies:
        return ml.checked_copies[key]
    cold = ml.cold_lowering()
    free = free_values(op, L.analysis)
    ret = ir.LiteralStructType([I32] + [t for r in op.results for t in flat_types(r.type)])
    params = [t for v in free for t in flat_types(v.type)]
    fn = ir.Function(cold.module, ir.FunctionType(ret, [PTR] + params),
                     cold.module.get_unique_name(f"irad.checked.{L.func.name}"))
    fn.linkage = "internal" if cold is ml else "external"
    for attr in ("nounwind", "noinline", "cold", "optnone"):
        fn.attributes.add(attr)
    slot = None if cold is ml else _cold_slot(ml, fn)
    ml.checked_copies[key] = (fn, free, slot)
    alias = L.alias if cold is ml else AliasScopes(cold.module, L.func, tag=False)
    S = FuncLowering(cold, L.func, fn, versioning=False, result_types=[r.type for r in op.results],
                     alias=alias, analysis=L.analysis)
    flat = list(fn.args[1:])
    for v in free:
        n = len(flat_types(v.type))
        S.env[v] = unflatten(S.b, v.type, flat[:n])
        flat = flat[n:]
    S.ret(S.lower_op(op, [S.env[v] for v in op.operands]))
    cold.lower_pending()
    return fn, free, slot


def _cold_slot(ml, fn) -> ir.GlobalVariable:
    """An exported pointer global, null until the cold module is compiled and linked: external,
    so LLVM cannot assume it stays null."""
    slot = ir.GlobalVariable(ml.module, PTR, ml.module.get_unique_name(f"{fn.name}.address"))
    slot.initializer = ir.Constant(PTR, None)
    slot.align = 8
    ml.cold_slots.append((slot.name, fn.name))
    return slot


def _cold_pointer(L, op, fn, slot) -> ir.Value:
    """`fn`'s address, read from `slot`; on the first call, compile the cold module first."""
    from .cold import MATERIALIZE
    b = L.b
    first = b.load_atomic(slot, "acquire", 8, typ=PTR)
    with b.if_then(b.icmp_unsigned("==", first, ir.Constant(PTR, None)), likely=False):
        status = b.call(L.ml.declare(MATERIALIZE, I32, [PTR]), [slot])
        L.check(b.icmp_signed("==", status, ir.Constant(I32, 0)), VALUE,
                L.ml.site(L.func, op, "compile"))
    return b.load_atomic(slot, "acquire", 8, typ=fn.function_type.as_pointer())
