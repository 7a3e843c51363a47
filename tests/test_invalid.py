"""Bad specs get one clear, located SpecError, never a traceback.

Every file in tests/invalid/ is one mistake. Its first line says what specc must
report:

    # expect: LINE:COL: SPEC.PATH: MESSAGE SUBSTRING

An optional second line marks a known bug, as a strict xfail of some checks:

    # xfail: reason                 (every check fails today: no SpecError at all)
    # xfail(message,path): reason   (only these checks fail today)

The checks are `message` (line, column and message substring), `path` (the spec
path) and `render` (the `file:line:col: path: message` text and caret excerpt).

The last section builds the equivalent hand-written tf.compat.v1 graphs and shows
what TensorFlow does with the same mistakes: silently renamed variables
(`tower/kernel_1`) or a ValueError far from the spec line that caused it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import specc
from specc import errors
from specc.errors import SpecError

HERE = Path(__file__).parent
INVALID = HERE / "invalid"
SIAMESE = HERE.parent / "specs" / "siamese.yaml"

_EXPECT = re.compile(r"^# expect: (\d+):(\d+): (\S+): (.+)$")
_XFAIL = re.compile(r"^# xfail(?:\(([a-z,]+)\))?: (.+)$")
ASPECTS = ("message", "path", "render")


@dataclass(frozen=True)
class Case:
    file: Path
    line: int
    col: int
    path: str
    message: str
    xfail: str | None = None  # why some checks fail today
    xfail_aspects: tuple[str, ...] = ()  # which ones


def read_case(file: Path) -> Case:
    lines = file.read_text("utf-8").splitlines()
    m = _EXPECT.match(lines[0]) if lines else None
    if m is None:
        raise AssertionError(f"{file.name}: the first line must be '# expect: LINE:COL: PATH: MESSAGE'")
    xfail, aspects = None, ()
    x = _XFAIL.match(lines[1]) if len(lines) > 1 else None
    if x is not None:
        xfail = x.group(2)
        aspects = tuple(x.group(1).split(",")) if x.group(1) else ASPECTS
        assert set(aspects) <= set(ASPECTS), f"{file.name}: unknown check in {lines[1]!r}"
    return Case(file, int(m.group(1)), int(m.group(2)), m.group(3), m.group(4), xfail, aspects)


FILES = sorted(INVALID.glob("*.yaml"))
CASES = [read_case(f) for f in FILES]


def params(aspect: str) -> list:
    out = []
    for case in CASES:
        failing = aspect in case.xfail_aspects
        marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if failing else []
        out.append(pytest.param(case, id=case.file.stem, marks=marks))
    return out


def plan_error(file: Path | str) -> SpecError:
    """specc.plan(file) must raise SpecError; any other exception fails the test as it is."""
    with pytest.raises(SpecError) as info:
        specc.plan(file)
    return info.value


def test_the_invalid_corpus_covers_the_listed_mistakes():
    names = {f.stem for f in FILES}
    assert len(names) >= 30
    for required in ["malformed_yaml", "python_object_tag", "duplicate_key", "several_documents", "empty",
                     "unknown_key_unitz", "wrong_type_units", "unknown_layer_type_desne",
                     "unknown_input_reference", "layer_cycle", "forward_reference", "duplicate_sibling_ids",
                     "same_scope_without_share", "same_scope_different_name_scopes",
                     "share_true_nothing_to_reuse", "share_kernel_shape_mismatch", "share_unknown_path",
                     "shared_block_extra_layer", "scope_with_space", "scope_with_colon",
                     "scope_leading_underscore", "undefined_var", "var_cycle", "scope_differs_only_by_case",
                     "name_only_block_kernel_clash", "specc_version_2", "missing_layers",
                     "dropout_training_not_bool"]:
        assert required in names


@pytest.mark.parametrize("case", params("message"))
def test_message_and_position(case: Case):
    e = plan_error(case.file)
    assert e.where.file == str(case.file)
    assert (e.where.line, e.where.col) == (case.line, case.col), e.render()
    assert case.message in e.message, e.render()


@pytest.mark.parametrize("case", params("path"))
def test_spec_path(case: Case):
    e = plan_error(case.file)
    assert errors.format_path(e.where.path) == case.path, e.render()


@pytest.mark.parametrize("case", params("render"))
def test_render_is_file_line_col_path_message_with_caret(case: Case):
    e = plan_error(case.file)
    source = case.file.read_text("utf-8").splitlines()
    for x in getattr(e, "errors", [e]):
        assert x.where.line >= 1 and x.where.col >= 1 and x.message
        rendered = x.render().split("\n")
        assert rendered[0] == f"{x.where.file}:{x.where.line}:{x.where.col}: {errors.format_path(x.where.path)}: {x.message}"
        text = source[x.where.line - 1] if x.where.line <= len(source) else ""
        if text.strip() and not text.lstrip().startswith("#"):
            # A real source line: the excerpt shows it with a caret under the column.
            assert x.source_line == text
            # A layer that a template or repeat made also says how it came to be.
            via = [f"    expanded from: {'; '.join(x.where.via)}"] if x.where.via else []
            assert rendered[1:] == [f"    {text}", "    " + " " * (x.where.col - 1) + "^"] + via
            assert x.where.col <= len(text) + 1
    assert "Traceback" not in e.render()


# -- the same mistakes, checked more closely ------------------------------------------------

def test_unknown_key_did_you_mean_is_reported():
    """Whatever comes first, the typo itself is reported, at the key, with the suggestion."""
    e = plan_error(INVALID / "unknown_key_unitz.yaml")
    found = [x for x in getattr(e, "errors", [e]) if "unitz" in x.message]
    assert found, e.render()
    x = found[0]
    assert (x.where.line, x.where.col, errors.format_path(x.where.path)) == (9, 5, "layers[0].unitz")
    assert "did you mean 'units'?" in x.message


def test_unknown_layer_type_did_you_mean_is_reported():
    e = plan_error(INVALID / "unknown_layer_type_desne.yaml")
    found = [x for x in getattr(e, "errors", [e]) if errors.format_path(x.where.path) == "layers[0].type"]
    assert found, e.render()
    assert "did you mean 'dense'?" in found[0].message
    assert found[0].where.line == 8


@pytest.mark.parametrize("name", ["same_scope_without_share", "same_scope_different_name_scopes"])
def test_same_scope_names_both_layers_and_both_lines(name):
    e = plan_error(INVALID / f"{name}.yaml")
    assert "'second'" in e.message and "'first'" in e.message
    assert "(line 6)" in e.message and e.where.line == 7  # the first layer's line, and this one's
    assert "share: true" in e.message  # the fix
    if "name_scopes" in name:
        assert "name_scope does not separate variables" in e.message


def test_share_shape_mismatch_names_variable_shapes_and_layers():
    e = plan_error(INVALID / "share_kernel_shape_mismatch.yaml")
    for part in ["'tower/fc/kernel'", "[8, 3]", "[4, 3]", "'right_tower.fc'", "'left_tower.fc'"]:
        assert part in e.message


def test_case_only_difference_explains_the_trap():
    e = plan_error(INVALID / "scope_differs_only_by_case.yaml")
    assert "'Tower/kernel'" in e.message and "'upper'" in e.message
    assert "case-insensitively" in e.message


@pytest.mark.parametrize("tag", [
    '!!python/object/apply:os.system ["touch {marker}"]',
    '!!python/object/apply:subprocess.check_call [["touch", "{marker}"]]',
    '!!python/object/new:subprocess.Popen [["touch", "{marker}"]]',
    "!!python/name:os.system",
    "!!python/module:os",
    "!include other.yaml",
])
def test_tags_are_refused_and_never_executed(tmp_path, tag):
    marker = tmp_path / "executed"
    spec = tmp_path / "tagged.yaml"
    spec.write_text("specc: 1\ninputs:\n  x: {shape: [null, 4]}\nlayers:\n  - id: fc\n    type: dense\n"
                    f"    units: {tag.format(marker=marker)}\n")
    e = plan_error(spec)
    assert "unsupported YAML tag" in e.message
    assert (e.where.line, e.where.col) == (7, 12)
    assert not marker.exists()


def test_zero_byte_file(tmp_path):
    spec = tmp_path / "zero.yaml"
    spec.write_bytes(b"")
    e = plan_error(spec)
    assert (e.where.line, e.where.col) == (1, 1) and "empty" in e.message


def test_missing_file(tmp_path):
    e = plan_error(tmp_path / "nope.yaml")
    assert "no such file" in e.message and e.where.file == str(tmp_path / "nope.yaml")


def test_directory_instead_of_file(tmp_path):
    assert "is a directory" in plan_error(tmp_path).message


def test_not_utf8_is_located(tmp_path):
    spec = tmp_path / "latin1.yaml"
    spec.write_bytes(b"specc: 1\ninputs:\n  x\xe9: {shape: [null, 4]}\n")
    e = plan_error(spec)
    assert (e.where.line, e.where.col) == (3, 4) and "UTF-8" in e.message


def test_alias_bomb_is_refused(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    spec = tmp_path / "bomb.yaml"
    spec.write_text("\n".join(lines) + "\n")
    assert "billion laughs" in plan_error(spec).message


EXPRESSION_BOMBS = {
    # Each exponent is at most 64, yet the value has 10**8 digits: evaluation never ends.
    "nested_power": "((((10 ** 64) ** 64) ** 64) ** 64) ** 64",
    # Three gigabytes of text, built before the schema ever sees it.
    "string_repeat": "'a' * 3000000000",
}


@pytest.mark.parametrize("expression", list(EXPRESSION_BOMBS.values()), ids=list(EXPRESSION_BOMBS))
def test_expression_bombs_get_a_located_error_quickly(tmp_path, expression):
    spec = tmp_path / "bomb.yaml"
    spec.write_text("specc: 1\ninputs:\n  x: {shape: [null, 4]}\nlayers:\n"
                    f'  - {{id: fc, type: dense, units: "${{{expression}}}"}}\n')
    script = textwrap.dedent("""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (2 * 1024 ** 3, 2 * 1024 ** 3))
        import specc
        try:
            specc.plan(sys.argv[1])
        except specc.SpecError as e:
            print("SPECERROR", e.where.line, e.where.col)
    """)
    try:
        done = subprocess.run([sys.executable, "-c", script, str(spec)], capture_output=True, text=True, timeout=3)
    except subprocess.TimeoutExpired:
        pytest.fail(f"specc was still evaluating ${{{expression}}} after 3 s")
    assert done.stdout.split() == ["SPECERROR", "5", "34"], done.stderr[-2000:]


# -- numbers: integers written as integers, every number finite -----------------------------

def _types(schema: dict) -> set[str]:
    """The JSON types a parameter's schema takes at its top (through $ref, anyOf and oneOf)."""
    from specc.validate import _resolve

    if "$ref" in schema:
        return _types(_resolve(schema["$ref"]))
    kinds = schema.get("type", [])
    found = set(kinds if isinstance(kinds, list) else [kinds])
    for branch in [*schema.get("anyOf", ()), *schema.get("oneOf", ())]:
        found |= _types(branch)
    return found


