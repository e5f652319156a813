"""Lowering of scalar ops: the generic descriptors and the hand-written ones.

Invariants (the interpreter's semantics, see irad/ops/scalar.py):
- integers wrap (no nsw/nuw on user arithmetic); `//` and `%` floor like
  Python, division or modulo by zero gives 0, INT_MIN // -1 wraps to
  INT_MIN: the divisor reaching `sdiv`/`srem` is never 0 or -1;
- float `//` and `%` follow NumPy's `npy_divmod` step by step (signed
  zeros, infinities, NaN and division by zero included);
- integer `pow` with a negative exponent is 1, +-1 or 0 as in `_pow`;
- float-to-int casts of NaN or infinity give 0 and of finite values out of
  range give INT_MIN (NumPy's result on x86); `fptosi` never sees them;
- casts to i1 are `x != 0` (NaN is true); `min(a, b)` is
  `b if b < a else a`; `fma` rounds once (x * y + z when z is not finite);
- fast-math flags (`L.fm`) go on float arithmetic and math calls only when
  the function is compiled with `fastmath=True`; a float add, sub or mul
  whose op carries the attribute `reassoc = true` (an accumulation whose
  order the program does not define, such as an adjoint sum) gets the
  `reassoc` flag alone, which lets LLVM vectorize the reduction it is in.
"""
from __future__ import annotations

from llvmlite import ir

from . import exactmath, vecmath
from .abi import F64, I1, ArrayVal, reg_type

_INT_METHODS = {"add": "add", "sub": "sub", "mul": "mul", "and": "and_", "or": "or_", "xor": "xor"}


def _const(t: ir.Type, value) -> ir.Constant:
    return ir.Constant(t, value)


def _suffix(t: ir.Type) -> str:
    return "f64" if t == F64 else "f32"


def call_intrinsic(L, name: str, args, flags=()) -> ir.Value:
    t = args[0].type
    fn = L.ml.declare(f"{name}.{_suffix(t)}", t, [a.type for a in args])
    return L.b.call(fn, args, fastmath=flags)


def float_flags(L, op) -> tuple:
    """Fast-math flags of a float op: all of them with fastmath, else `reassoc` if the op allows it."""
    if L.fm or not op.attrs.get("reassoc"):
        return L.fm
    return ("reassoc",)


# ---- generic descriptors ------------------------------------------------------

def lower_binary(L, op, desc, values):
    x, y = values
    if op.operands[0].type.is_float:
        return getattr(L.b, desc.float)(x, y, flags=float_flags(L, op))
    return getattr(L.b, _INT_METHODS[desc.int])(x, y)


def lower_compare(L, op, desc, values):
    x, y = values
    t = op.operands[0].type
    if t.is_float:
        if desc.op == "!=":
            return L.b.fcmp_unordered("!=", x, y)
        return L.b.fcmp_ordered(desc.op, x, y)
    if t.is_bool:
        return L.b.icmp_unsigned(desc.op, x, y)
    return L.b.icmp_signed(desc.op, x, y)


def _vectorizable(L, op, values) -> ir.Value | None:
    """A libm call LLVM may vectorize: through libmvec with fastmath or `approx` (runtime/vecmath.py), else
    through irad's exact vector functions (runtime/exactmath.py); None if neither applies."""
    call = vecmath.call(L, op.name, values, approximate=op.attrs.get("approx", False))
    return call if call is not None else exactmath.call(L, op.name, values)


def lower_intrinsic(L, op, desc, values):
    vectorizable = _vectorizable(L, op, values)
    if vectorizable is not None:
        return vectorizable
    return call_intrinsic(L, desc.name, values, L.fm)


def lower_libm(L, op, desc, values):
    vectorizable = _vectorizable(L, op, values)
    if vectorizable is not None:
        return vectorizable
    t = values[0].type
    name = desc.name if t == F64 else desc.name + "f"
    fn = L.ml.declare(name, t, [v.type for v in values])
    return L.b.call(fn, values, fastmath=L.fm)


# ---- hand-written lowerings -----------------------------------------------------

def lower_const(L, op, values):
    t = op.attrs["type"]
    value = op.attrs["value"]
    if t.is_float:
        return _const(reg_type(t), float(value))
    return _const(reg_type(t), int(value))


