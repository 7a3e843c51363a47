"""Stage 3, spec: validated data -> frozen dataclasses. Raw dicts end here.

Later stages never index into YAML data: they read these classes, and every
node they may complain about carries its Location.
"""

from __future__ import annotations

import functools
from typing import Any

from .errors import Location
from .layers import LAYER_TYPES, Initializer
from .placement import parse_section as parse_placement
from .read import Document
from .record import record


@record
class Ref:
    """A reference to an input or a layer (dotted for nested layers), and where it was written."""

    text: str
    where: Location

    def __str__(self) -> str:
        return self.text


@record
class Share:
    """Where a layer's variables come from: `create` them (no `share`, or `share: false`), `reenter` its
    own scope and reuse what it holds (`share: true`), or use those of the `layer` at `source`
    (`share: encoder.fc1`)."""

    mode: str
    source: Ref | None = None

    @property
    def creates(self) -> bool:
        return self.mode == "create"

    @property
    def reenters(self) -> bool:
        return self.mode == "reenter"


CREATE, REENTER = Share("create"), Share("reenter")


@record
class InputSpec:
    """A placeholder: `name` is both the input's key in the spec and its op name. `implied`: not written
    in the spec, but added as the model's training flag (TRAINING_FLAG)."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str
    default: Any
    has_default: bool
    where: Location
    implied: bool = False


@record
class LayerSpec:
    """One layer or block as written.

    Attributes:
        id: the layer's id, unique among its siblings.
        type: a key of specc.layers.LAYER_TYPES.
        where: the location of the layer's mapping.
        inputs: the references it reads (one for single-input layers; none means
            "the previous layer's output").
        scope: the variable_scope segment (defaults to the id); None for layers
            without variables and for name-scope-only blocks.
        share: where its variables come from (Share).
        name_scope: an outer name_scope segment, or None.
        own_name_scope: False for `name_scope: false`: the layer opens no name scope of its id either.
        dtype: an explicit float dtype, or None to follow the input.
        params: the per-type parameters (a frozen dataclass from specc.layers).
        block_inputs: for blocks, (formal name, Ref) pairs; the formal name is `input`
            for a block with a single input.
        layers: for blocks, the children; None when a sharing block reuses the
            structure of the block it shares.
        output: for blocks, the child whose output is the block's (None: the last child).
        variables: (local name, name to create it under) pairs: `variables: {kernel: output_weights}`.
        initializers: (local name, Initializer) pairs from `initializers:`, for any layer type.
        keys: the keys the layer's mapping writes (lint tells a written `share: false` from the default).
        device: `device:` as written: pins the ops and new variables of the layer (or block).
    """

    id: str
    type: str
    where: Location
    path: tuple
    inputs: tuple[Ref, ...] = ()
    scope: str | None = None
    share: Share = CREATE
    name_scope: str | None = None
    own_name_scope: bool = True
    dtype: str | None = None
    params: Any = None
    block_inputs: tuple[tuple[str, Ref], ...] = ()
    layers: tuple["LayerSpec", ...] | None = None
    output: Ref | None = None
    variables: tuple[tuple[str, str], ...] = ()
    initializers: tuple[tuple[str, Initializer], ...] = ()
    keys: frozenset[str] = frozenset()
    device: str | None = None

    def at(self, key: str, doc: Document) -> Location:
        """The location of one of this layer's keys (the layer itself if the key is absent)."""
        return doc.where(self.path + (key,), at_key=True)


@record
class TrainSpec:
    """The `train:` section as written; specc.experiments.training checks it against the plan.

    Attributes:
        output: the model output the loss reads; None: the only one.
        seed: the data's seed; None: the spec's.
        data: "synthetic", or an .npz file as written (relative to the file that writes it).
        feed: inputs fed a constant at every step.
        keys: the keys the section sets (an error points at one of them, or at the section).
    """

    loss: str
    labels: str
    output: str | None = None
    optimizer: str = "adam"
    learning_rate: float = 0.01
    momentum: float = 0.9
    steps: int = 100
    batch_size: int = 32
    seed: int | None = None
    data: str = "synthetic"
    margin: float = 1.0
    feed: tuple[tuple[str, Any], ...] = ()
    keys: frozenset[str] = frozenset()


@record
class Spec:
    """A whole model spec, validated and typed."""

    name: str
    seed: int
    inputs: tuple[InputSpec, ...]
    layers: tuple[LayerSpec, ...]
    outputs: tuple[Ref, ...]
    vars: tuple[tuple[str, Any], ...]
    document: Document
    train: TrainSpec | None = None
    placement: Any = None  # specc.placement.PlacementSpec, from `placement:`

    @property
    def file(self) -> str:
        return self.document.file


_ABSENT = object()  # a key the layer does not write


# The keys `layer` reads beyond a layer's parameters (a parameter of the same name is read there too).
_READ_KEYS = frozenset({"share", "scope", "name_scope", "dtype", "device", "initializers", "variables", "output",
                        "layers", "inputs"})


