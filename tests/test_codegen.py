"""Native CPU code against the reference interpreter, op by op and program by program."""
from __future__ import annotations

import ctypes
import gc
import re
import threading

import numpy as np
import pytest

import irad
from irad.ops import OPS
from irad.ops.lowering import DESCRIPTORS
from irad.runtime import (AllocationError, ArgumentError, BoundsError, InvalidValueError,
                          compile_func, lowering_for)

assert issubclass(AllocationError, MemoryError) and issubclass(InvalidValueError, ValueError)

RNG = np.random.default_rng(1234)
# test values are built by casting out-of-range floats on purpose
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")


# ---- helpers ----------------------------------------------------------------------

def build(text: str, entry: str | None = None, **options):
    module = irad.parse_ir(text)
    func = module[entry] if entry else next(iter(module.funcs.values()))
    for f in module.funcs.values():
        irad.verify(f)
    return func, module, compile_func(func, module=module, **options)


def same_scalar(expected, got, rtol=0.0) -> bool:
    if type(expected) is not type(got):
        return False
    if isinstance(expected, np.floating):
        if np.isnan(expected):
            return bool(np.isnan(got))
        if rtol:
            return bool(np.isclose(got, expected, rtol=rtol, atol=rtol * 1e-3, equal_nan=True))
        return bool(expected == got and np.signbit(expected) == np.signbit(got))
    return bool(expected == got)


def assert_same(expected, got, what=""):
    if isinstance(expected, np.ndarray):
        assert isinstance(got, np.ndarray), what
        assert got.dtype == expected.dtype and got.shape == expected.shape, what
        np.testing.assert_array_equal(got, expected, err_msg=what)
    else:
        assert same_scalar(expected, got), f"{what}: expected {expected!r}, got {got!r}"


def run_both(text: str, make_args, entry=None, **options):
    """Run natively and in the interpreter on separate copies of the arguments."""
    func, module, cf = build(text, entry, **options)
    a_interp, a_native = make_args(), make_args()
    expected = irad.interpret(func, a_interp, module)
    got = cf(*a_native)
    assert len(got) == len(expected)
    for k, (e, g) in enumerate(zip(expected, got)):
        assert_same(e, g, f"result {k}")
    for k, (ai, an) in enumerate(zip(a_interp, a_native)):
        if isinstance(ai, np.ndarray):
            assert_same(ai, an, f"argument {k} after the call")
    return got, a_native, cf


# ---- the op table --------------------------------------------------------------------

def test_every_op_has_a_lowering():
    for name, d in OPS.items():
        assert isinstance(d.llvm, DESCRIPTORS), f"op {name} has no llvm descriptor"
        assert lowering_for(d.llvm) is not None, f"the runtime cannot lower {name} ({d.llvm!r})"


# ---- scalar ops, op by op --------------------------------------------------------------

SPECIAL_F = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 7.25, -7.25, 1e300, -1e300, 5e-324,
             float("inf"), float("-inf"), float("nan"), 2.0 ** 63, -2.0 ** 63, 2.0 ** 31, 1e10]
EXACT_F = ["add", "sub", "mul", "div", "floordiv", "mod", "pow", "min", "max"]
APPROX_F = ["atan2", "hypot"]
UNARY_EXACT_F = ["neg", "abs", "sqrt", "floor", "ceil"]
UNARY_APPROX_F = ["sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "exp",
                  "expm1", "log", "log1p", "log2", "log10"]
BINARY_I = ["add", "sub", "mul", "floordiv", "mod", "pow", "min", "max", "and", "or", "xor"]
COMPARES = ["lt", "le", "gt", "ge", "eq", "ne"]


def scalar_program(t: str, ops, arity: int, result: str | None = None) -> str:
    args = ", ".join(f"%a{k}: {t}" for k in range(arity))
    operands = ", ".join(f"%a{k}" for k in range(arity))
    rt = result or t
    body = "\n".join(f"  %r{k} = {op} {operands} : {rt}" for k, op in enumerate(ops))
    results = ", ".join(f"%r{k}" for k in range(len(ops)))
    types = ", ".join([rt] * len(ops))
    return f"func @f({args}) -> ({types}) {{\n{body}\n  return {results}\n}}\n"


def check_scalar_ops(t, ops, arity, values, rtol=0.0, result=None):
    func, module, cf = build(scalar_program(t, ops, arity, result))
    for args in values:
        expected = irad.interpret(func, list(args), module)
        got = cf(*args)
        for op, e, g in zip(ops, expected, got):
            assert same_scalar(e, g, rtol), f"{op}{tuple(args)} on {t}: expected {e!r}, got {g!r}"


def float_pairs(dtype):
    special = [dtype(v) for v in SPECIAL_F]
    pairs = [(x, y) for x in special for y in special]
    pairs += [tuple(dtype(v) for v in RNG.normal(0, 10, 2)) for _ in range(200)]
    pairs += [(dtype(RNG.integers(-20, 20)), dtype(RNG.integers(-5, 5))) for _ in range(100)]
    return pairs


def int_pairs(dtype):
    info = np.iinfo(dtype)
    special = [info.min, info.min + 1, -7, -2, -1, 0, 1, 2, 3, 7, info.max]
    pairs = [(dtype(x), dtype(y)) for x in special for y in special]
    pairs += [tuple(dtype(v) for v in RNG.integers(-1000, 1000, 2)) for _ in range(300)]
    return pairs


@pytest.mark.parametrize("t,dtype", [("f64", np.float64), ("f32", np.float32)])
def test_float_binary_ops_exact(t, dtype):
    check_scalar_ops(t, EXACT_F, 2, float_pairs(dtype))


@pytest.mark.parametrize("t,dtype,rtol", [("f64", np.float64, 1e-14), ("f32", np.float32, 1e-6)])
def test_float_binary_math(t, dtype, rtol):
    check_scalar_ops(t, APPROX_F, 2, float_pairs(dtype), rtol)


