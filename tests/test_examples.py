"""The example specs in specs/: each one builds and runs, builds reproducibly, and
(for the scoping examples) builds exactly the graph a TF1 programmer would write by hand.

The hand-written reference programs below use plain tf.compat.v1 only (tf.Graph,
placeholder, variable_scope, name_scope, get_variable, matmul, bias_add, ...) and
never call specc. They are compared with specc's graphs on:
  (a) the set of (variable name, shape, dtype) of global_variables();
  (b) the set of ALL op names, and for each op its type and input tensors;
  (c) for shared towers: equal inputs give equal outputs, and the towers' ops are
      different ops reading the same variable handles;
  (d) for nested_blocks: same-named leaves in different parents are distinct variables.

Every graph a test inspects is finalized right after it is built, so no helper here
(initializer runs, fetches) can add ops to it and disturb the op-name comparisons.

A spec whose leading comment block holds the line `# specc-test: plan-only` (see
conftest.plan_only) is only planned here, not built and run: specs/bert_base.yaml and
specs/albert_base.yaml, whose initialisation and run cost seconds and gigabytes. Their
`_tiny` siblings (the same files with smaller vars) are built and run instead, and
tests/test_bert_albert.py builds the big graphs once and checks their names.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import specc
from specc.emit.tfimport import tensorflow

from .conftest import plan_only

# TensorFlow itself, imported quietly (as conftest's `tf` fixture does); the reference
# programs below use only this module, never specc.
tf = tensorflow()
v1 = tf.compat.v1

ROOT = Path(__file__).resolve().parents[1]
SPEC_DIR = ROOT / "specs"
ALL_SPECS = sorted(SPEC_DIR.glob("*.yaml"))
SPECS = [p for p in ALL_SPECS if not plan_only(p)]  # built and run
PLAN_ONLY_SPECS = [p for p in ALL_SPECS if plan_only(p)]  # planned only (see the module docstring)
BATCH = 3


# -- building, once per module ---------------------------------------------------------

def build_spec(path: Path):
    model = specc.build(path)
    model.graph.finalize()
    return model


@pytest.fixture(scope="module")
def model():
    """stem -> the specc Model of specs/<stem>.yaml, built once per module."""
    cache: dict[str, object] = {}

    def get(stem: str):
        if stem not in cache:
            cache[stem] = build_spec(SPEC_DIR / f"{stem}.yaml")
        return cache[stem]
    return get


@pytest.fixture(scope="module")
def reference():
    """stem -> the hand-written TF1 program for the same model, built once per module."""
    cache: dict[str, SimpleNamespace] = {}

    def get(stem: str):
        if stem not in cache:
            ref = REFERENCES[stem]()
            ref.graph.finalize()
            cache[stem] = ref
        return cache[stem]
    return get


# -- graph helpers (none of them adds an op) -------------------------------------------

def global_variables(graph):
    return graph.get_collection(v1.GraphKeys.GLOBAL_VARIABLES)


def variable_signature(graph) -> set[tuple[str, tuple[int, ...], str]]:
    return {(v.name, tuple(v.shape.as_list()), v.dtype.base_dtype.name) for v in global_variables(graph)}


def op_names(graph) -> set[str]:
    return {op.name for op in graph.get_operations()}


def op_structure(graph) -> dict[str, tuple[str, tuple[str, ...]]]:
    """op name -> (op type, names of its input tensors)."""
    return {op.name: (op.type, tuple(t.name for t in op.inputs)) for op in graph.get_operations()}


def variable(graph, name: str):
    (var,) = [v for v in global_variables(graph) if v.name == name]
    return var


def initialize(sess, graph) -> None:
    # The variables' own Assign ops: global_variables_initializer() would add an op.
    sess.run([v.initializer for v in global_variables(graph)])


def initial_values(graph) -> dict[str, np.ndarray]:
    with v1.Session(graph=graph) as sess:
        initialize(sess, graph)
        return sess.run({v.name: v for v in global_variables(graph)})


def run(graph, fetches, feed):
    with v1.Session(graph=graph) as sess:
        initialize(sess, graph)
        return sess.run(fetches, feed_dict=feed)


def random_feed(rng, placeholders: dict, planned_inputs) -> dict:
    """Random values for every input without a default, the batch (None) of size BATCH."""
    feed = {}
    for inp in planned_inputs:
        if inp.has_default:
            continue
        shape = [BATCH if d is None else d for d in inp.shape]
        dtype = tf.as_dtype(inp.dtype)
        if dtype.is_floating:
            value = rng.standard_normal(shape)
        elif dtype.is_bool:
            value = rng.random(shape) < 0.5
        else:
            # Ids below 2 are valid for every example's embeddings (BERT's token types have a
            # vocabulary of 2), and 0/1 is what an input_mask holds.
            value = rng.integers(0, 2, shape)
        feed[placeholders[inp.name]] = np.asarray(value).astype(dtype.as_numpy_dtype)
    return feed


def handle_read_by(op, index: int):
    """The VarHandleOp whose value feeds input `index` of `op` (through a ReadVariableOp)."""
    read = op.inputs[index].op
    assert read.type == "ReadVariableOp", f"{op.name} input {index} is {read.type}, not a variable read"
    handle = read.inputs[0].op
    assert handle.type == "VarHandleOp"
    return handle


def assert_same_variable_read(graph, var_name: str, uses: list[tuple[str, int]]) -> None:
    """The ops in `uses` (op name, input index) are different ops that all read the one
    variable `var_name`: the same VarHandleOp object, the handle of that variable."""
    var = variable(graph, var_name)
    ops = [graph.get_operation_by_name(name) for name, _ in uses]
    assert len({id(op) for op in ops}) == len(ops), "the towers must not share ops"
    for op, (_, index) in zip(ops, uses):
        assert handle_read_by(op, index) is var.handle.op, f"{op.name} does not read {var_name}"


def assert_shared_pair(graph, in_a, in_b, out_a, out_b, width: int, seed: int) -> None:
    """Two towers over one set of variables: equal inputs give bit-equal outputs, and
    each tower reads its own input (swapping the inputs swaps the outputs)."""
    rng = np.random.default_rng(seed)
    x1 = rng.standard_normal((BATCH, width)).astype(np.float32)
    x2 = rng.standard_normal((BATCH, width)).astype(np.float32)
    with v1.Session(graph=graph) as sess:
        initialize(sess, graph)
        same_a, same_b = sess.run([out_a, out_b], {in_a: x1, in_b: x1})
        a12, b12 = sess.run([out_a, out_b], {in_a: x1, in_b: x2})
        a21, b21 = sess.run([out_a, out_b], {in_a: x2, in_b: x1})
    np.testing.assert_array_equal(same_a, same_b)
    assert np.all(np.isfinite(same_a)) and np.any(same_a != 0)
    assert not np.array_equal(a12, b12)
    np.testing.assert_array_equal(a12, b21)
    np.testing.assert_array_equal(b12, a21)


# -- every spec builds and runs ---------------------------------------------------------

@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_spec_builds_and_runs(path, model):
    m = model(path.stem)
    feed = random_feed(np.random.default_rng(0), m.inputs, m.plan.inputs)
    names = [o.name for o in m.plan.outputs]
    values = run(m.graph, [m.outputs[n] for n in names], feed)
    assert len(values) == len(m.plan.outputs) >= 1
    for planned, value in zip(m.plan.outputs, values):
        expected = tuple(BATCH if d is None else d for d in planned.info.shape)
        assert value.shape == expected, f"output '{planned.name}'"
        assert value.dtype == tf.as_dtype(planned.info.dtype).as_numpy_dtype
        if tf.as_dtype(planned.info.dtype).is_floating:
            assert np.all(np.isfinite(value)), f"output '{planned.name}' is not finite"


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_spec_builds_reproducibly(path, model):
    """The spec's graph-level seed makes two builds (the module's and a fresh one)
    initialise identically, element by element."""
    first = initial_values(model(path.stem).graph)
    second = initial_values(build_spec(path).graph)
    assert sorted(first) == sorted(second)
    assert first, "every example has variables"
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)


@pytest.mark.parametrize("path", PLAN_ONLY_SPECS, ids=lambda p: p.stem)
def test_plan_only_spec_plans(path):
    plan = specc.plan(path)
    assert plan.variables and plan.outputs


def test_plan_only_specs_are_the_big_ones():
    """The marker is for size, not to hide a failure: each plan-only spec has a sibling that runs."""
    assert {p.stem for p in PLAN_ONLY_SPECS} == {"bert_base", "albert_base"}
    for path in PLAN_ONLY_SPECS:
        assert SPEC_DIR / path.name.replace("_base", "_tiny") in SPECS


def test_every_reference_has_its_spec():
    assert {p.stem for p in SPECS} >= set(REFERENCES)


# -- hand-written TF1 reference programs ------------------------------------------------
#
# A small dense helper, the way TF1 code bases wrote it after tf.layers: variables in the
# *current* variable scope (the caller opens it), ops MatMul -> BiasAdd -> activation.
# Note the bias initializer: get_variable's own default is glorot_uniform for every float
# variable, so the bias must ask for zeros explicitly (as tf.compat.v1.layers.dense did).
# That choice is visible in op names: `bias/Initializer/zeros` rather than
# `bias/Initializer/random_uniform/...`. The kernel keeps get_variable's default
# (glorot_uniform), whose ops are named `kernel/Initializer/random_uniform/...`.

def fc(x, units, activation=None, use_bias=True):
    kernel = v1.get_variable("kernel", [x.shape[-1], units], dtype=tf.float32)
    y = tf.matmul(x, kernel)
    if use_bias:
        bias = v1.get_variable("bias", [units], dtype=tf.float32, initializer=v1.zeros_initializer())
        y = tf.nn.bias_add(y, bias)
    return activation(y) if activation else y


def reference_siamese():
    g = tf.Graph()
    with g.as_default():
        v1.set_random_seed(0)  # the spec has no `seed:`, specc's default is 0
        left = v1.placeholder(tf.float32, [None, 10], name="left")
        right = v1.placeholder(tf.float32, [None, 10], name="right")

        def tower(x):
            with v1.variable_scope("fc1"):
                h = fc(x, 64, tf.nn.relu)
            with v1.variable_scope("fc2"):
                return fc(h, 16)

        with v1.variable_scope("tower"):
            left_out = tower(left)
        with v1.variable_scope("tower", reuse=True):   # same variables, ops in tower_1/
            right_out = tower(right)
        with v1.name_scope("gap"):
            gap = tf.subtract(left_out, right_out)
        with v1.name_scope("distance"):
            distance = tf.multiply(gap, gap)
    return SimpleNamespace(graph=g, inputs={"left": left, "right": right},
                           tensors={"left_tower": left_out, "right_tower": right_out, "distance": distance})


def reference_name_scopes():
    g = tf.Graph()
    with g.as_default():
        v1.set_random_seed(11)
        x = v1.placeholder(tf.float32, [None, 8], name="x")
        with v1.name_scope("complex_ops"):
            with v1.variable_scope("complex_layer"):
                h = fc(x, 16, tf.nn.relu)
        with v1.variable_scope("logits"):
            logits = fc(h, 4)
        with v1.name_scope("complex_ops"):   # taken: TensorFlow opens complex_ops_1
            with v1.name_scope("probs"):
                probs = tf.nn.softmax(logits)
    return SimpleNamespace(graph=g, inputs={"x": x},
                           tensors={"complex_layer": h, "logits": logits, "probs": probs})


def reference_shared_by_reference():
    g = tf.Graph()
    with g.as_default():
        v1.set_random_seed(5)
        query = v1.placeholder(tf.float32, [None, 12], name="query")
        doc = v1.placeholder(tf.float32, [None, 12], name="doc")
        with v1.variable_scope("text_encoder") as text_encoder:
            q = fc(query, 16, tf.tanh)
        with v1.name_scope("doc_encoder"):
            with v1.variable_scope(text_encoder, reuse=True, auxiliary_name_scope=False):
                d = fc(doc, 16, tf.tanh)
        with v1.variable_scope("query_head"):
            with v1.variable_scope("proj") as proj:
                qp = fc(q, 8, tf.nn.relu)
            with v1.variable_scope("out") as out:
                qo = fc(qp, 8, use_bias=False)
        with v1.name_scope("doc_head"):
            with v1.name_scope("proj"):
                with v1.variable_scope(proj, reuse=True, auxiliary_name_scope=False):
                    dp = fc(d, 8, tf.nn.relu)
            with v1.name_scope("out"):
                with v1.variable_scope(out, reuse=True, auxiliary_name_scope=False):
                    do = fc(dp, 8, use_bias=False)
        with v1.name_scope("score"):
            score = tf.multiply(qo, do)
    return SimpleNamespace(graph=g, inputs={"query": query, "doc": doc},
                           tensors={"query_encoder": q, "doc_encoder": d, "query_head": qo,
                                    "doc_head": do, "score": score})


def reference_nested_blocks():
    g = tf.Graph()
    with g.as_default():
        v1.set_random_seed(3)
        a = v1.placeholder(tf.float32, [None, 16], name="a")
        b = v1.placeholder(tf.float32, [None, 16], name="b")

        def stage1(x):
            with v1.variable_scope("inner"):
                with v1.variable_scope("fc"):
                    h = fc(x, 16, tf.nn.relu)
            with v1.variable_scope("fc"):
                return fc(h, 16, tf.nn.relu)

        def encoder(x):
            with v1.variable_scope("stage1") as scope:
                h = stage1(x)
            with v1.variable_scope("stage2"):
                with v1.variable_scope("fc"):
                    return scope, h, fc(h, 8)

        with v1.variable_scope("encoder"):
            stage1_scope, enc_stage1, enc = encoder(a)
        with v1.variable_scope("encoder", reuse=True):
            _, _, enc_b = encoder(b)
        with v1.name_scope("encoder_c"):
            with v1.variable_scope(stage1_scope, reuse=True, auxiliary_name_scope=False):
                enc_c = stage1(b)
        with v1.name_scope("pair"):
            pair = tf.concat([enc, enc_b], axis=-1)
    return SimpleNamespace(graph=g, inputs={"a": a, "b": b},
                           tensors={"encoder": enc, "encoder.stage1": enc_stage1, "encoder_b": enc_b,
                                    "encoder_c": enc_c, "pair": pair})


REFERENCES = {
    "siamese": reference_siamese,
    "name_scopes": reference_name_scopes,
    "shared_by_reference": reference_shared_by_reference,
    "nested_blocks": reference_nested_blocks,
}
REFERENCED = sorted(REFERENCES)


# -- (a), (b): specc builds the hand-written graph ----------------------------------------

@pytest.mark.parametrize("stem", REFERENCED)
def test_variables_match_reference(stem, model, reference):
    assert variable_signature(model(stem).graph) == variable_signature(reference(stem).graph)


@pytest.mark.parametrize("stem", REFERENCED)
def test_op_names_match_reference(stem, model, reference):
    ours, theirs = op_names(model(stem).graph), op_names(reference(stem).graph)
    assert sorted(ours - theirs) == [] and sorted(theirs - ours) == []


@pytest.mark.parametrize("stem", REFERENCED)
def test_op_types_and_wiring_match_reference(stem, model, reference):
    """Stronger than (b): every op has the same type and reads the same tensors."""
    ours, theirs = op_structure(model(stem).graph), op_structure(reference(stem).graph)
    diff = {n: (ours.get(n), theirs.get(n)) for n in set(ours) | set(theirs) if ours.get(n) != theirs.get(n)}
    assert diff == {}


@pytest.mark.parametrize("stem", REFERENCED)
def test_initial_values_match_reference(stem, model, reference):
    """Same graph seed, same ops created in the same order -> the same op-level seeds,
    so even the random initial values of specc's graph and the hand-written one agree."""
    ours, theirs = initial_values(model(stem).graph), initial_values(reference(stem).graph)
    assert sorted(ours) == sorted(theirs)
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)


