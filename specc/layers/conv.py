"""Planners for convolutions and pooling (channels last: NWC and NHWC)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..spec import Initializer
from .activations import ACTIVATION_OPS
from .core import NoParams
from .base import Inferred, LayerContext, TensorInfo, VarRequest, initializer, same_dtype


def _per_axis(value, rank: int) -> tuple[int, ...]:
    """`3` or `[3, 3]` -> one entry per spatial axis (the schema bounds the list's length)."""
    return tuple(value) if isinstance(value, list) else (value,) * rank


def _out_size(size: int | None, window: int, stride: int, dilation: int, padding: str) -> int | None:
    """TensorFlow's output length for one spatial axis (None stays unknown)."""
    if size is None:
        return None
    if padding == "SAME":
        return math.ceil(size / stride)
    return math.ceil((size - (window - 1) * dilation) / stride)


def _spatial(x: TensorInfo, windows, strides, dilations, padding: str, ctx: LayerContext, what: str,
             key: str) -> tuple[int | None, ...]:
    out = []
    for axis, (n, k, s, d) in enumerate(zip(x.shape[1:-1], windows, strides, dilations)):
        size = _out_size(n, k, s, d, padding)
        if size is not None and size < 1:
            span = f"{k} (dilated to {(k - 1) * d + 1})" if d > 1 else str(k)
            raise ctx.error(f"with padding VALID the {what} {span} does not fit spatial axis {axis + 1} of "
                            f"the input {x}; use a smaller `{key}` or padding SAME", key)
        out.append(size)
    return tuple(out)


def _check_input(x: TensorInfo, rank: int, kind: str, ctx: LayerContext) -> None:
    layout = {1: "[batch, width, channels]", 2: "[batch, height, width, channels]"}[rank]
    if len(x.shape) != rank + 2:
        raise ctx.error(f"{kind} needs an input of rank {rank + 2} {layout}, got {x}", "input")


# -- conv1d, conv2d ----------------------------------------------------------------------

@dataclass(frozen=True)
class Conv:
    rank: int
    filters: int
    kernel_size: tuple[int, ...]
    strides: tuple[int, ...]
    padding: str
    dilation: tuple[int, ...]
    activation: str
    use_bias: bool
    kernel_initializer: Initializer
    bias_initializer: Initializer


def _conv_parser(rank: int):
    def parse(raw: dict) -> Conv:
        return Conv(
            rank=rank,
            filters=raw["filters"],
            kernel_size=_per_axis(raw["kernel_size"], rank),
            strides=_per_axis(raw.get("strides", 1), rank),
            # tf.compat.v1.layers.conv2d's default.
            padding=raw.get("padding", "VALID").upper(),
            dilation=_per_axis(raw.get("dilation", 1), rank),
            activation=raw.get("activation", "linear"),
            use_bias=raw.get("use_bias", True),
            kernel_initializer=initializer(raw.get("kernel_initializer"), "glorot_uniform"),
            bias_initializer=initializer(raw.get("bias_initializer"), "zeros"),
        )
    return parse


parse_conv1d = _conv_parser(1)
parse_conv2d = _conv_parser(2)


def infer_conv(p: Conv, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
    (x,) = inputs
    same_dtype(inputs, dtype, ctx)
    kind = f"conv{p.rank}d"
    _check_input(x, p.rank, kind, ctx)
    if x.shape[-1] is None:
        raise ctx.error(f"{kind} needs a known channel dimension (the last) to size its kernel, got {x}", "input")
    if max(p.strides) > 1 and max(p.dilation) > 1:
        # tf.nn.convolution's own rule; refusing it here names the layer.
        raise ctx.error("`strides` greater than 1 cannot be combined with `dilation` greater than 1", "dilation")
    spatial = _spatial(x, p.kernel_size, p.strides, p.dilation, p.padding, ctx, "kernel", "kernel_size")
    variables = [VarRequest("kernel", p.kernel_size + (x.shape[-1], p.filters), dtype, p.kernel_initializer)]
    if p.use_bias:
        variables.append(VarRequest("bias", (p.filters,), dtype, p.bias_initializer))
    # tf.nn.conv1d names its scope `conv1d` (ExpandDims, Conv2D, Squeeze); conv2d is one op.
    ops = ("conv1d",) if p.rank == 1 else ("Conv2D",)
    ops += ("BiasAdd",) if p.use_bias else ()
    ops += ACTIVATION_OPS[p.activation]
    return Inferred(TensorInfo((x.shape[0],) + spatial + (p.filters,), dtype), tuple(variables), ops)


# -- max_pool2d, avg_pool2d, global_avg_pool ---------------------------------------------

@dataclass(frozen=True)
class Pool:
    pool_size: tuple[int, int]
    strides: tuple[int, int]
    padding: str


def parse_pool(raw: dict) -> Pool:
    size = _per_axis(raw["pool_size"], 2)
    # As tf.compat.v1.layers.max_pooling2d: strides default to the window, padding to VALID.
    return Pool(size, _per_axis(raw.get("strides", list(size)), 2), raw.get("padding", "VALID").upper())


def _pool(op: str):
    def infer(p: Pool, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
        (x,) = inputs
        same_dtype(inputs, dtype, ctx)
        _check_input(x, 2, op, ctx)
        spatial = _spatial(x, p.pool_size, p.strides, (1, 1), p.padding, ctx, "window", "pool_size")
        return Inferred(TensorInfo((x.shape[0],) + spatial + (x.shape[-1],), dtype), (), (op,))
    return infer


infer_max_pool2d = _pool("MaxPool2d")   # tf.nn.max_pool2d's default name
infer_avg_pool2d = _pool("AvgPool2D")   # tf.nn.avg_pool2d's (sic: the capital D differs)


def infer_global_avg_pool(p: NoParams, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
    (x,) = inputs
    same_dtype(inputs, dtype, ctx)
    if len(x.shape) < 3:
        raise ctx.error(f"global_avg_pool needs [batch, spatial..., channels] (rank 3 or more), got {x}", "input")
    return Inferred(TensorInfo((x.shape[0], x.shape[-1]), dtype), (), ("Mean",))
