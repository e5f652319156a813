"""Programs for gradient checks, including the cases where other AD tools
return wrong gradients: values read then overwritten, in-place updates,
data-dependent loops, break, branches on data, scratch arrays.

Each entry: (name, function, factory of fresh arguments). Every float
argument and array is differentiated (plain arguments are Active or
Duplicated), and checked against central finite differences.
"""
from __future__ import annotations

import math

import numpy as np

import golden_gradient_programs as golden

rng = np.random.default_rng(7)


def vec(n=6, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, n)


def pos(n=6):
    return rng.uniform(0.5, 2.0, n)


def g_poly(a, b, c): return a * b * c + a ** 3 - b / c
def g_math(x, y): return math.sin(x) * math.exp(y) + math.log(x * x + 1) + math.atan2(y, x) + math.hypot(x, y)
def g_math2(x): return math.tanh(x) + math.sqrt(x * x + 2) + math.cosh(x) * math.sinh(x) + math.log1p(x * x)
def g_pow(x, y): return x ** y + y ** 2.5


def g_branch(x, y):
    if x > y:
        return math.sin(x) * y
    return math.exp(y) - x


def g_minmax(x, y): return max(x, y) * min(x, y) + abs(x - y)


def g_sumsq(x, w):
    s = 0.0
    for i in range(len(x)):
        s += w * x[i] * x[i]
    return s


def g_read_then_overwrite(x, w):
    for i in range(len(x)):
        x[i] = x[i] * w
    s = 0.0
    for i in range(len(x)):
        s += x[i] * x[i]
    return s


def g_inc_explicit(v, e):
    for i in range(len(v)):
        v[i] = v[i] + e * v[i]
    s = 0.0
    for i in range(len(v)):
        s += v[i] ** 3
    return s


def g_inc_augmented(v, e):
    for i in range(len(v)):
        v[i] += e * v[i]
    s = 0.0
    for i in range(len(v)):
        s += v[i] ** 3
    return s


def g_gauss_seidel(u, h):
    for sweep in range(3):
        for i in range(1, len(u) - 1):
            u[i] = 0.5 * (u[i - 1] + u[i + 1]) + h * math.sin(u[i])
    s = 0.0
    for i in range(len(u)):
        s += u[i] * u[i]
    return s


def g_prod(x):
    p = 1.0
    for i in range(len(x)):
        p *= x[i]
    return p


def g_newton_sqrt(c):
    x = c
    n = 0
    while abs(x * x - c) > 1e-13 and n < 100:
        x = 0.5 * (x + c / x)
        n += 1
    return x


def g_break_on_data(x):
    s = 0.0
    for i in range(len(x)):
        if s > 1.5:
            break
        s += x[i] * x[i]
    return s


def g_continue(x):
    s = 0.0
    for i in range(len(x)):
        if x[i] < 0:
            continue
        s += math.exp(x[i])
    return s


def g_branches_on_data(x):
    s = 0.0
    for i in range(len(x)):
        if x[i] > 0.2:
            s += x[i] ** 2
        elif x[i] < -0.2:
            s -= math.sin(x[i])
        else:
            s += 3 * x[i]
    return s


def g_heat(u, alpha):
    n = u.shape[0]
    tmp = np.zeros(n)
    for t in range(4):
        for i in range(1, n - 1):
            tmp[i] = u[i] + alpha * (u[i - 1] - 2 * u[i] + u[i + 1])
        for i in range(1, n - 1):
            u[i] = tmp[i]
    s = 0.0
    for i in range(n):
        s += u[i] * u[i]
    return s


def g_rk4(y0, k):
    y = y0.copy() if False else y0
    dt = 0.1
    for step in range(5):
        a = y[0]
        b = y[1]
        k1a, k1b = b, -k * a
        k2a, k2b = b + 0.5 * dt * k1b, -k * (a + 0.5 * dt * k1a)
        k3a, k3b = b + 0.5 * dt * k2b, -k * (a + 0.5 * dt * k2a)
        k4a, k4b = b + dt * k3b, -k * (a + dt * k3a)
        y[0] = a + dt / 6 * (k1a + 2 * k2a + 2 * k3a + k4a)
        y[1] = b + dt / 6 * (k1b + 2 * k2b + 2 * k3b + k4b)
    return y[0] * y[0] + y[1]


