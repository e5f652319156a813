"""passes/fuse.py: adjacent loops over one range fuse when every memory order survives.

The pass alone on hand-written IR: fused loops give the unfused results in
the interpreter for every trip count and both directions; loops whose
fusion would let the second loop see a value the first writes later, or
that may touch each other's arrays through aliasing arguments, stay apart."""
import numpy as np
import pytest

import irad
from irad.interpreter import run
from irad.passes import run_pass
from irad.verifier import verify

RNG = np.random.default_rng(5)

# first loop: a[i] = 2 x[i]; second: y[i] = a[i] + a[i + OFFSET] (reads a at i + OFFSET)
TWO_LOOPS = """
func @f(%a: array<f64,1,C>, %x: array<f64,1,C>, %y: array<f64,1,C>, %lo: i64, %hi: i64) -> f64 {
  %step = const STEP : i64
  %off = const OFFSET : i64
  %two = const 2.0 : f64
  %z = const 0.0 : f64
  for %i = %lo to %hi step %step {
    %v = load %x[%i] {inbounds = true} : f64
    %w = mul %v, %two : f64
    store %w, %a[%i] {inbounds = true}
    yield
  }
  %k = mul %two, %two : f64
  %s = for %j = %lo to %hi step %step iter_args(%acc = %z) -> f64 {
    %jo = add %j, %off : i64
    %p = load %a[%j] {inbounds = true} : f64
    %q = load %a[%jo] {inbounds = true} : f64
    %r = add %p, %q : f64
    store %r, %y[%j] {inbounds = true}
    %acc2 = add %acc, %k : f64
    yield %acc2
  }
  return %s
}
"""


def _func(offset, step=1, text=TWO_LOOPS):
    func = irad.parse_ir(text.replace("OFFSET", str(offset)).replace("STEP", str(step)))["f"]
    verify(func)
    return func


def _loops(func) -> int:
    return sum(op.name == "for" for op in func.walk())


@pytest.mark.parametrize("offset,step", [(0, 1), (-1, 1), (-3, 1), (0, -1), (1, -1), (2, -1)])
def test_loops_fuse_when_the_second_reads_only_what_the_first_wrote_already(offset, step):
    out = run_pass(_func(offset, step), "fuse-loops", noalias_args=[0, 1, 2])
    verify(out)
    assert _loops(out) == 1


@pytest.mark.parametrize("offset,step", [(1, 1), (2, 1), (-1, -1)])
def test_loops_stay_apart_when_the_second_reads_ahead(offset, step):
    func = _func(offset, step)
    assert _loops(run_pass(func, "fuse-loops", noalias_args=[0, 1, 2])) == 2


def test_arrays_that_may_alias_keep_loops_apart():
    func = _func(0)
    assert _loops(run_pass(func, "fuse-loops")) == 2                       # x or y may be a
    assert _loops(run_pass(func, "fuse-loops", noalias_args=[0])) == 2     # y may be x
    assert _loops(run_pass(func, "fuse-loops", noalias_args=[0, 2])) == 1


@pytest.mark.parametrize("offset,step,lo,hi", [
    (0, 1, 3, 3), (0, 1, 3, 4), (-1, 1, 3, 9), (-3, 1, 3, 12), (0, -1, 11, 2), (2, -1, 9, 0),
    (1, -1, 9, 8)])
def test_fused_loops_compute_the_unfused_results(offset, step, lo, hi):
    before = _func(offset, step)
    after = run_pass(_func(offset, step), "fuse-loops", noalias_args=[0, 1, 2])
    x = RNG.normal(size=16)
    a1, y1 = RNG.normal(size=16), np.zeros(16)
    a2, y2 = a1.copy(), y1.copy()
    r1 = run(before, [a1, x, y1, lo, hi])
    r2 = run(after, [a2, x, y2, lo, hi])
    assert r1 == r2
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(y1, y2)


@pytest.mark.parametrize("change", [
    ("  %k = mul %two, %two : f64\n", "  %k = mul %two, %two : f64\n  store %k, %y[%lo]\n"),  # effect between
    ("store %w, %a[%i] {inbounds = true}", "store %w, %a[%i]"),          # a checked access may raise
    ("%q = load %a[%jo] {inbounds = true} : f64",                         # a region op in the body
     "%q = if %true -> f64 {\n      %q0 = load %a[%jo] {inbounds = true} : f64\n      yield %q0\n"
     "    } else {\n      yield %z\n    }"),
    ("    yield\n  }\n  %k", "    yield\n  }\n  %vw = view %x[%lo:%hi:%step] : array<f64,1,strided>\n  %k"),  # may raise
])
def test_loops_stay_apart_around_effects_errors_and_regions(change):
    text = TWO_LOOPS.replace("  %z = const 0.0 : f64\n", "  %z = const 0.0 : f64\n  %true = const true : i1\n")
    assert change[0] in text
    func = _func(0, text=text.replace(*change))
    assert _loops(run_pass(func, "fuse-loops", noalias_args=[0, 1, 2])) == 2


