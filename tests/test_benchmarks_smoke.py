"""Smoke test of the benchmark suite (benchmarks/suite): no timing.

Each suite function is compiled by irad and run once at its "tiny" size;
its result and the arrays it mutates must equal CPython's. The tiny
arguments must have the same irad signature as the timed ones (the runner
measures compile time on them). Numba is not needed; when it is
installed, its build of the same function is checked on two benchmarks
(the runner checks every Numba result against irad before timing it).
"""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import pytest

import irad
from irad.tracer import signature_key

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import suite  # noqa: E402

REQUIRED = ("NAME", "DESCRIPTION", "FUNCTION", "SIZES", "DIFF", "MUTATES", "make_args")


def fresh(args):
    return tuple(copy.deepcopy(a) for a in args)


def assert_same(got_value, got_args, want_value, want_args, mutated):
    np.testing.assert_allclose(got_value, want_value, rtol=1e-10, atol=1e-12)
    for i in mutated:
        np.testing.assert_allclose(got_args[i], want_args[i], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", suite.NAMES)
def test_module_interface(name):
    mod = suite.load(name)
    for attr in REQUIRED:
        assert hasattr(mod, attr), f"suite/{name}.py lacks {attr}"
    assert mod.NAME == name
    assert set(mod.SIZES) == {"tiny", "quick", "full"}
    tiny = mod.make_args(**mod.SIZES["tiny"])
    assert all(0 <= i < len(tiny) for i in (*mod.DIFF, *mod.MUTATES))
    assert all(isinstance(tiny[i], np.ndarray) for i in mod.MUTATES)
    quick = mod.make_args(**mod.SIZES["quick"])      # "full" is only bigger, and slow to build
    assert [signature_key(a) for a in quick] == [signature_key(a) for a in tiny]


@pytest.mark.parametrize("name", suite.NAMES)
def test_irad_matches_cpython(name):
    mod = suite.load(name)
    args = mod.make_args(**mod.SIZES["tiny"])
    got_args, want_args = fresh(args), fresh(args)
    got = irad.jit(mod.FUNCTION)(*got_args)
    want = mod.FUNCTION(*want_args)
    assert_same(got, got_args, want, want_args, mod.MUTATES)


@pytest.mark.parametrize("name", ["heat", "ba"])      # ba: helpers calling helpers
def test_numba_matches_cpython(name):
    pytest.importorskip("numba")
    import peers
    mod = suite.load(name)
    args = mod.make_args(**mod.SIZES["tiny"])
    got_args, want_args = fresh(args), fresh(args)
    got = peers.numba_version(mod.FUNCTION)(*got_args)
    want = mod.FUNCTION(*want_args)
    assert_same(got, got_args, want, want_args, mod.MUTATES)


def test_hand_written_adjoints_match_irad():
    """The hand-written adjoints (plain Python here) agree with irad's gradients."""
    for name in suite.NAMES:
        mod = suite.load(name)
        adjoint = getattr(mod, "ADJOINT", None)
        if adjoint is None:
            continue
        args = mod.make_args(**mod.SIZES["tiny"])
        want = adjoint(*fresh(args))
        annotated = [a if i in mod.DIFF else irad.Const(a) for i, a in enumerate(fresh(args))]
        got = irad.gradient(mod.FUNCTION, *annotated)
        for k, i in enumerate(mod.DIFF):
            np.testing.assert_allclose(0.0 if got[i] is None else got[i], want[k], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["heat"])
def test_tape_bytes_agree_with_irad(name):
    """The runner's native tape measure (split-mode tapes) equals irad's interpreter count."""
    tape_bytes = getattr(__import__("irad.autodiff").autodiff, "tape_bytes", None)
    if tape_bytes is None:
        pytest.skip("irad.autodiff.tape_bytes is not available")
    import run
    mod = suite.load(name)
    args = mod.make_args(**mod.SIZES["tiny"])
    assert run.tape_bytes(mod, fresh(args))[0] == tape_bytes(mod.FUNCTION, *run.annotate(mod, fresh(args)))


def test_report_renders_missing_peers_as_dashes():
    import report
    results = {"machine": {"cpu": "x", "cores": 1}, "mode": "quick", "pending": suite.PENDING,
               "benchmarks": [{"name": "heat", "size": "n=1", "description": "d", "notes": "",
                               "times_ms": {"irad_primal": 1.0, "irad_gradient": 2.0, "numba_primal": 1.0,
                                            "jax_gradient": None},
                               "compile_ms": {"irad_primal": 1.0, "irad_gradient": None, "numba": None},
                               "tape_bytes": None}],
               "extras": None}
    text = report.readme(results, "")
    assert "| heat | n=1 | 1 | 2 | 1 |" in text           # times: irad primal, gradient, Numba primal
    assert "| heat | 1.00 (—) | 2.00 (—) | 2.00 (—) | — |" in text     # ratios, no minima given
    assert "No times for:" in text and "JAX gradient" in text
