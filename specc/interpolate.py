"""Stage 1b, interpolate: resolve `${name}` and `${expression}` from the spec's `vars`.

A string that is exactly one `${...}` takes the value's own type (`units: ${hidden}`
is an integer); `${...}` inside longer text is replaced by its text. `$${` writes a
literal `${`. Expressions allow numbers, strings, other vars, + - * / // % ** and
parentheses; nothing else is evaluated.
"""

from __future__ import annotations

import ast
import difflib
import math
import operator
import re
from dataclasses import replace
from typing import Any

from .errors import SpecError
from .load import Document

_PLACEHOLDER = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}


def interpolate(doc: Document) -> Document:
    """Return the document with every `${...}` outside `vars` replaced.

    Raises:
        SpecError: an undefined name (with a suggestion), a cycle between vars, or a bad expression.
    """
    data = doc.data
    if not isinstance(data, dict):
        return doc
    raw_vars = data.get("vars") or {}
    if not isinstance(raw_vars, dict):
        return doc  # the schema reports it
    resolver = _Resolver(doc, raw_vars)
    out = {k: (v if k == "vars" else resolver.walk(v, (k,))) for k, v in data.items()}
    if "vars" in data:
        out["vars"] = {name: resolver.var(name, ("vars", name)) for name in raw_vars}
    return replace(doc, data=out)


class _Resolver:
    def __init__(self, doc: Document, raw_vars: dict):
        self.doc, self.raw = doc, raw_vars
        self.done: dict[str, Any] = {}
        self.stack: list[str] = []

    def var(self, name: str, used_at: tuple) -> Any:
        if name in self.done:
            return self.done[name]
        if name not in self.raw:
            hint = difflib.get_close_matches(name, list(self.raw), n=1)
            known = ", ".join(sorted(self.raw)) or "none"
            fix = f"did you mean '{hint[0]}'?" if hint else f"defined vars: {known}"
            raise self.doc.error(f"undefined var '{name}'; {fix}", used_at)
        if name in self.stack:
            cycle = " -> ".join(self.stack[self.stack.index(name):] + [name])
            raise self.doc.error(f"vars refer to each other in a cycle: {cycle}", ("vars", name))
        self.stack.append(name)
        value = self.walk(self.raw[name], ("vars", name))
        self.stack.pop()
        self.done[name] = value
        return value

    def walk(self, value: Any, path: tuple) -> Any:
        if isinstance(value, str):
            return self.string(value, path)
        if isinstance(value, list):
            return [self.walk(v, path + (i,)) for i, v in enumerate(value)]
        if isinstance(value, dict):
            return {k: self.walk(v, path + (k,)) for k, v in value.items()}
        return value

    def string(self, text: str, path: tuple) -> Any:
        if "${" not in text:
            return text
        whole = _PLACEHOLDER.fullmatch(text)
        if whole and whole.group(1) is not None:
            return self.evaluate(whole.group(1), path)

        def substitute(m: re.Match) -> str:
            if m.group(1) is None:
                return "${"
            return str(self.evaluate(m.group(1), path))

        return _PLACEHOLDER.sub(substitute, text)

    def evaluate(self, source: str, path: tuple) -> Any:
        try:
            tree = ast.parse(source.strip(), mode="eval")
        except SyntaxError:
            raise self.doc.error(f"'${{{source}}}' is not a valid expression", path) from None
        return self.node(tree.body, source, path)

    def node(self, node: ast.AST, source: str, path: tuple) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)):
            return node.value
        if isinstance(node, ast.Name):
            return self.var(node.id, path)
        try:
            if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
                left, right = self.node(node.left, source, path), self.node(node.right, source, path)
                _check_size(node.op, left, right, lambda why: self.doc.error(f"'${{{source}}}': {why}", path))
                value = _BINARY[type(node.op)](left, right)
                # Keep integers integral: ${hidden / 2} is meant as a width.
                if isinstance(node.op, ast.Div) and isinstance(value, float) and value.is_integer():
                    if isinstance(left, int) and isinstance(right, int):
                        value = int(value)
                return value
            if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
                return _UNARY[type(node.op)](self.node(node.operand, source, path))
        except (TypeError, ZeroDivisionError, OverflowError) as e:
            raise self.doc.error(f"cannot evaluate '${{{source}}}': {e}", path) from None
        raise self.doc.error(
            f"'${{{source}}}' uses something expressions do not allow; "
            "use vars, numbers, + - * / // % ** and parentheses",
            path,
        )


_MAX_BITS = 256          # numbers in a spec are widths and counts: anything past this is a mistake
_MAX_TEXT = 100_000      # characters a string expression may produce


def _check_size(op: ast.operator, left: Any, right: Any, fail) -> None:
    """Refuse an operation whose result would be absurdly large, before computing it."""
    if isinstance(op, ast.Pow) and isinstance(left, (int, float)) and isinstance(right, (int, float)):
        if abs(right) > 64:
            raise fail("exponents above 64 are refused")
        if abs(left) > 1 and right > 0 and right * math.log2(abs(left)) > _MAX_BITS:
            raise fail(f"the result would exceed 2**{_MAX_BITS}")
    if isinstance(op, ast.Mult):
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, str) and isinstance(n, int) and len(seq) * n > _MAX_TEXT:
                raise fail(f"the text would be longer than {_MAX_TEXT} characters")
    for value in (left, right):
        if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > _MAX_BITS:
            raise fail(f"numbers past 2**{_MAX_BITS} are refused")
