"""embedding, position_embedding and dense `tie:`: names, values against NumPy, the tied
table shared by reference (and reported), and the planner's located errors."""

from __future__ import annotations

import numpy as np
import pytest

import specc
from specc.report import report

from .conftest import SPECS
from .zoo import build, located, plan_error, reads, session, values, variables

rng = np.random.default_rng(2)

TIED = """
specc: 1
inputs:
  tokens: {shape: [null, 5], dtype: int32}
  more: {shape: [null, null], dtype: int64}
layers:
  - {id: embed, type: embedding, input: tokens, vocab: 11, dim: 6}
  - {id: positions, type: position_embedding, max_len: 8}
  - {id: words, type: embedding, input: more, share: embed, vocab: 11, dim: 6}
  - {id: more_positions, type: position_embedding, max_len: 8, table_name: wpe}
  - {id: logits, type: dense, input: positions, units: 11, tie: embed}
  - {id: pooled, type: global_avg_pool, input: positions}
  - {id: pooled_logits, type: dense, units: 11, tie: embed, use_bias: false}
outputs: [embed, positions, words, more_positions, logits, pooled_logits]
"""


@pytest.fixture(scope="module")
def tied():
    return build(TIED)


def test_embedding_variables(tied):
    assert variables(tied) == [
        ("embed/embeddings", (11, 6), True), ("positions/position_embeddings", (8, 6), True),
        ("more_positions/wpe", (8, 6), True), ("logits/bias", (11,), True)]
    plan = tied.plan
    assert str(next(v for v in plan.variables if v.name == "embed/embeddings").initializer) == "truncated_normal(stddev=0.02)"
    assert plan.layer("words").output.shape == (None, None, 6)


def test_lookups_positions_and_tied_logits_match_numpy(tied):
    ids = rng.integers(0, 11, (3, 5)).astype(np.int32)
    more = rng.integers(0, 11, (3, 4)).astype(np.int64)
    with session(tied) as sess:
        w = values(sess, tied)
        tied.variables["logits/bias"].load(rng.standard_normal(11).astype(np.float32), sess)
        bias = sess.run(tied.variables["logits/bias"])
        out = sess.run(tied.outputs, {tied.inputs["tokens"]: ids, tied.inputs["more"]: more})
    table = w["embed/embeddings"]
    np.testing.assert_array_equal(out["embed"], table[ids])
    np.testing.assert_array_equal(out["words"], table[more])  # one table for both lookups
    positions = table[ids] + w["positions/position_embeddings"][:5]
    np.testing.assert_allclose(out["positions"], positions, rtol=1e-6)
    np.testing.assert_allclose(out["more_positions"], table[more] + w["more_positions/wpe"][:4], rtol=1e-6)
    np.testing.assert_allclose(out["logits"], positions @ table.T + bias, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["pooled_logits"], positions.mean(1) @ table.T, rtol=1e-5, atol=1e-5)


def test_the_tied_projection_reads_the_embedding_table_itself(tied):
    g, table = tied.graph, tied.variables["embed/embeddings"]
    assert not [n for n in tied.variables if n.startswith(("logits/kernel", "pooled_logits/"))]
    # rank 3 -> Tensordot (its MatMul reads the table through a transpose); rank 2 -> MatMul, transpose_b.
    matmul = g.get_operation_by_name("pooled_logits/MatMul")
    assert matmul.get_attr("transpose_b") and reads(matmul, 1) is table.handle.op
    tensordot_reads = [op for op in g.get_operations() if op.name.startswith("logits/Tensordot")
                       and op.type == "ReadVariableOp"]
    assert [op.inputs[0].op for op in tensordot_reads] == [table.handle.op]
    assert g.get_operation_by_name("embed/embedding_lookup").type == "ResourceGather"
    assert g.get_operation_by_name("embed/embedding_lookup").inputs[0].op is table.handle.op


def test_the_report_lists_the_tied_layers_as_users_of_the_table(tied):
    row = next(r for r in report(tied.plan).rows if r.name == "embed/embeddings")
    assert row.creator == "embed"
    assert row.reusers == ("words", "logits", "pooled_logits")
    assert row.uses == (("embed", "embed"), ("words", "words"), ("logits", "logits"),
                        ("pooled_logits", "pooled_logits"))


def test_seq2seq_shares_one_table_and_ties_the_output():
    m = specc.build(SPECS / "seq2seq_tied.yaml")
    assert [n for n in m.variables if "embedding" in n] == ["embedding/embeddings"]
    assert "logits/kernel" not in m.variables
    assert m.variables["logits/bias"].shape.as_list() == [32]
    row = next(r for r in report(m.plan).rows if r.name == "embedding/embeddings")
    assert row.reusers == ("target_embedded", "logits")


# -- errors, located ----------------------------------------------------------------------

