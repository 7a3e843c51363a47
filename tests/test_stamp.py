"""The stamping emitter builds the Python emitter's graph: node for node, variables, collections,
checkpoints and a training step, for every spec in specs/ and every example in the docs."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from google.protobuf import text_format

import specc
import specc.layers
from specc.emit import notf, stamp, tf1
from specc.emit.files import write_graph_files
from specc.emit.stencils import StencilCache
from specc.emit.tfimport import tensorflow

from .conftest import SPECS
from .test_docs import EXAMPLES
from .test_examples import BATCH, global_variables, initialize, random_feed

tf = tensorflow()
v1 = tf.compat.v1

SPEC_FILES = sorted([*SPECS.glob("*.yaml"), *SPECS.glob("experiments/*.yaml")])

# A function's name holds a process-wide counter (`tower_bn1_cond_true_10128`, and gradients'
# `tower_bn1_cond_true_10128_rewritten`): two builds of one spec in one process differ there,
# whichever emitter builds them. It is all TensorFlow varies.
_UID = re.compile(r"_\d+(?=$|_rewritten$|_grad_\d+$)|(?<=_grad)_\d+$")


def _attr(value) -> tuple:
    if value.HasField("func"):
        return ("func", _UID.sub("_#", value.func.name))
    if value.HasField("list") and value.list.func:
        return ("funcs", tuple(_UID.sub("_#", f.name) for f in value.list.func))
    return ("value", value.SerializeToString(deterministic=True))


def canonical(graph) -> dict:
    """Every node by name: op, inputs (control inputs included, in order), device, attributes; and
    the function library by canonical name, each function's nodes likewise."""
    graph_def = graph.as_graph_def()
    nodes = {n.name: (n.op, tuple(n.input), n.device, {k: _attr(v) for k, v in n.attr.items()})
             for n in graph_def.node}
    library = sorted((_UID.sub("_#", f.signature.name),
                      tuple((n.name, n.op, tuple(n.input), n.device, tuple(sorted((k, _attr(v)) for k, v in n.attr.items())))
                            for n in f.node_def)) for f in graph_def.library.function)
    shapes = {op.name: tuple(str(t.shape) for t in op.outputs) for op in graph.get_operations()}
    return {"nodes": nodes, "library": library, "shapes": shapes}


def collections(graph) -> dict:
    with graph.as_default():
        meta = v1.train.export_meta_graph(graph=graph)
    return {key: value.SerializeToString(deterministic=True) for key, value in meta.collection_def.items()}


def assert_same_graph(stamped, python) -> None:
    a, b = canonical(stamped.graph), canonical(python.graph)
    assert sorted(a["nodes"]) == sorted(b["nodes"])
    for name, node in b["nodes"].items():
        assert a["nodes"][name] == node, f"node '{name}' differs"
    assert a["library"] == b["library"]
    assert a["shapes"] == b["shapes"]  # static shapes too: code built on the graph sees the same
    assert collections(stamped.graph) == collections(python.graph)
    assert list(stamped.variables) == list(python.variables)
    for field in ("inputs", "outputs", "tensors"):
        ours, theirs = getattr(stamped, field), getattr(python, field)
        assert {k: t.name for k, t in ours.items()} == {k: t.name for k, t in theirs.items()}, field


@pytest.fixture
def fresh_cache(monkeypatch, tmp_path):
    """An empty stencil cache of the test's own (the others share the session's, tests/conftest.py)."""
    monkeypatch.setenv("SPECC_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "stencils"


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.stem)
def test_stamped_graph_is_the_python_graph(path):
    plan = specc.plan(path)
    stamped, python = stamp.emit(plan), tf1.emit(plan)
    assert (stamped.emitter, stamped.fallback) == ("stamp", "")
    assert python.emitter == "python"
    assert_same_graph(stamped, python)


@pytest.mark.parametrize("doc,index,text", EXAMPLES, ids=[f"{d}#{i}" for d, i, _ in EXAMPLES])
def test_stamped_doc_example_is_the_python_graph(doc, index, text):
    plan = specc.plan(specc.loads(text, f"{doc}#{index}"))
    stamped = stamp.emit(plan)
    assert (stamped.emitter, stamped.fallback) == ("stamp", "")
    assert_same_graph(stamped, tf1.emit(plan))


# Greedy placement on three parameter servers, a worker device with a task and a device type, a block
# pinned to another worker, layers pinned inside it (a device without a job merges) and to parameter
# servers; batch norm's and dropout's tf.conds (their branch functions' nodes are placed too), an
# embedding (its gather colocated with the table) and a projection tied to it.
PLACED = """
specc: 1
name: placed
seed: 5
placement: {ps_tasks: 3, strategy: greedy, worker_device: /job:worker/task:1/device:CPU:0}
inputs:
  x: {shape: [null, 8]}
  ids: {shape: [null, 6], dtype: int32}
  training: {shape: [], dtype: bool, default: false}
layers:
  - id: tower
    type: block
    input: x
    device: /job:worker/task:2
    layers:
      - {id: fc1, type: dense, units: 16, activation: relu}
      - {id: bn, type: batch_norm, training: training, device: /device:CPU:0}
      - {id: drop, type: dropout, rate: 0.5, training: training}
  - {id: tower_again, type: block, input: x, share: tower}
  - {id: emb, type: embedding, input: ids, vocab: 10, dim: 16, device: /job:ps/task:1}
  - {id: pinned, type: dense, units: 3, input: tower, device: /job:ps/task:2}
  - {id: logits, type: dense, units: 10, input: emb, tie: emb}
"""


