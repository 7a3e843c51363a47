"""Every YAML example in README.md and docs/ that is a whole spec is planned and built; every Python
example marked to run is run in a process of its own, and what it prints is compared with the doc."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

import specc

from .conftest import ROOT

BLOCK = re.compile(r"```yaml\n(specc: 1\n.*?)```", re.S)
EXAMPLES = [(md.name, i, text) for md in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
            for i, text in enumerate(BLOCK.findall(md.read_text("utf-8")))]


RUN = re.compile(r"<!-- run by tests/test_docs.py[^>]*-->\n```python\n(.*?)```\n+prints\n+```text\n(.*?)```", re.S)
PROGRAMS = [(md.name, i, code, printed) for md in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
            for i, (code, printed) in enumerate(RUN.findall(md.read_text("utf-8")))]


def test_the_docs_have_examples():
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("doc,index,text", EXAMPLES, ids=[f"{d}#{i}" for d, i, _ in EXAMPLES])
def test_doc_example_builds(tf, doc, index, text):
    model = specc.build(specc.loads(text, f"{doc}#{index}"))
    assert model.outputs


def test_residual_example_names(tf):
    text = next(t for d, _, t in EXAMPLES if "res_y" in t)
    model = specc.build(specc.loads(text, "res.yaml"))
    assert sorted(model.variables) == ["res/fc/bias", "res/fc/kernel"]
    ops = {op.name for op in model.graph.get_operations()}
    assert {"res/fc/MatMul", "res/sum/Add", "res_y/fc/MatMul", "res_y/sum/Add"} <= ops


def test_the_docs_have_programs():
    assert "scoping.md" in {doc for doc, *_ in PROGRAMS}


@pytest.mark.parametrize("doc,index,code,printed", PROGRAMS, ids=[f"{d}#{i}" for d, i, *_ in PROGRAMS])
def test_doc_program_prints_what_the_doc_says(doc, index, code, printed):
    # From the repository root, as a reader runs it; this checkout's specc first.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout == printed
