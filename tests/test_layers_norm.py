"""batch_norm and layer_norm: variables, values against NumPy, UPDATE_OPS in each training
mode, shared moving statistics (and what `specc explain` says about them)."""

from __future__ import annotations

import io
import textwrap

import numpy as np
import pytest
from rich.console import Console

import specc
from specc.report import RENDERERS, report, report_json

from .zoo import build, located, plan_error, reads, session, v1, values, variables

rng = np.random.default_rng(1)
X = rng.standard_normal((6, 4, 3)).astype(np.float32) * 3 + 1


def np_batch_norm(x, mean, variance, gamma, beta, epsilon):
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


def update_ops(model):
    return model.graph.get_collection(v1.GraphKeys.UPDATE_OPS)


def bn_spec(training, share=False, momentum="momentum: 0.9"):
    inputs = "x: {shape: [null, 4, 3]}"
    if not isinstance(training, bool):
        inputs += f", {training}: {{shape: [], dtype: bool, default: false}}"
    flag = str(training).lower() if isinstance(training, bool) else training
    second = f"  - {{id: bn_b, type: batch_norm, input: x, scope: bn, share: true, training: {flag}}}\n" if share else ""
    return (f"specc: 1\ninputs: {{{inputs}}}\nlayers:\n"
            f"  - {{id: bn, type: batch_norm, input: x, {momentum}, training: {flag}}}\n" + second)


# -- batch_norm ---------------------------------------------------------------------------

def test_batch_norm_variables_in_tf1_layers_order():
    m = build(bn_spec(True))
    assert variables(m) == [("bn/gamma", (3,), True), ("bn/beta", (3,), True),
                            ("bn/moving_mean", (3,), False), ("bn/moving_variance", (3,), False)]
    with session(m) as sess:
        w = values(sess, m)
    np.testing.assert_array_equal(w["bn/moving_mean"], np.zeros(3))
    np.testing.assert_array_equal(w["bn/moving_variance"], np.ones(3))
    np.testing.assert_array_equal(w["bn/gamma"], np.ones(3))


