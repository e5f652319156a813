"""Tapes in native code (reverse mode's per-value stacks), and their Python handle.

Invariants (semantics of irad/ops/tape.py):
- A tape is a pointer to a `TAPE` header {data, length, capacity, cursor,
  slot, element size}; elements are stored in their memory type
  (`abi.mem_type`).
- `tape_new` allocates the header through the arena, tagged as a tape, so
  a tape that is not returned is released (data and header) when the call
  ends, whatever path it takes. Each `tape_new` site has a cache slot
  (runtime/slots.py): the new tape starts with the buffer parked there,
  if any, as its capacity, and its buffer is parked there again when the
  tape is released or `tape_free`d (which empties the tape; the header
  stays for the arena), so repeated calls reuse already faulted memory.
  A tape returned to Python keeps its buffer and loses its slot.
- `tape_push` appends, doubling the capacity when full (a failed growth is
  a MemoryError and leaves the tape intact); `tape_reserve` grows the
  capacity to at least length + n, at least doubling it; `tape_pop` moves
  the cursor back and reads there (with bounds checks on, popping past the
  start is an IndexError); `tape_rewind` puts the cursor back at the end.
  Sizes are computed with overflow checks (an overflow is a MemoryError).
- Pushes and pops that `runtime/versioning.py` promoted read their element
  address from `FuncLowering.promoted` instead of the header.
- Header and element accesses are tagged for alias analysis (runtime/alias.py).
- A tape returned to Python becomes a `TapeHandle` that owns it; handles
  passed back as arguments are borrowed, never freed by native code (a
  `tape_free` of one frees its buffer: it has no slot).
"""
from __future__ import annotations

import ctypes

from llvmlite import ir

from . import arena, slots
from .abi import (I32, I64, PTR, TAPE, TAPE_CAP, TAPE_CURSOR, TAPE_DATA, TAPE_LEN, TAPE_SIZE, TAPE_SLOT,
                  from_mem, i64, itemsize, mem_type, to_mem)
from .errors import MEMORY

_HEADER_BYTES = 48                      # TAPE: data, three i64, slot, element size


def _field(b, tape, index):
    return b.gep(tape, [ir.Constant(I32, 0), ir.Constant(I32, index)], inbounds=True, source_etype=TAPE)


def _get(b, tape, index):
    return b.load(_field(b, tape, index), typ=PTR if index in (TAPE_DATA, TAPE_SLOT) else I64)


def get_field(L, tape, index) -> ir.Value:
    """A header field, loaded in generated code (tagged as a tape-header access)."""
    instr = _get(L.b, tape, index)
    L.alias.tape_header(instr)
    return instr


def set_field(L, tape, index, value) -> None:
    L.alias.tape_header(L.b.store(value, _field(L.b, tape, index)))


def _element(L, data, k, t):
    return L.b.gep(data, [k], inbounds=True, source_etype=mem_type(t))


def lower_tape_new(L, op, values):
    b, size = L.b, itemsize(op.results[0].type.element)
    h = b.call(arena.alloc_fn(L.ml), [L.ctx, i64(_HEADER_BYTES), i64(arena.TAPE_TAG)])
    L.check(b.icmp_unsigned("!=", h, ir.Constant(PTR, None)), MEMORY, L.ml.site(L.func, op, "alloc"),
            i64(_HEADER_BYTES))
    slot = slots.new_slot(L.ml)
    taken = b.call(slots.take_fn(L.ml), [slot])
    set_field(L, h, TAPE_DATA, b.extract_value(taken, 0))
    set_field(L, h, TAPE_CAP, b.udiv(b.extract_value(taken, 1), i64(size)))
    for index in (TAPE_LEN, TAPE_CURSOR):
        set_field(L, h, index, i64(0))
    set_field(L, h, TAPE_SLOT, slot)
    set_field(L, h, TAPE_SIZE, i64(size))
    return h


