"""Split a loop that accumulates into one private array at several places: one loop per place.

The adjoint of a slice stencil of run-time width k, `u[k:-k] = u[k:-k] + a * (u[:-2 * k] -
2 * u[k:-k] + u[2 * k:])`, accumulates into `du` at three places in one loop:

    for i { g = G[i]; G[i] = 0.0; s += t(i) * g
            du[i + p] += a * g; du[i + q] += (1 - 2a) * g; du[i + r] += a * g }

Iteration i writes elements that later iterations read again, a memory dependence LLVM cannot
vectorize, and `retime.py` cannot carry it in registers: p, q and r are run-time values, not
constant offsets (with a constant width they are, after `flatten.py`). The sums are
order-free, so each accumulation stream may run in a loop of its own, which has no such
dependence:

    for i { g = G[i]; s += t(i) * g; du[i + p] += a * g }
    for i { g = G[i]; du[i + q] += (1 - 2a) * g }
    for i { g = G[i]; G[i] = 0.0; du[i + r] += a * g }

Invariants (a loop is split only when all hold):
- It is a `for` with a constant step whose body holds no region op and nothing that can raise:
  pure ops (`dim` among them), `tape_read`, `inbounds` loads, the accumulations
  (`accumulations.py`), and read-and-clear stores: `A[index] = constant` after a load of the same element, where the
  index holds the loop variable and loop-invariant values only (each iteration clears its own
  element), A is private and the loop touches its memory at that element only.
- Some private array (its roots, `runtime/alias.py`, through views) receives accumulations at
  two or more places in the loop that two iterations may share (not when all index one axis
  by the same `i + c`: `dpos[j, 0]`, `dpos[j, 1]`), and the loop touches every accumulated
  array through accumulations only.
- Piece k holds the k-th accumulation of every such array (the others stay in piece 0) and the
  ops it needs, recomputed: outside piece 0 only cheap ones (no `expensive` math, no
  `tape_read`) and none that reads a carried value (a register `retime.py` carries). Piece 0
  keeps the carried values and the results; the last piece clears, after every piece has
  read. Each contribution is added once; per element only the order of the sums changes,
  which `reassoc` allows.
"""
from __future__ import annotations

from ..ir import Block, Op, Region, clone_op
from .accumulations import Accumulation, PrivateMemory, accumulations, rewrite_loops, step_sign
from .driver import DEFAULT_OPTIONS, PassOptions, register
from .rewrite import ValueMap, const_op, iv_offset, values_defined_in

READS = ("load", "tape_read")           # the reads a split loop may hold besides pure ops


@register("split-accumulations")
def split_accumulations(func, options: PassOptions = DEFAULT_OPTIONS):
    return rewrite_loops(func, options, _split_loop)


def _split_loop(loop: Op, memory: PrivateMemory, vmap: ValueMap) -> list[Op] | None:
    if not step_sign(loop):
        return None
    body = loop.regions[0].block.ops[:-1]
    accs = accumulations(loop)
    streams = _streams(loop, accs, memory)
    if not streams:
        return None
    clears = _clears(loop, body, {id(op) for a in accs for op in a.ops}, memory)
    if clears is None:
        return None
    pieces = [[s[k] for s in streams if k < len(s)] for k in range(max(map(len, streams)))]
    pieces[0] += [a for a in accs if not any(a in s for s in streams)]
    chosen = [_piece_ops(loop, body, piece, k == 0, clears if k == len(pieces) - 1 else [])
              for k, piece in enumerate(pieces)]
    carried = set(loop.regions[0].block.args[1:])
    if any(op.opdef.expensive or op.name == "tape_read" or carried.intersection(op.operands)
           for ops in chosen[1:] for op in ops):
        return None
    new = [_loop_of(loop, ops, carried=(k == 0)) for k, ops in enumerate(chosen)]
    for old, result in zip(loop.results, new[0].results):
        vmap.replace(old, result)
    return new


