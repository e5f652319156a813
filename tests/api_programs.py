"""Functions used by the API tests (irad finds sources of module-level code)."""
import math
from collections import namedtuple
from dataclasses import dataclass

import numpy as np

Pair = namedtuple("Pair", "a b")


@dataclass
class Params:
    w: np.ndarray
    c: float


def mul3(a, b, c): return a * b * c
def div(x, y): return x / y
def div_dict(x, y): return {"div": x / y, "mul": x * y}
def first_of_tuple(x): return x * x, x + 1.0
def returns_array(x):
    out = np.zeros(2)
    out[0] = x
    out[1] = x
    return out


def sumsq(x):
    s = 0.0
    for i in range(len(x)):
        s += x[i] * x[i]
    return s


def int_power_sum(x, y, d):
    s = 0
    for i in range(len(x)):
        s += x[i] ** x.shape[d] + y
    return s


def uses_only_shape(x, y):
    return y * x.shape[0]


def string_arg(x, mode):
    return x * 2.0 if mode == "double" else x


def pair_fn(p): return p.a * p.b * p.b
def params_fn(p, x):
    s = 0.0
    for i in range(len(x)):
        s += (p.w[i] * x[i] + p.c) ** 2
    return s


def loss(m, x, y):
    s = 0.0
    for i in range(len(y)):
        z = m["b"][i]
        for j in range(len(x)):
            z += m["w"][i, j] * x[j]
        s += (z - y[i]) ** 2
    return s


def bool_arg(x, flag):
    return x * 3.0 if flag else x


def sawtooth(x): return x - math.floor(x)


def mutates(x):
    for i in range(len(x)):
        x[i] = x[i] * x[i]
    return x[0] + x[1]


def wave(u, v, c, steps):
    """A leapfrog-like wave step: the velocity array v receives values that depend on u."""
    for _ in range(steps):
        v[1:-1] += c * (u[:-2] - 2.0 * u[1:-1] + u[2:])
        u += 0.1 * v
    return np.sum(u * u)
