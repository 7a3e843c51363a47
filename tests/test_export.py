"""`specc export`: SavedModels that TensorFlow's own tools read, with the values a Session on the checkpoint gives.

One trained run (a classifier with a labels input and a `training` flag that batch norm and
dropout read) and one multi-output model restored from a hand-saved checkpoint prefix are
exported once per module; `saved_model_cli` (it ships with TensorFlow) runs as a subprocess.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import specc
from specc.cli import app
from specc.errors import IncompatibleCheckpoint, OutputRefused, SignatureError
from specc.experiments.runs import prepare, write_run
from specc.overrides import parse

from .conftest import saved_model_cli

ROOT = Path(__file__).resolve().parent.parent
SIAMESE_CNN = ROOT / "specs" / "siamese_cnn.yaml"

# Labels `y` that the output does not read, and a flag without a default: training feeds it true.
FLAGGED = """\
specc: 1
name: flagged
seed: 5
inputs:
  x: {shape: [null, 6]}
  y: {shape: [null], dtype: int32}
  is_training: {shape: [], dtype: bool}
layers:
  - {id: hidden, type: dense, input: x, units: 16, activation: relu}
  - {id: bn, type: batch_norm, training: is_training}
  - {id: drop, type: dropout, rate: 0.5, training: is_training}
  - {id: logits, type: dense, units: 3}
outputs: [logits]
train: {loss: softmax_cross_entropy, labels: y, optimizer: adam, learning_rate: 0.05, steps: 30, batch_size: 16,
        feed: {is_training: true}}
"""


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def shown_signatures(text: str) -> dict[str, dict[str, list[str]]]:
    """`saved_model_cli show --all` -> {signature: {"inputs": [...], "outputs": [...]}}."""
    out: dict[str, dict[str, list[str]]] = {}
    for block in re.split(r"\nsignature_def\['", "\n" + text)[1:]:
        name = block.split("'", 1)[0]
        out[name] = {"inputs": re.findall(r"inputs\['([^']+)'\]", block),
                     "outputs": re.findall(r"outputs\['([^']+)'\]", block)}
    return out


def session_values(spec: Path, checkpoint: str, outputs: list[str], feed: dict, tf) -> dict:
    """The outputs of the spec's own graph (flags fed false) in a Session restored from `checkpoint`."""
    model = specc.build(spec)
    v1 = tf.compat.v1
    with model.graph.as_default():
        saver = v1.train.Saver(var_list=dict(model.variables))
    with v1.Session(graph=model.graph) as sess:
        saver.restore(sess, checkpoint)
        return dict(zip(outputs, sess.run([model.outputs[o] for o in outputs],
                                          {model.inputs[k]: v for k, v in feed.items()})))


@pytest.fixture(scope="module")
def flagged(tmp_path_factory, tf):
    """FLAGGED trained into a run directory, exported from it (with --frozen): (spec, run, export dir)."""
    root = tmp_path_factory.mktemp("flagged")
    spec = root / "flagged.yaml"
    spec.write_text(FLAGGED)
    write_run(root / "run", prepare(spec), train=True)
    result = invoke("export", spec, "-o", root / "export", "--checkpoint", root / "run", "--frozen",
                    "--signature", "features=hidden,bn")
    assert result.exit_code == 0, result.stderr
    assert "warning" not in result.stderr
    return spec, root / "run", root / "export"


@pytest.fixture(scope="module")
def siamese(tmp_path_factory, tf):
    """siamese_cnn.yaml (three outputs; its flag has a default) with random values saved under a checkpoint
    prefix, and exported from that prefix: (checkpoint prefix, export dir)."""
    root = tmp_path_factory.mktemp("siamese")
    model = specc.build(SIAMESE_CNN)
    v1 = tf.compat.v1
    rng = np.random.RandomState(1)
    with model.graph.as_default():
        saver = v1.train.Saver(var_list=dict(model.variables))
        init = v1.global_variables_initializer()
    with v1.Session(graph=model.graph) as sess:
        sess.run(init)
        for v in model.variables.values():  # not the initial values: the export must restore these
            v.load(rng.uniform(0.5, 1.5, v.shape.as_list()).astype(np.float32), sess)
        prefix = saver.save(sess, str(root / "ckpt" / "model.ckpt-7"), write_meta_graph=False)
    exported = specc.export(SIAMESE_CNN, root / "export", checkpoint=prefix)
    assert exported.checkpoint == str(Path(prefix).absolute()) and exported.variables == 11
    return prefix, root / "export"