@pytest.mark.parametrize("t,dtype", [("f64", np.float64), ("f32", np.float32)])
def test_float_unary_ops_exact(t, dtype):
    values = [(dtype(v),) for v in SPECIAL_F] + [(dtype(v),) for v in RNG.normal(0, 10, 200)]
    check_scalar_ops(t, UNARY_EXACT_F, 1, values)


@pytest.mark.parametrize("t,dtype,rtol", [("f64", np.float64, 1e-13), ("f32", np.float32, 2e-6)])
def test_float_unary_math(t, dtype, rtol):
    values = [(dtype(v),) for v in SPECIAL_F] + [(dtype(v),) for v in RNG.normal(0, 3, 200)]
    values += [(dtype(v),) for v in RNG.uniform(-1, 1, 100)]
    check_scalar_ops(t, UNARY_APPROX_F, 1, values, rtol)


@pytest.mark.parametrize("t,dtype", [("f64", np.float64), ("f32", np.float32)])
def test_float_fma(t, dtype):
    values = [tuple(dtype(v) for v in RNG.normal(0, 1e3, 3)) for _ in range(200)]
    values += [(dtype(0.1), dtype(10.0), dtype(-1.0)), (dtype(1e308), dtype(10.0), dtype(-np.inf))]
    check_scalar_ops(t, ["fma"], 3, values)


@pytest.mark.parametrize("t,dtype", [("i64", np.int64), ("i32", np.int32)])
def test_int_binary_ops(t, dtype):
    check_scalar_ops(t, BINARY_I, 2, int_pairs(dtype))


@pytest.mark.parametrize("t,dtype", [("i64", np.int64), ("i32", np.int32)])
def test_int_pow_large_and_negative_exponents(t, dtype):
    values = [(dtype(x), dtype(y)) for x in (-3, -2, -1, 0, 1, 2, 3, 12345)
              for y in (-5, -2, -1, 0, 1, 2, 31, 63, 64, 1000)]
    check_scalar_ops(t, ["pow"], 2, values)


@pytest.mark.parametrize("t,dtype", [("i64", np.int64), ("i32", np.int32)])
def test_int_unary_ops(t, dtype):
    info = np.iinfo(dtype)
    values = [(dtype(v),) for v in (info.min, info.min + 1, -5, -1, 0, 1, 5, info.max)]
    check_scalar_ops(t, ["neg", "abs"], 1, values)


@pytest.mark.parametrize("t,make", [("f64", float_pairs), ("f32", float_pairs), ("i64", int_pairs),
                                    ("i32", int_pairs)])
def test_compares(t, make):
    dtype = np.dtype({"f64": "float64", "f32": "float32", "i64": "int64", "i32": "int32"}[t]).type
    check_scalar_ops(t, COMPARES, 2, make(dtype), result="i1")


def test_bool_ops():
    values = [(np.bool_(x), np.bool_(y)) for x in (False, True) for y in (False, True)]
    check_scalar_ops("i1", ["and", "or", "xor"] + [], 2, values)
    check_scalar_ops("i1", COMPARES, 2, values, result="i1")
    check_scalar_ops("i1", ["not"], 1, [(np.bool_(False),), (np.bool_(True),)])


CAST_VALUES = {
    "f64": [0.0, -0.0, 1.5, -1.5, 2.5e9, -2.5e9, 1e19, -1e19, 1e300, float("nan"), float("inf"),
            float("-inf"), 2.0 ** 63, -2.0 ** 63, 2.0 ** 31 - 0.5, -2.0 ** 31 - 0.5, 123456.789],
    "i64": [0, 1, -1, 2 ** 62 + 12345, -(2 ** 63), 2 ** 63 - 1, 2 ** 31, -(2 ** 31) - 1, 77],
}
CAST_VALUES["f32"] = CAST_VALUES["f64"]
CAST_VALUES["i32"] = [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 77]
CAST_VALUES["i1"] = [False, True]


@pytest.mark.parametrize("src", ["f64", "f32", "i64", "i32", "i1"])
def test_casts(src):
    dsts = ["f64", "f32", "i64", "i32", "i1"]
    body = "\n".join(f"  %r{k} = cast %x : {src} to {d}" for k, d in enumerate(dsts))
    text = (f"func @f(%x: {src}) -> ({', '.join(dsts)}) {{\n{body}\n  return "
            + ", ".join(f"%r{k}" for k in range(len(dsts))) + "\n}\n")
    func, module, cf = build(text)
    np_type = {"f64": np.float64, "f32": np.float32, "i64": np.int64, "i32": np.int32, "i1": np.bool_}[src]
    for v in CAST_VALUES[src]:
        x = np_type(v)
        expected = irad.interpret(func, [x], module)
        got = cf(x)
        for d, e, g in zip(dsts, expected, got):
            assert same_scalar(e, g), f"cast {x!r} {src} -> {d}: expected {e!r}, got {g!r}"


def test_select_and_const():
    text = """
func @f(%c: i1, %x: f64) -> (f64, i64, f32, i1) {
  %k = const -2.5 : f64
  %n = const -7 : i64
  %h = const 0.1 : f32
  %t = const true : i1
  %s = select %c, %x, %k : f64
  return %s, %n, %h, %t
}
"""
    for c in (True, False):
        run_both(text, lambda: [np.bool_(c), np.float64(4.0)])


# ---- control flow ---------------------------------------------------------------------

def test_nested_loops_with_iter_args():
    text = """
func @f(%a: array<f64,2,C>) -> (f64, i64) {
  %m = dim %a, 0 : i64
  %n = dim %a, 1 : i64
  %z = const 0.0 : f64
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  %s, %cnt = for %i = %c0 to %m step %c1 iter_args(%acc = %z, %k = %c0) -> (f64, i64) {
    %row, %k2 = for %j = %c0 to %n step %c1 iter_args(%r = %acc, %kk = %k) -> (f64, i64) {
      %v = load %a[%i, %j] : f64
      %jf = cast %j : i64 to f64
      %w = mul %v, %jf : f64
      %r2 = add %r, %w : f64
      %kk2 = add %kk, %c1 : i64
      yield %r2, %kk2
    }
    yield %row, %k2
  }
  return %s, %cnt
}
"""
    run_both(text, lambda: [np.arange(12.0).reshape(3, 4)])


