"""Math that only derivatives use is marked `approx` and may come from libmvec
(passes/approximate.py); everything the primal observably computes stays exact.

What is observable: returned primal values, stores into arguments, stores
into private scratch arrays that something observable reads, and the
control flow around them. `gradient` drops the primal value, so a
function's math usually becomes derivative-only there; `withgradient`
keeps it, and its value stays bit-identical to `irad.jit`'s."""
import re

import numpy as np
import pytest

import irad
from irad.runtime import vecmath

HAS_MVEC = bool(vecmath.process_symbols())
needs_mvec = pytest.mark.skipif(not HAS_MVEC, reason="no AVX2 or no libmvec on this host")


def _math_ops(text: str) -> list[tuple[str, bool]]:
    """(function, marked approx) for each math op of a printed Func, in order."""
    found = re.findall(r"= (exp|log|tanh|sin) %\S+( \{approx = true\})?", text)
    return [(name, bool(mark)) for name, mark in found]


def scaled_tanh(x, w):
    h = np.tanh(x * w)
    return np.sum(h * h)


def log_loss(s, k):
    return np.sum(np.log(s / k) * np.exp(-k))


def exp_into_argument(x, out):
    for i in range(x.shape[0]):
        out[i] = np.exp(x[i])
    return np.sum(out * x)


def exp_stored_in_scratch(x):
    tmp = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        tmp[i] = np.exp(x[i])
    total = 0.0
    for i in range(x.shape[0]):
        total += tmp[i] * x[i]
    return total


def exp_bounds_a_loop(x):
    n = int(np.exp(x[0]))
    total = 0.0
    for i in range(n):
        total += x[1] * i
    return total


def exp_ends_a_while_loop(x):
    t = 0.0
    while np.exp(t) < x[0]:
        t += 0.5
    return t * x[1]


def _ir(f, *args, value=False):
    return irad.jit_gradient(f, value=value).ir(*args, stage="gradient")


X = np.linspace(0.1, 2.0, 37)
W = np.linspace(-1.5, 1.5, 37)


# ---- which ops are marked ---------------------------------------------------------------------

def test_gradient_marks_math_that_only_derivatives_use():
    assert _math_ops(_ir(scaled_tanh, X, W)) == [("tanh", True)]
    assert set(_math_ops(_ir(log_loss, X + 1.0, W + 2.0))) == {("log", True), ("exp", True)}


def test_withgradient_keeps_the_math_of_its_value_exact():
    ops = _math_ops(_ir(scaled_tanh, X, W, value=True))
    assert ("tanh", False) in ops


def test_math_stored_into_an_argument_stays_exact():
    assert _math_ops(_ir(exp_into_argument, X, np.zeros_like(X))) == [("exp", False)]


def test_math_stored_into_a_scratch_array_is_derivative_only_unless_the_value_is_wanted():
    assert all(approx for _, approx in _math_ops(_ir(exp_stored_in_scratch, X)))
    assert ("exp", False) in _math_ops(_ir(exp_stored_in_scratch, X, value=True))


def test_math_that_sets_a_loop_bound_stays_exact():
    assert ("exp", False) in _math_ops(_ir(exp_bounds_a_loop, np.array([2.5, 3.0])))


def test_math_that_ends_a_while_loop_stays_exact():
    assert _math_ops(_ir(exp_ends_a_while_loop, np.array([7.5, 3.0]))) == [("exp", False)]


def test_pullback_keeps_its_value_exact_and_its_derivative_to_rounding():
    x = np.linspace(-1.0, 1.0, 1001)
    y, back = irad.pullback(lambda x: np.tanh(x), x)
    np.testing.assert_array_equal(y, irad.jit(lambda x: np.tanh(x))(x))
    np.testing.assert_allclose(back(np.ones_like(x))[0], 1.0 - np.tanh(x) ** 2, rtol=1e-14)


# ---- native results ---------------------------------------------------------------------------

PROGRAMS = [(scaled_tanh, (X, W)), (log_loss, (X + 1.0, W + 2.0)),
            (exp_stored_in_scratch, (X,)), (exp_into_argument, (X, np.zeros_like(X))),
            (exp_ends_a_while_loop, (np.array([7.5, 3.0]),))]


@pytest.mark.parametrize("f,args", PROGRAMS, ids=lambda p: getattr(p, "__name__", ""))
def test_withgradient_value_is_bit_identical_to_the_primal(f, args):
    copies = [a.copy() for a in args]
    got = irad.jit_gradient(f, value=True)(*args)
    assert got.val == irad.jit(f)(*copies)
    for mutated, primal in zip(args, copies):
        np.testing.assert_array_equal(mutated, primal)


@pytest.mark.parametrize("f,args", PROGRAMS, ids=lambda p: getattr(p, "__name__", ""))
def test_gradient_agrees_with_the_interpreter_and_finite_differences(f, args):
    native = irad.gradient(f, *[a.copy() for a in args])
    exact = irad.gradient(f, irad.AutoInterpreter(), *[a.copy() for a in args])
    for a, b in zip(native, exact):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    irad.check_gradient(f, *[a.copy() for a in args], rtol=1e-6, atol=1e-8)


@needs_mvec
def test_gradient_calls_libmvec_where_the_primal_calls_exact_math():
    x = np.linspace(-2.0, 2.0, 1000)
    grad_ir = irad.jit_gradient(scaled_tanh).ir(x, x, stage="llvm-optimized")
    primal_ir = irad.jit(scaled_tanh).ir(x, x, stage="llvm-optimized")
    assert "_ZGVdN4v_tanh" in grad_ir
    assert "_ZGVdN4v_tanh" not in primal_ir


def test_loops_that_call_math_functions_interleave_two_vector_iterations():
    x = np.linspace(-2.0, 2.0, 1000)
    text = irad.jit(scaled_tanh).ir(x, x, stage="llvm")
    assert re.search(r'!"llvm.loop.interleave.count", i32 2', text)
    plain = irad.jit(lambda x: np.sum(x * x)).ir(x, stage="llvm")
    assert "llvm.loop.interleave.count" not in plain
