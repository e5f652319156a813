"""Parse the IR's text form back into a `Module`.

Invariant: for text the printer produced (or text in the same canonical
form), `str(parse_ir(text)) == text`. Value names become hints, so
hand-written IR keeps its names. `# file:line:col` comments become op
locations; lines starting with `//` (FileCheck directives) are skipped.
"""
from __future__ import annotations

import re

from .errors import Location, ParseError
from .ir import Block, Func, Module, Op, Region
from .ops import OPS
from .ops.memory import VIEW_OPERANDS
from .types import parse_type

_TOKEN = re.compile(r"""
    (?P<loc>\#\s*(?P<file>[^\s:]+):(?P<line>\d+):(?P<col>\d+)[ \t]*$)
  | (?P<comment>\#[^\n]*|//[^\n]*)
  | (?P<type>(?:array|tuple)<[^{}]*?>(?:>)*)
  | (?P<value>%[A-Za-z0-9_.]+)
  | (?P<symbol>@[A-Za-z0-9_.]+)
  | (?P<number>-?(?:\d+\.\d*(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|\d+|inf|nan)(?![A-Za-z0-9_]))
  | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<arrow>->)
  | (?P<punct>[=,:()\[\]{}])
  | (?P<space>\s+)
""", re.VERBOSE | re.MULTILINE)


def _tokens(text: str):
    pos, line = 0, 1
    out = []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ParseError(f"line {line}: unexpected text {text[pos:pos + 20]!r}")
        kind = m.lastgroup if m.lastgroup not in ("file", "line", "col") else "loc"
        if m.group("loc"):
            kind = "loc"
        if kind == "loc":
            out.append(("loc", Location(m.group("file"), int(m.group("line")), int(m.group("col")) - 1), line))
        elif kind not in ("space", "comment"):
            out.append((kind, m.group(kind), line))
        line += m.group(0).count("\n")
        pos = m.end()
    out.append(("eof", "", line))
    return out


def _balanced_type_end(text: str) -> bool:
    return text.count("<") == text.count(">")


class Parser:
    def __init__(self, text: str):
        self.toks = _tokens(text)
        self.i = 0
        self.scope: dict[str, object] = {}

    # ---- token helpers ----
    def peek(self, k: int = 0):
        return self.toks[self.i + k]

    def next(self):
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def error(self, what: str):
        kind, text, line = self.peek()
        raise ParseError(f"line {line}: expected {what}, found {text or kind!r}")

    def expect(self, text: str):
        if self.peek()[1] != text:
            self.error(repr(text))
        return self.next()

    def accept(self, text: str) -> bool:
        if self.peek()[1] == text and self.peek()[0] in ("punct", "word", "arrow"):
            self.next()
            return True
        return False

    def kind(self, kind: str):
        if self.peek()[0] != kind:
            self.error(kind)
        return self.next()[1]

    def maybe_loc(self):
        return self.next()[1] if self.peek()[0] == "loc" else None

    # ---- values and types ----
    def use(self):
        name = self.kind("value")[1:]
        if name not in self.scope:
            kind, text, line = self.toks[self.i - 1]
            raise ParseError(f"line {line}: use of undefined value %{name}")
        return self.scope[name]

    def uses(self, closer: str | None = None):
        out = []
        if self.peek()[0] != "value":
            return out
        out.append(self.use())
        while self.peek()[1] == "," and self.peek(1)[0] == "value":
            self.next()
            out.append(self.use())
        return out

    def define(self, value, name: str):
        value.hint = name
        self.scope[name] = value

    def type(self):
        kind, text, line = self.next()
        if kind == "type":
            return parse_type(text)
        if kind == "word":
            try:
                return parse_type(text)
            except (ValueError, KeyError):
                pass
        raise ParseError(f"line {line}: expected a type, found {text!r}")

    def types(self):
        if self.accept("("):
            out = []
            while not self.accept(")"):
                out.append(self.type())
                self.accept(",")
            return out
        return [self.type()]

    def arrow_types(self):
        return self.types() if self.peek()[0] == "arrow" and self.next() else []

    # ---- structure ----
    def module(self) -> Module:
        module = Module()
        while self.peek()[0] != "eof":
            module.add(self.func())
        return module

    def func(self) -> Func:
        self.expect("func")
        name = self.kind("symbol")[1:]
        self.expect("(")
        arg_names, arg_types = [], []
        while not self.accept(")"):
            arg_names.append(self.kind("value")[1:])
            self.expect(":")
            arg_types.append(self.type())
            self.accept(",")
        self.kind("arrow")
        result_types = self.types()
        self.expect("{")
        func = Func(name, arg_types, result_types, arg_names, self.maybe_loc())
        self.scope = {}
        for a in func.args:
            self.define(a, a.hint)
        self.block_body(func.body.block)
        return func

    def block_body(self, block: Block):
        while not self.accept("}"):
            block.append(self.op())

    def region(self, block: Block) -> Region:
        self.block_body(block)
        return Region([block])

    def op(self) -> Op:
        result_names = []
        if self.peek()[0] == "value":
            result_names.append(self.kind("value")[1:])
            while self.accept(","):
                result_names.append(self.kind("value")[1:])
            self.expect("=")
        kind, name, line = self.next()
        if name not in OPS:
            raise ParseError(f"line {line}: unknown op {name!r}")
        op = PARSE[OPS[name].syntax](self, name)
        if len(op.results) != len(result_names):
            raise ParseError(f"line {line}: {name} defines {len(op.results)} results, "
                             f"{len(result_names)} named")
        for r, n in zip(op.results, result_names):
            self.define(r, n)
        return op

    def simple(self, name, operands, result_types, attrs=None):
        return Op(name, operands, result_types, attrs, (), self.maybe_loc())


