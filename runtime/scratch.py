"""Scratch arrays allocated in a loop: one buffer per function activation, not per iteration.

An `alloc` in a loop body (a time step's temporary) runs once per iteration,
and the arena keeps every allocation until the call ends, so a loop of n
iterations would hold n buffers, each malloc'd and page-faulted afresh.

Invariants:
- An `alloc` is *block-local* when it is nested in a region (not in the
  function's top-level block) and neither its array nor anything derived
  from it (views, `select`s, calls, results and block arguments of region
  ops it flows into) is an operand of its block's terminator or of a
  `return`. Such an array is dead once its block's execution ends, and the
  op runs again only in a later execution of that block, so it may reuse
  the previous execution's buffer.
- A block-local `alloc` keeps {buffer, capacity} in a stack slot of the
  current LLVM function, made empty on entry (one per activation: recursive
  calls and outlined loop copies get their own). It reuses the buffer when
  the capacity holds the new size; otherwise it allocates through the arena
  (runtime/arena.py) and remembers the new buffer. Every buffer stays in the
  arena, so it is released when the call ends, as before.
"""
from __future__ import annotations

from llvmlite import ir

from irad.ir import Op

from . import arena, slots
from .abi import I64, PTR, i64

_TERMINATORS = frozenset({"yield", "condition", "return"})


def block_local(op: Op) -> bool:
    """Whether `op`'s array dies with each execution of its block (module invariants)."""
    block = op.parent
    if block is None or block.parent is None or block.parent.parent is None:
        return False
    derived = _derived(block, op.results[0])
    exits = [block.terminator, *(o for top in block.ops for o in top.walk() if o.name == "return")]
    return not any(v in derived for o in exits if o is not None for v in o.operands)


def _derived(block, value) -> set:
    """`value` and every array value in `block` (nested regions included) that may share its
    memory (a fixpoint: region results and block arguments follow what their regions yield)."""
    derived = {value}
    ops = [o for top in block.ops for o in top.walk() if o.name not in _TERMINATORS]
    changed = True
    while changed:
        changed = False
        for o in ops:
            inner = [v for r in o.regions for b in r.blocks if b.terminator is not None
                     and b.terminator.name in _TERMINATORS for v in b.terminator.operands]
            if not any(v in derived for v in (*o.operands, *inner)):
                continue
            outputs = [*o.results, *(a for r in o.regions for b in r.blocks for a in b.args)]
            for v in outputs:
                if v.type.is_array and v not in derived:
                    derived.add(v)
                    changed = True
    return derived


def alloc(L, op: Op, nbytes) -> ir.Value:
    """The buffer of `alloc` op (null if allocation failed): reused per activation when the op
    is block-local, else from the arena with the site's cache slot."""
    b = L.b
    if not block_local(op):
        return _from_arena(L, nbytes)
    buf_slot, cap_slot = _entry_slots(L)
    buf, cap = b.load(buf_slot, typ=PTR), b.load(cap_slot, typ=I64)
    before = b.block
    with b.if_then(b.icmp_signed(">", nbytes, cap), likely=False):
        grown = _from_arena(L, nbytes)
        b.store(grown, buf_slot)
        b.store(b.select(b.icmp_unsigned("==", grown, ir.Constant(PTR, None)), i64(-1), nbytes), cap_slot)
        after = b.block
    p = b.phi(PTR)
    p.add_incoming(buf, before)
    p.add_incoming(grown, after)
    return p


def _from_arena(L, nbytes) -> ir.Value:
    return L.b.call(arena.cached_alloc_fn(L.ml), [L.ctx, nbytes, slots.new_slot(L.ml)])


def _entry_slots(L):
    """Two stack slots {buffer, capacity} in the function's entry block, empty on entry
    (capacity -1: the first request, even of 0 bytes, allocates)."""
    b = ir.IRBuilder()
    b.position_at_start(L.fn.entry_basic_block)
    buf, cap = b.alloca(PTR), b.alloca(I64)
    buf.type = cap.type = PTR
    b.store(ir.Constant(PTR, None), buf)
    b.store(i64(-1), cap)
    return buf, cap
