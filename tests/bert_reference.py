"""Hand-written ports of Google's TF1 BERT and ALBERT, for tests: the originals' own code,
line by line, in tf.compat.v1, with no specc in sight.

Ported from (see tests/data/*_variables.txt for what each creates):
  google-research/bert modeling.py (0017e7ecb4aa6b40e6d21ab7d46d2b055f88f236) and
  run_pretraining.py (b425e39807c3af28b4e5bcdf67e59892525eb7b0);
  google-research/albert modeling.py (507021d23a8f98c833bcc744d8881f2dd0364d6e) and
  run_pretraining.py (4ae12a256efbf091430bbf7bf44cebead110262e).

Only what TensorFlow 2 no longer ships is replaced, by code that names and computes the
same: `tf.layers.dense` (gone with Keras 3) is `dense` below, a variable_scope with the
default name "dense" (uniquified by TensorFlow exactly as tf.layers did), and
`tf.contrib.layers.layer_norm` is `layer_norm` below, contrib's own body (default scope
name "LayerNorm", beta then gamma, moments, batch_normalization with epsilon 1e-12).
Both models are built as for evaluation (is_training=False: no dropout), and the masked-LM
head runs over every position, as the specs do: run_pretraining.py's gather_indexes with
positions 0 ... seq_length - 1 for every example is the reshape to [batch * seq, width] below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np


@dataclass(frozen=True)
class Config:
    """The BertConfig / AlbertConfig fields the specs' vars use (same names)."""

    vocab_size: int
    type_vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    seq_length: int
    embedding_size: int | None = None  # ALBERT only
    hidden_act: str = "gelu_tanh"

    @classmethod
    def from_vars(cls, spec_vars: dict) -> "Config":
        return cls(**spec_vars)


def _ops(tf):
    v1 = tf.compat.v1

    def create_initializer(initializer_range=0.02):
        return v1.truncated_normal_initializer(stddev=initializer_range)

    def gelu(x):  # modeling.py's gelu: the tanh approximation
        cdf = 0.5 * (1.0 + tf.tanh((np.sqrt(2 / np.pi) * (x + 0.044715 * tf.pow(x, 3)))))
        return x * cdf

    def dense(x, units, activation=None, name=None, kernel_initializer=None):
        """tf.layers.dense on a rank-2 input: variable_scope(name, default_name="dense")."""
        with v1.variable_scope(name, default_name="dense"):
            kernel = v1.get_variable("kernel", [x.shape[-1], units], initializer=kernel_initializer)
            bias = v1.get_variable("bias", [units], initializer=v1.zeros_initializer())
            y = tf.nn.bias_add(tf.matmul(x, kernel), bias)
            return activation(y) if activation is not None else y

    def layer_norm(inputs):
        """tf.contrib.layers.layer_norm(inputs, begin_norm_axis=-1, begin_params_axis=-1, scope=None)."""
        with v1.variable_scope(None, default_name="LayerNorm"):
            params_shape = inputs.shape[-1:]
            beta = v1.get_variable("beta", shape=params_shape, initializer=v1.zeros_initializer())
            gamma = v1.get_variable("gamma", shape=params_shape, initializer=v1.ones_initializer())
            mean, variance = tf.nn.moments(inputs, [inputs.shape.rank - 1], keepdims=True)
            return tf.nn.batch_normalization(inputs, mean, variance, offset=beta, scale=gamma,
                                             variance_epsilon=1e-12)

    return SimpleNamespace(v1=v1, create_initializer=create_initializer, gelu=gelu, dense=dense,
                           layer_norm=layer_norm)


def _placeholders(tf, c: Config):
    v1 = tf.compat.v1
    return {name: v1.placeholder(tf.int32, [None, c.seq_length], name=name)
            for name in ("input_ids", "input_mask", "token_type_ids")}


