"""The IR's text form round-trips: `str(parse_ir(text)) == text`, and the
verifier accepts every text here. Covers every op in the op table and every
syntax form; also programmatic construction with `Builder` and value naming."""
from __future__ import annotations

import math
import struct
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import irad
from irad.ir import Block, Func, Module, Region
from irad.ops import OPS
from irad.printer import format_literal
from irad.types import (F32, F64, I1, I32, I64, NONE, ArrayType, TupleType, parse_type)


def ir(text: str) -> str:
    """Dedent a triple-quoted IR text and drop its leading newline."""
    return textwrap.dedent(text).lstrip("\n")


def roundtrip(text: str) -> Module:
    """Parse, check the print is identical, verify, check a second round trip."""
    module = irad.parse_ir(text)
    assert str(module) == text
    irad.verify(module)
    assert str(irad.parse_ir(str(module))) == text
    return module


SCALAR_ARITH = ir("""
    func @arith(%x: f64, %y: f64, %z: f64) -> f64 {
      %a = add %x, %y : f64
      %b = sub %a, %y : f64
      %c = mul %b, %z : f64
      %d = div %c, %y : f64
      %e = floordiv %d, %y : f64
      %f = mod %e, %y : f64
      %g = neg %f : f64
      %h = pow %g, %y : f64
      %i = fma %h, %x, %z : f64
      %j = min %i, %x : f64
      %k = max %j, %x : f64
      %l = abs %k : f64
      %m = atan2 %l, %x : f64
      %n = hypot %m, %y : f64
      return %n
    }
""")

INT_ARITH = ir("""
    func @iarith(%x: i64, %y: i64, %u: i32, %v: i32) -> (i64, i32) {
      %a = add %x, %y : i64
      %b = sub %a, %y : i64
      %c = mul %b, %x : i64
      %d = floordiv %c, %y : i64
      %e = mod %d, %y : i64
      %f = neg %e : i64
      %g = pow %f, %y : i64
      %h = min %g, %x : i64
      %i = max %h, %x : i64
      %j = abs %i : i64
      %k = and %j, %x : i64
      %l = or %k, %x : i64
      %m = xor %l, %y : i64
      %n = add %u, %v : i32
      return %m, %n
    }
""")

LOGIC = ir("""
    func @logic(%x: f64, %y: f64, %p: i1, %q: i1) -> (i1, f64) {
      %a = lt %x, %y : i1
      %b = le %x, %y : i1
      %c = gt %x, %y : i1
      %d = ge %x, %y : i1
      %e = eq %x, %y : i1
      %f = ne %x, %y : i1
      %g = and %a, %b : i1
      %h = or %g, %c : i1
      %i = xor %h, %d : i1
      %j = not %i : i1
      %k = and %j, %p : i1
      %l = eq %k, %q : i1
      %s = select %l, %x, %y : f64
      return %f, %s
    }
""")

CONSTS = ir("""
    func @consts() -> () {
      %a = const 0.0 : f64
      %b = const -0.0 : f64
      %c = const nan : f64
      %d = const inf : f64
      %e = const -inf : f64
      %f = const 1e-300 : f64
      %g = const 1.5e+300 : f64
      %h = const 0.1 : f64
      %i = const -2.5 : f32
      %j = const 0.1 : f32
      %k = const nan : f32
      %l = const 0 : i64
      %m = const -7 : i64
      %n = const 9223372036854775807 : i64
      %o = const -9223372036854775808 : i64
      %p = const -2147483648 : i32
      %q = const 2147483647 : i32
      %r = const true : i1
      %s = const false : i1
      return
    }
""")

CASTS = ir("""
    func @casts(%x: f64, %n: i64, %p: i1, %w: i32) -> (i64, f64, i1, i64, f32, i64, f64) {
      %a = cast %x : f64 to i64
      %b = cast %n : i64 to f64
      %c = cast %n : i64 to i1
      %d = cast %p : i1 to i64
      %e = cast %x : f64 to f32
      %f = cast %w : i32 to i64
      %g = cast %e : f32 to f64
      %h = cast %x : f64 to f64
      return %a, %b, %c, %d, %e, %f, %g
    }
""")

