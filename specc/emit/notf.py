"""`specc build --emit stamp` without TensorFlow: the stamped graph checked and made into its files.

With every stencil the plan needs in the cache (specc.emit.stencils) and what the files need of
TensorFlow learned (specc.emit.learned), the stamping emitter's GraphDef is all there is to a build's
files: graph.pbtxt is that GraphDef; the event file holds it with each node's `_output_shapes` (the
stencils' static shapes), and a MetaGraphDef of it with its collections; model.meta adds the `init`
op, the Saver's `save/...` nodes and SaverDef (stamped from the ones learned for two variables) and
the `serving_default` signature. All of it is made with the protobuf classes TensorBoard ships
(`tensorboard.compat.proto`, field for field TensorFlow's own), so `import tensorflow` (4-5 s)
and importing the graph into a tf.Graph (most of a stamped build's time) are skipped.

The checks the Python emitter runs on its tf.Graph run on the GraphDef: every planned variable is
there once, with its planned shape, dtype and trainability, and nothing else is; every layer's ops
are in its planned name scope; every input names a node. `NotCached` says what is missing instead.
"""

from __future__ import annotations

import bisect
import itertools
from array import array
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

from ..errors import BuildError, NotCached, Unstampable
from ..layers import TensorInfo
from ..placement import Device
from ..plans import Plan
from ..record import record
from ..report import report
from . import learned as learning
from . import wire
from .files import GraphFiles, unavailable, with_shapes
from .stamp import _Stamper
from .stencils import StencilCache, default_directory
from .tf1 import check_devices, check_op_names, check_variables, verify_devices
from .tfimport import tensorflow

SERVING = "serving_default"
PREDICT = "tensorflow/serving/predict"  # saved_model.PREDICT_METHOD_NAME


@record
class Stamped:
    """A build stamped without TensorFlow, in the shape `specc build` reports a Model.

    Attributes:
        files: what specc.emit.files.write_graph_files writes.
        variables: the variables' full names (no `:0`), in creation order.
    """

    plan: Plan
    files: GraphFiles
    variables: tuple[str, ...]
    report: Any = None
    init_from: Any = None
    emitter: str = "stamp"
    fallback: str = ""


def protos() -> SimpleNamespace:
    """TensorBoard's copies of the protobuf classes a build needs, as specc.emit.stamp.tf_protos gives TensorFlow's."""
    from tensorboard.compat.proto import (attr_value_pb2, function_pb2, graph_pb2, meta_graph_pb2, node_def_pb2,
                                          saver_pb2, variable_pb2)

    counter = itertools.count(1)
    return SimpleNamespace(
        GraphDef=graph_pb2.GraphDef, NodeDef=node_def_pb2.NodeDef, MetaGraphDef=meta_graph_pb2.MetaGraphDef, VariableDef=variable_pb2.VariableDef,
        AttrValue=attr_value_pb2.AttrValue, FunctionDef=function_pb2.FunctionDef, SaverDef=saver_pb2.SaverDef,
        SignatureDef=meta_graph_pb2.SignatureDef,
        # cond_v2 names a branch after a process-wide counter (ops.uid); this process has its own.
        uid=lambda: next(counter))


def build(plan: Plan, verbose: bool = False, directory: Path | None = None) -> Stamped | None:
    """`specc build --emit stamp`'s build: without TensorFlow when every stencil and what the files need
    are cached; else TensorFlow fills the cache (builds the missing stencils, `learned.learn`) and the
    build is stamped as then, without importing the graph. None: build a tf.Graph instead (this process
    cannot write without TensorFlow, a layer has no stencil, or the cache
    cannot be written).

    Raises:
        BuildError: the stamped graph differs from the plan (an internal error).
    """
    if unavailable():
        return None
    directory = directory or default_directory()
    try:
        return stamp(plan, directory)
    except Unstampable:
        return None
    except NotCached:
        pass
    tf = tensorflow(verbose)
    cache = StencilCache(tf, directory)
    try:
        _Stamper(tf, plan, cache)  # builds and caches the stencils it lacks
        learning.learn(tf, directory, plan.inputs, [s.graph_def for s in cache.memory.values()])
        return stamp(plan, directory)
    except (Unstampable, NotCached):
        return None


