"""Write a built model's graph files: graph.pbtxt, model.meta and a TensorBoard event file."""

from __future__ import annotations

from pathlib import Path

from .signatures import serving_default
from .tfimport import tensorflow

GRAPH_FILE = "graph.pbtxt"
META_FILE = "model.meta"


def write_graph_files(model, directory: Path) -> list[str]:
    """Write the model's graph files into `directory`; returns the names written.

    graph.pbtxt and the event file hold exactly the model's graph. model.meta is a
    MetaGraphDef that adds what a session needs around it: a Saver (`save/...`,
    when there are variables), an `init` op, and a `serving_default` signature: every output, and the inputs they
    need (never the labels of `train:`, nor an input with a default).
    """
    tf = tensorflow()
    v1 = tf.compat.v1
    graph = model.graph
    tf.io.write_graph(graph.as_graph_def(), str(directory), GRAPH_FILE, as_text=True)
    with graph.as_default():
        writer = v1.summary.FileWriter(str(directory), graph=graph)
        writer.flush()
        writer.close()
        v1.variables_initializer(list(model.variables.values()), name="init")
        signature = serving_default(model)
        # A Saver over no variables is an error in TensorFlow; a model without any needs none.
        saver_def = (v1.train.Saver(var_list=list(model.variables.values()), sharded=False).as_saver_def()
                     if model.variables else None)
        meta = v1.train.export_meta_graph(graph=graph, saver_def=saver_def)
    meta.signature_def["serving_default"].CopyFrom(signature)
    (directory / META_FILE).write_bytes(meta.SerializeToString())
    return sorted(p.name for p in directory.iterdir())
