"""BERT and ALBERT, written as specs, against Google's originals.

Three witnesses agree on every variable name and shape of the released checkpoints:
  - tests/data/{bert,albert}_base_variables.txt, written from reading the original code
    (its header names the commits read);
  - specc's plan and graph of specs/{bert,albert}_base.yaml;
  - tests/bert_reference.py, the originals' code ported line by line to tf.compat.v1, whose
    names TensorFlow itself decides (contrib's LayerNorm_1, ALBERT's AUTO_REUSE).
The tiny specs (the base files with smaller vars) are built, run, trained one step and
restored from a checkpoint the hand-written port wrote; with the same weights, specc's graph
and the port compute the same outputs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np
import pytest
import yaml

import specc
from specc.report import report, report_json

from .bert_reference import Config, build_albert, build_bert
from .conftest import ROOT, SPECS

DATA = ROOT / "tests" / "data"
BASE = ["bert_base", "albert_base"]
TINY = ["bert_tiny", "albert_tiny"]
PORTS = {"bert": build_bert, "albert": build_albert}
OUTPUTS = ["bert.encoder", "bert.pooler", "cls.predictions", "cls.seq_relationship"]
BATCH = 3


def checkpoint_variables(stem: str) -> list[tuple[str, tuple[int, ...]]]:
    """tests/data/<stem>_variables.txt: (name, shape) in the original's creation order."""
    rows = []
    for line in (DATA / f"{stem}_variables.txt").read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, shape = line.split(" ", 1)
            rows.append((name, tuple(json.loads(shape))))
    return rows


def spec_data(stem: str) -> dict:
    return yaml.safe_load((SPECS / f"{stem}.yaml").read_text("utf-8"))


def config(stem: str) -> Config:
    return Config.from_vars(spec_data(stem)["vars"])


def port(tf, stem: str):
    """The hand-written original for the spec's vars."""
    return PORTS[stem.split("_")[0]](tf, config(stem))


def graph_variables(graph) -> list[tuple[str, tuple[int, ...]]]:
    return [(v.name[:-2], tuple(v.shape.as_list())) for v in graph.get_collection("variables")]


def random_inputs(c: Config, seed: int, padded: int = 5) -> dict[str, np.ndarray]:
    """Ids below the vocabularies, and an input_mask whose last `padded` positions are padding."""
    rng = np.random.default_rng(seed)
    shape = (BATCH, c.seq_length)
    mask = np.ones(shape, np.int32)
    mask[:, c.seq_length - padded:] = 0
    return {"input_ids": rng.integers(0, c.vocab_size, shape).astype(np.int32),
            "input_mask": mask,
            "token_type_ids": rng.integers(0, c.type_vocab_size, shape).astype(np.int32)}


def session(tf, graph):
    sess = tf.compat.v1.Session(graph=graph)
    sess.run([v.initializer for v in graph.get_collection("variables")])
    return sess


# -- the base models: names and shapes of the released checkpoints -----------------------

@pytest.mark.parametrize("stem", BASE)
def test_the_plan_has_the_checkpoint_names_and_shapes(stem):
    """No TensorFlow: the plan alone names every variable as the original does, in its order."""
    plan = specc.plan(SPECS / f"{stem}.yaml")
    assert [(v.name, v.shape) for v in plan.variables] == checkpoint_variables(stem)
    assert {(v.dtype, v.trainable) for v in plan.variables} == {("float32", True)}


def test_parameter_counts():
    assert specc.plan(SPECS / "bert_base.yaml").parameters == 110_106_428  # 109,482,240 BertModel + heads
    assert specc.plan(SPECS / "albert_base.yaml").parameters == 11_813_810