def stamp(plan: Plan, directory: Path) -> Stamped:
    """Stamp the plan from the stencils cached in `directory` (specc.emit.stencils.default_directory()).

    Raises:
        NotCached: something is not cached yet. Unstampable: a layer has no stencil.
        BuildError: the stamped graph differs from the plan (an internal error).
    """
    version = learning.tensorflow_version()
    if version is None:
        raise NotCached("TensorFlow is not installed")
    known = learning.read(directory, version)
    if known is None:
        raise NotCached(f"nothing learned from TensorFlow {version} yet")
    classes = protos()
    cache = _CachedOnly(directory, version)
    stamper = _NoTFStamper(plan, cache, known, classes)
    graph = stamper.graph_def  # the GraphDef but its nodes
    if graph.library.function:  # TensorFlow raises min_consumer when a graph gets functions
        graph.versions.ParseFromString(known.library_versions)
    found = _check(plan, stamper)
    shapes = [tuple(stamper.shapes_attrs)] + [_shapes_entries(classes, stencil, stamper) for stencil in cache.used]
    if [len(s) for s in shapes] != stamper.nodes.counts:
        raise BuildError(f"{sum(map(len, shapes))} nodes' static shapes for the {len(stamper.nodes)} nodes stamped")
    shaped = _with_shapes(classes, graph, [s for stencil in cache.used for s in stencil.function_shapes])
    events_meta = _meta(classes, known, shaped, _ops_used(shaped.library, found.uses))
    saver = _Saver(classes, known, plan, found)
    meta = _meta(classes, known, shaped, _ops_used(shaped.library, found.uses | saver.ops), saver)
    meta.signature_def[SERVING].CopyFrom(_serving(classes, known, plan, stamper))
    files = GraphFiles(nodes=stamper.nodes, graph=graph, shapes=shapes, shaped=shaped, events_meta=events_meta,
                       meta=meta, collections=stamper.collections.serialized(), added=saver.added,
                       marks=saver.marks)
    return Stamped(plan=plan, files=files, variables=found.variables, report=report(plan))


class _CachedOnly(StencilCache):
    """The stencil cache, read only; the stencils it gave, in the order asked."""

    def __init__(self, directory: Path, version: str):
        super().__init__(None, directory, version)
        self.used: list = []

    def get(self, layer, inputs, planned, seed):
        stencil = super().get(layer, inputs, planned, seed)
        self.used.append(stencil)
        return stencil

    def _build(self, layer, inputs, planned, seed):
        raise NotCached(f"no stencil cached for layer '{layer.path}' ({layer.type})")


class _NoTFStamper(_Stamper):
    """The stamping emitter's stamper, its inputs' nodes stamped from the learned ones."""

    def __init__(self, plan: Plan, cache: _CachedOnly, known: learning.Learned, classes: SimpleNamespace):
        self.known = known
        self.shapes_attrs: list[bytes] = []  # per input node, its `_output_shapes` attr entry (b'': no outputs)
        self.attrs: dict = {}  # static shapes -> their `_output_shapes` attr entry
        self.stencil_attrs: dict = {}  # a stencil's id -> its nodes' `_output_shapes` attr entries
        super().__init__(None, plan, cache, classes)

    def _inputs(self) -> None:
        self.graph_def.versions.ParseFromString(self.known.versions)
        stamped = self.protos.GraphDef()
        # Made under the model's device functions, every input's nodes are on the worker device.
        placement = self.plan.placement
        device = str(Device.parse(placement.spec.worker_device)) if placement is not None else ""
        for inp in self.plan.inputs:
            data = self.known.inputs.get(learning.input_key(inp))
            if data is None:
                raise NotCached(f"the nodes of input '{inp.name}' were never learned")

            def renamed(name: str) -> str:
                return inp.name + name[len(learning.INPUT):] if name.split("/")[0] == learning.INPUT else name

            for node in self.protos.GraphDef.FromString(data).node:
                made = stamped.node.add()
                made.CopyFrom(node)
                made.name = renamed(node.name)
                del made.input[:]
                made.input.extend(_renamed_input(ref, renamed) for ref in node.input)
                if device:
                    made.device = self.devices[made.name] = device
                shapes = b""
                if "_output_shapes" in made.attr:  # graph.pbtxt's nodes have none
                    shapes = wire.attr_entry("_output_shapes", made.attr["_output_shapes"].SerializeToString())
                    del made.attr["_output_shapes"]
                self.shapes_attrs.append(shapes)
            self.names[inp.name] = f"{inp.name}:0"
            self.infos[inp.name] = TensorInfo(tuple(inp.shape), inp.dtype)
        self.nodes.add(stamped)


