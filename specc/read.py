"""Stage 1, read: YAML text -> plain data plus the line and column of every node.

The text is parsed by libyaml (`yaml.CSafeLoader`, whose events carry every node's
line and column) where PyYAML has it, else by PyYAML's pure-Python parser; the data is
built from the events directly, without a tree of nodes. Lines a generator writes by the
thousand (`- {id: layer_7, type: dense}`) are read by specc.flowlines, with the same result.
Plain scalars are read by YAML 1.2's core schema, as editors, check-jsonschema and
ajv read them: `no` and `on` are text, `1e-3` is a number.
Only YAML's standard scalar, sequence and mapping types are accepted (no
`!!python/...` or custom tags: nothing in a spec is ever executed). Anchors and
aliases are expanded under a budget for the nodes the aliases add, so a "billion
laughs" file is refused quickly and in bounded memory while a big spec written
out in full loads. Duplicate mapping keys are an error, not last-one-wins.
"""

from __future__ import annotations

import gc
import re
from contextlib import contextmanager
from dataclasses import field
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml

from . import flowlines
from .errors import Location, SpecError, SpecPath
from .limits import DEFAULT_LIMITS, Limits
from .record import record


_TAG = "tag:yaml.org,2002:"
# YAML 1.2's core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution): PyYAML resolves
# YAML 1.1, where `no`, `on` and `y` are booleans and `1e-3` is a string. Editors read 1.2.
_CORE = [
    (_TAG + "null", r"^(?:~|null|Null|NULL|)$", list("~nN") + [""]),
    (_TAG + "bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    (_TAG + "int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    (_TAG + "float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                     r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", list("-+.0123456789")),
    # Not in 1.2's core schema, but kept, as yaml-language-server keeps it: `<<: *defaults`.
    (_TAG + "merge", r"^<<$", ["<"]),
]


def _core_schema(cls: type) -> type:
    cls.yaml_implicit_resolvers = {}
    return _with_core(cls)


def _with_core(cls: type) -> type:
    for tag, pattern, first in _CORE:
        cls.add_implicit_resolver(tag, re.compile(pattern), first)
    return cls


class _BoundedComposer:
    """For `--set` values, which are composed into nodes (parse_value; a spec is built from events):
    PyYAML's pure-Python composer recurses once per level of nesting: past `max_depth` levels it stops
    with libyaml's own message (libyaml stops at 1,000 levels by itself), before Python's recursion
    limit would. The builder then holds the data to `Limits.max_depth`."""

    max_depth = DEFAULT_LIMITS.max_depth
    _depth = 0

    def compose_node(self, parent, index):
        if self._depth >= self.max_depth:
            raise yaml.composer.ComposerError(None, None, "exceeded maximum nesting depth",
                                              self.peek_event().start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


@_core_schema
class Loader(_BoundedComposer, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's parser where PyYAML was built with it (several times faster, the same events and
    marks), resolving plain scalars by YAML 1.2's core schema."""


@_with_core
class Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Writes YAML that reads back as written by YAML 1.2 and 1.1 readers alike: text either would read
    as something else (`no`, `1e-3`) is quoted. libyaml's emitter where PyYAML was built with it: the same
    text as PyYAML's own, four times faster (a 1,000-layer spec's resolved.yaml in 0.06 s, not 0.26)."""


def dump(data: Any, **options: Any) -> str:
    """YAML text of plain data (block style unless told; keys in their order)."""
    return yaml.dump(data, Dumper=Dumper, sort_keys=False, allow_unicode=True, **options)


def parse_value(text: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """One YAML value, as a spec would read it (a `--set` value).

    Raises:
        yaml.YAMLError: not YAML, or nested deeper than `limits.max_depth` (PyYAML's constructor
            recurses once per level).
    """
    loader = Loader(text)
    loader.max_depth = limits.max_depth + 1
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        deepest, todo = 0, [(node, 1)]
        while todo:
            item, depth = todo.pop()
            deepest = max(deepest, depth)
            if depth > limits.max_depth:
                raise yaml.YAMLError(_too_deep(limits))
            if isinstance(item, yaml.SequenceNode):
                todo += [(child, depth + 1) for child in item.value]
            elif isinstance(item, yaml.MappingNode):
                todo += [(child, depth + 1) for pair in item.value for child in pair]
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _core_int(text: str) -> int:
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text, 10)


def _core_float(text: str) -> float:
    low = text.lower()
    if low.endswith((".inf", ".nan")):
        return float(low.replace(".", ""))
    return float(text)


@contextmanager
def paused_gc():
    """Pause the cyclic garbage collector. Reading and planning a spec allocate many long-lived
    objects and make next to no cycles: collections those allocations trigger would walk every
    object again and again (at 50,000 layers, most of the time). Cycles made meanwhile are
    collected once it runs again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class MarkTree(Mapping):
    """Path -> (line, col) of the nodes of one file as read, from a compact tree the builder makes.

    Each node's entry is (line, col) for a scalar, (line, col, [entries]) for a sequence and
    (line, col, {key: (key line, key col, entry)}) for a mapping, following the data the builder
    made (keys as text, `<<` merges filled in, aliases expanded). `keys`: the marks of the
    mapping keys that name the nodes, instead of the nodes'. A table keyed by every node's path
    would cost a 50,000-layer spec half a second and twice the memory; a file's own node tree
    kept alive, three times the memory.
    """

    def __init__(self, root: tuple, keys: bool = False):
        self._root, self._keys = root, keys

    def __getitem__(self, path: SpecPath) -> tuple[int, int]:
        found = self._find(path)
        if found is None:
            raise KeyError(path)
        entry, named = found
        if self._keys:
            if named is None:
                raise KeyError(path)
            return named
        return entry[0], entry[1]

    def items_of(self, path: SpecPath) -> list | None:
        """The entries of the items of the sequence at `path`, or None if there is none there."""
        found = self._find(path)
        kids = _kids(found[0]) if found is not None else None
        return kids if isinstance(kids, list) else None

    def _find(self, path: SpecPath) -> tuple[tuple, tuple[int, int] | None] | None:
        """The entry at `path` and the mark of the key that names it (None for a list item or the root);
        None if there is no node there."""
        entry, named = self._root, None
        for part in path:
            kids = _kids(entry)
            if isinstance(kids, dict) and isinstance(part, str) and part in kids:
                line, col, entry = kids[part]
                named = (line, col)
            elif isinstance(kids, list) and isinstance(part, int) and 0 <= part < len(kids):
                entry, named = kids[part], None
            else:
                return None
        return entry, named

    def __iter__(self) -> Iterator[SpecPath]:
        todo: list[tuple[SpecPath, tuple, bool]] = [((), self._root, False)]  # (path, entry, named by a key)
        while todo:
            path, entry, named = todo.pop()
            if named or not self._keys:
                yield path
            kids = _kids(entry)
            if isinstance(kids, dict):
                todo += [(path + (key,), child, True) for key, (_, _, child) in kids.items()]
            elif isinstance(kids, list):
                todo += [(path + (i,), child, False) for i, child in enumerate(kids)]

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _kids(entry: tuple) -> list | dict | None:
    """The entries of a mark-tree node's children (None for a scalar's): a list for a sequence, a dict
    for a mapping (made now for a line flowlines read)."""
    if len(entry) < 3:
        return None
    kids = entry[2]
    return kids.table() if kids.__class__ is flowlines.Kids else kids


@record
class Document:
    """A loaded spec: its data and where each node came from.

    `marks` maps a spec path to the (line, col) of its value node and
    `key_marks` to the (line, col) of the mapping key that names it (a MarkTree for a file as
    read; dicts once composition or expansion has moved nodes). Paths that
    were created later (defaults, expansion) borrow the mark of their nearest
    ancestor. `origins` maps the path of a node that expansion made (a template
    instance, a repeat's copy) to how it was made, for messages.

    A spec that extends others (`base:`, `include:`; specc.compose) holds nodes
    from several files: their marks are (line, col, file) and `sources` maps
    each such file to its lines; a plain (line, col) mark is in `file`.
    """

    file: str
    data: Any
    lines: tuple[str, ...] = ()
    marks: Mapping = field(default_factory=dict, compare=False)
    key_marks: Mapping = field(default_factory=dict, compare=False)
    origins: dict = field(default_factory=dict, compare=False)
    sources: dict = field(default_factory=dict, compare=False)

    def where(self, path: SpecPath, at_key: bool = False) -> Location:
        """The location of `path`: its key when `at_key` and one exists, else its value."""
        path = tuple(path)
        via = self.via(path) if self.origins else ()
        if at_key:
            try:
                return self._located(self.key_marks[path], path, via)
            except KeyError:
                pass
        return self._located(self.mark(path), path, via)

    def items_where(self, path: SpecPath, count: int) -> list[Location]:
        """The location of each of the first `count` items of the sequence at `path`, as `where` gives them:
        read off the sequence's marks at once where they are as the file was read (a big spec's layers)."""
        path = tuple(path)
        entries = self.marks.items_of(path) if not self.origins and self.marks.__class__ is MarkTree else None
        if entries is None or len(entries) < count:
            return [self.where(path + (i,)) for i in range(count)]
        file = self.file
        return [Location(file, entry[0], entry[1], path + (i,), ()) for i, entry in zip(range(count), entries)]

    def mark(self, path: SpecPath) -> tuple:
        """The mark of `path`, or of its nearest ancestor that has one."""
        probe, marks = tuple(path), self.marks
        while True:
            try:
                return marks[probe]
            except KeyError:
                if not probe:
                    return (1, 1)
                probe = probe[:-1]

    def _located(self, mark: tuple, path: SpecPath, via: tuple[str, ...]) -> Location:
        return Location(mark[2] if len(mark) > 2 else self.file, mark[0], mark[1], path, via)

    def via(self, path: SpecPath) -> tuple[str, ...]:
        """How the node at `path` was made by expansion, outermost first (empty if written as is)."""
        if not self.origins:
            return ()
        return tuple(note for i in range(1, len(path) + 1) for note in self.origins.get(tuple(path[:i]), ()))

    def error(self, message: str, path: SpecPath, at_key: bool = False) -> SpecError:
        """A SpecError located at `path`, carrying the source line for a caret excerpt."""
        where = self.where(path, at_key)
        return SpecError(message, where, self.source_line(where.line, where.file))

    def source_line(self, line: int, file: str | None = None) -> str | None:
        lines = self.lines if file is None or file == self.file else self.sources.get(file, ())
        return lines[line - 1] if 0 < line <= len(lines) else None


def load(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> Document:
    """Read and parse a spec file.

    Args:
        path: the YAML file.
        limits: size, node-count and depth bounds.

    Returns:
        The Document with data and locations.

    Raises:
        SpecError: the file is missing, unreadable, not UTF-8, empty, or not a single safe YAML document.
    """
    path = Path(path)
    name = str(path)
    top = Location(name, 1, 1)
    if path.is_dir():
        raise SpecError("is a directory, not a spec file; pass the path of a .yaml file", top)
    try:
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            raise SpecError(
                f"file is {size} bytes, more than the limit of {limits.max_file_bytes}; "
                "a spec this large is almost certainly not a spec (raise the limit if it is)",
                top,
            )
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError("no such file; check the path", top) from None
    except OSError as e:
        raise SpecError(f"cannot read the file: {e.strerror}", top) from None
    return loads(raw, name, limits)


def loads(raw: bytes | str, name: str = "<string>", limits: Limits = DEFAULT_LIMITS) -> Document:
    """Parse spec text (bytes must be UTF-8). See `load`."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
            raise SpecError(
                f"the file is not valid UTF-8 (byte 0x{raw[e.start]:02x}); save it as UTF-8",
                Location(name, line, col),
            ) from None
    else:
        text = raw
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = tuple(text.splitlines())
    doc = Document(name, None, lines)
    try:
        with paused_gc():
            built = _fast(doc, limits, text)
            if built.__class__ is _Builder:  # no line for flowlines: the builder it made reads the text
                built = built.document(text)
            elif built is _UNREAD:
                built = _Builder(doc, limits).document(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = " ".join(filter(None, [e.context, e.problem]))
        source = doc.source_line(line) or ""
        indent = source[: len(source) - len(source.lstrip(" \t"))]
        if "\t" in indent:  # YAML forbids tabs in indentation; libyaml only says the tab cannot start a token
            col = indent.index("\t") + 1
            problem = "a tab in the indentation; YAML indents with spaces only, so indent with spaces"
        elif "exceeded maximum nesting depth" in problem:  # libyaml's own bound, met while scanning ahead
            raise SpecError(_too_deep(limits), Location(name, line, col), doc.source_line(line)) from None
        raise SpecError(f"malformed YAML: {problem}", Location(name, line, col), doc.source_line(line)) from None
    except yaml.YAMLError as e:  # reader errors (control characters) carry no problem_mark
        raise SpecError(f"malformed YAML: {e}", Location(name, 1, 1)) from None
    if built is None:
        raise SpecError("the file is empty; a spec starts with `specc: 1`", Location(name, 1, 1))
    data, marks = built
    return Document(name, data, lines, MarkTree(marks), MarkTree(marks, keys=True))


_UNREAD = object()


def _fast(doc: Document, limits: Limits, text: str):
    """The document read with its flow-mapping lines read by flowlines; the unused builder when there are
    none; _UNREAD when the parser did not see them as entries, or on any error (the usual reading words
    it)."""
    builder = _Builder(doc, limits)
    scanned = flowlines.scan(text, builder.scalar, builder.line_numbers, doc.lines)
    if scanned is None:
        return builder
    try:
        return builder.document(*scanned)
    except (yaml.YAMLError, SpecError):
        return _UNREAD


def _too_deep(limits: Limits) -> str:
    return (f"nesting deeper than {limits.max_depth} levels (specc.limits.Limits.max_depth); "
            "a spec this deep is almost certainly a mistake: flatten it, or use templates")


class _Frame:
    """A collection whose events are still arriving: its data, its marks, and for a mapping the key
    whose value comes next (`key` is _MERGE while a `<<` value comes). A mapping's `kids` hold the
    line of each key it sets (the keys that `<<` merges come in at its end)."""

    __slots__ = ("data", "kids", "line", "col", "anchor", "size", "key", "key_line", "key_col", "merges")

    def __init__(self, data, kids, line: int, col: int, anchor: str | None):
        self.data, self.kids, self.line, self.col, self.anchor = data, kids, line, col, anchor
        self.size = 1  # nodes, aliases expanded: what an alias of this node adds
        self.key: str | None = None
        self.merges: list[tuple[Any, tuple]] | None = None  # made by the first `<<`


class _Builder:
    """Turns libyaml's events into plain data and a mark tree, enforcing limits as they arrive.

    Building from events, not from a composed node tree, keeps memory to the result: a tree of
    nodes with two marks each would cost a 50,000-layer spec three times the data's memory.
    """

    def __init__(self, doc: Document, limits: Limits):
        self.doc, self.limits = doc, limits
        self.runs: dict[int, flowlines.Run] = {}  # the entries flowlines read, by the line of their `{}`
        self.aliased = 0  # nodes that aliases added, expanding their anchors
        self.anchors: dict[str, tuple[Any, tuple, int]] = {}  # anchor -> (data, marks, size)
        self.stack: list[_Frame] = []
        # Plain text -> (the one string object that holds it, its core-schema tag): a big spec repeats
        # `id`, `type`, `dense`, `relu` thousands of times, and each event brings a new string.
        self.plain: dict[str, tuple[str, str]] = {}
        # Line numbers as marks hold them, one int object per line (each node's mark would make its own).
        self.line_numbers = list(range(1, len(doc.lines) + 3))

    def fail(self, message: str, line: int, col: int, path: SpecPath | None = None) -> SpecError:
        where = Location(self.doc.file, line, col, self.path() if path is None else path)
        return SpecError(message, where, self.doc.source_line(line))

    def path(self) -> SpecPath:
        """The path of the node whose event came last."""
        return tuple(f.key if f.kids.__class__ is dict else len(f.data) for f in self.stack)

    def scalar(self, text: str) -> tuple[Any, bool]:
        """A plain scalar's value, and whether it is text (for flowlines)."""
        known = self.plain.get(text)
        if known is None:
            known = self.plain[text] = (text, _plain_tag(text))
        value, tag = known
        return (value, True) if tag == _STR else (_SCALARS[tag](value), False)

    def document(self, text: str, runs: dict | None = None) -> tuple[Any, tuple] | None:
        """The one document's data and marks; None if there is no document or it is empty.
        `runs`: the entries flowlines read, standing in the text as `- {}` lines; _UNREAD if they
        were not all entries where the parser saw their `{}`."""
        self.runs = runs or {}
        self.misread = False  # a run's `{}` came where its lines could not have been entries
        self.loader = loader = Loader(text)
        try:
            found = self._document(loader)
        finally:
            loader.dispose()
        return _UNREAD if self.runs or self.misread else found

    def _document(self, loader) -> tuple[Any, tuple] | None:
        loader.get_event()  # StreamStart
        if loader.check_event(yaml.StreamEndEvent):
            return None
        loader.get_event()  # DocumentStart
        first = loader.peek_event()
        if (first.__class__ is _ScalarEvent and first.tag is None and first.implicit[0]
                and first.value in ("", "~", "null")):
            return None  # an empty document (comments only, or a lone null)
        root = self.node()
        loader.get_event()  # DocumentEnd
        if not loader.check_event(yaml.StreamEndEvent):
            mark = loader.peek_event().start_mark
            raise self.fail("the file holds several YAML documents (`---`); a spec is exactly one document",
                            mark.line + 1, mark.column + 1, ())
        return root

    def node(self) -> tuple[Any, tuple] | None:
        get_event, stack, anchors, plain = self.loader.get_event, self.stack, self.anchors, self.plain
        runs = self.runs
        line_numbers = self.line_numbers
        max_depth = self.limits.max_depth
        top = stack[-1] if stack else None  # the collection the next node goes into
        while True:
            event = get_event()
            kind = event.__class__
            if kind is _ScalarEvent:
                mark = event.start_mark
                line, col = line_numbers[mark.line], mark.column + 1
                tag, value = event.tag, event.value
                if tag is None or tag == "!":
                    if event.implicit[0]:
                        known = plain.get(value)
                        if known is None:
                            known = plain[value] = (value, _plain_tag(value))
                        value, tag = known
                    else:
                        tag = _STR
                if top is not None and top.key is None and top.kids.__class__ is dict:
                    if tag == _STR and value not in top.kids:  # the usual key; self.key has the rest
                        top.key, top.key_line, top.key_col = value, line, col
                    else:
                        self.key(top, tag, value, line, col)
                    if event.anchor is not None:
                        anchors[event.anchor] = (value, (line, col), 1)
                    continue
                if tag != _STR:
                    construct = _SCALARS.get(tag)
                    if construct is None:
                        raise self.fail(_unsupported(tag), line, col)
                    try:
                        value = construct(value)
                    except ValueError:
                        raise self.fail(f"{value!r} is not a valid {tag.replace(_TAG, '!!')}", line, col) from None
                item, marks, size, anchor = value, (line, col), 1, event.anchor
            elif kind is _MappingStartEvent or kind is _SequenceStartEvent:
                mark = event.start_mark
                line, col = line_numbers[mark.line], mark.column + 1
                if top is not None and top.key is None and top.kids.__class__ is dict:
                    raise self.fail("mapping keys must be plain scalars", line, col, self.path()[:-1])
                if len(stack) >= max_depth:
                    raise self.fail(_too_deep(self.limits), line, col)
                mapping = kind is _MappingStartEvent
                if event.tag not in (None, "!", _MAP if mapping else _SEQ):
                    raise self.fail(_unsupported(event.tag), line, col)
                if mapping and mark.line in runs:
                    self.entries(runs.pop(mark.line), top, col)
                    continue
                top = _Frame({} if mapping else [], {} if mapping else [], line, col, event.anchor)
                stack.append(top)
                continue
            elif kind is _MappingEndEvent or kind is _SequenceEndEvent:
                frame = stack.pop()
                top = stack[-1] if stack else None
                if frame.merges is not None:
                    self.merge(frame)
                item, marks, size, anchor = frame.data, (frame.line, frame.col, frame.kids), frame.size, frame.anchor
            elif kind is _AliasEvent:
                mark = event.start_mark
                line, col = mark.line + 1, mark.column + 1
                found = anchors.get(event.anchor)
                if found is None:
                    raise self.fail(f"found undefined alias {event.anchor!r}", line, col)
                item, marks, size = found
                if top is not None and top.key is None and top.kids.__class__ is dict:
                    if isinstance(item, (dict, list)):
                        raise self.fail("mapping keys must be plain scalars", line, col, self.path()[:-1])
                    self.key(top, _STR, item if isinstance(item, str) else str(item), line, col)
                    continue
                self.aliased += size
                if self.aliased > self.limits.max_alias_nodes:
                    raise self.fail(
                        f"aliases expand to more than {self.limits.max_alias_nodes:,} nodes (anchors and aliases "
                        "that multiply, like a 'billion laughs' file); refusing to expand them", line, col)
                item, anchor = _copied(item), None
            else:
                raise yaml.YAMLError(f"unexpected {event}")  # the parser orders events; this cannot happen
            if anchor is not None:
                anchors[anchor] = (item, marks, size)
            if top is None:
                return item, marks
            top.size += size
            if top.kids.__class__ is list:
                top.data.append(item)
                top.kids.append(marks)
            elif top.key is _MERGE:
                if top.merges is None:
                    top.merges = []
                top.merges.append((item, marks))
                top.key = None
            else:
                top.data[top.key] = item
                top.kids[top.key] = (top.key_line, top.key_col, marks)
                top.key = None

    def entries(self, run: flowlines.Run, top: _Frame | None, col: int) -> None:
        """The entries of a run flowlines read, where the parser reports its `{}`: in a sequence, at
        the column of the `{` of each of them."""
        end = self.loader.get_event()
        if top is None or top.kids.__class__ is not list or col != run.col or end.__class__ is not _MappingEndEvent:
            self.misread = True  # the document is read again, without flowlines: go on with anything
            return
        top.data += run.data
        top.kids += run.marks
        top.size += run.size

    def key(self, frame: _Frame, tag: str, text: str, line: int, col: int) -> None:
        """A mapping key arrived: the next value is its (or a `<<` merge's)."""
        if tag == _MERGE:
            frame.key = _MERGE
            return
        if tag != _STR:
            construct = _SCALARS.get(tag)
            if construct is None:
                raise self.fail(_unsupported(tag), line, col, self.path()[:-1])
            key = construct(text)
            text = key if isinstance(key, str) else str(key)
        first = frame.kids.get(text)
        if first is not None:
            raise self.fail(f"duplicate key {text!r} (first set at line {first[0]}); YAML would silently keep the "
                            "last one, so remove one of them", line, col, self.path()[:-1] + (text,))
        frame.key, frame.key_line, frame.key_col = text, line, col

    def merge(self, frame: _Frame) -> None:
        """Fill in the keys a mapping's `<<` sources hold that it does not set itself; the first source that
        has a key wins."""
        for value, marks in frame.merges:
            sources = zip(value, _kids(marks)) if isinstance(value, list) else [(value, marks)]
            for data, source_marks in sources:
                if not isinstance(data, dict):
                    raise self.fail("`<<` merges only mappings", source_marks[0], source_marks[1], self.path())
                for key, item in data.items():
                    if key not in frame.data:
                        frame.data[key] = item
                        frame.kids[key] = _kids(source_marks)[key]


def _plain_tag(text: str) -> str:
    """The tag of a plain scalar's text by the core schema (what `Loader.resolve` says, without its steps for
    nodes and paths)."""
    for tag, pattern in Loader.yaml_implicit_resolvers.get(text[:1], ()):
        if pattern.match(text):
            return tag
    return _STR


def _unsupported(tag: str) -> str:
    return f"unsupported YAML tag {tag!r}; specs use plain YAML values only (no tags)"


def _copied(data: Any) -> Any:
    """A fresh copy of an anchor's data for one of its aliases (later stages own what they are given)."""
    if isinstance(data, dict):
        return {k: _copied(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_copied(v) for v in data]
    return data


_ScalarEvent, _AliasEvent = yaml.ScalarEvent, yaml.AliasEvent
_MappingStartEvent, _MappingEndEvent = yaml.MappingStartEvent, yaml.MappingEndEvent
_SequenceStartEvent, _SequenceEndEvent = yaml.SequenceStartEvent, yaml.SequenceEndEvent


_STR, _SEQ, _MAP, _MERGE = _TAG + "str", _TAG + "seq", _TAG + "map", _TAG + "merge"
_SCALARS = {  # tag -> its constructor; strings, the most common, are handled inline
    _TAG + "int": _core_int,
    _TAG + "float": _core_float,
    _TAG + "bool": lambda text: text in ("true", "True", "TRUE"),
    _TAG + "null": lambda text: None,
    _TAG + "timestamp": lambda text: text,  # a date is just text to us (an explicit tag)
}