def test_a_placed_model_is_stamped_with_tensorflows_devices():
    """The Python emitter builds under TensorFlow's own replica_device_setter and nested tf.device
    scopes: every node's device, in the graph and in the branch functions, is stamped the same."""
    plan = specc.plan(specc.loads(PLACED, "placed.yaml"))
    stamped, python = stamp.emit(plan), tf1.emit(plan)
    assert (stamped.emitter, stamped.fallback) == ("stamp", "")
    assert_same_graph(stamped, python)
    devices = {op.name: op.device for op in stamped.graph.get_operations()}
    # ps ops on the planned task; what a variable's code places by its handle; colocations; no device.
    assert devices["pinned/kernel"] == "/job:ps/task:2"
    assert devices["tower/fc1/kernel"] == devices["tower/fc1/kernel/Assign"] == "/job:worker/task:2"
    assert devices["tower/fc1/kernel/Read/ReadVariableOp"] == "/job:worker/task:2/device:CPU:0"
    assert devices["tower/fc1/kernel/Initializer/random_uniform"] == devices["tower/fc1/MatMul/ReadVariableOp"] == ""
    assert devices["emb/embedding_lookup"] == devices["emb/embeddings"] == "/job:ps/task:1"
    assert devices["emb/embedding_lookup/Identity"] == "/job:ps/task:1/device:CPU:0"
    # The second tower shares the first's variables, not its device: its ops are on the worker's.
    assert devices["tower/bn/cond"] == "/job:worker/task:2/device:CPU:0"
    assert devices["tower_again/bn/cond"] == "/job:worker/task:1/device:CPU:0"
    assert devices["logits/Tensordot/MatMul"] == "/job:worker/task:1/device:CPU:0"
    branches = [n.device for f in stamped.graph.as_graph_def().library.function for n in f.node_def]
    assert set(branches) == {"", "/job:worker/task:2/device:CPU:0", "/job:worker/task:1/device:CPU:0"}


PLACED_VARIANTS = [
    ("siamese_cnn", ["placement.ps_tasks=2"]),
    ("siamese_cnn", ["placement.ps_tasks=3", "placement.strategy=greedy", "placement.worker_device=/job:worker/task:1"]),
    ("seq2seq_tied", ["placement.ps_tasks=2", "placement.worker_device=/job:worker/task:0/device:CPU:0"]),
    ("shared_trunk_two_heads", ["placement.worker_device=/job:worker/task:3"]),  # no ps: everything on the worker
    ("bert_tiny", ["placement.ps_tasks=4", "placement.strategy=greedy"]),
]


@pytest.mark.parametrize("stem,sets", PLACED_VARIANTS, ids=lambda x: x if isinstance(x, str) else ",".join(x))
def test_placed_specs_are_stamped_with_the_python_emitters_devices(stem, sets):
    from specc.overrides import parse

    plan = specc.plan(SPECS / f"{stem}.yaml", overrides=[parse(s) for s in sets])
    stamped = stamp.emit(plan)
    assert (stamped.emitter, stamped.fallback) == ("stamp", "")
    assert_same_graph(stamped, tf1.emit(plan))


def test_placed_and_unplaced_models_share_their_stencils(fresh_cache):
    """A stencil is built without any placement: devices are filled in when it is stamped."""
    from specc.overrides import parse

    cache = StencilCache(tf, fresh_cache)
    stamp._Stamper(tf, specc.plan(SPECS / "siamese_cnn.yaml"), cache)
    built = cache.built
    stamp._Stamper(tf, specc.plan(SPECS / "siamese_cnn.yaml", overrides=[parse("placement.ps_tasks=2")]), cache)
    assert built > 0 and cache.built == built


def _mlp(layers: int, seed: int = 7):
    return specc.plan(specc.loads(json.dumps({
        "specc": 1, "name": "mlp", "seed": seed, "inputs": {"x": {"shape": [None, 8]}},
        "layers": [{"id": f"layer_{i}", "type": "dense", "units": 8, "activation": "relu"} for i in range(layers)]}),
        "mlp.yaml"))