# -- checks ---------------------------------------------------------------------------------

@record
class _Found:
    """What the checks saw of the stamped graph, besides that it is right.

    Attributes:
        variables: the variables' names (no `:0`), as their collection lists them.
        shapes: each VarHandleOp's name -> its shape; dtypes: -> its DataType.
        heads: the nodes' names' first components, lowercased (in Graph._names_in_use), and the layers' op
            scopes'.
        uses: the nodes' ops and the functions they call (`_uses`).
        devices: in a placed model, the device of each variable, its initializer (`<variable>/Assign`) and
            read (`<variable>/Read/ReadVariableOp`): tf.group groups the initializers, and a Saver restores a
            variable on its read's device.
    """

    variables: tuple[str, ...]
    shapes: dict[str, tuple]
    dtypes: dict[str, int]
    heads: set[str]
    uses: set[str]
    devices: dict[str, str]


_BUCKETS = 64
READ = "/Read/ReadVariableOp"  # a variable's read, as get_variable makes it


def _check(plan: Plan, stamper: _NoTFStamper) -> _Found:
    """What tf1.emit and stamp.emit check on their tf.Graph, on the stamped nodes, a segment at a time.

    Names are compared by hash (as many names as nodes would take as much memory as the graph);
    when two hashes do not answer, the names are looked up to say which node is wrong.
    """
    layers = {index: layer for layer in plan.walk() if (index := stamper.segments.get(layer.path)) is not None}
    # Every node's name, and the names read from another segment, as hashes in buckets by their low
    # bits: sorted a bucket at a time, they take a fraction of what one sorted list would.
    names, refs = [array("q") for _ in range(_BUCKETS)], [array("q") for _ in range(_BUCKETS)]
    # What is kept is made of the plan's strings and tuples where they are equal: a new small object
    # kept per layer among each segment's short-lived ones would keep their memory from being reused.
    planned = {v.name: v for v in plan.variables}
    shapes: dict[str, tuple] = {}
    dtypes: dict[str, int] = {}
    heads = {layer.op_scope.split("/", 1)[0].lower() for layer in plan.walk()}
    uses: set[str] = set()
    devices: dict[str, str] = {}
    placed = {name: name for v in plan.variables for name in (v.name, v.name + "/Assign", v.name + READ)
              } if plan.placement is not None else {}
    misnamed = None  # the first layer whose ops are not where the plan says: after the graph's own faults
    for index, segment in enumerate(stamper.nodes.segments()):
        nodes = segment.node
        if index in layers and misnamed is None:
            try:
                check_op_names(layers[index], [node.name for node in nodes])
                if plan.placement is not None:
                    _check_devices(layers[index], nodes, stamper)
            except BuildError as e:
                misnamed = e
        local = {node.name for node in nodes}
        for node in nodes:
            name = node.name
            key = hash(name)
            names[key % _BUCKETS].append(key)
            for ref in node.input:
                if (read := ref.lstrip("^").partition(":")[0]) not in local:
                    key = hash(read)
                    refs[key % _BUCKETS].append(key)
            heads.add(name.partition("/")[0].lower())
            uses.update(u for u in _uses(node) if u)
            if name in placed:
                devices[placed[name]] = node.device
            if node.op == "VarHandleOp":
                variable, shape = planned.get(name), _dims(node.attr["shape"].shape)
                if variable is not None:
                    name, shape = variable.name, variable.shape if variable.shape == shape else shape
                shapes[name], dtypes[name] = shape, node.attr["dtype"].type
    for named, read in zip(names, refs):
        known = sorted(named)
        if any(a == b for a, b in zip(known, itertools.islice(known, 1, None))):
            raise BuildError(f"the stamped graph holds two nodes named '{_twice(stamper)}'")
        if any(not known or known[bisect.bisect_left(known, ref) % len(known)] != ref for ref in read):
            raise BuildError(_unknown_reference(stamper))
    if misnamed is not None:
        raise misnamed
    names_of = {value: name for name, value in stamper.known.dtypes.items()}
    found: dict[str, tuple[tuple, str]] = {}
    for name in _listed(stamper, "variables", planned):
        if name in found or name not in shapes:
            raise BuildError(f"variable '{name}:0' is not one VarHandleOp of the stamped graph")
        found[name] = (shapes[name], names_of.get(dtypes[name], f"DataType {dtypes[name]}"))
    trainable = set(_listed(stamper, "trainable_variables", planned))
    stray = sorted((set(shapes) | trainable) - set(found))
    if stray:
        raise BuildError(f"variable '{stray[0]}:0' is in the graph but not in its variables collection")
    check_variables(plan, found, trainable)
    if plan.placement is not None:
        verify_devices(plan, lambda name: devices.get(name, ""))
    return _Found(variables=tuple(found), shapes=shapes, dtypes=dtypes, heads=heads, uses=uses, devices=devices)


