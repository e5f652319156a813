"""Compile IR to native code for the host CPU and load it (LLVM ORC).

Invariants:
- One process-wide target machine (host CPU name and features, O3, PIC,
  small code model) and one LLJIT; compiling holds a lock, calling never
  does. Each compiled function lives in its own JIT library, unloaded when
  its `CompiledFunction` is collected.
- The pipeline is LLVM's default O3 module pipeline from the new pass
  manager with loop and SLP vectorization on and loop unrolling off
  (gradients: O2 with unrolling). IEEE semantics unless
  `fastmath=True`, which puts reassoc/contract/nsz/arcp/afn on float
  arithmetic (never nnan/ninf: NaN and infinity checks stay meaningful).
  The vectorizer checks aliasing once per entry of the vectorized loop,
  never hoisted out of an enclosing loop (LLVM's hoisted form fails for
  every enclosing loop that runs backwards, so its scalar copy would run).
  A float sum kept in program order still vectorizes the rest of its loop
  (`-force-ordered-reductions`: each vector's lanes are added to the sum
  one by one, in order). Both LLVM options are process-wide.
- A function's module holds its code, its C entry and its packed entry
  (runtime/entry.py); the checked copies of its versioned loops are a
  second module, compiled and linked when a call first needs one
  (runtime/cold.py); the CPython-API wrapper that unboxes arguments
  (runtime/support.py), the arena and slot functions (runtime/library.py)
  and each exact vector math function (runtime/exactmath.py) are shared
  by all functions and built once per process.
- `CompiledFunction` keeps the LLVM IR and the object code; the optimized
  IR (optimized again, identically) and the assembly are made on demand.
  `load_compiled(signature, object_code)` relinks object code without
  running LLVM's optimizer (a disk cache hit); the object code is only
  valid for the same CPU, so a cache key must include the CPU (and the
  Python and NumPy versions, whose object layouts the shared wrapper
  reads).
"""
from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass

import llvmlite.binding as llvm

from irad.ir import Func, Module

from . import blas, cold, exactmath, library, slots, vecmath
from .calling import CompiledFunction, Signature
from .codegen import Options, lower_func
from .entry import build_entry, build_packed, entry_name, packed_name, written_args

_lock = threading.RLock()
_libraries = itertools.count()


@dataclass
class _Host:
    machine: llvm.TargetMachine
    jit: llvm.LLJIT
    triple: str
    cpu: str
    features: str


_host: _Host | None = None


def host() -> _Host:
    """The host target and JIT, created once."""
    global _host
    with _lock:
        if _host is None:
            llvm.initialize_native_target()
            llvm.initialize_native_asmprinter()
            # The vectorizer's runtime alias checks are not hoisted out of enclosing loops:
            # hoisted, they always fail when an enclosing loop runs backwards (reverse sweeps).
            llvm.set_option("", "-hoist-runtime-checks=false")
            # Loops with a float sum in program order vectorize the rest of their body and add
            # each vector's lanes to the sum one by one, in order: the same additions as the
            # scalar loop (a loss summing exp/log of each element vectorizes the exp and log).
            llvm.set_option("", "-force-ordered-reductions")
            triple = llvm.get_process_triple()
            target = llvm.Target.from_triple(triple)
            cpu, features = llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()

            def machine():
                return target.create_target_machine(cpu=cpu, features=features, opt=3, reloc="pic",
                                                    codemodel="default", jit=True)
            _host = _Host(machine(), llvm.create_lljit_compiler(machine()), triple, cpu, features)
        return _host


def optimize(llvm_ir: str, level: int = 3, unroll: bool = True) -> llvm.ModuleRef:
    """Parse, verify and run the default pipeline of `level` (vectorizers on) on LLVM IR text;
    `unroll=False` leaves out loop unrolling (not the vectorizer's interleaving)."""
    h = host()
    with _lock:
        mod = llvm.parse_assembly(llvm_ir)
        mod.verify()
        pto = llvm.create_pipeline_tuning_options(speed_level=level)
        pto.loop_vectorization = True
        pto.slp_vectorization = True
        pto.loop_unrolling = unroll
        pb = llvm.create_pass_builder(h.machine, pto)
        pb.getModulePassManager().run(mod, pb)
        return mod


def emit(mod: llvm.ModuleRef) -> bytes:
    h = host()
    with _lock:
        return h.machine.emit_object(mod)


def assemble(llvm_ir_optimized: str) -> str:
    h = host()
    with _lock:
        return h.machine.emit_assembly(llvm.parse_assembly(llvm_ir_optimized))


