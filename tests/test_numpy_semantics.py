"""Whole-array NumPy: fusion (what allocates), NumPy's evaluation order and
overlap semantics, run-time and trace-time shape errors, dtype rules of
in-place updates, refused constructs, tapes, and the API.md examples."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

import irad
from irad.autodiff import tape_bytes

TARGETS = ("interpreter", "cpu")


def allocs(fn, *args, dtype="f64"):
    """The allocations of `dtype` arrays in fn's optimized IR."""
    text = irad.jit(fn).ir(*args, stage="optimized")
    return len(re.findall(rf"= alloc .*: array<{dtype},", text))


# ---- fusion -----------------------------------------------------------------------

def sum_of_squares(x): return np.sum(x ** 2)
def fused_chain(x, y, z): return np.sqrt(x * y + z) - np.exp(-x) / (1 + y)
def named_temporary(x, y):
    t = x * y
    return t + 1
def heat_step(u):
    u[1:-1] = u[1:-1] + 0.1 * (u[:-2] - 2 * u[1:-1] + u[2:])
    return u
def in_place_update(x, s):
    x += s * x
    return x
def store_into_fresh(x):
    out = np.empty(x.shape[0])
    out[:] = np.sin(x) * 2
    return out


def test_reduction_of_an_expression_allocates_nothing():
    assert allocs(sum_of_squares, np.ones(4)) == 0
    assert allocs(lambda x, y: np.max(np.abs(x - y)) + np.mean(x * y), np.ones(4), np.ones(4)) == 0


def test_an_expression_is_one_loop_into_one_array():
    x = np.ones(5)
    assert allocs(fused_chain, x, x, x) == 1
    text = irad.jit(fused_chain).ir(x, x, x, stage="optimized")
    assert text.count("for %") == 1


def test_a_named_intermediate_fuses_into_its_use():
    assert allocs(named_temporary, np.ones(3), np.ones(3)) == 1
    text = irad.jit(named_temporary).ir(np.ones(3), np.ones(3), stage="optimized")
    assert text.count("for %") == 1


def cnd_like(d):
    k = 1.0 / (1.0 + 0.2316419 * np.abs(d))
    return np.where(d < 0.0, k, 1.0 - k)
def names_and_helpers(s, k, t):
    d1 = np.log(s / k) / np.sqrt(t)
    d2 = d1 - np.sqrt(t)
    return np.sum(s * cnd_like(d1) - k * cnd_like(d2))


def test_names_and_inlined_helpers_fuse_into_one_loop():
    x = np.linspace(1.0, 2.0, 5)
    assert allocs(names_and_helpers, x, x, x) == 0
    assert irad.jit(names_and_helpers).ir(x, x, x, stage="optimized").count("for %") == 1
    for target in TARGETS:
        assert irad.jit(names_and_helpers, target=target)(x, x + 1, x) == names_and_helpers(x, x + 1, x)
    irad.check_gradient(names_and_helpers, x, x + 1, x)


def normalized_exp(z):
    e = np.exp(z - np.max(z))
    return e / np.sum(e)
def cheap_twice(x, w):
    h = x * w + 1.0
    return np.sum(h * x) + np.max(h)


def test_an_expensive_named_value_used_by_two_loops_is_computed_once():
    x = np.linspace(0.0, 1.0, 5)
    text = irad.jit(normalized_exp).ir(x, stage="optimized")
    assert text.count(" exp ") == 1 and allocs(normalized_exp, x) == 2   # e, then the result
    np.testing.assert_allclose(irad.jit(normalized_exp)(x), normalized_exp(x), rtol=1e-15)
    assert allocs(cheap_twice, x, 0.5) == 0          # cheap: computed in each loop instead
    irad.check_gradient(lambda z: np.sum(normalized_exp(z) ** 2), x)


# ---- names bound to expressions keep NumPy's semantics ----------------------------------

def read_then_mutate_source(x):
    t = x * 2.0
    x[0] = 100.0
    return t
