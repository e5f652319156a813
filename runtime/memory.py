"""Lowering of memory ops: dim, load, store, view, alloc, copy, fill.

Invariants:
- An element's address is `data + sum(index_k * stride_k)` in elements;
  with bounds checks on, every index is checked against its extent before
  the address is formed (`FuncLowering.check_index`), and for a slice the
  first and last selected elements are checked.
- A view shares its source's memory and `base`; its offset is formed only
  from elements it selects (an empty slice starts at offset 0), so no
  pointer ever leaves its allocation.
- `alloc` checks for negative extents (ValueError) and size overflow
  (MemoryError) before allocating through the arena, reusing the site's
  cached buffer when it fits (runtime/slots.py) and, in a loop, the
  previous iteration's dead buffer (runtime/scratch.py); a failed malloc
  is a MemoryError, never a crash.
- `transpose` permutes extents and strides; `reshape` (of a C-layout
  source) checks that the new extents are non-negative and multiply,
  without overflow, to the source's size (ValueError otherwise), and
  gives them C strides over the same memory.
- `check` fails with a ValueError carrying the op's message when its
  extents disagree; it is always emitted (it is not a bounds check).
- `copy` requires equal shapes (ValueError otherwise) and gives NumPy's
  `dst[...] = src` result even when the two overlap (it then goes through
  a temporary buffer).
"""
from __future__ import annotations

from llvmlite import ir

from . import arena, scratch
from .abi import PTR, ArrayVal, c_strides, from_mem, i64, itemsize, mem_type, to_mem
from .errors import MEMORY, VALUE, Site
from .loops import constant, loop_nest, trip_count


def element_ptr(L, a: ArrayVal, dtype, indices) -> ir.Value:
    offset = None
    for x, s in zip(indices, a.strides):
        term = x if constant(s) == 1 else L.b.mul(x, s, flags=["nsw"])
        offset = term if offset is None else L.b.add(offset, term, flags=["nsw"])
    if offset is None:
        return a.data
    return L.b.gep(a.data, [offset], inbounds=True, source_etype=mem_type(dtype))


def _load_raw(L, a, dtype, indices, array=None):
    """Load an element; `array` (the IR value of `a`, if any) tags it for alias analysis."""
    instr = L.b.load(element_ptr(L, a, dtype, indices), typ=mem_type(dtype), align=itemsize(dtype))
    if array is not None:
        L.alias.array_access(instr, array)
    return instr


def _store_raw(L, value, a, dtype, indices, array=None):
    instr = L.b.store(value, element_ptr(L, a, dtype, indices), align=itemsize(dtype))
    if array is not None:
        L.alias.array_access(instr, array)


def _check_indices(L, op, a, indices):
    for axis, (x, n) in enumerate(zip(indices, a.shape)):
        L.check_index(op, axis, x, n)


def lower_dim(L, op, values):
    return values[0].shape[op.attrs["axis"]]


def lower_load(L, op, values):
    a, *indices = values
    dtype = op.operands[0].type.dtype
    _check_indices(L, op, a, indices)
    return from_mem(L.b, dtype, _load_raw(L, a, dtype, indices, op.operands[0]))


def lower_store(L, op, values):
    v, a, *indices = values
    dtype = op.operands[1].type.dtype
    _check_indices(L, op, a, indices)
    _store_raw(L, to_mem(L.b, dtype, v), a, dtype, indices, op.operands[1])


def _check_step(L, op, step):
    if isinstance(step, ir.Constant) and step.constant != 0:
        return
    L.check(L.b.icmp_signed("!=", step, i64(0)), VALUE, L.ml.site(L.func, op, "step"), step)


def _slice(L, op, axis, extent, stride, start, stop, step):
    """(offset, length, stride) of start:stop:step on one axis, checked."""
    b = L.b
    _check_step(L, op, step)
    n = trip_count(L, start, stop, step)
    nonempty = b.icmp_unsigned("!=", n, i64(0))
    last = b.add(start, b.mul(b.sub(n, i64(1)), step))
    L.check_index(op, axis, start, extent, kind="slice", when=nonempty)
    L.check_index(op, axis, last, extent, kind="slice", when=nonempty)
    first = b.select(nonempty, start, i64(0))
    return b.mul(first, stride), n, b.mul(step, stride)


def lower_view(L, op, values):
    a, *rest = values
    src_t, res_t = op.operands[0].type, op.results[0].type
    operands = iter(rest)
    offset, shape, strides, axis = i64(0), [], [], 0
    for kind in op.attrs["spec"]:
        if kind == "n":
            shape.append(i64(1))
            strides.append(i64(0))
            continue
        extent, stride = a.shape[axis], a.strides[axis]
        if kind == "i":
            x = next(operands)
            L.check_index(op, axis, x, extent)
            offset = L.b.add(offset, L.b.mul(x, stride))
        elif kind == "s":
            start, stop, step = next(operands), next(operands), next(operands)
            delta, n, s = _slice(L, op, axis, extent, stride, start, stop, step)
            offset = L.b.add(offset, delta)
            shape.append(n)
            strides.append(s)
        else:
            shape.append(extent)
            strides.append(stride)
        axis += 1
    data = L.b.gep(a.data, [offset], inbounds=True, source_etype=mem_type(src_t.dtype))
    if res_t.layout == "C":
        strides = c_strides(L.b, shape)
    return ArrayVal(data, a.base, tuple(shape), tuple(strides))


def lower_transpose(L, op, values):
    (a,) = values
    perm = op.attrs["perm"]
    return ArrayVal(a.data, a.base, tuple(a.shape[p] for p in perm), tuple(a.strides[p] for p in perm))