@pytest.mark.parametrize("stem", BASE)
def test_the_base_graph_and_the_hand_written_original_have_the_checkpoint_names(tf, stem):
    """The plan-only base specs built once (graph only: no 110M-value initialisation), and the
    hand-written port of the original code: TensorFlow names both exactly as the data file."""
    model = specc.build(SPECS / f"{stem}.yaml")  # the emitter checks the graph against the plan
    original = port(tf, stem).graph
    assert graph_variables(model.graph) == checkpoint_variables(stem)
    assert graph_variables(original) == checkpoint_variables(stem)
    assert_built_like_the_original(stem, model.graph, original)


@pytest.mark.parametrize("family", ["bert", "albert"])
def test_tiny_is_base_with_smaller_vars(family):
    """One structure: the tiny spec is the base spec with other vars (and name), nothing else."""
    base, tiny = spec_data(f"{family}_base"), spec_data(f"{family}_tiny")
    assert base.keys() == tiny.keys() and base["vars"].keys() == tiny["vars"].keys()
    assert base["vars"] != tiny["vars"]
    for key in base.keys() - {"vars", "name"}:
        assert base[key] == tiny[key], key


# -- ALBERT's cross-layer sharing, as the report shows it ------------------------------------

ALBERT_LAYER = "bert/encoder/transformer/group_0/inner_group_0/"
ALBERT_LAYER_PARAMS = 7_087_872  # 4 x (768 x 768 + 768) + 768 x 3072 + 3072 + 3072 x 768 + 768 + 2 x (2 x 768)


def test_albert_report_shows_one_layer_used_twelve_times():
    rep = report(specc.plan(SPECS / "albert_base.yaml"))
    layer_rows = [r for r in rep.rows if r.name.startswith(ALBERT_LAYER)]
    assert len(layer_rows) == 16 and sum(r.params for r in layer_rows) == ALBERT_LAYER_PARAMS
    for row in layer_rows:
        assert row.creator.startswith("bert.encoder.transformer.layer_0.")
        assert len(row.uses) == 12 and len(row.reusers) == 11
        # Each application's ops in TensorFlow's re-entry name scope of group_0.
        scopes = [re.match(r"bert/encoder/transformer/(group_0(_\d+)?)/", scope).group(1) for _, scope in row.uses]
        assert scopes == ["group_0"] + [f"group_0_{k}" for k in range(1, 12)]
    # The tied word embeddings (the MLM output layer reads them) are the only other shared variable.
    others = [r for r in rep.shared_rows() if not r.name.startswith(ALBERT_LAYER)]
    assert [(r.name, r.reusers) for r in others] == [("bert/embeddings/word_embeddings", ("cls.predictions.logits",))]
    # Sharing saves 11 more copies of the layer, and an output matrix the size of the table.
    assert rep.parameters_saved == 11 * ALBERT_LAYER_PARAMS + 30_000 * 128 == 81_806_592
    assert rep.parameters + rep.parameters_saved == 93_620_402  # the unshared equivalent
    totals = report_json(rep)["totals"]
    assert totals["shared_variables"] == 17 and totals["parameters_saved_by_sharing"] == 81_806_592


def test_bert_shares_only_the_tied_table():
    rep = report(specc.plan(SPECS / "bert_base.yaml"))
    assert [r.name for r in rep.shared_rows()] == ["bert/embeddings/word_embeddings"]
    assert rep.parameters_saved == 30_522 * 768


# -- the tiny models run, and match the originals ----------------------------------------

@pytest.mark.parametrize("stem", TINY)
def test_tiny_builds_and_runs(tf, stem):
    c = config(stem)
    model = specc.build(SPECS / f"{stem}.yaml")
    feed = random_inputs(c, seed=1)
    with session(tf, model.graph) as sess:
        out = sess.run(model.outputs, {model.inputs[k]: v for k, v in feed.items()})
        # Padding is masked out: other ids at the padded positions change nothing elsewhere.
        other = dict(feed, input_ids=feed["input_ids"].copy())
        other["input_ids"][:, -5:] = (other["input_ids"][:, -5:] + 1) % c.vocab_size
        again = sess.run(model.outputs["bert.encoder"], {model.inputs[k]: v for k, v in other.items()})
    expected = {"bert.encoder": (BATCH, c.seq_length, c.hidden_size), "bert.pooler": (BATCH, c.hidden_size),
                "cls.predictions": (BATCH, c.seq_length, c.vocab_size), "cls.seq_relationship": (BATCH, 2)}
    assert {k: v.shape for k, v in out.items()} == expected
    for name, value in out.items():
        assert value.dtype == np.float32 and np.all(np.isfinite(value)), name
    np.testing.assert_allclose(again[:, :-5], out["bert.encoder"][:, :-5], rtol=1e-5, atol=1e-5)
    assert not np.allclose(again[:, -5:], out["bert.encoder"][:, -5:])


