"""The differentiation API: gradient, withgradient, pullback, jit_gradient,
with Enzyme's Duplicated/Const/Active annotations and
Flux-style AD types.

Invariants:
- A gradient has its argument's structure: an array for an array (float64,
  or float32 for float32 arrays, also for integer arrays), a float for a
  number, the same tuple/list/dict/dataclass/namedtuple for a structure,
  None where there is no derivative (strings, booleans, Const arguments,
  anything with no active path to the result).
- Plain arguments are Active (numbers) or duplicated with a fresh zeroed
  shadow (arrays); with at least one Duplicated argument, plain arguments
  are Const. `Duplicated(x, dx)` accumulates into dx (zeroed first unless
  zero=False) and the gradient returned for it is dx itself.
- Differentiated code is compiled once per argument signature and
  activity pattern, after the primal IR is optimized; the gradient IR is
  optimized again.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
from collections import namedtuple
from dataclasses import dataclass

import numpy as np

from .errors import IradError
from .interpreter import run as interpret
from .printer import print_func
from .tracer import signature_key, trace
from .tracer.pytree import children, is_runtime_leaf

log = logging.getLogger("irad")


# ---- annotations and AD types -----------------------------------------------------

class Duplicated:
    """An argument with a shadow that receives its gradient (`dval`)."""

    def __init__(self, val, dx=None):
        self.val = val
        self.dval = zeros_like_tree(val) if dx is None else dx


class Const:
    """An argument that is not differentiated."""

    def __init__(self, val):
        self.val = val


class Active:
    """A number whose adjoint is returned."""

    def __init__(self, val):
        if isinstance(val, np.ndarray):
            raise IradError("Active() takes a number, got an array",
                            hint="pass arrays plainly or as Duplicated(x, dx)")
        self.val = val


@dataclass(frozen=True)
class AutoReverse:
    """Compiled reverse mode (the default)."""


@dataclass(frozen=True)
class AutoInterpreter:
    """The same reverse-mode IR, run by the reference interpreter."""


@dataclass(frozen=True)
class AutoFiniteDifferences:
    """Central finite differences: slow, approximate, a cross-check."""

    eps: float = 1e-6


ADTYPES = (AutoReverse, AutoInterpreter, AutoFiniteDifferences)
WithGradient = namedtuple("WithGradient", "val grad")


def zeros_like_tree(x):
    node = children(x)
    if node is not None:
        rebuild, cs = node
        return rebuild([zeros_like_tree(c) for c in cs])
    if isinstance(x, np.ndarray):
        return np.zeros(x.shape, shadow_dtype(x.dtype))
    if isinstance(x, (float, int, np.number)) and not isinstance(x, (bool, np.bool_)):
        return 0.0
    return None


def shadow_dtype(dtype) -> np.dtype:
    return np.dtype(np.float32) if np.dtype(dtype) == np.float32 else np.dtype(np.float64)


# ---- from annotated arguments to leaf activities --------------------------------------

@dataclass
class Leaf:
    """One runtime leaf of the flattened arguments."""

    value: object
    kind: str                 # "const", "active" or "dup"
    shadow: np.ndarray | None = None


def _split_annotation(arg, any_duplicated: bool):
    if isinstance(arg, Duplicated):
        return arg.val, "dup", arg.dval
    if isinstance(arg, Const):
        return arg.val, "const", None
    if isinstance(arg, Active):
        return arg.val, "active", None
    return arg, ("const" if any_duplicated else "plain"), None


def _leaves(value, mode, shadow, out: list):
    """Append a Leaf per runtime leaf of value, in the tracer's order."""
    node = children(value)
    if node is not None:
        shadow_children = children(shadow)[1] if shadow is not None and children(shadow) else None
        for k, c in enumerate(node[1]):
            _leaves(c, mode, shadow_children[k] if shadow_children else None, out)
        return
    if not is_runtime_leaf(value):
        return
    numeric = not isinstance(value, (bool, np.bool_)) and not (
        isinstance(value, np.ndarray) and value.dtype == np.bool_)
    if mode == "const" or not numeric:
        out.append(Leaf(value, "const"))
    elif isinstance(value, np.ndarray):
        out.append(Leaf(value, "dup", _check_shadow(value, shadow) if mode == "dup" else None))
    else:
        out.append(Leaf(value, "active"))