def checked_extents_product(L, op, start, extents):
    """(start * the product of extents, did it overflow?), raising ValueError for a negative extent."""
    b = L.b
    product, overflow = start, ir.Constant(ir.IntType(1), 0)
    for axis, e in enumerate(extents):
        L.check(b.icmp_signed(">=", e, i64(0)), VALUE, L.ml.site(L.func, op, "negative", axis), e,
                axis=axis)
        step = b.smul_with_overflow(product, e)
        product = b.extract_value(step, 0)
        overflow = b.or_(overflow, b.extract_value(step, 1))
    return product, overflow


def lower_reshape(L, op, values):
    a, *extents = values
    b = L.b
    count, overflow = checked_extents_product(L, op, i64(1), extents)
    size = i64(1)
    for n in a.shape:
        size = b.mul(size, n)
    count = b.select(overflow, i64(-1), count)
    L.check(b.icmp_signed("==", count, size), VALUE, L.ml.site(L.func, op, "reshape"), size, count)
    return ArrayVal(a.data, a.base, tuple(extents), c_strides(b, extents))


def lower_check(L, op, values):
    expected, actual = values
    b = L.b
    ok = b.icmp_signed("==", expected, actual)
    if op.attrs["kind"] == "broadcast":
        ok = b.or_(ok, b.icmp_signed("==", actual, i64(1)))
    L.ml.sites.append(Site(L.func.name, op.name, op.loc, "check", 0, op.attrs["message"]))
    L.check(ok, VALUE, i64(len(L.ml.sites) - 1), expected, actual)


def lower_alloc(L, op, extents):
    b, t = L.b, op.results[0].type
    nbytes, overflow = checked_extents_product(L, op, i64(itemsize(t.dtype)), extents)
    site = L.ml.site(L.func, op, "alloc")
    L.check(b.not_(overflow), MEMORY, site, i64(-1))
    p = scratch.alloc(L, op, nbytes)
    L.check(b.icmp_unsigned("!=", p, ir.Constant(PTR, None)), MEMORY, site, nbytes)
    return ArrayVal(p, p, tuple(extents), c_strides(b, extents))


def byte_range(b, a: ArrayVal, size: int):
    """[lo, hi) addresses a's elements span, and whether a has no element."""
    lo, hi, empty = i64(0), i64(0), ir.Constant(ir.IntType(1), 0)
    for n, s in zip(a.shape, a.strides):
        empty = b.or_(empty, b.icmp_signed("==", n, i64(0)))
        span = b.mul(b.sub(n, i64(1)), s)
        negative = b.icmp_signed("<", span, i64(0))
        lo = b.add(lo, b.select(negative, span, i64(0)))
        hi = b.add(hi, b.select(negative, i64(0), span))
    base = b.ptrtoint(a.data, ir.IntType(64))
    return (b.add(base, b.mul(lo, i64(size))), b.add(base, b.mul(b.add(hi, i64(1)), i64(size))), empty)


def _overlap(L, src, dst, size):
    b = L.b
    s_lo, s_hi, s_empty = byte_range(b, src, size)
    d_lo, d_hi, d_empty = byte_range(b, dst, size)
    meet = b.and_(b.icmp_unsigned("<", s_lo, d_hi), b.icmp_unsigned("<", d_lo, s_hi))
    return b.and_(meet, b.not_(b.or_(s_empty, d_empty)))


def _copy_elements(L, src, dst, dtype, src_ir=None, dst_ir=None):
    loop_nest(L, dst.shape, lambda idx: _store_raw(L, _load_raw(L, src, dtype, idx, src_ir), dst, dtype, idx,
                                                   dst_ir))


def lower_copy(L, op, values):
    src, dst = values
    b, dtype = L.b, op.operands[0].type.dtype
    for axis, (m, n) in enumerate(zip(src.shape, dst.shape)):
        L.check(b.icmp_signed("==", m, n), VALUE, L.ml.site(L.func, op, "copy", axis), m, n, axis)
    size = itemsize(dtype)
    direct, buffered, done = L.new_block("copy.direct"), L.new_block("copy.buffered"), L.new_block("copy.end")
    b.cbranch(_overlap(L, src, dst, size), buffered, direct)
    b.position_at_end(direct)
    _copy_elements(L, src, dst, dtype, *op.operands)
    b.branch(done)
    b.position_at_end(buffered)
    count = i64(1)
    for n in dst.shape:
        count = b.mul(count, n)
    tmp = b.call(arena.malloc(L.ml), [b.add(b.mul(count, i64(size)), i64(1))])
    L.check(b.icmp_unsigned("!=", tmp, ir.Constant(PTR, None)), MEMORY, L.ml.site(L.func, op, "alloc"),
            b.mul(count, i64(size)))
    staged = ArrayVal(tmp, tmp, dst.shape, c_strides(b, dst.shape))
    _copy_elements(L, src, staged, dtype, op.operands[0])
    _copy_elements(L, staged, dst, dtype, None, op.operands[1])
    b.call(arena.free(L.ml), [tmp])
    b.branch(done)
    b.position_at_end(done)


def lower_fill(L, op, values):
    a, v = values
    dtype = op.operands[0].type.dtype
    stored = to_mem(L.b, dtype, v)
    loop_nest(L, a.shape, lambda idx: _store_raw(L, stored, a, dtype, idx, op.operands[0]))


SPECIALS = {"dim": lower_dim, "load": lower_load, "store": lower_store, "view": lower_view,
            "transpose": lower_transpose, "reshape": lower_reshape, "check": lower_check,
            "alloc": lower_alloc, "copy": lower_copy, "fill": lower_fill}