def _typed_params(kind: str):
    from specc.layers import LAYER_TYPES

    return [(name, p.name) for name, layer_type in sorted(LAYER_TYPES.items())
            for p in layer_type.params if kind in _types(p.schema)]



def _value_error(layer: str, key: str, value) -> SpecError:
    """validate_part of a `layer` layer whose `key` is `value`: the SpecError at `layers[0].<key>`."""
    from specc.read import loads
    from specc.validate import validate_part

    doc = loads("specc: 1\nlayers:\n  - {id: l}\n", "n.yaml")
    with pytest.raises(SpecError) as info:
        validate_part(doc, {"id": "l", "type": layer, key: value}, ("layers", 0), "layer", skip=("required",))
    found = [x for x in getattr(info.value, "errors", [info.value]) if x.where.path == ("layers", 0, key)]
    assert found, info.value.render()
    return found[0]


NUMBER_PARAMS = _typed_params("number")
INTEGER_PARAMS = _typed_params("integer")


def test_there_are_number_and_integer_parameters_to_check():
    assert ("dropout", "rate") in NUMBER_PARAMS and ("dense", "units") in INTEGER_PARAMS
    assert len(NUMBER_PARAMS) >= 5 and len(INTEGER_PARAMS) >= 10


@pytest.mark.parametrize("value, shown", [(float("nan"), ".nan"), (float("inf"), ".inf"), (float("-inf"), "-.inf")])
@pytest.mark.parametrize("layer, key", NUMBER_PARAMS, ids=[f"{a}.{b}" for a, b in NUMBER_PARAMS])
def test_every_number_parameter_refuses_non_finite_values(layer, key, value, shown):
    e = _value_error(layer, key, value)
    assert f"expected a finite number, got {shown}" in e.message


