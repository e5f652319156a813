"""The reference interpreter on hand-written IR: loops, views, and the
numeric semantics the rest of irad is checked against (Python's range,
floor division and min/max; int64 wrap-around; float32 staying float32)."""
from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import irad


def ir(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def run(text: str, *args, entry: str | None = None):
    """Parse and verify `text`, interpret `entry` (default: the first func) on `args`."""
    module = irad.verify(irad.parse_ir(text))
    out = irad.interpret(module, list(args), entry=entry)
    return out[0] if len(out) == 1 else tuple(out)


# ---- loops ------------------------------------------------------------------------

SUM2D = ir("""
    func @sum2d(%a: array<f64,2,C>) -> f64 {
      %c0 = const 0 : i64
      %c1 = const 1 : i64
      %n = dim %a, 0 : i64
      %m = dim %a, 1 : i64
      %z = const 0.0 : f64
      %s = for %i = %c0 to %n step %c1 iter_args(%acc = %z) -> f64 {
        %t = for %j = %c0 to %m step %c1 iter_args(%inner = %acc) -> f64 {
          %v = load %a[%i, %j] : f64
          %w = add %inner, %v : f64
          yield %w
        }
        yield %t
      }
      return %s
    }
""")


def test_nested_for_sum2d():
    a = np.arange(12.0).reshape(3, 4)
    assert run(SUM2D, a) == a.sum()
    assert run(SUM2D, np.zeros((0, 5))) == 0.0


MATMUL = ir("""
    func @matmul(%a: array<f64,2,C>, %b: array<f64,2,C>, %c: array<f64,2,C>) -> () {
      %c0 = const 0 : i64
      %c1 = const 1 : i64
      %n = dim %a, 0 : i64
      %k = dim %a, 1 : i64
      %m = dim %b, 1 : i64
      %z = const 0.0 : f64
      for %i = %c0 to %n step %c1 {
        for %j = %c0 to %m step %c1 {
          %s = for %l = %c0 to %k step %c1 iter_args(%acc = %z) -> f64 {
            %x = load %a[%i, %l] : f64
            %y = load %b[%l, %j] : f64
            %t = fma %x, %y, %acc : f64
            yield %t
          }
          store %s, %c[%i, %j]
          yield
        }
        yield
      }
      return
    }
""")


def test_matmul_into_output_array():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 5))
    c = np.full((3, 5), np.nan)
    assert run(MATMUL, a, b, c) == ()
    np.testing.assert_allclose(c, a @ b, rtol=1e-12)


RANGE = ir("""
    func @range(%lo: i64, %hi: i64, %step: i64) -> (i64, i64, i64) {
      %zero = const 0 : i64
      %one = const 1 : i64
      %none = const -999 : i64
      %count, %sum, %last = for %i = %lo to %hi step %step iter_args(%c = %zero, %s = %zero, %l = %none) -> (i64, i64, i64) {
        %c2 = add %c, %one : i64
        %s2 = add %s, %i : i64
        yield %c2, %s2, %i
      }
      return %count, %sum, %last
    }
""")


def _python_range(lo, hi, step):
    r = range(lo, hi, step)
    return len(r), sum(r), r[-1] if r else -999


@pytest.mark.parametrize("lo, hi, step", [
    (0, 10, 1), (0, 10, 3), (10, 0, -1), (10, 0, -3), (9, -1, -1), (5, 5, 1), (5, 5, -1),
    (0, 10, -1), (10, 0, 2), (-3, 3, 2), (3, -4, -2),
])
def test_for_follows_python_range(lo, hi, step):
    assert tuple(int(v) for v in run(RANGE, lo, hi, step)) == _python_range(lo, hi, step)


@settings(max_examples=200, deadline=None)
@given(st.integers(-50, 50), st.integers(-50, 50), st.integers(-7, 7).filter(bool))
def test_for_trip_count_matches_python_range(lo, hi, step):
    assert tuple(int(v) for v in run(RANGE, lo, hi, step)) == _python_range(lo, hi, step)


def test_induction_variable_is_i64():
    out = run(RANGE, 0, 3, 1)
    assert all(isinstance(v, np.int64) for v in out)


