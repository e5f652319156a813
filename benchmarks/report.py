"""Turn a results JSON from run.py into benchmarks/README.md and benchmarks/chart.png.

    python benchmarks/report.py results.json [--readme PATH] [--chart PATH] [--top-readme PATH]

The README holds the method, the machine, the times, the ratios to
Numba's primal, compile times, tape sizes, the extra measurements and the
project's targets with pass/fail. The chart shows, per benchmark, each
tool's median time divided by Numba's primal median (log scale). Missing
values (a peer not installed, a failed check) are shown as "—" and left
out of the chart, never drawn as zero. Without matplotlib the table is
written and the chart is skipped, and the README says so. The top-level
README's "Benchmarks" section (between TOP_START and TOP_END; appended
when the markers are missing) is rewritten with the chart, the ratio
table, the peak memory and the machine.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOOLS = (("irad_primal", "irad primal"), ("irad_gradient", "irad gradient"),
         ("irad_gradient_alone", "irad gradient (alone)"),
         ("irad_fastmath_primal", "irad primal, fastmath"), ("irad_fastmath_gradient", "irad gradient, fastmath"),
         ("numba_primal", "Numba primal"), ("numba_adjoint", "Numba hand-written adjoint"),
         ("jax_primal", "JAX primal"), ("jax_gradient", "JAX gradient"),
         ("torch_primal", "PyTorch primal"), ("torch_gradient", "PyTorch gradient"))
GRADIENT_SET = ("heat", "gmm", "rk4", "nbody")
ARRAY_SET = ("heat_slices", "black_scholes", "softmax_mlp")
RATIOS = (("irad_primal", "numba_primal"), ("irad_gradient", "numba_primal"), ("irad_gradient", "irad_primal"),
          ("irad_gradient_alone", "irad_primal"), ("irad_gradient", "jax_gradient"),
          ("irad_fastmath_gradient", "jax_gradient"),
          ("numba_adjoint", "numba_primal"), ("jax_gradient", "jax_primal"), ("torch_gradient", "torch_primal"))
TOP_START, TOP_END = "<!-- bench:start -->", "<!-- bench:end -->"
MEMORY = (("irad_gradient", "irad gradient"), ("jax_gradient", "JAX gradient"),
          ("torch_gradient", "PyTorch gradient"))
ADBENCH_GMM = "ADBench d=10, K=25: hand-written 1.9–7.2, Tapenade 3.7–15.5"


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(x, digits=3, suffix="") -> str:
    if x is None:
        return "—"
    if abs(x) >= 100:
        return f"{x:.0f}{suffix}"
    if abs(x) >= 10:
        return f"{x:.1f}{suffix}"
    return f"{x:.{digits}g}{suffix}"


def fmt_ratio(x) -> str:
    if x is None:
        return "—"
    return f"{x:.0f}" if x >= 100 else (f"{x:.1f}" if x >= 10 else f"{x:.2f}")


def fmt_target(x) -> str:
    """Enough digits to see which side of a limit like 1.10 a value falls."""
    return "—" if x is None else (f"{x:.3f}" if x < 10 else fmt_ratio(x))


def pair(a, b) -> str:
    """'a (b)' for a median-based and a minimum-based ratio; '—' when neither exists."""
    return "—" if a is None and b is None else f"{fmt_ratio(a)} ({fmt_ratio(b)})"


def fmt_bytes(n) -> str:
    if n is None:
        return "—"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def fmt_mb(x) -> str:
    return "—" if x is None else f"{x:.1f}"


def met(value, limit) -> str:
    return "—" if value is None else ("yes" if value <= limit else "**no**")


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def by_name(results) -> dict:
    return {b["name"]: b for b in results["benchmarks"]}


# ---- targets ------------------------------------------------------------------------------------

def targets(results) -> list[tuple[str, str, float | None, float | None, float]]:
    """(target, where, measured from medians, measured from minima, limit) for each of the
    project's performance targets."""
    out = []
    bench = by_name(results)

    def r(b, num, den):
        entry = bench.get(b, {})
        med, low = entry.get("times_ms", {}), entry.get("min_ms", {})
        return ratio(med.get(num), med.get(den)), ratio(low.get(num), low.get(den))
    for name in ("heat", "matmul", "gmm"):
        out.append(("primal ≤ 1.10× Numba primal", name, *r(name, "irad_primal", "numba_primal"), 1.10))
    for name in GRADIENT_SET:
        out.append(("gradient ≤ 3× Numba primal", name, *r(name, "irad_gradient", "numba_primal"), 3.0))
    for name in GRADIENT_SET:
        out.append(("gradient ≤ 2× irad primal", name, *r(name, "irad_gradient", "irad_primal"), 2.0))
    for name in ARRAY_SET:
        out.append(("primal ≤ Numba primal", name, *r(name, "irad_primal", "numba_primal"), 1.0))
    for name in ARRAY_SET:
        out.append(("gradient ≤ JAX gradient", name, *r(name, "irad_gradient", "jax_gradient"), 1.0))
    for name in ARRAY_SET:
        out.append(("… with fastmath=True", name, *r(name, "irad_fastmath_gradient", "jax_gradient"), 1.0))
    extras = results.get("extras") or {}
    comp, warm, over = extras.get("compile", {}), extras.get("warm_start", {}), extras.get("call_overhead", {})
    out.append(("compile ≤ 150 ms (ms)", f"{comp.get('lines', '?')}-line function, primal",
                comp.get("irad_primal_ms"), comp.get("irad_primal_min_ms"), 150.0))
    out.append(("warm start ≤ 20 ms (ms)", "first call from the disk cache",
                warm.get("warm_first_call_ms"), warm.get("warm_first_call_min_ms"), 20.0))
    out.append(("call overhead ≤ 2 µs (µs)", "3 arrays + a scalar",
                over.get("irad_us"), over.get("irad_min_us"), 2.0))
    return out


