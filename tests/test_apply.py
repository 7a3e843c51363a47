"""specc.apply: a spec as one piece of a hand-written tf.compat.v1 program.

Each test writes the program a TF1 user would: its own graph, placeholders, scopes, a head
of its own, an optimizer and a Session. Names are asserted exactly (variables after the
variable scope, ops after the name scope: they part ways once a scope is re-entered).
"""

from __future__ import annotations

import numpy as np
import pytest

import specc

from .conftest import SPECS, plan_only
from .zoo import tf, v1

TOWER = """\
specc: 1
name: tower
vars: {units: 4}
inputs:
  x: {shape: [null, 3]}
layers:
  - {id: fc1, type: dense, units: "${units}", activation: relu}
  - {id: fc2, type: dense, units: 2}
"""
TOWER_VARIABLES = ["fc1/kernel", "fc1/bias", "fc2/kernel", "fc2/bias"]


def global_names() -> list[str]:
    return [v.name[:-2] for v in v1.global_variables()]


def reads(graph, variable, scope: str) -> list:
    """The tensors through which the ops in name scope `scope` read `variable`."""
    return [op.outputs[0] for op in graph.get_operations()
            if op.type == "ReadVariableOp" and op.inputs[0].op is variable.handle.op and op.name.startswith(scope + "/")
            and not op.name.startswith(variable.op.name + "/")]  # not the variable's own `<name>/Read`


def test_a_users_program_shares_the_spec_twice_and_trains_a_head_on_top():
    spec = specc.loads(TOWER, "tower.yaml")
    rng = np.random.default_rng(0)
    with tf.Graph().as_default() as g:
        v1.set_random_seed(1)
        left = v1.placeholder(tf.float32, [None, 3], name="left")
        right = v1.placeholder(tf.float32, [None, 3], name="right")
        target = v1.placeholder(tf.float32, [None, 1], name="target")
        with v1.variable_scope("siamese"):
            with v1.variable_scope("tower"):
                a = specc.apply(spec, {"x": left})
            with v1.variable_scope("tower", reuse=True):
                b = specc.apply(spec, {"x": right})
            with v1.variable_scope("tower", reuse=v1.AUTO_REUSE):
                c = specc.apply(spec, {"x": left + right})
            with v1.variable_scope("head"):  # the user's own layer on top
                w = v1.get_variable("w", [6, 1])
                logits = tf.matmul(tf.concat([a["fc2"], b["fc2"], c["fc2"]], 1), w)
        loss = tf.reduce_mean(tf.square(logits - target))
        optimizer = v1.train.GradientDescentOptimizer(0.1)
        shared = [a.variables[n] for n in (f"siamese/tower/{v}" for v in TOWER_VARIABLES)]
        grads = optimizer.compute_gradients(loss, shared + [w])
        train = optimizer.apply_gradients(grads)
        # Per application: the gradient through the tensors by which its own ops read each variable.
        per_scope = {scope: tf.gradients(loss, [reads(g, v, scope)[0] for v in shared])
                     for scope in ("siamese/tower", "siamese/tower_1", "siamese/tower_2")}

        assert global_names()[:5] == [f"siamese/tower/{v}" for v in TOWER_VARIABLES] + ["siamese/head/w"]
        assert a.created == tuple(f"siamese/tower/{v}" for v in TOWER_VARIABLES)
        assert b.created == () and c.created == ()
        assert sorted(b.variables) == sorted(c.variables) == sorted(a.variables)
        assert all(b.variables[n] is a.variables[n] for n in a.variables)
        assert (a["fc2"].name, b["fc2"].name, c["fc2"].name) == (
            "siamese/tower/fc2/BiasAdd:0", "siamese/tower_1/fc2/BiasAdd:0", "siamese/tower_2/fc2/BiasAdd:0")
        # The plan predicted every name, with the caller's prefixes: variables `siamese/tower`, ops `tower_1`.
        assert [v.name for v in b.plan.variables] == [f"siamese/tower/{v}" for v in TOWER_VARIABLES]
        assert [(l.op_scope, l.var_scope) for l in b.plan.layers] == [
            ("siamese/tower_1/fc1", "siamese/tower/fc1"), ("siamese/tower_1/fc2", "siamese/tower/fc2")]
        assert b.report.variables == 4 and b.report.parameters == 3 * 4 + 4 + 4 * 2 + 2

        feed = {left: rng.normal(size=(5, 3)), right: rng.normal(size=(5, 3)), target: rng.normal(size=(5, 1))}
        with v1.Session(graph=g) as sess:
            sess.run(v1.global_variables_initializer())
            total, parts = sess.run([[gv[0] for gv in grads[:4]], per_scope], feed)
            for i, v in enumerate(shared):
                for scope, grad in parts.items():
                    assert np.abs(grad[i]).sum() > 0, (v.name, scope)  # every application contributes
                np.testing.assert_allclose(total[i], sum(p[i] for p in parts.values()), rtol=1e-5, atol=1e-6)
            before = sess.run(shared + [w])
            sess.run(train, feed)
            after = sess.run(shared + [w])
        for old, new, var in zip(before, after, shared + [w]):
            assert not np.allclose(old, new), var.name