def _grow_fn(ml, size: int) -> ir.Function:
    """irad.tape.grow.<size>(tape) -> i1: double the capacity; false if realloc fails."""
    def build(fn):
        (h,) = fn.args
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        cap = _get(b, h, TAPE_CAP)
        new_cap = b.select(b.icmp_unsigned("==", cap, i64(0)), i64(16), b.mul(cap, i64(2)))
        nbytes = b.umul_with_overflow(new_cap, i64(size))
        with b.if_then(b.extract_value(nbytes, 1), likely=False):
            b.ret(ir.Constant(ir.IntType(1), 0))
        realloc = ml.declare("realloc", PTR, [PTR, I64])
        data = b.call(realloc, [_get(b, h, TAPE_DATA), b.extract_value(nbytes, 0)])
        ok = b.icmp_unsigned("!=", data, ir.Constant(PTR, None))
        with b.if_then(ok):
            b.store(data, _field(b, h, TAPE_DATA))
            b.store(new_cap, _field(b, h, TAPE_CAP))
        b.ret(ok)
    return ml.helper(f"irad.tape.grow.{size}", ir.IntType(1), [PTR], build)


def lower_tape_push(L, op, values):
    h, v = values
    b, t = L.b, op.operands[1].type
    promoted = L.promoted.get(op)
    if promoted is not None:                      # runtime/versioning.py reserved the room
        data, k = promoted
        L.alias.tape_data(b.store(to_mem(b, t, v), _element(L, data, k, t)))
        return
    n = get_field(L, h, TAPE_LEN)
    full = b.icmp_unsigned("==", n, get_field(L, h, TAPE_CAP))
    with b.if_then(full, likely=False):
        grown = b.call(_grow_fn(L.ml, itemsize(t)), [h])
        L.check(grown, MEMORY, L.ml.site(L.func, op, "alloc"), b.mul(b.add(n, n), i64(itemsize(t))))
    data = get_field(L, h, TAPE_DATA)
    L.alias.tape_data(b.store(to_mem(b, t, v), _element(L, data, n, t)))
    set_field(L, h, TAPE_LEN, b.add(n, i64(1)))


def _reserve_fn(ml, size: int) -> ir.Function:
    """irad.tape.reserve.<size>(tape, n) -> i1: capacity >= length + n (growing at least
    twofold, so reserving in a loop stays linear); false on overflow or if realloc fails."""
    def build(fn):
        h, n = fn.args
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        want = b.uadd_with_overflow(_get(b, h, TAPE_LEN), n)
        with b.if_then(b.or_(b.extract_value(want, 1), b.icmp_signed("<", b.extract_value(want, 0), i64(0))),
                       likely=False):
            b.ret(ir.Constant(ir.IntType(1), 0))
        want = b.extract_value(want, 0)
        cap = _get(b, h, TAPE_CAP)
        short = b.icmp_signed(">", want, cap)
        with b.if_then(short):
            double = b.mul(cap, i64(2))
            new_cap = b.select(b.icmp_signed(">", double, want), double, want)
            nbytes = b.umul_with_overflow(new_cap, i64(size))
            with b.if_then(b.extract_value(nbytes, 1), likely=False):
                b.ret(ir.Constant(ir.IntType(1), 0))
            realloc = ml.declare("realloc", PTR, [PTR, I64])
            data = b.call(realloc, [_get(b, h, TAPE_DATA), b.extract_value(nbytes, 0)])
            failed = b.icmp_unsigned("==", data, ir.Constant(PTR, None))
            with b.if_then(failed):
                b.ret(ir.Constant(ir.IntType(1), 0))
            b.store(data, _field(b, h, TAPE_DATA))
            b.store(new_cap, _field(b, h, TAPE_CAP))
        b.ret(ir.Constant(ir.IntType(1), 1))
    return ml.helper(f"irad.tape.reserve.{size}", ir.IntType(1), [PTR, I64], build)


def reserve(L, op, h, n, overflow=None) -> None:
    """Room for `n` more elements on tape `h` (elements of op's tape type), or a MemoryError at op."""
    b, t = L.b, op.operands[0].type.element
    ok = b.call(_reserve_fn(L.ml, itemsize(t)), [h, n])
    if overflow is not None:
        ok = b.and_(ok, b.not_(overflow))
    L.check(ok, MEMORY, L.ml.site(L.func, op, "alloc"), b.mul(n, i64(itemsize(t))))


