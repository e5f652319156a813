"""expm1 and tanh of float64 on 4 lanes, bit-identical to glibc's, so their loops vectorize.

glibc's expm1 (fdlibm's algorithm) reduces x = k ln2 + r (k = 0 for
|x| <= ln2 / 2, +-1 below 1.5 ln2, else the nearest integer, ln2 in two
parts with the rounding error `c` kept), evaluates a rational
approximation of r's part through a degree-5 polynomial in r^2 / 2, and
rebuilds expm1(x) in one of six ways chosen by k so that no step cancels
badly; x86-64 hosts with FMA run a build whose multiply-adds are fused.
tanh (fdlibm's; glibc 2.36 builds it without FMA, later versions add an
FMA build that runtime/exactmath.py's host check would reject) is 1 - 2 / (expm1(2|x|) + 2) for
|x| >= 1 and -t / (t + 2), t = expm1(-2|x|), below, with its sign put back.

Here every path of the reconstruction is computed on every lane and the
lane's own path is selected; inputs that exit early (tiny, huge,
non-finite) are selected in a block that runs only when a vector has one,
and their lanes compute on a harmless stand-in (0.5) so that nothing
discarded is a NaN or a subnormal. The fused operations are where the FMA build of glibc 2.36's
expm1 fuses them (read from its disassembly); tests/test_exactmath.py
checks every path against libm bit for bit, and runtime/exactmath.py
checks a sample again on the host before using these functions.

Invariants:
- `expm1_lanes(v, x)` is expm1 of each lane of x for every float64 x
  (NaN, +-inf, overflow to inf above o_threshold, -1 below -56 ln2, x
  itself below 2^-54 in magnitude).
- `tanh_lanes(v, x)` is tanh of each lane for every float64 x (+-1 from
  |x| >= 22, x * (1 + x) below 2^-55, the sign of zero kept).
"""
from __future__ import annotations

from llvmlite import ir

from .exactvec import Lanes

LN2_HI = float.fromhex("0x1.62e42fee00000p-1")
LN2_LO = float.fromhex("0x1.a39ef35793c76p-33")
INV_LN2 = float.fromhex("0x1.71547652b82fep+0")
O_THRESHOLD = float.fromhex("0x1.62e42fefa39efp+9")           # log(DBL_MAX)
Q1, Q2, Q3, Q4, Q5 = (float.fromhex(h) for h in (
    "-0x1.11111111110f4p-5", "0x1.a01a019fe5585p-10", "-0x1.4ce199eaadbb7p-14",
    "0x1.0cfca86e65239p-18", "-0x1.afdb76e09c32dp-23"))
TOP_56LN2 = 0x4043687A          # high words of |x|: 56 ln2,
TOP_INF = 0x7FF00000            # infinity,
TOP_HALF_LN2 = 0x3FD62E42       # ln2 / 2 (k = 0 up to and including it),
TOP_1_5LN2 = 0x3FF0A2B2         # 1.5 ln2 (k = +-1 below it),
TOP_TINY = 0x3C900000           # 2^-54 (expm1(x) = x below it)
TANH_TOP_22, TANH_TOP_ONE, TANH_TOP_TINY = 0x40360000, 0x3FF00000, 0x3C800000


def expm1_lanes(v: Lanes, arg: ir.Value, for_tanh: bool = False) -> ir.Value:
    """expm1 of each lane, glibc's FMA build step for step. `for_tanh`: every lane is 2|x| >= 2
    or -2|x| in (-2, -2^-54] (no early exit, k != 1), as tanh_lanes calls it."""
    b, f, i = v.b, v.f, v.i
    top = v.top(arg)
    negative = v.negative(arg)
    if for_tanh:
        x = arg
    else:
        huge_negative = b.and_(negative, b.icmp_unsigned(">=", top, i(TOP_56LN2)))
        computed = b.and_(b.and_(b.icmp_unsigned(">=", top, i(TOP_TINY)), b.not_(huge_negative)),
                          b.fcmp_ordered("<=", arg, f(O_THRESHOLD)))
        x = v.where(computed, arg, f(0.5))

    rounded = v.trunc(b.fadd(v.where(negative, f(-0.5), f(0.5)), b.fmul(x, f(INV_LN2))))
    t = v.where(b.icmp_unsigned("<=", top, i(TOP_HALF_LN2)), f(0.0),
                v.where(b.icmp_unsigned("<", top, i(TOP_1_5LN2)), v.where(negative, f(-1.0), f(1.0)), rounded))
    k = v.to_int(t)                                       # off the critical path: t stays a double
    hi = v.fma(b.fneg(t), f(LN2_HI), x)                   # exact: t * LN2_HI has trailing zeros
    lo = b.fmul(t, f(LN2_LO))
    r = b.fsub(hi, lo)
    c = b.fsub(b.fsub(hi, r), lo)

    hfx = b.fmul(r, f(0.5))
    hxs = b.fmul(r, hfx)
    h2 = b.fmul(hxs, hxs)
    r1 = v.fma(b.fmul(h2, h2), v.fma(hxs, f(Q5), f(Q4)),
               v.fma(h2, v.fma(hxs, f(Q3), f(Q2)), v.fma(hxs, f(Q1), f(1.0))))
    t3 = v.fma(b.fneg(r1), hfx, f(3.0))
    e0 = b.fmul(b.fdiv(b.fsub(r1, t3), v.fma(b.fneg(r), t3, f(6.0))), hxs)
    k_zero = b.fsub(r, v.fma(e0, r, b.fneg(hxs)))
    e = b.fsub(v.fma(b.fsub(e0, c), r, b.fneg(c)), hxs)
    result = _rebuild(v, k, r, e, with_plus_one=not for_tanh)
    result = v.where(b.icmp_signed("==", k, i(0)), k_zero, result)
    if for_tanh:
        return result
    return v.rarely(b.not_(computed), result,
                    lambda: v.where(computed, result, _expm1_early(v, arg, top, negative)))


