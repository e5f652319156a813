"""runtime/exactmath.py: loops of float64 exp, expm1, tanh and log vectorize in the default
mode, bit-identical to libm.

Every range each algorithm distinguishes (exp: tiny, the table path, the
rescaled paths at 512 <= |x| < 1024, overflow, subnormal results; expm1:
each of its reconstructions by k, tiny, below -56 ln2, overflow; tanh:
tiny, |x| < 1, |x| >= 1, beyond 22; log: near 1, the table path over the
whole exponent range, subnormals, non-positive inputs; specials
everywhere) against libm's own function bit for bit, through loops LLVM
vectorizes; a loop that cannot vectorize keeps libm's call. The host check
rejects a vector function that differs from libm, and log's vector path
is exact wherever it claims to be and claims most lanes."""
import ctypes
import math
import re
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
import pytest
import irad
from irad.runtime import exactexp, exactlog, exactmath, jit, vecmath

needs_host = pytest.mark.skipif(not exactmath.supported(), reason="needs x86-64 with FMA, AVX2 and glibc >= 2.28")

RNG = np.random.default_rng(1234)


def _each(function):
    def each(x, out):
        for i in range(x.shape[0]):
            out[i] = function(x[i])
    return each


EACH = {name: _each(getattr(math, name)) for name in ("exp", "expm1", "tanh", "log")}


def exp_chain(x, out):
    s = 0.0
    for i in range(x.shape[0]):
        s = math.exp(-s * x[i])
        out[i] = s


def exp_and_log(x, out):
    for i in range(x.shape[0]):
        out[i] = math.exp(x[i]) + math.log(x[i] * x[i] + 1.0)


SPECIAL = [0.0, -0.0, math.inf, -math.inf, math.nan, -math.nan, 1.0, -1.0, 2.0 ** -54, -2.0 ** -54,
           2.0 ** -55, 2.0 ** -56, 5e-324, -5e-324, 1e-310, 1e-300, 0.5, 2.0, 1.0 + 2.0 ** -52,
           1.0 - 2.0 ** -53, 22.0, -22.0, 512.0, -512.0, 1023.9999999999999, -1023.9999999999999,
           1024.0, -1024.0, 709.782712893384, 709.7827128933841, -708.3964185322641, -708.4,
           -745.1332191019411, -745.1332191019412, -744.44007192138, 38.816242111356935,
           -38.816242111356935, 0.34657359027997264, -0.34657359027997264, 1.0397207708399179,
           -1.0397207708399179, 1e308, -1e308, 1.7976931348623157e308, 3.0]   # odd length
LN2 = math.log(2.0)
RANGES = {
    "exp": {"small": (-5.0, 5.0), "finite": (-745.2, 709.8), "tiny": (-2.0 ** -50, 2.0 ** -50),
            "rescaled up": (512.0, 1024.0), "rescaled down": (-1024.0, -512.0),
            "subnormal results": (-745.2, -708.0), "beyond": (-1e4, 1e4)},
    "expm1": {"k = 0": (-0.5 * LN2, 0.5 * LN2), "k = +-1": (-1.5 * LN2, 1.5 * LN2),
              "k < 20": (-20.0 * LN2, 20.0 * LN2), "k <= 56": (-57.0 * LN2, 57.0 * LN2),
              "large": (30.0, 709.8), "tiny": (-2.0 ** -50, 2.0 ** -50), "beyond": (-1e4, 1e4)},
    "tanh": {"below 1": (-1.0, 1.0), "up to 22": (-23.0, 23.0), "tiny": (-2.0 ** -50, 2.0 ** -50),
             "beyond": (-1e3, 1e3)},
    "log": {"moderate": (0.0, 3.0), "near 1": (1.0 - 2.0 ** -7, 1.0 + 2.0 ** -7),
            "nearer 1": (1.0 - 2.0 ** -30, 1.0 + 2.0 ** -30), "subnormal": (0.0, 2.0 ** -1022),
            "wide": (-1e300, 1e300)},
}
CASES = [(name, label) for name, ranges in RANGES.items() for label in ranges]


def _bits_equal(got, want):
    same = got.view(np.uint64) == want.view(np.uint64)
    return same | (np.isnan(got) & np.isnan(want))


def _libm(name):
    """libm's function `name` itself (math.* raises where libm returns inf or NaN)."""
    return ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)(vecmath.process_symbols()[f"irad_vm_{name}"])


def _inputs(name, label):
    lo, hi = RANGES[name][label]
    x = RNG.uniform(lo, hi, 40_000)
    if label == "wide":                                  # every binade, not only the top ones
        x = np.exp2(RNG.uniform(-1074.0, 1024.0, 40_000)) * RNG.choice([1.0, -1.0], 40_000, p=[0.95, 0.05])
    return np.concatenate([np.tile(SPECIAL, 8), x])      # odd length: specials in every vector lane


@needs_host
@pytest.mark.parametrize("name,label", CASES)
def test_vectorized_function_is_libm_bit_for_bit(name, label):
    x = _inputs(name, label)
    out = np.empty_like(x)
    with np.errstate(all="ignore"):
        irad.jit(EACH[name])(x, out)
    libm = _libm(name)
    want = np.array([libm(v) for v in x.tolist()])
    assert _bits_equal(out, want).all(), x[~_bits_equal(out, want)][:5]


@needs_host
@pytest.mark.parametrize("name", sorted(EACH))
def test_the_loop_calls_the_vector_function(name):
    x = np.ones(8)
    text = irad.jit(EACH[name]).ir(x, np.empty(8), stage="llvm-optimized")
    assert re.search(rf"call [a-z ]*<4 x double> @{exactmath.FUNCTIONS[name].vector}\(", text)


