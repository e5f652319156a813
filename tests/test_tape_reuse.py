"""Buffers kept across calls (runtime/slots.py): tapes and scratch arrays are reused by the
next call, results never change because of it, and Python-owned memory is never recycled.

Reuse is observed through the module's cache functions (`irad_cache_hits`: takes that found
a parked buffer; `irad_release_caches`: frees the parked buffers and returns their bytes),
exported here by relinking the compiled object code."""
from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest

import irad
from irad.autodiff import tape_bytes
from irad.runtime import slots
from irad.runtime.jit import load_compiled
from irad.runtime.tapes import _Header


def loop_loss(x, n):
    s = 0.0
    for _ in range(n):
        for i in range(x.shape[0]):
            s = s * 0.5 + np.sin(x[i] * s + x[i])
    return s


def scratch_loss(x):
    t = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        t[i] = x[i] * x[i] + 1.0
    s = 0.0
    for i in range(x.shape[0]):
        s += np.sqrt(t[x.shape[0] - 1 - i]) * x[i]
    return s


def fresh_array(x):
    y = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        y[i] = x[i] + 1.0
    return y


class Cached:
    """A compiled function relinked with its cache functions exported."""

    def __init__(self, compiled):
        sig = compiled.signature
        wanted = dict.fromkeys((*sig.symbols, slots.RELEASE_SYMBOL, slots.HITS_SYMBOL))
        sig = dataclasses.replace(sig, symbols=tuple(wanted))
        self.fn = load_compiled(sig, compiled.object_code, cold_code=compiled.cold_object_code())
        self.release_address = self.fn._tracker[slots.RELEASE_SYMBOL]
        self.hits_address = self.fn._tracker[slots.HITS_SYMBOL]

    def __call__(self, *args):
        return self.fn(*args)

    def hits(self) -> int:
        return slots.call(self.hits_address)

    def release(self) -> int:
        return slots.call(self.release_address)


def gradient_native(f, *args):
    """The compiled combined gradient of f for args, relinked, and a function running it on
    fresh zero shadows that returns its outputs and the shadows (the array gradients)."""
    g = irad.jit_gradient(f)
    g(*args)
    (prog,) = g.differentiator.programs.values()
    values = [a.val if isinstance(a, irad.Const) else a for a in args]
    arrays = [v for a, v in zip(args, values) if isinstance(v, np.ndarray) and a is v]
    native = Cached(prog.call)

    def run():
        shadows = [np.zeros_like(v) for v in arrays]
        return list(native(*values, *prog.captured, *shadows, 1.0)) + shadows
    return native, run


def test_second_call_reuses_every_tape_buffer():
    x = np.linspace(0.1, 1.0, 300)
    native, run = gradient_native(loop_loss, x, irad.Const(7))
    first = run()
    hits = native.hits()
    assert hits == 0                      # a freshly loaded module has nothing parked
    second = run()
    reused = native.hits() - hits
    assert reused > 0
    third = run()
    assert native.hits() - hits == 2 * reused
    assert np.any(first[-1] != 0)
    for a, b, c in zip(first, second, third):
        assert np.array_equal(a, b) and np.array_equal(a, c)


def test_parked_tape_bytes_cover_what_the_tapes_held():
    x = np.linspace(0.1, 1.0, 300)
    native, run = gradient_native(loop_loss, x, irad.Const(7))
    run()
    parked = native.release()
    assert parked >= tape_bytes(loop_loss, x, irad.Const(7)) > 0
    assert native.release() == 0          # released: nothing left
    hits = native.hits()
    run()
    assert native.hits() == hits          # nothing was parked to take


def test_tapes_grow_from_a_smaller_parked_buffer():
    small, large = np.linspace(0.1, 1.0, 10), np.linspace(0.1, 1.0, 4000)
    native, run_small = gradient_native(loop_loss, small, irad.Const(3))
    g = irad.jit_gradient(loop_loss)
    run_small()
    before = native.release()
    run_small()
    expected = g(large, irad.Const(3))[0]
    shadow = np.zeros_like(large)
    native(large, 3, shadow, 1.0)
    assert np.array_equal(shadow, expected)
    assert native.release() > before      # the larger tapes were parked in place of the small ones


def test_scratch_arrays_are_reused_and_results_unchanged():
    x = np.linspace(0.1, 2.0, 1000)
    native = Cached(irad.jit(scratch_loss).specialization((x,)).native)
    first = native(x)
    assert native.hits() == 0
    second = native(x)
    assert native.hits() >= 1             # the primal's scratch array
    assert first == second
    assert native.release() >= x.nbytes


def test_scratch_arrays_of_changing_sizes():
    g = irad.jit_gradient(scratch_loss)
    for n in (1000, 10, 5000, 3, 5000, 1000):
        x = np.linspace(0.1, 2.0, n)
        expected = irad.gradient(scratch_loss, irad.AutoInterpreter(), x)[0]
        assert np.allclose(g(x)[0], expected, rtol=1e-12, atol=0)


def test_returned_arrays_are_never_recycled():
    f = irad.jit(fresh_array)
    x = np.arange(100.0)
    kept = [f(x + k) for k in range(5)]
    for k, y in enumerate(kept):
        assert np.array_equal(y, x + k + 1.0)
    assert len({y.__array_interface__["data"][0] for y in kept}) == len(kept)


