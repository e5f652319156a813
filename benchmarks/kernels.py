"""Functions for the runner's extra measurements (not part of the suite).

`thirty_lines` is the ~30-line function whose first-call compile time is
measured, and whose disk-cache warm start is timed in fresh processes;
`tiny` is the function of three arrays and a scalar whose per-call
overhead is measured. This module imports only math and NumPy so that a
subprocess can import it cheaply before the timed region starts.
"""
import math

import numpy as np


def thirty_lines(x, v, k, damping, steps, dt):
    """A damped spring chain between two walls: loops, branches, math calls."""
    n = x.shape[0]
    f = np.zeros(n)
    for _ in range(steps):
        for i in range(n):
            left = x[i - 1] if i > 0 else 0.0
            right = x[i + 1] if i < n - 1 else 0.0
            f[i] = k * (left - 2.0 * x[i] + right) - damping * v[i]
        for i in range(n):
            v[i] += dt * f[i]
            x[i] += dt * v[i]
            if x[i] > 1.0:
                x[i] = 2.0 - x[i]
                v[i] = -v[i]
            elif x[i] < -1.0:
                x[i] = -2.0 - x[i]
                v[i] = -v[i]
    energy = 0.0
    momentum = 0.0
    for i in range(n):
        energy += 0.5 * v[i] * v[i] + 0.5 * k * x[i] * x[i]
        energy += 0.01 * math.tanh(x[i]) + math.exp(-x[i] * x[i])
        momentum += v[i]
    spread = 0.0
    for i in range(n):
        spread += (x[i] - momentum / n) ** 2
    return energy + 0.1 * math.sqrt(spread + 1e-12) + 0.01 * momentum


def thirty_lines_args():
    x = np.linspace(-0.9, 0.9, 16)
    return x, np.zeros(16), 4.0, 0.1, 5, 0.01


def tiny(a, b, c, s):
    return a[0] * s + b[0] + c[0]


def tiny_args():
    return np.ones(4), np.ones(4), np.ones(4), 2.0
