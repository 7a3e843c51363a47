"""Batch normalization (moving statistics updated through UPDATE_OPS) and layer normalization,
from tf.nn.moments and tf.nn.batch_normalization."""

from __future__ import annotations

from .base import Inferred, Initializer, LayerContext, TensorInfo, VarRequest, same_dtype
from .declare import BOOL, FLAG, layer, number, param

FAMILY = "Normalization"
ORDER = 40


# -- batch_norm --------------------------------------------------------------------------

@layer("batch_norm", scoped=True, aliases={"decay": "momentum"},
       doc="Batch normalization over every axis but the last, as `tf.compat.v1.layers.batch_normalization`: "
           "batch statistics while training (and moving-average updates in `UPDATE_OPS`), the moving "
           "statistics otherwise.",
       example={"id": "bn", "type": "batch_norm", "training": "is_training"},
       variables="`gamma`, `beta` [channels]; `moving_mean`, `moving_variance` [channels], not trainable",
       ops="`moments`, `batchnorm`, `AssignMovingAvg`, `AssignMovingAvg_1` (training); `batchnorm` "
           "(inference); `cond`, `batchnorm`, `cond_1`, `cond_2` (a flag)")
class BatchNorm:
    # tf.compat.v1.layers.batch_normalization's defaults; `decay` is tf.contrib's name for momentum.
    momentum: float = param(number(minimum=0, maximum=1), "The moving averages' momentum (`decay` is tf.contrib's "
                                                          "name for it; give one of them).",
                            default=0.99, convert=float)
    epsilon: float = param(number(exclusiveMinimum=0), "Added to the variance.", default=1e-3, convert=float)
    center: bool = param(BOOL, "Learn an offset `beta`.", default=True)
    scale: bool = param(BOOL, "Learn a scale `gamma`.", default=True)
    # a constant, or the name of a scalar bool input (resolved by the planner)
    training: bool | str | None = param(FLAG, "`true`: batch statistics and moving-average updates; `false`: the "
                                              "moving statistics; or the name of a scalar bool input. Unset, the "
                                              "model's training flag `training` (false unless fed; `specc train` "
                                              "feeds it true).", default=None, example="is_training")

    def infer(self, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
        (x,) = inputs
        same_dtype(inputs, dtype, ctx)
        if len(x.shape) < 2:
            raise ctx.error(f"batch_norm needs [batch, ..., channels] (rank 2 or more), got {x}", "input")
        channels = x.shape[-1]
        if channels is None:
            raise ctx.error(f"batch_norm needs a known last (channel) dimension, got {x}", "input")
        updated = self.training is not False
        # tf.compat.v1.layers.BatchNormalization's order: gamma, beta, moving_mean, moving_variance.
        variables = []
        if self.scale:
            variables.append(VarRequest("gamma", (channels,), dtype, Initializer("ones")))
        if self.center:
            variables.append(VarRequest("beta", (channels,), dtype, Initializer("zeros")))
        variables += [
            VarRequest("moving_mean", (channels,), dtype, Initializer("zeros"), trainable=False, updated=updated),
            VarRequest("moving_variance", (channels,), dtype, Initializer("ones"), trainable=False, updated=updated),
        ]
        if self.training is True:
            ops = ("moments", "batchnorm", "AssignMovingAvg", "AssignMovingAvg_1")
        elif self.training is False:
            ops = ("batchnorm",)
        else:
            # One tf.cond picks batch or moving statistics; one per statistic runs its update.
            ops = ("cond", "batchnorm", "cond_1", "cond_2")
        return Inferred(x, tuple(variables), ops)

    def emit(self, tf, layer, xs, variables):
        """Normalise over every axis but the last.

        training true: batch moments, and two moving-average updates in UPDATE_OPS, the
        AssignSubVariableOps `AssignMovingAvg` and `AssignMovingAvg_1` (as tf.compat.v1.layers
        named them). false: the moving statistics, no updates. A bool input: one tf.cond picks
        batch or moving statistics (the batch moments are only computed when training), and
        each update is a tf.cond that assigns only when the flag is true; the ops of those two
        conds' outputs are what UPDATE_OPS holds.
        """
        v1, x = tf.compat.v1, xs[0]
        gamma, beta = variables.get("gamma"), variables.get("beta")
        moving_mean, moving_variance = variables["moving_mean"], variables["moving_variance"]
        axes = list(range(x.shape.rank - 1))

        def update(var, value):
            # var -= (var - value) * (1 - momentum), as assign_moving_average does; read_value=False
            # makes it an Operation named after the scope.
            with v1.name_scope("AssignMovingAvg") as scope:
                return var.assign_sub((var - value) * (1.0 - self.momentum), read_value=False, name=scope)

        if self.training is False:
            return tf.nn.batch_normalization(x, moving_mean, moving_variance, beta, gamma, self.epsilon)
        if self.training is True:
            mean, variance = tf.nn.moments(x, axes)
            y = tf.nn.batch_normalization(x, mean, variance, beta, gamma, self.epsilon)
            updates = [update(moving_mean, mean), update(moving_variance, variance)]
        else:
            flag = xs[1]
            mean, variance = tf.cond(flag, lambda: tf.nn.moments(x, axes),
                                     lambda: (tf.identity(moving_mean), tf.identity(moving_variance)))
            y = tf.nn.batch_normalization(x, mean, variance, beta, gamma, self.epsilon)
            # cond_v2 marks its `If` op unfetchable: UPDATE_OPS holds the op of each cond's output
            # (`cond_1/Identity`), which runs the cond and can be fetched or depended on.
            updates = [tf.cond(flag, lambda: update(moving_mean, mean), tf.no_op).op,
                       tf.cond(flag, lambda: update(moving_variance, variance), tf.no_op).op]
        for op in updates:
            v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, op)
        return y


