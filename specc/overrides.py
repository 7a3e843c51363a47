"""Stage 1b, overrides: `--set PATH=VALUE` applied to a loaded spec, before interpolation.

A path names one node of the spec as written (before templates and repeats are
expanded), in the spelling of docs/experiments.md#overrides:

    vars.hidden                  a key of a mapping
    layers.encoder.share         in a list of layers, a layer by its id
    layers.encoder.fc.units      inside a layer (or a template), a segment that is not
                                 one of its keys names one of its layers: the same as
                                 layers.encoder.layers.fc.units
    layers[2].units              a list entry by index (negative from the end)
    seed, train.steps            any top-level key, and keys the schema allows but the spec
                                 does not set yet

A value is YAML (`128`, `false`, `[null, 8]`, `{type: zeros}`). The new value
keeps the location of the node it replaces, so a mistake in it is reported at
that line, with a note saying which override set it. Nothing here imports
TensorFlow.
"""

from __future__ import annotations

import copy
import datetime
import difflib
import json
import re
from dataclasses import replace
from functools import lru_cache
from typing import Any

import yaml

from .errors import OverrideSyntaxError, SpecError, SpecPath, UnknownPath, format_path
from .read import Document, dump, parse_value as yaml_value
from .record import record

_NAME = r"[A-Za-z0-9_][A-Za-z0-9_-]*"
_SEGMENT = re.compile(rf"({_NAME})((?:\[-?[0-9]+\])*)")
_INDEX = re.compile(r"\[(-?[0-9]+)\]")


@record
class Override:
    """One `PATH=VALUE`.

    Attributes:
        target: the path as written (`layers.encoder.share`).
        keys: the path parsed: keys, layer ids and list indices, not yet resolved (`("layers", "encoder", "share")`).
        value: the value, parsed as YAML.
        origin: where it was given, for messages: `--set`, or `sweep` for a sweep's variant.
    """

    target: str
    keys: tuple[str | int, ...]
    value: Any
    origin: str = "--set"

    @property
    def text(self) -> str:
        """`target=value`, the value written back as compact YAML."""
        return f"{self.target}={dump_value(self.value)}"

    def to_json(self, resolved: SpecPath | None = None) -> dict:
        out = {"set": self.target, "value": self.value, "from": self.origin}
        return {**out, "path": format_path(resolved)} if resolved is not None else out


def parse_path(text: str) -> tuple[str | int, ...]:
    """`layers.encoder[0].units` -> ("layers", "encoder", 0, "units").

    Raises:
        OverrideSyntaxError: an empty or malformed path.
    """
    if not text:
        raise OverrideSyntaxError("the path is empty; write PATH=VALUE, e.g. vars.hidden=128")
    keys: list[str | int] = []
    for piece in text.split("."):
        m = _SEGMENT.fullmatch(piece)
        if not m:
            raise OverrideSyntaxError(
                f"'{text}' is not a path: write keys and layer ids separated by dots, with [N] for a list "
                "entry (vars.hidden, layers.encoder.share, layers[2].units)")
        keys.append(m.group(1))
        keys.extend(int(i) for i in _INDEX.findall(m.group(2)))
    return tuple(keys)


def parse_value(text: str) -> Any:
    """A value as YAML would read it (`128` an integer, `false` a bool, `[1, 2]` a list)."""
    try:
        value = yaml_value(text)
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise OverrideSyntaxError(f"the value {text!r} is not valid YAML ({problem}); quote text with spaces "
                                  "or brackets") from None
    return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()  # a date is just text to us, as in load.py
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def parse(text: str, origin: str = "--set") -> Override:
    """`PATH=VALUE` -> Override.

    Raises:
        OverrideSyntaxError: no `=`, a malformed path, or a value that is not YAML.
    """
    target, eq, value = text.partition("=")
    if not eq:
        raise OverrideSyntaxError(f"'{text}' has no '='; write PATH=VALUE, e.g. vars.hidden=128")
    target = target.strip()
    return Override(target, parse_path(target), parse_value(value), origin)


def dump_value(value: Any) -> str:
    """A value as compact, one-line YAML (`true`, `64`, `[null, 8]`)."""
    text = dump(value, default_flow_style=True, width=10_000).strip()
    return text[: -len("...")].strip() if text.endswith("...") else text


