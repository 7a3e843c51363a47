"""Activation functions by name, and the op names each creates (as TensorFlow names them)."""

# name -> op names created directly in the current name scope by one call.
# tf.nn.silu is a custom-gradient function: it leaves its helper ops beside the result.
ACTIVATION_OPS: dict[str, tuple[str, ...]] = {
    "linear": (),
    "relu": ("Relu",),
    "relu6": ("Relu6",),
    "elu": ("Elu",),
    "selu": ("Selu",),
    "leaky_relu": ("LeakyRelu",),
    "gelu": ("Gelu",),
    "gelu_tanh": ("Gelu",),
    "sigmoid": ("Sigmoid",),
    "tanh": ("Tanh",),
    "softmax": ("Softmax",),
    "softplus": ("Softplus",),
    "softsign": ("Softsign",),
    "swish": ("beta", "mul", "Sigmoid", "mul_1", "Identity", "IdentityN"),
}
