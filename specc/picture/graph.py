"""Picture, stage 6b: Plan -> a picture of the scope tree (Graphviz dot, SVG through `dot`, or one HTML page).

No TensorFlow. Blocks are nested boxes (dot clusters), layers sit inside them with the
name scope their ops land in (`ops: tower_1/fc1`) and the variable scope they use, and
variables are leaves beside the layer that creates them. A shared variable is drawn
highlighted, with an edge to every layer that uses it. The dot text is written here,
every user-chosen string escaped; SVG needs Graphviz's `dot` program; the HTML page
(specc.picture.page) is self-contained.
"""

from __future__ import annotations

import html
import shutil
import subprocess
from pathlib import Path
from typing import Callable, Iterator

from ..builddir import write_text
from ..errors import GraphvizMissing, OutputRefused
from ..plans import Plan, PlannedLayer, PlannedVariable

FORMATS = ("dot", "svg", "html")
EXTENSIONS = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".html": "html", ".htm": "html"}

# Colours: blocks blue-grey (alternating with depth), reusing blocks dashed, variables sand, shared
# variables and reuse edges orange, the data's own edges pale.
_BLOCKS, _BLOCK_EDGE, _REUSE_EDGE = ("#eef2f7", "#f9fafb"), "#8a9bb5", "#c2410c"
_VAR, _SHARED = "#fbf6e9", "#ffe6cc"


def format_for(output: Path | None, fmt: str | None) -> str:
    """The picture format: `fmt` if given, else from the output's extension, else dot.

    Raises:
        ValueError: an unknown format, or an extension that names none (say `--format`).
    """
    if fmt is not None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format '{fmt}'; choose one of {', '.join(FORMATS)}")
        return fmt
    if output is None:
        return "dot"
    kind = EXTENSIONS.get(output.suffix.lower())
    if kind is None:
        raise ValueError(f"cannot tell the format from '{output.name}'; name the file .dot, .svg or .html, "
                         "or pass --format dot|svg|html")
    return kind


def find_dot() -> str | None:
    """The path of Graphviz's `dot`, or None."""
    return shutil.which("dot")


# -- dot -----------------------------------------------------------------------------------------

def to_dot(plan: Plan) -> str:
    """The scope tree as Graphviz dot text (a `digraph`), TensorFlow-free and fully escaped."""
    return "\n".join(_DotWriter(plan).lines()) + "\n"


