"""Lower verified IR functions to an llvmlite module.

Invariants:
- One LLVM function per IR function reachable from the entry, internal
  linkage, named `irad.impl.<name>`, of type
  `{i32 status, flat results...} (ptr ctx, flat args...)` (`abi.flat_types`).
  A nonzero status means the error record in `ctx` is filled and the
  results are undefined; callers return it unchanged.
- What each op means comes from its `llvm` descriptor in the op table
  (`irad.ops.lowering`); `lowering_for` maps a descriptor to the Python
  function that emits it. Lowerings receive the `FuncLowering` and the
  lowered operands and return the lowered result(s).
- Semantics are the interpreter's, exactly: no instruction that can trap or
  yield poison is emitted on a path the interpreter defines (division by
  zero, INT_MIN / -1, float-to-int overflow, out-of-range shifts).
- Every failing check branches to its function's one failure exit, which
  writes the error record from phis and returns the status.
- Bounds checks go through `FuncLowering.check_index`; a check that the
  loop bounds prove (`Analysis.proven`, runtime/hoist.py) or that the
  enclosing loop's versioning precondition has proven (`FuncLowering.elided`,
  runtime/versioning.py) is not emitted.
- Element loads and stores carry scoped-noalias metadata (runtime/alias.py);
  `Options.noalias_args` names the entry function's arguments that share no
  memory with any other argument (the entry checks it on every call).
"""
from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from irad.errors import UnsupportedError
from irad.ir import Block, Func, Module, Op
from irad.ops import OPS
from irad.ops.lowering import Binary, Compare, Intrinsic, Libm, Special

from . import blas, control, memory, scalars, tapes
from .alias import AliasScopes
from .hoist import Analysis
from .abi import (CTX, CTX_ERR, ERR_FIELDS, I32, I64, LIKELY, PTR, UNLIKELY, check_type, flat_types,
                  flatten, i64, unflatten)
from .errors import INDEX, Site

FAST_FLAGS = ("reassoc", "contract", "nsz", "arcp", "afn")
TERMINATORS = frozenset({"yield", "condition", "return"})

SPECIALS = {**scalars.SPECIALS, **memory.SPECIALS, **control.SPECIALS, **tapes.SPECIALS, **blas.SPECIALS}
_BY_KIND = {Binary: scalars.lower_binary, Compare: scalars.lower_compare,
            Intrinsic: scalars.lower_intrinsic, Libm: scalars.lower_libm}


def lowering_for(desc):
    """The function that lowers ops with descriptor `desc` (None if unknown)."""
    if isinstance(desc, Special):
        if desc.name in TERMINATORS:
            return TERMINATORS
        return SPECIALS.get(desc.name)
    return _BY_KIND.get(type(desc))


@dataclass(frozen=True)
class Options:
    fastmath: bool = False
    boundscheck: bool = True
    noalias_args: frozenset = frozenset()     # argument indices of the entry function


