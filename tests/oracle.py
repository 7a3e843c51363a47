"""TensorFlow's own layers as a second oracle: spec data -> the TF1 program a person would write.

It reads the spec's data (not specc's plan) and builds it with TensorFlow 1's legacy
implementations where they exist, under the scopes the spec names:

- `dense`, `conv1d`, `conv2d`, `batch_norm`: `tf.compat.v1.layers` (tf_keras's legacy layers),
  named by the layer's scope, `_reuse=True` for `share: true`; the projections of
  `multi_head_attention` are legacy `dense` layers too;
- `rnn`: the legacy cells (LSTMCell, GRUCell, BasicRNNCell, MultiRNNCell) under
  `static_rnn` / `static_bidirectional_rnn`;
- everything without a legacy counterpart is the closest op-level construction, written
  independently of specc's emitters: `layer_norm` (moments + batch_normalization,
  as tf.contrib.layers.layer_norm), `embedding` (embedding_lookup), `position_embedding`,
  the attention core (BERT's reshape/transpose form, not specc's split/stack),
  `constant`, `reshape`, `flatten`, `slice`, pools, `global_avg_pool`, `dropout`,
  `activation`, `add`, `subtract`, `multiply`, `concat`, `identity`. So are layers whose
  variables cannot be made by a legacy layer: `scope: null`, `share: <path>` and
  `variables:` renames (get_variable in the scope the spec names).

Blocks, `repeat` (a Python loop), template instances (`${param}` replaced by hand),
`share: true` (reuse=True), `share: <path>` (a captured VariableScope re-entered),
`scope: null` and `name_scope:` are interpreted here from the spec's own words, as in
docs/spec-language.md. The oracle refuses nothing: a spec specc refuses is built as
written, and `Built.problems()` says what TensorFlow did with it (raised, renamed a
variable, shared variables nobody asked to share, or put two layers' variables in one scope).
"""

from __future__ import annotations

import contextlib
import copy
from collections import Counter
import warnings
from dataclasses import dataclass, field
from typing import Any


def legacy_modules():
    """tf_keras's TF 1 layers and rnn cells (`tf.compat.v1.layers`, `tf.compat.v1.nn.rnn_cell`), or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from tf_keras.api._v1.keras.__internal__.legacy import layers, rnn_cell
    except ImportError:
        return None
    return layers, rnn_cell


# Which leaf types a legacy TF 1 layer builds (the others are op-level constructions).
LEGACY_TYPES = ("dense", "conv1d", "conv2d", "batch_norm", "rnn", "multi_head_attention")
ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "linear": None}


@dataclass
class Facts:
    """What TensorFlow did for one layer: where its ops went, which variables it used."""

    op_scope: str
    uses: list[str] = field(default_factory=list)  # variable names (no `:0`)
    asked_share: bool = False
    kind: str = ""
    tied: bool = False  # a dense tied to an embedding's table: a share across types by design
    scope_object: Any = None  # the VariableScope a legacy layer opened for itself
    op_scope_override: str = ""


@dataclass
class Built:
    graph: Any
    inputs: dict[str, Any]
    tensors: dict[str, Any]
    layers: dict[str, Facts]
    error: Exception | None = None
    unwritable: Exception | None = None  # no TF program says this (an unknown reference)
    merged: list[tuple[str, str, str]] = field(default_factory=list)  # (scope, first layer, second layer)
    shares_nothing: list[str] = field(default_factory=list)  # layers that asked to share and reused no variable
    duplicate_ids: list[str] = field(default_factory=list)  # a second layer of one id: its name scope gets `_1`

    def variables(self, tf) -> dict[str, Any]:
        with self.graph.as_default():
            return {v.name[:-2]: v for v in tf.compat.v1.global_variables()}

    def renamed(self, tf) -> list[str]:
        """Variables whose graph name is not the name they were asked for (TF uniquified the op)."""
        stores = self.graph.get_collection(("__variable_store",))  # none until a first get_variable
        return sorted(v.name for store in stores for key, v in store._vars.items() if v.name != key + ":0")

    def users(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for path, facts in self.layers.items():
            for name in facts.uses:
                out.setdefault(name, [])
                if path not in out[name]:
                    out[name].append(path)
        return out

    def unasked_shares(self) -> list[str]:
        """Variables used by a second layer that did not ask to share (by itself or an enclosing block)."""
        out = []
        for name, paths in self.users().items():
            if any(not self.layers[p].asked_share for p in paths[1:]):
                out.append(name)
        return sorted(out)

    def problems(self, tf) -> dict[str, Any]:
        """What is wrong with the graph, from the spec's point of view: TF raised, renamed or shared silently."""
        out: dict[str, Any] = {}
        if self.error is not None:
            out["raises"] = f"{type(self.error).__name__}: {self.error}"
            return out
        if self.renamed(tf) or self.duplicate_ids:
            out["renames"] = self.renamed(tf) + self.duplicate_ids
        if self.unasked_shares():
            out["shares"] = self.unasked_shares()
        if self.merged:
            out["merges"] = self.merged
        if self.shares_nothing:
            out["shares nothing"] = self.shares_nothing
        kinds = {name: {self.layers[p].kind for p in paths if not self.layers[p].tied}
                 for name, paths in self.users().items()}
        if any(len(k) > 1 for k in kinds.values()):  # a layer_norm reusing a batch_norm's gamma and beta
            out["shares across types"] = sorted(name for name, k in kinds.items() if len(k) > 1)
        return out


