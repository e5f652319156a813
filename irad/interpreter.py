"""The reference interpreter: runs any Func op by op with NumPy.

Invariants: it defines the IR's semantics and is the oracle for every pass
and for native code.
- Scalars are NumPy scalars of the value's type (so int64 wraps and
  float32 stays float32). An op whose `evaluate` returns a NumPy scalar or
  array of another dtype is an op-table bug and raises `TypeError` rather
  than being silently converted (a plain Python number is converted).
- Arrays are the caller's NumPy arrays, so stores are visible to the caller
  and views share memory. Arguments are checked against the signature
  (dtype, ndim, C-contiguity for layout `C`) and never copied.
- Floating-point exceptions follow IEEE (no Python exceptions, no warnings).
- Semantics of each op live in the op table (`evaluate` for ops without
  regions, `execute` for the others); the interpreter only binds values.
"""
from __future__ import annotations

import numpy as np

from .ir import Block, Func, Module, Op
from .ops import OPS
from .types import TapeType, ArrayType, NoneType, TupleType


class Interpreter:
    """Runs blocks of one function activation; `env` maps Values to runtime values."""

    def __init__(self, module: Module | None = None):
        self.module = module
        self.env: dict = {}

    def call(self, name: str, args) -> list:
        """Run function @name of the module on already-typed `args` (a fresh activation)."""
        if self.module is None or name not in self.module.funcs:
            raise LookupError(f"call to @{name}: no such function in the module being interpreted")
        callee = self.module[name]
        return Interpreter(self.module).run_block(callee.body.block, list(args))

    def run_block(self, block: Block, args) -> list:
        """Bind `args` to the block's arguments, run it, return the terminator's operands."""
        env = self.env
        for a, v in zip(block.args, args):
            env[a] = v
        for op in block.ops:
            d = OPS[op.name]
            operands = [env[v] for v in op.operands]
            if d.terminator:
                return operands
            for r, v in zip(op.results, self.execute(op, d, operands)):
                env[r] = _as_type(v, r.type, op)
        return []

    def execute(self, op: Op, d, operands) -> list:
        """The op's results as a list."""
        if d.execute is not None:
            return list(d.execute(self, op, operands))
        try:
            out = d.evaluate_op(op, *operands)
        except (IndexError, ValueError) as e:
            where = f"{op.loc}: " if op.loc else ""
            raise type(e)(f"{where}{e}") from None
        if len(op.results) == 1:
            return [out]
        return list(out) if op.results else []


def _as_type(value, t, op: Op):
    """`value` as the runtime representation of type `t` (see the module invariants)."""
    if t.is_scalar:
        want = t.numpy.type
        if isinstance(value, want):
            return value
        if isinstance(value, (np.generic, np.ndarray)):
            raise TypeError(f"op '{op.name}' produced a {np.asarray(value).dtype} value for a "
                            f"{t} result (the op's evaluate breaks the interpreter's typing)")
        return want(value)
    if isinstance(t, ArrayType):
        if not isinstance(value, np.ndarray) or value.dtype != t.dtype.numpy or value.ndim != t.ndim:
            raise TypeError(f"op '{op.name}' produced {_describe(value)} for a {t} result")
    return value


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of ndim {value.ndim}"
    return f"a {type(value).__name__}"


def coerce_argument(value, t, where: str = "argument"):
    """A Python/NumPy argument as the interpreter's representation of type t.

    Scalars are converted (an int type refuses a non-integral float); arrays
    must already have t's dtype and ndim (and be C-contiguous for layout C)."""
    if t.is_scalar:
        return _coerce_scalar(value, t, where)
    if isinstance(t, ArrayType):
        ok = (isinstance(value, np.ndarray) and value.dtype == t.dtype.numpy and value.ndim == t.ndim
              and (t.layout != "C" or value.flags.c_contiguous))
        if not ok:
            raise TypeError(f"{where}: expected {t}, got {_describe(value)}"
                            + ("" if not isinstance(value, np.ndarray) or value.flags.c_contiguous
                               else " (not C-contiguous)"))
        return value
    if isinstance(t, TupleType):
        if not isinstance(value, tuple) or len(value) != len(t.elements):
            raise TypeError(f"{where}: expected a tuple of {len(t.elements)}, got {_describe(value)}")
        return tuple(coerce_argument(v, e, f"{where}[{k}]") for k, (v, e) in enumerate(zip(value, t.elements)))
    if isinstance(t, NoneType):
        if value is not None:
            raise TypeError(f"{where}: expected None, got {_describe(value)}")
        return None
    if isinstance(t, TapeType):
        from .ops.tape import Tape
        if not isinstance(value, Tape):
            raise TypeError(f"{where}: expected a tape, got {_describe(value)}")
        return value
    raise TypeError(f"{where}: cannot pass a value of type {t}")


def _coerce_scalar(value, t, where: str):
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if not isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating)):
        raise TypeError(f"{where}: expected a {t} scalar, got {_describe(value)}")
    if not t.is_float and isinstance(value, (float, np.floating)) and not float(value).is_integer():
        raise TypeError(f"{where}: expected a {t} scalar, got the non-integral float {value!r}")
    return t.numpy.type(value)


def run(func, args, module: Module | None = None, entry: str | None = None) -> list:
    """Run `func` on `args`; return the list of returned values.

    `func` is a Func (calls resolve in `module`, or in a module holding only
    `func` itself) or a Module (runs `entry`, by default its first function)."""
    if isinstance(func, Module):
        module = func
        func = module[entry] if entry else next(iter(module.funcs.values()))
    if not isinstance(func, Func):
        raise TypeError(f"interpret needs a Func or a Module, got {type(func).__name__}")
    module = module if module is not None else Module([func])
    args = list(args)
    if len(args) != len(func.args):
        raise TypeError(f"@{func.name} takes {len(func.args)} arguments, got {len(args)}")
    values = [coerce_argument(v, a.type, f"@{func.name} argument {k}")
              for k, (v, a) in enumerate(zip(args, func.args))]
    with np.errstate(all="ignore"):
        return Interpreter(module).run_block(func.body.block, values)