COLLATZ = ir("""
    func @collatz(%n: i64) -> i64 {
      %zero = const 0 : i64
      %one = const 1 : i64
      %two = const 2 : i64
      %three = const 3 : i64
      %x, %steps = while (%v = %n, %k = %zero) -> (i64, i64) {
        %go = ne %v, %one : i1
        condition %go, %v, %k
      } do (%v2, %k2) {
        %r = mod %v2, %two : i64
        %even = eq %r, %zero : i1
        %next = if %even -> i64 {
          %h = floordiv %v2, %two : i64
          yield %h
        } else {
          %t = mul %v2, %three : i64
          %u = add %t, %one : i64
          yield %u
        }
        %k3 = add %k2, %one : i64
        yield %next, %k3
      }
      return %steps
    }
""")


def _collatz(n):
    k = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        k += 1
    return k


@pytest.mark.parametrize("n", [1, 2, 3, 6, 7, 27, 97])
def test_while_data_dependent_trip_count(n):
    assert run(COLLATZ, n) == _collatz(n)


NEWTON = ir("""
    func @newton_sqrt(%a: f64, %tol: f64) -> (f64, i64) {
      %half = const 0.5 : f64
      %zero = const 0 : i64
      %one = const 1 : i64
      %x, %k = while (%g = %a, %n = %zero) -> (f64, i64) {
        %sq = mul %g, %g : f64
        %d = sub %sq, %a : f64
        %e = abs %d : f64
        %go = gt %e, %tol : i1
        condition %go, %g, %n
      } do (%g2, %n2) {
        %q = div %a, %g2 : f64
        %s = add %g2, %q : f64
        %h = mul %s, %half : f64
        %n3 = add %n2, %one : i64
        yield %h, %n3
      }
      return %x, %k
    }
""")


def test_while_newton_iterations():
    x, k = run(NEWTON, 2.0, 1e-12)
    assert abs(x - math.sqrt(2.0)) < 1e-12 and 3 <= k <= 8
    x, k = run(NEWTON, 1.0, 1e-12)
    assert x == 1.0 and k == 0


WHILE_NONE = ir("""
    func @countdown(%a: array<i64,1,C>) -> () {
      %zero = const 0 : i64
      %one = const 1 : i64
      while () {
        %v = load %a[%zero] : i64
        %go = gt %v, %zero : i1
        condition %go
      } do () {
        %v2 = load %a[%zero] : i64
        %v3 = sub %v2, %one : i64
        store %v3, %a[%zero]
        %c = load %a[%one] : i64
        %c2 = add %c, %one : i64
        store %c2, %a[%one]
        yield
      }
      return
    }
""")


def test_while_without_carried_values():
    a = np.array([5, 0], dtype=np.int64)
    run(WHILE_NONE, a)
    assert a.tolist() == [0, 5]


IF_RESULTS = ir("""
    func @piecewise(%x: f64) -> (f64, i64) {
      %zero = const 0.0 : f64
      %c = lt %x, %zero : i1
      %y, %s = if %c -> (f64, i64) {
        %nx = neg %x : f64
        %m = const -1 : i64
        yield %nx, %m
      } else {
        %sq = mul %x, %x : f64
        %p = const 1 : i64
        yield %sq, %p
      }
      return %y, %s
    }
""")


def test_if_with_results():
    assert run(IF_RESULTS, -3.0) == (3.0, -1)
    assert run(IF_RESULTS, 3.0) == (9.0, 1)


# ---- memory and views ---------------------------------------------------------------

ROW_VIEW = ir("""
    func @scale_row(%m: array<f64,2,C>, %i: i64, %s: f64) -> () {
      %c0 = const 0 : i64
      %c1 = const 1 : i64
      %row = view %m[%i, :] : array<f64,1,C>
      %n = dim %row, 0 : i64
      for %j = %c0 to %n step %c1 {
        %v = load %row[%j] : f64
        %w = mul %v, %s : f64
        store %w, %row[%j]
        yield
      }
      return
    }
""")


def test_store_through_row_view_mutates_base():
    m = np.arange(6.0).reshape(2, 3)
    run(ROW_VIEW, m, 1, 10.0)
    assert m.tolist() == [[0, 1, 2], [30, 40, 50]]


