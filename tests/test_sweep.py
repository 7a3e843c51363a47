"""Sweeps: variant names, the grid built in worker processes, summaries, resuming after a kill.

Every sweep here imports TensorFlow in its workers (spawned processes), so the
sweeps are few and their models tiny.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from specc.experiments import sweep
from specc.cli import app
from specc.errors import SpecError
from specc.limits import Limits
from specc.overrides import parse

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENT = ROOT / "specs" / "experiments" / "width_and_sharing.yaml"
SMALL = ROOT / "specs" / "experiments" / "small_encoder.yaml"
NAMES = ["hidden=16,encoder.share=true", "hidden=16,encoder.share=false",
         "hidden=32,encoder.share=true", "hidden=32,encoder.share=false"]
RUN_FILES = {"resolved.yaml", "overrides.json", "plan.json", "graph.pbtxt", "model.meta", "run.json", "metrics.json",
             "checkpoint", "model.ckpt.index", "model.ckpt.data-00000-of-00001", ".specc-build.json"}


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def staging(directory: Path, variants_only: bool = False) -> list[str]:
    """Temporaries in an experiment's directory: a variant being written (a directory), or a summary file."""
    return sorted(p.name for p in directory.iterdir()
                  if (".tmp-" in p.name or ".old-" in p.name) and (p.is_dir() or not variants_only))


# -- the grid and its names (no TensorFlow) ---------------------------------------------------

def test_the_example_experiment_has_four_named_variants():
    exp = sweep.experiment(EXPERIMENT)
    assert exp.name == "width_and_sharing"
    assert [v.name for v in exp.variants] == NAMES
    assert [o.text for o in exp.variants[1].overrides] == ["vars.hidden=16", "layers.encoder.share=false"]


def test_names_are_readable_stable_and_safe():
    axes = (("vars.hidden", (64, 128)), ("train.learning_rate", (0.01,)), ("inputs.x.shape", ([None, 8],)),
            ("layers.a.b.name_scope", ("x/y",)))
    names = [v.name for v in sweep.variants(axes)]
    assert names == ["hidden=64,learning_rate=0.01,inputs.x.shape=_null__8_,a.b.name_scope=x_y",
                     "hidden=128,learning_rate=0.01,inputs.x.shape=_null__8_,a.b.name_scope=x_y"]
    assert names == [v.name for v in sweep.variants(axes)]  # the same every time


def test_labels_that_would_coincide_keep_their_whole_paths():
    axes = (("vars.share", (True,)), ("layers.share", (False,)))
    assert [v.name for v in sweep.variants(axes)] == ["vars.share=true,layers.share=false"]


def test_names_that_sanitise_alike_or_run_long_get_a_hash():
    names = [v.name for v in sweep.variants((("vars.s", ("a/b", "a:b")),))]
    assert len(set(names)) == 2 and all(n.startswith("s=a_b-") and len(n) == len("s=a_b-") + 8 for n in names)
    (long,) = sweep.variants((("vars.s", ("x" * 300,)),))
    assert len(long.name) <= 120 and long.name[-9] == "-"


def test_cli_sets_come_before_the_sweep_values():
    exp = sweep.experiment(EXPERIMENT, [parse("train.steps=5")])
    assert [o.text for o in exp.variants[0].overrides] == ["train.steps=5", "vars.hidden=16", "layers.encoder.share=true"]


def test_an_unknown_sweep_path_is_located_at_its_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"specc: 1\nbase: {EXPERIMENT}\nsweep:\n  vars.hidden: [8]\n  layers.encodr.share: [true]\n")
    with pytest.raises(SpecError, match="sweep path 'layers.encodr.share': no layer 'encodr' in 'layers'; "
                                        "did you mean 'encoder'") as info:
        sweep.experiment(bad)
    assert (info.value.where.line, info.value.where.col) == (5, 3)


def test_a_sweep_value_must_be_a_list(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"specc: 1\nbase: {EXPERIMENT}\nsweep:\n  vars.hidden: 8\n")
    with pytest.raises(SpecError, match="needs a non-empty list"):
        sweep.experiment(bad)