RANGE_LOOP = """
func @f(%lo: i64, %hi: i64, %step: i64) -> (i64, i64) {
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  %s, %n = for %i = %lo to %hi step %step iter_args(%acc = %c0, %cnt = %c0) -> (i64, i64) {
    %a2 = add %acc, %i : i64
    %n2 = add %cnt, %c1 : i64
    yield %a2, %n2
  }
  return %s, %n
}
"""


@pytest.mark.parametrize("lo,hi,step", [(0, 10, 1), (10, 0, -1), (10, 0, -3), (0, 10, 3), (5, 5, 1),
                                        (5, 5, -1), (10, 0, 1), (0, 10, -1), (-7, 8, 4), (8, -7, -4),
                                        (0, 1, 1000), (3, 2, -10)])
def test_for_trip_counts_follow_range(lo, hi, step):
    got, _, _ = run_both(RANGE_LOOP, lambda: [np.int64(lo), np.int64(hi), np.int64(step)])
    assert got[1] == len(range(lo, hi, step))


def test_for_with_extreme_bounds_does_not_overflow():
    _, _, cf = build(RANGE_LOOP)
    big = 2 ** 63 - 1
    assert cf(-big - 1, big, 2 ** 62)[1] == len(range(-big - 1, big, 2 ** 62))
    assert cf(big, -big - 1, -(2 ** 62))[1] == len(range(big, -big - 1, -(2 ** 62)))
    assert cf(big - 2, big, 1)[1] == 2


CONSTANT_STEP_LOOP = """
func @f(%lo: i64, %hi: i64) -> (i64, i64) {
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  %step = const STEP : i64
  %s, %n = for %i = %lo to %hi step %step iter_args(%acc = %c0, %cnt = %c0) -> (i64, i64) {
    %a2 = add %acc, %i : i64
    %n2 = add %cnt, %c1 : i64
    yield %a2, %n2
  }
  return %s, %n
}
"""


@pytest.mark.parametrize("step", [1, 2, 7, -1, -3])
def test_for_with_a_constant_step_follows_range(step):
    _, _, cf = build(CONSTANT_STEP_LOOP.replace("STEP", str(step)))
    big = 2 ** 63 - 1
    bounds = [(0, 10), (10, 0), (5, 5), (-7, 8), (8, -7), (0, 1), (3, 2), (big - 2, big), (big, big - 9),
              (-big - 1, -big + 1), (-big + 1, -big - 1), (big, -big - 1) if step > 0 else (-big - 1, big)]
    for lo, hi in bounds:           # the last pair: empty, though hi - lo overflows
        expected = range(lo, hi, step)
        wrapped_sum = (sum(expected) + 2**63) % 2**64 - 2**63
        assert list(cf(lo, hi)) == [wrapped_sum, len(expected)], (lo, hi)


@pytest.mark.parametrize("lo,hi,step", [(0, 10, 3), (10, 0, -4), (5, 5, 1), (-3, 4, 1), (4, -3, 1)])
def test_for_with_constant_bounds_and_step_follows_range(lo, hi, step):
    text = CONSTANT_STEP_LOOP.replace("STEP", str(step)).replace("(%lo: i64, %hi: i64)", "()")
    text = text.replace("  %c0 = const 0", f"  %lo = const {lo} : i64\n  %hi = const {hi} : i64\n  %c0 = const 0")
    _, _, cf = build(text)
    assert list(cf()) == [sum(range(lo, hi, step)), len(range(lo, hi, step))]


def test_for_zero_step_is_a_value_error():
    _, _, cf = build(RANGE_LOOP)
    with pytest.raises(ValueError, match="step must not be zero"):
        cf(0, 10, 0)


def test_while_loop():
    text = """
func @collatz(%n: i64) -> (i64, i64) {
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  %c2 = const 2 : i64
  %c3 = const 3 : i64
  %x, %steps = while (%v = %n, %k = %c0) -> (i64, i64) {
    %more = gt %v, %c1 : i1
    condition %more, %v, %k
  } do (%v2, %k2) {
    %r = mod %v2, %c2 : i64
    %odd = eq %r, %c1 : i1
    %next = if %odd -> i64 {
      %t = mul %v2, %c3 : i64
      %t1 = add %t, %c1 : i64
      yield %t1
    } else {
      %h = floordiv %v2, %c2 : i64
      yield %h
    }
    %k3 = add %k2, %c1 : i64
    yield %next, %k3
  }
  return %x, %steps
}
"""
    for n in (1, 6, 27, 97):
        got, _, _ = run_both(text, lambda: [np.int64(n)])
    assert got[1] == 118


def test_if_with_results_of_several_types():
    text = """
func @f(%c: i1, %a: array<f64,1,C>, %b: array<f64,1,C>) -> (f64, array<f64,1,C>) {
  %c0 = const 0 : i64
  %r, %arr = if %c -> (f64, array<f64,1,C>) {
    %x = load %a[%c0] : f64
    yield %x, %a
  } else {
    %y = const -1.0 : f64
    yield %y, %b
  }
  %one = const 1.0 : f64
  store %one, %arr[%c0]
  return %r, %arr
}
"""
    for c in (True, False):
        got, args, _ = run_both(text, lambda: [np.bool_(c), np.full(3, 5.0), np.zeros(2)])
        assert got[1] is args[1 if c else 2]


def test_calls_within_a_module():
    text = """
func @main(%x: array<f64,1,C>, %s: f64) -> (f64, f64) {
  %t = call @total(%x) : f64
  %u, %v = call @pair(%t, %s) : f64, f64
  call @scale(%x, %s)
  return %u, %v
}

func @total(%x: array<f64,1,strided>) -> f64 {
  %n = dim %x, 0 : i64
  %z = const 0.0 : f64
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  %s = for %i = %c0 to %n step %c1 iter_args(%acc = %z) -> f64 {
    %v = load %x[%i] : f64
    %a = add %acc, %v : f64
    yield %a
  }
  return %s
}

func @pair(%a: f64, %b: f64) -> (f64, f64) {
  %p = mul %a, %b : f64
  %q = sub %a, %b : f64
  return %p, %q
}

func @scale(%x: array<f64,1,C>, %s: f64) -> () {
  %n = dim %x, 0 : i64
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  for %i = %c0 to %n step %c1 {
    %v = load %x[%i] : f64
    %w = mul %v, %s : f64
    store %w, %x[%i]
    yield
  }
  return
}
"""
    run_both(text, lambda: [np.arange(5.0), np.float64(3.0)], entry="main")


