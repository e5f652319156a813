"""Transpose, reshape and ravel are views, as in NumPy: compiled code
against NumPy itself on hypothesis-drawn shapes (empty, size-1,
non-contiguous and Fortran-ordered inputs), on the interpreter and
natively. Checked: values, that writes through `x.T`, `np.transpose`,
`x.reshape(...)` and `x.ravel()` reach the source (the mutated arguments
must equal NumPy's), that views read the source's current values, and
that a copy is made where NumPy copies (`flatten`, and `ravel` of a
strided array, whose copy refuses writes)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import irad
from numpy_cases import arrays, check

TARGETS = ("interpreter", "cpu")
SETTINGS = settings(max_examples=10, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---- programs (module level so the source is found) --------------------------------------

def transpose_writes(x):
    t = x.T
    t += 1.0
    t[::2] = t[::2] * 2
    np.transpose(x)[:, :1] = -1.0
    return x.sum(), t


def transpose_axes(x):
    t = np.transpose(x, (2, 0, 1))
    t *= np.arange(x.shape[1])
    u = x.transpose(1, 2, 0)
    u[:1] += 10.0
    v = np.transpose(x, (-1, 0, 1))
    return t + 0, u.sum(axis=0), v[..., :1] * 1, x


def reshape_writes(x):
    n, m = x.shape
    r = x.reshape(-1)
    r[::2] = -r[::2]
    s = x.reshape(m, n)
    s += 1
    np.ravel(x)[:1] = 7.0
    x.ravel()[-1:] *= 3.0
    np.reshape(x, (n * m, 1))[1:2, 0] = 0.5
    return x, s, r


def reads_after_mutation(x):
    t, r, s = x.T, x.ravel(), x.reshape(x.shape[1], x.shape[0])
    x *= 2
    x[:1] = 5.0
    return t.sum(axis=0), r * 1, t[0:1] + 0, s.T - x


def views_of_views(x):
    y = x[0].reshape(-1)
    y[:] = 3.0
    z = x.reshape(x.shape[0], -1).T
    z[-1:] = 0.0
    w = x[:, 1:].T
    w[0] = 4.0
    return x, z.sum(), x.T.T + 0


def copies_where_numpy_copies(x):
    f = x.flatten()
    f += 1
    g = x.reshape(-1).copy()
    g *= 2
    h = np.reshape(x, (-1,), copy=True)
    h -= 1
    return f, g, h, x


def strided_reads(x):
    n, m = x.shape
    return (x.T.ravel(), x.reshape(-1), np.ravel(x.T), x.T.reshape(m, -1), np.transpose(x)[::-1],
            x[::-1].reshape(m, n), x.T.reshape(-1, n) * 2)


def one_d(v):
    r = v.reshape(-1)
    r[:1] = 9.0
    t = v.T
    t[1:2] = 8.0
    return v, r, np.ravel(v) * 1, v.reshape(1, -1) + 0, v.reshape(-1, 1).T + 0


def int_views(a):
    a.T[:1] += 1
    a.reshape(-1)[1:] //= 2
    return a, a.T.reshape(-1)


def three_d(x):
    r = x.reshape(x.shape[0], -1)
    r[:, :1] = 1.0
    return x.reshape(-1), x.T.ravel(), r.T + 0, x


CASES = [
    (transpose_writes, st.tuples(arrays(2, strided=True))),
    (transpose_axes, st.tuples(arrays(3, max_side=3, strided=True))),
    (reshape_writes, st.tuples(arrays(2))),
    (reads_after_mutation, st.tuples(arrays(2))),
    (views_of_views, st.tuples(arrays(3, min_side=1, max_side=3))),
    (copies_where_numpy_copies, st.tuples(arrays(2, strided=True))),
    (strided_reads, st.tuples(arrays(2, strided=True))),
    (one_d, st.tuples(arrays(1, strided=True))),
    (int_views, st.tuples(arrays(2, np.int64))),
    (three_d, st.tuples(arrays(3, max_side=3))),
]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("fn,strategy", CASES, ids=[fn.__name__ for fn, _ in CASES])
@SETTINGS
@given(data=st.data())
def test_views_match_numpy(fn, strategy, target, data):
    check(fn, tuple(data.draw(strategy)), target)


@pytest.mark.parametrize("target", TARGETS)
def test_fortran_ordered_inputs(target):
    for fn, x in ((transpose_writes, np.asfortranarray(np.arange(12.0).reshape(3, 4))),
                  (strided_reads, np.asfortranarray(np.arange(6.0).reshape(2, 3))),
                  (transpose_axes, np.asfortranarray(np.arange(24.0).reshape(2, 3, 4)))):
        check(fn, (x,), target)


# ---- what is a view, what is a copy -----------------------------------------------------

def returns_views(x): return x.T, x.reshape(-1), np.ravel(x), np.transpose(x, (1, 0))


@pytest.mark.parametrize("target", TARGETS)
def test_returned_views_share_the_arguments_memory(target):
    x = np.arange(6.0).reshape(2, 3)
    for r, e in zip(irad.jit(returns_views, target=target)(x), returns_views(x)):
        np.testing.assert_array_equal(r, e)
        assert np.shares_memory(r, x)


def test_views_are_ops_not_copies():
    text = irad.jit(reshape_writes).ir(np.ones((2, 3)), stage="optimized")
    assert "reshape %" in text and "= alloc" not in text
    text = irad.jit(transpose_axes).ir(np.ones((2, 3, 4)), stage="optimized")
    assert "transpose %" in text


def test_writes_into_a_copy_numpy_may_share_are_refused():
    for fn in (lambda x: x.T.ravel().fill(0.0), lambda x: np.reshape(x[::2], 4).fill(0.0)):
        with pytest.raises(irad.UnsupportedError, match="(?s)reshaped strided array.*flatten"):
            irad.jit(fn)(np.ones((4, 2)))


# ---- shape errors -------------------------------------------------------------------------

@pytest.mark.parametrize("target", TARGETS)
def test_reshape_size_mismatch_is_a_value_error_at_the_line(target):
    def bad(x, n):
        return x.reshape(n, 2)
    where = rf"test_numpy_views.py:{bad.__code__.co_firstlineno + 1}:"
    with pytest.raises(ValueError, match=where + r".*cannot reshape array of size 6 into shape \(\?,2\)"):
        irad.jit(bad, target=target)(np.ones(6), 2)
    np.testing.assert_array_equal(irad.jit(bad, target=target)(np.arange(6.0), 3), np.arange(6.0).reshape(3, 2))


@pytest.mark.parametrize("target", TARGETS)
def test_reshape_minus_one_of_nothing_is_refused_like_numpy(target):
    def bad(x, n):
        return x.reshape(n, -1)
    with pytest.raises(ValueError, match="cannot reshape array"):
        irad.jit(bad, target=target)(np.ones(0), 0)
    with pytest.raises(ValueError):
        bad(np.ones(0), 0)


def test_static_reshape_mismatch_is_a_typing_error():
    with pytest.raises(irad.TypingError, match=r"cannot reshape array of size 12 into shape \(5,newaxis\)"):
        irad.jit(lambda: np.zeros((3, 4)).reshape(5, -1))()
    with pytest.raises(irad.TypingError, match="not a permutation"):
        irad.jit(lambda x: np.transpose(x, (0, 0)))(np.ones((2, 2)))


def test_reshape_order_other_than_c_and_a_view_that_must_not_copy_are_refused():
    with pytest.raises(irad.UnsupportedError, match="'order' argument is not supported"):
        irad.jit(lambda x: np.reshape(x, -1, order="F"))(np.ones((2, 2)))
    with pytest.raises(irad.UnsupportedError, match="copy=False"):
        irad.jit(lambda x: np.reshape(x.T, -1, copy=False))(np.ones((2, 2)))
