"""Vectorized Black-Scholes call prices over arrays of options; the loss is
their sum, differentiated w.r.t. the spot prices and the volatility.

The normal CDF is the Abramowitz-Stegun polynomial (every tool computes
the same function; irad has no erf).
"""
from __future__ import annotations

import numpy as np

NAME = "black_scholes"
DESCRIPTION = "vectorized Black-Scholes call prices (array expressions), loss = sum of prices"
SIZES = {"tiny": {"n": 8}, "quick": {"n": 200_000}, "full": {"n": 2_000_000}}
DIFF = (0, 4)
MUTATES = ()
NOTES = "d(sum of prices)/d(spot) is the delta of each option; d/d(sigma) the total vega"


def cnd(d):
    k = 1.0 / (1.0 + 0.2316419 * np.abs(d))
    poly = k * (0.319381530 + k * (-0.356563782 + k * (1.781477937 + k * (-1.821255978 + k * 1.330274429))))
    w = 1.0 - 0.3989422804014327 * np.exp(-0.5 * d * d) * poly
    return np.where(d < 0.0, 1.0 - w, w)


def black_scholes(s, k, t, r, sigma):
    sqrt_t = np.sqrt(t)
    d1 = (np.log(s / k) + (r + 0.5 * sigma * sigma) * t) / (sigma * sqrt_t)
    d2 = d1 - sigma * sqrt_t
    call = s * cnd(d1) - k * np.exp(-r * t) * cnd(d2)
    return np.sum(call)


FUNCTION = black_scholes


def make_args(n):
    rng = np.random.default_rng(11)
    return (rng.uniform(50.0, 150.0, n), rng.uniform(60.0, 140.0, n), rng.uniform(0.25, 2.0, n),
            0.02, 0.3)
