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


PROGRAMS = {"g_heat": g_heat, "wide": rp.wide, "rows": rp.rows, "downward": rp.downward,
            "plane": rp.plane, "plane_slices": rp.plane_slices}
CASES = {
    "g_heat": lambda n: (np.sin(np.linspace(0.0, 3.0, n)), 0.2),
    "wide": lambda n: (RNG.normal(size=n), 0.7),
    "rows": lambda n: (RNG.normal(size=(3, n)), 1.3),
    "downward": lambda n: (RNG.normal(size=n), 0.9),
    "plane": lambda n: (RNG.normal(size=(4, n)), irad.Const(2), 0.1),
    "plane_slices": lambda n: (RNG.normal(size=(4, n)), irad.Const(2), 0.1),
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


ROWS2D = """
func @f(%d: array<f64,2,C>, %x: array<f64,1,C>, %r: i64) -> f64 {
  %c1 = const 1 : i64
  %z = const 0.0 : f64
  %n = dim %x, 0 : i64
  %hi = sub %n, %c1 : i64
  %up = sub %r, %c1 : i64
  %down = add %r, %c1 : i64
  for %j = %c1 to %hi step %c1 {
    %v = load %x[%j] : f64
    %jm = sub %j, %c1 : i64
    %jp = add %j, %c1 : i64
    %a = load %d[%r, %jm] {inbounds = true} : f64
    %a2 = add %a, %v {reassoc = true} : f64
    store %a2, %d[%r, %jm] {inbounds = true}
    %b = load %d[%up, %j] {inbounds = true} : f64
    %b2 = add %b, %v {reassoc = true} : f64
    store %b2, %d[%up, %j] {inbounds = true}
    %c = load %d[%r, %jp] {inbounds = true} : f64
    %w = mul %v, %v : f64
    %c2 = add %c, %w {reassoc = true} : f64
    store %c2, %d[%r, %jp] {inbounds = true}
    %e = load %d[%down, %j] {inbounds = true} : f64
    %e2 = add %e, %w {reassoc = true} : f64
    store %e2, %d[%down, %j] {inbounds = true}
    yield
  }
  return %z
}
"""


def test_each_row_of_a_plane_stencil_is_retimed_on_its_own():
    """Row r gets offsets -1 and +1 (retimed: one store, two registers); rows r - 1 and r + 1
    one offset each (left as they are)."""
    func = _func(ROWS2D)
    out = run_pass(func, "retime-accumulations", noalias_args=[0])
    verify(out)
    loop = next(op for op in out.walk() if op.name == "for")
    stores = [op for op in loop.regions[0].walk() if op.name == "store"]
    assert len(stores) == 3 and len(loop.results) == 2


@pytest.mark.parametrize("n,r", [(2, 1), (3, 1), (4, 1), (7, 2), (9, 1)])
def test_retimed_rows_add_the_same_contributions(n, r):
    before, after = _func(ROWS2D), run_pass(_func(ROWS2D), "retime-accumulations", noalias_args=[0])
    x, d = RNG.normal(size=n), RNG.normal(size=(4, n))
    d1, d2 = d.copy(), d.copy()
    run(before, [d1, x, r])
    run(after, [d2, x, r])
    np.testing.assert_allclose(d2, d1, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", ["plane", "plane_slices"])
def test_plane_stencil_adjoints_carry_row_i_in_registers(name):
    """Both spellings: the reverse loop over j stores into rows i - 1, i and i + 1 once each,
    row i through registers; the slices' adjoint reaches du itself (passes/flatten.py)."""
    g = irad.jit_gradient(PROGRAMS[name])
    args = CASES[name](6)
    g(*args)
    grad = next(iter(g.differentiator.programs.values())).grad
    du = grad.args[-2]
    loops = [op for op in grad.walk() if op.name == "for" and op.results
             and any(inner.name == "tape_read" or inner.name == "load" for inner in op.regions[0].block.ops)
             and sum(inner.name == "store" and inner.operands[1] is du for inner in op.regions[0].block.ops) == 3]
    assert loops and all(len(loop.results) >= 3 for loop in loops)
