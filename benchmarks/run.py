"""Run the benchmark suite: irad against Numba (and JAX, PyTorch when installed).

    python benchmarks/run.py [--quick] [--only NAME,...] [--no-extras] [--no-memory] --out results.json

Every benchmark runs in a fresh interpreter (so that none inherits
another's malloc, JIT or import state). For every benchmark in `suite/`
(see suite/__init__.py for what a module defines) and each tool:

1. compile: the first call of a fresh compiled object on the "tiny"
   arguments, which share the timed arguments' signature (`compile_ms`);
2. check: irad's primal against CPython at the tiny size, irad's gradient
   against a directional central difference of irad's compiled primal at
   the timed size, and every other tool against irad at the timed size
   (return value, arrays mutated in place, gradients; np.allclose). A tool
   whose check fails gets no time (None) and a note;
3. time: warm-up, then single calls until a minimum total time (0.2 s
   with --quick, 1 s otherwise) per tool, the tools interleaved in five
   rounds so that they see the same background load; median (`times_ms`)
   and minimum (`min_ms`) in milliseconds. Arrays the function mutates
   are restored before every call, outside the timed region.

Gradients are irad.jit_gradient(f)(*args) with the non-differentiated
arguments wrapped in irad.Const: compiled once, then timed, allocating and
zeroing the gradient shadows on every call as a user's call would.
`irad_gradient_alone` is the same gradient timed in a process that runs
nothing else: tapes are malloc'd and freed on every call, and whether
glibc then page-faults them afresh depends on what the process freed
before (its adaptive mmap and trim thresholds), so both are reported.
`tape_bytes` is what the augmented forward sweep pushes on tapes, read
from the tapes `irad.pullback` keeps (split mode runs the same forward
sweep as the timed combined mode).

`peak_memory_mb` is the peak resident memory of computing a gradient
(irad's, and JAX's and PyTorch's where they passed their check), each in a
fresh process of its own (`gradient_memory`): build the arguments, warm up
with one gradient call (compilation included), free what is free
(gc.collect, malloc_trim), read VmRSS, reset the kernel's high-water mark
(write 5 to /proc/self/clear_refs), make MEMORY_CALLS gradient calls, read
VmHWM; the value is VmHWM - VmRSS in MB (None, with a note, where the
high-water mark cannot be reset). --no-memory skips it.

JAX and PyTorch run vectorized ports of the same losses (ports_jax.py,
ports_torch.py; their loops cannot be traced element by element), jitted
for JAX, eager for PyTorch, all tools single-threaded; JAX's `compile_ms`
entries are first calls at the timed size (one run included). A peer
that is not installed, or has no port of a benchmark, is recorded as None
with a note, never as zero. Extras (compile time of a ~30-line
function, disk-cache warm start, call overhead) are in "extras".

Output: {"machine": {cpu, cores, python, numpy, llvmlite, numba, irad, jax,
torch, platform, date, loadavg_start, loadavg_end, irad_commit}, "mode",
"benchmarks": [{name, description, size, times_ms: {tool: median ms or
None}, min_ms, repeats, compile_ms, tape_bytes, peak_memory_mb: {irad_gradient,
jax_gradient, torch_gradient: MB or None}, checks, notes}],
"pending": {name: why}, "extras": {compile, warm_start, call_overhead},
"total_s"}.
"""
from __future__ import annotations

import argparse
import copy
import ctypes
import gc
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")     # BLAS (NumPy's, SciPy's) single-threaded, like every tool

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import extras  # noqa: E402
import peers  # noqa: E402
import suite  # noqa: E402
import timing  # noqa: E402

TIME_KEYS = ("irad_primal", "irad_gradient", "irad_gradient_alone", "irad_fastmath_primal",
             "irad_fastmath_gradient", "numba_primal", "numba_adjoint",
             "jax_primal", "jax_gradient", "torch_primal", "torch_gradient")
COMPILE_KEYS = ("irad_primal", "irad_gradient", "numba")
MEMORY_KEYS = ("irad_gradient", "jax_gradient", "torch_gradient")
MEMORY_CALLS = 3
FD_STEP, FD_RTOL = 1e-6, 1e-4


# ---- arguments ----------------------------------------------------------------------------------

def fresh(args):
    """A deep copy of an argument tuple (arrays copied)."""
    return tuple(copy.deepcopy(a) for a in args)


def restorer(mod, work, master):
    """reset(): put the arrays `mod.FUNCTION` mutates back to their initial values."""
    pairs = [(work[i], master[i]) for i in mod.MUTATES]

    def reset():
        for w, m in pairs:
            np.copyto(w, m)
    return reset


