"""Placement: the plan's devices (no TensorFlow), checked against what replica_device_setter does."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import specc
from specc.cli import app
from specc.emit.tf1 import verify_devices
from specc.errors import BuildError, SpecError
from specc.overrides import parse
from specc.placement import Device

from .conftest import ROOT

PLACED = ROOT / "tests" / "data" / "placed.yaml"
SIAMESE = ROOT / "specs" / "siamese.yaml"
# Round-robin in creation order; the second tower reuses the first's variables (no turn); `pinned`
# takes its turns but stays on task 1; `onworker` takes none.
PLACED_DEVICES = [
    ("tower/fc1/kernel", "/job:ps/task:0", 512), ("tower/fc1/bias", "/job:ps/task:1", 64),
    ("tower/fc2/kernel", "/job:ps/task:0", 256), ("tower/fc2/bias", "/job:ps/task:1", 16),
    ("pinned/kernel", "/job:ps/task:1", 48), ("pinned/bias", "/job:ps/task:1", 12),
    ("onworker/kernel", "/job:worker/task:0", 48), ("onworker/bias", "/job:worker/task:0", 12),
    ("head/kernel", "/job:ps/task:0", 32), ("head/bias", "/job:ps/task:1", 8),
]


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def graph_devices(graph) -> dict[str, str]:
    return {op.name: op.device for op in graph.get_operations() if op.type == "VarHandleOp"}


def test_the_plan_places_every_variable_once():
    placement = specc.plan(PLACED).placement
    assert [(v.name, v.device, v.bytes) for v in placement.variables] == PLACED_DEVICES
    assert placement.ps_bytes == (512 + 256 + 32, 64 + 16 + 48 + 12 + 8)
    layers = placement.layer_devices()
    assert (layers["tower_r.fc1"], layers["pinned"], layers["onworker"]) == (
        "/job:worker", "/job:ps/task:1", "/job:worker/task:0")


def test_without_placement_the_plan_places_nothing():
    assert specc.plan(SIAMESE).placement is None


@pytest.mark.parametrize("text", ["", "/job:ps", "/job:ps/task:3", "/job:worker/replica:0/task:1/device:CPU:0",
                                  "/cpu:0", "/GPU:1", "/device:gpu:2", "/device:TPU:0", "/job:w/device:CPU:*"])
def test_devices_parse_and_print_as_tensorflow_does(tf, text):
    assert str(Device.parse(text)) == tf.DeviceSpec.from_string(text).to_string()


@pytest.mark.parametrize("a,b", [("/job:ps", "/job:ps/task:1"), ("/job:ps/task:0", "/device:CPU:0"),
                                 ("/job:worker/task:1", "/job:ps"), ("/job:ps/task:2/device:GPU:0", "")])
def test_devices_merge_as_tensorflow_does(tf, a, b):
    expected = tf.DeviceSpec.from_string(a).make_merged_spec(tf.DeviceSpec.from_string(b)).to_string()
    assert str(Device.parse(a).merged(Device.parse(b))) == expected


def test_the_built_graph_has_the_planned_devices(tf):
    """specc builds under TensorFlow's own replica_device_setter and round-robin strategy: the graph is the oracle."""
    model = specc.build(PLACED)
    assert graph_devices(model.graph) == {name: device for name, device, _ in PLACED_DEVICES}
    ops = {op.name: op for op in model.graph.get_operations()}
    assert ops["tower/fc1/MatMul"].device == ops["tower_r/fc1/MatMul"].device == "/job:worker"
    assert ops["onworker/MatMul"].device == "/job:worker/task:0"
    # A variable's own ops: Assign and the read on its device, the initializer colocated with it.
    assert ops["tower/fc1/kernel/Assign"].device == ops["tower/fc1/kernel/Read/ReadVariableOp"].device == "/job:ps/task:0"
    init = ops["tower/fc1/kernel/Initializer/random_uniform"]
    assert (init.device, init.colocation_groups()) == ("", [b"loc:@tower/fc1/kernel"])


def test_greedy_places_by_bytes(tf):
    """The least-loaded task so far, the first on a tie: 2,560 -> 0, 256 -> 1, 4,096 -> 2, then 64 -> 1."""
    plan = specc.plan(SIAMESE, overrides=[_set("placement", {"ps_tasks": 3, "strategy": "greedy"})])
    expected = {"tower/fc1/kernel": "/job:ps/task:0", "tower/fc1/bias": "/job:ps/task:1",
                "tower/fc2/kernel": "/job:ps/task:2", "tower/fc2/bias": "/job:ps/task:1"}
    assert {v.name: v.device for v in plan.placement.variables} == expected
    assert plan.placement.ps_bytes == (2560, 320, 4096)
    assert graph_devices(specc.build(plan).graph) == expected