def lower_tape_reserve(L, op, values):
    h, n = values
    reserve(L, op, h, n)


def lower_tape_pop(L, op, values):
    (h,) = values
    b, t = L.b, op.results[0].type
    promoted = L.promoted.get(op)
    if promoted is not None:                      # runtime/versioning.py checked the cursor
        data, k = promoted
    else:
        k = b.sub(get_field(L, h, TAPE_CURSOR), i64(1))
        L.check_index(op, 0, k, get_field(L, h, TAPE_LEN), kind="tape")
        set_field(L, h, TAPE_CURSOR, k)
        data = get_field(L, h, TAPE_DATA)
    instr = b.load(_element(L, data, k, t), typ=mem_type(t))
    L.alias.tape_data(instr)
    return from_mem(b, t, instr)


def lower_tape_drop(L, op, values):
    h, n = values
    b = L.b
    start = b.sub(get_field(L, h, TAPE_CURSOR), n)
    L.check_index(op, 0, start, b.add(get_field(L, h, TAPE_LEN), i64(1)), kind="tape")
    set_field(L, h, TAPE_CURSOR, start)
    return start


def lower_tape_read(L, op, values):
    h, k = values
    t = op.results[0].type
    instr = L.b.load(_element(L, get_field(L, h, TAPE_DATA), k, t), typ=mem_type(t))
    L.alias.tape_data(instr)
    return from_mem(L.b, t, instr)


def lower_tape_rewind(L, op, values):
    (h,) = values
    set_field(L, h, TAPE_CURSOR, get_field(L, h, TAPE_LEN))


def lower_tape_free(L, op, values):
    (h,) = values
    b, size = L.b, itemsize(op.operands[0].type.element)
    nbytes = b.mul(get_field(L, h, TAPE_CAP), i64(size))
    b.call(slots.park_fn(L.ml), [get_field(L, h, TAPE_SLOT), get_field(L, h, TAPE_DATA), nbytes])
    set_field(L, h, TAPE_DATA, ir.Constant(PTR, None))
    for index in (TAPE_LEN, TAPE_CAP, TAPE_CURSOR):
        set_field(L, h, index, i64(0))


SPECIALS = {"tape_new": lower_tape_new, "tape_push": lower_tape_push, "tape_pop": lower_tape_pop,
            "tape_reserve": lower_tape_reserve, "tape_drop": lower_tape_drop, "tape_read": lower_tape_read,
            "tape_rewind": lower_tape_rewind, "tape_free": lower_tape_free}


# ---- Python side ------------------------------------------------------------------------

class _Header(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("length", ctypes.c_int64), ("capacity", ctypes.c_int64),
                ("cursor", ctypes.c_int64), ("slot", ctypes.c_void_p), ("itemsize", ctypes.c_int64)]


class TapeHandle:
    """A tape returned by native code; owns it and frees it when collected.

    Pass it back to a compiled function taking a tape of the same element type."""

    __slots__ = ("ptr", "element", "_free")

    def __init__(self, ptr: int, element, free):
        self.ptr, self.element, self._free = ptr, element, free

    @property
    def _as_parameter_(self) -> int:
        return self.ptr

    def __len__(self) -> int:
        return _Header.from_address(self.ptr).length

    def values(self) -> list:
        """The elements pushed so far, oldest first, as NumPy scalars."""
        import numpy as np
        header = _Header.from_address(self.ptr)
        if not header.length:
            return []
        buf = (ctypes.c_char * (header.length * self.element.numpy.itemsize)).from_address(header.data)
        return list(np.frombuffer(buf, dtype=self.element.numpy).copy())

    def __del__(self):
        header = _Header.from_address(self.ptr)
        self._free(header.data)
        self._free(self.ptr)

    def __repr__(self) -> str:
        return f"<TapeHandle tape<{self.element}> of {len(self)}>"