def annotate(mod, args):
    """irad gradient arguments: DIFF arguments plain, the others irad.Const."""
    import irad
    return tuple(a if i in mod.DIFF else irad.Const(a) for i, a in enumerate(args))


def diff_grads(mod, grads):
    """The gradients of the DIFF arguments, in DIFF order, None as zero."""
    return tuple(0.0 if grads[i] is None else grads[i] for i in mod.DIFF)


# ---- comparisons --------------------------------------------------------------------------------

def close(a, b) -> bool:
    """np.allclose over values, arrays and tuples of them (None matches None)."""
    if a is None or b is None:
        return a is b
    if isinstance(a, tuple) or isinstance(b, tuple):
        return (isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b)
                and all(close(x, y) for x, y in zip(a, b)))
    try:
        return bool(np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                                rtol=1e-5, atol=1e-8, equal_nan=False))
    except (TypeError, ValueError):
        return False


def state_after(mod, args) -> tuple:
    return tuple(np.array(args[i], copy=True) for i in mod.MUTATES)


def directional_check(mod, f, master, grads) -> float:
    """Relative error of <grad, v> against a central difference of irad's primal along v."""
    rng = np.random.default_rng(0)
    plus, minus, dot, scale = list(fresh(master)), list(fresh(master)), 0.0, 0.0
    for i, g in zip(mod.DIFF, diff_grads(mod, grads)):
        x = master[i]
        v = rng.standard_normal(np.shape(x)) if isinstance(x, np.ndarray) else 1.0
        plus[i] = x + FD_STEP * v
        minus[i] = x - FD_STEP * v
        dot += float(np.sum(np.asarray(g) * v))
        scale += float(np.sum(np.abs(np.asarray(g) * v)))
    fd = (f(*plus) - f(*minus)) / (2 * FD_STEP)
    return abs(fd - dot) / max(scale, abs(dot), 1e-300)


def tape_bytes(mod, master) -> tuple[int, int, float]:
    """(bytes on tapes, bytes of function-allocated arrays kept, value) from irad.pullback."""
    import irad
    work = fresh(master)
    y, back = irad.pullback(mod.FUNCTION, *annotate(mod, work))
    on_tapes = saved = 0
    for r in back.residuals:
        if type(r).__name__ == "TapeHandle":
            on_tapes += len(r) * r.element.numpy.itemsize
        elif isinstance(r, np.ndarray) and r.ndim and not any(
                isinstance(a, np.ndarray) and np.shares_memory(r, a) for a in work):
            saved += r.nbytes
    return on_tapes, saved, y


# ---- one benchmark ------------------------------------------------------------------------------

class Entry:
    """The JSON record of one benchmark, filled in tool by tool."""

    def __init__(self, mod, mode):
        self.data = {
            "name": mod.NAME, "description": mod.DESCRIPTION,
            "size": suite.size_label(mod.SIZES[mode]),
            "times_ms": dict.fromkeys(TIME_KEYS), "min_ms": dict.fromkeys(TIME_KEYS),
            "repeats": {}, "compile_ms": dict.fromkeys(COMPILE_KEYS), "tape_bytes": None,
            "peak_memory_mb": dict.fromkeys(MEMORY_KEYS),
            "checks": {}, "notes": "",
        }
        self.notes = [getattr(mod, "NOTES", "")] if getattr(mod, "NOTES", "") else []

    def note(self, text: str):
        self.notes.append(text)

    def timed(self, key, result):
        med, best, n = result
        self.data["times_ms"][key], self.data["min_ms"][key], self.data["repeats"][key] = med, best, n

    def finish(self) -> dict:
        self.data["notes"] = "; ".join(n for n in self.notes if n)
        return self.data


def prepare_fastmath(mod, entry: Entry, master, ref_value, ref_grads) -> dict:
    """irad with fastmath=True (reassociation, libmvec), as JAX compiles by default: primal and
    gradient, each timed only if it agrees with the exact results (np.allclose)."""
    import irad
    timed = {}
    f, g = irad.jit(mod.FUNCTION, fastmath=True), irad.jit_gradient(mod.FUNCTION, fastmath=True)
    work, gwork = fresh(master), fresh(master)
    ok = close(f(*work), ref_value)
    entry.data["checks"]["irad_fastmath_primal"] = ok
    if ok:
        timed["irad_fastmath_primal"] = (lambda: f(*work), restorer(mod, work, master))
    gargs = annotate(mod, gwork)
    ok = close(g(*gargs), ref_grads)
    entry.data["checks"]["irad_fastmath_gradient"] = ok
    if ok:
        timed["irad_fastmath_gradient"] = (lambda: g(*gargs), restorer(mod, gwork, master))
    return timed


