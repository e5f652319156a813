"""What LLVM may assume about aliasing: scoped `noalias` metadata per function.

Every array value of an IR function is traced back to its *roots*: the
argument or `alloc` it was derived from (through `view`, `select` and
`if`), or unknown (loop-carried arrays, call results). Each root is a
scope in one domain per IR function; element loads and stores made
through a value with known roots carry `!alias.scope` (its roots) and
`!noalias` (every scope that provably never shares memory with any of
them). Tape buffers and tape headers are two more scopes.

Facts stated (each holds for one whole execution of the function, which
is why only functions that no IR `call` reaches are tagged: the entry's
implementation runs once per call of the C entry, and the loops'
outlined checked copies are never inlined; a callee inlined into a loop
of its caller would turn a per-call fact into a false cross-iteration
one, and would need `noalias.scope.decl`):
- an `alloc` is fresh memory: it shares no byte with any argument, any
  other `alloc` or any tape; allocations are freed only when the call ends;
- an argument named in `noalias_args` (a gradient's shadow arrays) shares
  no byte with any other argument, allocation or tape (the C entry checks
  this on every call and refuses overlapping arrays, see `entry.py`);
- plain arguments may alias each other (a caller may pass one array
  twice), so no fact relates two of them;
- tape element buffers and tape headers are private to the runtime and
  distinct from every array and from each other.
Accesses through unknown roots carry no metadata, so nothing is assumed
about them.
"""
from __future__ import annotations

from irad.ir import Func, Value

TAPE_DATA, TAPE_HEADER = ("tape", "data"), ("tape", "header")


def array_roots(func: Func) -> dict:
    """Value -> frozenset of roots (("arg", k) or ("alloc", n)), or None when unknown."""
    roots: dict = {a: frozenset({("arg", k)}) for k, a in enumerate(func.args) if a.type.is_array}
    allocs = [0]

    def get(v):
        return roots.get(v)

    def union(values):
        got = [get(v) for v in values]
        return None if any(g is None for g in got) else frozenset().union(*got)

    def visit(block):
        for op in block.ops:
            for region in op.regions:
                visit(region.block)
            if not any(r.type.is_array for r in op.results):
                continue
            if op.name == "alloc":
                roots[op.results[0]] = frozenset({("alloc", allocs[0])})
                allocs[0] += 1
            elif op.opdef.is_view:
                roots[op.results[0]] = get(op.operands[0])
            elif op.name == "select":
                roots[op.results[0]] = union(op.operands[1:3])
            elif op.name == "if":
                yields = [r.block.terminator.operands for r in op.regions]
                for k, r in enumerate(op.results):
                    if r.type.is_array:
                        roots[r] = union([y[k] for y in yields])
    visit(func.body.block)
    return roots


class AliasScopes:
    """Scoped-noalias metadata for one IR function in one LLVM module."""

    def __init__(self, module, func: Func, noalias_args=frozenset(), tag: bool = True):
        self.module, self.enabled = module, tag
        self.noalias_args = frozenset(noalias_args)
        self.roots = array_roots(func)
        every = set().union(*[r for r in self.roots.values() if r is not None]) if self.roots else set()
        self.keys = sorted(every) + [TAPE_DATA, TAPE_HEADER]
        prefix = f"irad.{func.name}"
        self.domain = module.add_metadata([f"{prefix}.domain"])
        self.scopes = {key: module.add_metadata([f"{prefix}.{key[0]}.{key[1]}", self.domain])
                       for key in self.keys}
        self._tags: dict = {}

    def distinct(self, a, b) -> bool:
        """Whether roots a and b never share memory."""
        if a == b:
            return False
        plain = lambda k: k[0] == "arg" and k[1] not in self.noalias_args  # noqa: E731
        return not (plain(a) and plain(b))

    def _tags_for(self, roots: frozenset):
        tags = self._tags.get(roots)
        if tags is None:
            scope = self.module.add_metadata([self.scopes[k] for k in sorted(roots)])
            others = [self.scopes[k] for k in self.keys
                      if k not in roots and all(self.distinct(k, r) for r in roots)]
            tags = self._tags[roots] = (scope, self.module.add_metadata(others) if others else None)
        return tags

    def _tag(self, instr, roots) -> None:
        if not self.enabled:
            return
        scope, noalias = self._tags_for(frozenset(roots))
        instr.set_metadata("alias.scope", scope)
        if noalias is not None:
            instr.set_metadata("noalias", noalias)

    def array_access(self, instr, array: Value) -> None:
        """Tag a load or store of an element of IR array `array` (no-op for unknown roots)."""
        roots = self.roots.get(array)
        if roots:
            self._tag(instr, roots)

    def tape_data(self, instr) -> None:
        self._tag(instr, {TAPE_DATA})

    def tape_header(self, instr) -> None:
        self._tag(instr, {TAPE_HEADER})