def g_loops_2d(a, w):
    s = 0.0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            s += math.sin(a[i, j] * w) * (i + 1)
    return s


def g_matmul_loss(a, b):
    c = np.zeros((a.shape[0], b.shape[1]))
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            acc = 0.0
            for k in range(a.shape[1]):
                acc += a[i, k] * b[k, j]
            c[i, j] = acc
    s = 0.0
    for i in range(c.shape[0]):
        for j in range(c.shape[1]):
            s += c[i, j] ** 2
    return s


def g_cumsum_inplace(x):
    for i in range(1, len(x)):
        x[i] += x[i - 1]
    s = 0.0
    for i in range(len(x)):
        s += x[i] * x[i] * (i + 1)
    return s


def g_swap(x):
    n = len(x)
    for i in range(n // 2):
        t = x[i]
        x[i] = x[n - 1 - i]
        x[n - 1 - i] = t
    s = 0.0
    for i in range(n):
        s += x[i] * (i + 1) ** 2
    return s


def g_strided(x):
    s = 0.0
    for i in range(len(x)):
        s += x[i] * x[i] * (i + 1)
    return s


def g_scratch(x):
    tmp = np.empty(len(x))
    for i in range(len(x)):
        tmp[i] = math.exp(x[i])
    s = 0.0
    for i in range(len(x)):
        s += tmp[i] * x[i]
    return s


def g_nested_data_loop(x, n):
    s = 0.0
    for i in range(n):
        for j in range(i):
            s += x[i] * x[j]
    return s


def g_while_data(x):
    i = 0
    s = 0.0
    while i < len(x) and s < 2.0:
        s += x[i] * x[i]
        i += 1
    return s * s


def g_early_return_loop(x):
    for i in range(len(x)):
        if x[i] > 1.5:
            return x[i] * i
    return x[0] * x[1]


def g_integers_as_reals(x, y):
    s = 0
    for i in range(len(x)):
        s += x[i] ** 2 + y
    return s


def g_float32(x):
    s = np.float32(0)
    for i in range(len(x)):
        s += x[i] * x[i]
    return s


def g_select(x, y): return x * 2 if x > y else y * y


def g_ternary_loop(x):
    s = 0.0
    for i in range(len(x)):
        s += x[i] if x[i] > 0 else -2 * x[i]
    return s


def g_dict_model(m, x):
    s = 0.0
    for i in range(len(x)):
        z = m["w"][i] * x[i] + m["b"]
        s += z * z
    return s


def g_tuple_arg(t):
    return t[0] * t[1] * t[1]


def g_fortran(a):
    s = 0.0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            s += a[i, j] * a[i, j] * (i - j)
    return s


def g_view_row(a):
    r = a[1]
    s = 0.0
    for j in range(len(r)):
        s += r[j] * r[j]
    return s + a[0, 0]


def g_nbody(pos_, vel, m):
    n = pos_.shape[0]
    dt = 0.01
    for step in range(2):
        for i in range(n):
            ax = 0.0
            ay = 0.0
            for j in range(n):
                if i != j:
                    dx = pos_[j, 0] - pos_[i, 0]
                    dy = pos_[j, 1] - pos_[i, 1]
                    r2 = dx * dx + dy * dy + 0.01
                    inv = m[j] / (r2 * math.sqrt(r2))
                    ax += dx * inv
                    ay += dy * inv
            vel[i, 0] += dt * ax
            vel[i, 1] += dt * ay
        for i in range(n):
            pos_[i, 0] += dt * vel[i, 0]
            pos_[i, 1] += dt * vel[i, 1]
    e = 0.0
    for i in range(n):
        e += pos_[i, 0] ** 2 + pos_[i, 1] ** 2
    return e


def g_horner(c, x):
    r = 0.0
    for i in range(len(c) - 1, -1, -1):
        r = r * x + c[i]
    return r


def g_logsumexp(x):
    m = x[0]
    for i in range(len(x)):
        m = max(m, x[i])
    s = 0.0
    for i in range(len(x)):
        s += math.exp(x[i] - m)
    return m + math.log(s)


def g_inner_helper(x):
    return helper(x[0], x[1]) + helper(x[1], x[2])


def helper(a, b):
    return a * math.cos(b)


def g_fill_zero(x):
    y = np.zeros(len(x))
    for i in range(len(x)):
        y[i] = x[i] * 2.0
    y[1:3] = 0.0
    s = 0.0
    for i in range(len(y)):
        s += y[i] * y[i]
    return s


def g_nan_passthrough(x): return x * 2.0


def g_packed_triangle(x, lower, w):
    """GMM's packed triangle: an integer induction variable indexes `lower`, and x[i]
    is read, unchanged, by every inner iteration."""
    n = len(x)
    y = np.zeros(n)
    idx = 0
    for i in range(n):
        for j in range(i + 1, n):
            y[j] += lower[idx] * x[i] * w
            idx += 1
        x[i] = math.sin(x[i])
    s = 0.0
    for j in range(n):
        s += y[j] * y[j] + x[j]
    return s


def g_ragged_rows(x, w):
    """Rows of varying length packed end to end: `start` advances by each row's length (not
    a constant) and `end` falls by it, both counted back down in the reverse sweep."""
    total = 0.0
    for rep in range(2):
        start = 0
        end = len(x)
        for r in range(len(w)):
            length = r % 3 + 1
            acc = 0.0
            for j in range(length):
                acc += x[start + j] * w[r] + x[end - 1 - j]
            start += length
            end -= length
            total += math.sin(acc)
        x[0] = x[0] * 0.5
    return total


def g_packed_triangle_steps(x, lower):
    """The packed triangle inside a time loop: its index is counted down from the value the
    loop ended with, which is taped once per step."""
    n = len(x)
    s = 0.0
    for step in range(3):
        y = np.zeros(n)
        idx = 0
        for i in range(n):
            for j in range(i + 1, n):
                y[j] += lower[idx] * x[i]
                idx += 1
        for j in range(n):
            x[j] = math.tanh(x[j] + y[j])
            s += y[j] * y[j]
    return s


def centered_quadratic(write_between: bool, scale_x: bool = False):
    """GMM's inner step: `xc` is filled from x and m, read by a loop, then read by a loop nest
    (which snapshots it) and overwritten for the next component. The reverse sweep refills
    the snapshot from x and m, unless `scale_x` overwrites x (then it is taped). The loop
    before the nest reads the snapshot too, unless `write_between` writes xc in between."""
    def f(x, m, lower):
        k, d = m.shape
        xc = np.zeros(d)
        q = np.zeros(d)
        s = 0.0
        for c in range(k):
            for j in range(d):
                xc[j] = x[j] - m[c, j]
            for j in range(d):
                q[j] = m[c, j] * xc[j]
            if write_between:
                xc[0] = xc[0] * 1.5
            for i in range(d):
                for j in range(i + 1, d):
                    q[j] += lower[c, i] * xc[i] * xc[j]
            for j in range(d):
                s += q[j] * q[j]
            if scale_x:
                x[c % d] = x[c % d] * 0.5
        return s
    return f


g_centered_quadratic = centered_quadratic(False)


def g_running_fill(x, m):
    """xc is filled by a loop that also carries a running sum, then read by a loop nest and
    refilled for the next row: its snapshot is taped (the fill cannot run again on its own)."""
    k, d = m.shape
    xc = np.zeros(d)
    s = 0.0
    for c in range(k):
        acc = 0.0
        for j in range(d):
            acc += m[c, j]
            xc[j] = x[j] - acc
        for i in range(d):
            for j in range(d):
                s += xc[i] * xc[j] * m[c, i]
    return s


def g_counter_in_branch(x, w):
    """A counter stepped by a backwards inner loop's trip count, in a loop with step -2 inside a
    branch: counted back down in the reverse sweep whatever the loops' directions."""
    n = len(x)
    s = 0.0
    for rep in range(3):
        if rep != 1:
            pos = rep
            for i in range(n - 1, -1, -2):
                for j in range(n, i, -1):
                    s += x[(pos + j) % n] * w[i % len(w)]
                    pos += 1
                s += math.cos(s * 0.01)
        x[rep] = math.sin(x[rep])
    return s


CASES = [
    ("counter_in_branch", g_counter_in_branch, lambda: (vec(5), vec(3))),
    ("running_fill", g_running_fill, lambda: (vec(4), vec(12).reshape(3, 4))),
    ("ragged_rows", g_ragged_rows, lambda: (vec(9), vec(4))),
    ("packed_triangle_steps", g_packed_triangle_steps, lambda: (vec(4), vec(6))),
    ("centered_quadratic", g_centered_quadratic, lambda: (vec(4), vec(12).reshape(3, 4), vec(12).reshape(3, 4))),
    ("centered_quadratic_write_between", centered_quadratic(True),
     lambda: (vec(4), vec(12).reshape(3, 4), vec(12).reshape(3, 4))),
    ("centered_quadratic_taped", centered_quadratic(False, scale_x=True),
     lambda: (vec(4), vec(12).reshape(3, 4), vec(12).reshape(3, 4))),
    ("pair_forces", golden.pair_forces, lambda: (vec(5), 0.3)),
    ("packed_triangle", g_packed_triangle, lambda: (vec(5), vec(10), 0.7)),
    ("poly", g_poly, lambda: (1.3, -0.7, 2.1)),
    ("math", g_math, lambda: (0.8, 0.3)),
    ("math2", g_math2, lambda: (0.4,)),
    ("pow", g_pow, lambda: (1.7, 2.2)),
    ("branch_then", g_branch, lambda: (1.0, 0.5)),
    ("branch_else", g_branch, lambda: (0.2, 0.5)),
    ("minmax", g_minmax, lambda: (0.3, 1.2)),
    ("sumsq", g_sumsq, lambda: (vec(), 1.5)),
    ("read_then_overwrite", g_read_then_overwrite, lambda: (vec(), 1.3)),
    ("inc_explicit", g_inc_explicit, lambda: (vec(), 0.4)),
    ("inc_augmented", g_inc_augmented, lambda: (vec(), 0.4)),
    ("gauss_seidel", g_gauss_seidel, lambda: (vec(8), 0.3)),
    ("prod", g_prod, lambda: (vec(),)),
    ("newton_sqrt", g_newton_sqrt, lambda: (2.5,)),
    ("break_on_data", g_break_on_data, lambda: (vec(8, 0.2, 0.9),)),
    ("continue", g_continue, lambda: (vec(),)),
    ("branches_on_data", g_branches_on_data, lambda: (np.array([0.5, -0.5, 0.1, 0.9, -0.9, 0.0]),)),
    ("heat", g_heat, lambda: (vec(10), 0.2)),
    ("rk4", g_rk4, lambda: (np.array([1.0, 0.5]), 1.3)),
    ("loops_2d", g_loops_2d, lambda: (rng.uniform(-1, 1, (3, 4)), 0.7)),
    ("matmul_loss", g_matmul_loss, lambda: (rng.uniform(-1, 1, (2, 3)), rng.uniform(-1, 1, (3, 2)))),
    ("cumsum_inplace", g_cumsum_inplace, lambda: (vec(),)),
    ("swap", g_swap, lambda: (vec(7),)),
    ("strided", g_strided, lambda: (vec(12)[::3],)),
    ("reversed", g_strided, lambda: (vec(5)[::-1],)),
    ("scratch", g_scratch, lambda: (vec(),)),
    ("nested_data_loop", g_nested_data_loop, lambda: (vec(), 5)),
    ("while_data", g_while_data, lambda: (vec(8, 0.3, 0.8),)),
    ("early_return_loop", g_early_return_loop, lambda: (np.array([0.5, 1.0, 1.8, 0.2]),)),
    ("early_return_loop_none", g_early_return_loop, lambda: (np.array([0.5, 1.0, 0.8, 0.2]),)),
    ("select", g_select, lambda: (1.5, 0.5)),
    ("select_else", g_select, lambda: (0.2, 0.5)),
    ("ternary_loop", g_ternary_loop, lambda: (vec(),)),
    ("dict_model", g_dict_model, lambda: ({"w": vec(4), "b": 0.3}, vec(4))),
    ("tuple_arg", g_tuple_arg, lambda: ((1.5, -2.0),)),
    ("fortran", g_fortran, lambda: (np.asfortranarray(rng.uniform(-1, 1, (3, 4))),)),
    ("view_row", g_view_row, lambda: (rng.uniform(-1, 1, (3, 4)),)),
    ("nbody", g_nbody, lambda: (rng.uniform(-1, 1, (4, 2)), rng.uniform(-0.1, 0.1, (4, 2)), pos(4))),
    ("horner", g_horner, lambda: (vec(5), 0.7)),
    ("logsumexp", g_logsumexp, lambda: (vec(),)),
    ("inner_helper", g_inner_helper, lambda: (vec(3),)),
    ("fill_zero", g_fill_zero, lambda: (vec(),)),
]
