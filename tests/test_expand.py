"""The expand stage: templates, `repeat`, `defaults`, and the per-variable keys they rely on.

Plan tests assert exact variable names and op scopes; a few builds prove that
TensorFlow agrees (the emitter checks every variable and op scope against the
plan, so a build that succeeds is a graph that is the plan). Error tests assert
line, column, spec path and message, and that an error inside an expanded copy
points at the source line it was copied from.
"""

from __future__ import annotations

import textwrap

import pytest
import yaml
from typer.testing import CliRunner

import specc
from specc.cli import app
from specc.errors import SpecError
from specc.expand import needs_expansion
from specc.read import loads as load_text
from specc.report import report
from specc.validate import validate


def spec(text: str, name: str = "t.yaml"):
    """The Spec, after checking that its expanded document is valid whole (expansion makes it so)."""
    s = specc.loads(textwrap.dedent(text), name)
    validate(s.document)
    return s


def plan(text: str):
    return specc.plan(spec(text))


def variables(p) -> dict[str, tuple]:
    return {v.name: v.shape for v in p.variables}


def scopes(p) -> dict[str, str]:
    return {layer.path: layer.op_scope for layer in p.walk()}


def error(text: str) -> SpecError:
    with pytest.raises(SpecError) as e:
        plan(text)
    return e.value


def where(e: SpecError) -> tuple:
    from specc.errors import format_path

    return e.where.line, e.where.col, format_path(e.where.path)


def resolved(text: str) -> dict:
    return specc.resolves(textwrap.dedent(text), "t.yaml").data


# -- templates ---------------------------------------------------------------------------

FFN = """
    specc: 1
    vars: {hidden: 8}
    templates:
      ffn:
        params: {width: null, act: relu}
        layers:
          - {id: up, type: dense, units: "${width}", activation: "${act}"}
          - {id: down, type: dense, units: "${hidden}"}
          - {id: sum, type: add, inputs: [down, input]}
    inputs:
      x: {shape: [null, 8]}
    layers:
"""


def test_an_instance_is_a_block_of_the_templates_layers_with_params_filled_in():
    p = plan(FFN + """
      - {id: ffn1, use: ffn, with: {width: 32}}
      - {id: ffn2, use: ffn, with: {width: 16, act: gelu}, scope: second}
    """)
    assert variables(p) == {
        "ffn1/up/kernel": (8, 32), "ffn1/up/bias": (32,), "ffn1/down/kernel": (32, 8), "ffn1/down/bias": (8,),
        "second/up/kernel": (8, 16), "second/up/bias": (16,), "second/down/kernel": (16, 8),
        "second/down/bias": (8,),
    }
    assert p.layer("ffn1.up").params.activation == "relu"  # the param's default
    assert p.layer("ffn2.up").params.activation == "gelu"
    assert p.layer("ffn2").inputs == ("ffn1",)
    assert scopes(p)["ffn2.sum"] == "second/sum"


def test_params_come_before_vars_and_defaults_may_use_other_params():
    p = plan("""
        specc: 1
        vars: {width: 100, hidden: 4}
        templates:
          t:
            params: {width: 6, wide: "${width * 2}"}
            layers:
              - {id: a, type: dense, units: "${wide}"}
              - {id: b, type: dense, units: "${hidden}"}
        inputs: {x: {shape: [null, 4]}}
        layers:
          - {id: one, use: t}
          - {id: two, use: t, with: {width: 1}}
    """)
    assert variables(p)["one/a/bias"] == (12,)
    assert variables(p)["two/a/bias"] == (2,)
    assert variables(p)["two/b/bias"] == (4,)


def test_an_instance_takes_named_inputs_and_a_templates_output():
    p = plan("""
        specc: 1
        templates:
          gate:
            layers:
              - {id: proj, type: dense, units: 4, input: query}
              - {id: mix, type: multiply, inputs: [proj, memory]}
              - {id: unused, type: identity, input: proj}
            output: mix
        inputs:
          a: {shape: [null, 4]}
          b: {shape: [null, 4]}
        layers:
          - {id: g, use: gate, inputs: {query: a, memory: b}}
          - {id: after, type: identity}
    """)
    assert p.layer("g.proj").inputs == ("a",)
    assert p.layer("g.mix").inputs == ("g.proj", "b")
    assert p.layer("after").inputs == ("g",) and p.layer("g").result == "g.mix"


