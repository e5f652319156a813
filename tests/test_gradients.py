"""Reverse-mode gradients against central finite differences (float64),
for the interpreter and native targets, which must agree to rounding."""
import numpy as np
import pytest

import grad_programs as gp
import irad

CASES = gp.CASES


def fresh(make):
    gp.rng = np.random.default_rng(99)
    return make()


def copy_tree(x):
    if isinstance(x, np.ndarray):
        return x.copy(order="K") if x.flags.c_contiguous or x.flags.f_contiguous else x.copy()
    if isinstance(x, tuple):
        return tuple(copy_tree(e) for e in x)
    if isinstance(x, dict):
        return {k: copy_tree(v) for k, v in x.items()}
    return x


def assert_close_tree(got, want, rtol=1e-5, atol=1e-7, path="grad"):
    if want is None:
        assert got is None or np.all(np.asarray(got) == 0), f"{path}: {got} where None expected"
        return
    if isinstance(want, tuple):
        for k, (g, w) in enumerate(zip(got, want)):
            assert_close_tree(g, w, rtol, atol, f"{path}[{k}]")
        return
    if isinstance(want, dict):
        for k in want:
            assert_close_tree(got[k], want[k], rtol, atol, f"{path}[{k!r}]")
        return
    np.testing.assert_allclose(np.asarray(got, float), np.asarray(want, float), rtol=rtol, atol=atol,
                               err_msg=path)


@pytest.mark.parametrize("name,fn,make", CASES, ids=[c[0] for c in CASES])
def test_interpreter_gradient_matches_finite_differences(name, fn, make):
    args = fresh(make)
    want = irad.gradient(fn, irad.AutoFiniteDifferences(), *[copy_tree(a) for a in args])
    got = irad.gradient(fn, irad.AutoInterpreter(), *[copy_tree(a) for a in args])
    assert_close_tree(got, want)


def test_identical_gradients_for_explicit_and_augmented_increment():
    args = fresh(lambda: (gp.vec(), 0.4))
    a = irad.gradient(gp.g_inc_explicit, irad.AutoInterpreter(), *copy_tree(args))
    b = irad.gradient(gp.g_inc_augmented, irad.AutoInterpreter(), *copy_tree(args))
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1]


def test_nan_and_inf_inputs_give_nan_and_inf_gradients():
    g = irad.gradient(gp.g_sumsq, irad.AutoInterpreter(), np.array([np.nan, 1.0, np.inf]), 2.0)
    assert np.isnan(g[0][0]) and g[0][1] == 4.0 and np.isinf(g[0][2])


@pytest.mark.parametrize("name,fn,make", CASES, ids=[c[0] for c in CASES])
def test_native_gradient_matches_interpreter(name, fn, make):
    args = fresh(make)
    want = irad.gradient(fn, irad.AutoInterpreter(), *[copy_tree(a) for a in args])
    got = irad.gradient(fn, *[copy_tree(a) for a in args])
    assert_close_tree(got, want, rtol=1e-12, atol=1e-14)


def test_native_pullback_runs_reverse_many_times():
    y, back = irad.pullback(gp.g_prod, np.array([1.0, 2.0, 3.0]))
    assert y == 6.0
    np.testing.assert_array_equal(back(1.0)[0], [6.0, 3.0, 2.0])
    np.testing.assert_array_equal(back(2.0)[0], [12.0, 6.0, 4.0])