def _unsharable(tmp_path: Path) -> Path:
    """Two of its four variants set `share: true` on the head, whose scope nothing created."""
    exp = tmp_path / "exp.yaml"
    exp.write_text(f"specc: 1\nexperiment: unsharable\nbase: {SMALL}\nsweep:\n  vars.hidden: [4, 8]\n"
                   "  layers.logits.share: [false, true]\ntrain: {steps: 2}\n")
    return exp


SHARE_ERROR = (f"{SMALL}:21:5: layers[4].share: variant hidden={{}},logits.share=true (vars.hidden={{}}, "
               "layers.logits.share=true): `share: true`, but nothing has created variables in scope 'logits' yet")


def test_every_variant_is_planned_and_each_failing_one_reported(tmp_path):
    exp = sweep.experiment(_unsharable(tmp_path))
    failed = sweep.plan_variants(exp)
    assert [f.variant.name for f in failed] == ["hidden=4,logits.share=true", "hidden=8,logits.share=true"]
    errors = sweep.variant_errors(failed).errors
    assert [(e.where.file, e.where.line, e.where.col, e.where.path) for e in errors] == [
        (str(SMALL), 21, 5, ("layers", 4, "share"))] * 2
    assert [e.render().startswith(SHARE_ERROR.format(n, n)) for e, n in zip(errors, (4, 8))] == [True, True]
    assert sweep.plan_variants(sweep.experiment(EXPERIMENT)) == []


def test_validate_plans_every_variant_of_a_sweep(tmp_path):
    result = invoke("validate", _unsharable(tmp_path))
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith(str(SMALL))]
    assert len(lines) == 2
    assert [line.startswith(SHARE_ERROR.format(n, n)) for line, n in zip(lines, (4, 8))] == [True, True]
    ok = invoke("validate", EXPERIMENT)
    assert ok.exit_code == 0 and ok.stdout.strip().endswith("1,299 parameters, 4 variants planned)")


def test_a_sweep_with_a_variant_that_does_not_plan_starts_no_worker(tmp_path):
    result = invoke("sweep", _unsharable(tmp_path), "-o", tmp_path / "runs")
    assert result.exit_code == 1
    assert SHARE_ERROR.format(8, 8) in result.stderr
    assert not (tmp_path / "runs").exists()  # refused before any directory, worker or TensorFlow


def test_a_dry_run_plans_every_variant_and_builds_nothing(tmp_path):
    result = invoke("sweep", EXPERIMENT, "-o", tmp_path / "runs", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"{name}: plans" for name in NAMES] + [
        "4 variants, 4 plan; nothing built (--dry-run)"]
    bad = invoke("sweep", _unsharable(tmp_path), "-o", tmp_path / "runs", "--dry-run", "--keep-going", "-f", "json")
    assert bad.exit_code == 1
    rows = json.loads(bad.stdout)["variants"]
    assert [(r["variant"], r["plans"]) for r in rows] == [
        ("hidden=4,logits.share=false", True), ("hidden=4,logits.share=true", False),
        ("hidden=8,logits.share=false", True), ("hidden=8,logits.share=true", False)]
    assert rows[1]["overrides"] == ["vars.hidden=4", "layers.logits.share=true"]
    assert rows[1]["error"].startswith(f"{SMALL}:21:5: layers[4].share: `share: true`, but nothing has created")
    assert not (tmp_path / "runs").exists()


def _grid(tmp_path: Path, keys: int, values: int) -> Path:
    exp = tmp_path / "grid.yaml"
    axes = "".join(f"  vars.k{i}: {list(range(values))}\n" for i in range(keys))
    exp.write_text(f"specc: 1\nbase: {SMALL}\nvars: {{{', '.join(f'k{i}: 0' for i in range(keys))}}}\n"
                   f"sweep:\n{axes}")
    return exp


