"""Deterministic text form of the IR.

Invariants:
- printing is a pure function of the IR and never fails on malformed IR
  (an unknown value prints as `%<undefined ...>`, so broken IR can be shown);
- names come from value hints (characters outside `[A-Za-z0-9_.]` become
  `_`), made unique per function in definition order: a repeated hint `x`
  becomes `x.1`, `x.2`, ..., skipping names that another value's hint
  claims; values without a hint are numbered `%0, %1, ...`, skipping every
  hinted name;
- since printed names are unique and the parser keeps them as hints,
  `str(parse_ir(print_module(m))) == print_module(m)`;
- source locations are trailing `# basename:line:col` comments on the line
  of the op (or of the `func`, or of an op's opening `{`);
- function names that are not plain (`<lambda>`) print quoted, `@"<lambda>"`;
- a generic op prints its attributes as ` {name = value, ...}` (sorted)
  before its result types, so no attribute is lost in the round trip.
"""
from __future__ import annotations

import json
import math
import re

import numpy as np

from .ir import Block, Func, Module, Op, Value

INDENT = "  "
_BAD_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.]")
_PLAIN_SYMBOL = re.compile(r"[A-Za-z0-9_.]+")
# attributes a syntax prints in its own form (never again as `{name = value}`)
_SYNTAX_ATTRS = {"alloc": {"type"}}


def sanitize(hint: str | None) -> str | None:
    """The printable form of a hint, or None when the value has no usable hint."""
    if not hint:
        return None
    return _BAD_NAME_CHARS.sub("_", hint)


class Namer:
    """Unique, stable names for the values of one function."""

    def __init__(self, func: Func):
        self.names: dict[Value, str] = {}
        values = definition_order(func)
        hints = {v: sanitize(v.hint) for v in values}
        reserved = set(hints.values()) - {None}
        taken: set[str] = set()
        counter = 0
        for v in values:
            if v in self.names:      # malformed IR may define a value twice
                continue
            hint = hints[v]
            if hint is None:
                while str(counter) in taken or str(counter) in reserved:
                    counter += 1
                name = str(counter)
            else:
                name = _unique(hint, taken, reserved)
            taken.add(name)
            self.names[v] = name

    def __call__(self, v: Value) -> str:
        return "%" + self.names.get(v, f"<undefined {v.hint or id(v)}>")


def _unique(hint: str, taken: set, reserved: set) -> str:
    """`hint` if free, else the first `hint.k` that is neither taken nor another's hint."""
    if hint not in taken:
        return hint
    k = 1
    while f"{hint}.{k}" in taken or f"{hint}.{k}" in reserved:
        k += 1
    return f"{hint}.{k}"


def definition_order(func: Func) -> list[Value]:
    """Every value of `func` in the order the printer defines it:
    function arguments, then per op its regions' block arguments (and their
    contents) before the op's results."""
    out = list(func.args)

    def visit(block: Block):
        for op in block.ops:
            for region in op.regions:
                for b in region.blocks:
                    out.extend(b.args)
                    visit(b)
            out.extend(op.results)
    for b in func.body.blocks:
        visit(b)
    return out


def format_symbol(name: str) -> str:
    """`@name`, quoted as `@"..."` (JSON string escapes) when not a plain name."""
    return "@" + (name if _PLAIN_SYMBOL.fullmatch(name) else json.dumps(name))


