"""The support library: one generic CPython-API call wrapper shared by every
compiled function, built once per process (or loaded from the disk cache).

`irad.rt.call(state, args, nargs)` is a METH_FASTCALL function; each
callable made from it (`make_callable`) has its own state tuple (layout
`STATE`) holding the Python handlers, the type objects it compares with,
and a descriptor (a bytes object of i64 words, built in runtime/cpython.py)
of the function's arguments and results:

    header   packed entry address, arity, slot count, out words, result mode,
             result index, result count
    results  per result: kind, byte offset in the out buffer
    args     per argument: kind, then three words
               array:  ndim | C-layout << 8 | log2(itemsize) << 16;
                       flag mask | wanted flags << 32; type-number count |
                       type numbers << 8k
               scalar: direct mask (state items whose objects hold the value
                       at `VALUE`); convert (0 never, 1 objects of the state
                       type in the next word, 2 any object); that state index

The wrapper reads every argument into one i64 slot per C-ABI value, then,
without the GIL, calls `irad.packed.<name>(slots, out)` (runtime/entry.py).
Anything it cannot take (wrong arity, kind NEVER, a failed check, a
conversion that raises) goes, untouched, to the `fallback` handler. A
nonzero status calls `failed(address of out, *args)`; success returns per
result mode: a list of NumPy scalars (LIST), one NumPy scalar (NUMPY), one
Python number (PYTHON), or `box(address of out, *args)` (BOX).

Invariants: every object returned is a new reference; NULL from the C API
is returned with the Python exception set. The object layouts it relies on
(tuple items, bytes data, float and NumPy scalar values) are verified at
import by runtime/cpython.py, which builds no wrapper when they differ.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path

from llvmlite import ir

from .abi import F32, F64, I1, I8, I32, I64, PTR, VOID, i64, stack_slot
from .library import load_shared

STATE = ("fallback", "box", "failed", "desc", "ndarray", "float", "int", "true", "false", "np_true",
         "np_false", "f64", "f32", "i64", "i32", "bool_", "keepalive")
S = {name: k for k, name in enumerate(STATE)}
NEVER, ARRAY, F64K, F32K, I64K, I32K, I1K = range(7)
LIST, NUMPY, PYTHON, BOX = range(4)
H_ENTRY, H_NARGS, H_SLOTS, H_OUTWORDS, H_MODE, H_INDEX, H_NRESULTS, HEADER = range(8)
CONVERT_NONE, CONVERT_EXACT, CONVERT_ANY = range(3)
TUPLE_ITEMS = tuple.__basicsize__
BYTES_DATA = bytes.__basicsize__ - 1
VALUE = 16                           # offset of the value in float and NumPy scalar objects
OB_TYPE = 8
NAME = "irad.rt.call"
SCALAR_ITEM = {F64K: "f64", F32K: "f32", I64K: "i64", I32K: "i32"}
DIRECT = {F64K: ("float", "f64"), F32K: ("f32",), I64K: ("i64",), I32K: ("i32",)}
_MEM = {F64K: F64, F32K: F32, I64K: I64, I32K: I32, I1K: I8}


class _FunctionPointer(ir.types._TypedPointerType):
    """An opaque `ptr` that llvmlite can call (it takes the callee type from the pointee)."""

    def _to_string(self):
        return "ptr"


class _Gen:
    """Builds `irad.rt.call` into a fresh module."""

    def __init__(self, layout):
        self.lay = layout
        self.module = ir.Module(name="irad.support")
        self.fn = ir.Function(self.module, ir.FunctionType(PTR, [PTR, PTR, I64]), NAME)
        self.state, self.argv, self.nargs = self.fn.args
        self.b = ir.IRBuilder(self.fn.append_basic_block("entry"))

    # ---- small helpers ------------------------------------------------------------------

    def api(self, name, ret, args):
        existing = self.module.globals.get(name)
        return existing or ir.Function(self.module, ir.FunctionType(ret, list(args)), name)

    def block(self, name):
        return self.fn.append_basic_block(name)

    def field(self, ptr, offset, ty):
        b = self.b
        return b.load(b.gep(ptr, [offset if isinstance(offset, ir.Value) else i64(offset)],
                            source_etype=I8), typ=ty)

    def item(self, k):
        """State item k (an int or an i64 value)."""
        offset = i64(TUPLE_ITEMS + 8 * k) if isinstance(k, int) else self.b.add(
            i64(TUPLE_ITEMS), self.b.mul(k, i64(8)))
        return self.field(self.state, offset, PTR)

    def word(self, ptr, k):
        return self.b.load(self.b.gep(ptr, [k if isinstance(k, ir.Value) else i64(k)], source_etype=I64),
                           typ=I64)

    def bit(self, mask, k):
        return self.b.trunc(self.b.lshr(mask, i64(k)), I1)

    def slot(self, s, offset=0):
        return self.b.gep(self.slots, [self.b.add(s, i64(offset)) if offset else s], source_etype=I64)

    def unless(self, ok, where):
        good = self.block("ok")
        self.b.cbranch(ok, good, where)
        self.b.position_at_end(good)

    def vectorcall(self, callable_, vector, n):
        return self.b.call(self.api("PyObject_Vectorcall", PTR, [PTR, PTR, I64, PTR]),
                           [callable_, vector, n, ir.Constant(PTR, None)])

    # ---- arguments --------------------------------------------------------------------------

    def array(self, obj, d, s):
        """Unbox array argument obj into slots from s; the next slot index, or go to fallback."""
        b, lay, fb = self.b, self.lay, self.fallback
        info, flags_word, nums = (self.word(d, j) for j in (1, 2, 3))
        ndim = b.and_(info, i64(0xFF))
        self.unless(b.icmp_unsigned("==", self.field(obj, lay.ob_type, PTR), self.item(S["ndarray"])), fb)
        nd = b.sext(self.field(obj, lay.nd, I32), I64)
        self.unless(b.icmp_unsigned("==", nd, ndim), fb)
        descr = self.field(obj, lay.descr, PTR)
        num = b.zext(self.field(descr, lay.descr_type_num, I32), I64)
        known = ir.Constant(I1, 0)
        for j in range(7):
            listed = b.icmp_unsigned(">", b.and_(nums, i64(0xFF)), i64(j))
            same = b.icmp_unsigned("==", b.and_(b.lshr(nums, i64(8 * (j + 1))), i64(0xFF)), num)
            known = b.or_(known, b.and_(listed, same))
        self.unless(known, fb)
        from .entry import SWAPPED
        order = self.field(descr, lay.descr_byteorder, I8)
        self.unless(b.icmp_unsigned("!=", order, ir.Constant(I8, SWAPPED[0])), fb)
        flags = b.zext(self.field(obj, lay.flags, I32), I64)
        mask, want = b.and_(flags_word, i64(0xFFFFFFFF)), b.lshr(flags_word, i64(32))
        self.unless(b.icmp_unsigned("==", b.and_(flags, mask), want), fb)
        b.store(self.field(obj, lay.data, I64), self.slot(s))
        self.extents(obj, info, ndim, s)
        return b.add(s, b.add(i64(1), b.mul(ndim, i64(2))))

    def extents(self, obj, info, ndim, s):
        """Shape, then strides in elements (zeros for layout C), into slots s+1..s+2*ndim."""
        b, lay = self.b, self.lay
        dims, strides = self.field(obj, lay.dims, PTR), self.field(obj, lay.strides, PTR)
        c_layout = self.bit(info, 8)
        shift = b.and_(b.lshr(info, i64(16)), i64(0xFF))
        with self.counting(self.m, ndim, "dims") as mv:
            b.store(self.word(dims, mv), self.slot(b.add(s, b.add(mv, i64(1)))))
            stride = self.word(strides, mv)
            whole = b.icmp_unsigned("==", b.and_(stride, b.sub(b.shl(i64(1), shift), i64(1))), i64(0))
            self.unless(b.or_(c_layout, whole), self.fallback)
            value = b.select(c_layout, i64(0), b.ashr(stride, shift))
            b.store(value, self.slot(b.add(s, b.add(b.add(mv, ndim), i64(1)))))

    @contextmanager
    def counting(self, counter, n, name: str):
        """Emit `for index in range(n)` through the stack slot `counter`; the with-block
        emits the body (and may leave it in another block), given the index."""
        b = self.b
        b.store(i64(0), counter)
        head, body, done = self.block(name), self.block(name + "_body"), self.block(name + "_done")
        b.branch(head)
        b.position_at_end(head)
        index = b.load(counter, typ=I64)
        b.cbranch(b.icmp_unsigned("<", index, n), body, done)
        b.position_at_end(body)
        yield index
        b.store(b.add(index, i64(1)), counter)
        b.branch(head)
        b.position_at_end(done)

    def scalar(self, kind, obj, d, s):
        """Unbox scalar argument obj of `kind` into slot s, or go to fallback."""
        b = self.b
        direct, convert, ctype = (self.word(d, j) for j in (1, 2, 3))
        slot = self.slot(s)
        if kind == I1K:
            true = b.or_(b.and_(self.bit(direct, S["true"]), b.icmp_unsigned("==", obj, self.item(S["true"]))),
                         b.and_(self.bit(direct, S["np_true"]),
                                b.icmp_unsigned("==", obj, self.item(S["np_true"]))))
            false = b.or_(b.and_(self.bit(direct, S["true"]),
                                 b.icmp_unsigned("==", obj, self.item(S["false"]))),
                          b.and_(self.bit(direct, S["np_true"]),
                                 b.icmp_unsigned("==", obj, self.item(S["np_false"]))))
            self.unless(b.or_(true, false), self.fallback)
            b.store(b.zext(true, I8), slot)
            return
        tp = self.field(obj, OB_TYPE, PTR)
        exact = ir.Constant(I1, 0)
        for name in DIRECT[kind]:
            exact = b.or_(exact, b.and_(self.bit(direct, S[name]),
                                        b.icmp_unsigned("==", tp, self.item(S[name]))))
        read, other, join = self.block("direct"), self.block("convert"), self.block("unboxed")
        b.cbranch(exact, read, other)
        b.position_at_end(read)
        b.store(self.field(obj, VALUE, _MEM[kind]), slot)
        b.branch(join)
        b.position_at_end(other)
        allowed = b.or_(b.icmp_unsigned("==", convert, i64(CONVERT_ANY)),
                        b.and_(b.icmp_unsigned("==", convert, i64(CONVERT_EXACT)),
                               b.icmp_unsigned("==", tp, self.item(ctype))))
        self.unless(allowed, self.fallback)
        b.store(self.converted(kind, obj), slot)
        b.branch(join)
        b.position_at_end(join)

    def converted(self, kind, obj):
        """obj converted by the C API to kind's memory type (fallback if that raises or overflows)."""
        b = self.b
        if kind in (F64K, F32K):
            v = b.call(self.api("PyFloat_AsDouble", F64, [PTR]), [obj])
            self.no_error(b.fcmp_ordered("==", v, ir.Constant(F64, -1.0)))
            return v if kind == F64K else b.fptrunc(v, F32)
        overflow = self.overflow
        v = b.call(self.api("PyLong_AsLongLongAndOverflow", I64, [PTR, PTR]), [obj, overflow])
        self.no_error(b.icmp_signed("==", v, i64(-1)))
        self.unless(b.icmp_signed("==", b.load(overflow, typ=I32), ir.Constant(I32, 0)), self.fallback)
        if kind == I64K:
            return v
        self.unless(b.icmp_signed("==", b.sext(b.trunc(v, I32), I64), v), self.fallback)
        return b.trunc(v, I32)

    def no_error(self, suspicious) -> None:
        b = self.b
        check, good = self.block("check_error"), self.block("converted")
        b.cbranch(suspicious, check, good)
        b.position_at_end(check)
        raised = b.icmp_unsigned("!=", b.call(self.api("PyErr_Occurred", PTR, []), []), ir.Constant(PTR, None))
        clear = self.block("clear")
        b.cbranch(raised, clear, good)
        b.position_at_end(clear)
        b.call(self.api("PyErr_Clear", VOID, []), [])
        b.branch(self.fallback)
        b.position_at_end(good)

    def arguments(self, desc, argbase):
        """The loop over arguments; leaves the builder where all are unboxed."""
        b = self.b
        k, s = self.k, self.s
        b.store(i64(0), k)
        b.store(i64(0), s)
        head, body, done = self.block("args"), self.block("arg"), self.block("args_done")
        b.branch(head)
        b.position_at_end(head)
        kv = b.load(k, typ=I64)
        b.cbranch(b.icmp_unsigned("<", kv, self.nargs), body, done)
        b.position_at_end(body)
        obj = b.load(b.gep(self.argv, [kv], source_etype=PTR), typ=PTR)
        d = b.gep(argbase, [b.mul(kv, i64(4))], source_etype=I64)
        sv = b.load(s, typ=I64)
        switch = b.switch(self.word(d, 0), self.fallback)
        nxt = self.block("next_arg")
        for kind in (ARRAY, F64K, F32K, I64K, I32K, I1K):
            case = self.block(f"kind{kind}")
            switch.add_case(i64(kind), case)
            b.position_at_end(case)
            if kind == ARRAY:
                b.store(self.array(obj, d, sv), s)
            else:
                self.scalar(kind, obj, d, sv)
                b.store(b.add(sv, i64(1)), s)
            b.branch(nxt)
        b.position_at_end(nxt)
        b.store(b.add(kv, i64(1)), k)
        b.branch(head)
        b.position_at_end(done)

    # ---- results ----------------------------------------------------------------------------

    def numpy_scalar(self, kind, ptr):
        """A new NumPy scalar of result kind (an i64 value) from memory at ptr (NULL on failure)."""
        b = self.b
        join = self.block("boxed")
        b.position_at_end(join)
        phi = b.phi(PTR)
        b.position_at_end(self.current)
        switch = b.switch(kind, self.boxed_bool(ptr, phi, join))
        for k, name in SCALAR_ITEM.items():
            case = self.block(f"box{k}")
            switch.add_case(i64(k), case)
            b.position_at_end(case)
            obj = b.call(self.api("PyType_GenericAlloc", PTR, [PTR, I64]), [self.item(S[name]), i64(0)])
            nonnull, stored = self.block("alloc_ok"), self.block("stored")
            b.cbranch(b.icmp_unsigned("==", obj, ir.Constant(PTR, None)), stored, nonnull)
            b.position_at_end(nonnull)
            b.store(b.load(ptr, typ=_MEM[k]), b.gep(obj, [i64(VALUE)], source_etype=I8))
            b.branch(stored)
            b.position_at_end(stored)
            b.branch(join)
            phi.add_incoming(obj, stored)
        b.position_at_end(join)
        return phi

    def boxed_bool(self, ptr, phi, join):
        b, here = self.b, self.b.block
        case = self.block("box_bool")
        b.position_at_end(case)
        flag = b.trunc(b.load(ptr, typ=I8), I1)
        obj = b.select(flag, self.item(S["np_true"]), self.item(S["np_false"]))
        b.call(self.api("Py_IncRef", VOID, [PTR]), [obj])
        b.branch(join)
        phi.add_incoming(obj, case)
        b.position_at_end(here)
        return case

    def python_number(self, kind, ptr):
        b = self.b
        join = self.block("number")
        b.position_at_end(join)
        phi = b.phi(PTR)
        cases = {F64K: lambda: b.call(self.api("PyFloat_FromDouble", PTR, [F64]), [b.load(ptr, typ=F64)]),
                 F32K: lambda: b.call(self.api("PyFloat_FromDouble", PTR, [F64]),
                                      [b.fpext(b.load(ptr, typ=F32), F64)]),
                 I64K: lambda: b.call(self.api("PyLong_FromLongLong", PTR, [I64]), [b.load(ptr, typ=I64)]),
                 I32K: lambda: b.call(self.api("PyLong_FromLongLong", PTR, [I64]),
                                      [b.sext(b.load(ptr, typ=I32), I64)]),
                 I1K: lambda: b.call(self.api("PyBool_FromLong", PTR, [I64]), [b.zext(b.load(ptr, typ=I8), I64)])}
        blocks = {}
        for k, make in cases.items():
            blocks[k] = self.block(f"number{k}")
            b.position_at_end(blocks[k])
            phi.add_incoming(make(), b.block)
            b.branch(join)
        b.position_at_end(self.current)
        switch = b.switch(kind, blocks[F64K])
        for k, blk in blocks.items():
            switch.add_case(i64(k), blk)
        b.position_at_end(join)
        return phi

    def result(self, desc, j):
        """(kind, pointer into out) of result j (an i64 value)."""
        base = self.b.add(i64(HEADER), self.b.mul(j, i64(2)))
        kind, offset = self.word(desc, base), self.word(desc, self.b.add(base, i64(1)))
        return kind, self.b.gep(self.out, [offset], source_etype=I8)

    def single(self, desc, python: bool):
        b = self.b
        self.current = b.block
        kind, ptr = self.result(desc, self.word(desc, H_INDEX))
        b.ret((self.python_number if python else self.numpy_scalar)(kind, ptr))

    def as_list(self, desc):
        b = self.b
        n = self.word(desc, H_NRESULTS)
        lst = b.call(self.api("PyList_New", PTR, [I64]), [n])
        null = ir.Constant(PTR, None)
        self.unless(b.icmp_unsigned("!=", lst, null), self.return_null)
        with self.counting(self.j, n, "results") as jv:
            self.current = b.block
            obj = self.numpy_scalar(*self.result(desc, jv))
            failed, ok = self.block("box_failed"), self.block("box_ok")
            b.cbranch(b.icmp_unsigned("==", obj, null), failed, ok)
            b.position_at_end(failed)
            b.call(self.api("Py_DecRef", VOID, [PTR]), [lst])
            b.ret(null)
            b.position_at_end(ok)
            b.call(self.api("PyList_SetItem", I32, [PTR, I64, PTR]), [lst, jv, obj])
        b.ret(lst)

    def handler(self, name: str):
        """Return state[name](address of out, *args) (a new reference, or NULL)."""
        b = self.b
        address = b.call(self.api("PyLong_FromVoidPtr", PTR, [PTR]), [self.out])
        self.unless(b.icmp_unsigned("!=", address, ir.Constant(PTR, None)), self.return_null)
        vector = b.alloca(PTR, size=b.add(self.nargs, i64(1)))
        vector.type = PTR
        b.store(address, vector)
        memcpy = self.module.declare_intrinsic("llvm.memcpy", [PTR, PTR, I64])
        b.call(memcpy, [b.gep(vector, [i64(1)], source_etype=PTR), self.argv, b.mul(self.nargs, i64(8)),
                        ir.Constant(I1, 0)])
        result = self.vectorcall(self.item(S[name]), vector, b.add(self.nargs, i64(1)))
        b.call(self.api("Py_DecRef", VOID, [PTR]), [address])
        b.ret(result)

    # ---- the function ---------------------------------------------------------------------

    def build(self) -> ir.Module:
        b = self.b
        self.fallback, self.return_null = self.block("fallback"), self.block("null")
        self.k, self.s, self.m, self.j = (stack_slot(b, I64) for _ in range(4))
        self.overflow = stack_slot(b, I32)
        desc = b.gep(self.item(S["desc"]), [i64(BYTES_DATA)], source_etype=I8)
        self.unless(b.icmp_unsigned("==", self.nargs, self.word(desc, H_NARGS)), self.fallback)
        self.slots = b.alloca(I64, size=b.add(self.word(desc, H_SLOTS), i64(1)))
        self.out = b.alloca(I64, size=self.word(desc, H_OUTWORDS))
        self.slots.type = self.out.type = PTR
        argbase = b.gep(desc, [b.add(i64(HEADER), b.mul(self.word(desc, H_NRESULTS), i64(2)))],
                        source_etype=I64)
        self.arguments(desc, argbase)
        entry = b.inttoptr(self.word(desc, H_ENTRY), _FunctionPointer(ir.FunctionType(I32, [PTR, PTR])))
        tstate = b.call(self.api("PyEval_SaveThread", PTR, []), [])
        status = b.call(entry, [self.slots, self.out])
        b.call(self.api("PyEval_RestoreThread", VOID, [PTR]), [tstate])
        failed, ok = self.block("failed"), self.block("succeeded")
        b.cbranch(b.icmp_signed("==", status, ir.Constant(I32, 0)), ok, failed)
        b.position_at_end(failed)
        self.handler("failed")
        b.position_at_end(ok)
        modes = {LIST: lambda: self.as_list(desc), NUMPY: lambda: self.single(desc, False),
                 PYTHON: lambda: self.single(desc, True), BOX: lambda: self.handler("box")}
        blocks = {m: self.block(f"mode{m}") for m in modes}
        switch = b.switch(self.word(desc, H_MODE), blocks[BOX])
        for m, blk in blocks.items():
            switch.add_case(i64(m), blk)
            b.position_at_end(blk)
            modes[m]()
        b.position_at_end(self.fallback)
        b.ret(self.vectorcall(self.item(S["fallback"]), self.argv, self.nargs))
        b.position_at_end(self.return_null)
        b.ret(ir.Constant(PTR, None))
        return self.module


# ---- building, caching, loading ----------------------------------------------------------

_lock = threading.Lock()
_address: int | None = None
_tracker = None


def module_text(triple: str, data_layout: str, layout) -> str:
    module = _Gen(layout).build()
    module.triple, module.data_layout = triple, data_layout
    return str(module)


def call_address(directory: Path | None = None) -> int:
    """The address of `irad.rt.call`, built (or read from `directory`) on first use."""
    global _address, _tracker
    if _address is None:
        with _lock:
            if _address is None:
                from .entry import LAYOUT
                _tracker, addresses = load_shared(
                    "support", ("support.py",), repr(LAYOUT),
                    lambda triple, data_layout: module_text(triple, data_layout, LAYOUT), [NAME], directory)
                _address = addresses[NAME]
    return _address