def test_templates_use_templates_and_pass_params_on():
    p = plan("""
        specc: 1
        templates:
          inner:
            params: {n: null}
            layers: [{id: fc, type: dense, units: "${n}"}]
          outer:
            params: {n: 3}
            layers:
              - {id: first, use: inner, with: {n: "${n}"}}
              - {id: second, use: inner, with: {n: "${n * 2}"}}
        inputs: {x: {shape: [null, 2]}}
        layers:
          - {id: o, use: outer, with: {n: 5}}
    """)
    assert variables(p) == {"o/first/fc/kernel": (2, 5), "o/first/fc/bias": (5,),
                            "o/second/fc/kernel": (5, 10), "o/second/fc/bias": (10,)}


def test_sharing_an_instance_shares_all_of_its_variables(tf):
    text = FFN + """
      - {id: left, use: ffn, with: {width: 16}, scope: tower}
      - {id: right, use: ffn, with: {width: 16}, scope: tower, share: true, input: x}
      - {id: third, use: ffn, with: {width: 16}, share: left, input: x}
    """
    p = plan(text)
    assert sorted(variables(p)) == ["tower/down/bias", "tower/down/kernel", "tower/up/bias", "tower/up/kernel"]
    assert all(len(v.users) == 3 for v in p.variables)
    assert scopes(p)["right.up"] == "tower_1/up" and scopes(p)["third.up"] == "third/up"
    model = specc.build(p)
    assert sorted(model.variables) == sorted(variables(p))
    assert {"tower/up/MatMul", "tower_1/up/MatMul", "third/up/MatMul"} <= {o.name for o in model.graph.get_operations()}


def test_a_template_mistake_is_reported_at_the_template_line_with_the_instance():
    e = error(FFN.replace('units: "${hidden}"', 'units: "${hiden}"') + """
      - {id: a, use: ffn, with: {width: 4}}
    """)
    assert where(e) == (9, 40, "templates.ffn.layers[1].units")
    assert e.message == "undefined var or template param 'hiden'; did you mean 'hidden'?"
    assert e.where.via == ("template 'ffn' used by 'a' at line 15",)
    assert "expanded from: template 'ffn' used by 'a' at line 15" in e.render()


def test_a_param_of_the_wrong_type_is_reported_at_the_template_line():
    e = error(FFN + """
      - {id: a, use: ffn, with: {width: many}}
    """)
    assert where(e) == (8, 38, "templates.ffn.layers[0].units")
    assert "expected an integer, got string 'many'" in e.message


def test_a_planning_mistake_in_the_seventh_copy_points_at_the_template():
    e = error("""
        specc: 1
        templates:
          blk:
            params: {n: 4}
            layers:
              - {id: fc, type: dense, units: "${n}"}
              - {id: sum, type: add, inputs: [fc, input]}
        inputs: {x: {shape: [null, 4]}}
        layers:
          - {id: layer, use: blk, repeat: 12}
          - {id: odd, use: blk, with: {n: 3}}
    """)
    assert where(e) == (8, 30, "layers[12].layers[1].inputs")
    assert "layer 'odd.sum': inputs cannot be broadcast together" in e.message
    assert e.where.via == ("template 'blk' used by 'odd' at line 12",)


@pytest.mark.parametrize("layers,expected,message", [
    ("- {id: a, use: fnn, with: {width: 4}}", (14, 18, "layers[0].use"),
     "unknown template 'fnn'; did you mean 'ffn'?"),
    ("- {id: a, use: ffn}", (14, 18, "layers[0].use"),
     "template 'ffn' needs param 'width' (declared without a default at line 6); give it: `with: {width: ...}`"),
    ("- {id: a, use: ffn, with: {widht: 4}}", (14, 30, "layers[0].with.widht"),
     "template 'ffn' has no param 'widht'; did you mean 'width'?"),
    ("- {id: a, type: dense, use: ffn, with: {width: 4}}", (14, 13, "layers[0].type"),
     "a layer with `use:` is a template instance, which is a block; remove `type`"),
])
def test_template_use_errors(layers, expected, message):
    e = error(FFN + "      " + layers + "\n")
    assert (where(e), e.message) == (expected, message)


