"""Training runs: the loss goes down, runs are reproducible, the checkpoint holds the planned names."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import specc
from specc.cli import app
from specc.errors import SpecError
from specc.overrides import parse
from specc.experiments.runs import prepare, write_run

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "specs" / "experiments" / "small_encoder.yaml"

REGRESSION = """\
specc: 1
name: regression
seed: 3
inputs:
  x: {shape: [null, 6]}
  y: {shape: [null, 1]}
layers:
  - {id: hidden, type: dense, input: x, units: 16, activation: tanh}
  - {id: pred, type: dense, units: 1}
outputs: [pred]
train: {loss: mse, labels: y, optimizer: adam, learning_rate: 0.05, steps: 120, batch_size: 32}
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def train(spec: Path, out: Path, *sets: str) -> dict:
    prepared = prepare(spec, [parse(s) for s in sets])
    write_run(out, prepared, train=True)
    return json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="module")
def regression(tmp_path_factory, tf):
    """The regression spec, trained once: (spec path, run directory, metrics)."""
    root = tmp_path_factory.mktemp("regression")
    spec = write(root / "regression.yaml", REGRESSION)
    metrics = train(spec, root / "run")
    return spec, root / "run", metrics


def test_the_loss_goes_down_on_a_learnable_synthetic_task(regression):
    _, _, metrics = regression
    losses = metrics["losses"]
    assert len(losses) == 120 and all(math.isfinite(x) for x in losses)
    start, end = np.mean(losses[:10]), np.mean(losses[-10:])
    assert end < 0.2 * start, (start, end)
    assert (metrics["first_loss"], metrics["final_loss"]) == (losses[0], losses[-1])


def test_same_seed_same_data_same_losses(regression, tmp_path):
    spec, _, metrics = regression
    again = train(spec, tmp_path / "again")
    assert again["losses"] == metrics["losses"]  # bit for bit
    other = train(spec, tmp_path / "other", "train.seed=4")
    assert other["losses"] != metrics["losses"]


def test_the_checkpoint_holds_exactly_the_planned_variables(regression, tf):
    spec, run, _ = regression
    saved = dict(tf.train.list_variables(str(run / "model.ckpt")))
    planned = {v.name: list(v.shape) for v in specc.plan(spec).variables}
    assert saved == planned
    assert (run / "checkpoint").read_text().startswith('model_checkpoint_path: "model.ckpt"')  # relative: the run moves


def test_the_checkpoint_restores_into_the_built_graph(regression, tf):
    spec, run, _ = regression
    model = specc.build(spec)
    v1 = tf.compat.v1
    with model.graph.as_default():
        saver = v1.train.Saver(var_list=dict(model.variables))
    with v1.Session(graph=model.graph) as sess:
        saver.restore(sess, str(run / "model.ckpt"))
        kernel = sess.run(model.variables["hidden/kernel"])
    assert np.allclose(kernel, tf.train.load_variable(str(run / "model.ckpt"), "hidden/kernel"))


def test_the_loss_scalars_are_in_the_event_file(regression, tf):
    _, run, metrics = regression
    (events,) = run.glob("events.out.tfevents.*.train")
    scalars = [(e.step, v.simple_value) for e in tf.compat.v1.train.summary_iterator(str(events))
               for v in e.summary.value if v.tag == "loss"]
    assert [s for s, _ in scalars] == list(range(1, 121))
    assert np.allclose([x for _, x in scalars], metrics["losses"], rtol=1e-6)


def test_run_files(regression):
    _, run, metrics = regression
    names = {p.name for p in run.iterdir()}
    assert {"resolved.yaml", "overrides.json", "plan.json", "graph.pbtxt", "model.meta", "run.json", "metrics.json",
            "checkpoint", "model.ckpt.index", ".specc-build.json"} <= names
    row = json.loads((run / "run.json").read_text())
    assert row["final_loss"] == metrics["final_loss"] and row["parameters"] == 6 * 16 + 16 + 16 + 1


