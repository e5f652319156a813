"""Matrix products through the `gemm` op: values against NumPy on both paths
(SciPy's BLAS for large products, the loop nest otherwise or without
SciPy), strided and empty operands, float32, errors, gradients against
finite differences, interpreter agreement, text round trip, and a cached
function calling BLAS from a new process."""
import ctypes
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import irad
from irad.interpreter import run as run_func
from irad.parser import parse_func
from irad.printer import print_func
from irad.runtime import compile_func
from irad.runtime import blas

pytestmark = pytest.mark.skipif(not blas.available(), reason="SciPy's BLAS is not installed")

rng = np.random.default_rng(11)
GEMM = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 13)


@pytest.fixture
def no_blas():
    """Native code as it runs without SciPy: the routine table is empty."""
    blas.set_routines(lambda name: None)
    try:
        yield
    finally:
        blas.set_routines()


@pytest.fixture
def blas_calls():
    """Counts calls of dgemm and sgemm (the spies forward to SciPy's routines)."""
    calls = {"dgemm": 0, "sgemm": 0}
    spies = {}
    for name in calls:
        real = GEMM(blas.find_routine(name))

        def spy(*args, name=name, real=real):
            calls[name] += 1
            real(*args)
        spies[name] = GEMM(spy)
    blas.set_routines(lambda name: ctypes.cast(spies[name], ctypes.c_void_p).value)
    try:
        yield calls
    finally:
        blas.set_routines()


def product(a, b):
    return a @ b


def products(a, b):
    return a @ b, np.dot(a, b), np.matmul(a, b)


def mat(*shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


SIZES = [(1, 1, 1), (2, 3, 4), (16, 16, 31), (16, 16, 32), (31, 32, 32), (33, 40, 50), (100, 1, 100),
         (1, 100, 1), (5, 200, 3)]


def expected_blas(m, k, n):
    return m * n * k >= blas.MIN_FLOPS


@pytest.mark.parametrize("m,k,n", SIZES)
def test_values_around_the_threshold(m, k, n, blas_calls):
    a, b = mat(m, k), mat(k, n)
    for got in irad.jit(products)(a, b):
        np.testing.assert_allclose(got, a @ b, rtol=1e-12, atol=1e-12)
    assert (blas_calls["dgemm"] > 0) == expected_blas(m, k, n)


@pytest.mark.parametrize("m,k,n", SIZES)
def test_values_without_scipy(m, k, n, no_blas):
    a, b = mat(m, k), mat(k, n)
    np.testing.assert_allclose(irad.jit(product)(a, b), a @ b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("m,k,n", [(3, 4, 5), (40, 50, 60)])
def test_float32_uses_sgemm(m, k, n, blas_calls):
    a, b = mat(m, k, dtype=np.float32), mat(k, n, dtype=np.float32)
    got = irad.jit(product)(a, b)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, a @ b, rtol=1e-5, atol=1e-5)
    assert (blas_calls["sgemm"] > 0) == expected_blas(m, k, n) and blas_calls["dgemm"] == 0


def test_mixed_dtypes_promote_as_numpy():
    a, b = mat(40, 50, dtype=np.float32), mat(50, 30)
    i = rng.integers(-3, 3, (30, 40))
    f = irad.jit(lambda a, b, i: (a @ b, i @ a, (b.T @ a.T).T))
    for got, want in zip(f(a, b, i), (a @ b, i @ a, a @ b)):
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-5)


def strided_operands(m, k, n):
    """(a, b) pairs with every layout BLAS must see through (or refuse)."""
    a, b = mat(m, k), mat(k, n)
    big_a, big_b = mat(2 * m, 3 * k), mat(3 * k, 2 * n)
    return [
        (a, b),
        (np.asfortranarray(a), np.asfortranarray(b)),
        (mat(k, m).T, mat(n, k).T),
        (big_a[::2, ::3], big_b[::3, ::2]),           # no unit stride: loops
        (big_a[:m, :k], big_b[:k, :n]),               # leading dimension larger than the extent
        (a[::-1], b[:, ::-1]),                        # negative strides
    ]