def test_recursive_call():
    text = """
func @fact(%n: i64) -> i64 {
  %c1 = const 1 : i64
  %small = le %n, %c1 : i1
  %r = if %small -> i64 {
    yield %c1
  } else {
    %m = sub %n, %c1 : i64
    %f = call @fact(%m) : i64
    %p = mul %n, %f : i64
    yield %p
  }
  return %r
}
"""
    got, _, _ = run_both(text, lambda: [np.int64(20)])
    assert got[0] == 2432902008176640000


# ---- arrays: views, layouts, allocation ---------------------------------------------------

VIEWS = """
func @f(%a: array<f64,2,C>, %i: i64) -> (array<f64,1,C>, array<f64,1,strided>, array<f64,1,strided>) {
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  %c2 = const 2 : i64
  %m1 = const -1 : i64
  %m = dim %a, 0 : i64
  %n = dim %a, 1 : i64
  %row = view %a[%i, :] : array<f64,1,C>
  %col = view %a[%c1:%m:%c2, %c0] : array<f64,1,strided>
  %last = sub %n, %c1 : i64
  %rev = view %row[%last:%m1:%m1] : array<f64,1,strided>
  %x = const 100.0 : f64
  store %x, %row[%c0]
  %y = const -5.0 : f64
  store %y, %col[%c1]
  %z = const 7.0 : f64
  store %z, %rev[%c0]
  return %row, %col, %rev
}
"""


def test_views_alias_the_callers_array():
    got, args, _ = run_both(VIEWS, lambda: [np.arange(30.0).reshape(5, 6), np.int64(2)])
    a = args[0]
    assert a[2, 0] == 100.0 and a[3, 0] == -5.0 and a[2, 5] == 7.0
    row, col, rev = got
    assert np.shares_memory(row, a) and np.shares_memory(col, a) and np.shares_memory(rev, a)
    np.testing.assert_array_equal(rev, a[2, ::-1])
    row[1] = -1.0                      # a returned view writes through to the argument
    assert a[2, 1] == -1.0


def test_view_with_new_axis_and_empty_slice():
    text = """
func @f(%a: array<f64,1,C>) -> (array<f64,2,C>, array<f64,1,strided>, i64) {
  %c3 = const 3 : i64
  %c1 = const 1 : i64
  %e = view %a[new, :] : array<f64,2,C>
  %s = view %a[%c3:%c1:%c1] : array<f64,1,strided>
  %n = dim %s, 0 : i64
  return %e, %s, %n
}
"""
    got, _, _ = run_both(text, lambda: [np.arange(5.0)])
    assert got[0].shape == (1, 5) and got[1].shape == (0,) and got[2] == 0


STRIDED_SUM = """
func @f(%a: array<f64,2,strided>) -> f64 {
  %m = dim %a, 0 : i64
  %n = dim %a, 1 : i64
  %z = const 0.0 : f64
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  %s = for %i = %c0 to %m step %c1 iter_args(%acc = %z) -> f64 {
    %t = for %j = %c0 to %n step %c1 iter_args(%r = %acc) -> f64 {
      %v = load %a[%i, %j] : f64
      %ij = mul %i, %n : i64
      %k = add %ij, %j : i64
      %kf = cast %k : i64 to f64
      %w = mul %v, %kf : f64
      %r2 = add %r, %w : f64
      store %w, %a[%i, %j]
      yield %r2
    }
    yield %t
  }
  return %s
}
"""


@pytest.mark.parametrize("make", [
    lambda: np.arange(35.0).reshape(5, 7)[::2, 1::3],
    lambda: np.asfortranarray(np.arange(12.0).reshape(3, 4)),
    lambda: np.arange(20.0).reshape(4, 5)[::-1, ::-2],
    lambda: np.arange(12.0).reshape(3, 4),
])
def test_strided_and_fortran_arguments(make):
    got, args, _ = run_both(STRIDED_SUM, lambda: [make()])
    expected_sum = sum(v * k for k, v in enumerate(make().ravel()))
    assert got[0] == expected_sum


ALLOC = """
func @f(%n: i64, %v: f64) -> (array<f64,2,C>, array<i64,1,C>, f64) {
  %c2 = const 2 : i64
  %a = alloc %c2, %n : array<f64,2,C>
  fill %a, %v
  %b = alloc %n : array<i64,1,C>
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  for %i = %c0 to %n step %c1 {
    %sq = mul %i, %i : i64
    store %sq, %b[%i]
    yield
  }
  %tmp = alloc %n : array<f64,1,C>
  fill %tmp, %v
  %x = load %tmp[%c0] : f64
  return %a, %b, %x
}
"""


def test_alloc_and_return_new_arrays():
    got, _, _ = run_both(ALLOC, lambda: [np.int64(6), np.float64(2.5)])
    a, b, x = got
    assert a.flags.c_contiguous and a.flags.writeable and a.flags.owndata is False
    np.testing.assert_array_equal(b, np.arange(6) ** 2)
    a[...] = 1.0                       # the memory is usable and owned by the result
    del a, b
    gc.collect()


def test_returned_allocations_are_freed_with_their_arrays(monkeypatch):
    import irad.runtime.calling as calling
    freed = []
    real = calling._free
    monkeypatch.setattr(calling, "_free", lambda p: (freed.append(p), real(p)))
    _, _, cf = build(ALLOC)
    a, b, _ = cf(4, 1.0)
    view = a[1]
    del a
    gc.collect()
    assert freed == []                 # the view keeps the allocation alive
    del view, b
    gc.collect()
    assert len(freed) == 2


