"""Planners for batch normalization and layer normalization."""

from __future__ import annotations

from dataclasses import dataclass

from ..spec import Initializer
from .base import Inferred, LayerContext, TensorInfo, VarRequest, same_dtype


# -- batch_norm --------------------------------------------------------------------------

@dataclass(frozen=True)
class BatchNorm:
    momentum: float
    epsilon: float
    center: bool
    scale: bool
    training: bool | str  # a constant, or the name of a scalar bool input (resolved by the planner)
    both_names: bool = False  # `momentum` and `decay` both given


def parse_batch_norm(raw: dict) -> BatchNorm:
    # tf.compat.v1.layers.batch_normalization's defaults; `decay` is tf.contrib's name for momentum.
    momentum = raw.get("momentum", raw.get("decay", 0.99))
    return BatchNorm(float(momentum), float(raw.get("epsilon", 1e-3)), raw.get("center", True),
                     raw.get("scale", True), raw.get("training", False), "momentum" in raw and "decay" in raw)


def infer_batch_norm(p: BatchNorm, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
    (x,) = inputs
    same_dtype(inputs, dtype, ctx)
    if p.both_names:
        raise ctx.error("`decay` is another name for `momentum`; give one of them", "decay")
    if len(x.shape) < 2:
        raise ctx.error(f"batch_norm needs [batch, ..., channels] (rank 2 or more), got {x}", "input")
    channels = x.shape[-1]
    if channels is None:
        raise ctx.error(f"batch_norm needs a known last (channel) dimension, got {x}", "input")
    updated = p.training is not False
    # tf.compat.v1.layers.BatchNormalization's order: gamma, beta, moving_mean, moving_variance.
    variables = []
    if p.scale:
        variables.append(VarRequest("gamma", (channels,), dtype, Initializer("ones")))
    if p.center:
        variables.append(VarRequest("beta", (channels,), dtype, Initializer("zeros")))
    variables += [
        VarRequest("moving_mean", (channels,), dtype, Initializer("zeros"), trainable=False, updated=updated),
        VarRequest("moving_variance", (channels,), dtype, Initializer("ones"), trainable=False, updated=updated),
    ]
    if p.training is True:
        ops = ("moments", "batchnorm", "AssignMovingAvg", "AssignMovingAvg_1")
    elif p.training is False:
        ops = ("batchnorm",)
    else:
        # One tf.cond picks batch or moving statistics; one per statistic runs its update.
        ops = ("cond", "batchnorm", "cond_1", "cond_2")
    return Inferred(x, tuple(variables), ops)


# -- layer_norm --------------------------------------------------------------------------

@dataclass(frozen=True)
class LayerNorm:
    epsilon: float | None  # None: tf.contrib.layers.layer_norm's own choice, see `epsilon_for`
    center: bool
    scale: bool

    def epsilon_for(self, dtype: str) -> float:
        # tf.contrib.layers.layer_norm (BERT's layer norm) hard-codes 1e-12, and 1e-3 for
        # float16, where 1e-12 would round to zero.
        if self.epsilon is not None:
            return self.epsilon
        return 1e-3 if dtype == "float16" else 1e-12


def parse_layer_norm(raw: dict) -> LayerNorm:
    epsilon = raw.get("epsilon")
    return LayerNorm(None if epsilon is None else float(epsilon), raw.get("center", True), raw.get("scale", True))


def infer_layer_norm(p: LayerNorm, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
    (x,) = inputs
    same_dtype(inputs, dtype, ctx)
    if len(x.shape) < 2 or x.shape[-1] is None:
        raise ctx.error(f"layer_norm needs a known last dimension to normalise over, got {x}", "input")
    # tf.contrib.layers.layer_norm's order: beta, then gamma.
    variables = []
    if p.center:
        variables.append(VarRequest("beta", (x.shape[-1],), dtype, Initializer("zeros")))
    if p.scale:
        variables.append(VarRequest("gamma", (x.shape[-1],), dtype, Initializer("ones")))
    return Inferred(x, tuple(variables), ("moments", "batchnorm"))
