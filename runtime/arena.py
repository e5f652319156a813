"""The per-call arena: every allocation made by generated code during one call.

Invariants:
- The arena records each allocation as {pointer | tag, slot, bytes}.
  Tags (low bits; malloc aligns to 8 at least): PLAIN, TAPE_TAG (a tape
  header, whose buffer goes with it) and CACHED (a buffer of `bytes` that
  belongs to cache `slot`, runtime/slots.py).
- `irad.arena.alloc(ctx, nbytes, tag)` mallocs max(nbytes, 1) bytes (so
  every allocation has a distinct address) and records it;
  `irad.arena.alloc_cached(ctx, nbytes, slot)` takes the slot's buffer
  when it holds nbytes and is not much larger, else mallocs. Both return
  null, recording nothing and leaking nothing, when malloc or the arena's
  growth fails.
- `irad.arena.release(ctx, keep, nkeep)` drops every recorded allocation
  not among `keep[0:nkeep]`, then the arena itself: PLAIN is freed, CACHED
  is parked in its slot, a tape's buffer is parked in the tape's slot and
  its header freed. A kept tape loses its slot (Python owns its buffer
  now). The entry calls it once, at the end of every call, keeping what
  it returns (array bases, tape headers).
- The entry zeroes the arena (`init`) before the first allocation.
- The functions here belong to the runtime library (runtime/library.py):
  compiled once per process, called by every module.
"""
from __future__ import annotations

from llvmlite import ir

from . import slots
from .abi import CTX, CTX_CAP, CTX_COUNT, CTX_ITEMS, I32, I64, PTR, TAPE, TAPE_CAP, TAPE_DATA, TAPE_SIZE, \
    TAPE_SLOT, VOID, i64

PLAIN, TAPE_TAG, CACHED = 0, 1, 2
_TAG_BITS = 7
_RECORD = ir.LiteralStructType([I64, PTR, I64])          # pointer | tag, slot, bytes
_RECORD_BYTES = 24
_NULL = ir.Constant(PTR, None)


def malloc(ml) -> ir.Function:
    return ml.declare("malloc", PTR, [I64])


def free(ml) -> ir.Function:
    return ml.declare("free", VOID, [PTR])


def _field(b, ctx, index):
    return b.gep(ctx, [ir.Constant(I32, 0), ir.Constant(I32, index)], inbounds=True, source_etype=CTX)


def _member(b, ptr, ty, index):
    return b.gep(ptr, [ir.Constant(I32, 0), ir.Constant(I32, index)], inbounds=True, source_etype=ty)


def init(b: ir.IRBuilder, ctx) -> None:
    b.store(_NULL, _field(b, ctx, CTX_ITEMS))
    b.store(i64(0), _field(b, ctx, CTX_COUNT))
    b.store(i64(0), _field(b, ctx, CTX_CAP))


def alloc_fn(ml) -> ir.Function:
    return ml.shared("irad.arena.alloc", PTR, [PTR, I64, I64], lambda fn: _build_alloc(ml, fn))


def cached_alloc_fn(ml) -> ir.Function:
    return ml.shared("irad.arena.alloc_cached", PTR, [PTR, I64, PTR], lambda fn: _build_cached(ml, fn))


def release_fn(ml) -> ir.Function:
    return ml.shared("irad.arena.release", VOID, [PTR, PTR, I64], lambda fn: _build_release(ml, fn))


def _record_fn(ml) -> ir.Function:
    """irad.arena.record(ctx, item, slot, bytes) -> i1: false if the arena cannot grow."""
    return ml.shared("irad.arena.record", ir.IntType(1), [PTR, I64, PTR, I64], lambda fn: _build_record(ml, fn))


def _build_record(ml, fn):
    ctx, item, slot, nbytes = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    n = b.load(_field(b, ctx, CTX_COUNT), typ=I64)
    cap = b.load(_field(b, ctx, CTX_CAP), typ=I64)
    with b.if_then(b.icmp_unsigned("==", n, cap), likely=False):
        new_cap = b.select(b.icmp_unsigned("==", cap, i64(0)), i64(16), b.mul(cap, i64(2)))
        items = b.load(_field(b, ctx, CTX_ITEMS), typ=PTR)
        grown = b.call(ml.declare("realloc", PTR, [PTR, I64]), [items, b.mul(new_cap, i64(_RECORD_BYTES))])
        with b.if_then(b.icmp_unsigned("==", grown, _NULL), likely=False):
            b.ret(ir.Constant(ir.IntType(1), 0))             # the old arena is intact
        b.store(grown, _field(b, ctx, CTX_ITEMS))
        b.store(new_cap, _field(b, ctx, CTX_CAP))
    record = b.gep(b.load(_field(b, ctx, CTX_ITEMS), typ=PTR), [n], inbounds=True, source_etype=_RECORD)
    for index, value in enumerate((item, slot, nbytes)):
        b.store(value, _member(b, record, _RECORD, index))
    b.store(b.add(n, i64(1)), _field(b, ctx, CTX_COUNT))
    b.ret(ir.Constant(ir.IntType(1), 1))


def _build_alloc(ml, fn):
    ctx, nbytes, tag = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    p = b.call(malloc(ml), [b.select(b.icmp_signed("==", nbytes, i64(0)), i64(1), nbytes)])
    _record_or_fail(ml, b, ctx, p, tag, _NULL, i64(0))