SLICE_VIEW = ir("""
    func @mark(%a: array<f64,1,C>, %start: i64, %stop: i64, %step: i64) -> i64 {
      %c0 = const 0 : i64
      %c1 = const 1 : i64
      %v = view %a[%start:%stop:%step] : array<f64,1,strided>
      %n = dim %v, 0 : i64
      for %j = %c0 to %n step %c1 {
        %x = cast %j : i64 to f64
        store %x, %v[%j]
        yield
      }
      return %n
    }
""")


@pytest.mark.parametrize("start, stop, step", [
    (0, 10, 2), (1, 10, 3), (9, -1, -1), (8, 0, -3), (9, -1, -4), (3, 3, 1), (3, 3, -1), (5, 2, 1),
])
def test_store_through_slice_view(start, stop, step):
    a = np.full(10, -1.0)
    expected = np.full(10, -1.0)
    # absolute bounds: a negative stop means "before index 0", not wrap-around
    idx = list(range(start, stop, step))
    expected[idx] = np.arange(len(idx))
    n = run(SLICE_VIEW, a, start, stop, step)
    assert n == len(idx)
    assert a.tolist() == expected.tolist()


STRIDED_2D = ir("""
    func @sum_sub(%m: array<f64,2,C>, %r0: i64, %r1: i64, %rs: i64, %c0: i64, %c1: i64, %cs: i64) -> f64 {
      %sub = view %m[%r0:%r1:%rs, %c0:%c1:%cs] : array<f64,2,strided>
      %zero = const 0 : i64
      %one = const 1 : i64
      %n = dim %sub, 0 : i64
      %k = dim %sub, 1 : i64
      %z = const 0.0 : f64
      %col = view %sub[:, %zero] : array<f64,1,strided>
      %s = for %i = %zero to %n step %one iter_args(%acc = %z) -> f64 {
        %t = for %j = %zero to %k step %one iter_args(%a = %acc) -> f64 {
          %v = load %sub[%i, %j] : f64
          %w = add %a, %v : f64
          yield %w
        }
        %neg = const -1.0 : f64
        store %neg, %col[%i]
        yield %t
      }
      return %s
    }
""")


def test_strided_2d_view_and_view_of_view():
    m = np.arange(30.0).reshape(5, 6)
    expected = m[4:0:-2, 1:6:2].sum()
    base = m.copy()
    assert run(STRIDED_2D, m, 4, 0, -2, 1, 6, 2) == expected
    base[4:0:-2, 1] = -1.0
    assert m.tolist() == base.tolist()


NEWAXIS = ir("""
    func @newaxis(%a: array<f64,1,C>) -> (i64, i64, f64) {
      %c0 = const 0 : i64
      %c2 = const 2 : i64
      %v = view %a[new, :] : array<f64,2,C>
      %n0 = dim %v, 0 : i64
      %n1 = dim %v, 1 : i64
      %x = load %v[%c0, %c2] : f64
      return %n0, %n1, %x
    }
""")


def test_view_new_axis():
    assert run(NEWAXIS, np.array([1.0, 2.0, 3.0])) == (1, 3, 3.0)


COPY_FILL = ir("""
    func @copy_fill(%src: array<f32,2,C>, %dst: array<f32,2,C>, %v: f32) -> array<f32,2,C> {
      %c0 = const 0 : i64
      %n = dim %src, 0 : i64
      %m = dim %src, 1 : i64
      %tmp = alloc %n, %m : array<f32,2,C>
      fill %tmp, %v
      %row = view %tmp[%c0, :] : array<f32,1,C>
      %srow = view %src[%c0, :] : array<f32,1,C>
      copy %srow, %row
      copy %tmp, %dst
      return %tmp
    }
""")


def test_alloc_copy_and_fill():
    src = np.arange(6, dtype=np.float32).reshape(2, 3)
    dst = np.zeros((2, 3), dtype=np.float32)
    tmp = run(COPY_FILL, src, dst, 7.5)
    assert tmp.dtype == np.float32 and tmp.shape == (2, 3)
    assert dst.tolist() == [[0, 1, 2], [7.5, 7.5, 7.5]]
    assert tmp.tolist() == dst.tolist() and tmp is not dst


