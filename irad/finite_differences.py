"""Central finite differences and `check_gradient`: the cross-check of
irad's gradients.

Invariants: every evaluation gets fresh copies of the arguments, so
functions that mutate their inputs are differenced from the same point;
integers used as sizes or indices (where a perturbed float would not run)
get None, as in irad's own gradients.
"""
from __future__ import annotations

import numpy as np

from .autodiff import Active, Const, Duplicated, _parse, gradient
from .errors import GradientMismatch, IradError
from .tracer.pytree import children, map_tree


def primal_values(args):
    return [a.val if isinstance(a, (Duplicated, Const, Active)) else a for a in args]


def copy_tree(x):
    node = children(x)
    if node is not None:
        rebuild, cs = node
        return rebuild([copy_tree(c) for c in cs])
    return x.copy() if isinstance(x, np.ndarray) else x


def _scalar_output(f, args, first_element):
    out = f(*copy_tree(args))
    if first_element and isinstance(out, (tuple, list)):
        out = out[0]
    elif first_element and isinstance(out, dict):
        out = next(iter(out.values()))
    if isinstance(out, np.ndarray) and out.shape != ():
        raise IradError(f"gradient needs a real scalar output, got an array of shape {out.shape}",
                        hint="use irad.jacobian")
    return float(out)


def _flatten(x):
    leaves: list = []
    map_tree(leaves.append, x)

    def rebuild(new_leaves):
        it = iter(new_leaves)
        return map_tree(lambda _: next(it), x)
    return leaves, rebuild


def finite_difference_gradient(f, args, eps=1e-6, first_element=False):
    """Central differences w.r.t. every numeric leaf; arguments are restored between calls."""
    values = primal_values(args)
    implicit_const = any(isinstance(a, Duplicated) for a in args)   # API: the others are Const
    grads = []
    for k, v in enumerate(values):
        if isinstance(args[k], Const) or (implicit_const and not isinstance(args[k], (Duplicated, Active))):
            grads.append(None)
            continue
        leaves, rebuild = _flatten(v)
        out = []
        for j, leaf in enumerate(leaves):
            def call_with(new, j=j, k=k, leaves=leaves, rebuild=rebuild):
                changed = list(leaves)
                changed[j] = new
                return _scalar_output(f, _replace(values, k, rebuild(changed)), first_element)
            out.append(_fd_value(call_with, leaf, eps))
        grads.append(rebuild(out))
    return tuple(grads)


def _fd_value(call_with, leaf, eps):
    if isinstance(leaf, np.ndarray):
        if leaf.dtype == np.bool_:
            return None
        base = leaf.astype(np.float64)
        g = np.zeros(leaf.shape)
        for idx in np.ndindex(leaf.shape):
            plus, minus = base.copy(), base.copy()
            plus[idx] += eps
            minus[idx] -= eps
            g[idx] = (call_with(plus) - call_with(minus)) / (2 * eps)
        return g
    if isinstance(leaf, (bool, np.bool_)) or not isinstance(leaf, (int, float, np.number)):
        return None
    try:
        return (call_with(float(leaf) + eps) - call_with(float(leaf) - eps)) / (2 * eps)
    except TypeError:
        if isinstance(leaf, (int, np.integer)):
            return None  # an integer used as a size or index: no derivative
        raise


def _replace(values, k, new):
    out = list(values)
    out[k] = new
    return out


def check_gradient(f, *args, rtol=1e-6, atol=1e-8, eps=1e-6):
    """Compare irad's gradient with central finite differences; raise GradientMismatch."""
    adtype, args = _parse(args)
    got = gradient(f, adtype, *[_fresh(a) for a in args])
    want = finite_difference_gradient(f, args, eps)
    worst = _worst(got, want, rtol, atol, "")
    if worst is not None:
        where, g, w = worst
        raise GradientMismatch(f"gradient mismatch at {where}: irad {g!r}, finite differences {w!r}",
                               hint=f"rtol={rtol}, atol={atol}")
    return got


def _fresh(arg):
    """`arg` with copies of the arrays a mutating `f` may change, annotations kept (a
    Duplicated's shadow too: the gradient accumulates there, as the caller asked)."""
    if isinstance(arg, Const):
        return Const(copy_tree(arg.val))
    if isinstance(arg, Duplicated):
        return Duplicated(copy_tree(arg.val), arg.dval)
    return arg if isinstance(arg, Active) else copy_tree(arg)


def _worst(got, want, rtol, atol, path):
    if want is None or got is None:
        if (want is None) != (got is None) and not _is_zero(want if got is None else got):
            return path or "argument", got, want
        return None
    node = children(want)
    if node is not None:
        g_children = children(got)[1]
        for j, (g, w) in enumerate(zip(g_children, node[1])):
            found = _worst(g, w, rtol, atol, f"{path}[{j}]")
            if found:
                return found
        return None
    g, w = np.asarray(got, dtype=float), np.asarray(w_ := want, dtype=float)
    err = np.abs(g - w) - (atol + rtol * np.abs(w))
    if np.any(err > 0) or np.any(np.isnan(g) != np.isnan(w)):
        k = np.unravel_index(int(np.nanargmax(err)), err.shape) if err.shape else ()
        return f"{path}{list(k) if k else ''}", g[k].item() if g.shape else g.item(), \
            w[k].item() if w.shape else w_
    return None


def _is_zero(x) -> bool:
    try:
        return bool(np.all(np.asarray(x) == 0))
    except Exception:
        return False
