"""The tracer's differential suite (CPython vs target='interpreter'), IR
round trips, specialization and caching of signatures."""
import numpy as np
import pytest

import irad
import programs
from differential import check_program, fresh

CASES = programs.args_list()


@pytest.mark.parametrize("name,fn,make", CASES, ids=[c[0] for c in CASES])
def test_interpreter_matches_cpython(name, fn, make):
    check_program(fn, make, irad.jit(fn, target="interpreter"))


@pytest.mark.parametrize("name,fn,make", CASES, ids=[c[0] for c in CASES])
def test_printed_ir_round_trips(name, fn, make):
    text = irad.jit(fn, target="interpreter").ir(*fresh(make))
    assert str(irad.parse_ir(text)).rstrip("\n") == text


def test_ir_has_source_line_comments():
    text = irad.jit(programs.p_for_sum, target="interpreter").ir(np.ones(3))
    assert "# programs.py:" in text
    assert "load %x[%i] : f64" in text


def test_second_call_with_same_signature_does_not_trace_again(monkeypatch):
    import irad.api as api
    calls = []
    real = api.trace
    monkeypatch.setattr(api, "trace", lambda fn, args: calls.append(1) or real(fn, args))
    f = irad.jit(programs.p_for_sum, target="interpreter")
    f(np.ones(3))
    f(np.ones(5))
    assert len(calls) == 1
    f(np.ones(3, dtype=np.float32))
    f(np.ones((3, 3))[:, 0])
    assert len(calls) == 3
    assert len(f.signatures) == 3


def test_global_array_is_captured_by_reference():
    before = programs.COUNTS.copy()
    f = irad.jit(programs.p_global_mutation, target="interpreter")
    assert f(1) == before[1] + 1
    assert programs.COUNTS[1] == before[1] + 1


def test_static_arguments_are_part_of_the_signature():
    f = irad.jit(programs.p_static_string, target="interpreter")
    assert f(2.0, "double") == 4.0
    assert f(2.0, "keep") == 2.0
    assert len(f.signatures) == 2


from hypothesis import given, settings, strategies as st  # noqa: E402

finite = st.floats(-1e6, 1e6, allow_nan=False)
small_ints = st.integers(-10**6, 10**6)
nonzero_ints = small_ints.filter(lambda v: v != 0)


@settings(max_examples=40, deadline=None)
@given(a=small_ints, b=nonzero_ints)
def test_hypothesis_int_floor_semantics(a, b):
    f = irad.jit(programs.p_floor_neg, target="interpreter")
    assert f(a, b) == programs.p_floor_neg(a, b)


@settings(max_examples=40, deadline=None)
@given(x=finite, y=finite.filter(lambda v: abs(v) > 1e-3))
def test_hypothesis_float_floor_semantics(x, y):
    f = irad.jit(programs.p_float_floor, target="interpreter")
    assert f(x, y) == programs.p_float_floor(x, y)


@settings(max_examples=30, deadline=None)
@given(a=st.integers(-30, 30), b=st.integers(-30, 30), s=st.integers(-7, 7).filter(bool))
def test_hypothesis_range_any_step(a, b, s):
    f = irad.jit(programs.p_range_runtime_step, target="interpreter")
    assert f(a, b, s) == programs.p_range_runtime_step(a, b, s)


@settings(max_examples=30, deadline=None)
@given(xs=st.lists(finite, min_size=1, max_size=12), t=finite)
def test_hypothesis_break_and_continue(xs, t):
    x = np.array(xs)
    assert irad.jit(programs.p_break, target="interpreter")(x, t) == programs.p_break(x, t)
    assert irad.jit(programs.p_continue, target="interpreter")(x) == programs.p_continue(x)


@settings(max_examples=30, deadline=None)
@given(xs=st.lists(finite, min_size=3, max_size=12), steps=st.integers(0, 4))
def test_hypothesis_heat_mutation(xs, steps):
    u1, u2 = np.array(xs), np.array(xs)
    expected = programs.p_heat(u1, steps, 0.2)
    actual = irad.jit(programs.p_heat, target="interpreter")(u2, steps, 0.2)
    np.testing.assert_allclose(actual, expected, rtol=1e-12)
    np.testing.assert_allclose(u2, u1, rtol=1e-12)


@pytest.mark.parametrize("name,fn,make", CASES, ids=[c[0] for c in CASES])
def test_native_matches_cpython(name, fn, make):
    check_program(fn, make, irad.jit(fn))


def test_concurrent_first_calls_compile_once(monkeypatch):
    import threading

    import irad.api as api
    calls = []
    real = api.trace
    monkeypatch.setattr(api, "trace", lambda fn, args: calls.append(1) or real(fn, args))
    f = irad.jit(programs.p_for_sum)
    results = []
    threads = [threading.Thread(target=lambda: results.append(f(np.ones(50)))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [50.0] * 4 and len(calls) == 1


def test_boundary_surprises_are_typing_errors_or_new_signatures():
    f = irad.jit(programs.p_for_sum)
    f(np.ones(3))
    assert f(np.ones((2, 2))[0]) == 2.0
    with pytest.raises(irad.TypingError, match="byte order"):
        f(np.ones(3, dtype=">f8"))
    with pytest.raises(irad.TypingError, match="complex128"):
        f(np.ones(3, dtype=complex))
    with pytest.raises(irad.IradError):
        irad.jit(programs.p_for_sum)(np.ones((2, 2)))


def test_a_carried_index_that_only_grows_from_zero_needs_no_negative_wrap():
    """A loop-carried integer keeps its lower bound while every value it takes respects it:
    `a[idx]` then loads without Python's `idx + n if idx < 0` normalization."""
    typed = irad.jit(programs.p_packed_triangle).ir(programs.vec(10), np.zeros((4, 4)))
    assert "select" not in typed and " lt " not in typed


@pytest.mark.parametrize("fn", [programs.p_carried_index_falls_below_zero,
                                programs.p_carried_index_reset_on_a_branch])
def test_a_carried_index_that_may_turn_negative_keeps_the_wrap(fn):
    typed = irad.jit(fn).ir(programs.vec(9))
    assert "select" in typed
