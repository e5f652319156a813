"""Structured control flow from Python statements: if, for-range, while,
break, continue and early return, all lowered to `if`/`for`/`while` ops.

The mechanism: `break`, `continue` and `return` set flags in the
environment (`.brk`, `.cont`, `.ret`; the returned value lives in `.rv`).
`exec_block` guards the statements after a flag that may be set at run time
with `if not flag`, so every exit becomes structured. A `for` whose body may
break or return becomes a `while` over a hidden counter.

Merging: after an `if`, or around a loop, each name's values are joined
leaf by leaf (`Spec`): identical static values stay static; numbers join
by NEP 50 promotion; arrays must have one dtype and ndim, and a
C-contiguous array joins a strided one as a strided view of itself; an
integer keeps a lower bound (`lb`, which spares an index its negative-index
wrap) only while every joined value respects it. Loops are retraced until
the types and bounds of their carried values stop changing.

Invariants: the environment maps names to trace values (see values.py); a
name defined on only some paths holds `Undefined` and is an error when read.
"""
from __future__ import annotations

import ast
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ..errors import TypingError
from ..ir import Block, Builder, Region
from ..types import I64, ArrayType
from .values import Array, Scalar, Struct, Undefined, is_static_number, result_type, static_type

FLAGS = (".brk", ".cont", ".ret")
RV = ".rv"
MISSING = object()
MAX_RETRACES = 6


class Placeholder:
    """The value of `.rv` on paths that have not returned: any value of the right type."""


PLACEHOLDER = Placeholder()


@dataclass(frozen=True)
class Spec:
    """How one leaf is carried: kind "static" (value kept), "scalar" or "array"; `lb` is a
    proven lower bound of an integer scalar on every path that reaches the join."""

    kind: str
    type: object = None
    weak: bool = False
    value: object = None
    lb: int | None = None

    @property
    def runtime(self) -> bool:
        return self.kind != "static"


# ---- trees of values ---------------------------------------------------------

def flatten(v):
    """(leaves, rebuild) for tuples, lists, dicts and Structs of trace values."""
    if isinstance(v, tuple) and not isinstance(v, (Scalar, Array)):
        parts = [flatten(e) for e in v]
        rebuild = (lambda ls, t=type(v): t(*ls)) if hasattr(type(v), "_fields") else tuple
        return _combine(parts, rebuild)
    if isinstance(v, list):
        return _combine([flatten(e) for e in v], list)
    if isinstance(v, dict):
        keys = list(v)
        return _combine([flatten(v[k]) for k in keys], lambda ls: dict(zip(keys, ls)))
    if isinstance(v, Struct):
        keys = list(v.fields)
        return _combine([flatten(v.fields[k]) for k in keys],
                        lambda ls, c=v.cls: Struct(c, dict(zip(keys, ls))))
    return [v], lambda ls: ls[0]


def _combine(parts, make):
    leaves, sizes = [], []
    for ls, _ in parts:
        leaves.extend(ls)
        sizes.append(len(ls))

    def rebuild(values):
        out, k = [], 0
        for (_, rb), n in zip(parts, sizes):
            out.append(rb(values[k:k + n]))
            k += n
        return make(out)
    shape = tuple(sizes)
    rebuild.shape = shape
    return leaves, rebuild


def tree_shape(v):
    """A comparable description of v's structure."""
    if isinstance(v, (Scalar, Array)) or not isinstance(v, (tuple, list, dict, Struct)):
        return "*"
    if isinstance(v, dict):
        return ("dict", tuple((k, tree_shape(x)) for k, x in v.items()))
    if isinstance(v, Struct):
        return (v.cls, tuple((k, tree_shape(x)) for k, x in v.fields.items()))
    return (type(v), tuple(tree_shape(x) for x in v))


def _same_static(a, b) -> bool:
    if a is b:
        return True
    if isinstance(a, (Scalar, Array)) or isinstance(b, (Scalar, Array)):
        return False
    try:
        return type(a) is type(b) and bool(a == b) and not isinstance(a, (tuple, list, dict))
    except Exception:
        return False


def spec_of(v) -> Spec:
    if isinstance(v, Scalar):
        return Spec("scalar", v.type, v.weak, lb=v.lb if v.type.is_int else None)
    if isinstance(v, Array):
        return Spec("array", v.type)
    return Spec("static", value=v)


