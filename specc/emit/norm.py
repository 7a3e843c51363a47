"""Emitters for batch normalization (with moving-average updates in UPDATE_OPS) and layer
normalization, from tf.nn.moments and tf.nn.batch_normalization."""

from __future__ import annotations


def batch_norm(tf, layer, xs, variables):
    """Normalise over every axis but the last.

    training true: batch moments, and two moving-average updates in UPDATE_OPS, the
    AssignSubVariableOps `AssignMovingAvg` and `AssignMovingAvg_1` (as tf.compat.v1.layers
    named them). false: the moving statistics, no updates. A bool input: one tf.cond picks
    batch or moving statistics (the batch moments are only computed when training), and
    each update is a tf.cond that assigns only when the flag is true; the ops of those two
    conds' outputs are what UPDATE_OPS holds.
    """
    v1, p, x = tf.compat.v1, layer.params, xs[0]
    gamma, beta = variables.get("gamma"), variables.get("beta")
    moving_mean, moving_variance = variables["moving_mean"], variables["moving_variance"]
    axes = list(range(x.shape.rank - 1))

    def update(var, value):
        # var -= (var - value) * (1 - momentum), as assign_moving_average does; read_value=False
        # makes it an Operation named after the scope.
        with v1.name_scope("AssignMovingAvg") as scope:
            return var.assign_sub((var - value) * (1.0 - p.momentum), read_value=False, name=scope)

    if p.training is False:
        return tf.nn.batch_normalization(x, moving_mean, moving_variance, beta, gamma, p.epsilon)
    if p.training is True:
        mean, variance = tf.nn.moments(x, axes)
        y = tf.nn.batch_normalization(x, mean, variance, beta, gamma, p.epsilon)
        updates = [update(moving_mean, mean), update(moving_variance, variance)]
    else:
        flag = xs[1]
        mean, variance = tf.cond(flag, lambda: tf.nn.moments(x, axes),
                                 lambda: (tf.identity(moving_mean), tf.identity(moving_variance)))
        y = tf.nn.batch_normalization(x, mean, variance, beta, gamma, p.epsilon)
        # cond_v2 marks its `If` op unfetchable: UPDATE_OPS holds the op of each cond's output
        # (`cond_1/Identity`), which runs the cond and can be fetched or depended on.
        updates = [tf.cond(flag, lambda: update(moving_mean, mean), tf.no_op).op,
                   tf.cond(flag, lambda: update(moving_variance, variance), tf.no_op).op]
    for op in updates:
        v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, op)
    return y


def layer_norm(tf, layer, xs, variables):
    # tf.contrib.layers.layer_norm(begin_norm_axis=-1, begin_params_axis=-1), BERT's layer_norm.
    x = xs[0]
    mean, variance = tf.nn.moments(x, [x.shape.rank - 1], keepdims=True)
    return tf.nn.batch_normalization(x, mean, variance, variables.get("beta"), variables.get("gamma"),
                                     layer.params.epsilon_for(layer.output.dtype))


EMITTERS = {"batch_norm": batch_norm, "layer_norm": layer_norm}
