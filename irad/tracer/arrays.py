"""Whole-array expressions: building lazy values, binding them to loops,
materializing them and storing them (the tracer mixin over lazy.py).

Fusion rule. An array-valued expression stays lazy (a `Lazy`) until
something needs its memory, so `a * b + c` is one loop and
`np.sum(x ** 2)` is a loop with an accumulator that allocates nothing.
Names keep it lazy too (`defer`): in straight-line code at the function's
top level, `d = np.log(s / k)` binds `d` to the expression, an inlined
helper takes and returns lazy values, and every use of `d` computes it
inside its consumer's loop (the optimizer's CSE merges repeated uses in
one loop), so a chain of statements ending in a reduction is one loop.
A value is materialized — one `alloc` and one loop nest — when it is
returned, yielded, indexed, viewed (`.T`, `reshape`), updated in place,
handed to an operation that needs memory, or when its name is still in
use and (`force_deferred`, `force_readers`):
- control flow starts (`for`, `while`, `if`, a conditional expression):
  regions must not compute top-level values;
- an array it reads may be written (NumPy computed it at its assignment).
An inlined call may write arrays, so the lazy values pending in the
current expression are held (at the top level) or materialized before it.
A deferred value used by two loops is computed in each, unless it calls an
expensive math function: `bind_to` notes its consumers, and `trace`
traces again, materializing such values at their assignment.

Stores. `target[...] = expr` (and `target op= expr`) evaluates `expr`
straight into the target when no array it reads may overlap the target,
except reads of the very element being written; otherwise it goes through
one temporary, so the right side is fully evaluated first, as in NumPy.
Operands bind to the target's shape directly, so `x += y` reads `x` at
the element it writes.

Run-time shapes. Extents not provably compatible at trace time become
`Check`s, emitted once per materialization, store or reduction by
`emit_checks` as `check` ops: on a mismatch both targets raise a
ValueError at the source line in NumPy's words ("operands could not be
broadcast together with shapes (3,) (4,)"; run-time extents of other axes
than the failing one read `?`). A check that fails at trace time is a
TypingError with the same words.

Extents of views (`view`, `transpose`, `reshape`) are read through to
their source or operands, so shapes stay provably equal across views.

Invariants: a `Lazy` is used only in the block that created it, and
bound (scale factors, checks) outside the loops that evaluate it; a
deferred value exists only in the function's top-level block, and its
shape checks are emitted at its assignment.
"""
from __future__ import annotations

from ..errors import TypingError
from ..ir import Block, Region
from ..types import I64, ArrayType
from .control import flatten
from .lazy import (Bound, Check, Lazy, broadcast_message, broadcast_shape, may_alias, same_extent,
                   same_value, show_shape, static_int)
from .values import Array, Scalar


