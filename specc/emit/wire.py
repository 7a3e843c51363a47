"""A GraphDef's nodes held serialized, and the little of protobuf's wire format it takes to use them so.

As protobuf messages, a stamped graph's NodeDefs take 5-6 times their serialized size; a
4,000-layer model's 84,000 nodes would hold 60 MB where their GraphDef is 11. So the stamper
serializes each layer's nodes as soon as they are stamped (`Nodes`), and the files and the
import are made from those bytes: a GraphDef is its fields' entries one after the other, a
repeated field's items each an entry of their own, and a message field that occurs twice is
merged (its repeated fields joined) when parsed, so serialized pieces can be concatenated.
"""

from __future__ import annotations

import functools
import io
from typing import Any, Iterator

_LEN = 2  # the wire type of length-delimited fields (bytes, strings, messages)
NODE = 1  # GraphDef.node
NODE_NAME = 1  # NodeDef.name
NODE_ATTR = 5  # NodeDef.attr (a map: entries of key = 1, value = 2)


def varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


@functools.lru_cache(maxsize=4096)
def header(field: int, length: int) -> bytes:
    """The tag and length that open a length-delimited entry of `length` bytes."""
    return varint(field << 3 | _LEN) + varint(length)


def entry(field: int, payload: bytes) -> bytes:
    return header(field, len(payload)) + payload


def attr_entry(key: str, value: bytes) -> bytes:
    """A NodeDef's `attr` entry: the map item key -> the serialized AttrValue."""
    return entry(NODE_ATTR, entry(1, key.encode()) + entry(2, value))


def _read_varint(data, at: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def payloads(data, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """The (start, end) of each entry's payload in data[start:end], entries of length-delimited fields only."""
    at, end = start, len(data) if end is None else end
    while at < end:
        key = data[at]  # one byte, but for fields past 15
        key, at = _read_varint(data, at) if key & 0x80 else (key, at + 1)
        if key & 7 != _LEN:
            raise ValueError(f"field {key >> 3} is not length-delimited")
        length = data[at]
        length, at = _read_varint(data, at) if length & 0x80 else (length, at + 1)
        yield at, at + length
        at += length


def node_name(data, start: int) -> str:
    """The name of the NodeDef whose payload starts at `start` (protobuf writes `name`, field 1, first)."""
    key, at = _read_varint(data, start)
    if key != NODE_NAME << 3 | _LEN:
        return ""
    length, at = _read_varint(data, at)
    return bytes(data[at:at + length]).decode()


class Nodes:
    """A GraphDef's nodes, serialized in segments (the inputs' nodes, then each layer's), in graph order.

    `add` takes a GraphDef that holds nothing but nodes; its serialization is their `node` entries.
    Each segment is a bytes object of its own (one growing buffer would be copied as it grows, and
    held twice then), until `joined` makes them one.
    """

    def __init__(self, graph_def_class: Any):
        self.GraphDef = graph_def_class
        self.chunks: list[bytes] = []  # per segment, its nodes' entries; [] once joined
        self.counts: list[int] = []  # per segment, how many nodes
        self._joined = b""
        self._bounds: list[tuple[int, int]] = []  # once joined, where each segment is in it

    def add(self, graph_def) -> int:
        """Append graph_def's nodes as a new segment; returns its index."""
        self.chunks.append(graph_def.SerializeToString())
        self.counts.append(len(graph_def.node))
        return len(self.chunks) - 1

    def __len__(self) -> int:
        return sum(self.counts)

    def segment(self, index: int):
        """The segment's nodes as a GraphDef."""
        if not self._bounds:
            return self.GraphDef.FromString(self.chunks[index])
        start, end = self._bounds[index]
        return self.GraphDef.FromString(memoryview(self._joined)[start:end])

    def segments(self, first: int = 0) -> Iterator:
        for index in range(first, len(self.counts)):
            yield self.segment(index)

    def joined(self, tail: bytes) -> bytes:
        """The nodes' entries then `tail` (a GraphDef's other fields, serialized), as one bytes object.

        Made once, in a buffer of its final size, each segment's own bytes let go as they are copied
        into it: the nodes are never held twice. No segment can be added afterwards.
        """
        if not self._bounds:
            buffer = io.BytesIO()
            buffer.seek(sum(map(len, self.chunks)) + len(tail) - 1)
            buffer.write(b"\0")  # sized once: the bytes before it are zeros until written
            buffer.seek(0)
            chunks, self.chunks = self.chunks, []
            chunks.reverse()
            while chunks:
                start = buffer.tell()
                buffer.write(chunks.pop())
                self._bounds.append((start, buffer.tell()))
            buffer.write(tail)
            self._joined = buffer.getvalue()  # BytesIO hands over a buffer it fills whole without copying it
        return self._joined


class Collections:
    """A MetaGraphDef's collections (`collection_def`), serialized as they are filled."""

    NODE_LIST, BYTES_LIST = 1, 2  # CollectionDef's fields; each a message whose field 1 is the items
    _COLLECTION_DEF = 4  # MetaGraphDef.collection_def: entries of key = 1, value = 2

    def __init__(self):
        self._lists: dict[str, tuple[int, io.BytesIO]] = {}

    def add(self, key: str, kind: int, item: bytes) -> None:
        """Append an item (a node's name, or a serialized proto) to the collection `key` of that kind."""
        if key not in self._lists:
            self._lists[key] = (kind, io.BytesIO())
        self._lists[key][1].write(entry(1, item))

    def items(self, key: str) -> Iterator[bytes]:
        """The items of the collection `key`, in order."""
        if key in self._lists:
            data = self._lists[key][1].getvalue()
            for start, end in payloads(data):
                yield data[start:end]

    def serialized(self) -> list[bytes]:
        """The MetaGraphDef's `collection_def` entries, in pieces (the items are not copied)."""
        pieces = []
        for key, (kind, buffer) in self._lists.items():
            items = buffer.getvalue()
            name = entry(1, key.encode())
            value = header(2, len(items) + len(header(kind, len(items)))) + header(kind, len(items))
            pieces += [header(self._COLLECTION_DEF, len(name) + len(value) + len(items)), name, value, items]
        return pieces
