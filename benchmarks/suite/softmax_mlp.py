"""A small MLP (tanh hidden layer) with a softmax cross-entropy loss, written
with `@`, broadcasting and reductions; differentiated w.r.t. all weights.
"""
from __future__ import annotations

import numpy as np

NAME = "softmax_mlp"
DESCRIPTION = "one-hidden-layer MLP with softmax cross-entropy (@, np.exp, reductions)"
SIZES = {"tiny": {"batch": 4, "d": 3, "hidden": 5, "classes": 3},
         "quick": {"batch": 256, "d": 64, "hidden": 128, "classes": 10},
         "full": {"batch": 1024, "d": 784, "hidden": 256, "classes": 10}}
DIFF = (0, 1, 2, 3)
MUTATES = ()
NOTES = "irad calls SciPy's BLAS for large @ (loops below runtime.blas.MIN_FLOPS), as Numba does"


def softmax_mlp(w1, b1, w2, b2, x, y):
    h = np.tanh(x @ w1 + b1)
    z = h @ w2 + b2
    m = np.max(z)
    e = np.exp(z - m)
    logp = z - m - np.log(np.sum(e, axis=1))[:, None]
    return -np.sum(y * logp) / x.shape[0]


FUNCTION = softmax_mlp


def make_args(batch, d, hidden, classes):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((batch, d))
    y = np.zeros((batch, classes))
    y[np.arange(batch), rng.integers(0, classes, batch)] = 1.0
    return (rng.standard_normal((d, hidden)) * 0.1, np.zeros(hidden),
            rng.standard_normal((hidden, classes)) * 0.1, np.zeros(classes), x, y)
