"""irad in one screen: trace a mutating simulation, look at its IR, run it.

Run with `make demo`.
"""
import numpy as np

import irad


def heat(u, steps, alpha):
    """Explicit heat equation, updated in place; returns the energy."""
    n = u.shape[0]
    tmp = np.zeros(n)
    for _ in range(steps):
        for i in range(1, n - 1):
            tmp[i] = u[i] + alpha * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        for i in range(1, n - 1):
            u[i] = tmp[i]
    energy = 0.0
    for i in range(n):
        energy += u[i] * u[i]
    return energy


def main():
    u0 = np.sin(np.linspace(0.0, np.pi, 64))
    f = irad.jit(heat)
    print("== typed IR ==")
    print(f.ir(u0.copy(), 100, 0.25))
    print("\n== optimized IR ==")
    print(f.ir(u0.copy(), 100, 0.25, stage="optimized"))

    u_python, u_irad = u0.copy(), u0.copy()
    expected = heat(u_python, 100, 0.25)
    got = f(u_irad, 100, 0.25)
    print(f"\nenergy: CPython {expected:.12f}   irad {got:.12f}")
    print("in-place update identical:", np.allclose(u_python, u_irad, rtol=1e-12))


if __name__ == "__main__":
    main()
