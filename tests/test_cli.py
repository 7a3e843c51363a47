"""The `specc` command's contracts: exit codes, what goes to stdout and stderr, build directories.

Exit codes: 0 success, 1 the spec is wrong, 2 the command line is wrong (or an
output directory must not be clobbered), 3 an internal failure. A user never
sees a traceback unless they pass --debug.

Subprocess tests run the real entry points (`python -m specc.cli` and the
`specc` script) and are kept few, because one that builds costs an import of
TensorFlow; everything else goes through typer's CliRunner in this process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

import specc
from specc.cli import app

from .conftest import event_graph_defs

ROOT = Path(__file__).resolve().parent.parent
SIAMESE = ROOT / "specs" / "siamese.yaml"
SCHEMA = ROOT / "schemas" / "specc-v1.schema.json"
INVALID = ROOT / "tests" / "invalid"
BAD = INVALID / "unknown_input_reference.yaml"  # 8:12: layers[0].input: unknown input or layer 'featurse'
BAD_LINE = f"{BAD}:8:12: layers[0].input: unknown input or layer 'featurse'; did you mean 'features'?"

LAUNCHERS = {
    "module": [sys.executable, "-m", "specc.cli"],
    "script": [str(Path(sys.executable).with_name("specc"))],
}
SIAMESE_VARIABLES = ["tower/fc1/kernel", "tower/fc1/bias", "tower/fc2/kernel", "tower/fc2/bias"]


def run(*args: str, launcher: str = "module", cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([*LAUNCHERS[launcher], *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=120)


def invoke(*args: str):
    """The CLI in this process; `result.stdout` and `result.stderr` are kept apart."""
    return CliRunner().invoke(app, [str(a) for a in args])


def no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text, text


def snapshot(directory: Path) -> dict:
    """Every file under `directory` with its bytes, plus the directory's own inode."""
    files = {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}
    return {"inode": directory.stat().st_ino, "files": files}


def leftovers(parent: Path) -> list[str]:
    """Temporary build directories (`.<name>.tmp-*`, `.<name>.old-*`) left in `parent`."""
    return sorted(p.name for p in parent.iterdir() if re.match(r"^\..*\.(tmp|old)-", p.name))


# -- the entry points ---------------------------------------------------------------------

def test_the_specc_script_is_next_to_the_interpreter():
    assert Path(LAUNCHERS["script"][0]).is_file()


@pytest.mark.parametrize("launcher", LAUNCHERS)
@pytest.mark.parametrize("command", ["validate", "explain"])
def test_validate_and_explain_exit_0(launcher, command):
    done = run(command, str(SIAMESE), launcher=launcher)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    if command == "validate":
        assert done.stdout.strip() == (f"{SIAMESE}: ok (siamese: 2 inputs, 8 layers, 4 variables, "
                                       "1,744 parameters)")
    else:
        assert "tower/fc1/kernel" in done.stdout and "right_tower.fc1" in done.stdout


def test_build_exit_0_and_quiet_stderr(tmp_path):
    """One real build in a subprocess: TensorFlow's start-up noise never reaches stderr."""
    out = tmp_path / "out"
    done = run("build", str(SIAMESE), "-o", str(out), launcher="module")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "plan matches graph: 4/4 variables" in done.stdout
    assert {"graph.pbtxt", "model.meta", "plan.json", ".specc-build.json"} <= {p.name for p in out.iterdir()}


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_bad_spec_exits_1_with_located_message_and_caret(launcher):
    done = run("validate", str(BAD), launcher=launcher)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [BAD_LINE, "        input: featurse", "               ^"]
    no_traceback(done.stdout, done.stderr)


def test_several_errors_are_all_printed():
    done = run("validate", str(INVALID / "unknown_key_unitz.yaml"))
    assert done.returncode == 1
    assert ": layers[0].unitz: unknown key 'unitz' in a dense layer; did you mean 'units'?" in done.stderr
    assert ": layers[0]: a dense layer needs the key 'units'" in done.stderr
    no_traceback(done.stdout, done.stderr)


