"""Lowering of `gemm` (irad/ops/linalg.py): SciPy's BLAS for large products, loops otherwise.

The op lowering checks shapes and overlap, applies the transposes (a
transpose swaps an `ArrayVal`'s extents and strides), and calls the
module's helper `irad.gemm.<dtype>(m, n, k, alpha, beta, x, x strides,
y, y strides, c, c strides)`, which computes `c = alpha x y + beta c` for
strided row-major matrices and cannot fail.

How the helper finds BLAS: Python fills a process-wide table, the
`irad.blas.gemm` symbol (`[dgemm, sgemm]`, a null entry when SciPy or the
routine is missing), with the addresses of SciPy's `cython_blas` routines
(the same Fortran functions NumPy-free Numba code calls). Generated code
declares the table as an external global; every JIT library, freshly
compiled or loaded from the disk cache, binds it to this process's table
(`process_symbols`, used by `runtime/jit.py`), so no address is baked into
object code.

Invariants:
- BLAS runs only when the table entry is non-null, the product has at
  least `MIN_FLOPS` multiply-adds, every extent and leading dimension fits
  BLAS's 32-bit int, and each matrix has a unit stride on one axis with
  the other stride a valid leading dimension (>= max(1, extent)).
  Row-major C is passed to column-major BLAS as its transpose:
  C^T = op(B)^T op(A)^T. Everything else (small, empty, oddly strided,
  negative strides) takes the loop nest, i-p-j order with the unit-stride
  axis of c innermost, so results never depend on SciPy being installed
  beyond rounding.
- `c` shares no memory with x or y (the op lowering checks, ValueError
  otherwise), so the helper's pointers are `noalias`.
"""
from __future__ import annotations

import ctypes

from llvmlite import ir

from .abi import F32, F64, I8, I32, I64, PTR, VOID, ArrayVal, i64
from .errors import VALUE, Site
from .loops import counted_loop
from .memory import byte_range

# Multiply-adds from which BLAS runs. Measured (one thread, 50 products of n x n in a jitted
# loop): the loop nest wins at n = 16 (1.4 us against 3.0 us), BLAS from n = 24 (3.4 against
# 6.6 us; 6.2 against 15 us at n = 32): the crossover lies between 16**3 and 24**3.
MIN_FLOPS = 8192
SYMBOL = "irad.blas.gemm"
ROUTINES = ("dgemm", "sgemm")     # table order: f64, f32
INT_MAX = 2**31 - 1
_TABLE = (ctypes.c_void_p * len(ROUTINES))()
BLAS_GEMM_TYPE = ir.FunctionType(VOID, [PTR] * 13)   # Fortran: every argument by reference


def find_routine(name: str) -> int | None:
    """The address of SciPy's BLAS routine `name` (from `cython_blas`), or None without SciPy."""
    try:
        from scipy.linalg import cython_blas
    except ImportError:
        return None
    capsule = cython_blas.__pyx_capi__.get(name)
    if capsule is None:
        return None
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    return get_pointer(capsule, get_name(capsule)) or None


_filled = False


def set_routines(find=find_routine) -> None:
    """Fill the table (also used by tests to switch BLAS off: `set_routines(lambda name: None)`)."""
    global _filled
    for k, name in enumerate(ROUTINES):
        _TABLE[k] = find(name) or None
    _filled = True


def available() -> bool:
    if not _filled:
        set_routines()
    return all(_TABLE)


def process_symbols(object_code: bytes | None = None) -> dict:
    """Symbols a JIT library imports: {name: address}; empty for object code that does not
    use the table, so SciPy (slow to import) is only loaded by code that multiplies."""
    if object_code is not None and SYMBOL.encode() not in object_code:
        return {}
    available()
    return {SYMBOL: ctypes.addressof(_TABLE)}


# ---- the op lowering ----------------------------------------------------------------------

def _transposed(a: ArrayVal) -> ArrayVal:
    return ArrayVal(a.data, a.base, a.shape[::-1], a.strides[::-1])


def _fail_unless(L, op, ok, message: str, expected, actual):
    L.ml.sites.append(Site(L.func.name, op.name, op.loc, "check", 0, message))
    L.check(ok, VALUE, i64(len(L.ml.sites) - 1), expected, actual)