MEMORY = ir("""
    func @memory(%v: array<f64,1,C>, %m: array<f64,2,C>, %t: array<f32,3,strided>, %i: i64, %j: i64, %k: i64) -> () {
      %n = dim %v, 0 : i64
      %r = dim %m, 1 : i64
      %s = dim %t, 2 : i64
      %a = load %v[%i] : f64
      %b = load %m[%i, %j] : f64
      %c = load %t[%i, %j, %k] : f32
      store %a, %v[%j]
      store %b, %m[%j, %i]
      store %c, %t[%k, %j, %i]
      %buf = alloc %n : array<f64,1,C>
      %grid = alloc %n, %r : array<f64,2,C>
      %cube = alloc %n, %r, %s : array<f32,3,C>
      %row = view %m[%i, :] : array<f64,1,C>
      %col = view %m[:, %j] : array<f64,1,strided>
      %sl = view %v[%i:%n:%j] : array<f64,1,strided>
      %sub = view %m[%i:%n:%k, %j:%r:%k] : array<f64,2,strided>
      %ex = view %v[new, :] : array<f64,2,C>
      %mix = view %t[%i, :, new, %i:%s:%j] : array<f32,3,strided>
      %el = view %m[%i, %j] : array<f64,0,C>
      %zero = const 0.0 : f64
      fill %buf, %zero
      fill %grid, %b
      copy %row, %buf
      copy %col, %row
      copy %m, %grid
      %x = load %el[] : f64
      store %x, %el[]
      return
    }
""")

LOOPS = ir("""
    func @loops(%a: array<f64,2,C>) -> f64 {
      %c0 = const 0 : i64
      %c1 = const 1 : i64
      %n = dim %a, 0 : i64
      %m = dim %a, 1 : i64
      %z = const 0.0 : f64
      for %i = %c0 to %n step %c1 {
        store %z, %a[%i, %c0]
        yield
      }
      %s = for %i.1 = %c0 to %n step %c1 iter_args(%acc = %z) -> f64 {
        %t = for %j = %c0 to %m step %c1 iter_args(%inner = %acc) -> f64 {
          %v = load %a[%i.1, %j] : f64
          %w = add %inner, %v : f64
          yield %w
        }
        yield %t
      }
      %p, %q = for %k = %n to %c0 step %c1 iter_args(%x = %s, %y = %c0) -> (f64, i64) {
        %y2 = add %y, %k : i64
        yield %x, %y2
      }
      return %p
    }
""")

WHILES = ir("""
    func @whiles(%x: f64, %n: i64) -> (f64, i64) {
      %one = const 1 : i64
      %zero = const 0 : i64
      %r, %k = while (%a = %x, %b = %n) -> (f64, i64) {
        %c = gt %b, %zero : i1
        condition %c, %a, %b
      } do (%a2, %b2) {
        %a3 = mul %a2, %a2 : f64
        %b3 = sub %b2, %one : i64
        yield %a3, %b3
      }
      %f = const false : i1
      while () {
        condition %f
      } do () {
        yield
      }
      %w = while (%u = %r) -> f64 {
        %big = gt %u, %x : i1
        condition %big, %u
      } do (%u2) {
        yield %u2
      }
      return %w, %k
    }
""")

IFS = ir("""
    func @ifs(%x: f64, %a: array<f64,1,C>, %i: i64) -> (f64, i64) {
      %zero = const 0.0 : f64
      %c = lt %x, %zero : i1
      %y = if %c -> f64 {
        %nx = neg %x : f64
        yield %nx
      } else {
        yield %x
      }
      %p, %q = if %c -> (f64, i64) {
        yield %y, %i
      } else {
        %j = const 3 : i64
        yield %zero, %j
      }
      if %c {
        store %x, %a[%i]
        yield
      } else {
        yield
      }
      return %p, %q
    }
""")