def write_into_named(x):
    t = x * 2.0
    t[0] = 5.0
    return t + x
def update_through_alias(x):
    t = x * 2.0
    u = t
    u += 1.0
    return t
def view_sees_later_write(x):
    t = x.copy()
    v = t.T
    t *= 2.0
    return v
def bump(a):
    a[0] += 1.0
def callee_mutates_source(x):
    t = x * 2.0
    bump(x)
    return t + x
def named_in_loop(x):
    t = x * 2.0
    s = 0.0
    for i in range(x.shape[0]):
        s += t[i]
    return s
def named_across_branch(x, c):
    t = x + 1.0
    if c > 0:
        x[0] = -1.0
    return t * x
def unused_mismatch(a, b):
    t = a + b
    return 0.0


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("fn", [read_then_mutate_source, write_into_named, update_through_alias,
                                view_sees_later_write, callee_mutates_source, named_in_loop])
def test_named_expressions_behave_as_numpy_arrays(fn, target):
    x, y = np.arange(1.0, 7.0).reshape(2, 3), np.arange(1.0, 7.0).reshape(2, 3)
    if fn is named_in_loop:
        x, y = x.ravel(), y.ravel()
    np.testing.assert_array_equal(irad.jit(fn, target=target)(x), fn(y))
    np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("target", TARGETS)
def test_named_expressions_are_computed_before_control_flow(target):
    for c in (1.0, -1.0):
        x, y = np.arange(3.0), np.arange(3.0)
        np.testing.assert_array_equal(irad.jit(named_across_branch, target=target)(x, c),
                                      named_across_branch(y, c))
    assert allocs(named_in_loop, np.ones(3)) == 1       # computed once, not per iteration


@pytest.mark.parametrize("target", TARGETS)
def test_a_shape_error_in_an_unused_named_expression_is_raised_at_its_line(target):
    with pytest.raises(ValueError, match="could not be broadcast") as info:
        irad.jit(unused_mismatch, target=target)(np.ones(3), np.ones(4))
    line = unused_mismatch.__code__.co_firstlineno + 1
    assert f"test_numpy_semantics.py:{line}:" in str(info.value)


def test_stencil_update_makes_one_temporary():
    assert allocs(heat_step, np.ones(8)) == 1
    assert allocs(store_into_fresh, np.ones(3)) == 1


def test_in_place_update_of_itself_needs_no_temporary():
    assert allocs(in_place_update, np.ones(4), 2.0) == 0


# ---- NumPy semantics ------------------------------------------------------------------

def shift_right(x):
    x[1:] = x[:-1]
    return x
def accumulate_shifted(x):
    x[1:] += x[:-1]
    return x
def write_from_argument(x, y):
    x[:] = y + 1
    return x
def mutate(x):
    x[0] = 100.0
    return 1.0
def order_of_evaluation(x):
    return x * 2 + mutate(x)
def late_read(x):
    return mutate(x) + x * 2


@pytest.mark.parametrize("target", TARGETS)
def test_overlapping_reads_see_old_values(target):
    for fn in (shift_right, accumulate_shifted, heat_step):
        x, expected = np.arange(6.0) ** 2, np.arange(6.0) ** 2
        fn(expected)
        np.testing.assert_array_equal(irad.jit(fn, target=target)(x), expected)


@pytest.mark.parametrize("target", TARGETS)
def test_overlapping_arguments_keep_numpy_semantics(target):
    f = irad.jit(write_from_argument, target=target)
    a, b = np.arange(8.0), np.arange(8.0)
    f(a[1:], a[:-1])
    write_from_argument(b[1:], b[:-1])
    np.testing.assert_array_equal(a, b)
    x = np.arange(4.0)
    np.testing.assert_array_equal(f(x, x), np.arange(4.0) + 1)


@pytest.mark.parametrize("target", TARGETS)
def test_operands_are_read_before_a_call_that_mutates_them(target):
    for fn in (order_of_evaluation, late_read):
        x, y = np.ones(3), np.ones(3)
        np.testing.assert_array_equal(irad.jit(fn, target=target)(x), fn(y))
        np.testing.assert_array_equal(x, y)