@pytest.mark.parametrize("args, complaint", [
    (["validate", "--bogus", str(SIAMESE)], "No such option: --bogus"),
    (["validate"], "Missing argument"),
    (["build", str(SIAMESE), "--output"], "requires an argument"),
    (["validate", "--format", "xml", str(SIAMESE)], "Invalid value for '--format'"),
    (["explain", "-f", "yaml", str(SIAMESE)], "Invalid value for '--format'"),
    (["frobnicate", str(SIAMESE)], "No such command"),
])
def test_usage_errors_exit_2(args, complaint):
    done = run(*args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert complaint in done.stderr
    no_traceback(done.stdout, done.stderr)


@pytest.mark.parametrize("args", [["validate", "SPEC"], ["explain", "SPEC"], ["resolve", "SPEC"], ["lint", "SPEC"],
                                  ["graph", "SPEC"], ["check", "SPEC", "--checkpoint", "ckpt"],
                                  ["build", "SPEC", "-o", "out"], ["train", "SPEC"], ["sweep", "SPEC"],
                                  ["diff", "SPEC", str(SIAMESE)], ["diff", str(SIAMESE), "SPEC"]],
                         ids=lambda a: "-".join(a[:2 if a[0] != "diff" else 3]).replace(str(SIAMESE), "ok"))
def test_a_spec_path_that_does_not_exist_is_a_usage_error(tmp_path, monkeypatch, args):
    """A missing file is a command-line mistake (exit 2, the path named), not a spec one; nothing is written.
    A directory given for the spec is too."""
    monkeypatch.chdir(tmp_path)
    result = invoke(*[("nope.yaml" if a == "SPEC" else a) for a in args])
    assert result.exit_code == 2, result.output
    assert "File 'nope.yaml' does not exist" in result.stderr
    assert sorted(tmp_path.iterdir()) == []
    result = invoke(*[(tmp_path if a == "SPEC" else a) for a in args])
    assert result.exit_code == 2 and f"'{tmp_path}' is a directory" in result.stderr


def test_version_exits_0():
    done = run("--version", launcher="script")
    assert (done.returncode, done.stdout.strip()) == (0, f"specc {specc.__version__}")


def test_schema_prints_the_schema_file():
    done = run("schema")
    assert done.returncode == 0
    assert json.loads(done.stdout) == json.loads(SCHEMA.read_text("utf-8"))
    assert invoke("schema", "-f", "json").stdout == invoke("schema", "--format", "json").stdout == done.stdout
    assert invoke("schema", "-f", "table").exit_code == 2


# -- help and shell completion --------------------------------------------------------------

COMMANDS = sorted(c.name or c.callback.__name__ for c in app.registered_commands)


def test_every_command_is_listed():
    assert COMMANDS == ["build", "check", "diff", "explain", "export", "graph", "lint", "resolve", "schema",
                        "sweep", "train", "validate"]


@pytest.mark.parametrize("command", [[], *([c] for c in COMMANDS)], ids=lambda c: " ".join(c) or "specc")
def test_h_is_help_and_the_help_has_no_placeholders(command):
    short, long = invoke(*command, "-h"), invoke(*command, "--help")
    assert short.exit_code == long.exit_code == 0, short.stderr
    assert short.stdout == long.stdout
    usage = short.stdout.splitlines()[0]
    assert usage.startswith(f"Usage: specc {' '.join(command)}".rstrip() + " [OPTIONS]"), usage
    assert "{" not in usage, usage  # Typer's `{FILE}` for a required argument
    # Options list a NAME-like metavar, or the choices as a|b; never a type such as <int range>, <path>, <str>
    for line in short.stdout.splitlines():
        option = re.match(r"  (-\w, )?--[\w-]+ (\S+)", line)
        if option:
            assert re.fullmatch(r"[A-Z][A-Z_]*(=[A-Z_,.]+)?|[a-z]+(\|[a-z]+)*|[A-Z]+\.yaml", option.group(2)), line


def test_output_defaults_are_shown():
    def default_of(command: str, option: str) -> str:
        text = " ".join(invoke(command, "-h").stdout.split())  # the help's own line breaks fall anywhere
        return re.search(rf"{option} .*?\[default: (.*?)\]", text).group(1)

    assert default_of("build", "--output") == "(build/<spec name>)"
    assert default_of("train", "--output") == "(runs/<spec name>)"
    assert default_of("sweep", "--output") == "runs"
    assert default_of("export", "--checkpoint") == "(freshly initialised, with a warning)"
    assert default_of("graph", "--output") == "(dot text on stdout)"


def test_shell_completion_is_offered_and_works():
    listed = invoke("--help").stdout
    assert "--install-completion" in listed and "--show-completion" in listed
    # The shell is found from the parent process; Typer's own switch lets a test name it instead.
    env = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    done = subprocess.run([*LAUNCHERS["script"], "--show-completion", "bash"], capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert "_SPECC_COMPLETE=complete_bash" in done.stdout and "complete -o default -F _specc_completion specc" in done.stdout
    # What the shell then asks for: the commands that start with what was typed.
    env = {**os.environ, "_SPECC_COMPLETE": "complete_bash", "COMP_WORDS": "specc ex", "COMP_CWORD": "1"}
    done = subprocess.run([LAUNCHERS["script"][0]], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["explain", "export"]


def test_validate_and_explain_never_import_tensorflow():
    script = textwrap.dedent(f"""
        import json, sys
        from specc.cli import app
        codes = []
        for args in (["validate", {str(SIAMESE)!r}], ["explain", {str(SIAMESE)!r}],
                     ["explain", "--all", "--format", "json", {str(SIAMESE)!r}],
                     ["validate", "--format", "json", {str(SIAMESE)!r}], ["validate", {str(BAD)!r}]):
            codes.append(app(args, standalone_mode=False) or 0)
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras"))
        print("RESULT " + json.dumps({{"codes": codes, "loaded": loaded}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.rsplit("RESULT ", 1)[1])
    assert result == {"codes": [0, 0, 0, 0, 1], "loaded": []}


# -- JSON output ----------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["validate", "explain"])
def test_json_output_parses(command):
    done = run(command, "--format", "json", str(SIAMESE))
    assert done.returncode == 0
    data = json.loads(done.stdout)
    if command == "validate":
        assert data == {"ok": True, "file": str(SIAMESE), "model": "siamese", "inputs": 2, "layers": 8,
                        "variables": 4, "parameters": 1744, "warnings": []}
    else:
        assert [v["name"] for v in data["variables"]] == SIAMESE_VARIABLES
        assert data["totals"]["shared_variables"] == 4


@pytest.mark.parametrize("command", ["validate", "explain", "build"])
def test_json_errors_parse(command, tmp_path):
    result = invoke(command, "--format", "json", BAD, *(["-o", tmp_path / "out"] if command == "build" else []))
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"ok": False, "errors": [{
        "file": str(BAD), "line": 8, "column": 12, "path": "layers[0].input",
        "message": "unknown input or layer 'featurse'; did you mean 'features'?"}]}
    assert not (tmp_path / "out").exists()


def test_json_lists_every_error():
    result = invoke("validate", "-f", "json", INVALID / "unknown_key_unitz.yaml")
    assert result.exit_code == 1
    errors = json.loads(result.stdout)["errors"]
    assert {(e["line"], e["column"], e["path"]) for e in errors} >= {(9, 5, "layers[0].unitz")}


# -- every invalid spec, through the CLI ------------------------------------------------------

def _corpus() -> list:
    from tests.test_invalid import CASES

    out = []
    for case in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if "render" in case.xfail_aspects else []
        out.append(pytest.param(case, id=case.file.stem, marks=marks))
    return out


@pytest.mark.parametrize("case", _corpus())
def test_every_invalid_spec_exits_1_with_its_location_first(case):
    result = invoke("validate", case.file)
    assert result.exit_code == 1, result.stdout
    assert result.stdout == ""
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{case.file}:"), result.stderr
    assert re.match(rf"^{re.escape(str(case.file))}:\d+:\d+: \S+: .+$", first)
    no_traceback(result.stderr)


# -- internal errors --------------------------------------------------------------------------

def test_internal_error_exits_3_with_a_hint_and_no_traceback(monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("the planner fell over")

    monkeypatch.setattr(specc.api, "plan", boom)
    result = invoke("validate", SIAMESE)
    assert result.exit_code == 3
    assert "internal error: RuntimeError: the planner fell over" in result.stderr
    assert "rerun with --debug" in result.stderr
    no_traceback(result.stdout, result.stderr)


def test_debug_shows_the_traceback(monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("the planner fell over")

    monkeypatch.setattr(specc.api, "plan", boom)
    result = invoke("explain", "--debug", SIAMESE)
    assert result.exit_code == 3
    assert "Traceback (most recent call last)" in result.stderr
    assert "RuntimeError: the planner fell over" in result.stderr
    assert "rerun with --debug" not in result.stderr


# -- build directories ------------------------------------------------------------------------

@pytest.fixture
def other_spec(tmp_path) -> Path:
    """A second, different spec file (same content, another path)."""
    path = tmp_path / "specs" / "other.yaml"
    path.parent.mkdir()
    shutil.copy(SIAMESE, path)
    return path


def test_build_writes_the_directory_and_its_marker(tmp_path):
    out = tmp_path / "out"
    result = invoke("build", SIAMESE, "-o", out)
    assert result.exit_code == 0, result.stderr
    marker = json.loads((out / ".specc-build.json").read_text())
    assert marker["spec_file"] == str(SIAMESE.resolve())
    assert sorted(marker["files"]) == sorted(p.name for p in out.iterdir() if p.name != ".specc-build.json")
    assert leftovers(tmp_path) == []


def test_build_json_output_parses(tmp_path):
    result = invoke("build", "-f", "json", SIAMESE, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["output"] == str(tmp_path / "out") and data["variables_checked"] == 4


def test_rebuild_replaces_the_directory(tmp_path):
    out = tmp_path / "out"
    assert invoke("build", SIAMESE, "-o", out).exit_code == 0
    before = snapshot(out)
    result = invoke("build", SIAMESE, "-o", out, "--no-cache")  # unchanged, it would be reused
    assert result.exit_code == 0, result.stderr
    after = snapshot(out)
    assert after["inode"] != before["inode"]  # a new directory swapped in, not files written over
    assert len([n for n in after["files"] if n.startswith("events.out.tfevents")]) == 1
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("foreign_in", ["empty_target", "previous_build"])
def test_a_directory_with_a_foreign_file_is_refused_and_untouched(tmp_path, foreign_in):
    out = tmp_path / "out"
    if foreign_in == "previous_build":
        assert invoke("build", SIAMESE, "-o", out).exit_code == 0
    out.mkdir(exist_ok=True)
    (out / "notes.txt").write_text("mine")
    before = snapshot(out)
    result = invoke("build", SIAMESE, "-o", out)
    assert result.exit_code == 2
    assert "did not write" in result.stderr and "--force" in result.stderr
    no_traceback(result.stderr)
    assert snapshot(out) == before
    assert leftovers(tmp_path) == []


def test_force_replaces_a_foreign_directory(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = invoke("build", SIAMESE, "-o", out, "--force")
    assert result.exit_code == 0, result.stderr
    assert not (out / "notes.txt").exists() and (out / "graph.pbtxt").exists()
    assert leftovers(tmp_path) == []


def test_a_file_in_the_way_is_refused(tmp_path):
    out = tmp_path / "out"
    out.write_text("not a directory")
    result = invoke("build", SIAMESE, "-o", out)
    assert result.exit_code == 2 and "not a directory" in result.stderr
    assert out.read_text() == "not a directory"


def test_another_specs_build_directory_is_refused(tmp_path, other_spec):
    out = tmp_path / "out"
    assert invoke("build", SIAMESE, "-o", out).exit_code == 0
    before = snapshot(out)
    result = invoke("build", other_spec, "-o", out)
    assert result.exit_code == 2
    assert "another spec" in result.stderr and str(SIAMESE.resolve()) in result.stderr
    assert snapshot(out) == before
    assert invoke("build", other_spec, "-o", out, "--force").exit_code == 0
    assert json.loads((out / ".specc-build.json").read_text())["spec_file"] == str(other_spec.resolve())


def test_a_bad_spec_writes_nothing(tmp_path):
    out = tmp_path / "out"
    assert invoke("build", BAD, "-o", out).exit_code == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("previous", [True, False], ids=["over_a_previous_build", "fresh"])
def test_a_failing_build_keeps_the_previous_build_and_leaves_no_temp_dirs(tmp_path, monkeypatch, previous):
    out = tmp_path / "out"
    if previous:
        assert invoke("build", SIAMESE, "-o", out).exit_code == 0
        before = snapshot(out)

    def fail(model, directory):
        (directory / "graph.pbtxt").write_text("half written")
        raise OSError("disk full")

    monkeypatch.setattr("specc.emit.files.write_graph_files", fail)
    result = invoke("build", SIAMESE, "-o", out, "--no-cache")  # the previous build would be reused
    assert result.exit_code == 3
    assert "internal error: OSError: disk full" in result.stderr and "rerun with --debug" in result.stderr
    no_traceback(result.stdout, result.stderr)
    if previous:
        assert snapshot(out) == before
    else:
        assert not out.exists()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("where", ["spec_dir", "spec_grandparent"])
def test_force_never_deletes_the_spec_being_built(tmp_path, where):
    spec = tmp_path / "project" / "model.yaml"
    spec.parent.mkdir()
    shutil.copy(SIAMESE, spec)
    target = spec.parent if where == "spec_dir" else tmp_path
    result = invoke("build", spec, "-o", target, "--force")
    assert result.exit_code == 2
    assert "contains the spec being built" in result.stderr
    assert spec.read_text() == SIAMESE.read_text()


def test_force_never_deletes_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "notes.txt").write_text("mine")
    monkeypatch.chdir(tmp_path)
    result = invoke("build", SIAMESE, "-o", ".", "--force")
    assert result.exit_code == 2 and "the working directory" in result.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_spec_without_variables_builds(tmp_path):
    spec = tmp_path / "plain.yaml"
    spec.write_text("specc: 1\ninputs:\n  x: {shape: [null, 4]}\nlayers:\n"
                    "  - {id: act, type: activation, activation: relu}\n")
    assert invoke("validate", spec).exit_code == 0
    result = invoke("build", spec, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "out" / "model.meta").exists()


# -- the files a build writes -----------------------------------------------------------------

@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("built") / "siamese"
    result = invoke("build", SIAMESE, "-o", out)
    assert result.exit_code == 0, result.stderr
    return out


def _variable_ops(graph_def) -> dict[str, str]:
    return {n.name: n.op for n in graph_def.node if n.op in ("VariableV2", "VarHandleOp", "Variable")}


def test_graph_pbtxt_is_a_graphdef_with_the_planned_variables(built, tf):
    from google.protobuf import text_format

    graph_def = text_format.Parse((built / "graph.pbtxt").read_text(), tf.compat.v1.GraphDef())
    assert sorted(_variable_ops(graph_def)) == sorted(SIAMESE_VARIABLES)
    names = {n.name for n in graph_def.node}
    assert {"left", "right", "tower/fc1/MatMul", "tower_1/fc1/MatMul", "tower_1/fc2/BiasAdd"} <= names
    assert not any(re.search(r"kernel_\d|bias_\d", n) for n in names)


def test_model_meta_has_the_serving_signature(built, tf):
    meta = tf.compat.v1.MetaGraphDef()
    meta.ParseFromString((built / "model.meta").read_bytes())
    signature = meta.signature_def["serving_default"]
    assert {k: v.name for k, v in signature.inputs.items()} == {"left": "left:0", "right": "right:0"}
    assert list(signature.outputs) == ["distance"]
    output_op = signature.outputs["distance"].name.split(":")[0]
    assert output_op.startswith("distance/")
    graph_nodes = {n.name for n in meta.graph_def.node}
    assert output_op in graph_nodes
    assert set(SIAMESE_VARIABLES) <= graph_nodes
    assert meta.saver_def.filename_tensor_name  # a session can restore it


def test_plan_json_lists_the_planned_variables(built):
    data = json.loads((built / "plan.json").read_text())
    variables = data["plan"]["variables"]
    assert [v["name"] for v in variables] == SIAMESE_VARIABLES
    assert [v["shape"] for v in variables] == [[10, 64], [64], [64, 16], [16]]
    assert [v["name"] for v in variables] == [v.name for v in specc.plan(SIAMESE).variables]
    assert [r["name"] for r in data["report"]["variables"]] == SIAMESE_VARIABLES


def test_the_event_file_holds_the_graph(built, tf):
    graphs = event_graph_defs(built, tf)
    assert len(graphs) == 1
    names = {n.name for n in graphs[0].node}
    assert {"tower/fc1/MatMul", "tower_1/fc1/MatMul", "tower_1/fc2/MatMul"} <= names
    assert sorted(_variable_ops(graphs[0])) == sorted(SIAMESE_VARIABLES)
