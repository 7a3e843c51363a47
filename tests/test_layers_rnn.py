"""rnn: statically unrolled LSTM, GRU and basic cells, stacked and bidirectional.

Two independent references:
- TensorFlow 1's own cells (LSTMCell, GRUCell, BasicRNNCell, MultiRNNCell from
  tensorflow.python.keras.layers.legacy_rnn, which TF 2.21 still ships although
  tf.compat.v1.nn.rnn_cell refuses them without tf_keras) under
  tf.compat.v1.nn.static_rnn / static_bidirectional_rnn: same variable names, shapes and
  order, same op names, and bit-equal outputs given the same variable values;
- NumPy implementations of the cell equations (gate order i, j, f, o; forget bias on f).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import specc

from .conftest import SPECS
from .zoo import build, located, op_names, plan_error, session, tf, v1, values, variables

rng = np.random.default_rng(3)

try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tensorflow.python.keras.layers.legacy_rnn import rnn_cell_impl as legacy
except ImportError:  # a TensorFlow without the legacy cells: the NumPy checks still run
    legacy = None


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def np_lstm(x, kernel, bias, units, forget_bias=1.0, c=None, h=None):
    c = np.zeros((x.shape[0], units)) if c is None else c
    h = np.zeros((x.shape[0], units)) if h is None else h
    outputs = []
    for t in range(x.shape[1]):
        i, j, f, o = np.split(np.concatenate([x[:, t], h], 1) @ kernel + bias, 4, axis=1)
        c = sigmoid(f + forget_bias) * c + sigmoid(i) * np.tanh(j)
        h = sigmoid(o) * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, 1), c, h


def np_gru(x, w, prefix, units, h=None):
    h = np.zeros((x.shape[0], units)) if h is None else h
    outputs = []
    for t in range(x.shape[1]):
        gates = sigmoid(np.concatenate([x[:, t], h], 1) @ w[prefix + "gates/kernel"] + w[prefix + "gates/bias"])
        r, u = np.split(gates, 2, axis=1)
        candidate = np.tanh(np.concatenate([x[:, t], r * h], 1) @ w[prefix + "candidate/kernel"]
                            + w[prefix + "candidate/bias"])
        h = u * h + (1 - u) * candidate
        outputs.append(h)
    return np.stack(outputs, 1), h


# -- against TensorFlow 1's own cells -------------------------------------------------------

# (cell, units, stack, bidirectional, scope, batch, time, features, initial state)
CONFIGS = [
    ("lstm", 4, 1, False, "rnn", None, 3, 5, False),
    ("gru", 4, 1, False, "rnn", 2, 3, 5, False),
    ("basic", 4, 1, False, "encoder", None, 3, 5, False),
    ("lstm", 4, 1, False, "rnn", None, 3, 5, True),
    ("gru", 3, 1, False, "rnn", None, 2, 5, True),
    ("lstm", 4, 2, False, "rnn", None, 3, 5, False),
    ("gru", 4, 3, False, "deep", 2, 2, 5, False),
    ("gru", 4, 1, True, "bidirectional_rnn", None, 3, 5, False),
    ("lstm", 3, 2, True, "birnn", None, 2, 5, False),
]


def tf1_reference(cell, units, stack, bidirectional, scope, batch, time, features, init):
    """The hand-written TF 1 program: unstack, then static_rnn with TF 1's own cells."""
    make_one = {"lstm": legacy.LSTMCell, "gru": legacy.GRUCell, "basic": legacy.BasicRNNCell}[cell]

    def make():
        return make_one(units) if stack == 1 else legacy.MultiRNNCell([make_one(units) for _ in range(stack)])
    graph = tf.Graph()
    with graph.as_default(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x = v1.placeholder(tf.float32, [batch, time, features], name="x")
        feeds = {"x": x}
        inputs = tf.unstack(x, axis=1)
        if bidirectional:
            outputs, _, _ = v1.nn.static_bidirectional_rnn(make(), make(), inputs, dtype=tf.float32, scope=scope)
        else:
            state = None
            if init:
                feeds["c"] = v1.placeholder(tf.float32, [batch, units], name="c")
                feeds["h"] = v1.placeholder(tf.float32, [batch, units], name="h")
                state = legacy.LSTMStateTuple(feeds["c"], feeds["h"]) if cell == "lstm" else feeds["h"]
            outputs, _ = v1.nn.static_rnn(make(), inputs, initial_state=state, dtype=tf.float32, scope=scope)
    return graph, feeds, outputs


def specc_model(cell, units, stack, bidirectional, scope, batch, time, features, init):
    b = "null" if batch is None else batch
    inputs = f"x: {{shape: [{b}, {time}, {features}]}}"
    state = ""
    if init:
        inputs += f", c: {{shape: [{b}, {units}]}}, h: {{shape: [{b}, {units}]}}"
        state = ", initial_state: [c, h]" if cell == "lstm" else ", initial_state: h"
    return build(f"""
        specc: 1
        inputs: {{{inputs}}}
        layers:
          - {{id: layer, type: rnn, input: x, scope: {scope}, cell: {{type: {cell}, units: {units}}}, stack: {stack},
             bidirectional: {str(bidirectional).lower()}{state}}}
    """)


def comparable(names: set[str], scope: str, ours: bool) -> set[str]:
    """Op names minus what legitimately differs: variable reads (TF 1's static_rnn caches one
    read per variable), the inside of the zero state, and the unstack/stack/concat that the
    layer owns while the TF 1 program has them outside static_rnn."""
    out = set()
    for n in names:
        if "Read" in n or n in ("x", "c", "h") or n.split("/")[-1] in ("Initializer", "IsInitialized", "Assign"):
            continue
        if "/Initializer/" in n or "/IsInitialized/" in n:
            continue
        if "ZeroState" in n:
            n = n[:n.index("ZeroState") + len("ZeroState")]
        local = n[len(scope) + 1:] if ours and n.startswith(scope + "/") else n
        if local.split("/")[0].split("_")[0] in ("unstack", "stack", "concat"):
            continue
        out.add(n)
    return out


@pytest.mark.skipif(legacy is None, reason="this TensorFlow does not ship TF 1's legacy RNN cells")
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c[0]}-stack{c[2]}{'-bi' if c[3] else ''}"
                         f"{'-init' if c[8] else ''}-{c[4]}")
