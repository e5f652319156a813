"""Exact vector math: libm's float64 exp, expm1, tanh and log on 4 lanes, bit for bit.

The default mode promises CPython's and NumPy's results, which on Linux
are glibc's libm, so a loop calling `exp` or `tanh` used to stay scalar
(libmvec's vector functions are accurate to 4 ULP, not to libm's last
bit). Each function here computes libm's own result on 4 lanes:
runtime/exactexp.py (exp) and runtime/exacttanh.py (expm1, tanh) follow
glibc's algorithms operation for operation; runtime/exactlog.py (log)
computes log to within 0.001 ULP and calls libm for the rare lanes whose
result it cannot round the way libm does. `call` emits libm's scalar call
carrying the vector-function-ABI attribute that names the exact vector
function, so a loop the vectorizer widens calls it and a loop that stays
scalar keeps libm (faster there).

Invariants:
- Used for float64 calls without fastmath only, on hosts `supported`
  names: x86-64 with FMA, glibc >= 2.28, libm bound under vecmath's alias
  (runtime/vecmath.py).
- Each function is a shared library of its own (its vector function and
  an `apply` loop over arrays), built on first use, at most once per
  process, and kept in the cache directory of runtime/library.py when
  there is one. A module only declares the vector function; `jit.link`
  resolves it (`process_symbols`), building it first if a module loaded
  from the disk cache calls one this process has not built yet.
- `available(name)` checks the host before first use: the library's
  vector function runs over the function's probe inputs (every path its
  algorithm distinguishes) and must match the host libm bit for bit, else
  that function keeps its scalar call. A libm whose algorithm differs
  from the one reproduced here therefore costs speed, never exactness.
"""
from __future__ import annotations

import ctypes
import functools
import logging
import platform
import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np
from llvmlite import binding as llvm
from llvmlite import ir

from . import exactexp, exactlog, exacttanh, vecmath
from .abi import F64, PTR
from .exactvec import I64, LANES, VF64, Lanes


@dataclass(frozen=True)
class ExactFunction:
    name: str                                          # the op and the libm function
    lanes: Callable[[Lanes, ir.Value], ir.Value]       # builds the 4-lane body
    probes: Callable[[], np.ndarray]                   # inputs of the host check

    @property
    def scalar(self) -> str:
        return f"irad_vm_{self.name}"                 # libm's function under vecmath's alias

    @property
    def vector(self) -> str:
        return f"_ZGVdN{LANES}v_irad_exact_{self.name}"

    @property
    def apply(self) -> str:
        return f"irad.exact.{self.name}.apply"


def _probes(*ranges: tuple[float, float], special=(), count: int = 100) -> Callable[[], np.ndarray]:
    def make() -> np.ndarray:
        rng = np.random.default_rng(7)
        block = special + (1.5,) * (1 - len(special) % 2)   # odd length: 4 copies cover every lane
        parts = [np.array(block * 4, dtype=np.float64)]
        parts += [rng.uniform(lo, hi, count) for lo, hi in ranges]
        x = np.concatenate(parts)
        return np.concatenate([x, np.zeros(-len(x) % LANES)])
    return make


_SPECIAL = (0.0, -0.0, float("inf"), float("-inf"), float("nan"), 5e-324, -5e-324, 1e-310, 1.0, -1.0)
FUNCTIONS = {f.name: f for f in (
    ExactFunction("exp", exactexp.exp_lanes, _probes(
        (-5.0, 5.0), (-745.2, 709.8), (-1e-16, 1e-16), (512.0, 1024.0), (-1024.0, -512.0),
        special=_SPECIAL + (709.782712893384, 709.7827128933841, -745.1332191019412, 1e308))),
    ExactFunction("expm1", exacttanh.expm1_lanes, _probes(
        (-0.4, 0.4), (-1.1, 1.1), (-14.0, 14.0), (-40.0, 40.0), (38.0, 709.8), (-1e-15, 1e-15),
        (-800.0, 800.0), special=_SPECIAL + (exacttanh.O_THRESHOLD, 709.7827128933841, 2.0 ** -54))),
    ExactFunction("tanh", exacttanh.tanh_lanes, _probes(
        (-1.0, 1.0), (-3.0, 3.0), (-23.0, 23.0), (-1e-15, 1e-15), (-1e3, 1e3),
        special=_SPECIAL + (22.0, -22.0, 2.0 ** -55, 2.0 ** -56))),
    ExactFunction("log", exactlog.log_lanes, _probes(
        (0.0, 3.0), (0.9, 1.1), (0.999, 1.001), (0.0, 1e-300), (1.0, 1e300),
        special=_SPECIAL + (2.0, 0.5, 1.0 + 2.0 ** -52, 1.0 - 2.0 ** -53, 1.7976931348623157e308))),
)}


@functools.lru_cache(maxsize=1)
def supported() -> bool:
    """x86-64 with FMA and AVX2, glibc >= 2.28, libm bound under vecmath's aliases (each
    function's own alias is checked by `available`)."""
    if platform.machine() not in ("x86_64", "AMD64") or not vecmath.process_symbols():
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