def test_inside_a_name_scope_ops_follow_it_and_variables_do_not():
    with tf.Graph().as_default() as g:
        x = v1.placeholder(tf.float32, [None, 3], name="x")
        with v1.name_scope("encoder"):
            out = specc.apply(specc.loads(TOWER), {"x": x})
        assert global_names() == TOWER_VARIABLES  # get_variable ignores name scopes
        assert out["fc2"].name == "encoder/fc2/BiasAdd:0"
        assert [l.op_scope for l in out.plan.layers] == ["encoder/fc1", "encoder/fc2"]
        assert {op.name for op in g.get_operations() if op.type == "MatMul"} == {"encoder/fc1/MatMul",
                                                                                "encoder/fc2/MatMul"}


def test_names_the_caller_took_already_are_planned_around():
    # An op named `fc1` in the caller's scope: TensorFlow opens `model/fc1_1/` for the layer while
    # its variables stay `model/fc1/...`; the plan says the same, and the check agrees.
    with tf.Graph().as_default() as g:
        x = v1.placeholder(tf.float32, [None, 3], name="x")
        with v1.variable_scope("model"):
            tf.identity(x, name="fc1")
            with v1.name_scope("FC2"):  # an empty name scope claims its name too (case-insensitively)
                pass
            out = specc.apply(specc.loads(TOWER), {"x": x})
        assert [(l.op_scope, l.var_scope) for l in out.plan.layers] == [
            ("model/fc1_1", "model/fc1"), ("model/fc2_1", "model/fc2")]
        assert out["fc2"].name == "model/fc2_1/BiasAdd:0"
        assert "model/fc1_1/MatMul" in {op.name for op in g.get_operations()}


def test_a_spec_whose_layers_share_applies_twice_with_one_set_of_variables():
    # siamese.yaml: right_tower re-enters scope `tower` (share: true) inside each application.
    with tf.Graph().as_default() as g:
        left = v1.placeholder(tf.float32, [None, 10], name="l")
        right = v1.placeholder(tf.float32, [None, 10], name="r")
        with v1.variable_scope("pair"):
            first = specc.apply(SPECS / "siamese.yaml", {"left": left, "right": right})
        with v1.variable_scope("pair", reuse=True):
            second = specc.apply(SPECS / "siamese.yaml", {"left": right, "right": left})
        names = ["pair/tower/fc1/kernel", "pair/tower/fc1/bias", "pair/tower/fc2/kernel", "pair/tower/fc2/bias"]
        assert global_names() == names and first.created == tuple(names) and second.created == ()
        assert [(l.path, l.op_scope) for l in second.plan.walk()][:4] == [
            ("left_tower", "pair_1/tower"), ("left_tower.fc1", "pair_1/tower/fc1"),
            ("left_tower.fc2", "pair_1/tower/fc2"), ("right_tower", "pair_1/tower_1")]
        assert second["distance"].name == "pair_1/distance/Mul:0"
        # The spec's own sharing is in the report of each application.
        assert second.report.shared_variables == 4
        feed = {left: np.ones((2, 10)), right: np.zeros((2, 10))}
        with v1.Session(graph=g) as sess:
            sess.run(v1.global_variables_initializer())
            d1, d2 = sess.run([first["distance"], second["distance"]], feed)
        np.testing.assert_allclose(d1, d2, rtol=1e-6)  # (a - b)^2 == (b - a)^2 with the same towers


