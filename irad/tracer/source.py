"""Find the AST of a Python function or lambda, with true file positions.

Invariant: AST nodes returned here carry line and column numbers of the
file the function was defined in, so every IR location and every error
points at the user's real source. Whole files are parsed once and cached;
lambdas are found by the position of their code object's instructions, so
several lambdas on one line are told apart.
"""
from __future__ import annotations

import ast
import functools
import inspect
import linecache
import textwrap
from dataclasses import dataclass

from ..errors import Location, UnsupportedError


@dataclass(frozen=True)
class Source:
    node: ast.FunctionDef | ast.Lambda
    file: str
    text: str          # the function's own source, for cache keys

    def loc(self, node) -> Location:
        return Location(self.file, getattr(node, "lineno", self.node.lineno),
                        getattr(node, "col_offset", 0))


@functools.lru_cache(maxsize=256)
def _parse_file(file: str, mtime_key: int) -> ast.Module | None:
    text = "".join(linecache.getlines(file))
    if not text:
        return None
    try:
        return ast.parse(text, file)
    except SyntaxError:
        return None


def _file_tree(file: str):
    linecache.checkcache(file)
    return _parse_file(file, len(linecache.getlines(file)))


def _first_line(node) -> int:
    decorators = getattr(node, "decorator_list", None)
    return decorators[0].lineno if decorators else node.lineno


def _lambda_at(tree: ast.AST, code) -> ast.Lambda | None:
    line = code.co_firstlineno
    candidates = [n for n in ast.walk(tree) if isinstance(n, ast.Lambda) and n.lineno == line]
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    positions = [p for p in code.co_positions() if p[0] is not None and p[2]]
    if not positions:
        return candidates[0]
    pl, _, pc, _ = positions[0]

    def contains(n):
        b = n.body
        return (b.lineno, b.col_offset) <= (pl, pc) <= (b.end_lineno, b.end_col_offset)
    inside = [n for n in candidates if contains(n)]
    return min(inside, key=lambda n: (n.end_lineno - n.lineno, n.end_col_offset - n.col_offset)) \
        if inside else candidates[0]


def _function_at(tree: ast.AST, code) -> ast.FunctionDef | None:
    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == code.co_name \
                and _first_line(n) == code.co_firstlineno:
            return n
    return None


def _from_inspect(fn) -> tuple[ast.AST, str] | None:
    try:
        lines, start = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        return None
    text = textwrap.dedent("".join(lines))
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    ast.increment_lineno(tree, start - 1)
    return tree, text


def get_source(fn) -> Source:
    """The AST of `fn` (a def or a lambda), or UnsupportedError when it has none."""
    code = getattr(fn, "__code__", None)
    if code is None:
        raise UnsupportedError(f"cannot compile {fn!r}: it is not a Python function",
                               hint="pass a plain Python function or lambda")
    file = code.co_filename
    tree = _file_tree(file)
    node = None
    if tree is not None:
        node = _lambda_at(tree, code) if code.co_name == "<lambda>" else _function_at(tree, code)
    if node is None and (found := _from_inspect(fn)) is not None:
        sub, _ = found
        node = _lambda_at(sub, code) if code.co_name == "<lambda>" else _function_at(sub, code)
    if node is None:
        raise UnsupportedError(
            f"cannot find the source of {getattr(fn, '__qualname__', fn)!r} ({file})",
            hint="define the function in a .py file (source typed at an interactive prompt or "
                 "built with exec() is not available to irad)")
    text = ast.unparse(node)
    return Source(node, file, text)
