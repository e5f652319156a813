"""Float math functions evaluated by the C library, as compiled code and CPython evaluate them.

Native code calls the process's C math library (`exp`, `expf`, `pow`, ...) or irad's vector
functions, which are bit-identical to it (runtime/exactmath.py); CPython's `math` module and
`float.__pow__` call it too. NumPy's ufuncs do not always: on CPUs with AVX-512 they dispatch to
NumPy's own SIMD code, which differs from the C library in the last bit (`np.exp`, `np.power`).
The interpreter is the oracle for native code, so its math functions come from here.

Invariant: `c_math(name, fallback, arity)` is a function of NumPy float scalars of one type
returning a scalar of that type: the C library's `name` for float64 and `namef` for float32,
looked up among the process's symbols as the JIT looks them up. Anything else (other types, or
a platform where the symbols cannot be found) goes to `fallback`, a NumPy ufunc.
"""
from __future__ import annotations

import ctypes

import numpy as np


def _process_symbols():
    try:
        return ctypes.CDLL(None)
    except (OSError, TypeError):        # Windows has no process-wide namespace to open
        return None


_PROCESS = _process_symbols()


def _bind(symbol: str, ctype, arity: int):
    function = getattr(_PROCESS, symbol, None) if _PROCESS is not None else None
    if function is not None:
        function.restype, function.argtypes = ctype, [ctype] * arity
    return function


def c_math(name: str, fallback, arity: int = 1):
    """The C library's `name` on NumPy float scalars (see the module invariant)."""
    f64, f32 = _bind(name, ctypes.c_double, arity), _bind(name + "f", ctypes.c_float, arity)
    if f64 is None or f32 is None:
        return fallback

    def evaluate(*xs):
        kind = type(xs[0])
        if kind is np.float64 and all(type(x) is kind for x in xs):
            return np.float64(f64(*xs))
        if kind is np.float32 and all(type(x) is kind for x in xs):
            return np.float32(f32(*xs))
        return fallback(*xs)
    evaluate.__name__ = evaluate.__qualname__ = name
    return evaluate
