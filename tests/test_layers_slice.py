"""slice (BERT's first token: tf.squeeze(x[:, 0:1, :], axis=1)) and the padding mask
[batch, 1, key length] of the attention layers: values against NumPy, op names, located errors."""

from __future__ import annotations

import numpy as np
import pytest

from .test_layers_attention import np_attention
from .zoo import build, located, op_names, plan_error, session

rng = np.random.default_rng(11)

SLICES = """
specc: 1
inputs:
  x: {shape: [null, 5, 3]}
  ids: {shape: [null, 6], dtype: int32}
layers:
  - {id: first_token, type: slice, input: x, axis: 1, size: 1, squeeze: true}
  - {id: window, type: slice, input: x, axis: 1, begin: 1, size: 3}
  - {id: tail, type: slice, input: x, axis: -1, begin: 1}
  - {id: ids_mid, type: slice, input: ids, axis: 1, begin: 2, size: 2}
outputs: [first_token, window, tail, ids_mid]
"""


@pytest.fixture(scope="module")
def slices():
    return build(SLICES)


def test_slice_shapes_and_ops(slices):
    shapes = {name: slices.plan.layer(name).output for name in slices.outputs}
    assert {k: (v.shape, v.dtype) for k, v in shapes.items()} == {
        "first_token": ((None, 3), "float32"), "window": ((None, 3, 3), "float32"),
        "tail": ((None, 5, 2), "float32"), "ids_mid": ((None, 2), "int32")}
    names = op_names(slices.graph)
    assert {"first_token/strided_slice", "first_token/Squeeze", "window/strided_slice", "tail/strided_slice",
            "ids_mid/strided_slice"} <= names
    assert "window/Squeeze" not in names


def test_slice_matches_numpy(slices):
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    ids = rng.integers(0, 100, (2, 6)).astype(np.int32)
    with session(slices) as sess:
        out = sess.run(slices.outputs, {slices.inputs["x"]: x, slices.inputs["ids"]: ids})
    np.testing.assert_array_equal(out["first_token"], x[:, 0])
    np.testing.assert_array_equal(out["window"], x[:, 1:4])
    np.testing.assert_array_equal(out["tail"], x[..., 1:])
    np.testing.assert_array_equal(out["ids_mid"], ids[:, 2:4])


@pytest.mark.parametrize("keys,where,message", [
    ("axis: 3", "axis", "axis 3 is out of range for float32[?, 5, 3]"),
    ("axis: 1, begin: 5", "begin", "`begin` 5 is past the end of axis 1"),
    ("axis: 1, begin: 3, size: 3", "size", "`begin` 3 + `size` 3 runs past the end of axis 1"),
    ("axis: 1, size: 2, squeeze: true", "squeeze", "`squeeze` drops the sliced axis, so it needs `size: 1`"),
])
def test_slice_errors_are_located(keys, where, message):
    e = plan_error(f"""
        specc: 1
        inputs: {{x: {{shape: [null, 5, 3]}}}}
        layers:
          - {{id: s, type: slice, {keys}}}
    """)
    assert located(e)[2] == f"layers[0].{where}"
    assert message in e.message


def test_a_padding_mask_is_one_row_for_every_query():
    """[batch, 1, key length] (BERT's input_mask, reshaped) masks the same keys for every query:
    the same values as the full [batch, query length, key length] mask."""
    m = build("""
        specc: 1
        inputs:
          x: {shape: [null, 4, 8]}
          input_mask: {shape: [null, 4], dtype: int32}
        layers:
          - {id: row, type: reshape, input: input_mask, shape: [1, 4]}
          - {id: core, type: scaled_dot_product_attention, inputs: [x, x, x], heads: 2, mask: row}
          - {id: mha, type: multi_head_attention, input: x, heads: 2, key_dim: 4, mask: row}
        outputs: [core, mha]
    """)
    assert m.plan.layer("core").output.shape == (None, 4, 8)
    x = rng.standard_normal((3, 4, 8)).astype(np.float32)
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], np.int32)
    with session(m) as sess:
        out = sess.run(m.outputs, {m.inputs["x"]: x, m.inputs["input_mask"]: mask})
    full = np.broadcast_to(mask[:, None, :], (3, 4, 4))
    np.testing.assert_allclose(out["core"], np_attention(x, x, x, 2, full), rtol=1e-5, atol=1e-5)
    assert np.all(np.isfinite(out["mha"]))


def test_a_mask_row_of_the_wrong_length_is_still_refused():
    e = plan_error("""
        specc: 1
        inputs:
          q: {shape: [null, 4, 8]}
          mask: {shape: [null, 1, 3]}
        layers:
          - {id: att, type: scaled_dot_product_attention, inputs: [q, q, q], mask: mask}
    """)
    assert located(e)[2] == "layers[0].mask"
    assert "(or [batch, 1, key length], one row for every query)" in e.message
