"""Programs that rebind array variables in loops and branches (whole-array NumPy
style), for tests/test_carried_arrays.py. Each takes an array and a number."""
import numpy as np


def loop_rebinds(x, n):
    for _ in range(n):
        x = x * 0.5 + np.sin(x)
    return np.sum(x * x)


def while_rebinds(x, tol):
    while np.sum(x * x) > tol:
        x = x * 0.9 - 0.01 * np.cos(x)
    return np.sum(x)


def branch_in_loop(x, n):
    for k in range(n):
        if k % 2 == 0:
            x = np.tanh(x) * 1.5
        else:
            x = x + 0.1 * x * x
    return np.sum(x)


def branch_keeps_in_loop(x, n):
    for k in range(n):
        if k % 2 == 1:
            x = np.exp(-x) + x
    return np.sum(x * x)


def reversed_view(x, n):
    for _ in range(n):
        x = x[::-1] * 1.1
    return x[0] + 2.0 * x[-1]


def nested_loops(u, n):
    for _ in range(n):
        for _ in range(2):
            u = u + 0.05 * u * u
    return np.sum(u)


def matrix_iteration(a, n):
    for _ in range(n):
        a = 0.5 * (a + a * a)
    return np.sum(a[:, 1:])


def keeps_the_input(x, n):
    y = x
    for _ in range(n):
        y = np.exp(-y) * x
    return np.sum(y) + np.sum(x)


def copied_stencil(u, steps):
    for _ in range(steps):
        un = u.copy()
        un[1:-1] = u[1:-1] + 0.2 * (u[:-2] - 2 * u[1:-1] + u[2:])
        u = un
    return np.sum(u * u)


def branch_fresh(x, c):
    if c > 0:
        y = x * 2.0
    else:
        y = np.exp(x)
    return np.sum(y * y)


def branch_or_input(x, c):
    if c > 0:
        y = x
    else:
        y = np.exp(x)
    return np.sum(y * y) + x[0]


def branch_then_written(x, c):
    if c > 0:
        y = np.sin(x)
    else:
        y = np.exp(x)
    y[1] = y[0] * y[2]
    return np.sum(y * y)


def branches_in_loop_read_only(x, n):
    s = 0.0
    for k in range(n):
        if k % 2 == 0:
            y = np.sin(x) * k
        else:
            y = x[::-1] * 2.0
        s += np.sum(y * x)
    return s


def conditional_expression_of_input(x, c):
    y = x if c > 0 else x * 2.0
    return np.sum(y)


def branch_scratch(x, c):
    s = 0.0
    if c > 0:
        y = np.sin(x)
        y[0] = 1.0
        s = np.sum(y * y)
    return s


def swapped_buffers(u, steps):
    """Double buffering: the loop writes one buffer from the other, then swaps them."""
    v = np.zeros_like(u)
    for _ in range(steps):
        v[1:-1] = 0.5 * (u[:-2] + u[2:]) + 0.1 * u[1:-1] ** 2
        v[0] = u[0]
        v[-1] = u[-1]
        u, v = v, u
    return np.sum(u * u)


def swapped_in_loops(u, steps, c):
    n = u.shape[0]
    v = u.copy()
    for _ in range(steps):
        for i in range(1, n - 1):
            v[i] = u[i] + c * (u[i - 1] - 2.0 * u[i] + u[i + 1]) * u[i]
        u, v = v, u
    s = 0.0
    for i in range(n):
        s += u[i] * v[i]
    return s


def rotated_three(a, steps):
    b = a[::-1].copy()
    c = a * 0.5
    for _ in range(steps):
        c[:] = a * b + 0.1 * c
        a, b, c = b, c, a
    return np.sum(a) + 2.0 * np.sum(b * b) + 3.0 * np.sum(c)


# ---- not differentiable: reverse mode must say so -----------------------------------

def chosen_input_then_written(x, c):
    if c > 0:
        y = x
    else:
        y = np.exp(x)
    x[0] = 3.0
    return np.sum(y * y)


def written_and_rebound(u, steps):
    for _ in range(steps):
        u[0] = 1.0
        u = u * 2.0
    return np.sum(u * u)
