"""Emitters for convolutions and pooling (channels last)."""

from __future__ import annotations

from .layers import activation


def conv(tf, layer, xs, variables):
    p, x, kernel = layer.params, xs[0], variables["kernel"]
    if p.rank == 1:
        y = tf.nn.conv1d(x, kernel, stride=p.strides[0], padding=p.padding, dilations=p.dilation[0])
    else:
        y = tf.nn.conv2d(x, kernel, strides=[1, *p.strides, 1], padding=p.padding, dilations=[1, *p.dilation, 1])
    if "bias" in variables:
        y = tf.nn.bias_add(y, variables["bias"])
    return activation(tf, p.activation, y)


def max_pool2d(tf, layer, xs, variables):
    p = layer.params
    return tf.nn.max_pool2d(xs[0], ksize=list(p.pool_size), strides=list(p.strides), padding=p.padding)


def avg_pool2d(tf, layer, xs, variables):
    p = layer.params
    return tf.nn.avg_pool2d(xs[0], ksize=list(p.pool_size), strides=list(p.strides), padding=p.padding)


def global_avg_pool(tf, layer, xs, variables):
    return tf.reduce_mean(xs[0], axis=list(range(1, xs[0].shape.rank - 1)))


EMITTERS = {"conv1d": conv, "conv2d": conv, "max_pool2d": max_pool2d, "avg_pool2d": avg_pool2d,
            "global_avg_pool": global_avg_pool}