def test_overrides_and_a_plan_are_accepted_like_build():
    with tf.Graph().as_default():
        x = v1.placeholder(tf.float32, [None, 10], name="x")
        out = specc.apply(SPECS / "siamese.yaml", {"left": x, "right": x}, overrides=["vars.hidden=5"])
        assert out.variables["tower/fc1/kernel"].shape.as_list() == [10, 5]
        with v1.variable_scope("again"):
            again = specc.apply(specc.plan(SPECS / "siamese.yaml"), {"left": x, "right": x})
        assert again.variables["again/tower/fc1/kernel"].shape.as_list() == [10, 64]
    with pytest.raises(TypeError, match="overrides apply when a spec file is loaded"):
        specc.apply(specc.loads(TOWER), {}, overrides=["vars.units=2"])


def test_an_input_with_a_default_may_be_left_out():
    text = TOWER.replace("x: {shape: [null, 3]}", "x: {shape: [null, 3]}\n  scale: {shape: [], default: 2.0}") \
        .replace("{id: fc1,", "{id: fc1, input: x,") \
        + "  - {id: scaled, type: multiply, inputs: [fc2, scale]}\n"
    with tf.Graph().as_default() as g:
        x = v1.placeholder(tf.float32, [None, 3], name="x")
        with v1.variable_scope("m"):
            out = specc.apply(specc.loads(text), {"x": x})
        assert out.inputs["scale"].name == "m/scale:0" and out.inputs["scale"].op.type == "PlaceholderWithDefault"
        with v1.Session(graph=g) as sess:
            sess.run(v1.global_variables_initializer())
            fc2, scaled = sess.run([out.tensors["fc2"], out["scaled"]], {x: np.ones((1, 3))})
        np.testing.assert_allclose(scaled, 2 * fc2)


def test_the_labels_only_train_reads_may_be_left_out():
    spec = SPECS / "experiments" / "small_encoder.yaml"  # `y`: the labels of `train:`, read by no layer
    plan = specc.plan(spec)
    with tf.Graph().as_default() as g:
        (x,) = [v1.placeholder(tf.as_dtype(i.dtype), list(i.shape), name="user_x") for i in plan.inputs if i.name == "x"]
        with v1.variable_scope("m"):
            out = specc.apply(spec, {"x": x})
        assert list(out.inputs) == ["x"] and out.inputs["x"] is x
        assert not [op.name for op in g.get_operations() if op.type == "Placeholder" and op.name != "user_x"]
        assert sorted(out) == sorted(o.name for o in plan.outputs)


def test_devices_are_the_callers_not_the_specs():
    spec = SPECS / "experiments" / "siamese_cluster.yaml"  # placement: {ps_tasks: 2}
    plan = specc.plan(spec)
    with tf.Graph().as_default() as g:
        inputs = {i.name: v1.placeholder(tf.as_dtype(i.dtype), list(i.shape)) for i in plan.inputs if i.name != "same"}
        with v1.device(v1.train.replica_device_setter(ps_tasks=1)):
            out = specc.apply(spec, inputs)
        assert {v.device for v in out.variables.values()} == {"/job:ps/task:0"}
        assert {op.device for op in g.get_operations() if op.type == "MatMul"} == {"/job:worker"}
        assert out.plan.placement is None


# -- mistakes: what TensorFlow says, and what specc says instead ------------------------------

def located(e: specc.SpecError) -> tuple[int, int, str]:
    return e.where.line, e.where.col, e.message


def apply_error(inputs_for, text: str = TOWER, scope: dict | None = None) -> tuple[specc.SpecError, int]:
    """The SpecError of one apply, and how many ops it left in the graph (none: it fails before building)."""
    with tf.Graph().as_default() as g:
        inputs = inputs_for()
        n = len(g.get_operations())
        with v1.variable_scope("m", **(scope or {})):
            with pytest.raises(specc.SpecError) as e:
                specc.apply(specc.loads(text, "tower.yaml"), inputs)
        return e.value, len(g.get_operations()) - n


def test_a_missing_input_is_located_at_the_input():
    e, added = apply_error(lambda: {})
    assert located(e) == (5, 3, "specc.apply: input 'x' (float32[?, 3]) has no `default`, so it needs a tensor: "
                                "add 'x' to `inputs`")
    assert added == 0


