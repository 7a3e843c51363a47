"""The shortcuts that keep big specs fast are exact: what they skip or share is what would have been
computed again (bench/scale.py measures what they save)."""

from __future__ import annotations

import specc

TWO_STACKS = """specc: 1
inputs: {x: {shape: [null, 5, 4]}}
layers:
  - {id: enc, type: rnn, input: x, cell: {type: gru, units: 3}, stack: 2}
  - {id: dec, type: rnn, input: x, cell: {type: gru, units: 3}, stack: 2}
  - {id: a, type: dense, input: x, units: 2}
  - {id: b, type: dense, input: x, units: 2}
outputs: [enc, dec, a, b]
"""


def test_layers_written_alike_share_one_inference_unless_it_read_their_scope():
    """A stacked rnn names ops after its variable scope (`dec/dec/multi_rnn_cell`): its inference is its own."""
    plan = specc.plan(specc.loads(TWO_STACKS, "m.yaml"))
    enc, dec = plan.layer("enc"), plan.layer("dec")
    assert enc.ops[-2:] == ("enc", "stack") and dec.ops[-2:] == ("dec", "stack")
    scopes = {u.op_scope for v in plan.variables for u in v.users if u.layer == "dec"}
    assert scopes == {"dec/dec/multi_rnn_cell/cell_0/gru_cell", "dec/dec/multi_rnn_cell/cell_1/gru_cell"}
    model = specc.build(plan)  # the plan-vs-graph check: every op and variable where planned
    assert set(model.variables) == {v.name for v in plan.variables}


def test_layers_written_alike_share_their_parsed_params():
    plan = specc.plan(specc.loads(TWO_STACKS, "m.yaml"))
    assert plan.layer("a").params is plan.layer("b").params
    assert plan.layer("enc").params is not plan.layer("dec").params  # a cell mapping: not shared, parsed twice
    assert plan.layer("enc").params == plan.layer("dec").params


def test_placeholders_are_found_however_deep_and_dollars_alone_are_text():
    spec = specc.loads("""specc: 1
vars: {w: 3}
inputs: {x: {shape: [null, 4]}}
layers:
  - {id: block, type: block, layers: [{id: inner, type: block, layers: [{id: fc, type: dense, units: "${w}"}]}]}
  - {id: out, type: dense, units: 2, description: "costs $5, or $${w}"}
""", "m.yaml")
    plan = specc.plan(spec)
    assert plan.layer("block.inner.fc").output.shape == (None, 3)
    assert spec.document.data["layers"][1]["description"] == "costs $5, or ${w}"
