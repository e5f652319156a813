"""Random straight-line NumPy programs with names, in-place updates, element writes,
views and helper calls: native and interpreted irad agree with NumPy on the results and
on every mutated argument, and their gradients with finite differences and each other
(names bound to expressions stay lazy, tracer/arrays.py)."""
from __future__ import annotations

import importlib.util
import random

import numpy as np
import pytest

import irad

EXPRS = ["{a} + {b}", "{a} * {b} - 0.5", "np.sin({a}) + {b}", "np.exp(0.1 * {a}) * {b}", "2.0 * {a}",
         "np.maximum({a}, {b})", "helper({a}, {b})", "{a}[::-1] + {b}"]
WRITES = ["{v}[{i}] = {c}", "{v} += {a}", "{v} *= 0.5", "{v}[1:] = {a}[:-1]", "{v}[::2] = {c}",
          "w = {v}[1:]\n    w[0] = {c}", "bump({v})"]


def program(seed: int) -> str:
    rng = random.Random(seed)
    names, lines = ["x", "y"], []
    for k in range(rng.randint(3, 8)):
        a, b = rng.choice(names), rng.choice(names)
        if rng.random() < 0.6 or len(names) == 2:
            name = f"t{k}"
            lines.append(f"{name} = " + rng.choice(EXPRS).format(a=a, b=b))
            names.append(name)
        else:
            lines.append(rng.choice(WRITES).format(v=rng.choice(names), a=a, i=rng.randint(0, 4),
                                                   c=round(rng.uniform(-2, 2), 2)))
    result = " + ".join(f"np.sum({n} * {k + 1}.0)" for k, n in enumerate(names))
    body = "\n    ".join(lines)
    return (f"def f(x, y):\n    {body}\n    return {result}, {names[-1]}\n\n\n"
            "def loss(x, y):\n    return f(x, y)[0]\n")


PRELUDE = """import numpy as np


def helper(a, b):
    c = a * b
    return c + np.cos(a)


def bump(a):
    a[0] += 1.0


"""


def load(tmp_path, seed):
    path = tmp_path / f"prog{seed}.py"
    path.write_text(PRELUDE + program(seed))
    spec = importlib.util.spec_from_file_location(f"prog{seed}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("seed", range(60))
def test_random_programs_with_names_match_numpy(tmp_path, seed):
    f = load(tmp_path, seed).f
    rng = np.random.default_rng(seed)
    x0, y0 = rng.standard_normal(6), rng.standard_normal(6)
    xe, ye = x0.copy(), y0.copy()
    expected = f(xe, ye)
    for target in ("cpu", "interpreter"):
        x, y = x0.copy(), y0.copy()
        got = irad.jit(f, target=target)(x, y)
        np.testing.assert_allclose(got[0], expected[0], rtol=1e-12, err_msg=f"{target}\n{program(seed)}")
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-12, err_msg=f"{target}\n{program(seed)}")
        np.testing.assert_array_equal(x, xe, err_msg=f"{target}\n{program(seed)}")
        np.testing.assert_array_equal(y, ye, err_msg=f"{target}\n{program(seed)}")


@pytest.mark.parametrize("seed", range(0, 60, 3))
def test_gradients_of_random_programs_with_names(tmp_path, seed):
    loss = load(tmp_path, seed).loss
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal(6), rng.standard_normal(6)
    irad.check_gradient(loss, x, y, rtol=1e-5, atol=1e-6)
    native = irad.gradient(loss, x.copy(), y.copy())
    interp = irad.gradient(loss, irad.AutoInterpreter(), x.copy(), y.copy())
    for a, b in zip(native, interp):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=program(seed))
