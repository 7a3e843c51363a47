"""The shortcuts that keep big specs fast are exact: what they skip or share is what would have been
computed again (bench/scale.py measures what they save)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

import specc
from specc.errors import SpecError
from specc.limits import PlanLimits
from specc import spec as spec_module
from specc.planner import _Planner
from specc.read import Document

from . import test_properties as properties

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


class _GeneralPathOnly(_Planner):
    """The planner without its shortcut for plain layers: every layer takes the general path."""

    def plain_leaf(self, *args):
        return None


def _planned(planner: type, spec, limits: PlanLimits):
    """Everything planning says: the plan and every name claimed (with who claimed it), or the error."""
    try:
        made = planner(spec, limits)
        plan = made.run()
    except SpecError as e:
        return type(e), e.where, e.message
    names = made.names.in_use()
    return plan, names, [made.names.claimant(name) for name in names], made.parameters


# Layers written alike whose names meet: a scope taken by an earlier op name scope, ops and
# variables that differ only by case, scopes that need the full check, a shared block.
ALIKE_AND_CLASHING = """specc: 1
inputs: {x: {shape: [null, 8]}}
layers:
  - {id: a, type: identity}
  - {id: a_1, type: identity}
  - {id: b, type: dense, units: 8, scope: a}
  - {id: c, type: dense, units: 8, scope: a_2}
  - {id: d, type: dense, units: 8, scope: A_3, name_scope: q}
  - {id: e, type: dense, units: 8, scope: "a_1"}
  - {id: blk, type: block, layers: [{id: x1, type: dense, units: 8}, {id: x2, type: dense, units: 8, scope: x1_1},
                                    {id: x3, type: dense, units: 8, scope: MatMul}, {id: x4, type: dense, units: 8, scope: "-x"}]}
  - {id: blk2, type: block, share: blk}
  - {id: h, type: dense, units: 8, scope: ".h"}
  - {id: i, type: dense, units: 8, scope: "x.y>z"}
  - {id: j, type: dense, units: 8}
  - {id: J_1, type: dense, units: 8}
"""


@pytest.mark.parametrize("last,max_params,planned", [
    ("", 10_000_000_000, True),
    ("", 500, False),  # over the parameter budget half way
    ("  - {id: k, type: dense, units: 8, scope: j_1}\n", 10_000_000_000, False),  # j_1/kernel and J_1/kernel
    ("  - {id: k, type: dense, units: 8, scope: j}\n", 10_000_000_000, False),  # variable scope j taken
], ids=["planned", "over budget", "case clash", "scope taken"])
def test_plain_layers_are_planned_as_the_general_path_plans_them(last, max_params, planned):
    spec = specc.loads(ALIKE_AND_CLASHING + last, "m.yaml")
    limits = PlanLimits(max_params=max_params)
    ours = _planned(_Planner, spec, limits)
    assert (ours[0] is not SpecError) == planned
    assert ours == _planned(_GeneralPathOnly, spec, limits)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(properties.spec_data(), st.sampled_from([10_000_000_000, 100]))
def test_random_specs_are_planned_as_the_general_path_plans_them(data, max_params):
    try:
        spec = specc.loads(yaml.safe_dump(data, sort_keys=False), "random.yaml")
    except SpecError:
        return  # refused before planning: nothing planned either way
    limits = PlanLimits(max_params=max_params)
    assert _planned(_Planner, spec, limits) == _planned(_GeneralPathOnly, spec, limits)


def _converted(text: str, monkeypatch, shortcuts: bool):
    """The Spec of a spec text (or its error), with or without from_document's shortcuts (the usual
    layer in one step, a block's layers located at once)."""
    with monkeypatch.context() as m:
        if not shortcuts:
            m.setattr(spec_module, "_plain_keys", lambda type_name: frozenset())
            m.setattr(Document, "items_where", lambda self, path, count: [
                self.where(tuple(path) + (i,)) for i in range(count)])
        try:
            spec = specc.loads(text, "m.yaml")
        except SpecError as e:
            return type(e), e.where, e.message
    return spec, [(layer.where, layer.where.via) for layer in _walk(spec.layers)]


def _walk(layers):
    for layer in layers:
        yield layer
        yield from _walk(layer.layers or ())


SPECS = sorted(Path(__file__).resolve().parent.parent.glob("specs/**/*.yaml"))


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_every_spec_converts_as_the_general_path_converts_it(path, monkeypatch):
    text = path.read_text(encoding="utf-8")
    assert _converted(text, monkeypatch, True) == _converted(text, monkeypatch, False)


def test_plain_layers_with_inputs_and_clashes_convert_as_the_general_path_converts_them(monkeypatch):
    for text in (ALIKE_AND_CLASHING, TWO_STACKS, ALIKE_AND_CLASHING + "  - {id: a, type: dense, units: 2}\n",
                 "specc: 1\ninputs: {x: {shape: [null, 4]}}\nlayers:\n  - {id: input, type: block, input: x, "
                 "layers: [{id: input, type: dense, units: 2}]}\n"):
        assert _converted(text, monkeypatch, True) == _converted(text, monkeypatch, False)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(properties.spec_data())
def test_random_specs_convert_as_the_general_path_converts_them(data):
    text = yaml.safe_dump(data, sort_keys=False)
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert _converted(text, monkeypatch, True) == _converted(text, monkeypatch, False)
