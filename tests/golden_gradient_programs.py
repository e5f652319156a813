"""Programs whose gradient IR is checked with FileCheck (tests/golden/gradient)."""
import math

import numpy as np


def heat_linear(u, alpha):
    """In-place explicit heat stencil: linear in u, so its gradient needs no tape."""
    n = u.shape[0]
    tmp = np.zeros(n)
    for t in range(4):
        for i in range(1, n - 1):
            tmp[i] = u[i] + alpha * (u[i - 1] - 2 * u[i] + u[i + 1])
        for i in range(1, n - 1):
            u[i] = tmp[i]
    s = 0.0
    for i in range(n):
        s += u[i]
    return s


def read_only_sumsq(x):
    """A reduction that only reads x: the reverse sweep re-loads, never tapes."""
    s = 0.0
    for i in range(len(x)):
        s += x[i] * x[i]
    return s


def gauss_seidel(u, h):
    """In-place sweeps: u[i] is overwritten after sin reads it, so exactly that is taped."""
    for sweep in range(3):
        for i in range(1, len(u) - 1):
            u[i] = 0.5 * (u[i - 1] + u[i + 1]) + h * math.sin(u[i])
    s = 0.0
    for i in range(len(u)):
        s += u[i]
    return s


def scale_then_sum(x, w):
    """DESIGN.md's worked example: one tape for the first loop, none for the second."""
    for i in range(len(x)):
        x[i] = x[i] * w
    s = 0.0
    for i in range(len(x)):
        s += x[i] * x[i]
    return s


def newton(c):
    """A while loop: the trip count is counted forward, carried values taped."""
    x = c
    while abs(x * x - c) > 1e-12:
        x = 0.5 * (x + c / x)
    return x


def packed_triangle(x, lower):
    """GMM's packed lower triangle: `idx` is an induction variable of the inner loop
    (recomputed, not taped), and `x[i]` is read unchanged by every inner iteration (taped
    once per outer iteration, before the inner loop)."""
    n = len(x)
    y = np.zeros(n)
    idx = 0
    for i in range(n):
        for j in range(i + 1, n):
            y[j] += lower[idx] * x[i]
            idx += 1
        x[i] = 0.0
    s = 0.0
    for j in range(n):
        s += y[j] * y[j]
    return s


def midpoint_steps(y, k, dt):
    """In-place midpoint steps of y' = -k y^2: the stage values are recomputed from the
    overwritten y[i], which alone is taped (once per point and step)."""
    for t in range(3):
        for i in range(len(y)):
            y0 = y[i]
            a = -k * y0 * y0
            y1 = y0 + 0.5 * dt * a
            b = -k * y1 * y1
            y[i] = y0 + dt * b
    s = 0.0
    for i in range(len(y)):
        s += y[i] * y[i]
    return s


def pair_forces(x, dt):
    """An O(n^2) pair loop reads x, which the step then overwrites: x is snapshotted once per
    step (n values) instead of every pair term being taped (n^2 values)."""
    n = len(x)
    f = np.zeros(n)
    for step in range(2):
        for i in range(n):
            fi = 0.0
            for j in range(n):
                d = x[j] - x[i]
                fi += d / (d * d + 1.0)
            f[i] = fi
        for i in range(n):
            x[i] += dt * f[i]
    s = 0.0
    for i in range(n):
        s += x[i] * x[i]
    return s


def tanh_layer(x, w):
    """The reverse sweep re-loads tanh's results from h, which nothing overwrites, instead of
    recomputing tanh."""
    h = np.empty_like(x)
    h[:] = np.tanh(x * w)           # stored (a named expression alone would fuse into the sum)
    return np.sum(h * x)
