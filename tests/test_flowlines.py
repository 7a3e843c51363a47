"""Flow-mapping lines read without the parser (specc.flowlines) must read exactly as the parser reads them:
the same data, the same marks, the same node counts, the same errors; and lines that only look like
entries (in a block scalar, a multi-line string) must be left to the parser."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from specc import flowlines, read
from specc.errors import SpecError
from specc.limits import Limits

ROOT = Path(__file__).resolve().parent.parent


def _outcome(text: str, limits: Limits = Limits()) -> tuple:
    try:
        doc = read.loads(text, "f.yaml", limits)
    except SpecError as e:
        return ("error", str(e), e.where)
    return ("ok", repr(doc.data), _tree(doc.marks._root))


def _tree(entry: tuple) -> tuple:
    """A mark-tree entry with every child's marks made (flowlines makes an entry's when asked)."""
    kids = read._kids(entry)
    if kids is None:
        return entry
    if isinstance(kids, list):
        return entry[:2] + ([_tree(kid) for kid in kids],)
    return entry[:2] + ({key: (line, col, _tree(kid)) for key, (line, col, kid) in kids.items()},)


def _both(text: str, monkeypatch, limits: Limits = Limits()) -> tuple[tuple, tuple, int]:
    """What reading gives with flowlines and without it, and how many runs of entries flowlines read
    (0 when the parser was given the original text)."""
    runs = []
    scan, fast = flowlines.scan, read._fast

    def counted_scan(*args):
        found = scan(*args)
        runs.append(len(found[1]) if found else 0)
        return found

    def counted_fast(*args):
        built = fast(*args)
        if built is read._UNREAD:
            runs.append(0)
        return built

    with monkeypatch.context() as m:
        m.setattr(flowlines, "scan", counted_scan)
        m.setattr(read, "_fast", counted_fast)
        got = _outcome(text, limits)
    with monkeypatch.context() as m:
        m.setattr(flowlines, "scan", lambda *args: None)
        slow = _outcome(text, limits)
    return got, slow, runs[-1]


CHAIN = "specc: 1\ninputs:\n  x: {shape: [null, 8]}\nlayers:\n" + "".join(
    f"  - {{id: layer_{i}, type: dense, units: 8, activation: relu}}\n" for i in range(50))


def test_a_chain_is_read_by_flowlines_as_the_parser_reads_it(monkeypatch):
    fast, slow, runs = _both(CHAIN, monkeypatch)
    assert fast == slow and fast[0] == "ok"
    assert runs == 1  # all 50 entries in one run
    assert read.loads(CHAIN, "f.yaml").data["layers"][7] == {"id": "layer_7", "type": "dense", "units": 8,
                                                              "activation": "relu"}
    doc = read.loads(CHAIN, "f.yaml")
    assert doc.marks[("layers", 7)] == (12, 5)
    assert doc.key_marks[("layers", 7, "units")] == (12, 32)
    assert doc.marks[("layers", 7, "units")] == (12, 39)


@pytest.mark.parametrize("path", sorted(str(p.relative_to(ROOT)) for p in [
    *ROOT.glob("specs/**/*.yaml"), *ROOT.glob("tests/invalid/**/*.yaml"), *ROOT.glob("docs/**/*.yaml")]))
def test_every_spec_reads_the_same_with_and_without_flowlines(path, monkeypatch):
    fast, slow, _ = _both((ROOT / path).read_text(encoding="utf-8"), monkeypatch)
    assert fast == slow


TRICKY = {
    "values of every kind": ("a:\n  - {i: 1, n: -2, h: 0x1f, o: 0o17, f: 1.5e3, e: 1e-3, inf: -.inf, nan: .nan, "
                             "t: true, F: False, z: null, s: relu, p: a/b.c, v: 1.0.0, plus: +, m: -x, "
                             "q: \"x, y} # z\", sq: 'it is: }', empty: \"\", no: no, on: on}\n", 1),
    "read as JSON and not, in one run": "a:\n  - {x: 1, y: relu}\n  - {x: 1.5, y: 'q'}\n  - {x: -3,y:  _z}\n"
                                        "  - {x: true}\n  - {x: 007, y: True_}\n",
    "a key twice in a JSON entry": "a:\n  - {x: 1}\n  - {x: 1, y: b, x: c}\n",
    "comments and spaces": "a:\n  - {  x: 1 ,y:  2 }   # note\n  - {x: 3}\n  # between\n  - {x: 4}   \n",
    "indentless and nested": "a:\n- {x: 1}\n- {x: 2}\nb:\n  c:\n    - {y: 1}\n    - {y: 2}\n",
    "different indents are different runs": "a:\n  - {x: 1}\nb:\n    - {x: 2}\n",
    "entries after block ones": "a:\n  - x: 1\n    y: 2\n  - {x: 3}\n  - [1, 2]\n  - {x: 4}\n",
    "in a literal block scalar": "a: |\n  - {x: 1}\n  - {x: 2}\nb:\n  - {x: 3}\n",
    "in a folded block scalar": "a: >-\n  - {x: 1}\n\n  - {x: 2}\n",
    "in a multi-line plain scalar": "a: one\n  - {x: 1}\n  - {x: 2}\n",
    "in a multi-line quoted scalar": "a: \"one\n  - {x: 1}\n  two\"\n",
    "in a flow sequence": "a: [\n  - {x: 1}\n]\n",
    "a mapping's value, not an entry": "a:\n  b: 1\n  - {x: 1}\n",
    "the root": "- {x: 1}\n- {x: 2}\n",
    "a duplicate key": "a:\n  - {x: 1}\n  - {x: 1, y: 2, x: 3}\n",
    "a key that is not text": "a:\n  - {true: 1}\n  - {null: 1}\n  - {x: 1}\n",
    "anchors and aliases around entries": "a: &a\n  - {x: 1}\n  - {x: 2, y: [1]}\nb: *a\nc: &c {x: 5}\nd:\n  - *c\n  - {x: 6}\n",
    "a merge into an entry's neighbour": "d: &d {u: 1}\na:\n  - {x: 1}\n  - {<<: *d, x: 2}\n  - {x: 3}\n",
    "a tab": "a:\n  - {x: 1,\ty: 2}\n\t- {x: 3}\n",
    "Windows line ends": "a:\r\n  - {x: 1}\r\n  - {x: 2}  # c\r\n",
    "a line break YAML knows and Python's split does not": "a: \"x\u2028y\"\n  - {x: 1}\n",
    "a lone dash and a colon": "a:\n  - {x: -}\n  - {x: a:b}\n  - {x: 'a'b}\n",
    "not closed": "a:\n  - {x: 1\n  - {x: 2}\n",
    "two documents": "a:\n  - {x: 1}\n---\nb:\n  - {x: 2}\n",
    "unicode": "a:\n  - {x: \"é\"}\n  - {é: 1}\n  - {x: 1}\n",
}


@pytest.mark.parametrize("name", TRICKY)
def test_lines_that_look_like_entries_read_as_the_parser_reads_them(name, monkeypatch):
    text = TRICKY[name][0] if isinstance(TRICKY[name], tuple) else TRICKY[name]
    fast, slow, _ = _both(text, monkeypatch)
    assert fast == slow


def test_flowlines_fill_entries_only_where_the_parser_sees_them(monkeypatch):
    assert _both(TRICKY["in a literal block scalar"], monkeypatch)[2] == 0  # the scalar's lines are text
    assert _both(TRICKY["values of every kind"][0], monkeypatch)[2] == 1
    assert _both(TRICKY["different indents are different runs"], monkeypatch)[2] == 2
    assert _both(TRICKY["read as JSON and not, in one run"], monkeypatch)[2] == 1


def test_an_anchor_on_a_run_counts_every_node_an_alias_copies(monkeypatch):
    """The budget for what aliases add counts an entry as the parser does: the mapping and each value."""
    text = "a: &a\n" + "".join(f"  - {{x: {i}, y: z}}\n" for i in range(10)) + "b: [*a, *a, *a]\n"
    for budget, ok in ((93, True), (92, False)):  # each alias adds 1 + 10 * (1 + 2) = 31 nodes
        fast, slow, _ = _both(text, monkeypatch, Limits(max_alias_nodes=budget))
        assert fast == slow
        assert (fast[0] == "ok") is ok


# Each part of a line is mostly one flowlines reads, sometimes one it must leave to the parser.
_PARTS = {  # part -> (what flowlines reads, what it leaves)
    "key": (["x", "y", "id", "_", "Y2", "no"], ["true", "null", "<<", "a b", "é", "x"]),
    "value": (["1", "-1", "+", "0x1F", ".5", "1e3", "relu", "a/b", "'q'", "\"d, }\"", "null", "-.inf"],
              ["-", "~", "a:b", "'a''b'", "\"a\\\"b\"", "[1]", "{}", "*a", "&b c", "é", "a#b", "a #b", ""]),
    "colon": ([": ", ":  "], [":", " : "]),
    "comma": ([", ", ",", " , "], [",,", ", ,"]),
    "indent": (["  "], ["", "    ", " \t"]),
    "tail": (["", "  # c", " "], ["#c", "x", ","]),
}


@st.composite
def _texts(draw) -> str:
    def part(name: str) -> str:
        read_here, left = _PARTS[name]
        return draw(st.sampled_from(read_here if draw(st.integers(0, 11)) else left))

    lines = ["k:"]
    for _ in range(draw(st.integers(1, 6))):
        pairs = [f"{part('key')}{part('colon')}{part('value')}" for _ in range(draw(st.integers(0, 4)))]
        body = part("comma").join(pairs)
        lines.append(f"{part('indent')}- {{{body}}}{part('tail')}")
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None)
@given(_texts())
def test_random_lines_read_as_the_parser_reads_them(text):
    with pytest.MonkeyPatch.context() as monkeypatch:
        fast, slow, _ = _both(text, monkeypatch)
    assert fast == slow, text
