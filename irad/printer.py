"""Deterministic text form of the IR.

Invariants: printing is a pure function of the IR (names come from value
hints, made unique per function in definition order; values without a hint
are numbered `%0, %1, ...`); `parse_ir(print_module(m))` prints identically.
Source locations are printed as trailing `# file:line:col` comments.
"""
from __future__ import annotations

import math

from .ir import Block, Func, Module, Op, Value

INDENT = "  "


class Namer:
    """Unique, stable names for the values of one function."""

    def __init__(self, func: Func):
        self.names: dict[Value, str] = {}
        values = _definition_order(func)
        taken = set()
        reserved = {v.hint for v in values if v.hint}
        counter = 0
        for v in values:
            if v.hint:
                name, k = v.hint, 0
                while name in taken:
                    k += 1
                    name = f"{v.hint}.{k}"
            else:
                while str(counter) in taken or str(counter) in reserved:
                    counter += 1
                name = str(counter)
            taken.add(name)
            self.names[v] = name

    def __call__(self, v: Value) -> str:
        return "%" + self.names.get(v, f"<undefined {v.hint or id(v)}>")


def _definition_order(func: Func) -> list[Value]:
    out = list(func.args)

    def visit(block: Block):
        for op in block.ops:
            for region in op.regions:
                for b in region.blocks:
                    out.extend(b.args)
                    visit(b)
            out.extend(op.results)
    visit(func.body.block)
    return out


def format_types(types) -> str:
    types = list(types)
    return str(types[0]) if len(types) == 1 else "(" + ", ".join(map(str, types)) + ")"


def format_literal(value, type) -> str:
    if type.is_bool:
        return "true" if value else "false"
    if type.is_int:
        return str(int(value))
    value = float(value)
    if math.isnan(value):
        return "nan"
    return repr(value)


class Printer:
    def __init__(self, func: Func, locations: bool = True):
        self.name = Namer(func)
        self.locations = locations
        self.lines: list[str] = []

    def loc(self, op_or_func) -> str:
        loc = op_or_func.loc
        return f"  # {loc.short()}" if (loc and self.locations) else ""

    def names(self, values) -> str:
        return ", ".join(self.name(v) for v in values)

    def func(self, f: Func) -> str:
        args = ", ".join(f"{self.name(a)}: {a.type}" for a in f.args)
        rt = format_types(f.result_types) if f.result_types else "()"
        self.lines.append(f"func @{f.name}({args}) -> {rt} {{{self.loc(f)}")
        self.block(f.body.block, 1)
        self.lines.append("}")
        return "\n".join(self.lines)

    def block(self, block: Block, depth: int):
        for op in block.ops:
            self.op(op, depth)

    def op(self, op: Op, depth: int):
        pad = INDENT * depth
        lhs = self.names(op.results) + " = " if op.results else ""
        text = SYNTAX[op.opdef.syntax](self, op)
        if not op.regions:
            self.lines.append(f"{pad}{lhs}{op.name}{text}{self.loc(op)}")
            return
        head, *joints = text
        self.lines.append(f"{pad}{lhs}{op.name}{head} {{{self.loc(op)}")
        for i, region in enumerate(op.regions):
            self.block(region.block, depth + 1)
            joint = joints[i] if i < len(joints) else ""
            self.lines.append(f"{pad}}}{joint}")

    def result_suffix(self, op: Op) -> str:
        return " : " + ", ".join(str(r.type) for r in op.results) if op.results else ""

    def arrows(self, op: Op) -> str:
        return " -> " + format_types(r.type for r in op.results) if op.results else ""


def _generic(p: Printer, op: Op) -> str:
    operands = " " + p.names(op.operands) if op.operands else ""
    return operands + p.result_suffix(op)


def _const(p, op):
    return f" {format_literal(op.attrs['value'], op.attrs['type'])} : {op.attrs['type']}"


def _cast(p, op):
    return f" {p.name(op.operands[0])} : {op.operands[0].type} to {op.results[0].type}"


def _dim(p, op):
    return f" {p.name(op.operands[0])}, {op.attrs['axis']} : i64"


def _load(p, op):
    a, *idx = op.operands
    return f" {p.name(a)}[{p.names(idx)}] : {op.results[0].type}"


def _store(p, op):
    v, a, *idx = op.operands
    return f" {p.name(v)}, {p.name(a)}[{p.names(idx)}]"


def _view(p, op):
    source, *rest = op.operands
    it, items = iter(rest), []
    for kind in op.attrs["spec"]:
        if kind == "i":
            items.append(p.name(next(it)))
        elif kind == "s":
            items.append(":".join(p.name(next(it)) for _ in range(3)))
        else:
            items.append(":" if kind == "f" else "new")
    return f" {p.name(source)}[{', '.join(items)}] : {op.results[0].type}"


def _for(p, op):
    lo, hi, step, *inits = op.operands
    iv, *carried = op.regions[0].block.args
    text = f" {p.name(iv)} = {p.name(lo)} to {p.name(hi)} step {p.name(step)}"
    if inits:
        text += " iter_args(" + ", ".join(f"{p.name(a)} = {p.name(v)}" for a, v in zip(carried, inits)) + ")"
    return [text + p.arrows(op)]


def _while(p, op):
    before, after = op.regions[0].block, op.regions[1].block
    pairs = ", ".join(f"{p.name(a)} = {p.name(v)}" for a, v in zip(before.args, op.operands))
    return [f" ({pairs}){p.arrows(op)}", f" do ({p.names(after.args)}) {{", ""]


def _if(p, op):
    return [f" {p.name(op.operands[0])}{p.arrows(op)}", " else {", ""]


def _terminator(p, op):
    return " " + p.names(op.operands) if op.operands else ""


def _call(p, op):
    return f" @{op.attrs['callee']}({p.names(op.operands)})" + p.result_suffix(op)


SYNTAX = {
    "generic": _generic, "alloc": _generic, "const": _const, "cast": _cast, "dim": _dim,
    "load": _load, "store": _store, "view": _view, "for": _for, "while": _while, "if": _if,
    "terminator": _terminator, "call": _call,
}


def print_func(func: Func, locations: bool = True) -> str:
    return Printer(func, locations).func(func)


def print_module(module: Module, locations: bool = True) -> str:
    return "\n\n".join(print_func(f, locations) for f in module.funcs.values()) + "\n"
