"""The tracer's differential suite: small programs covering the supported
Python subset, each with a factory of fresh arguments.

Every program runs in CPython and compiled (interpreter and native); the
results and the arguments after the call must agree. Keep each program
small and aimed at one feature.
"""
from __future__ import annotations

import math
from collections import namedtuple
from dataclasses import dataclass

import numpy as np

rng = np.random.default_rng(0)
Point = namedtuple("Point", "x y")


@dataclass
class Model:
    w: np.ndarray
    b: float


SCALE = 3.0
TABLE = np.array([1.0, 2.0, 4.0, 8.0])
COUNTS = np.zeros(3)


def vec(n=7, dtype=np.float64):
    return rng.standard_normal(n).astype(dtype)


def mat(n=4, m=5):
    return rng.standard_normal((n, m))


# ---- scalars and arithmetic ----
def p_add(a, b): return a + b
def p_arith_mix(a, n): return a * n - n / 2 + a ** 2
def p_int_arith(a, b): return a * b + a - b, a // b, a % b
def p_floor_neg(a, b): return a // b, a % b, -a // b, -a % b
def p_float_floor(x, y): return x // y, x % y, (-x) // y, (-x) % y
def p_true_div_ints(a, b): return a / b
def p_pow_int(a): return a ** 3, a ** 0, 2 ** a
def p_pow_float(x, y): return x ** y, x ** 0.5, x ** 2
def p_unary(a, b): return -a, +b, not a, ~b
def p_bool_arith(p, q): return p + q, p and q, p or q, not p
def p_bitwise(a, b): return a & b, a | b, a ^ b
def p_compare_chain(a, b, c): return a < b < c, a <= b >= c, a == b != c


def p_short_circuit(x, i):
    return i < len(x) and x[i] > 0


def p_or_value(a, b): return (a or b) + 1.0


def p_ternary(a): return a * 2 if a > 0 else -a


def p_mixed_promotion(i, f): return i + f, i * 1.5, f / i


def p_numpy_scalars(x, y): return x * 2.0 + y, x * y


# ---- builtins and math ----
def p_builtins(a, b, c): return min(a, b), max(a, b, c), abs(a - b), min((a, b, c))
def p_conversions(x, n): return float(n), int(x), bool(x), int(-x), bool(0.0)
def p_math(x): return math.sin(x) + math.cos(x) * math.tan(x) + math.exp(x) - math.log(x + 5)
def p_math2(x, y): return math.atan2(y, x), math.hypot(x, y), math.sqrt(x * x), math.pow(x, 2.0)
def p_math_misc(x): return math.floor(x), math.ceil(x), math.fabs(x), math.tanh(x), math.log1p(abs(x))
def p_math_consts(x): return x * math.pi + math.e
def p_numpy_math(x): return np.sin(x) + np.exp(x) * np.arctan(x) - np.sqrt(x * x)
def p_isnan(x): return math.isnan(x), math.isinf(x), math.isfinite(x)


# ---- control flow ----
def p_if_elif(x):
    if x < -1:
        y = -1.0
    elif x < 1:
        y = x
    else:
        y = 1.0
    return y


def p_if_promote(x, flag):
    y = 0
    if flag:
        y = x
    return y


def p_for_sum(x):
    s = 0.0
    for i in range(len(x)):
        s += x[i]
    return s


def p_for_int_to_float(x):
    s = 0
    for i in range(x.shape[0]):
        s = s + x[i]
    return s


def p_range_forms(n):
    a = 0
    for i in range(n):
        a += i
    for i in range(2, n):
        a += 10 * i
    for i in range(n, 0, -1):
        a += 100 * i
    for i in range(n - 1, -1, -2):
        a += 1000 * i
    return a


def p_range_runtime_step(a, b, s):
    total = 0
    for i in range(a, b, s):
        total = (total * 3 + i) % 1000003
    return total


def p_nested_loops(a):
    s = 0.0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            s += a[i, j] * (i + 1) - j
    return s


def p_while_newton(c):
    x = c
    n = 0
    while abs(x * x - c) > 1e-12 and n < 100:
        x = 0.5 * (x + c / x)
        n += 1
    return x, n


def p_break(x, t):
    found = -1
    for i in range(len(x)):
        if x[i] > t:
            found = i
            break
    return found


def p_continue(x):
    s = 0.0
    for i in range(len(x)):
        if x[i] < 0:
            continue
        s += x[i]
    return s


