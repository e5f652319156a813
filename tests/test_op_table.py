"""The op table is complete: every op states a type rule, a syntax, a memory
effect and interpreter semantics; the spec's ops are all there.

`slot_table()` and `ops_missing(slot)` are meant for later completeness
assertions (e.g. "every differentiable op has a vjp", "every op has an llvm
lowering"): `ops_missing("llvm")` lists the ops that still lack a lowering.
"""
from __future__ import annotations

import itertools

import pytest

import irad
from irad.ops import OPS
from irad.ops.core import EFFECTS
from irad.parser import PARSE
from irad.printer import SYNTAX
from irad.types import F32, F64, I1, I32, I64

SLOTS = ("infer", "syntax", "effect", "evaluate", "execute", "simplify", "jvp", "vjp", "llvm")

REQUIRED_OPS = set("""
    const add sub mul div floordiv mod neg pow fma min max abs sin cos tan asin acos atan
    atan2 sinh cosh tanh exp expm1 log log1p log2 log10 sqrt hypot floor ceil lt le gt ge
    eq ne and or not xor select cast alloc load store dim view copy for while if yield
    return call condition fill
""".split())

# Differentiable ops whose derivative the reverse/forward passes build
# themselves (memory: shadows; see DESIGN.md §4) instead of a jvp/vjp slot.
# Forward mode (JVP) of memory ops belongs to the forward-mode pass, not yet written.
TANGENT_IN_PASSES = {"load", "store", "view", "transpose", "reshape", "copy", "fill", "gemm"}


def slot_table() -> dict[str, list[str]]:
    """Op name -> the slots its OpDef fills, in SLOTS order."""
    return {name: d.filled_slots() for name, d in sorted(OPS.items())}


def ops_missing(slot: str, only=lambda d: True) -> set[str]:
    """Names of the ops (among those `only(opdef)` selects) that leave `slot` empty."""
    return {name for name, d in OPS.items() if only(d) and slot not in d.filled_slots()}


def format_slot_table() -> str:
    width = max(map(len, OPS))
    head = " " * width + "  " + " ".join(s[:4].ljust(4) for s in SLOTS)
    rows = [name.ljust(width) + "  " + " ".join(("x" if s in slots else ".").ljust(4) for s in SLOTS)
            for name, slots in slot_table().items()]
    return "\n".join([head, *rows])


def test_slot_table_is_recorded(record_property):
    """`pytest -rP tests/test_op_table.py` shows the table (x: filled)."""
    table = format_slot_table()
    record_property("op_slots", table)
    print(table)
    assert len(table.splitlines()) == len(OPS) + 1


def test_spec_ops_are_all_defined():
    assert REQUIRED_OPS - set(OPS) == set()


def test_every_op_has_a_type_rule_and_syntax():
    assert ops_missing("infer") == set()
    assert ops_missing("syntax") == set()
    assert {n for n, d in OPS.items() if d.syntax not in SYNTAX or d.syntax not in PARSE} == set()


def test_every_effect_is_allowed():
    assert {n: d.effect for n, d in OPS.items() if d.effect not in EFFECTS} == {}
    assert set(EFFECTS) == {"none", "read", "write", "alloc", "control"}


def test_every_op_has_semantics():
    no_semantics = {n for n, d in OPS.items()
                    if d.evaluate is None and d.execute is None and not d.terminator}
    assert no_semantics == set()


def test_terminators_and_regions_are_consistent():
    for name, d in OPS.items():
        assert d.regions >= 0, name
        if d.terminator:
            assert d.regions == 0 and d.effect == "none" and d.syntax == "terminator", name
        if d.regions:
            assert d.execute is not None and d.effect == "control", name
    assert {n for n, d in OPS.items() if d.terminator} == {"yield", "condition", "return"}
    assert {n: d.regions for n, d in OPS.items() if d.regions} == {"for": 1, "while": 2, "if": 2}


