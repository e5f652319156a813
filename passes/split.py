"""Split a combined-mode gradient into an augmented forward Func and a
reverse Func, for pullbacks whose reverse sweep runs many times.

The forward Func takes the primal arguments and returns the primal results
followed by the residuals: every forward value the reverse sweep reads
(primal arguments it re-loads from, values it uses, tapes) but constants,
which the reverse Func defines again (so its passes see them). The reverse
Func takes the residuals, then the shadows and seeds, and returns the
adjoints. It rewinds its tapes first and frees none of them, so it can run
again with other seeds; the tapes die with the residuals.

Invariant: running forward then reverse gives exactly what the combined
Func gives.
"""
from __future__ import annotations

from ..ir import Block, Builder, Func, Op, clone_op
from .reverse import GradientInfo
from .rewrite import const_op


def _uses(ops) -> list:
    seen: dict = {}
    for op in ops:
        for inner in op.walk():
            for v in inner.operands:
                seen.setdefault(v, None)
    return list(seen)


def split(grad: Func, info: GradientInfo, n_primal_args: int) -> tuple[Func, Func]:
    """(forward, reverse) of a combined gradient Func."""
    ops = grad.body.block.ops
    forward_ops = [op for op in ops[:info.boundary] if op.name != "tape_rewind"]
    rewinds = [op for op in ops[:info.boundary] if op.name == "tape_rewind"]
    ret = ops[-1]
    reverse_ops = rewinds + [op for op in ops[info.boundary:-1] if op.name != "tape_free"]
    defined = set(grad.args[:n_primal_args])
    for op in forward_ops:
        for inner in op.walk():
            defined.update(inner.results)
    needed = [v for v in _uses(reverse_ops + [ret]) if v in defined]
    constants = [v for v in needed if const_op(v) is not None]
    residuals = [v for v in needed if const_op(v) is None]
    primal_results = ret.operands[:info.n_results]
    adjoints = ret.operands[info.n_results:]

    fwd = Func(grad.name + ".forward", [a.type for a in grad.args[:n_primal_args]],
               [v.type for v in primal_results] + [v.type for v in residuals],
               [a.hint for a in grad.args[:n_primal_args]], grad.loc)
    mapping = dict(zip(grad.args[:n_primal_args], fwd.args))
    _copy_into(forward_ops, fwd.body.block, mapping)
    fwd.body.block.append(Op("return", [mapping[v] for v in [*primal_results, *residuals]], [],
                             loc=ret.loc))

    extra = grad.args[n_primal_args:]
    rev = Func(grad.name + ".reverse", [v.type for v in residuals] + [a.type for a in extra],
               [v.type for v in adjoints], [v.hint for v in residuals] + [a.hint for a in extra], grad.loc)
    mapping = dict(zip(residuals, rev.args))
    mapping.update(zip(extra, rev.args[len(residuals):]))
    _copy_into([v.op for v in constants] + reverse_ops, rev.body.block, mapping)
    rev.body.block.append(Op("return", [mapping[v] for v in adjoints], [], loc=ret.loc))
    return fwd, rev


def without_primal_results(grad: Func, info: GradientInfo) -> Func:
    """The gradient Func returning zeros for its scalar primal results (for callers that only
    want the gradient): whatever only computed them becomes dead code."""
    new = grad.clone()
    block = new.body.block
    ret = block.ops.pop()
    b = Builder(block, ret.loc)
    values = [b.const(0, v.type) if k < info.n_results and v.type.is_scalar else v
              for k, v in enumerate(ret.operands)]
    b.emit("return", *values)
    return new


def _copy_into(ops, block: Block, mapping: dict):
    for op in ops:
        block.append(clone_op(op, mapping))
