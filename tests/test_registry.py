"""The layer registry, the schema and the emitters agree, and every activation emits as planned."""

from __future__ import annotations

import textwrap

import pytest

import specc
from specc.layers import LAYER_TYPES
from specc.layers.activations import ACTIVATION_OPS
from specc.validate import schema


def test_every_layer_type_has_a_schema_a_planner_and_an_emitter():
    enum = schema()["$defs"]["layer"]["properties"]["type"]["enum"]
    assert enum == list(LAYER_TYPES)
    assert {f"layer_{t}" for t in enum} <= set(schema()["$defs"])
    for name, kind in LAYER_TYPES.items():
        if kind.arity == "block":  # the planner and the emitter walk blocks themselves
            continue
        assert callable(getattr(kind.params_class, "infer", None)), name
        assert kind.emits, name


def test_activation_names_agree():
    assert set(schema()["$defs"]["activation"]["enum"]) == set(ACTIVATION_OPS)


@pytest.mark.parametrize("name", sorted(ACTIVATION_OPS))
def test_every_activation_creates_the_ops_the_plan_names(tf, name):
    spec = specc.loads(textwrap.dedent(f"""
        specc: 1
        inputs: {{x: {{shape: [null, 3]}}}}
        layers:
          - {{id: fc, type: dense, units: 2, activation: {name}}}
          - {{id: act, type: activation, activation: {name}}}
    """), "t.yaml")
    model = specc.build(spec)  # the emitter checks each layer's ops against the plan's names
    heads = {op.name.split("/")[1] for op in model.graph.get_operations() if op.name.startswith("act/")}
    assert heads == set(ACTIVATION_OPS[name] or ("Identity",))
