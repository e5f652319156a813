"""A CPython-API call wrapper generated in LLVM: the fast path below 1 µs.

`irad.cpy.<name>(state, args, nargs)` is a METH_FASTCALL function. Python
calls it directly (it becomes the `__call__` of the compiled function's
class), so no ctypes conversion runs. It:
- reads NumPy arrays with `entry.Unboxer` and scalars from exact `float`,
  `int`, `True`/`False` and NumPy scalar objects (other objects go through
  `PyFloat_AsDouble` / `PyLong_AsLongLongAndOverflow`);
- hands anything it cannot take, or any argument check that fails, to the
  Python fallback (the ctypes path, which converts or raises precisely),
  with the arguments untouched;
- releases the GIL around the C entry, so threads run in parallel;
- returns a new list of NumPy scalars, or calls the Python `box` handler
  (array results) or `failed` handler (error record) with the address of
  its stack out buffer.

Invariants: the state tuple's layout is `STATE`; every object it returns
is a new reference; on a NULL from the C API it returns NULL with the
Python exception set. Object layouts it relies on (tuple items, float and
NumPy scalar values) are verified at import (`LAYOUT_OK`), else no wrapper
is built and the ctypes path serves every call.
"""
from __future__ import annotations

import ctypes

import numpy as np
from llvmlite import ir

from irad.ir import Func
from irad.types import ArrayType, ScalarType

from . import entry as E
from .abi import ERR_FIELDS, F32, F64, I1, I8, I32, I64, PTR, i64, mem_type, out_type, stack_slot
from .calling import out_ctype

STATE = ("fallback", "box", "failed", "ndarray", "float", "true", "false", "np_true", "np_false",
         "f64", "f32", "i64", "i32", "bool_", "keepalive")
S = {name: k for k, name in enumerate(STATE)}
METH_FASTCALL = 0x0080
_VALUE = 16                          # offset of the value in float and NumPy scalar objects
_TYPES = {"f64": np.float64, "f32": np.float32, "i64": np.int64, "i32": np.int32}
_CTYPES = {"f64": ctypes.c_double, "f32": ctypes.c_float, "i64": ctypes.c_int64,
           "i32": ctypes.c_int32, "i1": ctypes.c_bool}


def _verify() -> bool:
    items = tuple.__basicsize__
    t = (object(), object())
    if ctypes.c_void_p.from_address(id(t) + items + 8).value != id(t[1]):
        return False
    if ctypes.c_double.from_address(id(2.5) + _VALUE).value != 2.5:
        return False
    samples = [(np.float64(1.25), "f64"), (np.float32(-3.5), "f32"), (np.int64(-7), "i64"),
               (np.int32(9), "i32"), (np.True_, "i1")]
    return all(_CTYPES[n].from_address(id(v) + _VALUE).value == v for v, n in samples)


TUPLE_ITEMS = tuple.__basicsize__
LAYOUT_OK = E.LAYOUT is not None and _verify()


def cpy_name(name: str) -> str:
    return f"irad.cpy.{name}"


def supported(func: Func) -> bool:
    types = [a.type for a in func.args] + func.result_types
    return all(isinstance(t, (ScalarType, ArrayType)) for t in types)