def _heap_bytes() -> int:
    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                                   "usmblks", "fsmblks", "uordblks", "fordblks",
                                                   "keepcost")]
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo2
    info = libc.mallinfo2()
    return info.uordblks + info.hblkhd


def test_temporaries_are_freed():
    text = """
func @f(%n: i64) -> f64 {
  %tmp = alloc %n : array<f64,1,C>
  %v = const 1.5 : f64
  fill %tmp, %v
  %c0 = const 0 : i64
  %x = load %tmp[%c0] : f64
  return %x
}
"""
    _, _, cf = build(text)
    cf(1 << 20)
    before = _heap_bytes()
    for _ in range(20):
        assert cf(1 << 20) == [1.5]            # 8 MiB each
    assert _heap_bytes() - before < 1 << 20


def test_arena_and_slot_functions_come_from_the_runtime_library():
    text = """
func @f(%n: i64) -> f64 {
  %z = const 0.0 : f64
  %a = alloc %n : array<f64,1,C>
  fill %a, %z
  %c0 = const 0 : i64
  %x = load %a[%c0] : f64
  return %x
}
"""
    _, _, cf = build(text)
    for name in ("irad.arena.alloc_cached", "irad.arena.release"):
        assert f'declare {"ptr" if "alloc" in name else "void"} @"{name}"' in cf.llvm_ir
        assert not re.search(rf'^define [^\n]*@"{re.escape(name)}"', cf.llvm_ir, re.M)
    assert list(cf(5)) == [0.0]
    with pytest.raises(IndexError):
        cf(0)


def test_alloc_failures_raise():
    text = """
func @f(%n: i64) -> array<f64,2,C> {
  %a = alloc %n, %n : array<f64,2,C>  # prog.py:3:7
  return %a
}
"""
    _, _, cf = build(text)
    with pytest.raises(MemoryError, match="more than 2\\*\\*63 bytes"):
        cf(1 << 40)
    with pytest.raises(MemoryError, match="cannot allocate"):
        cf(1 << 30)                            # 8 EiB: malloc refuses
    with pytest.raises(ValueError, match="negative dimensions"):
        cf(-1)
    assert cf(0)[0].shape == (0, 0)


COPY = """
func @f(%a: array<f64,1,strided>, %b: array<f64,1,strided>) -> () {
  copy %a, %b
  return
}
"""


def test_copy_and_fill():
    run_both(COPY, lambda: [np.arange(5.0), np.zeros(10)[::2]])
    text = """
func @f(%a: array<i32,2,strided>, %v: i32) -> () {
  fill %a, %v
  return
}
"""
    run_both(text, lambda: [np.zeros((4, 6), np.int32)[1:3, ::2], np.int32(-3)])


def test_copy_between_overlapping_views():
    text = """
func @f(%a: array<f64,1,C>) -> () {
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  %n = dim %a, 0 : i64
  %m = sub %n, %c1 : i64
  %src = view %a[%c0:%m:%c1] : array<f64,1,strided>
  %dst = view %a[%c1:%n:%c1] : array<f64,1,strided>
  copy %src, %dst
  return
}
"""
    _, args, _ = run_both(text, lambda: [np.arange(8.0)])
    np.testing.assert_array_equal(args[0], [0, 0, 1, 2, 3, 4, 5, 6])


def test_copy_shape_mismatch_is_a_value_error():
    _, _, cf = build(COPY)
    with pytest.raises(ValueError, match="source extent 3 differs from destination extent 4"):
        cf(np.zeros(3), np.zeros(4))


def test_bool_arrays():
    text = """
func @f(%a: array<i1,1,C>, %b: array<f64,1,C>) -> (i64, array<i1,1,C>) {
  %n = dim %a, 0 : i64
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  %z = const 0.0 : f64
  %out = alloc %n : array<i1,1,C>
  %cnt = for %i = %c0 to %n step %c1 iter_args(%k = %c0) -> i64 {
    %x = load %a[%i] : i1
    %v = load %b[%i] : f64
    %pos = gt %v, %z : i1
    %both = and %x, %pos : i1
    store %both, %out[%i]
    %inc = cast %both : i1 to i64
    %k2 = add %k, %inc : i64
    yield %k2
  }
  return %cnt, %out
}
"""
    run_both(text, lambda: [np.array([True, False, True, True]), np.array([1.0, 2.0, -1.0, 3.0])])


# ---- bounds checks ------------------------------------------------------------------------

def bounds_program(path) -> str:
    return f"""
func @f(%a: array<f64,2,C>, %i: i64, %j: i64, %v: f64) -> f64 {{
  %x = load %a[%i, %j] : f64  # {path}:2:9
  store %v, %a[%j, %i]  # {path}:3:5
  return %x
}}
"""


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "prog.py"
    path.write_text("def f(a, i, j, v):\n    x = a[i, j]\n    a[j, i] = v\n    return x\n")
    return path


def test_load_out_of_bounds_names_location_index_and_extent(source):
    _, _, cf = build(bounds_program(source))
    a = np.zeros((3, 4))
    with pytest.raises(IndexError) as info:
        cf(a, 1, 4, 1.0)
    message = str(info.value)
    assert isinstance(info.value, BoundsError) and isinstance(info.value, irad.IradError)
    assert f"{source}:2:9:" in message
    assert "index 4 is out of bounds for axis 1 with extent 4" in message
    assert "x = a[i, j]" in message and "load" in message
    with pytest.raises(IndexError, match="index -1 is out of bounds for axis 0 with extent 3"):
        cf(a, -1, 0, 1.0)


def test_store_out_of_bounds_names_location_index_and_extent(source):
    _, _, cf = build(bounds_program(source))
    a = np.zeros((3, 4))
    with pytest.raises(IndexError) as info:
        cf(a, 3, 0, 1.0)                      # the load a[3, 0] fails first
    assert "axis 0 with extent 3" in str(info.value)
    with pytest.raises(IndexError) as info:
        cf(a, 0, 3, 9.0)                      # load a[0, 3] is fine, store a[3, 0] is not
    message = str(info.value)
    assert f"{source}:3:5:" in message and "a[j, i] = v" in message and "store" in message
    assert "index 3 is out of bounds for axis 0 with extent 3" in message
    assert not a.any()                        # nothing was written


