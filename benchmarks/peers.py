"""The tools irad is compared with, and how each one is set up.

Invariants: a peer that cannot be imported is reported as missing (its
times are None with a note), never as zero. `numba_version(fn)` is
`numba.njit` of the very same code object as `fn`; helper functions it
calls from its own module are rebound, in a copy of its globals, to
fresh njit versions of themselves (Numba cannot call plain Python
functions), so every call of `numba_version` compiles from scratch.
"""
from __future__ import annotations

import functools
import types


@functools.lru_cache(maxsize=None)
def available(name: str) -> tuple[bool, str]:
    """(importable, version or the reason it is not)."""
    try:
        mod = __import__(name)
    except Exception as e:  # ImportError, or a broken install
        return False, f"{name} not installed ({type(e).__name__})"
    return True, getattr(mod, "__version__", "unknown")


def numba_version(fn):
    """A fresh numba.njit dispatcher for fn's code, helpers from fn's module njit-ed too."""
    import numba
    return numba.njit(_rebind(fn, {}))


def _rebind(fn, helpers: dict):
    """A copy of fn whose globals map same-module helper functions to njit dispatchers."""
    import numba
    glob = dict(fn.__globals__)
    for name in fn.__code__.co_names:
        obj = fn.__globals__.get(name)
        if isinstance(obj, types.FunctionType) and obj.__module__ == fn.__module__ and obj is not fn:
            if obj not in helpers:
                helpers[obj] = numba.njit(_rebind(obj, helpers))
            glob[name] = helpers[obj]
    return types.FunctionType(fn.__code__, glob, fn.__name__, fn.__defaults__, fn.__closure__)


PEERS = ("numba", "jax", "torch")


# ---- JAX and PyTorch ports (ports_jax.py, ports_torch.py) -----------------------------------------

SINGLE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def load_ports(peer: str):
    """The ports module of `peer` ("jax" or "torch"), configured single-threaded like irad and Numba."""
    import os
    if peer == "jax":
        os.environ.setdefault("XLA_FLAGS", SINGLE_THREAD_XLA)
        import ports_jax
        return ports_jax
    import torch
    torch.set_num_threads(1)
    import ports_torch
    return ports_torch


class JaxPort:
    """jax.jit of a port and of its jax.grad w.r.t. the DIFF arguments.

    Arrays become jax arrays once; other arguments outside DIFF are static."""

    def __init__(self, fn, args, diff):
        import jax
        import jax.numpy as jnp
        import numpy as np
        static = tuple(i for i, a in enumerate(args) if not isinstance(a, np.ndarray) and i not in diff)
        self.args = [jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
        self._primal = jax.jit(fn, static_argnums=static)
        self._grad = jax.jit(jax.grad(fn, argnums=tuple(diff)), static_argnums=static)
        self._block = jax.block_until_ready

    def primal(self):
        return self._block(self._primal(*self.args))

    def gradient(self):
        return self._block(self._grad(*self.args))

    def value(self) -> float:
        return float(self.primal())

    def gradients(self) -> tuple:
        import numpy as np
        return tuple(np.asarray(g) for g in self.gradient())


class TorchPort:
    """A port run eagerly: no_grad for the primal, torch.autograd.grad for the gradient."""

    def __init__(self, fn, args, diff):
        import numpy as np
        import torch
        self.torch, self.fn, self.diff = torch, fn, tuple(diff)

        def tensor(i, a):
            if isinstance(a, np.ndarray):
                return torch.from_numpy(a.copy())
            return torch.tensor(float(a), dtype=torch.float64) if i in self.diff else a
        self.args = [tensor(i, a) for i, a in enumerate(args)]
        self.grad_args = list(self.args)
        for i in self.diff:
            self.grad_args[i] = self.args[i].detach().clone().requires_grad_(True)

    def primal(self):
        with self.torch.no_grad():
            return self.fn(*self.args)

    def gradient(self):
        loss = self.fn(*self.grad_args)
        return self.torch.autograd.grad(loss, [self.grad_args[i] for i in self.diff], allow_unused=True)

    def value(self) -> float:
        return float(self.primal())

    def gradients(self) -> tuple:
        return tuple(self.torch.zeros_like(self.grad_args[i]).numpy() if g is None else g.numpy()
                     for i, g in zip(self.diff, self.gradient()))