class _Wrapper(E.Unboxer):
    def __init__(self, ml, func: Func, entry: ir.Function):
        self.ml, self.func, self.entry = ml, func, entry
        self.fn = ir.Function(ml.module, ir.FunctionType(PTR, [PTR, PTR, I64]), cpy_name(func.name))
        self.state, self.argv, self.nargs = self.fn.args
        self.b = ir.IRBuilder(self.fn.append_basic_block("entry"))
        self.fallback = self.fn.append_basic_block("fallback")
        self.written = E.written_args(func.name, ml.funcs)
        self.ndarray_type = self.item("ndarray")

    def api(self, name, ret, args):
        return self.ml.declare(name, ret, args)

    def item(self, name: str):
        return self.field(self.state, TUPLE_ITEMS + 8 * S[name], PTR)

    def reject(self, arg, reason, detail) -> None:
        self.b.branch(self.fallback)

    def goto_fallback_unless(self, ok) -> None:
        good = self.fn.append_basic_block("ok")
        self.b.cbranch(ok, good, self.fallback)
        self.b.position_at_end(good)

    def converted(self, ok_fast, fast, slow):
        """`fast()` when ok_fast, else `slow()` (which may go to the fallback); a phi of both."""
        b = self.b
        then, other, join = (self.fn.append_basic_block(n) for n in ("exact", "convert", "scalar"))
        b.cbranch(ok_fast, then, other)
        b.position_at_end(then)
        v1, end1 = fast(), b.block
        b.branch(join)
        b.position_at_end(other)
        v2 = slow()
        end2 = b.block
        b.branch(join)
        b.position_at_end(join)
        phi = b.phi(v1.type)
        phi.add_incoming(v1, end1)
        phi.add_incoming(v2, end2)
        return phi

    def no_error(self, suspicious) -> None:
        """After a conversion that returned its error value: fall back if an exception is set."""
        b = self.b
        check, good = self.fn.append_basic_block("check_error"), self.fn.append_basic_block("converted")
        b.cbranch(suspicious, check, good)
        b.position_at_end(check)
        error = b.call(self.api("PyErr_Occurred", PTR, []), [])
        raised = b.icmp_unsigned("!=", error, ir.Constant(PTR, None))
        with b.if_then(raised):
            b.call(self.api("PyErr_Clear", ir.VoidType(), []), [])
            b.branch(self.fallback)
        b.branch(good)
        b.position_at_end(good)

    def as_double(self, obj, tp):
        b = self.b
        exact = b.or_(b.icmp_unsigned("==", tp, self.item("float")),
                      b.icmp_unsigned("==", tp, self.item("f64")))

        def slow():
            v = b.call(self.api("PyFloat_AsDouble", F64, [PTR]), [obj])
            self.no_error(b.fcmp_ordered("==", v, ir.Constant(F64, -1.0)))
            return v
        return self.converted(exact, lambda: self.field(obj, _VALUE, F64), slow)

    def as_int(self, obj, tp, t: ScalarType):
        b, rt = self.b, mem_type(t)

        def slow():
            overflow = stack_slot(b, I32)
            v = b.call(self.api("PyLong_AsLongLongAndOverflow", I64, [PTR, PTR]), [obj, overflow])
            self.no_error(b.icmp_signed("==", v, i64(-1)))
            self.goto_fallback_unless(b.icmp_signed("==", b.load(overflow, typ=I32), ir.Constant(I32, 0)))
            if t.bits == 64:
                return v
            fits = b.icmp_signed("==", b.sext(b.trunc(v, rt), I64), v)
            self.goto_fallback_unless(fits)
            return b.trunc(v, rt)
        native = b.icmp_unsigned("==", tp, self.item(t.name))
        return self.converted(native, lambda: self.field(obj, _VALUE, rt), slow)

    def as_bool(self, obj, tp):
        b = self.b
        true = b.or_(b.icmp_unsigned("==", obj, self.item("true")),
                     b.icmp_unsigned("==", obj, self.item("np_true")))
        false = b.or_(b.icmp_unsigned("==", obj, self.item("false")),
                      b.icmp_unsigned("==", obj, self.item("np_false")))
        self.goto_fallback_unless(b.or_(true, false))
        return b.zext(true, I8)

    def scalar(self, obj, t: ScalarType):
        tp = self.field(obj, E.LAYOUT.ob_type, PTR)
        if t.is_bool:
            return self.as_bool(obj, tp)
        if t.is_int:
            return self.as_int(obj, tp, t)
        if t.name == "f32":
            exact = self.b.icmp_unsigned("==", tp, self.item("f32"))
            return self.converted(exact, lambda: self.field(obj, _VALUE, F32),
                                  lambda: self.b.fptrunc(self.as_double(obj, tp), F32))
        return self.as_double(obj, tp)

    def call_handler(self, name: str, out):
        """Return handler(address of out, *args) (a new reference, or NULL)."""
        b, n = self.b, len(self.func.args)
        address = b.call(self.api("PyLong_FromVoidPtr", PTR, [PTR]), [out])
        vector = stack_slot(b, PTR, n + 1)
        b.store(address, vector)
        for k in range(n):
            b.store(self.arg(k), b.gep(vector, [i64(k + 1)], source_etype=PTR))
        result = b.call(self.api("PyObject_Vectorcall", PTR, [PTR, PTR, I64, PTR]),
                        [self.item(name), vector, i64(n + 1), ir.Constant(PTR, None)])
        b.call(self.api("Py_DecRef", ir.VoidType(), [PTR]), [address])
        b.ret(result)

    def arg(self, k: int):
        return self.b.load(self.b.gep(self.argv, [i64(k)], source_etype=PTR), typ=PTR)

    def box_list(self, out, out_struct):
        b = self.b
        results = self.func.result_types
        lst = b.call(self.api("PyList_New", PTR, [I64]), [i64(len(results))])
        with b.if_then(b.icmp_unsigned("==", lst, ir.Constant(PTR, None)), likely=False):
            b.ret(lst)
        alloc = self.api("PyType_GenericAlloc", PTR, [PTR, I64])
        for j, t in enumerate(results):
            value = b.load(b.gep(out, [ir.Constant(I32, 0), ir.Constant(I32, j)], source_etype=out_struct),
                           typ=mem_type(t))
            if t.is_bool:
                obj = b.select(b.trunc(value, I1), self.item("np_true"), self.item("np_false"))
                b.call(self.api("Py_IncRef", ir.VoidType(), [PTR]), [obj])
            else:
                obj = b.call(alloc, [self.item(t.name), i64(0)])
                with b.if_then(b.icmp_unsigned("==", obj, ir.Constant(PTR, None)), likely=False):
                    b.call(self.api("Py_DecRef", ir.VoidType(), [PTR]), [lst])
                    b.ret(obj)
                b.store(value, b.gep(obj, [i64(_VALUE)], source_etype=I8))
            b.call(self.api("PyList_SetItem", I32, [PTR, I64, PTR]), [lst, i64(j), obj])
        b.ret(lst)

    def build(self) -> ir.Function:
        b = self.b
        self.goto_fallback_unless(b.icmp_signed("==", self.nargs, i64(len(self.func.args))))
        abi = []
        for k, a in enumerate(self.func.args):
            obj = self.arg(k)
            abi += self.unbox(k, obj, a.type) if a.type.is_array else [self.scalar(obj, a.type)]
        out_struct = ir.LiteralStructType([out_type(t) for t in self.func.result_types])
        words = max(ERR_FIELDS, -(-ctypes.sizeof(out_ctype(self.func.result_types)) // 8))
        out = stack_slot(b, ir.ArrayType(I64, words))
        tstate = b.call(self.api("PyEval_SaveThread", PTR, []), [])
        status = b.call(self.entry, abi + [out])
        b.call(self.api("PyEval_RestoreThread", ir.VoidType(), [PTR]), [tstate])
        failed, ok = self.fn.append_basic_block("failed"), self.fn.append_basic_block("ok")
        b.cbranch(b.icmp_signed("==", status, ir.Constant(I32, 0)), ok, failed)
        b.position_at_end(failed)
        self.call_handler("failed", out)
        b.position_at_end(ok)
        if any(t.is_array for t in self.func.result_types):
            self.call_handler("box", out)
        else:
            self.box_list(out, out_struct)
        b.position_at_end(self.fallback)
        b.ret(b.call(self.api("PyObject_Vectorcall", PTR, [PTR, PTR, I64, PTR]),
                     [self.item("fallback"), self.argv, self.nargs, ir.Constant(PTR, None)]))
        return self.fn


def build_wrapper(ml, func: Func, entry: ir.Function) -> ir.Function | None:
    """The CPython wrapper, or None where it cannot serve this function."""
    if not (LAYOUT_OK and supported(func)):
        return None
    return _Wrapper(ml, func, entry).build()


# ---- Python side ---------------------------------------------------------------------------

class _MethodDef(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("meth", ctypes.c_void_p), ("flags", ctypes.c_int),
                ("doc", ctypes.c_char_p)]


_new_function = ctypes.pythonapi.PyCFunction_NewEx
_new_function.restype = ctypes.py_object
_new_function.argtypes = [ctypes.POINTER(_MethodDef), ctypes.py_object, ctypes.py_object]


def make_callable(address: int, name: str, fallback, box, failed, keepalive):
    """A builtin function running the wrapper at `address` (it keeps `keepalive` alive)."""
    method = _MethodDef(name.encode(), address, METH_FASTCALL, None)
    state = {"fallback": fallback, "box": box, "failed": failed, "ndarray": np.ndarray, "float": float,
             "true": True, "false": False, "np_true": np.True_, "np_false": np.False_,
             "f64": np.float64, "f32": np.float32, "i64": np.int64, "i32": np.int32, "bool_": np.bool_,
             "keepalive": (keepalive, method)}
    return _new_function(ctypes.byref(method), tuple(state[k] for k in STATE), None)
