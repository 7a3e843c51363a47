"""Emitters: one small function per layer type, built from tf.nn / tf.math ops only.

Each receives the planned layer, its input tensors and its variables (already
fetched with get_variable in the planned scopes) and returns its output. The
keys mirror specc.layers.LAYER_TYPES; a test keeps them in step.
"""

from __future__ import annotations

import functools


def activation(tf, name: str, x):
    """Apply a named activation; `linear` adds no op."""
    fns = {
        "linear": lambda t: t,
        "relu": tf.nn.relu, "relu6": tf.nn.relu6, "elu": tf.nn.elu, "selu": tf.nn.selu,
        "leaky_relu": tf.nn.leaky_relu,
        "gelu": lambda t: tf.nn.gelu(t, approximate=False),
        "gelu_tanh": lambda t: tf.nn.gelu(t, approximate=True),
        "sigmoid": tf.math.sigmoid, "tanh": tf.math.tanh, "softmax": tf.nn.softmax,
        "softplus": tf.math.softplus, "softsign": tf.nn.softsign, "swish": tf.nn.silu,
    }
    return fns[name](x)


def dense(tf, layer, xs, variables):
    x = xs[0]
    if layer.params.tie is not None:
        # Tied to an embedding table [vocab, width]: logits = x · tableᵀ, as BERT's output layer.
        table = variables["table"]
        if x.shape.rank == 2:
            y = tf.matmul(x, table, transpose_b=True)
        else:
            y = tf.tensordot(x, table, [[x.shape.rank - 1], [1]])
    elif x.shape.rank == 2:
        y = tf.matmul(x, variables["kernel"], transpose_b=layer.params.transpose_kernel)
    else:
        y = tf.tensordot(x, variables["kernel"], [[x.shape.rank - 1], [1 if layer.params.transpose_kernel else 0]])
    if "bias" in variables:
        y = tf.nn.bias_add(y, variables["bias"])
    return activation(tf, layer.params.activation, y)


def activation_layer(tf, layer, xs, variables):
    name = layer.params.activation
    return tf.identity(xs[0]) if name == "linear" else activation(tf, name, xs[0])


def dropout(tf, layer, xs, variables):
    x, rate, training = xs[0], layer.params.rate, layer.params.training
    if isinstance(training, bool):
        return tf.nn.dropout(x, rate=rate) if training and rate > 0 else tf.identity(x)
    return tf.cond(xs[1], lambda: tf.nn.dropout(x, rate=rate), lambda: tf.identity(x))


def add(tf, layer, xs, variables):
    return tf.add(xs[0], xs[1]) if len(xs) == 2 else tf.math.add_n(xs)


def subtract(tf, layer, xs, variables):
    return tf.subtract(xs[0], xs[1])


def multiply(tf, layer, xs, variables):
    return functools.reduce(tf.multiply, xs)


def concat(tf, layer, xs, variables):
    return tf.concat(xs, axis=layer.params.axis)


def reshape(tf, layer, xs, variables):
    return tf.reshape(xs[0], [-1 if d is None else d for d in layer.output.shape])


def flatten(tf, layer, xs, variables):
    return tf.reshape(xs[0], [-1, layer.output.shape[1]])


def identity(tf, layer, xs, variables):
    return tf.identity(xs[0])


def slice_layer(tf, layer, xs, variables):
    p, x = layer.params, xs[0]
    axis = p.axis % x.shape.rank
    end = None if p.size == -1 else p.begin + p.size
    y = x[(slice(None),) * axis + (slice(p.begin, end),)]  # one strided_slice, as `x[:, 0:1]`
    return tf.squeeze(y, axis=axis) if p.squeeze else y


EMITTERS = {
    "dense": dense,
    "activation": activation_layer,
    "dropout": dropout,
    "add": add,
    "subtract": subtract,
    "multiply": multiply,
    "concat": concat,
    "reshape": reshape,
    "flatten": flatten,
    "identity": identity,
    "slice": slice_layer,
    "block": None,  # the emitter walks blocks itself
}


def initializer(tf, init):
    """A tf.compat.v1 initializer from a planned Initializer."""
    v1, a = tf.compat.v1, dict(init.args)
    makers = {
        "zeros": lambda: v1.zeros_initializer(),
        "ones": lambda: v1.ones_initializer(),
        "constant": lambda: v1.constant_initializer(a.get("value", 0.0)),
        "glorot_uniform": lambda: v1.glorot_uniform_initializer(),
        "glorot_normal": lambda: v1.glorot_normal_initializer(),
        "he_uniform": lambda: v1.initializers.he_uniform(),
        "he_normal": lambda: v1.initializers.he_normal(),
        "lecun_uniform": lambda: v1.initializers.lecun_uniform(),
        "lecun_normal": lambda: v1.initializers.lecun_normal(),
        "orthogonal": lambda: v1.orthogonal_initializer(gain=a.get("gain", 1.0)),
        "truncated_normal": lambda: v1.truncated_normal_initializer(a.get("mean", 0.0), a.get("stddev", 1.0)),
        "random_normal": lambda: v1.random_normal_initializer(a.get("mean", 0.0), a.get("stddev", 1.0)),
        "random_uniform": lambda: v1.random_uniform_initializer(a.get("minval", 0.0), a.get("maxval", 1.0)),
    }
    return makers[init.type]()


# The model-zoo families live in modules of their own; they use activation() above.
from . import attention, conv, embedding, norm, rnn  # noqa: E402

for _family in (conv, norm, embedding, rnn, attention):
    EMITTERS.update(_family.EMITTERS)