def join(s: Spec, v) -> Spec:
    """The least spec holding both what s describes and value v."""
    if v is PLACEHOLDER:
        return s
    if s.kind == "static" and s.value is PLACEHOLDER:
        return spec_of(v)
    if s.kind == "static" and _same_static(s.value, v):
        return s
    if s.kind == "array" or isinstance(v, Array):
        if isinstance(v, Array) and s.kind == "array" and v.type == s.type:
            return s
        if isinstance(v, Array) and s.kind == "array" and v.type.ndim > 0 and \
                (v.type.dtype, v.type.ndim) == (s.type.dtype, s.type.ndim):
            return Spec("array", ArrayType(v.type.dtype, v.type.ndim, "strided"))
        raise _Incompatible(f"{_show(s)} and {_show(spec_of(v))}")
    a = (s.type, s.weak) if s.kind == "scalar" else _number_type(s.value)
    b = (v.type, v.weak) if isinstance(v, Scalar) else _number_type(v)
    t, weak = (a[0], a[1] and b[1]) if a[0] == b[0] else result_type(a, b)
    return Spec("scalar", t, weak, lb=_joined_lb(s, v) if t.is_int else None)


def _lower_bound_of(x) -> int | None:
    if isinstance(x, Scalar):
        return x.lb if x.type.is_int else None
    if isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)):
        return int(x)
    return None


def _joined_lb(s: Spec, v) -> int | None:
    """s's bound while v respects it, else none. Dropping the bound rather than lowering it
    widens: a loop whose variable decreases settles after one more trace instead of never."""
    bound = s.lb if s.kind == "scalar" else _lower_bound_of(s.value)
    below = _lower_bound_of(v)
    return bound if bound is not None and below is not None and below >= bound else None


def _number_type(x):
    if not is_static_number(x):
        raise _Incompatible(f"{x!r} and a number")
    return static_type(x)


def _show(s: Spec) -> str:
    return str(s.type) if s.runtime else repr(s.value)


class _Incompatible(Exception):
    pass


# ---- the mixin ---------------------------------------------------------------

