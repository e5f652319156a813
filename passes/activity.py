"""Activity analysis for reverse mode.

A value is *varied* when it depends on an active input, *useful* when it
can influence an active output; it is *active* when both. Memory is
tracked per alias class: arrays that may share memory (an argument or
allocation with all views of it, and arrays joined through loop-carried
values or `if` results) form one class. A class is varied once a varied
value is stored into it (or it belongs to a `Duplicated` argument), useful
once a useful value is loaded from it (or it is returned).

Numbers of integer type take part as reals (Zygote's convention: an
integer argument used as data gets a float gradient); booleans never do.
Integers used only as sizes, indices and bounds reach no differentiable op
and so stay inactive.

Invariant: the analysis is a pure function of the Func and the argument
activities; it never changes the IR.
"""
from __future__ import annotations

from ..ir import BlockArg, Func, Op, Value

# Ops through which derivatives never flow, whatever their operand types.
NON_DIFFERENTIABLE = {"lt", "le", "gt", "ge", "eq", "ne", "and", "or", "xor", "not", "dim",
                      "const", "alloc", "floor", "ceil", "floordiv", "tape_new", "tape_pop"}


def is_numeric(t) -> bool:
    return t.is_scalar and not t.is_bool


class AliasClasses:
    """Union-find over array values."""

    def __init__(self):
        self.parent: dict = {}

    def find(self, v):
        self.parent.setdefault(v, v)
        while self.parent[v] is not v:
            self.parent[v] = self.parent[self.parent[v]]
            v = self.parent[v]
        return v

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra is not rb:
            self.parent[ra] = rb


def alias_classes(func: Func) -> AliasClasses:
    classes = AliasClasses()
    for op in func.walk():
        if op.opdef.is_view:
            classes.union(op.result, op.operands[0])
        elif op.name in ("for", "while", "if"):
            for a, b in loop_links(op):
                if a.type.is_array:
                    classes.union(a, b)
        elif op.name == "select" and op.result.type.is_array:
            classes.union(op.result, op.operands[1])
            classes.union(op.result, op.operands[2])
    return classes


def loop_links(op: Op):
    """Pairs of values that hold the same data across a control op's boundary."""
    if op.name == "for":
        body = op.regions[0].block
        carried = body.args[1:]
        yielded = body.terminator.operands
        inits = op.operands[3:]
        for init, arg, y, r in zip(inits, carried, yielded, op.results):
            yield from ((init, arg), (y, arg), (arg, r))
    elif op.name == "while":
        before, after = op.regions[0].block, op.regions[1].block
        forwarded = before.terminator.operands[1:]
        yielded = after.terminator.operands
        for init, b, f, a, y, r in zip(op.operands, before.args, forwarded, after.args, yielded,
                                       op.results):
            yield from ((init, b), (y, b), (f, a), (f, r))
    elif op.name == "if":
        for region in op.regions:
            for y, r in zip(region.block.terminator.operands, op.results):
                yield (y, r)


class Activity:
    def __init__(self, func: Func, active_args, dup_args, seeded_results):
        """active_args/dup_args: indices of Active scalar / Duplicated array arguments;
        seeded_results: indices of results whose adjoints the caller seeds."""
        self.func = func
        self.classes = alias_classes(func)
        self.varied: set = set()
        self.useful: set = set()
        self.varied_mem: set = set()
        self.useful_mem: set = set()
        for i in active_args:
            self.varied.add(func.args[i])
        for i in dup_args:
            self.varied_mem.add(self.cls(func.args[i]))
        ret = func.body.block.terminator
        for i in seeded_results:
            v = ret.operands[i]
            if v.type.is_array:
                self.useful_mem.add(self.cls(v))
            else:
                self.useful.add(v)
        self._fixpoint(self._forward_step)
        self._fixpoint(self._backward_step)

    def cls(self, v: Value):
        return self.classes.find(v)

    def active(self, v: Value) -> bool:
        return v in self.varied and v in self.useful

    def active_memory(self, v: Value) -> bool:
        c = self.cls(v)
        return c in self.varied_mem and c in self.useful_mem

    def arg_is_active(self, i: int) -> bool:
        a = self.func.args[i]
        return self.active_memory(a) if a.type.is_array else self.active(a)

    def _fixpoint(self, step):
        while True:
            before = (len(self.varied), len(self.useful), len(self.varied_mem), len(self.useful_mem))
            for op in list(self.func.walk()):
                step(op)
            if before == (len(self.varied), len(self.useful), len(self.varied_mem), len(self.useful_mem)):
                return

    def _forward_step(self, op: Op):
        name, ins, outs = op.name, op.operands, op.results
        if name == "load":
            if self.cls(ins[0]) in self.varied_mem and is_numeric(outs[0].type):
                self.varied.add(outs[0])
        elif name == "store":
            if ins[0] in self.varied:
                self.varied_mem.add(self.cls(ins[1]))
        elif name == "copy":
            if self.cls(ins[0]) in self.varied_mem:
                self.varied_mem.add(self.cls(ins[1]))
        elif name == "fill":
            if ins[1] in self.varied:
                self.varied_mem.add(self.cls(ins[0]))
        elif op.opdef.writes is not None:       # e.g. gemm: its other array operands flow in
            if any(self.cls(v) in self.varied_mem for v in ins if v.type.is_array):
                self.varied_mem.add(self.cls(ins[op.opdef.writes]))
        elif name in ("for", "while", "if"):
            for a, b in loop_links(op):
                if a in self.varied and not b.type.is_array and is_numeric(b.type):
                    self.varied.add(b)
        elif name == "select":
            if not outs[0].type.is_array and (ins[1] in self.varied or ins[2] in self.varied):
                self.varied.add(outs[0])
        elif name == "cast":
            if ins[0] in self.varied and is_numeric(outs[0].type) \
                    and not (ins[0].type.is_float and outs[0].type.is_int):
                self.varied.add(outs[0])
        elif name not in NON_DIFFERENTIABLE and outs and op.opdef.differentiable \
                and is_numeric(outs[0].type) and any(v in self.varied for v in ins):
            self.varied.add(outs[0])

    def _backward_step(self, op: Op):
        name, ins, outs = op.name, op.operands, op.results
        if name == "load":
            if outs[0] in self.useful:
                self.useful_mem.add(self.cls(ins[0]))
        elif name == "store":
            if self.cls(ins[1]) in self.useful_mem:
                self.useful.add(ins[0])
        elif name == "copy":
            if self.cls(ins[1]) in self.useful_mem:
                self.useful_mem.add(self.cls(ins[0]))
        elif name == "fill":
            if self.cls(ins[0]) in self.useful_mem:
                self.useful.add(ins[1])
        elif op.opdef.writes is not None:
            if self.cls(ins[op.opdef.writes]) in self.useful_mem:
                self.useful_mem.update(self.cls(v) for v in ins if v.type.is_array)
        elif name in ("for", "while", "if"):
            for a, b in loop_links(op):
                if b in self.useful and not b.type.is_array:
                    self.useful.add(a)
        elif name == "select":
            if outs[0] in self.useful:
                self.useful.update(ins[1:])
        elif name not in NON_DIFFERENTIABLE and outs and outs[0] in self.useful and op.opdef.differentiable:
            self.useful.update(ins)


def written_array(op: Op):
    """The array op writes (its op table entry names the operand), or None."""
    k = op.opdef.writes
    return None if k is None else op.operands[k]


def defining_block(v: Value):
    return v.block if isinstance(v, BlockArg) else v.op.parent
