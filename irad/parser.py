"""Parse the IR's text form back into a `Module`.

Invariants:
- for text the printer produced (or text in the same canonical form),
  `str(parse_ir(text)) == text`;
- value names become hints, so hand-written IR keeps its names; a name is
  defined once per function (redefinition is a `ParseError`); names are
  scoped per function, not per region, so a value used outside the region
  that defines it parses and is left for the verifier to reject;
- `# file:line:col` comments at the end of a line become the location of
  the op (or func) on that line; other `#` comments and `//` comments
  (FileCheck directives) are skipped;
- symbols are `@name` or quoted `@"any name"` (JSON escapes); a generic op
  may carry attributes `{name = value, ...}` (bool, int, float, "string",
  type) before its `: result types`;
- every malformed input raises `ParseError` naming the line (never a bare
  Python exception). The parser checks syntax, not types: `irad.verify`
  checks types, except where the text states a type twice (a cast's
  source type), which must agree with the operand.
"""
from __future__ import annotations

import json
import re

from .errors import Location, ParseError
from .ir import Block, Func, Module, Op, Region
from .ops import OPS
from .types import parse_type

_TOKEN = re.compile(r"""
    (?P<loc>\#[ \t]*(?P<file>[^\n]+?):(?P<line>\d+):(?P<col>\d+)[ \t]*$)
  | (?P<comment>\#[^\n]*|//[^\n]*)
  | (?P<value>%[A-Za-z0-9_.]+)
  | (?P<symbol>@(?:[A-Za-z0-9_.]+|"(?:[^"\\\n]|\\.)*"))
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<number>-?(?:\d+\.\d*(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|\d+|inf|nan)(?![A-Za-z0-9_.]))
  | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<arrow>->)
  | (?P<punct>[=,:()\[\]{}])
  | (?P<space>\s+)
""", re.VERBOSE | re.MULTILINE)

_COMPOUND_TYPES = ("array<", "tuple<", "tape<")


def _type_end(text: str, pos: int, line: int) -> int:
    """End of the `array<...>`/`tuple<...>` type starting at `pos`: brackets
    balanced, only names, digits, commas and blanks inside."""
    depth, k = 0, pos
    while k < len(text):
        c = text[k]
        if c == "<":
            depth += 1
        elif c == ">":
            depth -= 1
            if depth == 0:
                return k + 1
        elif not (c.isalnum() or c in "_, \t"):
            break
        k += 1
    raise ParseError(f"line {line}: unterminated type {text[pos:k]!r}")


def _unquote(text: str) -> str:
    """A symbol's name (`@f` or `@"<lambda>"`) or a string literal's value."""
    body = text[1:] if text.startswith("@") else text
    return json.loads(body) if body.startswith('"') else body


def tokenize(text: str) -> list[tuple]:
    """(kind, text, line) triples; `loc` tokens carry a Location; ends with `eof`."""
    pos, line, out = 0, 1, []
    while pos < len(text):
        if text.startswith(_COMPOUND_TYPES, pos):
            end = _type_end(text, pos, line)
            out.append(("type", text[pos:end], line))
            pos = end
            continue
        m = _TOKEN.match(text, pos)
        if not m:
            raise ParseError(f"line {line}: unexpected text {text[pos:pos + 20]!r}")
        if m.group("loc"):
            loc = Location(m.group("file"), int(m.group("line")), max(int(m.group("col")) - 1, 0))
            out.append(("loc", loc, line))
        elif m.lastgroup in ("symbol", "string"):
            out.append((m.lastgroup, _unquote(m.group(m.lastgroup)), line))
        elif m.lastgroup not in ("space", "comment"):
            out.append((m.lastgroup, m.group(m.lastgroup), line))
        line += m.group(0).count("\n")
        pos = m.end()
    out.append(("eof", "", line))
    return out


