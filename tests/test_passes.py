"""Golden tests for the optimization passes, and tests of the pass driver.

Each tests/golden/passes/*.ir file starts with `// RUN: <pipeline> [--fastmath]`,
then IR in canonical printed form and `// CHECK...` lines. For each file:
(a) the IR round-trips through parse and print; (b) the pipeline runs with
verify_each=True; (c) the printed result passes FileCheck against the
file; (d) unless the file says `// INTERP: off`, the interpreter gives
bit-identical results (returned values and array contents) before and after
the pipeline on random inputs that include signed zeros, infinities and
NaN. Files run with --fastmath draw finite inputs and compare with a
tolerance, since fastmath assumes no NaN, no infinities, no signed zeros.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import irad
from irad.errors import VerificationError
from irad.ir import Builder, Func, Module
from irad.passes import (register, registered_passes, registered_pipelines, run_pipeline,
                         unregister)
from irad.types import F64, ArrayType

GOLDEN = Path(__file__).parent / "golden" / "passes"
FILES = sorted(GOLDEN.glob("*.ir"))
SPECIAL = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 2.5, -3.0]


def _header(text: str) -> dict:
    first = text.splitlines()[0]
    assert first.startswith("// RUN:"), "a golden file starts with // RUN: <pipeline>"
    words = first[len("// RUN:"):].split()
    return {
        "pipeline": words[0],
        "fastmath": "--fastmath" in words[1:],
        "interp": "// INTERP: off" not in text,
    }


def _input_ir(text: str) -> str:
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("//")]
    return "\n".join(lines).strip("\n") + "\n"


def _run(module: Module, header: dict) -> Module:
    out = Module()
    for f in module.funcs.values():
        out.add(run_pipeline(f, header["pipeline"], verify_each=True, fastmath=header["fastmath"]))
    return out


def _filecheck(check_file: Path, output: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "filecheck", str(check_file)],
                          input=output, capture_output=True, text=True)
    assert proc.returncode == 0, \
        f"FileCheck failed:\n{proc.stdout}{proc.stderr}\n--- output:\n{output}"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_golden(path: Path):
    text = path.read_text()
    header = _header(text)
    source = _input_ir(text)
    module = irad.parse_ir(source)
    assert str(module) == source, "golden input is not in canonical printed form"
    before = str(module)
    result = _run(module, header)
    assert str(module) == before, "the pipeline mutated its input"
    _filecheck(path, str(result))
    if header["interp"]:
        for name in module.funcs:
            _compare_interpreter(module, result, name, header["fastmath"])


def test_golden_files_cover_every_pass():
    pipelines = [_header(p.read_text())["pipeline"] for p in FILES]
    for name in ("dce", "cse", "fold", "licm"):
        count = sum(name in p.split(",") for p in pipelines)
        assert count >= 3, f"only {count} golden files run {name}"


# ---- differential check with the interpreter ---------------------------------

def _random_arg(t, rng, finite: bool):
    if t.is_array:
        shape = tuple(int(rng.integers(0, 5)) for _ in range(t.ndim))
        return np.array([_random_scalar(t.dtype, rng, finite) for _ in range(int(np.prod(shape)))],
                        dtype=t.dtype.numpy).reshape(shape)
    return _random_scalar(t, rng, finite)


def _random_scalar(t, rng, finite: bool, pick: int | None = None):
    if t.is_float:
        special = [v for v in SPECIAL if np.isfinite(v)] if finite else SPECIAL
        if pick is not None:
            return t.numpy.type(special[pick % len(special)])
        v = special[rng.integers(len(special))] if rng.random() < 0.5 else rng.normal() * 4
        return t.numpy.type(v)
    if t.is_bool:
        return np.bool_(rng.random() < 0.5)
    return t.numpy.type(rng.integers(-2, 7))


def _same(a, b, tolerant: bool) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if tolerant:
        return bool(np.allclose(a, b, equal_nan=True) or a.size == 0)
    if a.dtype.kind == "f":
        both_nan = np.isnan(a) & np.isnan(b)
        same = (a == b) & (np.signbit(a) == np.signbit(b))
        return bool(np.all(both_nan | same))
    return bool(np.array_equal(a, b))


def _compare_interpreter(old: Module, new: Module, name: str, tolerant: bool, samples: int = 30):
    f, g = old[name], new[name]
    if not all(a.type.is_scalar or a.type.is_array for a in f.args):
        return
    rng = np.random.default_rng(0)
    checked = 0
    for n in range(samples):
        args = [_random_arg(a.type, rng, finite=tolerant) for a in f.args]
        if n < len(SPECIAL):  # every special value reaches every float scalar argument
            args = [_random_scalar(a.type, rng, tolerant, n + k) if a.type.is_scalar else v
                    for k, (a, v) in enumerate(zip(f.args, args))]
        copies = [np.copy(a) if isinstance(a, np.ndarray) else a for a in args]
        try:
            want = irad.interpret(f, args, old)
        except IndexError:
            continue  # the input program indexes out of bounds on this input
        except ValueError as e:  # a failed `check`: the pass keeps the first one that fails
            with pytest.raises(ValueError) as after:
                irad.interpret(g, copies, new)
            assert str(after.value) == str(e)
            checked += 1
            continue
        got = irad.interpret(g, copies, new)
        for w, r in zip(want + args, got + copies):
            assert _same(w, r, tolerant), f"@{name} on {args}: {want} before, {got} after"
        checked += 1
    assert checked >= samples // 3, f"@{name}: only {checked} of {samples} random inputs ran"


# ---- the driver ---------------------------------------------------------------

SAMPLE = """\
func @f(%x: f64, %a: array<f64,1,C>) -> f64 {
  %c1 = const 1.0 : f64
  %c2 = const 2.0 : f64
  %c3 = add %c1, %c2 : f64
  %y = mul %x, %c3 : f64
  %y2 = mul %x, %c3 : f64
  %n = dim %a, 0 : i64
  return %y
}
"""


def _sample() -> Func:
    return irad.parse_ir(SAMPLE)["f"]


def test_registry_has_the_basic_passes():
    assert {"dce", "cse", "fold", "licm", "simplify"} <= set(registered_passes())
    assert "default" in registered_pipelines()


def test_dump_after_each_pass_via_callback():
    seen = []
    out = run_pipeline(_sample(), "fold,cse,dce", verify_each=True, dump="all",
                       on_dump=lambda name, f: seen.append((name, str(f))))
    assert [n for n, _ in seen] == ["fold", "cse", "dce"]
    assert seen[-1][1] == str(out)
    assert "const 3.0 : f64" in seen[0][1]


def test_dump_selected_passes_to_stderr(capsys):
    run_pipeline(_sample(), "fold,cse,dce", dump={"cse"})
    err = capsys.readouterr().err
    assert "IR after cse" in err and "IR after fold" not in err and "IR after dce" not in err
    run_pipeline(_sample(), "fold,dce", dump="fold,dce")
    err = capsys.readouterr().err
    assert "IR after fold" in err and "IR after dce" in err


def test_default_pipeline_reaches_a_fixed_point():
    seen = []
    out = run_pipeline(_sample(), "default", verify_each=True, dump="all",
                       on_dump=lambda name, f: seen.append(name))
    assert seen[:5] == ["fold", "cse", "load-cse", "licm", "dce"]
    assert len(seen) % 5 == 0 and len(seen) <= 40
    assert str(run_pipeline(out, "default")) == str(out)
    text = str(out)
    assert text.count("mul") == 1 and "dim" not in text and "add" not in text


def test_passes_do_not_mutate_their_input():
    f = _sample()
    before = str(f)
    for name in ("fold", "cse", "dce", "licm", "default"):
        run_pipeline(f, name, verify_each=True)
        assert str(f) == before


def test_a_pipeline_clones_its_input_once_and_leaves_it_alone(monkeypatch):
    """In-place passes run on the pipeline's own copy: one clone, not one per pass, with the
    result the cloning passes give (verify_each runs those)."""
    import programs
    text = irad.jit(programs.p_heat, target="interpreter").ir(np.ones(12), 5, 0.2)
    typed = irad.parse_ir(text).funcs["p_heat"]
    before = str(typed)
    clones = []
    real = Func.clone
    monkeypatch.setattr(Func, "clone", lambda self: clones.append(1) or real(self))
    fast = run_pipeline(typed, "default")
    assert len(clones) == 1 and str(typed) == before
    monkeypatch.setattr(Func, "clone", real)
    assert str(fast) == str(run_pipeline(typed, "default", verify_each=True))


def test_unknown_pass_is_an_error():
    with pytest.raises(ValueError, match="unknown pass or pipeline 'nope'"):
        run_pipeline(_sample(), "fold,nope")


def test_verify_each_names_the_guilty_pass():
    @register("test-break")
    def _break(func, options):
        new = func.clone()
        ops = new.body.block.ops
        ops.insert(0, ops.pop())  # return first: not the last op of its block
        return new
    try:
        run_pipeline(_sample(), "fold", verify_each=True)
        with pytest.raises(VerificationError, match="after pass 'test-break'"):
            run_pipeline(_sample(), "fold,test-break", verify_each=True)
    finally:
        unregister("test-break")


def test_verify_each_catches_a_mutating_pass():
    @register("test-mutate")
    def _mutate(func, options):
        func.body.block.ops[0].attrs["value"] = 7.0
        return func.clone()
    try:
        with pytest.raises(AssertionError, match="mutated its input"):
            run_pipeline(_sample(), "test-mutate", verify_each=True)
    finally:
        unregister("test-mutate")


def test_fastmath_reaches_the_passes():
    f = irad.parse_ir("""\
