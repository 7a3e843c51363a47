"""`specc graph`: the picture of the scopes (dot text, SVG through Graphviz, one HTML page checked in
headless Chromium), and the nesting TensorBoard shows in a build directory's event file.

Graphviz and Chromium are system packages (.ci/run installs them where it can); a test that needs one
skips with the reason when it is not on PATH.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

import specc
from specc.cli import app
from specc.picture.graph import to_dot, to_html
from specc.picture.page import page_data

from .conftest import ROOT, SPECS, event_graph_defs

SIAMESE = SPECS / "siamese.yaml"
NESTED = SPECS / "nested_blocks.yaml"
REUSE_COLOR = "#c2410c"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell")
# What the workplace asks of every headless Chromium run (and a fresh profile each time).
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars")


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def flat(text: str) -> str:
    """Output with rich's error box and line wrapping taken away."""
    return " ".join(re.sub(r"[\u2500-\u257f]", " ", text).split())


def need_dot() -> str:
    dot = shutil.which("dot")
    if dot is None:
        pytest.skip("Graphviz's `dot` is not on PATH (apt-get install graphviz): SVG output not checked")
    return dot


def need_chromium() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no Chromium on PATH (apt-get install chromium): the HTML page is not checked in a browser")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run([need_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


# -- the dot text -------------------------------------------------------------------------------

class DotTree:
    """The dot text read back: which cluster each node sits in, and the edges with their attributes."""

    def __init__(self, text: str):
        self.parent: dict[str, str | None] = {}  # "layer:x" / "variable:v" / "block:b" -> enclosing "block:..."
        self.node_ids: dict[str, str] = {}  # dot node id (L3) -> its id attribute
        self.edges: list[tuple[str, str, str]] = []  # (from id attribute, to id attribute, attributes)
        stack: list[str | None] = [None]
        pending_cluster = False
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("subgraph cluster_"):
                pending_cluster = True
                continue
            if line == "}":
                if len(stack) > 1:
                    stack.pop()
                continue
            m = re.match(r'graph \[id="([^"]+)"', line)
            if m and pending_cluster:
                self.parent[m[1]] = stack[-1]
                stack.append(m[1])
                pending_cluster = False
                continue
            m = re.match(r'(\w+) \[id="([^"]+)"', line)
            if m:
                self.node_ids[m[1]] = m[2]
                self.parent[m[2]] = stack[-1]
                continue
            m = re.match(r"(\w+) -> (\w+) \[(.*)\];$", line)
            if m:
                self.edges.append((self.node_ids[m[1]], self.node_ids[m[2]], m[3]))


def test_dot_draws_blocks_as_nested_clusters_with_layers_and_variables_inside():
    plan = specc.plan(NESTED)
    tree = DotTree(to_dot(plan))
    blocks = [l.path for l in plan.walk() if l.children]
    assert sorted(k for k in tree.parent if k.startswith("block:")) == sorted(f"block:{b}" for b in blocks)
    assert tree.parent["block:encoder.stage1.inner"] == "block:encoder.stage1"
    assert tree.parent["block:encoder.stage1"] == "block:encoder"
    assert tree.parent["block:encoder"] is None
    for layer in plan.walk():
        if not layer.children:
            enclosing = layer.path.rpartition(".")[0]
            assert tree.parent[f"layer:{layer.path}"] == (f"block:{enclosing}" if enclosing else None)
    # A variable is a leaf in the box of the layer that creates it.
    assert tree.parent["variable:encoder/stage1/inner/fc/kernel"] == "block:encoder.stage1.inner"
    assert {k for k in tree.parent if k.startswith("variable:")} == {f"variable:{v.name}" for v in plan.variables}


def test_dot_shows_each_layers_op_scope_beside_it():
    plan = specc.plan(SIAMESE)
    text = to_dot(plan)
    for layer in plan.walk():
        assert f"ops: {layer.op_scope}</font>" in text
    line = next(l for l in text.splitlines() if 'id="layer:right_tower.fc1"' in l)
    assert "ops: tower_1/fc1" in line and "vars: tower/fc1 (reused)" in line