def test_same_graph_as_tf1_cells(config):
    graph, feeds, outputs = tf1_reference(*config)
    m = specc_model(*config)
    theirs_vars = [(v.name, tuple(v.shape.as_list())) for v in graph.get_collection(v1.GraphKeys.GLOBAL_VARIABLES)]
    assert [(n + ":0", s) for n, s, _ in variables(m)] == theirs_vars
    scope = config[4]
    ours = comparable(op_names(m.graph), scope, True)
    assert ours == comparable(op_names(graph), scope, False)
    assert len([n for n in ours if "_cell/" in n]) > 10  # every step's ops, by name
    # Bit-equal outputs from the same variable values.
    batch = config[5] or 2
    feed = {k: rng.standard_normal([batch if d is None else d for d in t.shape.as_list()]).astype(np.float32)
            for k, t in feeds.items()}
    with session(m) as sess:
        w = values(sess, m)
        ours = sess.run(m.outputs["layer"], {m.inputs[k]: v for k, v in feed.items()})
    by_name = {v.name[:-2]: v for v in graph.get_collection(v1.GraphKeys.GLOBAL_VARIABLES)}
    with v1.Session(graph=graph) as sess:
        for name, value in w.items():
            by_name[name].load(value, sess)
        theirs = np.stack(sess.run(outputs, {feeds[k]: v for k, v in feed.items()}), axis=1)
    np.testing.assert_array_equal(ours, theirs)


# -- against NumPy ---------------------------------------------------------------------------

