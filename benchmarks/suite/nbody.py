"""Gravitational n-body: several explicit steps, O(n^2) forces, in place.

Each step computes all accelerations into a scratch array (softened
gravity), then updates velocities and positions in place (semi-implicit
Euler). The loss is the kinetic plus softened potential energy after the
last step; the gradient is taken with respect to the initial positions,
velocities and the masses.

Invariant: `nbody` leaves the final positions and velocities in `pos` and
`vel`.
"""
from __future__ import annotations

import math

import numpy as np

NAME = "nbody"
DESCRIPTION = "O(n^2) softened gravity, semi-implicit Euler in place over several steps"
SIZES = {"tiny": {"n": 4, "steps": 2}, "quick": {"n": 128, "steps": 10},
         "full": {"n": 500, "steps": 10}}
DIFF = (0, 1, 2)
MUTATES = (0, 1)
NOTES = "G = 1, softening eps^2 = 0.01, dt = 1e-3"


def nbody(pos, vel, mass, steps, dt):
    n = pos.shape[0]
    eps2 = 0.01
    acc = np.zeros((n, 3))
    for _ in range(steps):
        for i in range(n):
            ax = 0.0
            ay = 0.0
            az = 0.0
            for j in range(n):
                dx = pos[j, 0] - pos[i, 0]
                dy = pos[j, 1] - pos[i, 1]
                dz = pos[j, 2] - pos[i, 2]
                r2 = dx * dx + dy * dy + dz * dz + eps2
                inv = mass[j] / (r2 * math.sqrt(r2))
                ax += dx * inv
                ay += dy * inv
                az += dz * inv
            acc[i, 0] = ax
            acc[i, 1] = ay
            acc[i, 2] = az
        for i in range(n):
            for k in range(3):
                vel[i, k] += dt * acc[i, k]
                pos[i, k] += dt * vel[i, k]
    energy = 0.0
    for i in range(n):
        energy += 0.5 * mass[i] * (vel[i, 0] * vel[i, 0] + vel[i, 1] * vel[i, 1] + vel[i, 2] * vel[i, 2])
        for j in range(i + 1, n):
            dx = pos[j, 0] - pos[i, 0]
            dy = pos[j, 1] - pos[i, 1]
            dz = pos[j, 2] - pos[i, 2]
            energy -= mass[i] * mass[j] / math.sqrt(dx * dx + dy * dy + dz * dz + eps2)
    return energy


FUNCTION = nbody


def make_args(n, steps):
    rng = np.random.default_rng(5)
    pos = rng.standard_normal((n, 3))
    vel = rng.standard_normal((n, 3)) * 0.1
    mass = rng.uniform(0.5, 1.5, n) / n
    return pos, vel, mass, steps, 1e-3