def link(object_code: bytes, symbols, runtime: bool = True):
    """Load object code into a fresh JIT library; return (tracker, {symbol: address}).

    `runtime`: resolve the runtime library's functions (runtime/library.py); False only for
    the shared libraries themselves."""
    h = host()
    # Before taking the lock: these may link libraries of their own.
    shared = {**library.addresses(), **exactmath.process_symbols(object_code), **cold.symbols()} \
        if runtime else {}
    with _lock:
        builder = llvm.JITLibraryBuilder().add_object_img(object_code).add_current_process()
        for name, address in shared.items():
            builder.import_symbol(name, address)
        for name, address in blas.process_symbols(object_code).items():  # BLAS table (runtime/blas.py)
            builder.import_symbol(name, address)
        for name, address in vecmath.process_symbols().items():  # libm/libmvec (runtime/vecmath.py)
            builder.import_symbol(name, address)
        for s in symbols:
            builder.export_symbol(s)
        tracker = builder.link(h.jit, f"irad{next(_libraries)}")
        return tracker, {s: tracker[s] for s in symbols}


def noalias_indices(func: Func, noalias_args) -> frozenset:
    """Indices of the array arguments named (by index or by name) in `noalias_args`."""
    names = {a.hint: k for k, a in enumerate(func.args)}
    out = set()
    for x in noalias_args or ():
        k = names.get(x) if isinstance(x, str) else x
        if k is None or not 0 <= k < len(func.args):
            raise ValueError(f"noalias_args: @{func.name} has no argument {x!r}")
        if func.args[k].type.is_array:
            out.add(k)
    return frozenset(out)


def compile_func(func: Func, *, module: Module | None = None, fastmath: bool = False,
                 boundscheck: bool = True, noalias_args=(), opt_level: int = 3,
                 unroll: bool = False) -> CompiledFunction:
    """Compile a verified `func` (calls resolve in `module`) for the host CPU.

    `noalias_args` (argument indices or names, e.g. a gradient's shadow
    arrays) promises that those arrays share no memory with any other
    argument; every call checks it and raises InvalidValueError if not.
    `opt_level` picks LLVM's pipeline (vectorizers on at every level). Loop unrolling is
    off unless `unroll`: it costs about a tenth of the compile time of a loop program, and the
    vectorizer interleaves the loops that matter anyway (benchmarks/: no primal slower)."""
    noalias = noalias_indices(func, noalias_args)
    ml = lower_func(func, module, Options(fastmath=fastmath, boundscheck=boundscheck, noalias_args=noalias))
    entry = build_entry(ml, func)
    packed = build_packed(ml, func, entry)
    llvm_ir = module_text(ml.module)
    object_code = emit(optimize(llvm_ir, opt_level, unroll))
    cold_exports = slots.exported(ml.cold) if ml.cold is not None else []
    symbols = [entry_name(func.name), packed.name, *slots.exported(ml), *(s for s, _ in ml.cold_slots)]
    signature = Signature.of(func, ml.sites, written_args(func.name, ml.funcs), symbols,
                             fastmath=fastmath, boundscheck=boundscheck,
                             noalias=ml.noalias_args(func), cold_slots=ml.cold_slots,
                             cold_exports=cold_exports)
    code = cold.ColdCode(func.name, ml.cold_slots, cold_exports, module=ml.cold.module) \
        if ml.cold_slots else None
    # the optimized text is only for debugging: made again (the same) when asked for
    return load_compiled(signature, object_code, llvm_ir, lambda: str(optimize(llvm_ir, opt_level, unroll)),
                         code)


def module_text(module) -> str:
    """An llvmlite module's text, for the host target."""
    h = host()
    module.triple = h.triple
    module.data_layout = str(h.machine.target_data)
    vecmath.keep_alive(module)
    return str(module)


def compile_module(module) -> bytes:
    """Object code of a cold module (runtime/cold.py): its optnone copies stay as they are, the
    functions they call are optimized."""
    return emit(optimize(module_text(module)))


def load_compiled(signature: Signature, object_code: bytes, llvm_ir: str = "",
                  llvm_ir_optimized="", cold_code=None) -> CompiledFunction:
    """Link object code made by `compile_func` (same CPU and Python) into a callable. A function
    with checked loop copies needs their `cold_code`: a `cold.ColdCode`, or the object code
    `CompiledFunction.cold_object_code()` gives."""
    if signature.cold_slots and cold_code is None:
        raise ValueError(f"@{signature.name} calls checked loop copies but none were given")
    if isinstance(cold_code, bytes):
        cold_code = cold.ColdCode(signature.name, signature.cold_slots, signature.cold_exports,
                                  object_code=cold_code)
    tracker, addresses = link(object_code, signature.symbols)
    name = signature.name
    compiled = CompiledFunction(signature, llvm_ir, llvm_ir_optimized, object_code, tracker,
                                addresses[entry_name(name)], addresses[packed_name(name)])
    slots.release_on_collect(compiled, tracker, signature.symbols)   # free its kept buffers
    if cold_code is not None:
        compiled.cold_code = cold_code
        cold_code.attach(compiled, addresses)
    return compiled
