"""Give loop-carried arrays a home, so reverse mode sees mutation, not rebinding.

`x = x * 0.5 + np.sin(x)` in a loop rebinds `x` to a fresh array every
iteration: the loop carries an array value, and reverse mode, which names one
shadow per array, cannot follow it. This pass (on the gradient path, before
`reverse`) turns each active loop-carried array into a buffer allocated before
the loop, its *home*: the initial value is copied in, the body reads the home,
each iteration copies its new value into the home, and the loop's result is
the home. The reverse sweep then sees in-place updates, and tapes what they
overwrite.

A carried array is homed only where that keeps Python's semantics:
- the body never writes through the carried value or a view of it (such a
  write would reach the initial array in the first iteration);
- nothing after the loop writes through its result (after zero iterations the
  result is the initial array itself);
- every iteration's new value is the carried value itself, an array
  allocated in this iteration, a view of the carried value (copied through a
  temporary), or the result of an `if` whose branches each yield one of those,
  when nothing after that `if` reads the old value (the copies then sink into
  the branches).
Other loops are left as they are; reverse mode reports them if they matter.

Invariants: the output computes what the input computes (the copies add
work, no observable effect), and it verifies; when a rewrite would not verify
(a homed array reaching an op that demands another layout), the input is
returned unchanged.
"""
from __future__ import annotations

from ..errors import VerificationError
from ..ir import Block, Builder, Func, Op, OpResult, Value
from ..types import ArrayType
from ..verifier import verify
from .activity import Activity, written_array
from .driver import DEFAULT_OPTIONS, PassOptions, register


@register("home-carried-arrays")
def home_carried_arrays(func: Func, options: PassOptions = DEFAULT_OPTIONS) -> Func:
    """Home the loop-carried arrays that may be active (all of them when the options do
    not say which arguments are differentiated: `active_args`, `dup_args`, `seeded`)."""
    out = func.clone()
    wanted = _wanted(out, options)
    changed = False
    for op in reversed(list(out.walk())):           # inner loops first
        if op.name in ("for", "while"):
            for k in reversed(range(len(_carried(op)))):
                if wanted(_carried(op)[k]) and _home(out, op, k):
                    changed = True
    if not changed:
        return out
    try:
        verify(out)
    except VerificationError:
        return func.clone()
    return out


def _wanted(func: Func, options: PassOptions):
    keys = ("active_args", "dup_args", "seeded")
    if not any(options.get(k) is not None for k in keys):
        return lambda v: v.type.is_array
    act = Activity(func, *(list(options.get(k) or ()) for k in keys))
    return lambda v: v.type.is_array and act.active_memory(v)


# ---- one carried array --------------------------------------------------------------

def _carried(loop: Op) -> list:
    """The body block arguments a loop carries (for: after the induction variable)."""
    return loop.regions[0].block.args[1:] if loop.name == "for" else loop.regions[1].block.args


def _home(func: Func, loop: Op, k: int) -> bool:
    body = loop.regions[0].block if loop.name == "for" else loop.regions[1].block
    arg = _carried(loop)[k]
    if loop.name == "while":
        before = loop.regions[0].block
        if before.terminator.operands[1 + k] is not before.args[k] or _writes_through(before, before.args[k]):
            return False
    if _writes_through(body, arg) or _writes_through(func.body.block, loop.results[k]):
        return False
    if any(_may_alias(v, arg) for j, v in enumerate(body.terminator.operands) if j != k):
        return False                            # the old value lives on in another slot
    plan = _plan(body.terminator.operands[k], body, arg, loop)
    if plan is None:
        return False
    home = _allocate_home(loop, k)
    for action in plan:
        action(home)
    _replace_uses(func.body.block, arg, home)
    if loop.name == "while":
        _replace_uses(func.body.block, loop.regions[0].block.args[k], home)
    _replace_uses(func.body.block, loop.results[k], home)
    _drop_slot(loop, k)
    _retype_views(func.body.block)
    return True


def _allocate_home(loop: Op, k: int) -> Value:
    """home = empty array shaped like the initial value; copy the initial value in."""
    init = loop.operands[(3 if loop.name == "for" else 0) + k]
    t: ArrayType = init.type
    scratch = Block()
    b = Builder(scratch, loc=loop.loc)
    extents = [b.dim(init, axis=a) for a in range(t.ndim)]
    home = b.alloc(*extents, type=ArrayType(t.dtype, t.ndim, "C"))
    b.copy(init, home)
    _insert_before(loop, scratch.ops)
    return home


