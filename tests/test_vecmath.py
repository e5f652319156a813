"""fastmath=True vectorizes libm calls through glibc's libmvec (runtime/vecmath.py).

The default stays bit-identical to NumPy/CPython; with fastmath, loops of
transcendental functions call the AVX2 vector variants, whose results agree
with libm's to a few ULP, special values included."""
import math
import re

import numpy as np
import pytest

import irad
from irad.runtime import vecmath

HAS_MVEC = bool(vecmath.process_symbols())
needs_mvec = pytest.mark.skipif(not HAS_MVEC, reason="no AVX2 or no libmvec on this host")

UNARY = {
    "exp": (np.exp, -5.0, 5.0), "log": (np.log, 0.01, 50.0), "log2": (np.log2, 0.01, 50.0),
    "log10": (np.log10, 0.01, 50.0), "expm1": (np.expm1, -3.0, 3.0), "log1p": (np.log1p, -0.9, 9.0),
    "sin": (np.sin, -7.0, 7.0), "cos": (np.cos, -7.0, 7.0), "tan": (np.tan, -1.5, 1.5),
    "arcsin": (np.arcsin, -1.0, 1.0), "arccos": (np.arccos, -1.0, 1.0), "arctan": (np.arctan, -9.0, 9.0),
    "sinh": (np.sinh, -5.0, 5.0), "cosh": (np.cosh, -5.0, 5.0), "tanh": (np.tanh, -5.0, 5.0),
}


def apply_each(fn):
    def kernel(x, out):
        for i in range(x.shape[0]):
            out[i] = fn(x[i])
    return kernel


KERNELS = {name: apply_each(f) for name, (f, lo, hi) in UNARY.items()}


def _run(name, x, fastmath):
    out = np.empty_like(x)
    irad.jit(KERNELS[name], fastmath=fastmath)(x, out)
    return out


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 4e-15), (np.float32, 2e-6)])
def test_fastmath_values_agree_with_numpy(name, dtype, rtol):
    f, lo, hi = UNARY[name]
    x = np.linspace(lo, hi, 1003).astype(dtype)
    with np.errstate(all="ignore"):
        want = f(x)
    np.testing.assert_allclose(_run(name, x, True), want, rtol=rtol, atol=rtol * 1e-3)


@pytest.mark.parametrize("name", ["exp", "log", "sin", "tanh", "arctan"])
def test_fastmath_special_values(name):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0] * 3)
    with np.errstate(all="ignore"):
        want = UNARY[name][0](x)
    np.testing.assert_array_equal(_run(name, x, True), want)


def test_default_is_bit_identical_and_never_calls_the_vector_library():
    x = np.linspace(-5.0, 5.0, 1001)
    np.testing.assert_array_equal(_run("exp", x, False), [math.exp(v) for v in x])
    np.testing.assert_array_equal(_run("tanh", x, False), [math.tanh(v) for v in x])
    for name in ("exp", "tanh"):       # their vector variants are irad's exact ones (test_exactmath.py)
        text = irad.jit(KERNELS[name]).ir(x, np.empty_like(x), stage="llvm-optimized")
        assert not re.search(r"_ZGVdN\d+v_(exp|tanh)\b", text)


@needs_mvec
@pytest.mark.parametrize("name,vector", [("exp", "_ZGVdN4v_exp"), ("tanh", "_ZGVdN4v_tanh")])
def test_fastmath_loops_call_the_vector_variant(name, vector):
    x = np.linspace(-1.0, 1.0, 64)
    text = irad.jit(KERNELS[name], fastmath=True).ir(x, np.empty_like(x), stage="llvm-optimized")
    assert re.search(rf"call [a-z ]*<4 x double> @{vector}\(", text)


def _sum_exp_sin(x):
    return np.sum(np.exp(np.sin(x)))


@needs_mvec
def test_fastmath_gradient_matches_the_exact_one():
    x = np.linspace(-2.0, 2.0, 301)
    exact = irad.jit_gradient(_sum_exp_sin)(x)[0]
    fast = irad.jit_gradient(_sum_exp_sin, fastmath=True)(x)[0]
    np.testing.assert_allclose(fast, exact, rtol=1e-13)