# ---- scalar semantics ------------------------------------------------------------------

def binop(op: str, t: str, result: str | None = None) -> str:
    result = result or t
    return f"func @f(%x: {t}, %y: {t}) -> {result} {{\n  %r = {op} %x, %y : {result}\n  return %r\n}}\n"


def unop(op: str, t: str, result: str | None = None) -> str:
    result = result or t
    return f"func @f(%x: {t}) -> {result} {{\n  %r = {op} %x : {result}\n  return %r\n}}\n"


def cast(src: str, dst: str) -> str:
    return f"func @f(%x: {src}) -> {dst} {{\n  %r = cast %x : {src} to {dst}\n  return %r\n}}\n"


I64_MAX, I64_MIN = 2**63 - 1, -2**63


def test_int64_wraps_on_overflow():
    assert run(binop("add", "i64"), I64_MAX, 1) == I64_MIN
    assert run(binop("sub", "i64"), I64_MIN, 1) == I64_MAX
    assert run(binop("mul", "i64"), 2**62, 4) == 0
    assert run(unop("neg", "i64"), I64_MIN) == I64_MIN
    assert run(binop("add", "i32"), 2**31 - 1, 1) == -2**31
    out = run(binop("add", "i64"), I64_MAX, 1)
    assert isinstance(out, np.int64)


def _wrap64(n: int) -> int:
    return (n + 2**63) % 2**64 - 2**63


@settings(max_examples=200, deadline=None)
@given(st.integers(I64_MIN, I64_MAX), st.integers(I64_MIN, I64_MAX))
def test_int64_add_mul_wrap(x, y):
    assert int(run(binop("add", "i64"), x, y)) == _wrap64(x + y)
    assert int(run(binop("mul", "i64"), x, y)) == _wrap64(x * y)


@pytest.mark.parametrize("x, y", [(7, 2), (-7, 2), (7, -2), (-7, -2), (0, 3), (-1, 5), (6, -3)])
def test_int_floordiv_mod_follow_python(x, y):
    assert run(binop("floordiv", "i64"), x, y) == x // y
    assert run(binop("mod", "i64"), x, y) == x % y


@settings(max_examples=200, deadline=None)
@given(st.integers(-10**6, 10**6), st.integers(-1000, 1000).filter(bool))
def test_int_floordiv_mod_property(x, y):
    assert int(run(binop("floordiv", "i64"), x, y)) == x // y
    assert int(run(binop("mod", "i64"), x, y)) == x % y


@pytest.mark.parametrize("x, y", [(7.5, 2.0), (-7.5, 2.0), (7.5, -2.0), (-7.5, -2.0), (-0.5, 3.0), (1e-300, -1.0)])
def test_float_floordiv_mod_follow_python(x, y):
    assert run(binop("floordiv", "f64"), x, y) == x // y
    r = run(binop("mod", "f64"), x, y)
    assert r == x % y and math.copysign(1, r) == math.copysign(1, x % y)


@settings(max_examples=200, deadline=None)
@given(st.floats(-1e6, 1e6), st.floats(-1e3, 1e3).filter(lambda v: abs(v) > 1e-3))
def test_float_floordiv_mod_property(x, y):
    assert float(run(binop("floordiv", "f64"), x, y)) == x // y
    assert float(run(binop("mod", "f64"), x, y)) == x % y


def test_float32_stays_float32():
    text = ir("""
        func @f(%x: f32, %y: f32) -> (f32, f32, f32, f32, f32) {
          %a = add %x, %y : f32
          %b = div %a, %y : f32
          %c = sqrt %b : f32
          %d = fma %c, %x, %y : f32
          %h = const 0.1 : f32
          %e = mul %d, %h : f32
          return %a, %b, %c, %d, %e
        }
    """)
    x, y = np.float32(1.1), np.float32(3.3)
    out = run(text, x, y)
    assert all(isinstance(v, np.float32) for v in out)
    a = x + y
    b = a / y
    c = np.sqrt(b)
    d = c * x + y
    e = d * np.float32(0.1)
    assert [v.item() for v in out] == [v.item() for v in (a, b, c, d, e)]


