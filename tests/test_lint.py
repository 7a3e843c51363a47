"""Lint: each code fires on a minimal spec, at its line, column and path; silencing; --strict; validate.

No TensorFlow here: lint works on the plan.
"""

from __future__ import annotations

import json
import re
import textwrap

import pytest
from hypothesis import given, settings, strategies as st
from typer.testing import CliRunner

import specc
from specc.cli import app
from specc.errors import format_path
from specc.lint import RULES, check

from .conftest import ROOT, SPECS

DOCS = ROOT / "docs" / "lint.md"


def lint(text: str, name: str = "m.yaml") -> list[tuple[str, int, int, str]]:
    spec = specc.loads(textwrap.dedent(text).lstrip("\n"), name)
    return [(w.code, w.where.line, w.where.col, format_path(w.where.path)) for w in check(spec, specc.plan(spec))]


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


# Each code on a minimal spec: (code, spec, the one warning expected: line, column, path).
CASES = {
    "SC101 unused layer": ("""
        specc: 1
        inputs:
          x: {shape: [null, 8]}
        layers:
          - {id: hidden, type: dense, units: 8}
          - {id: aux, type: dense, units: 2}
          - {id: logits, type: dense, units: 4, input: hidden}
        """, ("SC101", 6, 6, "layers[1].id")),
    "SC101 a whole block, once": ("""
        specc: 1
        inputs:
          x: {shape: [null, 8]}
        layers:
          - id: side
            type: block
            layers:
              - {id: fc, type: dense, units: 8}
              - {id: act, type: activation, activation: relu}
          - {id: out, type: dense, units: 2, input: x}
        """, ("SC101", 5, 5, "layers[0].id")),
    "SC102 unused input": ("""
        specc: 1
        inputs:
          x: {shape: [null, 8]}
          mask: {shape: [null, 8]}
        layers:
          - {id: fc, type: dense, units: 4, input: x}
        """, ("SC102", 4, 3, "inputs.mask")),
    "SC201 case-only sibling scopes": ("""
        specc: 1
        inputs:
          x: {shape: [null, 8]}
        layers:
          - {id: a, type: dense, units: 8, scope: Encoder}
          - {id: b, type: dense, units: 8, scope: encoder_proj}
          - id: c
            type: layer_norm
            scope: ENCODER_PROJ
        """, ("SC201", 9, 5, "layers[2].scope")),
    "SC201 a layer id against an input": ("""
        specc: 1
        inputs:
          Tokens: {shape: [null, 8]}
        layers:
          - {id: tokens, type: dense, units: 8}
        """, ("SC201", 5, 6, "layers[0].id")),
    "SC202 tower_1 beside tower": ("""
        specc: 1
        inputs:
          x: {shape: [null, 8]}
        layers:
          - {id: a, type: dense, units: 8, scope: tower}
          - {id: b, type: dense, units: 8, scope: tower_1}
        """, ("SC202", 6, 36, "layers[1].scope")),
    "SC301 twins that do not share": ("""
        specc: 1
        inputs:
          left: {shape: [null, 8]}
          right: {shape: [null, 8]}
        layers:
          - {id: tower_a, type: dense, units: 4, input: left}
          - {id: tower_b, type: dense, units: 4, input: right}
          - {id: gap, type: subtract, inputs: [tower_a, tower_b]}
        """, ("SC301", 7, 6, "layers[1].id")),
    "SC302 share: false in a shared block": ("""
        specc: 1
        inputs:
          left: {shape: [null, 8]}
          right: {shape: [null, 8]}
        layers:
          - id: l
            type: block
            input: left
            scope: tower
            layers:
              - {id: fc, type: dense, units: 4}
          - id: r
            type: block
            input: right
            share: l
            layers:
              - id: fc
                type: dense
                units: 4
                share: false
          - {id: gap, type: subtract, inputs: [l, r]}
        """, ("SC302", 20, 9, "layers[1].layers[0].share")),
    "SC401 a training flag the train section never sets": ("""
        specc: 1
        inputs:
          x: {shape: [null, 8]}
          y: {shape: [null], dtype: int32}
          is_training: {shape: [], dtype: bool, default: false}
        layers:
          - {id: fc, type: dense, units: 8, input: x}
          - {id: bn, type: batch_norm, training: is_training}
          - {id: logits, type: dense, units: 3}
        outputs: [logits]
        train: {loss: softmax_cross_entropy, labels: y}
        """, ("SC401", 8, 32, "layers[1].training")),
    "SC402 bidirectional final output": ("""
        specc: 1
        inputs:
          tokens: {shape: [null, 5, 3]}
        layers:
          - id: enc
            type: rnn
            cell: {type: gru, units: 4}
            bidirectional: true
            return: final_output
        """, ("SC402", 9, 5, "layers[0].return")),
    "SC403 a dropout that drops in serving too": ("""
        specc: 1
        inputs:
          x: {shape: [null, 8]}
        layers:
          - {id: fc, type: dense, units: 8}
          - {id: drop, type: dropout, rate: 0.1, training: true}
        """, ("SC403", 6, 42, "layers[1].training")),
}


