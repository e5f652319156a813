"""In-place Gauss-Seidel sweeps for the 2-D Poisson equation -lap(u) = f.

Every interior point is overwritten with the average of its neighbours,
two of which were already updated in this sweep: the classic case where
reverse mode must not re-read memory that a later store overwrote. The
loss is the sum of squares of the final iterate; the gradient is taken
with respect to the initial iterate `u` (state) and the right-hand side
`f` (parameters).

Invariant: `gauss_seidel` leaves the final iterate in `u`; boundaries stay.
"""
from __future__ import annotations

import numpy as np

NAME = "gauss_seidel"
DESCRIPTION = "in-place Gauss-Seidel sweeps, 2-D Poisson, loss = sum of squares"
SIZES = {"tiny": {"n": 6, "sweeps": 2}, "quick": {"n": 128, "sweeps": 50},
         "full": {"n": 256, "sweeps": 200}}
DIFF = (0, 1)
MUTATES = (0,)
NOTES = "grid n x n with fixed boundary; h = 1/(n-1)"


def gauss_seidel(u, f, sweeps):
    n = u.shape[0]
    m = u.shape[1]
    h2 = 1.0 / ((n - 1) * (n - 1))
    for _ in range(sweeps):
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                u[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1] + h2 * f[i, j])
    loss = 0.0
    for i in range(n):
        for j in range(m):
            loss += u[i, j] * u[i, j]
    return loss


FUNCTION = gauss_seidel


def make_args(n, sweeps):
    rng = np.random.default_rng(1)
    u = rng.standard_normal((n, n)) * 0.1
    f = rng.standard_normal((n, n))
    return u, f, sweeps