class _DotWriter:
    def __init__(self, plan: Plan):
        self.plan = plan
        self.ids: dict[tuple[str, str], str] = {}
        self.variables = {v.name: v for v in plan.variables}
        # Each variable is drawn in the box that holds the layer creating it.
        self.placed: dict[str, list[PlannedVariable]] = {}
        for v in plan.variables:
            self.placed.setdefault(v.owner.rpartition(".")[0], []).append(v)

    def id(self, kind: str, key: str) -> str:
        return self.ids.setdefault((kind, key), f"{kind}{len(self.ids)}")

    def lines(self) -> Iterator[str]:
        plan = self.plan
        shared = sum(1 for v in plan.variables if v.shared)
        title = (f"<b>{_h(plan.name)}</b>: {len(plan.inputs)} inputs, {sum(1 for _ in plan.walk())} layers, "
                 f"{len(plan.variables)} variables ({shared} shared), {plan.parameters:,} parameters")
        yield f"// The scopes of {_comment(plan.name)} ({_comment(plan.file)}), drawn by `specc graph`."
        yield "digraph scopes {"
        yield (f"  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=12, labelloc=t, labeljust=l, "
               f"nodesep=0.18, ranksep=0.5, newrank=true, label=<{title}>];")
        yield ("  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", color=\"#9aa5b1\", "
               "fontname=\"Helvetica\", fontsize=10, margin=\"0.12,0.05\"];")
        yield "  edge [color=\"#9aa5b1\", arrowsize=0.6];"
        for inp in plan.inputs:
            label = f"<b>{_h(inp.name)}</b><br/><font point-size=\"9\">{_h(_shape(inp.shape))} {_h(inp.dtype)}</font>"
            yield (f"  {self.id('I', inp.name)} [id={_q('input:' + inp.name)}, shape=ellipse, style=filled, "
                   f"fillcolor=\"#f3f4f6\", label=<{label}>, "
                   f"tooltip={_q(f'input {inp.name}: {_shape(inp.shape)} {inp.dtype}')}];")
        for layer in plan.layers:
            yield from self.layer(layer, "  ")
        yield from self.variable_nodes("", "  ")
        yield from self.dataflow()
        yield from self.edges()
        yield "}"

    def layer(self, layer: PlannedLayer, indent: str, depth: int = 0) -> Iterator[str]:
        if not layer.children:
            yield (f"{indent}{self.id('L', layer.path)} [id={_q('layer:' + layer.path)}, label=<{self.label(layer)}>, "
                   f"tooltip={_q(self.tip(layer))}];")
            return
        style = "rounded,filled,dashed" if layer.reuse else "rounded,filled"
        yield f"{indent}subgraph cluster_{self.id('L', layer.path)} {{"
        yield (f"{indent}  graph [id={_q('block:' + layer.path)}, label=<{self.label(layer)}>, "
               f"tooltip={_q(self.tip(layer))}, style=\"{style}\", "
               f"fillcolor=\"{_BLOCKS[depth % len(_BLOCKS)]}\", color=\"{_BLOCK_EDGE}\", fontsize=10];")
        for child in layer.children:
            yield from self.layer(child, indent + "  ", depth + 1)
        yield from self.variable_nodes(layer.path, indent + "  ")
        yield f"{indent}}}"

    def label(self, layer: PlannedLayer) -> str:
        rows = [f"<b>{_h(layer.id)}</b> <font color=\"#6b7280\">{_h(layer.type)}</font>",
                f"<font point-size=\"9\" color=\"#1d4ed8\">ops: {_h(layer.op_scope or '/')}</font>"]
        if layer.var_scope is not None and (layer.variables or layer.children):
            how = " (reused)" if layer.reuse else ""
            rows.append(f"<font point-size=\"9\" color=\"#047857\">vars: {_h(layer.var_scope or '/')}{how}</font>")
        return "<br align=\"left\"/>".join(rows) + "<br align=\"left\"/>"

    def tip(self, layer: PlannedLayer) -> str:
        lines = [f"{layer.path} ({layer.type}, line {layer.where.line})", f"ops: {layer.op_scope or '/'}"]
        if layer.var_scope is not None:
            lines.append(f"variable scope: {layer.var_scope or '/'}{' (reuse)' if layer.reuse else ''}")
        lines.append(f"output: {_shape(layer.output.shape)} {layer.output.dtype}")
        for b in layer.variables:
            v = self.variables[b.name]
            lines.append(f"{b.local}: {v.name} {_shape(v.shape)} {v.dtype}")
        return "\n".join(lines)

    def variable_nodes(self, parent: str, indent: str) -> Iterator[str]:
        for v in self.placed.get(parent, ()):
            users = len({u.layer for u in v.users})
            # An unroll's time steps are applications too: say which kind of sharing it is.
            how = (f"shared by {users} layers" if v.applications == users else
                   f"applied {v.applications} times ({users} layer{'s' if users > 1 else ''}, over time steps)")
            extra = f"<br/><font point-size=\"9\" color=\"{_REUSE_EDGE}\">{how}</font>" if v.shared else ""
            flag = "" if v.trainable else " (non-trainable)"
            label = (f"{_h(v.name)}<br/><font point-size=\"9\" color=\"#6b7280\">{_h(_shape(v.shape))} "
                     f"{_h(v.dtype)}{flag}</font>{extra}")
            look = (f"fillcolor=\"{_SHARED}\", color=\"{_REUSE_EDGE}\", penwidth=2" if v.shared
                    else f"fillcolor=\"{_VAR}\", color=\"#c9b98f\"")
            yield (f"{indent}{self.id('V', v.name)} [id={_q('variable:' + v.name)}, shape=box, style=\"filled\", "
                   f"{look}, label=<{label}>, "
                   f"tooltip={_q(_variable_tip(v))}];")

    def dataflow(self) -> Iterator[str]:
        """Thin grey edges along the data, so the picture reads in build order, inputs first."""
        layers = {layer.path: layer for layer in self.plan.walk()}
        inputs = {i.name for i in self.plan.inputs}

        def source(key: str) -> str | None:
            while key in layers and layers[key].children:
                key = layers[key].result  # a block's output is its result layer's
            if key in inputs:
                return self.id("I", key)
            return self.id("L", key) if key in layers else None

        for layer in layers.values():
            if layer.children:
                continue
            for key in dict.fromkeys(layer.inputs):
                src = source(key)
                if src is not None:
                    yield f"  {src} -> {self.id('L', layer.path)} [color=\"#cbd5e1\", arrowsize=0.5];"

    def edges(self) -> Iterator[str]:
        for v in self.plan.variables:
            seen: set[str] = set()
            for use in v.users:
                if use.layer in seen:
                    continue
                seen.add(use.layer)
                src, dst = self.id("L", use.layer), self.id("V", v.name)
                if use.layer == v.owner:
                    yield (f"  {src} -> {dst} [color=\"#b59f5b\", arrowhead=dot, arrowsize=0.4, "
                           f"tooltip={_q(f'{use.layer} creates {v.name}')}];")
                else:
                    tip = f"{use.layer} reuses {v.name} (its ops: {use.op_scope or '/'})"
                    yield (f"  {src} -> {dst} [color=\"{_REUSE_EDGE}\", penwidth=1.4, style=dashed, "
                           f"tooltip={_q(tip)}];")


