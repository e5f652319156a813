"""irad in one screen: a mutating simulation, its IR at every stage, its
gradient checked against finite differences, and its speed next to Numba.

Run with `make demo`.
"""
import time

import numpy as np

import irad


def heat(u, alpha, steps):
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


def best_time(fn, make_args, repeats=20):
    best = float("inf")
    for _ in range(repeats):
        args = make_args()
        start = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def section(title):
    print(f"\n==== {title} " + "=" * max(0, 70 - len(title)))


def main():
    u0 = np.sin(np.linspace(0.0, np.pi, 64))
    f = irad.jit(heat)
    section("typed IR (traced from the Python source)")
    print(f.ir(u0.copy(), 0.25, 100))
    section("optimized IR")
    print(f.ir(u0.copy(), 0.25, 100, stage="optimized"))
    section("gradient IR (reverse mode; the in-place stencil needs no tape)")
    print(f.ir(u0.copy(), irad.Const(0.25), 100, stage="gradient"))
    section("optimized LLVM IR (first lines)")
    print("\n".join(f.ir(u0.copy(), 0.25, 100, stage="llvm-optimized").splitlines()[:25]))

    section("results")
    u_python, u_irad = u0.copy(), u0.copy()
    expected, got = heat(u_python, 0.25, 100), f(u_irad, 0.25, 100)
    print(f"energy: CPython {expected:.12f}, irad {got:.12f}; "
          f"in-place update identical: {np.allclose(u_python, u_irad, rtol=1e-12)}")

    du, dalpha, dsteps = irad.gradient(heat, u0.copy(), 0.25, 100)
    print(f"gradient: |du| = {np.linalg.norm(du):.6f}, dalpha = {dalpha:.6f}, dsteps = {dsteps}")
    irad.check_gradient(heat, u0.copy(), 0.25, 10, rtol=1e-5, atol=1e-8)
    print("check_gradient: matches central finite differences")

    section("timing (n = 4096, 200 steps, best of 20)")
    big = np.sin(np.linspace(0.0, np.pi, 4096))
    grad = irad.jit_gradient(heat)
    f(big.copy(), 0.25, 200)
    grad(big.copy(), 0.25, 200)
    t_irad = best_time(f, lambda: (big.copy(), 0.25, 200))
    t_grad = best_time(grad, lambda: (big.copy(), 0.25, 200))
    print(f"irad primal   {t_irad:8.3f} ms")
    print(f"irad gradient {t_grad:8.3f} ms  ({t_grad / t_irad:.2f}x primal)")
    try:
        import numba
    except ImportError:
        print("numba is not installed: `pip install numba` to compare")
        return
    nb = numba.njit(heat)
    nb(big.copy(), 0.25, 200)
    t_numba = best_time(nb, lambda: (big.copy(), 0.25, 200))
    print(f"numba primal  {t_numba:8.3f} ms  (irad primal is {t_irad / t_numba:.2f}x numba)")


if __name__ == "__main__":
    main()
