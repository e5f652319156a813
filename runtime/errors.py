"""Errors raised by native code, and the sites that report them.

Invariants: generated code never traps. A failing check writes the error
record (status, site, index, extent, axis) into the call's context and
returns `status`; every function returns it up to the entry, which copies
the record into the caller's out buffer. `Site`s are numbered per compiled
module; a site remembers the op (its name and source location) and what
was checked, so Python can say what went wrong and where. Each exception
is an `IradError` and also the builtin Python raises for the same mistake.
A `check` op's site carries its message (`detail`, with `{0}`/`{1}` for the
two extents compared), so shape errors read as NumPy's.
"""
from __future__ import annotations

from dataclasses import dataclass

from irad.errors import IradError, Location

OK, INDEX, VALUE, MEMORY, ARGUMENT = range(5)


class BoundsError(IradError, IndexError):
    """An index or slice outside an array's extent."""


class InvalidValueError(IradError, ValueError):
    """A zero step, a negative extent, mismatched shapes, a read-only argument."""


class AllocationError(IradError, MemoryError):
    """An allocation the system refused (or whose size overflows)."""


class ArgumentError(IradError, TypeError):
    """An argument that does not fit the compiled signature."""


class CompileError(IradError, RuntimeError):
    """Code compiled on first use (runtime/cold.py) that could not be compiled."""


@dataclass(frozen=True)
class Site:
    """One place in generated code that can fail: op, location and check kind."""

    func: str
    op: str
    loc: Location | None
    kind: str
    axis: int = 0
    detail: str = ""

    def exception(self, index: int, extent: int) -> Exception:
        cls, message, hint = _MESSAGES[self.kind](self, index, extent)
        return cls(f"{message} (op '{self.op}' in @{self.func})", self.loc, hint)


def _index(s, index, extent):
    return (BoundsError, f"index {index} is out of bounds for axis {s.axis} with extent {extent}",
            "the index must satisfy 0 <= index < extent")


def _slice(s, index, extent):
    return (BoundsError, f"slice reaches index {index}, out of bounds for axis {s.axis} "
            f"with extent {extent}", "every element a slice selects must lie inside the array")


def _step(s, index, extent):
    what = "range() step" if s.op == "for" else "slice step"
    return InvalidValueError, f"{what} must not be zero", None


def _negative(s, index, extent):
    return (InvalidValueError, f"negative dimensions are not allowed: extent {index} on axis {s.axis}",
            None)


def _alloc(s, index, extent):
    size = "more than 2**63 bytes" if index < 0 else f"{index} bytes"
    return AllocationError, f"cannot allocate an array of {size}", None


def _reshape(s, index, extent):
    size = "more than 2**63 - 1" if extent < 0 else str(extent)
    return (InvalidValueError, f"cannot reshape array of size {index} into extents of size {size}",
            "the new extents must multiply to the array's size")


def _check(s, index, extent):
    from irad.ops.memory import check_message
    return InvalidValueError, check_message(s.detail, index, extent), None


def _tape(s, index, extent):
    return (BoundsError, f"tape popped past its start (cursor {index + 1}, length {extent})",
            "an internal error of reverse mode: each pop needs a matching push")


def _copy(s, index, extent):
    return (InvalidValueError, f"cannot copy: source extent {index} differs from destination "
            f"extent {extent} on axis {s.axis}", "copy needs arrays of one shape")


def _compile(s, index, extent):
    return (CompileError, "could not compile the bounds-checked copy of this loop, needed because "
            "its fast path's precondition failed", "this is a bug in irad; please report it "
            "(IRAD_LOG=info logs the cause)")


_MESSAGES = {"compile": _compile, "index": _index, "slice": _slice, "step": _step, "negative": _negative,
             "alloc": _alloc, "copy": _copy, "reshape": _reshape, "check": _check, "tape": _tape}
SITE_KINDS = tuple(_MESSAGES)
