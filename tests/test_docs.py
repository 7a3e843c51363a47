"""Every YAML example in README.md and docs/ that is a whole spec is planned and built."""

from __future__ import annotations

import re

import pytest

import specc

from .conftest import ROOT

BLOCK = re.compile(r"```yaml\n(specc: 1\n.*?)```", re.S)
EXAMPLES = [(md.name, i, text) for md in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
            for i, text in enumerate(BLOCK.findall(md.read_text("utf-8")))]


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