@pytest.mark.parametrize("text,expected", CASES.values(), ids=CASES.keys())
def test_each_code_fires_at_its_place(text, expected):
    assert lint(text) == [expected]


QUIET = {
    "twins that share": """
        specc: 1
        inputs:
          left: {shape: [null, 8]}
          right: {shape: [null, 8]}
        layers:
          - {id: tower_a, type: dense, units: 4, input: left}
          - {id: tower_b, type: dense, units: 4, input: right, share: tower_a}
          - {id: gap, type: subtract, inputs: [tower_a, tower_b]}
        """,
    "a chain of equal layers": """
        specc: 1
        inputs:
          x: {shape: [null, 8]}
        layers:
          - {id: fc1, type: dense, units: 8}
          - {id: fc2, type: dense, units: 8}
          - {id: fc3, type: dense, units: 8}
        """,
    "two heads on one tensor": """
        specc: 1
        inputs:
          x: {shape: [null, 8]}
        layers:
          - {id: trunk, type: dense, units: 8}
          - {id: head_a, type: dense, units: 2, input: trunk}
          - {id: head_b, type: dense, units: 2, input: trunk}
          - {id: both, type: concat, inputs: [head_a, head_b]}
        """,
    "twins of different shapes": """
        specc: 1
        inputs:
          left: {shape: [null, 8]}
          right: {shape: [null, 4]}
        layers:
          - {id: tower_a, type: dense, units: 4, input: left}
          - {id: tower_b, type: dense, units: 4, input: right}
          - {id: gap, type: subtract, inputs: [tower_a, tower_b]}
        """,
    "repeat copies (separate on purpose)": """
        specc: 1
        inputs:
          x: {shape: [null, 8]}
        layers:
          - {id: layer, type: dense, units: 8, repeat: 3}
        """,
    "share: false outside a shared block": """
        specc: 1
        inputs:
          x: {shape: [null, 8]}
        layers:
          - id: blk
            type: block
            layers:
              - {id: fc, type: dense, units: 4, share: false}
        """,
    "a training flag the train section feeds true": CASES["SC401 a training flag the train section never sets"][0]
    .replace("labels: y}", "labels: y, feed: {is_training: true}}"),
    "the model's training flag, implied, under a train section": """
        specc: 1
        inputs:
          x: {shape: [null, 8]}
          y: {shape: [null], dtype: int32}
        layers:
          - {id: bn, type: batch_norm, input: x}
          - {id: drop, type: dropout, rate: 0.1}
          - {id: logits, type: dense, units: 3}
        outputs: [logits]
        train: {loss: softmax_cross_entropy, labels: y}
        """,
    "a bidirectional rnn that returns its final state": """
        specc: 1
        inputs:
          tokens: {shape: [null, 5, 3]}
        layers:
          - {id: enc, type: rnn, cell: {type: gru, units: 4}, bidirectional: true, return: final_state}
        """,
    "a batch norm frozen on purpose, and a dropout that drops nothing": """
        specc: 1
        inputs:
          x: {shape: [null, 4]}
        layers:
          - {id: bn, type: batch_norm, training: false}
          - {id: drop, type: dropout, rate: 0.0, training: true}
        """,
    "an input read through a batch norm flag": """
        specc: 1
        inputs:
          x: {shape: [null, 4]}
          training: {shape: [], dtype: bool, default: false}
        layers:
          - {id: bn, type: batch_norm, input: x, training: training}
        """,
}


@pytest.mark.parametrize("text", QUIET.values(), ids=QUIET.keys())
def test_what_is_meant_stays_quiet(text):
    assert lint(text) == []


def test_a_dead_dropout_is_reported_once_not_the_implied_flag_it_reads():
    assert lint("""
        specc: 1
        inputs:
          x: {shape: [null, 8]}
        layers:
          - {id: drop, type: dropout, rate: 0.1}
          - {id: logits, type: dense, units: 3, input: x}
        """) == [("SC101", 5, 6, "layers[0].id")]