def test_contribs_byte_size_load_fn_would_see_nothing_in_a_resource_handle(tf):
    """Why the greedy load is read from the variable's shape and dtype: TF 2's variables are VarHandleOps,
    whose one output is a scalar resource handle that TensorFlow sizes at 0 bytes."""
    model = specc.build(SIAMESE)
    op = model.graph.get_operation_by_name("tower/fc1/kernel")
    assert op.type == "VarHandleOp" and op.outputs[0].dtype == tf.resource
    assert op.outputs[0].shape.num_elements() * op.outputs[0].dtype.size == 0


def test_a_placement_tf_does_not_follow_is_a_build_error(tf):
    plan = specc.plan(PLACED)
    model = specc.build(plan)
    from dataclasses import replace

    wrong = replace(plan.placement, variables=(replace(plan.placement.variables[0], device="/job:ps/task:1"),
                                               *plan.placement.variables[1:]))
    with pytest.raises(BuildError, match="variable 'tower/fc1/kernel' is on '/job:ps/task:0', the plan says "
                                         "'/job:ps/task:1'"):
        verify_devices(replace(plan, placement=wrong), lambda name: model.graph.get_operation_by_name(name).device)


def _set(target: str, value):
    from specc.overrides import Override, parse_path

    return Override(target, parse_path(target), value)


def test_a_bad_device_is_located(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(PLACED.read_text().replace("device: /job:ps/task:1", "device: ps/task:1"))
    with pytest.raises(SpecError) as e:
        specc.plan(bad)
    assert (e.value.where.line, e.value.where.path) == (17, ("layers", 2, "device"))
    assert e.value.message == ("'ps/task:1' is not a TensorFlow device: write fields such as /job:ps, /task:0, "
                               "/device:CPU:0, each led by '/', e.g. /job:worker/task:1")


def test_explain_devices_prints_devices_and_bytes_per_ps_task():
    result = invoke("explain", "--devices", SIAMESE, "--ps-tasks", "2", "--worker-device", "/job:worker/task:1")
    assert result.exit_code == 0, result.output
    lines = [line.strip("│ ") for line in result.stdout.splitlines()]
    assert "tower/fc1/kernel │ /job:ps/task:0 │ 2,560" in lines
    assert "tower/fc2/bias   │ /job:ps/task:1 │    64" in lines
    assert result.stdout.splitlines()[-3:] == [
        "/job:ps/task:0: 6,656 bytes", "/job:ps/task:1: 320 bytes",
        "4 variables on 2 parameter server tasks (round_robin); ops on /job:worker/task:1"]
    data = json.loads(invoke("explain", "--devices", SIAMESE, "--ps-tasks", "2", "-f", "json").stdout)
    assert data["ps_bytes"] == [{"device": "/job:ps/task:0", "bytes": 6656}, {"device": "/job:ps/task:1", "bytes": 320}]


def test_build_writes_the_devices_into_the_graph_and_the_plan(tf, tmp_path):
    out = tmp_path / "b"
    result = invoke("build", SIAMESE, "-o", out, "--ps-tasks", "2")
    assert result.exit_code == 0, result.output
    graph_def = tf.compat.v1.GraphDef()
    from google.protobuf import text_format

    text_format.Parse((out / "graph.pbtxt").read_text(), graph_def)
    devices = {n.name: n.device for n in graph_def.node if n.op == "VarHandleOp"}
    assert devices == {"tower/fc1/kernel": "/job:ps/task:0", "tower/fc1/bias": "/job:ps/task:1",
                       "tower/fc2/kernel": "/job:ps/task:0", "tower/fc2/bias": "/job:ps/task:1"}
    plan = json.loads((out / "plan.json").read_text())["plan"]
    assert plan["placement"]["ps_bytes"] == [{"device": "/job:ps/task:0", "bytes": 6656},
                                             {"device": "/job:ps/task:1", "bytes": 320}]
    overrides = json.loads((out / "overrides.json").read_text())["overrides"]
    assert overrides == [{"set": "placement.ps_tasks", "value": 2, "from": "--ps-tasks", "path": "placement.ps_tasks"}]


def test_explain_devices_never_imports_tensorflow():
    import subprocess
    import sys

    code = ("import sys\nfrom typer.testing import CliRunner\nfrom specc.cli import app\n"
            f"r = CliRunner().invoke(app, ['explain', '--devices', {str(PLACED)!r}])\n"
            "assert r.exit_code == 0, r.output\nassert 'tensorflow' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_an_op_colocated_with_a_placed_variable_is_on_its_device(tf):
    """An embedding's gather is colocated with its table (`loc:@`), so TensorFlow puts it on the table's
    parameter server, not on the layer's device: the build accepts that, as TensorFlow does."""
    plan = specc.plan(ROOT / "specs" / "seq2seq_tied.yaml", overrides=[parse("placement.ps_tasks=2")])
    ops = {op.name: op.device for op in specc.build(plan, emit="python").graph.get_operations()}
    assert ops["embedding/embedding_lookup"] == ops["target_embedded/embedding_lookup"] == "/job:ps/task:0"
    assert ops["embedding/embeddings"] == "/job:ps/task:0" and ops["target_embedded/embedding_lookup/Identity"] == "/job:worker"
