"""passes/fission.py: a loop accumulating into several views of one shadow runs one loop per view.

The pass alone on hand-written IR (one loop per place, the carried value in
the first, the clear in the last; the same sums as the unsplit loop in the
interpreter for every trip count; untouched where it must not apply), and
a run-time-width slice stencil's gradient, which it exists for (a
constant-width one is retimed instead: tests/test_flatten.py)."""
import numpy as np
import pytest

import irad
from irad.interpreter import run
from irad.passes import run_pass
from irad.verifier import verify

RNG = np.random.default_rng(31)

VIEWS = """
func @f(%d: array<f64,1,C>, %g: array<f64,1,C>, %a: f64) -> f64 {
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  %c2 = const 2 : i64
  %z = const 0.0 : f64
  %n = dim %g, 0 : i64
  %n1 = add %n, %c1 : i64
  %n2 = add %n, %c2 : i64
  %lo = view %d[%c0:%n:%c1] : array<f64,1,strided>
  %mid = view %d[%c1:%n1:%c1] : array<f64,1,strided>
  %hi = view %d[%c2:%n2:%c1] : array<f64,1,strided>
  %s = for %i = %c0 to %n step %c1 iter_args(%acc = %z) -> f64 {
    %x = load %g[%i] {inbounds = true} : f64
    store %z, %g[%i] {inbounds = true}
    %p = mul %x, %a : f64
    %acc2 = add %acc, %p {reassoc = true} : f64
    %l = load %lo[%i] {inbounds = true} : f64
    %l2 = add %l, %p {reassoc = true} : f64
    store %l2, %lo[%i] {inbounds = true}
    %q = mul %x, %x : f64
    %m = load %mid[%i] {inbounds = true} : f64
    %m2 = add %m, %q {reassoc = true} : f64
    store %m2, %mid[%i] {inbounds = true}
    %h = load %hi[%i] {inbounds = true} : f64
    %h2 = add %h, %x {reassoc = true} : f64
    store %h2, %hi[%i] {inbounds = true}
    yield %acc2
  }
  return %s
}
"""


def _func(text=VIEWS):
    func = irad.parse_ir(text)["f"]
    verify(func)
    return func


def _loops(func):
    return [op for op in func.body.block.ops if op.name == "for"]


def test_loop_splits_into_one_loop_per_view():
    out = run_pass(_func(), "split-accumulations", noalias_args=[0, 1])
    verify(out)
    loops = _loops(out)
    assert len(loops) == 3
    assert [len(loop.results) for loop in loops] == [1, 0, 0]          # the sum stays in the first
    stores = [[op.operands[1].hint for op in loop.regions[0].walk() if op.name == "store"] for loop in loops]
    assert stores == [["lo"], ["mid"], ["g", "hi"]]                     # g is cleared last
    assert out.body.block.ops[-1].operands[0] is loops[0].results[0]


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 16])
def test_split_loops_add_the_same_contributions(n):
    before, after = _func(), run_pass(_func(), "split-accumulations", noalias_args=[0, 1])
    g, d = RNG.normal(size=n), RNG.normal(size=n + 2)
    g1, g2, d1, d2 = g.copy(), g.copy(), d.copy(), d.copy()
    s1, s2 = run(before, [d1, g1, 0.3]), run(after, [d2, g2, 0.3])
    np.testing.assert_allclose(s2, s1, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(d2, d1, rtol=1e-14, atol=1e-15)
    assert not g1.any() and not g2.any()


@pytest.mark.parametrize("change", [
    None,                                                               # d may alias g
    ("store %z, %g[%i]", "store %z, %g[%c0]"),                         # clears an element others read
    ("%q = mul %x, %x : f64", "%q = exp %x : f64"),                   # a later loop would redo exp
    ("%q = mul %x, %x : f64", "%q = load %lo[%i] {inbounds = true} : f64"),  # reads d otherwise
    ("%q = mul %x, %x : f64", "%q = mul %x, %acc : f64"),             # needs the carried sum
    (" {reassoc = true}", ""),                                          # sums in program order
])
def test_loops_it_must_not_split_are_left_alone(change):
    func = _func(VIEWS.replace(*change) if change else VIEWS)
    noalias = [0, 1] if change else [0]
    assert str(run_pass(func, "split-accumulations", noalias_args=noalias)) == str(func)


ROWS = """
func @f(%d: array<f64,2,C>, %x: array<f64,1,C>) -> f64 {
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  %z = const 0.0 : f64
  %n = dim %x, 0 : i64
  for %j = %c0 to %n step %c1 {
    %v = load %x[%j] {inbounds = true} : f64
    %a = load %d[%j, %c0] {inbounds = true} : f64
    %a2 = add %a, %v {reassoc = true} : f64
    store %a2, %d[%j, %c0] {inbounds = true}
    %b = load %d[%j, %c1] {inbounds = true} : f64
    %b2 = add %b, %v {reassoc = true} : f64
    store %b2, %d[%j, %c1] {inbounds = true}
    yield
  }
  return %z
}
"""


def test_columns_of_each_iterations_own_row_are_left_alone():
    """`dpos[j, 0]` and `dpos[j, 1]`: no two iterations share an element, nothing to split."""
    func = _func(ROWS)
    assert str(run_pass(func, "split-accumulations", noalias_args=[0])) == str(func)


def wide_slices(u, k, steps, alpha):
    """A slice stencil of run-time width k: its views start at min(k, n)-like values, not at
    constants (`u[1:-1]` becomes plain offsets of du, passes/flatten.py, and is retimed)."""
    for _ in range(steps):
        u[k:-k] = u[k:-k] + alpha * (u[:-2 * k] - 2.0 * u[k:-k] + u[2 * k:])
    return np.sum(u * u)


def test_runtime_width_stencil_adjoint_accumulates_in_one_place_per_loop():
    g = irad.jit_gradient(wide_slices)
    g(np.linspace(0.0, 1.0, 9), irad.Const(1), irad.Const(3), 0.2)
    grad = next(iter(g.differentiator.programs.values())).grad
    reverse_step = [op for op in grad.walk() if op.name == "for"
                    and any(inner.name == "tape_read" for inner in op.regions[0].walk())][0]
    inner = [op for op in reverse_step.regions[0].block.ops if op.name == "for"]
    du = grad.args[-2]
    places = [len({tuple(op.operands[2:]) for op in loop.regions[0].walk()
                   if op.name == "store" and op.operands[1] is du}) for loop in inner]
    assert places == [1, 1, 1, 1]                   # du moved out, then one loop per stencil tap


@pytest.mark.parametrize("n,k", [(2, 1), (3, 1), (5, 1), (9, 2), (11, 3), (4, 3)])
@pytest.mark.parametrize("adtype", [irad.AutoReverse(), irad.AutoInterpreter()], ids=["native", "interp"])
def test_runtime_width_stencil_gradient_matches_finite_differences(n, k, adtype):
    u = np.sin(np.linspace(0.0, 3.0, n))
    irad.check_gradient(wide_slices, adtype, u, irad.Const(k), irad.Const(4), 0.2, rtol=1e-6, atol=1e-8)
