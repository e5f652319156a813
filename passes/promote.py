"""Promote order-free accumulations at loop-invariant elements to registers.

The adjoint of `dx = pos[j] - pos[i]` in a loop over j accumulates
`dpos[i] -= g` and `dpos[j] += g` in every iteration. The two elements
coincide when j == i, so the accumulation into dpos[i] is a memory
dependence from each iteration to the next: LLVM cannot keep it in a
register, and the loop stays scalar. Since the sums are order-free, this
pass adds the loop-invariant element's contributions into a loop-carried
register instead (starting at -0.0) and adds the register to the element
once, after a loop that ran:

    for j { dpos[i] += e(j); dpos[j] += f(j) }
      =>  r = for j iter_args(r = -0.0) { dpos[j] += f(j); yield r + e(j) }
          if the loop ran { dpos[i] += r }

Invariants (an array's accumulations are promoted only when all hold):
- the loop is a `for` with a constant step;
- the array is private memory and the loop touches it only through
  accumulations (`accumulations.py`), at least one of them at an element
  whose indices are all defined outside the loop;
- each element gets the same contributions, each once; only the order of
  the sums changes, which `reassoc` allows (x + -0.0 is x, signed zeros
  included). The element is touched only when the loop ran, as before.
"""
from __future__ import annotations

from ..ir import Block, Builder, Func, Op
from .accumulations import (Accumulation, PrivateMemory, accumulate, accumulations, by_array, emit_if,
                            ran, rewrite_loops, step_sign, sum_terms, with_carried, without)
from .driver import DEFAULT_OPTIONS, PassOptions, register
from .rewrite import ValueMap, values_defined_in


@register("promote-accumulations")
def promote_accumulations(func: Func, options: PassOptions = DEFAULT_OPTIONS) -> Func:
    return rewrite_loops(func, options, _promote_loop)


def _promote_loop(loop: Op, memory: PrivateMemory, vmap: ValueMap) -> list[Op] | None:
    invariant = _invariant_accumulations(loop, memory)
    return _promote(loop, invariant, vmap) if invariant else None


def _invariant_accumulations(loop: Op, memory: PrivateMemory) -> list[list[Accumulation]]:
    """The promotable accumulations, one list per element (same array and index values)."""
    if not step_sign(loop):
        return []
    inside = values_defined_in(loop)
    elements: dict = {}
    for array, accs in by_array(accumulations(loop)).items():
        if not memory.only_through(loop, array, accs):
            continue
        for acc in accs:
            if not any(v in inside for v in acc.index):
                elements.setdefault((acc.array, *acc.index), []).append(acc)
    return list(elements.values())


def _promote(loop: Op, elements: list[list[Accumulation]], vmap: ValueMap) -> list[Op]:
    body, yield_op = without(loop, {id(op) for accs in elements for a in accs for op in a.ops})
    b = Builder(body, loc=loop.loc)
    nexts = []
    for accs in elements:
        register_ = body.add_arg(accs[0].contribution.type)
        nexts.append(sum_terms(b, [register_, *(a.contribution for a in accs)]))
    b.emit("yield", *yield_op.operands, *nexts, loc=yield_op.loc)

    outer = Block()
    ob = Builder(outer, loc=loop.loc)
    zeros = [ob.const(-0.0, accs[0].contribution.type) for accs in elements]
    new_loop = with_carried(loop, zeros)
    outer.append(new_loop)
    for old, new in zip(loop.results, new_loop.results):
        vmap.replace(old, new)
    totals = new_loop.results[len(loop.results):]

    def add_totals(tb):
        for accs, total in zip(elements, totals):
            accumulate(tb, accs[0].array, accs[0].index, total)

    emit_if(ob, ran(ob, new_loop), add_totals)
    return outer.ops
