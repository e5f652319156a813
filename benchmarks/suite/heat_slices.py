"""The explicit heat equation of `heat`, written with whole-array slices.

`u[1:-1] = u[1:-1] + alpha * (u[:-2] - 2 u[1:-1] + u[2:])` evaluates the
right side fully before assigning (NumPy semantics), so it is the same
scheme as `heat`. The gradient is taken w.r.t. the initial state and alpha.
"""
from __future__ import annotations

import numpy as np

NAME = "heat_slices"
DESCRIPTION = "explicit 1-D heat equation in place with NumPy slices, loss = sum of squares"
SIZES = {"tiny": {"n": 9, "steps": 3}, "quick": {"n": 2000, "steps": 500},
         "full": {"n": 4000, "steps": 2000}}
DIFF = (0, 2)
MUTATES = (0,)
NOTES = "same scheme as heat; irad fuses the right side into one loop with one temporary"


def heat_slices(u, steps, alpha):
    for _ in range(steps):
        u[1:-1] = u[1:-1] + alpha * (u[:-2] - 2.0 * u[1:-1] + u[2:])
    return np.sum(u * u)


FUNCTION = heat_slices


def make_args(n, steps):
    x = np.linspace(0.0, 1.0, n)
    u = np.sin(np.pi * x) + 0.1 * np.sin(7.0 * np.pi * x)
    return u, steps, 0.2
