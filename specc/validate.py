"""Stage 2, validate: check the document against schemas/specc-v1.schema.json.

Every schema error is turned into a SpecError at the line and column of the
offending node, with a message in the user's terms (unknown keys get a
did-you-mean). The best-matching error comes first, one per spec path.
"""

from __future__ import annotations

import difflib
import json
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable

import jsonschema
from jsonschema.exceptions import ValidationError, best_match, relevance

from .errors import SpecError, SpecErrors
from .load import Document

SCHEMA_FILE = "specc-v1.schema.json"


@lru_cache(maxsize=1)
def schema() -> dict:
    """The JSON Schema of spec format 1."""
    return json.loads(resources.files("specc.schemas").joinpath(SCHEMA_FILE).read_text("utf-8"))


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema())
    return cls(schema())


def validate(doc: Document) -> None:
    """Raise SpecErrors (all of them, best first) if the document does not match the schema."""
    errors = [e for e in _validator().iter_errors(doc.data) if not _echo(e)]
    if not errors:
        return
    # A layer with an unknown type has no known keys: its "unknown key" errors are consequences.
    bad_types = {tuple(e.absolute_path)[:-1] for e in errors
                 if e.validator == "enum" and tuple(e.absolute_path)[-1:] == ("type",)}
    errors = [e for e in errors if not (e.validator == "unevaluatedProperties" and tuple(e.absolute_path) in bad_types)]
    first = best_match(errors, key=_rank)
    ordered = [first] + sorted((e for e in errors if e is not first), key=lambda e: (_rank_class(e), _position(doc, e)))
    located: list[SpecError] = []
    seen: set = set()
    for error in ordered:
        error = _deepest(error)
        spec_error = _to_spec_error(doc, error)
        key = (spec_error.where.path, spec_error.message)
        if spec_error.where.path in seen or key in seen:
            continue
        seen.update({spec_error.where.path, key})
        located.append(spec_error)
    raise SpecErrors(located)


def _rank_class(error: ValidationError) -> int:
    """Causes before consequences: a wrong `type` or a misspelt key explains a missing one."""
    if error.validator == "enum" and tuple(error.absolute_path)[-1:] == ("type",):
        return 0
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        return 1
    if error.validator == "required":
        return 3
    return 2


def _rank(error: ValidationError):
    # best_match picks the error with the *highest* key; relevance breaks ties within a class.
    return (-_rank_class(error), relevance(error))


def _echo(error: ValidationError) -> bool:
    """An unevaluatedProperties error that only echoes another error.

    When a layer's type-specific branch fails (say a child layer is invalid), JSON
    Schema drops that branch's annotations, so its valid keys also show up as
    "unevaluated". Those keys are known; the real error is reported on its own.
    """
    if error.validator != "unevaluatedProperties" or not isinstance(error.instance, dict):
        return False
    return not (set(error.instance) - _known_keys(error.schema, error.instance))


def _position(doc: Document, error: ValidationError) -> tuple[int, int]:
    where = doc.where(tuple(error.absolute_path))
    return where.line, where.col


def _deepest(error: ValidationError) -> ValidationError:
    """For anyOf/oneOf, the branch error that explains the most (jsonschema's own ranking)."""
    while error.context:
        error = min(error.context, key=relevance)
        if error.validator in ("anyOf", "oneOf") and not error.context:
            break
    return error