class Parser:
    def __init__(self, text: str):
        self.toks = tokenize(text)
        self.i = 0
        self.scope: dict[str, object] = {}

    # ---- token helpers ----
    def peek(self, k: int = 0):
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self):
        tok = self.peek()
        self.i = min(self.i + 1, len(self.toks) - 1)
        return tok

    @property
    def line(self) -> int:
        return self.peek()[2]

    def fail(self, message: str, line: int | None = None):
        raise ParseError(f"line {self.line if line is None else line}: {message}")

    def error(self, what: str):
        kind, text, _ = self.peek()
        if kind == "eof":
            text = "end of input"
        elif kind == "loc":
            text = f"# {text.short()}"
        self.fail(f"expected {what}, found {text!r}")

    def skip_locs(self):
        """Drop location comments where none belongs (e.g. on a `} else {` line)."""
        while self.peek()[0] == "loc":
            self.next()

    def expect(self, text: str):
        if not self.at(text):
            self.error(repr(text))
        return self.next()

    def at(self, text: str) -> bool:
        kind, tok, _ = self.peek()
        return tok == text and kind in ("punct", "word", "arrow")

    def accept(self, text: str) -> bool:
        if self.at(text):
            self.next()
            return True
        return False

    def kind(self, kind: str) -> str:
        if self.peek()[0] != kind:
            self.error(kind)
        return self.next()[1]

    def maybe_loc(self):
        return self.next()[1] if self.peek()[0] == "loc" else None

    # ---- values and types ----
    def use(self):
        line = self.line
        name = self.kind("value")[1:]
        if name not in self.scope:
            self.fail(f"use of undefined value %{name}", line)
        return self.scope[name]

    def uses(self):
        """A possibly empty comma-separated list of value uses."""
        out = []
        if self.peek()[0] != "value":
            return out
        out.append(self.use())
        while self.at(",") and self.peek(1)[0] == "value":
            self.next()
            out.append(self.use())
        return out

    def new_name(self) -> str:
        """A value name about to be defined (checked for redefinition)."""
        line = self.line
        name = self.kind("value")[1:]
        if name in self.scope:
            self.fail(f"redefinition of %{name}", line)
        return name

    def define(self, value, name: str):
        if name in self.scope:
            self.fail(f"redefinition of %{name}")
        value.hint = name
        self.scope[name] = value

    def type(self):
        kind, text, line = self.next()
        if kind in ("type", "word"):
            try:
                return parse_type(text)
            except ValueError as e:
                self.fail(str(e), line)
        self.fail(f"expected a type, found {text!r}", line)

    def types(self):
        """One type, or a parenthesized (possibly empty) list of types."""
        if not self.accept("("):
            return [self.type()]
        out = []
        while not self.accept(")"):
            out.append(self.type())
            if not self.at(")"):
                self.expect(",")
        return out

    def type_list(self):
        """`t1, t2, ...` (at least one), as after the `:` of an op with results."""
        out = [self.type()]
        while self.accept(","):
            out.append(self.type())
        return out

    def result_types(self):
        """The types after an optional `:` ending an op."""
        return self.type_list() if self.accept(":") else []

    def arrow_types(self):
        return self.types() if self.accept("->") else []

    def bindings(self):
        """`(%a = %x, %b = %y)` after the opening `(`: (new names, initial values)."""
        names, inits = [], []
        while not self.accept(")"):
            names.append(self.new_name())
            self.expect("=")
            inits.append(self.use())
            if not self.at(")"):
                self.expect(",")
        return names, inits

    # ---- structure ----
    def module(self) -> Module:
        module = Module()
        self.skip_locs()
        while self.peek()[0] != "eof":
            line = self.line
            func = self.func()
            if func.name in module.funcs:
                self.fail(f"function @{func.name} defined twice", line)
            module.add(func)
            self.skip_locs()
        return module

    def func(self) -> Func:
        self.expect("func")
        name = self.kind("symbol")
        self.expect("(")
        self.scope = {}
        arg_names, arg_types = [], []
        while not self.accept(")"):
            arg_names.append(self.new_name())
            self.scope[arg_names[-1]] = None
            self.expect(":")
            arg_types.append(self.type())
            if not self.at(")"):
                self.expect(",")
        self.expect("->")
        result_types = self.types()
        self.expect("{")
        func = Func(name, arg_types, result_types, arg_names, self.maybe_loc())
        self.scope = {a.hint: a for a in func.args}
        self.block_body(func.body.block)
        return func

    def block_body(self, block: Block):
        self.skip_locs()
        while not self.accept("}"):
            if self.peek()[0] == "eof":
                self.error("'}'")
            block.append(self.op())
            self.skip_locs()

    def region(self, block: Block) -> Region:
        self.block_body(block)
        return Region([block])

    def op(self) -> Op:
        result_names = []
        if self.peek()[0] == "value":
            result_names.append(self.new_name())
            while self.accept(","):
                result_names.append(self.new_name())
            self.expect("=")
        kind, name, line = self.next()
        if kind != "word" or name not in OPS:
            self.fail(f"unknown op {name!r}", line)
        op = PARSE[OPS[name].syntax](self, name)
        if len(op.results) != len(result_names):
            self.fail(f"op '{name}' defines {len(op.results)} results, {len(result_names)} named", line)
        for r, n in zip(op.results, result_names):
            self.define(r, n)
        return op

    def simple(self, name, operands, result_types, attrs=None):
        return Op(name, operands, result_types, attrs, (), self.maybe_loc())

    def with_regions(self, op: Op, regions) -> Op:
        op.regions = list(regions)
        for r in op.regions:
            r.parent = op
        return op


