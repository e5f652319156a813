"""passes/promote.py: order-free accumulations at a loop-invariant element go through a register.

The pass alone on hand-written IR (the same sums as the unpromoted IR in
the interpreter for every trip count, either direction, and the element
j == i included; an empty loop touches nothing; untouched where it must
not apply), and gradients whose adjoints it rewrites."""
import numpy as np
import pytest

import irad
from irad.interpreter import run
from irad.passes import run_pass
from irad.verifier import verify

import vector_programs as vp

RNG = np.random.default_rng(31)

PAIRS = """
func @f(%d: array<f64,1,C>, %x: array<f64,1,C>, %i: i64, %lo: i64, %hi: i64, %step: i64) -> f64 {
  %z = const 0.0 : f64
  %c = const 2.0 : f64
  for %j = %lo to %hi step %step {
    %v = load %x[%j] : f64
    %a = load %d[%i] {inbounds = true} : f64
    %a2 = add %a, %v {reassoc = true} : f64
    store %a2, %d[%i] {inbounds = true}
    %w = mul %v, %c : f64
    %b = load %d[%j] {inbounds = true} : f64
    %b2 = add %w, %b {reassoc = true} : f64
    store %b2, %d[%j] {inbounds = true}
    %e = load %d[%i] {inbounds = true} : f64
    %e2 = add %e, %w {reassoc = true} : f64
    store %e2, %d[%i] {inbounds = true}
    yield
  }
  return %z
}
"""


def _func(text=PAIRS, step=1):
    func = irad.parse_ir(text.replace("step %step", "step %s1").replace(
        "  %z = const 0.0", f"  %s1 = const {step} : i64\n  %z = const 0.0"))
    func = func["f"]
    verify(func)
    return func


def test_invariant_element_is_summed_in_one_register():
    out = run_pass(_func(), "promote-accumulations", noalias_args=[0])
    verify(out)
    loop = next(op for op in out.walk() if op.name == "for")
    stores = [op for op in loop.regions[0].walk() if op.name == "store"]
    assert len(stores) == 1 and len(loop.results) == 1      # d[j] stays; both d[i] sums share one register
    assert any(op.name == "if" for op in out.body.block.ops)


@pytest.mark.parametrize("step", [1, -1, 2])
@pytest.mark.parametrize("lo,hi", [(3, 3), (0, 1), (0, 2), (0, 8), (2, 7), (7, 0), (7, -1)])
@pytest.mark.parametrize("i", [0, 3, 5])
def test_promoted_loop_adds_the_same_contributions(step, lo, hi, i):
    before = _func(step=step)
    after = run_pass(_func(step=step), "promote-accumulations", noalias_args=[0])
    x = RNG.normal(size=8)
    d1 = RNG.normal(size=8)
    d2 = d1.copy()
    run(before, [d1, x, i, lo, hi, 0])
    run(after, [d2, x, i, lo, hi, 0])
    np.testing.assert_allclose(d2, d1, rtol=1e-14, atol=1e-15)


def test_empty_loop_touches_no_element():
    after = run_pass(_func(), "promote-accumulations", noalias_args=[0])
    d = np.zeros(4)
    run(after, [d, np.ones(4), 99, 2, 2, 0])       # d[99] is never read or written
    assert not d.any()


def test_argument_that_may_alias_or_plain_reads_are_left_alone():
    func = _func()
    assert str(run_pass(func, "promote-accumulations")) == str(func)          # d may alias x
    plain = _func(PAIRS.replace(" {reassoc = true}", ""))
    assert str(run_pass(plain, "promote-accumulations", noalias_args=[0])) == str(plain)
    read = _func(PAIRS.replace("%v = load %x[%j] : f64", "%v = load %d[%j] : f64"))
    assert str(run_pass(read, "promote-accumulations", noalias_args=[0])) == str(read)


def test_pairwise_adjoint_accumulates_row_i_in_registers():
    """Each adjoint loop over j carries dpos[i, 0..2] in three registers (3 results in the
    energy's adjoint, 1 + 3 in the force loop's; adjoints every iteration passes through
    unchanged are not carried, passes/fold.py)."""
    text = irad.jit_gradient(vp.pairwise).ir(RNG.normal(size=(4, 3)), np.ones(4), stage="gradient")
    results = [line.split("=")[0].count("%") for line in text.splitlines() if " for %j" in line]
    assert max(results) >= 4 and min(results) >= 3


def test_loop_with_a_run_time_step_is_left_alone():
    func = irad.parse_ir(PAIRS)["f"]                 # steps by the argument %step
    verify(func)
    assert str(run_pass(func, "promote-accumulations", noalias_args=[0])) == str(func)


def test_loop_with_results_keeps_them():
    text = PAIRS.replace("  for %j = %lo to %hi step %step {", "  %t = for %j = %lo to %hi step %s1 iter_args(%acc = %z) -> f64 {")
    text = text.replace("    store %e2, %d[%i] {inbounds = true}\n    yield\n", "    store %e2, %d[%i] {inbounds = true}\n    %acc2 = add %acc, %v : f64\n    yield %acc2\n")
    text = text.replace("  return %z", "  return %t").replace("  %z = const 0.0", "  %s1 = const 1 : i64\n  %z = const 0.0")
    before = irad.parse_ir(text)["f"]
    after = run_pass(irad.parse_ir(text)["f"], "promote-accumulations", noalias_args=[0])
    verify(after)
    assert len(next(op for op in after.walk() if op.name == "for").results) == 2
    x = RNG.normal(size=8)
    d1 = RNG.normal(size=8)
    d2 = d1.copy()
    assert run(before, [d1, x, 3, 0, 8, 0]) == run(after, [d2, x, 3, 0, 8, 0])
    np.testing.assert_allclose(d2, d1, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("n", [1, 2, 5])
@pytest.mark.parametrize("adtype", [irad.AutoReverse(), irad.AutoInterpreter()], ids=["native", "interp"])
def test_pairwise_gradient_matches_finite_differences(n, adtype):
    irad.check_gradient(vp.pairwise, adtype, RNG.normal(size=(n, 3)), RNG.uniform(0.5, 1.5, n),
                        rtol=1e-6, atol=1e-8)
