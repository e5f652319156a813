"""The runtime library: the arena and cache-slot functions (runtime/arena.py,
runtime/slots.py) that every compiled module calls, compiled once per
process instead of once per module (the exact vector math functions,
runtime/exactmath.py, are shared libraries of their own, built on first use).

Invariants:
- A compiled module only declares these functions
  (`ModuleLowering.shared`); `runtime/jit.link` imports their addresses
  from here into every JIT library it links except the shared libraries
  themselves.
- `load_shared` builds or loads a shared library (this one, the CPython
  wrapper of runtime/support.py and each exact vector math function of
  runtime/exactmath.py): its object code depends only on the sources it
  names, its key, the llvmlite and Python versions and the CPU, so with
  a cache directory it is stored there under a name hashing all of them;
  a missing, truncated or foreign file is rebuilt, never a crash.
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import threading
from pathlib import Path

import llvmlite

from . import arena, slots

FUNCTIONS = ("irad.arena.alloc", "irad.arena.alloc_cached", "irad.arena.release", "irad.slot.take",
             "irad.slot.park", "irad.slot.clear")
_SOURCES = ("library.py", "arena.py", "slots.py", "abi.py", "codegen.py", "jit.py")
_HERE = Path(__file__).resolve().parent

_lock = threading.Lock()
_addresses: dict | None = None
_tracker = None
_directory: Path | None = None            # the cache directory last given to `addresses`


def module_text(triple: str, data_layout: str) -> str:
    from .codegen import ModuleLowering, Options
    ml = ModuleLowering({}, Options(), defines_shared=True)
    for make in (arena.alloc_fn, arena.cached_alloc_fn, arena.release_fn, slots.take_fn, slots.park_fn,
                 slots.clear_fn):
        make(ml)
    ml.module.triple, ml.module.data_layout = triple, data_layout
    return str(ml.module)


def addresses(directory: Path | None = None) -> dict[str, int]:
    """{name: address} of the library's functions, built (or read from `directory`) once."""
    global _addresses, _tracker, _directory
    if directory is not None:
        _directory = directory
    if _addresses is None:
        with _lock:
            if _addresses is None:
                _tracker, found = load_shared("runtime", _SOURCES, "", module_text, FUNCTIONS, directory)
                _addresses = found
    return _addresses


def cache_directory() -> Path | None:
    """Where shared libraries are cached: the directory last given to `addresses`, if any."""
    return _directory


def load_shared(name: str, sources, key: str, make_text, exports, directory: Path | None):
    """Link shared library `name` (object code of `make_text(triple, data_layout)`), from
    `directory`'s copy when it has a valid one, else built (and stored there); returns
    (tracker, {export: address})."""
    from .jit import host, link
    h = host()
    path = _cache_file(directory, name, sources, key, h) if directory is not None else None
    if path is not None:
        try:
            return link(path.read_bytes(), exports, runtime=False)
        except Exception:  # missing, truncated or foreign: rebuild it
            pass
    return link(_build(make_text, h, path), exports, runtime=False)


def _cache_file(directory: Path, name: str, sources, key: str, h) -> Path:
    digest = hashlib.sha256()
    for source in sources:
        digest.update((_HERE / source).read_bytes())
    parts = [llvmlite.__version__, sys.version, h.triple, h.cpu, h.features, key, digest.hexdigest()]
    key_hash = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]
    return directory / f"{name}-{key_hash}.o"


def _build(make_text, h, path: Path | None) -> bytes:
    from .jit import emit, optimize
    code = emit(optimize(make_text(h.triple, str(h.machine.target_data)), level=2))
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(code)
            os.replace(tmp, path)
        except OSError:
            pass
    return code
