"""Which bounds checks and tape accesses a `for` loop can take out of its body.

The analysis reads one IR function and produces a `LoopPlan` per `for` op;
`runtime/versioning.py` turns a plan into code. Nothing here emits LLVM.

Invariants:
- A check is a (load/store op, axis) pair; it is *hoistable* to loop F when
  its op sits directly in F's body block or in the body block of a chain of
  `for` ops nested directly in one another under F (never inside an `if`
  or a `while`: a guarded access may legally be out of range where the
  guard is false), the array is defined outside F, the index is affine,
  `sum(coeff_v * iv_v) + const`, in the induction variables of that chain,
  with coefficients and constant built (add, sub, neg, mul, const, dim)
  from values defined outside F (or is the tracer's negative-index wrap
  `select(x < 0, x + n, x)` of such an affine x), and every inner loop of
  the chain has bounds and step defined outside F. Each check is assigned
  to the outermost loop it is hoistable to (hoistability only grows
  inwards).
- A check whose index provably stays in range from the loop bounds alone
  (`proves`: steps of +-1, constant coefficients, bounds and extents
  linear in the same invariant values, e.g. `range(1, n - 1)` over an
  array of extent n) goes to `Analysis.proven` and is never emitted.
  Every other hoistable check goes to its loop's plan: whether it is
  redundant is decided at run time by the versioning precondition, so the
  analysis never has to be exact.
- A tape is *promotable* in loop F when F's whole body (nested regions
  included) uses tapes only through `tape_push`/`tape_pop` ops that sit
  directly in F's body block, each tape only pushed or only popped, and the
  tape is defined outside F. Its header (data, length, cursor) can then
  live in registers for the duration of the loop.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from irad.ir import BlockArg, Func, Op, Value
from irad.types import I64, TapeType

INDEXED = frozenset({"load", "store"})


# ---- invariant expressions: trees over values defined outside the loop ---------------
# ("const", int) | ("val", Value) | ("dim", array Value, axis) | ("neg", e) | ("add", e, e) |
# ("mul", e, e); an array in a "dim" leaf is defined outside the loop.

def e_const(value: int):
    return ("const", int(value))


def e_add(x, y):
    if x[0] == "const" and x[1] == 0:
        return y
    if y[0] == "const" and y[1] == 0:
        return x
    return ("add", x, y)


def e_neg(x):
    return ("const", -x[1]) if x[0] == "const" else ("neg", x)


def e_mul(x, y):
    if x[0] == "const" and x[1] == 1:
        return y
    if y[0] == "const" and y[1] == 1:
        return x
    return ("mul", x, y)


@dataclass
class Affine:
    """`const + sum(coeffs[F] * iv(F))`; coefficient and constant are invariant expressions."""

    const: tuple
    coeffs: dict = field(default_factory=dict)      # for op -> expression

    def is_invariant(self) -> bool:
        return not self.coeffs


def _combine(x: Affine, y: Affine, sign: int) -> Affine:
    f = (lambda e: e) if sign > 0 else e_neg
    coeffs = dict(x.coeffs)
    for loop, c in y.coeffs.items():
        coeffs[loop] = e_add(coeffs[loop], f(c)) if loop in coeffs else f(c)
    return Affine(e_add(x.const, f(y.const)), coeffs)


def _scale(x: Affine, k) -> Affine:
    return Affine(e_mul(x.const, k), {loop: e_mul(c, k) for loop, c in x.coeffs.items()})


# ---- plans -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """Index of `op` on `axis` of `array`, hoisted over the loops `chain` (outermost first).

    The index is `index`, or with `wrap` (an invariant expression) the tracer's
    negative-index normalization of it: `index + wrap if index < 0 else index`."""

    op: Op
    axis: int
    array: Value
    index: Affine
    chain: tuple
    wrap: tuple | None = None

    def key(self) -> tuple:
        """Equal for checks of the same index into the same array axis over the same loops."""
        return (self.array, self.axis, self.index.const, frozenset(self.index.coeffs.items()),
                self.chain, self.wrap)


@dataclass
class LoopPlan:
    checks: list = field(default_factory=list)        # Checks hoisted to this loop (not proven)
    pushes: dict = field(default_factory=dict)        # tape Value -> [push ops in body order]
    pops: dict = field(default_factory=dict)          # tape Value -> [pop ops in body order]

    def versioned(self) -> bool:
        """Whether the loop needs a run-time precondition (and a checked fallback)."""
        return bool(self.checks or self.pops)

    def empty(self) -> bool:
        return not (self.checks or self.pushes or self.pops)


class Analysis:
    """Loop plans of one function (see the module invariants)."""

    def __init__(self, func: Func):
        self.func = func
        self.plans: dict[Op, LoopPlan] = {}
        self.proven: set = set()            # (op, axis) checks that hold on every execution
        self.uses: dict | None = None       # Value -> number of operand uses (runtime/scatter.py)
        self._ancestors: dict = {}
        self._walk(func.body.block, ())
        for op in func.walk():
            if op.name == "for":
                self._plan_tapes(op)

    def plan(self, op: Op) -> LoopPlan | None:
        plan = self.plans.get(op)
        return None if plan is None or plan.empty() else plan

    # -- structure ------------------------------------------------------------

    def _ops_above(self, block) -> frozenset:
        """The ops whose regions (transitively) contain `block`."""
        got = self._ancestors.get(block)
        if got is None:
            region = block.parent
            op = region.parent if region is not None else None
            got = frozenset() if op is None else self._ops_above(op.parent) | {op}
            self._ancestors[block] = got
        return got

    def inside(self, v: Value, loop: Op) -> bool:
        block = v.block if isinstance(v, BlockArg) else v.op.parent
        return loop in self._ops_above(block)

    def _walk(self, block, chain: tuple) -> None:
        for op in block.ops:
            if op.name in INDEXED and op.attrs.get("inbounds"):
                first = 1 if op.name == "load" else 2
                self.proven.update((op, axis) for axis in range(len(op.operands) - first))
            elif op.name in INDEXED and chain:
                self._place_checks(op, chain)
            if op.name == "for":
                self._walk(op.regions[0].block, chain + (op,))
            else:
                for region in op.regions:
                    self._walk(region.block, ())

    # -- bounds checks --------------------------------------------------------

    def _place_checks(self, op: Op, chain: tuple) -> None:
        if op.name == "load":
            array, indices = op.operands[0], op.operands[1:]
        else:
            array, indices = op.operands[1], op.operands[2:]
        for axis, x in enumerate(indices):
            for depth, loop in enumerate(chain):
                inner = chain[depth:]
                if self.inside(array, loop) or not self._bounds_invariant(inner):
                    continue
                form, wrap = self.index_form(x, inner)
                if form is not None:
                    check = Check(op, axis, array, form, inner, wrap)
                    if wrap is None and proves(check):
                        self.proven.add((op, axis))
                    else:
                        self.plans.setdefault(loop, LoopPlan()).checks.append(check)
                    break

    def _bounds_invariant(self, chain: tuple) -> bool:
        outer = chain[0]
        return all(not self.inside(v, outer) for loop in chain[1:] for v in loop.operands[:3])

    def index_form(self, v: Value, chain: tuple):
        """(affine form, wrap): v is affine, or `select(x < 0, x + wrap, x)` of an affine x
        (Python's negative indices, as the tracer emits them); (None, None) otherwise."""
        form = self.affine(v, chain)
        if form is not None or isinstance(v, BlockArg) or v.op.name != "select":
            return form, None
        if not self.inside(v, chain[0]):
            return None, None
        cond, wrapped, x = v.op.operands
        if isinstance(cond, BlockArg) or cond.op.name != "lt" or cond.op.operands[0] is not x:
            return None, None
        zero = cond.op.operands[1]
        if isinstance(zero, BlockArg) or zero.op.name != "const" or zero.op.attrs["value"] != 0:
            return None, None
        if isinstance(wrapped, BlockArg) or wrapped.op.name != "add" or x not in wrapped.op.operands:
            return None, None
        a, b = wrapped.op.operands
        e = self.affine(b if a is x else a, chain)
        form = self.affine(x, chain)
        if form is None or e is None or not e.is_invariant():
            return None, None
        return form, e.const

    def affine(self, v: Value, chain: tuple, memo=None) -> Affine | None:
        """v as an affine form in the induction variables of `chain`, or None."""
        memo = {} if memo is None else memo
        if v in memo:
            return memo[v]
        memo[v] = result = self._affine(v, chain, memo)
        return result

    def _affine(self, v: Value, chain: tuple, memo) -> Affine | None:
        if v.type != I64:
            return None
        if not isinstance(v, BlockArg) and v.op.name == "const":
            return Affine(e_const(v.op.attrs["value"]))
        if not self.inside(v, chain[0]):
            return Affine(("val", v))
        if isinstance(v, BlockArg):
            for loop in chain:
                if v.index == 0 and v.block is loop.regions[0].block:
                    return Affine(e_const(0), {loop: e_const(1)})
            return None
        op = v.op
        if op.name == "dim" and not self.inside(op.operands[0], chain[0]):
            return Affine(("dim", op.operands[0], op.attrs["axis"]))   # an extent, read in the loop
        if op.name in ("add", "sub", "mul", "neg"):
            parts = [self.affine(x, chain, memo) for x in op.operands]
            if any(p is None for p in parts):
                return None
            if op.name == "neg":
                return _scale(parts[0], e_const(-1))
            if op.name == "mul":
                x, y = parts
                if y.is_invariant():
                    return _scale(x, y.const)
                if x.is_invariant():
                    return _scale(y, x.const)
                return None
            return _combine(parts[0], parts[1], 1 if op.name == "add" else -1)
        return None

    # -- tapes ----------------------------------------------------------------

    def _plan_tapes(self, loop: Op) -> None:
        body = loop.regions[0].block
        pushes: dict = {}
        pops: dict = {}
        for op in loop.walk():
            if op is loop:
                continue
            tapes = [v for v in op.operands if isinstance(v.type, TapeType)]
            if not tapes:
                continue
            if op.parent is not body or op.name not in ("tape_push", "tape_pop"):
                return                      # any other use of any tape: promote nothing
            (tape,) = tapes
            if self.inside(tape, loop):
                return
            (pushes if op.name == "tape_push" else pops).setdefault(tape, []).append(op)
        if set(pushes) & set(pops):
            return
        if pushes or pops:
            plan = self.plans.setdefault(loop, LoopPlan())
            plan.pushes, plan.pops = pushes, pops


def free_values(op: Op, analysis: Analysis) -> list[Value]:
    """Values `op` and its regions use that are defined outside it, in first-use order."""
    seen: dict = {}
    for inner in op.walk():
        for v in inner.operands:
            if v not in seen and (inner is op or not analysis.inside(v, op)):
                seen[v] = None
    return list(seen)


# ---- static proofs ------------------------------------------------------------------------
# A linear form is {leaf: int coefficient, None: int constant}. Leaves are loop-invariant
# values: array extents ("dim", array, axis), known to be >= 0, or other values, of any sign.

def _linear(v: Value, depth: int = 0) -> dict:
    """An invariant i64 value as a linear form (a leaf when nothing better is known)."""
    op = None if isinstance(v, BlockArg) else v.op
    if op is not None and depth < 8:
        if op.name == "const":
            return {None: int(op.attrs["value"])}
        if op.name == "dim":
            return _extent(op.operands[0], op.attrs["axis"], depth + 1)[0]
        if op.name in ("add", "sub"):
            x, y = (_linear(w, depth + 1) for w in op.operands)
            return _plus(x, y if op.name == "add" else _scaled(y, -1))
    return {v: 1}


def _extent(array: Value, axis: int, depth: int = 0):
    """(linear form of an array's extent, the leaves it proves >= 0)."""
    if not isinstance(array, BlockArg) and array.op.name == "alloc":
        form = _linear(array.op.operands[axis], depth + 1)     # `alloc` refuses negative extents
        single = [k for k, c in form.items() if k is not None and c != 0]
        if form.get(None, 0) == 0 and len(single) == 1 and form[single[0]] == 1:
            return form, {single[0]}
        return form, set()
    return {("dim", array, axis): 1}, set()


def _expr_linear(e) -> dict | None:
    """An invariant expression (hoist.py tree) as a linear form, or None (a symbolic product)."""
    kind = e[0]
    if kind == "const":
        return {None: e[1]}
    if kind == "val":
        return _linear(e[1])
    if kind == "dim":
        return _extent(e[1], e[2])[0]
    if kind == "neg":
        x = _expr_linear(e[1])
        return None if x is None else _scaled(x, -1)
    x, y = _expr_linear(e[1]), _expr_linear(e[2])
    if x is None or y is None:
        return None
    if kind == "add":
        return _plus(x, y)
    for a, b in ((x, y), (y, x)):
        if set(a) <= {None}:
            return _scaled(b, a.get(None, 0))
    return None


def _scaled(form: dict, k: int) -> dict:
    return {key: k * c for key, c in form.items()}


def _plus(x: dict, y: dict) -> dict:
    out = dict(x)
    for key, c in y.items():
        out[key] = out.get(key, 0) + c
    return out


def _at_least(form: dict, k: int, nonneg=frozenset()) -> bool:
    """form >= k whatever the leaves' values (extents and `nonneg` leaves are >= 0; others
    must cancel out)."""
    def fine(key, c):
        return c == 0 or (c > 0 and (isinstance(key, tuple) or key in nonneg))
    return form.get(None, 0) >= k and all(fine(key, c) for key, c in form.items() if key is not None)


def proves(check: Check) -> bool:
    """Whether 0 <= index < extent holds on every iteration, from the loop bounds alone
    (steps of +-1, constant coefficients, bounds and extents linear in invariant values).

    Sound: the index's exact (unwrapped) value lies in [0, extent), so the wrapped i64 value
    the loop computes equals it."""
    low = high = _expr_linear(check.index.const)
    if low is None:
        return False
    for loop, coeff in check.index.coeffs.items():
        a = _expr_linear(coeff)
        lo, hi, step = (_linear(v) for v in loop.operands[:3])
        if a is None or set(a) - {None} or set(step) - {None}:
            return False
        a = a.get(None, 0)
        if step.get(None) == 1:
            first, last = lo, _plus(hi, {None: -1})
        elif step.get(None) == -1:
            first, last = _plus(hi, {None: 1}), lo        # iv runs over [hi + 1, lo]
        else:
            return False
        smallest, largest = (first, last) if a >= 0 else (last, first)
        low, high = _plus(low, _scaled(smallest, a)), _plus(high, _scaled(largest, a))
    extent, nonneg = _extent(check.array, check.axis)
    return _at_least(low, 0, nonneg) and _at_least(_plus(extent, _scaled(high, -1)), 1, nonneg)
