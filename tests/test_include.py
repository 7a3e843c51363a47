"""`base:` and `include:`: merge rules, paths relative to the spec file, cycles, errors located in the base."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import specc
from specc.errors import SpecError
from specc.overrides import parse

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENTS = ROOT / "specs" / "experiments"

BASE = """\
specc: 1
name: base_model
vars: {hidden: 8, width: 4}
inputs:
  x: {shape: [null, "${width}"]}
  y: {shape: [null, 2]}
layers:
  - {id: first, type: dense, input: x, units: "${hidden}", activation: relu}
  - id: encoder
    type: block
    layers:
      - {id: inner, type: dense, units: "${hidden}"}
      - {id: extra, type: dense, units: "${hidden}"}
  - {id: drop, type: dropout, rate: 0.1}
  - {id: head, type: dense, units: 2}
outputs: [head]
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def base(tmp_path) -> Path:
    return write(tmp_path / "models", "base.yaml", BASE)


def ids(layers: list) -> list[str]:
    return [layer["id"] for layer in layers]


# -- merge rules ----------------------------------------------------------------------------

def test_layers_merge_by_id_remove_and_append(tmp_path, base):
    child = write(tmp_path / "exp", "child.yaml", """\
        specc: 1
        base: ../models/base.yaml
        vars: {hidden: 16}                      # mappings merge: width stays 4
        layers:
          - {id: drop, remove: true}            # removed
          - {id: first, activation: tanh}       # merged into the base's 'first', in its place
          - id: encoder
            layers:
              - {id: extra, remove: true}       # nested lists of layers merge by id too
              - {id: added, type: dense, units: 3}
          - {id: tail, type: identity, input: head}   # a new id: appended
        outputs: [tail]                          # other lists replace
    """)
    data = specc.resolve(child).data
    assert data["name"] == "base_model"
    assert data["vars"] == {"hidden": 16, "width": 4}
    assert ids(data["layers"]) == ["first", "encoder", "head", "tail"]
    assert data["layers"][0] == {"id": "first", "type": "dense", "input": "x", "units": 16, "activation": "tanh"}
    assert ids(data["layers"][1]["layers"]) == ["inner", "added"]
    assert data["outputs"] == ["tail"]
    assert "base" not in data
    plan = specc.plan(child)
    assert [v.name for v in plan.variables][:2] == ["first/kernel", "first/bias"]


def test_replace_true_replaces_a_layer_whole(tmp_path, base):
    child = write(tmp_path, "child.yaml", """\
        specc: 1
        base: models/base.yaml
        layers:
          - {id: first, replace: true, type: activation, input: x, activation: relu}
    """)
    first = specc.resolve(child).data["layers"][0]
    assert first == {"id": "first", "type": "activation", "input": "x", "activation": "relu"}


def test_include_merges_in_order_after_base(tmp_path, base):
    write(tmp_path, "wide.yaml", "vars: {hidden: 32}\n")
    write(tmp_path, "wider.yaml", "vars: {hidden: 64}\nseed: 3\n")
    child = write(tmp_path, "child.yaml", """\
        specc: 1
        base: models/base.yaml
        include: [wide.yaml, wider.yaml]
        vars: {width: 2}
    """)
    data = specc.resolve(child).data
    assert data["vars"] == {"hidden": 64, "width": 2} and data["seed"] == 3


def test_bases_of_bases_resolve_against_their_own_files(tmp_path, base):
    middle = write(tmp_path / "models" / "variants", "middle.yaml", """\
        specc: 1
        base: ../base.yaml
        vars: {hidden: 12}
    """)
    child = write(tmp_path / "exp", "child.yaml", "specc: 1\nbase: ../models/variants/middle.yaml\nseed: 5\n")
    data = specc.resolve(child).data
    assert (data["vars"]["hidden"], data["seed"]) == (12, 5)
    assert middle.is_file()


def test_relative_paths_do_not_depend_on_the_working_directory(tmp_path, base, monkeypatch):
    write(tmp_path / "exp", "child.yaml", "specc: 1\nbase: ../models/base.yaml\nvars: {hidden: 3}\n")
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    plan = specc.plan(Path("../../exp/child.yaml"))
    assert plan.name == "base_model" and plan.variables[0].shape == (4, 3)


