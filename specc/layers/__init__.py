"""Layer types: one small planner each, wired in a plain dict (the emitters mirror its keys)."""

from __future__ import annotations

from . import core
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
        # Blocks are planned by the planner itself: they hold layers.
        LayerType("block", core.parse_none, core.infer_identity, arity="block", scoped=True),
    ]
}

__all__ = ["LAYER_TYPES", "FLOAT_DTYPES", "Inferred", "LayerContext", "LayerType", "TensorInfo", "VarRequest"]