def test_the_backward_half_of_a_bidirectional_final_output_saw_only_the_last_token(tf):
    """What SC402 says, in a Session: changing token 0 changes only the forward half of `final_output`;
    with `final_state` it changes both halves."""
    import numpy as np

    v1 = tf.compat.v1
    changed = {}
    for returns in ("final_output", "final_state"):
        text = textwrap.dedent(CASES["SC402 bidirectional final output"][0]).replace("final_output", returns)
        model = specc.build(specc.loads(text, "b.yaml"))
        x = np.random.RandomState(0).normal(size=(1, 5, 3)).astype(np.float32)
        bumped = x.copy()
        bumped[0, 0] += 1.0
        with model.graph.as_default(), v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            out = model.tensors["enc"]
            delta = np.abs(sess.run(out, {model.inputs["tokens"]: bumped})
                           - sess.run(out, {model.inputs["tokens"]: x}))[0]
        changed[returns] = (bool(delta[:4].max() > 1e-6), bool(delta[4:].max() > 1e-6))  # (forward, backward)
    assert changed == {"final_output": (True, False), "final_state": (True, True)}


@pytest.mark.parametrize("case, line", [("SC401 a training flag the train section never sets", 8),
                                        ("SC402 bidirectional final output", 9),
                                        ("SC403 a dropout that drops in serving too", 6)])
def test_the_training_traps_are_silenced_on_their_line(case, line):
    text = textwrap.dedent(CASES[case][0]).lstrip("\n").splitlines()
    code = case.split()[0]
    text[line - 1] += f"  # specc: ignore[{code}]"
    assert lint("\n".join(text)) == []


def test_a_dead_layer_whose_variables_a_live_layer_reuses_is_needed_for_them():
    warnings = lint("""
        specc: 1
        inputs:
          a: {shape: [null, 8]}
          b: {shape: [null, 8]}
        layers:
          - {id: creator, type: dense, units: 4, input: a, scope: proj}
          - {id: user, type: dense, units: 4, input: b, share: creator}
        outputs: [user]
        """)
    assert warnings == [("SC102", 3, 3, "inputs.a")]  # `creator` holds the variables; its input feeds nothing


def test_a_warning_in_a_template_points_at_the_templates_line():
    (warning,) = lint("""
        specc: 1
        templates:
          pair:
            layers:
              - {id: fc, type: dense, units: 4}
              - {id: fc_1, type: dense, units: 4, input: fc}
        inputs:
          x: {shape: [null, 8]}
        layers:
          - {id: p, use: pair}
        """)
    assert warning == ("SC202", 6, 10, "layers[0].layers[1].id")


# -- silencing ----------------------------------------------------------------------------------

SPEC_WITH_AUX = """
    specc: 1
    inputs:
      x: {shape: [null, 8]}
    layers:
      - {id: hidden, type: dense, units: 8}
      - {id: aux, type: dense, units: 2}{comment}
      - {id: logits, type: dense, units: 4, input: hidden}
    """


@pytest.mark.parametrize("comment,silenced", [
    ("  # specc: ignore[SC101]", True),
    ("  # specc: ignore[SC202, SC101]", True),
    ("  # specc: ignore", True),
    ("  #specc:ignore[sc101]", True),
    ("  # kept for later. specc: ignore[SC101]", True),
    ("  # specc: ignore[SC102]", False),
    ("", False),
])
def test_a_comment_on_the_line_silences_a_code(comment, silenced):
    warnings = lint(SPEC_WITH_AUX.replace("{comment}", comment))
    assert warnings == ([] if silenced else [("SC101", 6, 6, "layers[1].id")])


def test_a_comment_on_another_line_silences_nothing():
    text = SPEC_WITH_AUX.replace("{comment}", "").replace("layers:", "layers:  # specc: ignore[SC101]")
    assert [w[0] for w in lint(text)] == ["SC101"]


def test_a_warning_in_a_base_file_is_silenced_in_that_file(tmp_path):
    (tmp_path / "base.yaml").write_text(textwrap.dedent(SPEC_WITH_AUX.replace("{comment}", "  # specc: ignore[SC101]"))
                                        .lstrip("\n"))
    (tmp_path / "child.yaml").write_text("specc: 1\nbase: base.yaml\nname: child\n")
    spec = specc.load(tmp_path / "child.yaml")
    assert check(spec, specc.plan(spec)) == []
    (tmp_path / "base.yaml").write_text(textwrap.dedent(SPEC_WITH_AUX.replace("{comment}", "")).lstrip("\n"))
    spec = specc.load(tmp_path / "child.yaml")
    (warning,) = check(spec, specc.plan(spec))
    assert (warning.code, warning.where.file, warning.where.line) == ("SC101", str(tmp_path / "base.yaml"), 6)


# -- the example specs and the docs --------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(SPECS.rglob("*.yaml")), ids=lambda p: str(p.relative_to(SPECS)))
def test_the_example_specs_are_clean(path):
    spec = specc.load(path)
    assert [w.render() for w in check(spec, specc.plan(spec))] == []


