"""Coverage-guided fuzzing of load -> interpolate -> validate -> plan (no TensorFlow).

    pip install -e '.[fuzz]'
    python fuzz/fuzz_spec.py fuzz/corpus -max_total_time=600 -rss_limit_mb=4096

Every input must end in a plan or in a SpecError; any other exception is a crash
that libFuzzer saves as crash-<hash> for a regression test. The corpus starts
from specs/ and tests/invalid/ (copied in by `--seed`).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import atheris

with atheris.instrument_imports():
    # The stages import each other lazily: import them here, so that every one is instrumented.
    from specc import compose, expand, interpolate, planner, spec, validate  # noqa: F401
    from specc.api import parse, plan
    from specc.errors import SpecError
    from specc.experiments import training  # noqa: F401
    from specc.read import Limits, loads

ROOT = Path(__file__).resolve().parent.parent
LIMITS = Limits(max_file_bytes=64 * 1024, max_alias_nodes=20_000, max_depth=50)


def one_input(data: bytes) -> None:
    try:
        plan(parse(loads(data, "fuzz.yaml", LIMITS), LIMITS))
    except SpecError as e:
        assert e.where.line >= 1 and e.where.col >= 1, e


def seed(corpus: Path) -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    for source in sorted((ROOT / "specs").glob("*.yaml")) + sorted((ROOT / "tests/invalid").glob("*.yaml")):
        shutil.copy(source, corpus / source.name)


if __name__ == "__main__":
    if "--seed" in sys.argv:
        seed(Path(sys.argv[sys.argv.index("--seed") + 1]))
        sys.exit(0)
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