func @g(%x: f64) -> f64 {
  %z = const 0.0 : f64
  %y = add %x, %z : f64
  return %y
}
""")["g"]
    assert "add" in str(run_pipeline(f, "fold,dce", verify_each=True))
    assert "add" not in str(run_pipeline(f, "fold,dce", verify_each=True, fastmath=True))


def test_options_reach_passes_as_extra():
    seen = {}

    @register("test-options")
    def _opts(func, options):
        seen.update(fastmath=options.fastmath, level=options.get("level"))
        return func.clone()
    try:
        run_pipeline(_sample(), "test-options", fastmath=True, level=3)
        assert seen == {"fastmath": True, "level": 3}
    finally:
        unregister("test-options")


def test_built_ir_folds_like_parsed_ir():
    f = Func("h", [F64, ArrayType(F64, 1)], [F64], ["x", "a"])
    b = Builder(f.body.block)
    two = b.const(2, F64)
    y = b.mul(b.add(b.const(1.5, F64), two), f.args[0])
    b.emit("return", y)
    out = str(run_pipeline(f, "default", verify_each=True))
    assert "const 3.5 : f64" in out and "add" not in out


# ---- every traced program of the tracer's suite, through every pass ---------

def _traced_cases():
    import programs
    return programs.args_list()


def _leaves(args, captured):
    from irad.tracer import runtime_leaves
    out: list = []
    for a in args:
        runtime_leaves(a, out)
    return out + [np.copy(c) if isinstance(c, np.ndarray) else c for c in captured]


@pytest.mark.parametrize("name,fn,make", _traced_cases(), ids=[c[0] for c in _traced_cases()])
def test_traced_programs_survive_every_pass(name, fn, make):
    from differential import fresh
    from irad.tracer import trace
    try:
        traced = trace(fn, fresh(make))
    except irad.IradError:
        pytest.skip("not traceable (an error-path program)")
    for pipeline in ("fold", "cse", "dce", "licm", "default", "licm,cse,fold,dce"):
        optimized = run_pipeline(traced.func, pipeline, verify_each=True)
        before, after = _leaves(fresh(make), traced.captured), _leaves(fresh(make), traced.captured)
        want = irad.interpret(traced.func, before)
        got = irad.interpret(optimized, after)
        for w, g in zip(want + before, got + after):
            assert _same(w, g, tolerant=False), f"{pipeline}: {want} before, {got} after"


def test_licm_keeps_views_that_may_fail_inside_loops_that_may_not_run():
    text = """