@pytest.mark.parametrize("stem", REFERENCED)
def test_outputs_match_reference(stem, model, reference):
    m, ref = model(stem), reference(stem)
    rng = np.random.default_rng(1)
    feed_values = {i.name: rng.standard_normal([BATCH if d is None else d for d in i.shape]).astype(np.float32)
                   for i in m.plan.inputs}
    keys = sorted(set(ref.tensors) & set(m.tensors))
    ours = run(m.graph, {k: m.tensors[k] for k in keys}, {m.inputs[n]: v for n, v in feed_values.items()})
    theirs = run(ref.graph, {k: ref.tensors[k] for k in keys}, {ref.inputs[n]: v for n, v in feed_values.items()})
    for k in keys:
        np.testing.assert_array_equal(ours[k], theirs[k], err_msg=k)


# -- exact names, and (c), (d) ----------------------------------------------------------

def graphs(stem, model, reference):
    """(graph, placeholders, tensors) of specc's build and of the reference program."""
    m, ref = model(stem), reference(stem)
    return [(m.graph, m.inputs, m.tensors), (ref.graph, ref.inputs, ref.tensors)]


BUILDERS = ["specc", "reference"]


def test_siamese_names(model):
    g = model("siamese").graph
    assert variable_signature(g) == {
        ("tower/fc1/kernel:0", (10, 64), "float32"), ("tower/fc1/bias:0", (64,), "float32"),
        ("tower/fc2/kernel:0", (64, 16), "float32"), ("tower/fc2/bias:0", (16,), "float32"),
    }
    names = op_names(g)
    for op in ["tower/fc1/MatMul", "tower/fc1/BiasAdd", "tower/fc1/Relu", "tower/fc2/BiasAdd",
               "tower_1/fc1/MatMul", "tower_1/fc1/BiasAdd", "tower_1/fc1/Relu", "tower_1/fc2/BiasAdd",
               "gap/Sub", "distance/Mul"]:
        assert op in names
    # The second tower creates no variables: nothing under tower_1/ is a variable op.
    assert not [n for n in names if n.startswith("tower_1/") and g.get_operation_by_name(n).type == "VarHandleOp"]
    assert model("siamese").outputs["distance"].name == "distance/Mul:0"