CALLS = ir("""
    func @square(%x: f64) -> f64 {
      %y = mul %x, %x : f64
      return %y
    }

    func @noop(%a: array<f64,1,C>) -> () {
      return
    }

    func @pair(%x: f64) -> (f64, f64) {
      return %x, %x
    }

    func @main(%x: f64, %a: array<f64,1,C>) -> (f64, f64) {
      %s = call @square(%x) : f64
      call @noop(%a)
      %u, %v = call @pair(%s) : f64, f64
      %w = add %u, %v : f64
      return %w, %s
    }
""")

STATIC_TYPES = ir("""
    func @statics(%p: tuple<f64,array<f64,1,C>>, %n: none, %q: tuple<tuple<i64,i1>,tuple<>>) -> (tuple<f64,array<f64,1,C>>, none, tuple<tuple<i64,i1>,tuple<>>) {
      return %p, %n, %q
    }

    func @takes_none(%n: none) -> none {
      return %n
    }
""")

LOCATIONS = ir("""
    func @located(%x: array<f64,1,C>) -> f64 {  # model.py:10:1
      %n = dim %x, 0 : i64  # model.py:11:9
      %z = const 0.0 : f64  # model.py:12:5
      %c0 = const 0 : i64
      %c1 = const 1 : i64
      %s = for %i = %c0 to %n step %c1 iter_args(%acc = %z) -> f64 {  # model.py:13:5
        %v = load %x[%i] : f64  # model.py:14:13
        %t = fma %v, %v, %acc : f64  # model.py:14:9
        yield %t  # model.py:13:5
      }
      %c = gt %s, %z : i1
      %r = if %c -> f64 {  # model.py:15:5
        yield %s
      } else {
        yield %z
      }
      %w = while (%a = %r) -> f64 {  # model.py:16:5
        %big = gt %a, %z : i1  # model.py:16:11
        condition %big, %a
      } do (%a2) {
        yield %a2
      }
      return %w  # model.py:17:5
    }
""")

TAPES = ir("""
func @tapes(%x: f64, %n: i64) -> (f64, i64) {
  %t = tape_new : tape<f64>
  %u = tape_new : tape<i64>
  tape_reserve %t, %n
  tape_push %t, %x
  tape_push %u, %n
  tape_rewind %t
  tape_rewind %u
  %y = tape_pop %t : f64
  %m = tape_pop %u : i64
  tape_rewind %t
  %one = const 1 : i64
  %s = tape_drop %t, %one : i64
  %z = tape_read %t, %s : f64
  tape_free %t
  tape_free %u
  return %z, %m
}
""")

VIEWS = ir("""
func @views(%m: array<f64,2,C>, %t: array<f32,3,strided>, %n: i64, %k: i64) -> f64 {
  %mt = transpose %m (1, 0) : array<f64,2,strided>  # views.py:2:9
  %tt = transpose %t (2, 0, 1) : array<f32,3,strided>
  %same = transpose %m (0, 1) : array<f64,2,C>
  %flat = reshape %m (%n) : array<f64,1,C>  # views.py:3:11
  %cube = reshape %flat (%k, %n, %k) : array<f64,3,C>
  %el = reshape %m () : array<f64,0,C>
  %back = transpose %cube (2, 1, 0) : array<f64,3,strided>
  check %n, %k {kind = "equal", message = "cannot reshape array of size {0} into shape ({1},)"}  # views.py:3:11
  check %n, %k {kind = "broadcast", message = "operands could not be broadcast together with shapes ({0},) ({1},)"}
  %x = load %el[] : f64
  return %x
}
""")