# -- finding the node a path names ---------------------------------------------------------

def locate(data: Any, keys: tuple[str | int, ...]) -> tuple[SpecPath, bool]:
    """The data path that `keys` names in `data`, and whether the node exists already.

    A path may end in keys the spec does not set yet, where the schema allows them
    (`seed`, `train.steps`, a layer's `activation`); free-form mappings (`vars`,
    `inputs`) only take the names they have.

    Raises:
        UnknownPath: the path names nothing, with a did-you-mean.
    """
    from .validate import schema

    node, path, sub = data, (), schema()
    for i, key in enumerate(keys):
        if isinstance(key, int):
            if not isinstance(node, list):
                raise UnknownPath(f"{_what(path, node)} is not a list, so [{key}] names nothing", path)
            if not -len(node) <= key < len(node):
                raise UnknownPath(f"{_what(path, node)} has {len(node)} entries, so [{key}] names nothing", path)
            index = key % len(node)
            node, path, sub = node[index], path + (index,), _item_schema(sub, node)
            continue
        if isinstance(node, list):
            ids = _ids(node)
            if not ids:
                raise UnknownPath(f"{_what(path, node)} is a list: name an entry by index, [0] to [{len(node) - 1}]", path)
            if key not in ids:
                raise UnknownPath(f"no layer '{key}' in {_what(path, node)}; {_hint(key, list(ids))}", path)
            index = ids[key]
            node, path, sub = node[index], path + (index,), _item_schema(sub, node)
            continue
        if not isinstance(node, dict):
            raise UnknownPath(f"{_what(path, node)} is {_short(node)}, not a mapping: there is no '{key}' inside it", path)
        if key in node:
            node, path, sub = node[key], path + (key,), _value_schema(sub, node, key)
            continue
        children = node.get("layers") if path else None
        ids = _ids(children) if isinstance(children, list) else {}
        if key in ids:  # a child layer by id: `layers.encoder.fc` is `layers.encoder.layers.fc`
            sub = _item_schema(_value_schema(sub, node, "layers"), children)
            node, path = children[ids[key]], path + ("layers", ids[key])
            continue
        allowed = _fixed_keys(sub, node)
        if key in allowed:
            _check_new(keys[i + 1:], allowed[key], path + (key,))
            return path + tuple(keys[i:]), False
        if not path and isinstance(data.get("vars"), dict) and key in data["vars"]:
            raise UnknownPath(f"the spec has no top-level key '{key}'; did you mean 'vars.{key}'?", path)
        close = difflib.get_close_matches(key, list(dict.fromkeys([*node, *allowed, *ids])), n=1)
        fix = f"did you mean '{close[0]}'?" if close else _hint(key, [*node, *ids])
        raise UnknownPath(f"{_what(path, node)} has no {_noun(path, node)} '{key}'; {fix}", path)
    return path, True


def _check_new(rest: tuple, sub: dict, path: SpecPath) -> None:
    """The keys after a new one must be new keys the schema allows too (mappings are made on the way)."""
    for key in rest:
        allowed = _fixed_keys(sub, {})
        if isinstance(key, int) or key not in allowed:
            raise UnknownPath(f"'{format_path(path)}' is not set in the spec, so '{key}' inside it names nothing; "
                          f"set '{format_path(path)}' whole", path[:-1])
        sub, path = allowed[key], path + (key,)


def _ids(layers: Any) -> dict[str, int]:
    if not isinstance(layers, list):
        return {}
    return {layer["id"]: i for i, layer in enumerate(layers) if isinstance(layer, dict) and isinstance(layer.get("id"), str)}


