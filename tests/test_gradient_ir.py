"""Golden tests of gradient IR: tapes appear exactly where values are
overwritten (FileCheck patterns in tests/golden/gradient/*.check), and
every gradient IR round-trips through the parser."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import golden_gradient_programs as programs
import irad

GOLDEN = Path(__file__).parent / "golden" / "gradient"
ARGS = {
    "heat_linear": lambda: (np.ones(8), irad.Const(0.2)),
    "read_only_sumsq": lambda: (np.ones(5),),
    "gauss_seidel": lambda: (np.ones(6), 0.3),
    "scale_then_sum": lambda: (np.ones(4), 2.0),
    "newton": lambda: (2.0,),
    "packed_triangle": lambda: (np.ones(4), np.ones(6)),
}


def gradient_ir(name: str) -> str:
    g = irad.jit_gradient(getattr(programs, name), target="interpreter")
    return g.ir(*ARGS[name]())


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.check")), ids=lambda p: p.stem)
def test_gradient_ir_matches_golden(path):
    text = gradient_ir(path.stem)
    proc = subprocess.run([sys.executable, "-m", "filecheck", str(path)], input=text, text=True,
                          capture_output=True)
    assert proc.returncode == 0, f"{proc.stdout}{proc.stderr}\n--- gradient IR:\n{text}"


@pytest.mark.parametrize("name", sorted(ARGS))
def test_gradient_ir_round_trips(name):
    text = gradient_ir(name)
    assert str(irad.parse_ir(text)).rstrip("\n") == text


def test_every_golden_program_is_checked():
    assert {p.stem for p in GOLDEN.glob("*.check")} == set(ARGS)


def test_tape_bytes_are_exactly_the_overwritten_values():
    from irad.autodiff import tape_bytes
    n = 10
    assert tape_bytes(programs.read_only_sumsq, np.ones(n)) == 0
    assert tape_bytes(programs.heat_linear, np.ones(n), irad.Const(0.2)) == 0
    # alpha active: the stencil value that multiplies alpha, once per interior point and step
    assert tape_bytes(programs.heat_linear, np.ones(n), 0.2) == 8 * (n - 2) * 4
    # Gauss-Seidel: u[i] before it is overwritten, once per interior point and sweep
    assert tape_bytes(programs.gauss_seidel, np.ones(n), 0.3) == 8 * (n - 2) * 3
    assert tape_bytes(programs.scale_then_sum, np.ones(n), 2.0) == 8 * n
    # stage values are recomputed from the taped y[i] rather than taped themselves
    assert tape_bytes(programs.midpoint_steps, np.ones(n), 0.5, 0.1) == 8 * n * 3
    # the pair loop's array is snapshotted per step: n values, not n^2 pair terms
    assert tape_bytes(programs.pair_forces, np.linspace(0, 1, n), irad.Const(0.1)) == 8 * n * 2
    # the packed triangle: x[i] once per outer iteration, not once per inner iteration
    # (n(n-1)/2); the carried index is counted back down, not taped
    assert tape_bytes(programs.packed_triangle, np.ones(n), np.ones(n * (n - 1) // 2)) == 8 * n


def test_carried_integers_are_counted_back_down_not_taped():
    import grad_programs as gp
    x, w = np.linspace(-1, 1, 9), np.linspace(-1, 1, 4)
    text = irad.jit_gradient(gp.g_ragged_rows, target="interpreter").ir(x, w)
    int_tapes = re.findall(r"(%tape[.0-9]*) = tape_new : tape<i64>", text)
    # start and end advance by a varying row length: the reverse sweep subtracts it; only the
    # values the row loop ends with are taped, once per repetition, not once per row
    assert len(int_tapes) == 2
    for tape in int_tapes:
        (push,) = [line for line in text.splitlines() if f"tape_push {tape}," in line]
        assert push.startswith("    tape_push")          # in the repetition loop's body
    irad.check_gradient(gp.g_ragged_rows, x.copy(), w)
    irad.check_gradient(gp.g_ragged_rows, irad.AutoInterpreter(), x.copy(), w)
    # split mode: the reverse function counts down from the final values the forward one kept
    want = irad.gradient(gp.g_ragged_rows, x.copy(), w)
    _, back = irad.pullback(gp.g_ragged_rows, x.copy(), w)
    for got in (back(1.0), back(1.0)):
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-12)


def test_split_mode_counts_a_top_level_index_down_from_the_forward_result():
    import grad_programs as gp
    x, lower = np.linspace(0.1, 0.9, 5), np.linspace(-1.0, 1.0, 10)
    want = irad.gradient(gp.g_packed_triangle, x.copy(), lower, 0.7)
    _, back = irad.pullback(gp.g_packed_triangle, x.copy(), lower, 0.7)
    for seed in (1.0, 2.0):
        got = back(seed)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, seed * np.asarray(w), rtol=1e-12, atol=1e-15)


def test_a_load_before_a_snapshotted_nest_reads_the_snapshot():
    import grad_programs as gp
    from irad.autodiff import tape_bytes
    args = (np.linspace(-1, 1, 4), np.linspace(0, 1, 12).reshape(3, 4), np.linspace(1, 2, 12).reshape(3, 4))
    # x is overwritten, so xc's snapshot is taped: per component xc as the nest starts (4
    # values) and q (4); the loop before the nest reads xc from that snapshot, not its own tape
    assert tape_bytes(gp.centered_quadratic(False, scale_x=True), *args) == 3 * (4 + 4) * 8
    # a write to xc between the loop and the nest: the loop tapes what it read
    assert tape_bytes(gp.centered_quadratic(True, scale_x=True), *args) == 3 * (4 + 4 + 4) * 8


def test_a_snapshot_filled_from_unchanged_arrays_is_refilled_not_taped():
    import grad_programs as gp
    from irad.autodiff import tape_bytes
    args = (np.linspace(-1, 1, 4), np.linspace(0, 1, 12).reshape(3, 4), np.linspace(1, 2, 12).reshape(3, 4))
    # xc = x - m[c] from arrays nothing overwrites: the reverse sweep recomputes it; only q is taped
    assert tape_bytes(gp.g_centered_quadratic, *args) == 3 * 4 * 8
    text = irad.jit_gradient(gp.g_centered_quadratic, target="interpreter").ir(*args)
    reverse = text[text.index("tape_rewind"):]
    assert re.search(r"= load %x\[.*\n.*= load %m\[.*\n.*= sub ", reverse)
    irad.check_gradient(gp.g_centered_quadratic, *args)
    irad.check_gradient(gp.g_centered_quadratic, irad.AutoInterpreter(), *args)


def partly_filled(x, m):
    d = x.shape[0]
    xc = np.zeros(d)
    s = 0.0
    for c in range(m.shape[0]):
        for j in range(1, d):             # xc[0] stays 0.0
            xc[j] = x[j] - m[c, j]
        for i in range(d):
            for j in range(d):
                s += xc[i] * xc[j] * m[c, j]
    return s


def test_a_partly_filled_snapshot_is_taped():
    from irad.autodiff import tape_bytes
    args = (np.linspace(-1, 1, 4), np.linspace(0, 1, 12).reshape(3, 4))
    # a fill over 1..d does not define xc[0]: the nest's snapshot of xc is taped (4 per component)
    assert tape_bytes(partly_filled, *args) == 3 * 4 * 8
    irad.check_gradient(partly_filled, *args)
    irad.check_gradient(partly_filled, irad.AutoInterpreter(), *args)


def test_stored_transcendental_results_are_reloaded_not_recomputed():
    text = irad.jit_gradient(programs.tanh_layer, target="interpreter").ir(np.ones(4), 0.5)
    assert text.count(" tanh ") == 1            # the forward sweep's, none in the reverse
    x = np.linspace(-1.0, 1.0, 5)
    irad.check_gradient(programs.tanh_layer, x, 0.5)
    irad.check_gradient(programs.tanh_layer, irad.AutoInterpreter(), x, 0.5)


def _reverse_loop_steps(text: str) -> list:
    """The step operand's sign of each loop in the reverse sweep (after tape_rewind or the
    first loop with no location comment), in order: '+' or '-'."""
    lines = text.splitlines()
    start = next(k for k, line in enumerate(lines) if " for " in line and "#" not in line)
    signs = []
    consts = {m.group(1): int(m.group(2)) for m in
              (re.search(r"(%[\w.]+) = const (-?\d+) : i64", line) for line in lines) if m}
    for line in lines[start:]:
        m = re.search(r" for %[\w.]+ = \S+ to \S+ step (%[\w.]+)", line)
        if m:
            signs.append("+" if consts.get(m.group(1), 0) > 0 else "-")
    return signs


def test_independent_reverse_loops_run_forwards_and_ordered_ones_backwards():
    heat = irad.jit_gradient(programs.heat_linear, target="interpreter").ir(np.ones(8), irad.Const(0.2))
    # the energy sum (its adjoint passes through), the steps (ordered), the copy's and the
    # stencil's adjoint loops fused into one (passes/fuse.py); the scratch array's shadow is
    # zero whenever read (passes/zero_slots.py), so no loop zeroes it
    assert _reverse_loop_steps(heat) == ["+", "-", "+"]
    gs = irad.jit_gradient(programs.gauss_seidel, target="interpreter").ir(np.ones(6), 0.3)
    assert _reverse_loop_steps(gs)[-1] == "-"        # u[i] reads u[i-1]: iterations are ordered
    for fn, args in ((programs.heat_linear, (np.linspace(0, 1, 8), 0.2)),
                     (programs.gauss_seidel, (np.linspace(0, 1, 6), 0.3))):
        irad.check_gradient(fn, *args)