def _check_shadow(x: np.ndarray, dx):
    if dx is None:
        return None
    if not isinstance(dx, np.ndarray):
        raise IradError(f"the shadow of an array must be an array, got {type(dx).__name__}")
    want = shadow_dtype(x.dtype)
    if dx.shape != x.shape or dx.dtype != want:
        raise IradError(f"Duplicated shadow has shape {dx.shape} and dtype {dx.dtype}; it must have "
                        f"shape {x.shape} and dtype {want}",
                        hint="use Duplicated(x) to allocate a matching shadow")
    if np.may_share_memory(x, dx) and np.shares_memory(x, dx):
        raise IradError("Duplicated shadow shares memory with its array",
                        hint="give the shadow its own buffer, e.g. np.zeros_like(x)")
    return dx


# ---- compiled gradients --------------------------------------------------------------

def _reverse(fn, args, kinds, options, seeded):
    """Trace and optimize fn, then differentiate it; `seeded(primal, out_tree)` picks the
    result indices that receive seeds."""
    from .api import optimize
    from .passes.reverse import reverse
    traced = trace(fn, args)
    primal = optimize(traced.func, options)
    results = seeded(primal, traced.out_tree)
    active = [i for i, k in enumerate(kinds) if k == "active"]
    dup = [i for i, k in enumerate(kinds) if k == "dup"]
    grad, info = reverse(primal, active, dup, results)
    return traced, primal, grad, info, results


class GradientProgram:
    """A primal specialization differentiated for one activity pattern (combined mode)."""

    def __init__(self, fn, args, kinds, first_element, target, options):
        def seeded(primal, out_tree):
            index = differentiated_index(out_tree, first_element)
            check_differentiable_result(primal, out_tree, index, fn)
            return [index]
        from .api import Stopwatch, dump
        clock = Stopwatch()
        traced, self.primal, grad, self.info, _ = clock("trace and reverse", _reverse, fn, args, kinds,
                                                        options, seeded)
        if not first_element:               # `gradient`: nobody reads the value
            from .passes.split import without_primal_results
            grad = without_primal_results(grad, self.info)
        from .passes.approximate import approximate_derivative_math
        grad = approximate_derivative_math(grad, self.info)
        self.typed = traced.func
        self.out_tree, self.captured = traced.out_tree, traced.captured
        self.unoptimized = grad
        self.grad = clock("passes", optimize_gradient, grad, self.info, options)
        name = self.grad.name
        dump(name, "gradient-unoptimized", lambda: print_func(self.unoptimized))
        dump(name, "gradient", lambda: print_func(self.grad))
        self.call = clock("llvm", make_caller, self.grad, target, options,
                          shadow_parameters(self.grad, self.info))
        if target != "interpreter":
            for stage in ("llvm", "llvm-optimized", "asm"):
                dump(name, stage, lambda stage=stage: self.stage_text(stage))
        log.info("compiled %s for %s: %s", name, target, clock.summary())

    def stage_text(self, stage: str) -> str:
        """The gradient's text at `stage` (see `jit_gradient(...).ir`)."""
        texts = {"typed": lambda: print_func(self.typed), "optimized": lambda: print_func(self.primal),
                 "gradient-unoptimized": lambda: print_func(self.unoptimized),
                 "gradient": lambda: print_func(self.grad)}
        native = {"llvm": "llvm_ir", "llvm-optimized": "llvm_ir_optimized", "asm": "asm"}
        if stage in texts:
            return texts[stage]()
        if stage not in native:
            raise ValueError(f"unknown stage {stage!r}: choose one of {', '.join([*texts, *native])}")
        if not hasattr(self.call, native[stage]):
            raise ValueError(f"stage {stage!r} needs target='cpu'")
        return getattr(self.call, native[stage])

    def __call__(self, leaves, shadows, seed):
        outputs = self.call(*leaves, *self.captured, *shadows, seed)
        n = self.info.n_results
        return outputs[:n], outputs[n:]


