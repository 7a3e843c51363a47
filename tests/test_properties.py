"""Property: what specc plans is what TensorFlow's own layers build; what it refuses, TensorFlow gets wrong.

Random specs use every leaf layer type, nested blocks, template instances, `repeat` (with
scope patterns and with `share: true`), `share: true`, `share: <path>`, `scope: null`,
`name_scope:` wrappers and `variables:` renames, with ids and scopes drawn from a small pool
so names collide, differ only by case and meet each other. tests/oracle.py builds each
spec independently with TensorFlow 1's legacy layers and cells (tf_keras) or, where none
exists, the closest op-level construction. For each spec:

- accepted by the planner: specc's build succeeds (the emitter checks every variable and
  op scope against the plan), and the plan agrees with the oracle's graph on every
  variable (name, shape, dtype, trainable, the layers that use it, in order), every
  layer's name scope, the GLOBAL_VARIABLES, TRAINABLE_VARIABLES and UPDATE_OPS
  collections, and (on a share of the examples) every layer's output on equal weights;
- refused: the SpecError is located in the file, and the oracle's graph shows why:
  TensorFlow raises, silently renames a variable, silently shares variables no layer
  asked to share, or puts two layers' variables in one scope. A wrong refusal fails.

`SPECC_HYPOTHESIS_PROFILE=deep` searches longer (tests/conftest.py); the counts by layer
type and of examples with sharing are printed at the end of the run (docs/reliability.md).
"""

from __future__ import annotations

import collections
import copy
import re

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

import specc
from specc.errors import SpecError
from specc.validate import validate

from .conftest import PROFILE
from .oracle import build_oracle, feeds_for, legacy_modules, run_both

LEGACY = legacy_modules()
pytestmark = pytest.mark.skipif(LEGACY is None, reason="tf_keras (TensorFlow 1's legacy layers, the oracle) is not "
                                                       "installed: pip install -e '.[test]'")

NAMES = ["a", "b", "A", "fc", "tower", "kernel", "x_1"]
# Leaves on the main path keep [batch, 3, 4], so any of them can follow any other and share.
MAIN = {
    "dense": lambda d: {"units": 4, **({"activation": d(st.sampled_from(["relu", "tanh"]))} if d(st.booleans()) else {})},
    "activation": lambda d: {"activation": d(st.sampled_from(["relu", "tanh", "sigmoid"]))},
    "dropout": lambda d: {"rate": 0.5, "training": False},
    "add": None, "subtract": None, "multiply": None,
    "identity": lambda d: {},
    "reshape": lambda d: {"shape": [3, 4]},
    "slice": lambda d: {"axis": 1, "begin": 0, "size": 3},
    "conv1d": lambda d: {"filters": 4, "kernel_size": 2, "padding": "SAME"},
    "batch_norm": lambda d: {"training": d(st.booleans())},
    "layer_norm": lambda d: {},
    "position_embedding": lambda d: {"max_len": 5},
    "rnn": lambda d: d(st.sampled_from([
        {"cell": {"type": "lstm", "units": 4}}, {"cell": {"type": "gru", "units": 4}},
        {"cell": {"type": "basic", "units": 4}, "stack": 2}, {"cell": {"type": "gru", "units": 2}, "bidirectional": True}])),
    "scaled_dot_product_attention": None,
    "multi_head_attention": lambda d: {"heads": 2, "key_dim": 2},
}
# Side branches read another input (or the main path) and lead nowhere.
SIDE = {
    "conv2d": ("img", {"filters": 2, "kernel_size": 1, "padding": "SAME"}),
    "max_pool2d": ("img", {"pool_size": 2, "strides": 1, "padding": "SAME"}),
    "avg_pool2d": ("img", {"pool_size": 2, "strides": 1, "padding": "SAME"}),
    "global_avg_pool": ("img", {}),
    "flatten": ("img", {}),
    "embedding": ("ids", {"vocab": 5, "dim": 4}),
    "concat": (None, {"axis": -1}),
    "constant": (None, {"value": [1.0, 2.0]}),
}
LEAF_TYPES = sorted(MAIN) + sorted(SIDE)
SCOPED = {"dense", "conv1d", "conv2d", "batch_norm", "layer_norm", "embedding", "position_embedding", "rnn",
          "multi_head_attention"}