def _to_spec_error(doc: Document, error: ValidationError) -> SpecError:
    path = tuple(error.absolute_path)
    kind = error.validator
    value = error.instance
    if kind in ("additionalProperties", "unevaluatedProperties"):
        extra = sorted(set(value) - _known_keys(error.schema, value)) if isinstance(value, dict) else []
        name = extra[0] if extra else str(error.message)
        known = sorted(_known_keys(error.schema, value))
        hint = difflib.get_close_matches(name, known, n=1)
        what = _what(path, value)
        fix = f"did you mean '{hint[0]}'?" if hint else f"allowed keys: {', '.join(known)}"
        return doc.error(f"unknown key '{name}' in {what}; {fix}", path + (name,), at_key=True)
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return doc.error(f"{_what(path, value)} needs the key '{missing}'", path)
    if kind == "enum":
        options = [str(o) for o in error.validator_value]
        hint = difflib.get_close_matches(str(value), options, n=1)
        fix = f"did you mean '{hint[0]}'?" if hint else f"choose one of: {', '.join(options)}"
        return doc.error(f"{value!r} is not allowed here; {fix}", path, at_key=bool(path))
    if kind == "const" and path == ("specc",):
        return doc.error("`specc:` must be 1, the version of the spec format this specc reads", path)
    if kind == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return doc.error(f"expected {_article(expected)}, got {_describe(value)}", path)
    if kind == "pattern":
        return doc.error(_pattern_message(path, value), path)
    if kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        return doc.error(f"{value!r} is out of range: {error.message.replace(repr(value) + ' ', '')}", path)
    if kind in ("minItems", "minProperties") and not value:
        return doc.error(f"'{path[-1] if path else 'spec'}' is empty; it needs at least {error.validator_value}", path)
    if kind in ("minItems", "maxItems"):
        bound = "at least" if kind == "minItems" else "at most"
        return doc.error(f"'{path[-1]}' has {len(value)} entries; it takes {bound} {error.validator_value}", path)
    if kind == "minProperties":
        return doc.error(f"'{path[-1]}' needs at least {error.validator_value} entries", path)
    if kind == "propertyNames":
        return doc.error(error.message, path)
    return doc.error(error.message, path)


def _known_keys(subschema: dict, instance: Any) -> set[str]:
    """The keys a mapping may have under `subschema`, following $ref and the layer-type if/then."""
    keys: set[str] = set()
    stack = [subschema]
    while stack:
        s = stack.pop()
        if not isinstance(s, dict):
            continue
        if "$ref" in s:
            stack.append(_resolve(s["$ref"]))
        keys.update(s.get("properties", {}))
        stack.extend(s.get("allOf", []))
        cond = s.get("if")
        if cond is not None and isinstance(instance, dict):
            const = cond.get("properties", {}).get("type", {}).get("const")
            if const is not None and instance.get("type") == const:
                stack.append(s.get("then", {}))
    return keys


def _resolve(pointer: str) -> dict:
    node: Any = schema()
    for part in pointer.lstrip("#/").split("/"):
        node = node[part]
    return node


def _what(path: tuple, value: Any) -> str:
    if len(path) >= 2 and path[-2] == "layers" and isinstance(value, dict):
        kind = value.get("type")
        return f"{_a(kind)} {kind} layer" if isinstance(kind, str) else "a layer"
    if len(path) >= 2 and path[-2] == "inputs":
        return f"input '{path[-1]}'"
    if not path:
        return "the spec"
    return f"'{path[-1]}'"


def _a(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _article(kind: str) -> str:
    names = {"integer": "an integer", "object": "a mapping", "array": "a list", "string": "a string",
             "number": "a number", "boolean": "true or false", "null": "null"}
    return names.get(kind, kind)


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return f"{type(value).__name__.replace('str', 'string').replace('int', 'integer')} {value!r}"


def _pattern_message(path: Iterable, value: Any) -> str:
    last = list(path)[-1] if list(path) else ""
    if last in ("scope", "name_scope"):
        return (f"{value!r} is not a valid TensorFlow scope name: use one segment of letters, digits, "
                "'_', '.', '-' (no '/', ':' or spaces); nest scopes with blocks")
    if last in ("id",) or (isinstance(last, str) and last not in ("input", "share", "output", "name")):
        return (f"{value!r} is not a valid name: use letters, digits, '_' and '-', "
                "starting with a letter, digit or '_'")
    if last == "name":
        return f"{value!r} is not a valid model name: use letters, digits, '_', '.', '-'"
    return (f"{value!r} is not a valid reference: write an input name, a layer id, "
            "or a dotted path such as encoder.fc1")
