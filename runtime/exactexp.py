"""exp of float64 on 4 lanes, bit-identical to glibc's, so its loops vectorize.

glibc (2.28 and later) computes exp(x) = 2^(k/128) * exp(r):
k = round(x * 128 / ln 2), r = x - k ln2/128 (two-part ln 2), 2^(k/128)
from a 128-entry table of `scale * (1 + tail)` and exp(r) - 1 by a
degree-5 polynomial; on CPUs with FMA it runs a build whose multiply-adds
are fused. `exp_lanes` emits that sequence of IEEE operations on 4 lanes,
fused exactly where that build fuses them, branch-free on the common
path (2^-54 <= |x| < 512; other lanes are selected in a block run only
when a vector has one; table lookups are per-lane loads).
runtime/exactmath.py makes it the vector variant of libm's exp call.

Invariants:
- Every input gives libm's result bit for bit (tests/test_exactmath.py
  compares against libm's exp over every range the algorithm
  distinguishes): |x| < 2^-54 gives 1 + x; 2^-54 <= |x| < 512 the table
  path; 512 <= |x| < 1024 the same path rescaled by 2^1009 (overflow side)
  or carefully rounded into the subnormals (underflow side); beyond, inf,
  +0.0, and 1 + x for NaN and +inf.
- The table is derived from 2^(k/128) by exact rational arithmetic
  (`_table`), the way glibc's was made, not copied from it.
"""
from __future__ import annotations

import functools
from decimal import Decimal, localcontext
from fractions import Fraction

from llvmlite import ir

from .exactvec import I64, Lanes, constant_table
from .exactvec import bits as bits_of

N = 128                                        # table entries: 2^(k/N), k in [0, N)
INV_LN2_N = float.fromhex("0x1.71547652b82fep+7")
NEG_LN2_HI_N = float.fromhex("-0x1.62e42fefa0000p-8")
NEG_LN2_LO_N = float.fromhex("-0x1.cf79abc9e3b3ap-47")
C2, C3, C4, C5 = (float.fromhex(h) for h in (
    "0x1.ffffffffffdbdp-2", "0x1.555555555543cp-3", "0x1.55555cf172b91p-5", "0x1.1111167a4d017p-7"))
SHIFT = float.fromhex("0x1.8p52")               # adding it rounds to an integer in the low bits
TOP_TINY, TOP_512, TOP_1024 = 0x3C9, 0x408, 0x409  # exponent fields of 2^-54, 512, 1024


@functools.lru_cache(maxsize=1)
def _table() -> list[int]:
    """[tail_0, scale_0 - (0 << 45), tail_1, ...]: 2^(k/N) = scale_k * (1 + tail_k), scale_k the
    double nearest 2^(k/N) and tail_k the double nearest the remaining factor minus 1."""
    out = []
    with localcontext() as ctx:
        ctx.prec = 80
        for k in range(N):
            exact = Fraction(Decimal(2) ** (Decimal(k) / Decimal(N)))
            scale = float(exact)
            tail = float((exact - Fraction(scale)) / Fraction(scale))
            out += [bits_of(tail), (bits_of(scale) - (k << 45)) % 2**64]
    return out


def exp_lanes(v: Lanes, arg: ir.Value) -> ir.Value:
    """exp of each lane (see the module docstring for the ranges)."""
    b, f, i, mad = v.b, v.f, v.i, v.fma
    table = constant_table(v.fn.module, v.fn.name + ".table", I64, _table())
    bits = v.bits(arg)
    top = b.and_(b.lshr(bits, i(52)), i(0x7FF))
    # Lanes that take neither path computing from x see 0.0, and lanes that do not rescale
    # see scale 1.0: what a lane discards must not be subnormal (a slow microcode assist).
    computed = b.and_(b.icmp_unsigned(">=", top, i(TOP_TINY)), b.icmp_unsigned("<", top, i(TOP_1024)))
    x = b.select(computed, arg, f(0.0))
    kd_shifted = mad(x, f(INV_LN2_N), f(SHIFT))
    ki = v.bits(kd_shifted)
    kd = b.fsub(kd_shifted, f(SHIFT))
    r = mad(kd, f(NEG_LN2_LO_N), mad(kd, f(NEG_LN2_HI_N), x))
    slot = b.shl(b.and_(ki, i(N - 1)), i(1))
    tail = v.double(v.gather(table, slot))
    sbits = b.add(v.gather(table, b.add(slot, i(1))), b.shl(ki, i(45)))
    r2 = b.fmul(r, r)
    tmp = mad(b.fmul(r2, r2), mad(r, f(C5), f(C4)), mad(mad(r, f(C3), f(C2)), r2, b.fadd(r, tail)))
    scale = v.double(sbits)
    table_path = mad(scale, tmp, scale)

    def all_ranges() -> ir.Value:
        rescaling = b.icmp_unsigned(">=", top, i(TOP_512))
        scaled = _rescaled(v, b.select(rescaling, sbits, i(bits_of(1.0))), tmp, ki)
        one_plus_x = b.fadd(f(1.0), arg)
        beyond = b.select(b.icmp_unsigned("==", bits, i(bits_of(float("-inf")))), f(0.0),
                          b.select(b.icmp_unsigned("==", top, i(0x7FF)), one_plus_x,
                                   b.select(b.icmp_signed("<", bits, i(0)), f(0.0), f(float("inf")))))
        return b.select(b.icmp_unsigned("<", top, i(TOP_TINY)), one_plus_x,
                        b.select(b.icmp_unsigned("<", top, i(TOP_512)), table_path,
                                 b.select(b.icmp_unsigned("<", top, i(TOP_1024)), scaled, beyond)))
    return v.rarely(b.not_(b.and_(computed, b.icmp_unsigned("<", top, i(TOP_512)))), table_path, all_ranges)


def _rescaled(v: Lanes, sbits, tmp, ki) -> ir.Value:
    """glibc's `specialcase`: 512 <= |x| < 1024, where the scale's exponent over- or underflows."""
    b, f, i, mad = v.b, v.f, v.i, v.fma
    up = v.double(b.sub(sbits, i(1009 << 52)))
    large = b.fmul(mad(up, tmp, up), f(2.0 ** 1009))
    down = v.double(b.add(sbits, i(1022 << 52)))
    part = b.fmul(tmp, down)                           # used twice: not fused in glibc's build
    y = b.fadd(down, part)
    hi = b.fadd(y, f(1.0))
    lo = b.fadd(b.fsub(down, y), part)
    rounded = b.fsub(b.fadd(b.fadd(b.fadd(b.fsub(f(1.0), hi), y), lo), hi), f(1.0))
    rounded = b.select(b.fcmp_ordered("==", rounded, f(0.0)), f(0.0), rounded)
    small = b.fmul(b.select(b.fcmp_ordered("<", y, f(1.0)), rounded, y), f(2.0 ** -1022))
    return b.select(b.icmp_unsigned("==", b.and_(ki, i(0x80000000)), i(0)), large, small)
