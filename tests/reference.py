"""An independent, deliberately naive TF1 interpreter of spec data, for tests.

It reads the spec's data (not specc's plan) and writes the TF1 program a person
would write by hand: variable_scope per layer, reuse=True for `share: true`,
a captured scope object for `share: <path>`, and a Python loop for `repeat`.
Comparing its graph with specc's checks the planner's (and the expand stage's)
reading of the spec language, independently of the emitter's self-check
against the plan.
"""

from __future__ import annotations

import contextlib


def build_reference(data: dict, tf):
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        tensors = {}
        for name, inp in data["inputs"].items():
            tensors[name] = v1.placeholder(tf.float32, inp["shape"], name=name)
        captured: dict[str, object] = {}  # layer path -> the VariableScope it entered (or re-entered)
        structure: dict[str, list] = {}
        first_input = next(iter(data["inputs"]))
        _sequence(tf, data["layers"], "", tensors, {}, tensors[first_input], captured, structure, {})
    return graph


def _sequence(tf, layers, prefix, tensors, local, previous, captured, structure, scope_structure, var_path=""):
    names = dict(local)
    for layer in layers:
        copies = _copies(layer) if "repeat" in layer else [layer]
        if "repeat" in layer:  # in share paths, the repeat's own id stands for its last copy
            captured.setdefault(_ALIASES, {})[prefix + layer["id"]] = prefix + copies[-1]["id"]
        for copy in copies:
            previous = _layer(tf, copy, prefix, tensors, names, previous, captured, structure, scope_structure,
                              var_path)
            names[copy["id"]] = previous
        if "repeat" in layer:  # the repeat's own id stands for its last copy, as an input too
            names[layer["id"]] = previous
    return previous


def _copies(layer):
    """`repeat: N` by hand: ids NAME_k, scopes NAME_k (or the {i} pattern, which also names the ids),
    or one scope created by the first copy and reused by the others with `share: true`;
    each copy reads the previous one in place of its first input."""
    n, ident, share = layer["repeat"], layer["id"], layer.get("share", False)
    out = []
    for k in range(n):
        copy = {key: value for key, value in layer.items() if key != "repeat"}
        copy["id"] = f"{ident}_{k}"
        if share is True:
            copy["scope"] = layer.get("scope", ident)
            if k == 0:
                del copy["share"]
        elif isinstance(layer.get("scope"), str) and "{i}" in layer["scope"]:
            copy["id"] = copy["scope"] = layer["scope"].replace("{i}", str(k))
        if k:
            if "inputs" in copy:
                copy["inputs"] = [out[-1]["id"]] + copy["inputs"][1:]
            else:
                copy["input"] = out[-1]["id"]
        out.append(copy)
    return out


_ALIASES = "<repeat ids>"  # a key of `captured`: repeat path -> its last copy's path


def _resolve_share(ref, path, captured):
    """Like the planner: the enclosing blocks' paths first, then the top level."""
    parts = path.split(".")[:-1]
    for i in range(len(parts), -1, -1):
        candidate = _unalias(".".join(parts[:i] + [ref]), captured.get(_ALIASES, {}))
        if candidate in captured:
            return candidate
    raise KeyError(ref)


def _unalias(path, aliases):
    out = []
    for part in path.split("."):
        out = aliases.get(".".join(out + [part]), ".".join(out + [part])).split(".")
    return ".".join(out)


def _lookup(ref, names, tensors):
    return names[ref] if ref in names else tensors[ref]


def _layer(tf, layer, prefix, tensors, names, previous, captured, structure, scope_structure, var_path):
    v1 = tf.compat.v1
    path = prefix + layer["id"]
    kind = layer["type"]
    with contextlib.ExitStack() as stack:
        if "name_scope" in layer:
            stack.enter_context(v1.name_scope(layer["name_scope"]))
        share = layer.get("share", False)
        children = layer.get("layers")
        inner_var_path = var_path
        if isinstance(share, str):
            stack.enter_context(v1.name_scope(layer["id"]))
            share = _resolve_share(share, path, captured)
            scope = captured[share]
            stack.enter_context(v1.variable_scope(scope, reuse=True, auxiliary_name_scope=False))
            captured[path] = scope
            inner_var_path = scope.name
            if children is None and kind == "block":
                children = structure[share]
        elif kind in ("dense", "block") and layer.get("scope", layer["id"]) is not None:
            name = layer.get("scope", layer["id"])
            vs = stack.enter_context(v1.variable_scope(name, reuse=True if share is True else None))
            captured[path] = vs
            inner_var_path = vs.name
            if children is None and kind == "block":
                children = scope_structure[vs.name]
        else:
            stack.enter_context(v1.name_scope(layer["id"]))
        if kind == "block":
            structure[path] = children
            scope_structure.setdefault(inner_var_path, children)
            x = _lookup(layer["input"], names, tensors) if "input" in layer else previous
            return _sequence(tf, children, path + ".", tensors, {**names, "input": x}, x, captured, structure,
                             scope_structure, inner_var_path)
        x = _lookup(layer["input"], names, tensors) if "input" in layer else previous
        if kind == "dense":
            k = v1.get_variable("kernel", [x.shape[-1], layer["units"]])
            b = v1.get_variable("bias", [layer["units"]], initializer=v1.zeros_initializer())
            y = tf.nn.bias_add(tf.matmul(x, k), b)
            return tf.nn.relu(y) if layer.get("activation") == "relu" else y
        if kind == "activation":
            return tf.nn.relu(x)
        if kind == "add":
            a, b = (_lookup(r, names, tensors) for r in layer["inputs"])
            return tf.add(a, b)
        if kind == "identity":
            return tf.identity(x)
        raise NotImplementedError(kind)
