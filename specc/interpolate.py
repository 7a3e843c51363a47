"""Stage 1b, interpolate: resolve `${name}` and `${expression}` from the spec's `vars`.

A string that is exactly one `${...}` takes the value's own type (`units: ${hidden}`
is an integer); `${...}` inside longer text is replaced by its text. `$${` writes a
literal `${`. Expressions allow numbers, strings, other vars, + - * / // % ** and
parentheses; nothing else is evaluated.

`templates:` is left alone here: a template's body may use its own params, which
only exist once it is instantiated. The expand stage resolves each body with a
`Resolver` whose names are the params, falling back to the spec's vars.
"""

from __future__ import annotations

import ast
import difflib
import json
import math
import operator
import re
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Iterator

from .errors import SpecError
from .limits import DEFAULT_LIMITS, Limits
from .read import Document

_PLACEHOLDER = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}


def interpolate(doc: Document, limits: Limits = DEFAULT_LIMITS, text: str | None = None) -> Document:
    """Return the document with every `${...}` outside `vars` replaced. `text`: the document's data as
    JSON, if at hand (none of it holding `${` says there is nothing to replace).

    Raises:
        SpecError: an undefined name (with a suggestion), a cycle between vars, a bad expression, or
            vars or an expression nested deeper than `limits.max_depth`.
    """
    data = doc.data
    if not isinstance(data, dict):
        return doc
    raw_vars = data.get("vars") or {}
    if not isinstance(raw_vars, dict):
        return doc  # the schema reports it
    resolver = Resolver(doc, {name: (value, ("vars", name)) for name, value in raw_vars.items()},
                        max_depth=limits.max_depth)
    if ("${" in text if text is not None else True) and _has_placeholder(
            {k: v for k, v in data.items() if k not in _LATER}):
        out = {k: (v if k in _LATER else resolver.walk(v, (k,))) for k, v in data.items()}
    else:
        out = dict(data)
    if "vars" in data:
        out["vars"] = {name: resolver.var(name, ("vars", name)) for name in raw_vars}
    return replace(doc, data=out)


_LATER = ("vars", "templates")  # vars resolve on demand; template bodies when instantiated


def _has_placeholder(data: Any) -> bool:
    """Whether any text in `data` holds `${`: a big generated spec usually holds none, and json's C
    encoder answers several times faster than a walk in Python."""
    try:
        return "${" in json.dumps(data, ensure_ascii=False)
    except (TypeError, ValueError):  # not plain data: walk it
        return True


def escape(value: Any) -> Any:
    """`value` with every literal `${` written `$${`, so that it interpolates back to itself."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, list):
        return [escape(v) for v in value]
    if isinstance(value, dict):
        return {k: escape(v) for k, v in value.items()}
    return value


class Resolver:
    """The names `${...}` may use at one place, resolved on demand.

    Args:
        doc: the document, for located errors.
        raw: name -> (unresolved value, its spec path); these may use each other.
        done: names whose values are already resolved (used as they are).
        parent: where names not defined here are looked up (a template's params
            fall back to the spec's vars).
        what: what these names are called in messages.
        max_depth: how deep vars may use vars, and expressions nest (each level is a recursion here).
    """

    def __init__(self, doc: Document, raw: dict[str, tuple[Any, tuple]], done: dict[str, Any] | None = None,
                 parent: "Resolver | None" = None, what: str = "var", max_depth: int = DEFAULT_LIMITS.max_depth):
        self.doc, self.raw, self.parent, self.what = doc, raw, parent, what
        self.max_depth = max_depth
        # Levels being resolved now, shared with the parent: a var using a var, or an operation
        # inside another, is one more level of recursion here, whichever resolver holds it.
        self.nesting: list[int] = parent.nesting if parent is not None else [0]
        self.done: dict[str, Any] = dict(done or {})
        self.stack: list[str] = []

    def known(self) -> list[str]:
        own = list(dict.fromkeys([*self.done, *self.raw]))
        return own + [n for n in (self.parent.known() if self.parent else []) if n not in own]

    def var(self, name: str, used_at: tuple) -> Any:
        if name in self.done:
            return self.done[name]
        if name not in self.raw:
            if self.parent is not None and name in self.parent.known():
                return self.parent.var(name, used_at)
            raise self.undefined(name, used_at)
        value, where = self.raw[name]
        if name in self.stack:
            cycle = " -> ".join(self.stack[self.stack.index(name):] + [name])
            raise self.doc.error(f"{self.what}s refer to each other in a cycle: {cycle}", where)
        with self.deeper(1, lambda: self.doc.error(
                f"{self.what}s use {self.what}s (and expressions) more than {self.max_depth} levels deep, at "
                f"'{name}'; the limit is specc.limits.Limits.max_depth", where)):
            self.stack.append(name)
            value = self.walk(value, where)
            self.stack.pop()
        self.done[name] = value
        return value

    def undefined(self, name: str, used_at: tuple) -> SpecError:
        known = self.known()
        hint = difflib.get_close_matches(name, known, n=1)
        listed = ", ".join(sorted(known)) or "none"
        if self.parent is None:
            fix = f"did you mean '{hint[0]}'?" if hint else f"defined vars: {listed}"
            return self.doc.error(f"undefined var '{name}'; {fix}", used_at)
        fix = f"did you mean '{hint[0]}'?" if hint else f"defined here: {listed}"
        return self.doc.error(f"undefined var or {self.what} '{name}'; {fix}", used_at)

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
        except (RecursionError, MemoryError):  # Python's own parser gives up on very deep nesting
            raise self.too_deep(source, path) from None
        with self.deeper(_depth(tree.body), lambda: self.too_deep(source, path)):  # node() recurses per level
            return self.node(tree.body, source, path)

    @contextmanager
    def deeper(self, levels: int, error) -> Iterator[None]:
        """Resolve `levels` more levels down, or raise `error()` past `max_depth`."""
        self.nesting[0] += levels
        try:
            if self.nesting[0] > self.max_depth:
                raise error()
            yield
        finally:
            self.nesting[0] -= levels

    def too_deep(self, source: str, path: tuple) -> SpecError:
        shown = source if len(source) <= 40 else source[:37] + "..."
        return self.doc.error(f"'${{{shown}}}' nests more than {self.max_depth} levels deep, counting the vars it "
                              "uses (specc.limits.Limits.max_depth); write it with fewer levels", path)

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


def _depth(tree: ast.AST) -> int:
    """How deep an expression's tree is, found without recursion."""
    deepest, todo = 0, [(tree, 1)]
    while todo:
        node, depth = todo.pop()
        deepest = max(deepest, depth)
        todo += [(child, depth + 1) for child in ast.iter_child_nodes(node)]
    return deepest


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
