"""Math in derivative-only code may be approximate: mark it `approx = true`.

A gradient Func computes two kinds of values: what the primal observably
computes (its returned results, what it stores, the errors it raises, its
control flow) and what only derivatives need (the reverse sweep, and
forward values that feed nothing but it, such as a `tanh` whose value
only reaches `1 - tanh**2` once `gradient` has dropped the primal result).
A derivative is exact only to rounding anyway, so a math function
(`OpDef.extra["approximable"]`) in the second kind gets `approx = true`:
native code may then call the host's vector math library for it (glibc's
libmvec, documented to 4 ULP; runtime/vecmath.py), where the primal keeps
libm's exact results.

Invariants:
- Nothing observable changes, and derivatives follow the primal's path:
  an op is marked only when no primal result, forward-sweep side effect
  (store, check, allocation size...), loop bound, branch condition or
  float-to-integer cast depends on it. (A `select` may still choose by an
  approximate comparison: within a few ULP of the switch, where either
  side's derivative is as good.) Two effects do not count by
  themselves: tape pushes (they feed the reverse sweep) and stores into a
  private array (allocated by the function and never returned, passed to a
  call or carried by a loop), which count once a live op reads that array.
  `withgradient`'s value and mutated arguments are bit for bit the primal's.
- Run on the combined Func as reverse mode built it (the forward sweep is
  its first `info.boundary` top-level ops), after `without_primal_results`
  where the value is not wanted, and before `split`.
- The interpreter ignores the attribute; CSE lets an exact op stand in for
  an approximate one, never the other way round.
"""
from __future__ import annotations

from collections import defaultdict

from ..ir import Func, Op
from ..runtime.alias import array_roots
from .activity import written_array
from .dce import Liveness
from .reverse import GradientInfo
from .rewrite import enclosing_op, has_side_effects

# Uses of a function-local array that keep its contents inside the function.
_CONTAINED = {"load", "store", "fill", "copy", "gemm", "dim", "select"}


def approximate_derivative_math(grad: Func, info: GradientInfo) -> Func:
    new = grad.clone()
    observable = _Observable(new, info)
    for op in new.walk():
        if op.opdef.extra.get("approximable") and op not in observable.ops:
            op.attrs["approx"] = True
    return new


class _Observable(Liveness):
    """What the primal's observable behavior needs. A store into a private array (allocated
    by the function, never returned, passed on or carried by a loop) counts only once
    something live reads that array."""

    def __init__(self, func: Func, info: GradientInfo):
        self.roots = array_roots(func)
        private = _private_allocs(func, self.roots)
        self.writers = defaultdict(list)      # private root -> the ops that write it
        for op in func.walk():
            for root in self.roots_of(written_array(op)) & private:
                self.writers[root].append(op)

        def writes_private_only(op) -> bool:
            targets = self.roots_of(written_array(op))
            return bool(targets) and targets <= private
        effects = [op for op in _forward_effects(func, info) if not writes_private_only(op)]
        super().__init__(func, roots=effects, values=func.body.block.terminator.operands[:info.n_results])

    def roots_of(self, array) -> frozenset:
        """The roots of an array value; empty for None or unknown roots."""
        return frozenset() if array is None else self.roots.get(array) or frozenset()

    def visit(self, op: Op) -> None:
        super().visit(op)
        if op.name == "dim":
            return
        for v in op.operands:
            if v.type.is_array and not (op.name in ("store", "fill") and v is written_array(op)):
                for root in self.roots_of(v):
                    for writer in self.writers.get(root, ()):
                        self.mark_op(writer)


def _private_allocs(func: Func, roots: dict) -> frozenset:
    """The `alloc` roots whose arrays no op lets out of the function (see _CONTAINED)."""
    every = {r for rs in roots.values() if rs for r in rs if r[0] == "alloc"}
    escaped = set()
    for op in func.walk():
        contained = op.name in _CONTAINED or op.opdef.is_view or (
            op.name == "yield" and getattr(enclosing_op(op.parent), "name", None) == "if")
        if not contained:
            for v in op.operands:
                if v.type.is_array:
                    escaped |= roots.get(v) or frozenset()
    return frozenset(every - escaped)


def _forward_effects(func: Func, info: GradientInfo) -> list[Op]:
    """The forward sweep's side-effecting ops but tape pushes, its control ops (their bounds
    and conditions) and its casts of floats to integers (which may become indices)."""
    return [op for top in func.body.block.ops[:info.boundary] for op in top.walk()
            if op.regions or _to_integer(op)
            or (not op.opdef.terminator and op.name != "tape_push" and has_side_effects(op))]


def _to_integer(op: Op) -> bool:
    return op.name == "cast" and not op.results[0].type.is_float
