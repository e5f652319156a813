"""Explicit 1-D heat equation, updated in place with loops.

Each step writes the stencil into a scratch array, then copies it back
into `u`; the loss is the sum of squares of the final state. The gradient
is taken with respect to the initial state `u` and the diffusion number
`alpha`: every step overwrites `u`, so reverse mode must keep (or
recompute) each step's state.

Invariant: `heat` and `heat_adjoint` leave `u` holding the final state.
"""
from __future__ import annotations

import numpy as np

NAME = "heat"
DESCRIPTION = "explicit 1-D heat equation in place (scratch array + copy back), loss = sum of squares"
SIZES = {"tiny": {"n": 9, "steps": 3}, "quick": {"n": 2000, "steps": 500},
         "full": {"n": 4000, "steps": 2000}}
DIFF = (0, 2)
MUTATES = (0,)
NOTES = "alpha=0.2 keeps the scheme stable; the hand-written adjoint stores every step's state"


def heat(u, steps, alpha):
    n = u.shape[0]
    tmp = np.zeros(n)
    for _ in range(steps):
        for i in range(1, n - 1):
            tmp[i] = u[i] + alpha * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        for i in range(1, n - 1):
            u[i] = tmp[i]
    energy = 0.0
    for i in range(n):
        energy += u[i] * u[i]
    return energy


def heat_adjoint(u, steps, alpha):
    """Hand-written reverse sweep: (d energy / d u0, d energy / d alpha).

    Saves the state before every step (steps * n floats), as a
    hand-written adjoint without checkpointing would."""
    n = u.shape[0]
    saved = np.empty((steps, n))
    tmp = np.zeros(n)
    for t in range(steps):
        for i in range(n):
            saved[t, i] = u[i]
        for i in range(1, n - 1):
            tmp[i] = u[i] + alpha * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        for i in range(1, n - 1):
            u[i] = tmp[i]
    du = np.empty(n)
    for i in range(n):
        du[i] = 2.0 * u[i]
    dalpha = 0.0
    dnext = np.empty(n)
    for t in range(steps - 1, -1, -1):
        dnext[0] = du[0]
        dnext[n - 1] = du[n - 1]
        for i in range(1, n - 1):
            dnext[i] = 0.0
        for i in range(1, n - 1):
            g = du[i]
            lap = saved[t, i - 1] - 2.0 * saved[t, i] + saved[t, i + 1]
            dalpha += g * lap
            dnext[i] += g * (1.0 - 2.0 * alpha)
            dnext[i - 1] += g * alpha
            dnext[i + 1] += g * alpha
        for i in range(n):
            du[i] = dnext[i]
    return du, dalpha


FUNCTION = heat
ADJOINT = heat_adjoint


def make_args(n, steps):
    x = np.linspace(0.0, 1.0, n)
    u = np.sin(np.pi * x) + 0.1 * np.sin(7.0 * np.pi * x)
    return u, steps, 0.2
