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