@pytest.mark.parametrize("builder", BUILDERS)
def test_siamese_towers_share(builder, model, reference):
    g, inputs, tensors = graphs("siamese", model, reference)[BUILDERS.index(builder)]
    for layer in ["fc1", "fc2"]:
        assert_same_variable_read(g, f"tower/{layer}/kernel:0",
                                  [(f"tower/{layer}/MatMul", 1), (f"tower_1/{layer}/MatMul", 1)])
        assert_same_variable_read(g, f"tower/{layer}/bias:0",
                                  [(f"tower/{layer}/BiasAdd", 1), (f"tower_1/{layer}/BiasAdd", 1)])
    assert_shared_pair(g, inputs["left"], inputs["right"], tensors["left_tower"], tensors["right_tower"],
                       width=10, seed=2)


def test_name_scopes_names(model):
    g = model("name_scopes").graph
    assert variable_signature(g) == {
        ("complex_layer/kernel:0", (8, 16), "float32"), ("complex_layer/bias:0", (16,), "float32"),
        ("logits/kernel:0", (16, 4), "float32"), ("logits/bias:0", (4,), "float32"),
    }
    names = op_names(g)
    for op in ["complex_ops/complex_layer/MatMul", "complex_ops/complex_layer/BiasAdd",
               "complex_ops/complex_layer/Relu", "logits/MatMul", "logits/BiasAdd", "complex_ops_1/probs/Softmax"]:
        assert op in names
    # The name_scope moves the compute ops and the per-use variable reads ...
    assert "complex_ops/complex_layer/MatMul/ReadVariableOp" in names
    # ... but never the variables: their handles and initializers are named from the variable scope.
    assert g.get_operation_by_name("complex_layer/kernel").type == "VarHandleOp"
    assert "complex_layer/kernel/Initializer/random_uniform" in names
    assert not [n for n in names if n.startswith("complex_ops/complex_layer/kernel")]
    # Under the root name `complex_layer/` there are only the variables' own ops (handle,
    # initializer, assign, read): the variable scope opened its name scope inside complex_ops.
    assert all(n.startswith(("complex_layer/kernel", "complex_layer/bias")) for n in names
               if n.startswith("complex_layer/"))


