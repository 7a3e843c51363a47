"""Stage 2, validate: check the document against the spec language (specc.language).

Each layer is checked against its own type's definition (dispatch on `type`), the rest
of the document against a shell whose layers are any mapping: one small check per layer
instead of an if/then chain over every type. jsonschema-rs answers "valid?" at C speed;
only a piece that fails is checked again with jsonschema, whose errors say where and why.

Every schema error is turned into a SpecError at the line and column of the offending
node, with a message in the user's terms (unknown keys get a did-you-mean). The
best-matching error comes first, one per spec path.

The spec is validated as written: template bodies still hold their `${param}`
placeholders there, so errors that only a placeholder causes wait. The expand stage
checks each piece it makes with `validate_part`: a template body once its params are
filled in, a `defaults` entry, a layer with the defaults it took.
"""

from __future__ import annotations

import difflib
import json
import math
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from .errors import SpecError, SpecErrors
from .language import shared_schema
from .layers import LAYER_TYPES
from .read import Document

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

Piece = tuple[str, Any, tuple]  # (definition, value, its path in the document)
DOCUMENT = "document"


def schema() -> dict:
    """The JSON Schema specc validates with (after `${...}` and `base:`, before expansion); shared, so
    read it and never change it."""
    return shared_schema("validated")


@lru_cache(maxsize=1)
def _shell() -> dict:
    """The schema with every layer any mapping: pieces are checked one layer at a time."""
    root = schema()
    defs = dict(root["$defs"])
    defs["layer"] = {"type": "object"}
    return {**root, "$defs": defs}


def _piece_schema(definition: str) -> dict:
    shell = _shell()
    if definition == DOCUMENT:
        root = {k: v for k, v in shell.items() if k != "$defs"}
    elif definition == "layer":  # a layer of no known type: the full dispatch says what is wrong
        root = {"$schema": shell["$schema"], **schema()["$defs"]["layer"]}
    else:
        root = {"$schema": shell["$schema"], "$ref": f"#/$defs/{definition}"}
    return {**root, "$defs": _reachable(root, shell["$defs"])}


def _reachable(root: dict, defs: dict) -> dict:
    """The definitions `root` refers to, directly or through others: a piece's validator compiles only those."""
    found: dict = {}
    todo = [root]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.split("/")[2]
                if name not in found:
                    found[name] = defs[name]
                    todo.append(defs[name])
            todo += [v for k, v in node.items() if k != "$defs"]
        elif isinstance(node, list):
            todo += node
    return found


@lru_cache(maxsize=None)
def _fast(definition: str):
    """A jsonschema-rs validator for one piece, or None where jsonschema-rs is not installed."""
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - an optional speed-up
        return None
    return jsonschema_rs.validator_for(_piece_schema(definition))


@lru_cache(maxsize=None)
def _slow(definition: str):
    return _strict()(_piece_schema(definition))


@lru_cache(maxsize=1)
def _strict():
    """Draft 2020-12, with YAML's types for numbers: an integer is written as one (YAML 1.2 reads
    `64.0` as a float, where JSON Schema, with one number type, counts it as an integer), and a
    number is finite (`.nan`, `.inf`: JSON has neither, so the schema cannot say so)."""
    import jsonschema

    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine_many({
        "integer": lambda _, v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda _, v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
    })
    return jsonschema.validators.extend(base, type_checker=checker)


# In json.dumps' text, what an integral or non-finite float looks like (`64.0` before `,` `]` `}`, `1e+16`,
# `NaN`, `Infinity`); a string that merely contains one of these only costs the walk below.
_MAYBE_ODD = (".0,", ".0]", ".0}", "e+", "NaN", "Infinity")


def json_text(data: Any) -> str:
    """Plain data as JSON, which C code writes faster than Python walks it: what interpolation (any `${`?)
    and validation (any odd float?) ask of a whole document, answered by one text."""
    return json.dumps(data, default=str)


