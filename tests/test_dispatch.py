"""The JIT's native dispatcher (irad/api.py, runtime/cpython.py): after a
specialization is compiled, calls go to a native builtin that takes exactly
the arguments with that specialization's signature key and hands anything
else to the Python dispatch. These tests call every function at least twice
so that the second call goes through the dispatcher."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import irad


def scale_sum(a, s):
    t = 0.0
    for i in range(a.shape[0]):
        t += a[i] * s
    return t


def first(a):
    return a[0]


def count(n):
    return n + 1


def flag(b):
    return not b


def write(a, v):
    a[0] = v
    return a.shape[0]


def pair(a, s):
    return a[0] * s, a.shape[0]


def at(a, i):
    return a[i]


def native_dispatch(jf) -> bool:
    return type(type(jf).__call__).__name__ == "builtin_function_or_method"


def twice(jf, *args):
    """The first (compiling) and the second (dispatched) result."""
    return jf(*args), jf(*args)


@pytest.mark.parametrize("fn,args", [
    (scale_sum, (np.arange(4.0), 2.0)),
    (scale_sum, (np.arange(4.0), np.float64(2.0))),
    (scale_sum, (np.arange(4.0), 3)),
    (scale_sum, (np.arange(4, dtype=np.float32), np.float32(0.5))),
    (scale_sum, (np.arange(4), 2)),
    (scale_sum, (np.arange(8.0)[::2], 2.0)),
    (first, (np.array([7], dtype=np.int32),)),
    (first, (np.array([True]),)),
    (count, (4,)),
    (count, (np.int64(4),)),
    (count, (np.int32(4),)),
    (flag, (True,)),
    (flag, (np.False_,)),
    (pair, (np.arange(3.0), 2.0)),
])
def test_dispatched_calls_return_what_the_interpreter_returns(fn, args):
    jf = irad.jit(fn)
    want = irad.jit(fn, target="interpreter")(*args)
    for got in twice(jf, *args):
        assert got == want and type(got) is type(want)
        if isinstance(want, tuple):
            assert [type(g) for g in got] == [type(w) for w in want]
    assert native_dispatch(jf) and len(jf.signatures) == 1


def test_each_signature_key_gets_its_own_specialization():
    jf = irad.jit(scale_sum)
    x = np.arange(6.0)
    calls = [(x, 2.0), (x, np.float64(2.0)), (x[::2], 2.0), (x.astype(np.float32), 2.0), (x, 2)]
    for _ in range(2):
        for args in calls:
            got, want = jf(*args), scale_sum(*args)
            assert got == want and type(got) is type(irad.jit(scale_sum, target="interpreter")(*args))
    assert len(jf.signatures) == len(calls)


def test_unsupported_arguments_raise_the_same_typing_errors():
    def message(args, warm):
        jf = irad.jit(first)
        if warm:
            jf(np.ones(3))
            jf(np.ones(3))
        with pytest.raises(irad.TypingError) as info:
            jf(*args)
        return str(info.value)
    for args in [(np.ones(3, dtype=">f8"),), (np.ones(3, dtype=complex),)]:
        assert message(args, warm=True) == message(args, warm=False)


def test_arguments_the_wrapper_refuses_take_the_python_paths():
    jf = irad.jit(write)
    x = np.zeros(3)
    assert twice(jf, x, 5.0) == (3, 3) and x[0] == 5.0          # mutation is visible
    sub = np.zeros(4).view(type("Sub", (np.ndarray,), {}))
    assert jf(sub, 2.0) == 4 and sub[0] == 2.0
    frozen = np.zeros(3)
    frozen.flags.writeable = False
    with pytest.raises(irad.IradError, match="read-only"):
        jf(frozen, 1.0)
    with pytest.raises(irad.TypingError, match="takes 2 arguments, got 3"):
        jf(x, 1.0, 2.0)
    assert jf(x, 7.0) == 3 and x[0] == 7.0


def test_errors_raised_by_native_code_pass_through_the_dispatcher():
    jf = irad.jit(at)
    x = np.arange(3.0)
    assert twice(jf, x, 2) == (2.0, 2.0)
    with pytest.raises(irad.runtime.BoundsError) as dispatched:
        jf(x, 5)
    with pytest.raises(irad.runtime.BoundsError) as fresh:
        irad.jit(at)(x, 5)
    assert str(dispatched.value) == str(fresh.value)


def test_a_python_int_too_large_for_i64_is_refused_as_before():
    jf = irad.jit(count)
    assert twice(jf, 1) == (2, 2)
    with pytest.raises(Exception) as dispatched:
        jf(2 ** 70)
    with pytest.raises(Exception) as fresh:
        irad.jit(count)(2 ** 70)
    assert type(dispatched.value) is type(fresh.value) and str(dispatched.value) == str(fresh.value)


def test_dispatched_calls_run_on_many_threads():
    jf = irad.jit(scale_sum)
    x = np.arange(1000.0)
    want = scale_sum(x, 0.5)
    jf(x, 0.5)
    results, errors = [], []

    def work():
        try:
            results.extend(jf(x, 0.5) for _ in range(200))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [want] * 800 and len(jf.signatures) == 1