@pytest.mark.parametrize("command", ["validate", "sweep"])
def test_a_grid_too_big_is_refused_before_it_is_expanded(tmp_path, command, monkeypatch):
    monkeypatch.setattr(sweep, "variants", lambda *a: pytest.fail("the grid was expanded"))
    result = invoke(command, _grid(tmp_path, 10, 10), *(["-o", tmp_path / "runs"] if command == "sweep" else []))
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"{tmp_path / 'grid.yaml'}:5:3: sweep: the grid has 10,000,000,000 variants (10 x 10 x 10 x 10 x 10 x 10 x 10 "
        "x 10 x 10 x 10 values), more than the limit of 10,000: sweep fewer values, draw some with "
        "`sample: {n: N}`, or lift the limit with --max-variants N")
    assert not (tmp_path / "runs").exists()


def test_the_variant_limit_is_lifted_on_purpose(tmp_path):
    grid = _grid(tmp_path, 2, 3)
    refused = invoke("validate", grid, "--max-variants", "8")
    assert refused.exit_code == 1 and "the grid has 9 variants (3 x 3 values), more than the limit of 8" in refused.stderr
    assert invoke("validate", grid, "--max-variants", "9").exit_code == 0
    with pytest.raises(SpecError, match="the grid has 9 variants"):
        sweep.experiment(grid, limits=Limits(max_variants=8))


# -- zip: and sample: (no TensorFlow) -----------------------------------------------------------

ZIPPED = ROOT / "specs" / "experiments" / "depth_and_rate.yaml"
SAMPLED = ["hidden=16,encoder.share=true,depth=1,learning_rate=0.02",
           "hidden=16,encoder.share=true,depth=2,learning_rate=0.01",
           "hidden=16,encoder.share=true,depth=3,learning_rate=0.005",
           "hidden=32,encoder.share=true,depth=1,learning_rate=0.02",
           "hidden=32,encoder.share=true,depth=3,learning_rate=0.005",
           "hidden=32,encoder.share=false,depth=3,learning_rate=0.005"]


def _experiment(tmp_path: Path, sweep_text: str, name: str = "exp.yaml") -> Path:
    exp = tmp_path / name
    exp.write_text(f"specc: 1\nexperiment: forms\nbase: {SMALL}\nsweep:\n{sweep_text}train: {{steps: 2}}\n")
    return exp


def test_zip_advances_its_lists_together_as_one_axis_of_the_grid(tmp_path):
    exp = sweep.experiment(_experiment(tmp_path, "  vars.hidden: [8, 16]\n  zip:\n    vars.depth: [1, 2, 3]\n"
                                                 "    train.learning_rate: [0.1, 0.01, 0.001]\n"))
    assert [v.name for v in exp.variants] == [
        "hidden=8,depth=1,learning_rate=0.1", "hidden=8,depth=2,learning_rate=0.01",
        "hidden=8,depth=3,learning_rate=0.001", "hidden=16,depth=1,learning_rate=0.1",
        "hidden=16,depth=2,learning_rate=0.01", "hidden=16,depth=3,learning_rate=0.001"]
    assert [o.text for o in exp.variants[4].overrides] == ["vars.hidden=16", "vars.depth=2", "train.learning_rate=0.01"]
    assert exp.axes == (("vars.hidden", (8, 16)), ("vars.depth", (1, 2, 3)), ("train.learning_rate", (0.1, 0.01, 0.001)))
    assert exp.zipped == ("vars.depth", "train.learning_rate") and exp.sample is None
    alone = sweep.experiment(_experiment(tmp_path, "  zip: {vars.depth: [1, 2], vars.hidden: [4, 8]}\n"))
    assert [v.name for v in alone.variants] == ["depth=1,hidden=4", "depth=2,hidden=8"]
    assert sweep.plan_variants(alone) == []


