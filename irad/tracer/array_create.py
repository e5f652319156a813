"""Making and reshaping arrays: np.array of numbers, arange, linspace, eye,
concatenate, stack, reshape, ravel and transpose.

Invariants: `arange`, `linspace` and `eye` give lazy values (an element is
computed from its index; nothing is stored until a consumer needs
memory); `np.array([...])`, `concatenate` and `stack` store into a fresh
array. Dtypes are NumPy's: Python numbers count as int64/float64/bool in
a list, NEP 50 applies to arange and linspace bounds.

Views. `transpose` of an array is a `transpose` view and `reshape`/`ravel`
of a C-layout array a `reshape` view, as in NumPy: writes through them
reach the source and reads see its current values. `reshape`/`ravel` of a
strided array is a copy that refuses writes (NumPy gives a view or a copy
depending on the run-time strides; see `reshape`); `flatten` is a copy.
Of an expression (a `Lazy`) all of them stay lazy. Reshaping to a
different size is a TypingError when the sizes are known at trace time,
else a ValueError at run time (NumPy's "cannot reshape array of size 12
into shape (5,)").
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import TypingError, UnsupportedError
from ..types import F64, I1, I64, promote
from .lazy import Check, Lazy, static_int
from .values import Array, Scalar, is_static_number, result_type


class ArrayCreation:
    """Mixin of the tracer (needs ArrayExpressions, Reductions, Arithmetic)."""

    # ---- views: transpose, reshape, ravel ----
    def transpose(self, a, axes=None):
        """a.T / np.transpose(a, axes): a `transpose` view of an array, lazy for an expression."""
        a = self.forced_array(a)
        ndim = a.type.ndim if isinstance(a, Array) else self.as_lazy(a).ndim
        perm = self.permutation(axes, ndim)
        if perm == tuple(range(ndim)):
            return a
        if isinstance(a, Array):
            return Array(self.b.transpose(a.value, perm=perm), a.note)
        z = self.as_lazy(a)

        def index_fn(t, idx):
            src = [None] * len(perm)
            for k, p in enumerate(perm):
                src[p] = idx[k]
            return src
        return self.mapped(z, [z.shape[p] for p in perm], index_fn)

    def permutation(self, axes, ndim) -> tuple:
        if axes is None:
            return tuple(reversed(range(ndim)))
        if not all(is_static_number(p) and not isinstance(p, float) for p in axes):
            raise TypingError("transpose: axes must be constant ints", self.loc)
        perm = tuple(int(p) + ndim if int(p) < 0 else int(p) for p in axes)
        if sorted(perm) != list(range(ndim)):
            raise TypingError(f"transpose: axes {tuple(axes)} are not a permutation of the "
                              f"{ndim} axes", self.loc)
        return perm

    def forced_array(self, a):
        """The Array of a materialized or named Lazy (a named value stands for NumPy's array,
        whose views alias it); anything else unchanged."""
        if isinstance(a, Lazy) and (a.forced is not None or a.name is not None):
            return self.materialize(a)
        return a

    def reshape(self, a, shape, view=True, ravel=False):
        """a.reshape(shape) (`view`), a.flatten() (not `view`), a.ravel() (`ravel`).

        NumPy gives a view when the source's memory allows it. irad decides by layout
        type: a C-layout array is viewed (`reshape` op); a 1-D array reshaped to 1-D is
        itself (unless ravel, whose result NumPy makes contiguous); any other strided
        array is copied, and the copy refuses writes (NumPy may share memory there, when
        the run-time strides happen to allow it). An expression stays lazy."""
        a = self.forced_array(a)
        z = self.as_lazy(a)
        dims = list(shape) if isinstance(shape, (tuple, list)) else [shape]
        size = self.count(z, range(z.ndim))
        wanted = [static_int(d) == -1 for d in dims]
        dims = self.infer_extent(dims, size)
        template = self.reshape_template(dims, wanted)
        checks = [Check(size, self.count_of(dims), 0, "equal", "cannot reshape array of size {0} into shape "
                        + template)]
        if any(wanted):
            known = self.count_of([d for d, w in zip(dims, wanted) if not w])
            checks.insert(0, Check(self.max_of(known, 1), known, 0, "equal",
                                   f"cannot reshape array into shape {template}: the other extents "
                                   "multiply to {1}, so -1 cannot be inferred"))
        self.emit_checks(checks)
        if isinstance(a, Array) and view:
            if a.type.layout == "C":
                return Array(self.b.reshape(a.value, *[self.index(d).value for d in dims]), a.note)
            if a.type.ndim == 1 and len(dims) == 1 and not ravel:
                return a
        if z.ndim == 1 and len(dims) == 1:
            index_fn = (lambda t, idx: idx)
        else:
            def index_fn(t, idx):
                return self.delinearize(self.linear_index(idx, dims), z.shape)
        note = "a reshaped strided array" if isinstance(a, Array) and view else None
        return self.mapped(z, dims, index_fn, note=note)

    @staticmethod
    def reshape_template(dims, wanted) -> str:
        """NumPy's text of a requested shape (`newaxis` for -1); the size `{1}` for one run-time extent."""
        parts = ["newaxis" if w else str(static_int(d)) if static_int(d) is not None else "?"
                 for d, w in zip(dims, wanted)]
        if parts.count("?") == 1 and len(parts) == 1:
            parts = ["{1}"]
        return "(" + ",".join(parts) + ("," if len(parts) == 1 else "") + ")"

    def infer_extent(self, dims, size):
        out, unknown = [], None
        for k, d in enumerate(dims):
            if is_static_number(d) and not isinstance(d, float) and int(d) == -1:
                if unknown is not None:
                    raise TypingError("reshape: can only specify one unknown dimension", self.loc)
                unknown = k
                out.append(None)
            else:
                out.append(d if is_static_number(d) and int(d) >= 0 else self.index(d))
        if unknown is not None:
            known = self.count_of([d for d in out if d is not None])
            out[unknown] = self.binary("//", size, known) if not (is_static_number(known) and known == 0) else 0
        return [int(d) if is_static_number(d) else d for d in out]

    def count_of(self, dims):
        n = 1
        for d in dims:
            n = self.binary("*", n, d)
        return n

    def delinearize(self, linear, extents) -> list:
        out = []
        for e in reversed(extents[1:]):
            out.append(self.binary("%", linear, e))
            linear = self.binary("//", linear, e)
        out.append(linear)
        return [self.index(i) for i in reversed(out)]

    # ---- joining ----
    def parts_of(self, seq, name):
        if not isinstance(seq, (tuple, list)) or not seq:
            raise TypingError(f"{name} needs a non-empty tuple or list of arrays", self.loc)
        parts = [self.as_lazy(p) for p in seq]
        ndim = parts[0].ndim
        if any(p.ndim != ndim for p in parts):
            raise TypingError(f"{name}: all the input arrays must have the same number of dimensions",
                              self.loc, "add axes with a[None, :] or a[:, None] first")
        dtype = parts[0].dtype
        for p in parts[1:]:
            dtype = promote(dtype, p.dtype)
        return parts, dtype

    def concatenate(self, seq, axis=0):
        parts, dtype = self.parts_of(seq, "concatenate")
        if parts[0].ndim == 0:
            raise TypingError("concatenate: zero-dimensional arrays cannot be concatenated", self.loc)
        (axis,) = self.norm_axes(axis, parts[0].ndim, "concatenate")
        self.emit_checks([Check(parts[0].shape[k], p.shape[k], k, "equal",
                                "all the input array dimensions except for the concatenation axis "
                                f"must match exactly, but along dimension {k}, the array at index 0 "
                                f"has size {{0}} and the array at index {j} has size {{1}}")
                          for j, p in enumerate(parts) if j for k in range(p.ndim) if k != axis])
        total = 0
        for p in parts:
            total = self.binary("+", total, p.shape[axis])
        shape = list(parts[0].shape)
        shape[axis] = total
        out = self.alloc_array(shape, dtype)
        offset = 0
        for p in parts:
            self.store_part(out, p, dtype, lambda idx, off=offset: idx[:axis] + [self.binary("+", idx[axis], off)]
                            + idx[axis + 1:])
            offset = self.binary("+", offset, p.shape[axis])
        return Array(out)

    def stack(self, seq, axis=0):
        parts, dtype = self.parts_of(seq, "stack")
        (axis,) = self.norm_axes(axis, parts[0].ndim + 1, "stack")
        self.emit_checks([Check(parts[0].shape[k], p.shape[k], k, "equal",
                                "all input arrays must have the same shape (extent {1} differs from "
                                f"{{0}} on axis {k})") for p in parts[1:] for k in range(p.ndim)])
        shape = list(parts[0].shape)
        shape.insert(axis, len(parts))
        out = self.alloc_array(shape, dtype)
        for j, p in enumerate(parts):
            self.store_part(out, p, dtype, lambda idx, j=j: idx[:axis] + [self.index(j)] + idx[axis:])
        return Array(out)

    def store_part(self, out, z: Lazy, dtype, where):
        bound = self.bind_to(z, z.shape)
        self.emit_checks(bound.checks)

        def body(idx, _):
            v = self.scalar(bound.elem(self, idx), dtype)
            self.b.store(v.value, out, *[self.index(i).value for i in where(idx)])
            return []
        self.loop_nest(z.shape, body)

    # ---- np.array of numbers ----
    def np_array(self, obj, dtype=None):
        if self.is_arraylike(obj):
            z = self.as_lazy(obj)
            t = dtype or z.dtype
            return self.elementwise(lambda tr, x: tr.scalar(x, t, weak=False), [z], keep_0d=True)
        if isinstance(obj, (tuple, list)) and obj and any(self.is_arraylike(e) for e in obj):
            stacked = self.stack(obj)
            return stacked if dtype is None else self.np_array(stacked, dtype)
        shape, leaves = self.nested_shape(obj)
        t = dtype or self.list_dtype(leaves)
        out = self.alloc_array(shape, t)
        for flat, leaf in enumerate(leaves):
            idx = np.unravel_index(flat, shape) if shape else ()
            self.b.store(self.scalar(leaf, t).value, out, *[self.index(int(i)).value for i in idx])
        return Array(out)

    def nested_shape(self, obj):
        if not isinstance(obj, (tuple, list)):
            self.type_of(obj)
            return [], [obj]
        subs = [self.nested_shape(e) for e in obj]
        if any(s[0] != subs[0][0] for s in subs):
            raise TypingError("np.array: the nested sequences have an inhomogeneous shape", self.loc)
        inner = subs[0][0] if subs else []
        return [len(obj), *inner], [leaf for _, ls in subs for leaf in ls]

    def list_dtype(self, leaves):
        t = None
        for leaf in leaves:
            lt, weak = self.type_of(leaf)
            if weak and lt.is_float:
                lt = F64
            t = lt if t is None else promote(t, lt)
        return t or F64

    # ---- ranges ----
    def arange(self, args, dtype=None):
        if not 1 <= len(args) <= 3:
            raise TypingError("arange takes 1 to 3 positional arguments", self.loc)
        start, stop, step = ([0, args[0], 1] if len(args) == 1 else
                             [args[0], args[1], 1] if len(args) == 2 else list(args))
        if is_static_number(step) and step == 0:
            raise TypingError("arange: step must not be zero", self.loc)
        t = F64 if any(self.type_of(v)[0].is_float for v in (start, stop, step)) else I64
        n = self.range_length(start, stop, step) if t.is_int else self.float_count(start, stop, step)
        t = dtype or t
        s0, d = self.scalar(start, t, weak=False), self.scalar(step, t, weak=False)

        def elem(tr, idx):
            return tr.binary("+", s0, tr.binary("*", tr.scalar(idx[0], t, weak=False), d))
        return self.new_lazy([n if is_static_number(n) else self.index(n)], t, elem, simple=True)

    def number_type(self, values):
        acc = None
        for v in values:
            tw = self.type_of(v)
            acc = tw if acc is None else result_type(acc, tw)
        t, weak = acc
        return (F64 if t.is_float else I64) if weak and t != I1 else t

    def float_count(self, start, stop, step):
        if all(is_static_number(v) for v in (start, stop, step)):
            return max(0, math.ceil((stop - start) / step))
        span = self.binary("/", self.binary("-", stop, start), step)
        n = self.math_call("ceil", [span], weak_result=True, result_int=True)
        return self.max_of(n, 0)

    def linspace(self, start, stop, num=50, endpoint=True, dtype=None):
        if not isinstance(endpoint, bool):
            raise UnsupportedError("linspace: endpoint must be a constant True or False", self.loc)
        t = self.number_type([start, stop, 1.0])
        t = F64 if not t.is_float else t
        div = self.binary("-", num, 1) if endpoint else num
        delta = self.binary("-", self.scalar(stop, t, weak=False), self.scalar(start, t, weak=False))
        step = self.binary("/", delta, self.scalar(self.max_of(self.index(div), 1), t, weak=False))
        lo, hi, last = self.scalar(start, t, weak=False), self.scalar(stop, t, weak=False), self.binary("-", num, 1)
        out_t = dtype or t

        def elem(tr, idx):
            v = tr.binary("+", tr.binary("*", tr.scalar(idx[0], t, weak=False), step), lo)
            if endpoint:
                at_end = tr.both(tr.compare("==", idx[0], last), tr.compare(">", idx[0], 0))
                v = Scalar(tr.b.select(at_end.value, hi.value, v.value), False)
            return tr.scalar(v, out_t, weak=False)
        return self.new_lazy([num if is_static_number(num) else self.index(num)], out_t, elem, simple=True)

    def eye(self, n, m=None, k=0, dtype=None):
        t = dtype or F64
        m = n if m is None else m

        def elem(tr, idx):
            diag = tr.compare("==", tr.binary("-", idx[1], idx[0]), k)
            return tr.scalar(diag, t, weak=False)
        return self.new_lazy([n if is_static_number(n) else self.index(n),
                              m if is_static_number(m) else self.index(m)], t, elem, simple=True)


__all__ = ["ArrayCreation"]
