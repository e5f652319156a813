"""The on-disk cache of compiled specializations (`jit(cache=True)` or
IRAD_CACHE_DIR).

An entry is found without tracing: its file name hashes the versions of
irad, llvmlite, NumPy and Python, the CPU name and features, the compile
options, the function's bytecode and the argument signature. It stores the
object code, what the calling side needs (the runtime signature, the
result structure), and every lookup the trace depended on — globals,
closure cells, builtins and module attributes, including the functions it
inlined with a hash of their code. Loading re-resolves those lookups and
compares them, so editing a helper in another module, rebinding a global
constant or changing the type of a captured array misses the entry.

The directory also holds the object code of the runtime's shared libraries
(runtime/library.py, runtime/support.py, and the exact vector math
functions of runtime/exactmath.py, stored when first built), keyed by
their sources and the CPU. The key of an entry includes the C library's
version: compiled code may call a vector function checked against libm.

Invariants: anything wrong with an entry (truncated, corrupt, written by
another version, stale) is a miss that recompiles and rewrites it, never
an error; entries are written atomically.
"""
from __future__ import annotations

import builtins
import functools
import hashlib
import marshal
import os
import pickle
import platform
import sys
import tempfile
import types
from pathlib import Path

import numpy as np

MAGIC = b"irad-cache-3\n"


def cache_dir(enabled: bool) -> Path | None:
    env = os.environ.get("IRAD_CACHE_DIR")
    if env:
        return Path(env)
    if enabled:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return Path(base) / "irad"
    return None


@functools.lru_cache(maxsize=1)
def environment() -> str:
    import llvmlite
    from llvmlite import binding as llvm

    from . import __version__
    return "|".join([__version__, llvmlite.__version__, np.__version__, sys.version, platform.machine(),
                     llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten(),
                     " ".join(platform.libc_ver())])    # compiled code may rely on libm's exact results


def code_hash(code) -> str:
    return hashlib.sha256(marshal.dumps(code)).hexdigest()


def stable_repr(x) -> str | None:
    """repr(x) when it is the same in every process, else None."""
    text = repr(x)
    return None if " at 0x" in text or "object at" in text else text


def entry_path(directory: Path, fn, signature_key, options: dict) -> Path | None:
    sig = stable_repr(signature_key)
    code = getattr(fn, "__code__", None)
    if sig is None or code is None:
        return None
    parts = [environment(), getattr(fn, "__module__", ""), fn.__qualname__, code_hash(code), sig,
             repr(sorted((k, v) for k, v in options.items() if k != "cache"))]
    return directory / (hashlib.sha256("\n".join(parts).encode()).hexdigest() + ".irad")


def prepare_runtime(directory: Path) -> None:
    """Load the runtime's shared libraries (runtime/library.py, runtime/support.py) from
    `directory` (built and stored there on first use), so that a warm process skips LLVM."""
    from .runtime import library, support
    library.addresses(directory)
    support.call_address(directory)


def summarize(obj):
    """What must stay equal for a compiled entry that read obj to remain valid (None: unknown)."""
    if isinstance(obj, np.ndarray):
        return ("array", obj.dtype.str, obj.ndim, bool(obj.flags.c_contiguous))
    if obj is None or isinstance(obj, (bool, int, float, complex, str, np.generic)):
        return ("value", type(obj).__name__, repr(obj))
    if isinstance(obj, types.FunctionType):
        return ("function", obj.__module__, obj.__qualname__, code_hash(obj.__code__))
    if isinstance(obj, types.ModuleType):
        return ("module", obj.__name__)
    if isinstance(obj, tuple):
        parts = tuple(summarize(e) for e in obj)
        return None if None in parts else ("tuple", parts)
    text = stable_repr(obj)
    return None if text is None else ("repr", type(obj).__qualname__, text)


def _resolve(owner, kind: str, name: str):
    if kind == "attr":
        return getattr(owner, name)
    code = owner.__code__
    if kind == "closure":
        cell = owner.__closure__[code.co_freevars.index(name)]
        return cell.cell_contents
    if name in code.co_freevars:
        raise LookupError(name)
    if kind == "global":
        return owner.__globals__[name]
    if name in owner.__globals__:
        raise LookupError(name)
    return vars(builtins)[name]


def store(path: Path, traced, native, out_tree) -> bool:
    """Write an entry for a fresh compilation; False when it cannot be cached."""
    session = traced.session
    if not session.cacheable or native is None:
        return False
    reads = [(r.parent, r.kind, r.name, summarize(r.value)) for r in session.reads]
    if any(r[3] is None for r in reads):
        return False
    try:
        payload = pickle.dumps({"reads": reads, "captured_reads": session.captured_reads,
                                "signature": native.signature, "object_code": native.object_code,
                                "cold_code": native.cold_object_code(),
                                "out_tree": out_tree}, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(MAGIC + hashlib.sha256(payload).digest() + payload)
    os.replace(tmp, path)
    return True


def load(path: Path, fn):
    """(native function, captured arrays, result structure) from a valid entry, else None."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head, digest, payload = data[:len(MAGIC)], data[len(MAGIC):len(MAGIC) + 32], data[len(MAGIC) + 32:]
    if head != MAGIC or hashlib.sha256(payload).digest() != digest:
        return None
    try:
        entry = pickle.loads(payload)
        resolved = []
        for parent, kind, name, summary in entry["reads"]:
            obj = _resolve(fn if parent == -1 else resolved[parent], kind, name)
            if summarize(obj) != summary:
                return None
            resolved.append(obj)
        captured = [resolved[i] for i in entry["captured_reads"]]
        from .runtime.jit import load_compiled
        native = load_compiled(entry["signature"], entry["object_code"], cold_code=entry["cold_code"])
    except Exception:  # a stale or foreign entry is a miss, whatever is wrong with it
        return None
    return native, captured, entry["out_tree"]
