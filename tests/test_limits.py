"""Budgets: a typo in a size fails at plan time at its line, and flags lift the limits on purpose."""

from __future__ import annotations

import textwrap

import pytest
from typer.testing import CliRunner

import specc
from specc.cli import app
from specc.planner import PlanLimits

HUGE = textwrap.dedent("""\
    specc: 1
    inputs: {x: {shape: [null, 100000]}}
    layers:
      - {id: small, type: dense, units: 10}
      - {id: fc, type: dense, units: 200000, input: x}
""")


def test_a_blown_parameter_budget_names_the_variable_and_layer():
    with pytest.raises(specc.SpecError) as e:
        specc.plan(specc.loads(HUGE, "huge.yaml"))
    assert (e.value.where.line, e.value.where.path) == (5, ("layers", 1))
    assert "variable 'fc/kernel' [100000, 200000] takes the model to 20,001,000,010 parameters" in e.value.message
    assert "--max-params" in e.value.message


def test_limits_are_lifted_on_purpose(tmp_path):
    spec = tmp_path / "huge.yaml"
    spec.write_text(HUGE)
    runner = CliRunner()
    assert runner.invoke(app, ["validate", str(spec)]).exit_code == 1
    result = runner.invoke(app, ["validate", str(spec), "--max-params", "30000000000"])
    assert result.exit_code == 0, result.output
    assert "20,001,200,010 parameters" in result.output
    plan = specc.plan(specc.loads(HUGE, "huge.yaml"), PlanLimits(max_params=30_000_000_000))
    assert plan.parameters == 20_001_200_010


def test_the_layer_limit_counts_layers_inside_blocks(tmp_path):
    with pytest.raises(specc.SpecError, match="more than 3 layers") as e:
        specc.plan(specc.load("specs/siamese.yaml"), PlanLimits(max_layers=3))
    assert e.value.where.line == 17  # right_tower, the 4th layer planned (a block and its two children first)
