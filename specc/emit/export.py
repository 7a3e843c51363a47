"""Export, TensorFlow's side: a TF1 SavedModel (tag `serve`) and, if asked, a frozen GraphDef.

The graph is the serving plan's (specc.serving.signatures.serving_plan: training flags are
defaults of false), built and verified by the chosen emitter like any other. Its variables are
initialised, then filled from the checkpoint by feeding each one's initializer
(`Variable.load`), which adds no op: the SavedModel's graph is the model's graph, an
`init` op, and what `saved_model.Builder` adds (its Saver under `save/`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..checkpoints.restore import CheckpointMatch
from ..plans import Plan
from ..serving.signatures import SignatureRequest, serving_plan, training_flags
from .emitters import DEFAULT_EMITTER, emitter
from .signatures import signature_def
from .tfimport import tensorflow

TAG = "serve"  # tf.saved_model.SERVING: the tag saved_model_cli, TF Serving and tf.saved_model.load look for
FROZEN_FILE = "frozen_graph.pb"


def write_saved_model(plan: Plan, directory: Path, requests: Sequence[SignatureRequest],
                      found: CheckpointMatch | None = None, frozen: bool = False, verbose: bool = False,
                      emit: str = DEFAULT_EMITTER) -> dict:
    """Write the SavedModel (saved_model.pb, variables/) and, with `frozen`, frozen_graph.pb into `directory`.

    Args:
        plan: the model's plan (as trained: its training flags are turned off here).
        directory: an existing, empty directory.
        requests: the signatures, checked (specc.serving.signatures.requests).
        found: the checkpoint to restore every variable from, checked complete; None: fresh initializers.
        frozen: also write a GraphDef with the variables folded into constants.
        emit: the emitter that builds the graph (specc.emit.emitters.EMITTERS).

    Returns:
        What export.json says about the graph: the signatures' tensors, the flags fed false, the frozen file.
    """
    tf = tensorflow(verbose)
    v1 = tf.compat.v1
    model = emitter(emit)(serving_plan(plan), verbose=verbose)
    with model.graph.as_default():
        signatures = {r.name: signature_def(model, {o: _tensor(model, o) for o in r.outputs}) for r in requests}
        init = v1.variables_initializer(list(model.variables.values()), name="init")
    with v1.Session(graph=model.graph) as sess:
        sess.run(init)
        if found is not None:
            reader = tf.train.load_checkpoint(found.checkpoint)
            for source, variable in found.comparison.assignment_map():
                model.variables[variable].load(reader.get_tensor(source), sess)
        builder = v1.saved_model.Builder(str(directory))
        builder.add_meta_graph_and_variables(sess, [TAG], signature_def_map=signatures, strip_default_attrs=True)
        if frozen:
            fetches = sorted({_tensor(model, o).op.name for r in requests for o in r.outputs})
            # Keeps what the fetches need and nothing else: the labels and batch norm's updates go.
            graph_def = v1.graph_util.convert_variables_to_constants(sess, model.graph.as_graph_def(), fetches)
            (directory / FROZEN_FILE).write_bytes(graph_def.SerializeToString())
    builder.save()
    return {"tags": [TAG], "training_flags_fed_false": list(training_flags(plan)),
            "signatures": {r.name: _signature_json(signatures[r.name], [i.name for i in plan.inputs], r.outputs)
                           for r in requests},
            "frozen_graph": FROZEN_FILE if frozen else None}


def _tensor(model, name: str):
    return model.outputs[name] if name in model.outputs else model.tensors[name]


def _signature_json(signature, inputs: Sequence[str], outputs: Sequence[str]) -> dict:
    # A SignatureDef's maps have no order: list the inputs as the spec declares them, the outputs as asked.
    def side(infos, order: Sequence[str]) -> dict:
        return {key: {"tensor": infos[key].name, "dtype": _dtype(infos[key].dtype),
                      "shape": None if infos[key].tensor_shape.unknown_rank
                      else [d.size if d.size >= 0 else None for d in infos[key].tensor_shape.dim]}
                for key in order if key in infos}

    return {"inputs": side(signature.inputs, inputs), "outputs": side(signature.outputs, outputs)}


def _dtype(enum: int) -> str:
    return tensorflow().dtypes.as_dtype(enum).name