def p_while_break_continue(n):
    i, s = 0, 0
    while True:
        i += 1
        if i % 3 == 0:
            continue
        if i > n:
            break
        s += i
    return s


def p_early_return(x):
    if x < 0:
        return -1.0
    if x == 0:
        return 0.0
    return math.sqrt(x)


def p_return_in_loop(x, t):
    for i in range(len(x)):
        for j in range(i):
            if x[i] + x[j] > t:
                return i * 100 + j
    return -1


def p_return_in_while(n):
    k = 0
    while k < n:
        if k * k > n:
            return k
        k += 1
    return -k


def p_unrolled(x):
    s = 0.0
    for w in (1.0, 2.0, 3.0):
        s += w * x
    return s


def p_unrolled_break(x):
    s = 0.0
    for w in (1.0, -2.0, 3.0):
        if s + w * x < 0:
            break
        s += w * x
    return s


def p_swap(a, b):
    a, b = b, a
    return a - b


def p_collatz(n):
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


# ---- arrays ----
def p_index_negative(x): return x[-1] + x[-2] * 10


def p_index_runtime_negative(x, i): return x[i] * 2


def p_store(x, v):
    x[0] = v
    x[-1] += v
    return x[0]


def p_store_2d(a):
    for i in range(a.shape[0]):
        a[i, i] += 1.0
        a[i, -1] = i
    return a.shape[0] * a.shape[1], a.ndim, a.size


def p_f32(x):
    s = np.float32(0)
    for i in range(len(x)):
        s += x[i] * 2.0
    return s


def p_int_array(a):
    s = 0
    for i in range(len(a)):
        s += a[i] * a[i]
    a[0] = s
    return s


def p_bool_array(m, x):
    s = 0.0
    for i in range(len(m)):
        if m[i]:
            s += x[i]
    return s


def p_3d(a):
    s = 0.0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            for k in range(a.shape[2]):
                s += a[i, j, k] * (i - j + k)
    return s


def p_row_view(a):
    r = a[1]
    r[0] = 42.0
    return r[2] + a[1, 2]


def p_slices(x):
    y = x[1:-1]
    z = x[::-2]
    return y[0] + y[-1] + z[0] + z[1] + len(y) + len(z)


def p_slice_assign(x):
    x[2:5] = 0.0
    x[:2] = x[-2:]
    return x[0]


def p_zeros(n):
    a = np.zeros(n)
    b = np.ones((n, 2))
    c = np.full(n, 2.5)
    d = np.zeros(n, dtype=np.int64)
    for i in range(n):
        a[i] = i * b[i, 1] + c[i] + d[i]
    return a


def p_like(x):
    y = np.zeros_like(x)
    z = np.ones_like(x)
    e = np.empty_like(x)
    f = np.full_like(x, 3.0)
    for i in range(len(x)):
        e[i] = 1.0
        y[i] = x[i] + z[i] + e[i] + f[i]
    return y


def p_empty_fill(n):
    a = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            a[i, j] = i - j
    return a


def p_heat(u, steps, alpha):
    n = u.shape[0]
    tmp = np.zeros(n)
    for t in range(steps):
        for i in range(1, n - 1):
            tmp[i] = u[i] + alpha * (u[i - 1] - 2 * u[i] + u[i + 1])
        for i in range(1, n - 1):
            u[i] = tmp[i]
    return u


