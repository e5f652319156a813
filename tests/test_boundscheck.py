"""Bounds checks hoisted out of affine loops, tapes kept in registers, alias metadata.

Hoisting is loop versioning (runtime/versioning.py): a precondition computed
before the loop picks a copy without per-iteration checks, or the fully
checked copy, which raises exactly what the unhoisted code raises.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import irad
from irad.runtime import compile_func
from irad.runtime.hoist import Analysis

HERE = __file__


def build(text: str, **options):
    module = irad.parse_ir(text)
    func = next(iter(module.funcs.values()))
    irad.verify(func)
    return func, compile_func(func, module=module, **options)


def raises_like_unhoisted(fn, *args):
    """Run fn in the reference interpreter (no hoisting: the semantics) and natively on copies;
    both raise IndexError with the same index, axis and extent and leave the arrays in the same
    state. Returns the native message."""
    ref_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    nat_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    with pytest.raises(IndexError) as expected:
        irad.jit(fn, target="interpreter")(*ref_args)
    with pytest.raises(IndexError) as got:
        irad.jit(fn)(*nat_args)
    numbers = re.search(r"index (-?\d+) is out of bounds for axis (\d+) with extent (\d+)",
                        str(expected.value)).groups()
    assert f"index {numbers[0]} is out of bounds for axis {numbers[1]} with extent {numbers[2]}" \
        in str(got.value)
    for p, n in zip(ref_args, nat_args):
        if isinstance(p, np.ndarray):
            np.testing.assert_array_equal(n, p)
    return str(got.value)


def line_of(fn, text: str) -> int:
    import inspect
    lines, start = inspect.getsourcelines(fn)
    return start + next(k for k, line in enumerate(lines) if text in line)


# ---- errors after hoisting: the same index, extent, location and side effects ----------------

def shift_left(out, a):
    for i in range(out.shape[0]):
        out[i] = a[i + 1] * 2.0
    return out[0]


def shift_by(out, a, k):
    for i in range(out.shape[0]):
        out[i] = a[i + k] + 1.0       # k < 0 reaches Python's negative indices
    return out[0]


def backwards(out, a, lo):
    for i in range(out.shape[0] - 1, lo, -1):
        out[i] = a[i] * 3.0
    return out[0]


def test_last_iteration_out_of_range():
    message = raises_like_unhoisted(shift_left, np.zeros(5), np.arange(5.0))
    assert "index 5 is out of bounds for axis 0 with extent 5" in message
    assert f"{HERE}:{line_of(shift_left, 'a[i + 1]')}:" in message and "out[i] = a[i + 1] * 2.0" in message
    assert "load" in message


def test_first_iteration_out_of_range():
    message = raises_like_unhoisted(shift_by, np.zeros(8), np.arange(4.0), -10)   # -10 + 4 = -6
    assert "index -6 is out of bounds for axis 0 with extent 4" in message
    assert f"{HERE}:{line_of(shift_by, 'a[i + k]')}:" in message
    for k in (-4, -1, 0):                                  # negative indices count from the end
        out, a = np.zeros(4), np.arange(4.0)
        irad.jit(shift_by)(out, a, k)
        want = np.zeros(4)
        shift_by(want, a, k)
        np.testing.assert_array_equal(out, want)
    raises_like_unhoisted(shift_by, np.zeros(4), np.arange(4.0), 1)


def down(out, a, k):
    for i in range(out.shape[0] - 1, -1, -1):
        out[i] = a[i + k]
    return out[0]


def test_negative_step_out_of_range_at_either_end():
    message = raises_like_unhoisted(backwards, np.zeros(6), np.arange(4.0), 0)   # i = 5 first
    assert "index 5 is out of bounds" in message
    message = raises_like_unhoisted(down, np.zeros(4), np.arange(4.0), 1)        # i = 3: a[4]
    assert "index 4 is out of bounds" in message
    message = raises_like_unhoisted(down, np.zeros(4), np.arange(2.0), -3)       # i = 0: a[-3]
    assert "index -1 is out of bounds for axis 0 with extent 2" in message
    out = np.zeros(4)
    irad.jit(backwards)(out, np.arange(4.0), -1)
    np.testing.assert_array_equal(out, [0.0, 3.0, 6.0, 9.0])


def stride_two(out, a, k):
    for i in range(out.shape[0]):
        out[i] = a[2 * i + k]
    return out[0]


def test_strided_affine_index_reports_the_first_failing_iteration():
    message = raises_like_unhoisted(stride_two, np.zeros(5), np.arange(8.0), 1)
    assert "index 9 is out of bounds for axis 0 with extent 8" in message   # i = 4, not a later one
    out = np.zeros(4)
    irad.jit(stride_two)(out, np.arange(8.0), 0)
    np.testing.assert_array_equal(out, [0.0, 2.0, 4.0, 6.0])


def store_then_fail(out, a, n):
    for i in range(n):
        out[i] = 1.0
        out[i] = a[i]
    return out[0]


def test_iterations_before_the_failure_take_effect():
    raises_like_unhoisted(store_then_fail, np.zeros(6), np.arange(4.0) + 5.0, 6)   # out[4] = 1.0 stays


def test_loops_that_do_not_run_check_nothing():
    out = np.ones(1)
    assert irad.jit(backwards)(out, np.zeros(0), 5) == 1.0      # range(0, 5, -1) is empty
    assert irad.jit(stride_two)(np.zeros(1), np.arange(1.0), 0) == 0.0


# ---- guards: a check under an `if` stays in the loop --------------------------------------------

def guarded(a, n):
    s = 0.0
    for i in range(n):
        if i < a.shape[0]:
            s += a[i]
        if i > 0 and i - 1 < a.shape[0]:
            s += a[i - 1]
    return s


def test_guarded_accesses_raise_nothing():
    a = np.arange(5.0)
    assert irad.jit(guarded)(a, 9) == guarded(a, 9)
    assert irad.jit(guarded)(a, 0) == 0.0


def while_loop(a, n):
    s, i = 0.0, 0
    while i < n:
        s += a[i]
        i += 1
    return s


def test_while_loops_keep_their_checks():
    a = np.arange(5.0)
    assert irad.jit(while_loop)(a, 5) == 10.0
    raises_like_unhoisted(while_loop, a, 6)


# ---- nested loops -------------------------------------------------------------------------------

def nested(out, a, m, k):
    for i in range(m):
        for j in range(k):
            out[i, j] = a[i, j] + a[i, k - 1 - j]
    return out[0, 0]


def triangular(out, a):
    for i in range(a.shape[0]):
        for j in range(i + 1):
            out[i, j] = a[i, j] * 2.0
    return out[0, 0]


def test_nested_loops():
    a = np.arange(12.0).reshape(3, 4)
    out, want = np.zeros((3, 4)), np.zeros((3, 4))
    irad.jit(nested)(out, a, 3, 4)
    nested(want, a, 3, 4)
    np.testing.assert_array_equal(out, want)
    assert "axis 1 with extent 4" in raises_like_unhoisted(nested, np.zeros((3, 5)), a, 3, 5)
    assert "axis 0 with extent 3" in raises_like_unhoisted(nested, np.zeros((4, 4)), a, 4, 4)
    b = np.arange(9.0).reshape(3, 3)
    out, want = np.zeros((3, 3)), np.zeros((3, 3))
    irad.jit(triangular)(out, b)
    triangular(want, b)
    np.testing.assert_array_equal(out, want)
    raises_like_unhoisted(triangular, np.zeros((3, 3)), np.zeros((3, 2)))


def test_nested_checks_are_hoisted_to_the_outermost_loop():
    f = irad.jit(nested)
    args = (np.zeros((3, 4)), np.ones((3, 4)), 3, 4)
    func = next(iter(irad.parse_ir(f.ir(*args, stage="optimized")).funcs.values()))
    analysis = Analysis(func)
    loops = [op for op in func.walk() if op.name == "for"]
    outer, inner = loops
    hoisted = analysis.plans[outer].checks
    assert {(c.op.name, c.axis) for c in hoisted} == {("load", 0), ("load", 1), ("store", 0), ("store", 1)}
    assert outer not in analysis.plans or all(c.chain[0] is outer for c in hoisted)
    assert inner not in analysis.plans or not analysis.plans[inner].checks
    opt = f.ir(*args, stage="llvm-optimized")
    assert "x double>" in opt                      # the checked-free inner loop vectorizes


REPEATED_INDEX = """
func @f(%a: array<f64,1,C>, %n: i64) -> f64 {
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  %z = const 0.0 : f64
  %s = for %i = %c0 to %n step %c1 iter_args(%acc = %z) -> f64 {
    %x = load %a[%i] : f64
    %y = load %a[%i] : f64
    %j = add %i, %c1 : i64
    %w = load %a[%j] : f64
    %t = add %x, %y : f64
    %u = add %t, %w : f64
    %r = add %acc, %u : f64
    yield %r
  }
  return %s
}
"""


def test_the_same_index_is_checked_once_before_the_loop():
    func, cf = build(REPEATED_INDEX)
    (plan,) = Analysis(func).plans.values()
    x, y, w = (c.key() for c in plan.checks)
    assert x == y and x != w
    pre = cf.llvm_ir.split("fast:")[0]
    extent = re.search(r'@"irad.impl.f"\(ptr %"\.1", ptr %"\.2", ptr %"\.3", i64 (%"\.\d+")', pre).group(1)
    assert len(re.findall(rf"icmp slt i64 [^,]+, {extent}", pre)) == 2     # a[i], a[i + 1]: once each
    a = np.arange(5.0)
    assert list(cf(a, 4)) == [sum(2 * a[i] + a[i + 1] for i in range(4))]
    with pytest.raises(IndexError, match="index 5 is out of bounds"):
        cf(a, 5)


TRIANGLE_AND_GUARD = """
func @f(%a: array<f64,2,C>, %n: i64) -> f64 {
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  %z = const 0.0 : f64
  %s = for %i = %c0 to %n step %c1 iter_args(%acc = %z) -> f64 {
    %ip = add %i, %c1 : i64
    %t = for %j = %c0 to %ip step %c1 iter_args(%acc2 = %acc) -> f64 {
      %v = load %a[%i, %j] : f64
      %w = add %acc2, %v : f64
      yield %w
    }
    %small = lt %i, %c1 : i1
    %u = if %small -> f64 {
      %x = load %a[%i, %i] : f64
      yield %x
    } else {
      yield %z
    }
    %r = add %t, %u : f64
    yield %r
  }
  return %s
}
"""


def test_analysis_respects_guards_and_variant_bounds():
    func = next(iter(irad.parse_ir(TRIANGLE_AND_GUARD).funcs.values()))
    analysis = Analysis(func)
    outer, inner = [op for op in func.walk() if op.name == "for"]
    assert outer not in analysis.plans                   # the inner bounds vary with i: stay inside
    assert [(c.op.name, c.axis) for c in analysis.plans[inner].checks] == [("load", 0), ("load", 1)]
    guarded_load = [op for op in func.walk() if op.name == "load"][1]
    assert all(c.op is not guarded_load for p in analysis.plans.values() for c in p.checks)
    _, cf = build(TRIANGLE_AND_GUARD)
    a = np.arange(16.0).reshape(4, 4)
    assert cf(a, 4)[0] == sum(a[i, j] for i in range(4) for j in range(i + 1)) + a[0, 0]
    with pytest.raises(IndexError, match="index 4 is out of bounds for axis 0 with extent 4"):
        cf(a, 5)


WRAPPING = """
func @f(%a: array<f64,1,C>, %lo: i64, %hi: i64, %step: i64, %k: i64) -> f64 {
  %z = const 0.0 : f64
  %s = for %i = %lo to %hi step %step iter_args(%acc = %z) -> f64 {
    %x = mul %i, %k : i64
    %v = load %a[%x] : f64
    %w = add %acc, %v : f64
    yield %w
  }
  return %s
}
"""


def test_index_arithmetic_that_wraps_takes_the_checked_copy():
    func, cf = build(WRAPPING)
    a = np.arange(3.0) + 1.0
    big = -2 ** 63
    # i = 0, 2: 2 * -2**63 wraps to 0 (integers wrap), so both reads are a[0]
    assert cf(a, 0, 3, 2, big)[0] == 2.0 == irad.interpret(func, [a, 0, 3, 2, big])[0]
    with pytest.raises(IndexError, match=f"index {big} is out of bounds"):
        cf(a, 0, 2, 1, big)
    with pytest.raises(ValueError, match="step must not be zero"):
        cf(a, 0, 2, 0, 1)
    assert cf(a, 2, -1, -1, 1)[0] == 6.0


# ---- what the optimizer sees ------------------------------------------------------------------

def saxpy(out, a, b, n):
    for i in range(n):
        out[i] = a[i] * 2.0 + b[i]
    return out[0]


def test_checked_contiguous_loop_vectorizes():
    n = 64
    args = (np.zeros(n), np.ones(n), np.ones(n), n)
    f = irad.jit(saxpy)                                     # boundscheck on, fastmath off
    opt = f.ir(*args, stage="llvm-optimized")
    assert re.search(r"<[248] x double>", opt)
    out = np.zeros(n)
    f(out, np.arange(n * 1.0), np.ones(n), n)
    np.testing.assert_array_equal(out, np.arange(n) * 2.0 + 1.0)
    raises_like_unhoisted(saxpy, np.zeros(n + 1), np.ones(n), np.ones(n), n + 1)


def test_alloc_and_tape_accesses_carry_alias_scopes():
    def stencil(u, alpha):
        tmp = np.zeros(u.shape[0])
        for i in range(1, u.shape[0] - 1):
            tmp[i] = u[i] * u[i] + alpha * (u[i - 1] + u[i + 1])
        s = 0.0
        for i in range(u.shape[0]):
            s += tmp[i]
        return s
    text = irad.jit(stencil).ir(np.ones(8), 0.5, stage="llvm")
    assert "!alias.scope" in text and "!noalias" in text
    u = np.linspace(0.0, 1.0, 9)
    got = irad.gradient(stencil, irad.AutoReverse(), u.copy(), 0.5)
    want = irad.gradient(stencil, irad.AutoInterpreter(), u.copy(), 0.5)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-13)
    assert got[1] == pytest.approx(want[1], rel=1e-13)


# ---- reverse-mode loops -----------------------------------------------------------------------

def heat(u, alpha, steps):
    n = u.shape[0]
    tmp = np.zeros(n)
    for _ in range(steps):
        for i in range(1, n - 1):
            tmp[i] = u[i] + alpha * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        for i in range(1, n - 1):
            u[i] = tmp[i]
    energy = 0.0
    for i in range(n):
        energy += u[i] * u[i]
    return energy


@pytest.mark.parametrize("boundscheck", [True, False])
def test_reverse_sweeps_with_shifted_indices_match_the_interpreter(boundscheck):
    u = np.sin(np.linspace(0.0, np.pi, 17))
    want = irad.gradient(heat, irad.AutoInterpreter(), u.copy(), 0.2, 5)
    got = irad.jit_gradient(heat, boundscheck=boundscheck)(u.copy(), 0.2, 5)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-15)
    assert got[1] == pytest.approx(want[1], rel=1e-12) and got[2] is None
    for n in (0, 1, 2, 3):                     # empty and one-element reverse loops
        small = np.linspace(0.0, 1.0, n)
        want = irad.gradient(heat, irad.AutoInterpreter(), small.copy(), 0.2, 2)
        got = irad.jit_gradient(heat, boundscheck=boundscheck)(small.copy(), 0.2, 2)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-15)


TAPES = """
func @f(%n: i64, %m: i64) -> f64 {
  %t = tape_new : tape<f64>
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  %x = const 1.5 : f64
  tape_reserve %t, %n
  for %i = %c0 to %n step %c1 {
    %f = cast %i : i64 to f64
    %y = mul %f, %x : f64
    tape_push %t, %y
    tape_push %t, %x
    yield
  }
  tape_rewind %t
  %z = const 0.0 : f64
  %s = for %k = %c0 to %m step %c1 iter_args(%acc = %z) -> f64 {
    %a = tape_pop %t : f64
    %b = tape_pop %t : f64
    %p = mul %a, %b : f64
    %w = add %acc, %p : f64
    yield %w
  }
  tape_free %t
  return %s
}
"""


@pytest.mark.parametrize("boundscheck", [True, False])
def test_tapes_in_registers(boundscheck):
    func, cf = build(TAPES, boundscheck=boundscheck)
    for n, m in ((0, 0), (1, 1), (5, 5), (100, 3), (40, 40)):
        assert cf(n, m)[0] == irad.interpret(func, [n, m])[0]
    if boundscheck:
        with pytest.raises(IndexError, match="tape popped past its start"):
            cf(3, 4)


# ---- noalias arguments --------------------------------------------------------------------------

AXPY = """
func @f(%x: array<f64,1,C>, %dx: array<f64,1,strided>, %y: array<f64,1,C>) -> f64 {
  %n = dim %x, 0 : i64
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  %z = const 0.0 : f64
  for %i = %c0 to %n step %c1 {
    %a = load %x[%i] : f64
    %b = load %dx[%i] : f64
    %c = add %a, %b : f64
    store %c, %dx[%i]
    store %c, %y[%i]
    yield
  }
  return %z
}
"""


def test_noalias_arguments_are_checked_on_every_call():
    func, cf = build(AXPY, noalias_args={"dx"})
    assert cf.signature.noalias == frozenset({1})
    x, dx, y = np.arange(4.0), np.ones(4), np.zeros(4)
    cf(x, dx, y)
    np.testing.assert_array_equal(dx, np.arange(4.0) + 1.0)
    np.testing.assert_array_equal(y, dx)
    with pytest.raises(ValueError, match="shares memory with .* argument 0"):
        cf(x, x, y)
    big = np.zeros(8)
    with pytest.raises(ValueError, match="shares memory"):
        cf(big[:4], big[::2], np.zeros(4))
    with pytest.raises(ValueError, match="shares memory"):
        cf(big[2:6], big[1::2], np.zeros(4))
    cf(big[:4], big[4:], np.zeros(4))
    cf.call_raw(np.zeros(4), np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match="shares memory"):
        cf.call_raw(x, x[::1], y)
    assert build(AXPY, noalias_args={1})[1](np.zeros(0), np.zeros(0), np.zeros(0)) == [0.0]
    with pytest.raises(ValueError, match="no argument"):
        build(AXPY, noalias_args={"nope"})


# ---- scatter-adds lowered as gathers (runtime/scatter.py) ----------------------------------------

SCATTER = """
func @f(%d: array<f64,2,C>, %w: array<f64,1,C>, %lo: i64, %hi: i64, %r: i64) -> f64 {
  %c1 = const 1 : i64
  %c2 = const 2 : i64
  %step = const STEP : i64
  %z = const 0.0 : f64
  %rp = add %r, %c1 : i64
  %s = for %i = %lo to %hi step %step iter_args(%acc = %z) -> f64 {
    %t = load %w[%i] : f64
    store %z, %w[%i]
    %a = mul %t, %t : f64
    %ip = add %i, %c1 : i64
    %x1 = load %d[%r, %ip] : f64
    %y1 = add %x1, %a : f64
    store %y1, %d[%r, %ip]
    %x2 = load %d[%r, %i] : f64
    %y2 = add %t, %x2 : f64
    store %y2, %d[%r, %i]
    %im = sub %i, %c2 : i64
    %x3 = load %d[%r, %im] : f64
    %y3 = add %x3, %t : f64
    store %y3, %d[%r, %im]
    %in = sub %i, %c1 : i64
    %x4 = load %d[%rp, %in] : f64
    %y4 = add %x4, %a : f64
    store %y4, %d[%rp, %in]
    %x5 = load %d[%r, %i] : f64
    %y5 = add %x5, %a : f64
    store %y5, %d[%r, %i]
    %x6 = load %d[%r, %in] : f64
    %y6 = add %x6, %t : f64
    store %y6, %d[%r, %in]
    %acc2 = add %acc, %a : f64
    yield %acc2
  }
  return %s
}
"""


@pytest.mark.parametrize("step", [1, -1])
@pytest.mark.parametrize("boundscheck", [True, False])
def test_scatter_adds_as_gathers_are_bit_identical(step, boundscheck):
    text = SCATTER.replace("STEP", str(step))
    func, cf = build(text, boundscheck=boundscheck, noalias_args={"d"})
    assert "0x8000000000000000" in cf.llvm_ir      # the gather's -0.0 registers: the gather applied
    assert "0x8000000000000000" not in build(text, boundscheck=boundscheck)[1].llvm_ir  # w may alias d
    rng = np.random.default_rng(7)
    for trip in range(0, 9):
        lo, hi = (2, 2 + trip) if step > 0 else (9, 9 - trip)
        d = rng.normal(size=(3, 12)) * 1e3
        d[1, 4] = -0.0                       # x + -0.0 must keep the sign of zero
        w = rng.normal(size=12)
        w[5] = -0.0
        d_ref, w_ref, d_nat, w_nat = d.copy(), w.copy(), d.copy(), w.copy()
        want = irad.interpret(func, [d_ref, w_ref, lo, hi, 1])
        got = cf(d_nat, w_nat, lo, hi, 1)
        assert got[0].tobytes() == want[0].tobytes()
        assert d_nat.tobytes() == d_ref.tobytes() and w_nat.tobytes() == w_ref.tobytes()
    if boundscheck:
        with pytest.raises(IndexError, match="index -1 is out of bounds for axis 1"):
            cf(np.zeros((3, 12)), np.zeros(12), *((1, 5) if step > 0 else (5, 0)), 1)


def test_heat_gradient_is_bit_identical_to_the_interpreter():
    """The shadow's scatter-adds keep their order exactly; the adjoint of the scalar alpha is
    a `reassoc` sum (its order is not defined by the program), so it only agrees to rounding."""
    u = np.sin(np.linspace(0.0, np.pi, 33))
    want = irad.gradient(heat, irad.AutoInterpreter(), u.copy(), 0.2, 7)
    got = irad.jit_gradient(heat)(u.copy(), 0.2, 7)
    assert got[0].tobytes() == want[0].tobytes()
    assert got[1] == pytest.approx(want[1], rel=1e-13)


def test_reassoc_attribute_lets_a_strict_reduction_vectorize():
    text = """
