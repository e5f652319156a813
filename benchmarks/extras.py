"""Measurements beside the suite: compile time, disk-cache warm start, call overhead.

- `compile_times`: the first call of a fresh `irad.jit`, `irad.jit_gradient`
  and `numba.njit` of `kernels.thirty_lines` (about 30 lines), repeated with
  fresh objects; process-wide one-time set-up (LLVM initialization) is
  excluded by compiling something else first. irad's per-stage split comes
  from its IRAD_LOG=info record of each compilation.
- `warm_start`: a fresh subprocess populates an IRAD_CACHE_DIR, then fresh
  subprocesses time the first call of `thirty_lines` after
  `import irad, irad.runtime` (imports and argument creation are outside
  the timed region).
- `call_overhead`: seconds per call of `kernels.tiny` (three arrays and a
  scalar) in a tight loop, irad vs Numba vs plain CPython.

`run_all` runs them in a fresh interpreter (`python extras.py [--quick]`
prints the JSON) that never imports JAX or PyTorch.
"""
from __future__ import annotations

import inspect
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import kernels
import peers
import timing

HERE = Path(__file__).resolve().parent


class _StageLog(logging.Handler):
    """Collects irad's 'compiled ...: trace X ms, passes Y ms, llvm Z ms' records."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.records: list[dict] = []

    def emit(self, record):
        msg = record.getMessage()
        if msg.startswith("compiled "):
            stages = dict((k, float(v)) for k, v in re.findall(r"(\w+) ([0-9.]+) ms", msg))
            self.records.append(stages)


def compile_times(repeats: int = 5) -> dict:
    import irad
    fn = kernels.thirty_lines
    lines = len(inspect.getsourcelines(fn)[0])
    irad.jit(kernels.tiny)(*kernels.tiny_args())          # one-time LLVM set-up, not counted
    logger = logging.getLogger("irad")
    handler, old_level = _StageLog(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        primal = [timing.first_call_ms(lambda: irad.jit(fn)(*kernels.thirty_lines_args()))
                  for _ in range(repeats)]
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    gradient = [timing.first_call_ms(lambda: irad.jit_gradient(fn)(*kernels.thirty_lines_args()))
                for _ in range(repeats)]
    out = {"function": "kernels.thirty_lines", "lines": lines, "repeats": repeats,
           "irad_primal_ms": statistics.median(primal), "irad_primal_min_ms": min(primal),
           "irad_gradient_ms": statistics.median(gradient), "irad_gradient_min_ms": min(gradient),
           "irad_primal_stages_ms": {k: statistics.median(r.get(k, 0.0) for r in handler.records)
                                     for k in (handler.records[0] if handler.records else {})},
           "numba_ms": None, "numba_min_ms": None, "notes": ""}
    ok, why = peers.available("numba")
    if ok:
        numba_times = [timing.first_call_ms(lambda: peers.numba_version(fn)(*kernels.thirty_lines_args()))
                       for _ in range(repeats)]
        out["numba_ms"], out["numba_min_ms"] = statistics.median(numba_times), min(numba_times)
    else:
        out["notes"] = why
    return out


_CHILD = r"""
import json, sys, time
sys.path.insert(0, {here!r})
import kernels
args = kernels.thirty_lines_args()
t0 = time.perf_counter()
import irad, irad.runtime
t1 = time.perf_counter()
f = irad.jit(kernels.thirty_lines)
f(*args)
t2 = time.perf_counter()
f(*kernels.thirty_lines_args())
t3 = time.perf_counter()
print(json.dumps({{"import_ms": (t1 - t0) * 1e3, "first_call_ms": (t2 - t1) * 1e3,
                  "second_call_ms": (t3 - t2) * 1e3}}))