def lower_cast(L, op, values):
    (x,) = values
    src, dst = op.operands[0].type, op.results[0].type
    b, rt = L.b, reg_type(dst)
    if src == dst:
        return x
    if dst.is_bool:
        if src.is_float:
            return b.fcmp_unordered("!=", x, _const(x.type, 0.0))
        return b.icmp_unsigned("!=", x, _const(x.type, 0))
    if src.is_bool:
        return b.uitofp(x, rt) if dst.is_float else b.zext(x, rt)
    if src.is_float and dst.is_float:
        return b.fpext(x, rt) if dst.bits > src.bits else b.fptrunc(x, rt)
    if src.is_int and dst.is_int:
        return b.sext(x, rt) if dst.bits > src.bits else b.trunc(x, rt)
    if src.is_int:
        return b.sitofp(x, rt)
    return _float_to_int(L, x, rt, dst.bits)


def _float_to_int(L, x, rt, bits):
    b, ft = L.b, x.type
    lo, hi = _const(ft, -2.0 ** (bits - 1)), _const(ft, 2.0 ** (bits - 1))
    in_range = b.and_(b.fcmp_ordered(">=", x, lo), b.fcmp_ordered("<", x, hi))
    converted = b.fptosi(b.select(in_range, x, _const(ft, 0.0)), rt)
    finite = b.fcmp_ordered("<", call_intrinsic(L, "llvm.fabs", [x]), _const(ft, float("inf")))
    outside = b.select(finite, _const(rt, -(1 << (bits - 1))), _const(rt, 0))
    return b.select(in_range, converted, outside)


def lower_floordiv(L, op, values):
    if op.operands[0].type.is_float:
        return _float_divmod(L, *values, want="floordiv")
    return _int_floordiv(L, *values)


def lower_mod(L, op, values):
    if op.operands[0].type.is_float:
        return _float_divmod(L, *values, want="mod")
    return _int_mod(L, *values)


def _safe_divisor(b, y):
    """y, or 1 where y is 0 or -1 (the divisors sdiv/srem may trap on)."""
    t = y.type
    bad = b.or_(b.icmp_signed("==", y, _const(t, 0)), b.icmp_signed("==", y, _const(t, -1)))
    return b.select(bad, _const(t, 1), y)


def _floor_adjust(b, r, y):
    """The truncated remainder r needs flooring: nonzero, sign differs from y."""
    zero = _const(r.type, 0)
    return b.and_(b.icmp_signed("!=", r, zero), b.icmp_signed("<", b.xor(r, y), zero))


def _int_floordiv(L, x, y):
    b, t = L.b, x.type
    d = _safe_divisor(b, y)
    q, r = b.sdiv(x, d), b.srem(x, d)
    q = b.select(_floor_adjust(b, r, y), b.sub(q, _const(t, 1)), q)
    wrapped = b.select(b.icmp_signed("==", y, _const(t, -1)), b.sub(_const(t, 0), x), q)
    return b.select(b.icmp_signed("==", y, _const(t, 0)), _const(t, 0), wrapped)


def _int_mod(L, x, y):
    b = L.b
    r = b.srem(x, _safe_divisor(b, y))   # 0 when y is 0 or -1: the interpreter's answer
    return b.select(_floor_adjust(b, r, y), b.add(r, y), r)


def _float_divmod(L, a, d, want):
    """NumPy's npy_divmod (floor_divide / remainder), select by select."""
    b, t = L.b, a.type
    zero, one = _const(t, 0.0), _const(t, 1.0)
    mod = b.frem(a, d)
    div = b.fdiv(b.fsub(a, mod), d)
    mod_nonzero = b.fcmp_unordered("!=", mod, zero)
    flip = b.and_(mod_nonzero, b.xor(b.fcmp_ordered("<", d, zero), b.fcmp_ordered("<", mod, zero)))
    d_zero = b.fcmp_ordered("==", d, zero)
    if want == "mod":
        adjusted = b.select(flip, b.fadd(mod, d), mod)
        signed_zero = call_intrinsic(L, "llvm.copysign", [zero, d])
        return b.select(d_zero, mod, b.select(mod_nonzero, adjusted, signed_zero))
    div = b.select(flip, b.fsub(div, one), div)
    floor = call_intrinsic(L, "llvm.floor", [div])
    snapped = b.select(b.fcmp_ordered(">", b.fsub(div, floor), _const(t, 0.5)), b.fadd(floor, one), floor)
    quotient = b.fdiv(a, d)
    signed_zero = call_intrinsic(L, "llvm.copysign", [zero, quotient])
    result = b.select(b.fcmp_unordered("!=", div, zero), snapped, signed_zero)
    return b.select(d_zero, quotient, result)


def lower_pow(L, op, values):
    if op.operands[0].type.is_float:
        return _float_pow(L, *values)
    t = values[0].type
    fn = L.ml.helper(f"irad.ipow.i{t.width}", t, [t, t], _build_ipow)
    return L.b.call(fn, values)


