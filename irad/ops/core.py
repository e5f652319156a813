"""The op table's machinery: `OpDef`, the registry, and shared type rules.

Invariant: an op is defined once, by one `define(...)` call that states its
type rule, text syntax, memory effect, interpreter semantics, folding and
simplification, and the slots later transformations read: `jvp`, `vjp`
(both build IR with a `Builder`) and `llvm` (a lowering descriptor the
runtime interprets). Nothing outside `irad/ops/` decides what an op means.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..types import I1, ArrayType, ScalarType, Type

OPS: dict[str, "OpDef"] = {}

EFFECTS = ("none", "read", "write", "alloc", "control")


# Attributes that only permit a cheaper lowering; the value an op stands for ignores them.
LOWERING_HINTS = ("approx",)


def semantic_attrs(attrs: dict) -> dict:
    """attrs less the lowering hints."""
    if not any(h in attrs for h in LOWERING_HINTS):
        return attrs
    return {k: v for k, v in attrs.items() if k not in LOWERING_HINTS}


class TypeRuleError(Exception):
    """Raised by a type rule: operand `index` has type `actual`, not `expected`."""

    def __init__(self, index: int, expected: str, actual):
        self.index, self.expected, self.actual = index, expected, actual
        super().__init__(f"operand {index}: expected {expected}, got {actual}")


@dataclass
class OpDef:
    name: str
    infer: Callable[[list[Type], dict], list[Type]]
    syntax: str = "generic"
    effect: str = "none"
    evaluate: Callable | None = None      # (*operand values, **attrs) -> result(s), pure ops
    execute: Callable | None = None       # (interp, op, operand values) -> results, others
    simplify: Callable | None = None      # (builder, op, constants) -> Value | None
    jvp: Callable | None = None
    vjp: Callable | None = None
    llvm: object | None = None
    regions: int = 0
    terminator: bool = False
    differentiable: bool = False
    notes: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def is_view(self) -> bool:
        """A view op: its result aliases operand 0 and its other operands are i64 indices.

        Reverse mode takes a view's shadow by applying the same op, with the same
        attributes, to the source's shadow; alias analysis joins result and source."""
        return bool(self.extra.get("view"))

    @property
    def expensive(self) -> bool:
        """A math function far costlier than arithmetic: a value it computed is worth keeping
        in memory rather than computing again (tracer fusion, reverse mode's reloads)."""
        return bool(self.extra.get("expensive"))

    @property
    def can_fail(self) -> bool:
        """A pure op that may still raise (a view's index or extent checks): it must not
        be moved where it would run when the program would not have run it."""
        return bool(self.extra.get("can_fail"))

    @property
    def writes(self) -> int | None:
        """The index of the array operand this op writes (`extra["writes"]`), if any."""
        return self.extra.get("writes")

    def evaluate_op(self, op, *values):
        """`evaluate` on operand values with op's attributes, less the lowering hints."""
        return self.evaluate(*values, **semantic_attrs(op.attrs))

    @property
    def pure(self) -> bool:
        return self.effect == "none" and not self.terminator and self.regions == 0

    def filled_slots(self) -> list[str]:
        slots = ("infer", "syntax", "effect", "evaluate", "execute", "simplify", "jvp", "vjp", "llvm")
        return [s for s in slots if getattr(self, s) not in (None, "")]


def define(name: str, infer, **kw) -> OpDef:
    assert name not in OPS, f"op {name} defined twice"
    OPS[name] = OpDef(name, infer, **kw)
    return OPS[name]


# ---- type rules shared by families of ops ---------------------------------

def expect_scalar(types, i, kinds=("float", "int", "bool")) -> ScalarType:
    t = types[i]
    ok = isinstance(t, ScalarType) and (
        ("float" in kinds and t.is_float) or ("int" in kinds and t.is_int) or ("bool" in kinds and t.is_bool))
    if not ok:
        raise TypeRuleError(i, " or ".join(kinds) + " scalar", t)
    return t


def expect_array(types, i) -> ArrayType:
    if not isinstance(types[i], ArrayType):
        raise TypeRuleError(i, "array", types[i])
    return types[i]


def expect_same(types, i, want: Type) -> None:
    if types[i] != want:
        raise TypeRuleError(i, str(want), types[i])


def arity(n: int):
    def check(types):
        if len(types) != n:
            raise TypeRuleError(len(types), f"{n} operands", f"{len(types)} operands")
    return check


def same_type_rule(n: int, kinds, result=None):
    """n operands of one scalar type drawn from `kinds`; result that type (or `result`)."""
    def infer(types, attrs):
        arity(n)(types)
        t = expect_scalar(types, 0, kinds)
        for i in range(1, n):
            expect_same(types, i, t)
        return [result or t]
    return infer


def compare_rule(types, attrs):
    arity(2)(types)
    t = expect_scalar(types, 0)
    expect_same(types, 1, t)
    return [I1]
