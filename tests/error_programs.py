"""Programs irad must reject, each with one construct at a known line."""
import numpy as np


def e_try(x):
    try:
        return x
    except ValueError:
        return 0.0


def e_with(x):
    with open("f") as fh:
        return x


def e_list(x):
    ys = [x, x]
    return ys


def e_set(x):
    return {x, 1.0}


def e_comprehension(x):
    return sum([v for v in range(3)])


def e_generator(x):
    yield x


def e_recursion(n):
    if n <= 0:
        return 0
    return e_recursion(n - 1) + 1


def e_undefined(x):
    return x + undefined_thing  # noqa: F821


def e_unknown_call(x):
    return np.random.rand() + x


def e_string_arith(x):
    return x + "s"


def e_attribute(x, obj):
    return x + obj.weight


def e_global(x):
    global SOMETHING
    SOMETHING = x
    return x


def outer_for_nonlocal():
    v = 1.0

    def e_nonlocal(x):
        nonlocal v
        v = x
        return x
    return e_nonlocal


e_nonlocal = outer_for_nonlocal()


def e_type_change(x, flag):
    y = 1.0
    if flag:
        y = "text"
    return y + x


def e_float_index(x):
    return x[1.5]


def e_loop_only_name(x):
    for i in range(3):
        t = x * i
    return t