def test_seed_zero_first_op_seed_is_swapped_as_tensorflow_does():
    """Graph seed 0 and op seed 0 would mean 'nondeterministic' to the kernels: get_seed makes it 2**31-1."""
    plan = _mlp(3, seed=0)
    stamped = stamp.emit(plan)
    seeds = [(op.name, op.get_attr("seed2")) for op in stamped.graph.get_operations() if op.type == "RandomUniform"]
    assert seeds == [("layer_0/kernel/Initializer/random_uniform/RandomUniform", 2**31 - 1),
                     ("layer_1/kernel/Initializer/random_uniform/RandomUniform", 1),
                     ("layer_2/kernel/Initializer/random_uniform/RandomUniform", 2)]
    assert_same_graph(stamped, tf1.emit(plan))


def test_the_cache_directory_may_be_given_as_a_string(tmp_path):
    model = stamp.emit(_mlp(2), cache_dir=str(tmp_path))
    assert model.emitter == "stamp", model.fallback
    assert len(list((tmp_path / f"tf-{tf.__version__}").glob("*.json"))) == 1  # both layers: one signature


def test_stencils_are_cached_per_signature_and_reused(fresh_cache):
    plan = _mlp(5)
    cache = StencilCache(tf, fresh_cache.parent / "stencils")
    stamp._Stamper(tf, plan, cache)
    # layer_0 reads the placeholder, layers 1-4 a Relu: one signature each way, same shapes and dtypes.
    assert cache.built == 1
    (entry,) = (fresh_cache / f"tf-{tf.__version__}").glob("*.json")
    warm = StencilCache(tf, fresh_cache.parent / "stencils")
    assert_same_graph(stamp.emit(plan, cache_dir=fresh_cache.parent), tf1.emit(plan))
    stamp._Stamper(tf, plan, warm)
    assert warm.built == 0
    entry.write_text("{damaged")
    rebuilt = StencilCache(tf, fresh_cache.parent / "stencils")
    stamp._Stamper(tf, plan, rebuilt)
    assert rebuilt.built == 1 and json.loads(entry.read_text("utf-8"))["graph_def"]


def test_cache_directory_follows_the_environment(fresh_cache):
    stamp.emit(_mlp(2))
    assert list((fresh_cache / f"tf-{tf.__version__}").glob("*.json"))
    assert not list(fresh_cache.parent.glob("**/*.tmp"))


ONE_THREAD = v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)


def _values(model, sess) -> dict:
    return sess.run({name: v for name, v in model.variables.items()})


def test_checkpoints_restore_across_emitters(tmp_path):
    plan = specc.plan(SPECS / "bert_tiny.yaml")
    stamped, python = stamp.emit(plan), tf1.emit(plan)
    for source, target, name in ((python, stamped, "p"), (stamped, python, "s")):
        with source.graph.as_default():
            saver = v1.train.Saver(list(source.variables.values()))
        with v1.Session(graph=source.graph) as sess:
            initialize(sess, source.graph)
            # Values the other side's initializers would not give: restoring must bring them over.
            for v in source.variables.values():
                if v.dtype.base_dtype.is_floating:
                    v.load(np.full(v.shape.as_list(), 0.25, v.dtype.base_dtype.as_numpy_dtype), sess)
            expected = _values(source, sess)
            prefix = saver.save(sess, str(tmp_path / name / "model.ckpt"))
        with target.graph.as_default():
            restorer = v1.train.Saver(list(target.variables.values()))
        with v1.Session(graph=target.graph) as sess:
            restorer.restore(sess, prefix)
            restored = _values(target, sess)
        assert sorted(restored) == sorted(expected)
        for key in expected:
            np.testing.assert_array_equal(restored[key], expected[key], err_msg=key)


@pytest.mark.parametrize("stem", ["shared_trunk_two_heads", "seq2seq_tied", "rnn_unrolled", "siamese_cnn"])
def test_a_training_step_is_bit_identical(stem):
    """Same seeds, same initial values, same gradients: both graphs train alike to the bit.
    One thread: a gathered embedding's gradient sums repeated ids in whatever order the
    threads finish, so two runs of one graph differ in the last bit otherwise."""
    plan = specc.plan(SPECS / f"{stem}.yaml")
    results, graphs = [], []
    for model in (stamp.emit(plan), tf1.emit(plan)):
        assert model.emitter in ("stamp", "python")
        with model.graph.as_default():
            loss = tf.add_n([tf.reduce_sum(tf.square(tf.cast(t, tf.float32))) for t in model.outputs.values()])
            step = v1.train.GradientDescentOptimizer(1e-3).minimize(loss)
        feed = random_feed(np.random.default_rng(3), model.inputs, plan.inputs)
        # A training flag set: batch norm's tf.cond takes its batch-statistics branch and updates.
        feed.update({model.inputs[i.name]: True for i in plan.inputs if i.dtype == "bool" and i.has_default})
        with model.graph.as_default():
            step = tf.group(step, *v1.get_collection(v1.GraphKeys.UPDATE_OPS))
        graphs.append(canonical(model.graph))  # the gradients built on either graph are the same too
        with v1.Session(graph=model.graph, config=ONE_THREAD) as sess:
            initialize(sess, model.graph)
            before = _values(model, sess)
            sess.run(step, feed)
            results.append((before, _values(model, sess)))
    assert graphs[0] == graphs[1]
    (s_before, s_after), (p_before, p_after) = results
    # Moving statistics two layers update in one step (siamese_cnn's shared batch norm) end as the
    # updates happen to be ordered: two Python-built graphs of the spec differ there too.
    raced = {v.name for v in plan.variables if sum(u.updates for u in v.users) > 1}
    assert raced == ({"tower/bn1/moving_mean", "tower/bn1/moving_variance"} if stem == "siamese_cnn" else set())
    for key in p_before:
        np.testing.assert_array_equal(s_before[key], p_before[key], err_msg=key)
        if key not in raced:
            np.testing.assert_array_equal(s_after[key], p_after[key], err_msg=key)
    assert any(not np.array_equal(p_before[k], p_after[k]) for k in p_before), "the step changed nothing"