def _check_devices(layer, nodes, stamper: _NoTFStamper) -> None:
    """tf1's check_devices on a layer's stamped nodes: on its device, or on their colocation's (a variable's,
    or one of the layer's nodes)."""
    planned = stamper.variable_devices
    local = {node.name: node.device for node in nodes}
    check_devices(layer, stamper.layer_devices[layer.path],
                  [(node.name, node.device, [value.decode()[len("loc:@"):] for value in node.attr["_class"].list.s]
                    if "_class" in node.attr else []) for node in nodes],
                  lambda name: planned.get(name) or local.get(name) or "")


def _listed(stamper: _NoTFStamper, key: str, planned: dict) -> Iterator[str]:
    """The names (without `:0`) of the variables a collection lists: the plan's strings where planned."""
    for data in stamper.collections.items(key):
        name = stamper.protos.VariableDef.FromString(data).variable_name[:-2]
        variable = planned.get(name)
        yield name if variable is None else variable.name


def _twice(stamper: _NoTFStamper) -> str:
    seen: set[str] = set()
    for segment in stamper.nodes.segments():
        for node in segment.node:
            if node.name in seen:
                return node.name
            seen.add(node.name)
    return "?"  # two names of one hash


def _unknown_reference(stamper: _NoTFStamper) -> str:
    names = {node.name for segment in stamper.nodes.segments() for node in segment.node}
    for segment in stamper.nodes.segments():
        for node in segment.node:
            for ref in node.input:
                if ref.lstrip("^").partition(":")[0] not in names:
                    return f"node '{node.name}' reads '{ref}', which no node of the stamped graph is"
    return "a node reads a name of the same hash as a node's, which no node of the stamped graph is"


def _dims(shape) -> tuple:
    return tuple(None if d.size == -1 else d.size for d in shape.dim)


# -- shapes ---------------------------------------------------------------------------------

def _shapes_entries(classes, stencil, stamper: _NoTFStamper) -> tuple[bytes, ...]:
    """Per node of the stencil, its `_shapes_entry` (each made once per stencil and static shapes)."""
    entries = stamper.stencil_attrs.get(id(stencil))
    if entries is None:
        entries = stamper.stencil_attrs[id(stencil)] = tuple(_shapes_entry(classes, dims, stamper.attrs)
                                                             for dims in stencil.shapes)
    return entries


def _shapes_entry(classes, dims: tuple, cache: dict) -> bytes:
    """The `attr` entry that gives a node its `_output_shapes` as `as_graph_def(add_shapes=True)` does
    (b'': the node has no outputs)."""
    if not dims:
        return b""
    entry = cache.get(dims)
    if entry is None:
        attr = classes.AttrValue()
        for shape in dims:
            proto = attr.list.shape.add()
            if shape is None:
                proto.unknown_rank = True
            else:
                for d in shape:
                    proto.dim.add().size = -1 if d is None else d
        entry = cache[dims] = wire.attr_entry("_output_shapes", attr.SerializeToString())
    return entry


def _with_shapes(classes, graph, function_shapes: list[bytes]):
    """The GraphDef but its nodes as `as_graph_def(add_shapes=True)` gives it: model.meta's and the event
    file's (their nodes get their shapes from specc.emit.files.GraphFiles.shapes)."""
    shaped = classes.GraphDef()
    shaped.CopyFrom(graph)
    # The stencils' functions in stamping order, as the library holds them.
    for function, data in zip(shaped.library.function, function_shapes):
        with_shapes(function, classes.FunctionDef.FromString(data))
    return shaped


