"""exp of float64 in straight-line LLVM IR, bit-identical to glibc's, so its loops vectorize.

The default mode promises CPython's and NumPy's results, which on Linux are
glibc's `exp`, so a loop of `exp` used to stay scalar. glibc (2.28 and
later) computes exp(x) = 2^(k/128) * exp(r): k = round(x * 128 / ln 2),
r = x - k ln2/128 (two-part ln 2), 2^(k/128) from a 128-entry table of
`scale * (1 + tail)` and exp(r) - 1 by a degree-5 polynomial; on CPUs with
FMA it runs a build whose multiply-adds are fused. This module emits that
sequence of IEEE operations on 4 lanes, fused exactly where that build
fuses them, as a branch-free vector function (special inputs are
selected, not branched to; table lookups are per-lane loads), and names it
the vector variant of libm's exp call (LLVM's vector-function ABI): a loop
the vectorizer widens calls it, a loop that stays scalar keeps libm.

Invariants:
- Used only for float64 `exp` without fastmath, on x86-64 hosts with FMA
  whose C library is glibc 2.28 or later and where runtime/vecmath.py binds
  libm's exp under its alias (AVX2 and a loadable libmvec: `available`);
  elsewhere `exp` stays a libm call. The vector function lives in the runtime library,
  compiled once per process.
- Every input gives libm's result bit for bit (tests/test_exactexp.py
  compares against `math.exp` over every range the algorithm
  distinguishes): |x| < 2^-54 gives 1 + x; 2^-54 <= |x| < 512 the table
  path; 512 <= |x| < 1024 the same path rescaled by 2^1009 (overflow side)
  or carefully rounded into the subnormals (underflow side); beyond, inf,
  +0.0, and 1 + x for NaN and +inf.
- The table is derived from 2^(k/128) by exact rational arithmetic
  (`_table`), the way glibc's was made, not copied from it.
"""
from __future__ import annotations

import ctypes
import functools
import platform
import struct
from decimal import Decimal, localcontext
from fractions import Fraction

from llvmlite import binding as llvm
from llvmlite import ir

from . import vecmath
from .abi import F64

I64 = ir.IntType(64)
N = 128                                        # table entries: 2^(k/N), k in [0, N)
INV_LN2_N = float.fromhex("0x1.71547652b82fep+7")
NEG_LN2_HI_N = float.fromhex("-0x1.62e42fefa0000p-8")
NEG_LN2_LO_N = float.fromhex("-0x1.cf79abc9e3b3ap-47")
C2, C3, C4, C5 = (float.fromhex(h) for h in (
    "0x1.ffffffffffdbdp-2", "0x1.555555555543cp-3", "0x1.55555cf172b91p-5", "0x1.1111167a4d017p-7"))
SHIFT = float.fromhex("0x1.8p52")               # adding it rounds to an integer in the low bits
TOP_TINY, TOP_512, TOP_1024 = 0x3C9, 0x408, 0x409  # exponent fields of 2^-54, 512, 1024
LANES = 4                                       # AVX2: 4 doubles
SCALAR = "irad_vm_exp"                          # libm's exp under vecmath's alias
VECTOR = "_ZGVdN4v_irad_exact_exp"              # in the runtime library; vecmath.keep_alive


def _bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


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
            out += [_bits(tail), (_bits(scale) - (k << 45)) % 2**64]
    return out


@functools.lru_cache(maxsize=1)
def available() -> bool:
    """The host runs glibc >= 2.28's FMA build of exp (x86-64 with FMA), and libm's exp is bound
    under the alias vecmath uses (so LLVM keeps the call, see runtime/vecmath.py)."""
    if platform.machine() not in ("x86_64", "AMD64") or SCALAR not in vecmath.process_symbols():
        return False
    if "+fma" not in llvm.get_host_cpu_features().flatten().split(","):
        return False
    try:
        version = ctypes.CDLL(None).gnu_get_libc_version
    except (OSError, AttributeError):
        return False
    version.restype = ctypes.c_char_p
    major, minor = (int(p) for p in version().decode().split(".")[:2])
    return (major, minor) >= (2, 28)


def call(L, x: ir.Value) -> ir.Value:
    """exp(x): a call of libm's exp that the loop vectorizer may replace by this module's exact
    vector exp (LLVM's vector-function ABI). A loop that stays scalar keeps libm's call, which
    is faster there than the branch-free code."""
    scalar = L.ml.declare(SCALAR, F64, [F64])
    scalar.attributes.add("readnone")
    vector_function(L.ml)
    instr = L.b.call(scalar, [x])
    set.add(instr.attributes, f'"vector-function-abi-variant"="_ZGV_LLVM_N{LANES}v_{SCALAR}({VECTOR})"')
    return instr


def vector_function(ml) -> ir.Function:
    """The vector exp: defined in the runtime library (runtime/library.py), declared elsewhere,
    so a module that calls exp does not compile it again."""
    return ml.shared(VECTOR, _vector(F64), [_vector(F64)], _define)


def _vector(t: ir.Type) -> ir.VectorType:
    return ir.VectorType(t, LANES)