@pytest.mark.parametrize("stem", TINY)
def test_tiny_restores_a_checkpoint_of_the_hand_written_original(tf, stem, tmp_path):
    """The port creates its variables (zeros), fills them with known values and saves them
    with a plain Saver; a Saver over specc's model.variables restores that checkpoint, every
    value arrives, and both graphs then compute the same outputs."""
    v1 = tf.compat.v1
    ref = port(tf, stem)
    rng = np.random.default_rng(7)
    with ref.graph.as_default():
        ref_vars = v1.global_variables()
        saver = v1.train.Saver(ref_vars)
    values = {}
    for var in ref_vars:
        name, shape = var.name[:-2], var.shape.as_list()
        values[name] = (rng.normal(0.0, 0.05, shape) + (1.0 if name.endswith("/gamma") else 0.0)).astype(np.float32)
    with v1.Session(graph=ref.graph) as sess:
        sess.run([v.initializer for v in ref_vars])
        for var in ref_vars:
            var.load(np.zeros(var.shape.as_list(), np.float32), sess)  # zeros, then the known values
            var.load(values[var.name[:-2]], sess)
        path = saver.save(sess, str(tmp_path / "original.ckpt"), write_meta_graph=False)
        feed = random_inputs(config(stem), seed=2)
        theirs = sess.run(ref.outputs, {ref.inputs[k]: v for k, v in feed.items()})

    assert sorted(name for name, _ in v1.train.list_variables(path)) == sorted(values)
    model = specc.build(SPECS / f"{stem}.yaml")
    with model.graph.as_default():
        restore = v1.train.Saver(model.variables)
    with v1.Session(graph=model.graph) as sess:
        restore.restore(sess, path)
        restored = sess.run(model.variables)
        ours = sess.run(model.outputs, {model.inputs[k]: v for k, v in feed.items()})
    assert sorted(restored) == sorted(values)
    for name, value in values.items():
        np.testing.assert_array_equal(restored[name], value, err_msg=name)
    for name in OUTPUTS:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-5, atol=1e-5, err_msg=name)


# -- ALBERT's sharing, numerically --------------------------------------------------------

