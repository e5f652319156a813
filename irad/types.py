"""IR types: scalars, strided arrays, static tuples and `none`.

Invariants:
- types are immutable, hashable and compare by value;
- `str(t)` is the text syntax (no spaces inside `<...>`) and
  `parse_type(str(t)) == t`;
- every type answers `is_scalar`, `is_array`, `is_float`, `is_int`,
  `is_bool` (False unless it is such a scalar), so rules can ask any type;
- a malformed type (in text or by construction) raises `ValueError`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_NUMPY_NAMES = {"f64": "float64", "f32": "float32", "i64": "int64", "i32": "int32", "i1": "bool"}
_BITS = {"f64": 64, "f32": 32, "i64": 64, "i32": 32, "i1": 1}
LAYOUTS = ("C", "strided")


class Type:
    """Base of all IR types."""

    is_scalar = False
    is_array = False
    is_float = False
    is_int = False
    is_bool = False


@dataclass(frozen=True)
class ScalarType(Type):
    name: str
    is_scalar = True

    def __post_init__(self):
        if self.name not in _NUMPY_NAMES:
            raise ValueError(f"unknown scalar type {self.name!r}")

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
        return _BITS[self.name]

    @property
    def numpy(self) -> np.dtype:
        return np.dtype(_NUMPY_NAMES[self.name])


F64, F32, I64, I32, I1 = (ScalarType(n) for n in ("f64", "f32", "i64", "i32", "i1"))
SCALARS = {t.name: t for t in (F64, F32, I64, I32, I1)}
_FROM_NUMPY = {v: SCALARS[k] for k, v in _NUMPY_NAMES.items()}


def scalar_from_numpy(dtype) -> ScalarType | None:
    """The scalar type of a NumPy dtype, or None when irad has none."""
    return _FROM_NUMPY.get(np.dtype(dtype).name)


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
        if not isinstance(self.dtype, ScalarType):
            raise ValueError(f"array element type must be a scalar type, got {self.dtype}")
        if not isinstance(self.ndim, int) or self.ndim < 0:
            raise ValueError(f"array ndim must be a non-negative int, got {self.ndim!r}")
        if self.layout not in LAYOUTS:
            raise ValueError(f"array layout must be C or strided, got {self.layout!r}")

    def __str__(self) -> str:
        return f"array<{self.dtype},{self.ndim},{self.layout}>"

    def with_layout(self, layout: str) -> "ArrayType":
        return ArrayType(self.dtype, self.ndim, layout)


@dataclass(frozen=True)
class TupleType(Type):
    elements: tuple[Type, ...]

    def __post_init__(self):
        object.__setattr__(self, "elements", tuple(self.elements))
        for e in self.elements:
            if not isinstance(e, Type):
                raise ValueError(f"tuple element must be a type, got {e!r}")

    def __str__(self) -> str:
        return "tuple<" + ",".join(str(e) for e in self.elements) + ">"


@dataclass(frozen=True)
class NoneType(Type):
    def __str__(self) -> str:
        return "none"


NONE = NoneType()


@dataclass(frozen=True)
class TapeType(Type):
    """A growable stack of scalars that reverse mode caches values on."""

    element: ScalarType

    def __str__(self) -> str:
        return f"tape<{self.element}>"


def parse_type(text: str) -> Type:
    """Parse the text form of a type (whitespace-insensitive); ValueError if malformed."""
    compact = "".join(text.split())
    t, rest = _parse_type_prefix(compact)
    if rest:
        raise ValueError(f"trailing text after type in {text!r}: {rest!r}")
    return t


def _word_prefix(text: str) -> tuple[str, str]:
    k = 0
    while k < len(text) and (text[k].isalnum() or text[k] == "_"):
        k += 1
    return text[:k], text[k:]


def _parse_type_prefix(text: str) -> tuple[Type, str]:
    """Parse one type at the start of `text`; return it and the rest."""
    word, rest = _word_prefix(text)
    if word in SCALARS:
        return SCALARS[word], rest
    if word == "none":
        return NONE, rest
    if word == "array" and rest.startswith("<"):
        return _parse_array(rest[1:])
    if word == "tuple" and rest.startswith("<"):
        return _parse_tuple(rest[1:])
    if word == "tape" and rest.startswith("<") and ">" in rest:
        end = rest.index(">")
        if rest[1:end] in SCALARS:
            return TapeType(SCALARS[rest[1:end]]), rest[end + 1:]
    raise ValueError(f"unknown type: {text!r}")


def _parse_array(text: str) -> tuple[ArrayType, str]:
    end = text.find(">")
    parts = text[:end].split(",") if end >= 0 else []
    if len(parts) != 3 or parts[0] not in SCALARS or not parts[1].isdigit():
        raise ValueError(f"malformed array type: array<{text}")
    return ArrayType(SCALARS[parts[0]], int(parts[1]), parts[2]), text[end + 1:]


def _parse_tuple(rest: str) -> tuple[TupleType, str]:
    elements = []
    while not rest.startswith(">"):
        t, rest = _parse_type_prefix(rest)
        elements.append(t)
        if rest.startswith(","):
            rest = rest[1:]
        elif not rest.startswith(">"):
            raise ValueError(f"expected ',' or '>' in tuple type, found {rest!r}")
    return TupleType(tuple(elements)), rest[1:]


def promote(a: ScalarType, b: ScalarType) -> ScalarType:
    """NumPy's promotion of two strongly typed scalars."""
    return scalar_from_numpy(np.promote_types(a.numpy, b.numpy))
