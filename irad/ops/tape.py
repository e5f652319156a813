"""Tapes: growable per-value stacks that reverse mode caches values on.

Reverse mode gives every value it must cache its own tape. The augmented
forward sweep pushes the value each time its definition executes; the
reverse sweep, which visits those executions in exactly the opposite order,
pops it. Popping moves a read cursor and leaves the contents in place, so
`tape_rewind` lets a split-mode pullback run its reverse sweep many times.

A `for` loop reserves room for its trip count on entry, so pushes in its
body never reallocate; other pushes (in `while` loops) grow the tape by
doubling.

A reverse loop whose iterations may run in any order reads its tape segment
forwards instead of popping: `tape_drop` moves the cursor back over the n
values the loop pushed and returns where they start; `tape_read` reads the
value at a position.

Invariants: a tape is created once at function entry (`tape_new`), holds
elements of one scalar type, and is freed once (`tape_free`) or by its
owner (a pullback) when garbage-collected.
"""
from __future__ import annotations

from dataclasses import dataclass, field


from ..types import TapeType
from .core import TypeRuleError, define
from .lowering import Special


@dataclass
class Tape:
    """The interpreter's tape: a list plus a read cursor and the bytes ever pushed."""

    itemsize: int = 8
    values: list = field(default_factory=list)
    cursor: int = 0
    pushed_bytes: int = 0


class TapeRecorder:
    """Collects the tapes the interpreter creates while active (for measuring tape bytes)."""

    active: list = []

    def __enter__(self):
        self.tapes: list = []
        TapeRecorder.active.append(self)
        return self

    def __exit__(self, *exc):
        TapeRecorder.active.remove(self)

    @property
    def bytes(self) -> int:
        return sum(t.pushed_bytes for t in self.tapes)


def _new(*, type):
    tape = Tape(itemsize=type.element.numpy.itemsize)
    for recorder in TapeRecorder.active:
        recorder.tapes.append(tape)
    return tape


def _push(tape: Tape, v):
    tape.values.append(v)
    tape.pushed_bytes += tape.itemsize


def _new_rule(types, attrs):
    if types:
        raise TypeRuleError(0, "no operands", types[0])
    if not isinstance(attrs["type"], TapeType):
        raise TypeRuleError(0, "a tape result type", attrs["type"])
    return [attrs["type"]]


def _expect_tape(types, i):
    if not isinstance(types[i], TapeType):
        raise TypeRuleError(i, "tape", types[i])
    return types[i]


def _push_rule(types, attrs):
    t = _expect_tape(types, 0)
    if len(types) != 2 or types[1] != t.element:
        raise TypeRuleError(1, str(t.element), types[1] if len(types) > 1 else "nothing")
    return []


def _pop_rule(types, attrs):
    return [_expect_tape(types, 0).element]


def _unary_tape_rule(types, attrs):
    _expect_tape(types, 0)
    return []


def _pop(tape: Tape):
    tape.cursor -= 1
    return tape.values[tape.cursor]


def _rewind(tape: Tape):
    tape.cursor = len(tape.values)


define("tape_new", _new_rule, syntax="alloc", effect="alloc", evaluate=_new,
       llvm=Special("tape_new"))
define("tape_push", _push_rule, effect="write", evaluate=_push,
       llvm=Special("tape_push"))
def _reserve_rule(types, attrs):
    _expect_tape(types, 0)
    if len(types) != 2 or not types[1].is_int:
        raise TypeRuleError(1, "i64", types[1] if len(types) > 1 else "nothing")
    return []


define("tape_reserve", _reserve_rule, effect="write", evaluate=lambda tape, n: None,
       llvm=Special("tape_reserve"), notes="make room for n more pushes (a `for` loop's trip count)")
define("tape_pop", _pop_rule, effect="write", evaluate=_pop, llvm=Special("tape_pop"))
def _drop_rule(types, attrs):
    _expect_tape(types, 0)
    if len(types) != 2 or not types[1].is_int:
        raise TypeRuleError(1, "i64 count", types[1] if len(types) > 1 else "nothing")
    return [types[1]]


def _drop(tape: Tape, n):
    if int(n) > tape.cursor:
        raise IndexError(f"dropping {int(n)} values from a tape holding {tape.cursor}")
    tape.cursor -= int(n)
    return type(n)(tape.cursor)


def _read_rule(types, attrs):
    t = _expect_tape(types, 0)
    if len(types) != 2 or not types[1].is_int:
        raise TypeRuleError(1, "i64 position", types[1] if len(types) > 1 else "nothing")
    return [t.element]


define("tape_drop", _drop_rule, effect="write", evaluate=_drop, llvm=Special("tape_drop"),
       notes="cursor -= n (n values pushed last); returns the new cursor, where they start")
define("tape_read", _read_rule, effect="read", evaluate=lambda tape, k: tape.values[int(k)],
       llvm=Special("tape_read"), notes="the value at position k (0 = pushed first)")
define("tape_rewind", _unary_tape_rule, effect="write", evaluate=_rewind,
       llvm=Special("tape_rewind"))
define("tape_free", _unary_tape_rule, effect="write", evaluate=lambda tape: tape.values.clear(),
       llvm=Special("tape_free"))

__all__ = ["Tape", "TapeRecorder"]