def lower_gemm(L, op, values):
    a, b_, c = values
    x = _transposed(a) if op.attrs["trans_a"] else a
    y = _transposed(b_) if op.attrs["trans_b"] else b_
    b = L.b
    (m, k), (k2, n) = x.shape, y.shape
    _fail_unless(L, op, b.icmp_signed("==", k, k2), "matmul: shapes do not align: {0} != {1} "
                 "(inner extents)", k, k2)
    for want, got in ((m, c.shape[0]), (n, c.shape[1])):
        _fail_unless(L, op, b.icmp_signed("==", want, got),
                     "matmul: the output's extent is {1}, not {0}", want, got)
    dtype = op.operands[0].type.dtype
    size = dtype.bits // 8
    c_lo, c_hi, c_empty = byte_range(b, c, size)
    clash = ir.Constant(ir.IntType(1), 0)
    for operand in (x, y):
        lo, hi, empty = byte_range(b, operand, size)
        meet = b.and_(b.icmp_unsigned("<", lo, c_hi), b.icmp_unsigned("<", c_lo, hi))
        clash = b.or_(clash, b.and_(meet, b.not_(b.or_(empty, c_empty))))
    _fail_unless(L, op, b.not_(clash), "matmul: the output shares memory with an operand", i64(0),
                 i64(0))
    fn = gemm_helper(L.ml, dtype.name)
    real = F64 if dtype.name == "f64" else F32
    b.call(fn, [m, n, k, ir.Constant(real, op.attrs["alpha"]), ir.Constant(real, op.attrs["beta"]),
                x.data, *x.strides, y.data, *y.strides, c.data, *c.strides])


SPECIALS = {"gemm": lower_gemm}


# ---- the helper: BLAS or loops --------------------------------------------------------------

class _Emitter:
    """What `runtime.loops.counted_loop` needs of a lowering: a builder and new blocks."""

    def __init__(self, fn: ir.Function, b: ir.IRBuilder):
        self.fn, self.b = fn, b

    def new_block(self, name: str) -> ir.Block:
        return self.fn.append_basic_block(name)


def gemm_helper(ml, dtype: str) -> ir.Function:
    real = F64 if dtype == "f64" else F32
    args = [I64, I64, I64, real, real] + [PTR, I64, I64] * 3
    return ml.helper(f"irad.gemm.{dtype}", VOID, args, lambda f: _build_helper(ml, f, dtype, real))


def _build_helper(ml, fn, dtype: str, real):
    for k in (5, 8, 11):
        fn.args[k].add_attribute("noalias")
    entry = fn.append_basic_block("entry")
    b = ir.IRBuilder(entry)
    m, n, k, alpha, beta, xp, xs0, xs1, yp, ys0, ys1, cp, cs0, cs1 = fn.args
    # c column-major: compute c^T = y^T x^T instead, so that c's unit stride is innermost
    one = i64(1)
    swap = b.and_(b.icmp_signed("!=", cs1, one), b.icmp_signed("==", cs0, one))

    def pick(u, v):
        return b.select(swap, u, v)
    M, N = pick(n, m), pick(m, n)
    P = (pick(yp, xp), pick(ys1, xs0), pick(ys0, xs1))          # M x k
    Q = (pick(xp, yp), pick(xs1, ys0), pick(xs0, ys1))          # k x N
    C = (cp, pick(cs1, cs0), pick(cs0, cs1))                     # M x N
    e = _Emitter(fn, b)
    blas, loops = fn.append_basic_block("blas"), fn.append_basic_block("loops")
    table_index = ROUTINES.index("dgemm" if dtype == "f64" else "sgemm")
    routine, ok = _blas_plan(ml, b, table_index, M, N, k, P, Q, C)
    b.cbranch(ok, blas, loops)
    b.position_at_end(blas)
    _call_blas(b, routine, M, N, k, alpha, beta, P, Q, C, real)
    b.ret_void()
    b.position_at_end(loops)
    _loop_nest(e, real, M, N, k, alpha, beta, P, Q, C)
    e.b.ret_void()


def _table(ml) -> ir.GlobalVariable:
    existing = ml.module.globals.get(SYMBOL)
    if existing is not None:
        return existing
    return ir.GlobalVariable(ml.module, ir.ArrayType(PTR, len(ROUTINES)), SYMBOL)


def _layout(b, rows, cols, s0, s1):
    """(ok, transposed?, ld) of a row-major rows x cols matrix passed to BLAS as its transpose
    (a column-major cols x rows matrix): 'N' when s1 == 1, 'T' when s0 == 1."""
    one = i64(1)
    row_ok = b.and_(b.icmp_signed("==", s1, one), b.icmp_signed(">=", s0, _max1(b, cols)))
    col_ok = b.and_(b.icmp_signed("==", s0, one), b.icmp_signed(">=", s1, _max1(b, rows)))
    ld = b.select(row_ok, s0, s1)
    fits = b.icmp_signed("<=", ld, i64(INT_MAX))
    return b.and_(b.or_(row_ok, col_ok), fits), b.not_(row_ok), ld


