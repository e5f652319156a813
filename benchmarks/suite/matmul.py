"""Dense matrix product written as three loops (i, j, k order).

`c = a @ b` into an output buffer, the loss the sum of squares of `c`.
The gradient is taken with respect to `a` and `b`, and `c` (an
overwritten output buffer, whose gradient is zero: irad needs a shadow
for every array that receives active values). The inner reduction runs over k with
stride n through `b`, exactly as the naive Python loop nest is written.

Invariant: `matmul` fully overwrites `c` before reading it.
"""
from __future__ import annotations

import numpy as np

NAME = "matmul"
DESCRIPTION = "matrix product as i-j-k loops into a buffer, loss = sum of squares"
SIZES = {"tiny": {"n": 3}, "quick": {"n": 128}, "full": {"n": 256}}
DIFF = (0, 1, 2)
MUTATES = (2,)
NOTES = ("naive i-j-k order (strided reads of b), as the Python loop nest is written; the buffer c "
         "is differentiated too (its gradient is zero) since irad needs a shadow for an array that "
         "receives active values")


def matmul(a, b, c):
    n = a.shape[0]
    m = b.shape[1]
    p = a.shape[1]
    for i in range(n):
        for j in range(m):
            acc = 0.0
            for k in range(p):
                acc += a[i, k] * b[k, j]
            c[i, j] = acc
    loss = 0.0
    for i in range(n):
        for j in range(m):
            loss += c[i, j] * c[i, j]
    return loss


def matmul_adjoint(a, b, c):
    """Hand-written adjoint: dL/da = 2 c b^T, dL/db = a^T 2 c, dL/dc = 0 (loops)."""
    n = a.shape[0]
    m = b.shape[1]
    p = a.shape[1]
    for i in range(n):
        for j in range(m):
            acc = 0.0
            for k in range(p):
                acc += a[i, k] * b[k, j]
            c[i, j] = acc
    da = np.zeros((n, p))
    db = np.zeros((p, m))
    for i in range(n):
        for j in range(m):
            g = 2.0 * c[i, j]
            for k in range(p):
                da[i, k] += g * b[k, j]
                db[k, j] += g * a[i, k]
    return da, db, np.zeros((n, m))


FUNCTION = matmul
ADJOINT = matmul_adjoint


def make_args(n):
    rng = np.random.default_rng(7)
    return rng.standard_normal((n, n)), rng.standard_normal((n, n)), np.zeros((n, n))