def test_batch_norm_statistics_move_during_training(tmp_path, tf):
    spec = write(tmp_path / "bn.yaml", """\
        specc: 1
        inputs:
          x: {shape: [null, 4]}
          y: {shape: [null, 1]}
        layers:
          - {id: fc, type: dense, input: x, units: 4}
          - {id: bn, type: batch_norm, training: true}
          - {id: out, type: dense, units: 1}
        outputs: [out]
        train: {loss: mse, labels: y, steps: 5}
    """)
    train(spec, tmp_path / "run")
    moving = tf.train.load_variable(str(tmp_path / "run" / "model.ckpt"), "bn/moving_mean")
    assert np.any(moving != 0)  # the UPDATE_OPS ran with each step


FLAGGED = """\
    specc: 1
    seed: 1
    inputs:
      x: {shape: [null, 4]}
      y: {shape: [null, 1]}
    layers:
      - {id: fc, type: dense, input: x, units: 4}
      - {id: bn, type: batch_norm}
      - {id: drop, type: dropout, rate: 0.5}
      - {id: out, type: dense, units: 1}
    outputs: [out]
    train: {loss: mse, labels: y, steps: 5}
"""


def test_dropout_and_batch_norm_read_the_model_training_flag(tmp_path, tf):
    """Unset `training:` reads the input `training`, a placeholder_with_default(False): inference (not fed)
    uses the moving statistics, drops nothing and updates nothing; fed true, batch statistics, dropout and
    moving-average updates."""
    v1 = tf.compat.v1
    model = specc.build(specc.loads(textwrap.dedent(FLAGGED), "flagged.yaml"))
    flag = model.inputs["training"]
    assert flag.op.type == "PlaceholderWithDefault" and flag.op.name == "training"
    assert flag.dtype == tf.bool and flag.shape.rank == 0
    assert [i.name for i in model.plan.inputs] == ["x", "y", "training"]
    assert model.report.flag_readers == ("bn", "drop")
    from specc.emit.files import write_graph_files  # serving leaves the flag false: not a signature input

    write_graph_files(model, tmp_path)
    meta = v1.MetaGraphDef.FromString((tmp_path / "model.meta").read_bytes())
    assert sorted(meta.signature_def["serving_default"].inputs) == ["x"]  # nor the labels of `train:`
    x = np.random.RandomState(0).normal(3.0, 2.0, size=(256, 4)).astype(np.float32)
    with model.graph.as_default(), v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        updates = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
        bn, drop = model.tensors["bn"], model.tensors["drop"]
        fc = sess.run(model.tensors["fc"], {model.inputs["x"]: x})
        # Not fed: the moving statistics (0 and 1 at first: bn is the identity up to epsilon), no dropout.
        served_bn, served_drop = sess.run([bn, drop], {model.inputs["x"]: x})
        np.testing.assert_allclose(served_bn, fc / np.sqrt(1 + 1e-3), rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(served_drop, served_bn)
        sess.run(updates, {model.inputs["x"]: x})
        assert np.all(sess.run(model.variables["bn/moving_mean"]) == 0)  # the updates did nothing
        # Fed true: batch statistics (mean 0 over the batch), half the values dropped, the rest doubled.
        trained_bn, trained_drop = sess.run([bn, drop], {model.inputs["x"]: x, flag: True})
        np.testing.assert_allclose(trained_bn.mean(axis=0), 0, atol=1e-4)
        dropped = trained_drop == 0
        assert 0.3 < dropped.mean() < 0.7
        np.testing.assert_allclose(trained_drop[~dropped], 2 * trained_bn[~dropped], rtol=1e-5)
        sess.run(updates, {model.inputs["x"]: x, flag: True})
        np.testing.assert_allclose(sess.run(model.variables["bn/moving_mean"]), 0.01 * fc.mean(axis=0), rtol=1e-4)


def test_specc_train_feeds_the_training_flag_true(tmp_path, tf):
    """`specc train` runs every step with `training` true: the moving statistics move in the checkpoint
    (they cannot while the flag is false), and the run's config says what it fed."""
    spec = write(tmp_path / "flagged.yaml", FLAGGED)
    metrics = train(spec, tmp_path / "run")
    assert metrics["config"]["feed"] == {"training": True}
    moving = tf.train.load_variable(str(tmp_path / "run" / "model.ckpt"), "bn/moving_mean")
    assert np.all(moving != 0)


def test_an_explicit_training_overrides_the_model_flag(tmp_path, tf):
    """`training: false` on every layer: no flag input at all; `feed: {training: false}` keeps it false."""
    text = textwrap.dedent(FLAGGED).replace("type: batch_norm}", "type: batch_norm, training: false}")
    plan = specc.plan(specc.loads(text.replace("rate: 0.5}", "rate: 0.5, training: false}"), "f.yaml"))
    assert [i.name for i in plan.inputs] == ["x", "y"]
    spec = write(tmp_path / "fed.yaml", FLAGGED.replace("steps: 5}", "steps: 5, feed: {training: false}}"))
    metrics = train(spec, tmp_path / "run")
    assert metrics["config"]["feed"] == {"training": False}
    moving = tf.train.load_variable(str(tmp_path / "run" / "model.ckpt"), "bn/moving_mean")
    assert np.all(moving == 0)


@pytest.mark.parametrize("loss,labels,out", [
    ("sigmoid_cross_entropy", "{shape: [null, 3]}", 3),
    ("softmax_cross_entropy", "{shape: [null, 3]}", 3),                 # float one-hot rows
    ("softmax_cross_entropy", "{shape: [null], dtype: int64}", 3),      # class ids
    ("mse", "{shape: [null, 2]}", 2),
])
def test_each_loss_trains(tmp_path, tf, loss, labels, out):
    spec = write(tmp_path / "m.yaml", f"""\
        specc: 1
        inputs:
          x: {{shape: [null, 5]}}
          y: {labels}
        layers:
          - {{id: fc, type: dense, input: x, units: {out}}}
        train: {{loss: {loss}, labels: y, optimizer: momentum, learning_rate: 0.1, steps: 30}}
    """)
    losses = train(spec, tmp_path / "run")["losses"]
    assert all(math.isfinite(x) for x in losses) and np.mean(losses[-5:]) < np.mean(losses[:5])


def test_contrastive_on_a_siamese_model_that_extends_the_example(tmp_path, tf):
    spec = write(tmp_path / "siamese_train.yaml", f"""\
        specc: 1
        base: {ROOT / "specs" / "siamese.yaml"}
        inputs:
          same: {{shape: [null]}}            # 1 for a similar pair: merged into the base's inputs
        train: {{loss: contrastive, labels: same, optimizer: sgd, learning_rate: 0.01, steps: 10, margin: 2.0}}
    """)
    metrics = train(spec, tmp_path / "run")
    assert all(math.isfinite(x) for x in metrics["losses"])
    assert {n for n, _ in __import__("tensorflow").train.list_variables(str(tmp_path / "run" / "model.ckpt"))} == {
        "tower/fc1/kernel", "tower/fc1/bias", "tower/fc2/kernel", "tower/fc2/bias"}


def test_npz_data_is_found_relative_to_the_spec_file(tmp_path, tf, monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 6)).astype(np.float32)
    (tmp_path / "specs" / "data").mkdir(parents=True)
    np.savez(tmp_path / "specs" / "data" / "train.npz", x=x, y=x[:, :1] * 2.0)
    spec = write(tmp_path / "specs" / "regression.yaml",
                 REGRESSION.replace("batch_size: 32}", "batch_size: 16, data: data/train.npz}"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    metrics = train(Path("../specs/regression.yaml"), Path("run"), "train.steps=20")
    assert metrics["examples"] == 64 and len(metrics["losses"]) == 20
    resolved = (elsewhere / "run" / "resolved.yaml").read_text()
    assert f"data: {tmp_path / 'specs' / 'data' / 'train.npz'}" in resolved  # absolute in the run directory
    assert spec.is_file()


def test_npz_without_an_input_is_an_error_at_train_data(tmp_path, tf):
    np.savez(tmp_path / "d.npz", x=np.zeros((8, 6), np.float32), yy=np.zeros((8, 1), np.float32))
    spec = write(tmp_path / "m.yaml", REGRESSION.replace("batch_size: 32}", "batch_size: 4, data: d.npz}"))
    with pytest.raises(SpecError, match="has no array 'y' for input 'y'; did you mean 'yy'") as info:
        train(spec, tmp_path / "run")
    assert info.value.where.path == ("train", "data") and not (tmp_path / "run").exists()


@pytest.mark.parametrize("train_section,message,path", [
    ("{loss: mse, labels: yy}", "no input 'yy' to read labels from; did you mean 'y'?", ("train", "labels")),
    ("{loss: mse, labels: y, output: prd}", "the model has no output 'prd'; did you mean 'pred'?", ("train", "output")),
    ("{loss: contrastive, labels: x}", "contrastive labels are one 0/1 flag per pair", ("train", "labels")),
    ("{loss: mse, labels: y, data: missing.npz}", "no such data file", ("train", "data")),
    ("{loss: mse, labels: y, optimizer: adamw}", "'adamw' is not allowed here; did you mean 'adam'?", ("train", "optimizer")),
    ("{loss: mse, labels: y, stepz: 3}", "unknown key 'stepz' in 'train'; did you mean 'steps'?", ("train", "stepz")),
    ("{loss: mse}", "'train' needs the key 'labels'", ("train",)),
])
def test_a_bad_train_section_is_a_located_spec_error(train_section, message, path):
    text = REGRESSION.replace(REGRESSION.splitlines()[-1], f"train: {train_section}")
    with pytest.raises(SpecError) as info:
        specc.plan(specc.loads(text, "m.yaml"))
    assert message in info.value.message, info.value.message
    assert info.value.where.path == path and info.value.where.line == 11


def test_int_labels_for_mse_are_refused(tmp_path):
    text = REGRESSION.replace("y: {shape: [null, 1]}", "y: {shape: [null, 1], dtype: int32}")
    with pytest.raises(SpecError, match="mse labels are floats"):
        specc.plan(specc.loads(text, "m.yaml"))


def test_cli_train(tmp_path, tf):
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", str(SMALL), "-o", str(out), "--set", "train.steps=20",
                                      "--set", "vars.depth=2"])
    assert result.exit_code == 0, result.stderr
    assert "trained 20 steps (softmax_cross_entropy, adam" in result.stdout
    row = json.loads((out / "run.json").read_text())
    assert row["steps"] == 20 and row["overrides"] == ["train.steps=20", "vars.depth=2"]


def test_cli_train_without_a_train_section_exits_1(tmp_path):
    result = CliRunner().invoke(app, ["train", str(ROOT / "specs" / "siamese.yaml"), "-o", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert "the spec has no `train:` section" in result.stderr
    assert not (tmp_path / "r").exists()


def test_the_train_section_is_part_of_the_spec_with_its_defaults():
    from specc.spec import TrainSpec

    spec = specc.load(Path(__file__).parent.parent / "specs" / "experiments" / "width_and_sharing.yaml")
    assert spec.train == TrainSpec(loss="softmax_cross_entropy", labels="y", optimizer="adam", learning_rate=0.01,
                                   steps=50, batch_size=32, data="synthetic",
                                   keys=frozenset({"loss", "labels", "optimizer", "learning_rate", "steps",
                                                   "batch_size", "data"}))
    assert specc.loads("specc: 1\ninputs: {x: {shape: [null, 2]}}\nlayers: [{id: a, type: identity}]\n").train is None