def test_saved_model_cli_shows_only_the_inputs_the_outputs_need(flagged, siamese):
    _, _, export = flagged
    assert shown_signatures(saved_model_cli("show", "--all", "--dir", str(export))) == {
        "features": {"inputs": ["x"], "outputs": ["bn", "hidden"]},
        "serving_default": {"inputs": ["x"], "outputs": ["logits"]},
    }  # neither the labels `y` nor the flag `is_training`
    _, export = siamese
    assert shown_signatures(saved_model_cli("show", "--all", "--dir", str(export))) == {
        "serving_default": {"inputs": ["left", "right"], "outputs": ["left_tower", "right_tower", "similarity"]},
    }


def test_export_json_names_every_tensor(flagged):
    _, run, export = flagged
    data = json.loads((export / "export.json").read_text())
    assert data["checkpoint"] == str((run / "model.ckpt").absolute())
    assert data["training_flags_fed_false"] == ["is_training"] and data["tags"] == ["serve"]
    assert data["signatures"]["serving_default"] == {
        "inputs": {"x": {"tensor": "x:0", "dtype": "float32", "shape": [None, 6]}},
        "outputs": {"logits": {"tensor": "logits/BiasAdd:0", "dtype": "float32", "shape": [None, 3]}}}
    assert list(data["signatures"]["features"]["outputs"]) == ["hidden", "bn"]  # as asked
    assert {p.name for p in export.iterdir()} == {"saved_model.pb", "variables", "export.json", "frozen_graph.pb",
                                                  ".specc-build.json"}


def test_saved_model_cli_run_and_tf2_load_give_the_session_values(flagged, tf, tmp_path):
    spec, run, export = flagged
    x = np.random.RandomState(0).normal(size=(5, 6)).astype(np.float32)
    expected = session_values(spec, str(run / "model.ckpt"), ["logits"], {"x": x, "is_training": False}, tf)
    np.save(tmp_path / "x.npy", x)
    saved_model_cli("run", "--dir", str(export), "--tag_set", "serve", "--signature_def", "serving_default",
                    "--inputs", f"x={tmp_path / 'x.npy'}", "--outdir", str(tmp_path / "out"))
    np.testing.assert_allclose(np.load(tmp_path / "out" / "logits.npy"), expected["logits"], atol=1e-6)
    served = tf.saved_model.load(str(export)).signatures["serving_default"](x=tf.constant(x))
    assert set(served) == {"logits"}
    np.testing.assert_allclose(served["logits"].numpy(), expected["logits"], atol=1e-6)
    # Inference: dropout off, batch norm on its moving statistics, so the same input gives the same output.
    np.testing.assert_array_equal(served["logits"].numpy(),
                                  tf.saved_model.load(str(export)).signatures["serving_default"](x=x)["logits"])


def test_a_multi_output_model_serves_the_checkpoint_values(siamese, tf):
    prefix, export = siamese
    rng = np.random.RandomState(2)
    feed = {k: rng.normal(size=(3, 16, 16, 1)).astype(np.float32) for k in ("left", "right")}
    names = ["similarity", "left_tower", "right_tower"]
    expected = session_values(SIAMESE_CNN, prefix, names, feed, tf)
    served = tf.saved_model.load(str(export)).signatures["serving_default"](**{k: tf.constant(v) for k, v in feed.items()})
    assert set(served) == set(names)
    for name in names:
        np.testing.assert_allclose(served[name].numpy(), expected[name], atol=1e-6)


def test_the_frozen_graph_has_no_variables_and_the_same_values(flagged, tf):
    spec, run, export = flagged
    v1 = tf.compat.v1
    graph_def = v1.GraphDef()
    graph_def.ParseFromString((export / "frozen_graph.pb").read_bytes())
    ops = {n.op for n in graph_def.node}
    assert not ops & {"VarHandleOp", "VariableV2", "ReadVariableOp", "AssignVariableOp"}
    names = {n.name for n in graph_def.node}
    assert "y" not in names and "x" in names  # pruned to what the outputs need
    x = np.random.RandomState(3).normal(size=(4, 6)).astype(np.float32)
    expected = session_values(spec, str(run / "model.ckpt"), ["logits"], {"x": x, "is_training": False}, tf)
    with tf.Graph().as_default() as graph:
        v1.import_graph_def(graph_def, name="")
        with v1.Session(graph=graph) as sess:
            logits = sess.run("logits/BiasAdd:0", {"x:0": x})
    np.testing.assert_allclose(logits, expected["logits"], atol=1e-6)


# -- model.meta of builds and runs: the same signature --------------------------------------------

def test_model_meta_of_a_run_leaves_the_labels_out(flagged, tf):
    _, run, _ = flagged
    meta = tf.compat.v1.MetaGraphDef()
    meta.ParseFromString((run / "model.meta").read_bytes())
    signature = meta.signature_def["serving_default"]
    # The run's graph is the training graph: its flag has no default there, so the output needs it fed.
    assert sorted(signature.inputs) == ["is_training", "x"] and list(signature.outputs) == ["logits"]


