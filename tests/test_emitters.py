"""`--emit python|stamp` in every command that builds: `train`, `sweep` and `export` give the same
results with either emitter (the graphs themselves are compared node by node in tests/test_stamp.py)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from specc.cli import app
from specc.emit.tfimport import tensorflow
from specc.experiments.runs import prepare, run_key

from .test_export import FLAGGED
from .test_stamp import _UID, _attr

tf = tensorflow()
EMITTERS = ("python", "stamp")

# test_export.py's classifier: batch norm and dropout read a training flag (tf.conds; dropout draws
# random numbers), labels, Adam.
MODEL = FLAGGED.replace("steps: 30", "steps: 8")
assert MODEL != FLAGGED


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def variables(prefix: Path) -> dict:
    return {name: tf.train.load_variable(str(prefix), name) for name, _ in tf.train.list_variables(str(prefix))}


def assert_same_variables(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def nodes(graph_def) -> dict:
    """A GraphDef's nodes and functions, the process-wide counter in function names left out."""
    return {"nodes": {n.name: (n.op, tuple(n.input), n.device, {k: _attr(v) for k, v in n.attr.items()})
                      for n in graph_def.node},
            "library": sorted((_UID.sub("_#", f.signature.name), [(n.name, n.op, n.device) for n in f.node_def])
                              for f in graph_def.library.function)}


def _graph_def(directory: Path):
    from google.protobuf import text_format

    return text_format.Parse((directory / "graph.pbtxt").read_text(), tf.compat.v1.GraphDef())


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """The model trained once per emitter (the stencil cache is the session's, tests/conftest.py)."""
    root = tmp_path_factory.mktemp("emitters")
    (root / "model.yaml").write_text(MODEL)
    out = {}
    for emit in EMITTERS:
        result = invoke("train", root / "model.yaml", "-o", root / emit, "--emit", emit, "-f", "json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["run"]["emitter"] == emit
        out[emit] = root / emit
    return out


def test_train_gives_bit_identical_losses_and_checkpoints_with_either_emitter(runs):
    metrics = {emit: json.loads((runs[emit] / "metrics.json").read_text()) for emit in EMITTERS}
    assert metrics["stamp"]["losses"] == metrics["python"]["losses"] and len(metrics["python"]["losses"]) == 8
    assert_same_variables(variables(runs["stamp"] / "model.ckpt"), variables(runs["python"] / "model.ckpt"))
    assert nodes(_graph_def(runs["stamp"])) == nodes(_graph_def(runs["python"]))
    assert {emit: json.loads((runs[emit] / "run.json").read_text())["emitter"] for emit in EMITTERS} == {
        "python": "python", "stamp": "stamp"}


def test_export_writes_the_same_saved_model_with_either_emitter(runs, tmp_path):
    from tensorflow.core.protobuf import saved_model_pb2

    exported = {}
    for emit in EMITTERS:
        out = tmp_path / emit
        result = invoke("export", runs["python"].parent / "model.yaml", "-o", out, "--checkpoint", runs["python"],
                        "--emit", emit, "-f", "json")
        assert result.exit_code == 0, result.output
        saved = saved_model_pb2.SavedModel.FromString((out / "saved_model.pb").read_bytes())
        (meta,) = saved.meta_graphs
        exported[emit] = (nodes(meta.graph_def), dict(meta.signature_def), meta.saver_def,
                          json.loads((out / "export.json").read_text()), variables(out / "variables" / "variables"))
    stamped, python = exported["stamp"], exported["python"]
    assert stamped[:4] == python[:4]
    assert_same_variables(stamped[4], python[4])
    assert_same_variables(python[4], variables(runs["python"] / "model.ckpt"))


def test_a_stamped_sweep_trains_as_the_python_emitter_does(tmp_path):
    """The variants, built and trained in a worker process by stamping, against each variant built and
    trained here by the Python emitter."""
    from specc.experiments.runs import write_run
    from specc.overrides import parse

    (tmp_path / "model.yaml").write_text(MODEL)
    experiment = tmp_path / "widths.yaml"
    experiment.write_text(textwrap.dedent("""\
        specc: 1
        experiment: widths
        base: model.yaml
        sweep: {layers.hidden.units: [4, 8]}
        train: {steps: 3}
        """))
    result = invoke("sweep", experiment, "-o", tmp_path / "runs", "--emit", "stamp", "-f", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "runs" / "widths" / "summary.json").read_text())["variants"]
    assert [(r["status"], r["emitter"]) for r in rows] == [("ok", "stamp")] * 2
    for row, units in zip(rows, (4, 8)):
        prepared = prepare(experiment, [parse(f"layers.hidden.units={units}")], drop=("sweep",))
        python = write_run(tmp_path / f"python_{units}", prepared, train=True, emit="python")
        assert python["emitter"] == "python"
        assert {k: row[k] for k in ("parameters", "variables", "ops", "first_loss", "final_loss")} == {
            k: python[k] for k in ("parameters", "variables", "ops", "first_loss", "final_loss")}
        assert_same_variables(variables(Path(row["directory"]) / "model.ckpt"),
                              variables(tmp_path / f"python_{units}" / "model.ckpt"))
    again = invoke("sweep", experiment, "-o", tmp_path / "runs", "--emit", "stamp", "-f", "json")
    assert again.exit_code == 0, again.output
    assert [r.get("reused") for r in json.loads(again.output)["variants"]] == [True, True]


def test_the_emitter_is_part_of_a_runs_cache_key(tmp_path):
    """The emitters build the same graph, but write files that are not byte for byte the same."""
    (tmp_path / "model.yaml").write_text(MODEL)
    prepared = prepare(tmp_path / "model.yaml")
    keys = {emit: run_key(prepared, True, emit) for emit in EMITTERS}
    assert None not in keys.values() and keys["python"] != keys["stamp"]


def test_commands_refuse_an_unknown_emitter(tmp_path):
    (tmp_path / "model.yaml").write_text(MODEL)
    for command in ("train", "sweep", "export", "build"):
        result = invoke(command, tmp_path / "model.yaml", "-o", tmp_path / command, "--emit", "fast")
        assert result.exit_code == 2 and "'fast' is not one of 'python', 'stamp'" in result.output, command
