"""Vectorized libm under `fastmath=True`: glibc's libmvec, AVX2 variants.

LLVM vectorizes a loop that calls `exp` only if it knows a vector version
of `exp`. With fastmath, each call to a function in `FUNCTIONS` goes to
`irad_vm_<name>` (libm's own function, bound under a name LLVM does not
recognize: it would otherwise turn the call into an intrinsic and drop what
follows) and carries a `"vector-function-abi-variant"` attribute naming the
libmvec function of 4 doubles (8 floats) that the loop vectorizer may call
instead. The vector functions are declared and kept alive through
`llvm.compiler.used` (`keep_alive`) until the vectorizer has run.

Invariants:
- Without fastmath, only calls marked `approx` (math whose value only
  derivatives use, passes/approximate.py) go through libmvec: everything
  else stays bit-identical to CPython (libmvec is accurate to 4 ULP, not to
  libm's last bit), and exp, expm1, tanh and log get exact vector variants
  there (runtime/exactmath.py).
- Used only where the host has AVX2 and libm and libmvec load (`available`).
- Addresses are bound at link time (`process_symbols`, imported by
  `jit.link`), never written into object code, so disk-cached code links
  in a new process.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools

from llvmlite import binding as llvm
from llvmlite import ir

from .abi import F64, PTR

FUNCTIONS = {                       # op name -> arity; the libm and libmvec names derive from it
    "exp": 1, "log": 1, "log2": 1, "log10": 1, "expm1": 1, "log1p": 1,
    "sin": 1, "cos": 1, "tan": 1, "asin": 1, "acos": 1, "atan": 1,
    "sinh": 1, "cosh": 1, "tanh": 1, "atan2": 2, "hypot": 2,
}
USED = "llvm.compiler.used"


def _names(name: str, double: bool):
    """(libm name, libmvec name, lanes) of op `name` for f64 or f32."""
    lanes = 4 if double else 8
    scalar = name if double else name + "f"
    return scalar, f"_ZGVdN{lanes}{'v' * FUNCTIONS[name]}_{scalar}", lanes


@functools.lru_cache(maxsize=1)
def process_symbols() -> dict:
    """{symbol: address} for every scalar alias and vector function, or {} where unavailable."""
    if "+avx2" not in llvm.get_host_cpu_features().flatten().split(","):
        return {}
    try:
        libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
        mvec = ctypes.CDLL(ctypes.util.find_library("mvec") or "libmvec.so.1")
    except OSError:
        return {}
    found = {}
    for name in FUNCTIONS:
        for double in (True, False):
            scalar, vector, _ = _names(name, double)
            try:
                pair = (ctypes.cast(getattr(libm, scalar), ctypes.c_void_p).value,
                        ctypes.cast(getattr(mvec, vector), ctypes.c_void_p).value)
            except AttributeError:
                continue
            found[f"irad_vm_{scalar}"], found[vector] = pair
    return found


def call(L, name: str, values, approximate: bool = False) -> ir.Value | None:
    """A call to op `name` that LLVM may vectorize through libmvec, or None (neither fastmath
    nor `approximate`, or no vector variant: the caller lowers the call as usual)."""
    t = values[0].type
    if not (L.fm or approximate) or name not in FUNCTIONS:
        return None
    scalar, vector, lanes = _names(name, t == F64)
    if vector not in process_symbols():
        return None
    vt = ir.VectorType(t, lanes)
    L.ml.declare(vector, vt, [vt] * len(values))
    return call_with_variant(L, f"irad_vm_{scalar}", vector, lanes, values)


def call_with_variant(L, alias: str, vector: str, lanes: int, values) -> ir.Value:
    """A call of libm's function under `alias` that names `vector` (declared by the caller) as
    its variant on `lanes` lanes, for the loop vectorizer."""
    t = values[0].type
    scalar = L.ml.declare(alias, t, [v.type for v in values])
    scalar.attributes.add("readnone")
    instr = L.b.call(scalar, list(values), fastmath=L.fm)
    variant = f"_ZGV_LLVM_N{lanes}{'v' * len(values)}_{alias}({vector})"
    set.add(instr.attributes, f'"vector-function-abi-variant"="{variant}"')   # a string attribute
    return instr


def keep_alive(module: ir.Module) -> None:
    """Declare llvm.compiler.used holding the module's vector functions (call once, after
    lowering), so they outlive dead-declaration removal until the vectorizer runs."""
    vectors = [g for name, g in module.globals.items()
               if isinstance(g, ir.Function) and name.startswith("_ZGVd")]
    if vectors:
        used = ir.GlobalVariable(module, ir.ArrayType(PTR, len(vectors)), USED)
        used.linkage = "appending"
        used.section = "llvm.metadata"
        used.initializer = ir.Constant(ir.ArrayType(PTR, len(vectors)), vectors)
