"""log of float64 on 4 lanes, equal to glibc's log bit for bit, so its loops vectorize.

glibc's log (2.28 and later) is accurate to 0.519 ULP: its result is
the correctly rounded one whenever the exact log lies more than 0.019 ULP
from a rounding midpoint (the two neighbours of the exact value are then
0.5 - d and 0.5 + d > 0.519 ULP away, and only the nearer is within its
error bound). So this module computes log(x) to within 0.001 ULP before
its final rounding, rounds it, and keeps that result where the exact
value is provably more than `MARGIN` ULP from a midpoint; other lanes (about 6% of inputs, and
x <= 0, subnormals, infinities, NaN) call libm itself. Nothing here
copies glibc's tables: the algorithm is a textbook one.

    x = 2^k z, z in [0.6875, 1.375)    (k and z from the bits)
    log x = k ln2 + log(1/c) + log1p(r),  r = z c - 1, exact (one fma)
    c: the 8-bit number nearest the inverse of the centre of z's 1/128th
       interval, so z c - 1 has at most 53 bits; -log c in two doubles
    near 1 (|x - 1| < 2^-8): k = 0, c = 1, r = x - 1 (exact)
    log1p(r) = r - r^2/2 + r^3 (1/3 - r/4 + ... + r^6/9), |r| < 2^-7

The terms are summed with error-free transformations (TwoSum); the
rounding residual of the final sum tells how far the result sits from a
midpoint.

Invariants:
- Every lane's result is libm's log of it (the fallback is libm's call).
- The table is built by exact rational arithmetic (`table`), checked to
  keep |r| < 2^-7 on every interval.
"""
from __future__ import annotations

import functools
from decimal import Decimal, localcontext
from fractions import Fraction

from llvmlite import ir

from .abi import F64
from .exactvec import I32, I64, LANES, Lanes, bits, constant_table, from_bits

N = 128                                     # intervals of z
OFF = 0x3FE6000000000000                    # bits of 0.6875: z in [0.6875, 1.375)
MARGIN = 0.03                               # ULP; > 0.019 (glibc) + 0.001 (this module's error)
SCALAR = "irad_vm_log"                      # libm's log under vecmath's alias
NEAR_ONE = 2.0 ** -8


def _ln(value: Fraction, digits: int = 60) -> Fraction:
    with localcontext() as ctx:
        ctx.prec = digits
        return Fraction(Decimal(value.numerator).ln() - Decimal(value.denominator).ln())


def _z_interval(i: int) -> tuple[Fraction, Fraction]:
    """The z of slot i: [lo, hi)."""
    return Fraction(from_bits(OFF + (i << 45))), Fraction(from_bits(OFF + ((i + 1) << 45)))


def _eight_bits(value: Fraction) -> Fraction:
    """`value` (in (0.5, 2)) rounded to 8 significant bits."""
    step = Fraction(1, 256) if value < 1 else Fraction(1, 128)
    return round(value / step) * step


@functools.lru_cache(maxsize=1)
def table() -> tuple[list[float], list[float], list[float]]:
    """(c, -log c high part, -log c low part) per interval."""
    inv, log_hi, log_lo = [], [], []
    for i in range(N):
        lo, hi = _z_interval(i)
        c = _eight_bits(2 / (lo + hi))
        assert max(abs(lo * c - 1), abs(hi * c - 1)) < Fraction(1, 128)
        minus_log = -_ln(c)
        inv.append(float(c))
        log_hi.append(float(minus_log))
        log_lo.append(float(minus_log - Fraction(log_hi[-1])))
    return inv, log_hi, log_lo


LN2_HI = float(Fraction(round(_ln(Fraction(2)) * 2**42), 2**42))    # 42 bits: k * LN2_HI is exact
LN2_LO = float(_ln(Fraction(2)) - Fraction(LN2_HI))
TAYLOR = [(-1) ** (n + 1) / n for n in range(3, 10)]                  # 1/3, -1/4, ..., 1/9


def log_lanes(v: Lanes, arg: ir.Value) -> ir.Value:
    """log of each lane: the vector result where it is provably libm's, else libm's call."""
    y, safe = log_parts(v, arg)
    return _libm_where(v, v.b.not_(safe), arg, y)


