"""passes/retime.py: stencil adjoints accumulate once per element and iteration.

The pass alone on hand-written IR (same results as the unretimed IR in
the interpreter for every trip count, including 0 and 1; untouched where
it must not apply), and gradients of stencil programs against finite
differences (native and interpreter)."""
import numpy as np
import pytest

import irad
from irad.interpreter import run
from irad.passes import run_pass
from irad.verifier import verify

import retime_programs as rp
from grad_programs import g_heat

RNG = np.random.default_rng(77)

SCATTER = """
func @f(%d: array<f64,1,C>, %x: array<f64,1,C>, %lo: i64, %hi: i64) -> f64 {
  %c1 = const 1 : i64
  %c2 = const 2 : i64
  %z = const 0.0 : f64
  for %i = %lo to %hi step %c1 {
    %v = load %x[%i] : f64
    %ip = add %i, %c1 : i64
    %a = load %d[%ip] {inbounds = true} : f64
    %a2 = add %a, %v {reassoc = true} : f64
    store %a2, %d[%ip] {inbounds = true}
    %im = sub %i, %c2 : i64
    %w = mul %v, %v : f64
    %b = load %d[%im] {inbounds = true} : f64
    %b2 = add %w, %b {reassoc = true} : f64
    store %b2, %d[%im] {inbounds = true}
    %c = load %d[%i] {inbounds = true} : f64
    %c2x = add %c, %z {reassoc = true} : f64
    store %c2x, %d[%i] {inbounds = true}
    yield
  }
  return %z
}
"""


def _func(text=SCATTER):
    func = irad.parse_ir(text)["f"]
    verify(func)
    return func


def test_retimed_loop_stores_one_element_per_iteration():
    func = _func()
    out = run_pass(func, "retime-accumulations", noalias_args=[0])
    verify(out)
    loop = next(op for op in out.walk() if op.name == "for")
    stores = [op for op in loop.regions[0].walk() if op.name == "store"]
    assert len(stores) == 1 and len(loop.results) == 5      # offsets +1, 0 over -2: 3 + 2 registers
    assert any(op.name == "if" for op in out.body.block.ops)  # the last elements after the loop


@pytest.mark.parametrize("lo,hi", [(2, 2), (5, 2), (2, 3), (2, 4), (2, 5), (2, 9), (3, 8)])
def test_retimed_loop_adds_the_same_contributions(lo, hi):
    before, after = _func(), run_pass(_func(), "retime-accumulations", noalias_args=[0])
    x = RNG.normal(size=10)
    d1, d2 = RNG.normal(size=10), None
    d2 = d1.copy()
    run(before, [d1, x, lo, hi])
    run(after, [d2, x, lo, hi])
    np.testing.assert_allclose(d2, d1, rtol=1e-14, atol=1e-15)


def test_argument_that_may_alias_or_plain_sums_are_left_alone():
    func = _func()
    assert str(run_pass(func, "retime-accumulations")) == str(func)           # d may alias x
    plain = _func(SCATTER.replace(" {reassoc = true}", ""))
    assert str(run_pass(plain, "retime-accumulations", noalias_args=[0])) == str(plain)


def test_heat_gradient_loop_is_retimed():
    u = np.linspace(0.0, 1.0, 12)
    text = irad.jit_gradient(g_heat).ir(u, 0.2, stage="gradient")
    assert "const -0.0" in text and "tape_read" in text


PROGRAMS = {"g_heat": g_heat, "wide": rp.wide, "rows": rp.rows, "downward": rp.downward}
CASES = {
    "g_heat": lambda n: (np.sin(np.linspace(0.0, 3.0, n)), 0.2),
    "wide": lambda n: (RNG.normal(size=n), 0.7),
    "rows": lambda n: (RNG.normal(size=(3, n)), 1.3),
    "downward": lambda n: (RNG.normal(size=n), 0.9),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("n", [1, 2, 3, 4, 6, 11, 37])
@pytest.mark.parametrize("adtype", [irad.AutoReverse(), irad.AutoInterpreter()], ids=["native", "interp"])
def test_stencil_gradients_match_finite_differences(name, n, adtype):
    irad.check_gradient(PROGRAMS[name], adtype, *CASES[name](n), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", sorted(CASES))
def test_native_and_interpreter_gradients_agree(name):
    args = CASES[name](29)
    copy = lambda a: [x.copy() if isinstance(x, np.ndarray) else x for x in a]
    native = irad.gradient(PROGRAMS[name], irad.AutoReverse(), *copy(args))
    interp = irad.gradient(PROGRAMS[name], irad.AutoInterpreter(), *copy(args))
    for g1, g2 in zip(native, interp):
        if g1 is not None:
            np.testing.assert_allclose(g1, g2, rtol=1e-12, atol=1e-14)
