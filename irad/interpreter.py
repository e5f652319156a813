"""The reference interpreter: runs any Func op by op with NumPy.

Invariants: it defines the IR's semantics and is the oracle for every pass
and for native code. Scalars are NumPy scalars of the value's type (so
int64 wraps and float32 stays float32); arrays are the caller's NumPy
arrays, so stores are visible to the caller and views share memory.
Floating-point exceptions follow IEEE (no Python exceptions, no warnings).
"""
from __future__ import annotations

import numpy as np

from .ir import Block, Func, Module

_TYPES_PER_ARG_KIND = (np.generic, np.ndarray)


class Interpreter:
    def __init__(self, module: Module | None = None):
        self.module = module
        self.env: dict = {}

    def call(self, name: str, args):
        return run(self.module[name], args, self.module)

    def run_block(self, block: Block, args) -> list:
        """Bind `args` to the block's arguments, run it, return the terminator's operands."""
        env = self.env
        for a, v in zip(block.args, args):
            env[a] = v
        for op in block.ops:
            d = op.opdef
            if d.terminator:
                return [env[v] for v in op.operands]
            operands = [env[v] for v in op.operands]
            if d.execute is not None:
                results = d.execute(self, op, operands)
            else:
                out = d.evaluate(*operands, **op.attrs)
                results = [out] if op.results else []
            for r, v in zip(op.results, results):
                env[r] = _as_type(v, r.type)
        return []


def _as_type(value, t):
    if t.is_scalar and not isinstance(value, t.numpy.type):
        return t.numpy.type(value)
    return value


def coerce_argument(value, t):
    """A Python/NumPy argument as the interpreter's representation of type t."""
    if t.is_scalar:
        return t.numpy.type(value)
    return value


def run(func: Func, args, module: Module | None = None) -> list:
    """Run `func` on `args`; return the list of returned values."""
    if len(args) != len(func.args):
        raise TypeError(f"@{func.name} takes {len(func.args)} arguments, got {len(args)}")
    interp = Interpreter(module)
    with np.errstate(all="ignore"):
        return interp.run_block(func.body.block, [coerce_argument(v, a.type) for v, a in zip(args, func.args)])
