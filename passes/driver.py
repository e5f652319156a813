"""The pass registry and the pipeline driver.

Invariants:
- A pass is a pure function `(Func, PassOptions) -> Func`: it transforms a
  `func.clone()` and never mutates its input (with `verify_each=True` the
  driver checks this by printing the input before and after).
- A pass written as an in-place rewrite (`@register_in_place("dce")`) is
  registered as the cloning function above; the driver runs the rewrite
  itself on intermediates it made (`_Runner.owns`), so a pipeline clones its
  input once, not once per pass.
- Passes are registered by name at import time (`@register("dce")`); named
  pipelines (`register_pipeline`) expand to a list of steps and may iterate
  to a fixed point (until the IR's `fingerprint` stops changing). Nothing
  else is global: options travel in the immutable `PassOptions` the driver
  hands to every pass.
- A pipeline is a comma-separated string of pass and pipeline names.
"""
from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Iterable, Mapping

from ..ir import Func
from ..verifier import verify
from ..errors import VerificationError


@dataclass(frozen=True)
class PassOptions:
    """What passes may read: `fastmath`, plus pass-specific `extra` options."""

    fastmath: bool = False
    extra: Mapping = field(default_factory=lambda: MappingProxyType({}))

    def get(self, key: str, default=None):
        return self.extra.get(key, default)


DEFAULT_OPTIONS = PassOptions()

PassFn = Callable[[Func, PassOptions], Func]


@dataclass(frozen=True)
class Pipeline:
    """A named list of steps; `fixpoint` repeats them until the IR stops changing."""

    steps: tuple[str, ...]
    fixpoint: bool = False
    max_rounds: int = 8


_PASSES: dict[str, PassFn] = {}
_PIPELINES: dict[str, Pipeline] = {}


def register(name: str):
    """Decorator: register `fn(func, options=DEFAULT_OPTIONS) -> Func` as pass `name`."""
    def decorate(fn: PassFn) -> PassFn:
        if name in _PASSES or name in _PIPELINES:
            raise ValueError(f"pass {name!r} registered twice")
        _PASSES[name] = fn
        return fn
    return decorate


def register_in_place(name: str):
    """Decorator: register `fn(func, options=DEFAULT_OPTIONS) -> None`, which rewrites `func`
    in place, as pass `name`. The registered pass (what the decorator returns) clones its input
    first, so it too never modifies its argument; a pipeline runs `fn` directly on a function
    it made itself (saves a clone per pass)."""
    def decorate(fn) -> PassFn:
        @functools.wraps(fn)
        def cloning(func: Func, options: PassOptions = DEFAULT_OPTIONS) -> Func:
            new = func.clone()
            fn(new, options)
            return new
        cloning.in_place = fn
        return register(name)(cloning)
    return decorate


def unregister(name: str) -> None:
    """Remove a pass or pipeline (for tests that register temporary passes)."""
    _PASSES.pop(name, None)
    _PIPELINES.pop(name, None)


def register_pipeline(name: str, spec: str, *, fixpoint: bool = False, max_rounds: int = 8) -> None:
    """Name a pipeline; with `fixpoint`, its steps repeat (at most `max_rounds` times)
    until a round leaves the IR unchanged (its `fingerprint`: names and locations aside)."""
    if name in _PASSES or name in _PIPELINES:
        raise ValueError(f"pipeline {name!r} registered twice")
    _PIPELINES[name] = Pipeline(tuple(split_pipeline(spec)), fixpoint, max_rounds)


def registered_passes() -> list[str]:
    return sorted(_PASSES)


def registered_pipelines() -> dict[str, Pipeline]:
    return dict(_PIPELINES)


def get_pass(name: str) -> PassFn:
    if name not in _PASSES:
        raise ValueError(_unknown(name))
    return _PASSES[name]


