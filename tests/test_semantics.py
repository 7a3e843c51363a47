"""TensorFlow's naming rules that the planner replays, each proven against TensorFlow itself."""

from __future__ import annotations

import textwrap

from hypothesis import given, strategies as st

import specc
from specc.scopes import PLAIN_SEGMENT, NameRegistry, requested, segment_problem


def plan_of(text: str):
    return specc.plan(specc.loads(textwrap.dedent(text), "t.yaml"))


@given(st.lists(st.sampled_from(["a", "A", "a_1", "A_1", "a_1_1", "a/b", "A/b", "b", "a_2"]), max_size=12))
def test_name_registry_is_tensorflows_unique_name(tf, names):
    graph = tf.Graph()
    registry = NameRegistry()
    for name in names:
        assert registry.unique(name, "test") == graph.unique_name(name)
    assert registry.in_use() == graph._names_in_use


@given(st.lists(st.sampled_from(["s", "S", "s_1", "s/a", "s/A_1", "s/a_1", "t/a"]), max_size=6),
       st.sampled_from(["", "s", "S"]),
       st.lists(st.sampled_from(["a", "A", "a_1", "A_1", "b"]), max_size=6))
def test_claiming_a_layers_ops_at_once_is_unique_name_for_each(tf, before, scope, ops):
    graph = tf.Graph()
    registry = NameRegistry()
    for name in before:
        assert registry.unique(name, "test") == graph.unique_name(name)
    expected = [graph.unique_name(f"{scope}/{op}" if scope else op)[len(scope) + 1 if scope else 0:] for op in ops]
    assert registry.unique_all(scope, tuple(ops), "test") == tuple(expected)
    assert registry.in_use() == graph._names_in_use


@given(st.lists(st.tuples(st.sampled_from(["unique", "claim", "claim_in", "all"]),
                          st.sampled_from(["", "s", "S", "s/q", "s_1"]),
                          st.lists(st.sampled_from(["k", "K", "k_1", "q/k", "Q/k_1", "s"]), min_size=1, max_size=3)),
                max_size=10))
def test_claims_of_names_in_nested_scopes_are_unique_names(tf, steps):
    # The registry keeps a table a scope; names of several segments (`q/k` in `s`: `s/q/k`) go in the
    # table of their own scope, where TensorFlow's one namespace compares them with the rest.
    graph = tf.Graph()
    registry = NameRegistry()
    for how, scope, names in steps:
        full = [f"{scope}/{name}" if scope else name for name in names]
        if how == "all":
            expected = tuple(graph.unique_name(name)[len(scope) + 1 if scope else 0:] for name in full)
            assert registry.unique_all(scope, tuple(names), "test") == expected
        elif how == "unique":
            assert registry.unique(full[0], "test") == graph.unique_name(full[0])
        else:  # claimed only if free, as the planner claims a variable's name
            free = full[0].lower() not in graph._names_in_use
            claimed = registry.claim(full[0], "test") if how == "claim" else registry.claim_in(scope, names[0], "test")
            assert claimed == free
            if free:
                graph.unique_name(full[0])
    assert registry.in_use() == graph._names_in_use


@given(st.text(alphabet="aZ09_.-/\\>: \n", max_size=6))
def test_a_plain_segment_is_a_good_one_at_the_root_and_nested(segment):
    if PLAIN_SEGMENT.match(segment):
        assert segment_problem(segment, at_root=True) is None
        assert segment_problem(segment, at_root=False) is None


def test_an_input_pushes_a_later_scope_of_the_same_name(tf):
    plan = plan_of("""
        specc: 1
        inputs: {features: {shape: [null, 3]}}
        layers:
          - {id: enc, type: dense, units: 2, scope: features}
    """)
    layer = plan.layer("enc")
    assert (layer.op_scope, layer.var_scope) == ("features_1", "features")
    assert [v.name for v in plan.variables] == ["features/kernel", "features/bias"]
    # The same program by hand:
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        x = v1.placeholder(tf.float32, [None, 3], name="features")
        with v1.variable_scope("features") as vs:
            k = v1.get_variable("kernel", [3, 2])
            y = tf.matmul(x, k)
        assert (vs.original_name_scope, k.name, y.op.name) == ("features_1/", "features/kernel:0", "features_1/MatMul")
    model = specc.build(plan)
    assert "features_1/MatMul" in {op.name for op in model.graph.get_operations()}


