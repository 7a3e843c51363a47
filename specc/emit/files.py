"""Write a built model's graph files: graph.pbtxt, model.meta and a TensorBoard event file."""

from __future__ import annotations

import itertools
import re
import socket
import struct
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from ..record import record
from . import wire
from .signatures import serving_default
from .tfimport import tensorflow

GRAPH_FILE = "graph.pbtxt"
META_FILE = "model.meta"
# The first record of every event file TensorFlow's events writer makes.
FILE_VERSION = "brain.Event:2"
_PLAIN = re.compile(r"[ !#-&(-\[\]-~]*")  # printable ASCII but the quotes and the backslash CEscape escapes
_PLAIN_BYTES = re.compile(_PLAIN.pattern.encode())
EVENTS_WRITER = "tensorflow.core.util.events_writer"
META_GRAPH = 2  # MetaGraphDef.graph_def
EVENT_GRAPH, EVENT_META_GRAPH = 4, 9  # Event.graph_def, Event.meta_graph_def


@record
class GraphFiles:
    """A build's graph files, made without TensorFlow (specc.emit.notf): the graph's nodes held serialized
    (specc.emit.wire says why), and protos of the rest, each file written as those bytes joined.

    Attributes:
        nodes: the graph's nodes (a specc.emit.wire.Nodes).
        graph: graph.pbtxt's GraphDef but its nodes: their versions, the function library.
        shapes: per segment of `nodes`, per node, the `attr` entry that gives it its `_output_shapes` (b'':
            none), as the graph of the event file and of model.meta has them.
        shaped: that graph's GraphDef but its nodes (its functions' shapes too).
        events_meta: the event file's MetaGraphDef of it, but the nodes and the collections.
        meta: model.meta's MetaGraphDef but the nodes and the collections; its nodes: the model's, then `added`'s.
        collections: the MetaGraphDefs' collections, serialized (their `collection_def` entries), in pieces.
        added: makes the `node` entries of the nodes model.meta adds (`init`, the Saver's), anew at each call.
        marks: what model.meta adds to the model's nodes: `attr` entries by node name.
    """

    nodes: Any
    graph: Any
    shapes: list
    shaped: Any
    events_meta: Any
    meta: Any
    collections: list
    added: Callable[[], Iterator[bytes]]
    marks: dict


def unavailable() -> str:
    """Why this process cannot write graph files without TensorFlow's writers, as specc.emit.notf builds
    do ('' if it can): the protobuf classes TensorBoard ships, and google-crc32c for the event file."""
    try:
        import google_crc32c  # noqa: F401 (the event file's checksums; TensorBoard's own are pure Python)
        import tensorboard.compat.proto.meta_graph_pb2  # noqa: F401
    except ImportError as e:
        return f"{e.name} is not installed (pip install 'specc[tensorboard]')"
    return ""


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
        _write_text((node for segment in files.nodes.segments() for node in segment.node), files.graph, directory)
        shaped = _Serialized(files.shaped, files)
        _write_events(directory, shaped, _Serialized(files.events_meta, files, nodes_length=shaped.nodes_length))
        with open(directory / META_FILE, "wb") as f:
            _Serialized(files.meta, files, files.marks, files.added).write(f)
        return sorted(p.name for p in directory.iterdir())
    tf = tensorflow()
    v1 = tf.compat.v1
    graph = model.graph
    graph_def = graph.as_graph_def()
    rest = type(graph_def)()
    rest.CopyFrom(graph_def)
    rest.ClearField("node")
    _write_text(graph_def.node, rest, directory)
    shapes = getattr(model, "function_shapes", None)
    with graph.as_default():
        if shapes and not unavailable():
            # What FileWriter(directory, graph=graph) writes, with the shapes TensorFlow does not give an
            # imported function.
            from tensorflow.python.framework import meta_graph

            shaped = graph.as_graph_def(add_shapes=True)
            _functions_with_shapes(shaped, shapes)
            _write_events(directory, _Whole(shaped.SerializeToString()),
                          _Whole(meta_graph.create_meta_graph_def(graph_def=shaped).SerializeToString()))
        else:
            writer = v1.summary.FileWriter(str(directory), graph=graph)
            writer.flush()
            writer.close()
        v1.variables_initializer(list(model.variables.values()), name="init")
        signature = serving_default(model)
        # A Saver over no variables is an error in TensorFlow; a model without any needs none.
        saver_def = (v1.train.Saver(var_list=list(model.variables.values()), sharded=False).as_saver_def()
                     if model.variables else None)
        meta = v1.train.export_meta_graph(graph=graph, saver_def=saver_def)
    _functions_with_shapes(meta.graph_def, shapes)
    meta.signature_def["serving_default"].CopyFrom(signature)
    (directory / META_FILE).write_bytes(meta.SerializeToString())
    return sorted(p.name for p in directory.iterdir())


def _write_text(nodes, rest, directory: Path) -> None:
    """graph.pbtxt as tf.io.write_graph(..., as_text=True) writes it: of the GraphDef `rest` with `nodes`."""
    with open(directory / GRAPH_FILE, "w", encoding="utf-8") as f:
        f.writelines(graph_text(nodes, rest))


