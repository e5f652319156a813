"""`irad.jit`: trace per argument signature, optimize, run natively or in
the reference interpreter.

Invariants: a JitFunction traces and compiles each signature once (guarded
by a lock, so concurrent first calls compile once); calling it has the same
effect on its arguments as calling the Python function (arrays are passed
by reference); results are rebuilt in the structure the function returned,
Python numbers where CPython would give Python numbers.
"""
from __future__ import annotations

import contextlib
import functools
import gc
import logging
import os
import sys
import threading
import time

import numpy as np

from . import cache
from .errors import IradError
from .interpreter import run as interpret
from .printer import print_func
from .tracer import runtime_leaves, signature_key, trace
from .tracer.pytree import is_runtime_leaf

TARGETS = ("cpu", "interpreter")


log = logging.getLogger("irad")
if os.environ.get("IRAD_LOG"):
    logging.basicConfig(format="%(name)s: %(message)s")
    log.setLevel(os.environ["IRAD_LOG"].upper())


class Stopwatch:
    """Milliseconds per named stage of one compilation."""

    def __init__(self):
        self.times: dict[str, float] = {}

    def __call__(self, stage: str, fn, *args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.times[stage] = self.times.get(stage, 0.0) + (time.perf_counter() - start) * 1e3

    def summary(self) -> str:
        return ", ".join(f"{k} {v:.1f} ms" for k, v in self.times.items())


@contextlib.contextmanager
def collector_paused():
    """Pause Python's cyclic garbage collector while compiling: a compilation allocates many
    short-lived objects, and the collections they trigger scan the whole heap (5-10% of a
    compilation). Reference counting still frees them; cycles wait for the next collection."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def dump(name: str, stage: str, text):
    """Print text() when IRAD_DUMP lists `stage` (or "all"); text is only computed then."""
    wanted = {s.strip() for s in os.environ.get("IRAD_DUMP", "").split(",") if s.strip()}
    if stage in wanted or "all" in wanted:
        print(f"// ---- irad: {name}, stage {stage} ----\n{text()}", file=sys.stderr)


class Compiled:
    """One specialization: traced and optimized IR plus a way to run it."""

    def __init__(self, fn, args, target: str, options: dict, cause: str = "new signature"):
        clock = Stopwatch()
        traced = clock("trace", trace, fn, args)
        self.traced = traced
        self.typed = traced.func
        dump(traced.func.name, "typed", lambda: print_func(self.typed))
        self.optimized = clock("passes", optimize, traced.func, options, PRIMAL_PASSES)
        dump(traced.func.name, "optimized", lambda: print_func(self.optimized))
        self.captured = traced.captured
        self.out_tree = traced.out_tree
        self.target = target
        self.native = None
        if target == "cpu":
            from .runtime import compile_func
            self.native = clock("llvm", compile_func, self.optimized, fastmath=options["fastmath"],
                                boundscheck=options["boundscheck"])
            native = self.native
            dump(traced.func.name, "llvm", lambda: native.llvm_ir)
            dump(traced.func.name, "llvm-optimized", lambda: native.llvm_ir_optimized)
            dump(traced.func.name, "asm", lambda: native.asm)
        log.info("compiled %s (%s) for %s: %s", fn.__qualname__, cause, target, clock.summary())

    @classmethod
    def from_cache(cls, native, captured, out_tree) -> "Compiled":
        """An entry loaded from the disk cache: native code without IR (traced again on demand)."""
        entry = cls.__new__(cls)
        entry.traced = entry.typed = entry.optimized = None
        entry.native, entry.captured, entry.out_tree, entry.target = native, captured, out_tree, "cpu"
        return entry

    def run(self, leaves):
        if self.native is not None:
            return self.native(*leaves)
        return interpret(self.optimized, leaves)

    def dispatcher(self, args, fallback):
        """A native builtin running this entry on flat arguments with exactly the signature
        key of `args` (anything else goes to `fallback`), or None where there is none."""
        if self.native is None or self.captured or not all(is_runtime_leaf(a) for a in args):
            return None
        return self.native.dispatcher(args, self.out_tree, fallback, output_builder(self.out_tree))

    def invoker(self, args):
        """A function of the call's arguments specialized to this entry's structure: flat
        arguments go straight to native code, results are rebuilt by a prepared closure."""
        output = output_builder(self.out_tree)
        run, captured = self.run, list(self.captured)
        if all(is_runtime_leaf(a) for a in args):
            if not captured and self.native is not None:
                native = self.native
                return lambda args: output(native(*args))
            return lambda args: output(run([*args, *captured]))

        def invoke(args):
            leaves: list = []
            for a in args:
                runtime_leaves(a, leaves)
            leaves.extend(captured)
            return output(run(leaves))
        return invoke


def optimize(func, options, then: str = ""):
    """The default pipeline, then the passes `then` names (see irad.passes)."""
    try:
        from .passes import run_pipeline
    except ImportError:
        return func
    return run_pipeline(func, f"default,{then}" if then else "default", fastmath=options["fastmath"])


# A compiled primal also gets its loops over (n, K) arrays versioned on K (passes/specialize.py),
# which LLVM vectorizes, and copy-back loops fused into the loops that fill their scratch arrays
# (passes/copyback.py); gradients specialize after reverse mode instead (irad/autodiff.py).
PRIMAL_PASSES = "specialize-extents,fuse-copy-back,fold,cse,licm,dce"


def output_builder(tree):
    """A function from the flat results to the structure `tree` describes."""
    if tree[0] == "result":
        index, weak = tree[1], tree[2]
        if weak:
            return lambda results: _python_number(results[index])
        return lambda results: results[index]
    return lambda results: rebuild_output(tree, results)


def _python_number(value):
    return value.item() if isinstance(value, np.generic) else value


def rebuild_output(tree, results):
    kind = tree[0]
    if kind == "result":
        value = results[tree[1]]
        if tree[2] and isinstance(value, np.generic):
            return value.item()
        return value
    if kind == "static":
        return tree[1]
    if kind == "dict":
        return {k: rebuild_output(v, results) for k, v in tree[1].items()}
    if kind == "struct":
        obj = object.__new__(tree[1])
        for k, v in tree[2].items():
            object.__setattr__(obj, k, rebuild_output(v, results))
        return obj
    _, cls, items = tree
    values = [rebuild_output(v, results) for v in items]
    return cls(*values) if hasattr(cls, "_fields") else cls(values)


class JitFunction:
    """Calls go first to the native dispatcher of the most recently used specialization,
    installed as the `__call__` of this instance's own class: it checks the arguments
    natively against that specialization's signature key and hands anything else to
    `_dispatch`, which computes the key, compiles if needed and switches the dispatcher."""

    def __init__(self, fn, target="cpu", cache=False, fastmath=False, boundscheck=True):
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
        if type(self) is JitFunction:
            self.__class__ = type("JitFunction", (JitFunction,), {"__module__": __name__})
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.target = target
        self.options = {"fastmath": fastmath, "boundscheck": boundscheck, "cache": cache}
        self._compiled: dict = {}
        self._lock = threading.Lock()

    @property
    def signatures(self) -> list:
        return list(self._compiled)

    def specialization(self, args) -> Compiled:
        key = tuple(map(signature_key, args))
        entry = self._compiled.get(key)
        if entry is None:
            with self._lock:
                entry = self._compiled.get(key)
                if entry is None:
                    try:
                        with collector_paused():
                            entry = self.compile(key, args)
                    except IradError as e:
                        raise e.with_traceback(None) from None
                    except Exception as e:
                        if os.environ.get("IRAD_DEBUG"):
                            raise
                        raise IradError(
                            f"internal error while compiling {self.fn.__qualname__}: "
                            f"{type(e).__name__}: {e}",
                            hint="this is a bug in irad; please report it (IRAD_DEBUG=1 shows the "
                                 "full traceback)") from None
                    entry.invoke = entry.invoker(args)
                    entry.fast = entry.dispatcher(args, self._dispatch)
                    self._compiled[key] = entry
        return entry

    def compile(self, key, args) -> Compiled:
        """Compile one signature, through the disk cache when it is enabled."""
        directory = cache.cache_dir(self.options["cache"]) if self.target == "cpu" else None
        path = cache.entry_path(directory, self.fn, key, self.options) if directory else None
        if path is not None:
            start = time.perf_counter()
            cache.prepare_runtime(directory)
            hit = cache.load(path, self.fn)
            if hit is not None:
                log.info("loaded %s from the disk cache in %.1f ms", self.fn.__qualname__,
                         (time.perf_counter() - start) * 1e3)
                return Compiled.from_cache(*hit)
        entry = Compiled(self.fn, args, self.target, self.options,
                         "disk-cache miss" if path is not None else "new signature")
        if path is not None:
            cache.store(path, entry.traced, entry.native, entry.out_tree)
        return entry

    def _dispatch(self, *args):
        entry = self._compiled.get(tuple(map(signature_key, args)))
        if entry is None:
            entry = self.specialization(args)
        if entry.fast is not None and type(self) is not JitFunction:
            type(self).__call__ = entry.fast
        return entry.invoke(args)

    __call__ = _dispatch

    def ir(self, *args, stage: str = "typed") -> str:
        if stage in ("gradient", "gradient-unoptimized"):
            from .autodiff import jit_gradient
            options = {k: self.options[k] for k in ("fastmath", "boundscheck")}
            return jit_gradient(self.fn, target=self.target, **options).ir(*args, stage=stage)
        entry = self.specialization(args)
        if entry.typed is None:
            entry = Compiled(self.fn, args, self.target, self.options, "IR requested")
        if stage == "typed":
            return print_func(entry.typed)
        if stage == "optimized":
            return print_func(entry.optimized)
        if entry.native is None:
            raise ValueError(f"stage {stage!r} needs target='cpu'")
        return {"llvm": entry.native.llvm_ir, "llvm-optimized": entry.native.llvm_ir_optimized,
                "asm": entry.native.asm}[stage]

    def __repr__(self):
        return f"<irad.jit {self.fn.__qualname__} target={self.target}>"


def jit(fn=None, *, target="cpu", cache=False, fastmath=False, boundscheck=True):
    """Compile `fn` on its first call per argument signature (usable as @jit or @jit(...))."""
    if fn is None:
        return lambda f: JitFunction(f, target, cache, fastmath, boundscheck)
    return JitFunction(fn, target, cache, fastmath, boundscheck)
