"""Activation functions by name: the ops each creates (as TensorFlow names them) and how to apply it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class ActivationFn:
    """`ops`: the op names one call creates directly in the current name scope. `apply(tf, x)`."""

    ops: tuple[str, ...]
    apply: Callable[[Any, Any], Any]


# tf.nn.silu is a custom-gradient function: it leaves its helper ops beside the result.
ACTIVATIONS: dict[str, ActivationFn] = {
    "linear": ActivationFn((), lambda tf, x: x),
    "relu": ActivationFn(("Relu",), lambda tf, x: tf.nn.relu(x)),
    "relu6": ActivationFn(("Relu6",), lambda tf, x: tf.nn.relu6(x)),
    "elu": ActivationFn(("Elu",), lambda tf, x: tf.nn.elu(x)),
    "selu": ActivationFn(("Selu",), lambda tf, x: tf.nn.selu(x)),
    "leaky_relu": ActivationFn(("LeakyRelu",), lambda tf, x: tf.nn.leaky_relu(x)),
    "gelu": ActivationFn(("Gelu",), lambda tf, x: tf.nn.gelu(x, approximate=False)),
    "gelu_tanh": ActivationFn(("Gelu",), lambda tf, x: tf.nn.gelu(x, approximate=True)),
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