# -- the MetaGraphDefs ----------------------------------------------------------------------

def _meta(classes, known: learning.Learned, shaped, ops: set[str], saver: "_Saver | None" = None):
    """meta_graph.create_meta_graph_def's MetaGraphDef but its graph's nodes and its collections
    (specc.emit.files adds them): the event file's, or with `saver` model.meta's (`ops`:
    meta_graph.ops_used_by_graph_def of its GraphDef)."""
    meta = classes.MetaGraphDef()
    meta.graph_def.CopyFrom(shaped)
    if saver is not None:
        if saver.saver_def is not None:
            meta.saver_def.CopyFrom(saver.saver_def)
    info = meta.meta_info_def
    for op in sorted(ops):
        if op not in known.op_defs:
            raise NotCached(f"the OpDef of '{op}' was never learned")
        info.stripped_op_list.op.add().ParseFromString(known.op_defs[op])
    info.tensorflow_version = known.tensorflow_version
    info.tensorflow_git_version = known.git_version
    return meta


CALLS = ("PartitionedCall", "StatefulPartitionedCall")


def _uses(node) -> tuple[str, str | None]:
    """A node's op, and the function it calls through (Stateful)PartitionedCall (None: none)."""
    return node.op, node.attr["f"].func.name if node.op in CALLS else None


def _ops_used(library, uses: set[str]) -> set[str]:
    """meta_graph.ops_used_by_graph_def from what the graph's nodes use (`_uses`): their ops, and those of
    the functions they call by op type or through (Stateful)PartitionedCall; not of If's branches."""
    functions = {f.signature.name: f for f in library.function}
    used = set(uses)
    pending = [functions[name].node_def for name in used if name in functions]
    while pending:
        for node in pending.pop():
            for op in _uses(node):
                if op is not None and op not in used:
                    used.add(op)
                    if op in functions:
                        pending.append(functions[op].node_def)
    return used - set(functions)


