"""Overrides (`--set PATH=VALUE`): the path syntax, each kind of path, located errors, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import specc
from specc import overrides
from specc.cli import app
from specc.errors import SpecError
from specc.read import loads
from specc.errors import OverrideSyntaxError
from specc.overrides import parse

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "specs" / "experiments" / "small_encoder.yaml"

SPEC = textwrap.dedent("""\
    specc: 1
    vars: {hidden: 16, width: 8}
    inputs:
      x: {shape: [null, "${width}"]}
    layers:
      - {id: fc, type: dense, units: "${hidden}"}
      - id: encoder
        type: block
        layers:
          - {id: inner, type: dense, units: 4, activation: relu}
          - {id: out, type: dense, units: 4}
      - id: right_tower
        type: block
        input: x
        scope: encoder
        share: true
      - {id: head, type: dense, units: 2, input: encoder}
    outputs: [head]
""")


def resolved(*sets: str, text: str = SPEC) -> dict:
    return specc.resolves(text, "m.yaml", overrides=[parse(s) for s in sets]).data


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


# -- parsing -------------------------------------------------------------------------------

@pytest.mark.parametrize("text,keys,value", [
    ("vars.hidden=128", ("vars", "hidden"), 128),
    ("layers.right_tower.share=false", ("layers", "right_tower", "share"), False),
    ("layers[2].units=3", ("layers", 2, "units"), 3),
    ("layers[-1].units=3", ("layers", -1, "units"), 3),
    ("inputs.x.shape=[null, 4]", ("inputs", "x", "shape"), [None, 4]),
    ("seed=1", ("seed",), 1),
    ("name=other", ("name",), "other"),
    ("train.learning_rate=0.5", ("train", "learning_rate"), 0.5),
    ("layers.fc.scope=", ("layers", "fc", "scope"), None),
    ("vars.expr=${hidden * 2}", ("vars", "expr"), "${hidden * 2}"),
    ("layers.a.kernel_initializer={type: constant, value: 0.1}", ("layers", "a", "kernel_initializer"),
     {"type": "constant", "value": 0.1}),
])
def test_parse(text, keys, value):
    o = parse(text)
    assert (o.keys, o.value) == (keys, value)


@pytest.mark.parametrize("text,complaint", [
    ("foo", "has no '='"),
    ("=3", "the path is empty"),
    ("layers..units=3", "is not a path"),
    ("layers[x].units=3", "is not a path"),
    ("vars.a b=3", "is not a path"),
    ("vars.hidden=[1,", "is not valid YAML"),
])
def test_parse_refuses_malformed(text, complaint):
    with pytest.raises(OverrideSyntaxError, match=complaint.replace("[", r"\[")):
        parse(text)


def test_text_round_trips():
    for text in ("vars.hidden=128", "layers.fc.share=true", "inputs.x.shape=[null, 4]", "name=x"):
        assert parse(text).text == text


# -- each kind of path ----------------------------------------------------------------------

def test_a_var_changes_every_use():
    data = resolved("vars.hidden=32", "vars.width=5")
    assert data["layers"][0]["units"] == 32
    assert data["inputs"]["x"]["shape"] == [None, 5]


def test_a_layer_by_id():
    data = resolved("layers.right_tower.share=false", "layers.right_tower.scope=right")
    tower = data["layers"][2]
    assert (tower["id"], tower["share"], tower["scope"]) == ("right_tower", False, "right")


def test_nested_layers_by_dotted_id_path_and_by_layers_key():
    a = resolved("layers.encoder.inner.units=9")
    b = resolved("layers.encoder.layers.inner.units=9")
    assert a == b
    assert a["layers"][1]["layers"][0]["units"] == 9


def test_by_index_and_negative_index():
    data = resolved("layers[0].units=3", "layers[-1].units=5", "layers[1].layers[1].units=7")
    assert [data["layers"][0]["units"], data["layers"][3]["units"]] == [3, 5]
    assert data["layers"][1]["layers"][1]["units"] == 7


def test_top_level_keys_set_or_added():
    data = resolved("seed=7", "name=renamed", "outputs=[fc, head]")
    assert (data["seed"], data["name"], data["outputs"]) == (7, "renamed", ["fc", "head"])


def test_a_new_key_the_schema_allows():
    data = resolved("layers.fc.activation=gelu")
    assert data["layers"][0]["activation"] == "gelu"


def test_a_mapping_value_replaces_the_node_whole():
    data = resolved("inputs.x={shape: [null, 8], dtype: float64}")
    assert data["inputs"]["x"] == {"shape": [None, 8], "dtype": "float64"}


def test_later_overrides_see_earlier_ones():
    data = resolved("layers.fc.activation=relu", "layers.fc.activation=tanh")
    assert data["layers"][0]["activation"] == "tanh"


def test_a_template_and_its_instance():
    text = textwrap.dedent("""\
        specc: 1
        templates:
          ffn:
            params: {width: 8}
            layers:
              - {id: up, type: dense, units: "${width}"}
        inputs:
          x: {shape: [null, 4]}
        layers:
          - {id: block, use: ffn, with: {width: 16}}
    """)
    data = resolved("templates.ffn.up.activation=relu", "layers.block.with.width=32", text=text)
    up = data["layers"][0]["layers"][0]
    assert (up["units"], up["activation"]) == (32, "relu")


def test_the_document_is_not_changed_in_place():
    doc = loads(SPEC, "m.yaml")
    before = json.dumps(doc.data)
    overrides.apply(doc, (parse("vars.hidden=1"),))
    assert json.dumps(doc.data) == before


# -- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text,message,line,col", [
    ("vars.hiden=3", "--set vars.hiden: 'vars' has no var 'hiden'; did you mean 'hidden'?", 2, 1),
    ("layers.right_towr.share=false", "no layer 'right_towr' in 'layers'; did you mean 'right_tower'?", 5, 1),
    ("layers.encoder.iner.units=3", "has no key or layer 'iner'; did you mean 'inner'?", 7, 5),
    ("layers.fc.unit=3", "layer 'fc' (layers[0]) has no key 'unit'; did you mean 'units'?", 6, 5),
    ("layers[7].units=3", "'layers' has 4 entries, so [7] names nothing", 5, 1),
    ("hidden=3", "the spec has no top-level key 'hidden'; did you mean 'vars.hidden'?", 1, 1),
    ("sed=3", "the spec has no key 'sed'; did you mean 'seed'?", 1, 1),
    ("layers.fc.units.x=3", "'layers[0].units' is ${hidden}, not a mapping", 6, 27),
    ("inputs.y.shape=[1]", "'inputs' has no input 'y'", 3, 1),
])
def test_an_unknown_path_is_located_with_a_suggestion(text, message, line, col):
    with pytest.raises(SpecError) as info:
        resolved(text)
    e = info.value
    assert message in e.message, e.message
    assert (e.where.file, e.where.line, e.where.col) == ("m.yaml", line, col), e.render()


def test_an_overridden_value_is_reported_where_it_replaced_with_a_note():
    with pytest.raises(SpecError) as info:
        resolved("layers.fc.activation=relux")
    e = info.value
    assert (e.where.line, e.where.path) == (6, ("layers", 0, "activation"))
    assert "did you mean 'relu'" in e.message
    assert "--set layers.fc.activation=relux" in e.render()


def test_an_overridden_value_keeps_the_replaced_nodes_location():
    doc, paths = overrides.apply(loads(SPEC, "m.yaml"), (parse("layers.encoder.inner.units=5"),))
    assert paths == (("layers", 1, "layers", 0, "units"),)
    original = loads(SPEC, "m.yaml").where(paths[0])
    assert (doc.where(paths[0]).line, doc.where(paths[0]).col) == (original.line, original.col)
    assert original.line == 10


# -- the command line -----------------------------------------------------------------------

def test_cli_unknown_path_exits_1_with_file_line_col():
    result = invoke("validate", SMALL, "--set", "vars.hiden=128")
    assert result.exit_code == 1
    assert f"{SMALL}:6:1: vars: --set vars.hiden: 'vars' has no var 'hiden'; did you mean 'hidden'?" in result.stderr


@pytest.mark.parametrize("command", ["validate", "explain", "resolve", "build", "train", "sweep"])
def test_cli_malformed_set_exits_2(command):
    result = invoke(command, SMALL, "--set", "foo")
    assert result.exit_code == 2
    assert "Invalid value for '--set'" in result.stderr and "has no '='" in result.stderr


def test_cli_resolve_applies_sets_in_order():
    result = invoke("resolve", SMALL, "--set", "vars.hidden=4", "--set", "layers.encoder.share=false",
                    "--set", "vars.depth=2")
    assert result.exit_code == 0, result.stderr
    data = yaml.safe_load(result.stdout)
    assert data["layers"][0]["units"] == 4
    assert [layer["id"] for layer in data["layers"]] == ["embed", "encoder_0", "encoder_1", "logits"]
    assert not any(layer.get("share") for layer in data["layers"])


def test_cli_explain_json_counts_change():
    a = json.loads(invoke("explain", "-f", "json", SMALL).stdout)
    b = json.loads(invoke("explain", "-f", "json", SMALL, "--set", "layers.encoder.share=false").stdout)
    assert a["totals"]["shared_variables"] == 6 and b["totals"]["shared_variables"] == 0


def test_explain_and_validate_with_set_never_import_tensorflow():
    experiment = ROOT / "specs" / "experiments" / "width_and_sharing.yaml"
    script = textwrap.dedent(f"""
        import json, sys
        from specc.cli import app
        import specc.compose, specc.overrides, specc.experiments.runs, specc.experiments.sweep, specc.experiments.training
        assert len(specc.experiments.sweep.experiment({str(experiment)!r}).variants) == 4
        codes = []
        for args in (["explain", {str(SMALL)!r}, "--set", "vars.hidden=8", "--set", "layers.encoder.share=false"],
                     ["validate", {str(SMALL)!r}, "--set", "layers[2].units=5"],
                     ["resolve", {str(SMALL)!r}, "--set", "seed=2"],
                     ["validate", {str(SMALL)!r}, "--set", "vars.hiden=8"]):
            codes.append(app(args, standalone_mode=False) or 0)
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras"))
        print("RESULT " + json.dumps({{"codes": codes, "loaded": loaded}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    result = json.loads(done.stdout.rsplit("RESULT ", 1)[1])
    assert result == {"codes": [0, 0, 0, 1], "loaded": []}, done.stderr


def test_build_saves_the_resolved_spec_and_the_overrides(tmp_path, tf):
    out = tmp_path / "out"
    result = invoke("build", SMALL, "-o", out, "--set", "vars.hidden=8", "--set", "layers.encoder.share=false")
    assert result.exit_code == 0, result.stderr
    resolved_yaml = (out / "resolved.yaml").read_text()
    printed = invoke("resolve", SMALL, "--set", "vars.hidden=8", "--set", "layers.encoder.share=false").stdout
    assert resolved_yaml == printed
    made = json.loads((out / "overrides.json").read_text())
    assert made == {"spec": str(SMALL.resolve()), "overrides": [
        {"set": "vars.hidden", "value": 8, "from": "--set", "path": "vars.hidden"},
        {"set": "layers.encoder.share", "value": False, "from": "--set", "path": "layers[1].share"}]}
    marker = json.loads((out / ".specc-build.json").read_text())
    assert {"resolved.yaml", "overrides.json", "plan.json"} <= set(marker["files"])
    # The resolved spec is itself a spec that plans to the same variables.
    again = specc.plan(out / "resolved.yaml")
    assert [v.name for v in again.variables] == [v["name"] for v in json.loads((out / "plan.json").read_text())["plan"]["variables"]]