def _variable_tip(v: PlannedVariable) -> str:
    lines = [f"{v.name}: {_shape(v.shape)} {v.dtype}{'' if v.trainable else ', not trainable'}",
             f"initializer: {v.initializer}"]
    seen: set[str] = set()
    for use in v.users:
        if use.layer not in seen:
            seen.add(use.layer)
            how = "created by" if use.layer == v.owner else "reused by"
            steps = f", {use.steps} time steps" if use.steps > 1 else ""
            lines.append(f"{how} {use.layer} (ops: {use.op_scope or '/'}){steps}")
    return "\n".join(lines)


def _shape(shape) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _h(text: str) -> str:
    """Text for a dot HTML-like label."""
    return html.escape(str(text), quote=True)


def _q(text: str) -> str:
    """A dot quoted string: backslashes and quotes escaped, newlines as dot's `\\n`."""
    body = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "\\n")
    return f'"{body}"'


def _comment(text: str) -> str:
    return str(text).replace("\n", " ").replace("\r", " ")


# -- svg and html ------------------------------------------------------------------------------

def to_svg(plan: Plan, timeout: float = 300) -> str:
    """The dot picture laid out by Graphviz's `dot -Tsvg`.

    Raises:
        GraphvizMissing: `dot` is not on PATH.
        RuntimeError: `dot` failed (a bug in the dot text we wrote).
    """
    dot = find_dot()
    if dot is None:
        raise GraphvizMissing("SVG needs Graphviz's `dot`, which is not installed (apt-get install graphviz, "
                              "brew install graphviz); write .dot or .html instead")
    done = subprocess.run([dot, "-Tsvg"], input=to_dot(plan).encode("utf-8"), capture_output=True,
                          timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"dot failed ({done.returncode}): {done.stderr.decode('utf-8', 'replace').strip()}")
    return done.stdout.decode("utf-8")


def to_html(plan: Plan) -> str:
    from .page import page

    return page(plan)


RENDERERS: dict[str, Callable[[Plan], str]] = {"dot": to_dot, "svg": to_svg, "html": to_html}


def write_atomic(path: Path, text: str) -> None:
    """Write `path` whole or not at all: a temporary file beside it, then a rename.

    Raises:
        OutputRefused: `path` is a directory.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputRefused(f"{path} is a directory; name the picture's file, e.g. {path / 'scopes.html'}")
    write_text(path, text)