def test_a_parameter_free_layer_pushes_a_later_scope_case_insensitively(tf):
    plan = plan_of("""
        specc: 1
        inputs: {x: {shape: [null, 3]}}
        layers:
          - {id: Gap, type: activation, activation: relu}
          - {id: d, type: dense, units: 2, scope: gap}
    """)
    assert plan.layer("Gap").op_scope == "Gap"
    assert plan.layer("d").op_scope == "gap_1"
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        x = v1.placeholder(tf.float32, [None, 3], name="x")
        with v1.name_scope("Gap"):
            tf.nn.relu(x)
        with v1.variable_scope("gap") as vs:
            v1.get_variable("kernel", [3, 2])
        assert vs.original_name_scope == "gap_1/"
    specc.build(plan)


def test_each_reentry_takes_the_next_free_suffix(tf):
    plan = plan_of("""
        specc: 1
        inputs: {x: {shape: [null, 3]}}
        layers:
          - {id: t0, type: dense, units: 3, scope: tower}
          - {id: t1, type: dense, units: 3, scope: tower, share: true}
          - {id: tower_1, type: identity}
          - {id: t2, type: dense, units: 3, scope: tower, share: true}
    """)
    assert [plan.layer(p).op_scope for p in ("t0", "t1", "tower_1", "t2")] == ["tower", "tower_1", "tower_1_1", "tower_2"]
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        v1.placeholder(tf.float32, [None, 3], name="x")
        scopes = []
        for reuse in (None, True):
            with v1.variable_scope("tower", reuse=reuse) as vs:
                v1.get_variable("kernel", [3, 3])
                scopes.append(vs.original_name_scope)
        with v1.name_scope("tower_1") as ns:
            scopes.append(ns)
        with v1.variable_scope("tower", reuse=True) as vs:
            scopes.append(vs.original_name_scope)
    assert scopes == ["tower/", "tower_1/", "tower_1_1/", "tower_2/"]
    specc.build(plan)


def test_name_scope_moves_ops_never_variables(tf):
    plan = plan_of("""
        specc: 1
        inputs: {x: {shape: [null, 3]}}
        layers:
          - {id: fc, type: dense, units: 2, name_scope: outer}
          - {id: fc2, type: dense, units: 2, name_scope: outer}
    """)
    assert [v.name for v in plan.variables] == ["fc/kernel", "fc/bias", "fc2/kernel", "fc2/bias"]
    assert plan.layer("fc").op_scope == "outer/fc"
    assert plan.layer("fc2").op_scope == "outer_1/fc2"  # a second name_scope('outer') is uniquified
    specc.build(plan)


def test_name_scope_false_makes_ops_in_the_enclosing_scope_as_inline_code_does(tf):
    """Layers with `name_scope: false` build exactly what code calling the same ops directly in
    the block's variable scope builds, as modeling.py's embeddings do: every name uniquified
    among the others' (the one-hot layer's reshapes are `Reshape_2`, `Reshape_3`)."""
    spec = """
        specc: 1
        inputs:
          ids: {shape: [null, 3], dtype: int32}
          types: {shape: [null, 3], dtype: int32}
        layers:
          - id: emb
            type: block
            input: ids
            layers:
              - {id: word, type: embedding, vocab: 5, dim: 4, method: gather, scope: null, name_scope: false,
                 variables: {embeddings: word}, initializers: {embeddings: {type: zeros}}}
              - {id: kind, type: embedding, input: types, vocab: 2, dim: 4, method: one_hot, scope: null,
                 name_scope: false, variables: {embeddings: kind}, initializers: {embeddings: {type: zeros}}}
              - {id: sum, type: add, inputs: [word, kind], name_scope: false}
    """
    plan = plan_of(spec)
    assert [(plan.layer(p).op_scope, plan.layer(p).ops, plan.layer(p).frames) for p in ("emb.word", "emb.kind")] == [
        ("emb", ("ExpandDims", "Reshape", "Gather", "Shape", "strided_slice", "Reshape_1"), ()),
        ("emb", ("Shape_1", "strided_slice_1", "Reshape_2", "one_hot", "MatMul", "Reshape_3"), ())]
    v1 = tf.compat.v1
    by_hand = tf.Graph()
    with by_hand.as_default():
        v1.set_random_seed(0)
        ids = v1.placeholder(tf.int32, [None, 3], name="ids")
        types = v1.placeholder(tf.int32, [None, 3], name="types")
        with v1.variable_scope("emb"):
            word = v1.get_variable("word", [5, 4], initializer=v1.zeros_initializer())
            expanded = tf.expand_dims(ids, axis=[-1])
            rows = tf.gather(word, tf.reshape(expanded, [-1]))
            a = tf.reshape(rows, [tf.shape(expanded)[0], 3, 4])
            kind = v1.get_variable("kind", [2, 4], initializer=v1.zeros_initializer())
            batch = tf.shape(types)[0]
            rows = tf.matmul(tf.one_hot(tf.reshape(types, [-1]), depth=2), kind)
            tf.add(a, tf.reshape(rows, [batch, 3, 4]))
    expected = {op.name: (op.type, [t.name for t in op.inputs]) for op in by_hand.get_operations()}
    for emit in ("python", "stamp"):
        graph = specc.build(plan, emit=emit).graph
        assert {op.name: (op.type, [t.name for t in op.inputs]) for op in graph.get_operations()} == expected, emit


