"""Derive JVP and VJP rules from a table of partial derivatives.

`partials(b, r, *operands)` returns, per operand, the derivative of the
result with respect to it: a `Value`, `ONE`, `MINUS_ONE`, or None where it
is zero or undefined (integer operands are never differentiated).
VJP: `ct_i = ct * p_i`. JVP: `t = sum_i p_i * t_i`.
"""
from __future__ import annotations

ONE, MINUS_ONE = object(), object()


def _scale(b, p, v):
    if p is ONE:
        return v
    if p is MINUS_ONE:
        return b.neg(v)
    return b.mul(v, p)


def from_partials(partials, **extra):
    """An op's VJP and JVP from `partials(b, result, *operands)`, one derivative expression per
    operand (None: no derivative); `extra` goes into the OpDef's extra (e.g. `expensive`)."""
    def vjp(b, ct, r, *xs):
        if not r.type.is_float:
            return (None,) * len(xs)
        ps = partials(b, r, *xs)
        return tuple(None if p is None or not x.type.is_float else _scale(b, p, ct)
                     for p, x in zip(ps, xs))

    def jvp(b, r, *xs_and_ts):
        n = len(xs_and_ts) // 2
        xs, ts = xs_and_ts[:n], xs_and_ts[n:]
        if not r.type.is_float or all(t is None for t in ts):
            return None
        ps = partials(b, r, *xs)
        terms = [_scale(b, p, t) for p, t in zip(ps, ts) if p is not None and t is not None]
        if not terms:
            return None
        total = terms[0]
        for term in terms[1:]:
            total = b.add(total, term)
        return total

    return dict(vjp=vjp, jvp=jvp, differentiable=True, extra={"partials": partials, **extra})