def test_overrides_apply_after_the_merge(tmp_path, base):
    child = write(tmp_path, "child.yaml", "specc: 1\nbase: models/base.yaml\nvars: {hidden: 3}\n")
    data = specc.resolve(child, overrides=[parse("vars.hidden=5"), parse("layers.encoder.inner.units=7")]).data
    assert data["layers"][0]["units"] == 5 and data["layers"][1]["layers"][0]["units"] == 7


def test_the_example_experiment_extends_its_base():
    plan = specc.plan(EXPERIMENTS / "width_and_sharing.yaml")
    base = specc.plan(EXPERIMENTS / "small_encoder.yaml")
    assert [v.name for v in plan.variables] == [v.name for v in base.variables]
    data = specc.resolve(EXPERIMENTS / "width_and_sharing.yaml").data
    assert data["train"]["steps"] == 50 and data["train"]["loss"] == "softmax_cross_entropy"


# -- errors -----------------------------------------------------------------------------------

def test_an_error_in_the_base_points_into_the_base(tmp_path):
    base = write(tmp_path / "models", "base.yaml", BASE.replace("activation: relu", "activation: relux"))
    child = write(tmp_path / "exp", "child.yaml", "specc: 1\nbase: ../models/base.yaml\nvars: {hidden: 16}\n")
    with pytest.raises(SpecError) as info:
        specc.plan(child)
    e = info.value
    assert Path(e.where.file).resolve() == base.resolve()
    assert (e.where.line, e.where.path) == (8, ("layers", 0, "activation"))
    assert "relux" in e.render() and "did you mean 'relu'" in e.message
    assert "  - {id: first, type: dense" in e.render()  # the base's own line, with its caret


def test_an_error_in_the_child_points_into_the_child(tmp_path, base):
    child = write(tmp_path, "child.yaml", """\
        specc: 1
        base: models/base.yaml
        layers:
          - {id: head, units: -2}
    """)
    with pytest.raises(SpecError) as info:
        specc.plan(child)
    assert (info.value.where.file, info.value.where.line) == (str(child), 4)


def test_a_missing_base_is_reported_at_the_base_key(tmp_path):
    child = write(tmp_path, "child.yaml", "specc: 1\nbase: nothere.yaml\n")
    with pytest.raises(SpecError, match="no such file 'nothere.yaml'") as info:
        specc.load(child)
    assert (info.value.where.line, info.value.where.col, info.value.where.path) == (2, 7, ("base",))


def test_bases_in_a_cycle_are_an_error(tmp_path):
    write(tmp_path, "a.yaml", "specc: 1\nbase: b.yaml\n")
    write(tmp_path, "b.yaml", "specc: 1\ninclude: [c.yaml]\n")
    write(tmp_path, "c.yaml", "specc: 1\nbase: a.yaml\n")
    with pytest.raises(SpecError, match="bases extend each other in a cycle") as info:
        specc.load(tmp_path / "a.yaml")
    message = info.value.message
    assert message.count("a.yaml") == 2 and "b.yaml" in message and "c.yaml" in message
    assert info.value.where.file.endswith("c.yaml")


def test_a_spec_that_extends_itself_is_a_cycle(tmp_path):
    write(tmp_path, "self.yaml", "specc: 1\nbase: self.yaml\n")
    with pytest.raises(SpecError, match="cycle"):
        specc.load(tmp_path / "self.yaml")


@pytest.mark.parametrize("layers,message", [
    ("  - {id: frist, remove: true}", "the base has no layer 'frist' here to remove; did you mean 'first'?"),
    ("  - {id: first, remove: true, units: 3}", "a removed layer takes only `id` and `remove`"),
    ("  - {id: first, remove: yes please}", "`remove:` is true or false"),
    ("  - {id: first, remove: true, replace: true}", "either removed or replaced"),
    ("  - {id: first, units: 3}\n  - {id: first, units: 4}", "layer 'first' is written twice"),
])
def test_bad_merge_markers(tmp_path, base, layers, message):
    child = write(tmp_path, "child.yaml", f"specc: 1\nbase: models/base.yaml\nlayers:\n{layers}\n")
    with pytest.raises(SpecError, match=message.replace("(", r"\(")) as info:
        specc.load(child)
    assert info.value.where.file == str(child)