def test_albert_one_gradient_step_updates_one_shared_layer(tf):
    """albert_tiny applies one layer 4 times. One step of gradient descent updates each of its
    variables once, by the sum of the 4 applications' gradients, and every application then
    reads the same, updated value."""
    v1 = tf.compat.v1
    c = config("albert_tiny")
    model = specc.build(SPECS / "albert_tiny.yaml")
    g = model.graph
    lr = 0.5
    with g.as_default():
        loss = (tf.reduce_mean(tf.square(model.outputs["bert.encoder"]))
                + tf.reduce_mean(tf.square(model.outputs["cls.predictions"]))
                + tf.reduce_mean(tf.square(model.outputs["cls.seq_relationship"])))
        kernel = model.variables[ALBERT_LAYER + "attention_1/self/query/kernel"]
        # Every read of the kernel by a layer (not the variable's own `kernel/Read`), grouped by
        # application: op scope group_0, group_0_1, ...
        reads: dict[str, list] = {}
        for op in g.get_operations():
            if (op.type == "ReadVariableOp" and op.inputs[0].op is kernel.handle.op
                    and not op.name.startswith(kernel.op.name + "/")):
                found = re.match(r"bert/encoder/transformer/(group_0(?:_\d+)?)/", op.name)
                if found:
                    reads.setdefault(found.group(1), []).append(op.outputs[0])
        read_tensors = [t for ts in reads.values() for t in ts]
        (grad,) = tf.gradients(loss, [kernel])
        per_read = tf.gradients(loss, read_tensors)
        train = v1.train.GradientDescentOptimizer(lr).minimize(loss)
    assert sorted(reads) == ["group_0", "group_0_1", "group_0_2", "group_0_3"]

    # Single tensors: one variable per planned name, one update per variable.
    handles = [op for op in g.get_operations() if op.type == "VarHandleOp"]
    assert len(handles) == len(model.variables) == len(model.plan.variables) == 32
    assert not [op.name for op in handles if "group_0_" in op.name]
    # (a dense ResourceApplyGradientDescent, or a ResourceScatterAdd for a table only looked up)
    updated = [re.match(r"GradientDescent/update_(.+)/Resource\w+$", op.name) for op in g.get_operations()
               if op.type in ("ResourceApplyGradientDescent", "ResourceScatterAdd")]
    assert sorted(m.group(1) for m in updated) == sorted(model.variables)

    feed = {model.inputs[k]: v for k, v in random_inputs(c, seed=3).items()}
    with session(tf, g) as sess:
        before, total, parts = sess.run([kernel, grad, per_read], feed)
        sess.run(train, feed)
        after, seen = sess.run([kernel, read_tensors])
    np.testing.assert_allclose(total, np.sum(parts, axis=0), rtol=1e-5, atol=1e-8)
    assert all(np.any(p != 0) for p in parts), "every application contributes a gradient"
    np.testing.assert_allclose(after, before - lr * total, rtol=1e-5, atol=1e-7)
    assert not np.allclose(after, before)
    for value in seen:
        np.testing.assert_array_equal(value, after)


# -- op for op against the originals -----------------------------------------------------

