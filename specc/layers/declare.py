"""Declaring a layer type: its parameters once (schema, default, description, example), next to
its planner (`infer`) and its emitter (`emit`), registered under its name by one decorator.

    @layer("dense", scoped=True, doc="...", example={...})
    class Dense:
        units: int = param(POSITIVE_INT, "The output width.", required=True, example=128)
        activation: str = param(ACTIVATION, "Applied last.", default="linear")

        def infer(self, inputs, dtype, ctx) -> Inferred: ...
        def emit(self, tf, layer, xs, variables): ...

The class becomes a frozen dataclass (the parsed parameters); the JSON Schemas, the docs'
table row and the spec parser are all read off these declarations (specc.language).
Emitters receive the `tensorflow` module as an argument, so declaring a layer type never
imports TensorFlow.
"""

from __future__ import annotations

import functools
from dataclasses import field, fields
from typing import Any, Callable

from ..record import record
from .activations import ACTIVATIONS
from .base import DTYPES, FLOAT_DTYPES, INITIALIZERS

class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()


# -- value kinds shared by many parameters: one definition each, in the schema's $defs ------

def ref_def(name: str) -> dict:
    return {"$ref": f"#/$defs/{name}"}


INT32_MAX = 2**31 - 1
NAME_PATTERN = "^[A-Za-z0-9_][A-Za-z0-9_-]*$"
SEGMENT_PATTERN = "^[A-Za-z0-9_.>-]+$"
REF_PATTERN = "^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$"

SHARED_DEFS: dict[str, dict] = {
    "id": {"type": "string", "pattern": NAME_PATTERN,
           "description": "A name: letters, digits, '_' and '-', starting with a letter, digit or '_'."},
    "segment": {"type": "string", "pattern": SEGMENT_PATTERN,
                "description": "One TensorFlow scope name (letters, digits, '_', '.', '-'; no '/', ':' or spaces)."},
    "ref": {"type": "string", "pattern": REF_PATTERN,
            "description": "An input name, a layer id, or a dotted path into blocks (`encoder.block.fc`)."},
    "positive_integer": {"type": "integer", "minimum": 1, "maximum": INT32_MAX,
                         "description": "An integer from 1 to 2147483647."},
    "float_dtype": {"enum": list(FLOAT_DTYPES), "description": "A floating-point dtype."},
    "dtype": {"enum": list(DTYPES), "description": "A TensorFlow dtype."},
    "activation": {"enum": list(ACTIVATIONS),
                   "description": "An activation function by name; `linear` applies none."},
    "initializer": {
        "description": "A variable initializer: a name (`glorot_uniform`), or a mapping with `type` and its "
                       "arguments (`{type: truncated_normal, stddev: 0.02}`).",
        "anyOf": [
            {"enum": [name for name in INITIALIZERS if name != "constant"]},
            {"type": "object",
             "properties": {
                 "type": {"enum": list(INITIALIZERS), "description": "The initializer."},
                 "value": {"type": "number", "description": "`constant`: the value (default 0)."},
                 "mean": {"type": "number", "description": "`truncated_normal`, `random_normal`: the mean (default 0)."},
                 "stddev": {"type": "number", "exclusiveMinimum": 0,
                            "description": "`truncated_normal`, `random_normal`: the standard deviation (default 1)."},
                 "minval": {"type": "number", "description": "`random_uniform`: the lower bound (default 0)."},
                 "maxval": {"type": "number", "description": "`random_uniform`: the upper bound (default 1)."},
                 "gain": {"type": "number", "exclusiveMinimum": 0,
                          "description": "`orthogonal`: the multiplicative factor (default 1)."},
             },
             "required": ["type"], "additionalProperties": False},
        ],
    },
}

REF = ref_def("ref")
POSITIVE_INT = ref_def("positive_integer")
ACTIVATION = ref_def("activation")
INITIALIZER = ref_def("initializer")
SEGMENT = ref_def("segment")
FLOAT_DTYPE = ref_def("float_dtype")
DTYPE = ref_def("dtype")
BOOL = {"type": "boolean"}
INTEGER = {"type": "integer"}
NUMBER = {"type": "number"}
FLAG = {"anyOf": [BOOL, REF]}  # true, false, or the name of a scalar bool input


def number(**bounds: float) -> dict:
    """A number within bounds given as JSON Schema keywords: number(minimum=0, exclusiveMaximum=1)."""
    return {"type": "number", **bounds}


def enum(*values: Any) -> dict:
    return {"enum": list(values)}


def per_axis(rank: int) -> dict:
    """One positive integer for every spatial axis, or a list of `rank` of them."""
    return {"anyOf": [POSITIVE_INT, {"type": "array", "items": POSITIVE_INT, "minItems": rank, "maxItems": rank}]}


def to_axes(rank: int) -> Callable[[Any], tuple[int, ...]]:
    """`3` or `[3, 3]` -> one entry per spatial axis (the schema bounds the list's length)."""
    return lambda value: tuple(value) if isinstance(value, list) else (value,) * rank


# -- parameters ----------------------------------------------------------------------------

@record
class Param:
    """One key of a layer type.

    Attributes:
        name: the key.
        attr: the attribute of the parsed parameters that holds it (the key, unless that is a
            Python keyword: rnn's `return` is `returns`).
        schema: the JSON Schema of its value (after `${...}` substitution).
        doc: what it means, in a sentence or two (markdown).
        default: its value when the key is absent, as a spec would write it (NO_DEFAULT: none;
            None: absent stays None, meaning "decided by the layer").
        required: the key must be given.
        example: a value to show in editors.
        convert: written value -> the value the parsed parameters hold (`[3, 3]` -> (3, 3)).
    """

    name: str
    schema: dict
    doc: str
    default: Any = NO_DEFAULT
    required: bool = False
    example: Any = NO_DEFAULT
    convert: Callable[[Any], Any] | None = None
    attr: str = ""

    def value(self, raw: dict) -> Any:
        """This parameter's value in the layer mapping `raw` (defaults applied, converted)."""
        value = raw[self.name] if self.name in raw else self.default
        if value is NO_DEFAULT or value is None or self.convert is None:
            return None if value is NO_DEFAULT else value
        return self.convert(value)