def test_an_unknown_input_name_gets_a_hint():
    e, _ = apply_error(lambda: {"x": v1.placeholder(tf.float32, [None, 3]), "xx": v1.placeholder(tf.float32, [2])})
    assert located(e) == (4, 1, "specc.apply: a tensor is given for 'xx', but the spec has no such input; "
                                "did you mean 'x'?")


def test_a_wrong_dtype_says_how_to_fix_it():
    e, added = apply_error(lambda: {"x": v1.placeholder(tf.int32, [None, 3])})
    assert located(e) == (5, 3, "specc.apply: input 'x' is float32[?, 3], but the tensor given is int32[?, 3]; "
                                "cast it (tf.cast(t, tf.float32)) or change the input's dtype")
    assert added == 0


@pytest.mark.parametrize("shape", [[None, 4], [None, None], None, [None, 3, 1]])
def test_a_shape_that_lacks_a_size_the_spec_fixes_is_refused(shape):
    e, _ = apply_error(lambda: {"x": v1.placeholder(tf.float32, shape)})
    given = {None: "float32[<unknown rank>]"}.get(shape) if shape is None else \
        "float32[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"
    assert located(e) == (5, 3, f"specc.apply: input 'x' is float32[?, 3], but the tensor given is {given}; every "
                                "size the spec fixes must be known and equal (tf.ensure_shape(t, [None, 3]) asserts it "
                                "and gives the tensor that static shape)")


def test_a_more_specific_shape_is_accepted():
    with tf.Graph().as_default():
        out = specc.apply(specc.loads(TOWER), {"x": v1.placeholder(tf.float32, [7, 3])})
        assert out["fc2"].shape.as_list() == [7, 2]


def test_reuse_where_nothing_was_created():
    # TensorFlow: a ValueError at the first get_variable, after ops were made.
    with tf.Graph().as_default():
        with v1.variable_scope("m", reuse=True):
            with pytest.raises(ValueError, match="Variable m/fc1/kernel does not exist, or was not created with "
                                                 r"tf.get_variable\(\)"):
                v1.get_variable("fc1/kernel", [3, 4])
    # specc: located at the layer, before anything is built, with both ways out.
    e, added = apply_error(lambda: {"x": v1.placeholder(tf.float32, [None, 3])}, scope={"reuse": True})
    assert located(e) == (7, 5, "specc.apply: the variable scope reuses (reuse=True), but the graph has no variable "
                                "'m/fc1/kernel' for layer 'fc1' to reuse (TensorFlow would say 'Variable m/fc1/kernel "
                                "does not exist'); apply once without reuse in the same variable scope first, or use "
                                "`reuse=tf.compat.v1.AUTO_REUSE` to create what is missing")
    assert added == 0


def test_a_second_application_without_reuse():
    def twice():
        x = v1.placeholder(tf.float32, [None, 3])
        with v1.variable_scope("m"):
            specc.apply(specc.loads(TOWER), {"x": x})
        return {"x": x}

    e, added = apply_error(twice)
    assert located(e)[:2] == (7, 5) and located(e)[2].startswith(
        "specc.apply: layer 'fc1' creates variable 'm/fc1/kernel', but the graph holds it already (TensorFlow would "
        "say 'Variable m/fc1/kernel already exists, disallowed'); to share the variables of an earlier application, "
        "apply under `tf.compat.v1.variable_scope(..., reuse=True)`")
    assert added == 0


def test_auto_reuse_creates_only_what_is_missing():
    wider = TOWER + "  - {id: fc3, type: dense, units: 1}\n"
    with tf.Graph().as_default():
        x = v1.placeholder(tf.float32, [None, 3])
        with v1.variable_scope("m"):
            specc.apply(specc.loads(TOWER), {"x": x})
        with v1.variable_scope("m", reuse=v1.AUTO_REUSE):
            out = specc.apply(specc.loads(wider), {"x": x})
        assert out.created == ("m/fc3/kernel", "m/fc3/bias")
        assert sorted(out.variables) == sorted(f"m/{v}" for v in TOWER_VARIABLES + ["fc3/kernel", "fc3/bias"])


