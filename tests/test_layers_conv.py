"""conv1d, conv2d, max_pool2d, avg_pool2d, global_avg_pool: names, shapes and values against
NumPy; and one shared conv tower trained by one gradient step through both of its uses."""

from __future__ import annotations

import math

import numpy as np
import pytest

import specc

from .conftest import SPECS
from .zoo import build, located, op_names, plan_error, reads, session, tf, v1, values, variables

rng = np.random.default_rng(0)


# -- NumPy references ---------------------------------------------------------------------

def _pad_same(x, windows, strides, fill):
    """TensorFlow's SAME padding: the output is ceil(n / stride); the extra goes after."""
    pads = [(0, 0)]
    for n, k, s in zip(x.shape[1:-1], windows, strides):
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, pads + [(0, 0)], constant_values=fill)


def np_conv2d(x, kernel, strides=(1, 1), padding="VALID", dilation=(1, 1)):
    kh, kw, _, filters = kernel.shape
    eh, ew = (kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1
    if padding == "SAME":
        x = _pad_same(x, (eh, ew), strides, 0.0)
    oh, ow = (x.shape[1] - eh) // strides[0] + 1, (x.shape[2] - ew) // strides[1] + 1
    out = np.zeros((x.shape[0], oh, ow, filters))
    for i in range(oh):
        for j in range(ow):
            a, b = i * strides[0], j * strides[1]
            patch = x[:, a:a + eh:dilation[0], b:b + ew:dilation[1], :]
            out[:, i, j, :] = np.einsum("bhwc,hwcf->bf", patch, kernel)
    return out


def np_pool(x, size, strides, padding, reduce):
    if padding == "SAME":
        x = _pad_same(x, size, strides, np.nan)  # padding never counts, for max or mean
    oh, ow = (x.shape[1] - size[0]) // strides[0] + 1, (x.shape[2] - size[1]) // strides[1] + 1
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]))
    for i in range(oh):
        for j in range(ow):
            a, b = i * strides[0], j * strides[1]
            out[:, i, j, :] = reduce(x[:, a:a + size[0], b:b + size[1], :], axis=(1, 2))
    return out


# -- names, shapes, values ----------------------------------------------------------------

CONV = """
specc: 1
inputs:
  image: {shape: [null, 9, 8, 2]}
  signal: {shape: [null, 10, 3]}
layers:
  - {id: same, type: conv2d, input: image, filters: 4, kernel_size: 3, padding: SAME, activation: relu}
  - {id: strided, type: conv2d, input: image, filters: 5, kernel_size: [3, 2], strides: [2, 3]}
  - {id: dilated, type: conv2d, input: image, filters: 3, kernel_size: 2, dilation: 2, use_bias: false,
     padding: same}
  - {id: conv1, type: conv1d, input: signal, filters: 6, kernel_size: 3, strides: 2, padding: SAME,
     bias_initializer: {type: constant, value: 0.5}}
  - {id: max, type: max_pool2d, input: image, pool_size: 2}
  - {id: avg, type: avg_pool2d, input: image, pool_size: [3, 3], strides: 2, padding: SAME}
  - {id: gap, type: global_avg_pool, input: same}
outputs: [same, strided, dilated, conv1, max, avg, gap]
"""


@pytest.fixture(scope="module")
def conv_model():
    return build(CONV)


def test_conv_variables_are_kernel_and_bias(conv_model):
    assert variables(conv_model) == [
        ("same/kernel", (3, 3, 2, 4), True), ("same/bias", (4,), True),
        ("strided/kernel", (3, 2, 2, 5), True), ("strided/bias", (5,), True),
        ("dilated/kernel", (2, 2, 2, 3), True),
        ("conv1/kernel", (3, 3, 6), True), ("conv1/bias", (6,), True),
    ]


def test_conv_planned_shapes_are_tensorflows(conv_model):
    for out in conv_model.plan.outputs:
        assert tuple(conv_model.outputs[out.name].shape.as_list()) == out.info.shape, out.name
    assert {o.name: o.info.shape for o in conv_model.plan.outputs} == {
        "same": (None, 9, 8, 4), "strided": (None, 4, 3, 5), "dilated": (None, 9, 8, 3), "conv1": (None, 5, 6),
        "max": (None, 4, 4, 2), "avg": (None, 5, 4, 2), "gap": (None, 4)}


def test_conv_op_names(conv_model):
    names = op_names(conv_model.graph)
    assert {"same/Conv2D", "same/BiasAdd", "same/Relu", "strided/Conv2D", "dilated/Conv2D", "conv1/conv1d",
            "conv1/BiasAdd", "max/MaxPool2d", "avg/AvgPool2D", "gap/Mean"} <= names
    assert "dilated/BiasAdd" not in names
    assert reads(conv_model.graph.get_operation_by_name("same/Conv2D"), 1) is conv_model.variables["same/kernel"].handle.op