def _initializer_args():
    from specc.layers.base import INITIALIZERS

    return [(kind, arg) for kind, (args, _) in sorted(INITIALIZERS.items()) for arg in args]


@pytest.mark.parametrize("kind, arg", _initializer_args(), ids=[f"{k}.{a}" for k, a in _initializer_args()])
def test_every_initializer_parameter_refuses_non_finite_values(kind, arg):
    with pytest.raises(SpecError) as info:
        specc.plan(specc.loads("specc: 1\ninputs:\n  x: {shape: [null, 4]}\nlayers:\n  - id: fc\n    type: dense\n"
                               f"    units: 2\n    kernel_initializer: {{type: {kind}, {arg}: .nan}}\n", "i.yaml"))
    found = [x for x in getattr(info.value, "errors", [info.value])
             if x.where.path == ("layers", 0, "kernel_initializer", arg)]
    assert found and "expected a finite number, got .nan" in found[0].message, info.value.render()


@pytest.mark.parametrize("layer, key", INTEGER_PARAMS, ids=[f"{a}.{b}" for a, b in INTEGER_PARAMS])
def test_every_integer_parameter_refuses_an_integral_float(layer, key):
    e = _value_error(layer, key, 3.0)
    assert "expected an integer, got 3.0; write it without the fraction (3)" in e.message