def test_shared_by_reference_names(model):
    g = model("shared_by_reference").graph
    assert variable_signature(g) == {
        ("text_encoder/kernel:0", (12, 16), "float32"), ("text_encoder/bias:0", (16,), "float32"),
        ("query_head/proj/kernel:0", (16, 8), "float32"), ("query_head/proj/bias:0", (8,), "float32"),
        ("query_head/out/kernel:0", (8, 8), "float32"),
    }
    names = op_names(g)
    for op in ["text_encoder/MatMul", "text_encoder/Tanh", "doc_encoder/MatMul", "doc_encoder/BiasAdd",
               "doc_encoder/Tanh", "query_head/proj/Relu", "query_head/out/MatMul",
               "doc_head/proj/MatMul", "doc_head/proj/Relu", "doc_head/out/MatMul", "score/Mul"]:
        assert op in names
    # auxiliary_name_scope=False: re-entering a captured scope opens none of its name scopes.
    assert not [n for n in names if n.startswith(("text_encoder_1/", "query_head_1/", "doc_encoder/text_encoder/",
                                                  "doc_head/query_head/", "doc_head/proj/proj/"))]
    # The query_encoder layer has no ops under its id: it sits in its scope 'text_encoder'.
    assert not [n for n in names if n.startswith("query_encoder")]


