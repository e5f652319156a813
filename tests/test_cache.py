"""The on-disk cache: a new process loads object code without tracing; an
edited helper in another module, a rebound global or a corrupt entry is a
miss that recompiles and rewrites the entry."""
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

MAIN = """
import numpy as np
import irad
from helper_mod import helper

SCALE = {scale}

@irad.jit(cache=True)
def f(x):
    s = 0.0
    for i in range(len(x)):
        s += helper(x[i]) * SCALE
    return s

print("RESULT", f(np.arange(4.0)))
"""


def write(tmp: Path, helper_body="return v * v", scale="2.0"):
    (tmp / "helper_mod.py").write_text(f"def helper(v):\n    {helper_body}\n")
    (tmp / "main_mod.py").write_text(textwrap.dedent(MAIN.format(scale=scale)))


def run(tmp: Path):
    env = dict(os.environ, IRAD_CACHE_DIR=str(tmp / "cache"), IRAD_LOG="info",
               PYTHONPATH=str(tmp))
    proc = subprocess.run([sys.executable, str(tmp / "main_mod.py")], capture_output=True, text=True,
                          env=env, cwd=tmp, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = float(proc.stdout.split("RESULT")[1])
    return result, proc.stderr


@pytest.fixture
def project(tmp_path):
    write(tmp_path)
    return tmp_path


def entries(tmp: Path):
    return sorted((tmp / "cache").glob("*.irad"))


def test_second_process_loads_from_disk_without_compiling(project):
    result, log = run(project)
    assert result == 28.0 and "disk-cache miss" in log
    assert len(entries(project)) == 1
    result, log = run(project)
    assert result == 28.0
    assert "from the disk cache" in log and "compiled" not in log


def test_editing_a_helper_in_another_module_invalidates(project):
    run(project)
    write(project, helper_body="return v * v * v")
    result, log = run(project)
    assert result == 2.0 * (0 + 1 + 8 + 27)
    assert "disk-cache miss" in log
    result, log = run(project)
    assert "from the disk cache" in log


def test_rebinding_a_global_constant_invalidates(project):
    run(project)
    write(project, scale="3.0")
    result, log = run(project)
    assert result == 42.0 and "disk-cache miss" in log


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_entry_is_ignored_and_rewritten(project, damage):
    run(project)
    (entry,) = entries(project)
    data = entry.read_bytes()
    entry.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x00" * 100, "empty": b""}[damage])
    result, log = run(project)
    assert result == 28.0 and "disk-cache miss" in log
    result, log = run(project)
    assert "from the disk cache" in log


@pytest.mark.parametrize("library", ["runtime", "support"])
def test_shared_libraries_are_cached_and_a_corrupt_copy_is_rebuilt(project, library):
    run(project)
    (path,) = (project / "cache").glob(f"{library}-*.o")
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 3])
    result, log = run(project)
    assert result == 28.0 and "from the disk cache" in log
    assert path.read_bytes() == good


def _exact_tanh_project(project):
    from irad.runtime import exactmath
    if not exactmath.supported():
        pytest.skip("no exact vector math on this host")
    (project / "helper_mod.py").write_text("import math\n\ndef helper(v):\n    return math.tanh(v)\n")
    return exactmath.FUNCTIONS["tanh"].vector


def test_cached_code_calling_exact_vector_math_links_in_a_new_process(project):
    """A loop of tanh calls the exact vector tanh, a shared library of its own: the first
    process builds and caches it, the second loads the entry and links the library from
    the cache before ever lowering a tanh."""
    vector = _exact_tanh_project(project)
    first, log = run(project)
    assert "disk-cache miss" in log
    (entry,) = entries(project)
    assert vector.encode() in entry.read_bytes()         # the cached code calls the vector tanh
    (library,) = (project / "cache").glob("exact-tanh-*.o")
    built = library.stat().st_mtime_ns
    second, log = run(project)
    assert "from the disk cache" in log and second == first
    assert library.stat().st_mtime_ns == built            # loaded, not built again
    want = 0.0
    for v in range(4):
        want += math.tanh(float(v)) * 2.0
    assert first == want


def test_cached_code_is_compiled_again_where_the_exact_function_fails_the_host_check(project):
    """An entry that calls an exact vector function whose host check fails here (another
    libm) is a miss: compiled again, with libm's scalar calls."""
    _exact_tanh_project(project)
    first, _ = run(project)
    (project / "sitecustomize.py").write_text(
        "from irad.runtime import exactmath\nexactmath.agrees_with_libm = lambda *args: False\n")
    second, log = run(project)
    assert "disk-cache miss" in log and second == first