def test_update_ops_are_stamped_and_run():
    text = """
specc: 1
name: bn
inputs: {x: {shape: [null, 4]}}
layers:
  - {id: fc, type: dense, units: 4}
  - {id: bn, type: batch_norm, training: true}
"""
    plan = specc.plan(specc.loads(text, "bn.yaml"))
    stamped, python = stamp.emit(plan), tf1.emit(plan)
    assert stamped.emitter == "stamp"
    assert_same_graph(stamped, python)
    with stamped.graph.as_default():
        updates = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
    assert [op.name for op in updates] == ["bn/AssignMovingAvg", "bn/AssignMovingAvg_1"]
    with v1.Session(graph=stamped.graph) as sess:
        initialize(sess, stamped.graph)
        sess.run(updates, {stamped.inputs["x"]: np.ones((BATCH, 4), np.float32)})
        assert sess.run(stamped.variables["bn/moving_variance"]).tolist() != [1.0] * 4


def test_cli_build_emit_stamp_writes_the_same_graph(tmp_path):
    from typer.testing import CliRunner

    from specc.cli.app import app

    spec = SPECS / "siamese.yaml"
    runner = CliRunner()
    out = {}
    for emitter in ("python", "stamp"):
        result = runner.invoke(app, ["build", str(spec), "-o", str(tmp_path / emitter), "-f", "json",
                                     "--emit", emitter])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["emitter"] == emitter
        meta = v1.MetaGraphDef.FromString((tmp_path / emitter / "model.meta").read_bytes())
        out[emitter] = ((tmp_path / emitter / "graph.pbtxt").read_text("utf-8"),
                        meta.graph_def.SerializeToString(deterministic=True), meta.saver_def,
                        {k: v.SerializeToString(deterministic=True) for k, v in meta.collection_def.items()},
                        meta.signature_def["serving_default"])
    assert out["stamp"] == out["python"]
    bad = runner.invoke(app, ["build", str(spec), "-o", str(tmp_path / "x"), "--emit", "fast"])
    assert bad.exit_code == 2 and "fast" in bad.output


def test_api_refuses_an_unknown_emitter():
    with pytest.raises(ValueError, match="emit must be one of python, stamp, not 'fast'"):
        specc.build(SPECS / "siamese.yaml", emit="fast")


def test_build_defaults_to_the_stamping_emitter():
    assert specc.build(SPECS / "siamese.yaml").emitter == "stamp"
    assert specc.build(SPECS / "siamese.yaml", emit="python").emitter == "python"


def test_global_variables_keep_creation_order():
    plan = specc.plan(SPECS / "seq2seq_tied.yaml")
    stamped = stamp.emit(plan)
    assert [v.name for v in global_variables(stamped.graph)] == [v.name for v in global_variables(tf1.emit(plan).graph)]


ALL_OTHER_TYPES = """
specc: 1
name: others
seed: 11
inputs:
  image: {shape: [null, 8, 8, 3]}
  seq: {shape: [null, 10, 4]}
layers:
  - {id: conv, type: conv2d, input: image, filters: 4, kernel_size: 3, padding: SAME, activation: relu}
  - {id: pool, type: avg_pool2d, pool_size: 2}
  - {id: drop, type: dropout, rate: 0.5, training: true}
  - {id: keep, type: dropout, rate: 0.5}
  - {id: wave, type: conv1d, input: seq, filters: 6, kernel_size: 3, dilation: 2}
  - {id: drop_again, type: dropout, rate: 0.25, training: true}
"""


def test_the_types_no_spec_uses_stamp_too():
    """avg_pool2d, conv1d and dropout (its random op's seed drawn between two initializers')."""
    plan = specc.plan(specc.loads(ALL_OTHER_TYPES, "others.yaml"))
    stamped, python = stamp.emit(plan), tf1.emit(plan)
    assert stamped.emitter == "stamp", stamped.fallback
    assert_same_graph(stamped, python)
    seeds = {op.name: op.get_attr("seed2") for op in stamped.graph.get_operations() if op.type.startswith("Random")}
    assert seeds == {"conv/kernel/Initializer/random_uniform/RandomUniform": 0,
                     "drop/dropout/random_uniform/RandomUniform": 1,
                     "wave/kernel/Initializer/random_uniform/RandomUniform": 2,
                     "drop_again/dropout/random_uniform/RandomUniform": 3}