GRADIENT_PASSES = ("flatten-views,licm,cse,dce,promote-accumulations,retime-accumulations,split-accumulations,fuse-loops,zero-slots,fold,"
                   "specialize-extents,dce")


def optimize_gradient(grad, info, options):
    """The default pipeline, then order-free accumulations into shadows moved out of memory
    dependences so the loops vectorize (passes/promote.py, passes/retime.py, passes/fission.py)
    and the index arithmetic they no longer use removed."""
    from .api import optimize
    from .passes import run_pipeline
    grad = optimize(grad, options)
    return run_pipeline(grad, GRADIENT_PASSES, noalias_args=shadow_parameters(grad, info))


def optimize_split(func, options):
    """The default pipeline, then loops over (n, K) arrays specialized (passes/specialize.py).
    The accumulation passes and loop fusion, which need the shadows' noalias facts, run only in
    combined mode."""
    from .api import optimize
    from .passes import run_pipeline
    return run_pipeline(optimize(func, options), "specialize-extents,dce")


def make_caller(func, target, options, noalias_args=()):
    """A function of func's arguments that runs it in the interpreter or natively; noalias_args
    name arguments that share memory with no other argument (gradient shadows), which the
    runtime checks and exploits."""
    if target == "interpreter":
        return lambda *args: interpret(func, list(args))
    from .runtime import compile_func
    # Gradients are large functions: LLVM's O2 compiles them about 20% faster than O3 and the
    # code runs as fast (heat, GMM, RK4, n-body; benchmarks/).
    return compile_func(func, fastmath=options["fastmath"], boundscheck=options["boundscheck"],
                        noalias_args=noalias_args, opt_level=2, unroll=True)


def make_runner(func, target, options, noalias_args=()):
    """`make_caller`, taking the arguments as one list."""
    call = make_caller(func, target, options, noalias_args)
    return lambda args: call(*args)


def shadow_parameters(func, info) -> list:
    """Indices of the gradient Func's shadow parameters."""
    first = len(func.args) - len(info.dup_args) - len(info.seeded_results)
    return list(range(first, first + len(info.dup_args)))


def check_differentiable_result(func, out_tree, index, fn):
    if index is None:
        raise IradError(f"gradient needs {_name(fn)} to return a real scalar, but it returns "
                        f"{describe_tree(out_tree)}",
                        hint="use irad.jacobian for array or structured outputs, or irad.withgradient "
                             "to differentiate the first element of a tuple")
    t = func.result_types[index]
    if t.is_array or t.is_bool:
        raise IradError(f"gradient needs {_name(fn)} to return a real scalar, but it returns {t}",
                        hint="use irad.jacobian for array outputs")


def _name(fn) -> str:
    return getattr(fn, "__qualname__", repr(fn))


def describe_tree(tree) -> str:
    kind = tree[0]
    if kind == "static":
        return f"the constant {tree[1]!r}"
    if kind == "result":
        return "a value"
    if kind == "dict":
        return "a dict"
    return getattr(tree[1], "__name__", "a structure") if kind == "tuple" else "a structure"


def differentiated_index(tree, first_element: bool):
    """The flat result index that is differentiated (the first element for withgradient)."""
    if tree[0] == "result":
        return tree[1]
    if first_element:
        if tree[0] == "tuple" and tree[2]:
            return differentiated_index(tree[2][0], False)
        if tree[0] == "dict" and tree[1]:
            return differentiated_index(next(iter(tree[1].values())), False)
    return None