def param(schema: dict, doc: str, *, default: Any = NO_DEFAULT, required: bool = False, example: Any = NO_DEFAULT,
          convert: Callable[[Any], Any] | None = None, key: str = "") -> Any:
    """A dataclass field that declares a layer parameter (see Param); `key`: its key, if not the field's name."""
    info = Param(key, schema, doc, default, required, example, convert)
    if required:
        return field(metadata={"param": info})
    held = None if default is NO_DEFAULT or default is None else (convert(default) if convert else default)
    return field(default=held, metadata={"param": info})


@functools.lru_cache(maxsize=None)
def declared(cls: type) -> tuple[Param, ...]:
    """The parameters a dataclass declares with `param`, in order, named after their fields."""
    out = []
    for f in fields(cls):
        info = f.metadata.get("param")
        if info is not None:
            out.append(Param(info.name or f.name, info.schema, info.doc, info.default, info.required, info.example,
                             info.convert, f.name))
    return tuple(out)


def parse_params(cls: type, raw: dict) -> Any:
    """The parameters `cls` declares, read from a (validated) mapping."""
    return cls(**{p.attr: p.value(raw) for p in declared(cls)})


def nested(cls: type, doc: str) -> dict:
    """The schema of a mapping whose keys are the parameters `cls` declares (an rnn's `cell`)."""
    params = declared(cls)
    return {"type": "object", "description": doc,
            "properties": {p.name: property_schema(p) for p in params},
            "required": [p.name for p in params if p.required], "additionalProperties": False}


def property_schema(p: Param) -> dict:
    """A parameter's schema with its description, default and example, for editors."""
    out = dict(p.schema)
    out["description"] = p.doc
    if p.default is not NO_DEFAULT and p.default is not None:
        out["default"] = p.default
    if p.example is not NO_DEFAULT:
        out["examples"] = [p.example]
    return out


# -- layer types ---------------------------------------------------------------------------

@record
class LayerType:
    """A layer type: its parameters, how it is planned and how it is emitted.

    Attributes:
        name: the value of `type:`.
        params_class: the frozen dataclass holding its parsed parameters; its methods
            `infer(inputs, dtype, ctx) -> Inferred` (plan) and `emit(tf, layer, xs, variables)`
            (build) do the work; `refs()` names further inputs its params hold.
        doc: what it computes (markdown, one paragraph).
        arity: "single" (an `input`; default: the previous layer), "multi" (an `inputs` list), "block",
            or "source" (reads nothing, or the `input` it names).
        scoped: whether it creates variables in a variable_scope of its own (`scope`, `share`).
        inputs: for "multi", the least and most entries of `inputs` (None: no most).
        example: an example layer, for the docs and editors.
        variables: the variables it makes, for the docs (markdown).
        ops: the ops it makes in its name scope, for the docs (markdown).
        aliases: other names of a parameter (`decay` for `momentum`): alias -> parameter.
        float_only: whether its output must be a float tensor (a shape change or a constant need not be).
        family: the title of its module's family, for the docs.
        order: where its family comes in the docs and the schema.
    """

    name: str
    params_class: type
    doc: str
    arity: str = "single"
    scoped: bool = False
    inputs: tuple[int, int | None] = (1, 1)
    example: dict = field(default_factory=dict)
    variables: str = ""
    ops: str = ""
    aliases: tuple[tuple[str, str], ...] = ()
    float_only: bool = True
    family: str = ""
    order: int = 100

    @property
    def params(self) -> tuple[Param, ...]:
        return declared(self.params_class)

    def parse(self, raw: dict) -> Any:
        """The parsed parameters of a (validated) layer mapping of this type; aliases already resolved."""
        return parse_params(self.params_class, raw)

    def refs(self, params: Any) -> tuple[tuple[tuple, str], ...]:
        """The further inputs `params` name, as (key path, reference) pairs (`initial_state`, `mask`); the
        planner resolves them and appends them, in this order, to the inputs `infer` and `emit` see."""
        return params.refs() if hasattr(params, "refs") else ()

    @property
    def emits(self) -> bool:
        return hasattr(self.params_class, "emit")


# Filled by @layer as the family modules are imported (specc.layers imports them all).
REGISTERED: dict[str, LayerType] = {}


def layer(name: str, *, doc: str, example: dict, scoped: bool = False, arity: str = "single",
          inputs: tuple[int, int | None] = (1, 1), variables: str = "", ops: str = "",
          aliases: dict[str, str] | None = None, float_only: bool = True) -> Callable[[type], type]:
    """Register a class as layer type `name`; it becomes a frozen, keyword-only dataclass."""

    def register(cls: type) -> type:
        if name in REGISTERED:
            raise ValueError(f"layer type '{name}' is declared twice")
        cls = record(kw_only=True)(cls)
        module = __import__(cls.__module__, fromlist=["_"])
        REGISTERED[name] = LayerType(
            name, cls, doc, arity, scoped, inputs, example, variables, ops, tuple((aliases or {}).items()),
            float_only, family=getattr(module, "FAMILY", ""), order=getattr(module, "ORDER", 100))
        return cls

    return register
