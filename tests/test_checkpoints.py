"""Checkpoint compatibility: mapping rules, `specc diff`, `specc check`, `build --init-from`.

Stages, in the order of the pipeline: the rules (specc.checkpoints.mapping) and the comparison
(specc.checkpoints.restore) on plain names, `diff` on plans (no TensorFlow), then real
checkpoints written by the hand-written TF1 program of TensorFlow's classic MNIST
tutorial (tensorflow/examples/tutorials/mnist/mnist.py, `inference()`), checked
and restored into specs/legacy_tutorial.yaml.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import specc
from specc.checkpoints.restore import VarInfo, compare
from specc.errors import MappingError
from specc.checkpoints.mapping import parse_rule, parse_rules, rename, suggest

from .conftest import ROOT

TUTORIAL = ROOT / "specs" / "legacy_tutorial.yaml"
SIAMESE = ROOT / "specs" / "siamese.yaml"
TUTORIAL_VARIABLES = ["hidden1/weights", "hidden1/biases", "hidden2/weights", "hidden2/biases",
                      "softmax_linear/weights", "softmax_linear/biases"]


def invoke(*args):
    from specc.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


# -- mapping rules -------------------------------------------------------------------------

def test_a_prefix_with_a_slash_is_a_plain_prefix():
    rule = parse_rule("old/=new/")
    assert rule.apply("old/fc/kernel") == "new/fc/kernel"
    assert rule.apply("older/fc/kernel") is None


def test_a_prefix_without_a_slash_is_a_whole_scope_or_name():
    rule = parse_rule("tower=encoder")
    assert rule.apply("tower/fc/kernel") == "encoder/fc/kernel"
    assert rule.apply("tower") == "encoder"
    assert rule.apply("tower2/fc/kernel") is None
    assert parse_rule("a/kernel=a/weights").apply("a/kernel") == "a/weights"


def test_a_regex_rule_replaces_its_first_match():
    rule = parse_rule(r"re:^model/(.*)$=\1")
    assert rule.apply("model/hidden1/weights") == "hidden1/weights"
    assert rule.apply("hidden1/weights") is None
    assert parse_rule(r"re:_(\d+)/=/layer_\1/").apply("enc_3/kernel") == "enc/layer_3/kernel"


def test_a_rule_splits_at_its_last_equals_sign():
    rule = parse_rule("re:^a(?=/)=b")  # the lookahead's `=` belongs to the pattern
    assert rule.apply("a/w") == "b/w"


def test_rules_apply_in_order_and_the_first_match_wins():
    rules = parse_rules(["tower/fc1/=first/", "tower/=second/"])
    r = rename(rules, ["tower/fc1/kernel", "tower/fc2/kernel", "other/w"])
    assert [(o, n) for o, n, _ in r.renamed] == [("tower/fc1/kernel", "first/kernel"),
                                                  ("tower/fc2/kernel", "second/fc2/kernel")]
    assert r.new_name("other/w") == "other/w" and r.warnings == ()


def test_a_rule_that_renames_nothing_is_a_warning_naming_it():
    rules = parse_rules(["tower/=a/", "tower/fc/=b/", "nowhere/=c/"])
    r = rename(rules, ["tower/fc/kernel"])
    assert r.warnings == (
        "--map tower/fc/=b/: renames nothing: every variable it matches (tower/fc/kernel) is taken first "
        "by --map tower/=a/",
        "--map nowhere/=c/: matches no variable")


@pytest.mark.parametrize("text,complaint", [
    ("old/", "write OLD=NEW"), ("=new/", "the old side is empty"), ("re:(=x", "missing ), unterminated subpattern"),
    (r"re:^a/(.*)$=b/\2", "invalid group reference 2"), ("re:=x", "the regular expression is empty"),
])
def test_a_bad_rule_is_a_mapping_error(text, complaint):
    with pytest.raises(MappingError, match=re.escape(complaint)):
        parse_rule(text)


def test_suggested_rules_rename_scopes_or_single_names():
    assert suggest([("tower/fc1/kernel", "encoder/fc1/kernel"), ("tower/fc2/bias", "encoder/fc2/bias")]) == (
        "tower/=encoder/",)
    assert suggest([("hidden1/kernel", "hidden1/weights")]) == ("hidden1/kernel=hidden1/weights",)
    # Two targets for one scope: the second pair cannot reuse the scope rule, so it renames its one name.
    assert suggest([("a/x/w", "b/x/w"), ("a/y/w", "c/y/w")]) == ("a/y/w=c/y/w", "a/=b/")


# -- comparing names, shapes and dtypes -------------------------------------------------------

def v(name, shape=(2,), dtype="float32"):
    return VarInfo(name, tuple(shape), dtype)


def test_compare_restores_missing_unused_and_mismatched():
    c = compare([v("a"), v("b", (3,)), v("gone")], [v("a"), v("b"), v("new")])
    assert [r.variable for r in c.restored] == ["a"]
    assert [m.variable for m in c.mismatched] == ["b"] and c.mismatched[0].what == "shape"
    assert [x.name for x in c.missing] == ["new"] and [x.name for x in c.unused] == ["gone"]
    assert not c.compatible and not c.restorable


def test_a_rule_beats_the_same_name_and_one_saved_variable_fills_two():
    # `tower/` still restores `tower/w` by its own name, and `right/w` through the rule: untying.
    c = compare([v("tower/w")], [v("tower/w"), v("right/w")], parse_rules(["tower/=right/"]))
    assert c.compatible and c.assignment_map() == [("tower/w", "tower/w"), ("tower/w", "right/w")]
    # A rule's target wins over a saved variable of the target's own name, which goes unused.
    c = compare([v("a/w"), v("b/w")], [v("b/w")], parse_rules(["a/=b/"]))
    assert c.assignment_map() == [("a/w", "b/w")] and [x.name for x in c.unused] == ["b/w"]


def test_two_rules_onto_one_variable_conflict():
    c = compare([v("a/w"), v("c/w")], [v("b/w")], parse_rules(["a/=b/", "c/=b/"]))
    assert not c.compatible and c.conflicts[0].sources == (("a/w", "a/=b/"), ("c/w", "c/=b/"))


def test_a_dtype_mismatch_is_not_compatible():
    c = compare([v("w", dtype="float64")], [v("w")])
    assert c.mismatched[0].what == "dtype" and not c.compatible


# -- specc diff: from two plans, without TensorFlow --------------------------------------------

BASE = """\
specc: 1
name: {name}
inputs:
  x: {{shape: [null, 8]}}
  y: {{shape: [null, 8]}}
