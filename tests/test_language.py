"""The spec language is defined once: the checked-in schemas and the docs' layer table are generated
from the layer registry, and third-party validators accept what specc accepts."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import jsonschema
import pytest

import specc
from specc import language
from specc.layers import LAYER_TYPES

from .conftest import ROOT, SPECS

SCHEMAS = ROOT / "schemas"
SPEC_FILES = sorted(SPECS.rglob("*.yaml"))
WHOLE_SPEC = re.compile(r"```yaml\n(specc: 1\n.*?)```", re.S)
DOC_EXAMPLES = [(md.name, i, text) for md in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
                for i, text in enumerate(WHOLE_SPEC.findall(md.read_text("utf-8")))]

# Mistakes both schemas refuse, as a person would write them.
BROKEN = {
    "unknown_type": "layers: [{id: a, type: densse, units: 3}]",
    "unknown_key": "layers: [{id: a, type: dense, units: 3, unitz: 4}]",
    "wrong_value_type": "layers: [{id: a, type: dense, units: eight}]",
    "bad_share": "layers: [{id: a, type: dense, units: 3, share: 5}]",
    "layers_as_mapping": "layers: {a: {type: dense, units: 3}}",
    "missing_required_param": "layers: [{id: a, type: dense}]",
    "bad_nested_key": "layers: [{id: r, type: rnn, cell: {type: lstm, units: 4, peepholes: true}}]",
}


def _check_jsonschema() -> str:
    found = shutil.which("check-jsonschema") or str(Path(sys.executable).with_name("check-jsonschema"))
    if not Path(found).exists():
        pytest.skip("check-jsonschema is not installed (pip install check-jsonschema): schemas not checked by a "
                    "third-party validator")
    return found


def run_check(schema_file: Path, files: list[Path]) -> dict:
    """check-jsonschema's JSON report on `files`."""
    done = subprocess.run([_check_jsonschema(), "--schemafile", str(schema_file), "--output-format", "json",
                           *map(str, files)], capture_output=True, text=True, timeout=300)
    assert done.stdout, done.stderr
    return json.loads(done.stdout)


# -- generated, never stale ---------------------------------------------------------------------

@pytest.mark.parametrize("mode", sorted(language.FILES))
def test_checked_in_schema_is_generated_from_the_registry(mode):
    written = (SCHEMAS / language.FILES[mode]).read_text("utf-8")
    assert written == language.dumps(mode), "stale schema: run `specc schema --write`"


def test_docs_layer_table_is_generated_from_the_registry():
    page = (ROOT / "docs" / "spec-language.md").read_text("utf-8")
    assert language.table_in(page) == language.layer_table(), "stale table: run `specc schema --write`"
    for name in LAYER_TYPES:
        assert f"| `{name}` |" in language.table_in(page)


