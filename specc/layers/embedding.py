"""Token and position embeddings (a tied output projection is `dense` with `tie:`)."""

from __future__ import annotations

from .base import Inferred, Initializer, LayerContext, TensorInfo, VarRequest, same_dtype
from .declare import INITIALIZER, POSITIVE_INT, SEGMENT, enum, layer, param

FAMILY = "Embeddings"
ORDER = 50

# BERT's create_initializer(initializer_range=0.02), for both tables.
BERT_INITIALIZER = {"type": "truncated_normal", "stddev": 0.02}


# -- embedding ---------------------------------------------------------------------------

@layer("embedding", scoped=True, float_only=True,
       doc="A table lookup: int ids [batch, ...] -> vectors [batch, ..., dim] (`tf.nn.embedding_lookup`).",
       example={"id": "embed", "type": "embedding", "input": "ids", "vocab": 30522, "dim": 768},
       variables="`embeddings` [vocab, dim]",
       ops="`embedding_lookup`; `gather`: `ExpandDims`, `Reshape`, `Gather`, `Shape`, `strided_slice`, `Reshape_1`; "
           "`one_hot`: `Shape`, `strided_slice`, `Reshape`, `one_hot`, `MatMul`, `Reshape_1`")
class Embedding:
    vocab: int = param(POSITIVE_INT, "The number of rows: ids run from 0 to vocab - 1.", required=True,
                       example=30522)
    dim: int = param(POSITIVE_INT, "The width of each vector.", required=True, example=768)
    table_name: str = param(SEGMENT, "The table variable's name.", default="embeddings",
                            example="word_embeddings")
    initializer: Initializer = param(INITIALIZER, "How the table starts (BERT's by default).",
                                     default=BERT_INITIALIZER, convert=Initializer.parse)
    method: str = param(enum("lookup", "gather", "one_hot"),
                        "`lookup`: `tf.nn.embedding_lookup`. `gather`: BERT's `embedding_lookup`, `tf.gather` on the "
                        "flattened ids, reshaped back. `one_hot`: BERT's token types, a one-hot matrix times the table "
                        "(one `MatMul`, fast for a small vocabulary), reshaped back.", default="lookup")

    def infer(self, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
        (ids,) = inputs
        if ids.dtype not in ("int32", "int64"):
            raise ctx.error(f"embedding looks up int32 or int64 ids, got {ids}", "input")
        if self.method != "lookup" and (not ids.shape or None in ids.shape[1:]):
            raise ctx.error(f"`method: {self.method}` flattens the ids and reshapes the vectors back, so it needs "
                            f"ids [batch, ...] with every dimension after the batch known, got {ids}", "input")
        table = VarRequest(self.table_name, (self.vocab, self.dim), dtype, self.initializer)
        return Inferred(TensorInfo(ids.shape + (self.dim,), dtype), (table,), _EMBEDDING_OPS[self.method])

    def emit(self, tf, layer, xs, variables):
        table, ids = variables[self.table_name], xs[0]
        if self.method == "lookup":
            return tf.nn.embedding_lookup(table, ids)
        # BERT's embedding_lookup and embedding_postprocessor: flat ids, one row each, then back to
        # [batch, ..., dim] with the batch size read at run time, as their get_shape_list does.
        if self.method == "gather":
            ids = tf.expand_dims(ids, axis=[-1])
            rows = tf.gather(table, tf.reshape(ids, [-1]))
            batch = tf.shape(ids)[0]
        else:
            batch = tf.shape(ids)[0]
            one_hot = tf.one_hot(tf.reshape(ids, [-1]), depth=self.vocab, dtype=table.dtype)
            rows = tf.matmul(one_hot, table)
        return tf.reshape(rows, [batch, *layer.output.shape[1:]])


_EMBEDDING_OPS = {"lookup": ("embedding_lookup",),
                  "gather": ("ExpandDims", "Reshape", "Gather", "Shape", "strided_slice", "Reshape_1"),
                  "one_hot": ("Shape", "strided_slice", "Reshape", "one_hot", "MatMul", "Reshape_1")}


# -- position_embedding ------------------------------------------------------------------

@layer("position_embedding", scoped=True,
       doc="Adds a learned vector per position to [batch, sequence, width], as BERT: the table is sliced to the "
           "sequence length.",
       example={"id": "positions", "type": "position_embedding", "max_len": 512},
       variables="`position_embeddings` [max_len, width]", ops="`Slice`, `Reshape`, `add`")
class PositionEmbedding:
    max_len: int = param(POSITIVE_INT, "The longest sequence: the table's rows.", required=True, example=512)
    dim: int | None = param(POSITIVE_INT, "The table's width; must be the input's (the default).", default=None)
    table_name: str = param(SEGMENT, "The table variable's name.", default="position_embeddings")
    initializer: Initializer = param(INITIALIZER, "How the table starts (BERT's by default).",
                                     default=BERT_INITIALIZER, convert=Initializer.parse)

    def infer(self, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
        (x,) = inputs
        same_dtype(inputs, dtype, ctx)
        if len(x.shape) != 3 or x.shape[-1] is None:
            raise ctx.error(f"position_embedding adds to [batch, sequence, width] with a known width, got {x}",
                            "input")
        width, seq = x.shape[2], x.shape[1]
        if self.dim is not None and self.dim != width:
            raise ctx.error(f"`dim` is {self.dim} but the input's width is {width}; the table is added to the input, "
                            "so they must agree (or leave `dim` out)", "dim")
        if seq is not None and seq > self.max_len:
            raise ctx.error(f"the input's sequence length is {seq} but the table has only max_len {self.max_len} "
                            f"positions; raise `max_len` to at least {seq}", "max_len")
        table = VarRequest(self.table_name, (self.max_len, width), dtype, self.initializer)
        # BERT slices the table to the sequence length and reshapes it to [1, length, width]; an unknown
        # length is read at run time, and the slice broadcasts as it is.
        ops = ("Slice", "Reshape", "add") if seq is not None else ("Shape", "strided_slice", "stack", "Slice", "add")
        return Inferred(x, (table,), ops)

    def emit(self, tf, layer, xs, variables):
        x, table = xs[0], variables[self.table_name]
        length = x.shape[1]
        if length is None:
            return x + tf.slice(table, [0, 0], tf.stack([tf.shape(x)[1], -1]))  # broadcasts over the batch
        return x + tf.reshape(tf.slice(table, [0, 0], [length, -1]), [1, length, x.shape[2]])


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
