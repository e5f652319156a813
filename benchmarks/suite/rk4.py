"""Classic RK4 for a batch of Lorenz-63 trajectories, state updated in place.

`y` holds m independent trajectories (m x 3); each step evaluates the
right-hand side four times per trajectory with scalar code (a helper
function the tracer inlines) and overwrites `y`. The loss is the sum of
squares of the final states; the gradient is taken with respect to the
parameters (sigma, rho, beta) and the initial state `y`.

Invariant: `rk4` leaves the final states in `y`. The horizon is short
enough (t = steps * dt <= 2) that the chaotic dynamics keep gradients
finite and well conditioned for a finite-difference check.
"""
from __future__ import annotations

import numpy as np

NAME = "rk4"
DESCRIPTION = "RK4 of a batch of Lorenz-63 systems in place; grad w.r.t. (sigma, rho, beta) and y0"
SIZES = {"tiny": {"m": 2, "steps": 3}, "quick": {"m": 512, "steps": 200},
         "full": {"m": 4096, "steps": 200}}
DIFF = (0, 1, 2, 3)
MUTATES = (3,)
NOTES = "dt = 0.01; the steps loop is outer, trajectories inner"


def lorenz(x, y, z, sigma, rho, beta):
    return sigma * (y - x), x * (rho - z) - y, x * y - beta * z


def rk4(sigma, rho, beta, y, steps, dt):
    m = y.shape[0]
    for _ in range(steps):
        for i in range(m):
            x0 = y[i, 0]
            y0 = y[i, 1]
            z0 = y[i, 2]
            a1, b1, c1 = lorenz(x0, y0, z0, sigma, rho, beta)
            a2, b2, c2 = lorenz(x0 + 0.5 * dt * a1, y0 + 0.5 * dt * b1, z0 + 0.5 * dt * c1, sigma, rho, beta)
            a3, b3, c3 = lorenz(x0 + 0.5 * dt * a2, y0 + 0.5 * dt * b2, z0 + 0.5 * dt * c2, sigma, rho, beta)
            a4, b4, c4 = lorenz(x0 + dt * a3, y0 + dt * b3, z0 + dt * c3, sigma, rho, beta)
            y[i, 0] = x0 + dt / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4)
            y[i, 1] = y0 + dt / 6.0 * (b1 + 2.0 * b2 + 2.0 * b3 + b4)
            y[i, 2] = z0 + dt / 6.0 * (c1 + 2.0 * c2 + 2.0 * c3 + c4)
    loss = 0.0
    for i in range(m):
        for k in range(3):
            loss += y[i, k] * y[i, k]
    return loss


FUNCTION = rk4


def make_args(m, steps):
    rng = np.random.default_rng(2)
    y = np.array([1.0, 1.0, 20.0]) + rng.standard_normal((m, 3))
    return 10.0, 28.0, 8.0 / 3.0, y, steps, 0.01