def _generic(p: Parser, name):
    operands = p.uses()
    attrs = _attr_dict(p) if p.accept("{") else {}
    line = p.line
    types = p.result_types()
    if OPS[name].syntax != "alloc":
        return p.simple(name, operands, types, attrs)
    if len(types) != 1:
        p.fail(f"op '{name}' needs exactly one result type", line)
    return p.simple(name, operands, types, {**attrs, "type": types[0]})


def _attr_dict(p: Parser) -> dict:
    """`name = value, ...}` after the `{` of a generic op's attributes."""
    attrs = {}
    while not p.accept("}"):
        key = p.kind("word")
        p.expect("=")
        attrs[key] = _attr_value(p)
        if not p.at("}"):
            p.expect(",")
    return attrs


def _attr_value(p: Parser):
    kind, text, line = p.peek()
    if kind == "string":
        return p.next()[1]
    if kind == "number":
        p.next()
        return int(text) if re.fullmatch(r"-?\d+", text) else float(text)
    if kind == "word" and text in ("true", "false"):
        p.next()
        return text == "true"
    return p.type()


def _literal(p: Parser, text: str, t, line: int):
    """The Python value of a const literal of type `t`."""
    try:
        if t.is_bool and text in ("true", "false"):
            return text == "true"
        if t.is_int and re.fullmatch(r"-?\d+", text):
            return int(text)
        if t.is_float and text not in ("true", "false"):
            return float(text)
    except ValueError:
        pass
    p.fail(f"{text!r} is not a literal of type {t}", line)


def _const(p, name):
    kind, text, line = p.next()
    if kind not in ("number", "word"):
        p.fail(f"expected a literal, found {text!r}", line)
    p.expect(":")
    t = p.type()
    return p.simple(name, [], [t], {"value": _literal(p, text, t, line), "type": t})


def _cast(p, name):
    x = p.use()
    p.expect(":")
    line = p.line
    source = p.type()
    if source != x.type:
        p.fail(f"cast operand has type {x.type}, not {source}", line)
    p.expect("to")
    t = p.type()
    return p.simple(name, [x], [t], {"type": t})


def _dim(p, name):
    a = p.use()
    p.expect(",")
    axis = p.kind("number")
    if not axis.isdigit():
        p.fail(f"dim axis must be a non-negative integer, found {axis!r}")
    return p.simple(name, [a], p.result_types(), {"axis": int(axis)})


def _indexed(p):
    a = p.use()
    p.expect("[")
    idx = p.uses()
    p.expect("]")
    return a, idx


def _load(p, name):
    a, idx = _indexed(p)
    attrs = _attr_dict(p) if p.accept("{") else {}
    return p.simple(name, [a, *idx], p.result_types(), attrs)


def _store(p, name):
    v = p.use()
    p.expect(",")
    a, idx = _indexed(p)
    attrs = _attr_dict(p) if p.accept("{") else {}
    return p.simple(name, [v, a, *idx], [], attrs)