"""


def _child(cache_dir: str) -> dict:
    env = dict(os.environ, IRAD_CACHE_DIR=cache_dir)
    env.pop("IRAD_LOG", None)
    env.pop("IRAD_DUMP", None)
    proc = subprocess.run([sys.executable, "-c", _CHILD.format(here=str(HERE))], env=env,
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"warm-start child failed: {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def warm_start(repeats: int = 5) -> dict:
    with tempfile.TemporaryDirectory(prefix="irad-bench-cache-") as cache_dir:
        cold = _child(cache_dir)
        entries = len(list(Path(cache_dir).glob("*.irad")))
        warm = [_child(cache_dir) for _ in range(repeats)]
    first = [w["first_call_ms"] for w in warm]
    return {"function": "kernels.thirty_lines", "repeats": repeats, "cache_entries": entries,
            "warm_first_call_ms": statistics.median(first), "warm_first_call_min_ms": min(first),
            "cold_first_call_ms": cold["first_call_ms"],
            "import_ms": statistics.median(w["import_ms"] for w in warm),
            "notes": ("first call after `import irad, irad.runtime` in a fresh process whose "
                      "IRAD_CACHE_DIR was populated by a previous process; cold = the populating "
                      "process's first call (compile, LLVM initialization included)"
                      + ("" if entries else "; WARNING: no cache entry was written"))}


def call_overhead(loops: int = 100_000, repeats: int = 7) -> dict:
    import irad
    args = kernels.tiny_args()
    fns = {"irad": irad.jit(kernels.tiny), "python": kernels.tiny}
    ok, why = peers.available("numba")
    if ok:
        fns["numba"] = peers.numba_version(kernels.tiny)
    out: dict = {"function": "kernels.tiny(a, b, c, s) -> a[0] * s + b[0] + c[0]", "loops": loops,
                 "repeats": repeats, "notes": "" if ok else why}
    want = kernels.tiny(*args)
    for name in list(fns):
        if fns[name](*args) != want:
            del fns[name]
            out[f"{name}_us"] = None
            out["notes"] += f" {name}: wrong result;"
    for name, (med, best) in timing.per_call(fns, args, loops=loops, repeats=repeats).items():
        out[f"{name}_us"], out[f"{name}_min_us"] = med * 1e6, best * 1e6
    out.setdefault("numba_us", None)
    return out


def jax_call_overhead(loops: int = 20_000, repeats: int = 7) -> dict:
    """The same tiny call through jax.jit on device arrays (its own process: see run_all)."""
    ok, why = peers.available("jax")
    if not ok:
        return {"jax_us": None, "notes": why}
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    a, b, c, s = kernels.tiny_args()
    args = (jnp.asarray(a), jnp.asarray(b), jnp.asarray(c), s)
    fn = jax.jit(kernels.tiny)
    if float(fn(*args)) != kernels.tiny(*kernels.tiny_args()):
        return {"jax_us": None, "notes": "jax: wrong result"}
    fn(*args).block_until_ready()
    (med, best), = timing.per_call({"jax": lambda *x: fn(*x).block_until_ready()}, args,
                                  loops=loops, repeats=repeats).values()
    return {"jax_us": med * 1e6, "jax_min_us": best * 1e6}


def measure_all(quick: bool) -> dict:
    """All three measurements, in this process (see `run_all`)."""
    return {"compile": compile_times(3 if quick else 7), "warm_start": warm_start(3 if quick else 7),
            "call_overhead": call_overhead(20_000 if quick else 200_000)}


def run_all(quick: bool, log=print) -> dict:
    """The extras, measured in a fresh interpreter that imports only irad and Numba (JAX and
    PyTorch, once imported by the suite, slow down Python-level dispatch and share the CPU)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(HERE / "extras.py")] + (["--quick"] if quick else []),
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"extras subprocess failed: {proc.stderr.strip()[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    jax_proc = subprocess.run([sys.executable, str(HERE / "extras.py"), "--jax-overhead"],
                              capture_output=True, text=True, timeout=600)
    if jax_proc.returncode == 0:
        out["call_overhead"].update(json.loads(jax_proc.stdout.strip().splitlines()[-1]))
    comp, over = out["compile"], out["call_overhead"]
    log(f"  compile: {comp['irad_primal_ms']:.0f} ms primal, {comp['irad_gradient_ms']:.0f} ms gradient; "
        f"warm start {out['warm_start']['warm_first_call_ms']:.1f} ms; call overhead irad "
        f"{over.get('irad_us') or float('nan'):.2f} us ({time.perf_counter() - start:.0f} s)")
    return out


if __name__ == "__main__":
    if "--jax-overhead" in sys.argv[1:]:
        print(json.dumps(jax_call_overhead()))
    else:
        print(json.dumps(measure_all("--quick" in sys.argv[1:])))
