"""Whole-array NumPy in compiled code against NumPy itself: elementwise
operators and functions with broadcasting, reductions, scans, matrix
products, indexing and creation — values, dtypes and shapes, on the
interpreter and natively, over hypothesis-drawn shapes (empty arrays,
size-1 broadcasting, non-contiguous inputs)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from numpy_cases import arrays, broadcastable, check, scalars

TARGETS = ("interpreter", "cpu")
SETTINGS = settings(max_examples=12, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

F, I, B, F32, I32 = np.float64, np.int64, np.bool_, np.float32, np.int32


# ---- programs (module level so the source is found) --------------------------------------

def arith(x, y): return x + y, x - y, x * y, x / y, x // y, x % y, x ** 2, -x, +x, x ** y
def compare(x, y): return x < y, x <= y, x > y, x >= y, x == y, x != y
def with_scalars(x, s): return x + s, s * x, x / s, s - x, x ** 3, 2.0 ** x, x * 2 + 1, 1 - x / 2
def int_arith(a, b): return a + b, a * 3, a // b, a % b, a / b, a ** 2, -a, a - 1, 2 * a + b
def int32_arith(a, b): return a + b, a * 3, a + 1, a // 2, a / b, a * b - a
def mixed_dtypes(x32, x, a): return x32 + x, x32 * 2.0, x32 + 1, x32 / 3, a + x32, a * 1.5, a + x, x32 + a
def bools(p, q): return p & q, p | q, p ^ q, ~p, p + q, p * q, p == q, p + 1, p * 2.5
def bitwise(a, b): return a & b, a | b, a ^ b, ~a
def unary(x):
    return (np.abs(x), np.sign(x), np.sqrt(np.abs(x)), np.exp(x), np.expm1(x), np.log(np.abs(x) + 1),
            np.log1p(np.abs(x)), np.sin(x), np.cos(x), np.tan(x), np.arcsin(np.tanh(x)),
            np.arccos(np.tanh(x)), np.arctan(x), np.sinh(x), np.cosh(x), np.tanh(x), np.floor(x),
            np.ceil(x), abs(x), np.square(x), np.negative(x))
def unary32(x): return np.sqrt(np.abs(x)), np.exp(x), np.sin(x), np.abs(x), np.floor(x), -x
def int_unary(a): return np.abs(a), np.sign(a), np.floor(a), np.sqrt(a * a), np.exp(a / 4), abs(a)
def binary_funcs(x, y):
    return (np.arctan2(x, y), np.hypot(x, y), np.maximum(x, y), np.minimum(x, y), np.clip(x, -0.5, 0.5),
            np.where(x > y, x, y), np.where(x > 0, x, 0.0), np.maximum(x, 0), x.clip(-1, None),
            np.add(x, y), np.multiply(x, 2), np.power(np.abs(x), y), np.less(x, y))
def logical(p, q): return np.logical_and(p, q), np.logical_or(p, q), np.logical_xor(p, q), np.logical_not(p)
def nan_checks(x): return np.isnan(x), np.isinf(x / 0.5), np.isfinite(x)
def broadcast3(x, y, z): return x * y + z, np.where(z > 0, x, y), np.clip(x, y, z + 10)
def newaxis(x, y): return x[:, None] * y[None, :], x[:, None] - y, (x[None, :] + y[:, None]).sum(axis=0)


def reductions_1d(x):
    return (np.sum(x), np.prod(x), np.mean(x), np.var(x), np.std(x), np.max(x), np.min(x), np.argmax(x),
            np.argmin(x), x.sum(), x.max(), np.any(x > 0), np.all(x > -1), np.var(x, ddof=1))
def sums_empty_ok(x): return np.sum(x), np.prod(x), np.sum(x, axis=0), np.any(x > 0), np.all(x > 0)
def reductions_2d(x):
    return (np.sum(x, axis=0), np.sum(x, axis=1), np.sum(x, axis=(0, 1)), np.sum(x, axis=-1, keepdims=True),
            x.max(axis=0), x.min(axis=1), x.mean(axis=1), np.std(x, axis=1, keepdims=True),
            np.var(x, axis=0), np.argmax(x, axis=0), np.argmin(x, axis=1), np.argmax(x),
            np.any(x > 0, axis=0), np.all(x > 0), np.prod(x, axis=1), np.mean(x, axis=(0, 1), keepdims=True),
            np.max(x), np.sum(x, keepdims=True))
def reductions_int(a):
    return np.sum(a), np.prod(a), np.mean(a), np.max(a), np.argmin(a), np.sum(a, axis=0), np.var(a)
def reductions_f32(x): return np.sum(x), np.mean(x), np.max(x), np.sum(x, axis=0), np.std(x)
def reductions_nan(x): return np.max(x), np.min(x), np.argmax(x), np.argmin(x), np.maximum(x, 0.0)
def sum_dtype(x): return np.sum(x, dtype=np.float32), np.mean(x, dtype=np.float32), x.sum(axis=0, dtype=int)
def scans(x):
    return np.cumsum(x), np.cumsum(x, axis=0), np.cumsum(x, axis=1), np.cumprod(x, axis=-1), x.cumsum(axis=1)
def scans_int(a): return np.cumsum(a), np.cumprod(a, axis=0)


def matmul_2_2(a, b): return a @ b, np.dot(a, b), np.matmul(a, b)
def matmul_2_1(a, v): return a @ v, np.dot(a, v), a.dot(v)
def matmul_1_2(v, a): return v @ a, np.dot(v, a)
def matmul_1_1(u, v): return u @ v, np.dot(u, v), np.outer(u, v), np.dot(u, 2.0)
def matmul_int(a, b): return a @ b
def transposes(x): return x.T, np.transpose(x), x.T @ x, x.transpose(1, 0) + 1, np.transpose(x, (1, 0)).sum(axis=0)
def lazy_matmul(a, b): return (a * 2) @ (b + 1), np.sum(a @ b)


def gather(x, idx): return x[idx], x[idx] * 2, x[idx[::-1]]
def gather_2d(x, idx): return x[idx], x[idx, 0], x[idx, idx % 2]
def scatter(x, idx, v):
    x[idx] = v
    return x
def scatter_add(x, idx, v):
    np.add.at(x, idx, v)
    return x
def gather_aug(x, idx):
    x[idx] += 1.0
    return x


def slice_store(a, b):
    a[1:-1] = b[1:-1] * 2 + 1
    return a
def slice_broadcast(a, row, s):
    a[:, :] = row
    a[0] = s
    a[1:, 1:] = row[1:] * s
    return a
def column_store(a, col):
    a[:, 0] = col
    a[::2] = 0.5
    return a
def inplace(a, b):
    a += b
    a *= 2
    a[1:] -= a[:-1]
    return a
def inplace_int(a):
    a += 1
    a //= 2
    return a
def heat(u, alpha):
    u[1:-1] = u[1:-1] + alpha * (u[:-2] - 2 * u[1:-1] + u[2:])
    return u
def shift(x):
    x[1:] = x[:-1]
    return x
def aliased_args(x, y):
    x[:] = y + 1
    return x


def creation(n, s, t):
    return (np.arange(n), np.arange(1, n), np.arange(n, 0, -2), np.arange(0.5, n, 0.5), np.linspace(0, 1, n),
            np.linspace(s, t, n, endpoint=False), np.eye(n), np.eye(n, n + 1, 1), np.identity(n),
            np.array([s, t, s * t]), np.array([[s, t], [t, s]]), np.arange(n, dtype=float),
            np.linspace(s, t, 5), np.eye(3, dtype=int))
def copies(x): return x.copy(), np.copy(x), x.astype(np.float32), x.astype(int), x.astype(bool), np.array(x)
def joins(x, y):
    return (np.concatenate((x, y)), np.concatenate([x, y], axis=1), np.stack([x, y]), np.stack((x, y), axis=2),
            np.hstack([x, y]), np.vstack((x, y)), np.concatenate((x, y), axis=None))
def joins_1d(u, v): return np.concatenate((u, v, u)), np.stack((u, v), axis=1), np.hstack((u, v)), np.vstack([u, v])
def reshapes(x):
    n, m = x.shape
    return x.reshape(-1), x.reshape(m, n), np.reshape(x, (n * m,)), x.ravel(), x.flatten(), x.reshape(n, m, 1)


def fused(x, y): return np.sum((x - y) ** 2), np.mean(np.abs(x * y - 1)), np.max(np.exp(x) + y)
def expr_in_loop(x, n):
    for _ in range(n):
        x = x * 0.5 + 1
    return x
def expr_if(x, c):
    return np.sum(x * 2 if c > 0 else x - 1)


def _matmul_pair(nda, ndb, dtype=F):
    @st.composite
    def draw(d):
        n, k, m = (d(st.integers(0, 4)) for _ in range(3))
        a = d(arrays(nda, dtype, shape=[n, k][2 - nda:], strided=True))
        b = d(arrays(ndb, dtype, shape=[k, m][:ndb], strided=True))
        return a, b
    return draw()


def _indices(n, ndim, unique=False):
    @st.composite
    def draw(d):
        if unique:
            k = d(st.integers(0, n))
            idx = np.random.default_rng(d(st.integers(0, 999))).permutation(n)[:k] - d(st.sampled_from([0, n]))
            return idx.astype(np.int64)
        shape = [d(st.integers(0, 4)) for _ in range(ndim)]
        return np.random.default_rng(d(st.integers(0, 999))).integers(-n, n, shape).astype(np.int64)
    return draw()


CASES = [
    (arith, broadcastable([2, 2])),
    (arith, broadcastable([2, 1], strided=True)),
    (compare, broadcastable([1, 2], nan=True)),
    (with_scalars, st.tuples(arrays(2, strided=True), scalars())),
    (int_arith, broadcastable([2, 1], [I, I])),
    (int32_arith, broadcastable([1, 1], [I32, I32])),
    (mixed_dtypes, broadcastable([1, 1, 1], [F32, F, I])),
    (bools, broadcastable([2, 2], [B, B])),
    (bitwise, broadcastable([1, 1], [I, I])),
    (unary, st.tuples(arrays(2, strided=True))),
    (unary32, st.tuples(arrays(1, F32))),
    (int_unary, st.tuples(arrays(2, I))),
    (binary_funcs, broadcastable([2, 2], nan=True)),
    (logical, broadcastable([1, 1], [B, F])),
    (nan_checks, st.tuples(arrays(1, nan=True))),
    (broadcast3, broadcastable([3, 2, 1])),
    (newaxis, st.tuples(arrays(1), arrays(1))),
    (reductions_1d, st.tuples(arrays(1, min_side=2, strided=True, nan=False))),
    (sums_empty_ok, st.tuples(arrays(1))),
    (reductions_2d, st.tuples(arrays(2, min_side=1, strided=True))),
    (reductions_int, st.tuples(arrays(2, I32, min_side=1))),
    (reductions_f32, st.tuples(arrays(1, F32, min_side=1))),
    (reductions_nan, st.tuples(arrays(1, min_side=1, nan=True))),
    (sum_dtype, st.tuples(arrays(2, min_side=1))),
    (scans, st.tuples(arrays(2, strided=True))),
    (scans_int, st.tuples(arrays(2, I32))),
    (matmul_2_2, _matmul_pair(2, 2)),
    (matmul_2_1, _matmul_pair(2, 1)),
    (matmul_1_2, _matmul_pair(1, 2)),
    (matmul_1_1, _matmul_pair(1, 1)),
    (matmul_int, _matmul_pair(2, 2, I)),
    (lazy_matmul, _matmul_pair(2, 2)),
    (transposes, st.tuples(arrays(2, strided=True))),
    (gather, st.integers(1, 6).flatmap(lambda n: st.tuples(arrays(1, shape=[n]), _indices(n, 2)))),
    (gather_2d, st.integers(2, 6).flatmap(lambda n: st.tuples(arrays(2, shape=[n, 3]), _indices(n, 1)))),
    (scatter, st.integers(1, 6).flatmap(lambda n: st.tuples(arrays(1, shape=[n]), _indices(n, 1, unique=True),
                                                             st.floats(-2, 2)))),
    (scatter_add, st.integers(1, 6).flatmap(lambda n: st.tuples(arrays(1, shape=[n]), _indices(n, 1),
                                                                 arrays(0)))),
    (gather_aug, st.integers(1, 6).flatmap(lambda n: st.tuples(arrays(1, shape=[n]), _indices(n, 1)))),
    (slice_store, st.integers(0, 6).flatmap(lambda n: st.tuples(arrays(1, shape=[n]), arrays(1, shape=[n])))),
    (slice_broadcast, st.tuples(st.integers(1, 4), st.integers(1, 4)).flatmap(
        lambda s: st.tuples(arrays(2, shape=list(s)), arrays(1, shape=[s[1]]), st.floats(-2, 2)))),
    (column_store, st.integers(1, 5).flatmap(lambda n: st.tuples(arrays(2, shape=[n, 3], strided=True),
                                                                  arrays(1, shape=[n])))),
    (inplace, broadcastable([1, 1])),
    (inplace_int, st.tuples(arrays(2, I, strided=True))),
    (heat, st.tuples(arrays(1, max_side=8), st.floats(0, 0.5))),
    (shift, st.tuples(arrays(1, strided=True))),
    (creation, st.tuples(st.integers(0, 5), scalars(), scalars())),
    (copies, st.tuples(arrays(2, strided=True))),
    (joins, st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)).flatmap(
        lambda s: st.tuples(arrays(3, shape=list(s)), arrays(3, shape=list(s))))),
    (joins_1d, st.integers(0, 4).flatmap(lambda n: st.tuples(arrays(1, shape=[n]), arrays(1, shape=[n], dtype=I)))),
    (reshapes, st.tuples(arrays(2, strided=True))),
    (fused, broadcastable([2, 2], min_side=1)),
    (expr_in_loop, st.tuples(arrays(1), st.integers(0, 3))),
    (expr_if, st.tuples(arrays(2), scalars())),
]


def _ids(cases):
    seen, out = {}, []
    for fn, _ in cases:
        seen[fn.__name__] = seen.get(fn.__name__, 0) + 1
        out.append(fn.__name__ + ("" if seen[fn.__name__] == 1 else f"_{seen[fn.__name__]}"))
    return out


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("fn,strategy", CASES, ids=_ids(CASES))
@SETTINGS
@given(data=st.data())
def test_matches_numpy(fn, strategy, target, data):
    args = data.draw(strategy)
    if target == "cpu" and fn not in NATIVE_STRIDED:
        # the tracer emits the same ops for every layout: natively, one layout per case keeps
        # compilation time down (strided ABI paths are covered by the cases below)
        args = [np.ascontiguousarray(a) if isinstance(a, np.ndarray) else a for a in args]
    check(fn, tuple(args), target)


NATIVE_STRIDED = {arith, transposes, scans, column_store, shift}


# ---- edge cases with fixed arguments ------------------------------------------------------

def e_len(x): return len(x * 2), (x + 1).shape, (x + 1).size, (x * 1).ndim
def e_zero_d(x): return x * 2 + np.sum(x), np.max(x)
def e_ellipsis(x): return x[..., None] * x, x[None, ..., 1:]
def e_array_of_arrays(a, b): return np.array([a, b]) * 2, np.array((a, a), dtype=np.float32)
def e_weak_where(x): return np.where(x > 0, 1.0, 0), np.where(x > 0, 1, -1), np.clip(x, 0, 3)
def e_outer_nd(a, b): return np.outer(a, b), np.dot(b, 2.0), b.T
def e_gathers(a, i): return a[i], a[i[::-1]] + 1, a[np.array([[0, 1], [2, 3]])]
def e_bools(p): return np.sum(p), np.mean(p), p.any(), p.all(axis=0), np.cumsum(p), np.max(p)
def e_ranges(n):
    return (np.linspace(0, 1, 1), np.linspace(0, 1, 0), np.arange(n, -3, -1.5), np.arange(np.float32(0.5), 3),
            np.eye(3, 4, -1, dtype=np.int32), np.linspace(np.float32(0), 1, 3), np.arange(np.int32(n)))
def e_scalar_types(x32, a, s64, s32): return x32 * s64, x32 * s32, a + s32, a / a.astype(np.int32), x32 ** 2
def e_floor_mod(x, y, a, b): return x % y, x // y, a % b, a // b
def e_reshape_bad(a): return a.reshape(4, 2)
def e_stack_bad(a, b): return np.stack((a, b))
def e_concat_bad(a, b): return np.concatenate((a, b), axis=1)
def e_gather_oob(a): return a[np.array([5])]
def e_max_empty(x): return np.max(x)
def e_argmin_empty_axis(x): return np.argmin(x, axis=1)
def e_slice_edges(u):
    """Constant starts past the end and negative stops before the beginning: empty slices,
    whatever the length (the tracer keeps such bounds unclamped, irad/tracer/expressions.py)."""
    u[1:-1] = u[1:-1] + 0.5 * (u[:-2] - 2.0 * u[1:-1] + u[2:])
    u[3:-3] += 1.0
    u[5:] *= 2.0
    return np.sum(u[2:]) + np.sum(u[:-4]) + np.sum(u[4:-1] * u[3:-2]), u[6:].shape[0], u[1:-7].shape[0]


def e_slice_bounds(u):
    """Constant bounds on both sides of the ends, both directions, with the lengths."""
    a, b, c, d, e, f = u[0:3], u[2:5], u[-3:], u[:-5], u[7:2], u[4:-4]
    g, h, k, m, p, q = u[-8:-2], u[10:], u[:12], u[3:-1:2], u[-2:1:-1], u[::-3]
    r, s, t, v, w = u[9:-12:-2], u[-20:20], u[5:-5:3], u[1:-1][1:-1], u[2:][:-2]
    return (a.sum(), b.sum(), c.sum(), d.sum(), e.sum(), f.sum(), g.sum(), h.sum(), k.sum(), m.sum(),
            p.sum(), q.sum(), r.sum(), s.sum(), t.sum(), v.sum(), w.sum(),
            a.shape[0], e.shape[0], f.shape[0], h.shape[0], m.shape[0], p.shape[0], r.shape[0], t.shape[0],
            v.shape[0], w.shape[0])


def e_chained(x): return (0 < x) & (x < 1), np.logical_not(x > 0.5)
def e_zero_d_inplace(x):
    x += 1
    x *= x
    return x, -x, x.copy(), np.array(x)


EDGE = [
    (e_len, (np.ones(3),)),
    (e_zero_d, (np.array(3.0),)),
    (e_ellipsis, (np.arange(6.0).reshape(2, 3),)),
    (e_array_of_arrays, (np.ones(3), np.zeros(3))),
    (e_weak_where, (np.array([-1, 2, 5]),)),
    (e_outer_nd, (np.ones((2, 2)), np.arange(3.0))),
    (e_gathers, (np.arange(5.0), np.array([-1, -5, 4, 0]))),
    (e_bools, (np.array([[True, False], [True, True]]),)),
    (e_ranges, (2,)),
    (e_scalar_types, (np.ones(2, np.float32), np.arange(1, 3), np.float64(2), np.float32(3))),
    (e_floor_mod, (np.array([-7.5, 7.5, -3.0]), np.array([2.0, -2.0, 0.0]), np.array([-7, 7]), np.array([0, 2]))),
    (e_reshape_bad, (np.arange(6),)),
    (e_stack_bad, (np.ones(2), np.zeros(3))),
    (e_concat_bad, (np.ones((2, 2)), np.zeros((3, 2)))),
    (e_gather_oob, (np.arange(5.0),)),
    (e_max_empty, (np.ones(0),)),
    (e_argmin_empty_axis, (np.ones((2, 0)),)),
    (e_argmin_empty_axis, (np.ones((0, 2)),)),
    (e_chained, (np.linspace(-1, 2, 7),)),
    *[(e_slice_bounds, (np.arange(1.0, n + 1.0),)) for n in range(13)],
    *[(e_slice_edges, (np.linspace(-1.0, 2.0, n),)) for n in range(9)],
    (e_zero_d_inplace, (np.array(3.0),)),
]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("fn,args", EDGE, ids=_ids(EDGE))
def test_edge_cases_match_numpy(fn, args, target):
    check(fn, args, target)

