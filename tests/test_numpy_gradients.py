"""Gradients through whole-array NumPy: reverse mode on the interpreter
against central finite differences, and native reverse mode against the
interpreter, for every differentiable array function irad lowers."""
from __future__ import annotations

import numpy as np
import pytest

import irad

rng = np.random.default_rng(7)


def vec(n=4):
    return rng.standard_normal(n)


def mat(n=3, m=4):
    return rng.standard_normal((n, m))


def pos(*shape):
    return rng.uniform(0.5, 2.0, shape)


# ---- programs ----------------------------------------------------------------------

def g_sumsq(x): return np.sum(x ** 2)
def g_broadcast(x, y): return np.sum(np.sin(x) * y[:, None] + x / (1 + y[:, None] ** 2) - y[None, :].T)
def g_unary(x):
    return np.sum(np.exp(x) + np.expm1(x) + np.log(x * x + 1) + np.log1p(x * x) + np.sin(x) + np.cos(x)
                  + np.tan(x / 4) + np.arcsin(x / 4) + np.arccos(x / 4) + np.arctan(x) + np.sinh(x)
                  + np.cosh(x) + np.tanh(x) + np.sqrt(x * x + 1) + np.abs(x) + np.sign(x) * x + -x)
def g_binary(x, y):
    return np.sum(np.arctan2(x, y) + np.hypot(x, y) + np.maximum(x, y) + np.minimum(x, 2 * y)
                  + np.clip(x, -0.5, 0.5) + np.where(x > y, x * y, y) + np.maximum(x, 0.1))
def g_arith(x, y): return np.sum(x * y - x / (y * y + 1) + (x ** 3) * 0.1 + np.abs(y) ** 1.5 + 2.0 ** x - 3 / (2 + x))
def g_scalar_args(x, s, t): return np.sum((x * s + t) ** 2 / (1 + s * s))
def g_reductions(x): return np.mean(x) + np.var(x) + np.std(x) + np.max(x) + np.min(x) + np.prod(x) + x.sum()
def g_axis(x):
    return (np.sum(np.max(x, axis=0)) + np.sum(np.std(x, axis=1)) + np.sum(np.prod(x, axis=1, keepdims=True) * x)
            + np.sum(x.var(axis=0)) + np.sum(x.mean(axis=(0, 1), keepdims=True) * x) + np.sum(x.min(axis=1) ** 2))
def g_scans(x):
    return np.sum(np.cumsum(x, axis=1) ** 2) + np.sum(np.cumprod(x, axis=0)) + np.sum(np.cumsum(x) * np.arange(12))
def g_matmul(a, b, v):
    return np.sum((a @ b) ** 2) + v @ (a @ b[:, 0]) + np.dot(v, a[:, 0]) + np.sum(np.outer(v, v) * a[:, :1])
def g_transpose(a): return np.sum(a.T @ a) + np.sum(np.transpose(a) * np.arange(3)) + np.sum(a.T[0] ** 2)
def g_model(w, b, x, y):
    z = w @ x + b
    return np.sum((z - y) ** 2)
IDX = np.array([0, 3, -1, 3])


def g_gather(x): return np.sum(x[IDX] ** 2) + np.sum(x[IDX[::-1]] * x[IDX])
def g_scatter(x, v):
    idx = IDX
    a = np.zeros(x.shape[0])
    np.add.at(a, idx, v * x[idx])
    b = x.copy()
    b[idx[:2]] = v[:2] ** 2
    return np.sum(a ** 2) + np.sum(b * x)
def g_heat(u, alpha):
    u = u.copy()
    for _ in range(3):
        u[1:-1] = u[1:-1] + alpha * (u[:-2] - 2 * u[1:-1] + u[2:])
    return np.sum(u ** 2)
def g_joins(x, y):
    return (np.sum(np.concatenate((x, y)) ** 2 * np.arange(8)) + np.sum(np.stack((x, y)) ** 3)
            + np.sum(np.hstack((y, x)) * np.linspace(0, 1, 8)))
