"""CSR sparse matrix-vector products with loops: gather forward, scatter back.

`y = A x` for a CSR matrix (indptr, indices, data), repeated `reps` times
as y <- A y normalized by a constant (a power-iteration-like chain that
writes `y` in place); the loss is the sum of squares of the result. Its
reverse sweep scatters into the shadow of `x` through `indices`
(dx[indices[k]] += ...), the pattern that needs atomics on a GPU. The
gradient is taken with respect to `data` and `x`, and `y` (fully
overwritten, so its gradient is zero; irad needs a shadow for every array
that receives active values).

Invariant: `spmv` does not modify its arguments except `y`, which it fully
overwrites before reading (its initial content does not matter).
"""
from __future__ import annotations

import numpy as np

NAME = "scatter"
DESCRIPTION = "CSR sparse mat-vec chain with loops (reverse: scatter through indices)"
SIZES = {"tiny": {"n": 6, "per_row": 2, "reps": 2},
         "quick": {"n": 20000, "per_row": 10, "reps": 4},
         "full": {"n": 100000, "per_row": 16, "reps": 4}}
DIFF = (2, 3, 4)
MUTATES = (4,)
NOTES = "random column indices (sorted per row), values ~ N(0,1)/sqrt(per_row)"


def spmv(indptr, indices, data, x, y, reps):
    n = y.shape[0]
    cur = np.zeros(n)
    for i in range(n):
        cur[i] = x[i]
    for _ in range(reps):
        for i in range(n):
            acc = 0.0
            for k in range(indptr[i], indptr[i + 1]):
                acc += data[k] * cur[indices[k]]
            y[i] = acc
        for i in range(n):
            cur[i] = y[i]
    loss = 0.0
    for i in range(n):
        loss += y[i] * y[i]
    return loss


FUNCTION = spmv


def make_args(n, per_row, reps):
    rng = np.random.default_rng(6)
    indptr = np.arange(0, (n + 1) * per_row, per_row, dtype=np.int64)
    indices = np.sort(rng.integers(0, n, (n, per_row)), axis=1).reshape(-1).astype(np.int64)
    data = rng.standard_normal(n * per_row) / np.sqrt(per_row)
    x = rng.standard_normal(n)
    return indptr, indices, data, x, np.zeros(n), reps