class OracleError(Exception):
    """The spec cannot even be written as a TF program (an unknown reference): no TF rule involved."""


def build_oracle(data: dict, tf, legacy) -> Built:
    """Build spec data with TensorFlow's own layers. A TensorFlow error is kept in `Built.error`."""
    graph = tf.Graph()
    built = Built(graph, {}, {}, {})
    with graph.as_default(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v1 = tf.compat.v1
        for name, inp in data["inputs"].items():
            built.inputs[name] = v1.placeholder(tf.as_dtype(inp.get("dtype", "float32")), inp["shape"], name=name)
        interpreter = _Interpreter(tf, legacy, data.get("templates", {}), built)
        try:
            first = next(iter(built.inputs.values()))  # what a first layer without `input:` reads
            interpreter.sequence(data["layers"], "", {}, first, False)
        except (ValueError, TypeError) as e:  # TensorFlow's own refusals
            built.error = e
        except OracleError as e:
            built.unwritable = e
    return built


class _Interpreter:
    def __init__(self, tf, legacy, templates, built: Built):
        self.tf, self.v1 = tf, tf.compat.v1
        self.layers_api, self.cells = legacy
        self.templates = templates
        self.built = built
        self.captured: dict[str, Any] = {}    # layer path -> the VariableScope its variables live in
        self.structure: dict[str, list] = {}  # block path -> its layers (a shared block copies them)
        self.by_scope: dict[str, list] = {}   # variable scope name -> the layers of the block that created it
        self.scope_owner: dict[str, str] = {}  # variable scope name -> the first layer that created variables there
        self.aliases: dict[str, str] = {}     # a repeat's path -> its last copy's path
        self.written: dict[str, set] = {}     # a block's prefix ("" at the top) -> the ids written in it
        self.prefix, self.names = "", {}      # where the layer being built is, for its params' references

    # -- structure ----------------------------------------------------------------------

    def sequence(self, layers, prefix, local, previous, sharing):
        self.written[prefix] = {layer["id"] for layer in layers}
        names = dict(local)
        seen: set[str] = set()
        for layer in layers:
            layer = self.instantiate(layer)
            copies = self.copies(layer) if "repeat" in layer else [layer]
            if "repeat" in layer:
                self.aliases[prefix + layer["id"]] = prefix + copies[-1]["id"]
            for c in copies:
                if c["id"] in seen:  # TensorFlow would name the second one's ops `<id>_1`
                    self.built.duplicate_ids.append(prefix + c["id"])
                seen.add(c["id"])
                previous = self.layer(c, prefix, names, previous, sharing)
                names[c["id"]] = previous
            names[layer["id"]] = previous
        return previous

    def instantiate(self, layer):
        """A template instance is a block whose layers are the template's, `${param}` filled in."""
        if "use" not in layer:
            return layer
        template = self.templates[layer["use"]]
        values = {**template.get("params", {}), **layer.get("with", {})}

        def fill(node):
            if isinstance(node, str) and node.startswith("${") and node.endswith("}"):
                return values[node[2:-1]]
            if isinstance(node, dict):
                return {k: fill(v) for k, v in node.items()}
            if isinstance(node, list):
                return [fill(v) for v in node]
            return node
        block = {k: v for k, v in layer.items() if k not in ("use", "with")}
        block.update(type="block", layers=fill(copy.deepcopy(template["layers"])))
        return block

    @staticmethod
    def copies(layer):
        """`repeat: N` by hand: ids NAME_k and the same scope (or the `{i}` pattern, which also names the
        ids), or one scope created by the first copy and reused by the others with `share: true`; each
        copy reads the previous one in place of its first input."""
        n, ident, share = layer["repeat"], layer["id"], layer.get("share", False)
        out = []
        for k in range(n):
            c = {key: value for key, value in layer.items() if key != "repeat"}
            c["id"] = f"{ident}_{k}"
            if share is True:
                c["scope"] = layer.get("scope", ident)
                if k == 0:
                    del c["share"]
            elif isinstance(layer.get("scope"), str) and "{i}" in layer["scope"]:
                c["id"] = c["scope"] = layer["scope"].replace("{i}", str(k))
            if k:
                if "inputs" in c:
                    c["inputs"] = [out[-1]["id"]] + c["inputs"][1:]
                else:
                    c["input"] = out[-1]["id"]
            out.append(c)
        return out

    def resolve_share(self, ref, path):
        """Like the planner: the enclosing blocks' paths first, then the top level; a name written at a
        level (the layer itself, or a layer after it) hides the same name further out, as for inputs."""
        parts = path.split(".")[:-1]
        for i in range(len(parts), -1, -1):
            prefix = "".join(p + "." for p in parts[:i])
            candidate = self.unalias(prefix + ref)
            if candidate in self.captured:
                return candidate
            if "." not in ref and ref in self.written.get(prefix, ()):
                raise OracleError(f"'{ref}' names a layer at its level with no variables yet")
        raise OracleError(f"nothing to share at '{ref}'")

    def resolve_layer(self, ref):
        parts = self.prefix.split(".")[:-1] if self.prefix else []
        for i in range(len(parts), -1, -1):
            candidate = self.unalias(".".join(parts[:i] + [ref]))
            if candidate in self.built.layers:
                return candidate
        raise OracleError(f"unknown layer '{ref}'")

    def unalias(self, path):
        out: list[str] = []
        for part in path.split("."):
            out = self.aliases.get(".".join(out + [part]), ".".join(out + [part])).split(".")
        return ".".join(out)

    def lookup(self, ref, names):
        """A local id, an input, or a dotted path (`encoder.fc1`), tried from the innermost block out."""
        if ref in names:
            return names[ref]
        if ref in self.built.inputs:
            return self.built.inputs[ref]
        parts = self.prefix.split(".")[:-1] if self.prefix else []
        for i in range(len(parts), -1, -1):
            candidate = self.unalias(".".join(parts[:i] + [ref]))
            if candidate in self.built.tensors:
                return self.built.tensors[candidate]
        raise OracleError(f"unknown reference '{ref}'")

    def ref(self, ref):
        """A layer's param that names a tensor (`training`, `mask`, `memory`, `initial_state`)."""
        return self.lookup(ref, self.names)

    def claim(self, scope_name, path):
        owner = self.scope_owner.setdefault(scope_name, path)
        if owner != path:
            self.built.merged.append((scope_name, owner, path))

    def layer(self, layer, prefix, names, previous, sharing):
        if not layer.get("share"):
            return self.build_layer(layer, prefix, names, previous, sharing)
        path = prefix + layer["id"]
        before = Counter(u for f in self.built.layers.values() for u in f.uses)
        y = self.build_layer(layer, prefix, names, previous, sharing)
        reused = Counter(u for f in self.built.layers.values() for u in f.uses) - before
        scope = self.captured.get(path)
        if layer["share"] is True and scope is not None:
            # `share: true` reuses its own scope's variables: what a layer inside reuses by a
            # `share: <path>` of its own is not this layer's sharing.
            reused = [u for u in reused if u.startswith(scope.name + "/")]
        if not reused:
            self.built.shares_nothing.append(path)
        return y

    def build_layer(self, layer, prefix, names, previous, sharing):
        v1 = self.v1
        path = prefix + layer["id"]
        kind = layer["type"]
        share = layer.get("share", False)
        asked = sharing or bool(share)
        scoped = kind == "block" or kind in SCOPED
        with contextlib.ExitStack() as stack:
            if layer.get("name_scope"):  # `false` opens none, not even the id's (below)
                stack.enter_context(v1.name_scope(layer["name_scope"]))
            children = layer.get("layers")
            if isinstance(share, str):
                # Another layer's variables, its scope object re-entered: ops stay in name_scope(id).
                stack.enter_context(v1.name_scope(layer["id"]))
                target = self.resolve_share(share, path)
                scope = self.captured[target]
                stack.enter_context(v1.variable_scope(scope, reuse=True, auxiliary_name_scope=False))
                self.captured[path] = scope
                mode = "here"
                if kind == "block" and target not in self.structure:
                    # A spec-language rule: a block reuses a block's variables (and, without layers, its layers).
                    raise OracleError(f"block '{path}' shares '{target}', which is no block")
                if children is None and kind == "block":
                    children = self.structure[target]
            elif scoped and layer.get("scope", layer["id"]) is not None:
                name = layer.get("scope", layer["id"])
                if kind in _OWN_SCOPE and not _renames(layer):
                    mode = "own"  # the legacy layer opens variable_scope(name) itself
                else:
                    vs = stack.enter_context(v1.variable_scope(name, reuse=True if share is True else None))
                    self.captured[path] = vs
                    mode = "here"
                    if kind == "block":
                        if children is None:
                            children = self.by_scope.get(vs.name)
                            if children is None:
                                raise OracleError(f"block '{path}' shares '{vs.name}', which has no layers yet")
                        self.by_scope.setdefault(vs.name, children)
                        if not asked:
                            self.claim(vs.name, path)
            else:
                if layer.get("name_scope") is not False:
                    stack.enter_context(v1.name_scope(layer["id"]))
                mode = "here"
            self.prefix, self.names = prefix, names
            x = self.lookup(layer["input"], names) if "input" in layer else previous
            if kind == "block" and isinstance(layer.get("inputs"), dict):  # named inputs: {query: a, memory: b}
                named = {k: self.lookup(r, names) for k, r in layer["inputs"].items()}
                names, x = {**names, **named}, next(iter(named.values()))
            if kind == "block":
                self.structure[path] = children
                self.built.layers[path] = Facts(self.v1.get_default_graph().get_name_scope(), asked_share=asked)
                y = self.sequence(children, path + ".", {**names, "input": x}, x, asked)
                self.built.tensors[path] = y
                return y
            xs = [self.lookup(r, names) for r in layer["inputs"]] if "inputs" in layer else [x]
            self.prefix, self.names = prefix, names
            graph = self.v1.get_default_graph()
            facts = Facts(graph.get_name_scope(), asked_share=asked, kind=kind)
            self.built.layers[path] = facts
            before = len(graph.get_operations())
            y = LEAVES[kind](self, layer, xs, mode, share is True, facts)
            if mode == "own":
                self.captured[path] = facts.scope_object
                facts.op_scope = facts.op_scope_override or _common_scope(
                    graph.get_operations()[before:], {u for u in facts.uses})
                if not asked:
                    self.claim(facts.scope_object.name, path)
            elif kind in SCOPED and layer.get("scope", layer["id"]) is not None and not asked:
                self.claim(v1.get_variable_scope().name, path)
            self.built.tensors[path] = y
            return y

    # -- variables made by hand (scope: null, share: <path>, renames) ----------------------

    def variable(self, facts, layer, local, shape, initializer=None):
        name = layer.get("variables", {}).get(local, local)
        v = self.v1.get_variable(name, shape, initializer=initializer)
        facts.uses.append(v.name[:-2])
        return v

    def legacy(self, facts, obj, x, name, **kwargs):
        y = obj.apply(x, scope=name, **kwargs)
        facts.uses.extend(v.name[:-2] for v in obj.weights)
        facts.scope_object = obj._scope
        facts.op_scope_override = obj._current_scope.original_name_scope.rstrip("/")
        return y


SCOPED = ("dense", "conv1d", "conv2d", "batch_norm", "layer_norm", "embedding", "position_embedding", "rnn",
          "multi_head_attention")
_OWN_SCOPE = ("dense", "conv1d", "conv2d", "batch_norm", "rnn")  # legacy layers that open their scope themselves


def _renames(layer) -> bool:
    """Variables no legacy layer makes: renamed, a tied table, a transposed kernel."""
    return bool(layer.get("variables") or layer.get("tie") or layer.get("transpose_kernel"))


def _common_scope(ops, variables) -> str:
    """The name scope shared by every op a layer made, variables' own ops aside."""
    names = [op.name for op in ops if not any(op.name == v or op.name.startswith(v + "/") for v in variables)]
    parts = [n.split("/")[:-1] for n in names]
    common = parts[0] if parts else []
    for p in parts[1:]:
        i = 0
        while i < min(len(common), len(p)) and common[i] == p[i]:
            i += 1
        common = common[:i]
    return "/".join(common)


# -- leaves: one small function per type ----------------------------------------------------

def _act(tf, name):
    return None if ACTIVATIONS.get(name or "linear") is None else getattr(tf.nn, ACTIVATIONS[name])


def _dense(o, layer, xs, mode, reuse, facts):
    act = _act(o.tf, layer.get("activation"))
    if mode == "own":
        obj = o.layers_api.Dense(layer["units"], activation=act, use_bias=layer.get("use_bias", True),
                                 _reuse=True if reuse else None)
        return o.legacy(facts, obj, xs[0], layer.get("scope", layer["id"]))
    x = xs[0]
    if layer.get("tie"):
        target = o.resolve_layer(layer["tie"])
        (table,) = [v for name, v in o.built.variables(o.tf).items() if name in o.built.layers[target].uses]
        facts.uses.append(table.name[:-2])
        facts.asked_share = facts.tied = True  # a tied projection shares the table by design
        y = o.tf.matmul(x, table, transpose_b=True)
        if layer.get("use_bias", True):
            y = o.tf.nn.bias_add(y, o.variable(facts, layer, "bias", [layer["units"]], o.v1.zeros_initializer()))
        return act(y) if act else y
    if layer.get("transpose_kernel"):  # BERT's output_weights: [units, in], matmul(x, w, transpose_b=True)
        kernel = o.variable(facts, layer, "kernel", [layer["units"], x.shape[-1]])
        y = o.tf.matmul(x, kernel, transpose_b=True)
    else:
        kernel = o.variable(facts, layer, "kernel", [x.shape[-1], layer["units"]])
        y = o.tf.tensordot(x, kernel, [[x.shape.rank - 1], [0]]) if x.shape.rank > 2 else o.tf.matmul(x, kernel)
    if layer.get("use_bias", True):
        y = o.tf.nn.bias_add(y, o.variable(facts, layer, "bias", [layer["units"]], o.v1.zeros_initializer()))
    return act(y) if act else y


def _conv(rank):
    def build(o, layer, xs, mode, reuse, facts):
        make = o.layers_api.Conv1D if rank == 1 else o.layers_api.Conv2D
        obj = make(layer["filters"], layer["kernel_size"], strides=layer.get("strides", 1),
                   padding=layer.get("padding", "VALID").lower(), dilation_rate=layer.get("dilation", 1),
                   activation=_act(o.tf, layer.get("activation")), use_bias=layer.get("use_bias", True),
                   _reuse=True if reuse else None)
        return o.legacy(facts, obj, xs[0], layer.get("scope", layer["id"]))
    return build


def _batch_norm(o, layer, xs, mode, reuse, facts):
    obj = o.layers_api.BatchNormalization(
        momentum=layer.get("momentum", 0.99), epsilon=layer.get("epsilon", 1e-3), center=layer.get("center", True),
        scale=layer.get("scale", True), _reuse=True if reuse else None)
    training = layer.get("training", False)
    training = o.ref(training) if isinstance(training, str) else training
    return o.legacy(facts, obj, xs[0], layer.get("scope", layer["id"]), training=training)


def _rnn(o, layer, xs, mode, reuse, facts):
    spec = layer["cell"]
    make = {"lstm": o.cells.LSTMCell, "gru": o.cells.GRUCell, "basic": o.cells.BasicRNNCell}[spec["type"]]
    stack = layer.get("stack", 1)

    def cell():
        return make(spec["units"]) if stack == 1 else o.cells.MultiRNNCell([make(spec["units"]) for _ in range(stack)])
    steps = o.tf.unstack(xs[0], axis=1)
    graph = o.v1.get_default_graph()
    before = len(graph.get_operations())
    context = o.v1.variable_scope(o.v1.get_variable_scope(), reuse=True, auxiliary_name_scope=False) if reuse \
        else contextlib.nullcontext()
    name = layer.get("scope", layer["id"])
    initial = layer.get("initial_state")
    if initial is not None:
        initial = [o.ref(r) for r in ([initial] if isinstance(initial, str) else initial)]
        if spec["type"] == "lstm":
            initial = [o.cells.LSTMStateTuple(*initial[i:i + 2]) for i in range(0, len(initial), 2)]
        initial = tuple(initial) if stack > 1 else initial[0]
    with context:
        if layer.get("bidirectional"):
            fw, bw = cell(), cell()
            outputs, state, _ = o.v1.nn.static_bidirectional_rnn(fw, bw, steps, dtype=o.tf.float32, scope=name)
            cells = [fw, bw]
        else:
            one = cell()
            outputs, state = o.v1.nn.static_rnn(one, steps, initial_state=initial, dtype=o.tf.float32, scope=name)
            cells = [one]
    facts.uses.extend(v.name[:-2] for c in cells for v in c.weights)
    # static_bidirectional_rnn concatenates the two directions outside its scope (`concat/axis`): only
    # ops at least two levels down (`<scope>/lstm_cell/MatMul`, `<scope>/fw/fw/...`) tell the scope.
    here = graph.get_name_scope()
    inside = [op for op in graph.get_operations()[before:] if op.name[len(here) + 1 if here else 0:].count("/") >= 2]
    facts.op_scope_override = _common_scope(inside, set(facts.uses))
    prefix = (o.v1.get_variable_scope().name + "/" if o.v1.get_variable_scope().name else "") + name
    facts.scope_object = _ScopeName(prefix)
    returns = layer.get("return", "sequence")
    if returns == "final_output":
        return outputs[-1]
    if returns == "final_state":  # TF 1's state_is_tuple=False layout: [c, h] per cell, in order
        return o.tf.concat(o.tf.nest.flatten(state), axis=1)
    return o.tf.stack(outputs, axis=1)


class _ScopeName(str):
    """An rnn's variable scope, known by name: static_rnn keeps its scope object to itself."""

    @property
    def name(self):
        return str(self)


def _layer_norm(o, layer, xs, mode, reuse, facts):
    x = xs[0]
    width = x.shape[-1]
    beta = o.variable(facts, layer, "beta", [width], o.v1.zeros_initializer()) if layer.get("center", True) else None
    gamma = o.variable(facts, layer, "gamma", [width], o.v1.ones_initializer()) if layer.get("scale", True) else None
    mean, variance = o.tf.nn.moments(x, [x.shape.rank - 1], keepdims=True)
    return o.tf.nn.batch_normalization(x, mean, variance, beta, gamma, layer.get("epsilon", 1e-12))


def _embedding(o, layer, xs, mode, reuse, facts):
    table = o.variable(facts, layer, layer.get("table_name", "embeddings"), [layer["vocab"], layer["dim"]])
    return o.tf.nn.embedding_lookup(table, xs[0])


def _position_embedding(o, layer, xs, mode, reuse, facts):
    x = xs[0]
    table = o.variable(facts, layer, layer.get("table_name", "position_embeddings"), [layer["max_len"], x.shape[2]])
    return x + table[: x.shape[1]]


def _heads_attention(tf, q, k, v, heads, seq_length=None):
    """BERT's attention_layer form: [batch, length, heads, width] transposed to heads first. With
    `seq_length`, q, k and v are [batch * length, width] matrices, and so is the result."""
    length = seq_length

    def split(t):
        n = length or t.shape[1]
        return tf.transpose(tf.reshape(t, [-1, n, heads, t.shape[-1] // heads]), [0, 2, 1, 3])
    q, k, v = split(q), split(k), split(v)
    scores = tf.matmul(q, k, transpose_b=True) / float(q.shape[-1]) ** 0.5
    context = tf.transpose(tf.matmul(tf.nn.softmax(scores), v), [0, 2, 1, 3])
    if seq_length:
        return tf.reshape(context, [-1, heads * context.shape[3]])
    return tf.reshape(context, [-1, context.shape[1], heads * context.shape[3]])


def _multi_head_attention(o, layer, xs, mode, reuse, facts):
    x = xs[0]
    inner = layer["heads"] * layer["key_dim"]

    def project(name, t, units):
        obj = o.layers_api.Dense(units, name=name, _reuse=True if reuse else None)
        y = obj.apply(t)
        facts.uses.extend(v.name[:-2] for v in obj.weights)
        return y
    q, k, v = project("query", x, inner), project("key", x, inner), project("value", x, inner)
    with o.v1.name_scope("attention"):
        context = _heads_attention(o.tf, q, k, v, layer["heads"])
    return project("output", context, layer.get("units", x.shape[-1]))


def _pool(kind):
    def build(o, layer, xs, mode, reuse, facts):
        size = layer["pool_size"]
        return getattr(o.tf.nn, kind)(xs[0], size, layer.get("strides", size), layer.get("padding", "VALID"))
    return build


def _reshape(o, layer, xs, mode, reuse, facts):
    return o.tf.reshape(xs[0], [-1] + list(layer["shape"]))


def _flatten(o, layer, xs, mode, reuse, facts):
    x = xs[0]
    width = 1
    for d in x.shape[1:]:
        width *= d
    return o.tf.reshape(x, [-1, width])


def _slice(o, layer, xs, mode, reuse, facts):
    x = xs[0]
    axis = layer["axis"] % x.shape.rank
    begin, size = layer.get("begin", 0), layer.get("size", -1)
    sizes = [-1] * x.shape.rank
    sizes[axis] = size
    starts = [0] * x.shape.rank
    starts[axis] = begin
    return o.tf.slice(x, starts, sizes)


def _dropout(o, layer, xs, mode, reuse, facts):
    training = layer.get("training", False)
    if isinstance(training, str):
        return o.tf.cond(o.ref(training), lambda: o.tf.nn.dropout(xs[0], rate=layer["rate"]),
                         lambda: o.tf.identity(xs[0]))
    return o.tf.nn.dropout(xs[0], rate=layer["rate"]) if training else o.tf.identity(xs[0])


def _combine(fn):
    def build(o, layer, xs, mode, reuse, facts):
        y = xs[0]
        for x in xs[1:]:
            y = getattr(o.tf.math, fn)(y, x)
        return y
    return build


LEAVES = {
    "dense": _dense,
    "conv1d": _conv(1),
    "conv2d": _conv(2),
    "batch_norm": _batch_norm,
    "rnn": _rnn,
    "layer_norm": _layer_norm,
    "embedding": _embedding,
    "position_embedding": _position_embedding,
    "multi_head_attention": _multi_head_attention,
    "scaled_dot_product_attention": lambda o, layer, xs, *_: _heads_attention(o.tf, *xs[:3], layer.get("heads", 1),
                                                                            layer.get("seq_length")),
    "max_pool2d": _pool("max_pool2d"),
    "avg_pool2d": _pool("avg_pool2d"),
    "global_avg_pool": lambda o, layer, xs, *_: o.tf.reduce_mean(xs[0], axis=list(range(1, xs[0].shape.rank - 1))),
    "activation": lambda o, layer, xs, *_: (_act(o.tf, layer["activation"]) or o.tf.identity)(xs[0]),
    "dropout": _dropout,
    "add": _combine("add"),
    "subtract": _combine("subtract"),
    "multiply": _combine("multiply"),
    "concat": lambda o, layer, xs, *_: o.tf.concat(xs, axis=layer.get("axis", -1)),
    "reshape": _reshape,
    "flatten": _flatten,
    "identity": lambda o, layer, xs, *_: o.tf.identity(xs[0]),
    "slice": _slice,
    "constant": lambda o, layer, xs, *_: o.tf.constant(layer["value"], dtype=o.tf.float32),
}


# -- values on equal weights ------------------------------------------------------------------

def feeds_for(data: dict, rng) -> dict[str, Any]:
    """Random values for every input (ids within [0, 5))."""
    out = {}
    for name, inp in data["inputs"].items():
        shape = [2 if d is None else d for d in inp["shape"]]
        out[name] = rng.integers(0, 5, shape) if inp.get("dtype", "float32").startswith("int") \
            else rng.standard_normal(shape).astype("float32")
    return out


def run_both(model, built: Built, tf, feeds: dict, paths) -> dict[str, tuple]:
    """Every named layer output of specc's model and of the oracle, the oracle's variables loaded with
    specc's values first (the initializers are not compared: equal weights are)."""
    v1 = tf.compat.v1
    with model.graph.as_default():
        init = v1.global_variables_initializer()
    with v1.Session(graph=model.graph) as ours:
        ours.run(init)
        values = ours.run(dict(model.variables))
        mine = ours.run({p: model.tensors[p] for p in paths}, {model.inputs[k]: v for k, v in feeds.items()})
    with built.graph.as_default():
        init = v1.global_variables_initializer()
    with v1.Session(graph=built.graph) as theirs:
        theirs.run(init)
        for name, variable in built.variables(tf).items():
            variable.load(values[name], theirs)
        oracle = theirs.run({p: built.tensors[p] for p in paths}, {built.inputs[k]: v for k, v in feeds.items()})
    return {p: (mine[p], oracle[p]) for p in paths}
