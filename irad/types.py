"""IR types: scalars, strided arrays, static tuples and `none`.

Invariant: types are immutable, hashable and compare by value; `str(t)`
is the text syntax and `parse_type(str(t)) == t`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class Type:
    """Base of all IR types."""

    is_scalar = False
    is_array = False


@dataclass(frozen=True)
class ScalarType(Type):
    name: str
    is_scalar = True

    def __str__(self) -> str:
        return self.name

    @property
    def is_float(self) -> bool:
        return self.name in ("f64", "f32")

    @property
    def is_int(self) -> bool:
        return self.name in ("i64", "i32")

    @property
    def is_bool(self) -> bool:
        return self.name == "i1"

    @property
    def bits(self) -> int:
        return {"f64": 64, "f32": 32, "i64": 64, "i32": 32, "i1": 1}[self.name]

    @property
    def numpy(self) -> np.dtype:
        return np.dtype(_NUMPY_NAMES[self.name])


F64, F32, I64, I32, I1 = (ScalarType(n) for n in ("f64", "f32", "i64", "i32", "i1"))
SCALARS = {t.name: t for t in (F64, F32, I64, I32, I1)}
_NUMPY_NAMES = {"f64": "float64", "f32": "float32", "i64": "int64", "i32": "int32", "i1": "bool"}


def scalar_from_numpy(dtype) -> ScalarType | None:
    """The scalar type of a NumPy dtype, or None when irad has none."""
    inverse = {v: k for k, v in _NUMPY_NAMES.items()}
    name = inverse.get(np.dtype(dtype).name)
    return SCALARS[name] if name else None


@dataclass(frozen=True)
class ArrayType(Type):
    """A mutable strided array; shape and strides are runtime values.

    `layout` is "C" (row-major contiguous, unit innermost stride) or
    "strided" (any strides, in elements).
    """

    dtype: ScalarType
    ndim: int
    layout: str = "C"
    is_array = True

    def __post_init__(self):
        assert self.layout in ("C", "strided"), self.layout

    def __str__(self) -> str:
        return f"array<{self.dtype},{self.ndim},{self.layout}>"

    def with_layout(self, layout: str) -> "ArrayType":
        return ArrayType(self.dtype, self.ndim, layout)


@dataclass(frozen=True)
class TupleType(Type):
    elements: tuple[Type, ...]

    def __str__(self) -> str:
        return "tuple<" + ",".join(str(e) for e in self.elements) + ">"


@dataclass(frozen=True)
class NoneType(Type):
    def __str__(self) -> str:
        return "none"


NONE = NoneType()


def parse_type(text: str) -> Type:
    """Parse the text form of a type (whitespace-insensitive)."""
    text = text.replace(" ", "")
    t, rest = _parse_type_prefix(text)
    if rest:
        raise ValueError(f"trailing text after type: {rest!r}")
    return t


def _parse_type_prefix(text: str) -> tuple[Type, str]:
    for name, t in SCALARS.items():
        if text.startswith(name) and not text[len(name):len(name) + 1].isalnum():
            return t, text[len(name):]
    if text.startswith("none"):
        return NONE, text[4:]
    if text.startswith("array<"):
        end = text.index(">")
        dtype, ndim, layout = text[6:end].split(",")
        return ArrayType(SCALARS[dtype], int(ndim), layout), text[end + 1:]
    if text.startswith("tuple<"):
        rest, elements = text[6:], []
        while not rest.startswith(">"):
            t, rest = _parse_type_prefix(rest)
            elements.append(t)
            rest = rest[1:] if rest.startswith(",") else rest
        return TupleType(tuple(elements)), rest[1:]
    raise ValueError(f"unknown type: {text!r}")


def promote(a: ScalarType, b: ScalarType) -> ScalarType:
    """NumPy's promotion of two strongly typed scalars."""
    return scalar_from_numpy(np.promote_types(a.numpy, b.numpy))