def _odd_floats(value: Any, text: str | None = None) -> list[tuple[tuple, float]]:
    """(path, value) of every float in `value` that is integral or not finite. jsonschema-rs counts `64.0`
    as an integer (and `.nan` as valid where any value is), so pieces holding one get the strict check.
    Most specs hold none: their JSON `text` says so before any Python walk."""
    if text is None:
        text = json_text(value)
    if not any(mark in text for mark in _MAYBE_ODD):
        return []
    found, todo = [], [(value, ())]
    while todo:
        item, path = todo.pop()
        if type(item) is float:
            if item.is_integer() or not math.isfinite(item):
                found.append((path, item))
        elif isinstance(item, dict):
            todo += [(v, path + (k,)) for k, v in item.items()]
        elif isinstance(item, list):
            todo += [(v, path + (i,)) for i, v in enumerate(item)]
    return found


def validate(doc: Document, text: str | None = None) -> None:
    """Raise SpecErrors (all of them, best first) if the document does not match the schema, or holds a
    number that is not finite. `text`: its data as JSON (json_text), if at hand."""
    odd = _odd_floats(doc.data, text)
    _check(doc, _errors(_pieces(doc.data), odd), ())
    _check_finite(doc, odd, ())


def _check_finite(doc: Document, odd: list[tuple[tuple, float]], prefix: tuple) -> None:
    """No `.nan` or `.inf` anywhere, also where the schema takes any value (a constant's nested lists, an
    input's default): a number in a spec is a size, a rate or a value a graph computes with."""
    found = [doc.error(f"expected a finite number, got {_yaml_float(value)}; a number that is not finite (a rate, "
                       "a scale, a constant) makes every result NaN or infinite", prefix + path)
             for path, value in odd if not math.isfinite(value)]
    if found:
        raise SpecErrors(sorted(found, key=lambda e: (e.where.line, e.where.col)))


def validate_part(doc: Document, value: Any, path: tuple, definition: str, skip: tuple[str, ...] = ()) -> None:
    """Check one value found at `path` in `doc` against `#/$defs/<definition>`; raise located SpecErrors.

    The expand stage checks a template body this way once its params are filled in
    (`layers`), and a `defaults:` entry as a partial layer (`layer`, `skip=("required",)`).
    """
    if definition == "layers":
        pieces: Iterable[Piece] = _layer_pieces(value, ())
    elif definition == "layer":
        pieces = _layer_pieces([value], ())
        pieces = ((d, v, p[1:]) for d, v, p in pieces)  # drop the list index the walk added
    else:
        pieces = [(definition, value, ())]
    odd = _odd_floats(value)
    errors = (e for e in _errors(pieces, odd) if e.validator not in skip)
    _check(doc, errors, tuple(path))
    _check_finite(doc, odd, tuple(path))


def _pieces(data: Any) -> Iterator[Piece]:
    """The document shell, then every layer: top-level, inside blocks, inside templates."""
    yield DOCUMENT, data, ()
    if not isinstance(data, dict):
        return
    yield from _layer_pieces(data.get("layers"), ("layers",))
    templates = data.get("templates")
    for name, template in templates.items() if isinstance(templates, dict) else ():
        if isinstance(template, dict):
            yield from _layer_pieces(template.get("layers"), ("templates", name, "layers"))


def _layer_pieces(layers: Any, path: tuple) -> Iterator[Piece]:
    if not isinstance(layers, list):
        return
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict):
            continue  # the enclosing piece reports it
        kind = layer.get("type")
        if "use" in layer:
            definition = "layer_use"
        elif isinstance(kind, str) and kind in LAYER_TYPES:
            definition = f"layer_{kind}"
        else:
            definition = "layer"
        yield definition, layer, path + (i,)
        if "layers" in layer:
            yield from _layer_pieces(layer["layers"], path + (i, "layers"))


def _errors(pieces: Iterable[Piece], odd: list[tuple[tuple, float]] = ()) -> Iterator["ValidationError"]:
    """The errors of every piece that is not valid, their paths from the document's root; a piece that holds
    one of the `odd` floats (paths from the same root) gets the strict check whatever jsonschema-rs says."""
    for definition, value, path in pieces:
        fast = _fast(definition)
        if fast is not None and fast.is_valid(value) and not (odd and any(p[:len(path)] == path for p, _ in odd)):
            continue
        for error in _slow(definition).iter_errors(value):
            error.path.extendleft(reversed(path))
            yield error