def test_markers_without_a_base_are_an_error():
    text = "specc: 1\ninputs:\n  x: {shape: [null, 2]}\nlayers:\n  - {id: a, type: identity, remove: true}\n"
    with pytest.raises(SpecError, match="only means something in a spec with `base:`") as info:
        specc.loads(text, "m.yaml")
    assert (info.value.where.line, info.value.where.path) == (5, ("layers", 0, "remove"))


def test_a_bad_base_value_is_located(tmp_path):
    with pytest.raises(SpecError, match="the path of one spec file"):
        specc.loads("specc: 1\nbase: [a.yaml]\n", str(tmp_path / "m.yaml"))


def test_the_schema_lets_an_editor_accept_a_file_with_a_base():
    import jsonschema

    from specc.validate import schema as the_schema

    schema = the_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    assert validator.is_valid({"specc": 1, "base": "small.yaml", "sweep": {"vars.hidden": [1, 2]}, "train": {"steps": 5}}) is False  # train needs loss and labels
    assert validator.is_valid({"specc": 1, "base": "small.yaml", "sweep": {"vars.hidden": [1, 2]}})
    assert not validator.is_valid({"specc": 1})  # without a base, inputs and layers are required


# -- docs/experiments.md: every YAML example is a spec file shown verbatim, or builds ----------------

def test_the_experiments_page_examples(tmp_path):
    import re
    import shutil

    text = (ROOT / "docs" / "experiments.md").read_text("utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    assert len(blocks) >= 3
    shutil.copy(EXPERIMENTS / "small_encoder.yaml", tmp_path / "small_encoder.yaml")
    for i, block in enumerate(blocks):
        first, _, rest = block.partition("\n")
        shown = re.fullmatch(r"# (specs/experiments/\S+\.yaml)( \(the end\))?", first)
        if shown:
            source = (ROOT / shown.group(1)).read_text("utf-8")
            assert source.endswith(rest) if shown.group(2) else source == rest, shown.group(1)
        else:
            path = tmp_path / f"example{i}.yaml"
            path.write_text(block)
            assert specc.plan(path).variables, block


LEAF = "specc: 1\ninputs:\n  x: {shape: [null, 4]}\nlayers:\n  - {id: fc, type: dense, units: 2}\n"


def test_a_chain_of_bases_deeper_than_the_limit_is_a_located_error(tmp_path):
    """1,500 files, each the base of the one before: a located error at the 100th `base:`, not a RecursionError."""
    for i in range(1500):
        (tmp_path / f"b{i}.yaml").write_text(f"specc: 1\nbase: b{i + 1}.yaml\n" if i < 1499 else LEAF)
    with pytest.raises(SpecError, match=r"more than 100 files deep \(specc.limits.Limits.max_depth\)") as info:
        specc.plan(tmp_path / "b0.yaml")
    assert (Path(info.value.where.file).name, info.value.where.line, info.value.where.col) == ("b99.yaml", 2, 7)
    for i in range(99):  # 99 levels are fine
        (tmp_path / f"c{i}.yaml").write_text(f"specc: 1\nbase: c{i + 1}.yaml\n" if i < 98 else LEAF)
    assert specc.plan(tmp_path / "c0.yaml").parameters == 10


def test_includes_that_repeat_cannot_multiply_without_bound(tmp_path):
    """Each file includes the next one twice: 2**40 reads. Refused after 1,000 files, quickly."""
    for i in range(40):
        (tmp_path / f"d{i}.yaml").write_text(f"specc: 1\ninclude: [d{i + 1}.yaml, d{i + 1}.yaml]\n" if i < 39 else LEAF)
    with pytest.raises(SpecError, match="reads more than 1,000 files through `base:` and `include:`"):
        specc.plan(tmp_path / "d0.yaml")