def g_reshape(x): return np.sum(x.reshape(-1) * np.arange(12)) + np.sum(x.ravel() ** 3) + np.sum(x.reshape(4, 3)[0])
def g_array(s, t): return np.sum(np.array([s, t, s * t]) ** 2) + np.sum(np.array([[s, 1.0], [t, s]]) @ np.array([t, s]))
def g_linspace(s, t): return np.sum(np.linspace(s, t, 5) ** 2) + np.sum(np.arange(3) * s)
def g_slices(x):
    y = np.zeros(x.shape[0] + 2)
    y[1:-1] = x * 2
    y[:2] += x[:2]
    y[::2] *= 3
    return np.sum(y ** 2)
def g_inplace(x, y):
    x = x.copy()
    x += y
    x *= y
    x[1:] -= x[:-1]
    return np.sum(x ** 2)
def g_eye(x): return np.sum((x + np.eye(3)) @ x)
def g_view_writes(x, y):
    z = x.copy()
    t = z.T
    t[0] = t[0] * y[:3]
    t *= 2.0
    r = z.reshape(-1)
    r[1:5] = r[1:5] ** 2 + y[:4]
    np.transpose(z)[1, :] += np.sin(y[1])
    return np.sum(z * x) + np.sum(r[::3] ** 2) + np.sum(z.ravel() * np.arange(12))
def g_view_reads(x):
    z = x.copy()
    t, r = z.T, z.reshape(4, 3)
    z *= x
    return np.sum(t @ r[:3]) + np.sum(r.T ** 3)
def g_mutates(x, y):
    x += y
    return np.sum(x * y)


CASES = {
    "sumsq": (g_sumsq, lambda: (vec(),)),
    "broadcast": (g_broadcast, lambda: (mat(), vec(3))),
    "unary": (g_unary, lambda: (vec(5),)),
    "binary": (g_binary, lambda: (vec(5), vec(5))),
    "arith": (g_arith, lambda: (vec(4), vec(4))),
    "scalar_args": (g_scalar_args, lambda: (vec(3), 0.7, -0.3)),
    "reductions": (g_reductions, lambda: (pos(5),)),
    "axis": (g_axis, lambda: (mat(),)),
    "scans": (g_scans, lambda: (mat(),)),
    "matmul": (g_matmul, lambda: (mat(3, 4), mat(4, 2), vec(3))),
    "transpose": (g_transpose, lambda: (mat(3, 3),)),
    "model": (g_model, lambda: (mat(3, 5), vec(3), vec(5), vec(3))),
    "gather": (g_gather, lambda: (vec(5),)),
    "scatter": (g_scatter, lambda: (vec(5), vec(4))),
    "heat": (g_heat, lambda: (vec(8), 0.2)),
    "joins": (g_joins, lambda: (vec(4), vec(4))),
    "reshape": (g_reshape, lambda: (mat(),)),
    "array": (g_array, lambda: (0.5, -1.5)),
    "linspace": (g_linspace, lambda: (0.5, -1.5)),
    "slices": (g_slices, lambda: (vec(5),)),
    "inplace": (g_inplace, lambda: (vec(4), vec(4))),
    "eye": (g_eye, lambda: (mat(3, 3),)),
    "view_writes": (g_view_writes, lambda: (mat(), vec(4))),
    "view_reads": (g_view_reads, lambda: (mat(),)),
}