LINALG = ir("""
func @linalg(%a: array<f64,2,C>, %b: array<f64,2,strided>, %c: array<f64,2,C>, %s: array<f32,2,C>) -> () {
  gemm %a, %b, %c {alpha = 1.0, beta = 0.0, trans_a = false, trans_b = false}  # linalg.py:2:9
  gemm %b, %a, %c {alpha = -0.5, beta = 1.0, trans_a = true, trans_b = true}
  gemm %s, %s, %s {alpha = 2.0, beta = 0.25, trans_a = false, trans_b = true}
  return
}
""")

ALL_TEXTS = {
    "arith": SCALAR_ARITH, "int_arith": INT_ARITH, "logic": LOGIC, "consts": CONSTS,
    "casts": CASTS, "memory": MEMORY, "loops": LOOPS, "whiles": WHILES, "ifs": IFS,
    "calls": CALLS, "static_types": STATIC_TYPES, "locations": LOCATIONS, "tapes": TAPES,
    "views": VIEWS, "linalg": LINALG,
}

UNARY_FLOAT = ["sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "exp",
               "expm1", "log", "log1p", "log2", "log10", "sqrt", "floor", "ceil", "neg", "abs"]


@pytest.mark.parametrize("name", sorted(ALL_TEXTS))
def test_roundtrip(name):
    roundtrip(ALL_TEXTS[name])


@pytest.mark.parametrize("op", UNARY_FLOAT)
@pytest.mark.parametrize("t", ["f64", "f32"])
def test_unary_roundtrip(op, t):
    roundtrip(f"func @u(%x: {t}) -> {t} {{\n  %r = {op} %x : {t}\n  return %r\n}}\n")


def test_every_op_in_the_table_is_covered():
    used = set()
    for text in [*ALL_TEXTS.values()]:
        for func in irad.parse_ir(text).funcs.values():
            used.update(op.name for op in func.walk())
    used.update(UNARY_FLOAT)
    assert set(OPS) - used == set(), "ops without a round-trip test"


def test_location_attached_to_ops_and_funcs():
    f = irad.parse_ir(LOCATIONS)["located"]
    assert (f.loc.file, f.loc.line, f.loc.col) == ("model.py", 10, 0)
    locs = {op.name: op.loc for op in f.walk() if op.loc}
    assert str(locs["load"]) == "model.py:14:13"
    assert locs["load"].col == 12
    assert locs["const"].line == 12


def test_comments_and_filecheck_lines_are_skipped():
    text = "// CHECK: func\nfunc @f(%x: f64) -> f64 {  # just a note\n  # a comment line\n  return %x\n}\n"
    assert str(irad.parse_ir(text)) == "func @f(%x: f64) -> f64 {\n  return %x\n}\n"


def test_const_values_are_typed():
    f = irad.parse_ir(CONSTS)["consts"]
    values = {op.results[0].hint: op.attrs["value"] for op in f.walk() if op.name == "const"}
    assert math.copysign(1.0, values["b"]) == -1.0
    assert math.isnan(values["c"]) and values["d"] == math.inf and values["e"] == -math.inf
    assert values["m"] == -7 and isinstance(values["m"], int)
    assert values["r"] is True and values["s"] is False


# ---- programmatic construction ------------------------------------------------

def build_sumsq() -> Func:
    """sum of squares of x, with a duplicated hint and unhinted values."""
    arr = ArrayType(F64, 1, "C")
    f = Func("sumsq", [arr, F64], [F64, I64], ["x", "x"])
    x, x1 = f.args
    b = irad.Builder(f.body.block)
    n = b.emit("dim", x, axis=0)
    c0, c1 = b.const(0, I64), b.const(1, I64)
    z = b.const(0.0, F64)
    body = Block([I64, F64], ["i", "acc"])
    s = b.emit("for", c0, n, c1, z, regions=[Region([body])], hints=["s"])
    bb = irad.Builder(body)
    i, acc = body.args
    v = bb.load(x, i)
    t = bb.emit("fma", v, v, acc, hints=["x"])
    bb.emit("yield", t)
    total = b.add(s, x1)
    b.emit("return", total, n)
    return f