# ---- README -------------------------------------------------------------------------------------

def readme(results, chart_note: str) -> str:
    m = results["machine"]
    mode = results.get("mode", "?")
    load = (m.get("loadavg_start"), m.get("loadavg_end"))
    busy = any(x is not None and x > 0.3 for x in load)
    parts = [f"""# irad benchmarks

Generated by `benchmarks/report.py` from `{results.get('source', 'results.json')}`
(`python benchmarks/run.py {'--quick ' if mode == 'quick' else ''}--out benchmarks/results.json`,
then `python benchmarks/report.py benchmarks/results.json`; `make bench` does both with the quick
sizes). Do not edit by hand.

## Method

- Each suite function is plain Python (`suite/<name>.py`) compiled unchanged by `irad.jit` and
  by `numba.njit`. Gradients are `irad.jit_gradient(f)`, compiled once, then timed, with the
  arguments that are not differentiated wrapped in `irad.Const`; every call allocates and zeroes
  fresh gradient shadows, as a user's call does.
- JAX and PyTorch run vectorized ports of the same losses (`ports_jax.py`, `ports_torch.py`;
  JAX jitted, PyTorch eager). All tools run single-threaded.
- Every benchmark runs in a fresh process; its tools are timed interleaved in rounds, each
  until {'0.2 s' if mode == 'quick' else '1 s'} of single calls have run (at least 5), after a
  warm-up. Tables show the **median**; ratios also give the ratio of the minima. Arrays a
  function mutates are restored before each call, outside the timed region.
- "irad gradient (alone)" is the same gradient timed in a process that runs nothing else. irad
  keeps its tape and scratch buffers across calls (`runtime/slots.py`), so after the first call
  neither allocates; the shadows the gradient returns are fresh NumPy arrays every call, whose
  page faults depend on what the process freed before (malloc's adaptive mmap and trim
  thresholds).
- Before a tool's time counts, its result is checked: irad's primal against CPython (tiny
  size), irad's gradient against a central difference of irad's primal along a random
  direction, every other tool against irad (values, arrays mutated in place, gradients;
  `np.allclose`). A tool that is not installed, has no port or fails its check shows "—".
- Compile times are first calls of fresh compiled objects on tiny arguments of the timed
  signature, after process-wide set-up. Tape bytes are what the augmented forward sweep pushes
  on tapes (read from the tapes `irad.pullback` keeps; the timed combined mode runs the same
  forward sweep).
- Peak memory of a gradient: in a fresh process per tool and benchmark, build the arguments,
  make one gradient call (compilation and first-call allocations), `gc.collect()` and
  `malloc_trim(0)`, read the resident set (VmRSS), reset the kernel's high-water mark (write 5
  to `/proc/self/clear_refs`), make {results.get('memory_calls', 3)} more gradient calls (each
  result dropped before the next) and read VmHWM. The table shows VmHWM − VmRSS in MB: the
  largest resident memory those calls added above the arguments, the compiled code and the
  libraries (tapes, shadows, intermediates; page granularity, so small values are ±0.1 MB).

**Machine.** {m.get('cpu')}, {m.get('cores')} cores; Python {m.get('python')}, NumPy {m.get('numpy')},
llvmlite {m.get('llvmlite')}, Numba {m.get('numba')}, JAX {m.get('jax') or 'not installed'}, PyTorch
{m.get('torch') or 'not installed'}; irad at `{m.get('irad_commit')}`; {m.get('date')}; sizes: **{mode}**;
1-minute load average {load[0]} at the start, {load[1]} at the end{
    ' (other processes were competing for the cores: expect noise)' if busy else ''}.
"""]
    bench = results["benchmarks"]
    present = [k for k, _ in TOOLS if any(b.get("times_ms", {}).get(k) is not None for b in bench)]
    missing = [label for k, label in TOOLS if k not in present]
    parts.append("## Times (median, ms)\n")
    parts.append(table(["benchmark", "size", *[label for k, label in TOOLS if k in present]],
                       [[b["name"], b.get("size", ""), *[fmt(b["times_ms"].get(k)) for k in present]]
                        for b in bench]))
    if missing:
        parts.append(f"\nNo times for: {', '.join(missing)} (see the notes below).")
    parts.append("\n## Ratios\n")
    parts.append(RATIO_NOTE + "\n")
    parts.append(ratio_table(bench))
    parts.append(f"\n![time relative to Numba's primal, log scale](chart.png)\n\n{chart_note}".rstrip())
    parts.append("\n## Peak memory of the gradient (MB)\n")
    parts.append(memory_table(results))
    parts.append("\n## Compile times (ms) and tape sizes\n")
    parts.append("irad and Numba: first call on tiny arguments of the timed signature; JAX: first call "
                 "at the timed size (jit compilation plus one run).\n")
    parts.append(table(["benchmark", "irad primal", "irad gradient", "Numba primal", "JAX primal",
                        "JAX gradient", "irad tape"],
                       [[b["name"], *[fmt(b["compile_ms"].get(k)) for k in
                                      ("irad_primal", "irad_gradient", "numba", "jax_primal", "jax_gradient")],
                         fmt_bytes(b.get("tape_bytes"))] for b in bench]))
    parts.append(extras_section(results.get("extras")))
    parts.append("\n## Targets\n")
    parts.append(table(["target", "where", "measured (median)", "met", "from minima", "met"],
                       [[name, where, fmt_target(med), met(med, limit), fmt_target(low), met(low, limit)]
                        for name, where, med, low, limit in targets(results)]))
    pending = results.get("pending") or {}
    if pending:
        parts.append("\n## Pending benchmarks\n")
        parts.append("\n".join(f"- **{k}**: {v}" for k, v in pending.items()))
    parts.append("\n## Notes per benchmark\n")
    parts.append("\n".join(f"- **{b['name']}** ({b.get('description', '')}): {b.get('notes', '')}"
                           for b in bench))
    return "\n".join(parts) + "\n"