BY_PATH = {"dense", "layer_norm", "position_embedding", "multi_head_attention", "block"}  # `share: <path>`
SCOPE_NULL = {"dense", "layer_norm", "position_embedding", "embedding", "block"}
RENAMES = {"dense": {"kernel": "w"}, "layer_norm": {"gamma": "scale"}}
NO_REPEAT = {"global_avg_pool", "embedding"}  # a second copy would read the wrong rank or dtype

TEMPLATE = {"params": {"w": 4}, "layers": [
    {"id": "up", "type": "dense", "units": "${w}", "input": "input"},
    {"id": "norm", "type": "layer_norm", "input": "up"}]}


@st.composite
def spec_data(draw):
    known: list[tuple[str, str]] = []  # (path, type) of layers that own variables

    def sequence(prefix: str, depth: int, first: str) -> list[dict]:
        out: list[dict] = []
        main = first  # what the next main-path layer reads
        made: list[tuple[str, str]] = []  # (scope, type) of the layers here that created variables
        ids = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3 if depth else 5, unique=True))
        for ident in ids:
            # Blocks and dense layers first and twice: they make most of the sharing.
            kind = draw(st.sampled_from((["block", "dense", "use", "block"] if depth < 2 else ["dense"])
                                        + ["dense"] + LEAF_TYPES))
            layer: dict = {"id": ident}
            if kind == "use":
                layer.update(use="t", **({"with": {"w": 4}} if draw(st.booleans()) else {}))
            else:
                layer["type"] = kind
            if kind in MAIN:
                if kind in ("add", "subtract", "multiply"):
                    layer["inputs"] = [main, first]
                elif kind == "scaled_dot_product_attention":
                    layer.update(inputs=[main, main, first], heads=draw(st.sampled_from([1, 2])))
                else:
                    layer["input"] = main
                    layer.update(MAIN[kind](draw))
            elif kind in SIDE:
                source, params = SIDE[kind]
                if kind == "concat":
                    layer["inputs"] = [main, first]
                elif source:
                    layer["input"] = source
                layer.update(params)
            else:
                layer["input"] = main
            if draw(st.integers(0, 5)) == 0:
                layer["name_scope"] = draw(st.sampled_from(NAMES))
            kind_key = "block" if kind in ("block", "use") else kind
            if kind_key in SCOPED or kind_key == "block":
                if draw(st.booleans()):
                    layer["scope"] = draw(st.sampled_from(NAMES + ([None] if kind_key in SCOPE_NULL else [])))
                share_kind = draw(st.sampled_from(["none", "true", "path"]))
                candidates = [p for p, t in known if t == kind_key or draw(st.integers(0, 9)) == 0]
                if layer.get("scope", "") is None:
                    pass
                elif share_kind == "true":
                    layer["share"] = True
                    # Mostly the scope of an earlier layer of this type here: that is how sharing is written.
                    same = [scope for scope, t in made if t == kind_key]
                    if same and draw(st.integers(0, 4)):
                        layer["scope"] = draw(st.sampled_from(same))
                elif share_kind == "path" and candidates and kind_key in BY_PATH:
                    layer.pop("scope", None)  # `scope` beside `share: <path>` is refused as meaningless
                    layer["share"] = draw(st.sampled_from(candidates))
                if kind in RENAMES and not layer.get("share") and draw(st.integers(0, 3)) == 0:
                    layer["variables"] = RENAMES[kind]
            opens_variable_scope = (kind_key in SCOPED or kind_key == "block") and layer.get("scope", "") is not None
            if not opens_variable_scope and not layer.get("share") and draw(st.integers(0, 4)) == 0:
                layer["name_scope"] = False  # no name scope at all: ops directly in the enclosing one
            if kind not in NO_REPEAT and draw(st.integers(0, 1 if layer.get("share") is True else 4)) == 0:
                layer["repeat"] = draw(st.integers(1, 3))
                if isinstance(layer.get("scope"), str) and layer.get("share") is not True and draw(st.booleans()):
                    layer["scope"] += "_{i}"
            if kind == "block" and not (layer.get("share") and draw(st.booleans())):
                layer["layers"] = sequence(prefix + ident + ".", depth + 1, "input")
            out.append(layer)
            if kind_key in SCOPED or kind_key == "block":
                known.append((prefix + ident, kind_key))
                scope = layer.get("scope", ident)
                if not layer.get("share") and isinstance(scope, str) and "{i}" not in scope:
                    made.append((scope, kind_key))
            if kind not in SIDE:
                main = ident
        if main != out[-1]["id"]:  # a block's (and the model's) result is its last layer: the main path's
            out.append({"id": "end", "type": "identity", "input": main})
        return out

    return {"specc": 1, "name": "random",
            "templates": {"t": TEMPLATE},
            "inputs": {"x": {"shape": [None, 3, 4]}, "img": {"shape": [None, 4, 4, 2]},
                       "ids": {"shape": [None, 3], "dtype": "int32"}},
            "layers": sequence("", 0, "x")}