class Differentiator:
    """Caches GradientPrograms of one function per signature and activity."""

    def __init__(self, fn, target="cpu", fastmath=False, boundscheck=True):
        self.fn, self.target = fn, target
        self.options = {"fastmath": fastmath, "boundscheck": boundscheck, "cache": False}
        self.programs: dict = {}
        self.flat_calls: dict = {}          # (first_element, *_flat_key of each argument) -> FlatCall
        self.lock = threading.Lock()

    def cached(self, key, build):
        """The program for key, built once even when threads race."""
        prog = self.programs.get(key)
        if prog is None:
            with self.lock:
                prog = self.programs.get(key)
                if prog is None:
                    from .api import collector_paused
                    try:
                        with collector_paused():
                            prog = self.programs[key] = build()
                    except IradError as e:
                        raise e.with_traceback(None) from None
        return prog

    def program(self, primal_args, kinds, first_element) -> GradientProgram:
        key = (tuple(signature_key(a) for a in primal_args), tuple(kinds), first_element)
        return self.cached(key, lambda: GradientProgram(self.fn, primal_args, kinds, first_element,
                                                        self.target, self.options))

    def pullback(self, args):
        split, primal_args, leaves, per_arg = annotate(args)
        kinds = [x.kind for x in leaves]
        key = ("pullback", tuple(signature_key(a) for a in primal_args), tuple(kinds))
        prog = self.cached(key, lambda: PullbackProgram(self.fn, primal_args, kinds, self.target,
                                                        self.options))
        outputs = prog.forward([*[leaf.value for leaf in leaves], *prog.captured])
        n = prog.info.n_results
        from .api import rebuild_output
        y = rebuild_output(prog.out_tree, outputs[:n])
        shapes = {k: np.shape(outputs[k]) for k in prog.seeded}
        return y, Pullback(prog, leaves, split, per_arg, outputs[n:], shapes)

    def __call__(self, args, zero=True, first_element=False):
        """(value, gradient tuple) of fn at args; the value is None unless `first_element` (only
        `withgradient` asks for it, and then differentiates the output's first element)."""
        try:
            key = (first_element, *map(_flat_key, args))
            flat = self.flat_calls.get(key)
        except IradError:                 # the general path reports it
            key = flat = None
        if flat is not None:
            return flat(args, zero)
        split, primal_args, leaves, per_arg = annotate(args)
        kinds = [leaf.kind for leaf in leaves]
        prog = self.program(primal_args, kinds, first_element)
        shadows = [np.zeros(leaf.value.shape, shadow_dtype(leaf.value.dtype)) for leaf in leaves
                   if leaf.kind == "dup"]
        seed = 1.0
        results, adjoints = prog([leaf.value for leaf in leaves], shadows, seed)
        grads = _leaf_gradients(leaves, shadows, adjoints, prog.info, zero)
        from .api import rebuild_output
        value = rebuild_output(prog.out_tree, results) if first_element else None
        grad_tuple = tuple(_rebuild_gradient(v, mode, grads[s:e], shadow)
                           for (v, mode, shadow), (s, e) in zip(split, per_arg))
        if key is not None and len(leaves) == len(args) and all(map(_is_flat, primal_args)):
            self.flat_calls[key] = FlatCall(prog, args, leaves, first_element)
        return value, grad_tuple


def _flat_key(arg):
    """`signature_key` of an argument, seeing through its annotation."""
    t = type(arg)
    if t is Duplicated or t is Const or t is Active:
        return t, signature_key(arg.val)
    return signature_key(arg)


def _is_flat(value) -> bool:
    return children(value) is None and is_runtime_leaf(value)


