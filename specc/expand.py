"""Stage 2b, expand: templates, `repeat` and `defaults` -> a plain spec, every node still located.

Runs after interpolation and after the spec as written has been validated, and
before spec.py converts the result. The result uses only the core language (no
`templates`, `use`, `with`, `repeat` or `defaults`): it is what `specc resolve`
prints and what the planner reads. It is valid by construction, each piece
checked against the schema where it is written: a template body once its params
are filled in, a `defaults` entry as a partial layer, a layer together with the
defaults it took; the copies a repeat makes differ only in ids, scopes, `share`
and chained inputs, which are valid by construction (tests validate the result
whole).

Every node of the result carries the line and column of the source node it was
copied from (a template's layer, a repeated layer, a `defaults` value), so a
mistake in the 7th copy of a template is reported at the template's line, and
`Document.origins` records how each instance and copy was made, for the message.

For one list of layers, in order:
1. a layer with `repeat: N` becomes N copies (ids, scopes, chained inputs, sharing);
2. a template instance (`use:`) becomes a block whose layers are the template's,
   `${param}` filled in (the instance's params first, then the spec's vars) and
   checked against the schema once filled;
3. `defaults` fill the keys a layer does not set itself;
4. a block's layers are expanded the same way, under its own `defaults`.
At the end, references to a repeat's id are rewritten to its last copy.
"""

from __future__ import annotations

import difflib
import json
import re
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Iterator

from .errors import SpecError, SpecErrors
from .interpolate import Resolver
from .limits import DEFAULT_LIMITS
from .read import Document
from .validate import layer_keys, reference_keys, validate_part

INDEX = "{i}"  # in a repeated layer's `scope`: the copy's index, 0 to N-1

# Keys that say what a layer is, what it reads and where its variables live: each layer
# sets its own, so they are never taken from `defaults`.
STRUCTURAL = frozenset({"id", "type", "use", "with", "input", "inputs", "layers", "output", "share", "scope",
                        "repeat", "defaults"})
PER_VARIABLE = ("initializers", "variables")  # mappings that defaults fill entry by entry
_INIT_SUFFIX = "_initializer"  # `kernel_initializer: X` is `initializers: {kernel: X}` spelt the dense way
_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")


def needs_expansion(data: Any) -> bool:
    """Whether a (validated) spec uses templates, `repeat`, `defaults` or a `{i}` scope."""
    if not isinstance(data, dict):
        return False
    if "templates" in data or "defaults" in data:
        return True

    def walk(layers: Any) -> bool:
        for layer in layers if isinstance(layers, list) else ():
            if not isinstance(layer, dict):
                continue
            scope = layer.get("scope")
            if ("repeat" in layer or "use" in layer or "defaults" in layer
                    or (isinstance(scope, str) and INDEX in scope)):
                return True
            if "layers" in layer and walk(layer["layers"]):
                return True
        return False

    return walk(data.get("layers"))


def expand(doc: Document, max_layers: int = 100_000, max_depth: int = DEFAULT_LIMITS.max_depth) -> Document:
    """Instantiate templates, unroll repeats and apply defaults.

    Args:
        doc: an interpolated document that matches the schema.
        max_layers: refuse to expand beyond this many layers (blocks and their layers
            included), so nested repeats cannot exhaust the machine.
        max_depth: refuse blocks (template instances included) nested deeper than this, so that a
            chain of templates cannot nest past what planning and emission recurse through.

    Returns:
        `doc` itself if it uses none of these, else a new Document with the plain
        spec, marks for every node (those of the source it came from) and origins.

    Raises:
        SpecError: an unknown template or param (with a did-you-mean), a missing
            param, templates that use each other, a repeat whose copies would share
            a scope by accident, a bad `defaults` entry, a spec that expands beyond
            the documented limits, or a template body that is invalid once filled in.
    """
    if not needs_expansion(doc.data):
        return doc
    _check_size(doc, max_layers, max_depth)
    return _Expander(doc, max_layers, max_depth).run()


def _too_many(max_layers: int) -> str:
    return (f"the spec expands to more than {max_layers:,} layers (repeats multiply: a repeat inside a repeated "
            "block makes N x M copies); raise the limit with --max-layers if that is intended")