def _view_item(p, operands: list) -> str:
    """One item of a view's `[...]`: returns its spec letter, appends its operands."""
    if p.accept(":"):
        return "f"
    if p.accept("new"):
        return "n"
    first = p.use()
    if not p.accept(":"):
        operands.append(first)
        return "i"
    stop = p.use()
    p.expect(":")
    operands += [first, stop, p.use()]
    return "s"


def _view(p, name):
    source = p.use()
    p.expect("[")
    spec, operands = "", []
    while not p.accept("]"):
        spec += _view_item(p, operands)
        if not p.at("]"):
            p.expect(",")
    return p.simple(name, [source, *operands], p.result_types(), {"spec": spec})


def _transpose(p, name):
    source = p.use()
    p.expect("(")
    perm = []
    while not p.accept(")"):
        kind, text, line = p.next()
        if kind != "number" or not text.isdigit():
            p.fail(f"expected an axis number, found {text!r}", line)
        perm.append(int(text))
        if not p.at(")"):
            p.expect(",")
    return p.simple(name, [source], p.result_types(), {"perm": tuple(perm)})


def _reshape(p, name):
    source = p.use()
    p.expect("(")
    extents = p.uses()
    p.expect(")")
    return p.simple(name, [source, *extents], p.result_types())


def _for(p, name):
    iv = p.new_name()
    p.expect("=")
    lo = p.use()
    p.expect("to")
    hi = p.use()
    p.expect("step")
    step = p.use()
    carried, inits = [], []
    if p.accept("iter_args"):
        p.expect("(")
        carried, inits = p.bindings()
    types = p.arrow_types()
    p.expect("{")
    op = Op(name, [lo, hi, step, *inits], types, {}, (), p.maybe_loc())
    body = Block([lo.type] + [v.type for v in inits])
    for a, n in zip(body.args, [iv, *carried]):
        p.define(a, n)
    return p.with_regions(op, [p.region(body)])


def _while(p, name):
    p.expect("(")
    names, inits = p.bindings()
    types = p.arrow_types()
    p.expect("{")
    op = Op(name, inits, types, {}, (), p.maybe_loc())
    before = Block([v.type for v in inits])
    for a, n in zip(before.args, names):
        p.define(a, n)
    regions = [p.region(before)]
    p.expect("do")
    p.expect("(")
    line, after_names = p.line, []
    while not p.accept(")"):
        after_names.append(p.new_name())
        if not p.at(")"):
            p.expect(",")
    if len(after_names) != len(inits):
        p.fail(f"while: the after region names {len(after_names)} values, "
               f"the loop carries {len(inits)}", line)
    p.expect("{")
    after = Block([v.type for v in inits])
    for a, n in zip(after.args, after_names):
        p.define(a, n)
    regions.append(p.region(after))
    return p.with_regions(op, regions)


def _if(p, name):
    cond = p.use()
    types = p.arrow_types()
    p.expect("{")
    op = Op(name, [cond], types, {"types": tuple(types)}, (), p.maybe_loc())
    then = p.region(Block())
    p.expect("else")
    p.expect("{")
    return p.with_regions(op, [then, p.region(Block())])


def _terminator(p, name):
    return p.simple(name, p.uses(), [])


def _call(p, name):
    callee = p.kind("symbol")
    p.expect("(")
    args = p.uses()
    p.expect(")")
    types = p.result_types()
    return p.simple(name, args, types, {"callee": callee, "types": tuple(types)})


PARSE = {
    "generic": _generic, "alloc": _generic, "const": _const, "cast": _cast, "dim": _dim,
    "load": _load, "store": _store, "view": _view, "transpose": _transpose, "reshape": _reshape,
    "for": _for, "while": _while, "if": _if,
    "terminator": _terminator, "call": _call,
}


def parse_ir(text: str) -> Module:
    """Parse IR text (one or more `func`s) into a Module."""
    return Parser(text).module()


def parse_func(text: str) -> Func:
    """Parse IR text holding exactly one `func`."""
    module = parse_ir(text)
    if len(module.funcs) != 1:
        raise ParseError(f"expected exactly one func, found {len(module.funcs)}")
    return next(iter(module.funcs.values()))