def _splat_f64(v: float) -> ir.Constant:
    return ir.Constant(_vector(F64), [v] * LANES)


def _splat_i64(v: int) -> ir.Constant:
    return ir.Constant(_vector(I64), [v] * LANES)


def _define(fn: ir.Function) -> None:
    """The body of the vector exp (see the module docstring for the ranges)."""
    table = _table_global(fn.module)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    f, i = _splat_f64, _splat_i64
    fma = fn.module.globals.get("llvm.fma.v4f64") or ir.Function(
        fn.module, ir.FunctionType(_vector(F64), [_vector(F64)] * 3), "llvm.fma.v4f64")
    mad = lambda a, c, d: b.call(fma, [a, c, d])               # a * c + d, rounded once
    (arg,) = fn.args

    bits = b.bitcast(arg, _vector(I64))
    top = b.and_(b.lshr(bits, i(52)), i(0x7FF))
    # Lanes that take neither path computing from x see 0.0, and lanes that do not rescale
    # see scale 1.0: what a lane discards must not be subnormal (a slow microcode assist).
    computed = b.and_(b.icmp_unsigned(">=", top, i(TOP_TINY)), b.icmp_unsigned("<", top, i(TOP_1024)))
    x = b.select(computed, arg, f(0.0))
    kd_shifted = mad(x, f(INV_LN2_N), f(SHIFT))
    ki = b.bitcast(kd_shifted, _vector(I64))
    kd = b.fsub(kd_shifted, f(SHIFT))
    r = mad(kd, f(NEG_LN2_LO_N), mad(kd, f(NEG_LN2_HI_N), x))
    slot = b.shl(b.and_(ki, i(N - 1)), i(1))
    tail = b.bitcast(_gather(b, table, slot), _vector(F64))
    sbits = b.add(_gather(b, table, b.add(slot, i(1))), b.shl(ki, i(45)))
    r2 = b.fmul(r, r)
    tmp = mad(b.fmul(r2, r2), mad(r, f(C5), f(C4)), mad(mad(r, f(C3), f(C2)), r2, b.fadd(r, tail)))
    scale = b.bitcast(sbits, _vector(F64))
    table_path = mad(scale, tmp, scale)

    rescaling = b.icmp_unsigned(">=", top, i(TOP_512))
    scaled = _rescaled(b, mad, b.select(rescaling, sbits, i(_bits(1.0))), tmp, ki)
    one_plus_x = b.fadd(f(1.0), arg)
    beyond = b.select(b.icmp_unsigned("==", bits, i(_bits(float("-inf")))), f(0.0),
                      b.select(b.icmp_unsigned("==", top, i(0x7FF)), one_plus_x,
                               b.select(b.icmp_signed("<", bits, i(0)), f(0.0), f(float("inf")))))
    result = b.select(b.icmp_unsigned("<", top, i(TOP_TINY)), one_plus_x,
                      b.select(b.icmp_unsigned("<", top, i(TOP_512)), table_path,
                               b.select(b.icmp_unsigned("<", top, i(TOP_1024)), scaled, beyond)))
    b.ret(result)


def _rescaled(b, mad, sbits, tmp, ki) -> ir.Value:
    """glibc's `specialcase`: 512 <= |x| < 1024, where the scale's exponent over- or underflows."""
    f, i = _splat_f64, _splat_i64
    up = b.bitcast(b.sub(sbits, i(1009 << 52)), _vector(F64))
    large = b.fmul(mad(up, tmp, up), f(2.0 ** 1009))
    down = b.bitcast(b.add(sbits, i(1022 << 52)), _vector(F64))
    part = b.fmul(tmp, down)                           # used twice: not fused in glibc's build
    y = b.fadd(down, part)
    hi = b.fadd(y, f(1.0))
    lo = b.fadd(b.fsub(down, y), part)
    rounded = b.fsub(b.fadd(b.fadd(b.fadd(b.fsub(f(1.0), hi), y), lo), hi), f(1.0))
    rounded = b.select(b.fcmp_ordered("==", rounded, f(0.0)), f(0.0), rounded)
    small = b.fmul(b.select(b.fcmp_ordered("<", y, f(1.0)), rounded, y), f(2.0 ** -1022))
    return b.select(b.icmp_unsigned("==", b.and_(ki, i(0x80000000)), i(0)), large, small)


def _table_global(module: ir.Module) -> ir.GlobalVariable:
    t = ir.ArrayType(I64, 2 * N)
    g = ir.GlobalVariable(module, t, VECTOR + ".table")
    g.linkage = "private"
    g.global_constant = True
    g.unnamed_addr = True
    g.initializer = ir.Constant(t, _table())
    return g


def _gather(b, table, slots) -> ir.Value:
    """table[slots[k]] for each lane k."""
    out = ir.Constant(_vector(I64), ir.Undefined)
    for k in range(LANES):
        slot = b.extract_element(slots, ir.Constant(ir.IntType(32), k))
        value = b.load(b.gep(table, [ir.Constant(I64, 0), slot], inbounds=True), typ=I64)
        out = b.insert_element(out, value, ir.Constant(ir.IntType(32), k))
    return out
