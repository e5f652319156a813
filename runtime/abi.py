"""LLVM types for IR types, and the array ABI.

Invariants:
- A scalar lives in an LLVM register of `reg_type` (i1 for bools) and in
  memory as `mem_type` (bools are one byte, 0 or 1, as in NumPy).
- Inside generated code an array is an `ArrayVal`: a typed data pointer to
  its first element, the `base` pointer of the memory that owns it (an
  argument's data pointer or an allocation; views inherit it), and one i64
  extent and one i64 stride (in elements) per dimension. Arrays of layout
  "C" always carry strides computed from the shape (innermost 1), never
  strides read from memory, so LLVM sees unit-stride loops.
- Internal functions take and return values flattened by `flat_types`:
  a scalar is one value; an array is data, base, shape..., strides....
- The exported C ABI passes an array as data pointer, shape[ndim] and
  strides[ndim] (elements); a bool as one byte; a tape as a pointer to its
  `TAPE` header (data, length, capacity, read cursor, the cache slot its
  buffer returns to or null, element size in bytes).
- `CTX` is the per-call context every generated function receives: the
  error record (status, site, index, extent, axis) and the arena of
  allocations made during the call.
"""
from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from irad.errors import UnsupportedError
from irad.types import ArrayType, ScalarType, TapeType, Type

F64, F32 = ir.DoubleType(), ir.FloatType()
I64, I32, I8, I1 = ir.IntType(64), ir.IntType(32), ir.IntType(8), ir.IntType(1)
PTR = ir.PointerType()
LIKELY, UNLIKELY = (1 << 20, 1), (1, 1 << 20)     # branch weights: (taken, not taken)
VOID = ir.VoidType()

ERR_FIELDS = 5                       # status, site, index, extent, axis
CTX = ir.LiteralStructType([ir.ArrayType(I64, ERR_FIELDS), PTR, I64, I64])
CTX_ERR, CTX_ITEMS, CTX_COUNT, CTX_CAP = range(4)
TAPE = ir.LiteralStructType([PTR, I64, I64, I64, PTR, I64])
TAPE_DATA, TAPE_LEN, TAPE_CAP, TAPE_CURSOR, TAPE_SLOT, TAPE_SIZE = range(6)

_REG = {"f64": F64, "f32": F32, "i64": I64, "i32": I32, "i1": I1}


def i64(value: int) -> ir.Constant:
    return ir.Constant(I64, value)


def reg_type(t: ScalarType) -> ir.Type:
    return _REG[t.name]


def mem_type(t: ScalarType) -> ir.Type:
    return I8 if t.is_bool else _REG[t.name]


def itemsize(t: ScalarType) -> int:
    return 1 if t.is_bool else t.bits // 8


@dataclass(frozen=True)
class ArrayVal:
    """An array inside generated code (see the module invariants)."""

    data: ir.Value
    base: ir.Value
    shape: tuple
    strides: tuple


def check_type(t: Type, where: str) -> None:
    if not isinstance(t, (ScalarType, ArrayType, TapeType)):
        raise UnsupportedError(f"the CPU backend cannot pass a value of type {t} ({where})")


def flat_types(t: Type) -> list[ir.Type]:
    if isinstance(t, ScalarType):
        return [reg_type(t)]
    if isinstance(t, TapeType):
        return [PTR]
    return [PTR, PTR] + [I64] * (2 * t.ndim)


def flatten(t: Type, v) -> list:
    if not isinstance(t, ArrayType):
        return [v]
    return [v.data, v.base, *v.shape, *v.strides]


def unflatten(b: ir.IRBuilder, t: Type, values) -> object:
    """Rebuild a lowered value from `flat_types(t)` values (C strides recomputed)."""
    values = list(values)
    if not isinstance(t, ArrayType):
        return values[0]
    n = t.ndim
    shape = tuple(values[2:2 + n])
    strides = c_strides(b, shape) if t.layout == "C" else tuple(values[2 + n:2 + 2 * n])
    return ArrayVal(values[0], values[1], shape, strides)


def c_strides(b: ir.IRBuilder, shape) -> tuple:
    """Row-major strides in elements: innermost 1, then running products."""
    strides = [i64(1)] * len(shape)
    for k in range(len(shape) - 2, -1, -1):
        strides[k] = b.mul(strides[k + 1], shape[k + 1], flags=["nsw"])
    return tuple(strides)


def abi_types(t: Type) -> list[ir.Type]:
    """Parameter types of one argument in the exported C ABI."""
    if isinstance(t, ScalarType):
        return [mem_type(t)]
    if isinstance(t, TapeType):
        return [PTR]
    return [PTR] + [I64] * (2 * t.ndim)


def out_type(t: Type) -> ir.Type:
    """How one result is stored in the caller's out buffer."""
    if isinstance(t, ScalarType):
        return mem_type(t)
    if isinstance(t, TapeType):
        return PTR
    return ir.LiteralStructType([PTR, PTR, I64, ir.ArrayType(I64, t.ndim), ir.ArrayType(I64, t.ndim)])


def to_mem(b: ir.IRBuilder, t: ScalarType, v: ir.Value) -> ir.Value:
    return b.zext(v, I8) if t.is_bool else v


def from_mem(b: ir.IRBuilder, t: ScalarType, v: ir.Value) -> ir.Value:
    return b.icmp_unsigned("!=", v, ir.Constant(I8, 0)) if t.is_bool else v


def stack_slot(b: ir.IRBuilder, ty: ir.Type, count: int | None = None) -> ir.Value:
    """An alloca seen as an opaque `ptr` (llvmlite types allocas as typed pointers)."""
    slot = b.alloca(ty, size=None if count is None else i64(count))
    slot.type = PTR
    return slot
