"""Building blocks of the exact vector math functions (runtime/exactmath.py).

A `Lanes` builder writes LLVM IR over 4 float64 lanes
(`<4 x double>`) and their bit patterns (`<4 x i64>`): splatted
constants, a multiply-add rounded once (`fma`), per-lane table loads,
and conversions between a lane's value and its bits, and `rarely`, a block
run only when some lane needs it. Each exact function
spells out its libm's sequence of IEEE operations with it, so the code
reads like the scalar algorithm it reproduces.

Invariants:
- `fma` is `llvm.fma` (one rounding); every other float op is a plain
  IEEE op without fast-math flags, so LLVM keeps each rounding where it is.
- Shift amounts are the caller's to keep within 0..63 (LLVM makes larger
  ones poison).
"""
from __future__ import annotations

import struct

from llvmlite import ir

from .abi import F64

LANES = 4                                   # AVX2: 4 doubles
I32 = ir.IntType(32)
I64 = ir.IntType(64)
VF64 = ir.VectorType(F64, LANES)
VI64 = ir.VectorType(I64, LANES)


def bits(x: float) -> int:
    """The IEEE-754 bit pattern of float64 `x`."""
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def from_bits(pattern: int) -> float:
    """The float64 whose IEEE-754 bit pattern is `pattern`."""
    return struct.unpack("<d", struct.pack("<Q", pattern))[0]


class Lanes:
    """An IRBuilder positioned in `fn`'s entry block, with helpers for 4-lane float64 code."""

    def __init__(self, fn: ir.Function):
        self.fn = fn
        self.b = ir.IRBuilder(fn.append_basic_block("entry"))

    # ---- constants and casts --------------------------------------------------
    @staticmethod
    def f(value: float) -> ir.Constant:
        return ir.Constant(VF64, [value] * LANES)

    @staticmethod
    def i(value: int) -> ir.Constant:
        return ir.Constant(VI64, [value % 2**64] * LANES)

    def bits(self, x: ir.Value) -> ir.Value:
        return self.b.bitcast(x, VI64)

    def double(self, x: ir.Value) -> ir.Value:
        return self.b.bitcast(x, VF64)

    def top(self, x: ir.Value) -> ir.Value:
        """The high 32 bits of each lane with the sign cleared (fdlibm's `hx & 0x7fffffff`)."""
        return self.b.and_(self.b.lshr(self.bits(x), self.i(32)), self.i(0x7FFFFFFF))

    def negative(self, x: ir.Value) -> ir.Value:
        """The sign bit of each lane is set (true for -0.0 and negative NaNs too)."""
        return self.b.icmp_signed("<", self.bits(x), self.i(0))

    def to_int(self, x: ir.Value) -> ir.Value:
        """C's (int) x: truncation toward zero (x within 32-bit range), widened to i64 lanes."""
        return self.b.sext(self.b.fptosi(x, ir.VectorType(I32, LANES)), VI64)

    def trunc(self, x: ir.Value) -> ir.Value:
        """x rounded toward zero, as a double (C's (int) x for x within int range, without
        leaving the float registers)."""
        return self.b.call(self.declare("llvm.trunc.v4f64", VF64, [VF64]), [x])

    def to_double(self, k: ir.Value) -> ir.Value:
        """(double) k for k within 32-bit range."""
        return self.b.sitofp(self.b.trunc(k, ir.VectorType(I32, LANES)), VF64)

    # ---- arithmetic -------------------------------------------------------------
    def declare(self, name: str, ret: ir.Type, args) -> ir.Function:
        """Function `name` of the module (an intrinsic, libm), declared on first use."""
        module = self.fn.module
        return module.globals.get(name) or ir.Function(module, ir.FunctionType(ret, list(args)), name)

    def fma(self, a: ir.Value, c: ir.Value, d: ir.Value) -> ir.Value:
        """a * c + d, rounded once."""
        return self.b.call(self.declare("llvm.fma.v4f64", VF64, [VF64] * 3), [a, c, d])

    def fabs(self, x: ir.Value) -> ir.Value:
        return self.double(self.b.and_(self.bits(x), self.i(0x7FFFFFFFFFFFFFFF)))

    def where(self, cond: ir.Value, yes: ir.Value, no: ir.Value) -> ir.Value:
        return self.b.select(cond, yes, no)

    def any(self, mask: ir.Value) -> ir.Value:
        """Some lane of the <4 x i1> `mask` is set (an i1)."""
        packed = self.b.bitcast(mask, ir.IntType(LANES))
        return self.b.icmp_unsigned("!=", packed, ir.Constant(ir.IntType(LANES), 0))

    def rarely(self, mask: ir.Value, common: ir.Value, compute) -> ir.Value:
        """`common`, or `compute()` (built in a block of its own, run only when some lane of
        `mask` is set): keeps the work of rare lanes off the common path."""
        b = self.b
        entry = b.block
        rare, done = b.append_basic_block("rare"), b.append_basic_block("done")
        b.cbranch(self.any(mask), rare, done)
        b.position_at_end(rare)
        computed = compute()
        rare_end = b.block
        b.branch(done)
        b.position_at_end(done)
        result = b.phi(common.type)
        result.add_incoming(common, entry)
        result.add_incoming(computed, rare_end)
        return result

    def gather(self, table: ir.GlobalVariable, slots: ir.Value) -> ir.Value:
        """table[slots[k]] for each lane k of an i64 table."""
        out = ir.Constant(VI64, ir.Undefined)
        for k in range(LANES):
            slot = self.b.extract_element(slots, ir.Constant(I32, k))
            value = self.b.load(self.b.gep(table, [ir.Constant(I64, 0), slot], inbounds=True), typ=I64)
            out = self.b.insert_element(out, value, ir.Constant(I32, k))
        return out


def constant_table(module: ir.Module, name: str, element: ir.Type, values) -> ir.GlobalVariable:
    """The private constant global array `name` of `values`, created on first use."""
    if name in module.globals:
        return module.globals[name]
    t = ir.ArrayType(element, len(values))
    g = ir.GlobalVariable(module, t, name)
    g.linkage = "private"
    g.global_constant = True
    g.unnamed_addr = True
    g.initializer = ir.Constant(t, list(values))
    return g
