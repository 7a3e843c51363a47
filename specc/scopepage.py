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

import html
import json
import re

from .plan import Plan, PlannedLayer


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
    return re.sub(r"__TITLE__|__DATA__", lambda m: fills[m[0]], _PAGE)


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="specc graph">
<title>__TITLE__</title>
<style>
:root { --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb; --ops: #1d4ed8; --vars: #047857;
        --shared: #c2410c; --shared-bg: #fff1e6; --match: #fde68a; --focus: #fed7aa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--ink); background: #f8fafc; }
header { padding: 14px 20px 10px; background: #fff; border-bottom: 1px solid var(--line);
         position: sticky; top: 0; z-index: 1; }
h1 { font-size: 18px; margin: 0 0 2px; }
.sub { color: var(--muted); font-size: 13px; }
.bar { display: flex; gap: 8px; align-items: center; margin-top: 10px; flex-wrap: wrap; }
#search { flex: 0 1 380px; padding: 6px 10px; border: 1px solid #cbd5e1; border-radius: 6px; font: inherit; }
#search:focus { outline: 2px solid #93c5fd; border-color: #60a5fa; }
button { font: inherit; font-size: 13px; padding: 5px 10px; border: 1px solid #cbd5e1; border-radius: 6px;
         background: #fff; cursor: pointer; }
button:hover { background: #f1f5f9; }
#count { color: var(--muted); font-size: 13px; min-width: 80px; }
.legend { display: flex; gap: 14px; flex-wrap: wrap; margin-left: auto; font-size: 12px; color: var(--muted); }
.legend span { display: inline-flex; align-items: center; gap: 5px; }
main { padding: 12px 20px 40px; }
ul.tree, ul.tree ul { list-style: none; margin: 0; padding: 0; }
ul.tree ul { margin-left: 10px; padding-left: 14px; border-left: 1px dashed #cbd5e1; }
li.node { margin: 2px 0; }
li.node[hidden] { display: none; }
.row { display: flex; align-items: baseline; gap: 8px; padding: 3px 8px; border-radius: 6px; flex-wrap: wrap;
       width: fit-content; max-width: 100%; }
.row:hover { background: #eef2ff; }
summary { list-style: none; cursor: pointer; }
summary::-webkit-details-marker { display: none; }
summary .row::before { content: "\\25B8"; color: var(--muted); width: 10px; display: inline-block;
                       transition: transform .1s; }
details[open] > summary .row::before { transform: rotate(90deg); }
.row.leaf::before { content: ""; width: 10px; display: inline-block; }
.kind { font-size: 11px; padding: 0 6px; border-radius: 9px; background: #e2e8f0; color: #334155;
        font-weight: 600; letter-spacing: .02em; }
li[data-kind="block"] > details > summary .kind { background: #dbeafe; color: #1e3a8a; }
li[data-kind="input"] .kind { background: #f3f4f6; color: #4b5563; }
.name { font-weight: 600; }
.chip { font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; padding: 0 6px;
        border-radius: 4px; white-space: nowrap; }
.chip.ops { color: var(--ops); background: #eff6ff; }
.chip.vars { color: var(--vars); background: #ecfdf5; }
.chip.reuse { color: var(--shared); background: var(--shared-bg); }
.meta { color: var(--muted); font-size: 12px; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
li[data-kind="variable"] .row { cursor: pointer; }
li[data-kind="variable"] .name { font-weight: 500; font-family: ui-monospace, "DejaVu Sans Mono", monospace;
                                 font-size: 13px; }
li[data-kind="variable"] .dot { width: 9px; height: 9px; border-radius: 2px; background: #d6c79c;
                                display: inline-block; align-self: center; }
li.shared[data-kind="variable"] .dot { background: var(--shared); }
li.shared[data-kind="variable"] > .row { background: var(--shared-bg); }
.badge { font-size: 11px; padding: 0 6px; border-radius: 9px; border: 1px solid currentColor; }
.badge.shared { color: var(--shared); }
.badge.reused { color: var(--shared); border-style: dashed; }
li.match > .row, li.match > details > summary .row,
li.match[data-kind="variable"] > .row { background: var(--match); }
li.focus[data-kind="variable"] > .row { background: var(--focus); outline: 1px solid var(--shared); }
mark { background: #fcd34d; color: inherit; padding: 0; border-radius: 2px; }
.section { font-size: 12px; font-weight: 600; color: var(--muted); text-transform: uppercase;
           letter-spacing: .05em; margin: 14px 0 4px; }
.empty { color: var(--muted); padding: 8px; }
noscript { display: block; padding: 20px; }
</style>
</head>
<body>
<header>
  <h1 id="title">scopes</h1>
  <div class="sub" id="summary"></div>
  <div class="bar">
    <input id="search" type="search" placeholder="Search scopes and variables (press /)" autocomplete="off"
           aria-label="Search scopes and variables">
    <span id="count" aria-live="polite"></span>
    <button type="button" id="expand">Expand all</button>
    <button type="button" id="collapse">Collapse all</button>
    <div class="legend">
      <span><span class="kind">block</span> a box of layers</span>
      <span><span class="chip ops">ops:</span> name scope of its ops</span>
      <span><span class="chip vars">vars:</span> variable scope</span>
      <span><span class="badge shared">shared</span> one variable, several users</span>
    </div>
  </div>
</header>
<main>
  <noscript>This page draws the scope tree with JavaScript; the data is in the script element
  <code>scopes-data</code> of this file.</noscript>
  <div class="section" id="inputs-title">inputs</div>
  <ul class="tree" id="inputs"></ul>
  <div class="section">layers</div>
  <ul class="tree" id="tree"></ul>
</main>
<script type="application/json" id="scopes-data">__DATA__</script>
<script>
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("scopes-data").textContent);
  var variables = {};
  data.variables.forEach(function (v) { variables[v.name] = v; });
  var tree = document.getElementById("tree");
  var search = document.getElementById("search");
  var count = document.getElementById("count");

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function shape(s) { return "[" + s.map(function (d) { return d === null ? "?" : d; }).join(", ") + "]"; }
  function plural(n, word) { return n.toLocaleString("en") + " " + word + (n === 1 ? "" : "s"); }
  function hl(cls, text) { var s = el("span", cls + " hl", text); s.dataset.text = text; return s; }
  function users(v) {
    var seen = {}, out = [];
    v.users.forEach(function (u) {
      if (seen[u.layer]) return;
      seen[u.layer] = true;
      out.push((u.layer === v.owner ? "created by " : "reused by ") + u.layer + " (ops: " + (u.ops || "/") + ")");
    });
    return out;
  }
  function userCount(v) { return users(v).length; }

  document.title = data.model + ": scopes";
  document.getElementById("title").textContent = data.model + ": scopes";
  var t = data.totals;
  document.getElementById("summary").textContent = data.file + " \\u2014 " + plural(t.inputs, "input") + ", " +
    plural(t.layers, "layer") + ", " + plural(t.variables, "variable") + " (" + t.shared + " shared), " +
    plural(t.parameters, "parameter") + "; outputs: " + data.outputs.join(", ");

  function variableNode(b, layer) {
    var v = variables[b.name];
    var li = el("li", "node" + (v.shared ? " shared" : ""));
    li.dataset.kind = "variable";
    li.dataset.var = v.name;
    li.dataset.search = [v.name, b.local, shape(v.shape), v.dtype].join("\\n").toLowerCase();
    var row = el("div", "row leaf");
    row.appendChild(el("span", "dot"));
    row.appendChild(hl("name", v.name));
    row.appendChild(el("span", "meta", shape(v.shape) + " " + v.dtype + (v.trainable ? "" : " (non-trainable)")));
    if (!b.creates) row.appendChild(el("span", "badge reused", "reuses"));
    else if (v.shared) row.appendChild(el("span", "badge shared", "shared by " + userCount(v)));
    row.title = [v.name + " (" + b.local + " of " + layer.path + ")",
                 "shape " + shape(v.shape) + ", dtype " + v.dtype + ", " + v.params.toLocaleString("en") +
                 " parameters" + (v.trainable ? "" : ", not trainable"),
                 "initializer " + v.initializer].concat(users(v)).join("\\n");
    row.addEventListener("click", function () { focusVariable(v.name); });
    li.appendChild(row);
    return li;
  }

  // Small models open every layer to its variables; big ones start at the blocks.
  var openLeaves = data.variables.length <= 60;

  function layerNode(l) {
    var block = !!l.children;
    var li = el("li", "node");
    li.dataset.kind = block ? "block" : "layer";
    li.dataset.path = l.path;
    li.dataset.search = [l.path, l.id, l.type, l.ops, l.vars || ""].join("\\n").toLowerCase();
    var row = el("div", "row");
    row.appendChild(el("span", "kind", block ? "block" : l.type));
    row.appendChild(hl("name", l.id));
    row.appendChild(hl("chip ops", "ops: " + (l.ops || "/")));
    if (l.vars !== null && (block || l.variables.length)) row.appendChild(hl("chip vars", "vars: " + (l.vars || "/")));
    if (l.reuse) row.appendChild(el("span", "chip reuse", "reuse"));
    var tip = [l.path + " (" + l.type + ", line " + l.line + ")", "ops: " + (l.ops || "/")];
    if (l.vars !== null) tip.push("variable scope: " + (l.vars || "/") + (l.reuse ? " (reuse)" : ""));
    tip.push("output: " + shape(l.output.shape) + " " + l.output.dtype);
    if (l.inputs.length) tip.push("reads: " + l.inputs.join(", "));
    l.variables.forEach(function (b) {
      var v = variables[b.name];
      tip.push(b.local + ": " + v.name + " " + shape(v.shape) + " " + v.dtype + (b.creates ? "" : " (reused)"));
    });
    row.title = tip.join("\\n");
    var kids = (l.children || []).map(layerNode).concat(l.variables.map(function (b) { return variableNode(b, l); }));
    if (!kids.length) {
      row.classList.add("leaf");
      li.appendChild(row);
      return li;
    }
    var details = el("details");
    details.open = block || openLeaves;
    var summary = el("summary");
    summary.appendChild(row);
    details.appendChild(summary);
    var ul = el("ul");
    kids.forEach(function (k) { ul.appendChild(k); });
    details.appendChild(ul);
    li.appendChild(details);
    return li;
  }

  var inputs = document.getElementById("inputs");
  data.inputs.forEach(function (i) {
    var li = el("li", "node");
    li.dataset.kind = "input";
    li.dataset.search = i.name.toLowerCase();
    var row = el("div", "row leaf");
    row.appendChild(el("span", "kind", "input"));
    row.appendChild(hl("name", i.name));
    row.appendChild(el("span", "meta", shape(i.shape) + " " + i.dtype));
    row.title = "placeholder " + i.name + ": " + shape(i.shape) + " " + i.dtype;
    li.appendChild(row);
    inputs.appendChild(li);
  });
  data.layers.forEach(function (l) { tree.appendChild(layerNode(l)); });
  if (!data.layers.length) tree.appendChild(el("li", "empty", "no layers"));

  var nodes = Array.prototype.slice.call(document.querySelectorAll("li.node"));

  function reveal(node) {
    for (var p = node.parentElement; p; p = p.parentElement) {
      if (p.tagName === "DETAILS") p.open = true;
      if (p.matches && p.matches("li.node")) p.hidden = false;
    }
  }
  function mark(span, q) {
    var text = span.dataset.text, at = q ? text.toLowerCase().indexOf(q) : -1;
    span.textContent = "";
    if (at < 0) { span.textContent = text; return; }
    span.appendChild(document.createTextNode(text.slice(0, at)));
    span.appendChild(el("mark", null, text.slice(at, at + q.length)));
    span.appendChild(document.createTextNode(text.slice(at + q.length)));
  }
  function run(query) {
    var q = query.trim().toLowerCase(), matches = 0;
    nodes.forEach(function (n) { n.classList.remove("match", "focus"); n.hidden = !!q; });
    document.querySelectorAll(".hl").forEach(function (s) { mark(s, q); });
    var inputsShown = function () {
      document.getElementById("inputs-title").hidden = !inputs.querySelector("li.node:not([hidden])");
    };
    if (!q) { count.textContent = ""; inputsShown(); return; }
    nodes.forEach(function (n) {
      if (n.dataset.search.indexOf(q) < 0) return;
      matches += 1;
      n.classList.add("match");
      n.hidden = false;
      reveal(n);
      n.querySelectorAll("li.node").forEach(function (c) { c.hidden = false; });
    });
    count.textContent = matches + (matches === 1 ? " match" : " matches");
    inputsShown();
  }
  function focusVariable(name) {
    nodes.forEach(function (n) {
      var on = n.dataset.var === name;
      n.classList.toggle("focus", on);
      if (on) { n.hidden = false; reveal(n); }
    });
  }
  function remember(q) {
    try { history.replaceState(null, "", q ? "#q=" + encodeURIComponent(q) : location.pathname + location.search); }
    catch (e) { /* file:// pages may refuse; the search still works */ }
  }
  search.addEventListener("input", function () { run(search.value); remember(search.value); });
  search.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { search.value = ""; run(""); remember(""); }
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "/" && document.activeElement !== search) { e.preventDefault(); search.focus(); }
  });
  function setAll(open) { document.querySelectorAll("#tree details").forEach(function (d) { d.open = open; }); }
  document.getElementById("expand").addEventListener("click", function () { setAll(true); });
  document.getElementById("collapse").addEventListener("click", function () { setAll(false); });

  var initial = new URLSearchParams(location.hash.slice(1)).get("q") ||
                new URLSearchParams(location.search).get("q") || "";
  if (initial) { search.value = initial; run(initial); }
  document.body.dataset.ready = "true";
}());
</script>
</body>
</html>
"""