def transposed_write(x):
    y = x.T
    y[0, 1] = 5.0
    return y


def reshaped_fill(x):
    x.reshape(4).fill(1.0)
    return x


@pytest.mark.parametrize("target", TARGETS)
def test_transpose_and_reshape_are_views_of_their_source(target):
    for fn in (transposed_write, reshaped_fill):
        x, expected = np.arange(4.0).reshape(2, 2), np.arange(4.0).reshape(2, 2)
        np.testing.assert_array_equal(irad.jit(fn, target=target)(x), fn(expected))
        np.testing.assert_array_equal(x, expected)
    text = irad.jit(transposed_write).ir(np.ones((2, 2)), stage="optimized")
    assert "transpose %" in text and allocs(transposed_write, np.ones((2, 2))) == 0
    assert allocs(reshaped_fill, np.ones((2, 2))) == 0


def test_writing_into_a_copy_numpy_may_share_is_refused():
    with pytest.raises(irad.UnsupportedError, match="reshaped strided array"):
        irad.jit(lambda x: x.T.reshape(4).fill(1.0))(np.ones((2, 2)))
    with pytest.raises(irad.UnsupportedError, match="reshaped strided array"):
        irad.jit(lambda x: x[:, ::2].ravel().fill(1.0))(np.ones((2, 2)))


# ---- shape errors ----------------------------------------------------------------------

def add(x, y): return x + y
def add_into(x, y):
    x += y
    return x
def matvec(a, v): return a @ v


@pytest.mark.parametrize("target", TARGETS)
def test_runtime_shape_mismatch_is_a_value_error_at_the_line(target):
    for fn, args, line in ((add, (np.ones(3), np.ones(4)), 0), (add, (np.ones((2, 3)), np.ones((3, 3))), 0),
                           (add_into, (np.ones(3), np.ones(2)), 1), (add_into, (np.ones(1), np.ones(3)), 1),
                           (matvec, (np.ones((2, 3)), np.ones(2)), 0)):
        where = rf"test_numpy_semantics.py:{fn.__code__.co_firstlineno + line}:"
        with pytest.raises(ValueError, match=where + r".*(operands could not be broadcast together with "
                           r"shapes \(\S+\) \(\S+\)|extent \d+ is different from \d+)"):
            irad.jit(fn, target=target)(*args)


@pytest.mark.parametrize("target", TARGETS)
def test_runtime_shape_errors_use_numpy_wording(target):
    cases = ((add, (np.ones(3), np.ones(4)), "operands could not be broadcast together with shapes (3,) (4,)"),
             (add, (np.ones((2, 3)), np.ones((3, 3))),
              "operands could not be broadcast together with shapes (2,?) (3,?)"),
             (lambda x: x.reshape(5), (np.ones(12),), "cannot reshape array of size 12 into shape (5,)"),
             (lambda x, n: x.reshape(n, -1), (np.ones(12), 5),
              "cannot reshape array of size 12 into shape (?,newaxis)"),
             (lambda x, y: np.concatenate((x, y), axis=1), (np.ones((2, 2)), np.ones((3, 2))),
              "along dimension 0, the array at index 0 has size 2 and the array at index 1 has size 3"))
    for fn, args, message in cases:
        with pytest.raises(ValueError, match=re.escape(message)):
            irad.jit(fn, target=target)(*args)
        with pytest.raises(ValueError):
            fn(*args)


@pytest.mark.parametrize("target", TARGETS)
def test_size_one_axes_broadcast_at_run_time(target):
    f = irad.jit(add, target=target)
    np.testing.assert_array_equal(f(np.ones(3), np.ones(1)), np.full(3, 2.0))
    np.testing.assert_array_equal(f(np.ones((1, 3)), np.arange(2.0)[:, None] + np.zeros((2, 1))),
                                  np.ones((1, 3)) + np.arange(2.0)[:, None])


