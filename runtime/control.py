"""Lowering of structured control flow: for, while, if and call.

Invariants:
- `for` runs `trip_count(lo, hi, step)` iterations with `i = lo + k*step`
  (Python's range for either sign of step; a zero step raises ValueError
  before the loop, as `range` does). A loop with a plan (runtime/hoist.py)
  is versioned or has its tapes promoted (runtime/versioning.py); any
  loop may lower its scatter-adds as gathers (runtime/scatter.py). A loop
  indexing operands broadcast at run time is specialized for unbroadcast
  ones (runtime/broadcast.py).
- `while` evaluates its before region, leaves with the `condition`'s
  values when it is false, else runs the after region and repeats; the
  before region dominates the exit, so results need no phis.
- `if` merges its two regions' yields with phis.
- `call` passes flattened values to the callee's LLVM function and
  returns its nonzero status unchanged (the error record stays as filled).
"""
from __future__ import annotations

from llvmlite import ir

from irad.errors import UnsupportedError

from .abi import flatten, i64
from .errors import VALUE
from .hoist import LoopPlan
from .loops import add_incoming, group_values, phi_group, trip_count
from .broadcast import specialized_loop
from .versioning import fast_loop, versioned_loop


def lower_for(L, op, values):
    return specialized_loop(L, op, values, lambda vals: _lower_for(L, op, vals))


def _lower_for(L, op, values):
    lo, hi, step, *inits = values
    if not (isinstance(step, ir.Constant) and step.constant != 0):
        ok = L.b.icmp_signed("!=", step, i64(0))
        L.check(ok, VALUE, L.ml.site(L.func, op, "step"), step)
    trip = trip_count(L, lo, hi, step)
    plan = L.loop_plan(op)
    if plan is not None and L.boundscheck and plan.versioned():
        return versioned_loop(L, op, plan, values, trip)
    return fast_loop(L, op, plan or LoopPlan(), lo, step, trip, inits)


def lower_while(L, op, values):
    b = L.b
    types = [r.type for r in op.results]
    pre = b.block
    before, after, done = L.new_block("while.cond"), L.new_block("while.body"), L.new_block("while.exit")
    b.branch(before)
    b.position_at_end(before)
    groups = phi_group(L, types, values, pre)
    cond, *carried = L.lower_block(op.regions[0].block, group_values(L, types, groups))
    b.cbranch(cond, after, done)
    b.position_at_end(after)
    nexts = L.lower_block(op.regions[1].block, carried)
    add_incoming(types, groups, nexts, b.block)
    b.branch(before)
    b.position_at_end(done)
    return carried


def lower_if(L, op, values):
    b = L.b
    types = [r.type for r in op.results]
    then, other, merge = L.new_block("if.then"), L.new_block("if.else"), L.new_block("if.end")
    b.cbranch(values[0], then, other)
    arms = []
    for region, block in zip(op.regions, (then, other)):
        b.position_at_end(block)
        arms.append((L.lower_block(region.block, []), b.block))
        b.branch(merge)
    b.position_at_end(merge)
    (then_values, then_end), (else_values, else_end) = arms
    groups = phi_group(L, types, then_values, then_end)
    add_incoming(types, groups, else_values, else_end)
    return group_values(L, types, groups)


def _check_call_types(op, callee) -> None:
    def fits(actual, wanted):
        if actual == wanted:
            return True
        return (actual.is_array and wanted.is_array and wanted.layout == "strided"
                and (actual.dtype, actual.ndim) == (wanted.dtype, wanted.ndim))
    wanted = [a.type for a in callee.args]
    if len(wanted) != len(op.operands) or not all(fits(v.type, w) for v, w in zip(op.operands, wanted)):
        got = ", ".join(str(v.type) for v in op.operands)
        raise UnsupportedError(f"call to @{callee.name} with ({got}); it takes "
                               f"({', '.join(map(str, wanted))})", op.loc)
    if [r.type for r in op.results] != list(callee.result_types):
        raise UnsupportedError(f"call to @{callee.name}: result types differ from its signature", op.loc)


def lower_call(L, op, values):
    name = op.attrs["callee"]
    fn = L.ml.impl(name)
    callee = L.ml.funcs[name]
    _check_call_types(op, callee)
    flat = [v for a, val in zip(callee.args, values) for v in flatten(a.type, val)]
    return L.call_with_status(fn, flat, op.results, "call", fails_rarely=True)



SPECIALS = {"for": lower_for, "while": lower_while, "if": lower_if, "call": lower_call}