def test_every_failing_check_shares_one_failure_exit(source):
    _, _, cf = build(bounds_program(source))
    impl = cf.llvm_ir.split('define internal {i32, double} @"irad.impl.f"')[1].split("\n}\n")[0]
    assert len(re.findall(r"^fail[.0-9]*:", impl, re.M)) == 1
    assert len(re.findall(r"label %\"fail\"", impl)) == 4    # two axes of the load and of the store
    assert impl.count("ret {i32, double}") == 2               # success and the failure exit


def test_view_out_of_bounds():
    text = """
func @f(%a: array<f64,1,C>, %lo: i64, %hi: i64, %step: i64) -> array<f64,1,strided> {
  %v = view %a[%lo:%hi:%step] : array<f64,1,strided>
  return %v
}
"""
    _, _, cf = build(text)
    a = np.arange(10.0)
    np.testing.assert_array_equal(cf(a, 9, -1, -2)[0], a[9::-2])
    with pytest.raises(IndexError, match="slice reaches index 10"):
        cf(a, 0, 11, 1)
    with pytest.raises(IndexError, match="slice reaches index -1"):
        cf(a, -1, 3, 1)
    with pytest.raises(ValueError, match="slice step must not be zero"):
        cf(a, 0, 3, 0)
    assert cf(a, 20, 5, 1)[0].shape == (0,)   # an empty slice selects nothing: no check


def test_boundscheck_false_removes_the_checks(source):
    text = bounds_program(source)
    checked = build(text)[2]
    unchecked = build(text, boundscheck=False)[2]
    a = np.arange(12.0).reshape(3, 4)
    assert unchecked(a, 1, 2, 5.0) == checked(a.copy(), 1, 2, 5.0)
    failing_block = re.compile(r'^"?fail(\.\d+)?"?:', re.M)
    assert failing_block.search(checked.llvm_ir)
    assert not failing_block.search(unchecked.llvm_ir)
    assert len(unchecked.signature.sites) == 0


def test_fastmath_flags_only_when_asked():
    text = """
func @f(%x: f64, %y: f64) -> f64 {
  %a = mul %x, %y : f64
  %b = add %a, %x : f64
  %c = sin %b : f64
  return %c
}
"""
    plain = build(text)[2]
    fast = build(text, fastmath=True)[2]
    for flag in ("reassoc", "contract", "nsz"):
        assert flag not in plain.llvm_ir
        assert f"fmul {flag}" in fast.llvm_ir or flag in fast.llvm_ir.split("fmul", 1)[1].split("\n")[0]
    assert "fast " not in fast.llvm_ir and "nnan" not in fast.llvm_ir
    assert plain(1.0, 2.0)[0] == np.sin(3.0)


SUM = """
func @f(%x: array<f64,1,C>) -> f64 {
  %n = dim %x, 0 : i64
  %z = const 0.0 : f64
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  %s = for %i = %c0 to %n step %c1 iter_args(%acc = %z) -> f64 {
    %v = load %x[%i] : f64
    %t = add %acc, %v : f64
    yield %t
  }
  return %s
}
"""


@pytest.mark.parametrize("boundscheck", [False, True])
def test_o3_vectorizes_a_contiguous_sum_with_fastmath(boundscheck):
    fast = build(SUM, fastmath=True, boundscheck=boundscheck)[2]
    assert "x double>" in fast.llvm_ir_optimized       # <4 x double> with AVX2, <2 x ...> with SSE
    strict = build(SUM, boundscheck=boundscheck)[2]
    assert "reassoc" not in strict.llvm_ir_optimized    # IEEE order: lanes added in order, if vectorized
    x = RNG.normal(size=1001)
    assert fast(x)[0] == pytest.approx(x.sum(), rel=1e-12)
    assert strict(x)[0] == sum(x.tolist())              # sequential left-to-right


BACKWARD_OUTER = """
func @f(%a: array<f64,2,C>, %x: array<f64,1,C>) -> f64 {
  %rows = dim %a, 0 : i64
  %n = dim %x, 0 : i64
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  %m1 = const -1 : i64
  %last = sub %rows, %c1 : i64
  for %t = %last to %m1 step %m1 {
    for %i = %c0 to %n step %c1 {
      %v = load %a[%t, %i] : f64
      %s = load %x[%i] : f64
      %w = add %s, %v : f64
      store %w, %x[%i]
      yield
    }
    yield
  }
  %z = const 0.0 : f64
  return %z
}
"""


def test_vectorized_inner_loop_of_a_backward_loop_keeps_a_passable_alias_check():
    """`x += a[t]` for t from the last row down. `a` and `x` may alias, so a run-time alias
    check guards the vector loop. Hoisted out of the enclosing loop, LLVM's check adds a
    `stride.check` that fails whenever that loop runs backwards, and the vector code never
    runs. The check must stay at each entry of the inner loop."""
    cf = build(BACKWARD_OUTER)[2]
    assert "x double>" in cf.llvm_ir_optimized and "stride.check" not in cf.llvm_ir_optimized
    a, x = RNG.normal(size=(3, 37)), RNG.normal(size=37)
    want = x + a[2] + a[1] + a[0]
    cf(a, x)
    assert np.array_equal(x, want)


def test_object_code_and_assembly():
    cf = build(SUM)[2]
    assert isinstance(cf.object_code, bytes) and cf.object_code[:4] in (b"\x7fELF", b"\xcf\xfa\xed\xfe")
    assert "irad.entry.f" in cf.asm
    assert "define" in cf.llvm_ir and "define" in cf.llvm_ir_optimized


# ---- calling ------------------------------------------------------------------------------

def test_arguments_are_checked():
    cf = build(SUM)[2]
    with pytest.raises(TypeError, match="expected array<f64,1,C>, got an array of another dtype"):
        cf(np.zeros(3, np.float32))
    with pytest.raises(ArgumentError, match="another ndim"):
        cf(np.zeros((3, 1)))
    with pytest.raises(TypeError, match="not C-contiguous"):
        cf(np.zeros(6)[::2])
    with pytest.raises(TypeError, match="a NumPy array"):
        cf([1.0, 2.0])
    with pytest.raises(TypeError, match="non-native byte order"):
        cf(np.zeros(3, ">f8"))
    with pytest.raises(TypeError):
        cf()


