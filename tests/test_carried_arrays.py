"""Gradients of programs that rebind array variables in loops and branches.

`passes/carried_arrays.py` gives loop-carried arrays a home buffer before
reverse mode runs; `passes/reverse.py` gives arrays chosen by an `if` a
shadow of their own. Checked against central finite differences (float64) in
the interpreter and natively, the two agreeing to rounding; the pass itself
keeps the program's values and leaves loops it cannot home untouched."""
import numpy as np
import pytest

import carried_programs as cp
import irad
from irad.api import optimize
from irad.interpreter import run
from irad.passes.carried_arrays import home_carried_arrays
from irad.tracer import trace

OPTIONS = {"fastmath": False, "boundscheck": True}


def vec(n=6):
    return np.linspace(0.1, 1.0, n)


CASES = [
    ("loop", cp.loop_rebinds, lambda: (vec(), 3)),
    ("loop_zero_trips", cp.loop_rebinds, lambda: (vec(), 0)),
    ("loop_strided_input", cp.loop_rebinds, lambda: (np.linspace(0.1, 1.0, 12)[::2], 3)),
    ("while", cp.while_rebinds, lambda: (vec(), 0.5)),
    ("branch_in_loop", cp.branch_in_loop, lambda: (vec(), 4)),
    ("branch_keeps_in_loop", cp.branch_keeps_in_loop, lambda: (vec(), 4)),
    ("reversed_view", cp.reversed_view, lambda: (vec(), 3)),
    ("nested_loops", cp.nested_loops, lambda: (vec(), 2)),
    ("matrix", cp.matrix_iteration, lambda: (np.linspace(0.0, 1.0, 6).reshape(2, 3), 3)),
    ("fortran_matrix", cp.matrix_iteration, lambda: (np.asfortranarray(np.linspace(0, 1, 6).reshape(2, 3)), 2)),
    ("keeps_the_input", cp.keeps_the_input, lambda: (vec(), 3)),
    ("copied_stencil", cp.copied_stencil, lambda: (vec(8), 4)),
    ("branch_fresh_then", cp.branch_fresh, lambda: (vec(), 1.0)),
    ("branch_fresh_else", cp.branch_fresh, lambda: (vec(), -1.0)),
    ("branch_or_input_then", cp.branch_or_input, lambda: (vec(), 1.0)),
    ("branch_or_input_else", cp.branch_or_input, lambda: (vec(), -1.0)),
    ("branch_then_written", cp.branch_then_written, lambda: (vec(), 1.0)),
    ("branches_in_loop", cp.branches_in_loop_read_only, lambda: (vec(), 3)),
    ("conditional_expression", cp.conditional_expression_of_input, lambda: (vec(), -1.0)),
    ("branch_scratch", cp.branch_scratch, lambda: (vec(), 1.0)),
    ("swapped_buffers", cp.swapped_buffers, lambda: (vec(), 5)),
    ("swapped_buffers_even", cp.swapped_buffers, lambda: (vec(), 4)),
    ("swapped_buffers_zero_trips", cp.swapped_buffers, lambda: (vec(), 0)),
    ("rotated_three", cp.rotated_three, lambda: (vec(), 4)),
    ("rotated_three_one_trip", cp.rotated_three, lambda: (vec(), 1)),
]


def test_swapped_buffers_in_explicit_loops_with_an_active_scalar():
    x = vec(7)
    want = irad.gradient(cp.swapped_in_loops, irad.AutoFiniteDifferences(), x.copy(), 5, 0.3)
    interp = irad.gradient(cp.swapped_in_loops, irad.AutoInterpreter(), x.copy(), 5, 0.3)
    native = irad.gradient(cp.swapped_in_loops, x.copy(), 5, 0.3)
    np.testing.assert_allclose(interp[0], want[0], rtol=1e-5, atol=1e-7)
    assert interp[2] == pytest.approx(want[2], rel=1e-5)
    np.testing.assert_allclose(native[0], interp[0], rtol=1e-12)
    assert native[2] == pytest.approx(interp[2], rel=1e-12)


@pytest.mark.parametrize("name,fn,make", CASES, ids=[c[0] for c in CASES])
def test_gradient_matches_finite_differences_and_targets_agree(name, fn, make):
    x, n = make()
    after_python = x.copy()
    fn(after_python, n)
    want = irad.gradient(fn, irad.AutoFiniteDifferences(), x.copy(), n)[0]
    interp = irad.gradient(fn, irad.AutoInterpreter(), x.copy(), n)[0]
    native = irad.gradient(fn, x, n)[0]
    np.testing.assert_allclose(x, after_python, rtol=1e-14)   # the argument ends as in CPython
    np.testing.assert_allclose(interp, want, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(native, interp, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name,fn,make", CASES[:12], ids=[c[0] for c in CASES[:12]])
def test_homing_keeps_the_values(name, fn, make):
    x, n = make()
    primal = optimize(trace(fn, [x, n]).func, OPTIONS)
    homed = home_carried_arrays(primal)
    assert run(homed, [x.copy(), n]) == run(primal, [x.copy(), n])


def carried_arrays(func):
    return [a for op in func.walk() if op.name in ("for", "while")
            for a in op.regions[-1].block.args if a.type.is_array]


def test_homed_loop_carries_no_array_and_copies_into_its_home():
    primal = optimize(trace(cp.loop_rebinds, [vec(), 3]).func, OPTIONS)
    assert carried_arrays(primal)
    homed = home_carried_arrays(primal)
    assert not carried_arrays(homed)
    top = [op.name for op in homed.body.block.ops]
    loop = next(op for op in homed.body.block.ops if op.name == "for")
    assert top.index("alloc") < top.index("copy") < top.index("for")
    assert loop.regions[0].block.ops[-2].name == "copy"


def test_loop_writing_its_carried_array_is_left_alone():
    primal = optimize(trace(cp.swapped_buffers, [vec(), 3]).func, OPTIONS)   # reverse mode permutes
    assert str(home_carried_arrays(primal)) == str(primal)


def test_homing_does_not_mutate_its_input():
    primal = optimize(trace(cp.loop_rebinds, [vec(), 3]).func, OPTIONS)
    text = str(primal)
    home_carried_arrays(primal)
    assert str(primal) == text


@pytest.mark.parametrize("fn,line,message", [
    (cp.chosen_input_then_written, "if c > 0:", "an array chosen by a branch and written after it"),
    (cp.written_and_rebound, "for _ in range(steps):", "cannot follow this loop-carried array"),
])
def test_unsupported_rebinding_is_a_clear_error(fn, line, message):
    with pytest.raises(irad.UnsupportedError) as info:
        irad.gradient(fn, vec(), 1.0 if fn is cp.chosen_input_then_written else 3)
    text = str(info.value)
    assert message in text and line in text and "carried_programs.py" in text
    assert "hint:" in text