@functools.cache
def _param_keys(type_name: str) -> tuple[str, ...]:
    """The keys of a layer type's parameters, in their order."""
    return tuple(p.name for p in LAYER_TYPES[type_name].params)


@functools.cache
def _plain_keys(type_name: str) -> frozenset[str]:
    """The keys of a layer written the usual way: its id, type, input and parameters (no aliases)."""
    return frozenset({"id", "type", "input", *_param_keys(type_name)}) - _READ_KEYS


def from_document(doc: Document) -> Spec:
    """Convert a validated, interpolated document into a Spec.

    Raises:
        SpecError: for mistakes the schema cannot express (duplicate ids, a block
            without layers that shares nothing, a child named like a block input).
    """
    data = doc.data

    def ref(text: str, path: tuple) -> Ref:
        return Ref(text, doc.where(path))

    def layer(raw: dict, path: tuple, reserved: frozenset, where: Location) -> LayerSpec:
        kind = LAYER_TYPES[raw["type"]]
        ident = raw["id"]
        if ident in reserved:
            raise doc.error(
                f"id '{ident}' is the name of this block's input; inside a block that name refers "
                "to the block's input, so give the layer another id", path + ("id",), at_key=True)
        if kind.arity == "single" and raw.keys() <= _plain_keys(kind.name):
            # Only its id, type, input and parameters (a big spec's usual layer): what the general path
            # below gives such a layer, in one step.
            return LayerSpec(
                id=ident, type=raw["type"], where=where, path=path,
                inputs=(ref(raw["input"], path + ("input",)),) if "input" in raw else (),
                scope=ident if kind.scoped else None, share=CREATE, name_scope=None, own_name_scope=True,
                dtype=None, params=_params(kind, raw), block_inputs=(), layers=None, output=None, variables=(),
                initializers=(), keys=keyset(raw), device=None)
        share_raw = raw.get("share", False)
        share = (REENTER if share_raw is True else CREATE if share_raw is False
                 else Share("layer", ref(share_raw, path + ("share",))))
        if isinstance(share_raw, str) and "scope" in raw:
            raise doc.error(
                f"`scope` has no effect with `share: {share_raw}`: the layer uses the variables where "
                f"'{share_raw}' keeps them, and its ops land under its id; remove `scope`",
                path + ("scope",), at_key=True)
        inputs: tuple[Ref, ...] = ()
        block_inputs: tuple[tuple[str, Ref], ...] = ()
        if kind.arity == "multi":
            inputs = tuple(ref(t, path + ("inputs", i)) for i, t in enumerate(raw["inputs"]))
        elif kind.arity == "block" and "inputs" in raw:
            if "input" in raw:
                raise doc.error("a block takes `input` or named `inputs`, not both", path + ("inputs",), at_key=True)
            block_inputs = tuple((k, ref(v, path + ("inputs", k))) for k, v in raw["inputs"].items())
        elif "input" in raw:  # single, block, or a source's optional input
            inputs = (ref(raw["input"], path + ("input",)),)
            if kind.arity == "block":
                block_inputs = (("input", inputs[0]),)
        children = None
        if kind.arity == "block":
            names = frozenset(n for n, _ in block_inputs) or frozenset({"input"})
            if "layers" in raw:
                children = _children(raw["layers"], path + ("layers",), names)
            elif share_raw is False:
                raise doc.error(
                    "a block needs `layers:` (only a block that shares another one may leave "
                    "them out, to repeat its structure)", path, at_key=False)
        # An explicit `scope: null` opens a name_scope and no variable_scope.
        scope = raw.get("scope", ident) if kind.scoped else None
        inits = raw.get("initializers") or {}
        renames = raw.get("variables")
        for local in inits:
            if f"{local}_initializer" in raw:
                raise doc.error(
                    f"the initializer of '{local}' is set twice, by `initializers: {{{local}: ...}}` and by "
                    f"`{local}_initializer`; keep one", path + ("initializers", local), at_key=True)
        return LayerSpec(
            id=ident, type=raw["type"], where=where, path=path, inputs=inputs,
            scope=scope, share=share, name_scope=raw.get("name_scope") or None,
            own_name_scope=raw.get("name_scope") is not False, dtype=raw.get("dtype"),
            params=_params(kind, _unaliased(kind, raw, path)), block_inputs=block_inputs, layers=children,
            output=ref(raw["output"], path + ("output",)) if "output" in raw else None,
            variables=tuple(renames.items()) if renames else (),
            initializers=tuple((local, Initializer.parse(value)) for local, value in inits.items()) if inits else (),
            keys=keyset(raw), device=raw.get("device"),
        )

    keysets: dict[tuple, frozenset] = {}  # the keys of a layer mapping, in order -> one set of them for all

    def keyset(raw: dict) -> frozenset:
        """The keys a layer writes: layers written alike share one set (a big spec holds thousands)."""
        written = tuple(raw)
        found = keysets.get(written)
        if found is None:
            found = keysets[written] = frozenset(written)
        return found

    parsed: dict[tuple, Any] = {}  # (type, its params' written values and their types) -> parsed params

    def _params(kind, raw: dict) -> Any:
        """The layer's parsed params; a big spec repeats a few kinds of layer thousands of times, and
        params are frozen, so layers written alike share one parse."""
        values = [raw.get(name, _ABSENT) for name in _param_keys(kind.name)]
        key = (kind.name, *values, *map(type, values))  # types too: `1` and `true` are equal keys
        try:
            found = parsed.get(key)
        except TypeError:  # a list or mapping among the values
            return kind.parse(raw)
        if found is None:
            found = parsed[key] = kind.parse(raw)
        return found

    def _unaliased(kind, raw: dict, path: tuple) -> dict:
        """`raw` with each parameter given by another name (`decay` for `momentum`) under its own."""
        for alias, name in kind.aliases:
            if alias in raw:
                if name in raw:
                    raise doc.error(f"`{alias}` is another name for `{name}`; give one of them",
                                    path + (alias,), at_key=True)
                raw = {**raw, name: raw[alias]}
        return raw

    def _children(items: list, path: tuple, reserved: frozenset) -> tuple[LayerSpec, ...]:
        seen: dict[str, int] = {}
        out = []
        wheres = doc.items_where(path, len(items))
        for i, raw in enumerate(items):
            ident = raw["id"]
            if ident in seen:
                first = doc.where(path + (seen[ident], "id"), at_key=True)
                raise doc.error(
                    f"duplicate id '{ident}' (first used at line {first.line}); ids must be unique "
                    "among the layers of one block", path + (i, "id"), at_key=True)
            seen[ident] = i
            where = wheres[i]
            out.append(layer(raw, where.path, reserved, where))
        return tuple(out)

    inputs = []
    for name, raw in (data.get("inputs") or {}).items():
        has_default = "default" in raw
        inputs.append(InputSpec(name, tuple(raw["shape"]), raw.get("dtype", "float32"),
                                raw.get("default"), has_default, doc.where(("inputs", name), at_key=True)))
    layers = _children(data["layers"], ("layers",), frozenset())
    input_names = {i.name for i in inputs}
    reader = None if TRAINING_FLAG in input_names else _first_flag_reader(layers)
    if reader is not None:  # the model's training flag, false unless fed (specc train feeds it true)
        inputs.append(InputSpec(TRAINING_FLAG, (), "bool", False, True, reader.where, implied=True))
    for child in layers:
        if child.id == TRAINING_FLAG and reader is not None:
            raise doc.error(
                f"id '{TRAINING_FLAG}' is also the name of the model's training flag, the input that "
                f"'{reader.id}' (line {reader.where.line}) reads because it sets no `training:`; rename this "
                f"layer, or give every dropout and batch_norm an explicit `training:`",
                child.path + ("id",), at_key=True)
        if child.id in input_names:
            raise doc.error(
                f"id '{child.id}' is also the name of an input; references would be ambiguous, "
                "so rename one of them", child.path + ("id",), at_key=True)
    outputs = tuple(ref(t, ("outputs", i)) for i, t in enumerate(data.get("outputs", [])))
    name = data.get("name") or name_from_file(doc.file, "model")
    return Spec(name, int(data.get("seed", 0)), tuple(inputs), layers, outputs,
                tuple((data.get("vars") or {}).items()), doc, _train(data.get("train")),
                parse_placement(data.get("placement")))


