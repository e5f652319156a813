"""Shared strategies and helpers for the whole-array NumPy tests.

Arrays are drawn with hypothesis: shapes include empty and size-1 axes,
data come from a seeded generator (fast) and can contain NaN, and a
`strided` draw gives non-contiguous inputs (every other element, or
reversed, or transposed)."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from hypothesis import strategies as st

import irad

_COMPILED: dict = {}


def compiled(fn, target):
    key = (fn, target)
    if key not in _COMPILED:
        _COMPILED[key] = irad.jit(fn, target=target)
    return _COMPILED[key]


def make(shape, dtype, seed, strided=None, nan=False, low=None, high=None):
    """An array of `shape` and `dtype`; `strided` picks a non-contiguous layout."""
    rng = np.random.default_rng(seed)
    shape = tuple(shape)
    big = tuple(2 * n if (k == 0 and strided == "step") else n for k, n in enumerate(shape))
    if strided == "transpose":
        big = big[::-1]
    if np.dtype(dtype) == np.bool_:
        a = rng.random(big) < 0.5
    elif np.dtype(dtype).kind == "i":
        lo, hi = (-5, 6) if low is None else (low, high)
        a = rng.integers(lo, hi, big).astype(dtype)
    else:
        a = rng.standard_normal(big)
        if low is not None:
            a = rng.uniform(low, high, big)
        if nan and a.size:
            a.flat[rng.integers(0, a.size)] = np.nan
        a = a.astype(dtype)
    if strided == "step" and shape:
        a = a[::2]
    elif strided == "reverse" and shape:
        a = a[::-1]
    elif strided == "transpose":
        a = a.T
    assert a.shape == shape
    return a


@st.composite
def arrays(draw, ndim, dtype=np.float64, min_side=0, max_side=4, strided=False, nan=False,
           shape=None, **kw):
    shape = shape if shape is not None else [draw(st.integers(min_side, max_side)) for _ in range(ndim)]
    layout = draw(st.sampled_from([None, "step", "reverse"] + (["transpose"] if ndim >= 2 else []))) \
        if strided and ndim else None
    return make(shape, dtype, draw(st.integers(0, 2 ** 32 - 1)), layout, nan and draw(st.booleans()), **kw)


@st.composite
def broadcastable(draw, ndims, dtypes=None, min_side=0, max_side=4, strided=False, nan=False, **kw):
    """Arrays of the given ndims whose shapes broadcast together (some axes are 1)."""
    top = max(ndims)
    base = [draw(st.integers(min_side, max_side)) for _ in range(top)]
    dtypes = dtypes or [np.float64] * len(ndims)
    out = []
    for nd, dt in zip(ndims, dtypes):
        shape = [draw(st.sampled_from([d, 1])) for d in base[top - nd:]]
        out.append(draw(arrays(nd, dt, strided=strided, nan=nan, shape=shape, **kw)))
    return tuple(out)


def scalars(kind=float):
    if kind is float:
        return st.floats(-3, 3, allow_nan=False).filter(lambda v: abs(v) > 1e-3)
    return st.integers(-4, 4)


def run_numpy(fn, args):
    with np.errstate(all="ignore"):
        return fn(*copy.deepcopy(args))


def assert_same(actual, expected, rtol=1e-12, atol=1e-14, path="result"):
    if isinstance(expected, tuple):
        assert isinstance(actual, tuple) and len(actual) == len(expected), f"{path}: {actual!r}"
        for k, (a, e) in enumerate(zip(actual, expected)):
            assert_same(a, e, rtol, atol, f"{path}[{k}]")
        return
    if isinstance(expected, np.ndarray):
        assert isinstance(actual, np.ndarray), f"{path}: expected an array, got {type(actual)}"
        assert actual.dtype == expected.dtype, f"{path}: dtype {actual.dtype} != {expected.dtype}"
        assert actual.shape == expected.shape, f"{path}: shape {actual.shape} != {expected.shape}"
        if expected.dtype.kind == "f":
            tol = max(rtol, 2e-6) if expected.dtype == np.float32 else rtol
            np.testing.assert_allclose(actual, expected, rtol=tol, atol=atol, equal_nan=True, err_msg=path)
        else:
            np.testing.assert_array_equal(actual, expected, err_msg=path)
        return
    if isinstance(expected, np.generic):
        assert isinstance(actual, np.generic) and actual.dtype == expected.dtype, \
            f"{path}: {actual!r} ({type(actual).__name__}) vs {expected!r} ({expected.dtype})"
        assert_same(np.asarray(actual), np.asarray(expected), rtol, atol, path)
        return
    assert type(actual) is type(expected), f"{path}: {type(actual)} vs {type(expected)}"
    if isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(actual)
    else:
        assert math.isclose(actual, expected, rel_tol=rtol, abs_tol=atol), f"{path}: {actual} != {expected}"


def check(fn, args, target, rtol=1e-12):
    """fn compiled for `target` agrees with NumPy on its result and on its mutated arguments."""
    expected_args = copy.deepcopy(args)
    try:
        with np.errstate(all="ignore"):
            expected = fn(*expected_args)
    except (ValueError, IndexError) as e:
        with pytest.raises(type(e)):
            compiled(fn, target)(*copy.deepcopy(args))
        return
    actual_args = copy.deepcopy(args)
    actual = compiled(fn, target)(*actual_args)
    assert_same(actual, expected, rtol)
    for k, (a, e) in enumerate(zip(actual_args, expected_args)):
        if isinstance(e, np.ndarray):
            assert_same(a, e, rtol, path=f"argument {k} after the call")