def _generic(p: Parser, name):
    operands = p.uses()
    types = p.types() if p.accept(":") else []
    if OPS[name].syntax == "alloc":
        return p.simple(name, operands, types, {"type": types[0]})
    return p.simple(name, operands, types)


def _const(p, name):
    kind, text, line = p.next()
    t = (p.expect(":"), p.type())[1]
    value = {"true": True, "false": False}.get(text) if t.is_bool else (int(text) if t.is_int else float(text))
    return p.simple(name, [], [t], {"value": value, "type": t})


def _cast(p, name):
    x = p.use()
    p.expect(":")
    p.type()
    p.expect("to")
    t = p.type()
    return p.simple(name, [x], [t], {"type": t})


def _dim(p, name):
    a = p.use()
    p.expect(",")
    axis = int(p.kind("number"))
    p.expect(":")
    return p.simple(name, [a], [p.type()], {"axis": axis})


def _indexed(p):
    a = p.use()
    p.expect("[")
    idx = p.uses()
    p.expect("]")
    return a, idx


def _load(p, name):
    a, idx = _indexed(p)
    p.expect(":")
    return p.simple(name, [a, *idx], [p.type()])


def _store(p, name):
    v = p.use()
    p.expect(",")
    a, idx = _indexed(p)
    return p.simple(name, [v, a, *idx], [])


def _view(p, name):
    source = p.use()
    p.expect("[")
    spec, operands = "", []
    while not p.accept("]"):
        if p.accept(":"):
            spec += "f"
        elif p.accept("new"):
            spec += "n"
        else:
            first = p.use()
            if p.accept(":"):
                operands += [first, p.use(), (p.expect(":"), p.use())[1]]
                spec += "s"
            else:
                operands.append(first)
                spec += "i"
        p.accept(",")
    assert all(k in VIEW_OPERANDS for k in spec)
    p.expect(":")
    return p.simple(name, [source, *operands], [p.type()], {"spec": spec})


def _for(p, name):
    iv = p.kind("value")[1:]
    p.expect("=")
    lo = p.use()
    p.expect("to")
    hi = p.use()
    p.expect("step")
    step = p.use()
    carried, inits = [], []
    if p.accept("iter_args"):
        p.expect("(")
        while not p.accept(")"):
            carried.append(p.kind("value")[1:])
            p.expect("=")
            inits.append(p.use())
            p.accept(",")
    types = p.arrow_types()
    p.expect("{")
    op = Op(name, [lo, hi, step, *inits], types, {}, (), p.maybe_loc())
    body = Block([lo.type] + [v.type for v in inits])
    for a, n in zip(body.args, [iv, *carried]):
        p.define(a, n)
    op.regions = [p.region(body)]
    op.regions[0].parent = op
    return op


def _while(p, name):
    p.expect("(")
    names, inits = [], []
    while not p.accept(")"):
        names.append(p.kind("value")[1:])
        p.expect("=")
        inits.append(p.use())
        p.accept(",")
    types = p.arrow_types()
    p.expect("{")
    op = Op(name, inits, types, {}, (), p.maybe_loc())
    before = Block([v.type for v in inits])
    for a, n in zip(before.args, names):
        p.define(a, n)
    regions = [p.region(before)]
    p.expect("do")
    p.expect("(")
    after_names = []
    while not p.accept(")"):
        after_names.append(p.kind("value")[1:])
        p.accept(",")
    p.expect("{")
    after = Block([v.type for v in inits])
    for a, n in zip(after.args, after_names):
        p.define(a, n)
    regions.append(p.region(after))
    op.regions = regions
    for r in regions:
        r.parent = op
    return op


def _if(p, name):
    cond = p.use()
    types = p.arrow_types()
    p.expect("{")
    op = Op(name, [cond], types, {"types": tuple(types)}, (), p.maybe_loc())
    then = p.region(Block())
    p.expect("else")
    p.expect("{")
    op.regions = [then, p.region(Block())]
    for r in op.regions:
        r.parent = op
    return op


def _terminator(p, name):
    return p.simple(name, p.uses(), [])


def _call(p, name):
    callee = p.kind("symbol")[1:]
    p.expect("(")
    args = p.uses()
    p.expect(")")
    types = p.types() if p.accept(":") else []
    return p.simple(name, args, types, {"callee": callee, "types": tuple(types)})


PARSE = {
    "generic": _generic, "alloc": _generic, "const": _const, "cast": _cast, "dim": _dim,
    "load": _load, "store": _store, "view": _view, "for": _for, "while": _while, "if": _if,
    "terminator": _terminator, "call": _call,
}


def parse_ir(text: str) -> Module:
    """Parse IR text (one or more `func`s) into a Module."""
    return Parser(text).module()
