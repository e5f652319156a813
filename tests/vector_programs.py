"""Programs over (n, 3) arrays of vectors (tests/test_specialize.py, tests/test_promote.py):
pairwise forces, whose adjoint accumulates into the invariant row i and the varying row j
of one shadow, and a batch of ODE trajectories updated in place."""
import math

import numpy as np


def pairwise(pos, mass):
    """Softened pairwise potential energy after one in-place drift (j runs over every row,
    i included: the adjoint's rows i and j coincide once per i)."""
    n = pos.shape[0]
    acc = np.zeros((n, 3))
    for i in range(n):
        ax = 0.0
        ay = 0.0
        az = 0.0
        for j in range(n):
            dx = pos[j, 0] - pos[i, 0]
            dy = pos[j, 1] - pos[i, 1]
            dz = pos[j, 2] - pos[i, 2]
            r2 = dx * dx + dy * dy + dz * dz + 0.1
            inv = mass[j] / (r2 * math.sqrt(r2))
            ax += dx * inv
            ay += dy * inv
            az += dz * inv
        acc[i, 0] = ax
        acc[i, 1] = ay
        acc[i, 2] = az
    for i in range(n):
        pos[i, 0] += 0.01 * acc[i, 0]
        pos[i, 1] += 0.01 * acc[i, 1]
        pos[i, 2] += 0.01 * acc[i, 2]
    e = 0.0
    for i in range(n):
        for j in range(n):
            dx = pos[j, 0] - pos[i, 0]
            dy = pos[j, 1] - pos[i, 1]
            dz = pos[j, 2] - pos[i, 2]
            e += mass[i] * mass[j] / math.sqrt(dx * dx + dy * dy + dz * dz + 0.1)
    return e


def batch_euler(y, rate):
    """Explicit Euler steps of independent nonlinear 3-vectors, in place."""
    m = y.shape[0]
    for _ in range(3):
        for i in range(m):
            a = y[i, 0]
            b = y[i, 1]
            c = y[i, 2]
            y[i, 0] = a + 0.1 * rate * (b - a)
            y[i, 1] = b + 0.1 * (a * c - b)
            y[i, 2] = c - 0.1 * a * b
    s = 0.0
    for i in range(m):
        s += y[i, 0] * y[i, 1] + y[i, 2] * y[i, 2]
    return s


def columns_by_variable(a):
    """The last index varies: nothing to specialize."""
    s = 0.0
    for i in range(a.shape[0]):
        for k in range(a.shape[1]):
            s += a[i, k] * a[i, k]
    return s