def test_gelu_tanh_is_bert_s_gelu_op_for_op(tf):
    """`gelu_tanh` makes modeling.py's gelu ops, under the dense layer's scope as the originals
    do, and computes tf.nn.gelu(approximate=True)."""
    from .zoo import build

    m = build("""
        specc: 1
        inputs: {x: {shape: [null, 4]}}
        layers:
          - {id: dense, type: dense, units: 3, activation: gelu_tanh}
    """)
    port = tf.Graph()
    with port.as_default():
        from .bert_reference import _ops

        x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
        _ops(tf).dense(x, 3, activation=_ops(tf).gelu)
    assert graph_nodes(m.graph) == graph_nodes(port)
    with m.graph.as_default():
        bias_add = m.graph.get_tensor_by_name("dense/BiasAdd:0")
        y = tf.nn.gelu(bias_add, approximate=True)
    value = np.random.default_rng(0).normal(0, 3, (5, 4)).astype(np.float32)
    with session(tf, m.graph) as sess:
        m.variables["dense/bias"].load([0.5, -1.0, 2.0], sess)
        ours, theirs = sess.run([m.outputs["dense"], y], {m.inputs["x"]: value})
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def graph_nodes(graph) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Every node: its op type and its inputs, by name."""
    return {op.name: (op.type, tuple(t.name for t in op.inputs)) for op in graph.get_operations()}


# specc's graph against the original's, node by node (GraphDiff below). BERT's encoder works on
# one [batch * seq, hidden] matrix in both, every dense one MatMul under Google's name. What is
# left: the original builds its float attention mask [batch, seq, seq] once, where the spec
# reshapes input_mask and each layer's core expands and casts it; the original reads the batch
# size once (tf.shape of input_ids), specc in each layer that reshapes with it; the masked-LM head
# folds with -1 where the original multiplies the batch size by seq_length.
OP_COUNT_BOUND = 0.02
NODE_MISMATCH_BOUND = {"bert": 0.10}
# Every node of ours paired with one of the original's has the original's name (the specs say
# `name_scope: false` where modeling.py makes ops directly in the enclosing scope), but for these.
# Names that differ only in case are not listed: the `add` layer makes tf.add's `Add` where
# modeling.py writes `+` (`add`); TensorFlow compares names case-insensitively, so every later name
# is the same.
RENAMED = {"bert": {
    # run_pretraining.py reshapes for the masked-LM head outside any scope, the spec in cls/predictions.
    "Reshape": "cls/predictions/to_matrix/Reshape",
    "Reshape_1": "cls/predictions/from_matrix/Reshape",
    # The batch size: the original reads it once in bert/encoder, specc in every attention core.
    "bert/encoder/Shape": "bert/encoder/layer_0/attention/self/Shape",
    **{f"bert/encoder/strided_slice{s}": f"bert/encoder/layer_0/attention/self/strided_slice{s}"
       for s in ("", "/stack", "/stack_1", "/stack_2")}}}


def assert_built_like_the_original(stem: str, ours, theirs) -> None:
    """Op counts within 2 %; for BERT, every op that reads a variable under the original's name,
    every paired node under the original's name (but RENAMED's), and the node-by-node mismatch
    within its bound."""
    family = stem.split("_")[0]
    count, expected = len(ours.get_operations()), len(theirs.get_operations())
    diff = graph_diff(ours, theirs)
    assert abs(count - expected) <= OP_COUNT_BOUND * expected, (
        f"{stem}: {count} ops, the original {expected}\n{diff.text()}")
    if family not in NODE_MISMATCH_BOUND:
        return  # ALBERT's originals contract [batch, seq, width] with Einsum: other ops, as many
    mine = graph_nodes(ours)
    readers = sorted({c.name for op in theirs.get_operations() if op.type == "ReadVariableOp"
                      for c in op.outputs[0].consumers()} | {op.name for op in theirs.get_operations()
                                                              if op.type == "ResourceGather"})
    wrong = [(name, theirs.get_operation_by_name(name).type, mine.get(name, ("-",))[0]) for name in readers
             if mine.get(name, ("-",))[0] != theirs.get_operation_by_name(name).type]
    assert not wrong, f"{stem}: ops that read variables, not as the original's: {wrong}"
    renamed = {theirs_name: our_name for theirs_name, our_name in diff.renamed
               if theirs_name.lower() != our_name.lower()}
    assert renamed == RENAMED[family], f"{stem}: nodes named unlike the original's: {renamed}"
    assert diff.mismatch <= NODE_MISMATCH_BOUND[family] * expected, (
        f"{stem}: {diff.mismatch} of {expected} nodes differ (bound {NODE_MISMATCH_BOUND[family]:.0%})\n{diff.text()}")


@pytest.mark.parametrize("stem", TINY)
def test_tiny_is_built_like_the_original(tf, stem):
    assert_built_like_the_original(stem, specc.build(SPECS / f"{stem}.yaml").graph, port(tf, stem).graph)


def test_the_graph_diff_finds_missing_extra_and_rewired_nodes(tf):
    """GraphDiff pairs nodes by name, then by wiring (an op of one type reading counterparts),
    whatever their names; what it cannot pair, or pairs with other inputs, is the mismatch."""
    def graph(scale: float, extra: bool):
        g = tf.Graph()
        with g.as_default():
            x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
            with tf.compat.v1.name_scope("renamed" if extra else "original"):
                y = tf.nn.relu(x * scale)
            tf.identity(tf.square(y) if extra else y, name="out")
        return g

    same = graph_diff(graph(2.0, False), graph(2.0, False))
    assert same.mismatch == 0 and not same.renamed
    diff = graph_diff(graph(3.0, True), graph(2.0, False))
    # mul/y differs in value: its pair is missing and extra, so mul reads other inputs; Square is
    # extra, and out reads it instead of Relu; Relu and mul are paired by wiring, renamed.
    assert diff.missing == ("original/mul/y",)
    assert set(diff.extra) == {"renamed/mul/y", "Square"}
    assert set(diff.rewired) == {"original/mul", "out"}
    assert ("original/Relu", "renamed/Relu") in diff.renamed
    assert diff.mismatch == 5
    assert "- original/mul/y (Const)" in diff.text() and "+ Square (Square)" in diff.text()


@dataclass(frozen=True)
class GraphDiff:
    """Nodes of the original's graph against ours: paired by name and type, then by wiring."""

    missing: tuple[str, ...]                  # the original's nodes with no counterpart in ours
    extra: tuple[str, ...]                    # our nodes with no counterpart in the original's
    rewired: tuple[str, ...]                  # paired nodes whose inputs are not each other's pairs
    renamed: tuple[tuple[str, str], ...]      # (the original's name, ours) of nodes paired by wiring
    types: dict                               # every node's op type, by name (both graphs)

    @property
    def mismatch(self) -> int:
        return len(self.missing) + len(self.extra) + len(self.rewired)

    def text(self) -> str:
        lines = [f"- {n} ({self.types[n]})" for n in self.missing]
        lines += [f"+ {n} ({self.types[n]})" for n in self.extra]
        lines += [f"~ {n} ({self.types[n]}) reads other inputs" for n in self.rewired]
        return "\n".join(lines)