def _heads(tf, o, c: Config, sequence_output, pooled_output, embedding_table, transform_units):
    """run_pretraining.py: get_masked_lm_output (every position) and the next-sentence head."""
    v1 = o.v1
    batch_size, seq_length, width = tf.shape(sequence_output)[0], c.seq_length, sequence_output.shape[-1]
    input_tensor = tf.reshape(sequence_output, [batch_size * seq_length, width])
    with v1.variable_scope("cls/predictions"):
        with v1.variable_scope("transform"):
            input_tensor = o.dense(input_tensor, transform_units, activation=o.gelu,
                                   kernel_initializer=o.create_initializer())
            input_tensor = o.layer_norm(input_tensor)
        output_bias = v1.get_variable("output_bias", shape=[c.vocab_size], initializer=v1.zeros_initializer())
        logits = tf.matmul(input_tensor, embedding_table, transpose_b=True)
        logits = tf.nn.bias_add(logits, output_bias)
    with v1.variable_scope("cls/seq_relationship"):
        output_weights = v1.get_variable("output_weights", shape=[2, c.hidden_size],
                                         initializer=o.create_initializer())
        output_bias = v1.get_variable("output_bias", shape=[2], initializer=v1.zeros_initializer())
        nsp = tf.nn.bias_add(tf.matmul(pooled_output, output_weights, transpose_b=True), output_bias)
    return tf.reshape(logits, [batch_size, seq_length, c.vocab_size]), nsp


def _embeddings(tf, o, c: Config, inputs, width, gather_flat: bool):
    """embedding_lookup + embedding_postprocessor (token types one-hot, positions sliced), then LayerNorm."""
    v1 = o.v1
    input_ids = tf.expand_dims(inputs["input_ids"], axis=[-1])
    batch_size, seq_length = tf.shape(input_ids)[0], c.seq_length
    embedding_table = v1.get_variable("word_embeddings", [c.vocab_size, width],
                                      initializer=o.create_initializer())
    if gather_flat:  # BERT: tf.gather on the flat ids
        output = tf.gather(embedding_table, tf.reshape(input_ids, [-1]))
    else:  # ALBERT: tf.nn.embedding_lookup on [batch, seq, 1]
        output = tf.nn.embedding_lookup(embedding_table, input_ids)
    output = tf.reshape(output, [batch_size, seq_length, width])
    token_type_table = v1.get_variable("token_type_embeddings", [c.type_vocab_size, width],
                                       initializer=o.create_initializer())
    one_hot_ids = tf.one_hot(tf.reshape(inputs["token_type_ids"], [-1]), depth=c.type_vocab_size)
    output += tf.reshape(tf.matmul(one_hot_ids, token_type_table), [batch_size, seq_length, width])
    full_position_embeddings = v1.get_variable("position_embeddings", [c.max_position_embeddings, width],
                                               initializer=o.create_initializer())
    position_embeddings = tf.slice(full_position_embeddings, [0, 0], [seq_length, -1])
    output += tf.reshape(position_embeddings, [1, seq_length, width])
    return o.layer_norm(output), embedding_table


