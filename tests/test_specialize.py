"""passes/specialize.py: loops over (n, K) arrays get a copy with the constant last extent K.

The pass alone on hand-written IR (the copy runs when the extent is K,
the original otherwise, both with the unversioned results; untouched
where it must not apply), gradients over (n, 3) arrays and their
non-matching shapes against finite differences, compiled primals against
CPython, and the vectorized code it exists for."""
import platform
import re
import types

import numpy as np
import pytest

import irad
from irad.interpreter import run
from irad.passes import run_pass
from irad.verifier import verify

import vector_programs as vp

RNG = np.random.default_rng(8)

ROWS = """
func @f(%a: array<f64,2,C>, %out: array<f64,1,C>) -> f64 {
  %c0 = const 0 : i64
  %c1 = const 1 : i64
  %c2 = const 2 : i64
  %z = const 0.0 : f64
  %n = dim %a, 0 : i64
  %s = for %i = %c0 to %n step %c1 iter_args(%acc = %z) -> f64 {
    %x = load %a[%i, %c0] : f64
    %y = load %a[%i, %c2] : f64
    %p = mul %x, %y : f64
    store %p, %a[%i, %c1]
    store %p, %out[%i]
    %acc2 = add %acc, %p : f64
    yield %acc2
  }
  return %s
}
"""


def _func(text=ROWS):
    func = irad.parse_ir(text)["f"]
    verify(func)
    return func


def test_loop_gets_a_copy_for_last_extent_three():
    out = run_pass(_func(), "specialize-extents")
    verify(out)
    names = [op.name for op in out.walk()]
    assert names.count("for") == 2 and "reshape" in names and "if" in names
    view = next(op for op in out.walk() if op.name == "reshape")
    assert view.operands[-1].op.attrs["value"] == 3
    versioned = next(op for op in out.body.block.ops if op.name == "if")
    condition = versioned.operands[0].op                  # eq(dim(a, 1), 3): the last axis
    extent = next(v.op for v in condition.operands if v.op.name == "dim")
    assert extent.attrs["axis"] == 1 and extent.operands[0] is out.args[0]


@pytest.mark.parametrize("shape", [(5, 3), (5, 4), (0, 3), (1, 3), (4, 7), (3, 5), (3, 3)])
def test_both_copies_compute_the_original_results(shape):
    before, after = _func(), run_pass(_func(), "specialize-extents")
    a1 = RNG.normal(size=shape)
    a2 = a1.copy()
    o1, o2 = np.zeros(shape[0]), np.zeros(shape[0])
    r1 = run(before, [a1, o1])
    r2 = run(after, [a2, o2])
    assert r1 == r2
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(o1, o2)


@pytest.mark.parametrize("change", [
    ("%y = load %a[%i, %c2]", "%y = load %a[%i, %i]"),          # a varying last index
    ("[%i, ", "[%c0, "),                                       # no varying row
])
def test_loops_without_constant_columns_of_varying_rows_are_left_alone(change):
    func = _func(ROWS.replace(*change))
    assert str(run_pass(func, "specialize-extents")) == str(func)


def test_variable_columns_are_not_specialized():
    text = irad.jit(vp.columns_by_variable).ir(np.ones((3, 3)), stage="optimized")
    assert "reshape" not in text
    text = irad.jit_gradient(vp.columns_by_variable).ir(np.ones((3, 3)), stage="gradient")
    assert "reshape" not in text


CASES = {
    "pairwise": (vp.pairwise, lambda n, k: (RNG.normal(size=(n, k)), RNG.uniform(0.5, 1.5, n))),
    "batch_euler": (vp.batch_euler, lambda n, k: (RNG.uniform(-1, 1, (n, k)), 0.7)),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("n,k", [(1, 3), (4, 3), (9, 3), (4, 4), (3, 5)])
@pytest.mark.parametrize("adtype", [irad.AutoReverse(), irad.AutoInterpreter()], ids=["native", "interp"])
def test_gradients_match_finite_differences_for_every_last_extent(name, n, k, adtype):
    f, make = CASES[name]
    irad.check_gradient(f, adtype, *make(n, k), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("k", [3, 4])
def test_native_and_interpreter_gradients_agree(name, k):
    f, make = CASES[name]
    args = make(11, k)
    copy = lambda a: [x.copy() if isinstance(x, np.ndarray) else x for x in a]
    native = irad.gradient(f, irad.AutoReverse(), *copy(args))
    interp = irad.gradient(f, irad.AutoInterpreter(), *copy(args))
    for g1, g2 in zip(native, interp):
        np.testing.assert_allclose(g1, g2, rtol=1e-12, atol=1e-14)


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="checks x86 vector instructions")
def test_pairwise_adjoint_divides_in_vector_registers():
    """Without the copy, the adjoint's loop over j stays scalar (LLVM cannot tell row j's
    columns from row j + 1's)."""
    args = (RNG.normal(size=(8, 3)), np.ones(8))
    text = irad.jit_gradient(vp.pairwise).ir(*args, stage="llvm-optimized")
    assert re.search(r"@llvm\.sqrt\.v\d+f64", text)      # the scalar loop's sqrt is llvm.sqrt.f64


def _copies(args):
    return [x.copy() if isinstance(x, np.ndarray) else x for x in args]


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("n,k", [(1, 3), (9, 3), (4, 4), (3, 5)])
def test_primal_gives_python_results_for_every_last_extent(name, n, k):
    """Compiled primals are specialized too (irad/api.py `PRIMAL_PASSES`): the copy for K = 3
    and the original loop both compute what CPython computes, mutations included."""
    f, make = CASES[name]
    args = make(n, k)
    python_args, native_args = _copies(args), _copies(args)
    assert irad.jit(f)(*native_args) == f(*python_args)
    for want, got in zip(python_args, native_args):
        np.testing.assert_array_equal(got, want)


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="checks x86 vector instructions")
def test_primal_loop_over_rows_of_three_vectorizes():
    args = (RNG.normal(size=(8, 3)), np.ones(8))
    f = irad.jit(vp.pairwise)
    assert "reshape" in f.ir(*args, stage="optimized")
    assert re.search(r"@llvm\.sqrt\.v\d+f64", f.ir(*args, stage="llvm-optimized"))


@pytest.mark.parametrize("k", [3, 4])
def test_pullback_gives_the_gradient(k):
    """Split mode specializes its forward and reverse functions too."""
    args = CASES["pairwise"][1](6, k)
    copy = lambda a: [x.copy() if isinstance(x, np.ndarray) else x for x in a]
    value, back = irad.pullback(vp.pairwise, *copy(args))
    expected = irad.gradient(vp.pairwise, *copy(args))
    for seed in (1.0, -2.5):
        for got, want in zip(back(seed), expected):
            np.testing.assert_allclose(got, seed * want, rtol=1e-12, atol=1e-14)


def test_pullback_specializes_forward_and_reverse(monkeypatch):
    """The reverse function defines its constants again (passes/split.py) rather than taking
    them as residuals, so its column indices stay constant and its loops get their copy."""
    import irad.autodiff as autodiff
    seen = {}
    original = autodiff.optimize_split

    def spy(func, options):
        out = original(func, options)
        seen[func.name.rsplit(".", 1)[-1]] = "reshape" in str(out)
        return out

    monkeypatch.setattr(autodiff, "optimize_split", spy)
    uncached = types.FunctionType(vp.pairwise.__code__, vp.pairwise.__globals__)
    irad.pullback(uncached, RNG.normal(size=(5, 3)), np.ones(5))
    assert seen == {"forward": True, "reverse": True}