class FlatCall:
    """A gradient call prepared for one signature whose arguments are each one runtime leaf
    (an array or a number, bare or annotated): no tree walks per call, same results as the
    general path (`Differentiator.__call__`).

    Each argument's gradient is None, ("adjoint", index among the adjoints), ("shadow", index
    among the shadows) or ("user", shadow index): added into the Duplicated shadow given."""

    def __init__(self, prog: GradientProgram, args, leaves, wants_value: bool):
        from .api import output_builder
        self.call, self.captured, self.n = prog.call, prog.captured, prog.info.n_results
        self.output = output_builder(prog.out_tree) if wants_value else lambda outputs: None
        self.unwrap = [type(a) in (Duplicated, Const, Active) for a in args]
        self.shadows = [(k, shadow_dtype(leaf.value.dtype)) for k, leaf in enumerate(leaves)
                        if leaf.kind == "dup"]
        self.user_shadows = [k for k, _ in self.shadows if type(args[k]) is Duplicated]
        self.has_gradient = list(prog.info.has_gradient)
        self.gradients, n_shadows, n_adjoints = [], 0, 0
        for k, leaf in enumerate(leaves):
            recipe = None
            if leaf.kind == "dup":
                user = type(args[k]) is Duplicated
                if user or self.has_gradient[k]:
                    recipe = ("user" if user else "shadow", n_shadows)
                n_shadows += 1
            elif leaf.kind == "active":
                recipe = ("adjoint", n_adjoints) if self.has_gradient[k] else None
                n_adjoints += 1
            self.gradients.append(recipe)

    def __call__(self, args, zero):
        values = [a.val if w else a for a, w in zip(args, self.unwrap)]
        for k in self.user_shadows:
            _check_shadow(values[k], args[k].dval)
        shadows = [np.zeros(values[k].shape, dtype) for k, dtype in self.shadows]
        outputs = self.call(*values, *self.captured, *shadows, 1.0)
        adjoints = outputs[self.n:]
        grads = []
        for k, recipe in enumerate(self.gradients):
            if recipe is None:
                grads.append(None)
            elif recipe[0] == "adjoint":
                grads.append(float(adjoints[recipe[1]]))
            elif recipe[0] == "shadow":
                grads.append(shadows[recipe[1]])
            else:
                grads.append(_accumulate(args[k].dval, shadows[recipe[1]], zero, self.has_gradient[k]))
        return self.output(outputs), tuple(grads)


def _accumulate(user, computed, zero, has):
    """Add a computed gradient into the user's Duplicated shadow (zeroed first if zero)."""
    if zero:
        user[...] = 0
    user += computed
    return user if has else None


class PullbackProgram:
    """Split-mode reverse: a forward Func that keeps residuals, a reverse Func run per seed."""

    def __init__(self, fn, args, kinds, target, options):
        from .passes.approximate import approximate_derivative_math
        from .passes.split import split

        def seeded(primal, out_tree):
            return [k for k, t in enumerate(primal.result_types) if not t.is_bool]
        traced, primal, grad, self.info, self.seeded = _reverse(fn, args, kinds, options, seeded)
        self.out_tree, self.captured = traced.out_tree, traced.captured
        self.seed_types = [primal.result_types[k] for k in self.seeded]
        fwd, rev = split(approximate_derivative_math(grad, self.info), self.info, len(primal.args))
        self.forward = make_runner(optimize_split(fwd, options), target, options)
        self.reverse = make_runner(optimize_split(rev, options), target, options)


class Pullback:
    """`back(seed)`: the gradient for output cotangent `seed`, reusing one forward sweep."""

    def __init__(self, prog: PullbackProgram, leaves, split_args, per_arg, residuals, shapes):
        self.prog, self.leaves, self.split_args, self.per_arg = prog, leaves, split_args, per_arg
        self.residuals, self.shapes = residuals, shapes

    def __call__(self, seed):
        prog = self.prog
        seeds = _flatten_seed(prog.out_tree, seed, prog.seeded, prog.seed_types, self.shapes)
        shadows = [np.zeros(leaf.value.shape, shadow_dtype(leaf.value.dtype)) for leaf in self.leaves
                   if leaf.kind == "dup"]
        adjoints = prog.reverse([*self.residuals, *shadows, *seeds])
        grads = _leaf_gradients(self.leaves, shadows, adjoints, prog.info, True)
        return tuple(_rebuild_gradient(v, mode, grads[s:e], shadow)
                     for (v, mode, shadow), (s, e) in zip(self.split_args, self.per_arg))