def test_builder_roundtrip():
    f = build_sumsq()
    irad.verify(f)
    text = str(Module([f]))
    assert text == ir("""
        func @sumsq(%x: array<f64,1,C>, %x.1: f64) -> (f64, i64) {
          %0 = dim %x, 0 : i64
          %1 = const 0 : i64
          %2 = const 1 : i64
          %3 = const 0.0 : f64
          %s = for %i = %1 to %0 step %2 iter_args(%acc = %3) -> f64 {
            %4 = load %x[%i] : f64
            %x.2 = fma %4, %4, %acc : f64
            yield %x.2
          }
          %5 = add %s, %x.1 : f64
          return %5, %0
        }
    """)
    roundtrip(text)


def test_numbered_names_skip_hinted_names():
    f = Func("f", [F64], [F64], ["1"])
    b = irad.Builder(f.body.block)
    a = b.add(f.args[0], f.args[0])
    c = b.mul(a, a, hints=["0"])
    d = b.sub(c, a)
    b.emit("return", d)
    text = str(Module([f]))
    assert text == ir("""
        func @f(%1: f64) -> f64 {
          %2 = add %1, %1 : f64
          %0 = mul %2, %2 : f64
          %3 = sub %0, %2 : f64
          return %3
        }
    """)
    roundtrip(text)


def test_uniquing_skips_names_claimed_by_later_hints():
    f = Func("f", [F64], [F64], ["x"])
    b = irad.Builder(f.body.block)
    a = b.add(f.args[0], f.args[0], hints=["x"])
    c = b.mul(a, a, hints=["x.1"])
    b.emit("return", c)
    text = str(Module([f]))
    assert "%x.2 = add %x, %x" in text and "%x.1 = mul %x.2, %x.2" in text
    roundtrip(text)


def test_hints_with_odd_characters_are_sanitized():
    f = Func("f", [F64], [F64], ["x y"])
    b = irad.Builder(f.body.block)
    b.emit("return", b.neg(f.args[0], hints=["a[0]"]))
    text = str(Module([f]))
    assert "%x_y: f64" in text and "%a_0_ = neg %x_y" in text
    roundtrip(text)


def test_clone_prints_identically():
    f = build_sumsq()
    assert str(f.clone()) == str(f)


# ---- property tests -------------------------------------------------------------

def _const_text(lit: str, t: str) -> str:
    return f"func @c() -> {t} {{\n  %c = const {lit} : {t}\n  return %c\n}}\n"


def _same_float(a: float, b: float) -> bool:
    return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_const_f64_roundtrip(x):
    text = _const_text(format_literal(x, F64), "f64")
    (value,) = irad.interpret(roundtrip(text)["c"], [])
    assert isinstance(value, np.float64) and _same_float(float(value), x)


@settings(max_examples=100, deadline=None)
@given(st.floats(width=32))
def test_const_f32_roundtrip(x):
    text = _const_text(format_literal(x, F32), "f32")
    (value,) = irad.interpret(roundtrip(text)["c"], [])
    assert isinstance(value, np.float32) and _same_float(float(value), x)


@settings(max_examples=100, deadline=None)
@given(st.integers(-2**63, 2**63 - 1))
def test_const_i64_roundtrip(n):
    (value,) = irad.interpret(roundtrip(_const_text(str(n), "i64"))["c"], [])
    assert isinstance(value, np.int64) and int(value) == n


@settings(max_examples=50, deadline=None)
@given(st.integers(-2**31, 2**31 - 1))
def test_const_i32_roundtrip(n):
    (value,) = irad.interpret(roundtrip(_const_text(str(n), "i32"))["c"], [])
    assert isinstance(value, np.int32) and int(value) == n


@pytest.mark.parametrize("flag", [True, False])
def test_const_i1_roundtrip(flag):
    (value,) = irad.interpret(roundtrip(_const_text(format_literal(flag, I1), "i1"))["c"], [])
    assert isinstance(value, np.bool_) and bool(value) is flag