def test_templates_that_use_each_other_are_a_cycle():
    e = error("""
        specc: 1
        templates:
          a: {layers: [{id: x, use: b}]}
          b: {layers: [{id: y, use: a}]}
        inputs: {x: {shape: [null, 2]}}
        layers:
          - {id: m, use: a}
    """)
    assert where(e) == (5, 29, "templates.b.layers[0].use")
    assert e.message.startswith("templates use each other in a cycle: a -> b -> a")
    assert e.where.via == ("template 'a' used by 'm' at line 8", "template 'b' used by 'x' at line 4")


def test_an_unused_template_is_still_checked_where_no_param_stands_in():
    e = error("""
        specc: 1
        templates:
          t:
            params: {n: 2}
            layers: [{id: fc, type: dense, units: "${n}", activaton: relu}]
        inputs: {x: {shape: [null, 2]}}
        layers: [{id: fc, type: dense, units: 2}]
    """)
    assert where(e) == (6, 51, "templates.t.layers[0].activaton")
    assert "did you mean 'activation'?" in e.message


# -- repeat ------------------------------------------------------------------------------

def test_repeat_makes_chained_copies_with_their_own_variables():
    p = plan("""
        specc: 1
        inputs: {x: {shape: [null, 4]}}
        layers:
          - {id: fc, type: dense, units: 4, repeat: 3}
          - {id: act, type: activation, activation: relu, repeat: 2}
          - {id: after, type: identity, input: fc}
        outputs: [act, fc]
    """)
    assert list(variables(p)) == [f"fc_{i}/{v}" for i in range(3) for v in ("kernel", "bias")]
    assert [p.layer(f"fc_{i}").inputs for i in range(3)] == [("x",), ("fc_0",), ("fc_1",)]
    assert scopes(p)["act_1"] == "act_1" and p.layer("act_1").inputs == ("act_0",)
    assert p.layer("after").inputs == ("fc_2",)  # a repeat's id is its last copy
    assert [(o.name, o.key) for o in p.outputs] == [("act_1", "act_1"), ("fc_2", "fc_2")]


def test_a_scope_pattern_names_scopes_and_ids_and_dotted_paths_reach_into_copies():
    p = plan("""
        specc: 1
        templates:
          layer:
            layers:
              - {id: attention, type: dense, units: 4}
              - {id: output, type: dense, units: 4}
        inputs: {x: {shape: [null, 4]}}
        layers:
          - id: encoder
            type: block
            layers:
              - {id: layer, use: layer, repeat: 4, scope: "layer_{i}"}
              - {id: h, type: block, repeat: 2, scope: "h{i}", layers: [{id: fc, type: dense, units: 4}]}
          - {id: probe, type: identity, input: encoder.layer_3.attention}
          - {id: last, type: identity, input: encoder.layer.output}
    """)
    assert "encoder/layer_3/attention/kernel" in variables(p)
    assert "encoder/h1/fc/kernel" in variables(p)
    assert [c.id for c in p.layer("encoder").children] == ["layer_0", "layer_1", "layer_2", "layer_3", "h0", "h1"]
    assert p.layer("probe").inputs == ("encoder.layer_3.attention",)
    assert p.layer("last").inputs == ("encoder.layer_3.output",)


def test_repeating_a_block_with_named_inputs_chains_the_first():
    p = plan("""
        specc: 1
        inputs:
          x: {shape: [null, 4]}
          memory: {shape: [null, 4]}
        layers:
          - id: dec
            type: block
            repeat: 3
            inputs: {x: x, mem: memory}
            layers:
              - {id: mix, type: add, inputs: [x, mem]}
    """)
    assert [p.layer(f"dec_{i}").inputs for i in range(3)] == [("x", "memory"), ("dec_0", "memory"),
                                                                ("dec_1", "memory")]