def test_a_dropout_with_a_training_flag_stamps_its_cond():
    """The tf.cond's branch functions are named after the stamped If op, their arguments after the
    tensors they capture (`drop/cond` capturing `pool/AvgPool2D`), and run."""
    text = ALL_OTHER_TYPES.replace("  seq:", "  is_training: {shape: [], dtype: bool, default: false}\n  seq:").replace(
        "{id: drop, type: dropout, rate: 0.5, training: true}", "{id: drop, type: dropout, rate: 0.5, training: is_training}")
    plan = specc.plan(specc.loads(text, "others.yaml"))
    stamped, python = stamp.emit(plan), tf1.emit(plan)
    assert stamped.emitter == "stamp", stamped.fallback
    assert_same_graph(stamped, python)
    functions = {_UID.sub("_#", f.signature.name): sorted(a.name for a in f.signature.input_arg)
                 for f in stamped.graph.as_graph_def().library.function}
    # `keep` (no `training:` of its own) reads the model's training flag: a cond too, capturing `drop`'s output.
    assert functions == {"drop_cond_true_#": ["dropout_mul_pool_avgpool2d"], "drop_cond_false_#": ["identity_pool_avgpool2d"],
                         "keep_cond_true_#": ["dropout_mul_drop_cond_identity"],
                         "keep_cond_false_#": ["identity_drop_cond_identity"]}
    outputs = []
    for model in (stamped, python):
        feed = random_feed(np.random.default_rng(5), model.inputs, plan.inputs)
        feed[model.inputs["is_training"]] = True
        with v1.Session(graph=model.graph, config=ONE_THREAD) as sess:
            initialize(sess, model.graph)
            outputs.append(sess.run(model.outputs, feed))
    for name in outputs[1]:
        np.testing.assert_array_equal(outputs[0][name], outputs[1][name], err_msg=name)
    assert (outputs[0]["drop_again"] == 0).any()


def test_the_signature_holds_the_code_that_builds_the_stencil(monkeypatch):
    from specc.emit import stencils

    plan = _mlp(1)
    layer = plan.layers[0]
    planned = {v.name: v for v in plan.variables}
    inputs = [specc.layers.TensorInfo((None, 8), "float32")]
    before = stencils.signature(layer, inputs, planned, plan.seed)
    monkeypatch.setattr(stencils, "code_version", lambda: "changed")
    assert stencils.signature(layer, inputs, planned, plan.seed) != before


def test_init_from_a_checkpoint_works_on_the_stamped_graph(tmp_path):
    spec = SPECS / "siamese.yaml"
    source = specc.build(spec)
    with source.graph.as_default():
        saver = v1.train.Saver(list(source.variables.values()))
    with v1.Session(graph=source.graph) as sess:
        initialize(sess, source.graph)
        for v in source.variables.values():
            v.load(np.full(v.shape.as_list(), 0.5, np.float32), sess)
        prefix = saver.save(sess, str(tmp_path / "model.ckpt"))
    stamped, python = specc.build(spec, init_from=prefix), specc.build(spec, init_from=prefix, emit="python")
    assert stamped.emitter == "stamp"
    assert_same_graph(stamped, python)
    with v1.Session(graph=stamped.graph) as sess:
        initialize(sess, stamped.graph)
        for name, value in _values(stamped, sess).items():
            np.testing.assert_array_equal(value, np.full(value.shape, 0.5, np.float32), err_msg=name)


def test_a_cache_that_cannot_be_written_only_costs_speed(tmp_path, monkeypatch):
    (tmp_path / "not_a_directory").write_text("")
    monkeypatch.setenv("SPECC_CACHE_DIR", str(tmp_path / "not_a_directory"))
    plan = _mlp(2)
    stamped = stamp.emit(plan)
    assert stamped.emitter == "stamp"
    assert_same_graph(stamped, tf1.emit(plan))


def test_a_layer_without_a_stencil_leaves_the_whole_model_to_the_python_emitter(monkeypatch, tmp_path, fresh_cache):
    from typer.testing import CliRunner

    from specc.cli.app import app
    from specc.emit import stencils

    built = stencils.build

    def no_subtract(tf, layer, *args):
        return stencils.Stencil(problem="no stencil today") if layer.type == "subtract" else built(tf, layer, *args)

    monkeypatch.setattr(stencils, "build", no_subtract)
    plan = specc.plan(SPECS / "siamese.yaml")
    stamped = stamp.emit(plan)
    assert (stamped.emitter, stamped.fallback) == ("python", "layer 'gap' (subtract): no stencil today")
    assert_same_graph(stamped, tf1.emit(plan))
    result = CliRunner().invoke(app, ["build", str(SPECS / "siamese.yaml"), "-o", str(tmp_path / "out"),
                                      "--emit", "stamp"])
    assert result.exit_code == 0, result.output
    assert "built by the python emitter: cannot stamp layer 'gap' (subtract): no stencil today" in result.output