class ControlFlow:
    """Mixin of the tracer; needs `self.env`, `self.b`, `self.exec_stmt`, Arithmetic."""

    @contextmanager
    def into(self, block: Block, env: dict | None = None):
        saved_b, saved_env = self.b, self.env
        self.b = Builder(block, saved_b.loc)
        if env is not None:
            self.env = env
        try:
            yield
        finally:
            self.b = saved_b
            if env is not None:
                self.env = saved_env

    def exec_block(self, stmts):
        for k, stmt in enumerate(stmts):
            pending = self.pending_exit()
            if pending is True:
                return
            if pending is not False:
                self.guard_rest(pending, stmts[k:])
                return
            self.exec_stmt(stmt)

    def pending_exit(self):
        flag = False
        for name in FLAGS:
            flag = self.either(flag, self.env.get(name, False))
        return flag

    def guard_rest(self, pending: Scalar, stmts):
        self.unless_exited(pending, lambda: self.exec_block(stmts))

    def unless_exited(self, pending: Scalar, continuation):
        """Run `continuation` only on paths where no exit flag is set."""
        possible = [n for n in FLAGS if self.env.get(n, False) is not False]

        def skip():
            if len(possible) == 1:
                self.env[possible[0]] = True

        def rest():
            for name in possible:
                self.env[name] = False
            continuation()
        self.branch(pending, skip, rest)

    # ---- if ----
    def branch(self, cond: Scalar, then_fn, else_fn):
        """Trace both arms of a runtime `if` and merge what they assign."""
        self.force_deferred()
        envs, blocks = [], []
        for fn in (then_fn, else_fn):
            block = Block()
            with self.into(block, dict(self.env)):
                fn()
                envs.append(self.env)
            blocks.append(block)
        self.env = self.merge(envs, blocks, cond)

    def merge(self, envs, blocks, cond: Scalar) -> dict:
        merged, carried = {}, []
        names = list(dict.fromkeys([*envs[0], *envs[1]]))
        for name in names:
            vals = [e.get(name, MISSING) for e in envs]
            if vals[0] is vals[1]:
                merged[name] = vals[0]
                continue
            if name in FLAGS:
                vals = [False if v is MISSING else v for v in vals]
            if name == RV:
                vals = [PLACEHOLDER if v is MISSING else v for v in vals]
            problem = self.merge_problem(name, vals)
            if problem:
                merged[name] = problem
                continue
            carried.append((name, self.leaf_specs(name, vals)))
        results = self.emit_if(cond, blocks, envs, carried)
        for name, value in results.items():
            merged[name] = value
        return merged

    def merge_problem(self, name, vals):
        if any(v is MISSING or isinstance(v, Undefined) for v in vals):
            return Undefined(f"'{name}' is not assigned on every path through the `if` above line "
                             f"{self.loc.line}", f"assign '{name}' before the `if` or in every branch")
        shapes = [tree_shape(v) for v in vals if v is not PLACEHOLDER]
        if len(set(map(repr, shapes))) > 1:
            return Undefined(f"'{name}' holds differently structured values on the two branches",
                             "give it the same structure on every path")
        return None

    def leaf_specs(self, name, vals):
        """(rebuild, [Spec per leaf], [[leaf per branch]...]) for a merged name."""
        template = next(v for v in vals if v is not PLACEHOLDER)
        _, rebuild = flatten(template)
        per_branch = [flatten(v)[0] if v is not PLACEHOLDER else None for v in vals]
        n = len(flatten(template)[0])
        per_branch = [ls if ls is not None else [PLACEHOLDER] * n for ls in per_branch]
        specs = []
        for leaves in zip(*per_branch):
            spec = Spec("static", value=PLACEHOLDER)
            try:
                for leaf in leaves:
                    spec = join(spec, leaf)
            except _Incompatible as e:
                raise TypingError(f"'{name}' is {e} on different paths", self.assigned_at(name),
                                  "give the variable one type on every path") from None
            specs.append(spec)
        return rebuild, specs, per_branch

    def emit_if(self, cond, blocks, envs, carried) -> dict:
        types = [s.type for _, (_, specs, _) in carried for s in specs if s.runtime]
        for k, block in enumerate(blocks):
            with self.into(block):
                values = [self.coerce(leaves[k], s) for _, (_, specs, per) in carried
                          for s, leaves in zip(specs, zip(*per)) if s.runtime]
                self.b.emit("yield", *values)
        op = self.b.emit("if", cond.value, regions=[Region([b]) for b in blocks], types=tuple(types))
        results = list(op) if isinstance(op, tuple) else ([op] if types else [])
        return self.rebuild_all(carried, results)

    def rebuild_all(self, carried, results) -> dict:
        it, out = iter(results), {}
        for name, (rebuild, specs, _) in carried:
            out[name] = rebuild([self.wrap(next(it), s) if s.runtime else s.value for s in specs])
        return out

    def wrap(self, value, spec: Spec):
        if spec.kind == "array":
            return Array(value)
        return Scalar(value, spec.weak, spec.lb)

    def coerce(self, leaf, spec: Spec):
        """An IR value of spec's type for leaf (a placeholder becomes a zero)."""
        if spec.kind == "array":
            if leaf is PLACEHOLDER:
                t: ArrayType = spec.type
                zero = self.b.const(0, I64)
                empty = self.b.alloc(*[zero] * t.ndim, type=ArrayType(t.dtype, t.ndim, "C"))
                return empty if t.layout == "C" else self.as_strided(Array(empty))
            if leaf.type != spec.type:
                return self.as_strided(leaf)
            return leaf.value
        if leaf is PLACEHOLDER:
            return self.b.const(0, spec.type)
        return self.scalar(leaf, spec.type).value

    def as_strided(self, a: Array):
        """A C-contiguous array as a strided one (a view of all of it), to join with strided arrays."""
        operands = []
        for k in range(a.type.ndim):
            operands += [self.b.const(0, I64), self.b.dim(a.value, axis=k), self.b.const(1, I64)]
        return self.b.view(a.value, *operands, spec="s" * a.type.ndim)

    # ---- loops ----
    def facts(self, body) -> BodyFacts:
        """`body_facts(body)`, once per trace: a loop nested in a loop is traced again each
        time the outer one is retraced."""
        memo = self.__dict__.setdefault("_body_facts", {})
        key = id(body)
        if key not in memo:
            memo[key] = (body, body_facts(body))     # body kept: its id stays unique
        return memo[key][1]

    def carried_names(self, body, exclude=()):
        return [n for n in self.facts(body).assigned if n not in exclude and n in self.env
                and not isinstance(self.env[n], Undefined)]

    def initial_specs(self, names):
        carried = []
        for name in names:
            v = self.env.get(name, PLACEHOLDER if name == RV else False)
            leaves, rebuild = flatten(v) if v is not PLACEHOLDER else ([PLACEHOLDER], lambda ls: ls[0])
            carried.append([name, rebuild, [spec_of(x) if x is not PLACEHOLDER
                                            else Spec("static", value=PLACEHOLDER) for x in leaves]])
        return carried

    def bind(self, carried, args) -> dict:
        env, it = dict(self.env), iter(args)
        hints = [("k" if name.startswith(".k") else name.lstrip(".")) for name, _, specs in carried
                 for s in specs if s.runtime]
        for arg, hint in zip(args, hints):
            arg.hint = hint
        for name, rebuild, specs in carried:
            env[name] = rebuild([self.wrap(next(it), s) if s.runtime else s.value for s in specs])
        return env

    def widen(self, carried, env) -> bool:
        """Join each carried name's spec with its value in env; True when any changed."""
        changed = False
        for entry in carried:
            name, rebuild, specs = entry
            v = env.get(name, PLACEHOLDER if name == RV else False)
            if isinstance(v, Undefined):
                raise TypingError(v.why, self.loc, v.hint)
            if specs and specs[0].kind == "static" and specs[0].value is PLACEHOLDER and len(specs) == 1 \
                    and v is not PLACEHOLDER:
                leaves, entry[1] = flatten(v)
                entry[2] = [spec_of(x) for x in leaves]
                changed = True
                continue
            leaves = flatten(v)[0] if v is not PLACEHOLDER else [PLACEHOLDER] * len(specs)
            if len(leaves) != len(specs):
                raise TypingError(f"'{name}' changes structure inside the loop", self.loc)
            try:
                new = [join(s, x) for s, x in zip(specs, leaves)]
            except _Incompatible as e:
                raise TypingError(f"'{name}' changes from {e} inside the loop", self.assigned_at(name),
                                  "give the variable one type before and inside the loop") from None
            if new != specs:
                entry[2] = new
                changed = True
        return changed

    def runtime_types(self, carried):
        return [s.type for _, _, specs in carried for s in specs if s.runtime]

    def carried_values(self, carried, env):
        out = []
        for name, _, specs in carried:
            v = env.get(name, PLACEHOLDER if name == RV else False)
            leaves = flatten(v)[0] if v is not PLACEHOLDER else [PLACEHOLDER] * len(specs)
            out.extend(self.coerce(x, s) for x, s in zip(leaves, specs) if s.runtime)
        return out

    def trace_loop(self, carried, build):
        """Retrace `build(carried) -> (regions, out_envs)` until carried types settle."""
        for _ in range(MAX_RETRACES):
            regions, changed = build(carried)
            if not changed:
                return regions
        raise TypingError("the types of the loop's variables do not settle", self.loc)

    def finish_loop(self, carried, results, body_assigned):
        self.env.update(self.rebuild_all([(n, (rb, specs, None)) for n, rb, specs in carried], results))
        carried_names = {c[0] for c in carried}
        for name in body_assigned:
            if name not in carried_names and not name.startswith("."):
                self.env[name] = Undefined(
                    f"'{name}' is assigned inside the loop ending before line {self.loc.line} "
                    f"but not before it, so it has no value after the loop",
                    f"initialize '{name}' before the loop")
        for flag in (".brk", ".cont"):
            self.env.pop(flag, None)