def _too_deep(max_depth: int) -> str:
    return (f"blocks and template instances nest more than {max_depth} levels deep here "
            "(specc.limits.Limits.max_depth); a template that uses another template is one level more")


def _check_size(doc: Document, max_layers: int, max_depth: int) -> None:
    """Refuse a spec that would expand beyond `max_layers` before expanding anything: nested repeats
    (10,000 copies of a block of 10,000) are counted in microseconds, not built for seconds."""
    templates = doc.data.get("templates") if isinstance(doc.data.get("templates"), dict) else {}

    def size(layers, path: tuple, stack: tuple, depth: int) -> int:
        total = 0
        for i, layer in enumerate(layers if isinstance(layers, list) else ()):
            if not isinstance(layer, dict):
                continue
            if depth > max_depth and ("layers" in layer or "use" in layer):
                raise doc.error(_too_deep(max_depth), path + (i,))
            body = 1 + size(layer.get("layers"), path + (i, "layers"), stack, depth + 1)
            use = layer.get("use")
            if isinstance(use, str) and use in templates and use not in stack and isinstance(templates[use], dict):
                body += size(templates[use].get("layers"), ("templates", use, "layers"), stack + (use,), depth + 1)
            copies = layer.get("repeat", 1)
            total += body * (copies if isinstance(copies, int) and copies > 0 else 1)
            if total > max_layers:  # at the repeat that multiplies past the limit, if one does
                raise doc.error(_too_many(max_layers), path + (i, "repeat") if "repeat" in layer else path + (i,))
        return total

    size(doc.data.get("layers"), ("layers",), (), 1)


@dataclass
class _Level:
    """The names one list of layers defines, for rewriting references to repeats."""

    ids: set[str]
    formal: set[str]  # the enclosing block's input names (the spec's inputs at the top)
    aliases: dict[str, str]  # a repeat's id -> its last copy's id
    layers: dict[str, dict]