def test_shared_variables_are_highlighted_with_an_edge_from_every_user():
    plan = specc.plan(NESTED)
    tree = DotTree(to_dot(plan))
    text = to_dot(plan)
    for v in plan.variables:
        users = {f"layer:{u.layer}" for u in v.users}
        edges = [(src, attrs) for src, dst, attrs in tree.edges if dst == f"variable:{v.name}"]
        assert {src for src, _ in edges} == users
        assert len(edges) == len(users)
        for src, attrs in edges:
            reused = src != f"layer:{v.owner}"
            assert (f'color="{REUSE_COLOR}"' in attrs and "style=dashed" in attrs) == reused
        node = next(l for l in text.splitlines() if f'id="variable:{v.name}"' in l)
        assert ("penwidth=2" in node) == v.shared
    kernel = "variable:encoder/stage1/inner/fc/kernel"  # created once, reused twice
    assert sorted(src for src, dst, _ in tree.edges if dst == kernel) == [
        "layer:encoder.stage1.inner.fc", "layer:encoder_b.stage1.inner.fc", "layer:encoder_c.inner.fc"]


def test_an_unshared_variable_is_not_highlighted():
    plan = specc.plan(SPECS / "name_scopes.yaml")
    text = to_dot(plan)
    assert not any(v.shared for v in plan.variables)
    assert REUSE_COLOR not in text and "penwidth=2" not in text and "style=dashed" not in text


# A spec's path is the one free text that reaches the picture (ids and names are plain words):
# a directory `we"ird <&> <` holding a file `script> \ name.yaml` makes a path with `</script>` in it.
AWKWARD = 'we"ird <&> </script> \\ name'


def awkward_spec(tmp_path: Path) -> Path:
    path = tmp_path / f"{AWKWARD}.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(SIAMESE.read_text())
    return path


