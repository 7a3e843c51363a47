"""Write a built model's graph files: graph.pbtxt, model.meta and a TensorBoard event file."""

from __future__ import annotations

import re
import socket
import struct
import time
from pathlib import Path
from typing import Any

from ..record import record
from .signatures import serving_default
from .tfimport import tensorflow

GRAPH_FILE = "graph.pbtxt"
META_FILE = "model.meta"
# The first record of every event file TensorFlow's events writer makes.
FILE_VERSION = "brain.Event:2"
_PLAIN = re.compile(r"[ !#-&(-\[\]-~]*")  # printable ASCII but the quotes and the backslash CEscape escapes
_PLAIN_BYTES = re.compile(_PLAIN.pattern.encode())
EVENTS_WRITER = "tensorflow.core.util.events_writer"


@record
class GraphFiles:
    """A build's graph files as protos, made without TensorFlow (specc.emit.notf).

    Attributes:
        graph: the GraphDef (graph.pbtxt).
        shaped: the GraphDef with each node's `_output_shapes` (the event file's graph).
        events_meta: the MetaGraphDef of `shaped` and its collections (the event file's).
        meta: model.meta's MetaGraphDef.
    """

    graph: Any
    shaped: Any
    events_meta: Any
    meta: Any


def write_graph_files(model, directory: Path) -> list[str]:
    """Write the model's graph files into `directory`; returns the names written.

    graph.pbtxt and the event file hold exactly the model's graph. model.meta is a
    MetaGraphDef that adds what a session needs around it: a Saver (`save/...`,
    when there are variables), an `init` op, and a `serving_default` signature: every output, and the inputs they
    need (never the labels of `train:`, nor an input with a default).

    `model` is a Model (its tf.Graph), or a build stamped without TensorFlow (specc.emit.notf.Stamped),
    whose `files` hold the same protos: they are written here alike.
    """
    files = getattr(model, "files", None)
    if files is not None:
        _write_text(files.graph, directory)
        _write_events(directory, files.shaped, files.events_meta)
        (directory / META_FILE).write_bytes(files.meta.SerializeToString())
        return sorted(p.name for p in directory.iterdir())
    tf = tensorflow()
    v1 = tf.compat.v1
    graph = model.graph
    _write_text(graph.as_graph_def(), directory)
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


def _write_text(graph_def, directory: Path) -> None:
    """graph.pbtxt as tf.io.write_graph(..., as_text=True) writes it."""
    (directory / GRAPH_FILE).write_text(graph_text(graph_def), "utf-8")


def graph_text(graph_def) -> str:
    """text_format.MessageToString(graph_def), the same text, with each distinct attribute formatted once.

    text_format walks every field in Python (3-4 s for a 1000-layer MLP's 21,000 nodes, a third of a
    stamped build); a graph repeats a few thousand distinct attributes over its nodes. A node is
    printed as text_format prints it: name, op, inputs, device (its fields in number order), then its
    attributes sorted by key; a node with any other field set is left to text_format whole.
    """
    from google.protobuf import text_format
    from google.protobuf.message_factory import GetMessageClass
    from google.protobuf.text_encoding import CEscape

    def quoted(value: str | bytes) -> str:
        # CEscape goes character by character in Python; a node name rarely needs it.
        if isinstance(value, bytes):
            return f'"{value.decode()}"' if _PLAIN_BYTES.fullmatch(value) else '"' + CEscape(value, False) + '"'
        return f'"{value}"' if _PLAIN.fullmatch(value) else '"' + CEscape(value.encode("utf-8"), False) + '"'

    def attr(key: str, value) -> str:
        # The attributes that name a layer's nodes or count its seeds differ from layer to layer: a
        # string (`shared_name`), an integer (`seed2`), a list of strings (`_class`), printed directly.
        kind = value.WhichOneof("value")
        if kind == "s":
            body = f"      s: {quoted(value.s)}\n"
        elif kind == "i":
            body = f"      i: {value.i}\n"
        elif kind == "list" and [f.name for f, _ in value.list.ListFields()] == ["s"]:
            body = "      list {\n" + "".join(f"        s: {quoted(v)}\n" for v in value.list.s) + "      }\n"
        else:
            memo = (key, value.SerializeToString(deterministic=True))
            text = entries.get(memo)
            if text is None:
                alone = NodeDef()
                alone.attr[key].CopyFrom(value)
                text = entries[memo] = text_format.MessageToString(alone, indent=2)
            return text
        return f"  attr {{\n    key: {quoted(key)}\n    value {{\n{body}    }}\n  }}\n"

    entries: dict[tuple[str, bytes], str] = {}
    out = []
    NodeDef = GetMessageClass(graph_def.DESCRIPTOR.fields_by_name["node"].message_type)
    others = [f.name for f in NodeDef.DESCRIPTOR.fields if f.name not in ("name", "op", "input", "device", "attr")]
    for node in graph_def.node:
        if any(node.HasField(name) for name in others):
            whole = type(graph_def)()
            whole.node.add().CopyFrom(node)
            out.append(text_format.MessageToString(whole))
            continue
        out.append(f"node {{\n  name: {quoted(node.name)}\n  op: {quoted(node.op)}\n")
        out.extend(f"  input: {quoted(ref)}\n" for ref in node.input)
        if node.device:
            out.append(f"  device: {quoted(node.device)}\n")
        attrs = node.attr
        out.extend(attr(key, attrs[key]) for key in sorted(attrs))
        out.append("}\n")
    rest = type(graph_def)()
    rest.CopyFrom(graph_def)
    del rest.node[:]
    out.append(text_format.MessageToString(rest))
    return "".join(out)


def _write_events(directory: Path, shaped, meta) -> None:
    """The event file tf.compat.v1.summary.FileWriter(directory, graph=...) writes: its file version, the
    graph with shapes, its MetaGraphDef; named as TensorFlow's events writer names it."""
    from tensorboard.compat.proto.event_pb2 import Event

    now = time.time()
    first = Event(wall_time=float(int(now)), file_version=FILE_VERSION)
    first.source_metadata.writer = EVENTS_WRITER
    records = [first, Event(wall_time=time.time(), graph_def=shaped.SerializeToString()),
               Event(wall_time=time.time(), meta_graph_def=meta.SerializeToString())]
    with open(directory / f"events.out.tfevents.{int(now):010d}.{socket.gethostname()}", "wb") as f:
        for event in records:
            f.write(_record(event.SerializeToString()))


def _record(data: bytes) -> bytes:
    """A TFRecord: length, its masked CRC-32C, the data, its masked CRC-32C (little-endian)."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", _masked_crc(length)) + data + struct.pack("<I", _masked_crc(data))


def _masked_crc(data: bytes) -> int:
    import google_crc32c

    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
