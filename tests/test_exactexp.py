"""runtime/exactexp.py: loops of float64 exp vectorize in the default mode, bit-identical to libm.

Every range glibc's algorithm distinguishes (tiny, the table path, the
rescaled paths at 512 <= |x| < 1024 on both sides, overflow, underflow
into the subnormals, specials) against libm's (`math.exp`) bit for bit, through a
loop LLVM vectorizes; a loop that cannot vectorize keeps libm's call."""
import math
import re
from decimal import Decimal, localcontext

import numpy as np
import pytest

import irad
from irad.runtime import exactexp

pytestmark = pytest.mark.skipif(not exactexp.available(), reason="needs x86-64 with FMA and glibc >= 2.28")

RNG = np.random.default_rng(1234)


def exp_each(x, out):
    for i in range(x.shape[0]):
        out[i] = math.exp(x[i])


def exp_chain(x, out):
    s = 0.0
    for i in range(x.shape[0]):
        s = math.exp(-s * x[i])
        out[i] = s


def exp_and_log(x, out):
    for i in range(x.shape[0]):
        out[i] = math.exp(x[i]) + math.log(x[i] * x[i] + 1.0)


SPECIAL = [0.0, -0.0, math.inf, -math.inf, math.nan, 1.0, -1.0, 2.0 ** -54, -2.0 ** -54, 2.0 ** -55,
           5e-324, -5e-324, 1e-300, 512.0, -512.0, 1023.9999999999999, -1023.9999999999999, 1024.0,
           -1024.0, 709.782712893384, 709.7827128933841, -708.3964185322641, -708.4,
           -745.1332191019411, -745.1332191019412, -744.44007192138, 1e308, -1e308]
RANGES = {
    "small": (-5.0, 5.0), "finite": (-745.2, 709.8), "tiny": (-2.0 ** -50, 2.0 ** -50),
    "rescaled up": (512.0, 1024.0), "rescaled down": (-1024.0, -512.0),
    "subnormal results": (-745.2, -708.0), "beyond": (-1e4, 1e4),
}


def _bits_equal(got, want):
    same = got.view(np.uint64) == want.view(np.uint64)
    return same | (np.isnan(got) & np.isnan(want))


def _libm_exp(v: float) -> float:
    """libm's exp (math.exp, which raises OverflowError where libm returns inf)."""
    try:
        return math.exp(v)
    except OverflowError:
        return math.inf


@pytest.mark.parametrize("name", sorted(RANGES))
def test_vectorized_exp_is_libm_bit_for_bit(name):
    lo, hi = RANGES[name]
    x = np.concatenate([np.tile(SPECIAL, 8), RNG.uniform(lo, hi, 50_000)])   # specials in vector lanes
    out = np.empty_like(x)
    irad.jit(exp_each)(x, out)
    want = np.array([_libm_exp(v) for v in x.tolist()])
    assert _bits_equal(out, want).all(), x[~_bits_equal(out, want)][:5]


def test_the_loop_calls_the_vector_exp():
    x = np.ones(8)
    asm = irad.jit(exp_each).ir(x, np.empty(8), stage="llvm-optimized")
    assert exactexp.VECTOR in asm and "<4 x double>" in asm


def test_a_loop_with_other_libm_calls_gives_libm_results():
    x = np.concatenate([np.tile(SPECIAL, 4), RNG.uniform(-3.0, 3.0, 1000)])
    out = np.empty_like(x)
    irad.jit(exp_and_log)(x, out)
    finite = np.isfinite(x)
    want = np.array([_libm_exp(v) + math.log(v * v + 1.0) for v in x[finite].tolist()])
    assert _bits_equal(out[finite], want).all()


def test_a_loop_that_stays_scalar_keeps_libm():
    x = RNG.uniform(0.0, 3.0, 100)
    out = np.empty_like(x)
    irad.jit(exp_chain)(x, out)
    s, want = 0.0, []
    for v in x.tolist():
        s = math.exp(-s * v)
        want.append(s)
    assert _bits_equal(out, np.array(want)).all()
    text = irad.jit(exp_chain).ir(x, out, stage="llvm-optimized")
    assert f"@{exactexp.SCALAR}(" in text and not re.search(rf"call .*@{exactexp.VECTOR}\(", text)


def test_table_is_two_to_the_k_over_n():
    """scale_k (1 + tail_k) is 2^(k/128) to about 2^-106: both parts are the nearest doubles."""
    table = exactexp._table()
    assert table[2:4] == [0x3C9B3B4F1A88BF6E, 0x3FEFF63DA9FB3335]        # k = 1, as in glibc's table
    with localcontext() as ctx:
        ctx.prec = 60
        for k in range(128):
            tail = Decimal(float(np.uint64(table[2 * k]).view(np.float64)))
            scale = Decimal(float(np.uint64((table[2 * k + 1] + (k << 45)) % 2**64).view(np.float64)))
            exact = Decimal(2) ** (Decimal(k) / 128)
            assert abs(scale * (1 + tail) - exact) < Decimal(2) ** -104
