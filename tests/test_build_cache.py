"""The build cache: an unchanged build is reused (without TensorFlow); any change builds again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from specc import buildcache
from specc.cli import app

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "siamese.yaml"
REUSED, WROTE = "reused ", "wrote "


def invoke(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.stdout


def built(*args) -> str:
    """'reused' or 'wrote': what `specc build` did."""
    out = invoke("build", *args)
    assert (REUSED in out) != (WROTE in out), out
    return "reused" if REUSED in out else "wrote"


@pytest.fixture
def spec(tmp_path):
    copy = tmp_path / "siamese.yaml"
    copy.write_text(SPEC.read_text())
    return copy


def test_an_unchanged_build_is_reused_without_importing_tensorflow(spec, tmp_path):
    out = tmp_path / "out"
    assert built(spec, "-o", out) == "wrote"
    marker = json.loads((out / ".specc-build.json").read_text())
    files = sorted(p.name for p in out.iterdir() if p.name != ".specc-build.json")
    assert sorted(marker["sha256"]) == files and len(marker["key"]) == 64
    script = textwrap.dedent("""
        import sys
        from specc.cli import app
        try:
            app(["build", sys.argv[1], "-o", sys.argv[2], "-f", "json"])
        except SystemExit as e:
            assert e.code == 0, e.code
        print("TENSORFLOW", "tensorflow" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", script, str(spec), str(out)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    report, imported = done.stdout.rsplit("TENSORFLOW ", 1)
    assert imported.strip() == "False"
    result = json.loads(report)
    assert result["reused"] is True and len(result["report"]["variables"]) == 4
    assert json.loads((out / ".specc-build.json").read_text()) == marker  # not written again


def test_a_changed_spec_override_option_or_version_builds_again(spec, tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert built(spec, "-o", out) == "wrote"
    assert built(spec, "-o", out) == "reused"
    assert built(spec, "-o", out, "--set", "vars.hidden=8") == "wrote"  # an override
    assert built(spec, "-o", out, "--set", "vars.hidden=8") == "reused"
    assert built(spec, "-o", out, "--ps-tasks", "2", "--set", "vars.hidden=8") == "wrote"  # an option
    assert built(spec, "-o", out, "--ps-tasks", "2", "--set", "vars.hidden=8") == "reused"
    assert built(spec, "-o", out) == "wrote"
    assert built(spec, "-o", out, "--emit", "python") == "wrote"  # the same graph, but not the same model.meta
    assert built(spec, "-o", out, "--emit", "python") == "reused"
    assert built(spec, "-o", out, "--emit", "stamp") == "wrote"  # stamp is the default
    spec.write_text(spec.read_text() + "\n# a comment changes nothing built\n")
    assert built(spec, "-o", out) == "reused"
    assert "hidden: 64" in spec.read_text()
    spec.write_text(spec.read_text().replace("hidden: 64", "hidden: 12"))  # the spec itself
    assert built(spec, "-o", out) == "wrote"
    versions = buildcache._versions()
    monkeypatch.setattr(buildcache, "_versions", lambda: {**versions, "tensorflow": "tensorflow 9.9.9"})
    assert built(spec, "-o", out) == "wrote"  # another TensorFlow
    assert built(spec, "-o", out) == "reused"
    monkeypatch.setattr(buildcache, "_versions", lambda: None)  # a TensorFlow whose version cannot be told
    assert built(spec, "-o", out) == "wrote"
    assert built(spec, "-o", out) == "wrote"


def test_no_cache_builds_again(spec, tmp_path):
    out = tmp_path / "out"
    assert built(spec, "-o", out) == "wrote"
    inode = out.stat().st_ino
    assert built(spec, "-o", out, "--no-cache") == "wrote"
    assert out.stat().st_ino != inode  # a new directory, swapped in whole
    assert built(spec, "-o", out) == "reused"


@pytest.mark.parametrize("tamper", ["edit", "delete", "marker"])
def test_an_edited_or_partly_deleted_build_is_built_again(spec, tmp_path, tamper):
    out = tmp_path / "out"
    assert built(spec, "-o", out) == "wrote"
    graph = (out / "graph.pbtxt").read_text()
    if tamper == "edit":
        (out / "graph.pbtxt").write_text(graph + " ")
    elif tamper == "delete":
        (out / "model.meta").unlink()
    else:  # a marker that lost its digests: a build by an older specc
        marker = json.loads((out / ".specc-build.json").read_text())
        (out / ".specc-build.json").write_text(json.dumps({k: marker[k] for k in ("spec_file", "files")}))
    assert built(spec, "-o", out) == "wrote"
    assert (out / "graph.pbtxt").read_text() == graph and (out / "model.meta").is_file()
    assert built(spec, "-o", out) == "reused"


def test_the_checkpoint_of_init_from_is_part_of_the_key(tmp_path):
    prefix = tmp_path / "ckpt" / "model.ckpt"
    prefix.parent.mkdir()
    (tmp_path / "ckpt" / "model.ckpt.index").write_bytes(b"a")
    (tmp_path / "ckpt" / "other.ckpt.index").write_bytes(b"b")
    before = buildcache.file_stamp(prefix)
    assert before == buildcache.file_stamp(prefix)
    assert buildcache.file_stamp(prefix.parent) != before  # the directory names every file in it
    (tmp_path / "ckpt" / "other.ckpt.index").write_bytes(b"bb")
    assert buildcache.file_stamp(prefix) == before  # another checkpoint beside it
    (tmp_path / "ckpt" / "model.ckpt.index").write_bytes(b"aa")
    assert buildcache.file_stamp(prefix) != before
    os.utime(prefix.parent / "model.ckpt.index", ns=(1, 1))
    assert buildcache.file_stamp(prefix) != before
    assert buildcache.file_stamp(None) is None


def test_tensorflow_s_version_is_read_without_importing_it():
    import tensorflow as tf

    assert buildcache._versions()["tensorflow"] == f"tensorflow {tf.__version__}"


def test_a_sweep_reuses_the_variants_that_did_not_change(spec, tmp_path, monkeypatch):
    from specc.experiments import runs

    exp = tmp_path / "exp.yaml"
    exp.write_text(f"specc: 1\nexperiment: e\nbase: {spec.name}\nsweep: {{vars.embedding: [4, 8]}}\n")

    def reused(*args) -> list[bool]:
        rows = json.loads(invoke("sweep", exp, "-o", tmp_path / "runs", "-f", "json", *args))["variants"]
        return [bool(r.get("reused")) for r in rows]

    assert reused() == [False, False]
    prepared = []
    monkeypatch.setattr(runs, "prepare", lambda *args, prepare=runs.prepare, **kw: prepared.append(args[1]) or
                        prepare(*args, **kw))
    text = invoke("sweep", exp, "-o", tmp_path / "runs")
    assert "embedding=4 (reused)" in text and "0 built, 2 reused" in text
    assert len(prepared) == 2  # once per variant: planned, then checked for reuse with that plan
    monkeypatch.undo()
    (tmp_path / "runs" / "e" / "embedding=8" / "resolved.yaml").write_text("edited")
    assert reused() == [True, False]  # the edited one is built again
    spec.write_text(spec.read_text().replace("hidden: 64", "hidden: 12"))
    assert reused() == [False, False]  # the base spec changed
    assert reused() == [True, True]


def test_the_plan_is_rendered_once_for_the_key_and_plan_json(spec, tmp_path, monkeypatch):
    from specc.experiments import runs

    rendered = []
    plan_json = runs.plan_json
    monkeypatch.setattr(runs, "plan_json", lambda plan: rendered.append(plan) or plan_json(plan))
    assert built(spec, "-o", tmp_path / "out") == "wrote"
    assert len(rendered) == 1
    written = json.loads((tmp_path / "out" / "plan.json").read_text())["plan"]
    assert written == plan_json(rendered[0])
