"""Stencils: the NodeDefs one layer makes, built once per layer signature by the Python emitter.

A stencil is what `specc.emit.tf1` builds for one layer, in a scratch graph, under a
canonical variable scope (`specc_stencil`), from placeholders standing in for its inputs
and, for variables it reuses or borrows, variables made beforehand. Every name a node or
attribute holds is then resolved to a *slot*: the n-th op name the layer takes in its
scope, a variable it binds, or an input tensor. Stamping (specc.emit.stamp) fills the
slots with the plan's names. A layer whose nodes hold a name that resolves to no slot (a
collection other than the variables and UPDATE_OPS) has no stencil:
its `problem` says why, and the model is built by the Python emitter instead.

Devices are stamped too, from a stencil built without any placement: the layer is built under
a device function that records each op it is asked about (with the device the layer's own
`tf.device` calls gave it so far) and marks the op with a device naming that record; inputs
and variables made beforehand get marks of their own. A node's mark then says how TensorFlow
chose its device, which is all the model's device functions need (specc.emit.stamp):
`placed` (the device functions saw it: the layer's device, merged with what its own code
asked for), `ps` (a variable's VarHandleOp, which replica_device_setter puts on a parameter
server), `same` (colocated with another node, or given its device explicitly under a reset
device stack: that node's device), `none` (`tf.device(None)`: no device) or `fixed`.

Stencils depend on the layer's signature (type, parameters, the static shapes and dtypes
of its inputs, its variables, reuse, the graph seed), on the code that builds them (a hash
of specc's layers and Python emitter) and on the TensorFlow version, so they are kept in a
cache directory: `$SPECC_CACHE_DIR/stencils`, else the user's cache
directory (`$XDG_CACHE_HOME/specc/stencils` or `~/.cache/specc/stencils`).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import re
import tempfile
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..errors import Unstampable
from ..layers import TensorInfo
from ..plans import Frame, PlannedLayer, PlannedVariable, VarBinding
from ..record import record
from .tf1 import _Builder

SCOPE = "specc_stencil"
INPUT = "specc_stencil_input_"
BORROWED = "specc_stencil_borrowed_"
# A stencil's random ops draw their op seeds from the graph's counter starting here, far from
# any count a real layer reaches, so that the seeds it consumed can be told from fixed ones.
SEED_BASE = 1_000_003
FORMAT = 7  # bump when the cached form changes
# Device marks (see above): `/job:<job>/task:<n>`, the n-th op the device function saw, input or variable.
PLACED_JOB, INPUT_JOB, VARIABLE_JOB = "specc_stencil_placed", "specc_stencil_input", "specc_stencil_variable"
_MARK = re.compile(r"/job:(specc_stencil_[a-z]+)/task:(\d+)")
# Collections a layer may add to, and what the stamped MetaGraphDef holds for each.
VARIABLE_COLLECTIONS = ("variables", "trainable_variables")
OP_COLLECTIONS = ("update_ops",)


@record
class Slot:
    """Where a name comes from: `op` (the layer's n-th op name, then `rest`), `var` (its n-th
    variable's full name, then `rest`) or `input` (its n-th input tensor; `rest` is ':k')."""

    kind: str
    index: int
    rest: str = ""


@record
class Stencil:
    """One layer's nodes with every name resolved to a slot.

    Attributes:
        graph_def: the layer's nodes (a serialized GraphDef), in creation order.
        names: each node's own name as a slot.
        inputs: each node's inputs as (control, slot, output index) triples.
        attrs: name-holding string attributes: (node index, key, list index or -1, prefix, slot, suffix).
        seeds: (node index, offset): the node's seed2 is the graph's op-seed counter plus offset.
        seed_calls: how far the layer advances the op-seed counter.
        shapes: per node, its outputs' static shapes as the Python emitter leaves them (None: unknown
            rank). Python may refine a shape (tensordot's `set_shape`) beyond what TensorFlow's C++
            shape inference gives an imported node, and later ops' shapes follow the refined one.
        refines: whether any of them does here (importing the stencil's own graph loses a shape).
        functions: a tf.cond's branches: (If node index, attribute, branch name, FunctionDef, the outer
            tensors its arguments captured as (argument, prefix, slot, suffix, how many characters of the
            argument's name are that tensor's name)); each stamp names them after its If op and a fresh
            counter value, as cond_v2 does, and its arguments after what they capture.
        function_shapes: per function, the FunctionDef as `as_graph_def(add_shapes=True)` gives it (what
            model.meta and the event file hold: `_input_shapes`, resource arguments' handle data, each
            body node's `_output_shapes`).
        output: the slot and output index of the layer's result; output_info its static shape and dtype.
        collections: key -> per item, a node slot (`update_ops`) or a VariableDef with slots (variables).
        devices: per node, how TensorFlow gives it its device: (kind, reference, text), kind one of
            `none`, `fixed` (text), `same` (the device of the reference: Slot `node` (the layer's n-th
            node), `input` or `var`, a variable made elsewhere), `placed` (the layer's device merged with
            the reference's device, or with text, or with nothing), `ps` (the variable's planned device).
            graph_def and the functions hold no devices.
        function_devices: likewise per function of `functions`, per node of its body.
        problem: why the layer cannot be stamped ('' when it can).
    """

    graph_def: bytes = b""
    names: tuple[Slot, ...] = ()
    inputs: tuple[tuple[tuple[bool, Slot, int], ...], ...] = ()
    attrs: tuple[tuple[int, str, int, str, Slot, str], ...] = ()
    seeds: tuple[tuple[int, int], ...] = ()
    seed_calls: int = 0
    shapes: tuple[tuple[tuple[int | None, ...] | None, ...], ...] = ()
    refines: bool = False
    functions: tuple[tuple[int, str, str, bytes, tuple[tuple[int, str, Slot, str, int], ...]], ...] = ()
    function_shapes: tuple[bytes, ...] = ()
    output: tuple[Slot, int] | None = None
    output_info: TensorInfo | None = None
    collections: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    devices: tuple[tuple[str, Slot | None, str], ...] = ()
    function_devices: tuple[tuple[tuple[str, Slot | None, str], ...], ...] = ()
    problem: str = ""


@functools.cache
def code_version() -> str:
    """A hash of the code a stencil is built by (the layers and the Python emitter): a changed layer
    must not meet the stencils its old code built."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted([*(root / "layers").glob("*.py"), root / "emit" / "tf1.py", Path(__file__).resolve()]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def signature(layer: PlannedLayer, inputs: list[TensorInfo], planned: dict[str, PlannedVariable],
              seed: int) -> str | None:
    """The text that determines a layer's stencil, or None if it has no stable text form."""
    variables = []
    for b in layer.variables:
        v = planned[b.name]
        variables.append([b.local, _relative(layer, b), b.borrowed, list(v.shape), v.dtype, repr(v.initializer),
                          v.trainable])
    text = json.dumps([FORMAT, code_version(), layer.type, repr(layer.params), [[list(t.shape), t.dtype] for t in inputs],
                       [list(layer.output.shape), layer.output.dtype], layer.reuse, variables, seed])
    return None if " at 0x" in text else text  # an object's default repr differs from run to run


def _relative(layer: PlannedLayer, binding: VarBinding) -> str:
    """The name the Python emitter passes get_variable: relative to the layer's variable scope."""
    return binding.name[len(layer.var_scope) + 1:] if layer.var_scope else binding.name


class StencilCache:
    """Stencils by signature: in memory, and on disk in `directory` (None: memory only)."""

    def __init__(self, tf, directory: Path | str | None, version: str | None = None):
        self.tf = tf
        self.directory = Path(directory) / f"tf-{version or tf.__version__}" if directory is not None else None
        self.memory: dict[str, Stencil] = {}
        self.built = 0  # stencils built (not found in memory or on disk), for the benchmark

    def get(self, layer: PlannedLayer, inputs: list[TensorInfo], planned: dict[str, PlannedVariable],
            seed: int) -> Stencil:
        text = signature(layer, inputs, planned, seed)
        if text is None:
            return self._build(layer, inputs, planned, seed)
        key = hashlib.sha256(text.encode()).hexdigest()
        found = self.memory.get(key) or self._read(key)
        if found is None:
            found = self._build(layer, inputs, planned, seed)
            self.built += 1
            self._write(key, found)
        self.memory[key] = found
        return found

    def _build(self, layer: PlannedLayer, inputs: list[TensorInfo], planned: dict[str, PlannedVariable],
               seed: int) -> Stencil:
        return build(self.tf, layer, inputs, planned, seed)

    def _path(self, key: str) -> Path | None:
        return self.directory / f"{key}.json" if self.directory is not None else None

    def _read(self, key: str) -> Stencil | None:
        path = self._path(key)
        try:
            if path is None or not path.is_file():
                return None
            return _from_json(json.loads(path.read_text("utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return None  # a damaged or older entry: build it again and replace it

    def _write(self, key: str, stencil: Stencil) -> None:
        path = self._path(key)
        if path is not None:
            write_json(path, _to_json(stencil))


def write_json(path: Path, data: Any) -> None:
    """Write a cache entry atomically: another build reading the cache sees the whole file or none."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".stencil-", suffix=".tmp")
    except OSError:
        return  # a cache that cannot be written (read-only, not a directory) only costs speed
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def default_directory() -> Path:
    """`$SPECC_CACHE_DIR/stencils`, else the user's cache directory."""
    root = os.environ.get("SPECC_CACHE_DIR")
    if root:
        return Path(root) / "stencils"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "specc" / "stencils"


# -- building a stencil --------------------------------------------------------------------

class _Scratch(_Builder):
    """The Python emitter's own layer code; the ops it makes are kept instead of checked."""

    def check_ops(self, layer, ops) -> None:
        self.layer_ops = list(ops)


def build(tf, layer: PlannedLayer, inputs: list[TensorInfo], planned: dict[str, PlannedVariable],
          seed: int) -> Stencil:
    """Build one layer with the Python emitter in a scratch graph and resolve its names."""
    from tensorflow.python.framework import random_seed

    v1 = tf.compat.v1
    graph = tf.Graph()
    bindings, variables, prefixes = [], [], []
    for i, b in enumerate(layer.variables):
        v = planned[b.name]
        name = f"{BORROWED}{i}" if b.borrowed else f"{SCOPE}/{_relative(layer, b)}"
        bindings.append(VarBinding(b.local, name, b.borrowed))
        variables.append(replace(v, name=name))
        prefixes.append(name)
    builder = _Scratch(tf, graph, SimpleNamespace(variables=variables, placement=None))
    marks = _DeviceMarks(graph)
    with graph.as_default():
        v1.set_random_seed(seed)
        for i, t in enumerate(inputs):
            with v1.device(f"/job:{INPUT_JOB}/task:{i}"):
                builder.tensors[f"{INPUT}{i}"] = v1.placeholder(tf.as_dtype(t.dtype), list(t.shape),
                                                                name=f"{INPUT}{i}")
        # Variables made elsewhere: borrowed ones at the root, reused ones where the layer finds them.
        for i, (b, v) in enumerate(zip(bindings, variables)):
            if b.borrowed or layer.reuse:
                with v1.device(f"/job:{VARIABLE_JOB}/task:{i}"):
                    builder.made[b.name] = v1.get_variable(
                        v.name, shape=list(v.shape), dtype=tf.as_dtype(v.dtype),
                        initializer=v.initializer.make(tf), trainable=v.trainable)
        op_scope = graph.unique_name(SCOPE, mark_as_used=False)
        canonical = replace(layer, frames=(Frame("variable_scope", SCOPE, layer.reuse),), op_scope=op_scope,
                            var_scope=SCOPE, variables=tuple(bindings),
                            inputs=tuple(f"{INPUT}{i}" for i in range(len(inputs))))
        before = {key: list(graph.get_collection(key)) for key in graph.get_all_collection_keys()}
        random_seed._graph_to_seed_dict[graph] = SEED_BASE
        first = len(graph.get_operations())
        with v1.device(marks):
            builder.layer(canonical)
        seed_calls = random_seed._graph_to_seed_dict[graph] - SEED_BASE
        made = graph.get_operations()[first:]
        added = {key: graph.get_collection(key)[len(before.get(key, [])):] for key in graph.get_all_collection_keys()}
        output = builder.tensors[canonical.path]
    heads = []
    for op in builder.layer_ops:
        if not any(op.name == p or op.name.startswith(p + "/") for p in prefixes):
            head = op.name[len(op_scope) + 1:].split("/")[0]
            if head not in heads:
                heads.append(head)
    if len(heads) != len(layer.ops):
        return Stencil(problem=f"{len(heads)} op names in a fresh scope, the plan has {len(layer.ops)}")
    resolver = _Resolver(op_scope, heads, prefixes, len(inputs))
    try:
        return _resolve(tf, graph, made, added, output, resolver, seed_calls, marks)
    except Unstampable as e:
        return Stencil(problem=str(e))


class _DeviceMarks:
    """A device function standing in for the model's: it records each op it is asked about, with the
    device the layer's own `tf.device` calls gave it so far, and marks the op with a device naming
    that record. The model's device functions would see the same ops with the same devices: a
    colocation or `tf.device(None)` hides an op from both."""

    def __init__(self, graph):
        self.graph = graph
        self.calls: list[tuple[str | None, str, str]] = []  # (function name or None, op name, device so far)

    def __call__(self, op) -> str:
        # A tf.cond's branches are FuncGraphs that inherit the device stack: their ops come here too.
        self.calls.append((None if op.graph is self.graph else op.graph.name, op.name, op.device))
        return f"/job:{PLACED_JOB}/task:{len(self.calls) - 1}"


class _Resolver:
    def __init__(self, op_scope: str, heads: list[str], prefixes: list[str], inputs: int):
        self.op_scope, self.heads = op_scope, heads
        # Longest first: `kernel_ema/...` must not be read as `kernel` + `_ema/...`.
        self.prefixes = sorted(enumerate(prefixes), key=lambda p: -len(p[1]))
        self.inputs = {f"{INPUT}{i}": i for i in range(inputs)}

    def slot(self, name: str) -> Slot:
        if name in self.inputs:
            return Slot("input", self.inputs[name])
        for i, p in self.prefixes:
            if name == p or name.startswith(p + "/"):
                return Slot("var", i, name[len(p):])
        if name.startswith(self.op_scope + "/"):
            head, sep, tail = name[len(self.op_scope) + 1:].partition("/")
            if head in self.heads:
                return Slot("op", self.heads.index(head), sep + tail)
        raise Unstampable(f"node '{name}' is none of the layer's own, its inputs' or its variables'")

    def tensor(self, ref: str) -> tuple[bool, Slot, int]:
        control = ref.startswith("^")
        name, _, index = ref.lstrip("^").partition(":")
        return control, self.slot(name), int(index or 0)

    def text(self, value: str) -> tuple[str, Slot, str]:
        """A string attribute that names a node: `loc:@name`, `name/`, `name:0`, `name`."""
        prefix = "loc:@" if value.startswith("loc:@") else ""
        body = value[len(prefix):]
        suffix = ""
        if body.endswith("/"):
            body, suffix = body[:-1], "/"
        elif ":" in body:
            body, _, index = body.partition(":")
            suffix = ":" + index
        return prefix, self.slot(body), suffix


def _resolve(tf, graph, made, added, output, resolver: _Resolver, seed_calls: int, marks: _DeviceMarks) -> Stencil:
    names = {op.name for op in made}
    whole = graph.as_graph_def()
    graph_def = tf.compat.v1.GraphDef()
    graph_def.node.extend(n for n in whole.node if n.name in names)
    places = _Devices(marks, {n.name: i for i, n in enumerate(graph_def.node)})
    functions, function_devices = _functions(whole, graph_def, resolver, places)
    # What add_shapes adds to a function comes from its Python FuncGraph: only the scratch graph has it.
    shaped = {f.signature.name: f for f in graph.as_graph_def(add_shapes=True).library.function} if functions else {}
    function_shapes = tuple(_unnamed(shaped[graph_def.node[index].attr[key].func.name], devices=False).SerializeToString()
                            for index, key, *_ in functions)
    slots, inputs, attrs, seeds, devices = [], [], [], [], []
    for index, node in enumerate(graph_def.node):
        slots.append(resolver.slot(node.name))
        devices.append(places.recipe(node.device, lambda function, name: function is None and name == node.name,
                                     node.op, slots[-1]))
        node.ClearField("device")
        inputs.append(tuple(resolver.tensor(ref) for ref in node.input))
        for key, value in node.attr.items():
            if value.HasField("s") and SCOPE.encode() in value.s:
                attrs.append((index, key, -1, *resolver.text(value.s.decode())))
            elif value.HasField("list"):
                for j, s in enumerate(value.list.s):
                    if SCOPE.encode() in s:
                        attrs.append((index, key, j, *resolver.text(s.decode())))
        if "seed2" in node.attr and SEED_BASE <= node.attr["seed2"].i < SEED_BASE + seed_calls:
            seeds.append((index, node.attr["seed2"].i - SEED_BASE))
    if len(seeds) != seed_calls:
        raise Unstampable(f"{seed_calls} op seeds drawn, {len(seeds)} found in the nodes' seed2")
    collections = []
    for key, items in added.items():
        if not items:
            continue
        if key in OP_COLLECTIONS:
            collections.append((key, tuple(resolver.slot(op.name) for op in items)))
        elif key in VARIABLE_COLLECTIONS:
            defs = []
            for v in items:
                with graph.as_default():  # to_proto refuses outside a graph context
                    proto = v.to_proto()
                defs.append(tuple((f, *resolver.text(getattr(proto, f))) if getattr(proto, f) else (f, "", None, "")
                                  for f in _VARIABLE_NAME_FIELDS) + (proto.SerializeToString(),))
            collections.append((key, tuple(defs)))
        else:
            raise Unstampable(f"the layer adds to the collection '{key}'")
    shapes = tuple(tuple(tuple(t.shape.as_list()) if t.shape.rank is not None else None
                         for t in graph.get_operation_by_name(n.name).outputs) for n in graph_def.node)
    imported = tf.Graph()
    with imported.as_default():
        tf.graph_util.import_graph_def(whole, name="")
    refines = any(tuple(str(t.shape) for t in imported.get_operation_by_name(n.name).outputs)
                  != tuple(str(t.shape) for t in graph.get_operation_by_name(n.name).outputs) for n in graph_def.node)
    out = resolver.tensor(output.name)
    if output.shape.rank is None:
        raise Unstampable("the layer's output has no static rank")
    return Stencil(
        graph_def=graph_def.SerializeToString(), names=tuple(slots), inputs=tuple(inputs), attrs=tuple(attrs),
        seeds=tuple(seeds), seed_calls=seed_calls, shapes=shapes, refines=refines, functions=functions,
        function_shapes=function_shapes, output=(out[1], out[2]),
        output_info=TensorInfo(tuple(output.shape.as_list()), output.dtype.base_dtype.name),
        collections=tuple(collections), devices=tuple(devices), function_devices=function_devices)


class _Devices:
    """Each node's device recipe (Stencil.devices), read from the marks _DeviceMarks left."""

    def __init__(self, marks: _DeviceMarks, nodes: dict[str, int]):
        from tensorflow.python.training.device_setter import STANDARD_PS_OPS

        self.calls, self.nodes, self.ps_ops = marks.calls, nodes, STANDARD_PS_OPS

    def recipe(self, device: str, mine, op: str, slot: Slot | None) -> tuple[str, Slot | None, str]:
        """`mine(function, name)`: whether the device function's record is of this very node."""
        if not device:
            return ("none", None, "")
        mark = self._mark(device)
        if mark is None:
            return ("fixed", None, device)
        if isinstance(mark, Slot):
            return ("same", mark, "")
        function, name, inner = self.calls[mark]
        if not mine(function, name):
            return ("same", self._node(function, name), "")
        if op in self.ps_ops:
            # replica_device_setter gives a ps op a task of its own choosing: only a variable the
            # plan has placed can be stamped.
            if inner or slot is None or slot.kind != "var" or slot.rest:
                raise Unstampable(f"a {op} op that is not a variable's own handle")
            return ("ps", None, "")
        if not inner:
            return ("placed", None, "")
        mark = self._mark(inner)
        if mark is None:
            return ("placed", None, inner)
        return ("placed", mark if isinstance(mark, Slot) else self._node(*self.calls[mark][:2]), "")

    def _node(self, function: str | None, name: str) -> Slot:
        if function is not None or name not in self.nodes:
            raise Unstampable(f"a node takes its device from '{name}', which is not the layer's")
        return Slot("node", self.nodes[name])

    @staticmethod
    def _mark(device: str) -> Slot | int | None:
        """A device mark: an input's or a variable's Slot, or the index of a device function's record."""
        m = _MARK.fullmatch(device)
        if m is None:
            if "specc_stencil" in device:
                raise Unstampable(f"device '{device}' merges a mark with another device")
            return None
        job, n = m.group(1), int(m.group(2))
        return Slot("input", n) if job == INPUT_JOB else Slot("var", n) if job == VARIABLE_JOB else n


_VARIABLE_NAME_FIELDS = ("variable_name", "initial_value_name", "initializer_name", "snapshot_name")


# -- the cache's form ----------------------------------------------------------------------

def _functions(whole, graph_def, resolver: "_Resolver", places: "_Devices") -> tuple[tuple, tuple]:
    """The branches of the layer's tf.conds: (node index, attribute, branch, FunctionDef, captures), the
    captures (argument index, prefix, slot, suffix, name length) naming the outer tensors its arguments stand
    for; and the device recipes of each function's nodes (its FunctionDef is kept without devices).

    cond_v2 names a branch function after the If op's name scope and a process-wide counter
    (`tower/bn1/cond_1` -> `tower_bn1_cond_1_true_10128`), and nothing else in it names the
    graph: the nodes inside are the function's own, what they read comes in as arguments.
    """
    if whole.library.gradient:
        raise Unstampable("it registers function gradients")
    by_name = {f.signature.name: f for f in whole.library.function}
    found, devices = [], []
    for index, node in enumerate(graph_def.node):
        for key, value in node.attr.items():
            if value.HasField("list") and value.list.func:
                raise Unstampable(f"node '{node.name}' calls a list of functions")
            if not value.HasField("func"):
                continue
            function = by_name.pop(value.func.name, None)
            match = re.fullmatch(re.escape(node.name.replace("/", "_")) + r"_([a-z]+)_\d+", value.func.name)
            if function is None or match is None:
                raise Unstampable(f"node '{node.name}' calls '{value.func.name}', not a branch of its own")
            devices.append(_function_devices(function, places))
            body = _unnamed(function)
            # An argument remembers the outer tensor it captured by its op's name, and is named
            # after it too, normalised (`dropout/Mul` capturing `x` -> argument `dropout_mul_x`).
            captured = []
            for arg, attrs in body.arg_attr.items():
                given = attrs.attr.get("_user_specified_name")
                if given is None or SCOPE.encode() not in given.s:
                    continue
                raw = given.s.decode()
                argument = body.signature.input_arg[arg]
                if not argument.name.endswith(normalised(raw)):
                    raise Unstampable(f"argument '{argument.name}' is not named after '{raw}'")
                captured.append((arg, *resolver.text(raw), len(normalised(raw))))
                attrs.attr["_user_specified_name"].s = b""
            if SCOPE.encode() in _without_arguments(body) or any(
                    v.HasField("func") or v.list.func for n in body.node_def for v in n.attr.values()):
                raise Unstampable(f"function '{value.func.name}' names the graph or calls another")
            found.append((index, key, match.group(1), function.SerializeToString(), tuple(captured)))
    if by_name:
        raise Unstampable(f"functions no node of the layer calls: {sorted(by_name)}")
    return tuple(found), tuple(devices)


def _function_devices(function, places: "_Devices") -> tuple:
    """The device recipes of a function's nodes, whose devices are then cleared. A FunctionDef may
    rename a node (`mul` -> `mul_0`): a node is the one its mark's record names when no other
    node of the function bears that mark."""
    name = function.signature.name
    devices = [n.device for n in function.node_def]
    recipes = []
    for node in function.node_def:
        unique = devices.count(node.device) == 1
        recipes.append(places.recipe(node.device, lambda f, _: unique and f == name, node.op, None))
        node.ClearField("device")
    return tuple(recipes)


def _unnamed(function, devices: bool = True):
    """A copy of the FunctionDef without its name (each stamp names its own); without its nodes'
    devices (device marks, see above) unless `devices`."""
    body = type(function)()
    body.CopyFrom(function)
    body.signature.name = ""
    if not devices:
        for node in body.node_def:
            node.ClearField("device")
    return body


def normalised(name: str) -> str:
    """A node name as a FunctionDef argument name (TensorFlow's NodeNameMapping::Normalize)."""
    return re.sub(r"[^a-z0-9_]", "_", name.lower())


def _without_arguments(body) -> bytes:
    """The function's text with its argument names (renamed per stamp) left out."""
    names = {a.name for a in body.signature.input_arg}
    copy = type(body)()
    copy.CopyFrom(body)
    del copy.signature.input_arg[:]
    for node in copy.node_def:
        kept = [ref for ref in node.input if ref.lstrip("^").split(":")[0] not in names]
        del node.input[:]
        node.input.extend(kept)
    for key in list(copy.ret):
        if copy.ret[key].split(":")[0] in names:
            del copy.ret[key]
    return copy.SerializeToString()


def _slot_json(slot: Slot | None):
    return None if slot is None else [slot.kind, slot.index, slot.rest]


def _slot(data) -> Slot | None:
    return None if data is None else Slot(data[0], data[1], data[2])


def _to_json(s: Stencil) -> dict:
    collections = []
    for key, items in s.collections:
        if key in OP_COLLECTIONS:
            collections.append([key, [_slot_json(i) for i in items]])
        else:
            collections.append([key, [[[f, p, _slot_json(slot), x] for f, p, slot, x in item[:-1]]
                                      + [base64.b64encode(item[-1]).decode()] for item in items]])
    return {
        "graph_def": base64.b64encode(s.graph_def).decode(),
        "names": [_slot_json(x) for x in s.names],
        "inputs": [[[c, _slot_json(slot), i] for c, slot, i in refs] for refs in s.inputs],
        "attrs": [[n, k, j, p, _slot_json(slot), x] for n, k, j, p, slot, x in s.attrs],
        "seeds": [list(x) for x in s.seeds], "seed_calls": s.seed_calls,
        "shapes": [[None if d is None else list(d) for d in node] for node in s.shapes], "refines": s.refines,
        "functions": [[n, k, b, base64.b64encode(f).decode(), [[a, p, _slot_json(slot), x, n] for a, p, slot, x, n in c]]
                      for n, k, b, f, c in s.functions],
        "function_shapes": [base64.b64encode(f).decode() for f in s.function_shapes],
        "output": None if s.output is None else [_slot_json(s.output[0]), s.output[1]],
        "output_info": None if s.output_info is None else [list(s.output_info.shape), s.output_info.dtype],
        "collections": collections, "devices": [_recipe_json(r) for r in s.devices],
        "function_devices": [[_recipe_json(r) for r in f] for f in s.function_devices], "problem": s.problem,
    }


def _recipe_json(recipe) -> list:
    return [recipe[0], _slot_json(recipe[1]), recipe[2]]


def _recipe(data) -> tuple:
    return (data[0], _slot(data[1]), data[2])


def _from_json(d: dict) -> Stencil:
    collections = []
    for key, items in d["collections"]:
        if key in OP_COLLECTIONS:
            collections.append((key, tuple(_slot(i) for i in items)))
        else:
            collections.append((key, tuple(tuple((f, p, _slot(slot), x) for f, p, slot, x in item[:-1])
                                           + (base64.b64decode(item[-1]),) for item in items)))
    return Stencil(
        graph_def=base64.b64decode(d["graph_def"]), names=tuple(_slot(x) for x in d["names"]),
        inputs=tuple(tuple((c, _slot(slot), i) for c, slot, i in refs) for refs in d["inputs"]),
        attrs=tuple((n, k, j, p, _slot(slot), x) for n, k, j, p, slot, x in d["attrs"]),
        seeds=tuple((n, o) for n, o in d["seeds"]), seed_calls=d["seed_calls"],
        shapes=tuple(tuple(None if x is None else tuple(x) for x in node) for node in d["shapes"]),
        refines=d["refines"], functions=tuple(
            (n, k, b, base64.b64decode(f), tuple((a, p, _slot(slot), x, n) for a, p, slot, x, n in c))
            for n, k, b, f, c in d["functions"]),
        function_shapes=tuple(base64.b64decode(f) for f in d["function_shapes"]),
        output=None if d["output"] is None else (_slot(d["output"][0]), d["output"][1]),
        output_info=None if d["output_info"] is None else TensorInfo(tuple(d["output_info"][0]), d["output_info"][1]),
        collections=tuple(collections), devices=tuple(_recipe(r) for r in d["devices"]),
        function_devices=tuple(tuple(_recipe(r) for r in f) for f in d["function_devices"]), problem=d["problem"])
