"""Dense linear algebra: `gemm`, the matrix product behind `@`, np.matmul and np.dot.

    gemm %a, %b, %c {alpha = 1.0, beta = 0.0, trans_a = false, trans_b = false}

computes `c[...] = alpha * op(a) @ op(b) + beta * c` where `op(x)` is `x.T`
when `trans_x` is set, else `x` (BLAS's dgemm, row-major). Operands are 2-D
arrays of one float dtype (f64 or f32); alpha and beta are float
attributes. It writes `c` (`extra["writes"]`) and reads `a` and `b`
(and `c` unless beta is 0).

Invariants:
- Shapes must agree: op(a) is m x k, op(b) is k x n, c is m x n;
  otherwise ValueError. `c` must share no memory with `a` or `b`
  (ValueError otherwise): the product is not computed through a temporary.
- beta = 0 ignores c's old contents (NaN included), as BLAS does.
- Native code (runtime/blas.py) calls SciPy's BLAS for products of at
  least `runtime.blas.MIN_FLOPS` multiply-adds when the operands' strides
  allow it, and runs a loop nest otherwise; both agree with NumPy to
  rounding, not bit for bit (summation order differs).
- The VJP (memory form, see irad/ops/memory.py) is two more gemms that
  accumulate (beta = 1) into the shadows of a and b, then scales c's
  shadow by beta. It needs a and b as they were when the gemm ran: a gemm
  whose operand a write may change afterwards (or that is allocated inside
  a loop) is expanded into loops before reverse mode (`expand_gemm`,
  passes/reverse.py `expand_overwritten_products`), which tapes the
  elements it needs; `rev.unchanged_operand` refuses (UnsupportedError)
  rather than ever read overwritten values.
"""
from __future__ import annotations

import numpy as np

from ..types import F32, F64
from .core import TypeRuleError, define, expect_array
from .lowering import Special


def _gemm_rule(types, attrs):
    if len(types) != 3:
        raise TypeRuleError(len(types), "3 operands (a, b, c)", f"{len(types)} operands")
    a = expect_array(types, 0)
    if a.dtype not in (F64, F32) or a.ndim != 2:
        raise TypeRuleError(0, "a 2-D array of f64 or f32", a)
    for i in (1, 2):
        t = expect_array(types, i)
        if (t.dtype, t.ndim) != (a.dtype, 2):
            raise TypeRuleError(i, f"array<{a.dtype},2,_>", t)
    for key in ("trans_a", "trans_b"):
        if not isinstance(attrs.get(key), bool):
            raise TypeRuleError(0, f"a bool attribute {key}", attrs.get(key))
    for key in ("alpha", "beta"):
        if not isinstance(attrs.get(key), float):
            raise TypeRuleError(0, f"a float attribute {key}", attrs.get(key))
    return []


def gemm_shapes(a_shape, b_shape, c_shape, trans_a: bool, trans_b: bool) -> tuple:
    """(m, n, k) of a gemm, or ValueError naming the extents that do not agree."""
    m, k = a_shape[::-1] if trans_a else a_shape
    k2, n = b_shape[::-1] if trans_b else b_shape
    if k != k2:
        raise ValueError(f"matmul: shapes do not align: {k} != {k2} (inner extents)")
    if tuple(c_shape) != (m, n):
        raise ValueError(f"matmul: the output has shape {tuple(c_shape)}, not {(m, n)}")
    return m, n, k


def _gemm_eval(a, b, c, *, trans_a, trans_b, alpha, beta):
    gemm_shapes(a.shape, b.shape, c.shape, trans_a, trans_b)
    if c.size and (np.shares_memory(c, a) or np.shares_memory(c, b)):
        raise ValueError("matmul: the output shares memory with an operand")
    product = np.matmul(a.T if trans_a else a, b.T if trans_b else b)
    if alpha != 1.0:
        product = product * c.dtype.type(alpha)
    c[...] = product if beta == 0.0 else product + c.dtype.type(beta) * c