class _Saver:
    """The `init` op and a Saver's nodes and SaverDef for the model's variables, stamped from the ones
    learned for the variables `a` and `b`.

    As TensorFlow lays them out: a Saver sorts its variables by name and makes, besides nodes of its
    own (`save/Const`, `save/SaveV2`, `save/RestoreV2`, ...) whose lists and tensors hold one item per
    variable, the same nodes once per variable (`save/Identity`, `save/AssignVariableOp`, then
    `save/Identity_1`, ...): in the template, the nodes X whose `X_1` exists are the first variable's.
    `init`'s and `save/restore_all`'s control inputs are sorted by name, as every GraphDef's are.
    """

    def __init__(self, classes, known: learning.Learned, plan: Plan, found: _Found):
        self.names = sorted(found.variables)
        self.dtypes = [found.dtypes[name] for name in self.names]
        self.found = found
        # Where each variable is restored: its read's device (the variable's, with the worker's device type).
        self.devices = [found.devices.get(name + READ, "") for name in self.names]
        template = classes.GraphDef.FromString(known.saver).node
        saver_def = classes.SaverDef.FromString(known.saver_def)
        self.init = _rename(template, saver_def, found.heads)
        names = {n.name for n in template}
        first = [n for n in template if n.name + "_1" in names]
        repeated = {n.name for n in first} | {n.name + "_1" for n in first}
        self.bases = {n.name: n.name for n in first} | {n.name + "_1": n.name for n in first}
        self.classes, self.template, self.first, self.repeated = classes, template, first, repeated
        self.ops = {use for node in template if self.names or node.name == self.init for use in _uses(node) if use}
        self.saver_def = saver_def if self.names else None
        # What init and the Saver add to the first template variable's nodes, for every variable: `attr`
        # entries by node name (an entry for a key the node has replaces its value).
        added = {node: b"".join(wire.attr_entry(key, data) for key, data in attrs.items())
                 for node, attrs in known.marks.items() if node.split("/")[0] == learning.SAVED[0]}
        self.marks = {self._variable(node, i): data for i in range(len(self.names)) for node, data in added.items()}

    def added(self) -> Iterator[bytes]:
        """The nodes' `node` entries, made anew at each call: 16,000 nodes for 8,000 variables are made
        in a fraction of a second, and would hold 3 MB serialized (25 MB as messages)."""
        for node in self.template:
            if node.name not in self.repeated:
                if self.names or node.name == self.init:  # without variables, there is no Saver
                    for made in self._grouped(self._shared(self.classes, node)):
                        yield wire.entry(wire.NODE, made.SerializeToString())
            elif node.name == self.first[0].name:
                for i in range(len(self.names)):
                    for n in self.first:
                        yield wire.entry(wire.NODE, self._repeated(self.classes, n, i).SerializeToString())

    def _instance(self, name: str, i: int) -> str:
        base = self.bases[name]
        return base if i == 0 else f"{base}_{i}"

    def _variable(self, name: str, i: int) -> str | None:
        """`name` with a template variable's name (`a`, `a/Assign`) made the i-th variable's; None if it has none."""
        head, sep, rest = name.partition("/")
        return self.names[i] + sep + rest if head in learning.SAVED else None

    def _repeated(self, classes, node, i: int):
        """A node made once per variable, for the i-th."""
        out = classes.NodeDef()
        out.CopyFrom(node)
        out.name = self._instance(node.name, i)
        del out.input[:]
        for ref in node.input:
            control = "^" if ref.startswith("^") else ""
            name = ref.lstrip("^").split(":")[0]
            if name in self.bases:
                out.input.append(control + self._instance(name, i))
            elif self._variable(name, 0) is not None:
                out.input.append(control + self._variable(name, i))
            else:  # one of the Saver's own nodes with one output per variable: save/RestoreV2:i
                out.input.append(control + (f"{name}:{i}" if i else name))
        for key in ("T", "dtype"):
            if key in out.attr:
                out.attr[key].type = self.dtypes[i]
        if self.devices[i]:  # a variable's restore ops are made on its device
            out.device = self.devices[i]
        return out

    def _grouped(self, node) -> list:
        """A node, or for a `tf.group` NoOp (`init`, `save/restore_all`) over ops on several devices, what
        TensorFlow makes of it: a NoOp per device (`init/NoOp`, `init/NoOp_1`, in device order) on that
        device, and the node on those; over ops on one device, the node on it."""
        if node.op != "NoOp" or not any(self.devices):
            return [node]
        device_of = {}  # the ops a group reads, made per variable: its initializer, its restore ops
        for i, name in enumerate(self.names):
            device_of[name + "/Assign"] = self.found.devices.get(name + "/Assign", "")
            for n in self.first:
                device_of[self._instance(n.name, i)] = self.devices[i]
        groups: dict[str, list[str]] = {}
        for ref in node.input:
            groups.setdefault(device_of.get(ref.lstrip("^"), ""), []).append(ref)
        if len(groups) == 1:
            node.device = next(iter(groups))
            return [node]
        made = []
        for k, device in enumerate(sorted(groups)):
            group = self.classes.NodeDef(name=f"{node.name}/NoOp" + (f"_{k}" if k else ""), op="NoOp", device=device)
            group.input.extend(groups[device])
            # What TensorFlow marks an op with when it becomes a control input (the root's, here).
            group.attr["_has_manual_control_dependencies"].b = True
            made.append(group)
        del node.input[:]
        node.input.extend("^" + group.name for group in made)
        return [*made, node]

    def _shared(self, classes, node):
        """A node made once, its per-variable lists and inputs made the model's."""
        n = len(self.names)
        out = classes.NodeDef()
        out.CopyFrom(node)
        del out.input[:]
        controls = []
        for ref in node.input:
            control = ref.startswith("^")
            name = ref.lstrip("^")
            base = self.bases.get(name)
            head = name.split("/")[0]
            if base is not None or head in learning.SAVED:
                if name == base or head == learning.SAVED[0]:  # the first variable's stands for them all
                    made = [self._instance(name, i) if base else self._variable(name, i) for i in range(n)]
                    (controls if control else out.input).extend(made)
            elif control:
                controls.append(name)
            else:
                out.input.append(ref)
        out.input.extend("^" + name for name in sorted(controls))
        if "dtypes" in out.attr:
            del out.attr["dtypes"].list.type[:]
            out.attr["dtypes"].list.type.extend(self.dtypes)
        if "value" in out.attr and len(out.attr["value"].tensor.string_val) == len(learning.SAVED):
            tensor = out.attr["value"].tensor
            values = list(tensor.string_val)
            del tensor.string_val[:]
            names = values == [s.encode() for s in learning.SAVED]  # the variables' names, or n copies of one value
            tensor.string_val.extend([name.encode() for name in self.names] if names else values[:1] * n)
            tensor.tensor_shape.dim[0].size = n
            out.attr["_output_shapes"].list.shape[0].dim[0].size = n
        elif "_output_shapes" in out.attr and len(out.attr["_output_shapes"].list.shape) == len(learning.SAVED):
            shapes = out.attr["_output_shapes"].list.shape
            one = type(shapes[0])()
            one.CopyFrom(shapes[0])
            del shapes[:]
            for _ in range(n):
                shapes.add().CopyFrom(one)
        return out