def test_tie_to_a_layer_that_is_not_an_embedding():
    e = plan_error("""
        specc: 1
        inputs: {x: {shape: [null, 4]}}
        layers:
          - {id: hidden, type: dense, units: 4}
          - id: logits
            type: dense
            units: 4
            tie: hidden
    """)
    assert located(e) == (9, 5, "layers[1].tie")
    assert "`tie` must name an embedding layer" in e.message and "'hidden' is a dense layer" in e.message


def test_tie_width_mismatch():
    e = plan_error("""
        specc: 1
        inputs: {ids: {shape: [null, 3], dtype: int32}}
        layers:
          - {id: embed, type: embedding, vocab: 20, dim: 8}
          - {id: hidden, type: dense, units: 5}
          - id: logits
            type: dense
            units: 20
            tie: embed
    """)
    assert located(e) == (10, 5, "layers[2].tie")
    assert "last dimension is 5" in e.message and "'embed/embeddings'" in e.message and "[20, 8]" in e.message


def test_tie_units_must_be_the_vocabulary():
    e = plan_error("""
        specc: 1
        inputs: {ids: {shape: [null, 3], dtype: int32}}
        layers:
          - {id: embed, type: embedding, vocab: 20, dim: 8}
          - {id: logits, type: dense, units: 21, tie: embed}
    """)
    assert located(e)[2] == "layers[1].units" and "`units` must be 20" in e.message


def test_tie_to_an_unknown_layer_names_the_key():
    e = plan_error("""
        specc: 1
        inputs: {ids: {shape: [null, 3], dtype: int32}}
        layers:
          - {id: embed, type: embedding, vocab: 20, dim: 8}
          - {id: logits, type: dense, units: 20, tie: embedd}
    """)
    assert located(e) == (6, 47, "layers[1].tie")  # at the reference itself
    assert "unknown layer 'embedd' in `tie`; did you mean 'embed'?" in e.message


def test_position_embedding_shorter_than_the_sequence():
    e = plan_error("""
        specc: 1
        inputs: {x: {shape: [null, 12, 4]}}
        layers:
          - id: positions
            type: position_embedding
            max_len: 10
    """)
    assert located(e) == (7, 5, "layers[0].max_len")
    assert "sequence length is 12" in e.message and "max_len 10" in e.message


def test_embedding_needs_integer_ids():
    e = plan_error("""
        specc: 1
        inputs: {x: {shape: [null, 3]}}
        layers:
          - {id: embed, type: embedding, vocab: 20, dim: 8}
    """)
    assert "int32 or int64 ids" in e.message


# -- BERT's lookups: gather on flat ids, one-hot times the table ------------------------------

METHODS = """
specc: 1
inputs:
  ids: {shape: [null, 5], dtype: int32}
  types: {shape: [null, 5], dtype: int32}
  single: {shape: [null], dtype: int64}
layers:
  - {id: word, type: embedding, input: ids, vocab: 11, dim: 6, method: gather}
  - {id: token_type, type: embedding, input: types, vocab: 2, dim: 6, method: one_hot}
  - {id: one_each, type: embedding, input: single, vocab: 3, dim: 2, method: gather}
outputs: [word, token_type, one_each]
"""


def test_gather_and_one_hot_are_lookups_by_bert_s_ops():
    m = build(METHODS)
    assert m.plan.layer("word").output.shape == (None, 5, 6)
    ops = {op.name: op.type for op in m.graph.get_operations()}
    # embedding_lookup: ids [batch, 5, 1] flattened, gathered, and back with the batch read at run time.
    assert ops["word/Gather"] == "ResourceGather" and ops["word/Reshape_1/shape"] == "Pack"
    assert ops["token_type/one_hot"] == "OneHot" and ops["token_type/MatMul"] == "MatMul"
    assert "embedding_lookup" not in " ".join(ops)
    ids = rng.integers(0, 11, (3, 5)).astype(np.int32)
    types = rng.integers(0, 2, (3, 5)).astype(np.int32)
    single = np.array([2, 0, 1, 2], np.int64)
    with session(m) as sess:
        w = values(sess, m)
        out = sess.run(m.outputs, {m.inputs["ids"]: ids, m.inputs["types"]: types, m.inputs["single"]: single})
    np.testing.assert_array_equal(out["word"], w["word/embeddings"][ids])
    np.testing.assert_allclose(out["token_type"], w["token_type/embeddings"][types], rtol=1e-6)
    np.testing.assert_array_equal(out["one_each"], w["one_each/embeddings"][single])  # ids [batch]: [batch, dim]


def test_gather_needs_known_dimensions_after_the_batch():
    e = plan_error("""
        specc: 1
        inputs: {ids: {shape: [null, null], dtype: int32}}
        layers:
          - {id: embed, type: embedding, vocab: 20, dim: 8, method: one_hot}
    """)
    assert located(e)[2] == "layers[0].input"
    assert "`method: one_hot` flattens the ids" in e.message and "every dimension after the batch known" in e.message
