"""Stage 1: loading keeps locations, refuses unsafe or ambiguous YAML, and interpolates vars."""

from __future__ import annotations

import pytest

from specc.errors import SpecError
from specc.interpolate import interpolate
from specc.read import Limits, loads


def test_every_node_has_its_line_and_column():
    doc = loads("specc: 1\nlayers:\n  - id: a\n    units: 3\n", "m.yaml")
    assert doc.where(("layers", 0, "units")).line == 4
    assert doc.where(("layers", 0, "units")).col == 12
    assert doc.where(("layers", 0, "units"), at_key=True).col == 5
    assert doc.where(("layers", 0, "missing")).line == 3  # falls back to the nearest ancestor


def test_python_tags_are_refused_not_executed():
    with pytest.raises(SpecError, match="unsupported YAML tag") as e:
        loads("specc: !!python/object/apply:os.system ['echo pwned']\n", "m.yaml")
    assert (e.value.where.line, e.value.where.col) == (1, 8)


def test_duplicate_keys_are_an_error():
    with pytest.raises(SpecError, match=r"duplicate key 'units' \(first set at line 2\)") as e:
        loads("id: a\nunits: 3\nunits: 4\n", "m.yaml")
    assert e.value.where.line == 3


def test_alias_bombs_are_refused_quickly():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 9):
        bomb += f"{chr(97 + i)}: &{chr(97 + i)} [*{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}]\n"
    with pytest.raises(SpecError, match="billion laughs"):
        loads(bomb, "m.yaml", Limits(max_alias_nodes=10_000))


def test_merge_keys_fill_unset_keys():
    doc = loads("base: &b {units: 3, activation: relu}\nlayer: {<<: *b, units: 5}\n")
    assert doc.data["layer"] == {"units": 5, "activation": "relu"}


def test_merge_keys_own_keys_win_wherever_written_and_the_first_source_wins():
    doc = loads("a: &a {units: 3, use_bias: false}\nb: &b {units: 4, activation: relu, use_bias: true}\n"
                "layer:\n  units: 5\n  <<: [*a, *b]\n")
    assert doc.data["layer"] == {"units": 5, "use_bias": False, "activation": "relu"}
    assert doc.where(("layer", "units")).line == 4  # the layer's own value, not the merged one
    assert doc.where(("layer", "activation")).line == 2


def test_a_big_spec_written_out_in_full_loads():
    """The alias budget counts what aliases add: 300,000 plain nodes are not a bomb."""
    text = "vars:\n  big: [" + ", ".join(["0"] * 300_000) + "]\n"
    assert len(loads(text, "big.yaml").data["vars"]["big"]) == 300_000


def test_aliases_within_budget_expand_and_point_at_their_anchor():
    doc = loads("x: &x {shape: [null, 4]}\ny: *x\n", "m.yaml", Limits(max_alias_nodes=4))
    assert doc.data["y"] == {"shape": [None, 4]}
    assert doc.where(("y", "shape", 1)).line == 1
    with pytest.raises(SpecError, match="aliases expand to more than 3 nodes"):
        loads("x: &x {shape: [null, 4]}\ny: *x\n", "m.yaml", Limits(max_alias_nodes=3))


@pytest.mark.parametrize("text,message", [
    (b"specc: 1\nname: \xff\n", "not valid UTF-8"),
    ("", "the file is empty"),
    ("specc: 1\n---\nspecc: 1\n", "several YAML documents"),
    ("specc: [1\n", "malformed YAML"),
])
def test_unreadable_files_get_one_clear_error(text, message):
    with pytest.raises(SpecError, match=message):
        loads(text, "m.yaml")


def _interp(text):
    return interpolate(loads(text, "m.yaml")).data


def test_whole_placeholders_keep_their_type_and_embedded_ones_become_text():
    data = _interp("vars: {h: 64, act: relu}\na: ${h}\nb: 'w${h}'\nc: ${act}\nd: $${h}\n")
    assert data["a"] == 64 and data["b"] == "w64" and data["c"] == "relu" and data["d"] == "${h}"


def test_arithmetic_and_references_between_vars():
    data = _interp("vars: {h: 64, ff: '${h * 4}', half: '${h / 2}'}\na: ${ff + 1}\nb: ${half}\n")
    assert data["a"] == 257 and data["b"] == 32 and isinstance(data["b"], int)


@pytest.mark.parametrize("text,message,line", [
    ("vars: {hidden: 1}\na: ${hiden}\n", "undefined var 'hiden'; did you mean 'hidden'?", 2),
    ("vars: {a: '${b}', b: '${a}'}\nx: ${a}\n", "cycle: a -> b -> a", 1),
    ("vars: {a: 1}\nx: ${a.__class__}\n", "uses something expressions do not allow", 2),
    ("vars: {a: 1}\nx: ${a +}\n", "not a valid expression", 2),
    ("vars: {a: 0}\nx: ${1 / a}\n", "cannot evaluate", 2),
])
def test_bad_interpolation_is_located(text, message, line):
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace("?", r"\?")) as e:
        _interp(text)
    assert e.value.where.line == line


def test_plain_values_are_read_by_yaml_1_2_core_schema():
    """As editors, check-jsonschema and ajv read them (docs/editors.md)."""
    doc = loads("a: no\nb: 1e-3\nc: 0o17\nd: 017\ne: -.inf\nf: y\ng: TRUE\nh: ~\ni: 0x1F\nj: 1_000\n"
                "k: 2001-01-01\nl: -.5\nm: on\nn: 3.\n", "m.yaml")
    assert doc.data == {"a": "no", "b": 0.001, "c": 15, "d": 17, "e": float("-inf"), "f": "y", "g": True,
                        "h": None, "i": 31, "j": "1_000", "k": "2001-01-01", "l": -0.5, "m": "on", "n": 3.0}


def test_dumped_text_reads_back_as_written_by_yaml_1_1_and_1_2_readers():
    import yaml

    from specc.read import dump

    data = {"words": ["no", "yes", "on", "y", "1e-3", "0o17", "1_000", "plain"], "numbers": [1e-3, 17, True]}
    text = dump(data)
    assert loads(text, "m.yaml").data == data
    assert yaml.safe_load(text) == data  # PyYAML's own YAML 1.1 reading agrees


def test_each_alias_gets_its_own_copy_of_the_anchor():
    doc = loads("x: &x {shape: [null, 4]}\ny: *x\nz: *x\n", "m.yaml")
    assert doc.data["y"] == doc.data["z"] == doc.data["x"]
    assert doc.data["y"] is not doc.data["x"] and doc.data["y"]["shape"] is not doc.data["z"]["shape"]


@pytest.mark.parametrize("text,message,where", [
    ("a: *nope\n", "found undefined alias 'nope'", (1, 4)),
    ("a: {<<: [1, 2]}\n", "`<<` merges only mappings", (1, 10)),
    ("a: {<<: x}\n", "`<<` merges only mappings", (1, 9)),
    ("? [a, b]\n: 1\n", "mapping keys must be plain scalars", (1, 3)),
    ("a: !!int x\n", "'x' is not a valid !!int", (1, 4)),
    ("a: &k [1]\n*k : 2\n", "mapping keys must be plain scalars", (2, 1)),
])
def test_what_yaml_allows_and_a_spec_does_not_is_located(text, message, where):
    with pytest.raises(SpecError, match=message.replace("[", r"\[")) as e:
        loads(text, "m.yaml")
    assert (e.value.where.line, e.value.where.col) == where


def test_an_aliased_scalar_can_be_a_key():
    assert loads("a: &k name\n*k : 2\n", "m.yaml").data == {"a": "name", "name": 2}