def log_parts(v: Lanes, arg: ir.Value) -> tuple[ir.Value, ir.Value]:
    """(log of each lane rounded to float64, the lanes where that is provably libm's log)."""
    b, f, i = v.b, v.f, v.i
    normal = b.icmp_unsigned("<", b.sub(v.bits(arg), i(0x0010000000000000)), i(0x7FE0000000000000))
    x = v.where(normal, arg, f(1.5))
    xbits = v.bits(x)
    tmp = b.sub(xbits, i(OFF))
    k = v.to_double(b.ashr(tmp, i(52)))
    z = v.double(b.sub(xbits, b.and_(tmp, i(0xFFF << 52))))
    slot = b.and_(b.lshr(tmp, i(45)), i(N - 1))
    inv, log_hi, log_lo = (v.double(v.gather(_global(v, name, values), slot))
                           for name, values in zip(("inv", "hi", "lo"), table()))
    near_one = b.fcmp_ordered("<", v.fabs(b.fsub(x, f(1.0))), f(NEAR_ONE))
    r = v.where(near_one, b.fsub(x, f(1.0)), v.fma(z, inv, f(-1.0)))
    k, log_hi, log_lo = (v.where(near_one, f(0.0), value) for value in (k, log_hi, log_lo))

    square = b.fmul(r, r)
    half_square_lo = b.fmul(v.fma(r, r, b.fneg(square)), f(-0.5))
    poly = f(TAYLOR[-1])
    for coefficient in reversed(TAYLOR[:-1]):
        poly = v.fma(poly, r, f(coefficient))
    tail = b.fmul(b.fmul(r, square), poly)
    s1, e1 = _fast_two_sum(v, b.fmul(k, f(LN2_HI)), log_hi)
    s2, e2 = _two_sum(v, s1, r)
    s3, e3 = _two_sum(v, s2, b.fmul(square, f(-0.5)))
    low = b.fadd(b.fadd(v.fma(k, f(LN2_LO), log_lo), b.fadd(b.fadd(e1, e2), e3)), b.fadd(half_square_lo, tail))
    y = b.fadd(s3, low)
    residual = b.fadd(b.fsub(s3, y), low)

    ulp = v.double(b.sub(b.and_(v.bits(y), i(0x7FF0000000000000)), i(52 << 52)))
    power_of_two = b.icmp_unsigned("==", b.and_(v.bits(y), i((1 << 52) - 1)), i(0))
    safe = b.fcmp_ordered("<", v.fabs(residual), b.fmul(ulp, f(0.5 - MARGIN)))
    return y, b.and_(b.and_(safe, b.not_(power_of_two)), normal)


def _two_sum(v: Lanes, a, c):
    """(a + c rounded, its exact rounding error)."""
    b = v.b
    s = b.fadd(a, c)
    a_part = b.fsub(s, c)
    c_part = b.fsub(s, a_part)
    return s, b.fadd(b.fsub(a, a_part), b.fsub(c, c_part))


def _fast_two_sum(v: Lanes, a, c):
    """TwoSum for |a| >= |c| or a = 0."""
    s = v.b.fadd(a, c)
    return s, v.b.fsub(c, v.b.fsub(s, a))


def _libm_where(v: Lanes, mask, arg, y) -> ir.Value:
    """y, with libm's log of arg in each lane of `mask` (rare: see Lanes.rarely)."""
    b = v.b
    libm = v.declare(SCALAR, F64, [F64])

    def patch() -> ir.Value:
        patched = y
        for lane in range(LANES):
            index = ir.Constant(I32, lane)
            before = b.block
            call_block, join = b.append_basic_block(f"libm{lane}"), b.append_basic_block(f"lane{lane}")
            b.cbranch(b.extract_element(mask, index), call_block, join)
            b.position_at_end(call_block)
            with_call = b.insert_element(patched, b.call(libm, [b.extract_element(arg, index)]), index)
            b.branch(join)
            b.position_at_end(join)
            merged = b.phi(y.type)
            merged.add_incoming(patched, before)
            merged.add_incoming(with_call, call_block)
            patched = merged
        return patched
    return v.rarely(mask, y, patch)


def _global(v: Lanes, name: str, values) -> ir.GlobalVariable:
    return constant_table(v.fn.module, f"{v.fn.name}.{name}", I64, [bits(x) for x in values])