# -- what was run, printed by conftest.py's terminal summary ----------------------------------

STATS: dict[str, collections.Counter] = {"examples": collections.Counter(), "types": collections.Counter(),
                                         "shared types": collections.Counter(), "refusals": collections.Counter(),
                                         "no TF program": collections.Counter(),
                                         "types (refused)": collections.Counter()}


def _types(data) -> set[str]:
    out = set()

    def walk(layers):
        for layer in layers:
            out.add("template instance" if "use" in layer else layer["type"])
            out.update(key for key in ("repeat", "name_scope", "variables") if key in layer)
            if "share" in layer:
                out.add("share: true" if layer["share"] is True else "share: <path>")
            if "scope" in layer and layer["scope"] is None:
                out.add("scope: null")
            if layer.get("name_scope") is False:
                out.add("name_scope: false")
            walk(layer.get("layers", []))
    walk(data["layers"])
    return out


# -- comparisons ------------------------------------------------------------------------------

def _update_owners(graph, tf, scopes: dict[str, str]) -> collections.Counter:
    """UPDATE_OPS counted by the layer whose name scope holds each op."""
    owners: collections.Counter = collections.Counter()
    ordered = sorted(((s, p) for p, s in scopes.items() if s), key=lambda sp: -len(sp[0]))
    for op in graph.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS):
        op = getattr(op, "op", op)
        owners[next((p for s, p in ordered if op.name.startswith(s + "/")), op.name)] += 1
    return owners


def _collections(graph, tf):
    with graph.as_default():
        return ({(v.name, tuple(v.shape.as_list()), v.dtype.base_dtype.name) for v in tf.compat.v1.global_variables()},
                {v.name for v in tf.compat.v1.trainable_variables()})


def _planned_updates(plan) -> collections.Counter:
    return collections.Counter(u.layer for v in plan.variables for u in v.users if u.updates)


def check_accepted(tf, data, plan, build: bool) -> None:
    """The plan against the oracle's graph; with `build`, specc's own graph and outputs too."""
    oracle = build_oracle(data, tf, LEGACY)
    assert oracle.error is None and oracle.unwritable is None, (oracle.error, oracle.unwritable)
    # (specc accepts `share: <path>` of a block that made no variables: a share of nothing, harmless in TF.)
    assert {k: v for k, v in oracle.problems(tf).items() if k != "shares nothing"} == {}
    # Variables: names, shapes, dtypes, trainable, and the layers that use them, in order.
    planned = {(v.name + ":0", v.shape, v.dtype) for v in plan.variables}
    assert planned == _collections(oracle.graph, tf)[0]
    assert {v.name + ":0" for v in plan.variables if v.trainable} == _collections(oracle.graph, tf)[1]
    users = oracle.users()
    for v in plan.variables:
        assert [u.layer for u in v.users] == users.get(v.name), v.name
    # Name scopes: where each layer's ops land.
    for layer in plan.walk():
        assert layer.op_scope == oracle.layers[layer.path].op_scope, layer.path
    # UPDATE_OPS: the same number of updates, made by the same layers.
    theirs = _update_owners(oracle.graph, tf, {path: facts.op_scope for path, facts in oracle.layers.items()})
    assert _planned_updates(plan) == theirs
    if not build:
        return
    model = specc.build(plan)  # raises BuildError on any difference from the plan
    assert _collections(model.graph, tf) == _collections(oracle.graph, tf)
    ours = {layer.path: layer.op_scope for layer in plan.walk() if layer.type != "block"}
    assert _update_owners(model.graph, tf, ours) == theirs
    leaves = [layer.path for layer in plan.walk() if layer.type != "block"]
    feeds = feeds_for(data, np.random.default_rng(0))
    for path, (mine, oracles) in run_both(model, oracle, tf, feeds, leaves).items():
        np.testing.assert_allclose(mine, oracles, rtol=1e-5, atol=1e-5, err_msg=path)