def run_benchmark(mod, entry: Entry, mode: str, min_time: float, log) -> None:
    """Fill `entry` for `mod` at size `mode`; on an exception, what was measured stays in it.

    Every tool is compiled and checked first; the tools that pass are then
    timed together, interleaved (timing.compare)."""
    import irad
    tiny, master = mod.make_args(**mod.SIZES["tiny"]), mod.make_args(**mod.SIZES[mode])
    timed: dict = {}                                # key -> (call, reset)

    # irad primal: compile on tiny (checked against CPython), then run at size as the reference
    f = irad.jit(mod.FUNCTION)
    compile_args = fresh(tiny)
    entry.data["compile_ms"]["irad_primal"] = timing.first_call_ms(lambda: f(*compile_args))
    got_args, want_args = fresh(tiny), fresh(tiny)
    got, want = f(*got_args), mod.FUNCTION(*want_args)
    ok = close(got, want) and close(state_after(mod, got_args), state_after(mod, want_args))
    entry.data["checks"]["irad_primal_vs_python_tiny"] = ok
    if not ok:
        entry.note("irad primal differs from CPython at the tiny size: no times recorded")
        return
    work = fresh(master)
    ref_value = f(*work)
    ref_state = state_after(mod, work)
    timed["irad_primal"] = (lambda: f(*work), restorer(mod, work, master))

    # irad gradient, checked along a random direction against irad's primal
    g = irad.jit_gradient(mod.FUNCTION)
    entry.data["compile_ms"]["irad_gradient"] = timing.first_call_ms(lambda: g(*annotate(mod, fresh(tiny))))
    gwork = fresh(master)
    gargs = annotate(mod, gwork)
    ref_grads = g(*gargs)
    err = directional_check(mod, f, master, ref_grads)
    entry.data["checks"]["irad_gradient_directional_rel_err"] = err
    if err > FD_RTOL:
        entry.note(f"irad gradient fails the directional finite-difference check (rel err {err:.1e})")
    else:
        timed["irad_gradient"] = (lambda: g(*gargs), restorer(mod, gwork, master))
    timed.update(prepare_fastmath(mod, entry, master, ref_value, ref_grads))
    try:
        on_tapes, saved, y = tape_bytes(mod, master)
        entry.data["tape_bytes"] = on_tapes
        entry.data["checks"]["pullback_value"] = close(y, ref_value)
        if saved:
            entry.note(f"the reverse sweep also keeps {saved} bytes of arrays the function allocated")
    except Exception as e:  # an unsupported pullback must not lose the timings
        entry.note(f"tape size unavailable: irad.pullback failed ({type(e).__name__}: {e})")

    timed.update(prepare_numba(mod, entry, tiny, master, ref_value, ref_state, ref_grads))
    for peer in ("jax", "torch"):
        timed.update(prepare_port(peer, mod, entry, master, ref_value, ref_grads))

    for key, result in timing.compare(timed, min_time=min_time).items():
        entry.timed(key, result)
    log("  " + ", ".join(f"{k} {entry.data['times_ms'][k]:.3f} ms" for k in timed))


def prepare_numba(mod, entry, tiny, master, ref_value, ref_state, ref_grads) -> dict:
    """Compile and check Numba's primal (and the hand-written adjoint); {key: (call, reset)}."""
    ok, why = peers.available("numba")
    if not ok:
        entry.note(f"numba: {why}")
        return {}
    timed = {}
    nf = peers.numba_version(mod.FUNCTION)
    entry.data["compile_ms"]["numba"] = timing.first_call_ms(lambda: nf(*fresh(tiny)))
    work = fresh(master)
    value = nf(*work)
    same = close(value, ref_value) and close(state_after(mod, work), ref_state)
    entry.data["checks"]["numba_primal_vs_irad"] = same
    if same:
        timed["numba_primal"] = (lambda: nf(*work), restorer(mod, work, master))
    else:
        entry.note(f"numba primal differs from irad ({value!r} vs {ref_value!r}): not timed")
    adjoint = getattr(mod, "ADJOINT", None)
    if adjoint is None:
        entry.note("no hand-written adjoint")
        return timed
    na = peers.numba_version(adjoint)
    na(*fresh(tiny))
    awork = fresh(master)
    same = close(tuple(na(*awork)), diff_grads(mod, ref_grads))
    entry.data["checks"]["numba_adjoint_vs_irad"] = same
    if same:
        timed["numba_adjoint"] = (lambda: na(*awork), restorer(mod, awork, master))
    else:
        entry.note("hand-written adjoint differs from irad's gradient: not timed")
    return timed