def _documented() -> list[tuple[str, str]]:
    """(code, the first whole-spec example under its heading) for each code section of docs/lint.md."""
    text = DOCS.read_text("utf-8")
    out = []
    for section in re.split(r"^### ", text, flags=re.M)[1:]:
        code = section.split()[0]
        example = re.search(r"```yaml\n(specc: 1\n.*?)```", section, re.S)
        out.append((code, example[1] if example else ""))
    return out


def test_every_code_is_documented_with_an_example():
    documented = _documented()
    assert [code for code, _ in documented] == list(RULES)
    assert all(example for _, example in documented)
    table = DOCS.read_text("utf-8")
    for rule in RULES.values():
        assert re.fullmatch(r"SC\d{3}", rule.code) and rule.summary.startswith(f"{rule.code}: ")
        assert f"| [{rule.code}](#{rule.code.lower()}-{rule.name}) | {rule.name} |" in table
        assert f"### {rule.code} {rule.name}" in table


@pytest.mark.parametrize("code,example", _documented(), ids=[c for c, _ in _documented()])
def test_each_documented_example_raises_exactly_its_code(code, example):
    assert [w[0] for w in lint(example, f"lint.md#{code}")] == [code]


# -- the commands --------------------------------------------------------------------------------

@pytest.fixture
def aux(tmp_path):
    path = tmp_path / "aux.yaml"
    path.write_text(textwrap.dedent(SPEC_WITH_AUX.replace("{comment}", "")).lstrip("\n"))
    return path


def test_lint_prints_warnings_and_exits_0(aux):
    result = invoke("lint", aux)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{aux}:6:6: layers[1].id: SC101 layer 'aux' feeds no output (outputs: logits)")
    assert lines[1] == f"{aux}: 1 lint warning (SC101); --strict makes them errors (see docs/lint.md)"


def test_lint_strict_makes_warnings_errors(aux):
    result = invoke("lint", "--strict", aux)
    assert result.exit_code == 1
    assert "SC101" in result.stdout


def test_lint_quiet_keeps_the_warnings_and_drops_the_summary(aux):
    result = invoke("lint", "--quiet", aux)
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 1


def test_lint_json(aux):
    for args, ok, code in ((), True, 0), (("--strict",), False, 1):
        result = invoke("lint", "--format", "json", *args, aux)
        assert result.exit_code == code
        data = json.loads(result.stdout)
        assert data["ok"] is ok and data["file"] == str(aux)
        assert data["warnings"] == [{"code": "SC101", "name": "unused-layer", "file": str(aux), "line": 6,
                                     "column": 6, "path": "layers[1].id",
                                     "message": data["warnings"][0]["message"]}]


def test_lint_on_a_clean_spec_and_on_a_wrong_one():
    result = invoke("lint", SPECS / "siamese.yaml")
    assert (result.exit_code, result.stdout) == (0, f"{SPECS / 'siamese.yaml'}: no lint warnings\n")
    result = invoke("lint", ROOT / "tests" / "invalid" / "unknown_input_reference.yaml")
    assert result.exit_code == 1 and "unknown input or layer 'featurse'" in result.stderr


def test_validate_shows_warnings_after_the_ok_line_without_failing(aux):
    result = invoke("validate", aux)
    assert result.exit_code == 0
    assert result.stdout.startswith(f"{aux}: ok (")
    assert "SC101 layer 'aux' feeds no output" in result.stderr
    assert "1 lint warning (SC101); --strict makes them errors" in result.stderr


def test_validate_strict_fails_on_warnings(aux):
    result = invoke("validate", "--strict", aux)
    assert result.exit_code == 1
    assert ": ok (" not in result.stdout
    assert "SC101" in result.stderr
    assert invoke("validate", "--strict", SPECS / "siamese.yaml").exit_code == 0


def test_validate_json_lists_the_warnings(aux):
    data = json.loads(invoke("validate", "--format", "json", aux).stdout)
    assert data["ok"] is True and [w["code"] for w in data["warnings"]] == ["SC101"]
    result = invoke("validate", "--format", "json", "--strict", aux)
    assert result.exit_code == 1 and json.loads(result.stdout)["ok"] is False


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab_-19Zé", max_size=7), st.sampled_from(["", "left_", "_right", "first-", "-second"]))
def test_a_twin_stem_is_what_the_numbered_suffix_pattern_says(name, twin):
    """SC301's stems: a numbered or one-letter suffix is cut where the pattern it stands for would start."""
    from specc.lint import _twin_stem

    name = twin + name if twin.endswith(("_", "-")) else name + twin
    low = name.lower()
    if not any(word in low for word in ("left", "right", "first", "second")):
        match = re.search(r"(?:[_-]?[0-9]+|[_-][a-z])$", low[1:])
        assert _twin_stem(name) == (low[:match.start() + 1] if match else low)
