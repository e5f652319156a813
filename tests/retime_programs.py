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
