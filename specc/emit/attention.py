"""Emitters for attention: BERT's scaled dot product (mask adds -10000 * (1 - mask)) and a
multi-head layer with dense query/key/value/output projections around it."""

from __future__ import annotations

import math


def attend(tf, q, k, v, heads: int, mask=None):
    """[batch, Lq, heads*d] x [batch, Lk, heads*d] x [batch, Lk, heads*dv] -> [batch, Lq, heads*dv]."""

    def split(t):  # -> [batch, heads, length, width / heads]; tf.split works on unknown lengths
        return tf.stack(tf.split(t, heads, axis=-1), axis=1)

    q, k, v = split(q), split(k), split(v)
    scores = tf.multiply(tf.matmul(q, k, transpose_b=True), 1.0 / math.sqrt(q.shape[-1]))
    if mask is not None:
        mask = tf.expand_dims(mask, axis=1)  # [batch, 1, Lq, Lk]: one mask for every head
        if mask.dtype != scores.dtype:
            mask = tf.cast(mask, scores.dtype)
        scores += (1.0 - mask) * -10000.0
    context = tf.matmul(tf.nn.softmax(scores), v)
    return tf.concat(tf.unstack(context, num=heads, axis=1), axis=-1)


def scaled_dot_product_attention(tf, layer, xs, variables):
    p = layer.params
    return attend(tf, xs[0], xs[1], xs[2], p.heads, xs[3] if p.mask is not None else None)


def multi_head_attention(tf, layer, xs, variables):
    p, v1 = layer.params, tf.compat.v1
    x = xs[0]
    memory = xs[1] if p.memory is not None else x
    mask = xs[-1] if p.mask is not None else None

    def project(name, t):
        with v1.name_scope(name):
            y = tf.tensordot(t, variables[f"{name}/kernel"], [[2], [0]])
            return tf.nn.bias_add(y, variables[f"{name}/bias"]) if p.use_bias else y

    q, k, v = project("query", x), project("key", memory), project("value", memory)
    with v1.name_scope("attention"):
        context = attend(tf, q, k, v, p.heads, mask)
    return project("output", context)


EMITTERS = {"scaled_dot_product_attention": scaled_dot_product_attention,
            "multi_head_attention": multi_head_attention}