RATIO_NOTE = ("Median-based, with the ratio of the minimum times in parentheses (the minimum is "
              "less sensitive to other processes on the machine).")


def ratio_table(bench) -> str:
    rows = []
    for b in bench:
        t, low = b.get("times_ms", {}), b.get("min_ms", {})
        rows.append([b["name"], *[pair(ratio(t.get(n), t.get(d)), ratio(low.get(n), low.get(d)))
                                  for n, d in RATIOS], ADBENCH_GMM if b["name"] == "gmm" else ""])
    return table(["benchmark", "irad primal / Numba primal", "irad gradient / Numba primal",
                  "irad gradient / irad primal", "irad gradient (alone) / irad primal",
                  "irad gradient / JAX gradient", "irad gradient, fastmath / JAX gradient",
                  "hand-written adjoint / Numba primal",
                  "JAX gradient / JAX primal", "PyTorch gradient / PyTorch primal", "reference"], rows)


def memory_table(results) -> str:
    """Peak resident memory added by gradient calls, per tool, with irad's tape size beside it."""
    bench = results["benchmarks"]
    if not results.get("memory_measured", True) or not any(
            v is not None for b in bench for v in (b.get("peak_memory_mb") or {}).values()):
        return "Not measured in this run (`--no-memory`, or no gradient passed its check)."
    return table(["benchmark", "size", *[label for _, label in MEMORY], "irad tape"],
                 [[b["name"], b.get("size", ""),
                   *[fmt_mb((b.get("peak_memory_mb") or {}).get(k)) for k, _ in MEMORY],
                   fmt_bytes(b.get("tape_bytes"))] for b in bench])


def top_section(results, chart_note: str) -> str:
    """The top-level README's Benchmarks section, markers included."""
    m = results["machine"]
    load = (m.get("loadavg_start"), m.get("loadavg_end"))
    chart_line = ("![time relative to Numba's primal, log scale](benchmarks/chart.png)"
                  if not chart_note else chart_note)
    return "\n".join([
        TOP_START,
        "## Benchmarks",
        "",
        "Generated by `benchmarks/report.py` (`make bench`); method, times, compile times and "
        "targets are in [benchmarks/README.md](benchmarks/README.md). "
        f"Measured on {m.get('cpu')}, {m.get('cores')} cores, {m.get('date')}, "
        f"{results.get('mode', '?')} sizes, 1-minute load average {load[0]} at the start and "
        f"{load[1]} at the end; irad at `{m.get('irad_commit')}`.",
        "",
        chart_line,
        "",
        RATIO_NOTE,
        "",
        ratio_table(results["benchmarks"]),
        "",
        "Peak resident memory added by gradient calls (MB; see benchmarks/README.md for how it is "
        "measured):",
        "",
        memory_table(results),
        TOP_END,
    ])