def test_readonly_arguments_may_not_be_written():
    _, _, cf = build(COPY)
    src = np.arange(3.0)
    src.flags.writeable = False
    dst = np.zeros(3)
    cf(src, dst)                               # the source is only read
    np.testing.assert_array_equal(dst, src)
    with pytest.raises(InvalidValueError, match="read-only"):
        cf(dst, src)


def test_scalar_and_subclass_arguments_are_converted():
    text = """
func @f(%x: array<f64,1,C>, %k: i64, %s: f32, %b: i1) -> (f64, i64, f32, i1) {
  %c0 = const 0 : i64
  %v = load %x[%c0] : f64
  return %v, %k, %s, %b
}
"""
    _, _, cf = build(text)
    m = np.arange(3.0).view(np.matrix)[0].A1.view(type("Sub", (np.ndarray,), {}))
    assert cf(m, np.int32(5), 1.1, 1) == [0.0, 5, np.float32(1.1), True]
    got = cf(np.ones(2), 7.0, np.float64(0.5), np.bool_(False))
    assert [type(g) for g in got] == [np.float64, np.int64, np.float32, np.bool_]
    with pytest.raises(TypeError, match="non-integral"):
        cf(np.ones(2), 7.5, 0.5, True)


def test_portable_call_path_matches_the_fast_path():
    got, args, cf = run_both(VIEWS, lambda: [np.arange(30.0).reshape(5, 6), np.int64(1)])
    a = np.arange(30.0).reshape(5, 6)
    raw = cf.call_raw(a, 1)
    for g, r in zip(got, raw):
        np.testing.assert_array_equal(g, r)
    _, _, cf = build(ALLOC)
    for g, r in zip(cf(3, 2.0), cf.call_raw(3, 2.0)):
        assert_same(g, r)


def test_returning_an_argument_returns_the_same_object():
    text = """
func @f(%a: array<f64,1,strided>) -> array<f64,1,strided> {
  return %a
}
"""
    cf = build(text)[2]
    a = np.arange(6.0)[::2]
    assert cf(a)[0] is a


def test_one_function_on_many_threads():
    cf = build(STRIDED_SUM)[2]
    errors, results = [], []

    def work(seed):
        try:
            for k in range(200):
                a = np.full((7, 5), float(seed))
                expected = sum(seed * j for j in range(35))
                got = cf(a)[0]
                if got != expected:
                    errors.append((seed, k, got, expected))
            results.append(seed)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and sorted(results) == [1, 2, 3, 4]


# ---- tapes -----------------------------------------------------------------------------

TAPED = """
func @f(%x: array<f64,1,C>) -> (f64, f64) {
  %t = tape_new : tape<f64>
  %n = dim %x, 0 : i64
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  %one = const 1.0 : f64
  %p = for %i = %c0 to %n step %c1 iter_args(%acc = %one) -> f64 {
    tape_push %t, %acc
    %v = load %x[%i] : f64
    %a2 = mul %acc, %v : f64
    yield %a2
  }
  tape_rewind %t
  %m1 = const -1 : i64
  %last = sub %n, %c1 : i64
  %z = const 0.0 : f64
  %s = for %j = %last to %m1 step %m1 iter_args(%r = %z) -> f64 {
    %prev = tape_pop %t : f64
    %w = mul %prev, %prev : f64
    %r2 = add %r, %w : f64
    yield %r2
  }
  tape_free %t
  return %p, %s
}
"""


def test_tapes_push_pop_rewind_free():
    run_both(TAPED, lambda: [np.array([2.0, 3.0, 0.5, 4.0, -1.0])])
    run_both(TAPED, lambda: [np.zeros(0)])
    x = RNG.uniform(0.9, 1.1, 1000)
    run_both(TAPED, lambda: [x.copy()])                        # the tape grows several times


SPLIT = """
func @forward(%x: array<f64,1,C>) -> (f64, tape<f64>, tape<i64>) {
  %t = tape_new : tape<f64>
  %u = tape_new : tape<i64>
  %n = dim %x, 0 : i64
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  %z = const 0.0 : f64
  %s = for %i = %c0 to %n step %c1 iter_args(%acc = %z) -> f64 {
    %v = load %x[%i] : f64
    tape_push %t, %v
    tape_push %u, %i
    %a2 = add %acc, %v : f64
    yield %a2
  }
  return %s, %t, %u
}

func @reverse(%t: tape<f64>, %u: tape<i64>, %seed: f64) -> (f64, i64) {
  tape_rewind %t
  tape_rewind %u
  %p0 = tape_pop %t : f64
  %i0 = tape_pop %u : i64
  %p1 = tape_pop %t : f64
  %g = mul %p0, %seed : f64
  %h = add %g, %p1 : f64
  return %h, %i0
}
"""


def test_tapes_cross_the_call_boundary():
    module = irad.parse_ir(SPLIT)
    fwd = compile_func(module["forward"], module=module)
    rev = compile_func(module["reverse"], module=module)
    s, t, u = fwd(np.array([1.0, 2.0, 3.0]))
    assert s == 6.0 and t.values() == [1.0, 2.0, 3.0] and u.values() == [0, 1, 2] and len(t) == 3
    assert rev(t, u, 10.0) == [32.0, 2]
    assert rev(t, u, 1.0) == [5.0, 2]                          # the reverse sweep can run again
    with pytest.raises(TypeError, match="tape<f64>"):
        rev(u, u, 1.0)
    with pytest.raises(TypeError, match="TapeHandle"):
        rev(12345, u, 1.0)
    assert rev.call_raw(t, u, 2.0) == [8.0, 2]


def test_popping_an_empty_tape_is_caught():
    text = """
func @f() -> f64 {
  %t = tape_new : tape<f64>
  %v = tape_pop %t : f64
  return %v
}
"""
    with pytest.raises(IndexError, match="tape popped past its start"):
        build(text)[2]()


