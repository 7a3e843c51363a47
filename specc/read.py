"""Stage 1, read: YAML text -> plain data plus the line and column of every node.

The text is composed by libyaml (`yaml.CSafeLoader`, which keeps every node's
line and column) where PyYAML has it, else by PyYAML's pure-Python composer.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml

from .errors import Location, SpecError, SpecPath
from .limits import DEFAULT_LIMITS, Limits


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
    """PyYAML's pure-Python composer recurses once per level of nesting: past `max_depth` levels it stops
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


def _compose_all(text: str, limits: Limits) -> Iterator:
    loader = Loader(text)
    loader.max_depth = limits.max_depth + 1  # one more, so that the builder's located message is the one shown
    try:
        while loader.check_node():
            yield loader.get_node()
    finally:
        loader.dispose()


@_core_schema
class Loader(_BoundedComposer, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's composer where PyYAML was built with it (the same nodes and marks, several times
    faster), resolving plain scalars by YAML 1.2's core schema; within one file, each distinct
    plain text is resolved once (a big spec repeats `dense`, `relu`, `8` thousands of times)."""

    def resolve(self, kind, value, implicit):
        if kind is not yaml.ScalarNode or not implicit[0]:
            return super().resolve(kind, value, implicit)
        resolved = self.__dict__.setdefault("_resolved", {})
        tag = resolved.get(value)
        if tag is None:
            tag = resolved[value] = super().resolve(kind, value, implicit)
        return tag


@_with_core
class Dumper(yaml.SafeDumper):
    """Writes YAML that reads back as written by YAML 1.2 and 1.1 readers alike: text either would read
    as something else (`no`, `1e-3`) is quoted."""


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


def _core_int(node) -> int:
    text = node.value
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text, 10)


def _core_float(node) -> float:
    text = node.value.lower()
    if text.endswith((".inf", ".nan")):
        return float(text.replace(".", ""))
    return float(node.value)


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
        entry, named = self._root, None
        for part in path:
            kids = entry[2] if len(entry) > 2 else None
            if isinstance(kids, dict) and isinstance(part, str) and part in kids:
                line, col, entry = kids[part]
                named = (line, col)
            elif isinstance(kids, list) and isinstance(part, int) and 0 <= part < len(kids):
                entry, named = kids[part], None
            else:
                raise KeyError(path)
        if self._keys:
            if named is None:
                raise KeyError(path)
            return named
        return entry[0], entry[1]

    def __iter__(self) -> Iterator[SpecPath]:
        todo: list[tuple[SpecPath, tuple, bool]] = [((), self._root, False)]  # (path, entry, named by a key)
        while todo:
            path, entry, named = todo.pop()
            if named or not self._keys:
                yield path
            kids = entry[2] if len(entry) > 2 else None
            if isinstance(kids, dict):
                todo += [(path + (key,), child, True) for key, (_, _, child) in kids.items()]
            elif isinstance(kids, list):
                todo += [(path + (i,), child, False) for i, child in enumerate(kids)]

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass(frozen=True)
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
        via = self.via(path)
        if at_key and path in self.key_marks:
            return self._located(self.key_marks[path], path, via)
        return self._located(self.mark(path), path, via)

    def mark(self, path: SpecPath) -> tuple:
        """The mark of `path`, or of its nearest ancestor that has one."""
        probe = tuple(path)
        while probe not in self.marks and probe:
            probe = probe[:-1]
        return self.marks.get(probe, (1, 1))

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
            nodes = list(_first_two(_compose_all(text, limits)))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = " ".join(filter(None, [e.context, e.problem]))
        source = doc.source_line(line) or ""
        indent = source[: len(source) - len(source.lstrip(" \t"))]
        if "\t" in indent:  # YAML forbids tabs in indentation; libyaml only says the tab cannot start a token
            col = indent.index("\t") + 1
            problem = "a tab in the indentation; YAML indents with spaces only, so indent with spaces"
        elif "exceeded maximum nesting depth" in problem:  # the composer's bound (libyaml's, or ours below)
            raise SpecError(_too_deep(limits), Location(name, line, col), doc.source_line(line)) from None
        raise SpecError(f"malformed YAML: {problem}", Location(name, line, col), doc.source_line(line)) from None
    except yaml.YAMLError as e:  # reader errors (control characters) carry no problem_mark
        raise SpecError(f"malformed YAML: {e}", Location(name, 1, 1)) from None
    if not nodes or _is_empty(nodes[0]):
        raise SpecError("the file is empty; a spec starts with `specc: 1`", Location(name, 1, 1))
    if len(nodes) > 1:
        mark = nodes[1].start_mark
        raise SpecError(
            "the file holds several YAML documents (`---`); a spec is exactly one document",
            Location(name, mark.line + 1, mark.column + 1),
            doc.source_line(mark.line + 1),
        )
    builder = _Builder(doc, limits)
    with paused_gc():
        data, marks = builder.build(nodes[0], (), 0, False)
    return Document(name, data, lines, MarkTree(marks), MarkTree(marks, keys=True))


def _too_deep(limits: Limits) -> str:
    return (f"nesting deeper than {limits.max_depth} levels (specc.limits.Limits.max_depth); "
            "a spec this deep is almost certainly a mistake: flatten it, or use templates")


def _first_two(iterable):
    for i, item in enumerate(iterable):
        yield item
        if i == 1:
            return


def _is_empty(node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _TAG + "null" and node.value in ("", "~", "null")


class _Builder:
    """Turns composed YAML nodes into plain data, recording marks and enforcing limits."""

    def __init__(self, doc: Document, limits: Limits):
        self.doc, self.limits = doc, limits
        self.aliased = 0  # nodes built again because an alias names their anchor
        self.built: set[int] = set()  # the collections built so far: one met again is an alias

    def fail(self, message: str, node, path: SpecPath = ()) -> SpecError:
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        return SpecError(message, Location(self.doc.file, line, col, tuple(path)), self.doc.source_line(line))

    def build(self, node, path: SpecPath, depth: int, aliased: bool) -> Any:
        kind = type(node)
        if kind is not yaml.ScalarNode:
            if id(node) in self.built:
                aliased = True  # met again: an alias, whose nodes are built once more
            else:
                self.built.add(id(node))
        if aliased:
            self.aliased += 1
            if self.aliased > self.limits.max_alias_nodes:
                raise self.fail(
                    f"aliases expand to more than {self.limits.max_alias_nodes:,} nodes (anchors and aliases that "
                    "multiply, like a 'billion laughs' file); refusing to expand them", node, path)
        mark = node.start_mark
        if kind is yaml.ScalarNode:
            tag = node.tag
            if tag == _STR:
                return node.value, (mark.line + 1, mark.column + 1)
            construct = _SCALARS.get(tag)
            if construct is None:
                raise self.unsupported(node, path)
            return construct(node), (mark.line + 1, mark.column + 1)
        if depth >= self.limits.max_depth:
            raise self.fail(_too_deep(self.limits), node, path)
        if kind is yaml.SequenceNode:
            if node.tag != _SEQ:
                raise self.unsupported(node, path)
            items = [self.build(item, path + (i,), depth + 1, aliased) for i, item in enumerate(node.value)]
            return [value for value, _ in items], (mark.line + 1, mark.column + 1, [m for _, m in items])
        if node.tag != _MAP:
            raise self.unsupported(node, path)
        kids: dict[str, tuple] = {}
        return self.mapping(node, path, depth, aliased, kids), (mark.line + 1, mark.column + 1, kids)

    def unsupported(self, node, path: SpecPath) -> SpecError:
        return self.fail(
            f"unsupported YAML tag {node.tag!r}; specs use plain YAML values only (no tags)", node, path
        )

    def key(self, node, path: SpecPath) -> str:
        if type(node) is not yaml.ScalarNode:
            raise self.fail("mapping keys must be plain scalars", node, path)
        if node.tag != _STR and node.tag not in _SCALARS:
            raise self.unsupported(node, path)
        return _key_text(node)

    def mapping(self, node, path: SpecPath, depth: int, aliased: bool, kids: dict,
                taken: frozenset = frozenset()) -> dict:
        """The mapping's own keys, then what `<<` merges fill in (the first source that has a key wins);
        keys in `taken` are set already, by the mapping a merge source fills. `kids` gets each key's
        (key line, key col, marks)."""
        out: dict = {}
        merges = []
        first: dict[str, int] = {}  # key -> the line that set it
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merges.append(value_node)
                continue
            key = self.key(key_node, path)
            child = path + (key,)
            if key in first:
                raise self.fail(
                    f"duplicate key {key!r} (first set at line {first[key]}); YAML would silently keep "
                    "the last one, so remove one of them",
                    key_node, child,
                )
            mark = key_node.start_mark
            first[key] = mark.line + 1
            if key in taken:
                continue  # shadowed: only its duplicates matter
            out[key], marks = self.build(value_node, child, depth + 1, aliased)
            kids[key] = (mark.line + 1, mark.column + 1, marks)
        for value_node in merges:
            sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    raise self.fail("`<<` merges only mappings", source, path)
                out.update(self.mapping(source, path, depth + 1, True, kids, taken | out.keys()))
        return out


_STR, _SEQ, _MAP, _MERGE = _TAG + "str", _TAG + "seq", _TAG + "map", _TAG + "merge"
_SCALARS = {  # tag -> its constructor; strings, the most common, are handled inline
    _TAG + "int": _core_int,
    _TAG + "float": _core_float,
    _TAG + "bool": lambda node: node.value in ("true", "True", "TRUE"),
    _TAG + "null": lambda node: None,
    _TAG + "timestamp": lambda node: node.value,  # a date is just text to us (an explicit tag)
}


def _key_text(node) -> str:
    """A mapping key as the data holds it: text (`1: x` has the key "1")."""
    if node.tag == _STR:
        return node.value
    key = _SCALARS[node.tag](node)
    return key if isinstance(key, str) else str(key)