def test_schema_write_writes_both_files(tmp_path):
    from typer.testing import CliRunner

    from specc.cli import app

    result = CliRunner().invoke(app, ["schema", "--write", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(language.FILES.values())
    for mode, name in language.FILES.items():
        assert (tmp_path / name).read_text("utf-8") == language.dumps(mode)


@pytest.mark.parametrize("mode", language.MODES)
def test_schemas_are_valid_draft_2020_12(mode):
    jsonschema.Draft202012Validator.check_schema(language.schema(mode))


# -- editor help --------------------------------------------------------------------------------

def _property_schemas(node, where=""):
    """Every (path, schema) under a `properties` mapping, anywhere in a schema."""
    if isinstance(node, dict):
        for key, sub in (node.get("properties") or {}).items():
            yield f"{where}.{key}", sub
        for key, sub in node.items():
            if key != "properties" or not isinstance(sub, dict):
                yield from _property_schemas(sub, f"{where}/{key}")
            else:
                for name, prop in sub.items():
                    yield from _property_schemas(prop, f"{where}.{name}")
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            yield from _property_schemas(sub, f"{where}[{i}]")


@pytest.mark.parametrize("mode", sorted(language.FILES))
def test_every_property_has_a_description(mode):
    doc = language.schema(mode)
    undescribed = []
    for path, sub in _property_schemas(doc):
        if not isinstance(sub, dict) or "description" in sub:
            continue
        if "$ref" in sub:
            target = doc["$defs"][sub["$ref"].split("/")[-1]]
            if "description" in target:
                continue
        if "/if" in path or "/then" in path or "/else" in path:
            continue  # conditions and branches refine properties described at the top
        undescribed.append(path)
    assert undescribed == []


def test_every_layer_type_is_described_with_an_example_and_defaults():
    defs = language.schema("written")["$defs"]
    for name, kind in LAYER_TYPES.items():
        definition = defs[f"layer_{name}"]
        assert definition["description"] == kind.doc
        assert "```yaml" in definition["markdownDescription"]
        assert definition["examples"] and definition["examples"][0]["type"] == name
        for p in kind.params:
            sub = definition["properties"][p.name]
            assert sub["description"] == p.doc
            if p.default is not None and p.default is not language.NO_DEFAULT:
                assert sub["default"] == json.loads(json.dumps(p.default))
    assert defs["layer_dense"]["properties"]["activation"]["default"] == "linear"


def test_every_layer_example_is_valid_for_its_own_type():
    """The examples editors show are what specc accepts (as a layer of the resolved language)."""
    defs = language.schema("resolved")["$defs"]
    for name, kind in LAYER_TYPES.items():
        validator = jsonschema.Draft202012Validator({"$defs": defs, "$ref": f"#/$defs/layer_{name}"})
        assert list(validator.iter_errors(kind.example)) == [], name


# -- third-party validators ---------------------------------------------------------------------

def test_written_schema_accepts_every_example_spec_and_doc_example(tmp_path):
    docs = []
    for doc, i, text in DOC_EXAMPLES:
        path = tmp_path / f"{Path(doc).stem}_{i}.yaml"
        path.write_text(text, encoding="utf-8")
        docs.append(path)
    assert len(SPEC_FILES) >= 15 and len(docs) >= 4
    report = run_check(SCHEMAS / language.FILES["written"], SPEC_FILES + docs)
    assert report["errors"] == [] and report["status"] == "ok"


def test_resolved_schema_accepts_every_resolved_spec(tmp_path):
    from typer.testing import CliRunner

    from specc.cli import app

    files = []
    for spec in SPEC_FILES:
        result = CliRunner().invoke(app, ["resolve", str(spec)])
        assert result.exit_code == 0, result.output
        path = tmp_path / spec.name
        path.write_text(result.stdout, encoding="utf-8")
        files.append(path)
    report = run_check(SCHEMAS / language.FILES["resolved"], files)
    assert report["errors"] == [] and report["status"] == "ok"


@pytest.mark.parametrize("mode", sorted(language.FILES))
def test_both_schemas_refuse_the_same_mistakes(tmp_path, mode):
    files = []
    for name, layers in BROKEN.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(f"specc: 1\ninputs: {{x: {{shape: [null, 3]}}}}\n{layers}\n", encoding="utf-8")
        files.append(path)
    missing = tmp_path / "missing_specc.yaml"
    missing.write_text("inputs: {x: {shape: [null, 3]}}\nlayers: [{id: a, type: dense, units: 3}]\n", "utf-8")
    files.append(missing)
    report = run_check(SCHEMAS / language.FILES[mode], files)
    assert sorted({Path(e["filename"]).stem for e in report["errors"]}) == sorted(f.stem for f in files)


def test_written_schema_takes_expressions_and_partial_derived_specs(tmp_path):
    derived = tmp_path / "derived.yaml"
    derived.write_text(textwrap.dedent("""\
        specc: 1
        base: base.yaml
        vars: {hidden: 32}
        layers:
          - {id: encoder, share: false}
          - {id: old, remove: true}
          - {id: head, type: dense, units: "${hidden * 2}"}
        train: {steps: 10}
    """), encoding="utf-8")
    report = run_check(SCHEMAS / language.FILES["written"], [derived])
    assert report["status"] == "ok", report["errors"]
    report = run_check(SCHEMAS / language.FILES["resolved"], [derived])
    assert report["status"] == "fail"  # the resolved language has no base, no patches, no expressions


def test_specc_refuses_what_the_schemas_refuse(tmp_path):
    for name, layers in BROKEN.items():
        with pytest.raises(specc.SpecError):
            specc.loads(f"specc: 1\ninputs: {{x: {{shape: [null, 3]}}}}\n{layers}\n", f"{name}.yaml")


def test_schema_write_outside_a_checkout_asks_where(monkeypatch):
    from typer.testing import CliRunner

    from specc.cli import app

    monkeypatch.setattr(language, "checkout", lambda: None)  # an installed wheel: no schemas/ to update
    result = CliRunner().invoke(app, ["schema", "--write"])
    assert result.exit_code == 2
    assert "not a source checkout of specc; say where to write with --output DIR" in result.output
