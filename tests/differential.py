"""Helpers to run a program in CPython and compiled and compare everything."""
from __future__ import annotations

import dataclasses
import math

import numpy as np

import programs


def fresh(make):
    programs.rng = np.random.default_rng(1234)
    return make()


def kind(x):
    if isinstance(x, (bool, np.bool_)):
        return "bool"
    if isinstance(x, (int, np.integer)):
        return "int"
    if isinstance(x, (float, np.floating)):
        return "float"
    return type(x).__name__


def assert_same(actual, expected, path="result", rtol=1e-12):
    if isinstance(expected, np.ndarray):
        assert isinstance(actual, np.ndarray), f"{path}: expected an array, got {type(actual)}"
        assert actual.dtype == expected.dtype, f"{path}: dtype {actual.dtype} != {expected.dtype}"
        assert actual.shape == expected.shape, f"{path}: shape {actual.shape} != {expected.shape}"
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=0, equal_nan=True, err_msg=path)
        return
    if isinstance(expected, (tuple, list)):
        assert type(actual) is type(expected), f"{path}: {type(actual)} != {type(expected)}"
        assert len(actual) == len(expected), f"{path}: length"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_same(a, e, f"{path}[{i}]", rtol)
        return
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and list(actual) == list(expected), f"{path}: keys"
        for k in expected:
            assert_same(actual[k], expected[k], f"{path}[{k!r}]", rtol)
        return
    if dataclasses.is_dataclass(expected):
        assert type(actual) is type(expected)
        for f in dataclasses.fields(expected):
            assert_same(getattr(actual, f.name), getattr(expected, f.name), f"{path}.{f.name}", rtol)
        return
    if expected is None or isinstance(expected, str) or callable(expected):
        assert actual is expected or actual == expected, f"{path}: {actual!r} != {expected!r}"
        return
    promoted = kind(expected) == "int" and kind(actual) == "float"  # documented int -> float joins
    assert promoted or kind(actual) == kind(expected), f"{path}: {actual!r} ({type(actual)}) vs {expected!r} ({type(expected)})"
    if isinstance(expected, np.generic):
        assert isinstance(actual, np.generic) and actual.dtype == expected.dtype, \
            f"{path}: {type(actual)} != {type(expected)}"
    e, a = float(expected), float(actual)
    if math.isnan(e):
        assert math.isnan(a), f"{path}: {a} != nan"
    else:
        assert a == e or math.isclose(a, e, rel_tol=rtol, abs_tol=1e-300), f"{path}: {a!r} != {e!r}"


def check_program(fn, make, compiled):
    expected_args = fresh(make)
    expected = fn(*expected_args)
    args = fresh(make)
    actual = compiled(*args)
    assert_same(actual, expected)
    assert_same(list(args), list(expected_args), "arguments after the call")
    return compiled