def prepare_port(peer, mod, entry, master, ref_value, ref_grads) -> dict:
    """Check the JAX or PyTorch port of `mod` against irad; {key: (call, None)} of what passed."""
    ok, why = peers.available(peer)
    if not ok:
        entry.note(f"{peer}: {why}")
        return {}
    ports = peers.load_ports(peer)
    fn = ports.PORTS.get(mod.NAME)
    if fn is None:
        entry.note(f"{peer}: {ports.MISSING.get(mod.NAME, 'no port of this benchmark yet')}")
        return {}
    if mod.NAME in ports.NOTES:
        entry.note(ports.NOTES[mod.NAME])
    port = (peers.JaxPort if peer == "jax" else peers.TorchPort)(fn, fresh(master), mod.DIFF)
    timed = {}
    for kind, first, check in (("primal", port.primal, lambda: close(port.value(), ref_value)),
                               ("gradient", port.gradient,
                                lambda: close(port.gradients(), diff_grads(mod, ref_grads)))):
        key = f"{peer}_{kind}"
        first_ms = timing.first_call_ms(first)
        if peer == "jax":                           # jit compilation; PyTorch runs eagerly
            entry.data["compile_ms"][key] = first_ms
        same = check()
        entry.data["checks"][f"{key}_vs_irad"] = same
        if same:
            timed[key] = (first, None)
        else:
            entry.note(f"{peer} {kind} differs from irad: not timed")
    return timed


# ---- driver -------------------------------------------------------------------------------------

def warm_up_tools():
    """Pay process-wide one-time costs (LLVM set-up) before anything is timed."""
    import irad
    import kernels
    irad.jit(kernels.tiny)(*kernels.tiny_args())
    if peers.available("numba")[0]:
        peers.numba_version(kernels.tiny)(*kernels.tiny_args())


def worker(name: str, mode: str, min_time: float) -> dict:
    """Measure one benchmark in this (fresh) process; its log goes to stderr."""
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    mod = suite.load(name)
    entry = Entry(mod, mode)
    warm_up_tools()
    try:
        run_benchmark(mod, entry, mode, min_time, log)
    except Exception as e:  # what was measured before the failure is kept
        traceback.print_exc()
        entry.note(f"failed: {type(e).__name__}: {e}")
    return entry.finish()


def gradient_alone(name: str, mode: str, min_time: float) -> dict:
    """irad's gradient timed in a process that runs nothing else, as a plain script calling it
    in a loop would: what glibc's malloc does with the tapes then differs from a process that
    has already freed other large blocks (see `in_subprocess`)."""
    import irad
    mod = suite.load(name)
    master = mod.make_args(**mod.SIZES[mode])
    work = fresh(master)
    g = irad.jit_gradient(mod.FUNCTION)
    args = annotate(mod, work)
    med, best, n = timing.measure(lambda: g(*args), restorer(mod, work, master), min_time=min_time)
    return {"median": med, "min": best, "repeats": n}


