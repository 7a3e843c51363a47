"""Convolutions and pooling, channels last (NWC and NHWC)."""

from __future__ import annotations

import math
from typing import ClassVar

from ..record import record
from .activations import ACTIVATION_OPS, activation
from .base import Inferred, Initializer, LayerContext, TensorInfo, VarRequest, same_dtype
from .declare import ACTIVATION, BOOL, INITIALIZER, POSITIVE_INT, enum, layer, param, per_axis, to_axes

FAMILY = "Convolution and pooling"
ORDER = 30

PADDING = enum("SAME", "VALID", "same", "valid")


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


def _upper(value: str) -> str:
    return value.upper()


# -- conv1d, conv2d ----------------------------------------------------------------------

def _conv(rank: int):
    axes = "one integer, or a list of one" if rank == 1 else "one integer for both axes, or [height, width]"

    class Conv:
        RANK: ClassVar[int] = rank
        filters: int = param(POSITIVE_INT, "The number of output channels.", required=True, example=32)
        kernel_size: tuple[int, ...] = param(per_axis(rank), f"The window: {axes}.", required=True, example=3,
                                             convert=to_axes(rank))
        strides: tuple[int, ...] = param(per_axis(rank), f"The step: {axes}.", default=1, convert=to_axes(rank))
        # tf.compat.v1.layers.conv2d's default.
        padding: str = param(PADDING, "`SAME` (the output keeps the input's size at stride 1) or `VALID`.",
                             default="VALID", convert=_upper)
        dilation: tuple[int, ...] = param(per_axis(rank), f"The dilation rate: {axes}.", default=1,
                                          convert=to_axes(rank))
        activation: str = param(ACTIVATION, "The activation applied to the result.", default="linear")
        use_bias: bool = param(BOOL, "Add a bias per filter.", default=True)
        kernel_initializer: Initializer = param(INITIALIZER, "How the kernel starts.", default="glorot_uniform",
                                                convert=Initializer.parse)
        bias_initializer: Initializer = param(INITIALIZER, "How the bias starts.", default="zeros",
                                              convert=Initializer.parse)

        def infer(self, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
            (x,) = inputs
            same_dtype(inputs, dtype, ctx)
            kind = f"conv{rank}d"
            _check_input(x, rank, kind, ctx)
            if x.shape[-1] is None:
                raise ctx.error(f"{kind} needs a known channel dimension (the last) to size its kernel, got {x}",
                                "input")
            if max(self.strides) > 1 and max(self.dilation) > 1:
                # tf.nn.convolution's own rule; refusing it here names the layer.
                raise ctx.error("`strides` greater than 1 cannot be combined with `dilation` greater than 1",
                                "dilation")
            spatial = _spatial(x, self.kernel_size, self.strides, self.dilation, self.padding, ctx, "kernel",
                               "kernel_size")
            variables = [VarRequest("kernel", self.kernel_size + (x.shape[-1], self.filters), dtype,
                                    self.kernel_initializer)]
            if self.use_bias:
                variables.append(VarRequest("bias", (self.filters,), dtype, self.bias_initializer))
            # tf.nn.conv1d names its scope `conv1d` (ExpandDims, Conv2D, Squeeze); conv2d is one op.
            ops = ("conv1d",) if rank == 1 else ("Conv2D",)
            ops += ("BiasAdd",) if self.use_bias else ()
            ops += ACTIVATION_OPS[self.activation]
            return Inferred(TensorInfo((x.shape[0],) + spatial + (self.filters,), dtype), tuple(variables), ops)

        def emit(self, tf, layer, xs, variables):
            x, kernel = xs[0], variables["kernel"]
            if rank == 1:
                y = tf.nn.conv1d(x, kernel, stride=self.strides[0], padding=self.padding, dilations=self.dilation[0])
            else:
                y = tf.nn.conv2d(x, kernel, strides=[1, *self.strides, 1], padding=self.padding,
                                 dilations=[1, *self.dilation, 1])
            if "bias" in variables:
                y = tf.nn.bias_add(y, variables["bias"])
            return activation(tf, self.activation, y)

    Conv.__name__ = Conv.__qualname__ = f"Conv{rank}D"
    return Conv


Conv1D = layer("conv1d", scoped=True, doc="A 1-D convolution over [batch, width, channels] (`tf.nn.conv1d`).",
               example={"id": "conv", "type": "conv1d", "filters": 64, "kernel_size": 3, "padding": "SAME"},
               variables="`kernel` [k, in, filters], `bias` [filters]",
               ops="`conv1d`, `BiasAdd`, the activation")(_conv(1))
Conv2D = layer("conv2d", scoped=True,
               doc="A 2-D convolution over [batch, height, width, channels] (`tf.nn.conv2d`).",
               example={"id": "conv1", "type": "conv2d", "filters": 32, "kernel_size": 3, "padding": "SAME",
                        "activation": "relu"},
               variables="`kernel` [kh, kw, in, filters], `bias` [filters]",
               ops="`Conv2D`, `BiasAdd`, the activation")(_conv(2))


# -- max_pool2d, avg_pool2d, global_avg_pool ---------------------------------------------

@record(kw_only=True)
class _Pool:
    OP: ClassVar[str]
    pool_size: tuple[int, int] = param(per_axis(2), "The window: one integer for both axes, or [height, width].",
                                       required=True, example=2, convert=to_axes(2))
    # As tf.compat.v1.layers.max_pooling2d: strides default to the window, padding to VALID.
    strides: tuple[int, int] | None = param(per_axis(2), "The step; default: the window.", default=None,
                                            convert=to_axes(2))
    padding: str = param(PADDING, "`SAME` or `VALID`.", default="VALID", convert=_upper)

    def infer(self, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
        (x,) = inputs
        same_dtype(inputs, dtype, ctx)
        _check_input(x, 2, self.OP, ctx)
        spatial = _spatial(x, self.pool_size, self.window_strides, (1, 1), self.padding, ctx, "window", "pool_size")
        return Inferred(TensorInfo((x.shape[0],) + spatial + (x.shape[-1],), dtype), (), (self.OP,))

    @property
    def window_strides(self) -> tuple[int, int]:
        return self.strides or self.pool_size


@layer("max_pool2d", doc="The maximum over each window (`tf.nn.max_pool2d`).",
       example={"id": "pool", "type": "max_pool2d", "pool_size": 2}, ops="`MaxPool2d`")
class MaxPool2D(_Pool):
    OP = "MaxPool2d"   # tf.nn.max_pool2d's default name

    def emit(self, tf, layer, xs, variables):
        return tf.nn.max_pool2d(xs[0], ksize=list(self.pool_size), strides=list(self.window_strides),
                                padding=self.padding)


@layer("avg_pool2d", doc="The mean over each window (`tf.nn.avg_pool2d`).",
       example={"id": "pool", "type": "avg_pool2d", "pool_size": 2}, ops="`AvgPool2D`")
class AvgPool2D(_Pool):
    OP = "AvgPool2D"   # tf.nn.avg_pool2d's (sic: the capital D differs)

    def emit(self, tf, layer, xs, variables):
        return tf.nn.avg_pool2d(xs[0], ksize=list(self.pool_size), strides=list(self.window_strides),
                                padding=self.padding)


@layer("global_avg_pool", doc="The mean over every axis between the batch and the channels: [batch, channels].",
       example={"id": "gap", "type": "global_avg_pool"}, ops="`Mean` over the axes between batch and channels")
class GlobalAvgPool:
    def infer(self, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
        (x,) = inputs
        same_dtype(inputs, dtype, ctx)
        if len(x.shape) < 3:
            raise ctx.error(f"global_avg_pool needs [batch, spatial..., channels] (rank 3 or more), got {x}", "input")
        return Inferred(TensorInfo((x.shape[0], x.shape[-1]), dtype), (), ("Mean",))

    def emit(self, tf, layer, xs, variables):
        return tf.reduce_mean(xs[0], axis=list(range(1, xs[0].shape.rank - 1)))