def test_static_shape_mismatch_is_a_typing_error():
    with pytest.raises(irad.TypingError, match="could not be broadcast together with shapes"):
        irad.jit(lambda: np.zeros(3) + np.zeros(4))()
    with pytest.raises(irad.TypingError, match="shapes do not align"):
        irad.jit(lambda: np.ones((2, 3)) @ np.ones(2))()


# ---- dtype rules and refusals ------------------------------------------------------------

def test_float32_stays_float32_with_python_scalars():
    f = irad.jit(lambda x: (x * 2.0 + 1, np.sum(x), np.sqrt(x), x / 3))
    for r in f(np.ones(3, np.float32)):
        assert np.asarray(r).dtype == np.float32


def test_in_place_update_follows_same_kind_casting():
    def f(a):
        a += 1.5
        return a
    with pytest.raises(irad.TypingError, match="same_kind"):
        irad.jit(f)(np.ones(3, np.int64))
    x = np.ones(3, np.float32)
    irad.jit(add_into)(x, np.ones(3))
    assert x.dtype == np.float32 and np.all(x == 2)


@pytest.mark.parametrize("fn,error,pattern", [
    (lambda p, q: p - q, irad.TypingError, "does not subtract bool arrays"),
    (lambda p, q: -p, irad.TypingError, "does not negate bool arrays"),
    (lambda p, q: np.sin(p), irad.TypingError, "float16"),
    (lambda p, q: 1 if p[0] < q[0] else 2, None, None),
])
def test_bool_array_refusals(fn, error, pattern):
    args = (np.array([True, False]), np.array([True, True]))
    if error is None:
        irad.jit(fn)(*args)
        return
    with pytest.raises(error, match=pattern):
        irad.jit(fn)(*args)


@pytest.mark.parametrize("fn,error,pattern", [
    (lambda x: 1 if x > 0 else 2, irad.TypingError, "truth value of an array is ambiguous"),
    (lambda x: math.sin(x), irad.TypingError, "takes numbers, not arrays"),
    (lambda x: x + None, irad.TypingError, "unsupported operand"),
    (lambda x: x[x > 0], irad.UnsupportedError, "boolean masks"),
    (lambda x: np.sum(x, out=x), irad.UnsupportedError, "'out' argument"),
    (lambda x: np.sum(x, axis=2), irad.TypingError, "out of bounds"),
    (lambda x: x ** -1, None, None),
    (lambda x: x.astype(int) ** -1, irad.TypingError, "negative integer powers"),
    (lambda x: np.where(x), irad.UnsupportedError, "indices form"),
    (lambda x: (x * 2)[0:1].sum(), None, None),
])
def test_refusals_name_the_problem(fn, error, pattern):
    x = np.ones(3)
    if error is None:
        np.testing.assert_allclose(irad.jit(fn)(x), fn(x))
        return
    with pytest.raises(error, match=pattern):
        irad.jit(fn)(x)


# ---- tapes ------------------------------------------------------------------------------------