def test_albert_style_sharing_one_set_of_variables_applied_twelve_times(tf):
    p = plan("""
        specc: 1
        inputs: {x: {shape: [null, 8]}}
        layers:
          - id: transformer
            type: block
            repeat: 12
            share: true
            layers:
              - {id: attention, type: dense, units: 8, activation: relu}
              - {id: intermediate, type: dense, units: 16, activation: gelu}
              - {id: output, type: dense, units: 8}
          - {id: pooler, type: dense, units: 2, input: transformer}
    """)
    shared = [v for v in p.variables if v.name.startswith("transformer/")]
    assert sorted(v.name for v in shared) == sorted(f"transformer/{layer}/{v}" for layer in
                                                    ("attention", "intermediate", "output")
                                                    for v in ("kernel", "bias"))
    rows = {r.name: r for r in report(p).rows}
    for v in shared:
        uses = rows[v.name].uses
        assert len(uses) == 12
        layer = v.name.split("/")[1]
        assert [scope for _, scope in uses] == [f"transformer/{layer}"] + [
            f"transformer_{i}/{layer}" for i in range(1, 12)]
    assert report(p).parameters_saved == 11 * sum(v.size for v in shared)
    assert p.layer("pooler").inputs == ("transformer_11",)
    model = specc.build(p)
    ops = {o.name for o in model.graph.get_operations()}
    assert {"transformer/attention/MatMul"} | {f"transformer_{i}/output/MatMul" for i in range(1, 12)} <= ops
    assert not any(o.startswith("transformer_12/") for o in ops)
    assert len(model.variables) == 6 + 2


@pytest.mark.parametrize("layer,expected,message", [
    ("{id: fc, type: dense, units: 2, repeat: 0}", (5, 45, "layers[0].repeat"),
     "`repeat: 0`: a repeat makes at least 1 copy"),
    ("{id: fc, type: dense, units: 2, repeat: 10001}", (5, 45, "layers[0].repeat"),
     "`repeat: 10001` is more than the limit of 10000 copies"),
    ("{id: fc, type: dense, units: 2, repeat: 3, scope: fixed}", (5, 55, "layers[0].scope"),
     "`scope: fixed` gives all 3 copies of 'fc' the same scope 'fixed'; write a pattern with {i}"),
    ("{id: fc, type: dense, units: 2, scope: 'fc_{i}'}", (5, 44, "layers[0].scope"),
     "{i} stands for the copy's index, so it only means something in the `scope` of a layer with `repeat`"),
    ("{id: fc, type: dense, units: 2, repeat: 2, share: true, scope: 'fc_{i}'}", (5, 68, "layers[0].scope"),
     "`share: true` applies one set of variables 2 times, in one scope, so the scope cannot depend on {i}"),
    ("{id: fc, type: dense, units: 2, repeat: 2, scope: 'f.{i}'}", (5, 55, "layers[0].scope"),
     "copies take their ids from the scope pattern, and 'f.0' is not a valid id"),
])
def test_repeat_errors(layer, expected, message):
    e = error(f"""
        specc: 1
        inputs: {{x: {{shape: [null, 2]}}}}
        layers:
          - {layer}
    """)
    assert where(e) == expected
    assert e.message.startswith(message)


def test_a_repeats_id_may_not_also_name_a_sibling():
    e = error("""
        specc: 1
        inputs: {x: {shape: [null, 2]}}
        layers:
          - {id: fc, type: dense, units: 2, repeat: 2}
          - {id: fc, type: identity}
    """)
    assert where(e) == (5, 6, "layers[0].id")
    assert e.message == "id 'fc' names this repeat (its last copy) and also the layer at line 6; rename one of them"


def test_copies_that_collide_with_a_sibling_are_located_at_the_repeat():
    e = error("""
        specc: 1
        inputs: {x: {shape: [null, 2]}}
        layers:
          - {id: fc_1, type: identity}
          - {id: fc, type: dense, units: 2, repeat: 2}
    """)
    assert where(e) == (6, 6, "layers[2].id")
    assert "duplicate id 'fc_1' (first used at line 5)" in e.message
    assert e.where.via == ("copy 2 of 2 ('fc_1') of 'fc' at line 6",)


def test_nested_repeats_are_bounded_and_fail_fast():
    import time

    start = time.perf_counter()
    e = error("""
        specc: 1
        inputs: {x: {shape: [null, 2]}}
        layers:
          - id: outer
            type: block
            repeat: 10000
            layers: [{id: inner, type: identity, repeat: 10000}]
    """)
    assert time.perf_counter() - start < 20
    assert "expands to more than 100,000 layers" in e.message and "--max-layers" in e.message
    assert (e.where.line, e.where.path) == (7, ("layers", 0, "repeat"))  # counted before anything is built


# -- defaults ----------------------------------------------------------------------------