def test_model_meta_leaves_inputs_with_a_default_out(tmp_path, tf):
    assert invoke("build", SIAMESE_CNN, "-o", tmp_path / "b").exit_code == 0
    meta = tf.compat.v1.MetaGraphDef()
    meta.ParseFromString((tmp_path / "b" / "model.meta").read_bytes())
    assert sorted(meta.signature_def["serving_default"].inputs) == ["left", "right"]  # not `training`


# -- mistakes: exit codes and messages ------------------------------------------------------------

def test_an_unknown_output_in_a_signature_is_a_usage_error(flagged, tmp_path):
    spec, run, _ = flagged
    result = invoke("export", spec, "-o", tmp_path / "e", "--checkpoint", run, "--signature", "head=logit")
    assert result.exit_code == 2
    assert result.stderr.strip() == ("error: --signature head: 'logit' is neither an output of flagged nor a layer; "
                                     "did you mean 'logits'?")
    assert not (tmp_path / "e").exists()
    result = invoke("export", spec, "-o", tmp_path / "e", "--signature", "head")
    assert result.exit_code == 2 and "write NAME=OUTPUT[,OUTPUT...]" in result.stderr
    with pytest.raises(SignatureError, match="given twice"):
        from specc.serving.signatures import SignatureRequest, requests

        requests(specc.plan(spec), [SignatureRequest("a", ("logits",)), SignatureRequest("a", ("bn",))])


def test_a_missing_checkpoint_is_a_usage_error(flagged, tmp_path):
    spec, _, _ = flagged
    result = invoke("export", spec, "-o", tmp_path / "e", "--checkpoint", tmp_path / "nothing")
    assert result.exit_code == 2 and "no checkpoint here" in result.stderr and "Traceback" not in result.stderr


def test_a_checkpoint_of_another_model_does_not_export(flagged, tmp_path):
    spec, run, _ = flagged
    result = invoke("export", spec, "-o", tmp_path / "e", "--checkpoint", run, "--set", "layers.hidden.units=8")
    assert result.exit_code == 4 and not (tmp_path / "e").exists()
    assert "hidden/kernel: shape differs: the model has [6, 8] float32, the checkpoint has [6, 16] float32" \
        in result.stderr
    assert "(the run was made with no --set; export with the same)" in result.stderr
    result = invoke("export", spec, "-o", tmp_path / "e", "--checkpoint", run / "model.ckpt",
                    "--set", "layers.hidden.units=8", "--set", "seed=9")
    assert result.exit_code == 4 and "(the run was made with no --set; export with the same)" in result.stderr
    narrow = tmp_path / "narrow"
    write_run(narrow, prepare(spec, [parse("layers.hidden.units=8"), parse("train.steps=2")]), train=True)
    result = invoke("export", spec, "-o", tmp_path / "e", "--checkpoint", narrow)
    assert result.exit_code == 4 and ("(the run was made with --set layers.hidden.units=8 --set train.steps=2; "
                                      "export with the same)") in result.stderr
    assert invoke("export", spec, "-o", tmp_path / "narrow_export", "--checkpoint", narrow,
                  "--set", "layers.hidden.units=8").exit_code == 0
    extra = tmp_path / "extra.yaml"
    extra.write_text(FLAGGED.replace("outputs: [logits]", "  - {id: more, type: dense, units: 2}\noutputs: [more]"))
    with pytest.raises(IncompatibleCheckpoint, match=r"more/kernel: not in the checkpoint \(the model has \[3, 2\]"):
        specc.export(extra, tmp_path / "e", checkpoint=run)


def test_an_export_never_clobbers_what_specc_did_not_write(flagged, tmp_path):
    spec, run, _ = flagged
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "notes.txt").write_text("mine")
    with pytest.raises(OutputRefused):
        specc.export(spec, tmp_path / "e", checkpoint=run)
    assert [p.name for p in (tmp_path / "e").iterdir()] == ["notes.txt"]
    specc.export(spec, tmp_path / "e", checkpoint=run, force=True)
    specc.export(spec, tmp_path / "e", checkpoint=run)  # its own previous export: replaced without --force
    assert "notes.txt" not in {p.name for p in (tmp_path / "e").iterdir()}