def _check(doc: Document, found: Iterable["ValidationError"], prefix: tuple) -> None:
    errors = [e for e in found if not _placeholder(e)]
    if not errors:
        return
    from jsonschema.exceptions import best_match

    first = best_match(errors, key=_rank)
    ordered = [first] + sorted((e for e in errors if e is not first), key=lambda e: (_rank_class(e), _position(doc, e, prefix)))
    located: list[SpecError] = []
    seen: set = set()
    for error in ordered:
        error = _deepest(error)
        spec_error = _to_spec_error(doc, error, prefix)
        key = (spec_error.where.path, spec_error.message)
        # One report per place: a value that expansion copied to many layers is one mistake.
        place = (spec_error.where.line, spec_error.where.col, spec_error.message)
        if spec_error.where.path in seen or key in seen or place in seen:
            continue
        seen.update({spec_error.where.path, key, place})
        located.append(spec_error)
    raise SpecErrors(located)


def layer_keys(layer: dict) -> dict[str, dict]:
    """The keys a layer like `layer` may have, each with its subschema (following its type's branch)."""
    return _properties(_resolve("#/$defs/layer"), layer)


def reference_keys(layer: dict) -> dict[str, str]:
    """The keys of `layer` that hold references: key -> "one", "list" or "mapping".

    Read from the schema (every value it checks against `#/$defs/ref`), so layer
    types added later are covered without a list to keep in step.
    """
    out = {}
    for key, sub in layer_keys(layer).items():
        if _is_ref(sub):
            out[key] = "one"
        elif _is_ref(sub.get("items")):
            out[key] = "list"
        elif _is_ref(sub.get("additionalProperties")):
            out[key] = "mapping"
    return out


def _is_ref(sub: Any) -> bool:
    if not isinstance(sub, dict):
        return False
    return sub.get("$ref") == "#/$defs/ref" or any(_is_ref(s) for s in sub.get("anyOf", ()))


def _placeholder(error: "ValidationError") -> bool:
    """An error that a template param placeholder causes: checked again once the params are filled in."""
    path = tuple(error.absolute_path)
    if not path or path[0] != "templates":
        return False
    value = error.instance
    if isinstance(value, dict):
        value = value.get("type", value.get("use"))
    return isinstance(value, str) and "${" in value


def _rank_class(error: "ValidationError") -> int:
    """Causes before consequences: a wrong `type` or a misspelt key explains a missing one."""
    if error.validator == "enum" and tuple(error.absolute_path)[-1:] == ("type",):
        return 0
    if error.validator == "not" and isinstance(error.validator_value, dict) and "description" in error.validator_value:
        return 0  # the schema's own words for a key that must not be there
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        return 1
    if error.validator == "required":
        return 3
    return 2


def _rank(error: "ValidationError"):
    from jsonschema.exceptions import relevance

    # best_match picks the error with the *highest* key; relevance breaks ties within a class.
    return (-_rank_class(error), relevance(error))


def _position(doc: Document, error: "ValidationError", prefix: tuple = ()) -> tuple[int, int]:
    where = doc.where(prefix + tuple(error.absolute_path))
    return where.line, where.col


def _deepest(error: "ValidationError") -> "ValidationError":
    """For anyOf/oneOf, the branch error that explains the most (jsonschema's own ranking)."""
    from jsonschema.exceptions import relevance

    while error.context:
        error = min(error.context, key=relevance)
        if error.validator in ("anyOf", "oneOf") and not error.context:
            break
    return error