def split_pipeline(spec: str | Iterable[str]) -> list[str]:
    """`"fold, cse,dce"` → `["fold", "cse", "dce"]` (a list passes through)."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    return [s.strip() for s in items if s.strip()]


def _unknown(name: str) -> str:
    known = ", ".join(sorted(_PASSES) + sorted(_PIPELINES))
    return f"unknown pass or pipeline {name!r}; known: {known}"


class _Runner:
    """Runs steps one by one, verifying and dumping as asked."""

    def __init__(self, options: PassOptions, verify_each: bool, dump, on_dump):
        self.options = options
        self.verify_each = verify_each
        self.dump = _dump_set(dump)
        self.on_dump = on_dump or _print_dump
        self.input: Func | None = None

    def steps(self, func: Func, steps, active=()) -> Func:
        for name in steps:
            if name in _PIPELINES:
                if name in active:
                    raise ValueError(f"pipeline {name!r} includes itself")
                func = self.pipeline(func, name, (*active, name))
            elif name in _PASSES:
                func = self.one(func, name)
            else:
                raise ValueError(_unknown(name))
        return func

    def pipeline(self, func: Func, name: str, active) -> Func:
        p = _PIPELINES[name]
        if not p.fixpoint:
            return self.steps(func, p.steps, active)
        before = fingerprint(func)
        for _ in range(p.max_rounds):
            func = self.steps(func, p.steps, active)
            after = fingerprint(func)
            if after == before:
                break
            before = after
        return func

    def one(self, func: Func, name: str) -> Func:
        before = str(func) if self.verify_each else None
        in_place = getattr(_PASSES[name], "in_place", None)
        if in_place is not None and self.owns(func):
            in_place(func, self.options)
            result = func
        else:
            result = _PASSES[name](func, self.options)
        if self.verify_each:
            if str(func) != before:
                raise AssertionError(f"pass {name!r} mutated its input function @{func.name}")
            _verify(result, f"after pass {name!r}")
        if self.dump is not None and (self.dump == "all" or name in self.dump):
            self.on_dump(name, result)
        return result


    def owns(self, func: Func) -> bool:
        """Whether `func` is an intermediate only this pipeline has seen: not its input, not
        shown to a dump hook, and not checked for mutation (verify_each)."""
        return func is not self.input and self.dump is None and not self.verify_each


def fingerprint(func: Func) -> list:
    """Equal for two functions whose printed IR differs at most in names and locations (what a
    fixpoint compares, much cheaper than printing)."""
    number: dict = {a: k for k, a in enumerate(func.args)}
    out: list = []

    def block(b) -> None:
        for a in b.args:
            number[a] = len(number)
        for op in b.ops:
            operands = tuple(number.get(v, -1) for v in op.operands)
            out.append((op.name, operands, repr(op.attrs) if op.attrs else "",
                        tuple(r.type for r in op.results), len(op.regions)))
            for r in op.results:
                number[r] = len(number)
            for region in op.regions:
                for inner in region.blocks:
                    block(inner)
    block(func.body.block)
    return out


def _verify(func: Func, when: str) -> None:
    try:
        verify(func)
    except VerificationError as e:
        raise VerificationError(f"{when}: {e.bare_message}\n{func}", e.loc) from e


def _dump_set(dump):
    if dump is None or dump is False:
        return None
    if dump is True or dump == "all":
        return "all"
    return set(split_pipeline(dump))


def _print_dump(name: str, func: Func) -> None:
    print(f"// ----- IR after {name} ----- //\n{func}", file=sys.stderr)


def run_pipeline(func: Func, pipeline: str | Iterable[str], verify_each: bool = False,
                 dump=None, fastmath: bool = False, on_dump=None, **extra) -> Func:
    """Run the comma-separated `pipeline` on `func`; return the new Func.

    `dump`: None, "all", or pass names (a set or a comma-separated string):
    after each such pass, `on_dump(pass_name, func)` is called (default:
    print the IR to stderr). `extra` keyword options reach passes through
    `PassOptions.extra`. `func` itself is never modified.
    """
    options = PassOptions(fastmath, MappingProxyType(dict(extra)))
    runner = _Runner(options, verify_each, dump, on_dump)
    runner.input = func
    if verify_each:
        _verify(func, "pipeline input")
    return runner.steps(func, split_pipeline(pipeline))


def run_pass(func: Func, name: str, fastmath: bool = False, **extra) -> Func:
    """Run one registered pass (no verification)."""
    return get_pass(name)(func, PassOptions(fastmath, MappingProxyType(dict(extra))))