def update_top_readme(path: Path, section: str) -> None:
    """Replace the text between the markers (inclusive) with `section`; append it if absent."""
    text = path.read_text() if path.exists() else ""
    start, end = text.find(TOP_START), text.find(TOP_END)
    if start >= 0 and end > start:
        text = text[:start] + section + text[end + len(TOP_END):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def extras_section(extras) -> str:
    if not extras:
        return "\n## Compile time, warm start, call overhead\n\nNot measured in this run."
    comp, warm, over = extras.get("compile", {}), extras.get("warm_start", {}), extras.get("call_overhead", {})
    stages = ", ".join(f"{k} {v:.0f} ms" for k, v in (comp.get("irad_primal_stages_ms") or {}).items())
    rows = [
        [f"first call of `{comp.get('function')}` ({comp.get('lines')} lines), primal",
         fmt(comp.get("irad_primal_ms"), suffix=" ms") + (f" ({stages})" if stages else ""),
         fmt(comp.get("numba_ms"), suffix=" ms")],
        ["  … its gradient (`jit_gradient`)", fmt(comp.get("irad_gradient_ms"), suffix=" ms"), "—"],
        ["first call in a fresh process, disk cache warm",
         fmt(warm.get("warm_first_call_ms"), suffix=" ms"), "—"],
        ["  … same process that filled the cache (cold)",
         fmt(warm.get("cold_first_call_ms"), suffix=" ms"), "—"],
        ["  … `import irad, irad.runtime`", fmt(warm.get("import_ms"), suffix=" ms"), "—"],
        [f"call overhead, `{over.get('function')}`", fmt(over.get("irad_us"), suffix=" µs"),
         fmt(over.get("numba_us"), suffix=" µs")],
        ["  … the same call in plain CPython", fmt(over.get("python_us"), suffix=" µs"), "—"],
        ["  … through `jax.jit` (device arrays)", fmt(over.get("jax_us"), suffix=" µs"), "—"],
    ]
    notes = "; ".join(x for x in (comp.get("notes"), warm.get("notes"), over.get("notes")) if x)
    return ("\n## Compile time, warm start, call overhead\n\n"
            + table(["measurement", "irad", "Numba"], rows) + (f"\n\n{notes}" if notes else ""))


# ---- chart --------------------------------------------------------------------------------------

def chart(results, path: Path) -> str:
    """Write the bar chart; return a sentence for the README when it could not be drawn."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "(chart not drawn: matplotlib is not installed; `pip install -e '.[bench]'`)"
    bench = [b for b in results["benchmarks"] if b.get("times_ms", {}).get("numba_primal")]
    keys = [(k, label) for k, label in TOOLS
            if any(b["times_ms"].get(k) is not None for b in bench)]
    if not bench or not keys:
        return "(chart not drawn: no benchmark has a Numba primal time to compare with)"
    fig, ax = plt.subplots(figsize=(max(8.0, 1.3 * len(bench) + 4), 4.8))
    width = 0.8 / len(keys)
    for j, (k, label) in enumerate(keys):
        xs, ys = [], []
        for i, b in enumerate(bench):
            r = ratio(b["times_ms"].get(k), b["times_ms"]["numba_primal"])
            if r is not None:
                xs.append(i + (j - (len(keys) - 1) / 2) * width)
                ys.append(r)
        ax.bar(xs, ys, width, label=label)
    ax.set_yscale("log")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(bench)))
    ax.set_xticklabels([b["name"] for b in bench])
    ax.set_ylabel("time / Numba primal (log)")
    ax.set_title(f"irad vs Numba ({results.get('mode', '')} sizes, median)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return ""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    parser.add_argument("--readme", default=str(HERE / "README.md"))
    parser.add_argument("--chart", default=str(HERE / "chart.png"))
    parser.add_argument("--top-readme", default=str(HERE.parent / "README.md"),
                        help="the README whose Benchmarks section is rewritten ('' to skip)")
    opts = parser.parse_args(argv)
    results = json.loads(Path(opts.results).read_text())
    results.setdefault("source", Path(opts.results).name)
    note = chart(results, Path(opts.chart))
    Path(opts.readme).write_text(readme(results, note))
    if opts.top_readme:
        update_top_readme(Path(opts.top_readme), top_section(results, note))
    print(f"wrote {opts.readme}" + ("" if note else f" and {opts.chart}")
          + (f"; updated the Benchmarks section of {opts.top_readme}" if opts.top_readme else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