def format_attr(value) -> str:
    """An attribute value of a generic op: bool, int, float, str, Type."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        text = "nan" if math.isnan(value) else repr(float(value))
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)


def format_types(types) -> str:
    """One type bare, several (or none) as `(t1, t2)`."""
    types = list(types)
    return str(types[0]) if len(types) == 1 else "(" + ", ".join(map(str, types)) + ")"


def format_literal(value, type) -> str:
    """The text of a constant: `true`/`false`, an int, or a float (`nan`, `inf`, `-0.0`, repr)."""
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
        rt = format_types(f.result_types)
        self.lines.append(f"func {format_symbol(f.name)}({args}) -> {rt} {{{self.loc(f)}")
        for block in f.body.blocks:
            self.block(block, 1)
        self.lines.append("}")
        return "\n".join(self.lines)

    def block(self, block: Block, depth: int):
        for op in block.ops:
            self.op(op, depth)

    def op(self, op: Op, depth: int):
        pad = INDENT * depth
        lhs = self.names(op.results) + " = " if op.results else ""
        text = self.op_text(op)
        if isinstance(text, str):
            if not op.regions:
                self.lines.append(f"{pad}{lhs}{op.name}{text}{self.loc(op)}")
                return
            text = [text]
        head, *joints = text
        self.lines.append(f"{pad}{lhs}{op.name}{head} {{{self.loc(op)}")
        last = len(op.regions) - 1
        for i, region in enumerate(op.regions):
            for block in region.blocks:
                self.block(block, depth + 1)
            joint = joints[i] if i < len(joints) else (" {" if i < last else "")
            self.lines.append(f"{pad}}}{joint}")

    def op_text(self, op: Op):
        """The op's text after its name: a string, or for ops with regions a
        list [head, joint after region 0, ...]. Malformed ops print generically."""
        try:
            return SYNTAX[_syntax(op)](self, op)
        except (IndexError, KeyError, StopIteration, AttributeError, TypeError, ValueError):
            return _generic(self, op)

    def result_suffix(self, op: Op) -> str:
        return " : " + ", ".join(str(r.type) for r in op.results) if op.results else ""

    def arrows(self, op: Op) -> str:
        return " -> " + format_types(r.type for r in op.results) if op.results else ""


def _syntax(op: Op) -> str:
    from .ops import OPS
    d = OPS.get(op.name)
    if d is None or d.syntax not in SYNTAX or d.regions != len(op.regions):
        return "generic"
    return d.syntax


def _generic(p: Printer, op: Op) -> str:
    operands = " " + p.names(op.operands) if op.operands else ""
    return operands + _attr_dict(op) + p.result_suffix(op)


def _attr_dict(op: Op) -> str:
    """` {name = value, ...}` for the attributes the op's syntax does not print otherwise."""
    from .ops import OPS
    d = OPS.get(op.name)
    skip = _SYNTAX_ATTRS.get(d.syntax if d else "generic", set())
    items = [f"{k} = {format_attr(v)}" for k, v in sorted(op.attrs.items()) if k not in skip]
    return " {" + ", ".join(items) + "}" if items else ""


def _const(p, op):
    t = op.attrs.get("type")
    return f" {format_literal(op.attrs.get('value'), t)} : {t}"


def _cast(p, op):
    return f" {p.name(op.operands[0])} : {op.operands[0].type} to {op.attrs.get('type')}"


def _dim(p, op):
    return f" {p.name(op.operands[0])}, {op.attrs.get('axis')}" + p.result_suffix(op)


def _load(p, op):
    a, *idx = op.operands
    return f" {p.name(a)}[{p.names(idx)}]" + _attr_dict(op) + p.result_suffix(op)


def _store(p, op):
    v, a, *idx = op.operands
    return f" {p.name(v)}, {p.name(a)}[{p.names(idx)}]" + _attr_dict(op)


def _view(p, op):
    source, *rest = op.operands
    it, items = iter(rest), []
    for kind in op.attrs.get("spec", ""):
        if kind == "i":
            items.append(p.name(next(it)))
        elif kind == "s":
            items.append(":".join(p.name(next(it)) for _ in range(3)))
        else:
            items.append(":" if kind == "f" else "new")
    return f" {p.name(source)}[{', '.join(items)}]" + p.result_suffix(op)


def _transpose(p, op):
    perm = op.attrs["perm"]
    return f" {p.name(op.operands[0])} ({', '.join(str(int(k)) for k in perm)})" + p.result_suffix(op)


def _reshape(p, op):
    source, *extents = op.operands
    return f" {p.name(source)} ({p.names(extents)})" + p.result_suffix(op)


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
    return f" {format_symbol(op.attrs['callee'])}({p.names(op.operands)})" + p.result_suffix(op)


SYNTAX = {
    "generic": _generic, "alloc": _generic, "const": _const, "cast": _cast, "dim": _dim,
    "load": _load, "store": _store, "view": _view, "transpose": _transpose, "reshape": _reshape,
    "for": _for, "while": _while, "if": _if,
    "terminator": _terminator, "call": _call,
}


def print_func(func: Func, locations: bool = True) -> str:
    """The text of one function (no trailing newline)."""
    return Printer(func, locations).func(func)


def print_module(module: Module, locations: bool = True) -> str:
    """The text of a module: its functions separated by blank lines, ending with a newline."""
    return "\n\n".join(print_func(f, locations) for f in module.funcs.values()) + "\n"
