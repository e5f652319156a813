"""Stencil programs whose adjoints accumulate at several offsets (tests/test_retime.py;
the heat stencil is grad_programs.g_heat)."""
import numpy as np


def wide(x, w):
    """Offsets -2 and +3 only: the retimed loop also touches the elements between."""
    n = x.shape[0]
    s = 0.0
    for i in range(2, n - 3):
        s += (x[i - 2] * w + x[i + 3]) ** 2
    return s


def rows(a, w):
    """A stencil along axis 1 of one row chosen by a loop-invariant index."""
    s = 0.0
    for r in range(a.shape[0]):
        for i in range(1, a.shape[1]):
            s += np.sin(a[r, i - 1] * w) * a[r, i]
    return s


def downward(x, w):
    """The stencil loop runs backwards in the primal, so its reverse runs forwards."""
    n = x.shape[0]
    s = 0.0
    for i in range(n - 2, 0, -1):
        s += x[i - 1] * x[i + 1] * w + x[i] ** 3
    return s


def plane(u, steps, alpha):
    """A 2-D five-point stencil in place: the adjoint's loop over j accumulates at j - 1, j,
    j + 1 of row i and at j of rows i - 1 and i + 1."""
    n, m = u.shape
    tmp = np.zeros((n, m))
    for _ in range(steps):
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                tmp[i, j] = u[i, j] + alpha * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1] - 4.0 * u[i, j])
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                u[i, j] = tmp[i, j]
    return np.sum(u * u)


def plane_slices(u, steps, alpha):
    """`plane` with slices."""
    for _ in range(steps):
        u[1:-1, 1:-1] = u[1:-1, 1:-1] + alpha * (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2]
                                                 + u[1:-1, 2:] - 4.0 * u[1:-1, 1:-1])
    return np.sum(u * u)