@pytest.mark.parametrize("text, where", [
    ("inputs:\n  x: {shape: [null, 4], default: [[0, .nan, 0, 0]]}\nlayers:\n  - {id: fc, type: dense, units: 2}\n",
     "inputs.x.default[0][1]"),
    ("vars: {scale: .inf}\ninputs:\n  x: {shape: [null, 4]}\nlayers:\n  - {id: fc, type: dense, units: 2}\n",
     "vars.scale"),
    ("vars: {big: 1e308}\ninputs:\n  x: {shape: [null, 4]}\nlayers:\n  - {id: c, type: constant, value: ['${big * 10}']}\n",
     "layers[0].value[0]"),
    ("inputs:\n  x: {shape: [null, 4]}\ntemplates:\n  t:\n    params: {r: null}\n    layers:\n"
     "      - {id: d, type: dropout, rate: '${r}'}\nlayers:\n  - {id: u, use: t, with: {r: .nan}}\n",
     "layers[0].with.r"),
    ("inputs:\n  x: {shape: [null, 4]}\ntemplates:\n  t:\n    params: {big: null}\n    layers:\n"
     "      - {id: d, type: constant, value: ['${big * 10}']}\nlayers:\n  - {id: u, use: t, with: {big: 1e308}}\n",
     "templates.t.layers[0].value[0]"),
])
def test_non_finite_numbers_are_refused_where_the_schema_takes_any_value(text, where):
    with pytest.raises(SpecError) as info:
        specc.plan(specc.loads("specc: 1\n" + text, "n.yaml"))
    found = [x for x in getattr(info.value, "errors", [info.value]) if errors.format_path(x.where.path) == where]
    assert found and "expected a finite number" in found[0].message, info.value.render()


def test_a_set_value_nested_too_deep_is_a_usage_error():
    from specc.errors import OverrideSyntaxError
    from specc.overrides import parse

    with pytest.raises(OverrideSyntaxError, match="nesting deeper than 100 levels"):
        parse("vars.x=" + "[" * 900 + "]" * 900)
    assert parse("vars.x=" + "[" * 50 + "]" * 50).value == eval("[" * 50 + "]" * 50)


def test_the_pure_python_composer_stops_at_the_depth_limit(monkeypatch):
    """Without libyaml, PyYAML composes in Python, one recursion per level: it stops at the bound."""
    from specc import read

    pure = read._core_schema(type("PureLoader", (read._BoundedComposer, yaml.SafeLoader), {}))
    monkeypatch.setattr(read, "Loader", pure)
    deep = (INVALID / "flow_list_5000_deep.yaml").read_text("utf-8")
    with pytest.raises(SpecError, match="nesting deeper than 100 levels") as info:
        read.loads(deep, "deep.yaml")
    assert info.value.where.line == 3
    read.loads("specc: 1\nvars: {x: " + "[" * 98 + "]" * 98 + "}\n", "ok.yaml")