def _close(a, b, rtol, atol):
    if a is None or b is None:
        assert a is None and b is None, (a, b)
        return
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", sorted(CASES))
def test_interpreter_gradient_matches_finite_differences(name):
    fn, make = CASES[name]
    args = make()
    interp = irad.gradient(fn, irad.AutoInterpreter(), *args)
    fd = irad.gradient(fn, irad.AutoFiniteDifferences(), *args)
    for g, d in zip(interp, fd):
        _close(g, d, 1e-5, 1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_native_gradient_matches_interpreter(name):
    fn, make = CASES[name]
    args = make()
    native = irad.gradient(fn, *args)
    interp = irad.gradient(fn, irad.AutoInterpreter(), *args)
    for g, h in zip(native, interp):
        _close(g, h, 1e-10, 1e-12)


def test_gradient_of_a_mutating_function_is_the_initial_contents_gradient():
    x, y = vec(3), vec(3)
    gx, gy = irad.gradient(g_mutates, x.copy(), y.copy())
    np.testing.assert_allclose(gx, y)
    np.testing.assert_allclose(gy, x + 2 * y)


def g_view_mutates(x, y):
    t = x.T
    t *= y
    x.reshape(-1)[::2] += 1.0
    return np.sum(x ** 2)


@pytest.mark.parametrize("mode", ["native", "interpreter"])
def test_gradient_through_writes_into_an_argument_via_views(mode):
    x, y = mat(3, 4), vec(3)
    args = (irad.AutoInterpreter(),) if mode == "interpreter" else ()
    gx, gy = irad.gradient(g_view_mutates, *args, x.copy(), y.copy())
    x1 = x * y[:, None]
    x1.reshape(-1)[::2] += 1.0
    np.testing.assert_allclose(gx, 2 * x1 * y[:, None], rtol=1e-12)
    np.testing.assert_allclose(gy, np.sum(2 * x1 * x, axis=1), rtol=1e-12)


# ---- operands broadcast at run time (runtime/broadcast.py) ----------------------------------

def weighted_exp(x, y, w):
    return np.sum(np.exp(x * w) * y)


@pytest.mark.parametrize("shapes", [((5,), (5,)), ((5,), (1,)), ((1,), (5,)), ((1,), (1,))])
def test_runtime_broadcasting_loops_are_right_in_both_versions(shapes):
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    assert np.isclose(irad.jit(weighted_exp)(x, y, 0.7), weighted_exp(x, y, 0.7), rtol=1e-14)
    native = irad.gradient(weighted_exp, x, y, 0.7)
    interp = irad.gradient(weighted_exp, irad.AutoInterpreter(), x, y, 0.7)
    fd = irad.gradient(weighted_exp, irad.AutoFiniteDifferences(), x, y, 0.7)
    for g, i, d in zip(native, interp, fd):
        _close(g, i, 1e-12, 1e-12)
        _close(g, d, 1e-6, 1e-7)


def test_the_unbroadcast_version_of_a_gradient_loop_vectorizes():
    g = irad.jit_gradient(weighted_exp, fastmath=True)
    args = (np.ones(8), irad.Const(np.ones(8)), 0.5)
    optimized = g.ir(*args, stage="llvm-optimized")
    assert "unit.scales" in g.ir(*args, stage="llvm")
    # the reverse loop (the only loop: no value asked for) calls the vector exp, interleaved
    assert optimized.count("<4 x double> @_ZGVdN4v_exp(") + optimized.count("<2 x double> @_ZGVbN2v_exp(") >= 2


# ---- a gradient without its value ------------------------------------------------------------

def test_a_gradient_alone_drops_the_forward_sweep_that_only_computed_the_value():
    x = np.linspace(0.0, 1.0, 6)
    alone = irad.jit_gradient(weighted_exp).ir(x, irad.Const(x), 0.5, stage="gradient")
    both = irad.jit_gradient(weighted_exp, value=True).ir(x, irad.Const(x), 0.5, stage="gradient")
    assert alone.count(" for ") == 1 and both.count(" for ") == 2
    grad = irad.jit_gradient(weighted_exp)(x, irad.Const(x), 0.5)
    val, grad_v = irad.jit_gradient(weighted_exp, value=True)(x, irad.Const(x), 0.5)
    assert val == weighted_exp(x, x, 0.5)
    for a, b in zip(grad, grad_v):
        assert (a is None and b is None) or np.array_equal(a, b)