def test_dot_text_escapes_what_it_quotes(tmp_path):
    text = to_dot(specc.plan(awkward_spec(tmp_path)))
    first = text.splitlines()[0]
    assert first.startswith("// ") and AWKWARD in first  # a comment line, nothing else on it
    assert "\n" not in AWKWARD and all(AWKWARD not in line for line in text.splitlines()[1:])
    # Every quoted string closes on its line: no raw newline or quote leaks out of one.
    for line in text.splitlines()[1:]:
        assert '"' not in re.sub(r'"(?:[^"\\]|\\.)*"', "", line), line
    if shutil.which("dot"):
        done = subprocess.run(["dot", "-Tsvg"], input=text, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr


# -- the command ---------------------------------------------------------------------------------

def test_graph_without_output_prints_dot_text():
    result = invoke("graph", SIAMESE)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("// The scopes of siamese") and "digraph scopes {" in result.stdout


@pytest.mark.parametrize("name,args,kind", [
    ("scopes.dot", (), "dot"), ("scopes.gv", (), "dot"), ("scopes.html", (), "html"),
    ("scopes.HTM", (), "html"), ("picture.txt", ("--format", "dot"), "dot"),
    ("picture.dot", ("--format", "html"), "html"),
])
def test_the_format_comes_from_the_extension_or_the_flag(tmp_path, name, args, kind):
    out = tmp_path / name
    result = invoke("graph", SIAMESE, "-o", out, *args)
    assert result.exit_code == 0, result.output
    assert f"wrote {out} ({kind}: 8 layers, 4 variables, 4 shared)" in result.stdout
    text = out.read_text("utf-8")
    assert text.startswith("<!DOCTYPE html>") if kind == "html" else text.startswith("// The scopes of")


def test_an_extension_that_names_no_format_is_a_usage_error(tmp_path):
    result = invoke("graph", SIAMESE, "-o", tmp_path / "scopes.png")
    assert result.exit_code == 2
    assert "cannot tell the format from 'scopes.png'" in flat(result.output)
    assert not list(tmp_path.iterdir())


def test_svg_without_graphviz_is_a_usage_error_that_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = invoke("graph", SIAMESE, "-o", tmp_path / "scopes.svg")
    assert result.exit_code == 2
    assert "SVG needs Graphviz's `dot`, which is not on PATH (apt-get install graphviz" in flat(result.output)
    assert not (tmp_path / "scopes.svg").exists()


def test_a_wrong_spec_is_exit_1_and_writes_nothing(tmp_path):
    bad = ROOT / "tests" / "invalid" / "unknown_input_reference.yaml"
    result = invoke("graph", bad, "-o", tmp_path / "scopes.html")
    assert result.exit_code == 1
    assert "unknown input or layer 'featurse'" in result.stderr
    assert not list(tmp_path.iterdir())


def test_the_output_is_replaced_by_rename_and_never_the_spec(tmp_path):
    out = tmp_path / "scopes.dot"
    out.write_text("old picture")
    keep = tmp_path / "link.dot"
    os.link(out, keep)  # a rename replaces the name; writing in place would change this link too
    assert invoke("graph", SIAMESE, "-o", out).exit_code == 0
    assert keep.read_text() == "old picture" and out.read_text().startswith("// The scopes of")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.dot", "scopes.dot"]  # no temp file left
    spec = tmp_path / "siamese.yaml"
    spec.write_text(SIAMESE.read_text())
    result = invoke("graph", spec, "--format", "dot", "-o", spec)
    assert result.exit_code == 2 and "is the spec itself" in result.stderr
    assert spec.read_text() == SIAMESE.read_text()


def test_missing_directories_are_made_and_a_directory_is_refused(tmp_path):
    out = tmp_path / "new" / "dir" / "scopes.html"
    assert invoke("graph", SIAMESE, "-o", out).exit_code == 0 and out.exists()
    result = invoke("graph", SIAMESE, "--format", "dot", "-o", tmp_path / "new")
    assert result.exit_code == 2 and "is a directory" in result.stderr


def test_graph_and_lint_never_import_tensorflow(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from specc.cli import app
        codes = []
        for args in (["graph", {str(NESTED)!r}, "-o", {str(tmp_path / 'a.html')!r}],
                     ["graph", {str(NESTED)!r}, "-o", {str(tmp_path / 'a.dot')!r}],
                     ["lint", {str(NESTED)!r}], ["lint", "--format", "json", {str(SIAMESE)!r}]):
            codes.append(app(args, standalone_mode=False) or 0)
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras"))
        print("RESULT", codes, loaded)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "RESULT [0, 0, 0, 0] []"


# -- SVG -------------------------------------------------------------------------------------------

def test_svg_through_graphviz(tmp_path):
    need_dot()
    import xml.etree.ElementTree as ET

    out = tmp_path / "scopes.svg"
    result = invoke("graph", NESTED, "-o", out)
    assert result.exit_code == 0, result.output
    root = ET.parse(out).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    ids = {e.get("id") for e in root.iter()}
    plan = specc.plan(NESTED)
    assert {f"layer:{l.path}" for l in plan.walk() if not l.children} <= ids
    assert {f"block:{l.path}" for l in plan.walk() if l.children} <= ids
    assert {f"variable:{v.name}" for v in plan.variables} <= ids
    text = out.read_text()
    assert "ops: encoder_1/stage1/inner/fc" in text
    assert "reused by encoder_c.inner.fc (ops: encoder_c/inner/fc)" in text  # the hover text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scopes.svg"]


# -- the HTML page ---------------------------------------------------------------------------------

def test_the_html_page_is_self_contained(tmp_path):
    text = to_html(specc.plan(awkward_spec(tmp_path)))
    assert text.count("<script") == 2 and 'src=' not in text
    assert "<link" not in text and "@import" not in text and "url(" not in text
    assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text.replace("http://www.w3.org", ""))
    # The file name's `</script>` stays inside the JSON, escaped; the data reads back whole.
    data = re.search(r'<script type="application/json" id="scopes-data">(.*?)</script>', text, re.S)[1]
    assert json.loads(data)["file"].endswith(f"{AWKWARD}.yaml")


class _Dom(HTMLParser):
    """The tree rows of a dumped page: each li.node's attributes and its row's tooltip."""

    def __init__(self):
        super().__init__()
        self.nodes: list[dict] = []
        self._open: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "li" and "node" in (a.get("class") or "").split():
            self.nodes.append({**a, "title": None})
        elif (tag == "div" and "row" in (a.get("class") or "").split() and self.nodes
              and self.nodes[-1]["title"] is None):
            self.nodes[-1]["title"] = a.get("title", "")


def dump(tmp_path: Path, page: Path, query: str = "") -> _Dom:
    done = chromium(tmp_path, "--dump-dom", page.as_uri() + query)
    assert done.returncode == 0, done.stderr[-2000:]
    assert 'data-ready="true"' in done.stdout, "the page's script did not finish"
    dom = _Dom()
    dom.feed(done.stdout)
    return dom


def test_the_html_page_in_chromium_draws_the_tree_with_tooltips(tmp_path):
    page = tmp_path / "scopes.html"
    assert invoke("graph", SIAMESE, "-o", page).exit_code == 0
    dom = dump(tmp_path, page)
    plan = specc.plan(SIAMESE)
    by_path = {n["data-path"]: n for n in dom.nodes if "data-path" in n}
    assert set(by_path) == {l.path for l in plan.walk()}
    assert by_path["left_tower"]["data-kind"] == "block" and by_path["gap"]["data-kind"] == "layer"
    tip = by_path["right_tower.fc1"]["title"]
    assert "ops: tower_1/fc1" in tip and "variable scope: tower/fc1 (reuse)" in tip
    assert "kernel: tower/fc1/kernel [10, 64] float32 (reused)" in tip
    variables = [n for n in dom.nodes if n.get("data-kind") == "variable"]
    assert len(variables) == 8  # four variables, each under its two users
    kernel = next(n for n in variables if n["data-var"] == "tower/fc1/kernel")
    assert "shared" in kernel["class"].split()
    assert "shape [10, 64], dtype float32" in kernel["title"]
    assert "created by left_tower.fc1 (ops: tower/fc1)" in kernel["title"]
    assert "reused by right_tower.fc1 (ops: tower_1/fc1)" in kernel["title"]
    assert not any("hidden" in n or "match" in n["class"].split() for n in dom.nodes)


def test_the_search_in_the_url_filters_and_highlights(tmp_path):
    page = tmp_path / "scopes.html"
    page.write_text(to_html(specc.plan(NESTED)))
    dom = dump(tmp_path, page, "#q=encoder_1/stage1")
    matched = sorted(n["data-path"] for n in dom.nodes if "match" in n["class"].split())
    assert matched == ["encoder_b.stage1", "encoder_b.stage1.fc", "encoder_b.stage1.inner",
                       "encoder_b.stage1.inner.fc"]
    shown = {n.get("data-path") or n.get("data-var") for n in dom.nodes if "hidden" not in n}
    assert "encoder_b" in shown  # the block around a match stays
    assert not shown & {"encoder", "encoder.stage1", "encoder_c", "pair"}
    variables = {n["data-var"] for n in dom.nodes if n.get("data-kind") == "variable" and "hidden" not in n}
    assert variables == {"encoder/stage1/inner/fc/kernel", "encoder/stage1/inner/fc/bias",
                         "encoder/stage1/fc/kernel", "encoder/stage1/fc/bias"}  # inside matching layers
    # A variable's name is searchable too (`?q=` works as `#q=`), case-insensitively.
    dom = dump(tmp_path, page, "?q=STAGE2/FC/KERNEL")
    assert sorted(n["data-var"] for n in dom.nodes if "match" in n["class"].split()) == [
        "encoder/stage2/fc/kernel", "encoder/stage2/fc/kernel"]


def png_pixels_summary(data: bytes) -> tuple[int, int, int]:
    """(width, height, distinct byte values in the image data): enough to tell a drawing from a blank."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    chunks, at = [], 8
    while at < len(data):
        size = int.from_bytes(data[at:at + 4], "big")
        if data[at + 4:at + 8] == b"IDAT":
            chunks.append(data[at + 8:at + 8 + size])
        at += size + 12
    raw = zlib.decompress(b"".join(chunks))
    return width, height, len(set(raw))


def test_a_screenshot_of_the_page_is_a_drawing(tmp_path):
    page = tmp_path / "scopes.html"
    page.write_text(to_html(specc.plan(NESTED)))
    shot = tmp_path / "scopes.png"
    done = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,900", page.as_uri())
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    blank = tmp_path / "blank.png"
    (tmp_path / "blank.html").write_text("<!DOCTYPE html><html><body></body></html>")
    chromium(tmp_path, f"--screenshot={blank}", "--window-size=1280,900", (tmp_path / "blank.html").as_uri())
    width, height, values = png_pixels_summary(shot.read_bytes())
    assert (width, height) == (1280, 900)
    assert values > 100 and shot.stat().st_size > 5 * blank.stat().st_size, (values, shot.stat().st_size)


def test_page_data_lists_every_layer_and_variable():
    plan = specc.plan(SPECS / "seq2seq_tied.yaml")
    data = page_data(plan)

    def paths(layers):
        for l in layers:
            yield l["path"]
            yield from paths(l.get("children", []))

    assert list(paths(data["layers"])) == [l.path for l in plan.walk()]
    logits = next(l for l in data["layers"] if l["id"] == "logits")
    assert {"local": "table", "name": "embedding/embeddings", "creates": False} in logits["variables"]


# -- TensorBoard: the build directory's event file -------------------------------------------------

@pytest.mark.parametrize("name", ["siamese", "nested_blocks", "shared_by_reference", "name_scopes"])
def test_the_event_file_shows_every_planned_op_scope(tf, tmp_path, name):
    from specc.emit.files import write_graph_files

    plan = specc.plan(SPECS / f"{name}.yaml")
    write_graph_files(specc.build(plan), tmp_path)
    (graph_def,) = event_graph_defs(tmp_path, tf)
    nodes = {n.name for n in graph_def.node}
    for layer in plan.walk():
        assert any(n.startswith(layer.op_scope + "/") for n in nodes), (layer.path, layer.op_scope)
        for op in layer.ops:
            assert f"{layer.op_scope}/{op}" in nodes, (layer.path, op)
    assert {v.name for v in plan.variables} <= nodes


@pytest.mark.parametrize("written", ["from a tf.Graph", "without TensorFlow"])
def test_tensorboard_reads_the_build_directory_and_finds_the_scopes(tf, tmp_path, written):
    """TensorBoard's own reader (what `tensorboard --logdir` runs) finds the graph and every planned scope,
    in the files written from the Python emitter's tf.Graph and in those a stamped build writes without
    TensorFlow (specc.emit.notf)."""
    event_accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator",
        reason="TensorBoard is not installed (TensorFlow 2.20+ no longer brings it): pip install 'specc[tensorboard]'")
    from specc.emit import notf
    from specc.emit.files import write_graph_files

    plan = specc.plan(SPECS / "siamese.yaml")
    if written == "without TensorFlow" and notf.unavailable():
        pytest.skip(notf.unavailable())
    model = specc.build(plan) if written == "from a tf.Graph" else notf.build(plan, directory=tmp_path / "cache")
    (tmp_path / "out").mkdir()
    write_graph_files(model, tmp_path / "out")
    accumulator = event_accumulator.EventAccumulator(str(tmp_path / "out"))
    accumulator.Reload()
    assert accumulator.Tags()["graph"] is True
    names = [n.name for n in accumulator.Graph().node]
    # TensorBoard draws one box per name scope: the top level, and the two towers' layers.
    assert sorted({n.split("/")[0] for n in names}) == ["distance", "gap", "left", "right", "tower", "tower_1"]
    assert sorted({"/".join(n.split("/")[:2]) for n in names if n.startswith("tower")}) == [
        "tower/fc1", "tower/fc2", "tower_1/fc1", "tower_1/fc2"]
    for layer in plan.walk():
        assert any(n.startswith(layer.op_scope + "/") for n in names), layer.op_scope
    assert {v.name for v in plan.variables} <= set(names)  # created once, under tower/