def test_the_pure_python_parser_reads_every_example_as_libyaml_does(monkeypatch):
    """Without libyaml, the same events come from PyYAML's Python parser: the same data, the same marks."""
    from specc import read

    specs = sorted((INVALID.parent.parent / "specs").rglob("*.yaml"))
    assert len(specs) > 10
    fast = {p: read.loads(p.read_bytes(), str(p)) for p in specs}
    pure = read._core_schema(type("PureLoader", (read._BoundedComposer, yaml.SafeLoader), {}))
    monkeypatch.setattr(read, "Loader", pure)
    for p in specs:
        slow = read.loads(p.read_bytes(), str(p))
        assert slow.data == fast[p].data, p
        assert dict(slow.marks) == dict(fast[p].marks), p
        assert dict(slow.key_marks) == dict(fast[p].key_marks), p


def test_the_pure_python_emitter_writes_what_libyaml_writes(monkeypatch):
    """Without libyaml, PyYAML's own emitter writes `specc resolve`'s text: the same text, quoting and all."""
    from specc import read
    from specc.experiments.runs import prepare, resolved_yaml

    specs = sorted((INVALID.parent.parent / "specs").rglob("*.yaml"))
    awkward = {"quoted": ["no", "1e-3", "0o17", "~", "null", "True", "on", "1_000", ".5", "0x1F", "", "- x", ": x",
                          "#c", "a: b", "'q'", '"dq"', "@at", "`bt`", "%p", "!bang", "&amp", "*star", "|pipe",
                          ">gt", "[b]", "{c}", "  lead", "trail ", "tab\there", "multi\nline", "é", "$${x}"],
               "numbers": [1.0, -0.0, 1e300, 1e-7, 10**20], "long": "x " * 150, "nested": [[1, 2], {"k": [3]}]}
    texts = [resolved_yaml(prepare(p).spec.document.data) for p in specs] + [resolved_yaml(awkward)]
    assert read.Dumper.__mro__[1] is getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    monkeypatch.setattr(read, "Dumper", read._with_core(type("PureDumper", (yaml.SafeDumper,), {})))
    assert [resolved_yaml(prepare(p).spec.document.data) for p in specs] + [resolved_yaml(awkward)] == texts


# -- no input, however mangled, gets anything but a SpecError -------------------------------

_SIAMESE_TEXT = SIAMESE.read_text("utf-8")
_SIAMESE_DATA = yaml.safe_load(_SIAMESE_TEXT)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


_SIAMESE_PATHS = [p for p in _paths(_SIAMESE_DATA) if p]
_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["${features}", "${nope}", "${features / 3}", "${hidden", "$${x}", "tower", "Tower", "left",
                     "right_tower", "left_tower.fc1", "left_tower.fc9", "gap.x", "_x", "a b", "a:b", "a/b", "",
                     "dense", "block", "share", "relu", "kernel", "bool", "float64", "int32"]),
    st.lists(st.one_of(st.none(), st.integers(-2, 12), st.text(max_size=3)), max_size=4),
    st.dictionaries(st.sampled_from(["id", "type", "units", "scope", "share", "input", "layers", "shape",
                                     "dtype", "name_scope", "x"]),
                    st.one_of(st.integers(0, 9), st.text(max_size=4), st.booleans()), max_size=3),
)


def _set(data, path, value, delete):
    import copy

    data = copy.deepcopy(data)
    node = data
    for part in path[:-1]:
        node = node[part]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


def _plan_or_spec_error(text: str) -> None:
    try:
        specc.plan(specc.loads(text, "fuzz.yaml"))
    except SpecError as e:
        assert e.where.line >= 1 and e.where.col >= 1 and e.message


# Example counts come from the profile in conftest.py (SPECC_HYPOTHESIS_PROFILE=deep searches longer).
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_SIAMESE_PATHS), _VALUES, st.booleans()), min_size=1, max_size=3))
def test_structured_mutations_give_spec_errors_only(edits):
    data = _SIAMESE_DATA
    for path, value, delete in edits:
        try:
            data = _set(data, path, value, delete)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed this path
    _plan_or_spec_error(yaml.safe_dump(data, sort_keys=False))


@settings(deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_SIAMESE_TEXT)), st.integers(0, 6),
                          st.text(alphabet=" \n\t:-[]{}#&*!|>'\"%@`,?$.0123456789abcTuwer_/\\", max_size=4)),
                min_size=1, max_size=4))
def test_text_mutations_give_spec_errors_only(edits):
    text = _SIAMESE_TEXT
    for at, cut, insert in edits:
        at = min(at, len(text))
        text = text[:at] + insert + text[at + cut:]
    _plan_or_spec_error(text)


# -- what TensorFlow does with the same mistakes --------------------------------------------

