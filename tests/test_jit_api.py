"""irad.jit's debugging surface: IR at every stage, IRAD_DUMP, IRAD_LOG."""
import logging

import numpy as np
import pytest

import irad
import programs


@pytest.mark.parametrize("stage,marker", [
    ("typed", "func @p_gauss_seidel("), ("optimized", "func @p_gauss_seidel("),
    ("gradient", "func @p_gauss_seidel.grad("),
    ("llvm", "define "), ("llvm-optimized", "define "), ("asm", "ret"),
])
def test_ir_at_every_stage(stage, marker):
    f = irad.jit(programs.p_gauss_seidel)
    text = f.ir(np.ones(8), 2, stage=stage)
    assert marker in text


def test_typed_ir_differs_from_optimized_ir():
    f = irad.jit(programs.p_range_forms)
    assert f.ir(5) != f.ir(5, stage="optimized")


def test_irad_dump_prints_requested_stages(monkeypatch, capsys):
    monkeypatch.setenv("IRAD_DUMP", "optimized,llvm-optimized")
    irad.jit(programs.p_for_sum)(np.ones(3))
    err = capsys.readouterr().err
    assert "stage optimized" in err and "func @p_for_sum(" in err
    assert "stage llvm-optimized" in err and "define " in err
    assert "stage typed" not in err


def test_irad_log_reports_cause_and_stage_times(caplog):
    with caplog.at_level(logging.INFO, logger="irad"):
        irad.jit(programs.p_for_sum)(np.ones(3))
    (record,) = [r for r in caplog.records if "compiled p_for_sum" in r.getMessage()]
    message = record.getMessage()
    assert "new signature" in message
    for stage in ("trace", "passes", "llvm"):
        assert f"{stage} " in message and " ms" in message


def test_unknown_target_is_rejected():
    with pytest.raises(ValueError, match="target"):
        irad.jit(programs.p_for_sum, target="gpu")


def test_compiling_pauses_the_garbage_collector_and_restores_its_state():
    import gc

    seen = []

    def probe(x):
        return x * 2.0

    original = irad.api.trace

    def tracing(*args, **kwargs):
        seen.append(gc.isenabled())
        return original(*args, **kwargs)

    irad.api.trace = tracing
    try:
        assert gc.isenabled()
        irad.jit(probe)(1.0)
        assert gc.isenabled() and seen == [False]
        gc.disable()
        irad.jit(probe)(2.0)
        assert not gc.isenabled()
    finally:
        gc.enable()
        irad.api.trace = original