@pytest.mark.parametrize("sweep_text, message, line_col, path", [
    ("  zip:\n    vars.depth: [1, 2, 3]\n    vars.hidden: [4, 8]\n",
     "zip path 'vars.hidden' has 2 values but 'vars.depth' has 3: the lists of `zip:` advance together, so they "
     "need the same length", (7, 18), ("sweep", "zip", "vars.hidden")),
    ("  zip:\n    vars.depth: [1, 2]\n    vars.hidden: [4, 8, 16]\n",
     "zip path 'vars.hidden' has 3 values but 'vars.depth' has 2", (7, 18), ("sweep", "zip", "vars.hidden")),
    ("  zip: [1, 2]\n", "`zip:` maps override paths to lists of the same length", (5, 8), ("sweep", "zip")),
    ("  zip: {vars.depth: 3}\n", "zip path 'vars.depth' needs a non-empty list", (5, 21), ("sweep", "zip", "vars.depth")),
    ("  vars.depth: [1, 2]\n  zip: {vars.depth: [1, 2], vars.hidden: [4, 8]}\n",
     "sweep path 'vars.depth' is both in `zip:` and a grid path of `sweep:`: give it once", (6, 9),
     ("sweep", "zip", "vars.depth")),
    ("  zip: {vars.depth: [1, 2], layers.encodr.share: [true, false]}\n",
     "sweep path 'layers.encodr.share': no layer 'encodr' in 'layers'; did you mean 'encoder'", (5, 29),
     ("sweep", "zip", "layers.encodr.share")),
    ("  vars.hidden: [4, 8]\n  sample: {n: 3, seed: 0}\n",
     "`sample:` draws 3 distinct variants, but the sweep has only 2 (2 values): draw at most 2, or leave out "
     "`sample:` to run them all", (6, 15), ("sweep", "sample", "n")),
    ("  vars.hidden: [4, 8]\n  sample: {n: 0}\n", "`sample: n` is the number of variants to draw: a positive "
     "integer", (6, 15), ("sweep", "sample", "n")),
    ("  vars.hidden: [4, 8]\n  sample: {n: 1, seed: x}\n", "`sample: seed` is an integer", (6, 24),
     ("sweep", "sample", "seed")),
    ("  vars.hidden: [4, 8]\n  sample: {count: 1}\n", "`sample:` is {n: N, seed: S}", (6, 11), ("sweep", "sample")),
    ("  sample: {n: 1}\n", "`sweep:` has nothing to vary", (5, 3), ("sweep",)),
])
def test_a_bad_zip_or_sample_is_located(tmp_path, sweep_text, message, line_col, path):
    file = _experiment(tmp_path, sweep_text)
    with pytest.raises(SpecError) as info:
        sweep.experiment(file)
    assert info.value.message.startswith(message)
    assert (info.value.where.file, (info.value.where.line, info.value.where.col), info.value.where.path) == (
        str(file), line_col, path)
    result = invoke("validate", file)
    assert result.exit_code == 1 and result.stderr.startswith(f"{file}:{line_col[0]}:{line_col[1]}: ")


def test_a_sample_draws_distinct_variants_the_same_every_time():
    exp = sweep.experiment(ZIPPED)
    assert [v.name for v in exp.variants] == SAMPLED
    assert exp.sample == sweep.Sample(6, 0)
    axes = [sweep.Axis(("vars.k",), tuple((i,) for i in range(50)))]
    ten = [v.name for v in sweep.variants(axes, sample=sweep.Sample(10, 3))]
    twenty = [v.name for v in sweep.variants(axes, sample=sweep.Sample(20, 3))]
    assert len(set(twenty)) == 20 and set(ten) < set(twenty)  # without replacement; more draws keep the first ones
    assert twenty == sorted(twenty, key=lambda n: int(n.split("=")[1]))  # in grid order
    assert ten != [v.name for v in sweep.variants(axes, sample=sweep.Sample(10, 4))]
    every = [v.name for v in sweep.variants(axes, sample=sweep.Sample(50, 3))]
    assert every == [f"k={i}" for i in range(50)]  # n = the grid's size: all of it


def test_a_sample_is_the_same_in_processes_with_different_hash_seeds():
    code = ("from specc.experiments import sweep; "
            f"print([v.name for v in sweep.experiment({str(ZIPPED)!r}).variants])")
    outputs = set()
    for seed in ("0", "1", "12345", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        outputs.add(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                   check=True, timeout=120).stdout)
    assert outputs == {f"{SAMPLED}\n"}


