"""Golden files: every spec's variables and op scopes, checked in, so any renaming fails loudly.

A change of a name, by us or by a TensorFlow upgrade, breaks checkpoints; these
tests make it visible. To accept an intended change, regenerate on purpose:

    SPECC_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py

and review the diff of tests/golden/ like any other code change. A spec marked
`# specc-test: plan-only` (conftest.plan_only: BERT-Base, ALBERT-Base) is compared by its
plan only; tests/test_bert_albert.py builds it.
"""

from __future__ import annotations

import os

import pytest

import specc

from .conftest import ROOT, SPECS, plan_only
from .oracle import build_oracle, legacy_modules

GOLDEN = ROOT / "tests" / "golden"
SPEC_FILES = sorted(SPECS.glob("*.yaml"))


def plan_text(plan) -> str:
    lines = [f"# {plan.name}: {len(plan.variables)} variables, {plan.parameters} parameters"]
    for v in sorted(plan.variables, key=lambda v: v.name):
        lines.append(f"variable {v.name} {list(v.shape)} {v.dtype}{'' if v.trainable else ' non-trainable'}")
    for layer in plan.walk():
        lines.append(f"layer {layer.path} ops={layer.op_scope or '/'} vars={layer.var_scope or '-'}")
    return "\n".join(lines) + "\n"


def graph_variables(graph, tf) -> list[str]:
    with graph.as_default():
        trainable = {v.name for v in tf.compat.v1.trainable_variables()}
        return sorted(f"variable {v.name[:-2]} {v.shape.as_list()} {v.dtype.base_dtype.name}"
                      f"{'' if v.name in trainable else ' non-trainable'}"
                      for v in tf.compat.v1.global_variables())


@pytest.mark.parametrize("spec_file", SPEC_FILES, ids=[p.stem for p in SPEC_FILES])
def test_plan_and_graph_match_the_golden_file(tf, spec_file):
    plan = specc.plan(spec_file)
    golden = GOLDEN / f"{spec_file.stem}.txt"
    text = plan_text(plan)
    if os.environ.get("SPECC_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert golden.exists(), f"no golden file for {spec_file.name}; run SPECC_UPDATE_GOLDEN=1 pytest {__file__}"
    assert text == golden.read_text(), f"{spec_file.name}: names changed; review, then regenerate on purpose"
    if plan_only(spec_file):
        return
    # The built graph holds exactly the golden variables, and every layer's ops sit in its golden scope.
    model = specc.build(plan)
    expected = sorted(line for line in golden.read_text().splitlines() if line.startswith("variable "))
    assert graph_variables(model.graph, tf) == expected
    op_names = [op.name for op in model.graph.get_operations()]
    for line in golden.read_text().splitlines():
        if line.startswith("layer "):
            path, ops = line.split()[1], line.split()[2][len("ops="):]
            layer = plan.layer(path)
            if layer.type != "block" and ops != "/":
                assert any(name.startswith(ops + "/") for name in op_names), f"{path}: no op under {ops}/"


@pytest.mark.skipif(legacy_modules() is None, reason="tf_keras (TensorFlow 1's legacy layers, the oracle) is not "
                                                     "installed: pip install -e '.[test]'")
@pytest.mark.parametrize("spec_file", SPEC_FILES, ids=[p.stem for p in SPEC_FILES])
def test_golden_file_agrees_with_tensorflows_own_layers(tf, spec_file):
    """Each golden list is also what TensorFlow 1's own layers build from the expanded spec
    (tests/oracle.py): the same variables, and every layer's ops in the golden name scope."""
    golden = (GOLDEN / f"{spec_file.stem}.txt").read_text().splitlines()
    oracle = build_oracle(specc.resolve(spec_file).data, tf, legacy_modules())
    assert oracle.error is None and oracle.unwritable is None, (oracle.error, oracle.unwritable)
    assert oracle.problems(tf) == {}
    assert graph_variables(oracle.graph, tf) == sorted(line for line in golden if line.startswith("variable "))
    scopes = {line.split()[1]: line.split()[2][len("ops="):] for line in golden if line.startswith("layer ")}
    assert {path: facts.op_scope or "/" for path, facts in oracle.layers.items()} == scopes