class _Expander:
    def __init__(self, doc: Document, max_layers: int, max_depth: int):
        self.doc, self.max_layers, self.max_depth = doc, max_layers, max_depth
        data = doc.data
        self.templates: dict = data.get("templates") or {}
        self.vars = Resolver(doc, {}, done=data.get("vars") or {}, max_depth=max_depth)

        def kept(path: tuple) -> bool:  # top-level keys that are copied as they are
            return not (path[:1] in (("templates",), ("defaults",)) or (len(path) > 1 and path[0] == "layers"))

        self.marks = {p: m for p, m in doc.marks.items() if kept(p)}
        self.key_marks = {p: m for p, m in doc.key_marks.items() if kept(p)}
        self.origins: dict[tuple, list[str]] = {p: list(n) for p, n in doc.origins.items() if kept(p)}  # --set notes
        self.levels: dict[int, _Level] = {}  # id() of an output list of layers -> its names
        self.count = 0
        self.trail: tuple[str, ...] = ()  # how the layer being expanded was made, for errors
        self._refs: dict[str, dict[str, str]] = {}
        self._checked: set[tuple] = set()  # (definition, path, content) already found valid

    # -- driver --------------------------------------------------------------------------

    def run(self) -> Document:
        data = self.doc.data
        top = self.defaults({}, data.get("defaults"), ("defaults",))
        layers = self.sequence(data["layers"], ("layers",), ("layers",), top, (), set(data.get("inputs") or {}))
        root = self.levels[id(layers)]
        self.rewrite_layers(layers, [root])
        out = {}
        for key, value in data.items():
            if key in ("templates", "defaults"):
                continue
            if key == "layers":
                out[key] = layers
            elif key == "outputs":
                out[key] = [self.rewrite(t, [root]) for t in value]
            else:
                out[key] = value
        origins = {path: tuple(notes) for path, notes in self.origins.items()}
        return replace(self.doc, data=out, marks=self.marks, key_marks=self.key_marks, origins=origins)

    # -- errors and marks ----------------------------------------------------------------

    def fail(self, message: str, path: tuple, at_key: bool = False) -> SpecError:
        error = self.doc.error(message, path, at_key)
        return SpecError(message, replace(error.where, via=self.trail), error.source_line)

    def noted(self, error: SpecError) -> SpecError:
        """`error` with the current trail, unless an inner step already gave it one."""
        if isinstance(error, SpecErrors):
            return SpecErrors([self.noted(e) for e in error.errors])
        if error.where.via or not self.trail:
            return error
        return SpecError(error.message, replace(error.where, via=self.trail), error.source_line)

    @contextmanager
    def within(self, note: str) -> Iterator[None]:
        saved = self.trail
        self.trail = saved + (note,)
        try:
            yield
        except SpecError as e:
            raise self.noted(e) from None
        finally:
            self.trail = saved

    def line(self, path: tuple) -> int:
        return self.doc.where(path).line

    def mark(self, src: tuple, dst: tuple) -> None:
        """The node at `dst` in the result came from `src` in the source."""
        self.marks[dst] = self.doc.mark(src)
        key = self.doc.key_marks.get(src)
        if key is not None:
            self.key_marks[dst] = key

    def copy(self, value: Any, src: tuple, dst: tuple) -> Any:
        """A fresh copy of `value` (found at `src`) placed at `dst`, marks and all."""
        self.mark(src, dst)
        if isinstance(value, dict):
            return {k: self.copy(v, src + (k,), dst + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.copy(v, src + (i,), dst + (i,)) for i, v in enumerate(value)]
        return value

    # -- lists, repeats, layers ----------------------------------------------------------

    def sequence(self, items: list, src: tuple, dst: tuple, defaults: dict, stack: tuple[str, ...],
                 formal: set[str]) -> list[dict]:
        out: list[dict] = []
        repeats: dict[str, tuple] = {}
        for i, raw in enumerate(items):
            if "repeat" in raw:
                repeats[raw["id"]] = (self.repeat(raw, src + (i,), dst, out, defaults, stack), src + (i,))
            else:
                out.append(self.layer(raw, src + (i,), dst + (len(out),), defaults, stack))
        ids = {layer["id"]: n for n, layer in enumerate(out)}
        for alias, (_, at) in repeats.items():
            if alias in ids or alias in formal:
                other = ("an input of the enclosing block" if alias in formal and dst != ("layers",) else
                         "a model input" if alias in formal else
                         f"the layer at line {self.marks[dst + (ids[alias],)][0]}")
                raise self.fail(f"id '{alias}' names this repeat (its last copy) and also {other}; "
                                "rename one of them", at + ("id",), at_key=True)
        self.levels[id(out)] = _Level(set(ids), formal, {a: last for a, (last, _) in repeats.items()},
                                      {layer["id"]: layer for layer in out})
        return out

    def repeat(self, raw: dict, src: tuple, dst: tuple, out: list, defaults: dict, stack: tuple[str, ...]) -> str:
        """Append the copies of a repeated layer to `out`; return the last copy's id."""
        n, ident = raw["repeat"], raw["id"]
        share = raw.get("share", False)
        scope = raw.get("scope", ...)
        pattern = isinstance(scope, str) and INDEX in scope
        ids = [f"{ident}_{k}" for k in range(n)]
        scopes: list[str] | None = None
        if share is True:
            if pattern:
                raise self.fail(f"`share: true` applies one set of variables {n} times, in one scope, so the scope "
                                "cannot depend on {i}; remove {i} from `scope`, or `share` to give each copy "
                                "variables of its own", src + ("scope",))
            scopes = [ident if scope is ... else scope] * n
        elif isinstance(scope, str):
            scopes = [scope.replace(INDEX, str(k)) for k in range(n)]
            if pattern:
                ids = scopes
                if not _ID.match(ids[0]):
                    raise self.fail(f"copies take their ids from the scope pattern, and '{ids[0]}' is not a valid id "
                                    "(letters, digits, '_' and '-')", src + ("scope",))
            elif n > 1:
                raise self.fail(f"`scope: {scope}` gives all {n} copies of '{ident}' the same scope '{scope}'; write a "
                                f"pattern with {{i}} (e.g. '{scope}_{{i}}') for a set of variables per copy, or set "
                                f"`share: true` to apply one set of variables {n} times", src + ("scope",))
        line = self.line(src)
        for k in range(n):
            copy = {key: value for key, value in raw.items() if key != "repeat"}
            copy["id"] = ids[k]
            if scopes is not None:
                if share is True or scopes[k] != ids[k]:
                    copy["scope"] = scopes[k]
                else:
                    copy.pop("scope", None)  # the copy's id is its scope
            if share is True and k == 0:
                del copy["share"]  # the first copy creates the variables the others reuse
            at = dst + (len(out),)
            note = f"copy {k + 1} of {n} ('{ids[k]}') of '{ident}' at line {line}"
            self.origins.setdefault(at, []).append(note)
            with self.within(note):
                layer = self.layer(copy, src, at, defaults, stack)
            if k > 0:
                self.chain(layer, ids[k - 1], src, at)
            out.append(layer)
        return ids[-1]

    def chain(self, layer: dict, previous: str, src: tuple, at: tuple) -> None:
        """A copy reads the previous copy's output in place of its first input."""
        inputs = layer.get("inputs")
        if isinstance(inputs, list):
            inputs[0] = previous
            self.mark(src + ("repeat",), at + ("inputs", 0))
        elif isinstance(inputs, dict):
            first = next(iter(inputs))
            inputs[first] = previous
            self.mark(src + ("repeat",), at + ("inputs", first))
        else:
            layer["input"] = previous
            self.mark(src + ("repeat",), at + ("input",))
            tidy = _tidy(layer)
            layer.clear()
            layer.update(tidy)

    def layer(self, raw: dict, src: tuple, dst: tuple, defaults: dict, stack: tuple[str, ...]) -> dict:
        self.count += 1
        if self.count > self.max_layers:
            raise self.fail(_too_many(self.max_layers), src)
        scope = raw.get("scope")
        if isinstance(scope, str) and INDEX in scope:
            raise self.fail("{i} stands for the copy's index, so it only means something in the `scope` of a "
                            "layer with `repeat`", src + ("scope",))
        self.mark(src, dst)
        if "use" in raw:
            return self.instance(raw, src, dst, defaults, stack)
        layer = {k: self.copy(v, src + (k,), dst + (k,)) for k, v in raw.items() if k not in ("layers", "defaults")}
        self.apply(layer, dst, defaults)
        if "layers" in raw:
            inner = self.defaults(defaults, raw.get("defaults"), src + ("defaults",))
            layer["layers"] = self.sequence(raw["layers"], src + ("layers",), dst + ("layers",), inner, stack,
                                            _formal(raw))
        return _tidy(layer)

    # -- templates -----------------------------------------------------------------------

    def instance(self, raw: dict, src: tuple, dst: tuple, defaults: dict, stack: tuple[str, ...]) -> dict:
        """A template instance -> a block whose layers are the template's, params filled in."""
        name, ident = raw["use"], raw["id"]
        use_at = src + ("use",)
        if name not in self.templates:
            known = list(self.templates)
            hint = difflib.get_close_matches(name, known, n=1)
            fix = (f"did you mean '{hint[0]}'?" if hint else
                   f"defined templates: {', '.join(known)}" if known else "the spec defines no `templates:`")
            raise self.fail(f"unknown template '{name}'; {fix}", use_at)
        if name in stack:
            cycle = " -> ".join(stack[stack.index(name):] + (name,))
            raise self.fail(f"templates use each other in a cycle: {cycle}; a template cannot contain itself, "
                            "directly or through another template", use_at)
        template = self.templates[name]
        home = ("templates", name)
        params = template.get("params") or {}
        given = raw.get("with") or {}
        for key in given:
            if key not in params:
                hint = difflib.get_close_matches(key, list(params), n=1)
                fix = f"did you mean '{hint[0]}'?" if hint else f"its params: {', '.join(params) or 'none'}"
                raise self.fail(f"template '{name}' has no param '{key}'; {fix}", src + ("with", key), at_key=True)
        missing = [p for p, default in params.items() if default is None and p not in given]
        if missing:
            raise self.fail(
                f"template '{name}' needs param '{missing[0]}' (declared without a default at line "
                f"{self.line(home + ('params', missing[0]))}); give it: `with: {{{missing[0]}: ...}}`",
                src + ("with",) if "with" in raw else use_at, at_key="with" in raw)
        note = f"template '{name}' used by '{ident}' at line {self.line(src)}"
        self.origins.setdefault(dst, []).append(note)
        with self.within(note):
            resolver = Resolver(self.doc, {p: (d, home + ("params", p)) for p, d in params.items() if p not in given},
                                done=given, parent=self.vars, what="template param", max_depth=self.max_depth)
            filled = {key: resolver.walk(template[key], home + (key,))
                      for key in ("layers", "output", "defaults") if key in template}
            self.check(self.doc, filled["layers"], home + ("layers",), "layers")
            if "output" in filled:
                self.check(self.doc, filled["output"], home + ("output",), "ref")
            layer: dict = {}
            for key, value in raw.items():
                if key == "use":
                    layer["type"] = "block"
                    self.mark(use_at, dst + ("type",))
                elif key not in ("with", "defaults", "repeat"):
                    layer[key] = self.copy(value, src + (key,), dst + (key,))
            if "output" in filled and "output" not in raw:
                layer["output"] = self.copy(filled["output"], home + ("output",), dst + ("output",))
            self.apply(layer, dst, defaults)
            # Innermost wins: the enclosing blocks', then the template's own, then this instance's.
            inner = self.defaults(defaults, filled.get("defaults"), home + ("defaults",))
            inner = self.defaults(inner, raw.get("defaults"), src + ("defaults",))
            layer["layers"] = self.sequence(filled["layers"], home + ("layers",), dst + ("layers",), inner,
                                            stack + (name,), _formal(raw))
        return _tidy(layer)

    # -- defaults ------------------------------------------------------------------------

    def defaults(self, outer: dict, given: dict | None, src: tuple) -> dict:
        """`outer` with the `defaults:` mapping found at `src` laid over it, key by key.

        The result maps a layer type to {flat key: (the key path to write, value, source path)};
        `kernel_initializer` and `initializers: {kernel: ...}` share the flat key
        ("initializers", "kernel"), so either spelling overrides the other.
        """
        if not given:
            return outer
        merged = {kind: dict(entries) for kind, entries in outer.items()}
        for kind, entry in given.items():
            self.check_defaults(kind, entry, src + (kind,))
            slot = merged.setdefault(kind, {})
            for key, value in entry.items():
                if key in PER_VARIABLE and isinstance(value, dict):
                    for local, v in value.items():
                        slot[(key, local)] = ((key, local), v, src + (kind, key, local))
                else:
                    slot[_flat(key)] = ((key,), value, src + (kind, key))
        return merged

    def check_defaults(self, kind: str, entry: dict, at: tuple) -> None:
        allowed = set(layer_keys({"type": kind})) - STRUCTURAL
        for key in entry:
            if key in STRUCTURAL:
                raise self.fail(f"`{key}` cannot be a default: it says what a layer is, what it reads or where its "
                                "variables live, so each layer sets its own", at + (key,), at_key=True)
            if key not in allowed:
                hint = difflib.get_close_matches(key, sorted(allowed), n=1)
                fix = f"did you mean '{hint[0]}'?" if hint else f"{kind} layers take: {', '.join(sorted(allowed))}"
                raise self.fail(f"{kind} layers have no key '{key}' to default; {fix}", at + (key,), at_key=True)
        # A partial layer: the values are checked here, once, where they are written.
        self.check(self.doc, {"id": "defaults", "type": kind, **entry}, at, "layer", skip=("required",))

    def apply(self, layer: dict, dst: tuple, defaults: dict) -> None:
        """Fill the keys `layer` does not set from the defaults for its type."""
        slot = defaults.get(layer.get("type"))
        if not slot:
            return
        own: set[tuple] = set()
        for key, value in layer.items():
            if key in PER_VARIABLE and isinstance(value, dict):
                own.update((key, local) for local in value)
            else:
                own.add(_flat(key))
        filled = False
        for flat, (written, value, src) in slot.items():
            if flat in own:
                continue
            filled = True
            if len(written) == 1:
                layer[written[0]] = self.copy(value, src, dst + written)
                continue
            group = layer.get(written[0])
            if group is None:
                group = layer[written[0]] = {}
                self.mark(src[:-1], dst + written[:1])
            group[written[1]] = self.copy(value, src, dst + written)
        if filled:
            # The layer was valid as written and each default on its own; together they must be too
            # (a type may refuse two keys at once). Its layers are checked on their own.
            view = replace(self.doc, data=None, marks=self.marks, key_marks=self.key_marks, origins={})
            self.check(view, {k: v for k, v in layer.items() if k != "layers"}, dst, "layer")

    def check(self, doc: Document, value: Any, path: tuple, definition: str, skip: tuple[str, ...] = ()) -> None:
        """`validate_part`, once per distinct content and place: the copies of a repeat are alike."""
        key = (definition, skip, json.dumps(value, sort_keys=True, default=str))
        if key in self._checked:
            return
        validate_part(doc, value, path, definition, skip)
        self._checked.add(key)

    # -- references to repeats -----------------------------------------------------------

    def reference_keys(self, layer: dict) -> dict[str, str]:
        kind = layer.get("type")
        if kind not in self._refs:
            self._refs[kind] = reference_keys({"type": kind})
        return self._refs[kind]

    def rewrite_layers(self, layers: list[dict], env: list[_Level]) -> None:
        """Point every reference to a repeat's id at its last copy."""
        for layer in layers:
            children = layer.get("layers")
            for key, kind in self.reference_keys(layer).items():
                value = layer.get(key)
                if key == "output" and children is not None:
                    continue  # a block's output names one of its own layers: below
                paths = key in _LAYER_PATHS
                if kind == "one" and isinstance(value, str):
                    layer[key] = self.rewrite(value, env, paths)
                elif kind == "list" and isinstance(value, list):
                    layer[key] = [self.rewrite(v, env, paths) if isinstance(v, str) else v for v in value]
                elif kind == "mapping" and isinstance(value, dict):
                    layer[key] = {k: self.rewrite(v, env, paths) if isinstance(v, str) else v
                                  for k, v in value.items()}
            if isinstance(children, list) and id(children) in self.levels:
                inner = self.levels[id(children)]
                self.rewrite_layers(children, [inner] + env)
                if isinstance(layer.get("output"), str):
                    layer["output"] = self.rewrite(layer["output"], [inner])

    def rewrite(self, text: str, env: list[_Level], paths: bool = False) -> str:
        """`text` with each segment that names a repeat replaced by its last copy's id.

        Resolved as the planner will: a tensor reference at the innermost level that has
        its first name (siblings and block inputs, then outwards); a layer path
        (`paths`, as `share:`) at the innermost level where the whole path exists.
        """
        first = text.split(".")[0]
        for level in env:
            if first in level.ids or first in level.formal or first in level.aliases:
                rewritten, whole = self.walk(text, level)
                if whole or not paths:
                    return rewritten
        return text

    def walk(self, text: str, level: _Level) -> tuple[str, bool]:
        """`text` resolved from `level` down through blocks, aliases replaced as far as it goes,
        and whether the whole path exists.

        Past a block whose layers are not written out (a sharing block that repeats another
        one's structure) the rest is kept as written: the planner resolves it.
        """
        names = text.split(".")
        parts: list[str] = []
        here: _Level | None = level
        for i, part in enumerate(names):
            if here is None:  # a step into a layer that is not a block
                return ".".join(parts + names[i:]), False
            if part not in here.ids and part in here.aliases:
                part = here.aliases[part]
            elif part not in here.ids and not (i == 0 and part in here.formal):
                return ".".join(parts + names[i:]), False
            parts.append(part)
            node = here.layers.get(part, {})
            children = node.get("layers")
            if node.get("type") == "block" and children is None:  # its structure is another block's
                return ".".join(parts + names[i + 1:]), True
            here = self.levels.get(id(children)) if isinstance(children, list) else None
        return ".".join(parts), True


# Keys that name a layer (resolved like `share:`, the whole path at the innermost level
# where it exists) rather than a tensor (resolved like `input:`).
_LAYER_PATHS = frozenset({"share", "tie"})


def _flat(key: str) -> tuple:
    if key.endswith(_INIT_SUFFIX) and key != _INIT_SUFFIX:
        return ("initializers", key[: -len(_INIT_SUFFIX)])
    return (key,)


def _formal(raw: dict) -> set[str]:
    """The names a block's layers use for its inputs."""
    inputs = raw.get("inputs")
    return set(inputs) if isinstance(inputs, dict) else {"input"}


def _tidy(layer: dict) -> dict:
    """What a layer is, reads and where it sits first, a block's `layers` last: the order `specc resolve` prints."""
    head = {k: layer[k] for k in ("id", "type", "input", "inputs", "scope", "share") if k in layer}
    tail = {k: layer[k] for k in ("layers",) if k in layer}
    return {**head, **{k: v for k, v in layer.items() if k not in head and k not in tail}, **tail}