def test_batch_norm_training_normalises_with_batch_moments_and_updates_moving_ones():
    m = build(bn_spec(True))
    ops = update_ops(m)
    assert [(op.name, op.type) for op in ops] == [("bn/AssignMovingAvg", "AssignSubVariableOp"),
                                                  ("bn/AssignMovingAvg_1", "AssignSubVariableOp")]
    assert ops[0].inputs[0].op is m.variables["bn/moving_mean"].handle.op
    assert ops[1].inputs[0].op is m.variables["bn/moving_variance"].handle.op
    with session(m) as sess:
        sess.run([v.assign(rng.standard_normal(3)) for v in (m.variables["bn/gamma"], m.variables["bn/beta"])])
        w = values(sess, m)
        y = sess.run(m.outputs["bn"], {m.inputs["x"]: X})
        sess.run(ops, {m.inputs["x"]: X})
        after = values(sess, m)
    mean, variance = X.mean(axis=(0, 1)), X.var(axis=(0, 1))  # biased, as tf.nn.moments
    np.testing.assert_allclose(y, np_batch_norm(X, mean, variance, w["bn/gamma"], w["bn/beta"], 1e-3), rtol=1e-5, atol=1e-5)
    # moving -= (moving - batch) * (1 - momentum), from 0 and 1 with momentum 0.9
    np.testing.assert_allclose(after["bn/moving_mean"], 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(after["bn/moving_variance"], 1 - 0.1 * (1 - variance), rtol=1e-5)


def test_batch_norm_inference_uses_the_moving_statistics_and_updates_nothing():
    m = build(bn_spec(False, momentum="decay: 0.5"))
    assert update_ops(m) == []
    assert m.plan.layer("bn").params.momentum == 0.5
    with session(m) as sess:
        mean, variance = rng.standard_normal(3).astype(np.float32), rng.random(3).astype(np.float32) + 0.5
        m.variables["bn/moving_mean"].load(mean, sess)
        m.variables["bn/moving_variance"].load(variance, sess)
        y = sess.run(m.outputs["bn"], {m.inputs["x"]: X})
    np.testing.assert_allclose(y, np_batch_norm(X, mean, variance, 1, 0, 1e-3), rtol=1e-5, atol=1e-5)
    assert {op.name.split("/")[1] for op in m.graph.get_operations() if op.name.startswith("bn/")
            and not op.name.startswith(("bn/gamma", "bn/beta", "bn/moving"))} == {"batchnorm"}


def test_batch_norm_on_a_flag_updates_only_when_training():
    m = build(bn_spec("is_training"))
    ops = update_ops(m)
    # cond_v2 marks its If op unfetchable, so UPDATE_OPS holds the ops of the conds' outputs.
    assert [(op.name, op.type) for op in ops] == [("bn/cond_1/Identity", "Identity"), ("bn/cond_2/Identity", "Identity")]
    assert {op.inputs[0].op.type for op in ops} == {"If"}
    flag = m.inputs["is_training"]
    with session(m) as sess:
        frozen = sess.run(m.outputs["bn"], {m.inputs["x"]: X})  # default: false
        sess.run(ops, {m.inputs["x"]: X})
        unchanged = values(sess, m)
        trained = sess.run(m.outputs["bn"], {m.inputs["x"]: X, flag: True})
        sess.run(ops, {m.inputs["x"]: X, flag: True})
        updated = values(sess, m)
    np.testing.assert_allclose(frozen, np_batch_norm(X, 0, 1, 1, 0, 1e-3), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(unchanged["bn/moving_mean"], np.zeros(3))
    np.testing.assert_array_equal(unchanged["bn/moving_variance"], np.ones(3))
    mean, variance = X.mean(axis=(0, 1)), X.var(axis=(0, 1))
    np.testing.assert_allclose(trained, np_batch_norm(X, mean, variance, 1, 0, 1e-3), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(updated["bn/moving_mean"], 0.1 * mean, rtol=1e-5)


def test_a_shared_batch_norm_has_four_update_ops_for_two_applications():
    m = build(bn_spec(True, share=True))
    assert [v[0] for v in variables(m)] == ["bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance"]
    ops = update_ops(m)
    assert [op.name for op in ops] == ["bn/AssignMovingAvg", "bn/AssignMovingAvg_1",
                                       "bn_1/AssignMovingAvg", "bn_1/AssignMovingAvg_1"]
    mean, variance = m.variables["bn/moving_mean"].handle.op, m.variables["bn/moving_variance"].handle.op
    assert [op.inputs[0].op for op in ops] == [mean, variance, mean, variance]
    g = m.graph
    assert reads(g.get_operation_by_name("bn/batchnorm/mul"), 1) is reads(g.get_operation_by_name("bn_1/batchnorm/mul"), 1)
    with session(m) as sess:
        sess.run(ops, {m.inputs["x"]: X})
        after = values(sess, m)
    # Two updates of the same variable in one step, order unspecified: from 0, either way
    # 0.1*m + 0.09*m (the second sees the first) or 0.1*m (both read 0): between those.
    batch_mean = X.mean(axis=(0, 1))
    lo, hi = np.minimum(0.1 * batch_mean, 0.19 * batch_mean), np.maximum(0.1 * batch_mean, 0.19 * batch_mean)
    assert np.all(after["bn/moving_mean"] >= lo - 1e-6) and np.all(after["bn/moving_mean"] <= hi + 1e-6)


def test_explain_says_shared_moving_statistics_get_one_update_per_application():
    plan = specc.plan(specc.loads(bn_spec("is_training", share=True), "shared_bn.yaml"))
    rep = report(plan)
    rows = {r.name: r for r in rep.rows}
    assert rows["bn/moving_mean"].updated_by == ("bn", "bn_b")
    assert rows["bn/gamma"].updated_by == ()
    (note,) = rep.notes()
    assert "bn/moving_mean, bn/moving_variance" in note and "2 updates per training step" in note
    assert "one per application" in note
    out = io.StringIO()
    RENDERERS["table"](rep, Console(file=out, width=300))
    assert "note: shared moving statistics bn/moving_mean, bn/moving_variance: 2 applications (bn, bn_b)" in out.getvalue()
    data = report_json(rep)
    assert data["notes"] == [note]
    assert {v["name"]: v.get("updates_per_step") for v in data["variables"]} == {
        "bn/gamma": None, "bn/beta": None, "bn/moving_mean": 2, "bn/moving_variance": 2}


def test_specc_explain_on_the_siamese_cnn_states_two_updates_per_step():
    from typer.testing import CliRunner

    from specc.cli import app

    from .conftest import SPECS

    result = CliRunner().invoke(app, ["explain", str(SPECS / "siamese_cnn.yaml")], terminal_width=400)
    assert result.exit_code == 0, result.output
    assert ("note: shared moving statistics tower/bn1/moving_mean, tower/bn1/moving_variance: 2 applications "
            "(left_tower.bn1, right_tower.bn1)") in result.output
    assert "2 updates per training step, one per application" in result.output


def test_an_unshared_or_inference_batch_norm_has_no_note():
    assert report(specc.plan(specc.loads(bn_spec(True), "a.yaml"))).notes() == ()
    assert report(specc.plan(specc.loads(bn_spec(False, share=True), "b.yaml"))).notes() == ()


def test_momentum_and_decay_together_are_refused():
    with pytest.raises(specc.SpecError) as info:  # when the spec is read, before planning
        specc.loads(textwrap.dedent("""
            specc: 1
            inputs: {x: {shape: [null, 3]}}
            layers:
              - {id: bn, type: batch_norm, momentum: 0.9, decay: 0.9}
        """), "t.yaml")
    assert located(info.value) == (5, 47, "layers[0].decay")
    assert info.value.message == "`decay` is another name for `momentum`; give one of them"


def test_batch_norm_needs_known_channels():
    e = plan_error("""
        specc: 1
        inputs: {x: {shape: [null, null]}}
        layers:
          - {id: bn, type: batch_norm}
    """)
    assert "known last (channel) dimension" in e.message


# -- layer_norm ---------------------------------------------------------------------------

def test_layer_norm_is_berts():
    m = build("""
        specc: 1
        inputs: {x: {shape: [null, 4, 3]}}
        layers:
          - {id: LayerNorm, type: layer_norm}
          - {id: loose, type: layer_norm, input: x, epsilon: 0.5, center: false}
        outputs: [LayerNorm, loose]
    """)
    # tf.contrib.layers.layer_norm's order: beta, then gamma.
    assert variables(m) == [("LayerNorm/beta", (3,), True), ("LayerNorm/gamma", (3,), True), ("loose/gamma", (3,), True)]
    assert m.plan.layer("LayerNorm").params.epsilon_for("float32") == 1e-12
    assert m.plan.layer("LayerNorm").params.epsilon_for("float16") == 1e-3
    with session(m) as sess:
        gamma, beta = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
        m.variables["LayerNorm/gamma"].load(gamma, sess)
        m.variables["LayerNorm/beta"].load(beta, sess)
        y, loose = sess.run([m.outputs["LayerNorm"], m.outputs["loose"]], {m.inputs["x"]: X})
    mean, variance = X.mean(-1, keepdims=True), X.var(-1, keepdims=True)
    np.testing.assert_allclose(y, np_batch_norm(X, mean, variance, gamma, beta, 1e-12), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(loose, np_batch_norm(X, mean, variance, 1, 0, 0.5), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float64", "float16"])
def test_layer_norm_follows_its_input_dtype(dtype):
    m = build(f"""
        specc: 1
        inputs: {{x: {{shape: [null, 5], dtype: {dtype}}}}}
        layers:
          - {{id: ln, type: layer_norm}}
    """)
    assert m.variables["ln/gamma"].dtype.base_dtype.name == dtype
    x = np.linspace(-2, 2, 10).reshape(2, 5).astype(dtype)
    with session(m) as sess:
        y = sess.run(m.outputs["ln"], {m.inputs["x"]: x})
    eps = 1e-3 if dtype == "float16" else 1e-12
    want = (x.astype(np.float64) - x.mean(-1, keepdims=True)) / np.sqrt(x.astype(np.float64).var(-1, keepdims=True) + eps)
    np.testing.assert_allclose(y.astype(np.float64), want, rtol=1e-2 if dtype == "float16" else 1e-10, atol=1e-2 if dtype == "float16" else 1e-10)