# -- the files, written without TensorFlow ----------------------------------------------------

# TensorBoard's protobuf classes and google-crc32c: the `tensorboard` extra (and the `test` one).
needs_tensorboard = pytest.mark.skipif(bool(notf.unavailable()), reason=notf.unavailable() or "")


def _canonical_functions(graph_def) -> None:
    """Function names with their counter stripped, everywhere they occur, and the library in name order:
    TensorFlow's as_graph_def lists it in hash order."""
    for node in [*graph_def.node, *(n for f in graph_def.library.function for n in f.node_def)]:
        for value in node.attr.values():
            if value.HasField("func"):
                value.func.name = _UID.sub("_#", value.func.name)
    functions = sorted(graph_def.library.function, key=lambda f: _UID.sub("_#", f.signature.name))
    functions = [type(f).FromString(f.SerializeToString()) for f in functions]
    for f in functions:
        f.signature.name = _UID.sub("_#", f.signature.name)
    del graph_def.library.function[:]
    graph_def.library.function.extend(functions)


def _canonical_meta(data: bytes) -> bytes:
    meta = v1.MetaGraphDef.FromString(data)
    _canonical_functions(meta.graph_def)
    return meta.SerializeToString(deterministic=True)


def _canonical_graph(data: bytes) -> bytes:
    graph_def = v1.GraphDef.FromString(data)
    _canonical_functions(graph_def)
    return graph_def.SerializeToString(deterministic=True)


def _events(directory) -> list:
    """The event file's records (checksums verified by TensorFlow's reader), wall times left out."""
    (path,) = directory.glob("events.out.tfevents.*")
    assert re.fullmatch(r"events\.out\.tfevents\.\d{10}\.[^/]+", path.name), path.name
    out = []
    for data in tf.compat.v1.io.tf_record_iterator(str(path)):
        event = tf.compat.v1.Event.FromString(data)
        event.ClearField("wall_time")
        if event.HasField("graph_def"):
            out.append(("graph_def", _canonical_graph(event.graph_def)))
        elif event.HasField("meta_graph_def"):
            out.append(("meta_graph_def", _canonical_meta(event.meta_graph_def)))
        else:
            out.append(("event", event.SerializeToString(deterministic=True)))
    return out


def graph_files(directory) -> dict:
    """graph.pbtxt as written (its function names' counters stripped), model.meta and the event file canonically."""
    text = (directory / "graph.pbtxt").read_text("utf-8")
    if "library {" in text:
        graph_def = v1.GraphDef()
        text_format.Parse(text, graph_def)
        _canonical_functions(graph_def)
        text = text_format.MessageToString(graph_def)
    return {"graph.pbtxt": text, "model.meta": _canonical_meta((directory / "model.meta").read_bytes()),
            "events": _events(directory)}


def _files_both_ways(plan, tmp_path) -> tuple[dict, dict, notf.Stamped]:
    cache = tmp_path / "cache" / "stencils"
    assert notf.build(plan, directory=cache) is not None  # fills the cache
    stamped = notf.stamp(plan, cache)
    out = []
    for name, model in (("stamped", stamped), ("python", tf1.emit(plan))):
        (tmp_path / name).mkdir()
        write_graph_files(model, tmp_path / name)
        out.append(graph_files(tmp_path / name))
    return out[0], out[1], stamped


def assert_same_files(ours: dict, theirs: dict) -> None:
    assert ours["graph.pbtxt"] == theirs["graph.pbtxt"]
    assert ours["model.meta"] == theirs["model.meta"]
    assert ours["events"] == theirs["events"]


@needs_tensorboard
@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.stem)
def test_files_written_without_tensorflow_are_the_python_emitters(path, tmp_path):
    plan = specc.plan(path)
    ours, theirs, stamped = _files_both_ways(plan, tmp_path)
    assert_same_files(ours, theirs)
    assert list(stamped.variables) == list(tf1.emit(plan).variables)


@needs_tensorboard
@pytest.mark.parametrize("stem,sets", PLACED_VARIANTS, ids=lambda x: x if isinstance(x, str) else ",".join(x))
def test_placed_files_written_without_tensorflow_are_the_python_emitters(stem, sets, tmp_path):
    """Devices as the model's device functions give them: the inputs on the worker, a variable's restore ops
    on its device, `init` and `save/restore_all` grouped per device as tf.group groups them."""
    from specc.overrides import parse

    plan = specc.plan(SPECS / f"{stem}.yaml", overrides=[parse(s) for s in sets])
    ours, theirs, stamped = _files_both_ways(plan, tmp_path)
    assert_same_files(ours, theirs)
    assert stamped.emitter == "stamp"