def _flatten_seed(tree, seed, seeded, types, shapes) -> list:
    """The seeds in the reverse Func's order; an array seed must have its result's shape."""
    flat: dict = {}

    def walk(t, s):
        kind = t[0]
        if kind == "result":
            flat[t[1]] = s
        elif kind == "dict":
            for k, sub in t[1].items():
                walk(sub, None if s is None else s[k])
        elif kind == "tuple":
            for k, sub in enumerate(t[2]):
                walk(sub, None if s is None else s[k])
        elif kind == "struct":
            for k, sub in t[2].items():
                walk(sub, None if s is None else getattr(s, k))
    walk(tree, seed)
    out = []
    for k, t in zip(seeded, types):
        s = flat.get(k)
        if t.is_array:
            want = np.float32 if t.dtype.name == "f32" else np.float64
            if s is not None and np.shape(s) != shapes[k]:
                raise IradError(f"back: the seed for result {k} has shape {np.shape(s)}, but the "
                                f"result has shape {shapes[k]}",
                                hint="pass a seed shaped like the output (or None for zero)")
            out.append(np.zeros(shapes[k], want) if s is None else np.ascontiguousarray(s, dtype=want))
        else:
            out.append(0.0 if s is None else float(s))
    return out


def annotate(args):
    """(annotations per argument, primal arguments, leaves, leaf range per argument)."""
    any_dup = any(isinstance(a, Duplicated) for a in args)
    split = [_split_annotation(a, any_dup) for a in args]
    leaves: list = []
    per_arg = []
    for value, mode, shadow in split:
        start = len(leaves)
        _leaves(value, "dup" if mode == "dup" else ("const" if mode == "const" else "plain"),
                shadow, leaves)
        per_arg.append((start, len(leaves)))
    return split, [s[0] for s in split], leaves, per_arg


def _leaf_gradients(leaves, shadows, adjoints, info, zero):
    out, shadow_it, adj_it = [], iter(shadows), iter(adjoints)
    for k, leaf in enumerate(leaves):
        has = info.has_gradient[k]
        if leaf.kind == "dup":
            computed = next(shadow_it)
            if leaf.shadow is not None:
                if zero:
                    leaf.shadow[...] = 0
                leaf.shadow += computed
                computed = leaf.shadow
            out.append(computed if has else None)
        elif leaf.kind == "active":
            value = next(adj_it)
            out.append(float(value) if has else None)
        else:
            out.append(None)
    return out


def _rebuild_gradient(value, mode, grads, shadow):
    it = iter(grads)

    def build(x):
        node = children(x)
        if node is not None:
            rebuild, cs = node
            return rebuild([build(c) for c in cs])
        return next(it) if is_runtime_leaf(x) else None
    result = build(value)
    if mode == "dup" and shadow is not None and children(shadow) is not None:
        _write_back(shadow, result)
        return shadow
    return result


def _write_back(shadow, grad):
    """Store scalar gradients of a Duplicated structure into its mutable shadow."""
    if isinstance(shadow, dict):
        for k in shadow:
            if isinstance(shadow[k], (dict, list)) or dataclasses.is_dataclass(shadow[k]):
                _write_back(shadow[k], grad[k])
            elif not isinstance(shadow[k], np.ndarray):
                shadow[k] = grad[k]
    elif isinstance(shadow, list):
        for k in range(len(shadow)):
            if not isinstance(shadow[k], np.ndarray):
                shadow[k] = grad[k]
    elif dataclasses.is_dataclass(shadow):
        for f in dataclasses.fields(shadow):
            if not isinstance(getattr(shadow, f.name), np.ndarray):
                setattr(shadow, f.name, getattr(grad, f.name))


