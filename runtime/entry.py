"""Exported entry points of a compiled function, and what they check.

Invariants:
- `irad.entry.<name>(abi args..., ptr out) -> i32` is the C ABI: arrays as
  data pointer, shape[ndim], strides[ndim] (elements; ignored for layout
  "C", whose strides are recomputed), bools as one byte. It runs the
  function with a fresh context, then frees every temporary allocation.
  Before running, it refuses (ARGUMENT, arg, ALIASED, other arg) any
  `noalias` array argument whose elements' address range meets another
  array argument's (an empty array meets nothing): the alias metadata
  (runtime/alias.py) relies on it. On success (0) `out` holds the results
  (`abi.out_type`); an array result holds data, base, owner (the index of the argument whose data pointer is
  its base, or -1 when its base is a fresh allocation now owned by the
  caller), shape and strides. On failure `out` holds the error record.
- `irad.packed.<name>(ptr slots, ptr out) -> i32` is the C entry with
  its arguments read from i64 slots, one per C-ABI value: what the shared
  CPython wrapper (runtime/support.py) calls after unboxing. NumPy's
  ndarray and dtype field offsets that the wrapper reads are verified
  against NumPy at import (`ndarray_layout`); the argument reasons
  (NOT_NDARRAY ... ALIASED) name what a failed check refused.
"""
from __future__ import annotations

import ctypes
import sys
from dataclasses import dataclass

import numpy as np
from llvmlite import ir

from irad.ir import Func
from irad.ops import OPS
from irad.types import ScalarType, TapeType

from . import arena
from .abi import (CTX, CTX_ERR, ERR_FIELDS, I8, I32, I64, PTR, ArrayVal, abi_types, c_strides, from_mem,
                  i64, itemsize, out_type, stack_slot)
from .errors import ARGUMENT

NOT_NDARRAY, NDIM, DTYPE, BYTEORDER, MISALIGNED, NOT_CONTIGUOUS, READONLY, STRIDE, ALIASED = range(1, 10)
NPY_C_CONTIGUOUS, NPY_ALIGNED, NPY_WRITEABLE = 0x1, 0x100, 0x400


def entry_name(name: str) -> str:
    return f"irad.entry.{name}"


def packed_name(name: str) -> str:
    return f"irad.packed.{name}"


# ---- NumPy's object layout ---------------------------------------------------------

@dataclass(frozen=True)
class NdarrayLayout:
    ob_type: int
    data: int
    nd: int
    dims: int
    strides: int
    descr: int
    flags: int
    descr_byteorder: int
    descr_type_num: int


def _candidate_layout() -> NdarrayLayout:
    head = object.__basicsize__                 # PyObject_HEAD
    word = ctypes.sizeof(ctypes.c_void_p)
    return NdarrayLayout(ob_type=head - word, data=head, nd=head + word, dims=head + 2 * word,
                         strides=head + 3 * word, descr=head + 5 * word, flags=head + 6 * word,
                         descr_byteorder=head + word + 2, descr_type_num=head + word + 4)


def _read(address, ctype):
    return ctype.from_address(address).value


def _verify(layout: NdarrayLayout) -> bool:
    a = np.zeros((3, 4), dtype=np.float32)[:, ::2]
    obj = id(a)
    dims = _read(obj + layout.dims, ctypes.c_void_p)
    strides = _read(obj + layout.strides, ctypes.c_void_p)
    descr = _read(obj + layout.descr, ctypes.c_void_p)
    return (_read(obj + layout.ob_type, ctypes.c_void_p) == id(np.ndarray)
            and _read(obj + layout.data, ctypes.c_void_p) == a.__array_interface__["data"][0]
            and _read(obj + layout.nd, ctypes.c_int) == 2
            and [_read(dims + 8 * k, ctypes.c_int64) for k in range(2)] == [3, 2]
            and [_read(strides + 8 * k, ctypes.c_int64) for k in range(2)] == list(a.strides)
            and descr == id(a.dtype)
            and _read(obj + layout.flags, ctypes.c_int) == a.flags.num
            and _read(descr + layout.descr_type_num, ctypes.c_int) == a.dtype.num
            and _read(descr + layout.descr_byteorder, ctypes.c_char) == a.dtype.byteorder.encode())