@needs_host
def test_the_host_check_passes_here_and_rejects_a_libm_one_ulp_away():
    assert all(exactmath.available(name) for name in exactmath.FUNCTIONS)
    spec = exactmath.FUNCTIONS["tanh"]
    apply, probes = exactmath.addresses("tanh")[spec.apply], spec.probes()
    assert exactmath.agrees_with_libm(apply, vecmath.process_symbols()[spec.scalar], probes)
    odd = probes[len(probes) // 2]

    def nearly_libm(v):                  # libm's tanh, but one ULP up on one probe
        return math.nextafter(math.tanh(v), math.inf) if v == odd else math.tanh(v)
    callback = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)(nearly_libm)
    assert not exactmath.agrees_with_libm(apply, ctypes.cast(callback, ctypes.c_void_p).value, probes)
    assert not exactmath.available("sin")                 # no exact vector sin: libm's call stays


@needs_host
def test_a_function_failing_the_host_check_keeps_libm_scalar_calls(monkeypatch):
    monkeypatch.setattr(exactmath, "available", lambda name: False)
    tanh_each = _each(math.tanh)                          # a fresh function: compiled here
    x = RNG.uniform(-3.0, 3.0, 101)
    out = np.empty_like(x)
    irad.jit(tanh_each)(x, out)
    assert _bits_equal(out, np.array([math.tanh(v) for v in x.tolist()])).all()
    text = irad.jit(tanh_each).ir(x, out, stage="llvm-optimized")
    assert "irad_exact" not in text


@needs_host
def test_a_loop_with_other_libm_calls_gives_libm_results():
    x = np.concatenate([np.tile(SPECIAL, 4), RNG.uniform(-3.0, 3.0, 1000)])
    out = np.empty_like(x)
    irad.jit(exp_and_log)(x, out)
    finite = np.isfinite(x) & (np.abs(x) < 700)
    exp, log = _libm("exp"), _libm("log")
    want = np.array([exp(v) + log(v * v + 1.0) for v in x[finite].tolist()])
    assert _bits_equal(out[finite], want).all()


def sum_of_logs(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += math.log(x[i]) * math.tanh(x[i])
    return s


@needs_host
def test_a_sum_in_program_order_vectorizes_the_rest_of_its_loop():
    """The loop's adds stay in order (llvm.vector.reduce.fadd without reassoc: lane by lane),
    so the sum is the sequential one bit for bit, while log and tanh run on 4 lanes."""
    x = RNG.uniform(0.1, 4.0, 1003)
    got = irad.jit(sum_of_logs)(x)
    want = 0.0
    for v in x.tolist():
        want += math.log(v) * math.tanh(v)
    assert got == want
    text = irad.jit(sum_of_logs).ir(x, stage="llvm-optimized")
    assert re.search(r"= (tail )?call double @llvm.vector.reduce.fadd.v4f64\(double", text)
    assert exactmath.FUNCTIONS["log"].vector in text and exactmath.FUNCTIONS["tanh"].vector in text


@needs_host
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
    vector = exactmath.FUNCTIONS["exp"].vector
    assert "@irad_vm_exp(" in text and not re.search(rf"call .*@{vector}\(", text)


def _log_vector_part():
    """apply(x, y, n): log_parts' vector result where it claims libm's bits, NaN elsewhere."""
    def claimed(v, x):
        y, safe = exactlog.log_parts(v, x)
        return v.b.select(safe, y, v.f(math.nan))
    spec = exactmath.ExactFunction("claimed_log", claimed, lambda: None)
    h = jit.host()
    text = exactmath._module_text(spec, h.triple, str(h.machine.target_data))
    tracker, found = jit.link(jit.emit(jit.optimize(text, level=2)), [spec.apply], runtime=False)
    apply = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)(found[spec.apply])
    return tracker, apply


@needs_host
@pytest.mark.parametrize("lo,hi", [(0.01, 100.0), (1.0 - 2.0 ** -8, 1.0 + 2.0 ** -8), (1e-300, 1e-200)])
def test_log_vector_part_is_exact_where_it_claims_and_claims_most_lanes(lo, hi):
    """Without the libm fallback: every lane it keeps is libm's log, and it keeps over 90% of
    them (the rest are within 0.03 ULP of a rounding midpoint)."""
    tracker, apply = _log_vector_part()
    x = RNG.uniform(lo, hi, 100_000)
    got = np.empty_like(x)
    apply(x.ctypes.data, got.ctypes.data, len(x))
    kept = ~np.isnan(got)
    log = _libm("log")
    want = np.array([log(v) for v in x[kept].tolist()])
    assert _bits_equal(got[kept], want).all()
    assert kept.mean() > 0.9


def test_log_table():
    """c is an 8-bit number, |z c - 1| < 2^-7 on each interval (so z c - 1 is exact), and the
    two parts of -log c are within 2^-100 of it."""
    inv, hi, lo = exactlog.table()
    for i in range(exactlog.N):
        c = Fraction(inv[i])
        assert (c * 256).denominator == 1 or (c * 128).denominator == 1
        z_lo, z_hi = exactlog._z_interval(i)
        assert max(abs(z_lo * c - 1), abs(z_hi * c - 1)) < Fraction(1, 128)
        with localcontext() as ctx:
            ctx.prec = 50
            exact = -(Decimal(c.numerator).ln() - Decimal(c.denominator).ln())
            assert abs(Decimal(hi[i]) + Decimal(lo[i]) - exact) < Decimal(2) ** -100


def test_exp_table_is_two_to_the_k_over_n():
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