_scalars = st.sampled_from([F64, F32, I64, I32, I1])
_arrays = st.builds(ArrayType, _scalars, st.integers(0, 4), st.sampled_from(["C", "strided"]))
_types = st.recursive(_scalars | _arrays | st.just(NONE),
                      lambda inner: st.lists(inner, max_size=3).map(lambda ts: TupleType(tuple(ts))),
                      max_leaves=8)


@settings(max_examples=200, deadline=None)
@given(_types)
def test_type_text_roundtrip(t):
    assert parse_type(str(t)) == t
    text = f"func @f(%a: {t}) -> {t} {{\n  return %a\n}}\n"
    roundtrip(text)


# ---- parse errors ------------------------------------------------------------------

def test_view_ops_type_rules():
    """transpose needs a permutation; reshape views only C-layout arrays; check takes i64 extents."""
    head = "func @f(%m: array<f64,2,C>, %s: array<f64,2,strided>, %n: i64, %x: f64) -> () {\n  "
    for body, message in (("%t = transpose %m (0, 0) : array<f64,2,strided>", "perm"),
                          ("%t = transpose %m (1, 0) : array<f64,2,C>", "array<f64,2,strided>"),
                          ("%r = reshape %s (%n) : array<f64,1,C>", "C-layout"),
                          ("%r = reshape %m (%x) : array<f64,1,C>", "i64"),
                          ('check %n, %x {kind = "equal", message = ""}', "i64"),
                          ('check %n, %n {kind = "less", message = ""}', "kind")):
        with pytest.raises(irad.VerificationError, match=message):
            irad.verify(irad.parse_ir(head + body + "\n  return\n}\n"))


@pytest.mark.parametrize("text, message", [
    ("func @f(%m: array<f64,2,C>) -> () {\n  %t = transpose %m (1, x) : array<f64,2,strided>\n  return\n}\n",
     "line 2: expected an axis number, found 'x'"),
    ("func @f(%m: array<f64,2,C>) -> () {\n  %t = transpose %m (-1, 0) : array<f64,2,strided>\n  return\n}\n",
     "line 2: expected an axis number, found '-1'"),
    ("func @f(%m: array<f64,2,C>) -> () {\n  %r = reshape %m [%m] : array<f64,1,C>\n  return\n}\n",
     "line 2: expected '('"),
])
def test_view_parse_errors(text, message):
    with pytest.raises(irad.ParseError) as e:
        irad.parse_ir(text)
    assert message in str(e.value)


@pytest.mark.parametrize("text, message", [
    ("func @f() -> f64 {\n  return %x\n}\n", "line 2: use of undefined value %x"),
    ("func @f(%x: f64) -> f64 {\n  %x = neg %x : f64\n  return %x\n}\n", "line 2: redefinition of %x"),
    ("func @f(%x: f64, %x: f64) -> f64 {\n  return %x\n}\n", "line 1: redefinition of %x"),
    ("func @f(%x: f64) -> f64 {\n  %y = frob %x : f64\n  return %y\n}\n", "line 2: unknown op 'frob'"),
    ("func @f() -> i64 {\n  %c = const 1.5 : i64\n  return %c\n}\n", "line 2: '1.5' is not a literal of type i64"),
    ("func @f() -> i1 {\n  %c = const 1 : i1\n  return %c\n}\n", "line 2: '1' is not a literal of type i1"),
    ("func @f(%x: i64) -> f64 {\n  %c = cast %x : f32 to f64\n  return %c\n}\n",
     "line 2: cast operand has type i64, not f32"),
    ("func @f(%x: array<f64,1,C) -> f64 {\n}\n", "line 1: unterminated type"),
    ("func @f(%x: array<f64,1,X>) -> f64 {\n}\n", "array layout must be C or strided"),
    ("func @f(%x: f65) -> f64 {\n}\n", "line 1: unknown type: 'f65'"),
    ("func @f(%x: f64) -> f64 {\n  %a, %b = neg %x : f64\n  return %a\n}\n",
     "line 2: op 'neg' defines 1 results, 2 named"),
    ("func @f(%x: f64) -> f64 {\n  return %x\n", "expected '}', found 'end of input'"),
    ("func @f() -> () {\n  return\n}\n\nfunc @f() -> () {\n  return\n}\n", "line 5: function @f defined twice"),
    ("func @f(%x: f64) -> f64 {\n  %y = neg %x : f64 $\n}\n", "line 2: unexpected text '$"),
])
def test_parse_errors(text, message):
    with pytest.raises(irad.ParseError) as e:
        irad.parse_ir(text)
    assert message in str(e.value)