def test_not_a_graph_tensor():
    with tf.Graph().as_default():
        with pytest.raises(TypeError, match=r"inputs\['x'\] must be a tf.Tensor of the current graph, not ndarray"):
            specc.apply(specc.loads(TOWER), {"x": np.ones((1, 3), np.float32)})
        other = tf.Graph()
        with other.as_default():
            foreign = v1.placeholder(tf.float32, [None, 3], name="foreign")
        with pytest.raises(ValueError, match=r"inputs\['x'\] \(foreign:0\) belongs to another graph"):
            specc.apply(specc.loads(TOWER), {"x": foreign})


def test_eager_execution_is_refused():
    with pytest.raises(ValueError, match="specc.apply builds a TF1 graph"):
        specc.apply(specc.loads(TOWER), {"x": tf.ones((1, 3))})


# -- every example spec, applied twice inside a user's scope ------------------------------------

EXAMPLES = [p for p in sorted(SPECS.glob("*.yaml")) if not plan_only(p)]


@pytest.mark.parametrize("spec_file", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_applies_twice_in_a_users_scope_with_every_name_planned(spec_file):
    # The second application's variables are `outer/...` and its ops `outer_1/...`: apply
    # checks each against its plan (a BuildError otherwise), here across every layer type.
    plan = specc.plan(spec_file)
    with tf.Graph().as_default() as g:
        inputs = {i.name: v1.placeholder(tf.as_dtype(i.dtype), list(i.shape), name=f"user_{i.name}")
                  for i in plan.inputs if not i.has_default}
        with v1.variable_scope("outer"):
            first = specc.apply(spec_file, inputs)
        with v1.variable_scope("outer", reuse=True):
            second = specc.apply(spec_file, inputs)
        assert list(first.created) == [f"outer/{v.name}" for v in plan.variables]
        assert second.created == () and global_names() == list(first.created)
        for layer, placed in zip(plan.walk(), second.plan.walk()):
            assert placed.op_scope == "outer_1" + (f"/{layer.op_scope}" if layer.op_scope else "")
        for name, out in second.items():
            assert out.name.startswith("outer_1/") and out.shape.as_list() == first[name].shape.as_list()
        assert len(g.get_operations()) > 0


def test_reusing_a_graph_variable_of_another_shape_or_trainable_flag():
    # TensorFlow refuses the shape at get_variable, and silently keeps the graph's trainable flag.
    with tf.Graph().as_default():
        with v1.variable_scope("m"):
            v1.get_variable("fc1/kernel", [3, 5])
        with v1.variable_scope("m", reuse=True):
            with pytest.raises(ValueError, match=r"Trying to share variable m/fc1/kernel, but specified shape \(3, 4\) "
                                                 r"and found shape \(3, 5\)"):
                v1.get_variable("fc1/kernel", [3, 4])
    with tf.Graph().as_default() as g:
        x = v1.placeholder(tf.float32, [None, 3])
        v1.get_variable("m/fc1/kernel", [3, 5])
        v1.get_variable("n/fc1/kernel", [3, 4], trainable=False)
        n = len(g.get_operations())
        with v1.variable_scope("m", reuse=v1.AUTO_REUSE):
            with pytest.raises(specc.SpecError) as shape:
                specc.apply(specc.loads(TOWER, "tower.yaml"), {"x": x})
        with v1.variable_scope("n", reuse=v1.AUTO_REUSE):
            with pytest.raises(specc.SpecError) as flag:
                specc.apply(specc.loads(TOWER, "tower.yaml"), {"x": x})
        assert len(g.get_operations()) == n
    assert located(shape.value) == (7, 5, "specc.apply: layer 'fc1' reuses variable 'm/fc1/kernel', which is "
                                          "float32[3, 5] in the graph, but the layer needs float32[3, 4] (TensorFlow "
                                          "would say 'Trying to share variable m/fc1/kernel, but specified shape ... and "
                                          "found shape ...'); apply where the graph's variables are this spec's, or "
                                          "under another variable scope")
    assert located(flag.value) == (7, 5, "specc.apply: layer 'fc1' reuses variable 'n/fc1/kernel', which is not "
                                         "trainable in the graph, but the spec makes it trainable (TensorFlow would "
                                         "silently keep the graph's flag)")