def test_defaults_fill_what_a_layer_does_not_set_inner_defaults_win():
    p = plan("""
        specc: 1
        defaults:
          dense: {activation: gelu, kernel_initializer: {type: truncated_normal, stddev: 0.02}}
        templates:
          t:
            defaults: {dense: {activation: tanh}}
            layers: [{id: fc, type: dense, units: 2}]
        inputs: {x: {shape: [null, 2]}}
        layers:
          - {id: plain, type: dense, units: 2}
          - {id: own, type: dense, units: 2, activation: relu, initializers: {kernel: zeros}}
          - id: blk
            type: block
            defaults: {dense: {activation: sigmoid, bias_initializer: ones}}
            layers:
              - {id: fc, type: dense, units: 2}
              - id: deeper
                type: block
                defaults: {dense: {initializers: {bias: {type: constant, value: 0.5}}}}
                layers: [{id: fc, type: dense, units: 2}]
          - {id: inst, use: t}
          - {id: inst2, use: t, defaults: {dense: {activation: softplus}}}
    """)
    act = {layer.path: layer.params.activation for layer in p.walk() if layer.type == "dense"}
    assert act == {"plain": "gelu", "own": "relu", "blk.fc": "sigmoid", "blk.deeper.fc": "sigmoid",
                   "inst.fc": "tanh", "inst2.fc": "softplus"}
    init = {v.name: str(v.initializer) for v in p.variables}
    assert init["plain/kernel"] == "truncated_normal(stddev=0.02)"
    assert init["own/kernel"] == "zeros"  # `initializers: {kernel}` beats a default `kernel_initializer`
    assert init["blk/fc/bias"] == "ones"
    assert init["blk/deeper/fc/bias"] == "constant(value=0.5)"  # either spelling overrides the other


def test_resolve_shows_the_effective_values():
    data = resolved("""
        specc: 1
        defaults: {dense: {activation: gelu}}
        inputs: {x: {shape: [null, 2]}}
        layers:
          - {id: fc, type: dense, units: 2, repeat: 2}
    """)
    assert "defaults" not in data
    assert data["layers"] == [
        {"id": "fc_0", "type": "dense", "units": 2, "activation": "gelu"},
        {"id": "fc_1", "type": "dense", "input": "fc_0", "units": 2, "activation": "gelu"},
    ]


@pytest.mark.parametrize("defaults,expected,message", [
    ("{dense: {activaton: gelu}}", (3, 20, "defaults.dense.activaton"),
     "dense layers have no key 'activaton' to default; did you mean 'activation'?"),
    ("{desne: {activation: gelu}}", (3, 12, "defaults.desne"),
     "'desne' is not allowed here; did you mean 'dense'?"),
    ("{dense: {scope: shared}}", (3, 20, "defaults.dense.scope"),
     "`scope` cannot be a default: it says what a layer is, what it reads or where its variables live"),
    ("{dense: {activation: gelux}}", (3, 20, "defaults.dense.activation"),
     "'gelux' is not allowed here; did you mean 'gelu'?"),
])
def test_defaults_errors_are_reported_once_where_written(defaults, expected, message):
    e = error(f"""
        specc: 1
        defaults: {defaults}
        inputs: {{x: {{shape: [null, 2]}}}}
        layers:
          - {{id: a, type: dense, units: 2}}
          - {{id: b, type: dense, units: 2}}
    """)
    assert where(e) == expected
    assert e.message.startswith(message)
    assert len(getattr(e, "errors", [e])) == 1


# -- variables, initializers, transpose_kernel, scope: null ------------------------------

def test_bert_output_weights_are_renamed_and_transposed(tf):
    p = plan("""
        specc: 1
        inputs: {pooled: {shape: [null, 8]}}
        layers:
          - id: cls
            type: block
            layers:
              - id: seq_relationship
                type: dense
                units: 2
                transpose_kernel: true
                variables: {kernel: output_weights, bias: output_bias}
                initializers: {kernel: {type: truncated_normal, stddev: 0.02}}
    """)
    assert variables(p) == {"cls/seq_relationship/output_weights": (2, 8), "cls/seq_relationship/output_bias": (2,)}
    assert str(p.variables[0].initializer) == "truncated_normal(stddev=0.02)"
    model = specc.build(p)
    matmul = model.graph.get_operation_by_name("cls/seq_relationship/MatMul")
    assert matmul.get_attr("transpose_b") is True
    assert model.outputs["cls"].shape.as_list() == [None, 2]


