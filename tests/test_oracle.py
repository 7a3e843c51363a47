"""The oracle itself (tests/oracle.py): what it says on hand-written specs, and the layers it builds
op by op checked against TensorFlow 1's legacy layers where those exist.

The property test trusts the oracle's verdicts: each kind is shown here once on a spec whose
outcome is known — specc refuses it, and TensorFlow, given it as written, raises, renames or
mixes two layers' variables in one scope.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

import specc
from specc.errors import SpecError

from .oracle import build_oracle, feeds_for, legacy_modules, run_both

LEGACY = legacy_modules()
pytestmark = pytest.mark.skipif(LEGACY is None, reason="tf_keras (TensorFlow 1's legacy layers, the oracle) is not "
                                                       "installed: pip install -e '.[test]'")

HEAD = "specc: 1\ninputs: {x: {shape: [null, 4]}}\nlayers:\n"


def refused_and_oracle(tf, layers: str):
    text = HEAD + layers
    with pytest.raises(SpecError) as refused:
        specc.plan(specc.loads(text, "t.yaml"))
    return refused.value.message, build_oracle(yaml.safe_load(text), tf, LEGACY).problems(tf)


def test_two_layers_creating_one_variable_tensorflow_raises(tf):
    message, problems = refused_and_oracle(tf, """\
  - {id: a, type: dense, units: 4, scope: fc}
  - {id: b, type: dense, units: 4, scope: fc}
""")
    assert "both create" in message
    assert problems == {"raises": "ValueError: Variable fc/kernel already exists, disallowed. Did you mean to set "
                                  "reuse=True or reuse=tf.AUTO_REUSE in VarScope?"}


def test_scopes_differing_by_case_tensorflow_renames(tf):
    message, problems = refused_and_oracle(tf, """\
  - {id: a, type: dense, units: 4, scope: fc}
  - {id: b, type: dense, units: 4, scope: FC}
""")
    assert "differs only by case" in message
    assert problems == {"renames": ["FC/bias_1:0", "FC/kernel_1:0"]}


def test_two_blocks_in_one_scope_tensorflow_mixes_their_variables(tf):
    message, problems = refused_and_oracle(tf, """\
  - {id: a, type: block, scope: t, layers: [{id: d1, type: dense, units: 4}]}
  - {id: b, type: block, scope: t, layers: [{id: d2, type: dense, units: 4}]}
""")
    assert "both create variables in scope 't'" in message
    assert problems == {"merges": [("t", "a", "b")]}


def test_sharing_a_missing_variable_tensorflow_raises(tf):
    message, problems = refused_and_oracle(tf, """\
  - {id: a, type: block, layers: [{id: d1, type: dense, units: 4}]}
  - {id: b, type: block, scope: a, share: true, layers: [{id: d2, type: dense, units: 4}]}
""")
    assert "d2" in message
    assert problems["raises"].startswith("ValueError: Variable a/d2/kernel does not exist")


def test_an_accepted_spec_has_no_problems_and_equal_outputs(tf):
    text = HEAD + """\
  - {id: a, type: dense, units: 4, scope: fc, activation: relu}
  - {id: b, type: dense, units: 4, scope: fc, share: true}
  - {id: c, type: dense, units: 4, share: a}
"""
    data = yaml.safe_load(text)
    plan = specc.plan(specc.loads(text, "t.yaml"))
    oracle = build_oracle(data, tf, LEGACY)
    assert oracle.problems(tf) == {}
    assert oracle.users() == {"fc/kernel": ["a", "b", "c"], "fc/bias": ["a", "b", "c"]}
    assert {p: f.op_scope for p, f in oracle.layers.items()} == {"a": "fc", "b": "fc_1", "c": "c"}
    outputs = run_both(specc.build(plan), oracle, tf, feeds_for(data, np.random.default_rng(1)), ["a", "b", "c"])
    for path, (ours, theirs) in outputs.items():
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6, err_msg=path)


# The parameter-free layers the oracle builds op by op, against TensorFlow 1's legacy layers.
PARAMETER_FREE = [
    ("{id: p, type: max_pool2d, pool_size: 2, strides: 1, padding: SAME}",
     lambda L, x: L.max_pooling2d(x, 2, 1, padding="same")),
    ("{id: p, type: avg_pool2d, pool_size: 2}", lambda L, x: L.average_pooling2d(x, 2, 2)),
    ("{id: p, type: flatten}", lambda L, x: L.flatten(x)),
    ("{id: p, type: dropout, rate: 0.5, training: false}", lambda L, x: L.dropout(x, 0.5, training=False)),
]


@pytest.mark.parametrize("layer, legacy", PARAMETER_FREE, ids=[p[0].split("type: ")[1].split(",")[0].rstrip("}")
                                                                for p in PARAMETER_FREE])
def test_parameter_free_layers_equal_the_legacy_layers(tf, layer, legacy):
    text = f"specc: 1\ninputs: {{x: {{shape: [null, 4, 4, 2]}}}}\nlayers:\n  - {layer}\n"
    data = yaml.safe_load(text)
    model = specc.build(specc.plan(specc.loads(text, "t.yaml")))
    oracle = build_oracle(data, tf, LEGACY)
    x = feeds_for(data, np.random.default_rng(2))["x"]
    with tf.Graph().as_default() as graph:
        placeholder = tf.compat.v1.placeholder(tf.float32, [None, 4, 4, 2])
        y = legacy(LEGACY[0], placeholder)
    with tf.compat.v1.Session(graph=graph) as session:
        expected = session.run(y, {placeholder: x})
    ours, theirs = run_both(model, oracle, tf, {"x": x}, ["p"])["p"]
    np.testing.assert_array_equal(theirs, expected)
    np.testing.assert_array_equal(ours, expected)