def check_refused(tf, data, error: SpecError) -> str:
    assert error.where.file == "random.yaml" and error.where.line >= 1
    oracle = build_oracle(data, tf, LEGACY)
    if oracle.unwritable is not None:
        # The spec cannot be written as a TF program at all (a share of a layer that opens no scope, a
        # shared block with no layers to copy): a rule of the spec language, no TensorFlow rule involved.
        STATS["no TF program"][re.sub(r"'[^']*'", "'…'", error.message)[:60]] += 1
        return "no TF program"
    problems = oracle.problems(tf)
    assert problems, f"specc refused, but TensorFlow builds it as written: {error.message}"
    return sorted(problems)[0]


def _run(tf, data, build):
    text = yaml.safe_dump(data, sort_keys=False)
    types = _types(data)
    try:
        plan = specc.plan(specc.loads(text, "random.yaml"))
    except SpecError as e:
        STATS["refusals"][check_refused(tf, data, e)] += 1
        STATS["examples"]["refused"] += 1
        STATS["types (refused)"].update(types)
        return
    validate(specc.resolves(text, "random.yaml"))  # the expanded spec is valid whole, by construction
    check_accepted(tf, data, plan, build)
    STATS["examples"]["accepted"] += 1
    STATS["types"].update(types)
    shared = [v for v in plan.variables if v.shared]
    if shared:
        STATS["examples"]["accepted with sharing"] += 1
        for t in {plan.layer(u.layer).type for v in shared for u in v.users}:
            STATS["shared types"][t] += 1


# Examples per test and profile. The full check (specc's own build, both graphs run) costs ~0.35 s an
# example on 2 vCPUs, the plan-against-oracle check ~0.15 s.
EXAMPLES = {"default": (150, 850), "deep": (1500, 8500)}[PROFILE]


@settings(max_examples=EXAMPLES[0], suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(spec_data())
def test_specs_built_and_run_against_tensorflows_own_layers(tf, data):
    _run(tf, data, build=True)


@settings(max_examples=EXAMPLES[1], suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(spec_data())
def test_plans_against_tensorflows_own_layers(tf, data):
    _run(tf, data, build=False)


SELF_NAMED_SHARE = {
    "specc": 1,
    "inputs": {"x": {"shape": [None, 3, 4]}},
    "layers": [{"id": "fc", "type": "dense", "units": 4},
               {"id": "a", "type": "block", "layers": [
                   {"id": "fc", "type": "dense", "units": 4, "share": "fc", "repeat": 2}]}],
}


@pytest.mark.parametrize("repeat", [1, 2])
def test_a_share_naming_the_layer_itself_is_refused_by_both(tf, repeat):
    """Inside block `a`, `share: fc` from a layer `fc` names that layer (as an input would), not the outer `fc`:
    specc refuses, and so does the oracle (found by the property test above)."""
    data = copy.deepcopy(SELF_NAMED_SHARE)
    inner = data["layers"][1]["layers"][0]
    if repeat == 1:
        del inner["repeat"]
    _run(tf, data, build=True)


SHARED_BLOCK_OF_BORROWED_LAYERS = {
    "specc": 1,
    "inputs": {"x": {"shape": [None, 3, 4]}},
    "layers": [{"id": "a", "type": "multi_head_attention", "input": "x", "heads": 2, "key_dim": 2, "name_scope": "a"},
               {"id": "b", "type": "block", "input": "a", "share": True, "layers": [
                   {"id": "b", "type": "multi_head_attention", "input": "input", "heads": 2, "key_dim": 2,
                    "share": "a"}]}],
}


def test_a_shared_block_whose_layers_share_elsewhere_shares_nothing_of_its_own(tf):
    """Block `b` says `share: true`, but its one layer reuses `a`'s variables by a path of its own: nothing in
    scope `b` is reused. specc refuses; TensorFlow builds it, reusing nothing through `b` (found by the property
    test above)."""
    with pytest.raises(SpecError, match="`share: true`, but nothing has created variables in scope 'b' yet"):
        specc.plan(specc.loads(yaml.safe_dump(SHARED_BLOCK_OF_BORROWED_LAYERS, sort_keys=False), "random.yaml"))
    assert "b" in build_oracle(SHARED_BLOCK_OF_BORROWED_LAYERS, tf, LEGACY).problems(tf)["shares nothing"]
    _run(tf, copy.deepcopy(SHARED_BLOCK_OF_BORROWED_LAYERS), build=True)
