"""Emitters for token and position embeddings (BERT's embedding_lookup and position slice)."""

from __future__ import annotations


def embedding(tf, layer, xs, variables):
    return tf.nn.embedding_lookup(variables[layer.params.table_name], xs[0])


def position_embedding(tf, layer, xs, variables):
    x, table = xs[0], variables[layer.params.table_name]
    length = x.shape[1]
    size = [length, -1] if length is not None else tf.stack([tf.shape(x)[1], -1])
    return x + tf.slice(table, [0, 0], size)  # [length, width] broadcasts over the batch


EMITTERS = {"embedding": embedding, "position_embedding": position_embedding}
