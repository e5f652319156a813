"""passes/copyback.py: a copy-back loop runs inside the loop that fills its scratch array.

Compiled primals against CPython for every length (including the ones
where the loops do not run), written with loops and with slices, the
fused sweep in the optimized IR, the loops it must leave alone, and an
out-of-range access that raises where CPython raises, with the same array
contents."""
import numpy as np
import pytest

import irad
from programs import p_heat


def forward_only(u, alpha):
    """Reads u at i and i + 1 only: u[i] takes its value in iteration i itself."""
    n = u.shape[0]
    tmp = np.zeros(n)
    for i in range(0, n - 1):
        tmp[i] = u[i] + alpha * u[i + 1]
    for i in range(0, n - 1):
        u[i] = tmp[i]
    return tmp[0] if n > 1 else 0.0


def two_behind(u, alpha):
    """Reads u[i - 2]: more than one element behind, left alone."""
    n = u.shape[0]
    tmp = np.zeros(n)
    for i in range(2, n):
        tmp[i] = u[i] - alpha * u[i - 2]
    for i in range(2, n):
        u[i] = tmp[i]
    return u[0]


def reads_another(u, w, alpha):
    """Reads w, which may be u itself: left alone."""
    n = u.shape[0]
    tmp = np.zeros(n)
    for i in range(1, n):
        tmp[i] = u[i] + alpha * w[i - 1]
    for i in range(1, n):
        u[i] = tmp[i]
    return u[0]


def out_of_range(u, k):
    n = u.shape[0]
    tmp = np.zeros(n)
    for i in range(1, n):
        tmp[i] = u[i - 1] + u[i + k]
    for i in range(1, n):
        u[i] = tmp[i]
    return tmp


def slices(u, steps, alpha):
    for _ in range(steps):
        u[1:-1] = u[1:-1] + alpha * (u[:-2] - 2.0 * u[1:-1] + u[2:])
    return u.shape[0]


def augmented(u, steps, alpha):
    for _ in range(steps):
        u[1:-1] += alpha * (u[:-2] - 2.0 * u[1:-1] + u[2:])
    return u.shape[0]


def slices_two_behind(u, alpha):
    u[2:] = u[2:] - alpha * u[:-2]
    return u[0]


def slices_of_another(u, w, alpha):
    u[1:-1] = u[1:-1] + alpha * (w[:-2] - w[2:])
    return u[0]


def _optimized(fn, *args):
    return irad.jit(fn).ir(*args, stage="optimized")


@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_forward_reads_store_in_the_same_iteration(n):
    u = np.cos(np.linspace(0.0, 2.0, n))
    want_u, got_u = u.copy(), u.copy()
    assert irad.jit(forward_only)(got_u, 0.3) == forward_only(want_u, 0.3)
    np.testing.assert_array_equal(got_u, want_u)


def test_forward_reads_store_without_a_register():
    fused = _optimized(forward_only, np.ones(6), 0.3).split("} else {", 1)[0]
    assert "iter_args(%prev" not in fused and fused.count(" for ") == 1


@pytest.mark.parametrize("fn,args", [(two_behind, (np.ones(6), 0.5)),
                                     (reads_another, (np.ones(6), np.ones(6), 0.5)),
                                     (slices_two_behind, (np.ones(6), 0.5)),
                                     (slices_of_another, (np.ones(6), np.ones(6), 0.5))])
def test_loops_it_must_not_fuse_are_left_alone(fn, args):
    assert "} else {" not in _optimized(fn, *args)
    u = np.linspace(1.0, 2.0, 6)
    want, got = u.copy(), u.copy()
    assert irad.jit(fn)(got, *args[1:]) == fn(want, *args[1:])
    np.testing.assert_array_equal(got, want)


def test_reads_of_an_aliased_argument_see_the_old_values():
    u = np.linspace(1.0, 2.0, 6)
    want, got = u.copy(), u.copy()
    assert irad.jit(reads_another)(got, got, 0.5) == reads_another(want, want, 0.5)
    np.testing.assert_array_equal(got, want)


def test_an_out_of_range_read_raises_before_any_copy():
    u = np.linspace(1.0, 2.0, 5)
    with pytest.raises(IndexError):
        out_of_range(u.copy(), 1)
    got = u.copy()
    with pytest.raises(IndexError, match="index 5 is out of bounds"):
        irad.jit(out_of_range)(got, 1)
    np.testing.assert_array_equal(got, u)
    np.testing.assert_array_equal(irad.jit(out_of_range)(u.copy(), 0)[1:], (u[:-1] + u[1:]))


@pytest.mark.parametrize("fn", [p_heat, slices, augmented], ids=["loops", "slices", "augmented"])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 9, 16])
def test_stencils_give_python_results(fn, n):
    """With slices, the copy goes through the view u[1:-1]; the fused loop indexes u itself."""
    u = np.sin(np.linspace(0.0, 3.0, n))
    want, got = u.copy(), u.copy()
    np.testing.assert_array_equal(irad.jit(fn)(got, 4, 0.2), fn(want, 4, 0.2))
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("fn", [p_heat, slices, augmented], ids=["loops", "slices", "augmented"])
def test_stencils_sweep_once(fn):
    text = _optimized(fn, np.ones(6), 2, 0.2)
    assert "iter_args(%prev" in text and text.count("} else {") == 1