def _const_value(op):
    from tensorflow.python.framework import tensor_util

    value = tensor_util.MakeNdarray(op.get_attr("value"))
    return value.dtype.str, value.shape, value.tobytes()


def _alike(a, b) -> bool:
    return a.type == b.type and len(a.inputs) == len(b.inputs) and (a.type != "Const" or
                                                                     _const_value(a) == _const_value(b))


def graph_diff(ours, theirs) -> GraphDiff:
    """Pair every node of `theirs` with one of `ours`: first by name (same name, same op), then
    until nothing changes, forward (an op like it that reads the pairs of its inputs) and backward
    (the inputs of paired nodes, slot by slot). Constants pair only with equal values."""
    mine = {op.name: op for op in ours.get_operations()}
    ref_ops = theirs.get_operations()  # in creation order: every op after its inputs
    ref = {op.name: op for op in ref_ops}
    match: dict[str, str] = {}  # the original's name -> ours
    back: dict[str, str] = {}

    def pair(r, o):
        match[r.name], back[o.name] = o.name, r.name

    for r in ref_ops:
        if r.name in mine and _alike(r, mine[r.name]):
            pair(r, mine[r.name])
    readers: dict[str, list] = {}
    for o in mine.values():
        for t in o.inputs:
            readers.setdefault(t.op.name, []).append(o)

    def agreeing(r, o) -> int:
        return sum(match.get(a.op.name) == b.op.name and a.value_index == b.value_index
                   for a, b in zip(r.inputs, o.inputs))

    changed = True
    while changed:
        changed = False
        for r in ref_ops:
            if r.name not in match:
                paired_inputs = {match[t.op.name] for t in r.inputs if t.op.name in match}
                candidates = [o for name in paired_inputs for o in readers.get(name, ())
                              if o.name not in back and _alike(r, o)]
                if candidates:
                    pair(r, max(candidates, key=lambda o: agreeing(r, o)))
                    changed = True
        for rn, on in list(match.items()):
            for a, b in zip(ref[rn].inputs, mine[on].inputs):
                if a.op.name not in match and b.op.name not in back and _alike(a.op, b.op):
                    pair(a.op, b.op)
                    changed = True
    return GraphDiff(
        missing=tuple(n for n in ref if n not in match), extra=tuple(n for n in mine if n not in back),
        rewired=tuple(n for n, o in match.items() if agreeing(ref[n], mine[o]) != len(ref[n].inputs)),
        renamed=tuple((n, o) for n, o in match.items() if n != o),
        types={**{n: op.type for n, op in ref.items()}, **{n: op.type for n, op in mine.items()}})