def build_bert(tf, c: Config):
    """modeling.BertModel(is_training=False) and the pretraining heads, in a fresh graph."""
    graph = tf.Graph()
    with graph.as_default():
        o, v1 = _ops(tf), tf.compat.v1
        inputs = _placeholders(tf, c)
        hidden, heads = c.hidden_size, c.num_attention_heads
        size_per_head = hidden // heads
        with v1.variable_scope(None, default_name="bert"):
            with v1.variable_scope("embeddings"):
                embedding_output, embedding_table = _embeddings(tf, o, c, inputs, hidden, gather_flat=True)
            with v1.variable_scope("encoder"):
                # create_attention_mask_from_input_mask: [batch, from, to] = ones * to_mask
                batch_size, seq_length = tf.shape(inputs["input_ids"])[0], c.seq_length
                to_mask = tf.cast(tf.reshape(inputs["input_mask"], [batch_size, 1, seq_length]), tf.float32)
                attention_mask = tf.ones(shape=[batch_size, seq_length, 1], dtype=tf.float32) * to_mask
                prev_output = tf.reshape(embedding_output, [-1, hidden])
                for layer_idx in range(c.num_hidden_layers):
                    with v1.variable_scope("layer_%d" % layer_idx):
                        layer_input = prev_output
                        with v1.variable_scope("attention"):
                            with v1.variable_scope("self"):
                                attention_output = _bert_attention(
                                    tf, o, layer_input, attention_mask, heads, size_per_head, batch_size, seq_length)
                            with v1.variable_scope("output"):
                                attention_output = o.dense(attention_output, hidden,
                                                           kernel_initializer=o.create_initializer())
                                attention_output = o.layer_norm(attention_output + layer_input)
                        with v1.variable_scope("intermediate"):
                            intermediate_output = o.dense(attention_output, c.intermediate_size, activation=o.gelu,
                                                          kernel_initializer=o.create_initializer())
                        with v1.variable_scope("output"):
                            layer_output = o.dense(intermediate_output, hidden,
                                                   kernel_initializer=o.create_initializer())
                            prev_output = o.layer_norm(layer_output + attention_output)
                sequence_output = tf.reshape(prev_output, [batch_size, seq_length, hidden])
            with v1.variable_scope("pooler"):
                first_token_tensor = tf.squeeze(sequence_output[:, 0:1, :], axis=1)
                pooled_output = o.dense(first_token_tensor, hidden, activation=tf.tanh,
                                        kernel_initializer=o.create_initializer())
        mlm, nsp = _heads(tf, o, c, sequence_output, pooled_output, embedding_table, hidden)
    return SimpleNamespace(graph=graph, inputs=inputs, outputs={
        "bert.encoder": sequence_output, "bert.pooler": pooled_output,
        "cls.predictions": mlm, "cls.seq_relationship": nsp})


def _bert_attention(tf, o, layer_input, attention_mask, heads, size_per_head, batch_size, seq_length):
    """modeling.attention_layer on 2-D from/to tensors, do_return_2d_tensor=True."""

    def transpose_for_scores(t):
        return tf.transpose(tf.reshape(t, [batch_size, seq_length, heads, size_per_head]), [0, 2, 1, 3])

    width = heads * size_per_head
    query_layer = o.dense(layer_input, width, name="query", kernel_initializer=o.create_initializer())
    key_layer = o.dense(layer_input, width, name="key", kernel_initializer=o.create_initializer())
    value_layer = o.dense(layer_input, width, name="value", kernel_initializer=o.create_initializer())
    attention_scores = tf.matmul(transpose_for_scores(query_layer), transpose_for_scores(key_layer),
                                 transpose_b=True)
    attention_scores = tf.multiply(attention_scores, 1.0 / math.sqrt(float(size_per_head)))
    adder = (1.0 - tf.cast(tf.expand_dims(attention_mask, axis=[1]), tf.float32)) * -10000.0
    attention_probs = tf.nn.softmax(attention_scores + adder)
    context_layer = tf.matmul(attention_probs, transpose_for_scores(value_layer))
    context_layer = tf.transpose(context_layer, [0, 2, 1, 3])
    return tf.reshape(context_layer, [batch_size * seq_length, width])