def _gemm_vjp(rev, op):
    """For c = alpha op(a) op(b) + beta c, with dc the shadow of c:
    d op(a) += alpha dc op(b)^T; d op(b) += alpha op(a)^T dc; dc *= beta."""
    a, b, c = op.operands
    if not rev.active_memory(c):
        return
    ta, tb, alpha = op.attrs["trans_a"], op.attrs["trans_b"], op.attrs["alpha"]
    dc = rev.shadow(c)
    acc = {"alpha": alpha, "beta": 1.0}
    if rev.active_memory(a):
        pb = rev.unchanged_operand(op, b)
        if ta:
            rev.b.emit("gemm", pb, dc, rev.shadow(a), trans_a=tb, trans_b=True, **acc)
        else:
            rev.b.emit("gemm", dc, pb, rev.shadow(a), trans_a=False, trans_b=not tb, **acc)
    if rev.active_memory(b):
        pa = rev.unchanged_operand(op, a)
        if tb:
            rev.b.emit("gemm", dc, pa, rev.shadow(b), trans_a=True, trans_b=ta, **acc)
        else:
            rev.b.emit("gemm", pa, dc, rev.shadow(b), trans_a=not ta, trans_b=False, **acc)
    _scale_shadow(rev, c, dc, op.attrs["beta"])


def _scale_shadow(rev, c, dc, beta: float):
    if beta == 1.0:
        return
    if beta == 0.0:
        rev.b.fill(dc, rev.b.const(0.0, dc.type.dtype))
        return

    def element(idx):
        b = rev.b
        b.store(b.mul(b.load(dc, *idx), b.const(beta, dc.type.dtype)), dc, *idx)
    rev.for_each_element(c, element)


def expand_gemm(b, op) -> None:
    """Emit op as loops with `b` (loads, stores and an accumulator per element of c), for
    reverse mode when an operand may be overwritten after the product: it then tapes the
    loads it needs element by element (passes/reverse.py `expand_overwritten_products`)."""
    from ..ir import Block, Builder, Region
    from ..types import I64
    a, bm, c = op.operands
    ta, tb, alpha, beta = (op.attrs[k] for k in ("trans_a", "trans_b", "alpha", "beta"))
    t = c.type.dtype
    zero, one = b.const(0, I64), b.const(1, I64)
    extents = [b.dim(c, axis=0), b.dim(c, axis=1), b.dim(a, axis=0 if ta else 1)]

    def loop(outer, extent, body, carried=()):
        block = Block([I64] + [v.type for v in carried])
        inner = Builder(block, loc=op.loc)
        out = body(inner, block.args[0], *block.args[1:])
        inner.emit("yield", *out)
        return outer.emit("for", zero, extent, one, *carried, regions=[Region([block])])

    def element(bi, i, j):
        def step(bp, p, acc):
            x = bp.load(a, *((p, i) if ta else (i, p)))
            y = bp.load(bm, *((j, p) if tb else (p, j)))
            return [bp.add(acc, bp.mul(x, y))]
        total = loop(bi, extents[2], step, [bi.const(0.0, t)])
        if alpha != 1.0:
            total = bi.mul(bi.const(alpha, t), total)
        if beta != 0.0:
            total = bi.add(total, bi.mul(bi.const(beta, t), bi.load(c, i, j)))
        bi.store(total, c, i, j)
        return []
    def row(bi, i):
        loop(bi, extents[1], lambda bj, j: element(bj, i, j))
        return []
    loop(b, extents[0], row)


define("gemm", _gemm_rule, effect="write", evaluate=_gemm_eval, differentiable=True,
       llvm=Special("gemm"), vjp=_gemm_vjp, extra={"vjp_form": "memory", "writes": 2, "expand": expand_gemm},
       notes="c[...] = alpha * op(a) @ op(b) + beta * c; op(x) = x.T if trans_x; c overlaps neither")
