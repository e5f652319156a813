"""JAX ports of the suite: the same losses written the way JAX wants them.

irad and Numba compile the suite's loops unchanged; JAX cannot (a Python
loop over array elements unrolls into an enormous trace), so each port is
the same mathematical function vectorized with jax.numpy and lax loops
over time steps. `PORTS[name]` takes the suite function's arguments (array
arguments as jax arrays, Python ints static) and returns the loss; the
runner checks its value and its jax.grad against irad's before timing.
`MISSING[name]` says why a benchmark has no port.

Invariants: float64 throughout (jax_enable_x64 is switched on at import);
ports are pure (they never mutate their inputs); integer arguments that
set loop counts or sizes are passed as static Python ints.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import lax

jax.config.update("jax_enable_x64", True)


def heat(u, steps, alpha):
    def step(_, u):
        return u.at[1:-1].set(u[1:-1] + alpha * (u[:-2] - 2.0 * u[1:-1] + u[2:]))
    u = lax.fori_loop(0, steps, step, u)
    return jnp.sum(u * u)


def rk4(sigma, rho, beta, y, steps, dt):
    def f(s):
        x, yy, z = s[:, 0], s[:, 1], s[:, 2]
        return jnp.stack([sigma * (yy - x), x * (rho - z) - yy, x * yy - beta * z], axis=1)

    def step(_, s):
        k1 = f(s)
        k2 = f(s + 0.5 * dt * k1)
        k3 = f(s + 0.5 * dt * k2)
        k4 = f(s + dt * k3)
        return s + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    y = lax.fori_loop(0, steps, step, y)
    return jnp.sum(y * y)


def _ltri_positions(d):
    """(rows, cols) of icf[:, d:] in ADBench's packed column order."""
    rows, cols = [], []
    for i in range(d):
        for j in range(i + 1, d):
            rows.append(j)
            cols.append(i)
    return jnp.array(rows, dtype=jnp.int32), jnp.array(cols, dtype=jnp.int32)


def gmm(alphas, means, icf, x, wishart_gamma, wishart_m, lgamma_term):
    n, d = x.shape
    k = alphas.shape[0]
    qdiag = jnp.exp(icf[:, :d])
    sum_qs = jnp.sum(icf[:, :d], axis=1)
    rows, cols = _ltri_positions(d)
    q = jnp.zeros((k, d, d)).at[:, rows, cols].set(icf[:, d:])
    q = q + jax.vmap(jnp.diag)(qdiag)
    xc = x[:, None, :] - means[None, :, :]
    qxc = jnp.einsum("kij,nkj->nki", q, xc)
    main = alphas[None, :] + sum_qs[None, :] - 0.5 * jnp.sum(qxc * qxc, axis=2)
    slse = jnp.sum(jax.nn.logsumexp(main, axis=1))
    frobenius = jnp.sum(qdiag * qdiag, axis=1) + jnp.sum(icf[:, d:] * icf[:, d:], axis=1)
    prior = jnp.sum(0.5 * wishart_gamma * wishart_gamma * frobenius - wishart_m * sum_qs)
    nn = d + wishart_m + 1
    c = nn * d * (jnp.log(wishart_gamma) - 0.5 * math.log(2.0)) - lgamma_term
    constant = -n * d * 0.5 * math.log(2.0 * math.pi)
    return constant + slse - n * jax.nn.logsumexp(alphas) + prior - k * c


