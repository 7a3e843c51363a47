"""Core layers: dense, activations, dropout, element-wise combinations, concat and shape changes."""

from __future__ import annotations

import functools
import math
from typing import ClassVar

from .activations import ACTIVATION_OPS, activation
from .base import Inferred, Initializer, LayerContext, TensorInfo, VarRequest, same_dtype
from .declare import (ACTIVATION, BOOL, FLAG, INITIALIZER, INT32_MAX, INTEGER, POSITIVE_INT, REF, enum, layer,
                      number, param)
from .embedding import tied_table

FAMILY = "Core layers"
ORDER = 10

# -- dense -------------------------------------------------------------------------------


@layer("dense", scoped=True,
       doc="A fully connected layer: `activation(input · kernel + bias)` over the last axis, as "
           "`tf.compat.v1.layers.dense`.",
       example={"id": "fc1", "type": "dense", "units": 128, "activation": "relu"},
       variables="`kernel` [in, units], `bias` [units]; with `tie` only `bias`",
       ops="`MatMul` (`Tensordot` for inputs of rank > 2), `BiasAdd`, the activation")
class Dense:
    units: int = param(POSITIVE_INT, "The output width.", required=True, example=128)
    activation: str = param(ACTIVATION, "The activation applied to the result.", default="linear", example="relu")
    use_bias: bool = param(BOOL, "Add a bias vector.", default=True)
    # get_variable's own default for float variables, as in tf.compat.v1.layers.dense.
    kernel_initializer: Initializer = param(INITIALIZER, "How the kernel starts.", default="glorot_uniform",
                                            convert=Initializer.parse,
                                            example={"type": "truncated_normal", "stddev": 0.02})
    bias_initializer: Initializer = param(INITIALIZER, "How the bias starts.", default="zeros",
                                          convert=Initializer.parse)
    tie: str | None = param(REF, "An `embedding` layer's path: logits = input · tableᵀ + bias, with no kernel of "
                                 "its own (a tied output projection).", default=None, example="embed")
    transpose_kernel: bool = param(BOOL, "Store the kernel as [units, in] and multiply by its transpose "
                                         "(BERT's `output_weights`).", default=False)

    def infer(self, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
        (x,) = inputs
        same_dtype(inputs, dtype, ctx)
        if len(x.shape) < 2:
            raise ctx.error(f"dense needs an input of rank 2 or more, got {x}", "input")
        if x.shape[-1] is None:
            raise ctx.error(f"dense needs a known last input dimension to size its kernel, got {x}", "input")
        if self.tie is not None:
            variables = [tied_table(self.tie, x, self.units, dtype, ctx)]
        else:
            shape = (self.units, x.shape[-1]) if self.transpose_kernel else (x.shape[-1], self.units)
            variables = [VarRequest("kernel", shape, dtype, self.kernel_initializer)]
        if self.use_bias:
            variables.append(VarRequest("bias", (self.units,), dtype, self.bias_initializer))
        # Rank > 2 goes through tensordot, as tf.compat.v1.layers.dense did.
        ops = ("MatMul",) if len(x.shape) == 2 else ("Tensordot",)
        ops += ("BiasAdd",) if self.use_bias else ()
        ops += ACTIVATION_OPS[self.activation]
        return Inferred(TensorInfo(x.shape[:-1] + (self.units,), dtype), tuple(variables), ops)

    def emit(self, tf, layer, xs, variables):
        x = xs[0]
        if self.tie is not None:
            # Tied to an embedding table [vocab, width]: logits = x · tableᵀ, as BERT's output layer.
            table = variables["table"]
            if x.shape.rank == 2:
                y = tf.matmul(x, table, transpose_b=True)
            else:
                y = tf.tensordot(x, table, [[x.shape.rank - 1], [1]])
        elif x.shape.rank == 2:
            y = tf.matmul(x, variables["kernel"], transpose_b=self.transpose_kernel)
        else:
            y = tf.tensordot(x, variables["kernel"], [[x.shape.rank - 1], [1 if self.transpose_kernel else 0]])
        if "bias" in variables:
            y = tf.nn.bias_add(y, variables["bias"])
        return activation(tf, self.activation, y)


# -- activation --------------------------------------------------------------------------

@layer("activation", doc="An activation function on its own.",
       example={"id": "act", "type": "activation", "activation": "gelu"},
       ops="the activation (`Identity` for `linear`)")
class Activation:
    activation: str = param(ACTIVATION, "The activation to apply.", required=True, example="relu")

    def infer(self, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
        (x,) = inputs
        same_dtype(inputs, dtype, ctx)
        return Inferred(x, (), ACTIVATION_OPS[self.activation] or ("Identity",))

    def emit(self, tf, layer, xs, variables):
        return tf.identity(xs[0]) if self.activation == "linear" else activation(tf, self.activation, xs[0])


# -- dropout -----------------------------------------------------------------------------

@layer("dropout", doc="Dropout (`tf.nn.dropout`) while training; the identity otherwise.",
       example={"id": "drop", "type": "dropout", "rate": 0.1, "training": "is_training"},
       ops="`dropout/...` when `true`; `Identity` when `false`; `cond` (a `tf.cond`) for a flag")
class Dropout:
    rate: float = param(number(minimum=0, exclusiveMaximum=1), "The fraction of values dropped, 0 ≤ rate < 1.",
                        required=True, example=0.1, convert=float)
    # a constant, or the name of a bool input (resolved by the planner)
    training: bool | str | None = param(FLAG, "`true`, `false`, or the name of a scalar bool input (a training flag); "
                                              "unset, the model's training flag `training` (false unless fed; "
                                              "`specc train` feeds it true).",
                                        default=None, example="is_training")

    def infer(self, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
        (x,) = inputs
        same_dtype(inputs, dtype, ctx)
        if isinstance(self.training, bool):
            return Inferred(x, (), ("dropout",) if self.training and self.rate > 0 else ("Identity",))
        return Inferred(x, (), ("cond",))

    def emit(self, tf, layer, xs, variables):
        x, rate, training = xs[0], self.rate, self.training
        if isinstance(training, bool):
            return tf.nn.dropout(x, rate=rate) if training and rate > 0 else tf.identity(x)
        return tf.cond(xs[1], lambda: tf.nn.dropout(x, rate=rate), lambda: tf.identity(x))


# -- element-wise combinations -----------------------------------------------------------

def broadcast(inputs: list[TensorInfo], ctx: LayerContext) -> tuple[int | None, ...]:
    """NumPy broadcasting over static shapes, None meaning unknown."""
    rank = max(len(t.shape) for t in inputs)
    out: list[int | None] = []
    for axis in range(-rank, 0):
        dims = {t.shape[axis] for t in inputs if len(t.shape) >= -axis}
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            shapes = ", ".join(str(t) for t in inputs)
            raise ctx.error(f"inputs cannot be broadcast together: {shapes}", "inputs")
        if known:
            out.append(known.pop())
        elif None in dims:
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


class _Combine:
    """add, subtract, multiply: no parameters of their own; NumPy broadcasting."""

    TWO: ClassVar[str]            # the op for two inputs
    MANY: ClassVar[str | None]    # one op for more, or None: chained (Mul, then Mul_1, ...)

    def infer(self, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
        same_dtype(inputs, dtype, ctx)
        shape = broadcast(inputs, ctx)
        if len(inputs) == 2 or self.MANY is None:
            ops = (self.TWO,) * (len(inputs) - 1)
        else:
            ops = (self.MANY,)
        return Inferred(TensorInfo(shape, dtype), (), ops)


@layer("add", arity="multi", inputs=(2, None), doc="The element-wise sum of its inputs (broadcasting).",
       example={"id": "residual", "type": "add", "inputs": ["out", "input"]},
       ops="`Add` for two (`tf.add`), `AddN` for more")
class Add(_Combine):
    TWO, MANY = "Add", "AddN"   # tf.add for two, tf.add_n for more

    def emit(self, tf, layer, xs, variables):
        return tf.add(xs[0], xs[1]) if len(xs) == 2 else tf.math.add_n(xs)


@layer("subtract", arity="multi", inputs=(2, 2), doc="The first input minus the second (broadcasting).",
       example={"id": "gap", "type": "subtract", "inputs": ["left", "right"]}, ops="`Sub`")
class Subtract(_Combine):
    TWO, MANY = "Sub", None

    def emit(self, tf, layer, xs, variables):
        return tf.subtract(xs[0], xs[1])


@layer("multiply", arity="multi", inputs=(2, None), doc="The element-wise product of its inputs (broadcasting).",
       example={"id": "gated", "type": "multiply", "inputs": ["values", "gate"]}, ops="`Mul`, `Mul_1`, ...")
class Multiply(_Combine):
    TWO, MANY = "Mul", None

    def emit(self, tf, layer, xs, variables):
        return functools.reduce(tf.multiply, xs)


# -- concat ------------------------------------------------------------------------------

@layer("concat", arity="multi", inputs=(2, None), doc="Its inputs joined along one axis.",
       example={"id": "both", "type": "concat", "inputs": ["left", "right"], "axis": -1}, ops="`concat`")
class Concat:
    axis: int = param(INTEGER, "The axis to join along; negative counts from the end.", default=-1)

    def infer(self, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
        same_dtype(inputs, dtype, ctx)
        ranks = {len(t.shape) for t in inputs}
        if len(ranks) != 1:
            raise ctx.error(f"concat needs inputs of one rank, got {', '.join(map(str, inputs))}", "inputs")
        rank = ranks.pop()
        if not -rank <= self.axis < rank:
            raise ctx.error(f"axis {self.axis} is out of range for rank-{rank} inputs", "axis")
        axis = self.axis % rank
        shape: list[int | None] = []
        for a in range(rank):
            dims = [t.shape[a] for t in inputs]
            if a == axis:
                shape.append(None if None in dims else sum(dims))
                continue
            known = {d for d in dims if d is not None}
            if len(known) > 1:
                raise ctx.error(
                    f"inputs differ in dimension {a} ({', '.join(map(str, inputs))}); "
                    f"only the concat axis {self.axis} may differ", "inputs")
            shape.append(known.pop() if known else None)
        return Inferred(TensorInfo(tuple(shape), dtype), (), ("concat",))

    def emit(self, tf, layer, xs, variables):
        return tf.concat(xs, axis=self.axis)


# -- reshape, flatten, identity ----------------------------------------------------------

_DIM = {"anyOf": [{"type": "integer", "minimum": 1, "maximum": INT32_MAX}, {"const": -1}]}


@layer("reshape", float_only=False,
       doc="A new shape for the same values. By default `shape` is the shape after the batch dimension, which "
           "stays; `batch: fold` merges the batch into the first dimension and `batch: unfold` splits it out "
           "again, as BERT's `reshape_to_matrix` and `reshape_from_matrix` do: `shape` is then the whole "
           "shape, and its first entry, `-1`, is where the batch goes.",
       example={"id": "to_matrix", "type": "reshape", "batch": "fold", "shape": [-1, 768]}, ops="`Reshape`")
class Reshape:
    shape: tuple[int, ...] = param({"type": "array", "minItems": 1, "items": _DIM},
                                   "The new shape: after the batch dimension (`batch: keep`), or whole, starting "
                                   "with -1 (`fold`, `unfold`). One entry may be -1.",
                                   required=True, example=[-1, 768], convert=tuple)
    batch: str = param(enum("keep", "fold", "unfold"),
                       "`keep`: the batch dimension stays and `shape` follows it. `fold`: the batch merges into "
                       "the first dimension ([batch, seq, width] -> [batch·seq, width]). `unfold`: the first "
                       "dimension splits into the batch and the rest ([batch·seq, width] -> [batch, seq, width]).",
                       default="keep")

    def infer(self, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
        (x,) = inputs
        if not x.shape:
            raise ctx.error("reshape needs an input with a batch dimension", "input")
        if self.shape.count(-1) > 1:
            raise ctx.error("at most one dimension of `shape` may be -1", "shape")
        if self.batch == "keep":
            return Inferred(TensorInfo((x.shape[0],) + self._keep(x, ctx), x.dtype), (), ("Reshape",))
        return Inferred(TensorInfo(self._whole(x, ctx), x.dtype), (), ("Reshape",))

    def _keep(self, x: TensorInfo, ctx: LayerContext) -> tuple[int | None, ...]:
        rest = x.shape[1:]
        target: tuple[int | None, ...] = self.shape
        if None not in rest:
            size = math.prod(rest)
            known = math.prod(d for d in self.shape if d != -1)
            if -1 in self.shape:
                if size % known:
                    raise ctx.error(f"cannot reshape {x} to [batch, {_dims(self.shape)}]: {size} is not divisible "
                                    f"by {known}", "shape")
                target = tuple(size // known if d == -1 else d for d in self.shape)
            elif known != size:
                raise ctx.error(f"cannot reshape {x} to [batch, {_dims(self.shape)}]: {size} values per example, "
                                f"not {known}", "shape")
        elif -1 in self.shape:
            target = tuple(None if d == -1 else d for d in self.shape)
        if x.shape[0] is None and -1 in self.shape:
            raise ctx.error("with an unknown batch dimension the batch takes the -1; give every other dimension",
                            "shape")
        return target

    def _whole(self, x: TensorInfo, ctx: LayerContext) -> tuple[int | None, ...]:
        """`fold` and `unfold`: `shape` is the whole shape, -1 first (where the batch goes)."""
        if self.shape[0] != -1:
            raise ctx.error(f"with `batch: {self.batch}` `shape` is the whole shape and starts with -1, where the "
                            f"batch goes; got [{_dims(self.shape)}]", "shape")
        if None in x.shape[1:]:
            raise ctx.error(f"`batch: {self.batch}` needs every dimension after the batch known, got {x}", "input")
        per_input, per_output = math.prod(x.shape[1:]), math.prod(self.shape[1:])
        if self.batch == "fold":
            # [batch, a, b] -> [batch·a, b]: each example's values fill whole rows.
            if len(self.shape) >= len(x.shape) or per_input % per_output:
                raise ctx.error(f"`batch: fold` merges the batch into the first dimension: each example's "
                                f"{per_input} values must fill whole rows of {per_output}, in fewer dimensions "
                                f"than the input {x}; got [{_dims(self.shape)}]", "shape")
            rows = per_input // per_output
        else:
            # [batch·a, b] -> [batch, a, b]: the first dimension holds whole examples.
            if len(self.shape) <= len(x.shape) or per_output % per_input:
                raise ctx.error(f"`batch: unfold` splits the first dimension into the batch and the rest: each "
                                f"example's {per_output} values must be whole rows of the input {x}, in more "
                                f"dimensions than it has; got [{_dims(self.shape)}]", "shape")
            rows = per_output // per_input
        first = x.shape[0]
        if first is None:
            return (None,) + self.shape[1:]
        if self.batch == "fold":
            return (first * rows,) + self.shape[1:]
        if first % rows:
            raise ctx.error(f"`batch: unfold` splits {first} rows into examples of {rows}: {first} is not a "
                            f"multiple of {rows}", "shape")
        return (first // rows,) + self.shape[1:]

    def emit(self, tf, layer, xs, variables):
        if self.batch == "keep":
            return tf.reshape(xs[0], [-1 if d is None else d for d in layer.output.shape])
        return tf.reshape(xs[0], list(self.shape))


def _dims(shape) -> str:
    return ", ".join(str(d) for d in shape)


@layer("flatten", float_only=False, doc="Everything after the batch dimension in one: [batch, everything else].",
       example={"id": "flat", "type": "flatten"}, ops="`Reshape` to [batch, everything else]")
class Flatten:
    def infer(self, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
        (x,) = inputs
        if len(x.shape) < 2:
            raise ctx.error(f"flatten needs an input of rank 2 or more, got {x}", "input")
        if None in x.shape[1:]:
            raise ctx.error(f"flatten needs known dimensions after the batch, got {x}", "input")
        return Inferred(TensorInfo((x.shape[0], math.prod(x.shape[1:])), x.dtype), (), ("Reshape",))

    def emit(self, tf, layer, xs, variables):
        return tf.reshape(xs[0], [-1, layer.output.shape[1]])


@layer("identity", float_only=False, doc="Its input, unchanged (`tf.identity`): a named point in the graph.",
       example={"id": "features", "type": "identity", "input": "encoder"}, ops="`Identity`")
class Identity:
    def infer(self, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
        (x,) = inputs
        return Inferred(x, (), ("Identity",))

    def emit(self, tf, layer, xs, variables):
        return tf.identity(xs[0])


# -- slice -------------------------------------------------------------------------------

@layer("slice", float_only=False,
       doc="A contiguous range of one axis, as Python slicing `x[:, begin:begin + size]` does; `squeeze` drops "
           "the axis, as BERT's pooler takes the first token.",
       example={"id": "first_token", "type": "slice", "axis": 1, "size": 1, "squeeze": True},
       ops="`strided_slice`, `Squeeze` (see [Slices](#slices))")
class Slice:
    axis: int = param(INTEGER, "The axis to slice; negative counts from the end.", required=True, example=1)
    begin: int = param({"type": "integer", "minimum": 0, "maximum": INT32_MAX}, "The first index kept.", default=0)
    size: int = param(_DIM, "How many indices are kept; -1: to the end of the axis.", default=-1)
    squeeze: bool = param(BOOL, "Drop the sliced axis (needs `size: 1`): the first token of a sequence as "
                                "[batch, width].", default=False)

    def infer(self, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
        (x,) = inputs
        rank = len(x.shape)
        if not -rank <= self.axis < rank:
            raise ctx.error(f"axis {self.axis} is out of range for {x}", "axis")
        axis = self.axis % rank
        dim = x.shape[axis]
        if dim is not None and self.begin >= dim:
            raise ctx.error(f"`begin` {self.begin} is past the end of axis {self.axis} of {x}", "begin")
        if dim is not None and self.size != -1 and self.begin + self.size > dim:
            raise ctx.error(f"`begin` {self.begin} + `size` {self.size} runs past the end of axis {self.axis} of {x}",
                            "size")
        if self.squeeze and self.size != 1:
            raise ctx.error("`squeeze` drops the sliced axis, so it needs `size: 1`", "squeeze")
        if self.size != -1:
            out: int | None = self.size
        else:
            out = None if dim is None else dim - self.begin
        shape = x.shape[:axis] + (() if self.squeeze else (out,)) + x.shape[axis + 1:]
        # Python slicing (`x[:, 0:1]`) makes a strided_slice, as BERT's pooler does.
        return Inferred(TensorInfo(shape, x.dtype), (), ("strided_slice",) + (("Squeeze",) if self.squeeze else ()))

    def emit(self, tf, layer, xs, variables):
        x = xs[0]
        axis = self.axis % x.shape.rank
        end = None if self.size == -1 else self.begin + self.size
        # One strided_slice over every axis, as BERT's pooler writes `x[:, 0:1, :]`.
        y = x[(slice(None),) * axis + (slice(self.begin, end),) + (slice(None),) * (x.shape.rank - axis - 1)]
        return tf.squeeze(y, axis=axis) if self.squeeze else y
