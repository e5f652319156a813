"""ADBench's bundle adjustment objective on a synthetic problem.

Cameras are rows of `cams` (n_cams x 11: Rodrigues rotation 0:3, centre
3:6, focal length 6, principal point 7:9, radial distortion 9:11, ADBench's
layout); `X` holds the points, `obs` pairs (camera, point) per
observation, `feats` the measured image points and `w` a weight per
observation. The loss is ADBench's residual vector squared and summed:
sum_o |w_o (proj(cam, X) - feat_o)|^2 + sum_o (1 - w_o^2)^2.

Projection follows ADBench: rotate X - C by Rodrigues' formula (with the
small-angle branch), perspective divide, radial distortion
1 + k1 r^2 + k2 r^4, scale by the focal length, shift by the principal
point. The gradient is taken with respect to (cams, X, w); obs and feats
are constants.
"""
from __future__ import annotations

import math

import numpy as np

NAME = "ba"
DESCRIPTION = "ADBench bundle adjustment: squared reprojection error, radial distortion, Rodrigues"
SIZES = {"tiny": {"n_cams": 2, "n_pts": 3, "n_obs": 5},
         "quick": {"n_cams": 20, "n_pts": 5000, "n_obs": 40000},
         "full": {"n_cams": 50, "n_pts": 50000, "n_obs": 400000}}
DIFF = (0, 1, 2)
MUTATES = ()
NOTES = "synthetic problem: random cameras ~5 units in front of the points, features = projection + noise"


def rodrigues(r0, r1, r2, x, y, z):
    sqtheta = r0 * r0 + r1 * r1 + r2 * r2
    if sqtheta != 0.0:
        theta = math.sqrt(sqtheta)
        c = math.cos(theta)
        s = math.sin(theta)
        w0 = r0 / theta
        w1 = r1 / theta
        w2 = r2 / theta
        t = (w0 * x + w1 * y + w2 * z) * (1.0 - c)
        rx = x * c + (w1 * z - w2 * y) * s + w0 * t
        ry = y * c + (w2 * x - w0 * z) * s + w1 * t
        rz = z * c + (w0 * y - w1 * x) * s + w2 * t
    else:
        rx = x + (r1 * z - r2 * y)
        ry = y + (r2 * x - r0 * z)
        rz = z + (r0 * y - r1 * x)
    return rx, ry, rz


def project(cams, c, px, py, pz):
    xc, yc, zc = rodrigues(cams[c, 0], cams[c, 1], cams[c, 2],
                           px - cams[c, 3], py - cams[c, 4], pz - cams[c, 5])
    u = xc / zc
    v = yc / zc
    rsq = u * u + v * v
    distortion = 1.0 + cams[c, 9] * rsq + cams[c, 10] * rsq * rsq
    return u * distortion * cams[c, 6] + cams[c, 7], v * distortion * cams[c, 6] + cams[c, 8]


def ba(cams, X, w, obs, feats):
    loss = 0.0
    for o in range(obs.shape[0]):
        c = obs[o, 0]
        p = obs[o, 1]
        u, v = project(cams, c, X[p, 0], X[p, 1], X[p, 2])
        eu = w[o] * (u - feats[o, 0])
        ev = w[o] * (v - feats[o, 1])
        we = 1.0 - w[o] * w[o]
        loss += eu * eu + ev * ev + we * we
    return loss


FUNCTION = ba


def make_args(n_cams, n_pts, n_obs):
    rng = np.random.default_rng(4)
    cams = np.zeros((n_cams, 11))
    cams[:, 0:3] = rng.standard_normal((n_cams, 3)) * 0.1
    cams[:, 3:6] = rng.standard_normal((n_cams, 3)) * 0.2 + np.array([0.0, 0.0, -5.0])
    cams[:, 6] = 1.0 + 0.1 * rng.random(n_cams)
    cams[:, 7:9] = rng.standard_normal((n_cams, 2)) * 0.01
    cams[:, 9:11] = rng.standard_normal((n_cams, 2)) * 0.01
    X = rng.uniform(-1.0, 1.0, (n_pts, 3))
    w = 1.0 + 0.1 * rng.standard_normal(n_obs)
    obs = np.empty((n_obs, 2), dtype=np.int64)
    obs[:, 0] = np.arange(n_obs) % n_cams
    obs[:, 1] = np.arange(n_obs) % n_pts
    feats = rng.standard_normal((n_obs, 2)) * 0.05 + 0.1
    return cams, X, w, obs, feats
