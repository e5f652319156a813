"""irad.runtime: native code for the CPU (LLVM via llvmlite) and its calling ABI.

Public API:
- `compile_func(func, *, module=None, fastmath=False, boundscheck=True,
  noalias_args=())` returns a `CompiledFunction`; call it with the Func's
  arguments, get a list of results. `noalias_args` (indices or names, e.g.
  a gradient's shadow arrays) promises those arrays share no memory with
  any other argument: every call checks it (InvalidValueError otherwise)
  and the optimizer may rely on it.
- Loops: bounds checks of affine accesses are hoisted by loop versioning
  (`versioning.py`, plans from `hoist.py`), tape headers live in registers
  inside loops, scatter-adds at constant offsets are lowered as gathers
  (`scatter.py`), and element accesses carry alias scopes (`alias.py`).
  None of this is observable: errors, side effects and results are those
  of the plain lowering, bit for bit.
- `load_compiled(signature, object_code, cold_code=None)` relinks
  `cf.object_code` with `cf.signature` (both picklable) without running
  LLVM's optimizer; a function with checked loop copies also needs
  `cold_code=cf.cold_object_code()` (`cold.py`: they are compiled on
  first use).
- `lower_func(func, module=None, options=Options())` gives the unoptimized
  llvmlite module (`.module`) and the failure sites (`.sites`).
- `lowering_for(descriptor)`: how the runtime lowers an op-table `llvm` slot.
- Errors raised by native code: `BoundsError` (IndexError),
  `InvalidValueError` (ValueError), `AllocationError` (MemoryError),
  `ArgumentError` (TypeError), `CompileError` (RuntimeError, cold code
  that could not be compiled: a bug); all are `irad.IradError`s.

This package imports only the IR core (irad.types, irad.ir, irad.ops,
irad.errors).
"""
from .calling import CompiledFunction, Signature  # noqa: F401
from .codegen import Options, lower_func, lowering_for  # noqa: F401
from .errors import AllocationError, ArgumentError, BoundsError, CompileError, InvalidValueError  # noqa: F401
from .jit import compile_func, load_compiled  # noqa: F401

__all__ = ["compile_func", "load_compiled", "CompiledFunction", "Signature", "Options", "lower_func",
           "lowering_for", "AllocationError", "ArgumentError", "BoundsError", "CompileError",
           "InvalidValueError"]
