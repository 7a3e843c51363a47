"""SignatureDefs of a built model: each signature's inputs are the placeholders its outputs need."""

from __future__ import annotations

from typing import Sequence

from ..errors import BuildError
from .tfimport import tensorflow


def needed_inputs(model, tensors: Sequence) -> dict:
    """The model inputs (name -> tensor) a session must feed to compute `tensors`, in input order.

    Walks the graph from the tensors back (data and control inputs; a tf.cond's `If` op takes
    what its branches read as inputs). Only plain placeholders count: a `placeholder_with_default`
    (an input with a `default:`, a training flag in serving) runs without a feed, and an input
    nothing reaches (the labels of `train:`) is not asked for.
    """
    pending, seen, found = [t.op for t in tensors], set(), set()
    while pending:
        op = pending.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        if op.type == "Placeholder":
            found.add(op.name)
        pending.extend(t.op for t in op.inputs)
        pending.extend(op.control_inputs)
    by_op = {t.op.name: name for name, t in model.inputs.items()}
    strays = sorted(found - set(by_op))
    if strays:
        raise BuildError(f"outputs need placeholders that are no model input: {', '.join(strays)}")
    return {name: t for name, t in model.inputs.items() if t.op.name in found}


def signature_def(model, outputs: dict):
    """A predict SignatureDef: `outputs` (key -> tensor) and the inputs they need."""
    saved_model = tensorflow().compat.v1.saved_model
    inputs = needed_inputs(model, list(outputs.values()))
    # Not predict_signature_def: it refuses a signature without inputs, and outputs that need
    # none (a constant, inputs that all have defaults) are a fine signature to serve.
    return saved_model.build_signature_def(
        {k: saved_model.build_tensor_info(t) for k, t in inputs.items()},
        {k: saved_model.build_tensor_info(t) for k, t in outputs.items()}, saved_model.PREDICT_METHOD_NAME)


def serving_default(model):
    """The `serving_default` signature: every spec output, by its name."""
    return signature_def(model, dict(model.outputs))