def test_scope_null_creates_variables_in_the_enclosing_scope(tf):
    p = plan("""
        specc: 1
        inputs: {tokens: {shape: [null, 5], dtype: int32}}
        layers:
          - id: bert
            type: block
            layers:
              - id: embeddings
                type: block
                layers:
                  - {id: word, type: embedding, vocab: 10, dim: 4, scope: null,
                     variables: {embeddings: word_embeddings}}
                  - {id: proj, type: dense, units: 4, scope: null, use_bias: false}
    """)
    assert variables(p) == {"bert/embeddings/word_embeddings": (10, 4), "bert/embeddings/kernel": (4, 4)}
    assert scopes(p)["bert.embeddings.word"] == "bert/embeddings/word"
    model = specc.build(p)
    assert sorted(model.variables) == ["bert/embeddings/kernel", "bert/embeddings/word_embeddings"]
    assert "bert/embeddings/word/embedding_lookup" in {o.name for o in model.graph.get_operations()}


def test_two_scope_null_layers_creating_one_variable_are_refused_naming_both():
    e = error("""
        specc: 1
        inputs: {x: {shape: [null, 2]}}
        layers:
          - id: blk
            type: block
            layers:
              - {id: a, type: dense, units: 2, scope: null}
              - {id: b, type: dense, units: 2, scope: null}
    """)
    assert where(e) == (9, 9, "layers[0].layers[1]")
    assert e.message.startswith("layer 'blk.b' and layer 'blk.a' (line 8) both create variable 'blk/kernel'")


def test_initializers_work_for_any_layer_with_variables():
    p = plan("""
        specc: 1
        inputs: {x: {shape: [null, 3, 4]}}
        layers:
          - {id: ln, type: layer_norm, initializers: {gamma: {type: constant, value: 2}}}
          - {id: fc, type: dense, units: 2, bias_initializer: ones, initializers: {kernel: he_normal}}
    """)
    init = {v.name: str(v.initializer) for v in p.variables}
    assert init["ln/gamma"] == "constant(value=2)" and init["ln/beta"] == "zeros"
    assert init["fc/kernel"] == "he_normal" and init["fc/bias"] == "ones"


@pytest.mark.parametrize("keys,expected,message", [
    ("variables: {kernal: w}", (5, 49, "layers[0].variables.kernal"),
     "layer 'fc' has no variable 'kernal'; did you mean 'kernel'?"),
    ("initializers: {gamma: ones}", (5, 52, "layers[0].initializers.gamma"),
     "layer 'fc' has no variable 'gamma'; its variables: kernel, bias"),
    ("variables: {kernel: w, bias: w}", (5, 37, "layers[0].variables"),
     "layer 'fc' would create two variables named 'w' ('kernel' and 'bias'); give them different names"),
    ("kernel_initializer: ones, initializers: {kernel: zeros}", (5, 78, "layers[0].initializers.kernel"),
     "the initializer of 'kernel' is set twice, by `initializers: {kernel: ...}` and by `kernel_initializer`"),
])
def test_per_variable_key_errors(keys, expected, message):
    e = error(f"""
        specc: 1
        inputs: {{x: {{shape: [null, 2]}}}}
        layers:
          - {{id: fc, type: dense, units: 2, {keys}}}
    """)
    assert where(e) == expected
    assert e.message.startswith(message)


def test_a_parameter_free_layer_has_no_variables_to_rename():
    e = error("""
        specc: 1
        inputs: {x: {shape: [null, 2]}}
        layers:
          - {id: act, type: activation, activation: relu, variables: {kernel: w}}
    """)
    assert e.message == "layer 'act' has no variable 'kernel'; it creates no variables"


# -- outputs ----------------------------------------------------------------------------

