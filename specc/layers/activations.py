"""Activation functions by name: the ops each creates (as TensorFlow names them) and how to apply it."""

from __future__ import annotations

import math
from typing import Any, Callable

from ..record import record


@record
class ActivationFn:
    """`ops`: the op names one call creates directly in the current name scope. `apply(tf, x)`."""

    ops: tuple[str, ...]
    apply: Callable[[Any, Any], Any]


def _gelu_tanh(tf, x):
    """BERT's and ALBERT's own gelu, op for op as modeling.py writes it (tf.nn.gelu(approximate=True)
    computes the same in another order, under a `Gelu` name scope)."""
    cdf = 0.5 * (1.0 + tf.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * tf.pow(x, 3))))
    return x * cdf


# tf.nn.silu is a custom-gradient function: it leaves its helper ops beside the result.
ACTIVATIONS: dict[str, ActivationFn] = {
    "linear": ActivationFn((), lambda tf, x: x),
    "relu": ActivationFn(("Relu",), lambda tf, x: tf.nn.relu(x)),
    "relu6": ActivationFn(("Relu6",), lambda tf, x: tf.nn.relu6(x)),
    "elu": ActivationFn(("Elu",), lambda tf, x: tf.nn.elu(x)),
    "selu": ActivationFn(("Selu",), lambda tf, x: tf.nn.selu(x)),
    "leaky_relu": ActivationFn(("LeakyRelu",), lambda tf, x: tf.nn.leaky_relu(x)),
    "gelu": ActivationFn(("Gelu",), lambda tf, x: tf.nn.gelu(x, approximate=False)),
    "gelu_tanh": ActivationFn(("Pow", "mul", "add", "mul_1", "Tanh", "add_1", "mul_2", "mul_3"),
                              lambda tf, x: _gelu_tanh(tf, x)),
    "sigmoid": ActivationFn(("Sigmoid",), lambda tf, x: tf.math.sigmoid(x)),
    "tanh": ActivationFn(("Tanh",), lambda tf, x: tf.math.tanh(x)),
    "softmax": ActivationFn(("Softmax",), lambda tf, x: tf.nn.softmax(x)),
    "softplus": ActivationFn(("Softplus",), lambda tf, x: tf.math.softplus(x)),
    "softsign": ActivationFn(("Softsign",), lambda tf, x: tf.nn.softsign(x)),
    "swish": ActivationFn(("beta", "mul", "Sigmoid", "mul_1", "Identity", "IdentityN"), lambda tf, x: tf.nn.silu(x)),
}

# name -> op names, for planners.
ACTIVATION_OPS: dict[str, tuple[str, ...]] = {name: fn.ops for name, fn in ACTIVATIONS.items()}


def activation(tf, name: str, x):
    """Apply a named activation; `linear` adds no op."""
    return ACTIVATIONS[name].apply(tf, x)
