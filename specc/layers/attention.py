"""Attention: a parameter-free scaled dot-product core (BERT's masking: -10000 · (1 - mask) is added
to the scores) and a multi-head layer with query/key/value/output projections around it."""

from __future__ import annotations

import math

from .base import Inferred, Initializer, LayerContext, TensorInfo, VarRequest, same_dtype
from .declare import BOOL, INITIALIZER, POSITIVE_INT, REF, layer, param

FAMILY = "Attention"
ORDER = 70

# The core's ops, as BERT's attention_layer makes them with heads split by tf.split
# (shape-agnostic: batch and sequence may be unknown). "mul" meets "Mul" case-insensitively,
# so TensorFlow (and the planner) call the mask's product mul_1.
_SPLIT = ("split", "stack", "split", "stack", "split", "stack", "MatMul", "Mul")
_MASK = ("ExpandDims", "sub", "mul", "add")
_COMBINE = ("Softmax", "MatMul", "unstack", "concat")


# On matrices, as BERT's attention_layer: reshape and transpose to [batch, heads, length, width].
_MATRIX_SCORES = ("Reshape", "transpose", "Reshape_1", "transpose_1", "MatMul", "Mul")
_MATRIX_MASK = ("ExpandDims", "sub", "mul_1", "add")
_MATRIX_COMBINE = ("Softmax", "Reshape_2", "transpose_2", "MatMul_1", "transpose_3")


def _core_ops(mask: TensorInfo | None, dtype: str, matrix: bool = False) -> tuple[str, ...]:
    if matrix:  # the batch size first; the final reshape multiplies it by the length
        batch = ("Shape", "strided_slice") if mask is not None else ("Shape", "strided_slice", "floordiv")
        rows = ("mul_2", "Reshape_3") if mask is not None else ("mul_1", "Reshape_3")
        return batch + _MATRIX_SCORES + (_mask_ops(mask, dtype, _MATRIX_MASK) if mask is not None else ()) + \
            _MATRIX_COMBINE + rows
    return _SPLIT + (_mask_ops(mask, dtype, _MASK) if mask is not None else ()) + _COMBINE


def _mask_ops(mask: TensorInfo, dtype: str, ops: tuple[str, ...]) -> tuple[str, ...]:
    cast = ("Cast",) if mask.dtype != dtype else ()
    return ops[:1] + cast + ops[1:]


def _check_mask(mask: TensorInfo, q: TensorInfo, k: TensorInfo, ctx: LayerContext) -> None:
    want = (q.shape[0], q.shape[1], k.shape[1])
    _check_mask_shape(mask, want, ctx)


def _check_mask_shape(mask: TensorInfo, want: tuple[int | None, ...], ctx: LayerContext) -> None:
    # A query length of 1 is a padding mask, one row for every query: the emitter's
    # (1 - mask) * -10000 broadcasts it, as ALBERT does with its [batch, 1, key length, 1] mask.
    ok = len(mask.shape) == 3 and all(a is None or b is None or a == b or (axis == 1 and a == 1)
                                      for axis, (a, b) in enumerate(zip(mask.shape, want)))
    if not ok:
        dims = ", ".join("?" if d is None else str(d) for d in want)
        raise ctx.error(f"the mask must be [batch, query length, key length] = [{dims}] (or [batch, 1, key length], "
                        f"one row for every query) of 0/1, got {mask}", "mask")
    if mask.dtype not in ("bool", "int32", "int64", "float16", "bfloat16", "float32", "float64"):
        raise ctx.error(f"the mask must be bool, int or float, got {mask}", "mask")


def _check_seq(t: TensorInfo, what: str, key: str, ctx: LayerContext) -> None:
    if len(t.shape) != 3 or t.shape[-1] is None:
        raise ctx.error(f"the {what} must be [batch, sequence, width] with a known width, got {t}", key)


# -- scaled_dot_product_attention ----------------------------------------------------------

MASK_DOC = ("An input of 0/1 (bool, int or float), [batch, query length, key length], or [batch, 1, key length] "
            "for one row for every query: where it is 0, attention is masked out.")


@layer("scaled_dot_product_attention", arity="multi", inputs=(3, 3),
       doc="softmax(q · kᵀ / √d) · v over `heads` heads split from the widths, as BERT's `attention_layer` core; "
           "no variables.",
       example={"id": "attend", "type": "scaled_dot_product_attention", "inputs": ["q", "k", "v"], "heads": 12},
       ops="`split`, `stack`, ..., `MatMul`, `Mul`, `Softmax`, `MatMul_1`, `unstack`, `concat`")