def test_several_outputs_and_a_layer_feeding_several_later_layers(tf):
    model = specc.build(spec("""
        specc: 1
        inputs: {x: {shape: [null, 3]}}
        layers:
          - {id: trunk, type: dense, units: 4, activation: relu}
          - {id: head_a, type: dense, units: 2, input: trunk}
          - {id: head_b, type: dense, units: 5, input: trunk}
          - {id: both, type: concat, inputs: [head_a, head_b, trunk]}
        outputs: [head_a, head_b, both]
    """))
    assert {k: v.shape.as_list() for k, v in model.outputs.items()} == {
        "head_a": [None, 2], "head_b": [None, 5], "both": [None, 11]}
    trunk = model.tensors["trunk"]
    assert len(trunk.consumers()) == 3
    with tf.compat.v1.Session(graph=model.graph) as sess:
        sess.run(tf.compat.v1.variables_initializer(list(model.variables.values())))
        a, b, both = sess.run([model.outputs[k] for k in ("head_a", "head_b", "both")],
                              {model.inputs["x"]: [[1.0, 2.0, 3.0]]})
    assert (both[:, :2] == a).all() and (both[:, 2:7] == b).all()


# -- the stage as a whole ----------------------------------------------------------------

def test_a_spec_without_expansion_passes_through_untouched():
    doc = load_text(b"specc: 1\ninputs: {x: {shape: [null, 2]}}\nlayers: [{id: a, type: identity}]\n")
    assert not needs_expansion(doc.data)
    assert specc.api.resolved(doc).data == doc.data


def test_resolve_round_trips_and_the_cli_prints_it(tmp_path):
    text = textwrap.dedent(FFN + """
      - {id: layer, use: ffn, with: {width: 4}, repeat: 2, scope: "l{i}"}
      - {id: out, type: dense, units: 2, input: layer, variables: {kernel: w}}
    """).replace("vars: {hidden: 8}", "vars: {hidden: 8}\ndescription: costs $${dollars}")
    source = tmp_path / "m.yaml"
    source.write_text(text)
    result = CliRunner().invoke(app, ["resolve", str(source)])
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(result.stdout)
    assert "templates" not in data and [layer["id"] for layer in data["layers"]] == ["l0", "l1", "out"]
    assert data["layers"][2]["input"] == "l1" and data["description"] == "costs $${dollars}"
    again = tmp_path / "again.yaml"
    again.write_text(result.stdout)
    a, b = specc.plan(source), specc.plan(again)
    assert [(v.name, v.shape, v.initializer) for v in a.variables] == [
        (v.name, v.shape, v.initializer) for v in b.variables]
    assert scopes(a) == scopes(b)