@pytest.mark.parametrize("op", ["sin", "exp", "log1p", "tanh", "floor", "abs", "neg"])
def test_float32_unary_stays_float32(op):
    out = run(unop(op, "f32"), np.float32(0.7))
    assert isinstance(out, np.float32)


def test_cast_float_to_int_truncates_toward_zero():
    text = cast("f64", "i64")
    for x in (2.7, -2.7, 0.5, -0.5, 1e15 + 0.5, -3.0):
        assert run(text, x) == int(x)
    assert isinstance(run(cast("f32", "i32"), -1.9), np.int32) and run(cast("f32", "i32"), -1.9) == -1


def test_cast_to_bool_is_nonzero():
    assert run(cast("i64", "i1"), 2) is np.True_
    assert run(cast("i64", "i1"), 0) is np.False_
    assert run(cast("i64", "i1"), -1) is np.True_
    assert run(cast("f64", "i1"), 0.25) is np.True_
    assert run(cast("f64", "i1"), -0.0) is np.False_
    assert run(cast("f64", "i1"), math.nan) is np.True_


def test_cast_between_widths_and_from_bool():
    assert run(cast("i1", "f64"), True) == 1.0
    assert run(cast("i64", "i32"), 2**32 + 5) == 5
    assert run(cast("i32", "i64"), -5) == -5
    assert isinstance(run(cast("f64", "f32"), 0.1), np.float32)
    assert run(cast("f64", "f32"), 0.1) == np.float32(0.1)


@pytest.mark.parametrize("a, b", [(1.0, 2.0), (2.0, 1.0), (0.0, -0.0), (-0.0, 0.0), (math.nan, 1.0),
                                  (1.0, math.nan), (3.0, 3.0)])
def test_min_max_follow_python(a, b):
    lo = run(binop("min", "f64"), a, b)
    hi = run(binop("max", "f64"), a, b)
    for got, want in ((lo, min(a, b)), (hi, max(a, b))):
        assert (math.isnan(got) and math.isnan(want)) or (
            got == want and math.copysign(1, got) == math.copysign(1, want))


def test_min_max_ints():
    assert run(binop("min", "i64"), 3, -4) == -4
    assert run(binop("max", "i64"), 3, -4) == 3


def test_comparisons_and_logic():
    assert run(binop("lt", "f64", "i1"), 1.0, 2.0) is np.True_
    assert run(binop("ge", "i64", "i1"), 1, 2) is np.False_
    assert run(binop("eq", "f64", "i1"), math.nan, math.nan) is np.False_
    assert run(binop("ne", "f64", "i1"), math.nan, math.nan) is np.True_
    assert run(binop("xor", "i1"), True, True) is np.False_
    assert run(unop("not", "i1"), False) is np.True_
    assert run(binop("and", "i64"), 12, 10) == 8


def test_select():
    text = ir("""
        func @f(%c: i1, %x: f64, %y: f64) -> f64 {
          %r = select %c, %x, %y : f64
          return %r
        }
    """)
    assert run(text, True, 1.0, 2.0) == 1.0 and run(text, False, 1.0, 2.0) == 2.0


def test_float_exceptions_are_ieee():
    assert run(binop("div", "f64"), 1.0, 0.0) == math.inf
    assert math.isnan(run(unop("log", "f64"), -1.0))
    assert run(unop("exp", "f64"), 1000.0) == math.inf


# ---- calls ---------------------------------------------------------------------------------

CALLS = ir("""
    func @square(%x: f64) -> f64 {
      %y = mul %x, %x : f64
      return %y
    }

    func @bump(%a: array<f64,1,C>, %i: i64) -> () {
      %v = load %a[%i] : f64
      %s = call @square(%v) : f64
      store %s, %a[%i]
      return
    }

    func @main(%x: f64, %a: array<f64,1,C>) -> (f64, f64) {
      %c0 = const 0 : i64
      %c1 = const 1 : i64
      %n = dim %a, 0 : i64
      for %i = %c0 to %n step %c1 {
        call @bump(%a, %i)
        yield
      }
      %s = call @square(%x) : f64
      %t = call @square(%s) : f64
      return %s, %t
    }
""")