def _to_spec_error(doc: Document, error: "ValidationError", prefix: tuple = ()) -> SpecError:
    path = prefix + tuple(error.absolute_path)
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
        if "propertyNames" in error.schema_path:  # a key that is not allowed (a `defaults:` layer type)
            return doc.error(f"{value!r} is not allowed here; {fix}", path + (value,), at_key=True)
        return doc.error(f"{value!r} is not allowed here; {fix}", path, at_key=bool(path))
    if kind == "not" and isinstance(error.validator_value, dict) and "description" in error.validator_value:
        # The schema words these itself: {"not": {"required": [key], "description": why}}.
        banned = error.validator_value.get("required", [])
        where = path + (banned[0],) if banned else path
        return doc.error(error.validator_value["description"], where, at_key=bool(banned))
    if path and path[-1] == "repeat" and kind in ("minimum", "maximum"):
        if kind == "minimum":
            return doc.error(f"`repeat: {value}`: a repeat makes at least 1 copy", path)
        return doc.error(f"`repeat: {value}` is more than the limit of {error.validator_value} copies "
                         "(each copy is a layer that TensorFlow builds one by one)", path)
    if path and path[-1] == "name_scope" and value is True:
        return doc.error("`name_scope: true` says no name: write the name scope to wrap the layer in, or `false` "
                         "for none at all (its ops then go directly in the enclosing name scope)", path)
    if kind == "const" and path == ("specc",):
        return doc.error("`specc:` must be 1, the version of the spec format this specc reads", path)
    if kind == "type":
        expected = error.validator_value
        kinds = expected if isinstance(expected, list) else [expected]
        if type(value) is float and not math.isfinite(value) and "number" in kinds:
            return doc.error(f"expected a finite number, got {_yaml_float(value)}; a number that is not "
                             "finite (a rate, a scale, a constant) makes every result NaN or infinite", path)
        if type(value) is float and value.is_integer() and "integer" in kinds:
            return doc.error(f"expected an integer, got {value!r}; write it without the fraction ({int(value)}): "
                             "YAML reads a number with a point as a float, and TensorFlow's sizes are integers",
                             path)
        expected = " or ".join(kinds)
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
    """The keys a mapping may have under `subschema`, following $ref and the if/then branches."""
    return set(_properties(subschema, instance))


def _properties(subschema: dict, instance: Any) -> dict[str, dict]:
    """Key -> subschema for a mapping under `subschema` (the first definition of each key wins)."""
    props: dict[str, dict] = {}
    stack = [subschema]
    while stack:
        s = stack.pop(0)
        if not isinstance(s, dict):
            continue
        if "$ref" in s:
            stack.append(_resolve(s["$ref"]))
        for key, sub in s.get("properties", {}).items():
            props.setdefault(key, sub)
        stack.extend(s.get("allOf", []))
        cond = s.get("if")
        if cond is not None and isinstance(instance, dict):
            # The branch conditions are small and self-contained ({"required": ["use"]}, a type const).
            holds = _condition(json.dumps(cond, sort_keys=True)).is_valid(instance)
            stack.append(s.get("then", {}) if holds else s.get("else", {}))
    return props


@lru_cache(maxsize=None)
def _condition(text: str):
    import jsonschema

    return jsonschema.Draft202012Validator(json.loads(text))


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


def _yaml_float(value: float) -> str:
    return ".nan" if math.isnan(value) else ".inf" if value > 0 else "-.inf"


def _pattern_message(path: Iterable, value: Any) -> str:
    last = list(path)[-1] if list(path) else ""
    if last in ("scope", "name_scope"):
        return (f"{value!r} is not a valid TensorFlow scope name: use one segment of letters, digits, "
                "'_', '.', '-' (no '/', ':' or spaces); nest scopes with blocks")
    if last in ("device", "worker_device", "ps_device"):
        return (f"{value!r} is not a TensorFlow device: write fields such as /job:ps, /task:0, /device:CPU:0, "
                "each led by '/', e.g. /job:worker/task:1")
    if last in ("id",) or (isinstance(last, str) and last not in ("input", "share", "output", "name")):
        return (f"{value!r} is not a valid name: use letters, digits, '_' and '-', "
                "starting with a letter, digit or '_'")
    if last == "name":
        return f"{value!r} is not a valid model name: use letters, digits, '_', '.', '-'"
    return (f"{value!r} is not a valid reference: write an input name, a layer id, "
            "or a dotted path such as encoder.fc1")
