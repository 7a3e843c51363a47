"""Planners for attention: a parameter-free scaled dot-product core (BERT's masking) and a
multi-head layer with query/key/value/output projections around it."""

from __future__ import annotations

from dataclasses import dataclass

from ..spec import Initializer
from .base import Inferred, LayerContext, TensorInfo, VarRequest, initializer, same_dtype

# The core's ops, as BERT's attention_layer makes them with heads split by tf.split
# (shape-agnostic: batch and sequence may be unknown). "mul" meets "Mul" case-insensitively,
# so TensorFlow (and the planner) call the mask's product mul_1.
_SPLIT = ("split", "stack", "split", "stack", "split", "stack", "MatMul", "Mul")
_MASK = ("ExpandDims", "sub", "mul", "add")
_COMBINE = ("Softmax", "MatMul", "unstack", "concat")


def _core_ops(mask: TensorInfo | None, dtype: str) -> tuple[str, ...]:
    if mask is None:
        return _SPLIT + _COMBINE
    cast = ("Cast",) if mask.dtype != dtype else ()
    return _SPLIT + _MASK[:1] + cast + _MASK[1:] + _COMBINE


def _check_mask(mask: TensorInfo, q: TensorInfo, k: TensorInfo, ctx: LayerContext) -> None:
    want = (q.shape[0], q.shape[1], k.shape[1])
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

@dataclass(frozen=True)
class DotProductAttention:
    heads: int
    mask: str | None


def parse_dot_product_attention(raw: dict) -> DotProductAttention:
    return DotProductAttention(raw.get("heads", 1), raw.get("mask"))


def mask_refs(p) -> tuple[tuple[tuple, str], ...]:
    return ((("mask",), p.mask),) if p.mask is not None else ()


def infer_dot_product_attention(p: DotProductAttention, inputs: list[TensorInfo], dtype: str,
                                ctx: LayerContext) -> Inferred:
    if len(inputs) != 3 + (p.mask is not None):
        raise ctx.error(f"`inputs` are [query, key, value]: 3 entries, got {len(inputs) - (p.mask is not None)}",
                        "inputs")
    q, k, v = inputs[:3]
    same_dtype([q, k, v], dtype, ctx)
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


# -- multi_head_attention ----------------------------------------------------------------

@dataclass(frozen=True)
class MultiHeadAttention:
    heads: int
    key_dim: int
    units: int | None  # the output width; None: the query's width
    memory: str | None  # what keys and values are computed from; None: the input (self-attention)
    mask: str | None
    use_bias: bool
    kernel_initializer: Initializer
    bias_initializer: Initializer


def parse_multi_head_attention(raw: dict) -> MultiHeadAttention:
    return MultiHeadAttention(
        heads=raw["heads"],
        key_dim=raw["key_dim"],  # BERT's size_per_head
        units=raw.get("units"),
        memory=raw.get("memory"),
        mask=raw.get("mask"),
        use_bias=raw.get("use_bias", True),
        kernel_initializer=initializer(raw.get("kernel_initializer"), "glorot_uniform"),
        bias_initializer=initializer(raw.get("bias_initializer"), "zeros"),
    )


def multi_head_refs(p: MultiHeadAttention) -> tuple[tuple[tuple, str], ...]:
    memory = ((("memory",), p.memory),) if p.memory is not None else ()
    return memory + mask_refs(p)


PROJECTIONS = ("query", "key", "value", "output")


def infer_multi_head_attention(p: MultiHeadAttention, inputs: list[TensorInfo], dtype: str,
                               ctx: LayerContext) -> Inferred:
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