@needs_tensorboard
def test_nested_devices_colocations_and_greedy_placement_are_written_without_tensorflow(tmp_path):
    ours, theirs, _ = _files_both_ways(specc.plan(specc.loads(PLACED, "placed.yaml")), tmp_path)
    assert_same_files(ours, theirs)


@needs_tensorboard
@pytest.mark.parametrize("doc,index,text", EXAMPLES, ids=[f"{d}#{i}" for d, i, _ in EXAMPLES])
def test_doc_example_files_written_without_tensorflow_are_the_python_emitters(doc, index, text, tmp_path):
    plan = specc.plan(specc.loads(text, f"{doc}#{index}"))
    ours, theirs, _ = _files_both_ways(plan, tmp_path)
    assert_same_files(ours, theirs)


@needs_tensorboard
def test_cli_build_with_warm_stencils_never_imports_tensorflow(tmp_path):
    """The first build imports TensorFlow to fill the cache; the second, with it warm, does not, and
    writes the same files (canonically: wall times and function counters aside)."""
    script = textwrap.dedent("""
        import json, sys
        from specc.cli.app import app
        try:
            app(sys.argv[1:], standalone_mode=False)
        finally:
            print("TENSORFLOW " + json.dumps("tensorflow" in sys.modules))
    """)
    env = {**os.environ, "SPECC_CACHE_DIR": str(tmp_path / "cache")}
    imported, reports = [], []
    for name in ("cold", "warm"):
        done = subprocess.run([sys.executable, "-c", script, "build", str(SPECS / "siamese_cnn.yaml"), "-o",
                               str(tmp_path / name), "--emit", "stamp", "-f", "json"],
                              capture_output=True, text=True, timeout=300, env=env)
        assert done.returncode == 0, done.stderr
        out, flag = done.stdout.rsplit("TENSORFLOW ", 1)
        imported.append(json.loads(flag))
        reports.append(json.loads(out))
    assert imported == [True, False]
    assert [(r["emitter"], r["tensorflow_imported"]) for r in reports] == [("stamp", True), ("stamp", False)]
    assert reports[1]["variables_checked"] == len(specc.plan(SPECS / "siamese_cnn.yaml").variables)
    assert graph_files(tmp_path / "warm") == graph_files(tmp_path / "cold")
    names = sorted(p.name for p in (tmp_path / "warm").iterdir() if not p.name.startswith("events."))
    assert names == [".specc-build.json", "graph.pbtxt", "model.meta", "overrides.json", "plan.json", "resolved.yaml"]


def _corrupt(cache, edit) -> None:
    """Apply `edit` to every cached stencil: its JSON form and its GraphDef."""
    for entry in cache.glob("tf-*/*.json"):
        if entry.name == "tensorflow.json":
            continue
        data = json.loads(entry.read_text("utf-8"))
        graph_def = v1.GraphDef.FromString(base64.b64decode(data["graph_def"]))
        edit(data, graph_def)
        data["graph_def"] = base64.b64encode(graph_def.SerializeToString()).decode()
        entry.write_text(json.dumps(data), "utf-8")


def _kernel_shape(data, graph_def) -> None:
    for node in graph_def.node:
        if node.op == "VarHandleOp" and node.name.endswith("/kernel"):
            node.attr["shape"].shape.dim[0].size += 1


def _input_renamed(data, graph_def) -> None:
    """Relu reads a node the layer does not make."""
    (relu,) = [i for i, n in enumerate(graph_def.node) if n.op == "Relu"]
    data["inputs"][relu][0][1][2] += "_missing"


def _node_named_as_the_input(data, graph_def) -> None:
    (relu,) = [i for i, n in enumerate(graph_def.node) if n.op == "Relu"]
    data["names"][relu] = ["input", 0, ""]


@needs_tensorboard
@pytest.mark.parametrize("edit,message", [
    (_kernel_shape, r"variable 'layer_0/kernel:0': graph shape \[9, 8\], planned \[8, 8\]"),
    (_input_renamed, r"node 'layer_0/Relu' reads 'layer_0/BiasAdd_missing', which no node of the stamped graph is"),
    (_node_named_as_the_input, r"the stamped graph holds two nodes named 'x'"),
])
def test_a_corrupted_stamp_is_caught_without_tensorflow(edit, message, tmp_path):
    from specc.errors import BuildError

    plan = _mlp(2)
    cache = tmp_path / "cache" / "stencils"
    assert notf.build(plan, directory=cache) is not None
    _corrupt(cache, edit)
    with pytest.raises(BuildError, match=message):
        notf.stamp(plan, cache)


def _matmul_elsewhere(data, graph_def) -> None:
    (matmul,) = [i for i, n in enumerate(graph_def.node) if n.op == "MatMul"]
    data["devices"][matmul] = ["fixed", None, "/job:elsewhere"]


def _kernel_elsewhere(data, graph_def) -> None:
    (kernel,) = [i for i, n in enumerate(graph_def.node) if n.op == "VarHandleOp" and n.name.endswith("/kernel")]
    data["devices"][kernel] = ["fixed", None, "/job:ps/task:7"]