class ModuleLowering:
    """The LLVM module being built, its declarations and its failure sites."""

    def __init__(self, funcs: dict[str, Func], options: Options, *, defines_shared: bool = False):
        self.module = ir.Module(name="irad")
        self.defines_shared = defines_shared        # True only for the runtime library itself
        self.funcs = funcs
        self.options = options
        self.sites: list[Site] = []
        self.impls: dict[str, ir.Function] = {}
        self.checked_copies: dict = {}          # id(for op) -> (fn, free values, slot), versioning.py
        self.cold: ModuleLowering | None = None  # the checked copies' module (runtime/cold.py)
        self.is_cold = False
        self.cold_slots: list[tuple[str, str]] = []   # (slot global here, function in self.cold)
        self.entry: str | None = None
        self._callees: set | None = None
        self._pending: list[str] = []
        self._weights: dict = {}

    def weigh(self, branch, weights) -> None:
        """`branch.set_weights(weights)` with one metadata node per module and weights: llvmlite
        looks the node up by formatting its operands, a third of a lowering's time."""
        key = tuple(weights)
        md = self._weights.get(key)
        if md is None:
            md = self._weights[key] = self.module.add_metadata(
                [ir.MetaDataString(self.module, "branch_weights"), *(ir.Constant(I32, w) for w in key)])
        branch.set_metadata("prof", md)

    def site(self, func: Func, op: Op, kind: str, axis: int = 0) -> ir.Constant:
        self.sites.append(Site(func.name, op.name, op.loc, kind, axis))
        return i64(len(self.sites) - 1)

    def declare(self, name: str, ret: ir.Type, args) -> ir.Function:
        """An external function (libc, libm or an LLVM intrinsic), declared once."""
        existing = self.module.globals.get(name)
        if existing is not None:
            return existing
        fn = ir.Function(self.module, ir.FunctionType(ret, list(args)), name)
        fn.attributes.add("nounwind")
        return fn

    def shared(self, name: str, ret: ir.Type, args, build) -> ir.Function:
        """A runtime-library function (runtime/library.py): declared here, defined by
        `build(fn)` only in the library's own module."""
        if not self.defines_shared:
            return self.declare(name, ret, args)
        fn = self.helper(name, ret, args, build)
        fn.linkage = "external"
        return fn

    def helper(self, name: str, ret: ir.Type, args, build) -> ir.Function:
        """An internal function defined once per module by `build(fn)`."""
        existing = self.module.globals.get(name)
        if existing is not None:
            return existing
        fn = ir.Function(self.module, ir.FunctionType(ret, list(args)), name)
        fn.linkage = "internal"
        fn.attributes.add("nounwind")
        build(fn)
        return fn

    def impl(self, name: str) -> ir.Function:
        """The LLVM function of IR function @name (lowered later if new)."""
        if name in self.impls:
            return self.impls[name]
        if name not in self.funcs:
            raise UnsupportedError(f"call to @{name}: no such function in the module")
        func = self.funcs[name]
        for a in func.args:
            check_type(a.type, f"argument %{a.hint} of @{name}")
        for k, t in enumerate(func.result_types):
            check_type(t, f"result {k} of @{name}")
        ret = ir.LiteralStructType([I32] + [t for r in func.result_types for t in flat_types(r)])
        args = [t for a in func.args for t in flat_types(a.type)]
        fn = ir.Function(self.module, ir.FunctionType(ret, [PTR] + args),
                         f"irad.impl.{name}")
        fn.linkage = "internal"
        fn.attributes.add("nounwind")
        self.impls[name] = fn
        self._pending.append(name)
        return fn

    def lower_reachable(self, entry: str) -> ir.Function:
        self.entry = entry
        fn = self.impl(entry)
        self.lower_pending()
        return fn

    def lower_pending(self) -> None:
        """Lower every function declared by `impl` and not lowered yet."""
        while self._pending:
            name = self._pending.pop()
            FuncLowering(self, self.funcs[name], self.impls[name]).lower()

    def cold_lowering(self) -> "ModuleLowering":
        """The module for code that runs only when a fast path's precondition fails, compiled
        on first use (runtime/cold.py); it numbers its failure sites with this module's. The
        cold module is its own cold module."""
        if self.is_cold:
            return self
        if self.cold is None:
            self.cold = ModuleLowering(self.funcs, self.options)
            self.cold.sites, self.cold.is_cold, self.cold.entry = self.sites, True, self.entry
        return self.cold

    def is_callee(self, func: Func) -> bool:
        """Whether an IR `call` in the module may reach `func`."""
        if self._callees is None:
            self._callees = {op.attrs["callee"] for f in self.funcs.values() for op in f.walk()
                             if op.name == "call"}
        return func.name in self._callees

    def noalias_args(self, func: Func) -> frozenset:
        """The entry's noalias arguments; none if an IR call reaches the entry (the C entry's
        overlap check would not cover that call)."""
        if func.name != self.entry or self.is_callee(func):
            return frozenset()
        return self.options.noalias_args