@pytest.mark.parametrize("builder", BUILDERS)
def test_shared_by_reference_towers_share(builder, model, reference):
    g, inputs, tensors = graphs("shared_by_reference", model, reference)[BUILDERS.index(builder)]
    assert_same_variable_read(g, "text_encoder/kernel:0", [("text_encoder/MatMul", 1), ("doc_encoder/MatMul", 1)])
    assert_same_variable_read(g, "text_encoder/bias:0", [("text_encoder/BiasAdd", 1), ("doc_encoder/BiasAdd", 1)])
    assert_same_variable_read(g, "query_head/proj/kernel:0",
                              [("query_head/proj/MatMul", 1), ("doc_head/proj/MatMul", 1)])
    assert_same_variable_read(g, "query_head/proj/bias:0",
                              [("query_head/proj/BiasAdd", 1), ("doc_head/proj/BiasAdd", 1)])
    assert_same_variable_read(g, "query_head/out/kernel:0", [("query_head/out/MatMul", 1), ("doc_head/out/MatMul", 1)])
    assert_shared_pair(g, inputs["query"], inputs["doc"], tensors["query_encoder"], tensors["doc_encoder"],
                       width=12, seed=3)
    assert_shared_pair(g, inputs["query"], inputs["doc"], tensors["query_head"], tensors["doc_head"],
                       width=12, seed=4)