@pytest.mark.parametrize("m,k,n", [(3, 4, 5), (40, 50, 60)])
@pytest.mark.parametrize("case", range(6))
def test_strided_transposed_and_fortran_operands(m, k, n, case):
    a, b = strided_operands(m, k, n)[case]
    f = irad.jit(lambda a, b: (a @ b, a.T.T @ b, (b.T @ a.T)))
    want = a @ b
    got = f(a, b)
    np.testing.assert_allclose(got[0], want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got[1], want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got[2], want.T, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shapes", [((0, 3), (3, 4)), ((3, 0), (0, 4)), ((3, 4), (4, 0)), ((0, 0), (0, 0))])
def test_empty_shapes(shapes):
    a, b = mat(*shapes[0]), mat(*shapes[1])
    got = irad.jit(product)(a, b)
    assert got.shape == (a @ b).shape
    np.testing.assert_array_equal(got, a @ b)


def test_lazy_operands_and_chains():
    a, b, c = mat(40, 40), mat(40, 40), mat(40, 3)
    f = irad.jit(lambda a, b, c: ((a * 2) @ (b + 1)) @ c + np.tanh(a) @ c)
    np.testing.assert_allclose(f(a, b, c), ((a * 2) @ (b + 1)) @ c + np.tanh(a) @ c, rtol=1e-12)


def test_shape_mismatch_is_a_value_error():
    with pytest.raises(ValueError):
        irad.jit(product)(mat(3, 4), mat(5, 6))
    with pytest.raises(ValueError):
        irad.jit(product, target="interpreter")(mat(3, 4), mat(5, 6))


def test_products_in_a_loop_and_matrix_vector_cases():
    def f(a, b, v):
        s = 0.0
        for i in range(3):
            s += np.sum(a @ b * i) + np.sum(a @ v) + v @ b @ v
        return s
    a, b, v = mat(40, 40), mat(40, 40), mat(40)
    want = sum(np.sum(a @ b * i) + np.sum(a @ v) + v @ b @ v for i in range(3))
    np.testing.assert_allclose(irad.jit(f)(a, b, v), want, rtol=1e-10)


# ---- the op itself: text form, interpreter, transposes, errors ----------------------------

IR = """
func @g(%a: array<{t},2,strided>, %b: array<{t},2,strided>, %c: array<{t},2,C>) -> () {{
  gemm %a, %b, %c {{alpha = {alpha}, beta = {beta}, trans_a = {ta}, trans_b = {tb}}}
  return
}}
"""


def gemm_func(t="f64", alpha=1.0, beta=0.0, ta=False, tb=False):
    return parse_func(IR.format(t=t, alpha=repr(alpha), beta=repr(beta), ta=str(ta).lower(),
                                tb=str(tb).lower()))


def test_text_round_trip():
    func = gemm_func(alpha=2.5, beta=-1.0, ta=True)
    assert print_func(parse_func(print_func(func))) == print_func(func)


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (-0.5, 1.0), (2.0, 0.25)])
@pytest.mark.parametrize("m,k,n", [(3, 4, 5), (40, 50, 60)])
def test_native_agrees_with_interpreter(ta, tb, alpha, beta, m, k, n):
    func = gemm_func(alpha=alpha, beta=beta, ta=ta, tb=tb)
    a = mat(k, m) if ta else mat(m, k)
    b = mat(n, k) if tb else mat(k, n)
    c0 = mat(m, n)
    want, got = c0.copy(), c0.copy()
    run_func(func, [a, b, want])
    compile_func(func)(a, b, got)
    x, y = (a.T if ta else a), (b.T if tb else b)
    np.testing.assert_allclose(want, alpha * (x @ y) + beta * c0, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_beta_zero_ignores_nan_in_the_output():
    func = gemm_func()
    for n in (3, 40):
        a, b = mat(n, n), mat(n, n)
        c = np.full((n, n), np.nan)
        compile_func(func)(a, b, c)
        np.testing.assert_allclose(c, a @ b, rtol=1e-12)


def test_overlapping_output_is_a_value_error():
    func = gemm_func()
    a = mat(4, 4)
    with pytest.raises(ValueError, match="shares memory"):
        compile_func(func)(a, mat(4, 4), a)
    with pytest.raises(ValueError, match="shares memory"):
        run_func(func, [a, mat(4, 4), a])


def test_mismatched_output_is_a_value_error():
    with pytest.raises(ValueError, match="matmul"):
        compile_func(gemm_func())(mat(3, 4), mat(4, 5), mat(3, 4))


# ---- gradients ----------------------------------------------------------------------------

def mlp_loss(w1, w2, x):
    h = np.tanh(x @ w1)
    return np.sum((h @ w2) ** 2) + np.sum(w1.T @ w1)


def mlp_args(batch, d, hidden, out, scale=0.2):
    return mat(d, hidden) * scale, mat(hidden, out) * scale, mat(batch, d) * scale


@pytest.mark.parametrize("sizes", [(3, 4, 5, 2), (40, 33, 34, 32)])
def test_gradient_against_finite_differences(sizes):
    irad.check_gradient(mlp_loss, *mlp_args(*sizes), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("sizes", [(3, 4, 5, 2), (40, 33, 34, 32)])
def test_gradient_without_scipy(sizes, no_blas):
    irad.check_gradient(mlp_loss, *mlp_args(*sizes), rtol=1e-5, atol=1e-7)


def test_gradient_native_agrees_with_interpreter_and_numpy():
    w1, w2, x = mlp_args(64, 40, 50, 30)
    native = irad.gradient(mlp_loss, w1, w2, x)
    interp = irad.gradient(mlp_loss, irad.AutoInterpreter(), w1, w2, x)
    h = np.tanh(x @ w1)
    dz = 2 * (h @ w2)
    dh = dz @ w2.T * (1 - h ** 2)
    want = (x.T @ dh + w1 @ np.full((50, 50), 2.0), h.T @ dz, dh @ w1.T)
    for g, i, w in zip(native, interp, want):
        np.testing.assert_allclose(g, i, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_gradient_float32():
    w1, w2, x = (v.astype(np.float32) for v in mlp_args(40, 33, 34, 32))
    got = irad.gradient(mlp_loss, w1, w2, x)
    want = irad.gradient(mlp_loss, *(v.astype(np.float64) for v in (w1, w2, x)))
    for g, w in zip(got, want):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-4)


def test_gradient_through_transposed_and_strided_operands():
    def loss(a, b):
        return np.sum(np.sin(a.T @ b[::2]))
    a, b = mat(40, 35) * 0.3, mat(80, 36) * 0.3
    irad.check_gradient(loss, a, b, rtol=1e-5, atol=1e-7)


def overwritten_operand(a, b):
    c = a @ b
    a[0, 0] = 0.0
    return np.sum(c * c)


def loop_temporaries(w, x):
    s = 0.0
    for t in range(3):
        h = np.tanh(x @ w)
        s += np.sum(h @ w.T) * (t + 1)
    return s


@pytest.mark.parametrize("n", [4, 30])
@pytest.mark.parametrize("loss", [overwritten_operand, loop_temporaries])
def test_gradient_when_an_operand_is_overwritten_later(loss, n):
    """Reverse mode expands such products into loops (it tapes the elements it needs)."""
    irad.check_gradient(loss, mat(n, n) * 0.3, mat(n, n) * 0.3, rtol=1e-5, atol=1e-7)


def test_gradient_of_an_unchanged_operand_after_other_writes():
    def loss(a, b, out):
        out[...] = a @ b
        out *= 2.0
        return np.sum(out ** 2)
    a, b = mat(35, 36) * 0.3, mat(36, 37) * 0.3
    irad.check_gradient(loss, a, b, np.zeros((35, 37)), rtol=1e-5, atol=1e-7)


# ---- the disk cache ---------------------------------------------------------------------

MAIN = """
import numpy as np
import irad
from irad.runtime import blas

@irad.jit(cache=True)
def f(a, b):
    return a @ b

a = np.arange(64 * 64, dtype=float).reshape(64, 64) / 4096
print("RESULT", float(np.abs(f(a, a.T) - a @ a.T).max()), blas.available())
"""


def run_main(tmp):
    env = dict(os.environ, IRAD_CACHE_DIR=str(tmp / "cache"), IRAD_LOG="info", PYTHONPATH=str(tmp))
    proc = subprocess.run([sys.executable, str(tmp / "main_mod.py")], capture_output=True, text=True,
                          env=env, cwd=tmp, timeout=300)
    assert proc.returncode == 0, proc.stderr
    error, available = proc.stdout.split("RESULT")[1].split()
    return float(error), available == "True", proc.stderr


def test_cached_function_calls_blas_in_a_new_process(tmp_path):
    (tmp_path / "main_mod.py").write_text(textwrap.dedent(MAIN))
    error, available, log = run_main(tmp_path)
    assert error < 1e-12 and available and "disk-cache miss" in log
    error, available, log = run_main(tmp_path)
    assert error < 1e-12 and available
    assert "from the disk cache" in log and "compiled" not in log


def test_routine_lookup_without_scipy(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy.linalg.cython_blas", None)
    monkeypatch.setitem(sys.modules, "scipy.linalg", None)
    assert blas.find_routine("dgemm") is None


def _sum_of_product(a, b):
    return np.sum(a @ b)


def test_read_only_operands_are_accepted():
    a = np.linspace(0.0, 1.0, 40 * 40).reshape(40, 40)
    a.flags.writeable = False
    assert irad.jit(_sum_of_product)(a, a) == pytest.approx(np.sum(a @ a), rel=1e-12)