class DotProductAttention:
    heads: int = param(POSITIVE_INT, "The number of heads the widths are split into.", default=1, example=12)
    mask: str | None = param(REF, MASK_DOC, default=None, example="input_mask")
    seq_length: int | None = param(POSITIVE_INT, "For matrices: query, key and value are [batch·seq_length, width] "
                                                 "(as BERT's encoder keeps them, see `reshape`'s `batch: fold`), "
                                                 "split into sequences of `seq_length` rows by `Reshape` and "
                                                 "`transpose`, as BERT's `attention_layer` does; the result is a "
                                                 "matrix too.", default=None, example=128)

    def refs(self) -> tuple[tuple[tuple, str], ...]:
        return ((("mask",), self.mask),) if self.mask is not None else ()

    def infer(self, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
        p = self
        if len(inputs) != 3 + (p.mask is not None):
            raise ctx.error(f"`inputs` are [query, key, value]: 3 entries, got {len(inputs) - (p.mask is not None)}",
                            "inputs")
        q, k, v = inputs[:3]
        same_dtype([q, k, v], dtype, ctx)
        if p.seq_length is not None:
            return self._infer_matrices(q, k, v, inputs[3] if p.mask is not None else None, dtype, ctx)
        for t, what in ((q, "query"), (k, "key"), (v, "value")):
            _check_seq(t, what, "inputs", ctx)
        if q.shape[-1] != k.shape[-1]:
            raise ctx.error(f"query and key must have one width to be compared, got {q} and {k}", "inputs")
        if None not in (k.shape[1], v.shape[1]) and k.shape[1] != v.shape[1]:
            raise ctx.error(f"key and value must have one sequence length, got {k} and {v}", "inputs")
        for t, what in ((q, "query"), (v, "value")):
            if t.shape[-1] % p.heads:
                raise ctx.error(f"the {what} width {t.shape[-1]} does not split into {p.heads} heads", "heads")
        mask = inputs[3] if p.mask is not None else None
        if mask is not None:
            _check_mask(mask, q, k, ctx)
        return Inferred(TensorInfo((q.shape[0], q.shape[1], v.shape[-1]), dtype), (), _core_ops(mask, dtype))

    def _infer_matrices(self, q: TensorInfo, k: TensorInfo, v: TensorInfo, mask: TensorInfo | None, dtype: str,
                        ctx: LayerContext) -> Inferred:
        length = self.seq_length
        for t, what in ((q, "query"), (k, "key"), (v, "value")):
            if len(t.shape) != 2 or t.shape[-1] is None:
                raise ctx.error(f"with `seq_length` the {what} must be a matrix [batch·seq_length, width] with a known "
                                f"width, got {t}", "inputs")
            if t.shape[0] is not None and t.shape[0] % length:
                raise ctx.error(f"the {what}'s {t.shape[0]} rows are not whole sequences of `seq_length` {length}",
                                "seq_length")
            if t.shape[-1] % self.heads:
                raise ctx.error(f"the {what} width {t.shape[-1]} does not split into {self.heads} heads", "heads")
        if q.shape[-1] != k.shape[-1]:
            raise ctx.error(f"query and key must have one width to be compared, got {q} and {k}", "inputs")
        if mask is not None:
            batch = None if q.shape[0] is None else q.shape[0] // length
            _check_mask_shape(mask, (batch, length, length), ctx)
        return Inferred(TensorInfo((q.shape[0], v.shape[-1]), dtype), (), _core_ops(mask, dtype, matrix=True))

    def emit(self, tf, layer, xs, variables):
        mask = xs[3] if self.mask is not None else None
        if self.seq_length is not None:
            return attend_matrices(tf, xs[0], xs[1], xs[2], self.heads, self.seq_length, mask)
        return attend(tf, xs[0], xs[1], xs[2], self.heads, mask)


# -- multi_head_attention ----------------------------------------------------------------

PROJECTIONS = ("query", "key", "value", "output")


@layer("multi_head_attention", scoped=True,
       doc="Multi-head attention: dense `query`, `key` and `value` projections, the scaled dot-product core, and "
           "a dense `output` projection, each in a name scope of its own.",
       example={"id": "attention", "type": "multi_head_attention", "heads": 12, "key_dim": 64,
                "mask": "input_mask"},
       variables="`query/kernel`, `key/kernel`, `value/kernel`, `output/kernel` and their `bias`",
       ops="`query`, `key`, `value`, `attention`, `output`")
class MultiHeadAttention:
    heads: int = param(POSITIVE_INT, "The number of heads.", required=True, example=12)
    key_dim: int = param(POSITIVE_INT, "The width of each head (BERT's `size_per_head`).", required=True,
                         example=64)
    units: int | None = param(POSITIVE_INT, "The output width; default: the input's.", default=None)
    memory: str | None = param(REF, "What keys and values are computed from; default: the input (self-attention).",
                               default=None, example="encoder")
    mask: str | None = param(REF, MASK_DOC, default=None, example="input_mask")
    use_bias: bool = param(BOOL, "Give each projection a bias.", default=True)
    kernel_initializer: Initializer = param(INITIALIZER, "How the projections' kernels start.",
                                            default="glorot_uniform", convert=Initializer.parse)
    bias_initializer: Initializer = param(INITIALIZER, "How the projections' biases start.", default="zeros",
                                          convert=Initializer.parse)

    def refs(self) -> tuple[tuple[tuple, str], ...]:
        memory = ((("memory",), self.memory),) if self.memory is not None else ()
        return memory + ((("mask",), self.mask),) if self.mask is not None else memory

    def infer(self, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
        p = self
        x = inputs[0]
        memory = inputs[1] if p.memory is not None else x
        mask = inputs[-1] if p.mask is not None else None
        same_dtype([x, memory], dtype, ctx)
        _check_seq(x, "input", "input", ctx)
        _check_seq(memory, "memory", "memory", ctx)
        if mask is not None:
            _check_mask(mask, x, memory, ctx)
        inner = p.heads * p.key_dim
        units = p.units if p.units is not None else x.shape[-1]
        widths = {"query": (x.shape[-1], inner), "key": (memory.shape[-1], inner),
                  "value": (memory.shape[-1], inner), "output": (inner, units)}
        variables = []
        for name in PROJECTIONS:
            variables.append(VarRequest(f"{name}/kernel", widths[name], dtype, p.kernel_initializer))
            if p.use_bias:
                variables.append(VarRequest(f"{name}/bias", (widths[name][1],), dtype, p.bias_initializer))
        # Each projection in a name scope of its own, the core in `attention`.
        ops = ("query", "key", "value", "attention", "output")
        return Inferred(TensorInfo((x.shape[0], x.shape[1], units), dtype), tuple(variables), ops)

    def emit(self, tf, layer, xs, variables):
        v1 = tf.compat.v1
        x = xs[0]
        memory = xs[1] if self.memory is not None else x
        mask = xs[-1] if self.mask is not None else None

        def project(name, t):
            with v1.name_scope(name):
                y = tf.tensordot(t, variables[f"{name}/kernel"], [[2], [0]])
                return tf.nn.bias_add(y, variables[f"{name}/bias"]) if self.use_bias else y

        q, k, v = project("query", x), project("key", memory), project("value", memory)
        with v1.name_scope("attention"):
            context = attend(tf, q, k, v, self.heads, mask)
        return project("output", context)


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


def attend_matrices(tf, q, k, v, heads: int, length: int, mask=None):
    """[batch·L, heads*d] x [batch·L, heads*d] x [batch·L, heads*dv] -> [batch·L, heads*dv], as BERT's
    attention_layer with do_return_2d_tensor=True."""
    # The batch size as BERT's get_shape_list reads it at run time (the mask holds one row per example;
    # without one, the rows are whole sequences); it shapes every reshape, as in modeling.py.
    batch = tf.shape(mask)[0] if mask is not None else tf.shape(q)[0] // length

    def transpose_for_scores(t):  # -> [batch, heads, L, width / heads]
        return tf.transpose(tf.reshape(t, [batch, length, heads, t.shape[-1] // heads]), [0, 2, 1, 3])

    q, k = transpose_for_scores(q), transpose_for_scores(k)
    scores = tf.multiply(tf.matmul(q, k, transpose_b=True), 1.0 / math.sqrt(q.shape[-1]))
    if mask is not None:
        mask = tf.expand_dims(mask, axis=[1])  # [batch, 1, L or 1, L]: one mask for every head
        if mask.dtype != scores.dtype:
            mask = tf.cast(mask, scores.dtype)
        scores += (1.0 - mask) * -10000.0
    probs = tf.nn.softmax(scores)
    context = tf.transpose(tf.matmul(probs, transpose_for_scores(v)), [0, 2, 1, 3])
    return tf.reshape(context, [batch * length, v.shape[-1]])
