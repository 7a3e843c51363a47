"""Planners for the core layer types: one small parse and infer function pair each."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..spec import Initializer
from .activations import ACTIVATION_OPS
from .base import Inferred, LayerContext, TensorInfo, VarRequest, initializer, same_dtype
from .embedding import tied_table


# -- dense -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Dense:
    units: int
    activation: str
    use_bias: bool
    kernel_initializer: Initializer
    bias_initializer: Initializer
    tie: str | None = None  # an embedding layer's path: logits = x · tableᵀ + bias, no kernel
    transpose_kernel: bool = False  # kernel stored [units, in], used as x · kernelᵀ (BERT's output_weights)


def parse_dense(raw: dict) -> Dense:
    return Dense(
        units=raw["units"],
        activation=raw.get("activation", "linear"),
        use_bias=raw.get("use_bias", True),
        # get_variable's own default for float variables, as in tf.compat.v1.layers.dense.
        kernel_initializer=initializer(raw.get("kernel_initializer"), "glorot_uniform"),
        bias_initializer=initializer(raw.get("bias_initializer"), "zeros"),
        tie=raw.get("tie"),
        transpose_kernel=raw.get("transpose_kernel", False),
    )


def infer_dense(p: Dense, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
    (x,) = inputs
    same_dtype(inputs, dtype, ctx)
    if len(x.shape) < 2:
        raise ctx.error(f"dense needs an input of rank 2 or more, got {x}", "input")
    if x.shape[-1] is None:
        raise ctx.error(f"dense needs a known last input dimension to size its kernel, got {x}", "input")
    if p.tie is not None:
        variables = [tied_table(p.tie, x, p.units, dtype, ctx)]
    else:
        shape = (p.units, x.shape[-1]) if p.transpose_kernel else (x.shape[-1], p.units)
        variables = [VarRequest("kernel", shape, dtype, p.kernel_initializer)]
    if p.use_bias:
        variables.append(VarRequest("bias", (p.units,), dtype, p.bias_initializer))
    # Rank > 2 goes through tensordot, as tf.compat.v1.layers.dense did.
    ops = ("MatMul",) if len(x.shape) == 2 else ("Tensordot",)
    ops += ("BiasAdd",) if p.use_bias else ()
    ops += ACTIVATION_OPS[p.activation]
    return Inferred(TensorInfo(x.shape[:-1] + (p.units,), dtype), tuple(variables), ops)


# -- activation --------------------------------------------------------------------------

@dataclass(frozen=True)
class Activation:
    activation: str


def parse_activation(raw: dict) -> Activation:
    return Activation(raw["activation"])


def infer_activation(p: Activation, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
    (x,) = inputs
    same_dtype(inputs, dtype, ctx)
    return Inferred(x, (), ACTIVATION_OPS[p.activation] or ("Identity",))


# -- dropout -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Dropout:
    rate: float
    training: bool | str  # a constant, or the name of a bool input (resolved by the planner)


def parse_dropout(raw: dict) -> Dropout:
    return Dropout(float(raw["rate"]), raw.get("training", False))


def infer_dropout(p: Dropout, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
    (x,) = inputs
    same_dtype(inputs, dtype, ctx)
    if isinstance(p.training, bool):
        return Inferred(x, (), ("dropout",) if p.training and p.rate > 0 else ("Identity",))
    return Inferred(x, (), ("cond",))


# -- element-wise combinations -----------------------------------------------------------

@dataclass(frozen=True)
class Combine:
    """add, subtract, multiply: no parameters of their own."""


def parse_combine(raw: dict) -> Combine:
    return Combine()


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


def _combiner(two: str, many: str | None):
    def infer(p: Combine, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
        same_dtype(inputs, dtype, ctx)
        shape = broadcast(inputs, ctx)
        if len(inputs) == 2 or many is None:
            ops = (two,) * (len(inputs) - 1)  # chained: Mul, then TensorFlow's Mul_1, ...
        else:
            ops = (many,)
        return Inferred(TensorInfo(shape, dtype), (), ops)
    return infer


infer_add = _combiner("Add", "AddN")          # tf.add for two, tf.add_n for more
infer_subtract = _combiner("Sub", None)
infer_multiply = _combiner("Mul", None)       # chained tf.multiply


# -- concat ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Concat:
    axis: int


def parse_concat(raw: dict) -> Concat:
    return Concat(raw.get("axis", -1))


def infer_concat(p: Concat, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
    same_dtype(inputs, dtype, ctx)
    ranks = {len(t.shape) for t in inputs}
    if len(ranks) != 1:
        raise ctx.error(f"concat needs inputs of one rank, got {', '.join(map(str, inputs))}", "inputs")
    rank = ranks.pop()
    if not -rank <= p.axis < rank:
        raise ctx.error(f"axis {p.axis} is out of range for rank-{rank} inputs", "axis")
    axis = p.axis % rank
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
                f"only the concat axis {p.axis} may differ", "inputs")
        shape.append(known.pop() if known else None)
    return Inferred(TensorInfo(tuple(shape), dtype), (), ("concat",))


# -- reshape, flatten, identity ----------------------------------------------------------

@dataclass(frozen=True)
class Reshape:
    shape: tuple[int, ...]  # after the batch dimension; one entry may be -1


def parse_reshape(raw: dict) -> Reshape:
    return Reshape(tuple(raw["shape"]))


def infer_reshape(p: Reshape, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
    (x,) = inputs
    if not x.shape:
        raise ctx.error("reshape needs an input with a batch dimension", "input")
    if p.shape.count(-1) > 1:
        raise ctx.error("at most one dimension of `shape` may be -1", "shape")
    rest = x.shape[1:]
    target: tuple[int | None, ...] = p.shape
    if None not in rest:
        size = math.prod(rest)
        known = math.prod(d for d in p.shape if d != -1)
        if -1 in p.shape:
            if size % known:
                raise ctx.error(f"cannot reshape {x} to [batch, {_dims(p.shape)}]: {size} is not divisible by {known}", "shape")
            target = tuple(size // known if d == -1 else d for d in p.shape)
        elif known != size:
            raise ctx.error(f"cannot reshape {x} to [batch, {_dims(p.shape)}]: {size} values per example, not {known}", "shape")
    elif -1 in p.shape:
        target = tuple(None if d == -1 else d for d in p.shape)
    if x.shape[0] is None and -1 in p.shape:
        raise ctx.error("with an unknown batch dimension the batch takes the -1; give every other dimension", "shape")
    return Inferred(TensorInfo((x.shape[0],) + tuple(target), x.dtype), (), ("Reshape",))


def _dims(shape) -> str:
    return ", ".join(str(d) for d in shape)


@dataclass(frozen=True)
class NoParams:
    pass


def parse_none(raw: dict) -> NoParams:
    return NoParams()


def infer_flatten(p: NoParams, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
    (x,) = inputs
    if len(x.shape) < 2:
        raise ctx.error(f"flatten needs an input of rank 2 or more, got {x}", "input")
    if None in x.shape[1:]:
        raise ctx.error(f"flatten needs known dimensions after the batch, got {x}", "input")
    return Inferred(TensorInfo((x.shape[0], math.prod(x.shape[1:])), x.dtype), (), ("Reshape",))


def infer_identity(p: NoParams, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
    (x,) = inputs
    return Inferred(x, (), ("Identity",))


# -- slice -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Slice:
    axis: int
    begin: int
    size: int  # -1: to the end of the axis
    squeeze: bool  # drop the axis (size 1 only): BERT's tf.squeeze(x[:, 0:1, :], axis=1)


def parse_slice(raw: dict) -> Slice:
    return Slice(raw["axis"], raw.get("begin", 0), raw.get("size", -1), raw.get("squeeze", False))


def infer_slice(p: Slice, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
    (x,) = inputs
    rank = len(x.shape)
    if not -rank <= p.axis < rank:
        raise ctx.error(f"axis {p.axis} is out of range for {x}", "axis")
    axis = p.axis % rank
    dim = x.shape[axis]
    if dim is not None and p.begin >= dim:
        raise ctx.error(f"`begin` {p.begin} is past the end of axis {p.axis} of {x}", "begin")
    if dim is not None and p.size != -1 and p.begin + p.size > dim:
        raise ctx.error(f"`begin` {p.begin} + `size` {p.size} runs past the end of axis {p.axis} of {x}", "size")
    if p.squeeze and p.size != 1:
        raise ctx.error("`squeeze` drops the sliced axis, so it needs `size: 1`", "squeeze")
    if p.size != -1:
        out: int | None = p.size
    else:
        out = None if dim is None else dim - p.begin
    shape = x.shape[:axis] + (() if p.squeeze else (out,)) + x.shape[axis + 1:]
    # Python slicing (`x[:, 0:1]`) makes a strided_slice, as BERT's pooler does.
    return Inferred(TensorInfo(shape, x.dtype), (), ("strided_slice",) + (("Squeeze",) if p.squeeze else ()))
