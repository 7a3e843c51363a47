"""Helpers for the layer-family tests (test_layers_*.py): build a spec from text, run it,
read its variables, and catch a located planner error."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import specc
from specc.emit.tfimport import tensorflow

tf = tensorflow()
v1 = tf.compat.v1


def build(text: str, name: str = "t.yaml"):
    return specc.build(specc.loads(textwrap.dedent(text), name))


def plan_error(text: str, name: str = "t.yaml") -> specc.SpecError:
    """The SpecError planning `text` raises (schema-valid text, so it comes from the planner)."""
    spec = specc.loads(textwrap.dedent(text), name)
    with pytest.raises(specc.SpecError) as info:
        specc.plan(spec)
    return info.value


def located(e: specc.SpecError) -> tuple[int, int, str]:
    from specc.errors import format_path

    return e.where.line, e.where.col, format_path(e.where.path)


def variables(model) -> list[tuple[str, tuple[int, ...], bool]]:
    """(name, shape, trainable) of every global variable, in creation order."""
    trainable = {v.name for v in model.graph.get_collection(v1.GraphKeys.TRAINABLE_VARIABLES)}
    return [(v.name[:-2], tuple(v.shape.as_list()), v.name in trainable)
            for v in model.graph.get_collection(v1.GraphKeys.GLOBAL_VARIABLES)]


def session(model):
    """A Session on the model's graph with every variable initialised."""
    sess = v1.Session(graph=model.graph)
    sess.run([v.initializer for v in model.graph.get_collection(v1.GraphKeys.GLOBAL_VARIABLES)])
    return sess


def values(sess, model) -> dict[str, np.ndarray]:
    """Every variable's current value by name (no `:0`)."""
    return {name: value for name, value in sess.run(model.variables).items()}


def op_names(graph) -> set[str]:
    return {op.name for op in graph.get_operations()}


def reads(op, index: int):
    """The VarHandleOp whose value feeds input `index` of `op` (through a ReadVariableOp)."""
    read = op.inputs[index].op
    assert read.type == "ReadVariableOp", f"{op.name} input {index} is {read.type}"
    return read.inputs[0].op