NESTED_VARIABLES = {
    ("encoder/stage1/inner/fc/kernel:0", (16, 16), "float32"), ("encoder/stage1/inner/fc/bias:0", (16,), "float32"),
    ("encoder/stage1/fc/kernel:0", (16, 16), "float32"), ("encoder/stage1/fc/bias:0", (16,), "float32"),
    ("encoder/stage2/fc/kernel:0", (16, 8), "float32"), ("encoder/stage2/fc/bias:0", (8,), "float32"),
}
# Where each fc leaf is applied: by encoder (a), encoder_b (share: true) and encoder_c (share by path).
NESTED_USES = {
    "encoder/stage1/inner/fc": ["encoder/stage1/inner/fc", "encoder_1/stage1/inner/fc", "encoder_c/inner/fc"],
    "encoder/stage1/fc": ["encoder/stage1/fc", "encoder_1/stage1/fc", "encoder_c/fc"],
    "encoder/stage2/fc": ["encoder/stage2/fc", "encoder_1/stage2/fc"],
}


def test_nested_blocks_names(model):
    g = model("nested_blocks").graph
    assert variable_signature(g) == NESTED_VARIABLES
    names = op_names(g)
    for scopes in NESTED_USES.values():
        for scope in scopes:
            assert f"{scope}/MatMul" in names and f"{scope}/BiasAdd" in names
    assert "encoder_1/stage1/inner/fc/Relu" in names and "encoder_c/fc/Relu" in names
    assert "pair/concat" in names
    assert not [n for n in names if n.startswith(("encoder_2", "encoder_c/stage1", "encoder_c_1"))]