def p_gauss_seidel(u, sweeps):
    for s in range(sweeps):
        for i in range(1, len(u) - 1):
            u[i] = 0.5 * (u[i - 1] + u[i + 1])
    return u[len(u) // 2]


def p_matmul(a, b, c):
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            acc = 0.0
            for k in range(a.shape[1]):
                acc += a[i, k] * b[k, j]
            c[i, j] = acc


def p_cumsum_inplace(x):
    for i in range(1, len(x)):
        x[i] += x[i - 1]


def p_prod(x):
    p = 1.0
    for i in range(len(x)):
        p *= x[i]
    return p


def p_shape_unpack(a):
    n, m = a.shape
    return n * 10 + m


def p_strided_input(x):
    s = 0.0
    for i in range(len(x)):
        s += x[i] * i
    x[0] = s
    return s


# ---- structures ----
def p_tuple_arg(t): return t[0] * t[1] + len(t)
def p_dict_arg(d): return d["a"] * d["b"][0]
def p_namedtuple_arg(p): return p.x * 2 + p.y
def p_dataclass_arg(m): return m.w[0] * m.b + len(m.w)
def p_list_arg(xs): return xs[0] + xs[1][1]
def p_nested_struct(s): return s["p"].x + s["t"][1]["q"]


def p_static_string(x, mode):
    if mode == "double":
        return x * 2
    return x


def p_none_arg(x, opt):
    if opt is None:
        return x
    return x + opt


def p_static_function(x, fn): return fn(x) + 1


def p_return_tuple(x): return x, x * 2, (x + 1, -x)
def p_return_dict(x): return {"value": x * 2, "square": x * x}
def p_return_namedtuple(x, y): return Point(x + y, x - y)
def p_return_array_and_scalar(n):
    a = np.ones(n)
    return a, n * 2


# ---- calls, globals, closures ----
def helper_square(v): return v * v
def helper_with_default(v, k=2.0): return v * k
def helper_early(v):
    if v > 0:
        return v
    return -v


def p_calls(x): return helper_square(x) + helper_with_default(x) + helper_with_default(x, 3.0) + helper_early(-x)


def p_call_mutates(a):
    p_cumsum_inplace(a)
    return a[-1]


def p_globals(x): return x * SCALE + TABLE[2]


def p_global_mutation(i):
    COUNTS[i] += 1.0
    return COUNTS[i]


def make_closure(k, arr):
    def inner(x):
        return x * k + arr[0]
    return inner


p_closure = make_closure(4.0, np.array([0.5, 1.5]))


def p_int_overflow_free(a, b):
    return (a * 1000003 + b) % 65536


def p_float32_scalar_mix(x, y):
    return x + y, x * 2


def p_abs_int_float(a, x): return abs(a) + abs(x)


def p_len_tuple(t): return len(t) * 2


def p_tuple_runtime_index(x, i):
    t = (1.0, 2.0, x)
    return t[i]


def p_augassign_index_once(x, idx):
    x[idx[0]] += 1.0
    return x


def p_packed_triangle(a, m):
    """A carried index from a non-negative start that only grows (GMM's packed icf)."""
    n = m.shape[0]
    idx = n
    for i in range(n):
        for j in range(i + 1, n):
            m[j, i] = a[idx]
            idx += 1
    return idx


def p_carried_index_falls_below_zero(a):
    idx = 2
    s = 0.0
    for i in range(a.shape[0]):
        s = s * 2.0 + a[idx]         # 2, 1, 0, -1, ...: the negative ones wrap
        idx -= 1
    return s, idx


def p_carried_index_reset_on_a_branch(a):
    idx = 0
    s = 0.0
    for i in range(a.shape[0]):
        s += a[idx] * (i + 1)
        if a[i] > 0.3:
            idx = idx + 1
        else:
            idx = -1
    return s


def args_list():
    """(name, function, zero-argument factory of fresh arguments)."""
    F = lambda: None  # noqa: E731
    cases = [
        ("add_floats", p_add, lambda: (1.5, 2.25)),
        ("add_ints", p_add, lambda: (3, -7)),
        ("add_bools", p_add, lambda: (True, True)),
        ("arith_mix", p_arith_mix, lambda: (2.5, 3)),
        ("int_arith", p_int_arith, lambda: (17, 5)),
        ("floor_neg", p_floor_neg, lambda: (7, 3)),
        ("floor_neg_div_neg", p_floor_neg, lambda: (7, -3)),
        ("float_floor", p_float_floor, lambda: (7.5, 2.0)),
        ("float_floor_neg", p_float_floor, lambda: (7.5, -2.0)),
        ("true_div_ints", p_true_div_ints, lambda: (7, 2)),
        ("pow_int", p_pow_int, lambda: (5,)),
        ("pow_float", p_pow_float, lambda: (2.5, 1.7)),
        ("unary", p_unary, lambda: (3, 5)),
        ("bool_arith", p_bool_arith, lambda: (True, False)),
        ("bitwise", p_bitwise, lambda: (12, 10)),
        ("bitwise_bools", p_bitwise, lambda: (True, False)),
        ("compare_chain", p_compare_chain, lambda: (1, 2, 3)),
        ("compare_chain_false", p_compare_chain, lambda: (3.0, 2.0, 2.0)),
        ("short_circuit_in", p_short_circuit, lambda: (vec(4), 2)),
        ("short_circuit_out", p_short_circuit, lambda: (vec(4), 9)),
        ("or_value", p_or_value, lambda: (0.0, 2.5)),
        ("or_value_first", p_or_value, lambda: (1.5, 2.5)),
        ("ternary_pos", p_ternary, lambda: (2.0,)),
        ("ternary_neg", p_ternary, lambda: (-3.0,)),
        ("mixed_promotion", p_mixed_promotion, lambda: (3, 1.25)),
        ("numpy_scalars_f32", p_numpy_scalars, lambda: (np.float32(1.5), 2.0)),
        ("numpy_scalars_i32_f64", p_numpy_scalars, lambda: (np.int32(3), np.float64(0.5))),
        ("builtins", p_builtins, lambda: (3.0, -1.5, 2)),
        ("conversions", p_conversions, lambda: (2.7, 5)),
        ("math", p_math, lambda: (0.7,)),
        ("math2", p_math2, lambda: (0.6, -1.2)),
        ("math_misc", p_math_misc, lambda: (-2.5,)),
        ("math_consts", p_math_consts, lambda: (2.0,)),
        ("numpy_math", p_numpy_math, lambda: (0.3,)),
        ("isnan", p_isnan, lambda: (float("nan"),)),
        ("isinf", p_isnan, lambda: (float("-inf"),)),
        ("if_elif_low", p_if_elif, lambda: (-3.0,)),
        ("if_elif_mid", p_if_elif, lambda: (0.5,)),
        ("if_elif_high", p_if_elif, lambda: (4.0,)),
        ("if_promote_true", p_if_promote, lambda: (2.5, True)),
        ("if_promote_false", p_if_promote, lambda: (2.5, False)),
        ("for_sum", p_for_sum, lambda: (vec(),)),
        ("for_int_to_float", p_for_int_to_float, lambda: (vec(),)),
        ("range_forms", p_range_forms, lambda: (6,)),
        ("range_forms_zero", p_range_forms, lambda: (0,)),
        ("range_runtime_step_pos", p_range_runtime_step, lambda: (1, 20, 3)),
        ("range_runtime_step_neg", p_range_runtime_step, lambda: (20, 1, -4)),
        ("range_runtime_step_empty", p_range_runtime_step, lambda: (20, 1, 4)),
        ("nested_loops", p_nested_loops, lambda: (mat(),)),
        ("while_newton", p_while_newton, lambda: (2.0,)),
        ("break_found", p_break, lambda: (np.arange(10.0), 4.5)),
        ("break_not_found", p_break, lambda: (np.arange(10.0), 40.0)),
        ("continue", p_continue, lambda: (vec(),)),
        ("while_break_continue", p_while_break_continue, lambda: (10,)),
        ("early_return_neg", p_early_return, lambda: (-2.0,)),
        ("early_return_zero", p_early_return, lambda: (0.0,)),
        ("early_return_pos", p_early_return, lambda: (9.0,)),
        ("return_in_loop", p_return_in_loop, lambda: (np.arange(6.0), 6.5)),
        ("return_in_loop_none", p_return_in_loop, lambda: (np.arange(6.0), 100.0)),
        ("return_in_while", p_return_in_while, lambda: (10,)),
        ("return_in_while_after", p_return_in_while, lambda: (0,)),
        ("unrolled", p_unrolled, lambda: (1.5,)),
        ("unrolled_break", p_unrolled_break, lambda: (1.0,)),
        ("swap", p_swap, lambda: (1.0, 4.0)),
        ("collatz", p_collatz, lambda: (27,)),
        ("index_negative", p_index_negative, lambda: (vec(),)),
        ("index_runtime_negative", p_index_runtime_negative, lambda: (vec(), -3)),
        ("index_runtime_positive", p_index_runtime_negative, lambda: (vec(), 2)),
        ("store", p_store, lambda: (vec(), 2.5)),
        ("store_int_value", p_store, lambda: (vec(), 2)),
        ("store_2d", p_store_2d, lambda: (mat(),)),
        ("f32", p_f32, lambda: (vec(5, np.float32),)),
        ("int_array", p_int_array, lambda: (np.arange(5, dtype=np.int64),)),
        ("int32_array", p_int_array, lambda: (np.arange(5, dtype=np.int32),)),
        ("bool_array", p_bool_array, lambda: (np.array([True, False, True]), vec(3))),
        ("3d", p_3d, lambda: (rng.standard_normal((2, 3, 4)),)),
        ("row_view", p_row_view, lambda: (mat(),)),
        ("slices", p_slices, lambda: (vec(9),)),
        ("slice_assign", p_slice_assign, lambda: (vec(8),)),
        ("zeros", p_zeros, lambda: (4,)),
        ("like", p_like, lambda: (vec(5),)),
        ("empty_fill", p_empty_fill, lambda: (3,)),
        ("heat", p_heat, lambda: (vec(12), 5, 0.2)),
        ("gauss_seidel", p_gauss_seidel, lambda: (vec(9), 3)),
        ("matmul", p_matmul, lambda: (mat(3, 4), mat(4, 2), np.zeros((3, 2)))),
        ("matmul_fortran", p_matmul, lambda: (np.asfortranarray(mat(3, 4)), mat(4, 2), np.zeros((3, 2)))),
        ("cumsum_inplace", p_cumsum_inplace, lambda: (vec(),)),
        ("prod", p_prod, lambda: (vec(),)),
        ("shape_unpack", p_shape_unpack, lambda: (mat(3, 7),)),
        ("strided_input", p_strided_input, lambda: (vec(20)[::3],)),
        ("reversed_input", p_strided_input, lambda: (vec(6)[::-1],)),
        ("column_input", p_strided_input, lambda: (mat(5, 3)[:, 1],)),
        ("tuple_arg", p_tuple_arg, lambda: ((2.0, 3),)),
        ("dict_arg", p_dict_arg, lambda: ({"a": 2.0, "b": vec(3)},)),
        ("namedtuple_arg", p_namedtuple_arg, lambda: (Point(1.5, 2.5),)),
        ("dataclass_arg", p_dataclass_arg, lambda: (Model(vec(3), 2.0),)),
        ("list_arg", p_list_arg, lambda: ([1.0, vec(2)],)),
        ("nested_struct", p_nested_struct, lambda: ({"p": Point(1.0, 2.0), "t": (0, {"q": 3.5})},)),
        ("static_string_double", p_static_string, lambda: (2.0, "double")),
        ("static_string_other", p_static_string, lambda: (2.0, "keep")),
        ("none_arg", p_none_arg, lambda: (2.0, None)),
        ("none_arg_given", p_none_arg, lambda: (2.0, 1.0)),
        ("static_function", p_static_function, lambda: (3.0, helper_square)),
        ("return_tuple", p_return_tuple, lambda: (1.5,)),
        ("return_dict", p_return_dict, lambda: (1.5,)),
        ("return_namedtuple", p_return_namedtuple, lambda: (1.5, 0.5)),
        ("return_array_and_scalar", p_return_array_and_scalar, lambda: (3,)),
        ("calls", p_calls, lambda: (1.5,)),
        ("call_mutates", p_call_mutates, lambda: (vec(),)),
        ("globals", p_globals, lambda: (2.0,)),
        ("closure", p_closure, lambda: (2.0,)),
        ("int_overflow_free", p_int_overflow_free, lambda: (123456, 789)),
        ("float32_scalar_mix", p_float32_scalar_mix, lambda: (np.float32(1.25), 2.5)),
        ("abs_int_float", p_abs_int_float, lambda: (-3, -2.5)),
        ("len_tuple", p_len_tuple, lambda: ((1, 2, 3),)),
        ("tuple_runtime_index", p_tuple_runtime_index, lambda: (5.0, 2)),
        ("tuple_runtime_index_neg", p_tuple_runtime_index, lambda: (5.0, -3)),
        ("augassign_index_once", p_augassign_index_once, lambda: (vec(4), (2,))),
        ("packed_triangle", p_packed_triangle, lambda: (vec(10), np.zeros((4, 4)))),
        ("carried_index_falls_below_zero", p_carried_index_falls_below_zero, lambda: (vec(5),)),
        ("carried_index_reset_on_a_branch", p_carried_index_reset_on_a_branch, lambda: (vec(9),)),
        ("lambda_one", (lambda x: x * 3.0 + 1.0), lambda: (2.0,)),
        ("lambda_two_on_a_line_first", LAMBDAS[0], lambda: (2.0,)),
        ("lambda_two_on_a_line_second", LAMBDAS[1], lambda: (2.0,)),
    ]
    del F
    return cases


LAMBDAS = (lambda x: x + 100.0, lambda x: x * -1.0)