def test_lstm_matches_numpy_with_gate_order_ijfo_and_forget_bias():
    m = build("""
        specc: 1
        inputs: {x: {shape: [null, 4, 3]}, c: {shape: [null, 5]}, h: {shape: [null, 5]}}
        layers:
          - {id: seq, type: rnn, input: x, scope: rnn, cell: {type: lstm, units: 5, forget_bias: 0.5}}
          - {id: state, type: rnn, input: x, cell: {type: lstm, units: 5}, initial_state: [c, h], return: final_state}
          - {id: last, type: rnn, input: x, share: seq, cell: {type: lstm, units: 5, forget_bias: 0.5},
             return: final_output}
        outputs: [seq, state, last]
    """)
    assert variables(m) == [("rnn/lstm_cell/kernel", (8, 20), True), ("rnn/lstm_cell/bias", (20,), True),
                            ("state/lstm_cell/kernel", (8, 20), True), ("state/lstm_cell/bias", (20,), True)]
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    c, h = rng.standard_normal((2, 2, 5)).astype(np.float32)
    with session(m) as sess:
        m.variables["rnn/lstm_cell/bias"].load(rng.standard_normal(20).astype(np.float32), sess)
        w = values(sess, m)
        out = sess.run(m.outputs, {m.inputs["x"]: x, m.inputs["c"]: c, m.inputs["h"]: h})
    seq, _, _ = np_lstm(x, w["rnn/lstm_cell/kernel"], w["rnn/lstm_cell/bias"], 5, forget_bias=0.5)
    np.testing.assert_allclose(out["seq"], seq, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["last"], seq[:, -1], rtol=1e-5, atol=1e-5)  # shared by path: same weights
    _, c_t, h_t = np_lstm(x, w["state/lstm_cell/kernel"], w["state/lstm_cell/bias"], 5, c=c, h=h)
    np.testing.assert_allclose(out["state"], np.concatenate([c_t, h_t], 1), rtol=1e-5, atol=1e-5)


def test_stacked_bidirectional_gru_matches_numpy():
    m = build("""
        specc: 1
        inputs: {x: {shape: [null, 3, 2]}}
        layers:
          - {id: enc, type: rnn, cell: {type: gru, units: 3}, stack: 2, bidirectional: true}
    """)
    names = [n for n, _, _ in variables(m)]
    assert names[:4] == ["enc/fw/multi_rnn_cell/cell_0/gru_cell/gates/kernel", "enc/fw/multi_rnn_cell/cell_0/gru_cell/gates/bias",
                         "enc/fw/multi_rnn_cell/cell_0/gru_cell/candidate/kernel", "enc/fw/multi_rnn_cell/cell_0/gru_cell/candidate/bias"]
    assert len(names) == 16 and names[8].startswith("enc/bw/multi_rnn_cell/cell_0/")
    x = rng.standard_normal((2, 3, 2)).astype(np.float32)
    with session(m) as sess:
        w = values(sess, m)
        out = sess.run(m.outputs["enc"], {m.inputs["x"]: x})
    np.testing.assert_array_equal(w["enc/fw/multi_rnn_cell/cell_0/gru_cell/gates/bias"], np.ones(6))

    def direction(d, seq):
        first, _ = np_gru(seq, w, f"enc/{d}/multi_rnn_cell/cell_0/gru_cell/", 3)
        second, _ = np_gru(first, w, f"enc/{d}/multi_rnn_cell/cell_1/gru_cell/", 3)
        return second
    expected = np.concatenate([direction("fw", x), direction("bw", x[:, ::-1])[:, ::-1]], axis=2)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_unknown_time_is_unrolled_over_steps():
    m = build("""
        specc: 1
        inputs: {x: {shape: [null, null, 3]}}
        layers:
          - {id: rnn, type: rnn, steps: 4, cell: {type: basic, units: 2, activation: relu}}
    """)
    assert m.plan.layer("rnn").output.shape == (None, 4, 2)
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    with session(m) as sess:
        w = values(sess, m)
        out = sess.run(m.outputs["rnn"], {m.inputs["x"]: x})
    h = np.zeros((2, 2))
    for t in range(4):
        h = np.maximum(np.concatenate([x[:, t], h], 1) @ w["rnn/basic_rnn_cell/kernel"] + w["rnn/basic_rnn_cell/bias"], 0)
        np.testing.assert_allclose(out[:, t], h, rtol=1e-5, atol=1e-5)


# -- the example: one set of variables, every step in rnn/lstm_cell/ --------------------------

