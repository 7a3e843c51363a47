"""Picture as a web page: Plan -> ONE self-contained HTML page of the scope tree. No TensorFlow.

Everything is inline (style, script, and the plan as JSON), so the file opens offline
and can be mailed around. The page draws a collapsible tree (blocks, layers, the
variables each layer uses), a search box that filters and highlights scopes and
variables, and a tooltip on every row with shapes, dtypes and users. The search can
be given in the URL (`scopes.html#q=tower_1` or `?q=tower_1`), and a click on a
variable highlights every layer that uses it.

The data is embedded as JSON with `<`, `>`, `&` and the line separators escaped, so no
name in a spec can close the script element; the script builds the tree with
`textContent` only, never `innerHTML`.
"""

from __future__ import annotations

import functools
import html
import json
import re
from importlib import resources

from ..plans import Plan, PlannedLayer


def page_data(plan: Plan) -> dict:
    """What the page shows, as JSON-ready data."""
    variables = {v.name: v for v in plan.variables}

    def layer(l: PlannedLayer) -> dict:
        out = {"id": l.id, "path": l.path, "type": l.type, "line": l.where.line, "ops": l.op_scope,
               "vars": l.var_scope, "reuse": l.reuse, "inputs": list(l.inputs),
               "output": {"shape": list(l.output.shape), "dtype": l.output.dtype},
               "variables": [{"local": b.local, "name": b.name, "creates": variables[b.name].owner == l.path
                              and not b.borrowed} for b in l.variables]}
        if l.children:
            out["children"] = [layer(c) for c in l.children]
        return out

    return {
        "model": plan.name, "file": plan.file,
        "totals": {"inputs": len(plan.inputs), "layers": sum(1 for _ in plan.walk()),
                   "variables": len(plan.variables), "shared": sum(1 for v in plan.variables if v.shared),
                   "parameters": plan.parameters},
        "inputs": [{"name": i.name, "shape": list(i.shape), "dtype": i.dtype} for i in plan.inputs],
        "outputs": [o.key for o in plan.outputs],
        "layers": [layer(l) for l in plan.layers],
        "variables": [{"name": v.name, "shape": list(v.shape), "dtype": v.dtype, "trainable": v.trainable,
                       "initializer": str(v.initializer), "owner": v.owner, "shared": v.shared,
                       "params": v.size,
                       "users": [{"layer": u.layer, "ops": u.op_scope, "creates": u.creates} for u in v.users]}
                      for v in plan.variables],
    }


def script_json(data) -> str:
    """JSON that is safe inside a <script> element: nothing in it can end the element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text


def page(plan: Plan) -> str:
    """The whole page, as text."""
    fills = {"__TITLE__": html.escape(f"{plan.name}: scopes", quote=True), "__DATA__": script_json(page_data(plan))}
    # One pass, so a model named "__DATA__" stays a name.
    return re.sub(r"__TITLE__|__DATA__", lambda m: fills[m[0]], _template())


@functools.lru_cache(maxsize=1)
def _template() -> str:
    """page.html, a package data file beside this module: __TITLE__ and __DATA__ are filled in."""
    return resources.files(__package__).joinpath("page.html").read_text("utf-8")
