"""The verifier rejects broken IR with a message naming the op, the operand
index and value, expected versus actual, and the source location. One test
per rule; each compares the exact message."""
from __future__ import annotations

import textwrap

import pytest

import irad
from irad.ir import Block, Func, Module, Op, Region
from irad.types import F64, I1, I64


def ir(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def error_of(ir_or_text) -> str:
    """The VerificationError message for IR text (or a Func/Module)."""
    target = irad.parse_ir(ir_or_text) if isinstance(ir_or_text, str) else ir_or_text
    with pytest.raises(irad.VerificationError) as e:
        irad.verify(target)
    return str(e.value)


def test_operand_type_mismatch():
    text = ir("""
        func @f(%x: f64, %n: i64) -> f64 {
          %y = add %x, %n : f64  # k.py:3:5
          return %y
        }
    """)
    assert error_of(text) == "k.py:3:5: in @f: op 'add' operand 1 (%n): expected f64, got i64"


def test_operand_type_mismatch_without_location_falls_back_to_the_func():
    text = ir("""
        func @f(%x: f64, %n: i64) -> f64 {  # k.py:1:1
          %y = mul %x, %n : f64
          return %y
        }
    """)
    assert error_of(text) == "k.py:1:1: in @f: op 'mul' operand 1 (%n): expected f64, got i64"


def test_operand_kind_mismatch():
    text = ir("""
        func @f(%x: f64) -> f64 {
          %y = floordiv %x, %x : f64
          %b = not %x : f64  # k.py:4:9
          return %y
        }
    """)
    assert error_of(text) == "k.py:4:9: in @f: op 'not' operand 0 (%x): expected bool scalar, got f64"


def test_wrong_result_type():
    text = ir("""
        func @f(%x: f64) -> f64 {
          %y = add %x, %x : i64  # k.py:3:5
          return %x
        }
    """)
    assert error_of(text) == "k.py:3:5: in @f: op 'add' result 0 (%y): expected f64, got i64"


def test_wrong_result_count():
    text = ir("""
        func @f(%x: f64) -> f64 {
          %a, %b = neg %x : f64, f64  # k.py:2:3
          return %x
        }
    """)
    assert error_of(text) == "k.py:2:3: in @f: op 'neg': expected 1 result (f64), got 2 (f64, f64)"


def test_store_on_a_scalar():
    text = ir("""
        func @f(%x: f64) -> f64 {
          store %x, %x[]  # k.py:2:3
          return %x
        }
    """)
    assert error_of(text) == "k.py:2:3: in @f: op 'store' operand 1 (%x): expected array, got f64"


def test_compare_result_must_be_i1():
    text = ir("""
        func @f(%x: f64) -> f64 {
          %c = lt %x, %x : f64  # k.py:2:3
          return %x
        }
    """)
    assert error_of(text) == "k.py:2:3: in @f: op 'lt' result 0 (%c): expected i1, got f64"


def test_use_before_definition():
    module = irad.parse_ir(ir("""
        func @f(%x: f64) -> f64 {
          %y = neg %x : f64  # k.py:2:3
          %z = add %y, %y : f64  # k.py:3:3
          return %z
        }
    """))
    ops = module["f"].body.block.ops
    ops[0], ops[1] = ops[1], ops[0]
    assert error_of(module) == ("k.py:3:3: in @f: op 'add' operand 0 (%y) does not dominate "
                                "this use: it is used before its definition")


def test_value_of_a_nested_region_used_outside():
    text = ir("""
        func @f(%x: f64, %n: i64) -> f64 {
          %c0 = const 0 : i64
          %c1 = const 1 : i64
          for %i = %c0 to %n step %c1 {
            %y = neg %x : f64
            yield
          }
          %z = add %x, %y : f64  # k.py:8:3
          return %z
        }
    """)
    assert error_of(text) == ("k.py:8:3: in @f: op 'add' operand 1 (%y) does not dominate this use: "
                              "it is defined inside a region that does not enclose this use")


def test_value_of_another_function():
    g = irad.parse_ir("func @g(%x: f64) -> f64 {\n  return %x\n}\n")["g"]
    f = Func("f", [F64], [F64], ["x"])
    f.body.block.append(Op("return", [g.args[0]], []))
    assert error_of(f) == ("in @f: op 'return' operand 0 (%<undefined x>) does not dominate this use: "
                           "it is not defined in @f")


def test_value_defined_twice():
    f = Func("f", [F64], [F64], ["x"])
    b = irad.Builder(f.body.block)
    y = b.neg(f.args[0], hints=["y"])
    f.body.block.append(y.op)
    b.emit("return", y)
    assert error_of(f) == "in @f: value %y is defined twice"


def test_for_yield_types_must_match_results():
    text = ir("""
        func @f(%x: f64, %n: i64) -> f64 {
          %c0 = const 0 : i64
          %c1 = const 1 : i64
          %s = for %i = %c0 to %n step %c1 iter_args(%a = %x) -> f64 {  # k.py:4:3
            yield %i
          }
          return %s
        }
    """)
    assert error_of(text) == "k.py:4:3: in @f: op 'yield' (body of 'for') operand 0 (%i): expected f64, got i64"


def test_for_yield_count_must_match_results():
    text = ir("""
        func @f(%x: f64, %n: i64) -> f64 {
          %c0 = const 0 : i64
          %c1 = const 1 : i64
          %s = for %i = %c0 to %n step %c1 iter_args(%a = %x) -> f64 {
            yield %a, %a  # k.py:5:5
          }
          return %s
        }
    """)
    assert error_of(text) == ("k.py:5:5: in @f: op 'yield' (body of 'for'): expected 1 value (f64), "
                              "got 2 (f64, f64)")


def test_iter_args_must_match_results():
    text = ir("""
        func @f(%x: f64, %n: i64) -> f64 {
          %c0 = const 0 : i64
          %c1 = const 1 : i64
          %s = for %i = %c0 to %n step %c1 iter_args(%a = %n) -> f64 {  # k.py:4:3
            yield %a
          }
          return %s
        }
    """)
    assert error_of(text) == ("k.py:4:3: in @f: op 'for' operand 3 (%n) (iter_arg 0): "
                              "expected f64 (the type of result 0), got i64")


def test_iter_args_count_must_match_results():
    text = ir("""
        func @f(%x: f64, %n: i64) -> f64 {
          %c0 = const 0 : i64
          %c1 = const 1 : i64
          %s = for %i = %c0 to %n step %c1 -> f64 {  # k.py:4:3
            yield %x
          }
          return %s
        }
    """)
    assert error_of(text) == "k.py:4:3: in @f: op 'for': 0 iter_args but 1 result (f64)"


def test_for_bounds_must_be_i64():
    text = ir("""
        func @f(%x: f64, %n: i32) -> () {
          %c0 = const 0 : i64
          %c1 = const 1 : i64
          for %i = %c0 to %n step %c1 {  # k.py:4:3
            yield
          }
          return
        }
    """)
    assert error_of(text) == "k.py:4:3: in @f: op 'for' operand 1 (%n): expected i64, got i32"


def test_for_body_arguments_must_match():
    f = Func("f", [F64], [F64], ["x"])
    b = irad.Builder(f.body.block)
    c0 = b.const(0, I64)
    body = Block([I64, I64], ["i", "a"])
    s = b.emit("for", c0, c0, c0, f.args[0], regions=[Region([body])], hints=["s"])
    irad.Builder(body).emit("yield", f.args[0])
    b.emit("return", s)
    assert error_of(f) == "in @f: op 'for' body argument 1 (%a): expected f64, got i64"


def test_if_branch_yielding_wrong_types():
    text = ir("""
        func @f(%x: f64, %c: i1, %n: i64) -> f64 {
          %r = if %c -> f64 {  # k.py:2:3
            yield %x
          } else {
            yield %n  # k.py:5:7
          }
          return %r
        }
    """)
    assert error_of(text) == "k.py:5:7: in @f: op 'yield' (else region of 'if') operand 0 (%n): expected f64, got i64"


def test_if_branch_yielding_too_few_values():
    text = ir("""
        func @f(%x: f64, %c: i1) -> f64 {
          %r = if %c -> f64 {  # k.py:2:3
            yield
          } else {
            yield %x
          }
          return %r
        }
    """)
    assert error_of(text) == "k.py:2:3: in @f: op 'yield' (then region of 'if'): expected 1 value (f64), got 0 ()"


def test_if_condition_must_be_i1():
    text = ir("""
        func @f(%x: f64) -> () {
          if %x {  # k.py:2:3
            yield
          } else {
            yield
          }
          return
        }
    """)
    assert error_of(text) == "k.py:2:3: in @f: op 'if' operand 0 (%x): expected i1, got f64"


def test_while_condition_not_i1():
    text = ir("""
        func @f(%x: f64) -> f64 {
          %r = while (%a = %x) -> f64 {  # k.py:2:3
            condition %a, %a  # k.py:3:5
          } do (%b) {
            yield %b
          }
          return %r
        }
    """)
    assert error_of(text) == ("k.py:3:5: in @f: op 'condition' (before region of 'while') operand 0 (%a): "
                              "expected i1, got f64")


def test_while_after_region_yield_mismatch():
    text = ir("""
        func @f(%x: f64, %n: i64) -> f64 {
          %r = while (%a = %x) -> f64 {  # k.py:2:3
            %c = gt %a, %x : i1
            condition %c, %a
          } do (%b) {
            yield %n
          }
          return %r
        }
    """)
    assert error_of(text) == ("k.py:2:3: in @f: op 'yield' (after region of 'while') operand 0 (%n): "
                              "expected f64, got i64")


def test_while_before_region_must_end_with_condition():
    text = ir("""
        func @f(%x: f64) -> f64 {
          %r = while (%a = %x) -> f64 {  # k.py:2:3
            yield %a
          } do (%b) {
            yield %b
          }
          return %r
        }
    """)
    assert error_of(text) == "k.py:2:3: in @f: op 'while' before region must end with 'condition', found 'yield'"


def test_missing_terminator_in_a_region():
    text = ir("""
        func @f(%x: f64, %n: i64) -> f64 {
          %c0 = const 0 : i64
          %c1 = const 1 : i64
          for %i = %c0 to %n step %c1 {  # k.py:4:3
            %y = neg %x : f64
          }
          return %x
        }
    """)
    assert error_of(text) == "k.py:4:3: in @f: op 'for' body must end with 'yield', found 'neg'"


def test_empty_region():
    text = ir("""
        func @f(%c: i1) -> () {
          if %c {  # k.py:2:3
          } else {
            yield
          }
          return
        }
    """)
    assert error_of(text) == "k.py:2:3: in @f: op 'if' then region must end with 'yield', found nothing"


def test_missing_return():
    text = ir("""
        func @f(%x: f64) -> f64 {  # k.py:1:1
          %y = neg %x : f64  # k.py:2:3
        }
    """)
    assert error_of(text) == "k.py:2:3: in @f: the function body must end with 'return', found 'neg'"


def test_wrong_terminator_in_function_body():
    text = ir("""
        func @f(%x: f64) -> f64 {  # k.py:1:1
          yield %x
        }
    """)
    assert error_of(text) == "k.py:1:1: in @f: the function body must end with 'return', found 'yield'"


def test_terminator_not_last():
    text = ir("""
        func @f(%x: f64) -> f64 {
          return %x  # k.py:2:3
          %y = neg %x : f64
        }
    """)
    assert error_of(text) == "k.py:2:3: in @f: op 'return' must be the last op of its block, but 'neg' follows it"


def test_return_in_a_loop_body():
    text = ir("""
        func @f(%x: f64, %n: i64) -> f64 {
          %c0 = const 0 : i64
          %c1 = const 1 : i64
          for %i = %c0 to %n step %c1 {  # k.py:4:3
            return %x
          }
          return %x
        }
    """)
    assert error_of(text) == "k.py:4:3: in @f: op 'for' body must end with 'yield', found 'return'"


def test_return_type_mismatch():
    text = ir("""
        func @f(%x: f64, %n: i64) -> f64 {
          return %n  # k.py:2:3
        }
    """)
    assert error_of(text) == "k.py:2:3: in @f: op 'return' operand 0 (%n): expected f64, got i64"


def test_return_count_mismatch():
    text = ir("""
        func @f(%x: f64, %n: i64) -> () {
          return %x, %n  # k.py:2:3
        }
    """)
    assert error_of(text) == "k.py:2:3: in @f: op 'return': expected 0 values (), got 2 (f64, i64)"


def test_load_on_a_scalar():
    text = ir("""
        func @f(%x: f64, %n: i64) -> f64 {
          %y = load %x[%n] : f64  # k.py:2:8
          return %y
        }
    """)
    assert error_of(text) == "k.py:2:8: in @f: op 'load' operand 0 (%x): expected array, got f64"


def test_load_with_wrong_number_of_indices():
    text = ir("""
        func @f(%a: array<f64,2,C>, %n: i64) -> f64 {
          %y = load %a[%n] : f64  # k.py:2:8
          return %y
        }
    """)
    assert error_of(text) == ("k.py:2:8: in @f: op 'load': expected 2 indices (one per dimension of "
                              "array<f64,2,C>), got 1")


def test_load_with_float_index():
    text = ir("""
        func @f(%a: array<f64,1,C>, %x: f64) -> f64 {
          %y = load %a[%x] : f64  # k.py:2:8
          return %y
        }
    """)
    assert error_of(text) == "k.py:2:8: in @f: op 'load' operand 1 (%x): expected i64, got f64"


def test_store_value_type_mismatch():
    text = ir("""
        func @f(%a: array<f64,1,C>, %n: i64) -> () {
          store %n, %a[%n]  # k.py:2:3
          return
        }
    """)
    assert error_of(text) == "k.py:2:3: in @f: op 'store' operand 0 (%n): expected f64, got i64"


def test_wrong_region_count():
    f = Func("f", [I64], [], ["n"])
    f.body.block.append(Op("for", [f.args[0]] * 3, [], loc=irad.Location("k.py", 2, 2)))
    f.body.block.append(Op("return", [], []))
    assert error_of(f) == "k.py:2:3: in @f: op 'for': expected 1 region, got 0"


def test_regions_on_an_op_without_regions():
    f = Func("f", [F64], [F64], ["x"])
    f.body.block.append(Op("neg", [f.args[0]], [F64], regions=[Region()], hints=["y"]))
    f.body.block.append(Op("return", [f.args[0]], []))
    assert error_of(f) == "in @f: op 'neg': expected 0 regions, got 1"


def test_unknown_op():
    f = Func("f", [F64], [F64], ["x"])
    f.body.block.append(Op("frobnicate", [f.args[0]], [F64], loc=irad.Location("k.py", 5, 0)))
    assert error_of(f) == "k.py:5:1: in @f: unknown op 'frobnicate'"


def test_const_of_wrong_value():
    f = Func("f", [], [I64])
    c = irad.Builder(f.body.block).const(2.5, I64)
    f.body.block.append(Op("return", [c], []))
    assert error_of(f) == "in @f: op 'const': value 2.5 is not a i64"


def test_const_out_of_range():
    text = "func @f() -> i32 {\n  %c = const 2147483648 : i32  # k.py:2:3\n  return %c\n}\n"
    assert error_of(text) == "k.py:2:3: in @f: op 'const': value 2147483648 is not a i32"


def test_dim_axis_out_of_range():
    text = "func @f(%a: array<f64,1,C>) -> i64 {\n  %n = dim %a, 1 : i64  # k.py:2:3\n  return %n\n}\n"
    assert error_of(text) == ("k.py:2:3: in @f: op 'dim' operand 0 (%a): expected an array with an axis 1, "
                              "got array<f64,1,C>")


def test_view_result_layout():
    text = ir("""
        func @f(%a: array<f64,2,C>, %i: i64) -> () {
          %c = view %a[:, %i] : array<f64,1,C>  # k.py:2:3
          return
        }
    """)
    assert error_of(text) == ("k.py:2:3: in @f: op 'view' result 0 (%c): expected array<f64,1,strided>, "
                              "got array<f64,1,C>")


def test_call_argument_type_mismatch():
    text = ir("""
        func @g(%x: f64) -> f64 {
          return %x
        }

        func @f(%x: f64, %n: i64) -> f64 {
          %y = call @g(%n) : f64  # k.py:6:8
          return %y
        }
    """)
    assert error_of(text) == "k.py:6:8: in @f: op 'call' operand 0 (%n): expected f64 (argument 0 of @g), got i64"


def test_call_result_mismatch():
    text = ir("""
        func @g(%x: f64) -> f64 {
          return %x
        }

        func @f(%x: f64) -> i64 {
          %y = call @g(%x) : i64  # k.py:6:8
          return %y
        }
    """)
    assert error_of(text) == ("k.py:6:8: in @f: op 'call' result types: expected (f64) (the results of @g), "
                              "got (i64)")


def test_call_argument_count_mismatch():
    text = ir("""
        func @g(%x: f64) -> f64 {
          return %x
        }

        func @f(%x: f64) -> f64 {
          %y = call @g(%x, %x) : f64  # k.py:6:8
          return %y
        }
    """)
    assert error_of(text) == "k.py:6:8: in @f: op 'call': @g takes 1 argument, got 2"


def test_call_to_unknown_function():
    text = "func @f(%x: f64) -> f64 {\n  %y = call @h(%x) : f64  # k.py:2:8\n  return %y\n}\n"
    assert error_of(text) == "k.py:2:8: in @f: op 'call': no function @h in the module"
    # without a module a lone function's calls are not resolved
    irad.verify(irad.parse_ir(text)["f"])


def test_error_is_an_irad_error_with_location():
    text = "func @f(%x: f64, %n: i64) -> f64 {\n  %y = add %x, %n : f64  # k.py:3:5\n  return %y\n}\n"
    with pytest.raises(irad.IradError) as e:
        irad.verify(irad.parse_ir(text))
    assert e.value.loc == irad.Location("k.py", 3, 4)


def test_verify_returns_its_argument():
    module = irad.parse_ir("func @f(%x: i1) -> i1 {\n  return %x\n}\n")
    assert irad.verify(module) is module
    assert irad.verify(module["f"]) is module["f"]


def test_valid_builder_ir_passes():
    f = Func("f", [F64], [I1], ["x"])
    b = irad.Builder(f.body.block)
    b.emit("return", b.lt(f.args[0], f.args[0]))
    irad.verify(Module([f]))
