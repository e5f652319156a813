"""passes/flatten.py, with the tracer's slice bounds and fold's extent rules it relies on: a
slice stencil's adjoint indexes the shadow itself at constant offsets and is retimed like the
loop-written stencil's.

The pass alone on hand-written IR (source indexed at start + j, one sum
shared by a load and its store, the same results in the interpreter;
untouched where it must not apply), and the gradient of the in-place slice
stencil: one reverse loop per step, no views, against finite differences
(the 2-D stencil's: tests/test_retime.py)."""
import numpy as np
import pytest

import irad
from irad.interpreter import run
from irad.passes import run_pass
from irad.verifier import verify

RNG = np.random.default_rng(41)

SHIFTED = """
func @f(%d: array<f64,1,C>, %x: array<f64,1,C>) -> f64 {
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  %c2 = const 2 : i64
  %z = const 0.0 : f64
  %n = dim %x, 0 : i64
  %n2 = add %n, %c2 : i64
  %v = view %d[%c2:%n2:%c1] : array<f64,1,strided>
  for %i = %c0 to %n step %c1 {
    %a = load %x[%i] : f64
    %b = load %v[%i] {inbounds = true} : f64
    %s = add %b, %a {reassoc = true} : f64
    store %s, %v[%i] {inbounds = true}
    yield
  }
  return %z
}
"""


def _func(text=SHIFTED):
    func = irad.parse_ir(text)["f"]
    verify(func)
    return func


def test_view_accesses_index_the_source_at_start_plus_j():
    out = run_pass(_func(), "flatten-views")
    verify(out)
    loop = next(op for op in out.walk() if op.name == "for")
    accesses = [op for op in loop.regions[0].walk() if op.name in ("load", "store") and op.attrs.get("inbounds")]
    assert [op.operands[0 if op.name == "load" else 1] for op in accesses] == [out.args[0]] * 2
    index = accesses[0].operands[-1]
    assert accesses[1].operands[-1] is index                       # one sum for the load and the store
    assert index.op.name == "add" and index.op.operands[0] is loop.regions[0].block.args[0]
    assert index.op.operands[1].op.attrs["value"] == 2


@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_flattened_accesses_compute_the_same(n):
    before, after = _func(), run_pass(_func(), "flatten-views")
    x, d = RNG.normal(size=n), RNG.normal(size=n + 2)
    d1, d2 = d.copy(), d.copy()
    run(before, [d1, x])
    run(after, [d2, x])
    np.testing.assert_array_equal(d2, d1)


@pytest.mark.parametrize("change", [
    (" {inbounds = true}", ""),                                                  # checked accesses
    ("view %d[%c2:%n2:%c1]", "view %d[%c2:%n2:%c2]"),                           # step 2
])
def test_accesses_it_must_not_touch_are_left_alone(change):
    func = _func(SHIFTED.replace(*change))
    assert str(run_pass(func, "flatten-views")) == str(func)


def heat_slices(u, steps, alpha):
    for _ in range(steps):
        u[1:-1] = u[1:-1] + alpha * (u[:-2] - 2.0 * u[1:-1] + u[2:])
    return np.sum(u * u)


def test_slice_stencil_adjoint_is_one_retimed_loop_per_step():
    """The three slices share one extent (tracer bounds, `dim` and integer folding), so their
    loop indexes plainly; the adjoint's views flatten to du at i, i + 1, i + 2; retime carries
    them in registers and fuse-loops merges the copy of du[1:-1] into the same sweep."""
    g = irad.jit_gradient(heat_slices)
    g(np.linspace(0.0, 1.0, 9), irad.Const(3), 0.2)
    grad = next(iter(g.differentiator.programs.values())).grad
    reverse_step = [op for op in grad.walk() if op.name == "for"
                    and any(inner.name == "tape_read" for inner in op.regions[0].walk())][0]
    inner = [op for op in reverse_step.regions[0].block.ops if op.name == "for"]
    assert len(inner) == 1 and len(inner[0].results) == 4          # dalpha and three registers
    assert not any(op.name in ("view", "alloc") for op in reverse_step.regions[0].walk())


def test_slice_stencil_primal_loop_indexes_plainly():
    text = irad.jit(heat_slices).ir(np.ones(6), 2, 0.2, stage="optimized")
    assert " mul %i" not in text and "check" not in text


@pytest.mark.parametrize("n", [1, 2, 3, 4, 9])
@pytest.mark.parametrize("adtype", [irad.AutoReverse(), irad.AutoInterpreter()], ids=["native", "interp"])
def test_slice_stencil_gradient_matches_finite_differences(n, adtype):
    u = np.sin(np.linspace(0.0, 3.0, n))
    irad.check_gradient(heat_slices, adtype, u, irad.Const(4), 0.2, rtol=1e-6, atol=1e-8)