def test_a_sample_is_counted_by_its_n_and_never_expands_the_grid(tmp_path, monkeypatch):
    huge = _grid(tmp_path, 10, 10)  # 10,000,000,000 points
    huge.write_text(huge.read_text() + "  sample: {n: 4, seed: 7}\n")
    monkeypatch.setattr(sweep.itertools, "product", lambda *a: pytest.fail("the grid was expanded"))
    exp = sweep.experiment(huge)
    assert len(exp.variants) == 4 and len({v.name for v in exp.variants}) == 4
    assert [v.name for v in exp.variants] == [v.name for v in sweep.experiment(huge).variants]
    refused = invoke("validate", huge, "--max-variants", "3")
    assert refused.exit_code == 1 and refused.stderr.startswith(
        f"{huge}:15:15: sweep.sample.n: `sample:` draws 4 variants, more than the limit of 3: draw fewer, or lift "
        "the limit with --max-variants N")


def test_every_example_experiment_validates():
    files = sorted((ROOT / "specs" / "experiments").glob("*.yaml"))
    assert ZIPPED in files and EXPERIMENT in files
    for file in files:
        result = invoke("validate", file)
        assert result.exit_code == 0, (file, result.stderr)


def test_the_schema_knows_zip_and_sample():
    import jsonschema

    from specc.validate import schema as the_schema

    schema = the_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    base = {"specc": 1, "base": "small.yaml"}
    assert validator.is_valid({**base, "sweep": {"vars.a": [1], "zip": {"vars.b": [1, 2]}, "sample": {"n": 2, "seed": 1}}})
    assert not validator.is_valid({**base, "sweep": {"vars.a": [1], "sample": {"seed": 1}}})
    assert not validator.is_valid({**base, "sweep": {"zip": {"vars.b": 2}}})


def test_a_directory_is_complete_only_with_its_marker_its_key_and_unedited_files(tmp_path):
    from specc.builddir import staged
    from specc.experiments.runs import prepare, run_key

    exp = sweep.experiment(EXPERIMENT)
    job = sweep.Job(str(EXPERIMENT), exp.variants[0], str(tmp_path / "v"))
    (tmp_path / "v").mkdir()
    row = {"overrides": [o.text for o in exp.variants[0].overrides], "parameters": 1}
    (tmp_path / "v" / "run.json").write_text(json.dumps(row))
    assert sweep.complete(job) is None  # every file but the marker: half-written
    prepared = prepare(EXPERIMENT, exp.variants[0].overrides, drop=("sweep",))
    with staged(tmp_path / "v", str(EXPERIMENT), run_key(prepared, train=True)) as tmp:  # it has `train:`
        (tmp / "run.json").write_text(json.dumps(row))
    assert sweep.complete(job) == row
    other = sweep.Job(str(EXPERIMENT), exp.variants[1], str(tmp_path / "v"))
    assert sweep.complete(other) is None  # made by other overrides
    (tmp_path / "v" / "run.json").write_text(json.dumps({**row, "parameters": 2}))
    assert sweep.complete(job) is None  # edited since


def _die_on_b(job):
    """A stand-in for run_variant, run in a spawned worker: the worker building 'b' dies."""
    if job.variant.name == "b":
        os._exit(9)
    time.sleep(0.2)
    return {"variant": job.variant.name, "status": "ok"}


def test_a_worker_that_dies_fails_only_its_variant(tmp_path):
    jobs = [sweep.Job("x.yaml", sweep.Variant(n, (), ()), str(tmp_path / n)) for n in "abcd"]
    rows: list[dict] = []
    sweep._pool(jobs, 2, rows.append, work=_die_on_b)
    assert sorted((r["variant"], r["status"]) for r in rows) == [("a", "ok"), ("b", "failed"), ("c", "ok"), ("d", "ok")]
    assert "worker process died" in next(r["error"] for r in rows if r["variant"] == "b")


# -- sweeps -----------------------------------------------------------------------------------

