"""Shared fixtures: TensorFlow imported once, quietly, through specc's own importer."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"

# A spec whose leading comment block holds this line is too big to initialise and run in
# every test run (BERT-Base: 110M parameters; ~9 s of test_examples.py, which peaked at 2.5 GB): the
# run-every-spec tests (test_examples.py) only plan it, and test_golden.py compares its plan
# with its golden file without building it. Its `_tiny` sibling, the same file with smaller
# vars, is built and run instead, and tests/test_bert_albert.py builds the big graph once.
PLAN_ONLY = "# specc-test: plan-only"


def plan_only(path: Path) -> bool:
    """Whether the spec file's leading comment block carries the plan-only marker."""
    for line in path.read_text("utf-8").splitlines():
        if not line.startswith("#"):
            return False
        if line.strip() == PLAN_ONLY:
            return True
    return False


@pytest.fixture(scope="session", autouse=True)
def stencil_cache(tmp_path_factory):
    """One stencil cache for the whole run (specc.emit.stencils), which the commands' processes inherit:
    tests never write to the user's cache, and a layer signature's stencil is built once per run."""
    with pytest.MonkeyPatch.context() as patch:
        directory = tmp_path_factory.mktemp("specc-cache")
        patch.setenv("SPECC_CACHE_DIR", str(directory))
        yield directory / "stencils"


@pytest.fixture(scope="session")
def tf():
    from specc.emit.tfimport import tensorflow

    return tensorflow()



SAVED_MODEL_CLI = str(Path(sys.executable).with_name("saved_model_cli"))


def saved_model_cli(*args: str) -> str:
    """What TensorFlow's own `saved_model_cli` prints (it ships with TensorFlow), run as a process."""
    import subprocess

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([SAVED_MODEL_CLI, *args], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def event_graph_defs(directory: Path, tf) -> list:
    """The GraphDefs in the one TensorBoard event file of a build directory."""
    (events,) = directory.glob("events.out.tfevents.*")  # the file `tensorboard --logdir` reads
    graphs = []
    for event in tf.compat.v1.train.summary_iterator(str(events)):
        if event.graph_def:
            graph_def = tf.compat.v1.GraphDef()
            graph_def.ParseFromString(event.graph_def)
            graphs.append(graph_def)
    return graphs

# `SPECC_HYPOTHESIS_PROFILE=deep pytest tests/test_properties.py` searches far longer than CI does.
from hypothesis import HealthCheck, settings  # noqa: E402

PROFILE = os.environ.get("SPECC_HYPOTHESIS_PROFILE", os.environ.get("HYPOTHESIS_PROFILE", "default"))
settings.register_profile("default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("deep", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(PROFILE)


def pytest_terminal_summary(terminalreporter):
    """What the property tests generated: examples, refusals, layer types, and how many had sharing."""
    module = sys.modules.get("tests.test_properties")
    if module is None or not module.STATS["examples"]:
        return
    write = terminalreporter.write_line
    terminalreporter.section(f"property tests against TensorFlow's own layers (profile {PROFILE})")
    for name, counts in module.STATS.items():
        if counts:
            write(f"{name}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))))