def _carrying(text=TWO_LOOPS):
    """TWO_LOOPS whose first loop also sums what it stores, returned with the second's sum."""
    text = text.replace("  for %i = %lo to %hi step %step {", "  %c = for %i = %lo to %hi step %step iter_args(%n = %z) -> f64 {")
    text = text.replace("    store %w, %a[%i] {inbounds = true}\n    yield\n",
                        "    store %w, %a[%i] {inbounds = true}\n    %n2 = add %n, %w : f64\n    yield %n2\n")
    return text.replace("  return %s\n", "  %t = add %s, %c : f64\n  return %t\n")


@pytest.mark.parametrize("lo,hi", [(0, 0), (0, 1), (0, 5), (2, 7)])
def test_a_first_loop_that_carries_a_sum_fuses_and_keeps_its_result(lo, hi):
    before = _func(0, text=_carrying())
    after = run_pass(before, "fuse-loops", noalias_args=[0, 1, 2])
    verify(after)
    assert _loops(after) == 1
    x = RNG.normal(size=8)
    a1, a2, y1, y2 = np.zeros(9), np.zeros(9), np.zeros(9), np.zeros(9)
    assert run(before, [a1, x, y1, lo, hi]) == run(after, [a2, x, y2, lo, hi])
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(y1, y2)


def test_a_first_loop_whose_sum_the_second_reads_stays_apart():
    text = _carrying().replace("    %acc2 = add %acc, %k : f64", "    %acc2 = add %acc, %c : f64")
    func = _func(0, text=text)
    assert _loops(run_pass(func, "fuse-loops", noalias_args=[0, 1, 2])) == 2


ROWS = """
func @f(%a: array<f64,2,C>, %y: array<f64,1,C>, %r: i64, %s: i64, %n: i64) -> f64 {
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  %z = const 0.0 : f64
  for %i = %c0 to %n step %c1 {
    store %z, %a[%r, %i] {inbounds = true}
    yield
  }
  for %j = %c0 to %n step %c1 {
    %v = load %a[%s, %j] {inbounds = true} : f64
    store %v, %y[%j] {inbounds = true}
    yield
  }
  return %z
}
"""


def test_rows_of_one_array_must_be_the_same_row():
    func = irad.parse_ir(ROWS)["f"]
    verify(func)
    assert _loops(run_pass(func, "fuse-loops", noalias_args=[0, 1])) == 2      # rows r and s may differ
    same = irad.parse_ir(ROWS.replace("%a[%s, %j]", "%a[%r, %j]"))["f"]
    assert _loops(run_pass(same, "fuse-loops", noalias_args=[0, 1])) == 1


def test_heat_adjoint_sweeps_once_per_step():
    """The copy's adjoint (du -> dtmp, du zeroed) runs in the stencil adjoint's loop."""
    from grad_programs import g_heat
    lines = irad.jit_gradient(g_heat).ir(np.linspace(0.0, 1.0, 12), 0.2, stage="gradient").splitlines()
    read = next(k for k, line in enumerate(lines) if "tape_read" in line)
    header = max(k for k in range(read) if " for " in lines[k])
    assert any("store %0, %du[" in line for line in lines[header:read])


THREE_LOOPS = """
func @f(%a: array<f64,1,C>, %x: array<f64,1,C>, %n: i64) -> f64 {
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  %z = const 0.0 : f64
  %s = for %i = %c0 to %n step %c1 iter_args(%acc = %z) -> f64 {
    %v = load %x[%i] {inbounds = true} : f64
    %acc2 = add %acc, %v : f64
    yield %acc2
  }
  for %j = %c0 to %n step %c1 {
    %w = load %x[%j] {inbounds = true} : f64
    store %w, %a[%j] {inbounds = true}
    yield
  }
  %t = for %k = %c0 to %n step %c1 iter_args(%b = %z) -> f64 {
    %u = load %a[%k] {inbounds = true} : f64
    %p = mul %u, %s : f64
    %b2 = add %b, %p : f64
    yield %b2
  }
  return %t
}
"""


@pytest.mark.parametrize("n", [0, 1, 4])
def test_a_fused_loops_sum_is_not_read_by_a_loop_fused_after_it(n):
    """The first two loops fuse; the third reads the first's sum, so it stays after them."""
    before = irad.parse_ir(THREE_LOOPS)["f"]
    after = run_pass(before, "fuse-loops", noalias_args=[0, 1])
    verify(after)
    assert _loops(after) == 2
    x = RNG.normal(size=4)
    assert run(before, [np.zeros(4), x, n]) == run(after, [np.zeros(4), x, n])