_SOURCES = ("exactmath.py", "exactvec.py", "exactexp.py", "exacttanh.py", "exactlog.py", "abi.py",
            "codegen.py", "library.py", "jit.py")
_lock = threading.Lock()
_libraries: dict[str, tuple] = {}          # name -> (tracker, {symbol: address})


def addresses(name: str) -> dict[str, int]:
    """{vector function, apply loop: address} of exact function `name`, built on first use
    (or read from the runtime's cache directory)."""
    from . import library
    with _lock:
        if name not in _libraries:
            spec = FUNCTIONS[name]
            _libraries[name] = library.load_shared(
                f"exact-{name}", _SOURCES, name, lambda triple, layout: _module_text(spec, triple, layout),
                (spec.vector, spec.apply), library.cache_directory())
        return _libraries[name][1]


def process_symbols(object_code: bytes) -> dict[str, int]:
    """The exact vector functions `object_code` calls: {symbol: address}. Raises LinkError
    for one that fails the host check here (code cached under another libm: the disk cache
    takes the error as a miss and compiles again)."""
    out = {}
    for name, spec in FUNCTIONS.items():
        if spec.vector.encode() + b"\0" in object_code:     # names end with NUL in symbol tables
            if not available(name):
                raise LinkError(f"{spec.vector}: no exact vector {name} matching this host's libm")
            out[spec.vector] = addresses(name)[spec.vector]
    return out


class LinkError(RuntimeError):
    """Object code calls an exact vector function this host cannot provide."""


@functools.lru_cache(maxsize=None)
def available(name: str) -> bool:
    """The exact vector `name` exists here and matches the host libm on its probes."""
    spec = FUNCTIONS.get(name)
    if spec is None or not supported() or spec.scalar not in vecmath.process_symbols():
        return False
    try:
        apply = addresses(name)[spec.apply]
    except Exception:                      # a library that does not build: keep libm's calls
        logging.getLogger("irad").warning("exact vector %s unavailable", name, exc_info=True)
        return False
    return agrees_with_libm(apply, vecmath.process_symbols()[spec.scalar], spec.probes())


def agrees_with_libm(apply_address: int, libm_address: int, x: np.ndarray) -> bool:
    """The `apply` loop at apply_address gives, on every value of x (len(x) % 4 == 0), the
    bits the scalar function at libm_address gives (any NaN for a NaN)."""
    got = np.empty_like(x)
    ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)(apply_address)(
        x.ctypes.data, got.ctypes.data, len(x))
    libm = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)(libm_address)
    want = np.array([libm(v) for v in x.tolist()])
    same = (got.view(np.uint64) == want.view(np.uint64)) | (np.isnan(got) & np.isnan(want))
    return bool(same.all())


def call(L, name: str, values) -> ir.Value | None:
    """libm's `name` on float64, vectorizable through its exact vector variant; None where
    that variant is not used (fastmath, float32, another function, an unchecked host)."""
    if L.fm or len(values) != 1 or values[0].type != F64 or not available(name):
        return None
    spec = FUNCTIONS[name]
    vector_function(L.ml, spec)
    return vecmath.call_with_variant(L, spec.scalar, spec.vector, LANES, values)


def vector_function(ml, spec: ExactFunction) -> ir.Function:
    """The vector function: defined in its own library (`_module_text`), declared elsewhere."""
    def define(fn: ir.Function) -> None:
        v = Lanes(fn)
        v.b.ret(spec.lanes(v, fn.args[0]))
    return ml.shared(spec.vector, VF64, [VF64], define)


def _module_text(spec: ExactFunction, triple: str, data_layout: str) -> str:
    """The LLVM IR of `spec`'s library: its vector function and its `apply` loop."""
    from .codegen import ModuleLowering, Options
    ml = ModuleLowering({}, Options(), defines_shared=True)
    _apply_loop(ml, spec, vector_function(ml, spec))
    ml.module.triple, ml.module.data_layout = triple, data_layout
    return str(ml.module)


def _apply_loop(ml, spec: ExactFunction, vector: ir.Function) -> ir.Function:
    """void apply(double *x, double *y, i64 n): y[i:i+4] = vector(x[i:i+4]) for i < n, n % 4 == 0."""
    def define(fn: ir.Function) -> None:
        x, y, n = fn.args
        entry, loop, done = (fn.append_basic_block(s) for s in ("entry", "loop", "done"))
        b = ir.IRBuilder(entry)
        b.cbranch(b.icmp_signed(">", n, ir.Constant(I64, 0)), loop, done)
        b.position_at_end(loop)
        i = b.phi(I64)
        i.add_incoming(ir.Constant(I64, 0), entry)
        src = b.gep(x, [i], inbounds=True, source_etype=F64)
        dst = b.gep(y, [i], inbounds=True, source_etype=F64)
        b.store(b.call(vector, [b.load(src, typ=VF64, align=8)]), dst, align=8)
        following = b.add(i, ir.Constant(I64, LANES))
        i.add_incoming(following, loop)
        b.cbranch(b.icmp_signed("<", following, n), loop, done)
        b.position_at_end(done)
        b.ret_void()
    return ml.shared(spec.apply, ir.VoidType(), [PTR, PTR, I64], define)