# ---- AST helpers ---------------------------------------------------------------

@dataclass(frozen=True)
class BodyFacts:
    """What tracing a loop needs to know of its body, found in one walk of its statements
    (not entering nested function or class bodies)."""

    assigned: tuple[str, ...]   # names assigned anywhere, in first-assignment order
    breaks: bool                # a `break` of this loop (not of a nested one)
    returns: bool               # a `return`, at any depth


def body_facts(stmts) -> BodyFacts:
    names: dict[str, None] = {}
    breaks = returns = False

    def target(t):
        if isinstance(t, ast.Name):
            names[t.id] = None
        elif isinstance(t, (ast.Tuple, ast.List)):
            for e in t.elts:
                target(e)
        elif isinstance(t, ast.Starred):
            target(t.value)

    queue = deque((node, False) for node in stmts)      # (node, inside a nested loop)
    while queue:
        node, nested = queue.popleft()
        if isinstance(node, ast.Assign):
            for t in node.targets:
                target(t)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.NamedExpr)):
            target(node.target)
        elif isinstance(node, ast.Break):
            breaks = breaks or not nested
        elif isinstance(node, ast.Return):
            returns = True
        elif isinstance(node, _OPAQUE):
            continue
        inner = nested or isinstance(node, (ast.For, ast.While))
        queue.extend((child, inner) for child in ast.iter_child_nodes(node))
    return BodyFacts(tuple(names), breaks, returns)


_OPAQUE = (ast.FunctionDef, ast.Lambda, ast.ClassDef, ast.AsyncFunctionDef)


__all__ = ["BodyFacts", "ControlFlow", "FLAGS", "RV", "body_facts"]
