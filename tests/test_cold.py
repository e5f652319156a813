"""Checked loop copies compiled on first use (runtime/cold.py): not compiled while every
precondition holds; compiled once, and raising exactly the unhoisted error, when one fails;
once per function under concurrent calls; stored with disk-cache entries."""
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import irad
from irad.runtime import cold
from irad.runtime.errors import CompileError


def shift_left(out, a):
    for i in range(out.shape[0]):
        out[i] = a[i + 1] * 2.0
    return out[0]


def native(fn, *args):
    """The CompiledFunction irad.jit(fn) made for args."""
    f = irad.jit(fn)
    f(*args)
    (entry,) = f._compiled.values()
    return f, entry.native


def test_checked_copies_are_compiled_only_when_a_precondition_fails():
    f, compiled = native(shift_left, np.zeros(3), np.arange(4.0))
    assert compiled.signature.cold_slots
    assert '@"irad.checked.shift_left.address" = global ptr null' in compiled.llvm_ir
    assert "define" not in "".join(x for x in compiled.llvm_ir.splitlines() if "irad.checked" in x)
    assert compiled.cold_code._tracker is None
    out = np.zeros(4)
    with pytest.raises(IndexError, match="index 4 is out of bounds for axis 0 with extent 4"):
        f(out, np.arange(4.0))
    np.testing.assert_array_equal(out, [2.0, 4.0, 6.0, 0.0])    # the side effects before the error
    assert compiled.cold_code._tracker is not None
    tracker = compiled.cold_code._tracker
    with pytest.raises(IndexError):
        f(np.zeros(4), np.arange(4.0))
    assert compiled.cold_code._tracker is tracker                 # linked once


def test_concurrent_failing_calls_compile_the_copies_once(monkeypatch):
    f, compiled = native(shift_left, np.zeros(3), np.arange(4.0))
    links = []
    real = cold.ColdCode.materialize

    def counted(self):
        if self._tracker is None:
            links.append(self)
        real(self)
    monkeypatch.setattr(cold.ColdCode, "materialize", counted)
    errors, start = [], threading.Barrier(8)

    def worker():
        start.wait()
        try:
            f(np.zeros(6), np.arange(6.0))
        except IndexError as e:
            errors.append(str(e))
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 8 and all("index 6 is out of bounds" in e for e in errors)
    assert len(links) == 1


def test_a_copy_that_cannot_be_compiled_raises_at_the_loop(monkeypatch):
    f, compiled = native(shift_left, np.zeros(3), np.arange(4.0))

    def broken(self):
        raise RuntimeError("simulated LLVM failure")
    monkeypatch.setattr(cold.ColdCode, "materialize", broken)
    with pytest.raises(CompileError, match="checked copy of this loop") as info:
        f(np.zeros(4), np.arange(4.0))
    assert isinstance(info.value, irad.IradError)
    assert "test_cold.py" in str(info.value) and "for i in range(out.shape[0])" in str(info.value)
    monkeypatch.undo()
    assert f(np.zeros(3), np.arange(4.0)) == 2.0                 # the fast path is unaffected


def test_relinked_object_code_carries_its_copies():
    from irad.runtime import load_compiled
    _, compiled = native(shift_left, np.zeros(3), np.arange(4.0))
    with pytest.raises(ValueError, match="checked loop copies"):
        load_compiled(compiled.signature, compiled.object_code)
    again = load_compiled(compiled.signature, compiled.object_code,
                          cold_code=compiled.cold_object_code())
    with pytest.raises(IndexError, match="index 5 is out of bounds"):
        again(np.zeros(5), np.arange(5.0))


MAIN = """
import numpy as np
import irad

@irad.jit(cache=True)
def shift_left(out, a):
    for i in range(out.shape[0]):
        out[i] = a[i + 1] * 2.0
    return out[0]

print("RESULT", shift_left(np.zeros(3), np.arange(4.0)))
try:
    shift_left(np.zeros(4), np.arange(4.0))
except IndexError as e:
    print("ERROR", e)
"""


def test_a_disk_cache_hit_runs_the_copies_it_stored(tmp_path):
    (tmp_path / "main_mod.py").write_text(textwrap.dedent(MAIN))
    env = dict(os.environ, IRAD_CACHE_DIR=str(tmp_path / "cache"), IRAD_LOG="info")
    logs = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, str(tmp_path / "main_mod.py")], capture_output=True,
                              text=True, env=env, cwd=tmp_path, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "RESULT 2.0" in proc.stdout
        assert "ERROR" in proc.stdout and "main_mod.py:8:18: index 4 is out of bounds for axis 0 " \
            "with extent 4" in proc.stdout
        logs.append(proc.stderr)
    assert "disk-cache miss" in logs[0] and "from the disk cache" in logs[1]