def build_albert(tf, c: Config):
    """modeling.AlbertModel(is_training=False, use_einsum=True) and the pretraining heads."""
    graph = tf.Graph()
    with graph.as_default():
        o, v1 = _ops(tf), tf.compat.v1
        inputs = _placeholders(tf, c)
        hidden, heads = c.hidden_size, c.num_attention_heads
        with v1.variable_scope(None, default_name="bert"):
            with v1.variable_scope("embeddings"):
                embedding_output, embedding_table = _embeddings(
                    tf, o, c, inputs, c.embedding_size, gather_flat=False)
            with v1.variable_scope("encoder"):
                prev_output = _dense_2d(tf, o, embedding_output, hidden, None, "embedding_hidden_mapping_in")
                with v1.variable_scope("transformer", reuse=v1.AUTO_REUSE):
                    for layer_idx in range(c.num_hidden_layers):
                        group_idx = int(layer_idx / c.num_hidden_layers * 1)  # num_hidden_groups = 1
                        with v1.variable_scope("group_%d" % group_idx):
                            with tf.name_scope("layer_%d" % layer_idx):
                                with v1.variable_scope("inner_group_0"):
                                    prev_output = _attention_ffn_block(
                                        tf, o, c, prev_output, inputs["input_mask"], hidden // heads)
                sequence_output = prev_output
            with v1.variable_scope("pooler"):
                first_token_tensor = tf.squeeze(sequence_output[:, 0:1, :], axis=1)
                pooled_output = o.dense(first_token_tensor, hidden, activation=tf.tanh,
                                        kernel_initializer=o.create_initializer())
        mlm, nsp = _heads(tf, o, c, sequence_output, pooled_output, embedding_table, c.embedding_size)
    return SimpleNamespace(graph=graph, inputs=inputs, outputs={
        "bert.encoder": sequence_output, "bert.pooler": pooled_output,
        "cls.predictions": mlm, "cls.seq_relationship": nsp})


def _dense_2d(tf, o, input_tensor, output_size, activation, name):
    """modeling.dense_layer_2d with use_einsum=True."""
    v1 = o.v1
    with v1.variable_scope(name):
        w = v1.get_variable("kernel", [input_tensor.shape[2], output_size], initializer=o.create_initializer())
        b = v1.get_variable("bias", [output_size], initializer=v1.zeros_initializer)
        ret = tf.einsum("BFH,HO->BFO", input_tensor, w)
        ret += b
    return activation(ret) if activation is not None else ret


def _attention_ffn_block(tf, o, c: Config, layer_input, input_mask, head_size):
    """modeling.attention_ffn_block (attention_layer, dot_product_attention and the FFN) with einsum."""
    v1 = o.v1
    heads, hidden = c.num_attention_heads, c.hidden_size
    batch_size, seq_length = tf.shape(layer_input)[0], c.seq_length

    def dense_3d(t, name):  # modeling.dense_layer_3d
        with v1.variable_scope(name):
            w = v1.get_variable("kernel", [hidden, heads * head_size], initializer=o.create_initializer())
            b = v1.get_variable("bias", [heads * head_size], initializer=v1.zeros_initializer)
            return tf.einsum("BFH,HND->BFND", t, tf.reshape(w, [hidden, heads, head_size])) + \
                tf.reshape(b, [heads, head_size])

    with v1.variable_scope("attention_1"):
        with v1.variable_scope("self"):
            q = tf.transpose(dense_3d(layer_input, "query"), [0, 2, 1, 3])
            k = tf.transpose(dense_3d(layer_input, "key"), [0, 2, 1, 3])
            v = tf.transpose(dense_3d(layer_input, "value"), [0, 2, 1, 3])
            attention_mask = tf.reshape(input_mask, [batch_size, 1, seq_length, 1])
            logits = tf.matmul(q, k, transpose_b=True)
            logits = tf.multiply(logits, 1.0 / math.sqrt(float(head_size)))
            broadcast_ones = tf.ones([batch_size, 1, seq_length, 1], tf.float32)
            bias = tf.matmul(broadcast_ones, tf.cast(attention_mask, tf.float32), transpose_b=True)
            logits += (1.0 - bias) * -10000.0
            attention_probs = tf.nn.softmax(logits, name="attention_probs")
            attention_output = tf.transpose(tf.matmul(attention_probs, v), [0, 2, 1, 3])
        with v1.variable_scope("output"):
            with v1.variable_scope("dense"):  # modeling.dense_layer_3d_proj
                w = v1.get_variable("kernel", [heads * head_size, hidden], initializer=o.create_initializer())
                b = v1.get_variable("bias", [hidden], initializer=v1.zeros_initializer)
                attention_output = tf.einsum("BFND,NDH->BFH", attention_output,
                                             tf.reshape(w, [heads, head_size, hidden])) + b
    attention_output = o.layer_norm(attention_output + layer_input)
    with v1.variable_scope("ffn_1"):
        with v1.variable_scope("intermediate"):
            intermediate_output = _dense_2d(tf, o, attention_output, c.intermediate_size, o.gelu, "dense")
            with v1.variable_scope("output"):
                ffn_output = _dense_2d(tf, o, intermediate_output, hidden, None, "dense")
    return o.layer_norm(ffn_output + attention_output)
