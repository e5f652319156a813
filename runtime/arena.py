"""The per-call arena: every allocation made by generated code during one call.

Invariants:
- `irad.arena.alloc(ctx, nbytes, tag)` mallocs max(nbytes, 1) bytes (so
  every allocation has a distinct, 16-byte aligned address) and records
  `pointer | tag` in the context's arena; it returns null, recording
  nothing, when either malloc or the arena's growth fails. Tag 1 marks a
  tape header, whose data buffer is freed with it.
- `irad.arena.release(ctx, keep, nkeep)` frees every recorded allocation
  not among `keep[0:nkeep]`, then the arena itself. The entry calls it
  once, at the end of every call, keeping what it returns (array bases,
  tape headers); Python owns those from then on.
- The entry zeroes the arena (`init`) before the first allocation.
"""
from __future__ import annotations

from llvmlite import ir

from .abi import CTX, CTX_CAP, CTX_COUNT, CTX_ITEMS, I32, I64, PTR, TAPE, TAPE_DATA, VOID, i64

PLAIN, TAPE_TAG = 0, 1


def malloc(ml) -> ir.Function:
    return ml.declare("malloc", PTR, [I64])


def free(ml) -> ir.Function:
    return ml.declare("free", VOID, [PTR])


def _field(b, ctx, index):
    return b.gep(ctx, [ir.Constant(I32, 0), ir.Constant(I32, index)], inbounds=True, source_etype=CTX)


def init(b: ir.IRBuilder, ctx) -> None:
    b.store(ir.Constant(PTR, None), _field(b, ctx, CTX_ITEMS))
    b.store(i64(0), _field(b, ctx, CTX_COUNT))
    b.store(i64(0), _field(b, ctx, CTX_CAP))


def alloc_fn(ml) -> ir.Function:
    return ml.helper("irad.arena.alloc", PTR, [PTR, I64, I64], lambda fn: _build_alloc(ml, fn))


def release_fn(ml) -> ir.Function:
    return ml.helper("irad.arena.release", VOID, [PTR, PTR, I64], lambda fn: _build_release(ml, fn))


def _build_alloc(ml, fn):
    ctx, nbytes, tag = fn.args
    entry, record, grow, grown_ok, push, undo, nomem = (fn.append_basic_block(n) for n in (
        "entry", "record", "grow", "grown", "push", "undo", "nomem"))
    b = ir.IRBuilder(entry)
    size = b.select(b.icmp_signed("==", nbytes, i64(0)), i64(1), nbytes)
    p = b.call(malloc(ml), [size])
    b.cbranch(b.icmp_unsigned("==", p, ir.Constant(PTR, None)), nomem, record)
    b.position_at_end(record)
    n = b.load(_field(b, ctx, CTX_COUNT), typ=I64)
    cap = b.load(_field(b, ctx, CTX_CAP), typ=I64)
    items = b.load(_field(b, ctx, CTX_ITEMS), typ=PTR)
    b.cbranch(b.icmp_unsigned("==", n, cap), grow, push)
    b.position_at_end(grow)
    new_cap = b.select(b.icmp_unsigned("==", cap, i64(0)), i64(16), b.mul(cap, i64(2)))
    grown = b.call(ml.declare("realloc", PTR, [PTR, I64]), [items, b.mul(new_cap, i64(8))])
    b.cbranch(b.icmp_unsigned("==", grown, ir.Constant(PTR, None)), undo, grown_ok)
    b.position_at_end(grown_ok)
    b.store(grown, _field(b, ctx, CTX_ITEMS))
    b.store(new_cap, _field(b, ctx, CTX_CAP))
    b.branch(push)
    b.position_at_end(push)
    buf = b.phi(PTR)
    buf.add_incoming(items, record)
    buf.add_incoming(grown, grown_ok)
    tagged = b.inttoptr(b.or_(b.ptrtoint(p, I64), tag), PTR)
    b.store(tagged, b.gep(buf, [n], inbounds=True, source_etype=PTR))
    b.store(b.add(n, i64(1)), _field(b, ctx, CTX_COUNT))
    b.ret(p)
    b.position_at_end(undo)                       # realloc failed: the old arena is intact
    b.call(free(ml), [p])
    b.branch(nomem)
    b.position_at_end(nomem)
    b.ret(ir.Constant(PTR, None))


def _build_release(ml, fn):
    ctx, keep, nkeep = fn.args
    entry, outer, inner, test, drop, nxt, done = (fn.append_basic_block(n) for n in (
        "entry", "outer", "inner", "test", "drop", "next", "done"))
    b = ir.IRBuilder(entry)
    n = b.load(_field(b, ctx, CTX_COUNT), typ=I64)
    items = b.load(_field(b, ctx, CTX_ITEMS), typ=PTR)
    b.cbranch(b.icmp_unsigned("==", n, i64(0)), done, outer)
    b.position_at_end(outer)                      # for i in range(n)
    i = b.phi(I64)
    i.add_incoming(i64(0), entry)
    item = b.ptrtoint(b.load(b.gep(items, [i], inbounds=True, source_etype=PTR), typ=PTR), I64)
    p = b.inttoptr(b.and_(item, i64(-2)), PTR)
    b.branch(inner)
    b.position_at_end(inner)                      # for j in range(nkeep): if keep[j] == p: keep it
    j = b.phi(I64)
    j.add_incoming(i64(0), outer)
    b.cbranch(b.icmp_unsigned("<", j, nkeep), test, drop)
    b.position_at_end(test)
    kept = b.load(b.gep(keep, [j], inbounds=True, source_etype=PTR), typ=PTR)
    j.add_incoming(b.add(j, i64(1)), test)
    b.cbranch(b.icmp_unsigned("==", kept, p), nxt, inner)
    b.position_at_end(drop)
    with b.if_then(b.trunc(item, ir.IntType(1))):          # a tape: free its data first
        data_field = b.gep(p, [ir.Constant(I32, 0), ir.Constant(I32, TAPE_DATA)], source_etype=TAPE)
        b.call(free(ml), [b.load(data_field, typ=PTR)])
    b.call(free(ml), [p])
    b.branch(nxt)
    b.position_at_end(nxt)
    i_next = b.add(i, i64(1))
    i.add_incoming(i_next, nxt)
    b.cbranch(b.icmp_unsigned("<", i_next, n), outer, done)
    b.position_at_end(done)
    b.call(free(ml), [items])
    b.ret_void()