def _rebuild(v: Lanes, k: ir.Value, r: ir.Value, e: ir.Value, with_plus_one: bool) -> ir.Value:
    """expm1 from the reduced argument r and correction e for k != 0 (k != 1 unless
    `with_plus_one`)."""
    b, f, i = v.b, v.f, v.i
    exponent = b.shl(k, i(52))                           # adds k to a lane's exponent field
    scaled = lambda y: v.double(b.add(v.bits(y), exponent))
    e_minus_r = b.fsub(e, r)
    minus_one = v.fma(b.fsub(r, e), f(0.5), f(-0.5))
    far = b.fsub(scaled(b.fsub(f(1.0), e_minus_r)), f(1.0))
    shift = v.where(b.icmp_signed("<", k, i(20)), v.where(b.icmp_signed(">", k, i(1)), k, i(2)), i(2))
    one_minus = v.double(b.shl(b.sub(i(0x3FF00000), b.ashr(i(0x200000), shift)), i(32)))   # 1 - 2^-k
    near = scaled(b.fsub(one_minus, e_minus_r))
    two_minus_k = v.double(b.shl(b.and_(b.shl(b.sub(i(0x3FF), k), i(20)), i(0xFFFFFFFF)), i(32)))
    middle = scaled(b.fadd(b.fsub(r, b.fadd(e, two_minus_k)), f(1.0)))
    result = v.where(b.icmp_signed("<", k, i(20)), near, middle)
    result = v.where(b.or_(b.icmp_signed("<=", k, i(-2)), b.icmp_signed(">", k, i(56))), far, result)
    if with_plus_one:
        plus_one = v.where(b.fcmp_ordered("<", r, f(-0.25)),
                           b.fmul(b.fsub(e, b.fadd(r, f(0.5))), f(-2.0)),
                           v.fma(b.fsub(r, e), f(2.0), f(1.0)))
        result = v.where(b.icmp_signed("==", k, i(1)), plus_one, result)
    return v.where(b.icmp_signed("==", k, i(-1)), minus_one, result)


def _expm1_early(v: Lanes, arg, top, negative) -> ir.Value:
    """Lanes that exit early: x below 2^-54 in magnitude, x below -56 ln2, x above
    o_threshold (overflow), infinities and NaN."""
    b, f, i = v.b, v.f, v.i
    beyond = v.where(b.fcmp_unordered("uno", arg, arg), b.fadd(arg, arg),
                     v.where(negative, f(-1.0), f(float("inf"))))
    return v.where(b.icmp_unsigned("<", top, i(TOP_TINY)), arg, beyond)


def tanh_lanes(v: Lanes, arg: ir.Value) -> ir.Value:
    """tanh of each lane, glibc's (fdlibm's, unfused) tanh over the exact expm1."""
    b, f, i = v.b, v.f, v.i
    top = v.top(arg)
    negative = v.negative(arg)
    large = b.icmp_unsigned(">=", top, i(TANH_TOP_ONE))
    beyond_22 = b.icmp_unsigned(">=", top, i(TANH_TOP_22))
    computed = b.and_(b.icmp_unsigned(">=", top, i(TANH_TOP_TINY)), b.not_(beyond_22))
    a = v.where(computed, v.fabs(arg), f(0.5))
    t = expm1_lanes(v, v.where(large, b.fadd(a, a), b.fmul(a, f(-2.0))), for_tanh=True)
    quotient = b.fdiv(v.where(large, f(2.0), b.fneg(t)), b.fadd(t, f(2.0)))
    z = v.where(large, b.fsub(f(1.0), quotient), quotient)
    signed = v.where(negative, b.fneg(z), z)

    def all_ranges() -> ir.Value:
        one = v.where(negative, f(-1.0), f(1.0))                    # 1 - tiny
        inverse = b.fdiv(f(1.0), arg)
        nan_or_inf = v.where(negative, b.fsub(inverse, f(1.0)), b.fadd(inverse, f(1.0)))
        small = v.where(b.fcmp_ordered("==", arg, f(0.0)), arg, b.fmul(arg, b.fadd(f(1.0), arg)))
        return v.where(b.icmp_unsigned("<", top, i(TANH_TOP_TINY)), small,
                       v.where(b.icmp_unsigned(">=", top, i(TOP_INF)), nan_or_inf,
                               v.where(beyond_22, one, signed)))
    return v.rarely(b.not_(computed), signed, all_ranges)
