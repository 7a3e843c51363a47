"""specc.emit.wire: serialized nodes and collections parse as the messages they stand for."""

from __future__ import annotations

import pytest

from specc.emit import wire

graph_pb2 = pytest.importorskip("tensorboard.compat.proto.graph_pb2", reason="needs specc[tensorboard]")
from tensorboard.compat.proto import attr_value_pb2, meta_graph_pb2, node_def_pb2, variable_pb2  # noqa: E402


def _layer(i: int, n: int):
    graph_def = graph_pb2.GraphDef()
    for j in range(n):
        node = graph_def.node.add(name=f"layer_{i}/op_{j}", op="MatMul", input=[f"layer_{i - 1}/op_0", "^init"])
        node.attr["T"].type = 1
    return graph_def


def test_nodes_join_into_the_graph_def_they_stand_for():
    nodes = wire.Nodes(graph_pb2.GraphDef)
    whole = graph_pb2.GraphDef()
    for i in range(300):  # some segments over 128 bytes, some entries' lengths two-byte varints
        layer = _layer(i, i % 7)
        assert nodes.add(layer) == i
        whole.node.extend(layer.node)
    assert len(nodes) == len(whole.node) == sum(i % 7 for i in range(300))
    assert nodes.segment(5) == _layer(5, 5)
    rest = graph_pb2.GraphDef()
    rest.versions.producer = 1882
    rest.library.function.add().signature.name = "f"
    whole.MergeFrom(rest)
    data = nodes.joined(rest.SerializeToString())
    assert graph_pb2.GraphDef.FromString(data) == whole
    assert nodes.chunks == []  # let go as they were copied
    assert nodes.joined(b"ignored") is data
    assert nodes.segment(299) == _layer(299, 299 % 7) and nodes.segment(0) == graph_pb2.GraphDef()
    assert [len(s.node) for s in nodes.segments(295)] == [295 % 7, 296 % 7, 297 % 7, 298 % 7, 299 % 7]


def test_payloads_and_names_of_serialized_nodes():
    layer = _layer(3, 4)
    data = layer.SerializeToString()
    spans = list(wire.payloads(data))
    assert [node_def_pb2.NodeDef.FromString(data[a:b]) for a, b in spans] == list(layer.node)
    assert [wire.node_name(data, a) for a, _ in spans] == [f"layer_3/op_{j}" for j in range(4)]
    long = graph_pb2.GraphDef()
    long.node.add(name="x" * 300, op="NoOp")  # a length past one varint byte
    assert [wire.node_name(long.SerializeToString(), a) for a, _ in wire.payloads(long.SerializeToString())] == ["x" * 300]
    with pytest.raises(ValueError, match="field 1 is not length-delimited"):
        list(wire.payloads(b"\x08\x01"))


def test_an_appended_attr_entry_adds_or_replaces_an_attribute():
    node = _layer(1, 1).node[0]
    shapes = attr_value_pb2.AttrValue()
    shapes.list.shape.add().dim.add().size = -1
    dtype = attr_value_pb2.AttrValue(type=3)
    data = node.SerializeToString() + wire.attr_entry("_output_shapes", shapes.SerializeToString())
    data += wire.attr_entry("T", dtype.SerializeToString())
    parsed = node_def_pb2.NodeDef.FromString(data)
    assert parsed.attr["_output_shapes"] == shapes
    assert parsed.attr["T"].type == 3 and len(parsed.attr) == 2
    assert wire.varint(300) == b"\xac\x02" and wire.header(1, 300) == b"\x0a\xac\x02"


def test_collections_serialize_as_a_meta_graph_defs():
    collections = wire.Collections()
    expected = meta_graph_pb2.MetaGraphDef()
    for i in range(200):
        proto = variable_pb2.VariableDef(variable_name=f"layer_{i}/kernel:0", trainable=True)
        for key in ("variables", "trainable_variables"):
            collections.add(key, wire.Collections.BYTES_LIST, proto.SerializeToString())
            expected.collection_def[key].bytes_list.value.append(proto.SerializeToString())
    collections.add("update_ops", wire.Collections.NODE_LIST, b"bn/AssignMovingAvg")
    expected.collection_def["update_ops"].node_list.value.append("bn/AssignMovingAvg")
    assert meta_graph_pb2.MetaGraphDef.FromString(b"".join(collections.serialized())) == expected
    assert list(collections.items("update_ops")) == [b"bn/AssignMovingAvg"]
    assert list(collections.items("none")) == []
