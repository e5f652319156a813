"""Every rejection names file:line:col, shows the line with a caret, says
what to do instead, and carries no traceback into irad's internals."""
import re
import traceback

import numpy as np
import pytest

import error_programs as ep
import irad


class Obj:
    weight = 2.0


def lines_of(fn_name):
    import inspect
    return inspect.getsource(getattr(ep, fn_name)).splitlines()


def error_for(fn, *args):
    with pytest.raises(irad.IradError) as info:
        irad.jit(fn, target="interpreter")(*args)
    return info.value


CASES = [
    # (function, args, error class, source text under the caret, wording)
    (ep.e_try, (1.0,), irad.UnsupportedError, "try:", "try/except not supported"),
    (ep.e_with, (1.0,), irad.UnsupportedError, 'with open("f") as fh:', "`with` blocks not supported"),
    (ep.e_list, (1.0,), irad.UnsupportedError, "[x, x]", "list values not supported"),
    (ep.e_set, (1.0,), irad.UnsupportedError, "{x, 1.0}", "set values not supported"),
    (ep.e_comprehension, (1.0,), irad.UnsupportedError, "[v for v in range(3)]", "list comprehensions not supported"),
    (ep.e_generator, (1.0,), irad.UnsupportedError, "yield x", "generators (yield) not supported"),
    (ep.e_recursion, (3,), irad.UnsupportedError, "e_recursion(n - 1)", "recursive call to 'e_recursion'"),
    (ep.e_undefined, (1.0,), irad.UnsupportedError, "undefined_thing", "name 'undefined_thing' is not defined"),
    (ep.e_unknown_call, (1.0,), irad.UnsupportedError, "np.random.rand()", "call to 'np.random.rand' is not supported"),
    (ep.e_string_arith, (1.0,), irad.TypingError, 'x + "s"', "unsupported operand types for +"),
    (ep.e_attribute, (1.0, Obj()), irad.UnsupportedError, "obj.weight", "attribute access on a Obj"),
    (ep.e_global, (1.0,), irad.UnsupportedError, "global SOMETHING", "`global` declarations not supported"),
    (ep.e_nonlocal, (1.0,), irad.UnsupportedError, "nonlocal v", "`nonlocal` declarations not supported"),
    (ep.e_type_change, (1.0, True), irad.TypingError, "y = \"text\"", "'y' is 'text' and a number on different paths"),
    (ep.e_float_index, (np.ones(3),), irad.TypingError, "x[1.5]", "array indices must be integers"),
    (ep.e_loop_only_name, (1.0,), irad.TypingError, "t", "'t' is assigned inside the loop"),
]


@pytest.mark.parametrize("fn,args,cls,snippet,wording", CASES, ids=[c[0].__name__ for c in CASES])
def test_error_names_file_line_caret_and_hint(fn, args, cls, snippet, wording):
    err = error_for(fn, *args)
    assert isinstance(err, cls), f"{type(err).__name__}: {err}"
    message = str(err)
    first, source_line, caret, *rest = message.splitlines()
    m = re.match(r"(.+):(\d+):(\d+): (.*)", first)
    assert m, first
    file, line, col, text = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)
    assert file.endswith("error_programs.py")
    assert wording in text
    with open(file) as fh:
        real_line = fh.read().splitlines()[line - 1]
    assert source_line.strip() == real_line.strip()
    assert caret.strip() == "^"
    assert source_line[caret.index("^"):].startswith(snippet), (source_line, caret)
    assert rest and rest[-1].startswith("hint: ")


def test_error_traceback_has_no_irad_internals():
    with pytest.raises(irad.IradError) as info:
        irad.jit(ep.e_try, target="interpreter")(1.0)
    files = [f.filename for f in traceback.extract_tb(info.value.__traceback__)]
    assert not any("/irad/tracer/" in f for f in files), files
    assert info.value.__suppress_context__
