"""PyTorch ports of the suite: the same losses, vectorized, run eagerly.

As for JAX (see ports_jax.py), element loops are replaced by tensor
operations and only time-stepping loops stay Python loops. `PORTS[name]`
takes the suite function's arguments as tensors (ints as Python ints) and
returns a 0-d tensor; the runner checks its value and the gradients from
torch.autograd.grad against irad's before timing. `MISSING[name]` says
why a benchmark has no port.

Invariants: float64 throughout; ports never modify their inputs in place
(so autograd sees the original values and the runner needs no restore).
"""
from __future__ import annotations

import math

import torch


def heat(u, steps, alpha):
    for _ in range(steps):
        inner = u[1:-1] + alpha * (u[:-2] - 2.0 * u[1:-1] + u[2:])
        u = torch.cat([u[:1], inner, u[-1:]])
    return torch.sum(u * u)


def rk4(sigma, rho, beta, y, steps, dt):
    def f(s):
        x, yy, z = s[:, 0], s[:, 1], s[:, 2]
        return torch.stack([sigma * (yy - x), x * (rho - z) - yy, x * yy - beta * z], dim=1)
    for _ in range(steps):
        k1 = f(y)
        k2 = f(y + 0.5 * dt * k1)
        k3 = f(y + 0.5 * dt * k2)
        k4 = f(y + dt * k3)
        y = y + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return torch.sum(y * y)


def gmm(alphas, means, icf, x, wishart_gamma, wishart_m, lgamma_term):
    n, d = x.shape
    k = alphas.shape[0]
    qdiag = torch.exp(icf[:, :d])
    sum_qs = torch.sum(icf[:, :d], dim=1)
    rows = [j for i in range(d) for j in range(i + 1, d)]
    cols = [i for i in range(d) for j in range(i + 1, d)]
    lower = torch.zeros((k, d, d), dtype=icf.dtype)
    lower = lower.index_put((torch.arange(k)[:, None], torch.tensor(rows)[None, :],
                             torch.tensor(cols)[None, :]), icf[:, d:])
    q = lower + torch.diag_embed(qdiag)
    xc = x[:, None, :] - means[None, :, :]
    qxc = torch.einsum("kij,nkj->nki", q, xc)
    main = alphas[None, :] + sum_qs[None, :] - 0.5 * torch.sum(qxc * qxc, dim=2)
    slse = torch.sum(torch.logsumexp(main, dim=1))
    frobenius = torch.sum(qdiag * qdiag, dim=1) + torch.sum(icf[:, d:] * icf[:, d:], dim=1)
    prior = torch.sum(0.5 * wishart_gamma * wishart_gamma * frobenius - wishart_m * sum_qs)
    nn = d + wishart_m + 1
    c = nn * d * (math.log(wishart_gamma) - 0.5 * math.log(2.0)) - lgamma_term
    constant = -n * d * 0.5 * math.log(2.0 * math.pi)
    return constant + slse - n * torch.logsumexp(alphas, dim=0) + prior - k * c


def ba(cams, X, w, obs, feats):
    cam = cams[obs[:, 0]]
    p = X[obs[:, 1]] - cam[:, 3:6]
    r = cam[:, 0:3]
    sq = torch.sum(r * r, dim=1)
    nonzero = sq != 0.0
    theta = torch.sqrt(torch.where(nonzero, sq, torch.ones_like(sq)))
    c, s = torch.cos(theta), torch.sin(theta)
    wv = r / theta[:, None]
    t = torch.sum(wv * p, dim=1) * (1.0 - c)
    rotated = p * c[:, None] + torch.cross(wv, p, dim=1) * s[:, None] + wv * t[:, None]
    small = p + torch.cross(r, p, dim=1)
    xc = torch.where(nonzero[:, None], rotated, small)
    uv = xc[:, 0:2] / xc[:, 2:3]
    rsq = torch.sum(uv * uv, dim=1)
    distortion = 1.0 + cam[:, 9] * rsq + cam[:, 10] * rsq * rsq
    proj = uv * (distortion * cam[:, 6])[:, None] + cam[:, 7:9]
    e = w[:, None] * (proj - feats)
    we = 1.0 - w * w
    return torch.sum(e * e) + torch.sum(we * we)


def nbody(pos, vel, mass, steps, dt):
    eps2 = 0.01
    for _ in range(steps):
        diff = pos[None, :, :] - pos[:, None, :]
        r2 = torch.sum(diff * diff, dim=2) + eps2
        inv = mass[None, :] / (r2 * torch.sqrt(r2))
        vel = vel + dt * torch.sum(diff * inv[:, :, None], dim=1)
        pos = pos + dt * vel
    kinetic = torch.sum(0.5 * mass * torch.sum(vel * vel, dim=1))
    diff = pos[None, :, :] - pos[:, None, :]
    r = torch.sqrt(torch.sum(diff * diff, dim=2) + eps2)
    upper = torch.triu(torch.ones_like(r, dtype=torch.bool), diagonal=1)
    potential = torch.sum(torch.where(upper, mass[:, None] * mass[None, :] / r, torch.zeros_like(r)))
    return kinetic - potential


def spmv(indptr, indices, data, x, y, reps):
    n = y.shape[0]
    rows = torch.repeat_interleave(torch.arange(n), torch.diff(indptr))
    cur = x
    for _ in range(reps):
        cur = torch.zeros(n, dtype=data.dtype).index_add(0, rows, data * cur[indices])
    return torch.sum(cur * cur)


def matmul(a, b, c):
    ab = a @ b
    return torch.sum(ab * ab)


def _cnd(d):
    k = 1.0 / (1.0 + 0.2316419 * torch.abs(d))
    poly = k * (0.319381530 + k * (-0.356563782 + k * (1.781477937 + k * (-1.821255978 + k * 1.330274429))))
    w = 1.0 - 0.3989422804014327 * torch.exp(-0.5 * d * d) * poly
    return torch.where(d < 0.0, 1.0 - w, w)


def black_scholes(s, k, t, r, sigma):
    sqrt_t = torch.sqrt(t)
    d1 = (torch.log(s / k) + (r + 0.5 * sigma * sigma) * t) / (sigma * sqrt_t)
    d2 = d1 - sigma * sqrt_t
    return torch.sum(s * _cnd(d1) - k * torch.exp(-r * t) * _cnd(d2))


def softmax_mlp(w1, b1, w2, b2, x, y):
    h = torch.tanh(x @ w1 + b1)
    z = h @ w2 + b2
    m = torch.max(z)
    e = torch.exp(z - m)
    logp = z - m - torch.log(torch.sum(e, dim=1))[:, None]
    return -torch.sum(y * logp) / x.shape[0]


def heat_slices(u, steps, alpha):
    return heat(u, steps, alpha)


PORTS = {"heat": heat, "rk4": rk4, "gmm": gmm, "ba": ba, "nbody": nbody, "scatter": spmv,
         "matmul": matmul, "heat_slices": heat_slices, "black_scholes": black_scholes,
         "softmax_mlp": softmax_mlp}
NOTES = {"matmul": "the PyTorch port is a @ b (a BLAS call, not loops)",
         "scatter": "the PyTorch port uses index_add"}
MISSING = {"gauss_seidel": "no faithful PyTorch port: an in-place Gauss-Seidel sweep is sequential "
                           "(a vectorized Jacobi or red-black sweep computes something else)"}
