"""scaled_dot_product_attention and multi_head_attention: names, values against NumPy
(BERT's -10000 * (1 - mask)), and located shape errors."""

from __future__ import annotations

import numpy as np
import pytest

from .zoo import build, located, op_names, plan_error, session, values, variables

rng = np.random.default_rng(4)


def np_attention(q, k, v, heads, mask=None):
    def split(t):  # [b, l, heads*d] -> [b, heads, l, d]
        b, length, width = t.shape
        return t.reshape(b, length, heads, width // heads).transpose(0, 2, 1, 3)
    qh, kh, vh = split(q), split(k), split(v)
    scores = qh @ kh.transpose(0, 1, 3, 2) / np.sqrt(qh.shape[-1])
    if mask is not None:
        scores = scores + (1.0 - mask[:, None].astype(np.float64)) * -10000.0
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    context = probs @ vh
    return context.transpose(0, 2, 1, 3).reshape(q.shape[0], q.shape[1], -1)


CORE = """
specc: 1
inputs:
  q: {shape: [null, 4, 8]}
  k: {shape: [null, null, 8]}
  v: {shape: [null, null, 6]}
  mask: {shape: [null, 4, null], dtype: int32}
  soft: {shape: [null, 4, 5]}
layers:
  - {id: plain, type: scaled_dot_product_attention, inputs: [q, k, v], heads: 2}
  - {id: masked, type: scaled_dot_product_attention, inputs: [q, k, v], heads: 2, mask: mask}
  - {id: float_mask, type: scaled_dot_product_attention, inputs: [q, k, k], mask: soft}
outputs: [plain, masked, float_mask]
"""


@pytest.fixture(scope="module")
def core():
    return build(CORE)


def test_the_core_has_no_variables_and_bert_like_ops(core):
    assert variables(core) == []
    names = op_names(core.graph)
    assert {"plain/MatMul", "plain/Mul", "plain/Softmax", "plain/MatMul_1", "plain/concat",
            "masked/ExpandDims", "masked/Cast", "masked/sub", "masked/mul_1", "masked/add",
            "float_mask/ExpandDims", "float_mask/sub"} <= names
    assert "float_mask/Cast" not in names  # a float mask is used as it is
    assert core.plan.layer("masked").output.shape == (None, 4, 6)


def test_the_core_matches_numpy(core):
    q = rng.standard_normal((2, 4, 8)).astype(np.float32)
    k = rng.standard_normal((2, 5, 8)).astype(np.float32)
    v = rng.standard_normal((2, 5, 6)).astype(np.float32)
    mask = (rng.random((2, 4, 5)) < 0.6).astype(np.int32)
    soft = (rng.random((2, 4, 5)) < 0.5).astype(np.float32)
    # A row with every key masked gives scores near -10000, where float32 keeps ~3 decimals.
    mask[:, :, 0] = soft[:, :, 0] = 1
    with session(core) as sess:
        out = sess.run(core.outputs, {core.inputs["q"]: q, core.inputs["k"]: k, core.inputs["v"]: v,
                                      core.inputs["mask"]: mask, core.inputs["soft"]: soft})
    np.testing.assert_allclose(out["plain"], np_attention(q, k, v, 2), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["masked"], np_attention(q, k, v, 2, mask), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["float_mask"], np_attention(q, k, k, 1, soft), rtol=1e-5, atol=1e-5)
    assert not np.allclose(out["plain"], out["masked"])


MHA = """
specc: 1
inputs:
  x: {shape: [null, 3, 8]}
  memory: {shape: [null, 5, 6]}
  mask: {shape: [null, 3, 5], dtype: int32}
layers:
  - {id: self, type: multi_head_attention, input: x, heads: 2, key_dim: 4}
  - id: cross
    type: multi_head_attention
    input: x
    scope: attention
    memory: memory
    mask: mask
    heads: 2
    key_dim: 3
    units: 7
    kernel_initializer: {type: truncated_normal, stddev: 0.02}
outputs: [self, cross]
"""


def test_multi_head_attention_variables_and_values():
    m = build(MHA)
    assert variables(m) == [
        ("self/query/kernel", (8, 8), True), ("self/query/bias", (8,), True),
        ("self/key/kernel", (8, 8), True), ("self/key/bias", (8,), True),
        ("self/value/kernel", (8, 8), True), ("self/value/bias", (8,), True),
        ("self/output/kernel", (8, 8), True), ("self/output/bias", (8,), True),
        ("attention/query/kernel", (8, 6), True), ("attention/query/bias", (6,), True),
        ("attention/key/kernel", (6, 6), True), ("attention/key/bias", (6,), True),
        ("attention/value/kernel", (6, 6), True), ("attention/value/bias", (6,), True),
        ("attention/output/kernel", (6, 7), True), ("attention/output/bias", (7,), True),
    ]
    assert {n.split("/")[1] for n in op_names(m.graph) if n.startswith("self/") and "/kernel" not in n
            and "/bias" not in n} == {"query", "key", "value", "attention", "output"}
    x = rng.standard_normal((2, 3, 8)).astype(np.float32)
    memory = rng.standard_normal((2, 5, 6)).astype(np.float32)
    mask = (rng.random((2, 3, 5)) < 0.7).astype(np.int32)
    mask[:, :, 0] = 1
    with session(m) as sess:
        for v in m.variables.values():
            if v.name.endswith("bias:0"):
                v.load(rng.standard_normal(v.shape.as_list()).astype(np.float32), sess)
        w = values(sess, m)
        out = sess.run(m.outputs, {m.inputs["x"]: x, m.inputs["memory"]: memory, m.inputs["mask"]: mask})

    def dense(t, scope):
        return t @ w[f"{scope}/kernel"] + w[f"{scope}/bias"]

    def mha(scope, source, heads, mask=None):
        context = np_attention(dense(x, f"{scope}/query"), dense(source, f"{scope}/key"),
                               dense(source, f"{scope}/value"), heads, mask)
        return dense(context, f"{scope}/output")
    np.testing.assert_allclose(out["self"], mha("self", x, 2), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["cross"], mha("attention", memory, 2, mask), rtol=1e-4, atol=1e-5)
    assert np.abs(w["attention/query/kernel"]).max() <= 0.04 + 1e-7  # truncated at two stddevs


def test_a_mask_of_the_wrong_shape_is_located():
    e = plan_error("""
        specc: 1
        inputs:
          q: {shape: [null, 4, 8]}
          mask: {shape: [null, 4, 3]}
        layers:
          - id: att
            type: scaled_dot_product_attention
            inputs: [q, q, q]
            mask: mask
    """)
    assert located(e) == (10, 5, "layers[0].mask")
    assert "[batch, query length, key length] = [?, 4, 4]" in e.message


def core_error(shape: str, params: str) -> tuple[str, str]:
    """The located key and message of a core on q = k = v of `shape`, with more `params`."""
    e = plan_error(f"""
        specc: 1
        inputs: {{q: {{shape: {shape}}}}}
        layers:
          - {{id: att, type: scaled_dot_product_attention, inputs: [q, q, q], {params}}}
    """)
    return located(e)[2], e.message


def test_widths_must_split_into_heads():
    key, message = core_error("[null, 4, 6]", "heads: 4")
    assert key == "layers[0].heads" and "does not split into 4 heads" in message


# -- on matrices, as BERT's encoder keeps them -------------------------------------------------

MATRIX = """
specc: 1
inputs:
  x: {shape: [null, 4, 8]}
  mask: {shape: [null, 1, 4], dtype: int32}
layers:
  - {id: rows, type: reshape, input: x, batch: fold, shape: [-1, 8]}
  - {id: masked, type: scaled_dot_product_attention, inputs: [rows, rows, rows], heads: 2, seq_length: 4,
     mask: mask}
  - {id: plain, type: scaled_dot_product_attention, inputs: [rows, rows, rows], heads: 2, seq_length: 4}
outputs: [masked, plain]
"""


def test_the_core_on_matrices_is_bert_s_attention_layer():
    m = build(MATRIX)
    assert m.plan.layer("masked").output.shape == (None, 8)
    ops = {op.name: op.type for op in m.graph.get_operations()}
    # transpose_for_scores, the scores as BatchMatMulV2, and the batch size read from the mask.
    assert ops["masked/MatMul"] == ops["masked/MatMul_1"] == "BatchMatMulV2"
    assert [ops[f"masked/transpose{s}"] for s in ("", "_1", "_2", "_3")] == ["Transpose"] * 4
    assert ops["masked/Reshape/shape"] == "Pack" and ops["masked/Shape"] == "Shape"
    assert m.graph.get_operation_by_name("masked/Shape").inputs[0].name == "mask:0"
    assert ops["plain/floordiv"] == "FloorDiv"  # without a mask: the rows / seq_length
    x = rng.standard_normal((3, 4, 8)).astype(np.float32)
    mask = np.ones((3, 1, 4), np.int32)
    mask[:, :, 3] = 0
    with session(m) as sess:
        out = sess.run(m.outputs, {m.inputs["x"]: x, m.inputs["mask"]: mask})
    full = np.broadcast_to(mask, (3, 4, 4))
    np.testing.assert_allclose(out["masked"], np_attention(x, x, x, 2, full).reshape(12, 8), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["plain"], np_attention(x, x, x, 2).reshape(12, 8), rtol=1e-5, atol=1e-5)


def test_matrices_need_whole_sequences():
    key, message = core_error("[10, 8]", "seq_length: 4")
    assert key == "layers[0].seq_length" and "10 rows are not whole sequences" in message
    key, message = core_error("[null, 4, 8]", "seq_length: 4")
    assert key == "layers[0].inputs" and "must be a matrix [batch·seq_length, width]" in message