def test_call_between_functions():
    a = np.array([1.0, 2.0, 3.0])
    assert run(CALLS, 3.0, a, entry="main") == (9.0, 81.0)
    assert a.tolist() == [1.0, 4.0, 9.0]


def test_call_through_func_and_module():
    module = irad.parse_ir(CALLS)
    assert irad.interpret(module["square"], [4.0]) == [16.0]
    assert irad.interpret(module["main"], [2.0, np.zeros(0)], module) == [4.0, 16.0]
    with pytest.raises(LookupError, match="call to @square"):
        irad.interpret(module["main"], [2.0, np.zeros(0)])


# ---- arguments ------------------------------------------------------------------------------

def test_arguments_are_checked():
    with pytest.raises(TypeError, match=r"@sum2d takes 1 arguments, got 2"):
        run(SUM2D, np.zeros((2, 2)), 1)
    with pytest.raises(TypeError, match=r"argument 0: expected array<f64,2,C>, got a float32 array of ndim 2"):
        run(SUM2D, np.zeros((2, 2), dtype=np.float32))
    with pytest.raises(TypeError, match=r"expected array<f64,2,C>, got a float64 array of ndim 2 \(not C-contiguous\)"):
        run(SUM2D, np.zeros((4, 4))[::2])
    with pytest.raises(TypeError, match=r"expected a i64 scalar, got the non-integral float 2.5"):
        run(COLLATZ, 2.5)


def test_scalar_arguments_are_converted():
    assert isinstance(run(unop("neg", "f32"), 1.5), np.float32)
    assert run(COLLATZ, np.int32(6)) == _collatz(6)
    assert run(COLLATZ, 6.0) == _collatz(6)


def test_tape_drop_and_read_visit_a_segment_in_push_order():
    from irad.ops.tape import Tape
    from irad.ops import OPS
    t = Tape()
    for v in (1.0, 2.0, 3.0, 4.0):
        OPS["tape_push"].evaluate(t, v)
    OPS["tape_rewind"].evaluate(t)
    start = OPS["tape_drop"].evaluate(t, np.int64(3))
    assert start == 1 and t.cursor == 1
    assert [OPS["tape_read"].evaluate(t, start + k) for k in range(3)] == [2.0, 3.0, 4.0]
    with pytest.raises(IndexError):
        OPS["tape_drop"].evaluate(t, np.int64(2))


C_MATH = {"exp": math.exp, "log": math.log, "sin": math.sin, "cos": math.cos, "tan": math.tan,
          "atan": math.atan, "tanh": math.tanh, "expm1": math.expm1, "log1p": math.log1p,
          "log2": math.log2, "log10": math.log10, "sinh": math.sinh, "cosh": math.cosh}


@pytest.mark.parametrize("name", sorted(C_MATH))
def test_math_functions_are_the_c_librarys(name):
    """NumPy's ufuncs take SIMD code paths on AVX-512 CPUs that differ from the C library in
    the last bit; the interpreter, the oracle for native code, computes what CPython's math
    module and the C library compute (irad/ops/libm.py)."""
    from irad.ops import OPS
    evaluate = OPS[name].evaluate
    xs = np.linspace(0.001, 5.0, 4001)
    got = [evaluate(np.float64(x)) for x in xs]
    assert all(type(g) is np.float64 for g in got)
    assert [float(g) for g in got] == [C_MATH[name](x) for x in xs]
    assert type(evaluate(np.float32(0.5))) is np.float32


def test_float_pow_is_the_c_librarys_except_numpys_shortcuts():
    from irad.ops import OPS
    evaluate = OPS["pow"].evaluate
    rng = np.random.default_rng(7)
    for x, y in zip(rng.uniform(0.0, 20.0, 2000), rng.uniform(-16.0, 16.0, 2000)):
        assert evaluate(np.float64(x), np.float64(y)) == math.pow(x, y)
    assert evaluate(np.float64(10.056364604897238), np.float64(1.3101788751831682)) == 20.57676207611269
    assert math.copysign(1.0, evaluate(np.float64(-0.0), np.float64(0.5))) == -1.0   # sqrt(-0.0)
    assert evaluate(np.int64(3), np.int64(4)) == 81 and type(evaluate(np.int64(3), np.int64(4))) is np.int64
