"""Errors irad raises, and the source locations they point at.

Invariant: every error a user can trigger is an `IradError`; its message
starts with `file:line:col`, shows the source line with a caret under the
offending construct, and ends with a hint saying what to do instead.
"""
from __future__ import annotations

import linecache
from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """A position in user source: 1-based line, 0-based column (as `ast`)."""

    file: str
    line: int
    col: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col + 1}"

    def short(self) -> str:
        """`basename:line:col`, the form the IR printer writes."""
        return f"{self.file.rsplit('/', 1)[-1]}:{self.line}:{self.col + 1}"

    def source_line(self) -> str | None:
        text = linecache.getline(self.file, self.line)
        return text.rstrip("\n") if text else None


UNKNOWN = Location("<unknown>", 0, 0)


def render(loc: Location | None, message: str, hint: str | None = None) -> str:
    """Format `file:line:col: message`, the source line, a caret, a hint."""
    loc = loc or UNKNOWN
    parts = [f"{loc}: {message}"]
    line = loc.source_line()
    if line is not None:
        parts.append("    " + line)
        parts.append("    " + " " * loc.col + "^")
    if hint:
        parts.append(f"hint: {hint}")
    return "\n".join(parts)


class IradError(Exception):
    """Base class of every error irad reports to users."""

    def __init__(self, message: str, loc: Location | None = None, hint: str | None = None):
        self.loc = loc
        self.bare_message = message
        self.hint = hint
        plain = message + (f"\nhint: {hint}" if hint else "")
        super().__init__(render(loc, message, hint) if loc else plain)


class UnsupportedError(IradError):
    """A construct irad does not compile."""


class TypingError(IradError):
    """Types that do not fit together."""


class GradientMismatch(IradError):
    """irad's gradient disagrees with finite differences."""


class VerificationError(IradError):
    """IR that breaks a structural rule (types, dominance, regions)."""


class ParseError(IradError):
    """IR text that does not follow the grammar."""
