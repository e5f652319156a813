"""Trace-time values and NumPy's promotion rules.

A name in the tracer's environment holds either a runtime value — `Scalar`
(an IR scalar plus NEP 50 "weak" flag and a known lower bound) or `Array`
(an IR array reference) — or a static Python object known at trace time
(numbers, strings, None, tuples, dicts, functions, modules, `Struct`).

Invariants: a weak scalar is what CPython would hold as a Python int, float
or bool; a strong one is a NumPy scalar. Static numbers stay static until
an op needs them in IR. `lb` is a proven lower bound (used to skip
negative-index wrap-around), never a guess.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import Value
from ..types import F32, F64, I1, I32, I64, ArrayType, ScalarType, promote

KIND = {"i1": 0, "i32": 1, "i64": 1, "f32": 2, "f64": 2}


@dataclass(frozen=True, eq=False)
class Scalar:
    value: Value
    weak: bool = False
    lb: int | None = None

    @property
    def type(self) -> ScalarType:
        return self.value.type


@dataclass(frozen=True, eq=False)
class Array:
    value: Value
    note: str | None = None    # set on a copy where NumPy would give a view (x.T): not writable

    @property
    def type(self) -> ArrayType:
        return self.value.type


@dataclass(eq=False)
class Struct:
    """A dataclass argument at trace time: its class and traced fields."""

    cls: type
    fields: dict


class Undefined:
    """A name that exists only on some paths; using it is an error."""

    def __init__(self, why: str, hint: str | None = None):
        self.why = why
        self.hint = hint


def is_static_number(x) -> bool:
    return isinstance(x, (bool, int, float, np.bool_, np.integer, np.floating)) \
        and not isinstance(x, Scalar)


def static_type(x) -> tuple[ScalarType, bool]:
    """IR type and weakness of a static number."""
    if isinstance(x, (bool, np.bool_)):
        return I1, isinstance(x, bool)
    if isinstance(x, int):
        return I64, True
    if isinstance(x, float) and not isinstance(x, np.floating):
        return F64, True
    from ..types import scalar_from_numpy
    return scalar_from_numpy(np.asarray(x).dtype), False


def is_runtime(x) -> bool:
    return isinstance(x, (Scalar, Array))


def result_type(a: tuple[ScalarType, bool], b: tuple[ScalarType, bool]) -> tuple[ScalarType, bool]:
    """NEP 50 promotion of two (type, weak) pairs for arithmetic."""
    (ta, wa), (tb, wb) = a, b
    if wa and wb:
        kind = max(KIND[ta.name], KIND[tb.name], 1)
        return (F64 if kind == 2 else I64), True
    if wa or wb:
        (ts, _), (tw, _) = (b, a) if wa else (a, b)
        if KIND[tw.name] <= KIND[ts.name]:
            return (I64 if ts == I1 else ts), False
        return (F64 if KIND[tw.name] == 2 else I64), False
    t = promote(ta, tb)
    return (I64 if t == I1 else t), False


def float_type(t: ScalarType) -> ScalarType:
    """The float type true division or a math function gives for t."""
    return F32 if t == F32 else F64


__all__ = ["Scalar", "Array", "Struct", "Undefined", "is_static_number", "static_type",
           "is_runtime", "result_type", "float_type", "I1", "I32", "I64", "F32", "F64"]