def test_pullback_tapes_stay_owned_while_gradients_run():
    x1, x2 = np.linspace(0.1, 1.0, 200), np.linspace(0.2, 1.5, 200)
    _, back1 = irad.pullback(loop_loss, x1, irad.Const(4))
    _, back2 = irad.pullback(loop_loss, x2, irad.Const(4))
    tapes = [r for r in back1.residuals + back2.residuals if isinstance(r, slots_tape_type())]
    assert tapes and all(_Header.from_address(t.ptr).slot is None for t in tapes)
    g = irad.jit_gradient(loop_loss)
    for _ in range(5):
        g(x1 * 3.0, irad.Const(4))
        irad.pullback(loop_loss, x2 * 2.0, irad.Const(4))
    for back, x in ((back1, x1), (back2, x2), (back1, x1)):
        assert np.array_equal(back(1.0)[0], g(x, irad.Const(4))[0])


def slots_tape_type():
    from irad.runtime.tapes import TapeHandle
    return TapeHandle


def test_concurrent_calls_give_serial_results():
    g = irad.jit_gradient(loop_loss)
    inputs = [np.linspace(0.1, 1.0 + k / 10, 400 + 37 * k) for k in range(4)]
    expected = [g(x, irad.Const(5))[0] for x in inputs]
    failures = []

    def work(k):
        for _ in range(25):
            if not np.array_equal(g(inputs[k], irad.Const(5))[0], expected[k]):
                failures.append(k)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_released_caches_leave_calls_correct():
    x = np.linspace(0.1, 1.0, 300)
    native, run = gradient_native(loop_loss, x, irad.Const(2))
    first = run()
    for _ in range(3):
        assert native.release() > 0
        again = run()
        assert all(np.array_equal(a, b) for a, b in zip(first, again))


def test_huge_scratch_allocation_is_a_memory_error():
    def huge(x, n):
        t = np.empty(n)
        t[0] = x[0]
        return t[0] * 2.0
    f = irad.jit(huge)
    x = np.ones(3)
    for n in (1 << 60, 1 << 46):          # the size overflows; malloc fails
        with pytest.raises(MemoryError):
            f(x, n)
    assert f(x, 4) == 2.0


# ---- scratch arrays in loops (runtime/scratch.py) ------------------------------------------

def per_step_temporary(u, steps):
    for _ in range(steps):
        u[1:-1] = u[1:-1] + 0.25 * (u[:-2] - 2.0 * u[1:-1] + u[2:])
    return np.sum(u * u)


def carried_reversed(x, steps):
    y = x * 1.0
    for _ in range(steps):
        y = y[::-1] + x
    return y


def carried_view(x, steps):
    y = x[::-1]
    for _ in range(steps):
        z = y + x[::-1]
        y = z[::-1]
    return y


def temporary_per_branch(x, steps):
    s = 0.0
    for k in range(steps):
        if k % 2 == 0:
            t = x[::-1] * 2.0
            s += t[0]
        else:
            s -= x[0]
    return s


def big_temporary(n, steps):
    s = 0.0
    for k in range(steps):
        t = np.empty(n)
        t[0] = 1.0 * k
        s += t[0]
    return s


def _alloc_ops(fn, *args):
    from irad.tracer import trace
    return [op for op in trace(fn, args).func.walk() if op.name == "alloc"]


def test_block_local_allocs_are_the_dead_temporaries():
    from irad.runtime.scratch import block_local
    assert [block_local(op) for op in _alloc_ops(per_step_temporary, np.ones(8), 3)] == [True]
    for fn in (carried_reversed, carried_view):
        assert not any(block_local(op) for op in _alloc_ops(fn, np.ones(8), 3))
    assert any(block_local(op) for op in _alloc_ops(temporary_per_branch, np.ones(8), 3))


@pytest.mark.parametrize("fn", [carried_reversed, carried_view, temporary_per_branch, per_step_temporary])
def test_loops_with_temporaries_match_numpy(fn):
    f = irad.jit(fn)
    for n, steps in ((7, 5), (100, 4), (3, 6)):
        x = np.linspace(0.5, 1.5, n)
        expected = fn(x.copy(), steps)
        got = f(x.copy(), steps)
        assert np.allclose(got, expected, rtol=1e-13, atol=0)


def test_gradient_through_temporaries_in_a_loop():
    u = np.sin(np.linspace(0.0, 3.0, 50))
    g = irad.jit_gradient(per_step_temporary)
    expected = irad.gradient(per_step_temporary, irad.AutoInterpreter(), u.copy(), irad.Const(20))[0]
    for _ in range(3):
        assert np.allclose(g(u.copy(), irad.Const(20))[0], expected, rtol=1e-12, atol=0)


_BOUNDED = """
import resource, numpy as np, irad, sys
sys.path.insert(0, {tests!r})
from test_tape_reuse import big_temporary
f = irad.jit(big_temporary)
f(10, 2)
def kb(field):
    return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith(field))
limit = (kb('VmSize') << 10) + (1 << 30)
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
print(f(1 << 24, 200))
"""


def test_a_loop_holds_one_temporary_not_one_per_iteration():
    """200 iterations of a 128 MiB temporary fit in 1 GiB of address space only if the
    iterations share one buffer."""
    import pathlib
    import subprocess
    import sys
    code = _BOUNDED.format(tests=str(pathlib.Path(__file__).parent))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert float(proc.stdout.split()[-1]) == sum(range(200))


def test_collecting_a_compiled_function_frees_its_parked_buffers(monkeypatch):
    released = []
    monkeypatch.setattr(slots, "call", lambda address: released.append(address) or 0)
    x = np.linspace(0.1, 1.0, 300)
    g = irad.jit_gradient(loop_loss)
    g(x, irad.Const(3))
    (prog,) = g.differentiator.programs.values()
    address = prog.call._tracker[slots.RELEASE_SYMBOL]
    del g, prog
    import gc
    gc.collect()
    assert address in released
