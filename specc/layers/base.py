"""What layer types plan with: tensors, variable requests, initializers, and the context errors come from."""

from __future__ import annotations

from typing import Any, Callable

from ..errors import SpecError
from ..record import record

FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
DTYPES = FLOAT_DTYPES + ("int8", "int16", "int32", "int64", "uint8", "bool")


# name -> (the arguments it takes, its tf.compat.v1 initializer given those arguments). The
# schema's initializer names and keys come from this table, so a new one is one line here.
INITIALIZERS: dict[str, tuple[tuple[str, ...], Callable[[Any, dict], Any]]] = {
    "zeros": ((), lambda v1, a: v1.zeros_initializer()),
    "ones": ((), lambda v1, a: v1.ones_initializer()),
    "constant": (("value",), lambda v1, a: v1.constant_initializer(a.get("value", 0.0))),
    "glorot_uniform": ((), lambda v1, a: v1.glorot_uniform_initializer()),
    "glorot_normal": ((), lambda v1, a: v1.glorot_normal_initializer()),
    "he_uniform": ((), lambda v1, a: v1.initializers.he_uniform()),
    "he_normal": ((), lambda v1, a: v1.initializers.he_normal()),
    "lecun_uniform": ((), lambda v1, a: v1.initializers.lecun_uniform()),
    "lecun_normal": ((), lambda v1, a: v1.initializers.lecun_normal()),
    "orthogonal": (("gain",), lambda v1, a: v1.orthogonal_initializer(gain=a.get("gain", 1.0))),
    "truncated_normal": (("mean", "stddev"),
                         lambda v1, a: v1.truncated_normal_initializer(a.get("mean", 0.0), a.get("stddev", 1.0))),
    "random_normal": (("mean", "stddev"),
                      lambda v1, a: v1.random_normal_initializer(a.get("mean", 0.0), a.get("stddev", 1.0))),
    "random_uniform": (("minval", "maxval"),
                       lambda v1, a: v1.random_uniform_initializer(a.get("minval", 0.0), a.get("maxval", 1.0))),
}


@record
class Initializer:
    """An initializer by name with its arguments, e.g. truncated_normal(stddev=0.02)."""

    type: str
    args: tuple[tuple[str, float], ...] = ()

    def __str__(self) -> str:
        if not self.args:
            return self.type
        return f"{self.type}({', '.join(f'{k}={v:g}' for k, v in self.args)})"

    def to_json(self) -> dict:
        return {"type": self.type, **dict(self.args)}

    @classmethod
    def parse(cls, value: Any) -> "Initializer":
        """`glorot_uniform` or `{type: truncated_normal, stddev: 0.02}`."""
        if isinstance(value, Initializer):
            return value
        if isinstance(value, str):
            return cls(value)
        return cls(value["type"], tuple(sorted((k, float(v)) for k, v in value.items() if k != "type")))

    def make(self, tf) -> Any:
        """The tf.compat.v1 initializer."""
        return INITIALIZERS[self.type][1](tf.compat.v1, dict(self.args))


@record
class TensorInfo:
    """A tensor's static shape (None where unknown) and dtype."""

    shape: tuple[int | None, ...]
    dtype: str

    def __str__(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.dtype}[{dims}]"


@record
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
    # A static unroll applies the variable at `steps` time steps, each with its own copy of the
    # ops, all in `op_scope` (relative to the layer's name scope, e.g. `lstm_cell`).
    steps: int = 1
    op_scope: str = ""


@record
class Inferred:
    """What a layer produces: its output, the variables it needs, and the names its ops
    ask for directly inside its name scope, in creation order (`MatMul`, or `lstm_cell`
    once per step). The planner uniquifies them exactly as TensorFlow's Graph.unique_name
    does, and the emitter checks the result."""

    output: TensorInfo
    variables: tuple[VarRequest, ...] = ()
    ops: tuple[str, ...] = ()


@record
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
        self._var_scope = var_scope
        # Whether `infer` looked at more than its params, inputs and dtype (the scope, another layer):
        # only an inference that did not can serve every layer with the same params and inputs.
        self.looked_around = False

    @property
    def var_scope(self) -> str | None:
        self.looked_around = True
        return self._var_scope

    def error(self, message: str, key: str | None = None) -> SpecError:
        return self._fail(message, key)

    def layer(self, path: str, key: str) -> LayerView:
        """The planned layer at `path` (resolved like `share:`), errors located at `key`."""
        self.looked_around = True
        if self._lookup is None:
            raise self.error(f"`{key}` cannot refer to another layer here", key)
        return self._lookup(path, key)


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


def value_problem(value: Any, shape: tuple, dtype: str, what: str = "input") -> str | None:
    """Why `value` cannot be a tensor of this shape and dtype (a placeholder's default, a constant), or None."""
    if len(shape) == 0:
        if isinstance(value, list):
            return "must be a single value for shape []"
        if dtype == "bool":
            return None if isinstance(value, bool) else f"must be true or false for a bool {what}, got {value!r}"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number for a {dtype} {what}, got {value!r}"
        if dtype.startswith(("int", "uint")) and not isinstance(value, int):
            return f"must be an integer for a {dtype} {what}, got {value!r}"
        return None
    if not isinstance(value, list):
        return f"must be a nested list of shape {list(shape)}"
    if shape[0] is not None and len(value) != shape[0]:
        return f"has {len(value)} entries where the shape {list(shape)} needs {shape[0]}"
    for item in value:
        problem = value_problem(item, shape[1:], dtype, what)
        if problem:
            return problem
    return None