@pytest.mark.parametrize("builder", BUILDERS)
def test_nested_blocks_shared_structure(builder, model, reference):
    g, inputs, tensors = graphs("nested_blocks", model, reference)[BUILDERS.index(builder)]
    for var_scope, op_scopes in NESTED_USES.items():
        assert_same_variable_read(g, f"{var_scope}/kernel:0", [(f"{s}/MatMul", 1) for s in op_scopes])
        assert_same_variable_read(g, f"{var_scope}/bias:0", [(f"{s}/BiasAdd", 1) for s in op_scopes])
    assert_shared_pair(g, inputs["a"], inputs["b"], tensors["encoder"], tensors["encoder_b"], width=16, seed=5)
    assert_shared_pair(g, inputs["a"], inputs["b"], tensors["encoder.stage1"], tensors["encoder_c"],
                       width=16, seed=6)


@pytest.mark.parametrize("builder", BUILDERS)
def test_nested_blocks_same_named_leaves_are_distinct(builder, model, reference):
    g, _, _ = graphs("nested_blocks", model, reference)[BUILDERS.index(builder)]
    kernels = [variable(g, f"{s}/kernel:0") for s in NESTED_USES]
    biases = [variable(g, f"{s}/bias:0") for s in NESTED_USES]
    for group in (kernels, biases):
        assert len({id(v) for v in group}) == 3
        assert len({id(v.handle.op) for v in group}) == 3
    # Each leaf's MatMul reads its own kernel, and only that one.
    for var, scope in zip(kernels, NESTED_USES):
        assert handle_read_by(g.get_operation_by_name(f"{scope}/MatMul"), 1) is var.handle.op
    # Same shape [16, 16], different values: two variables, not one seen twice.
    values = initial_values(g)
    inner, outer = values["encoder/stage1/inner/fc/kernel:0"], values["encoder/stage1/fc/kernel:0"]
    assert inner.shape == outer.shape == (16, 16)
    assert not np.array_equal(inner, outer)


# -- regressions found while writing these examples -----------------------------------

def test_input_default_does_not_take_a_root_op_name():
    # The default must land at `scale/input`, not in a root `Const` that pushes `const` to `const_1`.
    spec = specc.loads(
        "specc: 1\n"
        "inputs:\n"
        "  x: {shape: [null, 4]}\n"
        "  scale: {shape: [], default: 2.0}\n"
        "layers:\n"
        "  - {id: const, type: multiply, inputs: [x, scale]}\n")
    m = specc.build(spec)
    assert m.outputs["const"].name == "const/Mul:0"
    assert "scale/input" in {op.name for op in m.graph.get_operations()}


def test_scope_with_share_by_path_is_refused():
    with pytest.raises(specc.SpecError, match="`scope` has no effect with `share: enc`") as e:
        specc.loads(
            "specc: 1\n"
            "inputs:\n"
            "  x: {shape: [null, 4]}\n"
            "layers:\n"
            "  - {id: enc, type: dense, units: 4}\n"
            "  - {id: dec, type: dense, units: 4, share: enc, scope: elsewhere}\n")
    assert (e.value.where.line, e.value.where.col, e.value.where.path) == (6, 50, ("layers", 1, "scope"))