# -- layer_norm --------------------------------------------------------------------------

@layer("layer_norm", scoped=True,
       doc="Layer normalization over the last axis, as BERT's `tf.contrib.layers.layer_norm`.",
       example={"id": "norm", "type": "layer_norm"},
       variables="`beta`, `gamma` [width]", ops="`moments`, `batchnorm`")
class LayerNorm:
    epsilon: float | None = param(number(exclusiveMinimum=0), "Added to the variance; default 1e-12 (1e-3 for "
                                                              "float16, where 1e-12 rounds to zero), as BERT's.",
                                  default=None, convert=float)
    center: bool = param(BOOL, "Learn an offset `beta`.", default=True)
    scale: bool = param(BOOL, "Learn a scale `gamma`.", default=True)

    def epsilon_for(self, dtype: str) -> float:
        # tf.contrib.layers.layer_norm (BERT's layer norm) hard-codes 1e-12, and 1e-3 for
        # float16, where 1e-12 would round to zero.
        if self.epsilon is not None:
            return self.epsilon
        return 1e-3 if dtype == "float16" else 1e-12

    def infer(self, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
        (x,) = inputs
        same_dtype(inputs, dtype, ctx)
        if len(x.shape) < 2 or x.shape[-1] is None:
            raise ctx.error(f"layer_norm needs a known last dimension to normalise over, got {x}", "input")
        # tf.contrib.layers.layer_norm's order: beta, then gamma.
        variables = []
        if self.center:
            variables.append(VarRequest("beta", (x.shape[-1],), dtype, Initializer("zeros")))
        if self.scale:
            variables.append(VarRequest("gamma", (x.shape[-1],), dtype, Initializer("ones")))
        return Inferred(x, tuple(variables), ("moments", "batchnorm"))

    def emit(self, tf, layer, xs, variables):
        # tf.contrib.layers.layer_norm(begin_norm_axis=-1, begin_params_axis=-1), BERT's layer_norm.
        x = xs[0]
        mean, variance = tf.nn.moments(x, [x.shape.rank - 1], keepdims=True)
        return tf.nn.batch_normalization(x, mean, variance, variables.get("beta"), variables.get("gamma"),
                                         self.epsilon_for(layer.output.dtype))