def test_a_four_variant_sweep_in_two_processes(tmp_path):
    result = invoke("sweep", EXPERIMENT, "-o", tmp_path, "--jobs", "2")
    assert result.exit_code == 0, result.stderr + result.stdout
    out = tmp_path / "width_and_sharing"
    for name in NAMES:
        assert name in result.stdout
        assert RUN_FILES <= {p.name for p in (out / name).iterdir()}, name
    assert "4 variants: 4 built, 0 reused, 0 failed" in result.stdout

    summary = json.loads((out / "summary.json").read_text())
    assert (summary["experiment"], summary["ok"], summary["failed"]) == ("width_and_sharing", 4, 0)
    assert summary["sweep"] == {"vars.hidden": [16, 32], "layers.encoder.share": [True, False]}
    rows = {v["variant"]: v for v in summary["variants"]}
    assert list(rows) == NAMES
    shared, unshared = rows["hidden=32,encoder.share=true"], rows["hidden=32,encoder.share=false"]
    assert (shared["variables"], unshared["variables"]) == (10, 22)
    assert shared["shared_parameters"] > 0 and unshared["shared_parameters"] == 0
    assert shared["parameters"] < unshared["parameters"]
    assert all(v["steps"] == 50 and v["final_loss"] < v["first_loss"] for v in rows.values())
    assert rows["hidden=16,encoder.share=true"]["values"] == {"vars.hidden": 16, "layers.encoder.share": True}

    with open(out / "summary.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["variant"] for r in table] == NAMES
    assert table[1]["vars.hidden"] == "16" and table[1]["layers.encoder.share"] == "false"
    assert table[3]["parameters"] == str(unshared["parameters"]) and float(table[3]["final_loss"]) > 0

    variant = out / "hidden=32,encoder.share=false"
    resolved = yaml.safe_load((variant / "resolved.yaml").read_text())
    assert "sweep" not in resolved and resolved["layers"][0]["units"] == 32
    assert json.loads((variant / "overrides.json").read_text())["overrides"][1] == {
        "set": "layers.encoder.share", "value": False, "from": "sweep", "path": "layers[1].share"}
    assert staging(out) == []

    again = invoke("sweep", EXPERIMENT, "-o", tmp_path, "-f", "json")  # everything is complete: nothing is built
    assert again.exit_code == 0
    assert [v.get("reused") for v in json.loads(again.stdout)["variants"]] == [True] * 4


def test_a_failed_variant_is_reported_and_the_others_go_on(tmp_path):
    exp = tmp_path / "exp.yaml"
    exp.write_text(f"specc: 1\nexperiment: partly\nbase: {SMALL}\nsweep:\n  vars.hidden: [4, -1]\n"
                   "train: {steps: 3}\n")
    result = invoke("sweep", exp, "-o", tmp_path / "runs", "--keep-going")
    assert result.exit_code == 1
    out = tmp_path / "runs" / "partly"
    assert (out / "hidden=4" / ".specc-build.json").is_file() and not (out / "hidden=-1").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["ok"], summary["failed"]) == (1, 1)
    failed = summary["variants"][1]
    assert failed["status"] == "failed" and "small_encoder.yaml:11:47: layers[0].units: -1 is out of range" in failed["error"]
    assert "-1 is out of range" in result.stdout  # in the table
    assert "variant hidden=-1 failed" in result.stderr