def ndarray_layout() -> NdarrayLayout | None:
    """Field offsets of ndarray and dtype objects, or None when they cannot be verified."""
    layout = _candidate_layout()
    try:
        return layout if _verify(layout) else None
    except (ValueError, OSError):
        return None


LAYOUT = ndarray_layout()
SWAPPED = b">" if sys.byteorder == "little" else b"<"


def type_nums(t: ScalarType) -> list[int]:
    """NumPy type numbers of dtypes with t's kind and size (int64 is both long and longlong)."""
    want = t.numpy
    nums = {want.num}
    for code in np.typecodes["All"]:
        d = np.dtype(code)
        if d.kind == want.kind and d.itemsize == want.itemsize:
            nums.add(d.num)
    return sorted(nums)


# ---- which arguments a function may write -----------------------------------------

def written_args(name: str, funcs: dict, memo: dict | None = None) -> frozenset:
    """Indices of array arguments of @name that an op naming its written operand
    (`OpDef.writes`: store, copy, fill, gemm) or a call may write.

    Conservative: any other op with a write effect writes all its array operands."""
    memo = {} if memo is None else memo
    if name in memo:
        return memo[name]
    func = funcs[name]
    everything = frozenset(k for k, a in enumerate(func.args) if a.type.is_array)
    memo[name] = everything                     # recursion: assume the worst
    roots = {a: frozenset({k}) for k, a in enumerate(func.args) if a.type.is_array}
    written = set()
    for op in func.walk():
        get = lambda v: roots.get(v, everything)  # noqa: E731
        if op.opdef.is_view:
            roots[op.results[0]] = get(op.operands[0])
        elif op.name == "select" and op.results[0].type.is_array:
            roots[op.results[0]] = get(op.operands[1]) | get(op.operands[2])
        elif op.name == "alloc":
            roots[op.results[0]] = frozenset()
        elif op.opdef.writes is not None:
            written |= get(op.operands[op.opdef.writes])
        elif op.name == "call" and op.attrs["callee"] in funcs:
            for j in written_args(op.attrs["callee"], funcs, memo):
                written |= get(op.operands[j]) if j < len(op.operands) else everything
        elif OPS[op.name].effect == "write":
            for v in op.operands:
                written |= get(v) if v.type.is_array else frozenset()
    memo[name] = frozenset(written)
    return memo[name]


# ---- the C entry ----------------------------------------------------------------------

def _out_struct(func: Func) -> ir.LiteralStructType:
    return ir.LiteralStructType([out_type(t) for t in func.result_types])


def _gep(b, ptr, ty, *indices):
    return b.gep(ptr, [ir.Constant(I32, k) for k in indices], inbounds=True, source_etype=ty)


def build_entry(ml, func: Func) -> ir.Function:
    impl = ml.impls[func.name]
    if not ml.is_callee(func) and not ml.noalias_args(func):
        # inlined before LLVM simplifies it, not after: the body is optimized once, not twice (a
        # fifth of the optimizer's time; the suite's primals as fast). Not with noalias arguments:
        # LLVM vectorizes fewer of a gradient's loops when their noalias parameters become scopes.
        impl.attributes.add("alwaysinline")
    abi = [t for a in func.args for t in abi_types(a.type)]
    fn = ir.Function(ml.module, ir.FunctionType(I32, abi + [PTR]), entry_name(func.name))
    fn.attributes.add("nounwind")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    ctx = stack_slot(b, CTX)
    arena.init(b, ctx)
    params, out = list(fn.args[:-1]), fn.args[-1]
    flat, datas, arrays = [], [], {}
    for k, a in enumerate(func.args):
        t = a.type
        if t.is_scalar or isinstance(t, TapeType):
            flat.append(from_mem(b, t, params.pop(0)) if t.is_scalar else params.pop(0))
            continue
        data, shape = params[0], params[1:1 + t.ndim]
        strides = c_strides(b, shape) if t.layout == "C" else params[1 + t.ndim:1 + 2 * t.ndim]
        del params[:1 + 2 * t.ndim]
        flat += [data, data, *shape, *strides]
        datas.append((k, data))
        arrays[k] = (ArrayVal(data, data, tuple(shape), tuple(strides)), itemsize(t.dtype))
    _check_noalias(fn, b, ml.noalias_args(func), arrays, out)
    result = b.call(impl, [ctx, *flat])
    status = b.extract_value(result, 0)
    failed, ok = fn.append_basic_block("failed"), fn.append_basic_block("ok")
    b.cbranch(b.icmp_signed("==", status, ir.Constant(I32, 0)), ok, failed)
    b.position_at_end(failed)
    for j in range(ERR_FIELDS):
        b.store(b.load(_gep(b, ctx, CTX, 0, CTX_ERR, j), typ=I64), b.gep(out, [i64(j)], source_etype=I64))
    b.call(arena.release_fn(ml), [ctx, ir.Constant(PTR, None), i64(0)])
    b.ret(status)
    b.position_at_end(ok)
    _store_results(ml, b, func, ctx, result, out, datas)
    b.ret(ir.Constant(I32, 0))
    return fn