def _record_or_fail(ml, b, ctx, p, tag, slot, nbytes):
    """Return p once recorded; null (freeing p) if p is null or the arena cannot grow."""
    with b.if_then(b.icmp_unsigned("==", p, _NULL), likely=False):
        b.ret(_NULL)
    item = b.or_(b.ptrtoint(p, I64), tag)
    with b.if_then(b.not_(b.call(_record_fn(ml), [ctx, item, slot, nbytes])), likely=False):
        b.call(free(ml), [p])
        b.ret(_NULL)
    b.ret(p)


def _build_cached(ml, fn):
    """Reuse the slot's buffer if it holds nbytes and wastes at most nbytes + 4 KiB."""
    ctx, nbytes, slot = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    taken = b.call(slots.take_fn(ml), [slot])
    p, cap = b.extract_value(taken, 0), b.extract_value(taken, 1)
    fits = b.and_(b.icmp_unsigned(">=", cap, nbytes),
                  b.icmp_unsigned("<=", cap, b.add(b.mul(nbytes, i64(2)), i64(4096))))
    reuse = b.and_(b.icmp_unsigned("!=", p, _NULL), fits)
    before = b.block
    with b.if_then(b.not_(reuse), likely=False):
        b.call(free(ml), [p])
        size = b.select(b.icmp_unsigned("<", nbytes, i64(slots.MIN_BYTES)), i64(slots.MIN_BYTES), nbytes)
        fresh_p = b.call(malloc(ml), [size])
        fresh_block = b.block
    buf, nb = b.phi(PTR), b.phi(I64)
    buf.add_incoming(p, before)
    buf.add_incoming(fresh_p, fresh_block)
    nb.add_incoming(cap, before)
    nb.add_incoming(size, fresh_block)
    _record_or_fail(ml, b, ctx, buf, i64(CACHED), slot, nb)


def _build_release(ml, fn):
    ctx, keep, nkeep = fn.args
    entry = fn.append_basic_block("entry")
    b = ir.IRBuilder(entry)
    n = b.load(_field(b, ctx, CTX_COUNT), typ=I64)
    items = b.load(_field(b, ctx, CTX_ITEMS), typ=PTR)
    outer = fn.append_basic_block("outer")
    done = fn.append_basic_block("done")
    b.cbranch(b.icmp_unsigned("==", n, i64(0)), done, outer)
    b.position_at_end(outer)                                  # for i in range(n)
    i = b.phi(I64)
    i.add_incoming(i64(0), entry)
    record = b.gep(items, [i], inbounds=True, source_etype=_RECORD)
    item = b.load(_member(b, record, _RECORD, 0), typ=I64)
    p, tag = b.inttoptr(b.and_(item, i64(~_TAG_BITS)), PTR), b.and_(item, i64(_TAG_BITS))
    is_tape = b.icmp_unsigned("==", tag, i64(TAPE_TAG))
    kept = _is_kept(fn, b, keep, nkeep, p)
    with b.if_else(kept) as (yes, no):
        with yes:
            with b.if_then(is_tape):                          # Python owns its buffer now
                b.store(_NULL, _member(b, p, TAPE, TAPE_SLOT))
        with no:
            _drop(ml, b, record, p, tag, is_tape)
    i_next = b.add(i, i64(1))
    i.add_incoming(i_next, b.block)
    b.cbranch(b.icmp_unsigned("<", i_next, n), outer, done)
    b.position_at_end(done)
    b.call(free(ml), [items])
    b.ret_void()


def _is_kept(fn, b, keep, nkeep, p) -> ir.Value:
    """Whether p is among keep[0:nkeep] (a loop; nkeep is the number of results)."""
    head, test, out = (fn.append_basic_block(n) for n in ("keep.head", "keep.test", "keep.out"))
    start = b.block
    b.branch(head)
    b.position_at_end(head)
    j = b.phi(I64)
    j.add_incoming(i64(0), start)
    more = b.icmp_unsigned("<", j, nkeep)
    b.cbranch(more, test, out)
    b.position_at_end(test)
    found = b.icmp_unsigned("==", b.load(b.gep(keep, [j], inbounds=True, source_etype=PTR), typ=PTR), p)
    j.add_incoming(b.add(j, i64(1)), test)
    b.cbranch(found, out, head)
    b.position_at_end(out)
    kept = b.phi(ir.IntType(1))
    kept.add_incoming(ir.Constant(ir.IntType(1), 0), head)
    kept.add_incoming(ir.Constant(ir.IntType(1), 1), test)
    return kept


def _drop(ml, b, record, p, tag, is_tape) -> None:
    park = slots.park_fn(ml)
    with b.if_else(is_tape) as (tape, other):
        with tape:
            data = b.load(_member(b, p, TAPE, TAPE_DATA), typ=PTR)
            nbytes = b.mul(b.load(_member(b, p, TAPE, TAPE_CAP), typ=I64),
                           b.load(_member(b, p, TAPE, TAPE_SIZE), typ=I64))
            b.call(park, [b.load(_member(b, p, TAPE, TAPE_SLOT), typ=PTR), data, nbytes])
            b.call(free(ml), [p])
        with other:
            cached = b.icmp_unsigned("==", tag, i64(CACHED))
            slot = b.select(cached, b.load(_member(b, record, _RECORD, 1), typ=PTR), _NULL)
            b.call(park, [slot, p, b.load(_member(b, record, _RECORD, 2), typ=I64)])