def test_explain_all_shows_each_variables_initializer(tmp_path):
    source = tmp_path / "m.yaml"
    source.write_text(textwrap.dedent("""
        specc: 1
        defaults: {dense: {kernel_initializer: {type: truncated_normal, stddev: 0.02}}}
        inputs: {x: {shape: [null, 2]}}
        layers: [{id: fc, type: dense, units: 2}]
    """))
    result = CliRunner().invoke(app, ["explain", "--all", str(source)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "initializer" in result.stdout and "truncated_normal(stddev=0.02)" in result.stdout
    result = CliRunner().invoke(app, ["explain", "--all", "-f", "json", str(source)])
    import json

    rows = {r["name"]: r for r in json.loads(result.stdout)["variables"]}
    assert rows["fc/kernel"]["initializer"] == "truncated_normal(stddev=0.02)"


def test_the_schema_describes_the_spec_as_written_and_as_expanded():
    import jsonschema

    from specc.validate import schema

    jsonschema.Draft202012Validator.check_schema(schema())
    text = textwrap.dedent(FFN + """
      - {id: layer, use: ffn, with: {width: 4}, repeat: 2, defaults: {dense: {use_bias: false}}}
      - {id: head, type: dense, units: 2, scope: null, variables: {kernel: w}, transpose_kernel: true}
    """).replace("vars: {hidden: 8}", "vars: {hidden: 8}\ndefaults: {dense: {activation: gelu}}")
    editor = jsonschema.Draft202012Validator(schema())
    written = yaml.safe_load(text)
    # An editor sees a `${param}` as a string where an integer or a name belongs; fill those in.
    written["templates"]["ffn"]["layers"][0].update(units=4, activation="relu")
    written["templates"]["ffn"]["layers"][1].update(units=8)
    assert list(editor.iter_errors(written)) == []
    assert list(editor.iter_errors(specc.resolves(text, "t.yaml").data)) == []


@pytest.mark.parametrize("marker,names", [
    ("ffn2, use: ffn", {"ffn1/up/kernel": (32, 128), "ffn1/down/kernel": (128, 32), "second/up/kernel": (32, 64)}),
    ("encoder.layer_2.attention", {"encoder/layer_0/attention/kernel": (16, 16), "encoder/layer_3/output/bias": (16,),
                                   "pooled/kernel": (16, 16)}),
    ("repeat: 12", {"shared/attention/kernel": (16, 16), "shared/output/bias": (16,), "head/kernel": (16, 2)}),
    ("output_weights", {"cls/seq_relationship/output_weights": (2, 32), "cls/seq_relationship/output_bias": (2,)}),
    ("vocab: 1000, dim: 32", {"bert/embeddings/word_embeddings": (1000, 32), "bert/embeddings/LayerNorm/gamma": (32,)}),
])
def test_the_docs_name_what_specc_plans(marker, names):
    from .test_docs import EXAMPLES

    (text,) = [t for doc, _, t in EXAMPLES if doc == "spec-language.md" and marker in t]
    planned = variables(specc.plan(specc.loads(text, "doc.yaml")))
    assert names.items() <= planned.items()
    if marker == "repeat: 12":
        assert len(planned) == 6
        assert all(len(v.users) == 12 for v in specc.plan(specc.loads(text, "doc.yaml")).variables
                   if v.name.startswith("shared/"))


def test_resolve_reports_errors_like_the_other_commands(tmp_path):
    source = tmp_path / "bad.yaml"
    source.write_text(textwrap.dedent(FFN + """
      - {id: a, use: fnn}
    """))
    result = CliRunner().invoke(app, ["resolve", str(source)])
    assert result.exit_code == 1
    assert f"{source}:15:18: layers[0].use: unknown template 'fnn'; did you mean 'ffn'?" in result.stderr


def test_repeated_instances_share_one_set_or_another_layers_variables():
    p = plan("""
        specc: 1
        templates:
          blk:
            layers:
              - {id: fc, type: dense, units: 4, repeat: 2}
              - {id: sum, type: add, inputs: [fc, input]}
        inputs: {x: {shape: [null, 4]}}
        layers:
          - {id: layer, use: blk, repeat: 3, share: true}
          - {id: again, use: blk, repeat: 2, share: layer}
          - {id: other, type: dense, units: 4, share: layer.fc, repeat: 2}
          - {id: probe, type: identity, input: again.fc}
    """)
    uses = {v.name: [u.op_scope for u in v.users] for v in p.variables}
    assert list(uses) == ["layer/fc_0/kernel", "layer/fc_0/bias", "layer/fc_1/kernel", "layer/fc_1/bias"]
    assert uses["layer/fc_1/kernel"] == ["layer/fc_1", "layer_1/fc_1", "layer_2/fc_1", "again_0/fc_1",
                                         "again_1/fc_1", "other_0", "other_1"]
    assert p.layer("probe").inputs == ("again_1.fc_1",)
    data = resolved("""
        specc: 1
        inputs: {x: {shape: [null, 4]}}
        layers:
          - {id: blk, type: block, repeat: 2, layers: [{id: fc, type: dense, units: 4}]}
          - {id: again, type: dense, units: 4, share: blk.fc}
    """)
    assert data["layers"][2]["share"] == "blk_1.fc"


def test_json_errors_say_how_an_expanded_layer_came_to_be(tmp_path):
    import json

    source = tmp_path / "bad.yaml"
    source.write_text(textwrap.dedent(FFN.replace('units: "${hidden}"', 'units: "${hiden}"') + """
      - {id: a, use: ffn, with: {width: 4}}
    """))
    result = CliRunner().invoke(app, ["validate", "-f", "json", str(source)])
    assert result.exit_code == 1
    (err,) = json.loads(result.stdout)["errors"]
    assert (err["line"], err["path"]) == (9, "templates.ffn.layers[1].units")
    assert err["expanded_from"] == ["template 'ffn' used by 'a' at line 15"]


def test_resolve_never_imports_tensorflow(tmp_path):
    import subprocess
    import sys

    source = tmp_path / "m.yaml"
    source.write_text(textwrap.dedent(FFN + """
      - {id: layer, use: ffn, with: {width: 4}, repeat: 2}
    """))
    script = ("import sys\nfrom typer.testing import CliRunner\nfrom specc.cli import app\n"
              f"r = CliRunner().invoke(app, ['resolve', {str(source)!r}])\n"
              "assert r.exit_code == 0, r.output\nassert 'tensorflow' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