class ArrayExpressions:
    """Mixin of the tracer: lazy construction, binding, loops, materialization, stores."""

    # ---- values ----
    @staticmethod
    def is_arraylike(v) -> bool:
        return isinstance(v, (Array, Lazy))

    def new_lazy(self, shape, dtype, elem=None, reads=(), checks=(), note=None, parts=None,
                 simple=False) -> Lazy:
        z = Lazy(tuple(shape), dtype, elem, tuple(reads), tuple(checks), parts, note,
                 block=self.b.block, simple=simple)
        self.session.pending.append(z)
        return z

    def as_lazy(self, v) -> Lazy:
        """v as a lazy value: arrays read element by element, numbers as 0-d values."""
        if isinstance(v, Lazy):
            return self.leaf(v.forced) if v.forced is not None else v
        if isinstance(v, Array):
            return self.leaf(v)
        t, _ = self.type_of(v)
        s = self.scalar(v, t, weak=False)
        return self.new_lazy((), t, lambda tr, idx: s, simple=True)

    def leaf(self, a: Array) -> Lazy:
        value = a.value

        def elem(t, idx):
            return Scalar(t.b.load(value, *[i.value for i in idx]), False)
        shape = [self.extent(value, k) for k in range(a.type.ndim)]
        return self.new_lazy(shape, a.type.dtype, elem, ((value, True),), simple=True)

    def extent(self, a, k: int):
        """Extent k of array value `a`: a static int, an alloc's or reshape's operand (read through
        views), or a `dim`."""
        op = getattr(a, "op", None)
        if op is not None and op.name == "alloc":
            return self.known_extent(Scalar(op.operands[k], True, 0))
        if op is not None and op.name == "view":
            found = self.view_extent(op, k)
            if found is not None:
                return found
        if op is not None and op.name == "transpose":
            return self.extent(op.operands[0], op.attrs["perm"][k])
        if op is not None and op.name == "reshape":
            return self.known_extent(Scalar(op.operands[k + 1], True, 0))
        return Scalar(self.b.dim(a, axis=k), True, 0)

    def known_extent(self, s: Scalar):
        n = static_int(s)
        if n is not None:
            return n
        op = getattr(s.value, "op", None)
        if op is not None and op.name == "dim":
            return self.extent(op.operands[0], op.attrs["axis"])
        return s

    def view_extent(self, op, k: int):
        axis, result_axis, operands = 0, 0, iter(op.operands[1:])
        for kind in op.attrs["spec"]:
            if kind == "i":
                next(operands)
                axis += 1
                continue
            bounds = [static_int(Scalar(next(operands))) for _ in range(3)] if kind == "s" else ()
            if result_axis == k:
                if kind == "n":
                    return 1
                if kind == "f":
                    return self.extent(op.operands[0], axis)
                if None not in bounds:
                    from ..ops.memory import slice_length
                    return slice_length(*bounds)
                return None
            result_axis += 1
            axis += kind != "n"
        return None

    def shape_of_value(self, v) -> tuple:
        if isinstance(v, Lazy):
            return v.shape
        return tuple(self.extent(v.value, k) for k in range(v.type.ndim))

    # ---- building ----
    def elementwise(self, fn, operands, note=None, keep_0d=False):
        """The lazy value of fn(t, *elements) over the broadcast of the array operands.

        Non-array operands (numbers, Scalars) reach fn unchanged, so NEP 50's weak
        Python scalars behave exactly as in scalar code. Over 0-d arrays the result is a
        strong Scalar, as NumPy's ufuncs give (unless keep_0d)."""
        positions = [k for k, v in enumerate(operands) if self.is_arraylike(v)]
        for k, v in enumerate(operands):
            if k not in positions:
                self.type_of(v)
        lazies = [self.as_lazy(operands[k]) for k in positions]
        for z in lazies:
            z.consumed = True
        shape = broadcast_shape(self, [z.shape for z in lazies])
        dtype, costly = self.dry_run(fn, operands, positions, lazies)
        z = self.new_lazy(shape, dtype, note=note, parts=(fn, tuple(operands), positions, lazies))
        z.costly = costly or any(lz.costly for lz in lazies)
        if shape or keep_0d:
            return z
        bound = self.bind_to(z, ())
        self.emit_checks(bound.checks)
        return bound.elem(self, [])

    def dry_run(self, fn, operands, positions, lazies):
        """(element type, whether it calls an expensive math function) of fn, run on
        stand-ins in a discarded block."""
        block = Block([z.dtype for z in lazies])
        args = list(operands)
        for k, a in zip(positions, block.args):
            args[k] = Scalar(a, False)
        with self.into(block):
            dtype = self.type_of(fn(self, *args))[0]
        return dtype, any(op.opdef.expensive for op in block.ops)

    def mapped(self, z, shape, index_fn, note=None, simple=None) -> Lazy:
        """An opaque lazy value of `shape` whose element at idx is z's at index_fn(t, idx)."""
        z = self.as_lazy(z)
        z.consumed = True
        inner = self.bind_to(z, z.shape)
        self.emit_checks(inner.checks)

        def elem(t, idx):
            return inner.elem(t, index_fn(t, idx))
        reads = [(v, False) for v, _ in inner.reads]
        out = self.new_lazy(shape, z.dtype, elem, reads, note=note,
                            simple=z.simple if simple is None else simple)
        out.costly = z.costly
        return out

    # ---- binding to an iteration shape ----
    def bind_to(self, z: Lazy, shape) -> Bound:
        """z's elements broadcast to `shape` (z's axes align with its last ones).

        Notes which top-level binding (a consumer: a loop nest to come) computes each
        deferred value, for `trace`'s second pass."""
        s = self.session
        if s.bind_depth == 0:
            s.consumer += 1
        if z.forced is not None:
            z = self.leaf(z.forced)
        elif z.consumers is not None and not s.probing:
            z.consumers.add(s.consumer)
        s.bind_depth += 1
        try:
            return self._bind(z, shape)
        finally:
            s.bind_depth -= 1

    def _bind(self, z: Lazy, shape) -> Bound:
        z.consumed = True
        shape = list(shape)
        if len(shape) < z.ndim:
            raise TypingError(f"cannot broadcast shape {show_shape(z.shape)} to {show_shape(shape)}",
                              self.loc, "the value has more dimensions than the array it goes to")
        if z.parts is not None:
            return self.bind_parts(z, shape)
        shift = len(shape) - z.ndim
        maps, checks = self.axis_maps(z.shape, shape, shift)
        exact = shift == 0 and all(m == "same" for m in maps)

        def elem(t, idx):
            return t.scalar(z.elem(t, self.apply_maps(t, idx[shift:], maps)), z.dtype, weak=False)
        return Bound(elem, checks + [c.shifted(shift) for c in z.checks],
                     [(v, ex and exact) for v, ex in z.reads])

    def bind_parts(self, z: Lazy, shape) -> Bound:
        fn, operands, positions, lazies = z.parts
        n = len(shape)
        subs = [self.bind_to(lz, shape[n - lz.ndim:]) for lz in lazies]

        def elem(t, idx):
            args = list(operands)
            for k, sub, lz in zip(positions, subs, lazies):
                args[k] = sub.elem(t, idx[len(idx) - lz.ndim:])
            return t.scalar(fn(t, *args), z.dtype, weak=False)
        checks = [c.shifted(n - lz.ndim) for sub, lz in zip(subs, lazies) for c in sub.checks]
        reads = [(v, ex and lz.ndim == n) for sub, lz in zip(subs, lazies) for v, ex in sub.reads]
        return Bound(elem, checks, reads)

    def axis_maps(self, own, shape, shift):
        """How each of `own` extents reads the iteration axes `shape[shift:]`, and the checks."""
        maps, checks = [], []
        for k, e in enumerate(own):
            t = shape[k + shift]
            if same_extent(e, t):
                maps.append("same")
            elif static_int(e) == 1:
                maps.append("zero")
            elif static_int(e) is not None and static_int(t) is not None:
                raise TypingError(f"could not broadcast shape {show_shape(own)} to "
                                  f"{show_shape(shape)}", self.loc,
                                  "extents must be equal or 1 on every axis (aligned from the right)")
            else:
                b, s = self.b, self.index(e)
                scale = b.cast(b.ne(s.value, b.const(1, I64)), type=I64)
                maps.append(Scalar(scale, True, 0))
                checks.append(Check(t, e, k + shift, message=broadcast_message(shape, own, k + shift, k)))
        return maps, checks

    @staticmethod
    def apply_maps(t, idx, maps):
        out = []
        for i, m in zip(idx, maps):
            if m == "same":
                out.append(i)
            elif m == "zero":
                out.append(t.index(0))
            else:
                out.append(Scalar(t.b.mul(i.value, m.value), True, 0))
        return out

    # ---- materializing ----
    def materialize(self, v):
        """An Array for v (a Lazy is computed into fresh memory once); other values unchanged."""
        if not isinstance(v, Lazy):
            return v
        if v.forced is None:
            bound = self.bind_to(v, v.shape)
            self.emit_checks(bound.checks)
            out = self.alloc_array(v.shape, v.dtype)
            out.hint = v.name

            def body(idx, carried):
                self.b.store(bound.elem(self, idx).value, out, *[i.value for i in idx])
                return []
            self.loop_nest(v.shape, body)
            v.forced = Array(out, v.note)
        return v.forced

    def alloc_array(self, shape, dtype):
        extents = [self.index(e).value for e in shape]
        return self.b.alloc(*extents, type=ArrayType(dtype, len(extents), "C"))

    def settle(self, v):
        """v with every lazy leaf materialized (values bound to names, returned, yielded)."""
        leaves, rebuild = flatten(v)
        if not any(isinstance(x, Lazy) for x in leaves):
            return v
        return rebuild([self.materialize(x) for x in leaves])

    # ---- names bound to lazy values ----
    def defer(self, v, name: str | None = None):
        """v to bind to a name: a lazy array stays lazy (fusing into whatever uses it) while
        the code is straight-line at the function's top level; anything else is settled.

        Its shape checks run now, at the assignment's line, as NumPy's would."""
        if not (isinstance(v, Lazy) and v.forced is None and v.ndim
                and self.b.block is self.session.func.body.block) or self.loc in self.session.settle_at:
            return self.settle(v)
        if v.name is None:
            v.name, v.site, v.consumers = name, self.loc, set()
            self.session.probing = True         # checks only: not a consumer
            try:
                self.emit_checks(self.bind_to(v, v.shape).checks)
            finally:
                self.session.probing = False
            self.session.deferred.append(v)
            self.session.named.append(v)
        return v

    def force_deferred(self):
        """Materialize every deferred value a name still holds, and rebind this frame's names
        to the arrays: before control flow, whose regions must not compute top-level values."""
        self.force_live(lambda z: True)
        for name, v in self.env.items():
            if isinstance(v, Lazy) and v.forced is not None:
                self.env[name] = v.forced

    def force_readers(self, target: Array):
        """Materialize the deferred values that read memory `target` may share (before a write
        into it: NumPy computed them at their assignment)."""
        self.force_live(lambda z: any(may_alias(v, target.value) for v in self.lazy_reads(z)))

    def force_live(self, wanted) -> None:
        """Materialize (in assignment order) the deferred values that some frame's name holds
        and `wanted` picks; forget the ones no name holds any more."""
        held = {id(v) for frame in self.session.frames for v in frame.env.values() if isinstance(v, Lazy)}
        held.update(id(z) for pending in self.session.held for z in pending)
        keep = []
        for z in self.session.deferred:
            if z.forced is not None or id(z) not in held:
                continue
            if wanted(z):
                self.materialize(z)
            else:
                keep.append(z)
        self.session.deferred = keep

    def lazy_reads(self, z: Lazy) -> list:
        """Every array value z's elements load from."""
        if z.forced is not None:
            return [z.forced.value]
        if z.parts is None:
            return [v for v, _ in z.reads]
        return [v for sub in z.parts[3] for v in self.lazy_reads(sub)]

    def hold_pending(self) -> list:
        """Before inlining a call: the current expression's lazy values still to be used stay
        lazy at the top level (deferred; the caller holds them), elsewhere they are computed."""
        if self.b.block is not self.session.func.body.block:
            self.force_pending()
            return []
        pending = [z for z in self.session.pending
                   if z.forced is None and not z.consumed and z.block is self.b.block]
        for z in pending:
            if not z.ndim:
                self.materialize(z)
        pending = [z for z in pending if z.ndim]
        self.session.deferred.extend(z for z in pending if z not in self.session.deferred)
        return pending

    def force_pending(self):
        """Materialize lazy values of the current block that are still to be used."""
        pending, self.session.pending = self.session.pending, []
        for z in pending:
            if z.forced is None and not z.consumed and z.block is self.b.block:
                self.materialize(z)

    # ---- loops ----
    def loop_nest(self, extents, body, carried=()):
        """Row-major `for` loops over extents; body(idx, carried) -> next carried.

        Returns the carried Scalars after the last iteration."""
        names = "ijklmnpq"
        idx: list = []

        def level(k, carried):
            if k == len(extents):
                return list(body(list(idx), carried))
            block = Block([I64, *[c.type for c in carried]])
            block.args[0].hint = names[k % len(names)]
            inner = [Scalar(a, c.weak) for a, c in zip(block.args[1:], carried)]
            idx.append(Scalar(block.args[0], True, 0))
            with self.into(block):
                out = level(k + 1, inner)
                self.b.emit("yield", *[self.scalar(o, c.type).value for o, c in zip(out, carried)])
            idx.pop()
            lo, hi, step = self.index(0), self.index(extents[k]), self.index(1)
            op = self.b.emit("for", lo.value, hi.value, step.value, *[c.value for c in carried],
                             regions=[Region([block])])
            results = list(op) if isinstance(op, tuple) else ([op] if carried else [])
            return [Scalar(r, c.weak) for r, c in zip(results, carried)]
        return level(0, list(carried))

    # ---- run-time shape checks ----
    def emit_checks(self, checks):
        """Fail at run time (ValueError at this line) when a shape condition does not hold."""
        emitted = []
        for c in checks:
            pair = self.check_pair(c)
            if pair is None or any(same_extent(pair[0], a) and same_extent(pair[1], b) and c.kind == k
                                   for a, b, k in emitted):
                continue
            emitted.append((*pair, c.kind))
            self.b.emit("check", self.index(pair[0]).value, self.index(pair[1]).value, kind=c.kind,
                        message=c.text())

    def check_pair(self, c: Check):
        """(result, operand) extents to check at run time; None when c holds at trace time."""
        r, e = c.result, c.operand
        if same_extent(r, e) or (c.kind == "broadcast" and static_int(e) == 1):
            return None
        if static_int(r) is not None and static_int(e) is not None:
            from ..ops.memory import check_message
            raise TypingError(check_message(c.text(), static_int(r), static_int(e)), self.loc,
                              "extents must be equal" + ("" if c.kind == "equal" else " or 1")
                              + " (shapes align from the right)")
        return r, e

    def require_equal(self, pairs, message=None):
        """A `check` that extents a == b, for each (a, b) in `pairs` (pair k on axis k)."""
        self.emit_checks([Check(a, b, k, "equal", message) for k, (a, b) in enumerate(pairs)])

    # ---- stores ----
    def store_into(self, target: Array, value):
        """target[...] = value with broadcasting (NumPy's assignment semantics)."""
        z = self.as_lazy(value)
        shape = self.shape_of_value(target)
        if z.ndim > len(shape):
            raise TypingError(f"could not broadcast input array from shape {show_shape(z.shape)} "
                              f"into shape {show_shape(shape)}", self.loc,
                              "the value has more dimensions than the array it is stored into")
        bound = self.bind_to(z, shape)
        self.emit_checks(bound.checks)
        if self.safe_to_write(target, bound):
            self.store_loop(target.value, shape, bound)
            return
        tmp = self.alloc_array(shape, z.dtype)
        self.store_loop(tmp, shape, bound)
        self.store_loop(target.value, shape, self.bind_to(self.leaf(Array(tmp)), shape))

    def store_loop(self, out, shape, bound: Bound):
        dtype = out.type.dtype

        def body(idx, carried):
            v = self.scalar(bound.elem(self, idx), dtype)
            self.b.store(v.value, out, *[i.value for i in idx])
            return []
        self.loop_nest(shape, body)

    def safe_to_write(self, target: Array, bound: Bound) -> bool:
        """No read may overlap the target, except one of exactly the element being written."""
        for v, exact in bound.reads:
            if may_alias(v, target.value) and not (exact and same_value(v, target.value)):
                return False
        return True


__all__ = ["ArrayExpressions", "Lazy"]