func @rows(%a: array<f64,2,C>, %n: i64, %k: i64) -> f64 {
  %0 = const 0 : i64
  %1 = const 1 : i64
  %z = const 0.0 : f64
  %s = for %i = %0 to %n step %1 iter_args(%acc = %z) -> f64 {
    %row = view %a[%k, :] : array<f64,1,C>
    %x = load %row[%0] : f64
    %t = add %acc, %x : f64
    yield %t
  }
  return %s
}
"""
    func = irad.parse_ir(text)["rows"]
    out = run_pipeline(func, "licm")
    loop = next(op for op in out.body.block.ops if op.name == "for")
    assert any(op.name == "view" for op in loop.regions[0].block.ops)
    for target in ("interpreter", "cpu"):       # k is out of range, but the loop never runs
        assert irad.jit(_rows_of, target=target)(np.ones((2, 2)), 0, 5) == 0.0


def _rows_of(a, n, k):
    s = 0.0
    for i in range(n):
        row = a[k]
        s += row[0]
    return s


def test_the_fixpoint_fingerprint_ignores_names_and_locations_only():
    from irad.passes.driver import fingerprint
    text = _sample()
    renamed = irad.parse_ir(str(text).replace("%y", "%renamed"))
    assert fingerprint(text) == fingerprint(next(iter(renamed.funcs.values())))
    changed = irad.parse_ir(str(text).replace("const 2.0", "const 3.0"))
    assert fingerprint(text) != fingerprint(next(iter(changed.funcs.values())))