def heat_steps(u, alpha):
    for _ in range(4):
        u[1:-1] = u[1:-1] + alpha * (u[:-2] - 2 * u[1:-1] + u[2:])
    return u[u.shape[0] // 2]


def test_array_code_tapes_what_the_loop_form_tapes():
    n = 10
    assert tape_bytes(sum_of_squares, np.ones(n)) == 0
    assert tape_bytes(heat_steps, np.ones(n), irad.Const(0.2)) == 0
    assert tape_bytes(heat_steps, np.ones(n), 0.2) == 8 * (n - 2) * 4
    assert tape_bytes(lambda a, b: np.sum((a @ b) ** 2), np.ones((3, 4)), np.ones((4, 2))) == 0


def test_gradient_ir_of_sum_of_squares_has_no_tape():
    text = irad.jit_gradient(sum_of_squares, target="interpreter").ir(np.ones(3))
    assert "tape" not in text


# ---- the API.md examples ---------------------------------------------------------------------

def test_api_examples():
    g = irad.gradient(lambda x: np.sum(x ** 2), np.array([7.0, 11.0, 13.0]))
    assert len(g) == 1 and np.array_equal(g[0], [14.0, 22.0, 26.0])
    g = irad.gradient(lambda x, y, d: np.sum(x ** x.shape[d] + y), np.array([7, 11]), 0, 0)
    assert np.array_equal(g[0], [14.0, 22.0]) and g[1] == 2.0 and g[2] is None
    g = irad.gradient(lambda x: np.sum(2 * x), irad.AutoFiniteDifferences(), np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(g[0], [2.0, 2.0, 2.0])
    val, grad = irad.withgradient(lambda x: (np.sum(1 / x), 1 / x), np.array([1, 2, 4]))
    assert val[0] == 1.75 and np.array_equal(val[1], [1.0, 0.5, 0.25])
    assert np.array_equal(grad[0], [-1.0, -0.25, -0.0625])
    y, back = irad.pullback(lambda x: np.array([x, x]), 1.0)
    assert np.array_equal(y, [1.0, 1.0]) and back(np.array([1.0, 1.0])) == (2.0,)
    g = irad.gradient(lambda a, t: np.sum(a * t[0]) + t[1], np.array([1, 2, 3]), (4, 5))
    assert np.array_equal(g[0], [4.0, 4.0, 4.0]) and g[1] == (6.0, 1.0)


def loss(m, x, y):
    z = m["w"] @ x + m["b"]
    return np.sum((z - y) ** 2)


def test_api_model_as_a_structure():
    rng = np.random.default_rng(0)
    model = {"w": rng.standard_normal((10, 784)) * 0.01, "b": np.zeros(10)}
    x1, y1 = rng.standard_normal(784), rng.standard_normal(10)
    dz = 2 * (model["w"] @ x1 + model["b"] - y1)
    grads = irad.gradient(loss, model, x1, y1)
    np.testing.assert_allclose(grads[0]["w"], np.outer(dz, x1))
    np.testing.assert_allclose(grads[0]["b"], dz)
    np.testing.assert_allclose(grads[1], model["w"].T @ dz)
    np.testing.assert_allclose(grads[2], -dz)
    dup = irad.Duplicated(model)
    g = irad.gradient(loss, dup, irad.Const(x1), irad.Const(y1))
    assert g[1] is None and g[2] is None
    np.testing.assert_allclose(dup.dval["w"], np.outer(dz, x1))
    irad.gradient(loss, dup, x1, y1, zero=False)
    np.testing.assert_allclose(dup.dval["b"], 2 * dz)


# ---- arrays through control flow ------------------------------------------------------------

def halve_repeatedly(x, n):
    for _ in range(n):
        x = x * 0.5 + 1
    return x
def pick(x, c):
    y = x if c > 0 else x * 2
    return y
def early(x, c):
    if c > 0:
        return x * 2
    return x


@pytest.mark.parametrize("target", TARGETS)
def test_strided_and_fresh_arrays_join_across_loops_and_branches(target):
    for fn, args in ((halve_repeatedly, (3,)), (pick, (1.0,)), (pick, (-1.0,)), (early, (1.0,)), (early, (-1.0,))):
        x, y = np.arange(8.0)[::2], np.arange(8.0)[::2]
        np.testing.assert_array_equal(irad.jit(fn, target=target)(x, *args), fn(y, *args))


def test_library_functions_compile_and_differentiate_directly():
    np.testing.assert_array_equal(irad.jit(np.cumsum)(np.array([1, 2, 3])), [1, 3, 6])
    np.testing.assert_allclose(irad.jit(np.sin, target="interpreter")(np.array([0.0, 1.0])), np.sin([0.0, 1.0]))
    np.testing.assert_array_equal(irad.gradient(np.sum, np.array([1.0, 2.0]))[0], [1.0, 1.0])
    assert irad.gradient(np.sin, 0.5)[0] == pytest.approx(math.cos(0.5))
    assert irad.jit(np.dot)(np.ones(3), np.arange(3.0)) == 3.0
