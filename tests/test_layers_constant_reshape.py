"""`constant` (a fixed tensor, or a fill sized by an input's batch) and `reshape` folding the batch
dimension into others and back, as BERT's reshape_to_matrix / reshape_from_matrix."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import specc

from .zoo import build, located, plan_error, v1


def ops_in(model, scope: str) -> list[str]:
    return [op.name for op in model.graph.get_operations() if op.name.startswith(scope + "/")]


def run(model, output: str, **feeds):
    with v1.Session(graph=model.graph) as session:
        if model.variables:
            session.run(v1.variables_initializer(list(model.variables.values())))
        return session.run(model.outputs[output], {model.inputs[k]: v for k, v in feeds.items()})


# -- constant ---------------------------------------------------------------------------------

def test_constant_value_is_one_const_op_with_the_written_values(tf):
    model = build("""
        specc: 1
        inputs: {x: {shape: [null, 2]}}
        layers:
          - {id: eye, type: constant, value: [[1, 0], [0, 1]]}
          - {id: y, type: multiply, inputs: [x, eye]}
        outputs: [eye, y]
    """)
    assert ops_in(model, "eye") == ["eye/Const"]
    assert model.outputs["eye"].dtype == tf.float32 and model.outputs["eye"].shape.as_list() == [2, 2]
    np.testing.assert_array_equal(run(model, "eye", x=np.ones((2, 2), "float32")), [[1, 0], [0, 1]])
    assert model.plan.layers[0].ops == ("Const",)


def test_constant_fill_takes_its_batch_from_the_input_at_run_time(tf):
    model = build("""
        specc: 1
        inputs: {x: {shape: [null, 3]}}
        layers:
          - {id: h0, type: constant, fill: 0.5, shape: [null, 4], input: x}
        outputs: [h0]
    """)
    heads = sorted({name.split("/")[1] for name in ops_in(model, "h0")})
    assert heads == ["Fill", "Shape", "stack", "strided_slice"]
    assert model.outputs["h0"].shape.as_list() == [None, 4]
    value = run(model, "h0", x=np.zeros((5, 3), "float32"))
    np.testing.assert_array_equal(value, np.full((5, 4), 0.5, "float32"))


def test_constant_int_and_bool_dtypes(tf):
    model = build("""
        specc: 1
        inputs: {x: {shape: [null, 3]}}
        layers:
          - {id: ids, type: constant, value: [3, 1, 2], dtype: int32}
          - {id: flags, type: constant, fill: true, shape: [2], dtype: bool}
        outputs: [ids, flags]
    """)
    assert model.outputs["ids"].dtype == tf.int32 and model.outputs["flags"].dtype == tf.bool
    with v1.Session(graph=model.graph) as session:
        ids, flags = session.run([model.outputs["ids"], model.outputs["flags"]])
    np.testing.assert_array_equal(ids, [3, 1, 2])
    np.testing.assert_array_equal(flags, [True, True])


def test_constant_zero_state_gives_an_rnn_what_its_own_zero_state_gives(tf):
    """An LSTM started from constant zeros (c0, h0) equals one that makes its own zero state."""
    model = build("""
        specc: 1
        inputs: {x: {shape: [null, 5, 3]}}
        layers:
          - {id: c0, type: constant, fill: 0, shape: [null, 4], input: x}
          - {id: h0, type: constant, fill: 0, shape: [null, 4], input: x}
          - {id: given, type: rnn, input: x, cell: {type: lstm, units: 4}, initial_state: [c0, h0]}
          - {id: own, type: rnn, input: x, share: given, cell: {type: lstm, units: 4}}
        outputs: [given, own]
    """)
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    with v1.Session(graph=model.graph) as session:
        session.run(v1.variables_initializer(list(model.variables.values())))
        given, own = session.run([model.outputs["given"], model.outputs["own"]], {model.inputs["x"]: x})
    np.testing.assert_array_equal(given, own)
    assert sorted(model.variables) == ["given/lstm_cell/bias", "given/lstm_cell/kernel"]


@pytest.mark.parametrize("layer,key,message", [
    ("{id: c, type: constant, value: 1, fill: 1, shape: [2]}", "fill",
     "a constant takes `value` (the tensor as written) or `fill` with `shape`, not both or neither"),
    ("{id: c, type: constant, fill: 1}", "fill", "`fill` needs the `shape` to fill"),
    ("{id: c, type: constant, fill: 0, shape: [null, 2]}", "shape",
     "a null first dimension is the batch size of `input`; say which input or layer to take it from with `input:`"),
    ("{id: c, type: constant, fill: 0, shape: [2, null], input: x}", "shape",
     "only the first dimension of `shape` may be null (the batch size of `input`)"),
    ("{id: c, type: constant, value: [[1, 2], [3]]}", "value",
     "`value` has 1 entries where the shape [2] needs 2"),
    ("{id: c, type: constant, value: [1.5], dtype: int32}", "value",
     "`value` must be an integer for a int32 constant, got 1.5"),
    ("{id: c, type: constant, value: [1, 2], shape: [2]}", "shape",
     "`shape` broadcasts a single `value`; a list `value` has its own shape, so remove `shape`"),
    ("{id: c, type: constant, fill: 0, shape: [2, 3], input: x}", "input",
     "`input` gives a constant its batch size, and `shape` has no null first dimension; remove `input`"),
    ("{id: c, type: constant, fill: 0, shape: [2000, 1000]}", "shape",
     "a constant of shape [2000, 1000] holds 2,000,000 values, more than the limit of 1,000,000 (they are "
     "written into the graph); feed such data as an input"),
])
def test_constant_mistakes_are_located(layer, key, message):
    e = plan_error(f"""
        specc: 1
        inputs: {{x: {{shape: [null, 3]}}}}
        layers:
          - {layer}
    """)
    assert located(e)[2] == f"layers[0].{key}"
    assert e.message == f"layer 'c': {message}"


def test_constant_is_not_defaulted_to_the_previous_layer():
    plan = specc.plan(specc.loads(textwrap.dedent("""
        specc: 1
        inputs: {x: {shape: [null, 3]}}
        layers:
          - {id: fc, type: dense, units: 2}
          - {id: one, type: constant, value: 1.0}
    """), "t.yaml"))
    assert plan.layers[1].inputs == ()


# -- reshape: folding the batch ----------------------------------------------------------------

FOLD = """
    specc: 1
    inputs: {x: {shape: [BATCH, 4, 6]}}
    layers:
      - {id: to_matrix, type: reshape, batch: fold, shape: [-1, 6]}
      - {id: fc, type: dense, units: 8}
      - {id: from_matrix, type: reshape, batch: unfold, shape: [-1, 4, 8]}
    outputs: [to_matrix, fc, from_matrix]