def ba(cams, X, w, obs, feats):
    cam = cams[obs[:, 0]]
    p = X[obs[:, 1]] - cam[:, 3:6]
    r = cam[:, 0:3]
    sq = jnp.sum(r * r, axis=1)
    nonzero = sq != 0.0
    theta = jnp.sqrt(jnp.where(nonzero, sq, 1.0))
    c, s = jnp.cos(theta), jnp.sin(theta)
    wv = r / theta[:, None]
    t = jnp.sum(wv * p, axis=1) * (1.0 - c)
    rotated = p * c[:, None] + jnp.cross(wv, p) * s[:, None] + wv * t[:, None]
    small = p + jnp.cross(r, p)
    xc = jnp.where(nonzero[:, None], rotated, small)
    uv = xc[:, 0:2] / xc[:, 2:3]
    rsq = jnp.sum(uv * uv, axis=1)
    distortion = 1.0 + cam[:, 9] * rsq + cam[:, 10] * rsq * rsq
    proj = uv * (distortion * cam[:, 6])[:, None] + cam[:, 7:9]
    e = w[:, None] * (proj - feats)
    we = 1.0 - w * w
    return jnp.sum(e * e) + jnp.sum(we * we)


def nbody(pos, vel, mass, steps, dt):
    eps2 = 0.01

    def step(_, state):
        pos, vel = state
        diff = pos[None, :, :] - pos[:, None, :]
        r2 = jnp.sum(diff * diff, axis=2) + eps2
        inv = mass[None, :] / (r2 * jnp.sqrt(r2))
        acc = jnp.sum(diff * inv[:, :, None], axis=1)
        vel = vel + dt * acc
        return pos + dt * vel, vel
    pos, vel = lax.fori_loop(0, steps, step, (pos, vel))
    kinetic = jnp.sum(0.5 * mass * jnp.sum(vel * vel, axis=1))
    diff = pos[None, :, :] - pos[:, None, :]
    r = jnp.sqrt(jnp.sum(diff * diff, axis=2) + eps2)
    upper = jnp.triu(jnp.ones_like(r, dtype=bool), k=1)
    potential = jnp.sum(jnp.where(upper, mass[:, None] * mass[None, :] / r, 0.0))
    return kinetic - potential


def spmv(indptr, indices, data, x, y, reps):
    n = y.shape[0]
    rows = jnp.repeat(jnp.arange(n), jnp.diff(indptr), total_repeat_length=indices.shape[0])
    cur = x
    for _ in range(reps):
        cur = jax.ops.segment_sum(data * cur[indices], rows, num_segments=n)
    return jnp.sum(cur * cur)


def matmul(a, b, c):
    ab = a @ b
    return jnp.sum(ab * ab)


def _cnd(d):
    k = 1.0 / (1.0 + 0.2316419 * jnp.abs(d))
    poly = k * (0.319381530 + k * (-0.356563782 + k * (1.781477937 + k * (-1.821255978 + k * 1.330274429))))
    w = 1.0 - 0.3989422804014327 * jnp.exp(-0.5 * d * d) * poly
    return jnp.where(d < 0.0, 1.0 - w, w)


def black_scholes(s, k, t, r, sigma):
    sqrt_t = jnp.sqrt(t)
    d1 = (jnp.log(s / k) + (r + 0.5 * sigma * sigma) * t) / (sigma * sqrt_t)
    d2 = d1 - sigma * sqrt_t
    return jnp.sum(s * _cnd(d1) - k * jnp.exp(-r * t) * _cnd(d2))


def softmax_mlp(w1, b1, w2, b2, x, y):
    h = jnp.tanh(x @ w1 + b1)
    z = h @ w2 + b2
    m = jnp.max(z)
    e = jnp.exp(z - m)
    logp = z - m - jnp.log(jnp.sum(e, axis=1))[:, None]
    return -jnp.sum(y * logp) / x.shape[0]


def heat_slices(u, steps, alpha):
    return heat(u, steps, alpha)


PORTS = {"heat": heat, "rk4": rk4, "gmm": gmm, "ba": ba, "nbody": nbody, "scatter": spmv,
         "matmul": matmul, "heat_slices": heat_slices, "black_scholes": black_scholes,
         "softmax_mlp": softmax_mlp}
NOTES = {"matmul": "the JAX port is a @ b (a BLAS call, not loops)",
         "scatter": "the JAX port uses jax.ops.segment_sum"}
MISSING = {"gauss_seidel": "no faithful JAX port: an in-place Gauss-Seidel sweep is sequential "
                           "(a vectorized Jacobi or red-black sweep computes something else)"}