@needs_tensorboard
@pytest.mark.parametrize("edit,message", [
    (_matmul_elsewhere, "layer 'layer_0': op 'layer_0/MatMul' is on '/job:elsewhere', the plan says '/job:worker'"),
    (_kernel_elsewhere, "variable 'layer_0/kernel' is on '/job:ps/task:7', the plan says '/job:ps/task:0'"),
], ids=["op", "variable"])
def test_a_placed_stamp_on_the_wrong_device_is_caught_without_tensorflow(edit, message, tmp_path):
    from specc.errors import BuildError

    plan = specc.plan(specc.loads(json.dumps({
        "specc": 1, "name": "mlp", "placement": {"ps_tasks": 2}, "inputs": {"x": {"shape": [None, 8]}},
        "layers": [{"id": f"layer_{i}", "type": "dense", "units": 8} for i in range(2)]}), "mlp.yaml"))
    cache = tmp_path / "cache" / "stencils"
    assert notf.build(plan, directory=cache) is not None
    _corrupt(cache, edit)
    with pytest.raises(BuildError, match=re.escape(message)):
        notf.stamp(plan, cache)


@needs_tensorboard
def test_the_cli_reports_a_corrupted_stamp_as_an_internal_error(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from specc.cli.app import app

    monkeypatch.setenv("SPECC_CACHE_DIR", str(tmp_path / "cache"))
    spec = tmp_path / "mlp.yaml"
    spec.write_text(json.dumps({"specc": 1, "name": "mlp", "seed": 7, "inputs": {"x": {"shape": [None, 8]}},
                                "layers": [{"id": f"layer_{i}", "type": "dense", "units": 8, "activation": "relu"}
                                           for i in range(2)]}))
    runner = CliRunner()
    assert runner.invoke(app, ["build", str(spec), "-o", str(tmp_path / "a"), "--emit", "stamp"]).exit_code == 0
    _corrupt(tmp_path / "cache" / "stencils", _kernel_shape)
    result = runner.invoke(app, ["build", str(spec), "-o", str(tmp_path / "b"), "--emit", "stamp"])
    assert result.exit_code == 3
    assert "internal error: BuildError: variable 'layer_0/kernel:0': graph shape [9, 8], planned [8, 8]" in result.output
    assert not (tmp_path / "b").exists()


NAMES_TAKEN = """
specc: 1
name: taken
inputs: {x: {shape: [null, 4]}}
layers:
  - {id: save, type: dense, units: 2}
  - {id: init, type: dense, units: 2}
  - {id: save_1, type: dense, units: 2}
"""


@needs_tensorboard
def test_files_of_a_graph_stamped_into_tensorflow_are_the_python_emitters(tmp_path):
    """A tf.cond's branches keep their shapes in model.meta and the event file (TensorFlow gives an imported
    function's none); with devices placed, as `specc build` stamps a placed model."""
    for name in ("siamese_cnn", "experiments/siamese_cluster"):
        plan = specc.plan(SPECS / f"{name}.yaml")
        for emitter, model in (("stamp", stamp.emit(plan, cache_dir=tmp_path / "cache")), ("python", tf1.emit(plan))):
            (tmp_path / name / emitter).mkdir(parents=True)
            write_graph_files(model, tmp_path / name / emitter)
        assert_same_files(graph_files(tmp_path / name / "stamp"), graph_files(tmp_path / name / "python"))


@needs_tensorboard
def test_the_saver_and_init_op_avoid_the_names_layers_took(tmp_path):
    """In the Python-built graph, the layers' scopes push TensorFlow's Saver to `save_2/...` and its init op
    to `init_1`: so in the files written without TensorFlow."""
    plan = specc.plan(specc.loads(NAMES_TAKEN, "taken.yaml"))
    ours, theirs, stamped = _files_both_ways(plan, tmp_path)
    assert_same_files(ours, theirs)
    meta = v1.MetaGraphDef.FromString((tmp_path / "stamped" / "model.meta").read_bytes())
    assert meta.saver_def.filename_tensor_name == "save_2/Const:0"
    # Stamped into a tf.Graph, the imported graph has the names the layers took marked in use.
    (tmp_path / "graph").mkdir()
    write_graph_files(stamp.emit(plan, cache_dir=tmp_path / "cache"), tmp_path / "graph")
    assert_same_files(graph_files(tmp_path / "graph"), theirs)
    assert [n.name for n in meta.graph_def.node if n.op == "NoOp"] == ["init_1", "save_2/restore_all"]


def test_without_tensorboard_the_build_imports_tensorflow(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard.compat.proto.meta_graph_pb2", None)
    assert notf.unavailable() == "tensorboard.compat.proto.meta_graph_pb2 is not installed (pip install 'specc[tensorboard]')"
    assert notf.build(_mlp(2), directory=tmp_path / "cache") is None