"""


@pytest.mark.parametrize("batch", ["null", "3"])
def test_fold_to_a_matrix_one_matmul_and_unfold_back(tf, batch):
    model = build(FOLD.replace("BATCH", batch))
    rows = None if batch == "null" else 12
    assert model.outputs["to_matrix"].shape.as_list() == [rows, 6]
    assert model.outputs["from_matrix"].shape.as_list() == [None if batch == "null" else 3, 4, 8]
    assert [layer.output.shape for layer in model.plan.layers] == [(rows, 6), (rows, 8),
                                                                    (None if batch == "null" else 3, 4, 8)]
    # A rank-2 dense is one MatMul, as BERT's modeling.py makes it, not a Tensordot.
    assert "fc/MatMul" in {op.name for op in model.graph.get_operations()}
    assert not any("Tensordot" in op.name for op in model.graph.get_operations())
    x = np.arange(3 * 4 * 6, dtype="float32").reshape(3, 4, 6)
    with v1.Session(graph=model.graph) as session:
        session.run(v1.variables_initializer(list(model.variables.values())))
        matrix, out, kernel, bias = session.run(
            [model.outputs["to_matrix"], model.outputs["from_matrix"], model.variables["fc/kernel"],
             model.variables["fc/bias"]], {model.inputs["x"]: x})
    np.testing.assert_array_equal(matrix, x.reshape(12, 6))
    np.testing.assert_allclose(out, (x.reshape(12, 6) @ kernel + bias).reshape(3, 4, 8), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layer,message", [
    ("{id: r, type: reshape, batch: fold, shape: [24]}",
     "with `batch: fold` `shape` is the whole shape and starts with -1, where the batch goes; got [24]"),
    ("{id: r, type: reshape, batch: fold, shape: [-1, 5]}",
     "`batch: fold` merges the batch into the first dimension: each example's 24 values must fill whole rows of "
     "5, in fewer dimensions than the input float32[?, 4, 6]; got [-1, 5]"),
    ("{id: r, type: reshape, batch: unfold, shape: [-1, 6]}",
     "`batch: unfold` splits the first dimension into the batch and the rest: each example's 6 values must be "
     "whole rows of the input float32[?, 4, 6], in more dimensions than it has; got [-1, 6]"),
])
def test_fold_mistakes_are_located(layer, message):
    e = plan_error(f"""
        specc: 1
        inputs: {{x: {{shape: [null, 4, 6]}}}}
        layers:
          - {layer}
    """)
    assert located(e)[2] == "layers[0].shape"
    assert e.message == f"layer 'r': {message}"


def test_unfold_of_a_known_first_dimension_must_divide():
    e = plan_error("""
        specc: 1
        inputs: {x: {shape: [10, 6]}}
        layers:
          - {id: r, type: reshape, batch: unfold, shape: [-1, 4, 6]}
    """)
    assert e.message == "layer 'r': `batch: unfold` splits 10 rows into examples of 4: 10 is not a multiple of 4"