# ---- the public functions ------------------------------------------------------------

_differentiators: dict = {}


def _differentiator(fn, adtype) -> Differentiator:
    target = "interpreter" if isinstance(adtype, AutoInterpreter) else "cpu"
    key = (fn, target)
    try:
        d = _differentiators.get(key)
    except TypeError:
        d = None
    if d is None:
        d = Differentiator(fn, target)
        try:
            _differentiators[key] = d
        except TypeError:
            pass
    return d


def _parse(args):
    if args and isinstance(args[0], ADTYPES):
        return args[0], args[1:]
    if args and isinstance(args[0], type) and issubclass(args[0], ADTYPES):
        return args[0](), args[1:]
    return AutoReverse(), args


def gradient(f, *args, zero=True):
    """The gradient of scalar-valued f with respect to each argument (a tuple)."""
    adtype, args = _parse(args)
    if isinstance(adtype, AutoFiniteDifferences):
        from .finite_differences import finite_difference_gradient
        return finite_difference_gradient(f, args, adtype.eps)
    return _differentiator(f, adtype)(args, zero)[1]


def withgradient(f, *args, zero=True):
    """(val, grad): f's full output, and the gradient of its first element."""
    adtype, args = _parse(args)
    if isinstance(adtype, AutoFiniteDifferences):
        from .finite_differences import copy_tree, finite_difference_gradient, primal_values
        val = f(*copy_tree(primal_values(args)))
        return WithGradient(val, finite_difference_gradient(f, args, adtype.eps, first_element=True))
    val, grad = _differentiator(f, adtype)(args, zero, first_element=True)
    return WithGradient(val, grad)


def pullback(f, *args):
    """(y, back): f's output and a function from an output cotangent to the gradients.
    `back` reuses one forward sweep, however often it is called."""
    adtype, args = _parse(args)
    return _differentiator(f, adtype).pullback(args)


def jit_gradient(fn=None, *, value=False, target="cpu", fastmath=False, boundscheck=True):
    """`jit_gradient(f)(*args)` is `gradient(f, *args)` (or withgradient with value=True),
    compiled once per signature; usable as a decorator."""
    if fn is None:
        return lambda f: jit_gradient(f, value=value, target=target, fastmath=fastmath,
                                      boundscheck=boundscheck)
    return GradientFunction(fn, value, target, fastmath, boundscheck)


class GradientFunction:
    def __init__(self, fn, value, target, fastmath, boundscheck):
        self.fn, self.value = fn, value
        self.differentiator = Differentiator(fn, target, fastmath, boundscheck)

    def __call__(self, *args, zero=True):
        val, grad = self.differentiator(args, zero, first_element=self.value)
        return WithGradient(val, grad) if self.value else grad

    def ir(self, *args, stage="gradient"):
        any_dup = any(isinstance(a, Duplicated) for a in args)
        split = [_split_annotation(a, any_dup) for a in args]
        leaves: list = []
        for value, mode, shadow in split:
            _leaves(value, "dup" if mode == "dup" else ("const" if mode == "const" else "plain"),
                    shadow, leaves)
        prog = self.differentiator.program([s[0] for s in split], [x.kind for x in leaves], self.value)
        return prog.stage_text(stage)


def tape_bytes(f, *args) -> int:
    """Bytes reverse mode tapes for gradient(f, *args), measured by running the gradient IR
    in the reference interpreter."""
    from .ops.tape import TapeRecorder
    with TapeRecorder() as recorder:
        gradient(f, AutoInterpreter(), *args)
    return recorder.bytes


__all__ = ["gradient", "withgradient", "pullback", "jit_gradient", "tape_bytes", "Duplicated",
           "Const", "Active", "AutoReverse", "AutoInterpreter", "AutoFiniteDifferences"]
