"""The IR's data structures: Module → Func → Region → Block → Op.

Invariants:
- SSA: every `Value` is defined once, as an op result or a block argument,
  and carries its type. Names are only hints; the printer makes them unique.
- Control flow is structured: a region has exactly one block, a block ends
  with a terminator (`yield`, `condition` or `return`).
- Every op has a source `Location` (or None for synthesized code) and names
  an `OpDef` in the op table (`irad.ops.OPS`) that defines its meaning.
"""
from __future__ import annotations

from typing import Iterator

from .errors import Location
from .types import Type


class Value:
    """An SSA value: an op result or a block argument."""

    __slots__ = ("type", "hint")

    def __init__(self, type: Type, hint: str | None = None):
        self.type = type
        self.hint = hint

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.hint or '?'}: {self.type}>"


class OpResult(Value):
    __slots__ = ("op", "index")

    def __init__(self, type: Type, op: "Op", index: int, hint: str | None = None):
        super().__init__(type, hint)
        self.op, self.index = op, index


class BlockArg(Value):
    __slots__ = ("block", "index")

    def __init__(self, type: Type, block: "Block", index: int, hint: str | None = None):
        super().__init__(type, hint)
        self.block, self.index = block, index


_OPS = None


def _op_table() -> dict:
    """irad.ops.OPS, imported on first use (the op table imports this module)."""
    global _OPS
    from .ops import OPS
    _OPS = OPS
    return OPS


class Op:
    """One operation: name, operands, attributes, regions, results, location."""

    __slots__ = ("name", "operands", "attrs", "regions", "results", "loc", "parent")

    def __init__(self, name: str, operands, result_types, attrs=None, regions=(),
                 loc: Location | None = None, hints=None):
        self.name = name
        self.operands: list[Value] = list(operands)
        self.attrs: dict = dict(attrs or {})
        self.regions: list[Region] = list(regions)
        for r in self.regions:
            r.parent = self
        hints = hints or [None] * len(result_types)
        self.results = [OpResult(t, self, i, h) for i, (t, h) in enumerate(zip(result_types, hints))]
        self.loc = loc
        self.parent: Block | None = None

    @property
    def opdef(self):
        return (_OPS if _OPS is not None else _op_table())[self.name]

    @property
    def result(self) -> Value:
        assert len(self.results) == 1, f"{self.name} has {len(self.results)} results"
        return self.results[0]

    def walk(self) -> Iterator["Op"]:
        """This op, then every op nested in its regions, in program order."""
        yield self
        for region in self.regions:
            yield from region.walk()

    def __repr__(self) -> str:
        return f"<Op {self.name}>"


class Block:
    __slots__ = ("args", "ops", "parent")

    def __init__(self, arg_types=(), hints=None):
        hints = hints or [None] * len(arg_types)
        self.args = [BlockArg(t, self, i, h) for i, (t, h) in enumerate(zip(arg_types, hints))]
        self.ops: list[Op] = []
        self.parent: Region | None = None

    def append(self, op: Op) -> Op:
        op.parent = self
        self.ops.append(op)
        return op

    def add_arg(self, type: Type, hint: str | None = None) -> BlockArg:
        arg = BlockArg(type, self, len(self.args), hint)
        self.args.append(arg)
        return arg

    @property
    def terminator(self) -> Op | None:
        return self.ops[-1] if self.ops else None


class Region:
    __slots__ = ("blocks", "parent")

    def __init__(self, blocks=None):
        self.blocks: list[Block] = list(blocks) if blocks is not None else [Block()]
        for b in self.blocks:
            b.parent = self
        self.parent: Op | None = None

    @property
    def block(self) -> Block:
        return self.blocks[0]

    def walk(self) -> Iterator[Op]:
        for block in self.blocks:
            for op in block.ops:
                yield from op.walk()


class Func:
    """A function: named arguments (the body block's args) and result types."""

    def __init__(self, name: str, arg_types, result_types, arg_hints=None, loc: Location | None = None):
        self.name = name
        self.body = Region([Block(arg_types, arg_hints)])
        self.result_types: list[Type] = list(result_types)
        self.loc = loc

    @property
    def args(self) -> list[BlockArg]:
        return self.body.block.args

    def walk(self) -> Iterator[Op]:
        return self.body.walk()

    def clone(self) -> "Func":
        """A deep copy with fresh values; passes transform clones."""
        new = Func(self.name, [a.type for a in self.args], self.result_types,
                   [a.hint for a in self.args], self.loc)
        mapping = dict(zip(self.args, new.args))
        clone_ops_into(self.body.block.ops, new.body.block, mapping)
        return new

    def __str__(self) -> str:
        from .printer import print_func
        return print_func(self)


def clone_ops_into(ops, block: Block, mapping: dict) -> None:
    """Append copies of `ops` to `block`, remapping operands through `mapping`."""
    for op in ops:
        block.append(clone_op(op, mapping))


def clone_op(op: Op, mapping: dict) -> Op:
    regions = []
    for region in op.regions:
        blocks = []
        for b in region.blocks:
            nb = Block([a.type for a in b.args], [a.hint for a in b.args])
            mapping.update(zip(b.args, nb.args))
            clone_ops_into(b.ops, nb, mapping)
            blocks.append(nb)
        regions.append(Region(blocks))
    new = Op.__new__(Op)                    # Op.__init__ without re-deriving what op knows
    new.name, new.attrs, new.loc, new.parent = op.name, dict(op.attrs), op.loc, None
    new.operands = [mapping.get(v, v) for v in op.operands]
    new.regions = regions
    for r in regions:
        r.parent = new
    new.results = [OpResult(r.type, new, r.index, r.hint) for r in op.results]
    mapping.update(zip(op.results, new.results))
    return new


class Module:
    def __init__(self, funcs=()):
        self.funcs: dict[str, Func] = {}
        for f in funcs:
            self.add(f)

    def add(self, func: Func) -> Func:
        self.funcs[func.name] = func
        return func

    def __getitem__(self, name: str) -> Func:
        return self.funcs[name]

    def __str__(self) -> str:
        from .printer import print_module
        return print_module(self)


class Builder:
    """Appends ops at the end of a block; result types come from the op's type rule."""

    def __init__(self, block: Block, loc: Location | None = None, fastmath: bool = False):
        self.block = block
        self.loc = loc
        self.fastmath = fastmath

    def __getattr__(self, name: str):
        """`b.add(x, y)` is `b.emit("add", x, y)` for every op in the table."""
        from .ops import OPS
        if name in OPS:
            return lambda *operands, **attrs: self.emit(name, *operands, **attrs)
        raise AttributeError(name)

    def emit(self, name: str, *operands: Value, regions=(), hints=None, loc=None, **attrs):
        """Append op `name`; return its result (one), results (several) or the op (none)."""
        from .ops import OPS
        result_types = OPS[name].infer([v.type for v in operands], attrs)
        op = Op(name, operands, result_types, attrs, regions, loc or self.loc, hints)
        self.block.append(op)
        if len(op.results) == 1:
            return op.results[0]
        return tuple(op.results) if op.results else op

    def const(self, value, type: Type, loc=None) -> Value:
        return self.emit("const", value=value, type=type, loc=loc)