def test_without_a_checkpoint_the_variables_are_fresh_and_a_warning_says_so(tmp_path, tf):
    spec = tmp_path / "plain.yaml"
    spec.write_text(textwrap.dedent("""\
        specc: 1
        name: plain
        inputs:
          x: {shape: [null, 3]}
          scale: {shape: [], default: 2.0}
        layers:
          - {id: fc, type: dense, input: x, units: 2, kernel_initializer: {type: ones}}
          - {id: scaled, type: multiply, inputs: [fc, scale]}
        outputs: [scaled]
        """))
    result = invoke("export", spec, "-o", tmp_path / "e")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith("warning: no checkpoint: plain's variables are exported freshly initialised")
    assert "2 variables freshly initialised" in result.stdout
    served = tf.saved_model.load(str(tmp_path / "e")).signatures["serving_default"](x=tf.ones([1, 3]))
    np.testing.assert_array_equal(served["scaled"].numpy(), [[6.0, 6.0]])  # the default `scale` applies
    with pytest.warns(UserWarning, match="freshly initialised"):
        specc.export(spec, tmp_path / "e")


# -- signatures and the serving plan, without TensorFlow -------------------------------------------

FLAGS_IN_A_BLOCK = """\
specc: 1
name: blocky
inputs:
  x: {shape: [null, 4]}
  train_bn: {shape: [], dtype: bool, default: true}
  train_drop: {shape: [], dtype: bool}
  unused_flag: {shape: [], dtype: bool}
layers:
  - id: body
    type: block
    input: x
    layers:
      - {id: fc, type: dense, units: 4}
      - {id: bn, type: batch_norm, training: train_bn}
  - {id: drop, type: dropout, rate: 0.2, training: train_drop}
outputs: [drop, body]
"""


def test_the_serving_plan_turns_every_training_flag_off():
    from specc.serving.signatures import serving_plan, training_flags

    plan = specc.plan(specc.loads(FLAGS_IN_A_BLOCK))
    assert training_flags(plan) == ("train_bn", "train_drop")  # in input order; a bool nobody reads is no flag
    served = serving_plan(plan)
    assert [(i.name, i.has_default, i.default) for i in served.inputs] == [
        ("x", False, None), ("train_bn", True, False), ("train_drop", True, False), ("unused_flag", False, None)]
    assert served.layers == plan.layers and served.variables == plan.variables
    assert serving_plan(specc.plan(SIAMESE_CNN)).inputs[2].default is False


def test_signature_requests_are_checked_against_the_plan():
    from specc.serving.signatures import SignatureRequest, requests
    from specc.serving.signatures import parse as signature

    plan = specc.plan(specc.loads(FLAGS_IN_A_BLOCK))
    assert signature(" feats = body.fc, drop ") == SignatureRequest("feats", ("body.fc", "drop"))
    assert requests(plan) == (SignatureRequest("serving_default", ("drop", "body")),)
    assert requests(plan, [signature("feats=body.fc")]) == (
        SignatureRequest("serving_default", ("drop", "body")), SignatureRequest("feats", ("body.fc",)))
    assert requests(plan, [signature("serving_default=body")]) == (SignatureRequest("serving_default", ("body",)),)
    with pytest.raises(SignatureError, match=r"'body.fcc' is neither an output of blocky nor a layer; "
                                             r"did you mean 'body.fc'\?"):
        requests(plan, [signature("feats=body.fcc")])
    for bad in ("feats", "feats=", "=drop", "9lives=drop", "a b=drop"):
        with pytest.raises(SignatureError, match="--signature"):
            signature(bad)


def test_a_model_without_variables_or_inputs_exports(tmp_path, tf):
    spec = tmp_path / "constant.yaml"
    spec.write_text(textwrap.dedent("""\
        specc: 1
        name: constant
        inputs:
          x: {shape: [null, 2], default: [[1.0, 2.0]]}
        layers:
          - {id: doubled, type: add, inputs: [x, x]}
        outputs: [doubled]
        """))
    result = invoke("export", spec, "-o", tmp_path / "e", "--frozen", "-f", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] and data["export"]["signatures"]["serving_default"]["inputs"] == {}
    assert data["export"]["variables"] == 0
    served = tf.saved_model.load(str(tmp_path / "e")).signatures["serving_default"]()
    np.testing.assert_array_equal(served["doubled"].numpy(), [[2.0, 4.0]])


def test_the_saved_graph_is_the_serving_graph_with_init_and_a_saver(flagged, tf):
    from tensorflow.core.protobuf import saved_model_pb2

    from specc.emit.tf1 import emit
    from specc.serving.signatures import serving_plan

    spec, _, export = flagged
    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((export / "saved_model.pb").read_bytes())
    (meta,) = saved.meta_graphs
    assert list(meta.meta_info_def.tags) == ["serve"]
    names = {n.name for n in meta.graph_def.node}
    built = {n.name for n in emit(serving_plan(specc.plan(spec))).graph.as_graph_def().node}
    assert names - built == {"init"} | {n for n in names if n.startswith("save/")}
    assert built <= names
    flag = next(n for n in meta.graph_def.node if n.name == "is_training")
    assert flag.op == "PlaceholderWithDefault"
