"""Timing and machine description for the benchmark runner.

Invariants: `measure` never times its `reset` callback; it calls `call`
`warmup` times untimed first, then times single calls until both
`min_repeats` calls and `min_time` seconds of timed calls are reached (or
`max_repeats`), with the garbage collector off; it reports the median and
the minimum in milliseconds. `compare` does the same for several calls,
interleaved in rounds, so that tools compared with each other see the
same background load. `per_call` times a tight loop of calls and reports
seconds per call, for calls too short to time one by one.
"""
from __future__ import annotations

import datetime
import gc
import os
import platform
import statistics
import sys
import time


def measure(call, reset=None, *, min_time=1.0, warmup=1, min_repeats=5, max_repeats=100_000):
    """(median ms, min ms, repeats) of `call()`, `reset()` run untimed before each call."""
    times = _samples(call, reset, min_time=min_time, warmup=warmup, min_repeats=min_repeats,
                     max_repeats=max_repeats)
    return statistics.median(times) * 1e3, min(times) * 1e3, len(times)


def compare(calls: dict, *, min_time=1.0, rounds=5, warmup=1, min_repeats=5,
            max_repeats=100_000) -> dict:
    """{key: (median ms, min ms, repeats)} for {key: (call, reset)}, measured interleaved.

    Every call is warmed up first; then `rounds` rounds each time every
    call for min_time / rounds seconds (and at least min_repeats / rounds
    calls), so that slow drifts of the machine's load affect all tools
    alike."""
    for call, reset in calls.values():
        for _ in range(warmup):
            if reset is not None:
                reset()
            call()
    per_round = dict(min_time=min_time / rounds, warmup=0, min_repeats=max(1, -(-min_repeats // rounds)),
                     max_repeats=max(1, max_repeats // rounds))
    samples: dict = {key: [] for key in calls}
    for _ in range(rounds):
        for key, (call, reset) in calls.items():
            samples[key].extend(_samples(call, reset, **per_round))
    return {key: (statistics.median(t) * 1e3, min(t) * 1e3, len(t)) for key, t in samples.items()}


def _samples(call, reset, *, min_time, warmup, min_repeats, max_repeats) -> list[float]:
    """Seconds of single timed calls (see `measure`)."""
    for _ in range(warmup):
        if reset is not None:
            reset()
        call()
    times: list[float] = []
    total = 0.0
    enabled = gc.isenabled()
    gc.disable()
    try:
        while (len(times) < min_repeats or total < min_time) and len(times) < max_repeats:
            if reset is not None:
                reset()
            start = time.perf_counter()
            call()
            elapsed = time.perf_counter() - start
            times.append(elapsed)
            total += elapsed
    finally:
        if enabled:
            gc.enable()
    return times


def first_call_ms(call) -> float:
    """Milliseconds of one call (a first call: compilation included)."""
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1e3


def per_call(fns: dict, args, *, loops=100_000, repeats=7) -> dict:
    """{name: (median, min) seconds per call} of fn(*args) for each fn, over `repeats`
    rounds; each round runs a tight loop of `loops` calls of every fn in turn."""
    samples: dict = {name: [] for name in fns}
    for fn in fns.values():
        fn(*args)
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            for name, fn in fns.items():
                start = time.perf_counter()
                for _ in range(loops):
                    fn(*args)
                samples[name].append((time.perf_counter() - start) / loops)
    finally:
        if enabled:
            gc.enable()
    return {name: (statistics.median(s), min(s)) for name, s in samples.items()}


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def version_of(module: str) -> str | None:
    try:
        mod = __import__(module)
    except Exception:
        return None
    return getattr(mod, "__version__", "unknown")


def machine_info() -> dict:
    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "numpy": version_of("numpy"),
        "llvmlite": version_of("llvmlite"),
        "numba": version_of("numba"),
        "irad": version_of("irad"),
        "jax": version_of("jax"),
        "torch": version_of("torch"),
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "loadavg_start": load_average(),
        "irad_commit": git_state(),
    }


def git_state() -> str | None:
    """HEAD of the repository being measured, with "+dirty" when the tree has changes
    (read-only git commands)."""
    import subprocess
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (head + ("+dirty" if dirty else "")) or None


def load_average() -> float | None:
    """The 1-minute load average (other processes competing for the cores), if known."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None
