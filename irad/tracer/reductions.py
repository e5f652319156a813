"""Reductions, scans and contractions over (lazy) arrays, lowered to loops
with accumulators: sum, prod, max, min, argmax, argmin, any, all, mean,
var, std, cumsum, cumprod, dot/matmul. A product of two float matrices is
one `gemm` op (BLAS at run time when large, see irad/ops/linalg.py); the
other products (vectors, integers) are loops.

Invariants: the reduced value is consumed element by element (a lazy
operand is never materialized, except an operand of a matrix product that
is more than loads and would be re-evaluated once per output element).
Loops follow the operand's row-major order where that keeps inner loops
contiguous: a reduction with a kept axis after a reduced one, and a
matrix-matrix product (i-k-j), accumulate in the output array; otherwise
a scalar accumulator is carried (NumPy sums pairwise, so float sums agree
to rounding, not bit for bit). Result dtypes are NumPy's (sums of bool and
int32 are int64, means of integers float64, float32 stays float32);
max/min propagate NaN like np.maximum; max, min, argmax and argmin of an
empty axis raise ValueError (a run-time check when the extent is not
known). A reduction over every axis without keepdims gives a strong
Scalar, otherwise an Array.
"""
from __future__ import annotations

from ..errors import TypingError, UnsupportedError
from ..types import F64, I1, I32, I64, promote
from .lazy import Check, Lazy, static_int
from .values import Array, Scalar, float_type, is_static_number


def sum_dtype(t):
    return I64 if t in (I1, I32) else t


def mean_dtype(t):
    return float_type(t) if t.is_float else F64