def graph_text(nodes, rest) -> Iterator[str]:
    """text_format.MessageToString of the GraphDef `rest` with `nodes` (an iterable of its NodeDefs), in
    pieces: the same text, with each distinct attribute formatted once.

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
    NodeDef = GetMessageClass(rest.DESCRIPTOR.fields_by_name["node"].message_type)
    others = [f.name for f in NodeDef.DESCRIPTOR.fields if f.name not in ("name", "op", "input", "device", "attr")]
    for node in nodes:
        if any(node.HasField(name) for name in others):
            whole = type(rest)()
            whole.node.add().CopyFrom(node)
            yield text_format.MessageToString(whole)
            continue
        out = [f"node {{\n  name: {quoted(node.name)}\n  op: {quoted(node.op)}\n"]
        out.extend(f"  input: {quoted(ref)}\n" for ref in node.input)
        if node.device:
            out.append(f"  device: {quoted(node.device)}\n")
        attrs = node.attr
        out.extend(attr(key, attrs[key]) for key in sorted(attrs))
        out.append("}\n")
        yield "".join(out)
    yield text_format.MessageToString(rest)


class _Serialized:
    """A GraphDef or MetaGraphDef of GraphFiles written serialized: `message` (the proto but the nodes,
    and a MetaGraphDef's collections besides), the nodes with their shapes and `marks`, then `added`'s
    nodes; as parsing merges a message field that occurs twice, a MetaGraphDef's graph is its own
    `graph_def` entry merged with the nodes'. `nodes_length`: the nodes' length, when known."""

    def __init__(self, message, files: GraphFiles, marks: dict | None = None, added=None,
                 nodes_length: int | None = None):
        self.files, self.marks, self.added = files, marks or {}, added
        self.head = [message.SerializeToString()]
        self.nested = message.DESCRIPTOR.name == "MetaGraphDef"
        self.nodes_length = sum(map(len, self._segments())) if nodes_length is None else nodes_length
        if self.nested:
            self.head += [*files.collections, wire.header(META_GRAPH, self.nodes_length)]

    def _segments(self) -> Iterator[bytes]:
        """Each segment's nodes as the message has them, serialized; then the nodes `added` makes."""
        marks = self.marks
        for chunk, shapes in zip(self.files.nodes.chunks, self.files.shapes):
            pieces = []
            for (start, end), extra in zip(wire.payloads(chunk), shapes):
                if marks:
                    extra += marks.get(wire.node_name(chunk, start), b"")
                pieces += (wire.header(wire.NODE, end - start + len(extra)), chunk[start:end], extra)
            yield b"".join(pieces)
        if self.added is not None:
            yield from self.added()

    def __len__(self) -> int:
        return sum(map(len, self.head)) + self.nodes_length

    def write(self, f, crc: int = 0) -> int:
        """Write the message to f; returns the CRC-32C `crc` extended by it."""
        import google_crc32c

        for piece in itertools.chain(self.head, self._segments()):
            crc = google_crc32c.extend(crc, piece)
            f.write(piece)
        return crc


def with_shapes(function, source) -> None:
    """Give a FunctionDef the shapes `as_graph_def(add_shapes=True)` gives it in the graph that built it:
    those of `source`, the same function so given (its arguments' and nodes' in the same order)."""
    if "_input_shapes" in source.attr:
        function.attr["_input_shapes"].CopyFrom(source.attr["_input_shapes"])
    for argument, learned in zip(function.signature.input_arg, source.signature.input_arg):
        argument.handle_data.extend(learned.handle_data)
    for node, learned in zip(function.node_def, source.node_def):
        if "_output_shapes" in learned.attr:
            node.attr["_output_shapes"].CopyFrom(learned.attr["_output_shapes"])


def _functions_with_shapes(graph_def, shapes: dict[str, bytes] | None) -> None:
    for function in graph_def.library.function if shapes else ():
        if function.signature.name in shapes:
            with_shapes(function, type(function).FromString(shapes[function.signature.name]))


class _Whole:
    """A message already serialized, written as _Serialized writes one."""

    def __init__(self, data: bytes):
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def write(self, f, crc: int = 0) -> int:
        import google_crc32c

        f.write(self.data)
        return google_crc32c.extend(crc, self.data)


def _write_events(directory: Path, shaped: _Serialized | _Whole, meta: _Serialized | _Whole) -> None:
    """The event file tf.compat.v1.summary.FileWriter(directory, graph=...) writes: its file version, the
    graph with shapes, its MetaGraphDef; named as TensorFlow's events writer names it."""
    from tensorboard.compat.proto.event_pb2 import Event

    now = time.time()
    first = Event(wall_time=float(int(now)), file_version=FILE_VERSION)
    first.source_metadata.writer = EVENTS_WRITER
    with open(directory / f"events.out.tfevents.{int(now):010d}.{socket.gethostname()}", "wb") as f:
        _record(f, first.SerializeToString())
        for field, serialized in ((EVENT_GRAPH, shaped), (EVENT_META_GRAPH, meta)):
            _record(f, Event(wall_time=time.time()).SerializeToString() + wire.header(field, len(serialized)),
                    serialized)


def _record(f, head: bytes, body: _Serialized | None = None) -> None:
    """Write a TFRecord of `head` then `body`: length, its masked CRC-32C, the data, its masked CRC-32C
    (little-endian)."""
    import google_crc32c

    length = struct.pack("<Q", len(head) + (len(body) if body is not None else 0))
    f.write(length + struct.pack("<I", _masked(google_crc32c.value(length))))
    f.write(head)
    crc = google_crc32c.value(head)
    if body is not None:
        crc = body.write(f, crc)
    f.write(struct.pack("<I", _masked(crc)))


def _masked(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