def status_kb(field: str) -> int:
    """A `kB` field (VmRSS, VmHWM) of /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise OSError(f"no {field} in /proc/self/status")


def gradient_memory(name: str, mode: str, key: str) -> dict:
    """Peak resident memory of MEMORY_CALLS gradient calls of tool `key` ("irad_gradient",
    "jax_gradient", "torch_gradient") above the resident memory just before them, in a process
    that has only built the arguments and warmed the gradient up once (compilation included)."""
    mod = suite.load(name)
    master = mod.make_args(**mod.SIZES[mode])
    reset = None
    if key == "irad_gradient":
        import irad
        work = fresh(master)
        g = irad.jit_gradient(mod.FUNCTION)
        args = annotate(mod, work)
        call, reset = (lambda: g(*args)), restorer(mod, work, master)
    else:
        peer = key.split("_")[0]
        fn = peers.load_ports(peer).PORTS[mod.NAME]
        call = (peers.JaxPort if peer == "jax" else peers.TorchPort)(fn, fresh(master), mod.DIFF).gradient
    call()                                          # warm-up: compilation, first-call allocations
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)            # hand what the warm-up freed back to the kernel
    except (OSError, AttributeError):
        pass
    if reset:
        reset()
    base = status_kb("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")   # VmHWM := VmRSS
    except OSError as e:
        return {"mb": None, "baseline_mb": base / 1024,
                "note": f"peak RSS cannot be reset here ({type(e).__name__})"}
    for _ in range(MEMORY_CALLS):
        call()                                      # the result is dropped before the next call
        if reset:
            reset()
    return {"mb": (status_kb("VmHWM") - base) / 1024, "baseline_mb": base / 1024}


def in_subprocess(name: str, mode: str, min_time: float, memory: bool = True) -> dict:
    """worker(name) in a fresh interpreter, so that no benchmark inherits another's state
    (malloc's adaptive thresholds, which decide whether tapes are page-faulted afresh on every
    call, JIT and import state of the peers)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--min-time", str(min_time)]
    proc = subprocess.run(cmd + (["--quick"] if mode == "quick" else []), stdout=subprocess.PIPE,
                          text=True, timeout=3600)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        entry = Entry(suite.load(name), mode)
        entry.note(f"failed: the worker process exited with status {proc.returncode}")
        return entry.finish()
    data = json.loads(lines[-1])
    if data["times_ms"].get("irad_gradient") is not None:      # only a checked gradient is timed
        proc = subprocess.run(cmd + ["--alone"] + (["--quick"] if mode == "quick" else []),
                              stdout=subprocess.PIPE, text=True, timeout=3600)
        if proc.returncode == 0 and proc.stdout.strip():
            alone = json.loads(proc.stdout.strip().splitlines()[-1])
            data["times_ms"]["irad_gradient_alone"] = alone["median"]
            data["min_ms"]["irad_gradient_alone"] = alone["min"]
            data["repeats"]["irad_gradient_alone"] = alone["repeats"]
    data.setdefault("peak_memory_mb", dict.fromkeys(MEMORY_KEYS))
    for key in MEMORY_KEYS if memory else ():
        if data["times_ms"].get(key) is None:                  # not checked, or no port
            continue
        proc = subprocess.run(cmd + ["--memory", key] + (["--quick"] if mode == "quick" else []),
                              stdout=subprocess.PIPE, text=True, timeout=3600)
        if proc.returncode == 0 and proc.stdout.strip():
            mem = json.loads(proc.stdout.strip().splitlines()[-1])
            data["peak_memory_mb"][key] = mem["mb"]
            if mem.get("note"):
                data["notes"] = "; ".join(x for x in (data["notes"], f"{key} memory: {mem['note']}") if x)
        else:
            data["notes"] = "; ".join(x for x in (data["notes"], f"{key} memory: the process exited "
                                                  f"with status {proc.returncode}") if x)
    return data


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, 0.2 s per measurement")
    parser.add_argument("--only", default="", help="comma-separated benchmark names ('extras' "
                                                   "selects the extra measurements)")
    parser.add_argument("--no-extras", action="store_true", help="skip compile/warm-start/overhead")
    parser.add_argument("--no-memory", action="store_true", help="skip the gradients' peak memory")
    parser.add_argument("--out", help="where to write the JSON results")
    parser.add_argument("--worker", help=argparse.SUPPRESS)          # internal: one benchmark
    parser.add_argument("--min-time", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--alone", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--memory", choices=MEMORY_KEYS, help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    mode = "quick" if opts.quick else "full"
    min_time = opts.min_time or (0.2 if opts.quick else 1.0)
    if opts.worker:
        if opts.memory:
            result = gradient_memory(opts.worker, mode, opts.memory)
        else:
            result = (gradient_alone if opts.alone else worker)(opts.worker, mode, min_time)
        print(json.dumps(result, default=float), flush=True)
        return 0
    if not opts.out:
        parser.error("--out is required")
    names = [n.strip() for n in opts.only.split(",") if n.strip()] or [*suite.NAMES, "extras"]
    with_extras = "extras" in names and not opts.no_extras
    names = [n for n in names if n != "extras"]
    for n in names:
        suite.load(n)                                      # unknown names fail before any work
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    results = {"machine": timing.machine_info(), "mode": mode, "memory_calls": MEMORY_CALLS,
               "memory_measured": not opts.no_memory, "benchmarks": [],
               "pending": suite.PENDING, "extras": None}
    start = time.perf_counter()
    for name in names:
        log(f"{name} ({suite.size_label(suite.load(name).SIZES[mode])})")
        results["benchmarks"].append(in_subprocess(name, mode, min_time, not opts.no_memory))
    if with_extras:
        log("extras")
        results["extras"] = extras.run_all(opts.quick, log)
    results["total_s"] = time.perf_counter() - start
    results["machine"]["loadavg_end"] = timing.load_average()
    Path(opts.out).write_text(json.dumps(results, indent=1, default=float) + "\n")
    log(f"wrote {opts.out} ({results['total_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