layers:
{layers}
"""
TOWERS = """\
  - {id: a, type: dense, units: 4, input: x, scope: tower}
  - {id: b, type: dense, units: 4, input: y, scope: tower, share: true}
  - {id: head, type: dense, units: 2, input: a}
"""


def diff_of(old_layers: str, new_layers: str, mapping=(), new_base: str = BASE):
    old = specc.plan(specc.loads(BASE.format(name="old", layers=old_layers), "old.yaml"))
    new = specc.plan(specc.loads(new_base.format(name="new", layers=new_layers), "new.yaml"))
    return specc.diff(old, new, mapping)


def test_diff_of_a_spec_with_itself_is_compatible():
    d = diff_of(TOWERS, TOWERS)
    assert d.compatible and d.unchanged == 4 and not (d.sharing or d.likely_renames or d.suggested_map)


def test_diff_only_old_and_only_new():
    d = diff_of(TOWERS, TOWERS.replace("id: head", "id: logits"))
    assert [x.name for x in d.comparison.unused] == ["head/kernel", "head/bias"]
    assert [x.name for x in d.comparison.missing] == ["logits/kernel", "logits/bias"]
    assert not d.compatible


def test_diff_only_old_alone_still_restores():
    d = diff_of(TOWERS, TOWERS.replace("  - {id: head, type: dense, units: 2, input: a}\n", ""))
    assert [x.name for x in d.comparison.unused] == ["head/kernel", "head/bias"] and d.compatible


def test_diff_shape_changed():
    d = diff_of(TOWERS, TOWERS.replace("units: 2", "units: 3"))
    assert [(m.variable, m.what, m.found.shape, m.expected.shape) for m in d.comparison.mismatched] == [
        ("head/kernel", "shape", (4, 2), (4, 3)), ("head/bias", "shape", (2,), (3,))]
    assert not d.compatible


def test_diff_dtype_changed():
    d = diff_of(TOWERS, TOWERS, new_base=BASE.replace("[null, 8]}", "[null, 8], dtype: float64}"))
    assert [(m.variable, m.what) for m in d.comparison.mismatched] == [
        ("tower/kernel", "dtype"), ("tower/bias", "dtype"), ("head/kernel", "dtype"), ("head/bias", "dtype")]
    assert d.comparison.mismatched[0].found.dtype == "float32" and d.comparison.mismatched[0].expected.dtype == "float64"
    assert not d.compatible and not d.likely_renames


def test_diff_sharing_split_suggests_the_untying_map():
    untied = TOWERS.replace("scope: tower, share: true", "scope: right")
    d = diff_of(TOWERS, untied)
    assert [(s.kind, s.old, s.new, s.layers) for s in d.sharing] == [
        ("split", ("tower/kernel",), ("tower/kernel", "right/kernel"), ("a", "b")),
        ("split", ("tower/bias",), ("tower/bias", "right/bias"), ("a", "b"))]
    assert [(r.old.name, r.new.name, r.why) for r in d.likely_renames] == [
        ("tower/kernel", "right/kernel", "untied"), ("tower/bias", "right/bias", "untied")]
    assert d.suggested_map == ("tower/=right/",) and d.suggested_compatible
    assert not d.compatible and diff_of(TOWERS, untied, d.suggested_map).compatible


def test_diff_sharing_merged():
    untied = TOWERS.replace("scope: tower, share: true", "scope: right")
    d = diff_of(untied, TOWERS)
    assert [(s.kind, s.old, s.new) for s in d.sharing] == [
        ("merged", ("tower/kernel", "right/kernel"), ("tower/kernel",)),
        ("merged", ("tower/bias", "right/bias"), ("tower/bias",))]
    assert d.compatible  # every variable of NEW is in OLD; right/ is left over


def test_diff_likely_rename_with_the_map_that_fixes_it():
    d = diff_of(TOWERS, TOWERS.replace("scope: tower", "scope: encoder"))
    assert [(r.old.name, r.new.name, r.why) for r in d.likely_renames] == [
        ("tower/kernel", "encoder/kernel", "rename"), ("tower/bias", "encoder/bias", "rename")]
    assert d.suggested_map == ("tower/=encoder/",) and d.suggested_compatible is True
    fixed = diff_of(TOWERS, TOWERS.replace("scope: tower", "scope: encoder"), ["tower/=encoder/"])
    assert fixed.compatible and [(r.source, r.variable) for r in fixed.comparison.renamed] == [
        ("tower/kernel", "encoder/kernel"), ("tower/bias", "encoder/bias")]


def test_diff_a_renamed_variable_gets_a_rule_of_its_own():
    d = diff_of(TOWERS, TOWERS.replace("units: 2, input: a}", "units: 2, input: a, variables: {kernel: weights}}"))
    assert d.suggested_map == ("head/kernel=head/weights",) and d.suggested_compatible


# -- specc diff on the command line ----------------------------------------------------------

@pytest.fixture(scope="module")
def specs_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("specs")
    (d / "old.yaml").write_text(BASE.format(name="old", layers=TOWERS))
    (d / "renamed.yaml").write_text(BASE.format(name="new", layers=TOWERS.replace("scope: tower", "scope: encoder")))
    (d / "bad.yaml").write_text(BASE.format(name="bad", layers=TOWERS.replace("input: x", "input: z")))
    return d


def test_diff_exit_codes(specs_dir):
    old, renamed, bad = specs_dir / "old.yaml", specs_dir / "renamed.yaml", specs_dir / "bad.yaml"
    assert invoke("diff", old, old).exit_code == 0
    done = invoke("diff", old, renamed)
    assert done.exit_code == 4, done.output
    assert "suggested: --map tower/=encoder/ (a checkpoint of the old spec then restores" in done.stdout
    assert invoke("diff", old, renamed, "--map", "tower/=encoder/").exit_code == 0
    assert invoke("diff", old, bad).exit_code == 1
    assert invoke("diff", old, renamed, "--map", "no-equals-sign").exit_code == 2
    assert invoke("diff", old).exit_code == 2


def test_diff_json_parses_and_carries_the_warnings(specs_dir):
    done = invoke("diff", specs_dir / "old.yaml", specs_dir / "renamed.yaml", "--format", "json",
                  "--map", "tower/=encoder/", "--map", "elsewhere/=x/")
    assert done.exit_code == 0
    data = json.loads(done.stdout)
    assert data["compatible"] is True and data["ok"] is True
    assert data["renamed"][0] == {"old": "tower/kernel", "new": "encoder/kernel", "map": "tower/=encoder/"}
    assert data["warnings"] == ["--map elsewhere/=x/: matches no variable of old"]
    assert "warning: --map elsewhere/=x/: matches no variable of old" in done.stderr
    data = json.loads(invoke("diff", specs_dir / "old.yaml", specs_dir / "renamed.yaml", "-f", "json").stdout)
    assert data["suggested_map"] == ["tower/=encoder/"] and data["compatible_with_suggested_map"] is True
    assert [r["why"] for r in data["likely_renames"]] == ["rename", "rename"]


def test_diff_never_imports_tensorflow(specs_dir):
    script = textwrap.dedent(f"""
        import json, sys
        from specc.cli import app
        codes = [app(["diff", {str(specs_dir / "old.yaml")!r}, {str(specs_dir / "renamed.yaml")!r}, *extra],
                     standalone_mode=False) or 0 for extra in ([], ["--map", "tower/=encoder/", "-f", "json"])]
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras"))
        print("RESULT " + json.dumps({{"codes": codes, "loaded": loaded}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert json.loads(done.stdout.rsplit("RESULT ", 1)[1]) == {"codes": [4, 0], "loaded": []}, done.stderr


# -- real checkpoints: TensorFlow's classic MNIST tutorial, by hand ----------------------------

def tutorial_inference(tf, images, hidden1_units, hidden2_units):
    """mnist.py's `inference()`, as the tutorial wrote it (name_scope + tf.Variable), in tf.compat.v1."""
    v1 = tf.compat.v1
    with tf.name_scope("hidden1"):
        weights = tf.Variable(v1.truncated_normal([784, hidden1_units], stddev=1.0 / math.sqrt(784.0)),
                              name="weights")
        biases = tf.Variable(tf.zeros([hidden1_units]), name="biases")
        hidden1 = tf.nn.relu(tf.matmul(images, weights) + biases)
    with tf.name_scope("hidden2"):
        weights = tf.Variable(v1.truncated_normal([hidden1_units, hidden2_units],
                                                  stddev=1.0 / math.sqrt(float(hidden1_units))), name="weights")
        biases = tf.Variable(tf.zeros([hidden2_units]), name="biases")
        hidden2 = tf.nn.relu(tf.matmul(hidden1, weights) + biases)
    with tf.name_scope("softmax_linear"):
        weights = tf.Variable(v1.truncated_normal([hidden2_units, 10], stddev=1.0 / math.sqrt(float(hidden2_units))),
                              name="weights")
        biases = tf.Variable(tf.zeros([10]), name="biases")
        logits = tf.matmul(hidden2, weights) + biases
    return logits


def write_tutorial_checkpoint(tf, directory: Path, hidden1_units=128, scope=None, seed=1) -> dict:
    """Run the tutorial's graph (and a training step's global_step) and save it with a Saver.

    `scope` wraps inference() in a variable scope, as a program that grew around it would.
    Returns the saved values by checkpoint name, and the prefix under "prefix"."""
    v1 = tf.compat.v1
    g = tf.Graph()
    with g.as_default():
        v1.set_random_seed(seed)
        images = v1.placeholder(tf.float32, [None, 784])
        if scope:
            with v1.variable_scope(scope):
                logits = tutorial_inference(tf, images, hidden1_units, 32)
        else:
            logits = tutorial_inference(tf, images, hidden1_units, 32)
        global_step = tf.Variable(0, name="global_step", trainable=False)
        with v1.Session(graph=g) as sess:
            sess.run(v1.global_variables_initializer())
            # Non-trivial biases, so a restore of zeros would not pass by accident.
            sess.run([b.assign(tf.fill(b.shape, 0.5)) for b in v1.global_variables() if "biases" in b.name])
            sess.run(global_step.assign(1000))
            prefix = v1.train.Saver().save(sess, str(directory / "model.ckpt"), global_step=global_step)
            values = {v.name[:-2]: sess.run(v) for v in v1.global_variables()}
    assert logits.shape.as_list() == [None, 10]
    return {"prefix": prefix, **values}


@pytest.fixture(scope="module")
def checkpoints(tf, tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt")
    out = {}
    for name, kwargs in {"tutorial": {}, "scoped": {"scope": "mnist"}, "wider": {"hidden1_units": 64}}.items():
        (root / name).mkdir()
        out[name] = write_tutorial_checkpoint(tf, root / name, **kwargs)
    return out


def initialised_values(model, tf):
    v1 = tf.compat.v1
    with model.graph.as_default():
        init = v1.global_variables_initializer()
    with v1.Session(graph=model.graph) as sess:
        sess.run(init)
        return sess.run(dict(model.variables))


def test_the_spec_has_the_tutorials_variable_names(tf, checkpoints):
    plan = specc.plan(TUTORIAL)
    assert [(v.name, v.shape) for v in plan.variables] == [
        ("hidden1/weights", (784, 128)), ("hidden1/biases", (128,)), ("hidden2/weights", (128, 32)),
        ("hidden2/biases", (32,)), ("softmax_linear/weights", (32, 10)), ("softmax_linear/biases", (10,))]
    saved = dict(tf.train.list_variables(checkpoints["tutorial"]["prefix"]))
    assert saved == {"global_step": [], **{v.name: list(v.shape) for v in plan.variables}}


def test_check_finds_the_tutorial_checkpoint_compatible(checkpoints):
    done = invoke("check", TUTORIAL, "--checkpoint", Path(checkpoints["tutorial"]["prefix"]).parent)
    assert done.exit_code == 0, done.output
    assert "compatible: all 6 variables of legacy_tutorial restore" in done.stdout
    assert "unexpected" in done.stdout and "global_step" in done.stdout  # the tutorial's step counter
    data = json.loads(invoke("check", TUTORIAL, "--checkpoint", checkpoints["tutorial"]["prefix"], "-f", "json").stdout)
    assert data["compatible"] and [r["variable"] for r in data["restored"]] == TUTORIAL_VARIABLES
    assert data["unexpected"] == [{"name": "global_step", "shape": [], "dtype": "int32"}]
    assert data["missing"] == data["mismatched"] == data["warnings"] == []


def test_build_init_from_restores_the_tutorial_checkpoint(tf, checkpoints):
    saved = checkpoints["tutorial"]
    model = specc.build(TUTORIAL, init_from=saved["prefix"])
    assert [r.variable for r in model.init_from.restored] == TUTORIAL_VARIABLES and model.init_from.fresh == ()
    values = initialised_values(model, tf)
    for name in TUTORIAL_VARIABLES:
        np.testing.assert_array_equal(values[name], saved[name], err_msg=name)


def test_build_init_from_on_the_command_line_writes_an_init_op_that_restores(tf, checkpoints, tmp_path):
    saved = checkpoints["tutorial"]
    done = invoke("build", TUTORIAL, "-o", tmp_path / "out", "--init-from", saved["prefix"])
    assert done.exit_code == 0, done.output
    assert "init from" in done.stdout and "6 variables restored, 0 fresh" in done.stdout
    plan_json = json.loads((tmp_path / "out" / "plan.json").read_text())
    assert [r["variable"] for r in plan_json["init_from"]["restored"]] == TUTORIAL_VARIABLES
    assert plan_json["init_from"]["unused"] == ["global_step"]
    # model.meta's `init` op is rewired: a fresh process would load the checkpoint's values.
    v1 = tf.compat.v1
    g = tf.Graph()
    with g.as_default():
        v1.train.import_meta_graph(str(tmp_path / "out" / "model.meta"))
        with v1.Session(graph=g) as sess:
            sess.run("init")
            values = sess.run({name: f"{name}/Read/ReadVariableOp:0" for name in TUTORIAL_VARIABLES})
    for name in TUTORIAL_VARIABLES:
        np.testing.assert_array_equal(values[name], saved[name], err_msg=name)


@pytest.mark.parametrize("rule", ["mnist/=", r"re:^mnist/(.*)$=\1"], ids=["prefix", "regex"])
def test_a_renamed_scope_restores_with_map_and_not_without(tf, checkpoints, rule):
    saved = checkpoints["scoped"]
    assert invoke("check", TUTORIAL, "--checkpoint", saved["prefix"]).exit_code == 4
    done = invoke("check", TUTORIAL, "--checkpoint", saved["prefix"], "--map", rule)
    assert done.exit_code == 0, done.output
    assert "tf.compat.v1.train.init_from_checkpoint(" in done.stdout
    assert "'mnist/hidden1/weights': 'hidden1/weights'," in done.stdout
    model = specc.build(TUTORIAL, init_from=saved["prefix"], mapping=[rule])
    values = initialised_values(model, tf)
    for name in TUTORIAL_VARIABLES:
        np.testing.assert_array_equal(values[name], saved["mnist/" + name], err_msg=name)
    # Without the rule nothing restores: every variable is fresh, and the build says so.
    model = specc.build(TUTORIAL, init_from=saved["prefix"])
    assert model.init_from.restored == () and list(model.init_from.fresh) == TUTORIAL_VARIABLES


def test_a_shape_mismatch_is_exit_4_for_check_and_build(checkpoints, tmp_path):
    wider = checkpoints["wider"]["prefix"]
    done = invoke("check", TUTORIAL, "--checkpoint", wider, "-f", "json")
    assert done.exit_code == 4
    data = json.loads(done.stdout)
    assert [(m["variable"], m["differs"], m["checkpoint"]["shape"]) for m in data["mismatched"]] == [
        ("hidden1/weights", "shape", [784, 64]), ("hidden1/biases", "shape", [64]), ("hidden2/weights", "shape", [64, 32])]
    done = invoke("build", TUTORIAL, "-o", tmp_path / "out", "--init-from", wider)
    assert done.exit_code == 4 and "hidden1/weights: shape differs" in done.stderr
    assert not (tmp_path / "out").exists()
    done = invoke("build", TUTORIAL, "-o", tmp_path / "out", "--init-from", wider, "-f", "json")
    assert done.exit_code == 4 and json.loads(done.stdout)["kind"] == "incompatible"
    with pytest.raises(specc.IncompatibleCheckpoint):
        specc.build(TUTORIAL, init_from=wider)


def test_a_partial_restore_reports_the_fresh_variables(tf, checkpoints):
    spec = specc.loads(TUTORIAL.read_text().replace("classes: 10", "classes: 5"), "five_classes.yaml")
    saved = checkpoints["tutorial"]
    with pytest.raises(specc.IncompatibleCheckpoint, match="softmax_linear/weights: shape differs"):
        specc.build(spec, init_from=saved["prefix"])
    # A new head under its own name: the body restores, the head is fresh.
    spec = specc.loads(TUTORIAL.read_text().replace("classes: 10", "classes: 5")
                       .replace("id: softmax_linear", "id: new_head").replace("[softmax_linear]", "[new_head]"),
                       "new_head.yaml")
    model = specc.build(spec, init_from=saved["prefix"])
    assert model.init_from.fresh == ("new_head/weights", "new_head/biases")
    assert model.init_from.to_json()["unused"] == ["global_step", "softmax_linear/biases", "softmax_linear/weights"]
    values = initialised_values(model, tf)
    np.testing.assert_array_equal(values["hidden2/weights"], saved["hidden2/weights"])
    assert not np.any(values["new_head/biases"])  # its own initializer: zeros


@pytest.mark.parametrize("args,complaint", [
    (["check", TUTORIAL, "--checkpoint", "/nonexistent/model.ckpt"], "no checkpoint here"),
    (["check", TUTORIAL, "--checkpoint", TUTORIAL], "not a readable checkpoint"),
    (["check", TUTORIAL, "--checkpoint", ROOT / "specs"], "a directory without a `checkpoint` file"),
    (["build", TUTORIAL, "--map", "a/=b/"], "it needs --init-from"),
    (["check", TUTORIAL, "--checkpoint", "x", "--map", "re:(=b"], "missing )"),
    (["check", TUTORIAL], "Missing option '--checkpoint'"),
])
def test_usage_mistakes_exit_2(args, complaint):
    done = invoke(*args)
    assert done.exit_code == 2, done.output
    assert complaint in done.stderr.replace("\n", " ") or complaint in done.output


def test_check_and_diff_take_overrides(checkpoints):
    wider = checkpoints["wider"]["prefix"]  # the tutorial saved with hidden1_units = 64
    assert invoke("check", TUTORIAL, "--checkpoint", wider).exit_code == 4
    done = invoke("check", TUTORIAL, "--checkpoint", wider, "--set", "vars.hidden1_units=64")
    assert done.exit_code == 0, done.output
    # diff: --set changes NEW, --set-old changes OLD.
    assert invoke("diff", TUTORIAL, TUTORIAL, "--set", "vars.hidden1_units=64").exit_code == 4
    same = invoke("diff", TUTORIAL, TUTORIAL, "--set", "vars.hidden1_units=64", "--set-old", "vars.hidden1_units=64")
    assert same.exit_code == 0, same.output
    assert invoke("diff", TUTORIAL, TUTORIAL, "--set", "vars.hidden_units=64").exit_code == 1  # unknown path