def _hint(key: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(key, [str(c) for c in candidates], n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    return f"it has: {', '.join(str(c) for c in candidates)}" if candidates else "it is empty"


def _what(path: SpecPath, node: Any) -> str:
    if not path:
        return "the spec"
    if isinstance(node, dict) and isinstance(node.get("id"), str):
        return f"layer '{node['id']}' ({format_path(path)})"
    return f"'{format_path(path)}'"


def _noun(path: SpecPath, node: Any) -> str:
    if path == ("vars",):
        return "var"
    if path == ("inputs",):
        return "input"
    if path == ("templates",):
        return "template"
    if isinstance(node, dict) and "layers" in node and path:
        return "key or layer"
    return "key"


def _short(value: Any) -> str:
    text = dump_value(value)
    return text if len(text) <= 30 else text[:27] + "..."


# -- the schema, followed alongside the data (which keys a mapping may gain) ---------------

def _parts(sub: Any, instance: Any) -> list[dict]:
    """`sub` and every subschema that applies with it ($ref, allOf, the if/then/else branch that holds)."""
    from .validate import schema

    out: list[dict] = []
    stack = [sub]
    while stack:
        s = stack.pop(0)
        if not isinstance(s, dict):
            continue
        out.append(s)
        if "$ref" in s:
            node: Any = schema()
            for part in s["$ref"].lstrip("#/").split("/"):
                node = node[part]
            stack.append(node)
        stack.extend(s.get("allOf", []))
        if "if" in s and isinstance(instance, dict):
            stack.append(s.get("then", {}) if _holds(s["if"], instance) else s.get("else", {}))
    return out


def _holds(condition: dict, instance: dict) -> bool:
    return _condition(json.dumps(condition, sort_keys=True)).is_valid(instance)


@lru_cache(maxsize=None)
def _condition(text: str):
    import jsonschema

    from .validate import schema

    return jsonschema.validators.validator_for(schema())(json.loads(text))


def _fixed_keys(sub: Any, instance: Any) -> dict[str, dict]:
    props: dict[str, dict] = {}
    for s in _parts(sub, instance):
        for key, value in s.get("properties", {}).items():
            props.setdefault(key, value)
    return props


def _value_schema(sub: Any, instance: dict, key: str) -> dict:
    props = _fixed_keys(sub, instance)
    if key in props:
        return props[key]
    for s in _parts(sub, instance):
        if isinstance(s.get("additionalProperties"), dict):
            return s["additionalProperties"]
    return {}


def _item_schema(sub: Any, instance: list) -> dict:
    for s in _parts(sub, instance):
        if isinstance(s.get("items"), dict):
            return s["items"]
    return {}


# -- applying ------------------------------------------------------------------------------

def error(doc: Document, override: Override, unknown: UnknownPath) -> SpecError:
    """The SpecError for an override whose path names nothing: at the deepest node it reached."""
    return doc.error(f"{override.origin} {override.target}: {unknown.message}", unknown.at, at_key=bool(unknown.at))


def apply(doc: Document, overrides: tuple[Override, ...] | list[Override]) -> tuple[Document, tuple[SpecPath, ...]]:
    """Set each override's value in `doc`, in order (a later one sees the earlier ones).

    Returns:
        The new Document and, for each override, the data path it set.

    Raises:
        SpecError: a path that names nothing, located at the deepest node it reached, with a did-you-mean.
    """
    if not overrides:
        return doc, ()
    data = copy.deepcopy(doc.data)
    marks, key_marks, origins = dict(doc.marks), dict(doc.key_marks), dict(doc.origins)
    current = replace(doc, data=data, marks=marks, key_marks=key_marks, origins=origins)
    done: list[SpecPath] = []
    for override in overrides:
        try:
            path, _ = locate(data, override.keys)
        except UnknownPath as unknown:
            raise error(current, override, unknown) from None
        mark = current.mark(path)  # the replaced node's own, or its nearest ancestor's for a new key
        for table in (marks, key_marks):
            for stale in [p for p in table if p[: len(path)] == path and len(p) > len(path)]:
                del table[stale]
        _set(data, path, copy.deepcopy(override.value))
        for sub in _paths(override.value, path):
            marks[sub] = mark
        origins[path] = (f"{override.origin} {override.text}",)
        done.append(path)
    return current, tuple(done)


def _set(data: Any, path: SpecPath, value: Any) -> None:
    node = data
    for key in path[:-1]:
        if isinstance(node, dict) and key not in node:
            node[key] = {}  # a new key inside a new mapping, as the schema allows (`train.steps`)
        node = node[key]
    node[path[-1]] = value


def _paths(value: Any, at: SpecPath):
    yield at
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, at + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, at + (i,))
