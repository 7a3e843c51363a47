"""Layer types: one small planner each, wired in a plain dict (the emitters mirror its keys)."""

from __future__ import annotations

from . import attention, conv, core, embedding, norm, rnn
from .base import FLOAT_DTYPES, Inferred, LayerContext, LayerType, TensorInfo, VarRequest

LAYER_TYPES: dict[str, LayerType] = {
    t.name: t
    for t in [
        LayerType("dense", core.parse_dense, core.infer_dense, scoped=True),
        LayerType("activation", core.parse_activation, core.infer_activation),
        LayerType("dropout", core.parse_dropout, core.infer_dropout),
        LayerType("add", core.parse_combine, core.infer_add, arity="multi"),
        LayerType("subtract", core.parse_combine, core.infer_subtract, arity="multi"),
        LayerType("multiply", core.parse_combine, core.infer_multiply, arity="multi"),
        LayerType("concat", core.parse_concat, core.infer_concat, arity="multi"),
        LayerType("reshape", core.parse_reshape, core.infer_reshape),
        LayerType("flatten", core.parse_none, core.infer_flatten),
        LayerType("identity", core.parse_none, core.infer_identity),
        LayerType("slice", core.parse_slice, core.infer_slice),
        LayerType("conv1d", conv.parse_conv1d, conv.infer_conv, scoped=True),
        LayerType("conv2d", conv.parse_conv2d, conv.infer_conv, scoped=True),
        LayerType("max_pool2d", conv.parse_pool, conv.infer_max_pool2d),
        LayerType("avg_pool2d", conv.parse_pool, conv.infer_avg_pool2d),
        LayerType("global_avg_pool", core.parse_none, conv.infer_global_avg_pool),
        LayerType("batch_norm", norm.parse_batch_norm, norm.infer_batch_norm, scoped=True),
        LayerType("layer_norm", norm.parse_layer_norm, norm.infer_layer_norm, scoped=True),
        LayerType("embedding", embedding.parse_embedding, embedding.infer_embedding, scoped=True),
        LayerType("position_embedding", embedding.parse_position_embedding, embedding.infer_position_embedding,
                  scoped=True),
        LayerType("rnn", rnn.parse_rnn, rnn.infer_rnn, scoped=True, refs=rnn.rnn_refs),
        LayerType("scaled_dot_product_attention", attention.parse_dot_product_attention,
                  attention.infer_dot_product_attention, arity="multi", refs=attention.mask_refs),
        LayerType("multi_head_attention", attention.parse_multi_head_attention,
                  attention.infer_multi_head_attention, scoped=True, refs=attention.multi_head_refs),
        # Blocks are planned by the planner itself: they hold layers.
        LayerType("block", core.parse_none, core.infer_identity, arity="block", scoped=True),
    ]
}

__all__ = ["LAYER_TYPES", "FLOAT_DTYPES", "Inferred", "LayerContext", "LayerType", "TensorInfo", "VarRequest"]