# ---- the shared program corpora, natively ---------------------------------------------------

def _corpus():
    import programs
    return programs.args_list()


def _grad_corpus():
    import grad_programs
    return grad_programs.CASES


@pytest.mark.parametrize("name,fn,make", _corpus(), ids=[c[0] for c in _corpus()])
def test_traced_programs_run_natively_like_cpython(name, fn, make):
    from differential import check_program
    check_program(fn, make, irad.jit(fn, target="cpu"))


@pytest.mark.parametrize("name,fn,make", _grad_corpus(), ids=[c[0] for c in _grad_corpus()])
def test_native_gradients_and_pullbacks_match_the_interpreter(name, fn, make):
    from test_gradients import assert_close_tree, copy_tree, fresh
    args = fresh(make)
    want = irad.gradient(fn, irad.AutoInterpreter(), *[copy_tree(a) for a in args])
    got = irad.gradient(fn, irad.AutoReverse(), *[copy_tree(a) for a in args])
    assert_close_tree(got, want, rtol=1e-12, atol=1e-14)
    _, back_interp = irad.pullback(fn, irad.AutoInterpreter(), *[copy_tree(a) for a in args])
    _, back_native = irad.pullback(fn, irad.AutoReverse(), *[copy_tree(a) for a in args])
    for seed in (1.0, -2.5):                     # split mode: tapes cross into the reverse call
        assert_close_tree(back_native(seed), back_interp(seed), rtol=1e-12, atol=1e-14)


# ---- the CPython-API wrapper ---------------------------------------------------------------

def test_calls_go_through_the_shared_cpython_wrapper():
    cf = build(SUM)[2]
    assert type(type(cf).__call__).__name__ == "builtin_function_or_method"
    x = np.arange(4.0)
    assert cf(x) == cf.call_raw(x) == [6.0]
    # the function's own module has only its code and entries; unboxing is shared
    defined = re.findall(r'^define [^@]*@"([^"]+)"', cf.llvm_ir, re.M)
    assert "irad.packed.f" in defined and not any("cpy" in d or "pyentry" in d for d in defined)


def test_wrapper_keeps_reference_counts_balanced():
    import sys
    text = """
func @f(%x: array<f64,1,C>, %s: f64, %n: i64, %b: i1) -> (f64, i64, i1, f32) {
  %c0 = const 0 : i64
  %v = load %x[%c0] : f64
  %w = mul %v, %s : f64
  %h = const 0.5 : f32
  return %w, %n, %b, %h
}
"""
    cf = build(text)[2]
    x, s = np.ones(3), 2.0
    before = sys.getrefcount(x), sys.getrefcount(s), sys.getrefcount(np.True_)
    for _ in range(1000):
        r = cf(x, s, 7, True)
    assert (sys.getrefcount(x), sys.getrefcount(s), sys.getrefcount(np.True_) - 1) == before
    count = sys.getrefcount(r[0])          # outside the assert: pytest's rewriting holds temporaries
    assert count == 2 and r[2] is np.True_
    assert r == [2.0, 7, True, np.float32(0.5)] and [type(v) for v in r] == [np.float64, np.int64,
                                                                              np.bool_, np.float32]


def test_wrapper_falls_back_for_unusual_arguments():
    text = """
func @f(%x: f64, %y: f32, %n: i32, %b: i1) -> (f64, f32, i32, i1) {
  return %x, %y, %n, %b
}
"""
    cf = build(text)[2]
    assert cf(1, np.float32(2.5), np.int64(3), np.bool_(True)) == [1.0, 2.5, 3, True]
    assert cf(np.float32(0.1), 0.1, True, 0) == [np.float64(np.float32(0.1)), np.float32(0.1), 1, False]
    assert cf(np.array(1.5), 2, 2.0, 1.0) == [1.5, 2.0, 2, True]
    with pytest.raises(OverflowError):
        cf(1.0, 1.0, 2 ** 40, True)
    with pytest.raises(TypeError):
        cf("1.0", 1.0, 1, True)
    with pytest.raises(TypeError):
        cf(1.0, 1.0, 1)


def test_native_code_runs_without_the_gil():
    text = """
func @spin(%n: i64) -> f64 {
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  %x = const 1.0 : f64
  %k = const 1.0000001 : f64
  %r = for %i = %c0 to %n step %c1 iter_args(%a = %x) -> f64 {
    %b = mul %a, %k : f64
    %c = sub %b, %k : f64
    %d = add %c, %k : f64
    yield %d
  }
  return %r
}
"""
    cf = build(text)[2]
    done, ticks = threading.Event(), [0]
    worker = threading.Thread(target=lambda: (cf(200_000_000), done.set()))
    worker.start()
    while not done.is_set():
        ticks[0] += 1                # progresses only while the worker does not hold the GIL
    worker.join()
    assert ticks[0] > 10_000


def test_object_code_relinks_without_llvm_optimization():
    import pickle
    from irad.runtime import load_compiled
    cf = build(ALLOC)[2]
    signature = pickle.loads(pickle.dumps(cf.signature))
    again = load_compiled(signature, cf.object_code, cold_code=cf.cold_object_code())
    for g, r in zip(again(5, 1.5), cf(5, 1.5)):
        assert_same(r, g)
    with pytest.raises(ValueError, match="negative dimensions"):
        again(-2, 1.0)


def test_the_entry_inlines_the_body_before_llvm_optimizes_it():
    """The C entry's body is inlined first (alwaysinline) and optimized once, not optimized,
    inlined and optimized again."""
    def total(x):
        s = 0.0
        for i in range(x.shape[0]):
            s += x[i] * x[i]
        return s
    f = irad.jit(total)
    assert f(np.arange(3.0)) == 5.0
    (entry,) = f._compiled.values()
    defines = [line for line in entry.native.llvm_ir.splitlines() if line.startswith("define")]
    assert any("irad.impl.total" in line and "alwaysinline" in line for line in defines)
    assert not [line for line in entry.native.llvm_ir_optimized.splitlines()
                if line.startswith("define") and "irad.impl.total" in line]