def _max1(b, v):
    return b.select(b.icmp_signed(">", v, i64(1)), v, i64(1))


def _blas_plan(ml, b, index, M, N, k, P, Q, C):
    """(routine pointer, whether to call it)."""
    slot = b.gep(_table(ml), [ir.Constant(I32, 0), ir.Constant(I32, index)], inbounds=True,
                 source_etype=ir.ArrayType(PTR, len(ROUTINES)))
    routine = b.load(slot, typ=PTR)
    ok = b.icmp_unsigned("!=", routine, ir.Constant(PTR, None))
    for d in (M, N, k):
        ok = b.and_(ok, b.and_(b.icmp_signed(">=", d, i64(1)), b.icmp_signed("<=", d, i64(INT_MAX))))
    flops = b.fmul(b.fmul(b.sitofp(M, F64), b.sitofp(N, F64)), b.sitofp(k, F64))
    ok = b.and_(ok, b.fcmp_ordered(">=", flops, ir.Constant(F64, float(MIN_FLOPS))))
    c_ok, c_trans, _ = _layout(b, M, N, C[1], C[2])
    ok = b.and_(ok, b.and_(c_ok, b.not_(c_trans)))
    for rows, cols, (_, s0, s1) in ((M, k, P), (k, N, Q)):
        ok = b.and_(ok, _layout(b, rows, cols, s0, s1)[0])
    return routine, ok


def _call_blas(b, routine, M, N, k, alpha, beta, P, Q, C, real):
    """c^T (N x M, column-major) = Q^T P^T: BLAS's (transq, transp, N, M, k, ..., Q, P, ..., c)."""
    _, q_trans, ldq = _layout(b, k, N, Q[1], Q[2])
    _, p_trans, ldp = _layout(b, M, k, P[1], P[2])

    def slot(ty, value):
        p = b.alloca(ty)
        b.store(value, p)
        return p

    def char(trans):
        return slot(I8, b.select(trans, ir.Constant(I8, ord("T")), ir.Constant(I8, ord("N"))))

    def int_(v):
        return slot(I32, b.trunc(v, I32))
    args = [char(q_trans), char(p_trans), int_(N), int_(M), int_(k), slot(real, alpha), Q[0], int_(ldq),
            P[0], int_(ldp), slot(real, beta), C[0], int_(C[1])]
    b.call(_Indirect(routine), args)


class _Indirect:
    """A loaded BLAS routine pointer as a callee: llvmlite reads `function_type` from it."""

    function_type = BLAS_GEMM_TYPE

    def __init__(self, pointer: ir.Value):
        self.pointer = pointer
        self.type = pointer.type

    def get_reference(self) -> str:
        return self.pointer.get_reference()


def _loop_nest(e, real, M, N, k, alpha, beta, P, Q, C):
    """C = beta C (0 ignores C) then C[i, j] += (alpha P[i, p]) Q[p, j], i-p-j order."""
    b = e.b

    def at(mat, i, j):
        offset = b.add(b.mul(i, mat[1], flags=["nsw"]), b.mul(j, mat[2], flags=["nsw"]), flags=["nsw"])
        return b.gep(mat[0], [offset], inbounds=True, source_etype=real)

    zero = ir.Constant(real, 0.0)
    is_zero = b.fcmp_ordered("==", beta, zero)
    not_one = b.fcmp_unordered("!=", beta, ir.Constant(real, 1.0))

    def scale_row(i, _):
        def scale(j, _):
            p = at(C, i, j)
            b.store(b.select(is_zero, zero, b.fmul(beta, b.load(p, typ=real))), p)
            return []
        counted_loop(e, N, [], [], scale)
        return []
    scaled, rest = e.new_block("scale"), e.new_block("product")
    b.cbranch(not_one, scaled, rest)
    b.position_at_end(scaled)
    counted_loop(e, M, [], [], scale_row)
    b.branch(rest)
    b.position_at_end(rest)

    def row(i, _):
        def inner(p, _):
            t = b.fmul(alpha, b.load(at(P, i, p), typ=real))

            def update(j, _):
                ptr = at(C, i, j)
                b.store(b.fadd(b.load(ptr, typ=real), b.fmul(t, b.load(at(Q, p, j), typ=real))), ptr)
                return []
            counted_loop(e, N, [], [], update)
            return []
        counted_loop(e, k, [], [], inner)
        return []
    counted_loop(e, M, [], [], row)