def test_memory_effects():
    names = ("alloc", "load", "store", "copy", "fill", "dim", "view", "transpose", "reshape", "check")
    effects = {n: OPS[n].effect for n in names}
    assert effects == {"alloc": "alloc", "load": "read", "store": "write", "copy": "write",
                       "fill": "write", "dim": "none", "view": "none", "transpose": "none",
                       "reshape": "none", "check": "read"}


def test_views_are_marked_as_such():
    """View ops alias operand 0 (reverse mode, alias classes and the entry rely on is_view)."""
    assert {n for n, d in OPS.items() if d.is_view} == {"view", "transpose", "reshape"}
    for name in ("view", "transpose", "reshape"):
        assert OPS[name].differentiable and OPS[name].llvm is not None, name


def test_check_is_never_removed():
    """A check has no results: dead-code elimination keeps it, LICM does not move it."""
    from irad.passes.rewrite import has_side_effects
    m = irad.parse_ir('func @f(%n: i64) -> () {\n  check %n, %n {kind = "equal", message = "m"}\n'
                      '  return\n}\n')
    op = m["f"].body.block.ops[0]
    assert has_side_effects(op) and not OPS["check"].pure


def test_every_differentiable_op_has_a_vjp_rule():
    assert ops_missing("vjp", lambda d: d.differentiable) == set()


def test_differentiable_scalar_ops_have_jvp_rules():
    assert ops_missing("jvp", lambda d: d.differentiable) <= TANGENT_IN_PASSES


def test_memory_rules_are_marked_as_such():
    memory = {n for n, d in OPS.items() if d.extra.get("vjp_form") == "memory"}
    assert memory == {"load", "store", "view", "transpose", "reshape", "copy", "fill", "gemm"}


def test_float_math_ops_are_differentiable():
    math_ops = {"add", "sub", "mul", "div", "pow", "fma", "neg", "abs", "min", "max", "sin", "cos",
                "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh", "exp", "expm1",
                "log", "log1p", "log2", "log10", "sqrt", "hypot", "select", "cast"}
    assert {n for n in math_ops if not OPS[n].differentiable} == set()


def test_pure_ops_are_pure():
    for name in ("add", "sin", "lt", "select", "cast", "const"):
        assert OPS[name].pure, name
    for name in ("store", "for", "yield", "call", "alloc"):
        assert not OPS[name].pure, name


# ---- every pure scalar op, on every type its rule accepts, through the interpreter ----

SAMPLES = {F64: [0.5, -1.25], F32: [0.5, -1.25], I64: [7, -3], I32: [7, -3], I1: [True, False]}


def _accepted_signatures(name):
    """(operand types, result type) for each all-same-type scalar signature the rule accepts."""
    d = OPS[name]
    for t, n in itertools.product(SAMPLES, (1, 2, 3)):
        try:
            results = d.infer([t] * n, {})
        except Exception:  # noqa: BLE001 - a rejected signature
            continue
        yield [t] * n, results


SCALAR_OPS = sorted(n for n, d in OPS.items()
                    if d.syntax == "generic" and d.effect == "none" and not d.terminator and d.evaluate)


@pytest.mark.parametrize("name", SCALAR_OPS)
def test_scalar_op_results_have_their_declared_type(name):
    """The interpreter refuses an evaluate that returns the wrong dtype, so
    running each accepted signature checks the op's typing end to end."""
    signatures = list(_accepted_signatures(name))
    if name == "select":
        signatures = [([I1, t, t], [t]) for t in SAMPLES]
    assert signatures, f"{name} accepts no all-scalar signature"
    for operand_types, result_types in signatures:
        args = ", ".join(f"%a{k}: {t}" for k, t in enumerate(operand_types))
        uses = ", ".join(f"%a{k}" for k in range(len(operand_types)))
        rt = ", ".join(map(str, result_types))
        text = f"func @f({args}) -> {rt} {{\n  %r = {name} {uses} : {rt}\n  return %r\n}}\n"
        module = irad.verify(irad.parse_ir(text))
        values = [SAMPLES[t][k % 2] for k, t in enumerate(operand_types)]
        (out,) = irad.interpret(module, values)
        assert isinstance(out, result_types[0].numpy.type), (name, operand_types, type(out))