def test_rnn_unrolled_example_has_one_set_of_cell_variables():
    m = specc.build(SPECS / "rnn_unrolled.yaml")
    assert [(n, s) for n, s, _ in variables(m) if n.startswith("rnn/")] == [
        ("rnn/lstm_cell/kernel", (20, 64)), ("rnn/lstm_cell/bias", (64,))]
    names = op_names(m.graph)
    kernel = m.variables["rnn/lstm_cell/kernel"].handle.op
    matmuls = sorted((op for op in m.graph.get_operations() if op.type == "MatMul" and op.name.startswith("rnn/")),
                     key=lambda op: op.name)
    assert [op.name for op in matmuls] == ["rnn/lstm_cell/MatMul"] + [f"rnn/lstm_cell/MatMul_{i}" for i in range(1, 8)]
    assert all(op.inputs[1].op.inputs[0].op is kernel for op in matmuls)
    assert not [n for n in names if n.startswith("rnn/lstm_cell_")]
    assert m.outputs["encoder"].name == "rnn/stack:0"
    assert {n.split("/")[1] for n in names if n.startswith("rnn/") and not n.startswith("rnn/lstm_cell/kernel")
            and not n.startswith("rnn/lstm_cell/bias")} == {"unstack", "Shape", "strided_slice", "LSTMCellZeroState",
                                                            "lstm_cell", "stack"}


# -- sharing over time steps: each step of the unroll is an application of the cell's variables --