def _streams(loop: Op, accs: list[Accumulation], memory: PrivateMemory) -> list[list[Accumulation]]:
    """The accumulations of each private array that gets them at two or more places; [] when
    there is none, or when the loop touches an accumulated array other than by accumulating."""
    inside = values_defined_in(loop)
    groups: dict = {}
    for acc in accs:
        roots = memory.roots.get(acc.array)
        if not roots:
            return []
        groups.setdefault(roots, []).append(acc)
    if not all(memory.only_through(loop, group[0].array, group) for group in groups.values()):
        return []
    iv = loop.regions[0].block.args[0]
    return [group for group in groups.values()
            if len({(a.array, *a.index) for a in group}) > 1
            and any(v in inside for a in group for v in a.index) and not _own_slice(group, iv)]


def _own_slice(group: list[Accumulation], iv) -> bool:
    """Each iteration accumulates into its own slice: one array value, indexed on some axis by
    the same `iv + c` in every accumulation (`dpos[j, 0]`, `dpos[j, 1]`), so no two iterations
    share an element and the loop needs no split."""
    first = group[0]
    if any(a.array is not first.array for a in group):
        return False
    return any(iv_offset(v, iv) is not None and all(a.index[axis] is v for a in group)
               for axis, v in enumerate(first.index))


def _clears(loop: Op, body: list[Op], accumulating: set, memory: PrivateMemory) -> list[Op] | None:
    """The read-and-clear stores of the body, or None when the body has anything else that
    writes or can raise (see the module invariants)."""
    inside = values_defined_in(loop)
    iv = loop.regions[0].block.args[0]
    clears = []
    for op in body:
        if id(op) in accumulating or (op.opdef.pure and not op.opdef.can_fail):
            continue
        if op.regions or (op.name not in READS and op.name != "store"):
            return None
        if op.name == "load" and not op.attrs.get("inbounds"):
            return None
        if op.name == "store":
            array, index = op.operands[1], op.operands[2:]
            if (not op.attrs.get("inbounds") or const_op(op.operands[0]) is None
                    or iv not in index or any(v in inside and v is not iv for v in index)
                    or not memory.private(array)):
                return None
            clears.append(op)
    for clear in clears:
        if not _only_this_element(loop, body, clear, memory):
            return None
    return clears


def _only_this_element(loop: Op, body: list[Op], clear: Op, memory: PrivateMemory) -> bool:
    """The loop touches the cleared array's memory only at the cleared element, by loads before
    the clear and the clear itself."""
    array, index = clear.operands[1], clear.operands[2:]
    mine = memory.roots.get(array)
    loaded = False
    for op in body:
        if op is clear:
            return loaded
        touches = [v for v in op.operands if v.type.is_array and (memory.roots.get(v) is None
                                                                   or memory.roots[v] & mine)]
        if not touches:
            continue
        if op.name != "load" or op.operands[0] is not array or op.operands[1:] != index:
            return False
        loaded = True
    return False


def _piece_ops(loop: Op, body: list[Op], accs: list[Accumulation], carried: bool, clears) -> list[Op]:
    """The body ops, in order, that the piece's accumulations (and, for piece 0, the yielded
    values; for the last piece, the clears) need."""
    wanted = {id(op) for a in accs for op in a.ops} | {id(op) for op in clears}
    seeds = [v for a in accs for op in a.ops for v in op.operands] + \
            [v for op in clears for v in op.operands]
    if carried:
        seeds += loop.regions[0].block.ops[-1].operands
    defining = {id(r): op for op in body for r in op.results}
    while seeds:
        op = defining.get(id(seeds.pop()))
        if op is not None and id(op) not in wanted:
            wanted.add(id(op))
            seeds.extend(op.operands)
    return [op for op in body if id(op) in wanted]


def _loop_of(loop: Op, ops: list[Op], carried: bool) -> Op:
    """A copy of `loop` running `ops`; with its carried values and results when `carried`."""
    old = loop.regions[0].block
    args = old.args if carried else old.args[:1]
    block = Block([a.type for a in args], [a.hint for a in args])
    mapping = dict(zip(args, block.args))
    for op in ops:
        block.append(clone_op(op, mapping))
    yielded = [mapping.get(v, v) for v in old.ops[-1].operands] if carried else []
    block.append(Op("yield", yielded, []))
    operands = loop.operands if carried else loop.operands[:3]
    types = [r.type for r in loop.results] if carried else []
    hints = [r.hint for r in loop.results] if carried else None
    return Op("for", operands, types, loop.attrs, [Region([block])], loop.loc, hints)