# ---- symbols, attributes, unusual locations ---------------------------------------------

QUOTED = ir("""
    func @"<lambda>"(%x: f64) -> f64 {  # <stdin>:1:1
      return %x  # my file.py:2:5
    }

    func @main(%x: f64) -> f64 {
      %y = call @"<lambda>"(%x) : f64
      return %y
    }
""")


def test_quoted_symbols_and_locations_with_spaces():
    module = roundtrip(QUOTED)
    assert set(module.funcs) == {"<lambda>", "main"}
    assert module["<lambda>"].loc.file == "<stdin>"
    assert module["<lambda>"].body.block.ops[0].loc.file == "my file.py"
    assert irad.interpret(module, [2.0], entry="main") == [2.0]


def test_builder_func_names_are_quoted_when_needed():
    f = Func('we"ird name', [F64], [F64], ["x"])
    irad.Builder(f.body.block).emit("return", f.args[0])
    text = str(Module([f]))
    assert text.startswith('func @"we\\"ird name"(%x: f64)')
    assert set(roundtrip(text).funcs) == {'we"ird name'}


def test_generic_attributes_roundtrip():
    f = Func("f", [F64], [F64], ["x"])
    b = irad.Builder(f.body.block)
    y = b.emit("neg", f.args[0], hints=["y"])
    y.op.attrs.update(fast=True, n=-3, eps=1e-08, big=2.0, tag='a "b"', ty=ArrayType(F32, 2, "strided"))
    b.emit("return", y)
    text = str(Module([f]))
    assert ('%y = neg %x {big = 2.0, eps = 1e-08, fast = true, n = -3, tag = "a \\"b\\"", '
            'ty = array<f32,2,strided>} : f64') in text
    op = roundtrip(text)["f"].body.block.ops[0]
    assert op.attrs == y.op.attrs


def test_stray_location_comments_are_ignored():
    text = ("func @f(%c: i1) -> () {\n  if %c {\n    yield\n  } else {  # k.py:3:3\n    yield\n"
            "  }  # k.py:4:3\n  return\n}  # k.py:5:1\n")
    module = irad.parse_ir(text)
    assert "# k.py" not in str(module)
    irad.verify(module)


_ALL_TEXT_LIST = list(ALL_TEXTS.values())


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_ALL_TEXT_LIST), st.data())
def test_mangled_text_fails_cleanly(text, data):
    """Any edit of valid IR either parses or raises ParseError; a parsed result
    prints canonically (printing it again is a fixed point) and the verifier
    answers with VerificationError or nothing, never another exception."""
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start, min(len(text), start + 12)))
    insert = data.draw(st.sampled_from(["", "%", ",", "(", ")", "{", "}", ":", "x", "0", "\n", "-> f64",
                                        "%x", "i64", "array<f64,1,C>", "yield", "@f"]))
    mangled = text[:start] + insert + text[end:]
    try:
        module = irad.parse_ir(mangled)
    except irad.ParseError:
        return
    printed = str(module)
    assert str(irad.parse_ir(printed)) == printed
    try:
        irad.verify(module)
    except irad.VerificationError:
        pass