def test_conv_and_pool_values_match_numpy(conv_model):
    image = rng.standard_normal((2, 9, 8, 2)).astype(np.float32)
    signal = rng.standard_normal((2, 10, 3)).astype(np.float32)
    with session(conv_model) as sess:
        w = values(sess, conv_model)
        out = sess.run(conv_model.outputs, {conv_model.inputs["image"]: image, conv_model.inputs["signal"]: signal})
    same = np.maximum(np_conv2d(image, w["same/kernel"], padding="SAME") + w["same/bias"], 0)
    expected = {
        "same": same,
        "strided": np_conv2d(image, w["strided/kernel"], strides=(2, 3)) + w["strided/bias"],
        "dilated": np_conv2d(image, w["dilated/kernel"], padding="SAME", dilation=(2, 2)),
        "conv1": np_conv2d(signal[:, None], w["conv1/kernel"][None], (1, 2), "SAME")[:, 0] + w["conv1/bias"],
        "max": np_pool(image, (2, 2), (2, 2), "VALID", np.nanmax),
        "avg": np_pool(image, (3, 3), (2, 2), "SAME", np.nanmean),
        "gap": same.mean(axis=(1, 2)),
    }
    np.testing.assert_array_equal(w["conv1/bias"], np.full(6, 0.5, np.float32))
    for name, want in expected.items():
        np.testing.assert_allclose(out[name], want, rtol=1e-5, atol=1e-5, err_msg=name)


def test_unknown_spatial_dims_stay_unknown():
    m = build("""
        specc: 1
        inputs: {x: {shape: [null, null, 7, 1]}}
        layers:
          - {id: c, type: conv2d, filters: 2, kernel_size: 3, strides: 2}
          - {id: p, type: max_pool2d, pool_size: 2, padding: SAME}
    """)
    assert m.plan.layer("c").output.shape == (None, None, 3, 2)
    assert m.plan.layer("p").output.shape == (None, None, 2, 2)


def test_a_window_larger_than_a_valid_input_is_located():
    e = plan_error("""
        specc: 1
        inputs: {x: {shape: [null, 4, 4, 1]}}
        layers:
          - id: c
            type: conv2d
            filters: 2
            kernel_size: 3
            dilation: 2
    """)
    assert located(e) == (8, 5, "layers[0].kernel_size")
    assert "kernel 3 (dilated to 5) does not fit spatial axis 1" in e.message and "padding SAME" in e.message


def test_strides_with_dilation_is_refused_at_dilation():
    e = plan_error("""
        specc: 1
        inputs: {x: {shape: [null, 8, 8, 1]}}
        layers:
          - {id: c, type: conv2d, filters: 2, kernel_size: 3, strides: 2, dilation: 2}
    """)
    assert located(e)[2] == "layers[0].dilation"
    assert "cannot be combined" in e.message


def test_conv2d_needs_an_image():
    e = plan_error("""
        specc: 1
        inputs: {x: {shape: [null, 8, 3]}}
        layers:
          - {id: c, type: conv2d, filters: 2, kernel_size: 3}
    """)
    assert "rank 4 [batch, height, width, channels]" in e.message


# -- one shared tower, one gradient step --------------------------------------------------

def test_one_gradient_step_updates_the_one_shared_kernel_that_both_towers_read():
    """siamese_cnn: the towers' conv ops read ONE variable; a gradient step through both
    towers moves it by the sum of both towers' gradients, and both towers then compute with
    the same new value."""
    m = specc.build(SPECS / "siamese_cnn.yaml")
    g, kernel = m.graph, m.variables["tower/conv1/kernel"]
    assert [n for n in m.variables if n.endswith("conv1/kernel")] == ["tower/conv1/kernel"]
    assert not [n for n in m.variables if n.startswith("tower_1")]
    left_conv, right_conv = g.get_operation_by_name("tower/conv1/Conv2D"), g.get_operation_by_name("tower_1/conv1/Conv2D")
    assert left_conv is not right_conv
    assert reads(left_conv, 1) is reads(right_conv, 1) is kernel.handle.op
    left, right = m.outputs["left_tower"], m.outputs["right_tower"]
    with g.as_default():
        left_loss, right_loss = tf.reduce_sum(tf.square(left)), tf.reduce_sum(right)
        grads = [tf.gradients(left_loss, kernel)[0], tf.gradients(right_loss, kernel)[0]]
        step = v1.train.GradientDescentOptimizer(0.05).minimize(left_loss + right_loss)
    a = rng.standard_normal((3, 16, 16, 1)).astype(np.float32)
    b = rng.standard_normal((3, 16, 16, 1)).astype(np.float32)
    feed = {m.inputs["left"]: a, m.inputs["right"]: b}
    with session(m) as sess:
        before, (g_left, g_right) = sess.run(kernel), sess.run(grads, feed)
        assert np.abs(g_left).max() > 0 and np.abs(g_right).max() > 0
        old_left = sess.run(left, {m.inputs["left"]: a})
        sess.run(step, feed)
        after = sess.run(kernel)
        # Both towers see the new value: the same image through either tower, bit for bit.
        new_left, new_right = sess.run([left, right], {m.inputs["left"]: a, m.inputs["right"]: a})
    np.testing.assert_allclose(after, before - 0.05 * (g_left + g_right), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(new_left, new_right)
    assert not np.allclose(new_left, old_left)
