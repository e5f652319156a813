"""ADBench's Gaussian mixture model objective, written with loops.

The objective of ADBench's GMM problem (Srajer, Kukelova, Fitzgibbon,
"A benchmark of selected algorithmic differentiation tools on some
problems in computer vision and machine learning", 2018): the negative
log-likelihood of n points in d dimensions under K Gaussians whose inverse
covariances are parameterized by the log-diagonal and the strict lower
triangle of their Cholesky factor (`icf`, K x (d + d(d-1)/2), ADBench's
packed column order), plus a Wishart prior. It follows ADBench's C++
reference (`gmm_objective` with `Qtimesx` and `logsumexp`) loop for loop;
per-component `exp(icf)` and sums are precomputed once.

The gradient is taken with respect to (alphas, means, icf); x and the
prior's hyper-parameters are constants, as in ADBench.

`lgamma_term` is the parameter-independent log multivariate gamma
function of the prior, computed in Python with `math.lgamma` (which irad
does not compile); everything else is computed by the compiled function.

ADBench's published gradient/objective time ratios for this problem
(d=10, K=25): hand-written derivatives 1.9-7.2, Tapenade 3.7-15.5.
"""
from __future__ import annotations

import math

import numpy as np

NAME = "gmm"
DESCRIPTION = "ADBench GMM objective (loops), grad w.r.t. alphas, means, icf"
SIZES = {"tiny": {"d": 3, "k": 2, "n": 4}, "quick": {"d": 10, "k": 25, "n": 250},
         "full": {"d": 10, "k": 25, "n": 1000}}
DIFF = (0, 1, 2)
MUTATES = ()
NOTES = ("ADBench gradient/objective ratio at d=10, K=25: hand-written 1.9-7.2, Tapenade 3.7-15.5; "
         "the lgamma constant of the Wishart prior is precomputed in Python")
ADBENCH_RATIOS = {"hand-written": (1.9, 7.2), "Tapenade": (3.7, 15.5)}


def logsumexp(v, k):
    mx = v[0]
    for i in range(1, k):
        if v[i] > mx:
            mx = v[i]
    s = 0.0
    for i in range(k):
        s += math.exp(v[i] - mx)
    return math.log(s) + mx


def gmm(alphas, means, icf, x, wishart_gamma, wishart_m, lgamma_term):
    n = x.shape[0]
    d = x.shape[1]
    k = alphas.shape[0]
    qdiags = np.zeros((k, d))
    sum_qs = np.zeros(k)
    for ik in range(k):
        s = 0.0
        for j in range(d):
            qdiags[ik, j] = math.exp(icf[ik, j])
            s += icf[ik, j]
        sum_qs[ik] = s
    xcentered = np.zeros(d)
    qx = np.zeros(d)
    main_term = np.zeros(k)
    slse = 0.0
    for ix in range(n):
        for ik in range(k):
            for j in range(d):
                xcentered[j] = x[ix, j] - means[ik, j]
            for j in range(d):
                qx[j] = qdiags[ik, j] * xcentered[j]
            idx = d
            for i in range(d):
                for j in range(i + 1, d):
                    qx[j] += icf[ik, idx] * xcentered[i]
                    idx += 1
            sq = 0.0
            for j in range(d):
                sq += qx[j] * qx[j]
            main_term[ik] = alphas[ik] + sum_qs[ik] - 0.5 * sq
        slse += logsumexp(main_term, k)
    # Wishart prior
    prior = 0.0
    for ik in range(k):
        frobenius = 0.0
        for j in range(d):
            frobenius += qdiags[ik, j] * qdiags[ik, j]
        for j in range(d, icf.shape[1]):
            frobenius += icf[ik, j] * icf[ik, j]
        prior += 0.5 * wishart_gamma * wishart_gamma * frobenius - wishart_m * sum_qs[ik]
    nn = d + wishart_m + 1
    c = nn * d * (math.log(wishart_gamma) - 0.5 * math.log(2.0)) - lgamma_term
    constant = -n * d * 0.5 * math.log(2.0 * math.pi)
    return constant + slse - n * logsumexp(alphas, k) + prior - k * c


FUNCTION = gmm


def log_gamma_distrib(a, p):
    out = 0.25 * p * (p - 1) * math.log(math.pi)
    for j in range(1, p + 1):
        out += math.lgamma(a + 0.5 * (1 - j))
    return out


def make_args(d, k, n):
    rng = np.random.default_rng(3)
    alphas = rng.standard_normal(k)
    means = rng.random((k, d))
    icf = rng.standard_normal((k, d + d * (d - 1) // 2)) * 0.5
    x = rng.random((n, d))
    wishart_gamma, wishart_m = 1.0, 0
    lgamma_term = log_gamma_distrib(0.5 * (d + wishart_m + 1), d)
    return alphas, means, icf, x, wishart_gamma, wishart_m, lgamma_term