def test_resume_after_a_killed_sweep(tmp_path):
    """SIGKILL the whole sweep while a variant is half-written; the re-run builds only what is missing."""
    out = tmp_path / "width_and_sharing"
    command = [sys.executable, "-m", "specc.cli", "sweep", str(EXPERIMENT), "-o", str(tmp_path), "-q",
               "--set", "train.steps=400"]  # slow enough to be caught in the middle
    env = {**os.environ, "NO_COLOR": "1"}
    process = subprocess.Popen(command, start_new_session=True, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline and process.poll() is None:
            finished = [p for p in out.glob("hidden=*") if p.is_dir()] if out.exists() else []
            if finished and staging(out, variants_only=True):  # a variant half-written (not a summary's tmp file)
                break
            time.sleep(0.005)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert staging(out, variants_only=True), "the sweep finished before it could be killed mid-variant"
    complete_before = {p.name for p in out.glob("hidden=*") if (p / ".specc-build.json").is_file()}
    assert {p.name for p in out.glob("hidden=*")} == complete_before  # nothing half-written under a variant's name
    assert 1 <= len(complete_before) < 4

    result = invoke("sweep", EXPERIMENT, "-o", tmp_path, "-f", "json", "--set", "train.steps=400")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)["variants"]
    assert {r["variant"] for r in rows if r.get("reused")} == complete_before
    assert {r["variant"] for r in rows if not r.get("reused")} == set(NAMES) - complete_before
    assert all(r["status"] == "ok" for r in rows)
    assert staging(out) == []
    assert all(RUN_FILES <= {p.name for p in (out / n).iterdir()} for n in NAMES)


def test_force_rebuilds_complete_variants(tmp_path):
    exp = tmp_path / "one.yaml"
    exp.write_text(f"specc: 1\nexperiment: one\nbase: {SMALL}\nsweep: {{vars.hidden: [4]}}\ntrain: {{steps: 2}}\n")
    assert invoke("sweep", exp, "-o", tmp_path / "runs").exit_code == 0
    variant = tmp_path / "runs" / "one" / "hidden=4"
    inode = variant.stat().st_ino
    reused = json.loads(invoke("sweep", exp, "-o", tmp_path / "runs", "-f", "json").stdout)["variants"][0]
    assert reused.get("reused") and variant.stat().st_ino == inode
    forced = json.loads(invoke("sweep", exp, "-o", tmp_path / "runs", "-f", "json", "--force").stdout)["variants"][0]
    assert not forced.get("reused") and variant.stat().st_ino != inode


def test_a_sampled_sweep_runs_and_a_larger_n_resumes_it(tmp_path):
    """The same seed with a larger n keeps the variants already drawn: the re-run reuses them."""
    text = "  vars.hidden: [4, 8, 16]\n  zip: {vars.depth: [1, 2], train.learning_rate: [0.02, 0.01]}\n"
    first = invoke("sweep", _experiment(tmp_path, text + "  sample: {n: 2, seed: 1}\n"), "-o", tmp_path / "runs")
    assert first.exit_code == 0, first.stderr + first.stdout
    summary = json.loads((tmp_path / "runs" / "forms" / "summary.json").read_text())
    assert summary["sample"] == {"n": 2, "seed": 1} and summary["zip"] == ["vars.depth", "train.learning_rate"]
    drawn = [v["variant"] for v in summary["variants"]]
    assert drawn == [v.name for v in sweep.experiment(tmp_path / "exp.yaml").variants] and len(drawn) == 2
    assert summary["variants"][0]["values"] == dict(sweep.experiment(tmp_path / "exp.yaml").variants[0].values)
    more = invoke("sweep", _experiment(tmp_path, text + "  sample: {n: 4, seed: 1}\n"), "-o", tmp_path / "runs",
                  "-f", "json")
    assert more.exit_code == 0, more.stderr
    rows = json.loads(more.stdout)["variants"]
    assert len(rows) == 4 and {r["variant"] for r in rows if r.get("reused")} == set(drawn)
    assert all(r["status"] == "ok" for r in rows)


def test_the_docs_dry_run_of_a_sample_is_what_specc_prints(tmp_path):
    text = (ROOT / "docs" / "experiments.md").read_text("utf-8")
    command = "$ specc sweep specs/experiments/depth_and_rate.yaml -o runs/ --dry-run\n"
    shown = text.split(command, 1)[1].split("```", 1)[0].splitlines()
    result = invoke("sweep", ZIPPED, "-o", tmp_path / "runs", "--dry-run")
    assert result.exit_code == 0 and result.stdout.splitlines() == shown == [f"{n}: plans" for n in SAMPLED] + [
        "6 variants, 6 plan; nothing built (--dry-run)"]