# `tf` is the session fixture of conftest.py: TensorFlow imported once, quietly.

def _dense(tf, x, units):
    """What specc's dense emits inside the current variable scope: kernel, bias, MatMul, BiasAdd."""
    v1 = tf.compat.v1
    kernel = v1.get_variable("kernel", [int(x.shape[-1]), units])
    bias = v1.get_variable("bias", [units], initializer=v1.zeros_initializer())
    return tf.nn.bias_add(tf.matmul(x, kernel), bias)


def test_tf_renames_a_variable_whose_scope_differs_only_by_case(tf):
    """scope_differs_only_by_case.yaml: TensorFlow quietly makes a `tower/kernel_1`."""
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        x = v1.placeholder(tf.float32, [None, 4], name="x")
        with v1.variable_scope("Tower"):
            _dense(tf, x, 4)
        with v1.variable_scope("tower"):
            _dense(tf, x, 4)
        names = [v.name for v in v1.global_variables()]
    assert names == ["Tower/kernel:0", "Tower/bias:0", "tower/kernel_1:0", "tower/bias_1:0"]
    e = plan_error(INVALID / "scope_differs_only_by_case.yaml")
    assert "'tower/kernel_1'" in e.message  # specc predicts TensorFlow's name exactly


def test_tf_renames_a_variable_whose_name_a_name_only_block_took(tf):
    """name_only_block_kernel_clash.yaml: name_scope `enc` holds `enc/kernel`, so the variable becomes `enc/kernel_1`."""
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        x = v1.placeholder(tf.float32, [None, 4], name="x")
        with v1.name_scope("enc"):  # the block, scope: null
            with v1.variable_scope("kernel"):  # its child layer `kernel`
                h = _dense(tf, x, 4)
        with v1.variable_scope("enc"):  # the later dense layer with scope: enc
            _dense(tf, h, 4)
        names = [v.name for v in v1.global_variables()]
    assert names == ["kernel/kernel:0", "kernel/bias:0", "enc/kernel_1:0", "enc/bias:0"]
    e = plan_error(INVALID / "name_only_block_kernel_clash.yaml")
    assert "'enc/kernel_1'" in e.message


def test_tf_name_scopes_do_not_separate_variables(tf):
    """same_scope_different_name_scopes.yaml: TensorFlow raises, pointing at Python, not at the spec."""
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        x = v1.placeholder(tf.float32, [None, 4], name="x")
        with v1.name_scope("left"), v1.variable_scope("proj"):
            _dense(tf, x, 4)
        with pytest.raises(ValueError, match="Variable proj/kernel already exists"):
            with v1.name_scope("right"), v1.variable_scope("proj"):
                _dense(tf, x, 4)
    plan_error(INVALID / "same_scope_different_name_scopes.yaml")


def test_tf_refuses_to_reuse_a_variable_nobody_created(tf):
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        x = v1.placeholder(tf.float32, [None, 4], name="x")
        with pytest.raises(ValueError, match="Variable fc/kernel does not exist"):
            with v1.variable_scope("fc", reuse=True):
                _dense(tf, x, 4)
    plan_error(INVALID / "share_true_nothing_to_reuse.yaml")


def test_tf_refuses_a_shared_kernel_of_another_shape(tf):
    """share_kernel_shape_mismatch.yaml: one tower, inputs of width 4 and 8."""
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        narrow = v1.placeholder(tf.float32, [None, 4], name="narrow")
        wide = v1.placeholder(tf.float32, [None, 8], name="wide")
        with v1.variable_scope("tower"), v1.variable_scope("fc"):
            _dense(tf, narrow, 3)
        with pytest.raises(ValueError, match=re.escape(
                "Trying to share variable tower/fc/kernel, but specified shape (8, 3) and found shape (4, 3)")):
            with v1.variable_scope("tower", reuse=True), v1.variable_scope("fc"):
                _dense(tf, wide, 3)
    plan_error(INVALID / "share_kernel_shape_mismatch.yaml")


@pytest.mark.parametrize("name, file", [("bad name", "scope_with_space"), ("a:b", "scope_with_colon"),
                                        ("_hidden", "scope_leading_underscore")])
def test_tf_rejects_these_scope_names(tf, name, file):
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="is not a valid root scope name"):
            with v1.variable_scope(name):
                v1.get_variable("kernel", [1])
    plan_error(INVALID / f"{file}.yaml")
