"""Lint: specs that build, but probably not into what their author meant. No TensorFlow.

Each rule is one small function from a `Context` (the expanded spec and its plan) to
warnings, wired by code in `RULES` (codes in the style of ruff's: a letter prefix, a
digit for the family, two for the rule). A warning is located like an error
(`file:line:col: path`), at the key it is about, and a comment on that line silences it:

    - {id: probe, type: identity, input: encoder}   # specc: ignore[SC101]

`# specc: ignore` without codes silences every code on its line. docs/lint.md lists
the codes, each with an example.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from .errors import Location, format_path
from .read import Document
from .plans import Plan, PlannedLayer, PlannedVariable
from .spec import TRAINING_FLAG, LayerSpec, Spec
from .record import record


@record
class LintWarning:
    """One finding: a code, what is wrong and what to do, and where."""

    code: str
    message: str
    where: Location

    def render(self) -> str:
        """`file:line:col: path: CODE message`, then how an expanded node came to be, if it did."""
        text = f"{self.where}: {self.code} {self.message}"
        if self.where.via:
            text += f"\n    expanded from: {'; '.join(self.where.via)}"
        return text

    def to_json(self) -> dict:
        w = self.where
        out = {"code": self.code, "name": RULES[self.code].name if self.code in RULES else "",
               "file": w.file, "line": w.line, "column": w.col, "path": format_path(w.path), "message": self.message}
        return {**out, "expanded_from": list(w.via)} if w.via else out


@dataclass(frozen=True)
class Context:
    """What every rule reads: the spec, its document (marks and source lines) and the plan."""

    spec: Spec
    plan: Plan

    @property
    def doc(self) -> Document:
        return self.spec.document

    @functools.cached_property
    def layer_specs(self) -> dict[tuple, LayerSpec]:
        """Spec path -> the layer written there (a plan's copies of a shared structure point at it too)."""
        out: dict[tuple, LayerSpec] = {}
        todo = list(self.spec.layers)
        while todo:
            layer = todo.pop()
            out[layer.path] = layer
            todo += layer.layers or ()
        return out

    def written(self, layer: PlannedLayer, key: str) -> bool:
        spec = self.layer_specs.get(layer.where.path)
        return spec is not None and key in spec.keys

    @functools.cached_property
    def namespaces(self) -> dict[tuple, "_Space"]:
        return _namespaces(self)

    @functools.cached_property
    def live(self) -> set[str]:
        """Tensor keys (inputs and layer paths) that some output depends on, and the training labels."""
        return _live(self)

    def at(self, layer: PlannedLayer, key: str) -> Location:
        """The location of a layer's key: the key itself when written, else the layer's `id`."""
        return self.doc.where(layer.where.path + (key if self.written(layer, key) else "id",), at_key=True)


@record
class Rule:
    code: str
    name: str
    check: Callable[[Context], Iterable[LintWarning]]

    @property
    def summary(self) -> str:
        return (self.check.__doc__ or "").strip().splitlines()[0]


# -- the rules ---------------------------------------------------------------------------------

def unused_layers(ctx: Context) -> Iterator[LintWarning]:
    """SC101: a layer whose output reaches no output of the model."""
    live = ctx.live
    outputs = ", ".join(o.key for o in ctx.plan.outputs)

    # Only a layer that feeds no output asks (in most models, none does).
    @functools.cache
    def used_vars() -> set[str]:
        return {b.name for layer in ctx.plan.walk() if layer.path in live for b in layer.variables}

    @functools.cache
    def owners() -> dict[str, str]:
        return {v.name: v.owner for v in ctx.plan.variables}

    def visit(layers: tuple[PlannedLayer, ...]) -> Iterator[LintWarning]:
        for layer in layers:
            if not layer.children and layer.path in live:
                continue  # the usual layer, answered without walking it
            subtree = list(layer.walk())
            if any(x.path in live for x in subtree):
                if layer.children:
                    yield from visit(layer.children)
                continue
            # A layer that creates variables a live layer reuses is needed for them.
            if any(b.name in used_vars() and not b.borrowed for x in subtree for b in x.variables if not x.reuse):
                if layer.children:
                    yield from visit(layer.children)
                continue
            what = "block" if layer.children else "layer"
            created = any(owners()[b.name] == x.path for x in subtree for b in x.variables)
            also = ", and its variables are still created and saved in checkpoints" if created else ""
            yield LintWarning("SC101", f"{what} '{layer.path}' feeds no output (outputs: {outputs}): its ops are "
                                       f"built and never run{also}; remove it, or add it to `outputs:`",
                              ctx.at(layer, "id"))

    return visit(ctx.plan.layers)


def unused_inputs(ctx: Context) -> Iterator[LintWarning]:
    """SC102: an input that feeds no output (nor a `train:` section's labels)."""
    live = ctx.live
    implied = {i.name for i in ctx.spec.inputs if i.implied}  # the training flag: SC101 names its readers
    for inp in ctx.plan.inputs:
        if inp.name not in live and inp.name not in implied:
            readers = [layer.path for layer in ctx.plan.walk() if inp.name in layer.inputs and not layer.children]
            why = (f"only layers that feed no output read it ({', '.join(readers)})" if readers
                   else "no layer reads it")
            yield LintWarning("SC102", f"input '{inp.name}' feeds no output: {why}; a caller must still feed "
                                       "it unless it has a `default`. Remove it, or use it",
                              ctx.doc.where(("inputs", inp.name), at_key=True))


def case_only_scopes(ctx: Context) -> Iterator[LintWarning]:
    """SC201: two scope names that differ only by case."""
    for space in ctx.namespaces.values():
        if len(set(map(str.lower, space.names))) == len(set(space.names)):
            continue  # no two spellings of one name (the usual case, answered at C speed)
        first: dict[str, _Claim] = {}
        for claim in space.claims():
            seen = first.setdefault(claim.name.lower(), claim)
            if seen.name != claim.name:
                yield LintWarning("SC201", f"{claim.what} '{claim.name}' differs only by case from {seen.what} "
                                           f"'{seen.name}' (line {seen.where.line}); TensorFlow compares names "
                                           f"case-insensitively, so ops land in '{claim.name}_1' and a checkpoint "
                                           "reader cannot tell the two apart: use one spelling", claim.where)


_SUFFIX = re.compile(r"^(?P<base>.+)_(?P<n>[1-9][0-9]*)$")
_SUFFIXES = re.compile(r"^(.+)_[1-9][0-9]*$", re.MULTILINE)  # _SUFFIX's bases, over names one per line


def reentry_like_scopes(ctx: Context) -> Iterator[LintWarning]:
    """SC202: a scope named like TensorFlow's re-entry of another (`tower_1` next to `tower`)."""
    for (kind, _), space in ctx.namespaces.items():
        if kind != "vars":
            continue  # op-only names (`residual_1` after `residual`) never reach a checkpoint
        lowered = list(map(str.lower, space.names))
        # The bases of the names that end like a re-entry (`_1`), found in one pass over all of them: in
        # most models none is the name of another claim.
        bases = set(_SUFFIXES.findall("\n".join(lowered)))
        if bases.isdisjoint(lowered):
            continue
        claims = space.claims()
        by_name = dict(zip(reversed(lowered), reversed(claims)))  # each name's first claim
        for claim in claims:
            match = _SUFFIX.match(claim.name)
            base = by_name.get(match["base"].lower()) if match else None
            if base is None or _source(base.where) == _source(claim.where):
                continue  # no base, or copies of one repeated layer (`h{i}`)
            yield LintWarning("SC202", f"{claim.what} '{claim.name}' is the name TensorFlow itself gives the "
                                       f"{_ordinal(int(match['n']) + 1)} entry of '{base.name}' (line "
                                       f"{base.where.line}): a re-entered '{base.name}' puts its ops there, and "
                                       f"'{claim.name}/...' variables in a checkpoint read as '{base.name}' built "
                                       "again without sharing; choose a name TensorFlow does not generate",
                              claim.where)


_TWIN_WORDS = ("left", "right", "first", "second")
_TWIN_CANDIDATES = 16  # earlier layers of a group a layer is compared with


def unshared_twins(ctx: Context) -> Iterator[LintWarning]:
    """SC301: two layers with the same structure on twin-looking scopes that do not share."""
    groups: dict[tuple, dict[tuple, PlannedLayer]] = {}
    for layer in ctx.plan.walk():
        if (layer.reuse or not layer.frames or layer.frames[-1].kind != "variable_scope"
                or not (layer.variables or any(x.variables for x in layer.walk()))):
            continue
        parent, _, name = (layer.var_scope or "").rpartition("/")
        # One layer per source location: the copies one `repeat` makes (BERT's layer_0 ... layer_11)
        # are separate on purpose, and comparing thousands of them pairwise would be slow.
        key = (parent, _twin_stem(name))
        group = groups.get(key)
        if group is None:
            group = groups[key] = {}
        group.setdefault(_source(layer.where), layer)
    # Towers come a few at a time; a long run of numbered layers (layer_0 ... layer_49999) is a
    # stack, each reading the last: comparing each layer with the first few of its group keeps
    # this linear.
    groups = {key: group for key, group in groups.items() if len(group) > 1}  # one layer has no twin
    if not groups:
        return
    candidates = {key: list(group.values())[:_TWIN_CANDIDATES] for key, group in groups.items()}
    twins = _Twins(ctx.plan, [e for heads in candidates.values() for e in heads])
    reads = twins.reads
    for key, group in groups.items():
        heads = candidates[key]
        every = twins.mask_of(heads)
        for i, later in enumerate(group.values()):
            if i >= len(heads) and reads[later.path] & every == every:
                continue  # computed from every head: a stack (first() says so too, in more steps)
            earlier = twins.first(heads[:i], later)
            if earlier is None:
                continue
            yield LintWarning("SC301", f"'{later.path}' (scope '{later.var_scope}') has the structure of "
                                       f"'{earlier.path}' (scope '{earlier.var_scope}', line "
                                       f"{earlier.where.line}) and reads another input, but creates variables "
                                       f"of its own; if they are one tower applied twice, write "
                                       f"`share: {earlier.path}`", ctx.at(later, "scope"))


def inert_share_false(ctx: Context) -> Iterator[LintWarning]:
    """SC302: `share: false` inside a block that shares (it reuses anyway)."""

    def visit(layers: tuple[LayerSpec, ...], sharing: tuple | None) -> Iterator[LintWarning]:
        for layer in layers:
            if sharing is not None and "share" in layer.keys and layer.share.creates:
                block, line = sharing
                yield LintWarning("SC302", f"`share: false` has no effect inside block '{block}' (line {line}), "
                                           "which shares: TensorFlow's reuse is inherited by every scope inside "
                                           "and cannot be turned off, so this layer reuses too. Remove it, or move "
                                           "the layer out of the shared block to give it variables of its own",
                                  layer.at("share", ctx.doc))
            inner = sharing
            if inner is None and not layer.share.creates:
                inner = (layer.id, layer.where.line)
            if layer.layers:
                yield from visit(layer.layers, inner)

    return visit(ctx.spec.layers, None)


def flag_never_true(ctx: Context) -> Iterator[LintWarning]:
    """SC401: a `training:` wired to an input that the `train:` section never sets true."""
    train = ctx.spec.train
    if train is None:
        return  # trained elsewhere: whoever trains feeds the flag
    feed = dict(train.feed)
    inputs = {i.name for i in ctx.plan.inputs}
    for layer in ctx.plan.walk():
        spec = ctx.layer_specs.get(layer.where.path)
        wired = getattr(layer.params, "training", None)
        if spec is None or not isinstance(wired, str) or "training" not in spec.keys:
            continue
        flag = layer.inputs[-1]  # the planner appends the flag's tensor key
        if flag == TRAINING_FLAG or flag in feed:
            continue  # `specc train` feeds the model's flag true; a written feed is deliberate
        what = f"input '{flag}'" if flag in inputs else f"'{flag}'"
        effect = ("uses the moving statistics and never updates them" if layer.type == "batch_norm"
                  else "never drops anything")
        yield LintWarning("SC401", f"`training: {wired}` reads {what}, which the `train:` section never sets true, "
                                   f"so '{layer.path}' {effect} while `specc train` trains; add "
                                   f"`feed: {{{flag}: true}}` to `train:`, or remove `training:` to read the "
                                   f"model's training flag, which `specc train` feeds true",
                          ctx.at(layer, "training"))


def flag_always_on(ctx: Context) -> Iterator[LintWarning]:
    """SC403: `training: true`, which keeps a dropout or batch norm training in serving too."""
    for layer in ctx.plan.walk():
        if getattr(layer.params, "training", None) is not True:
            continue
        if layer.type == "dropout" and not layer.params.rate:
            continue  # drops nothing either way
        effect = ("normalises by each batch's own statistics and updates its moving averages"
                  if layer.type == "batch_norm" else "drops units")
        yield LintWarning("SC403", f"`training: true` means '{layer.path}' {effect} in every run: in serving too "
                                   "(`specc export`, `specc.apply`), where results should not depend on chance or "
                                   "on the batch; remove `training:` to read the model's training flag (false "
                                   "unless fed, `specc train` feeds it true), or wire it to an input",
                          ctx.at(layer, "training"))


def bidirectional_final_output(ctx: Context) -> Iterator[LintWarning]:
    """SC402: a bidirectional `rnn` that returns `final_output` (its backward half saw one token)."""
    for layer in ctx.plan.walk():
        p = layer.params
        if layer.type == "rnn" and p.bidirectional and p.returns == "final_output":
            yield LintWarning("SC402", f"'{layer.path}' returns the output at the last time step of both directions; "
                                       "the backward cell starts at the last step, so its half has seen only the "
                                       "last token (changing any earlier token changes only the forward half). "
                                       "Use `return: final_state` (each direction's state after the whole "
                                       "sequence) or `return: sequence`",
                              ctx.at(layer, "return"))


RULES: dict[str, Rule] = {r.code: r for r in (
    Rule("SC101", "unused-layer", unused_layers),
    Rule("SC102", "unused-input", unused_inputs),
    Rule("SC201", "case-only-scopes", case_only_scopes),
    Rule("SC202", "reentry-like-scope", reentry_like_scopes),
    Rule("SC301", "unshared-twins", unshared_twins),
    Rule("SC302", "inert-share-false", inert_share_false),
    Rule("SC401", "flag-never-true", flag_never_true),
    Rule("SC402", "bidirectional-final-output", bidirectional_final_output),
    Rule("SC403", "flag-always-on", flag_always_on),
)}


# -- running them ----------------------------------------------------------------------------

def check(spec: Spec, plan: Plan, select: Iterable[str] | None = None) -> list[LintWarning]:
    """Run the lint rules on a spec and its plan.

    Args:
        spec: the expanded spec (`specc.load`); its document gives marks and source lines.
        plan: its plan (`specc.plan(spec)`).
        select: the codes to run (default: all of RULES).

    Returns:
        The warnings not silenced by a `# specc: ignore[...]` comment on their line, in
        line order, each location once per code.
    """
    doc = spec.document
    ctx = Context(spec, plan)
    out: dict[tuple, LintWarning] = {}
    for code in select if select is not None else RULES:
        for w in RULES[code].check(ctx):
            # The line the warning names, in the file it names: a spec's `base:` holds lines of its own.
            if w.code not in _silenced(doc.source_line(w.where.line, w.where.file) or ""):
                out.setdefault((w.code, w.where.file, w.where.line, w.where.col), w)
    return sorted(out.values(), key=lambda w: (w.where.file != doc.file, w.where.file, w.where.line,
                                               w.where.col, w.code))


def lint_file(path, limits=None, overrides=()) -> tuple[Plan, list[LintWarning]]:
    """Load and plan a spec file (as `specc.plan` does, `overrides` included) and lint it.

    Returns:
        (plan, warnings).

    Raises:
        SpecError: the spec is wrong (lint runs only on specs that plan).
    """
    from dataclasses import replace

    from . import api
    from .read import DEFAULT_LIMITS
    from .planner import DEFAULT_PLAN_LIMITS

    limits = limits or DEFAULT_PLAN_LIMITS
    spec = api.load(path, replace(DEFAULT_LIMITS, max_layers=limits.max_layers), *((overrides,) if overrides else ()))
    plan = api.plan(spec, limits)
    return plan, check(spec, plan)


def lint_json(warnings: list[LintWarning], file: str, ok: bool = True) -> dict:
    """`specc lint --format json`: `ok` is false only when --strict turned warnings into errors."""
    return {"ok": ok, "file": file, "warnings": [w.to_json() for w in warnings]}


def render_table(warnings: list[LintWarning], console) -> None:
    """One warning a line (`file:line:col: path: CODE message`), as ruff and compilers print them."""
    for w in warnings:
        console.print(w.render(), markup=False)


def summary(warnings: list[LintWarning], strict: bool) -> str:
    if not warnings:
        return "no lint warnings"
    n = len(warnings)
    codes = ", ".join(sorted({w.code for w in warnings}))
    tail = "--strict makes them errors" if not strict else "errors under --strict"
    return f"{n} lint warning{'' if n == 1 else 's'} ({codes}); {tail} (see docs/lint.md)"


# A YAML comment (a `#` at the start or after a blank) that silences codes on its line.
_IGNORE = re.compile(r"(?:^|\s)#.*?\bspecc:\s*ignore\b(?:\[(?P<codes>[A-Za-z0-9_,\s]*)\])?")


def _silenced(line: str) -> frozenset[str] | _All:
    """The codes a line's `# specc: ignore[...]` comment silences (all of them without a list)."""
    match = _IGNORE.search(line)
    if match is None:
        return frozenset()
    if match["codes"] is None:
        return _All()
    return frozenset(c.strip().upper() for c in match["codes"].split(",") if c.strip())


class _All:
    def __contains__(self, code: object) -> bool:
        return True


# -- helpers -----------------------------------------------------------------------------------

def _inputs_of(layer: PlannedLayer) -> tuple[str, ...]:
    """What a layer reads: a block reads its result, which reads the block's inputs."""
    return (layer.result,) if layer.children else layer.inputs


def _live(ctx: Context) -> set[str]:
    """Tensor keys (inputs and layer paths) that some output depends on, and the training labels: one
    pass from the last layer back, as every layer comes after what it reads (and a block's result)."""
    plan = ctx.plan
    live = {o.key for o in plan.outputs}
    if ctx.spec.train is not None:
        live.add(ctx.spec.train.labels)
    todo = list(plan.layers)
    while todo:  # later siblings first, a block before its layers
        layer = todo.pop()
        if layer.path in live:
            live.update(_inputs_of(layer))
        if layer.children:
            todo += layer.children
    return live


class _Twins:
    """Whether a layer is the twin of an earlier one (a head): the same structure, different inputs,
    and not computed from it (an earlier layer is never computed from a later one: layers are
    planned in order)."""

    def __init__(self, plan: Plan, heads: list[PlannedLayer]):
        self.plan = plan
        self.structures: dict[str, tuple] = {}
        self.masks: dict[tuple, int] = {}
        self.bit = {e.path: 1 << i for i, e in enumerate(heads)}
        # A tensor key -> the heads it is computed from (or inside), as bits; one pass in build order.
        self.mask: dict[str, int] = {}
        self.reads: dict[str, int] = {}  # a layer -> the heads its inputs are computed from
        self._visit(plan.layers, 0)

    def _visit(self, layers: tuple[PlannedLayer, ...], enclosing: int) -> None:
        bit, mask, reads_of = self.bit, self.mask, self.reads
        for layer in layers:
            own = enclosing | bit.get(layer.path, 0)
            if layer.children:
                self._visit(layer.children, own)
            reads = 0
            for key in _inputs_of(layer):
                reads |= mask.get(key, 0)
            reads_of[layer.path] = reads
            mask[layer.path] = reads | own

    def first(self, heads: list[PlannedLayer], later: PlannedLayer) -> PlannedLayer | None:
        """The first of `heads` that `later` is a twin of, or None."""
        reads = self.reads[later.path]
        every = self.mask_of(heads)
        if reads & every == every:
            return None  # computed from every earlier head: a stack (a long chain's every layer)
        for head in heads:
            if reads & self.bit[head.path]:
                continue  # a stack, not twins
            if self.structure(head) != self.structure(later):
                continue
            if set(head.inputs) != set(later.inputs):  # two heads on one tensor: sharing would make them one
                return head
        return None

    def mask_of(self, heads: list[PlannedLayer]) -> int:
        """The bits of `heads`, a group's first few (so this is cached by the last one and the count)."""
        if not heads:
            return 0
        key = (heads[-1].path, len(heads))
        mask = self.masks.get(key)
        if mask is None:
            mask = self.masks[key] = self.mask_of(heads[:-1]) | self.bit[heads[-1].path]
        return mask

    @functools.cached_property
    def variables(self) -> dict[str, PlannedVariable]:
        """Variables by name, for the structures of the few layers compared (a long stack compares none)."""
        return {v.name: v for v in self.plan.variables}

    def structure(self, layer: PlannedLayer) -> tuple:
        """What makes two layers interchangeable: types, ids inside, variable shapes, output shape."""
        if layer.path not in self.structures:
            self.structures[layer.path] = (
                layer.type, layer.output.shape, layer.output.dtype,
                tuple((b.local, self.variables[b.name].shape, self.variables[b.name].dtype) for b in layer.variables),
                tuple((c.id, self.structure(c)) for c in layer.children))
        return self.structures[layer.path]


def _twin_stem(name: str) -> str:
    """`tower2`, `tower_b`, `tower-1`, `left_tower`, `tower_right` -> `tower`; other names unchanged."""
    low = name.lower()
    for word in _TWIN_WORDS:
        if word not in low:
            continue
        for sep in "_-":
            if low.startswith(word + sep) and len(low) > len(word) + 1:
                return low[len(word) + 1:]
            if low.endswith(sep + word) and len(low) > len(word) + 1:
                return low[:-len(word) - 1]
    # The shortest stem (at least one character) followed by a number (`_1`, `-1`, `1`) or a one-letter
    # suffix (`_b`): where `re.search(r"(?:[_-]?[0-9]+|[_-][a-z])$", low, 1)` would start, found without
    # a regular expression (a big spec asks once a layer).
    end = len(low.rstrip(_DIGITS))
    if end < len(low):
        start = end - 1 if end >= 2 and low[end - 1] in "_-" else max(end, 1)
        return low[:start]
    if len(low) >= 3 and low[-2] in "_-" and low[-1] in _LETTERS:
        return low[:-2]
    return low


_DIGITS, _LETTERS = "0123456789", "abcdefghijklmnopqrstuvwxyz"


class _Claim:
    """A name a layer claims in a namespace, located only when a warning needs it."""

    __slots__ = ("name", "what", "locate", "args", "_where")

    def __init__(self, name: str, what: str, locate: Callable[..., Location], *args):
        self.name, self.what, self.locate, self.args, self._where = name, what, locate, args, None

    @property
    def where(self) -> Location:
        """Located only for a warning (`locate(*args)`): a big spec makes many claims and few mistakes."""
        if self._where is None:
            self._where = self.locate(*self.args)
        return self._where


class _Space:
    """The names claimed in one namespace, in build order: the rules read the names (two a layer in a
    big spec), and ask for the claims (_Claim) only where some name may be a mistake."""

    __slots__ = ("names", "made_by")

    def __init__(self) -> None:
        self.names: list[str] = []
        self.made_by: list[tuple] = []  # (what, locate, *args) of each name's claim

    def add(self, name: str, what: str, locate: Callable[..., Location], *args) -> None:
        self.names.append(name)
        self.made_by.append((what, locate, *args))

    def claims(self) -> list[_Claim]:
        return [_Claim(name, *made_by) for name, made_by in zip(self.names, self.made_by)]


def _namespaces(ctx: Context) -> dict[tuple, _Space]:
    """The names the spec asks for, grouped by the namespace they compete in, in build order.

    Ops: the first scope each layer opens among its siblings (its `name_scope`, else its
    variable scope, else its id), and the inputs at the top. Variables: each variable
    scope a layer creates in, within its parent variable scope.
    """
    plan = ctx.plan
    spaces: dict[tuple, _Space] = {}
    seen_vars: set[str] = set()

    def space(key: tuple) -> _Space:
        found = spaces.get(key)
        if found is None:
            found = spaces[key] = _Space()
        return found

    top = space(("ops", ""))
    for i in plan.inputs:
        top.add(i.name, "input", ctx.doc.where, ("inputs", i.name), True)

    def visit(layers: tuple[PlannedLayer, ...], parent: str) -> None:
        ops = variables = None  # siblings share their namespace (and their variable scope's, mostly)
        at = ctx.at
        for layer in layers:
            frames = layer.frames
            if frames:
                if ops is None:
                    ops = space(("ops", parent))
                frame = frames[0]
                if frame.kind == "name_scope" and frame.name != layer.id and ctx.written(layer, "name_scope"):
                    ops.add(frame.name, "name scope", at, layer, "name_scope")
                else:
                    ops.add(frame.name, "scope", at, layer, "scope")
                if frames[-1].kind == "variable_scope" and not layer.reuse and layer.var_scope not in seen_vars:
                    seen_vars.add(layer.var_scope)
                    var_parent, _, name = layer.var_scope.rpartition("/")
                    if variables is None or variables[0] != var_parent:
                        variables = (var_parent, space(("vars", var_parent)))
                    variables[1].add(name, "variable scope", at, layer, "scope")
            if layer.children:
                visit(layer.children, layer.op_scope)

    visit(plan.layers, "")
    return spaces


def _source(where: Location) -> tuple:
    """Where a node was written: the copies a template or `repeat` made share it."""
    return where.file, where.line, where.col


def _ordinal(n: int) -> str:
    return {1: "first", 2: "second", 3: "third"}.get(n, f"{n}th")
