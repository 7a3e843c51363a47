"""Property: for every spec the planner accepts, TensorFlow builds exactly the plan.

Random specs mix nested blocks, scopes drawn from a small pool (so names collide,
differ only by case, and meet layer ids and inputs), `share: true`, `share: <path>`,
`name_scope:` wrappers, parameter-free layers and `repeat` (of layers and blocks,
with scope patterns, and with `share: true`: one set of variables applied N
times). For each accepted spec:
- specc's own build succeeds (the emitter verifies every variable and op scope
  against the plan), and
- an independent, naive TF1 interpreter of the same spec (tests/reference.py)
  produces the same variables and the same op names.
Rejected specs must fail with a located SpecError and nothing else.
"""

from __future__ import annotations

import yaml
from hypothesis import given, strategies as st

import specc
from specc.errors import SpecError
from specc.validate import validate

from .reference import build_reference

NAMES = ["a", "b", "A", "fc", "tower", "kernel", "inp", "x_1"]
WIDTH = 4


@st.composite
def spec_data(draw):
    known: list[tuple[str, str]] = []  # (path, type) of layers that own variables

    def layers(prefix: str, depth: int) -> list[dict]:
        out: list[dict] = []
        pool = NAMES if depth else [n for n in NAMES if n != "inp"]  # a top-level id may not shadow an input
        ids = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3 if depth else 4, unique=True))
        for ident in ids:
            kind = draw(st.sampled_from(["dense", "dense", "activation", "add", "identity"]
                                        + (["block", "block"] if depth < 3 else [])))
            layer: dict = {"id": ident, "type": kind}
            if draw(st.integers(0, 5)) == 0:
                layer["name_scope"] = draw(st.sampled_from(NAMES))
            if kind == "add":
                layer["inputs"] = [out[-1]["id"] if out else "inp", "inp"] if not prefix else (
                    [out[-1]["id"], "input"] if out else ["input", "input"])
            if kind in ("dense", "block"):
                if draw(st.booleans()):
                    layer["scope"] = draw(st.sampled_from(NAMES + ([None] if kind == "block" else [])))
                share_kind = draw(st.sampled_from(["none", "none", "true", "path"]))
                candidates = [p for p, t in known if t == kind]
                if share_kind == "true":
                    layer["share"] = True
                elif share_kind == "path" and candidates:
                    layer["share"] = draw(st.sampled_from(candidates))
            if kind == "activation":
                layer["activation"] = "relu"
            if kind == "dense":
                layer["units"] = WIDTH
                if draw(st.booleans()):
                    layer["activation"] = "relu"
            # `share: true` on a repeat is one set of variables applied N times: often accepted, so drawn more.
            if draw(st.integers(0, 1 if layer.get("share") is True else 3)) == 0:
                layer["repeat"] = draw(st.integers(1, 3))
                if isinstance(layer.get("scope"), str) and layer.get("share") is not True and draw(st.booleans()):
                    layer["scope"] += "_{i}"
            if kind == "block" and not (layer.get("share") and draw(st.booleans())):
                layer["layers"] = layers(prefix + ident + ".", depth + 1)
            out.append(layer)
            if kind in ("dense", "block"):
                known.append((prefix + ident, kind))
        return out

    return {"specc": 1, "name": "random", "inputs": {"inp": {"shape": [None, WIDTH]}},
            "layers": layers("", 0)}


def _graph_facts(graph, tf):
    with graph.as_default():
        variables = {(v.name, tuple(v.shape.as_list())) for v in tf.compat.v1.global_variables()}
    return variables, {op.name for op in graph.get_operations()}


@given(spec_data())
def test_accepted_specs_build_exactly_as_planned(tf, data):
    text = yaml.safe_dump(data, sort_keys=False)
    try:
        plan = specc.plan(specc.loads(text, "random.yaml"))
    except SpecError as e:
        assert e.where.file == "random.yaml" and e.where.line >= 1
        return
    validate(specc.resolves(text, "random.yaml"))  # the expanded spec is valid whole, by construction
    model = specc.build(plan)  # raises BuildError on any difference from the plan
    reference = build_reference(data, tf)
    assert _graph_facts(model.graph, tf) == _graph_facts(reference, tf)
    planned = {(v.name + ":0", v.shape) for v in plan.variables}
    assert planned == _graph_facts(model.graph, tf)[0]