func @f(%x: array<f64,1,C>) -> f64 {
  %n = dim %x, 0 : i64
  %z = const 0.0 : f64
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  %s = for %i = %c0 to %n step %c1 iter_args(%acc = %z) -> f64 {
    %v = load %x[%i] : f64
    %t = add %acc, %v REASSOC: f64
    yield %t
  }
  return %s
}
"""
    strict = build(text.replace("REASSOC", ""))[1]
    loose = build(text.replace("REASSOC", "{reassoc = true} "))[1]
    # Strict: vectorized at most with an in-order reduction (lanes added one by one), never
    # reassociated; with the attribute, a reassociating vector reduction.
    assert "reassoc" not in strict.llvm_ir_optimized and "fadd reassoc" in loose.llvm_ir
    assert "x double>" in loose.llvm_ir_optimized and "contract" not in loose.llvm_ir
    x = np.random.default_rng(3).normal(size=1001)
    assert loose(x)[0] == pytest.approx(x.sum(), rel=1e-12)
    assert strict(x)[0] == sum(x.tolist())


# ---- randomized: versioned loops against the interpreter ------------------------------------------

RANDOM_LOOPS = """
func @f(%a: array<f64,2,C>, %b: array<f64,1,C>, %lo: i64, %hi: i64, %k: i64, %m: i64, %n: i64) -> f64 {
  %z = const 0.0 : f64
  %c0 = const 0 : i64
  %step = const STEP : i64
  %ca = const CA : i64
  %s = for %i = %lo to %hi step %step iter_args(%acc = %z) -> f64 {
    %x = mul %i, %ca : i64
    %r = add %x, %k : i64
    %t = for %j = %c0 to %n step %c1x iter_args(%acc2 = %acc) -> f64 {
      %col = sub %j, %m : i64
      %neg = lt %col, %c0 : i1
      %cols = dim %a, 1 : i64
      %wrapped = add %col, %cols : i64
      %cw = select %neg, %wrapped, %col : i64
      %v = load %a[%r, %cw] : f64
      %w = add %acc2, %v : f64
      yield %w
    }
    %back = sub %m, %i : i64
    store %t, %b[%back]
    yield %t
  }
  return %s
}
"""


def _outcome(run, args):
    args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    try:
        result = run(args)
    except IndexError as e:
        found = re.search(r"index (-?\d+) is out of bounds for axis (\d+) with extent (\d+)", str(e))
        return ("IndexError", found.groups()), [a.tobytes() for a in args if isinstance(a, np.ndarray)]
    return ("ok", float(result[0])), [a.tobytes() for a in args if isinstance(a, np.ndarray)]


@pytest.mark.parametrize("step,ca", [(1, 1), (-1, 1), (2, -1), (-3, 2), (1, 0)])
def test_random_affine_loops_behave_like_the_interpreter(step, ca):
    text = RANDOM_LOOPS.replace("STEP", str(step)).replace("CA", str(ca)).replace(
        "%c1x", "%c1").replace("%c0 = const 0 : i64", "%c0 = const 0 : i64\n  %c1 = const 1 : i64")
    func, cf = build(text)
    rng = np.random.default_rng(abs(step * 10 + ca) + 100 * (step < 0))
    outcomes = set()
    for _ in range(150):
        rows, cols = rng.integers(0, 5, size=2)
        a = rng.normal(size=(rows, cols))
        b = rng.normal(size=rng.integers(0, 6))
        lo, hi, k, m, n = (int(x) for x in rng.integers(-4, 7, size=5))
        args = [a, b, lo, hi, k, m, n]
        want = _outcome(lambda xs: irad.interpret(func, xs), args)
        got = _outcome(lambda xs: cf(*xs), args)
        assert got == want, (args, want[0], got[0])
        outcomes.add(want[0][0])
    assert outcomes == {"ok", "IndexError"}