class FuncLowering:
    """Lowers the body of one IR function into its LLVM function."""

    def __init__(self, ml: ModuleLowering, func: Func, fn: ir.Function, *, versioning: bool = True,
                 result_types=None, alias: AliasScopes | None = None, analysis: Analysis | None = None):
        self.ml, self.func, self.fn = ml, func, fn
        self.b = ir.IRBuilder(fn.append_basic_block("entry"))
        self.ctx = fn.args[0]
        self.env: dict = {}
        self.fm = FAST_FLAGS if ml.options.fastmath else ()
        self.boundscheck = ml.options.boundscheck
        self.result_types = list(func.result_types if result_types is None else result_types)
        self.alias = alias or AliasScopes(ml.module, func, ml.noalias_args(func), tag=not ml.is_callee(func))
        self.analysis = analysis or Analysis(func)
        self.versioning = versioning            # False in a loop's outlined checked copy
        self.plain_broadcast = not versioning   # no loop specialization (runtime/broadcast.py)
        self.elided: set = set()                # (op, axis) checks proven by an enclosing precondition
        self.promoted: dict = {}                # tape op -> (data pointer, element index)
        self.intercept: dict = {}               # op -> replacement lowering (runtime/scatter.py)
        self._failure = None                    # (block, record phis), see _failure_exit

    def loop_plan(self, op: Op):
        """The versioning plan of `for` op (None: lower it plainly)."""
        return self.analysis.plan(op) if self.versioning else None

    def lower(self) -> None:
        flat, args = list(self.fn.args[1:]), []
        for a in self.func.args:
            n = len(flat_types(a.type))
            args.append(unflatten(self.b, a.type, flat[:n]))
            flat = flat[n:]
        self.ret(self.lower_block(self.func.body.block, args))

    def lower_block(self, block: Block, args) -> list:
        """Bind `args`, lower the ops; return the lowered terminator operands."""
        for a, v in zip(block.args, args):
            self.env[a] = v
        for op in block.ops:
            values = [self.env[v] for v in op.operands]
            if op.name in TERMINATORS:
                return values
            hook = self.intercept.get(op)
            for r, v in zip(op.results, self.lower_op(op, values) if hook is None else hook(values)):
                self.env[r] = v
        raise AssertionError(f"block without terminator in @{self.func.name}")

    def lower_op(self, op: Op, values) -> list:
        desc = OPS[op.name].llvm
        lower = lowering_for(desc)
        if lower is None or lower is TERMINATORS:
            raise UnsupportedError(f"op '{op.name}' has no CPU lowering ({desc!r})", op.loc)
        out = lower(self, op, desc, values) if not isinstance(desc, Special) else lower(self, op, values)
        if isinstance(out, list):
            return out
        return [out] if op.results else []

    # ---- returning and failing -------------------------------------------

    def ret(self, results) -> None:
        """Return success with `results` (lowered values of the function's result types)."""
        rt = self.fn.function_type.return_type
        agg = self.b.insert_value(ir.Constant(rt, ir.Undefined), ir.Constant(I32, 0), 0)
        flat = [v for t, r in zip(self.result_types, results) for v in flatten(t, r)]
        for k, v in enumerate(flat):
            agg = self.b.insert_value(agg, v, k + 1)
        self.b.ret(agg)

    def propagate(self, status: ir.Value) -> None:
        """Return a callee's nonzero status; the error record is already filled."""
        rt = self.fn.function_type.return_type
        self.b.ret(self.b.insert_value(ir.Constant(rt, ir.Undefined), status, 0))

    def call_with_status(self, fn, flat, results, name: str, fails_rarely: bool) -> list:
        """Call an outlined function returning {status, flattened results...}: propagate a
        non-zero status (an error), else return the results rebuilt for `results`' types."""
        b = self.b
        out = b.call(fn, [self.ctx, *flat])
        status = b.extract_value(out, 0)
        failed, ok = self.new_block(f"{name}.failed"), self.new_block(f"{name}.ok")
        weights = LIKELY if fails_rarely else UNLIKELY
        self.ml.weigh(b.cbranch(b.icmp_signed("==", status, ir.Constant(I32, 0)), ok, failed), weights)
        b.position_at_end(failed)
        self.propagate(status)
        b.position_at_end(ok)
        values, k = [], 1
        for r in results:
            n = len(flat_types(r.type))
            values.append(unflatten(b, r.type, [b.extract_value(out, k + j) for j in range(n)]))
            k += n
        return values

    def fail(self, status: int, site: ir.Value, index=None, extent=None, axis: int = 0) -> None:
        """Branch to the function's one failure exit with this error record (terminates the
        current block)."""
        self._branch_to_failure(self.b.branch, status, site, index, extent, axis)

    def check(self, ok: ir.Value, status: int, site: ir.Value, index=None, extent=None,
              axis: int = 0) -> None:
        """Continue when `ok` (i1) holds, else fail with the given record."""
        good = self.fn.append_basic_block("ok")
        self._branch_to_failure(lambda exit_: self.ml.weigh(self.b.cbranch(ok, good, exit_), LIKELY),
                                status, site, index, extent, axis)
        self.b.position_at_end(good)

    def _branch_to_failure(self, branch, status, site, index, extent, axis) -> None:
        exit_, phis = self._failure_exit()
        zero = i64(0)
        record = [i64(status), site, zero if index is None else index, zero if extent is None else extent,
                  i64(axis)]
        source = self.b.block
        branch(exit_)
        for phi, value in zip(phis, record):
            phi.add_incoming(value, source)

    def _failure_exit(self):
        """The block every failing check branches to: phis of the record's fields, which it
        writes into the context before returning the status. Made on first use."""
        if self._failure is None:
            block = self.fn.append_basic_block("fail")
            b = ir.IRBuilder(block)
            phis = [b.phi(I64, name) for name in ("status", "site", "index", "extent", "axis")]
            for k, v in enumerate(phis[:ERR_FIELDS]):
                ptr = b.gep(self.ctx, [ir.Constant(I32, 0), ir.Constant(I32, CTX_ERR), ir.Constant(I32, k)],
                            inbounds=True, source_etype=CTX)
                b.store(v, ptr)
            rt = self.fn.function_type.return_type
            b.ret(b.insert_value(ir.Constant(rt, ir.Undefined), b.trunc(phis[0], I32), 0))
            self._failure = block, phis
        return self._failure

    def check_index(self, op: Op, axis: int, index: ir.Value, extent: ir.Value, kind="index",
                    when: ir.Value | None = None) -> None:
        """0 <= index < extent (if `when`), or an IndexError naming op, index and extent.

        Checks proven from the loop bounds or by an enclosing loop's versioning precondition
        are elided."""
        if not self.boundscheck or (op, axis) in self.elided or (op, axis) in self.analysis.proven \
                or op.attrs.get("inbounds"):
            return
        ok = self.b.icmp_unsigned("<", index, extent)
        if when is not None:
            ok = self.b.or_(self.b.not_(when), ok)
        self.check(ok, INDEX, self.ml.site(self.func, op, kind, axis), index, extent, axis)

    def new_block(self, name: str) -> ir.Block:
        return self.fn.append_basic_block(name)


def collect_funcs(func: Func, module: Module | None) -> dict[str, Func]:
    funcs = dict(module.funcs) if module is not None else {}
    funcs[func.name] = func
    return funcs


def lower_func(func: Func, module: Module | None = None, options: Options = Options()) -> ModuleLowering:
    """Lower `func` and every function it calls (found in `module`)."""
    ml = ModuleLowering(collect_funcs(func, module), options)
    ml.lower_reachable(func.name)
    return ml