class Reductions:
    """Mixin of the tracer (needs ArrayExpressions and Arithmetic)."""

    # ---- axes ----
    def norm_axes(self, axis, ndim: int, name: str) -> tuple:
        if axis is None:
            return tuple(range(ndim))
        items = axis if isinstance(axis, tuple) else (axis,)
        out = []
        for a in items:
            if not is_static_number(a) or isinstance(a, (bool, float)):
                raise TypingError(f"{name}: axis must be a constant int or tuple of ints, got "
                                  f"{self.describe(a)}", self.loc)
            a = int(a)
            if not -ndim <= a < ndim:
                raise TypingError(f"{name}: axis {a} is out of bounds for an array of dimension {ndim}",
                                  self.loc, f"use an axis in {-ndim}..{ndim - 1}")
            out.append(a % ndim)
        if len(set(out)) != len(out):
            raise TypingError(f"{name}: duplicate value in 'axis'", self.loc)
        return tuple(sorted(out))

    # ---- the generic reduction ----
    def reduce_loops(self, z: Lazy, axes, dtype, init, step, finish=None, keepdims=False, single=False):
        """Reduce z over `axes`: init(elem_at_first) -> carried, step(carried, x, ridx) -> carried,
        finish(carried) -> Scalar of dtype. A Scalar when nothing is kept, else an Array.

        With one carried value (`single`) and a kept axis after a reduced one, the loops run
        in z's row-major order, accumulating in memory (contiguous inner loops)."""
        bound = self.bind_to(z, z.shape)
        self.emit_checks(bound.checks)
        kept = [k for k in range(z.ndim) if k not in axes]

        def full(kidx, ridx):
            idx, kit, rit = [], iter(kidx), iter(ridx)
            for k in range(z.ndim):
                idx.append(next(rit) if k in axes else next(kit))
            return idx

        def first_at(kidx):
            return lambda: bound.elem(self, full(kidx, [self.index(0)] * len(axes)))

        def at(kidx):
            carried = self.loop_nest([z.shape[k] for k in axes],
                                     lambda ridx, c: step(c, bound.elem(self, full(kidx, ridx)), ridx),
                                     init(first_at(kidx)))
            return self.scalar(finish(carried) if finish else carried[0], dtype, weak=False)

        if not kept and not keepdims:
            return at([])
        shape = [1 if k in axes else z.shape[k] for k in range(z.ndim)] if keepdims \
            else [z.shape[k] for k in kept]
        out = self.alloc_array(shape, dtype)
        where = (lambda kidx: full(kidx, [self.index(0)] * len(axes))) if keepdims else (lambda kidx: kidx)
        if single and any(k > min(axes) for k in kept):
            return self.reduce_in_memory(z, bound, kept, full, out, where, init, step, finish, first_at)

        def body(kidx, _):
            self.b.store(at(kidx).value, out, *[i.value for i in where(kidx)])
            return []
        self.loop_nest([z.shape[k] for k in kept], body)
        return Array(out)

    def reduce_in_memory(self, z, bound, kept, full, out, where, init, step, finish, first_at):
        """out[kept] = init; for every index of z (row-major): out[kept] = step(out[kept], x)."""
        dtype = out.type.dtype

        def start(kidx, _):
            self.b.store(self.scalar(init(first_at(kidx))[0], dtype).value, out,
                         *[i.value for i in where(kidx)])
            return []
        self.loop_nest([z.shape[k] for k in kept], start)

        def body(idx, _):
            at = [i.value for i in where([idx[k] for k in kept])]
            acc = Scalar(self.b.load(out, *at), False)
            new = step([acc], bound.elem(self, idx), None)[0]
            self.b.store(self.scalar(new, dtype).value, out, *at)
            return []
        self.loop_nest(z.shape, body)
        if finish is not None:
            def done(kidx, _):
                at = [i.value for i in where(kidx)]
                value = finish([Scalar(self.b.load(out, *at), False)])
                self.b.store(self.scalar(value, dtype).value, out, *at)
                return []
            self.loop_nest([z.shape[k] for k in kept], done)
        return Array(out)

    def reduce(self, value, kind: str, axis=None, keepdims=False, dtype=None, ddof=0):
        z = self.as_lazy(value)
        axes = self.norm_axes(axis, z.ndim, kind)
        if kind in ("mean", "var", "std"):
            return self.moments(z, kind, axes, keepdims, dtype, ddof)
        if kind in ("argmax", "argmin"):
            return self.arg_reduce(z, kind, axis)
        handler = {"sum": self.sum_like, "prod": self.sum_like, "max": self.extremum,
                   "min": self.extremum, "any": self.logical, "all": self.logical}[kind]
        return handler(z, kind, axes, keepdims, dtype)

    def sum_like(self, z, kind, axes, keepdims, dtype, finish=None):
        t = dtype or sum_dtype(z.dtype)
        op = "+" if kind == "sum" else "*"

        def step(c, x, ridx):
            return [self.accumulate(op, c[0], self.scalar(x, t))]
        return self.reduce_loops(z, axes, t, lambda first: [self.scalar(int(kind == "prod"), t, weak=False)],
                                 step, finish, keepdims, single=True)

    def accumulate(self, op, acc, x):
        if acc.type == I1:
            return Scalar(self.b.emit("or" if op == "+" else "and", acc.value, x.value), False)
        return self.binary(op, acc, x)

    def require_elements(self, z, axes, kind):
        """NumPy's ValueError for max/min/argmax/argmin over an empty axis (run-time check)."""
        pairs = {}
        for k in axes:
            e = z.shape[k]
            if static_int(e) == 0:
                raise TypingError(f"{kind} of an empty array has no identity", self.loc,
                                  "reduce a non-empty array, or guard the call with a size test")
            if static_int(e) is None:
                pairs[k] = (self.max_of(self.index(e), 1), e)
        if pairs:
            self.require_equal([pairs.get(k, (1, 1)) for k in range(max(pairs) + 1)])

    def extremum(self, z, kind, axes, keepdims, dtype):
        self.require_elements(z, axes, kind)

        def step(c, x, ridx):
            return [self.pick_nan(kind, c[0], x)]
        return self.reduce_loops(z, axes, z.dtype, lambda first: [first()], step, keepdims=keepdims,
                                 single=True)

    def pick_nan(self, kind, a: Scalar, b: Scalar) -> Scalar:
        """np.maximum / np.minimum of two elements of one type: NaN wins, ties take b."""
        t, weak = a.type, a.weak and b.weak
        better = self.b.gt(a.value, b.value) if kind == "max" else self.b.lt(a.value, b.value)
        if t.is_float:
            better = self.b.emit("or", better, self.b.ne(a.value, a.value))
        return Scalar(self.b.select(better, a.value, b.value), weak)

    def logical(self, z, kind, axes, keepdims, dtype):
        def step(c, x, ridx):
            x = self.truth(x)
            return [Scalar(self.b.emit("or" if kind == "any" else "and", c[0].value, x.value), False)]
        return self.reduce_loops(z, axes, I1, lambda first: [self.scalar(kind == "all", I1, weak=False)],
                                 step, keepdims=keepdims, single=True)

    def arg_reduce(self, z, kind, axis):
        if isinstance(axis, tuple):
            raise TypingError(f"{kind}: axis must be an int or None", self.loc)
        axes = self.norm_axes(axis, z.ndim, kind)
        self.require_elements(z, axes, kind)
        extents = [z.shape[k] for k in axes]
        want = "max" if kind == "argmax" else "min"

        def step(c, x, ridx):
            best, where = c
            linear = self.linear_index(ridx, extents)
            better = self.b.gt(x.value, best.value) if want == "max" else self.b.lt(x.value, best.value)
            if x.type.is_float:
                nan_first = self.b.emit("and", self.b.ne(x.value, x.value), self.b.eq(best.value, best.value))
                better = self.b.emit("or", better, nan_first)
            return [Scalar(self.b.select(better, x.value, best.value), False),
                    Scalar(self.b.select(better, linear.value, where.value), False)]
        return self.reduce_loops(z, axes, I64, lambda first: [first(), self.scalar(0, I64, weak=False)],
                                 step, finish=lambda c: c[1])

    def linear_index(self, idx, extents) -> Scalar:
        out = idx[0] if idx else self.index(0)
        for i, e in zip(idx[1:], extents[1:]):
            out = self.binary("+", self.binary("*", out, self.index(e)), i)
        return out

    def count(self, z, axes):
        n = 1
        for k in axes:
            n = self.binary("*", n, z.shape[k])
        return n

    def moments(self, z, kind, axes, keepdims, dtype, ddof):
        t = dtype or mean_dtype(z.dtype)
        if not t.is_float:
            raise TypingError(f"{kind}: dtype must be a float type", self.loc)
        zf = self.elementwise(lambda tr, x: tr.scalar(x, t, weak=False), [z])
        n = self.count(z, axes)
        if kind == "mean":
            return self.sum_like(zf, "sum", axes, keepdims, t, self.divided_by(n, t))
        mean = self.sum_like(zf, "sum", axes, len(axes) < z.ndim, t, self.divided_by(n, t))
        dev = self.elementwise(lambda tr, x, m: tr.binary("**", tr.binary("-", x, m), 2), [zf, mean])
        over = self.divided_by(self.binary("-", n, ddof), t)
        finish = over if kind == "var" else (lambda c: self.math_call("sqrt", [over(c)], weak_result=False))
        return self.sum_like(dev, "sum", axes, keepdims, t, finish)

    def divided_by(self, n, t):
        """finish(carried) = carried[0] / n in type t (n computed here, before any loop)."""
        denom = float(n) if is_static_number(n) else self.scalar(n, t, weak=False)
        return lambda c: self.scalar(self.binary("/", c[0], denom), t, weak=False)

    # ---- scans ----
    def scan(self, value, kind, axis=None, dtype=None):
        z = self.as_lazy(value)
        bound = self.bind_to(z, z.shape)
        self.emit_checks(bound.checks)
        t = dtype or sum_dtype(z.dtype)
        op = "+" if kind == "cumsum" else "*"
        if axis is None:
            n = self.count(z, range(z.ndim))
            out = self.alloc_array([n], t)

            def body(idx, c):
                acc = self.accumulate(op, c[0], self.scalar(bound.elem(self, idx), t))
                self.b.store(acc.value, out, c[1].value)
                return [acc, self.binary("+", c[1], 1)]
            self.loop_nest(z.shape, body, [self.scalar(int(op == "*"), t, weak=False), self.index(0)])
            return Array(out)
        (k,) = self.norm_axes(axis, z.ndim, kind)
        out = self.alloc_array(z.shape, t)
        others = [e for j, e in enumerate(z.shape) if j != k]

        def outer(oidx, _):
            def inner(kidx, c):
                idx = list(oidx)
                idx.insert(k, kidx[0])
                acc = self.accumulate(op, c[0], self.scalar(bound.elem(self, idx), t))
                self.b.store(acc.value, out, *[i.value for i in idx])
                return [acc]
            self.loop_nest([z.shape[k]], inner, [self.scalar(int(op == "*"), t, weak=False)])
            return []
        self.loop_nest(others, outer)
        return Array(out)

    # ---- contractions ----
    def matmul(self, a, b, name="matmul"):
        if not (self.is_arraylike(a) and self.is_arraylike(b)):
            if name == "dot":
                return self.array_binary("*", a, b)
            raise TypingError("matmul: operands must be arrays, not scalars", self.loc, "use *")
        za, zb = self.as_lazy(a), self.as_lazy(b)
        if za.ndim == 0 or zb.ndim == 0:
            if name == "dot":
                return self.array_binary("*", a, b)
            raise TypingError("matmul: an operand is 0-d", self.loc, "use *")
        if za.ndim > 2 or zb.ndim > 2:
            raise UnsupportedError(f"{name} of arrays with more than 2 dimensions is not supported",
                                   self.loc, "loop over the leading axes")
        if za.dtype == I1 and zb.dtype == I1:
            raise TypingError(f"{name} of two bool arrays is not supported", self.loc,
                              "convert with .astype(int)")
        t = I64 if promote(za.dtype, zb.dtype) == I1 else promote(za.dtype, zb.dtype)
        self.check_inner(za, zb, name)
        if za.ndim == 2 and zb.ndim == 2 and t.is_float:
            return self.gemm_product(a, za, b, zb, t)
        return self.contract(za, zb, t, name)

    def check_inner(self, za, zb, name):
        """TypingError when the contracted extents are static and differ."""
        ka, kb = za.shape[-1], zb.shape[0] if zb.ndim == 1 else zb.shape[-2]
        if static_int(ka) is not None and static_int(kb) is not None and static_int(ka) != static_int(kb):
            raise TypingError(f"{name}: shapes do not align: {static_int(ka)} (dim {za.ndim - 1}) != "
                              f"{static_int(kb)} (dim {max(zb.ndim - 2, 0)})", self.loc,
                              "the last axis of the left operand must match the first (or second to "
                              "last) axis of the right one")

    def gemm_product(self, a, za, b, zb, t):
        """A float matrix-matrix product as one `gemm` op (irad/ops/linalg.py) into a fresh array."""
        pa, pb = self.gemm_operand(a, za, t), self.gemm_operand(b, zb, t)
        ka, kb = self.extent(pa, 1), self.extent(pb, 0)
        self.emit_checks([Check(ka, kb, 0, "equal")])
        out = self.alloc_array([self.extent(pa, 0), self.extent(pb, 1)], t)
        self.b.emit("gemm", pa, pb, out, trans_a=False, trans_b=False, alpha=1.0, beta=0.0)
        return Array(out)

    def gemm_operand(self, v, z, t):
        """An IR array of dtype t with v's values: an array of that dtype as it is (views
        included), anything else computed into fresh memory."""
        if isinstance(v, Lazy) and v.forced is not None:
            v = v.forced
        if isinstance(v, Array) and v.type.dtype == t:
            z.consumed = True
            return v.value
        if z.dtype != t:
            z.consumed = True
            z = self.elementwise(lambda tr, x: tr.scalar(x, t, weak=False), [z])
        return self.materialize(z).value

    def contract(self, za, zb, t, name):
        ka, kb = za.shape[-1], zb.shape[0] if zb.ndim == 1 else zb.shape[-2]
        a_rest, b_rest = list(za.shape[:-1]), list(zb.shape[1:]) if zb.ndim == 2 else []
        out_shape = a_rest + b_rest
        if out_shape:
            za, zb = (self.as_lazy(self.materialize(z)) if not z.simple else z
                      for z in (za, zb))
        ba, bb = self.bind_to(za, za.shape), self.bind_to(zb, zb.shape)
        self.emit_checks([*ba.checks, *bb.checks, Check(ka, kb, 0, "equal")])

        def dot_at(oidx):
            ia, jb = oidx[:len(a_rest)], oidx[len(a_rest):]

            def body(kidx, c):
                x = self.scalar(ba.elem(self, ia + kidx), t)
                y = self.scalar(bb.elem(self, kidx + jb), t)
                return [self.binary("+", c[0], self.binary("*", x, y))]
            return self.loop_nest([ka], body, [self.scalar(0, t, weak=False)])[0]

        if not out_shape:
            return self.scalar(dot_at([]), t, weak=False)
        out = self.alloc_array(out_shape, t)
        if not b_rest:
            def outer(oidx, _):
                self.b.store(dot_at(oidx).value, out, *[i.value for i in oidx])
                return []
            self.loop_nest(out_shape, outer)
            return Array(out)
        self.b.fill(out, self.scalar(0, t).value)

        def row(ik, _):
            x = self.scalar(ba.elem(self, ik), t)

            def update(jb, _):
                at = [i.value for i in ik[:-1] + jb]
                y = self.scalar(bb.elem(self, ik[-1:] + jb), t)
                acc = Scalar(self.b.load(out, *at), False)
                self.b.store(self.binary("+", acc, self.binary("*", x, y)).value, out, *at)
                return []
            self.loop_nest(b_rest, update)
            return []
        self.loop_nest(a_rest + [ka], row)
        return Array(out)


__all__ = ["Reductions", "sum_dtype", "mean_dtype"]
