"""What every layer type provides to the planner: parse its keys, infer its output and variables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..errors import SpecError
from ..spec import Initializer

FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


@dataclass(frozen=True)
class TensorInfo:
    """A tensor's static shape (None where unknown) and dtype."""

    shape: tuple[int | None, ...]
    dtype: str

    def __str__(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.dtype}[{dims}]"


@dataclass(frozen=True)
class VarRequest:
    """A variable a layer asks for by its local name inside the layer's variable scope."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    initializer: Initializer
    trainable: bool = True
    # The layer assigns to it whenever it runs in training (batch norm's moving statistics).
    updated: bool = False
    # The full name of a variable another layer created, used here as is (a tied embedding
    # table): nothing is created or re-entered, the variable object itself is passed along.
    borrow: str | None = None


@dataclass(frozen=True)
class Inferred:
    """What a layer produces: its output, the variables it needs, and the names its ops
    ask for directly inside its name scope, in creation order (`MatMul`, or `lstm_cell`
    once per step). The planner uniquifies them exactly as TensorFlow's Graph.unique_name
    does, and the emitter checks the result."""

    output: TensorInfo
    variables: tuple[VarRequest, ...] = ()
    ops: tuple[str, ...] = ()


@dataclass(frozen=True)
class LayerView:
    """Another, already planned layer as a layer type may see it (`tie: emb`).

    Attributes:
        path: its dotted path.
        type: its layer type.
        params: its parsed parameters.
        variables: local name -> (full name, shape, dtype) of the variables it uses.
    """

    path: str
    type: str
    params: Any
    variables: dict[str, tuple[str, tuple[int, ...], str]]


class LayerContext:
    """Errors about one layer, located at the layer or at one of its keys; the variable
    scope it is planned in; and a way to look at other layers it names (`tie:`)."""

    def __init__(self, fail: Callable[[str, str | None], SpecError], layer_id: str,
                 var_scope: str | None = None,
                 lookup: Callable[[str, str], LayerView] | None = None):
        self._fail = fail
        self._lookup = lookup
        self.layer_id = layer_id
        self.var_scope = var_scope

    def error(self, message: str, key: str | None = None) -> SpecError:
        return self._fail(message, key)

    def layer(self, path: str, key: str) -> LayerView:
        """The planned layer at `path` (resolved like `share:`), errors located at `key`."""
        if self._lookup is None:
            raise self.error(f"`{key}` cannot refer to another layer here", key)
        return self._lookup(path, key)


@dataclass(frozen=True)
class LayerType:
    """A layer type: `parse` reads its own keys into frozen params; `infer` plans it.

    Attributes:
        arity: "single" (an `input`), "multi" (an `inputs` list) or "block".
        scoped: whether it creates variables in a variable_scope of its own.
        refs: the further inputs its params name, as (spec key path, reference) pairs, e.g.
            ((("initial_state", 0), "h0"),); the planner resolves them and appends them,
            in this order, to the inputs `infer` sees and the emitter receives.
    """

    name: str
    parse: Callable[[dict], Any]
    infer: Callable[[Any, list[TensorInfo], str, LayerContext], Inferred]
    arity: str = "single"
    scoped: bool = False
    refs: Callable[[Any], tuple[tuple[tuple, str], ...]] = lambda params: ()


def same_dtype(inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> None:
    """Float layers compute in one dtype; a mismatched input is a spec error, not a TF crash."""
    for i, t in enumerate(inputs):
        if t.dtype != dtype:
            which = f"input {i}" if len(inputs) > 1 else "its input"
            raise ctx.error(
                f"{which} is {t.dtype} but the layer computes in {dtype}; set `dtype: {t.dtype}` "
                f"on the layer, or give the input dtype {dtype}"
            )


def layer_dtype(explicit: str | None, inputs: list[TensorInfo]) -> str:
    """A layer's dtype: explicit, else its first input's float dtype, else float32."""
    if explicit:
        return explicit
    if inputs and inputs[0].dtype in FLOAT_DTYPES:
        return inputs[0].dtype
    return "float32"


def initializer(value: Any, default: str) -> Initializer:
    """Parse `glorot_uniform` or `{type: truncated_normal, stddev: 0.02}`."""
    if value is None:
        return Initializer(default)
    if isinstance(value, str):
        return Initializer(value)
    args = tuple(sorted((k, float(v)) for k, v in value.items() if k != "type"))
    return Initializer(value["type"], args)
