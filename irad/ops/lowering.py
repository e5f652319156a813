"""Lowering descriptors: the data an op's `llvm` slot holds.

Invariants: descriptors are plain frozen dataclasses and import nothing
from LLVM; `irad.runtime` interprets them (`runtime/scalars.py` for the
generic kinds, a table of hand-written lowerings keyed by `Special.name`).
Every op in the table has one (tests/test_codegen.py checks it, and that
the runtime can lower it). The first operand's type picks a `Binary`
variant: `float` for f64/f32, `int` for i64/i32/i1.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Binary:
    """One LLVM binary instruction (`fadd`, `add`, `and`, ...) per operand kind."""

    float: str | None = None
    int: str | None = None


@dataclass(frozen=True)
class Compare:
    """A comparison `op` in `< <= > >= == !=`: fcmp ordered (unordered for
    `!=`, so that nan != x), icmp signed for integers, unsigned for i1."""

    op: str


@dataclass(frozen=True)
class Intrinsic:
    """An overloaded LLVM float intrinsic, called as `name.f64` / `name.f32`."""

    name: str


@dataclass(frozen=True)
class Libm:
    """A C math library function: `name` for f64, `name + "f"` for f32."""

    name: str


@dataclass(frozen=True)
class Special:
    """Lowered by hand: `name` keys the runtime's table of lowerings."""

    name: str


DESCRIPTORS = (Binary, Compare, Intrinsic, Libm, Special)