def _plan(y: Value, block: Block, arg: Value, loop: Op):
    """Actions (each taking the home) that leave this iteration's new value y in the
    home at the end of `block`; None when homing would change the program's meaning."""
    if y is arg:
        return []
    root = _root(y)
    if root is arg:
        return [lambda home: _append_copy(block, y, home, via_temp=True)]
    if isinstance(root, OpResult) and root.op.name == "alloc" and _inside(root.op, loop):
        return [lambda home: _append_copy(block, y, home)]
    if isinstance(y, OpResult) and y.op.name == "if" and y.op.parent is block \
            and not _reads_after(block, y.op, arg):
        branch, j = y.op, y.index
        plans = [_plan(r.block.terminator.operands[j], r.block, arg, loop) for r in branch.regions]
        if any(p is None for p in plans):
            return None
        return [*(a for p in plans for a in p), lambda home: _drop_if_result(branch, j, home)]
    return None


def _append_copy(block: Block, y: Value, home: Value, via_temp: bool = False) -> None:
    """Copy y into home just before block's terminator (through a fresh temporary when
    y is a view of the value the home replaces, which may overlap it)."""
    scratch = Block()
    b = Builder(scratch, loc=block.terminator.loc)
    if via_temp:
        temp = b.alloc(*[b.dim(y, axis=a) for a in range(y.type.ndim)], type=y.type.with_layout("C"))
        b.copy(y, temp)
        y = temp
    b.copy(y, home)
    _insert_before(block.terminator, scratch.ops)


def _drop_if_result(branch: Op, j: int, home: Value) -> None:
    _replace_uses(branch.parent, branch.results[j], home)
    for region in branch.regions:
        del region.block.terminator.operands[j]
    del branch.results[j]
    _renumber(branch.results)
    branch.attrs["types"] = tuple(r.type for r in branch.results)


# ---- the rewrite's mechanics --------------------------------------------------------

def _drop_slot(loop: Op, k: int) -> None:
    if loop.name == "for":
        body = loop.regions[0].block
        del loop.operands[3 + k], body.args[1 + k], body.terminator.operands[k]
    else:
        before, after = loop.regions[0].block, loop.regions[1].block
        del loop.operands[k], before.args[k], before.terminator.operands[1 + k]
        del after.args[k], after.terminator.operands[k]
        _renumber(before.args)
        body = after
    _renumber(body.args)
    del loop.results[k]
    _renumber(loop.results)


def _renumber(values) -> None:
    for i, v in enumerate(values):
        v.index = i


def _insert_before(anchor: Op, ops) -> None:
    block = anchor.parent
    at = block.ops.index(anchor)
    for n, op in enumerate(ops):
        op.parent = block
        block.ops.insert(at + n, op)


def _replace_uses(block: Block, old: Value, new: Value) -> None:
    for op in _walk(block):
        op.operands = [new if v is old else v for v in op.operands]


def _retype_views(block: Block) -> None:
    """Views of a homed array see a C-layout source now: recompute their result types."""
    for op in _walk(block):
        if op.opdef.is_view:
            for r, t in zip(op.results, op.opdef.infer([v.type for v in op.operands], op.attrs)):
                r.type = t


def _walk(block: Block):
    for op in block.ops:
        yield from op.walk()


# ---- questions about the program ----------------------------------------------------

def _root(v: Value) -> Value:
    """The array v views (v itself when it is not a view)."""
    while isinstance(v, OpResult) and v.op.opdef.is_view:
        v = v.op.operands[0]
    return v


def _may_alias(v: Value, array: Value) -> bool:
    """May v be array or a view of it? (Arrays chosen by a branch or carried by a
    loop are assumed to.)"""
    root = _root(v)
    return v.type.is_array and (root is array or (
        isinstance(root, OpResult) and (bool(root.op.regions) or root.op.name == "select")))


def _inside(op: Op, outer: Op) -> bool:
    while op is not None:
        if op is outer:
            return True
        block = op.parent
        op = block.parent.parent if block is not None and block.parent is not None else None
    return False


def _writes_through(block: Block, array: Value) -> bool:
    """Does any op nested in block write through array or a view of it?"""
    return any(written_array(op) is not None and _root(written_array(op)) is array for op in _walk(block)) \
        or any(op.name == "call" and any(_root(v) is array for v in op.operands if v.type.is_array)
               for op in _walk(block))


def _reads_after(block: Block, op: Op, array: Value) -> bool:
    """Does anything after op in block use array or a view of it?"""
    later = block.ops[block.ops.index(op) + 1:-1]
    return any(_root(v) is array for o in later for inner in o.walk() for v in inner.operands
               if isinstance(v, Value) and v.type.is_array)


__all__ = ["home_carried_arrays"]
