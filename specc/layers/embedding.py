"""Planners for token and position embeddings (a tied output projection is `dense` with `tie:`)."""

from __future__ import annotations

from dataclasses import dataclass

from ..spec import Initializer
from .base import Inferred, LayerContext, TensorInfo, VarRequest, initializer, same_dtype

# BERT's create_initializer(initializer_range=0.02), for both tables.
BERT_INITIALIZER = {"type": "truncated_normal", "stddev": 0.02}


# -- embedding ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Embedding:
    vocab: int
    dim: int
    table_name: str
    initializer: Initializer


def parse_embedding(raw: dict) -> Embedding:
    return Embedding(raw["vocab"], raw["dim"], raw.get("table_name", "embeddings"),
                     initializer(raw.get("initializer", BERT_INITIALIZER), "truncated_normal"))


def infer_embedding(p: Embedding, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
    (ids,) = inputs
    if ids.dtype not in ("int32", "int64"):
        raise ctx.error(f"embedding looks up int32 or int64 ids, got {ids}", "input")
    table = VarRequest(p.table_name, (p.vocab, p.dim), dtype, p.initializer)
    return Inferred(TensorInfo(ids.shape + (p.dim,), dtype), (table,), ("embedding_lookup",))


# -- position_embedding ------------------------------------------------------------------

@dataclass(frozen=True)
class PositionEmbedding:
    max_len: int
    dim: int | None
    table_name: str
    initializer: Initializer


def parse_position_embedding(raw: dict) -> PositionEmbedding:
    return PositionEmbedding(raw["max_len"], raw.get("dim"), raw.get("table_name", "position_embeddings"),
                             initializer(raw.get("initializer", BERT_INITIALIZER), "truncated_normal"))


def infer_position_embedding(p: PositionEmbedding, inputs: list[TensorInfo], dtype: str,
                             ctx: LayerContext) -> Inferred:
    (x,) = inputs
    same_dtype(inputs, dtype, ctx)
    if len(x.shape) != 3 or x.shape[-1] is None:
        raise ctx.error(f"position_embedding adds to [batch, sequence, width] with a known width, got {x}", "input")
    width, seq = x.shape[2], x.shape[1]
    if p.dim is not None and p.dim != width:
        raise ctx.error(f"`dim` is {p.dim} but the input's width is {width}; the table is added to the input, "
                        "so they must agree (or leave `dim` out)", "dim")
    if seq is not None and seq > p.max_len:
        raise ctx.error(f"the input's sequence length is {seq} but the table has only max_len {p.max_len} "
                        f"positions; raise `max_len` to at least {seq}", "max_len")
    table = VarRequest(p.table_name, (p.max_len, width), dtype, p.initializer)
    # BERT slices the table to the sequence length; an unknown length is read at run time.
    ops = ("Slice", "add") if seq is not None else ("Shape", "strided_slice", "stack", "Slice", "add")
    return Inferred(x, (table,), ops)


def tied_table(tie: str, x: TensorInfo, units: int, dtype: str, ctx: LayerContext) -> VarRequest:
    """The embedding table a `dense` with `tie:` multiplies by (transposed), borrowed by name."""
    view = ctx.layer(tie, "tie")
    if view.type != "embedding":
        raise ctx.error(f"`tie` must name an embedding layer, whose table the projection reuses; "
                        f"'{tie}' is a {view.type} layer", "tie")
    name, (vocab, width), table_dtype = view.variables[view.params.table_name]
    if x.shape[-1] != width:
        raise ctx.error(f"the input's last dimension is {x.shape[-1]}, but the tied table '{name}' of '{tie}' is "
                        f"[{vocab}, {width}]: logits = x · tableᵀ needs an input of width {width}", "tie")
    if units != vocab:
        raise ctx.error(f"a projection tied to '{tie}' has one output per vocabulary entry: `units` must be "
                        f"{vocab}, got {units}", "units")
    if table_dtype != dtype:
        raise ctx.error(f"the tied table '{name}' is {table_dtype} but this layer computes in {dtype}", "tie")
    # The initializer is never used: a borrowed variable exists already.
    return VarRequest("table", (vocab, width), dtype, Initializer("zeros"), borrow=name)