def test_explain_counts_each_time_step_as_a_use_of_the_cell_variables():
    from typer.testing import CliRunner

    from specc.cli import app

    result = CliRunner().invoke(app, ["explain", str(SPECS / "rnn_unrolled.yaml")], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "no shared variables" not in result.output
    for name in ("rnn/lstm_cell/kernel", "rnn/lstm_cell/bias"):
        row = next(line for line in result.output.splitlines() if f" {name} " in line)
        assert "encoder (rnn/lstm_cell), 8 time steps" in row
    # kernel [20, 64] and bias [64]: 1,344 parameters; 8 separate cells would hold 7 more copies.
    assert ("4 variables, 1,395 parameters (1,395 trainable); 2 shared (1,344 parameters), sharing saves "
            "9,408 parameters") in result.output
    assert ("note: rnn/lstm_cell/kernel, rnn/lstm_cell/bias: layer 'encoder' is a static unroll of 8 time steps, "
            "each with its own ops in rnn/lstm_cell/ reading these variables; separate cells per step would need "
            "7 more copies (9,408 parameters)") in result.output

    data = json.loads(CliRunner().invoke(app, ["explain", str(SPECS / "rnn_unrolled.yaml"), "--format", "json"]).output)
    assert data["totals"]["shared_variables"] == 2 and data["totals"]["parameters_saved_by_sharing"] == 9408
    kernel = next(v for v in data["variables"] if v["name"] == "rnn/lstm_cell/kernel")
    assert kernel["applications"] == 8 and kernel["reused_by"] == []
    assert kernel["uses"] == [{"layer": "encoder", "op_scope": "rnn/lstm_cell", "time_steps": 8}]


def test_build_writes_the_time_steps_into_plan_json(tmp_path):
    from typer.testing import CliRunner

    from specc.cli import app

    result = CliRunner().invoke(app, ["build", str(SPECS / "rnn_unrolled.yaml"), "-o", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "b" / "plan.json").read_text())["report"]
    rows = {v["name"]: v for v in report["variables"]}
    assert rows["rnn/lstm_cell/bias"]["applications"] == 8 and rows["per_step/kernel"]["applications"] == 1
    assert rows["rnn/lstm_cell/bias"]["uses"] == [{"layer": "encoder", "op_scope": "rnn/lstm_cell", "time_steps": 8}]
    assert report["totals"]["parameters_saved_by_sharing"] == 9408
    plan_uses = {v["name"]: v["users"] for v in json.loads((tmp_path / "b" / "plan.json").read_text())["plan"]["variables"]}
    assert plan_uses["rnn/lstm_cell/kernel"][0]["steps"] == 8


def test_the_scope_picture_shows_the_cell_variables_applied_at_every_step():
    from specc.picture.graph import to_dot

    line = next(l for l in to_dot(specc.plan(SPECS / "rnn_unrolled.yaml")).splitlines()
                if 'id="variable:rnn/lstm_cell/kernel"' in l)
    assert "applied 8 times (1 layer, over time steps)" in line
    assert "created by encoder (ops: rnn/lstm_cell), 8 time steps" in line


def test_the_python_report_counts_time_steps_and_layers_together():
    # Two layers share one cell (share: enc): 2 layers x 5 steps = 10 applications, 9 copies saved.
    rep = build("""
        specc: 1
        inputs: {a: {shape: [null, 5, 3]}, b: {shape: [null, 5, 3]}}
        layers:
          - {id: enc, type: rnn, input: a, cell: {type: gru, units: 4}, return: final_output}
          - {id: enc_b, type: rnn, input: b, share: enc, cell: {type: gru, units: 4}, return: final_output}
        outputs: [enc, enc_b]
        """).report
    row = next(r for r in rep.rows if r.name == "enc/gru_cell/gates/kernel")
    assert row.uses == (("enc", "enc/gru_cell"), ("enc_b", "enc_b/gru_cell")) and row.steps == (5, 5)
    assert row.applications == 10 and row.reusers == ("enc_b",) and row.shared
    assert rep.parameters_saved == 9 * rep.shared_parameters


CELL_LAYERS = [
    "{id: r, type: rnn, scope: rnn, cell: {type: lstm, units: 3}}",
    "{id: r, type: rnn, scope: enc, stack: 2, cell: {type: gru, units: 3}}",
    "{id: r, type: rnn, scope: enc, bidirectional: true, cell: {type: lstm, units: 3}, return: final_state}",
    "{id: r, type: rnn, scope: enc, stack: 2, bidirectional: true, cell: {type: basic, units: 3}}",
]


@pytest.mark.parametrize("layer", CELL_LAYERS, ids=["lstm", "stacked_gru", "bidirectional_lstm", "stacked_bidirectional"])
def test_planned_time_steps_are_the_reads_in_the_graph(layer):
    # The report's claim, checked against TensorFlow: each step reads each cell variable once,
    # in the op scope the plan names (a static unroll: no while loop, one copy of the ops per step).
    m = build(f"""
        specc: 1
        inputs: {{x: {{shape: [null, 6, 2]}}}}
        layers:
          - {layer}
        """)
    ops = m.graph.get_operations()
    for v in m.plan.variables:
        (use,) = v.users
        reads = [op.name for op in ops if op.type == "ReadVariableOp" and op.inputs[0].op.name == v.name
                 and not op.name.startswith(v.name + "/")]
        assert use.steps == 6 == len(reads), v.name
        assert {r.rsplit("/", 2)[0] for r in reads} == {use.op_scope}, v.name
        assert v.applications == 6 and v.shared
    assert not any(op.type in ("While", "StatelessWhile", "Enter") for op in ops)


# -- errors, located ------------------------------------------------------------------------

def test_steps_must_match_a_known_time_dimension():
    e = plan_error("""
        specc: 1
        inputs: {x: {shape: [null, 8, 3]}}
        layers:
          - id: rnn
            type: rnn
            cell: {type: lstm, units: 4}
            steps: 6
    """)
    assert located(e) == (8, 5, "layers[0].steps")
    assert "`steps` is 6 but the input float32[?, 8, 3] has 8 time steps" in e.message


def test_unknown_time_without_steps_is_refused():
    e = plan_error("""
        specc: 1
        inputs: {x: {shape: [null, null, 3]}}
        layers:
          - {id: rnn, type: rnn, cell: {type: gru, units: 4}}
    """)
    assert "a static unroll needs `steps`" in e.message


def test_an_unroll_longer_than_4096_steps_is_refused():
    e = plan_error("""
        specc: 1
        inputs: {x: {shape: [null, 5000, 3]}}
        layers:
          - {id: rnn, type: rnn, cell: {type: gru, units: 4}, bidirectional: true}
    """)
    assert "at most 4096" in e.message


def test_initial_state_count_and_width_are_checked():
    e = plan_error("""
        specc: 1
        inputs: {x: {shape: [null, 8, 3]}, h: {shape: [null, 4]}}
        layers:
          - {id: rnn, type: rnn, input: x, cell: {type: lstm, units: 4}, initial_state: h}
    """)
    assert located(e)[2] == "layers[0].initial_state" and "needs 2 inputs, got 1" in e.message
    e = plan_error("""
        specc: 1
        inputs: {x: {shape: [null, 8, 3]}, h: {shape: [null, 5]}}
        layers:
          - {id: rnn, type: rnn, input: x, cell: {type: gru, units: 4}, initial_state: h}
    """)
    assert "float32[batch, 4]" in e.message