# The model's training flag: the scalar bool input that dropout and batch_norm read unless their
# `training:` says otherwise. A spec with such a layer and no input of this name gets one,
# `placeholder_with_default(False, shape=[], name="training")`; `specc train` feeds it true.
TRAINING_FLAG = "training"


def reads_flag(params: Any) -> bool:
    """Whether a layer's parameters read the model's training flag (a `training` left unset)."""
    return hasattr(params, "training") and params.training is None


def _first_flag_reader(layers: tuple[LayerSpec, ...]) -> LayerSpec | None:
    todo = list(reversed(layers))
    while todo:
        spec = todo.pop()
        if reads_flag(spec.params):
            return spec
        todo += reversed(spec.layers or ())
    return None


_TRAIN_NUMBERS = {"learning_rate": float, "momentum": float, "steps": int, "batch_size": int, "seed": int,
                  "margin": float}


def _train(raw: dict | None) -> TrainSpec | None:
    """The `train:` section (validated: its keys and their types are the schema's)."""
    if raw is None:
        return None
    values = {k: _TRAIN_NUMBERS[k](v) if k in _TRAIN_NUMBERS else v for k, v in raw.items() if k != "feed"}
    return TrainSpec(**values, feed=tuple((raw.get("feed") or {}).items()), keys=frozenset(raw))


def name_from_file(file: str, fallback: str) -> str:
    """A name for what a file defines, from its stem: safe as a directory name, never hidden."""
    from pathlib import Path
    import re

    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(file).stem) or fallback
    return stem if stem[0] not in ".-" else fallback[0] + stem