def _check_noalias(fn, b, noalias, arrays, out) -> None:
    """Refuse a noalias array argument that overlaps another array argument (module invariants)."""
    from .memory import byte_range
    if not noalias:
        return
    ranges = {}
    for k in sorted(arrays):
        ranges[k] = byte_range(b, *arrays[k])
    for k in sorted(noalias):
        lo, hi, empty = ranges[k]
        for j in sorted(ranges):
            if j == k:
                continue
            lo2, hi2, empty2 = ranges[j]
            meet = b.and_(b.icmp_unsigned("<", lo, hi2), b.icmp_unsigned("<", lo2, hi))
            meet = b.and_(meet, b.not_(b.or_(empty, empty2)))
            bad, good = fn.append_basic_block("aliased"), fn.append_basic_block("not_aliased")
            b.cbranch(meet, bad, good).set_weights([1, 1 << 20])
            b.position_at_end(bad)
            for m, v in enumerate([i64(ARGUMENT), i64(k), i64(ALIASED), i64(j), i64(0)]):
                b.store(v, b.gep(out, [i64(m)], source_etype=I64))
            b.ret(ir.Constant(I32, ARGUMENT))
            b.position_at_end(good)


def _store_results(ml, b, func, ctx, result, out, datas):
    ost = _out_struct(func)
    keep = stack_slot(b, PTR, max(1, len(func.result_types)))
    nkeep, k = 0, 1
    for j, t in enumerate(func.result_types):
        slot = _gep(b, out, ost, 0, j)
        if t.is_scalar:
            value = b.extract_value(result, k)
            b.store(b.zext(value, I8) if t.is_bool else value, slot)
            k += 1
            continue
        if isinstance(t, TapeType):
            tape = b.extract_value(result, k)
            b.store(tape, slot)
            b.store(tape, b.gep(keep, [i64(nkeep)], source_etype=PTR))
            nkeep, k = nkeep + 1, k + 1
            continue
        data, base = b.extract_value(result, k), b.extract_value(result, k + 1)
        fields = [b.extract_value(result, k + 2 + m) for m in range(2 * t.ndim)]
        k += 2 + 2 * t.ndim
        owner = i64(-1)
        for index, arg_data in reversed(datas):
            owner = b.select(b.icmp_unsigned("==", base, arg_data), i64(index), owner)
        st = ost.elements[j]
        b.store(data, _gep(b, slot, st, 0, 0))
        b.store(base, _gep(b, slot, st, 0, 1))
        b.store(owner, _gep(b, slot, st, 0, 2))
        for m in range(t.ndim):
            b.store(fields[m], _gep(b, slot, st, 0, 3, m))
            b.store(fields[t.ndim + m], _gep(b, slot, st, 0, 4, m))
        b.store(base, b.gep(keep, [i64(nkeep)], source_etype=PTR))
        nkeep += 1
    b.call(arena.release_fn(ml), [ctx, keep, i64(nkeep)])


# ---- the packed entry --------------------------------------------------------------

def build_packed(ml, func: Func, entry: ir.Function) -> ir.Function:
    """`irad.packed.<name>(ptr slots, ptr out) -> i32`: the C entry with each C-ABI value read
    from its own i64 slot (scalars stored in their memory type at the slot's start)."""
    fn = ir.Function(ml.module, ir.FunctionType(I32, [PTR, PTR]), packed_name(func.name))
    fn.attributes.add("nounwind")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    slots, out = fn.args
    types = [t for a in func.args for t in abi_types(a.type)]
    params = [b.load(b.gep(slots, [i64(k)], source_etype=I64), typ=t) for k, t in enumerate(types)]
    b.ret(b.call(entry, params + [out]))
    return fn