@given(st.lists(st.sampled_from(["Reshape", "reshape", "MatMul", "one_hot", "Shape"]), max_size=8),
       st.lists(st.sampled_from(["Reshape", "Reshape_1", "matmul", "Shape_2", "one_hot_1", "x"]), max_size=6))
def test_requested_names_take_the_names_the_asks_would_take_among_others(tf, asks, others):
    """A layer's ops, named as in a scope of their own, asked for again among other names, are
    named as TensorFlow names the original asks there."""
    fresh = tf.Graph()
    own = [fresh.unique_name(name) for name in asks]
    shared = tf.Graph()
    registry = NameRegistry()
    for name in others:
        assert registry.unique(name, "test") == shared.unique_name(name)
    assert [registry.unique(name, "test") for name in requested(tuple(own))] == [
        shared.unique_name(name) for name in asks]


def test_case_trap_is_real_in_tensorflow_and_refused_by_the_planner(tf):
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        with v1.variable_scope("Tower"):
            v1.get_variable("kernel", [1])
        with v1.variable_scope("tower"):
            renamed = v1.get_variable("kernel", [1])
    assert renamed.name == "tower/kernel_1:0"
    try:
        plan_of("""
            specc: 1
            inputs: {x: {shape: [null, 3]}}
            layers:
              - {id: a, type: dense, units: 2, scope: Tower}
              - {id: b, type: dense, units: 2, scope: tower, input: x}
        """)
    except specc.SpecError as e:
        assert (e.where.line, e.where.path) == (6, ("layers", 1, "scope"))
        assert "'tower/kernel_1'" in e.message and "differs only by case" in e.message
    else:
        raise AssertionError("the case trap was not refused")


def test_blocks_with_named_inputs_output_and_float64(tf):
    import numpy as np

    plan = plan_of("""
        specc: 1
        inputs:
          q: {shape: [null, 4], dtype: float64}
          m: {shape: [null, 4], dtype: float64}
        layers:
          - id: attend
            type: block
            inputs: {query: q, memory: m}
            output: mixed
            layers:
              - {id: proj, type: dense, units: 4, input: memory}
              - {id: mixed, type: add, inputs: [query, proj]}
              - {id: unused, type: identity, input: query}
    """)
    block = plan.layer("attend")
    assert block.inputs == ("q", "m") and block.result == "attend.mixed"
    assert plan.layer("attend.proj").inputs == ("m",)
    assert [(v.name, v.dtype) for v in plan.variables] == [("attend/proj/kernel", "float64"), ("attend/proj/bias", "float64")]
    model = specc.build(plan)
    out = model.outputs["attend"]
    assert out.dtype.name == "float64" and out.name == "attend/mixed/Add:0"
    with tf.compat.v1.Session(graph=model.graph) as s:
        s.run(tf.compat.v1.variables_initializer(list(model.variables.values())))
        s.run(model.variables["attend/proj/kernel"].assign(np.eye(4)))
        q, m = np.ones((2, 4)), np.arange(8.0).reshape(2, 4)
        np.testing.assert_array_equal(s.run(out, {model.inputs["q"]: q, model.inputs["m"]: m}), q + m)


def test_dropout_follows_a_training_flag(tf):
    import numpy as np

    model = specc.build(specc.loads(textwrap.dedent("""
        specc: 1
        inputs:
          x: {shape: [null, 1000]}
          is_training: {shape: [], dtype: bool, default: false}
        layers:
          - {id: drop, type: dropout, rate: 0.5, training: is_training, input: x}
    """), "t.yaml"))
    x = np.ones((1, 1000), np.float32)
    with tf.compat.v1.Session(graph=model.graph) as s:
        off = s.run(model.outputs["drop"], {model.inputs["x"]: x})
        on = s.run(model.outputs["drop"], {model.inputs["x"]: x, model.inputs["is_training"]: True})
    np.testing.assert_array_equal(off, x)
    assert set(np.unique(on)) == {0.0, 2.0} and 400 < (on == 0).sum() < 600