def _rename(template, saver_def, used: set[str]) -> str:
    """Give the template's Saver scope and init op the names TensorFlow's Graph.unique_name gives them in
    the model's graph (`save_1/...`, `init_1` where a layer took `save` or `init`); returns init's."""
    names = {"save": _unique("save", used), "init": _unique("init", used)}

    def renamed(name: str) -> str:
        head, sep, rest = name.partition("/")
        return names.get(head, head) + sep + rest

    for node in template:
        node.name = renamed(node.name)
        refs = [_renamed_input(ref, renamed) for ref in node.input]
        del node.input[:]
        node.input.extend(refs)
        if "_class" in node.attr:  # colocations: loc:@save/Const
            values = [b"loc:@" + renamed(v.decode()[len("loc:@"):]).encode() for v in node.attr["_class"].list.s]
            del node.attr["_class"].list.s[:]
            node.attr["_class"].list.s.extend(values)
    for field in ("filename_tensor_name", "save_tensor_name", "restore_op_name"):
        setattr(saver_def, field, renamed(getattr(saver_def, field)))
    return names["init"]


def _renamed_input(ref: str, renamed) -> str:
    """A node input (`name`, `name:1`, `^name`) with its node's name renamed."""
    return "^" + renamed(ref[1:]) if ref.startswith("^") else renamed(ref)


def _unique(name: str, used: set[str]) -> str:
    """Graph.unique_name(name) where `used` is in use, and each name was asked for once."""
    if name not in used:
        return name
    k = 1
    while f"{name}_{k}" in used:
        k += 1
    return f"{name}_{k}"


def _serving(classes, known: learning.Learned, plan: Plan, stamper: _NoTFStamper):
    """specc.emit.signatures.serving_default on the stamped graph: every output, and the placeholders it needs."""
    signature = classes.SignatureDef()
    outputs = {o.name: o.key for o in plan.outputs}
    needed = {stamper.names[key].split(":")[0] for key in outputs.values()}
    found = set()
    # Back from the outputs over the segments in reverse: a node's inputs come before it, but for a
    # loop's back edges, which stay within one layer's segment: a segment is walked until none is left.
    for index in reversed(range(len(stamper.nodes.counts))):
        nodes = stamper.nodes.segment(index).node
        pending, seen = {node.name for node in nodes}, set()
        while needed & pending:
            for node in reversed(nodes):
                if node.name in needed and node.name in pending:
                    needed.discard(node.name)
                    pending.discard(node.name)
                    seen.add(node.name)
                    if node.op == "Placeholder":
                        found.add(node.name)
                    needed.update(name for ref in node.input if (name := ref.lstrip("^").split(":")[0]) not in seen)
    strays = sorted(found - {i.name for i in plan.inputs})
    if strays:
        raise BuildError(f"outputs need placeholders that are no model input: {', '.join(strays)}")
    for inp in plan.inputs:
        if inp.name in found:
            _tensor_info(signature.inputs[inp.name], f"{inp.name}:0", TensorInfo(tuple(inp.shape), inp.dtype), known)
    for name, key in outputs.items():
        _tensor_info(signature.outputs[name], stamper.names[key], stamper.infos[key], known)
    signature.method_name = PREDICT
    return signature


def _tensor_info(proto, name: str, info: TensorInfo, known: learning.Learned) -> None:
    proto.name = name
    proto.dtype = known.dtypes[info.dtype]
    for d in info.shape:
        proto.tensor_shape.dim.add().size = -1 if d is None else d