def _float_pow(L, x, y):
    """NumPy's power on scalars: exponents -1, 0, 0.5, 1, 2 take its fast paths
    (1/x, 1, sqrt(x), x, x*x), which differ from C pow at signed zeros and -inf."""
    b, t = L.b, x.type
    result = call_intrinsic(L, "llvm.pow", [x, y], L.fm)
    fast = ((2.0, b.fmul(x, x, flags=L.fm)), (1.0, x), (0.5, call_intrinsic(L, "llvm.sqrt", [x], L.fm)),
            (0.0, _const(t, 1.0)), (-1.0, b.fdiv(_const(t, 1.0), x, flags=L.fm)))
    for exponent, value in fast:
        result = b.select(b.fcmp_ordered("==", y, _const(t, exponent)), value, result)
    return result


def _build_ipow(fn):
    """Square-and-multiply for y >= 0 (wrapping); 1, +-1 or 0 for y < 0."""
    x, y = fn.args
    t = x.type
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    names = ("neg", "pre", "loop", "body", "done")
    negative, pre, loop, body, done = (fn.append_basic_block(n) for n in names)
    b.cbranch(b.icmp_signed("<", y, _const(t, 0)), negative, pre)
    b.position_at_end(negative)
    odd = b.trunc(y, I1)
    minus = b.select(odd, _const(t, -1), _const(t, 1))
    b.ret(b.select(b.icmp_signed("==", x, _const(t, 1)), _const(t, 1),
                   b.select(b.icmp_signed("==", x, _const(t, -1)), minus, _const(t, 0))))
    b.position_at_end(pre)
    b.branch(loop)
    b.position_at_end(loop)
    acc, base, e = b.phi(t), b.phi(t), b.phi(t)
    for phi, v in ((acc, _const(t, 1)), (base, x), (e, y)):
        phi.add_incoming(v, pre)
    b.cbranch(b.icmp_signed("==", e, _const(t, 0)), done, body)
    b.position_at_end(body)
    acc.add_incoming(b.select(b.trunc(e, I1), b.mul(acc, base), acc), body)
    base.add_incoming(b.mul(base, base), body)
    e.add_incoming(b.lshr(e, _const(t, 1)), body)
    b.branch(loop)
    b.position_at_end(done)
    b.ret(acc)


def lower_fma(L, op, values):
    """Rounded once; with an infinite or NaN addend the interpreter rounds the
    product first (x*y may overflow to inf and meet -inf), so do the same.
    Under fastmath: a contractable multiply-add, which vectorizes as a reduction."""
    x, y, z = values
    if L.fm:
        return L.b.fadd(L.b.fmul(x, y, flags=L.fm), z, flags=L.fm)
    fused = call_intrinsic(L, "llvm.fma", [x, y, z])
    finite = L.b.fcmp_ordered("<", call_intrinsic(L, "llvm.fabs", [z]), _const(z.type, float("inf")))
    return L.b.select(finite, fused, L.b.fadd(L.b.fmul(x, y), z))


def lower_neg(L, op, values):
    (x,) = values
    if op.operands[0].type.is_float:
        return L.b.fneg(x, flags=L.fm)
    return L.b.sub(_const(x.type, 0), x)


def lower_abs(L, op, values):
    (x,) = values
    if op.operands[0].type.is_float:
        return call_intrinsic(L, "llvm.fabs", [x])
    negative = L.b.icmp_signed("<", x, _const(x.type, 0))
    return L.b.select(negative, L.b.sub(_const(x.type, 0), x), x)


def _pick(L, op, values, pred):
    x, y = values
    t = op.operands[0].type
    if t.is_float:
        take_y = L.b.fcmp_ordered(pred, y, x)
    else:
        take_y = L.b.icmp_signed(pred, y, x)
    return L.b.select(take_y, y, x)


def lower_min(L, op, values):
    return _pick(L, op, values, "<")


def lower_max(L, op, values):
    return _pick(L, op, values, ">")


def lower_not(L, op, values):
    return L.b.xor(values[0], _const(I1, 1))


def lower_select(L, op, values):
    c, x, y = values
    if isinstance(x, ArrayVal):
        pick = lambda u, v: L.b.select(c, u, v)  # noqa: E731
        return ArrayVal(pick(x.data, y.data), pick(x.base, y.base),
                        tuple(map(pick, x.shape, y.shape)), tuple(map(pick, x.strides, y.strides)))
    return L.b.select(c, x, y)


SPECIALS = {
    "const": lower_const, "cast": lower_cast, "floordiv": lower_floordiv, "mod": lower_mod,
    "pow": lower_pow, "fma": lower_fma, "neg": lower_neg, "abs": lower_abs, "min": lower_min,
    "max": lower_max, "not": lower_not, "select": lower_select,
}
