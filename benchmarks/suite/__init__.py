"""The benchmark suite: one module per benchmark.

Every module defines:

- `NAME` (str) and `DESCRIPTION` (one line).
- `FUNCTION`: the plain Python function that is compiled by irad and by
  `numba.njit` unchanged. It returns a float (the loss) and may mutate its
  array arguments. Helper functions it calls must be module-level globals
  of the same module (the runner rebinds them to njit versions for Numba).
- `SIZES`: {"tiny", "quick", "full"} -> dict of size parameters. "tiny" is
  for the smoke test and compile timing; it must give the same irad/Numba
  signature (dtypes, ndims, layouts) as the other sizes.
- `make_args(**size)`: fresh, deterministic arguments (seeded RNG); two
  calls with the same size give equal arrays.
- `DIFF`: indices of the arguments differentiated. Every other argument is
  passed to irad as `irad.Const`.
- `MUTATES`: indices of the array arguments the function overwrites. The
  runner restores them (np.copyto, outside the timed region) before every
  call, so each timed call sees the same input.
- Optional `ADJOINT`: a hand-written adjoint (plain Python, jitted by
  Numba) with the same arguments, returning the gradient of each `DIFF`
  argument in `DIFF` order. It may mutate exactly what `FUNCTION` mutates.
- Optional `NOTES` (str): what a reader of the results must know.
"""
from __future__ import annotations

import importlib

NAMES = ("heat", "heat_slices", "gauss_seidel", "rk4", "gmm", "ba", "nbody", "scatter", "matmul",
         "black_scholes", "softmax_mlp")
PENDING: dict = {}


def load(name: str):
    """The suite module called `name`."""
    if name not in NAMES:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(NAMES)}")
    return importlib.import_module(f"{__name__}.{name}")


def size_label(size: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in size.items())
