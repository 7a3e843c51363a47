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

import itertools
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..errors import BuildError, NotCached, Unstampable
from ..layers import TensorInfo
from ..plans import Plan
from ..record import record
from ..report import report
from . import learned as learning
from .files import GraphFiles
from .stamp import _Stamper
from .stencils import StencilCache, default_directory
from .tf1 import check_op_names, check_variables
from .tfimport import tensorflow

SERVING = "serving_default"
PREDICT = "tensorflow/serving/predict"  # saved_model.PREDICT_METHOD_NAME


def unavailable() -> str:
    """Why this process cannot write a build without TensorFlow ('' if it can)."""
    try:
        import google_crc32c  # noqa: F401 (the event file's checksums; TensorBoard's own are pure Python)
        import tensorboard.compat.proto.meta_graph_pb2  # noqa: F401
    except ImportError as e:
        return f"{e.name} is not installed (pip install 'specc[tensorboard]')"
    return ""


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
    cannot write without TensorFlow, a layer has no stencil, the model places devices, or the cache
    cannot be written).

    Raises:
        BuildError: the stamped graph differs from the plan (an internal error).
    """
    if unavailable() or plan.placement is not None:
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
        NotCached: something is not cached yet. Unstampable: a layer has no stencil, or the model places devices.
        BuildError: the stamped graph differs from the plan (an internal error).
    """
    if plan.placement is not None:  # stencils are built outside any device context
        raise Unstampable("the model places variables or layers on devices")
    version = learning.tensorflow_version()
    if version is None:
        raise NotCached("TensorFlow is not installed")
    known = learning.read(directory, version)
    if known is None:
        raise NotCached(f"nothing learned from TensorFlow {version} yet")
    classes = protos()
    cache = _CachedOnly(directory, version)
    stamper = _NoTFStamper(plan, cache, known, classes)
    graph_def = stamper.meta.graph_def
    if graph_def.library.function:  # TensorFlow raises min_consumer when a graph gets functions
        graph_def.versions.ParseFromString(known.library_versions)
    nodes = {n.name: n for n in graph_def.node}
    _check(plan, stamper, nodes)
    shapes = stamper.shapes_attrs + [_shapes_attr(classes, dims, stamper.attrs) for stencil in cache.used
                                     for dims in stencil.shapes]
    if len(shapes) != len(graph_def.node):
        raise BuildError(f"{len(shapes)} nodes' static shapes for the {len(graph_def.node)} nodes stamped")
    shaped = _with_shapes(classes, graph_def, shapes, [s for stencil in cache.used for s in stencil.function_shapes])
    ops = _ops_used(shaped)
    events_meta = _meta(classes, known, shaped, stamper.meta, ops)
    saver = _Saver(classes, known, plan, stamper.meta, nodes)
    meta = _meta(classes, known, shaped, stamper.meta, ops | {n.op for n in saver.nodes}, saver)
    meta.signature_def[SERVING].CopyFrom(_serving(classes, known, plan, stamper, nodes))
    variables = tuple(classes.VariableDef.FromString(b).variable_name[:-2]
                      for b in stamper.meta.collection_def["variables"].bytes_list.value)
    return Stamped(plan=plan, files=GraphFiles(graph=graph_def, shaped=shaped, events_meta=events_meta, meta=meta),
                   variables=variables, report=report(plan))


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
        self.shapes_attrs: list = []  # per input node, its `_output_shapes` (None: no outputs)
        self.attrs: dict = {}  # static shapes -> their `_output_shapes` AttrValue
        super().__init__(None, plan, cache, classes)

    def _inputs(self) -> None:
        graph_def = self.meta.graph_def
        graph_def.versions.ParseFromString(self.known.versions)
        for inp in self.plan.inputs:
            data = self.known.inputs.get(learning.input_key(inp))
            if data is None:
                raise NotCached(f"the nodes of input '{inp.name}' were never learned")

            def renamed(name: str) -> str:
                return inp.name + name[len(learning.INPUT):] if name.split("/")[0] == learning.INPUT else name

            for node in self.protos.GraphDef.FromString(data).node:
                stamped = graph_def.node.add()
                stamped.CopyFrom(node)
                stamped.name = renamed(node.name)
                del stamped.input[:]
                stamped.input.extend(_renamed_input(ref, renamed) for ref in node.input)
                shapes = None
                if "_output_shapes" in stamped.attr:  # graph.pbtxt's nodes have none
                    shapes = self.protos.AttrValue()
                    shapes.CopyFrom(stamped.attr["_output_shapes"])
                    del stamped.attr["_output_shapes"]
                self.shapes_attrs.append(shapes)
            self.names[inp.name] = f"{inp.name}:0"
            self.infos[inp.name] = TensorInfo(tuple(inp.shape), inp.dtype)


# -- checks ---------------------------------------------------------------------------------

def _check(plan: Plan, stamper: _NoTFStamper, nodes: dict) -> None:
    """What tf1.emit and stamp.emit check on their tf.Graph, on the stamped GraphDef."""
    graph_def = stamper.meta.graph_def
    if len(nodes) != len(graph_def.node):
        raise BuildError("the stamped graph holds two nodes of one name")
    for node in graph_def.node:
        for ref in node.input:
            if ref.lstrip("^").split(":")[0] not in nodes:
                raise BuildError(f"node '{node.name}' reads '{ref}', which no node of the stamped graph is")
    dtypes = {value: name for name, value in stamper.known.dtypes.items()}
    collections = stamper.meta.collection_def
    found: dict[str, tuple[tuple, str]] = {}
    for data in collections["variables"].bytes_list.value:
        name = stamper.protos.VariableDef.FromString(data).variable_name
        handle = nodes.get(name[:-2])
        if name in found or handle is None or handle.op != "VarHandleOp":
            raise BuildError(f"variable '{name}' is not one VarHandleOp of the stamped graph")
        dtype = handle.attr["dtype"].type
        found[name] = (_dims(handle.attr["shape"].shape), dtypes.get(dtype, f"DataType {dtype}"))
    trainable = {stamper.protos.VariableDef.FromString(b).variable_name
                 for b in collections["trainable_variables"].bytes_list.value}
    stray = sorted(({n.name + ":0" for n in graph_def.node if n.op == "VarHandleOp"} | trainable) - set(found))
    if stray:
        raise BuildError(f"variable '{stray[0]}' is in the graph but not in its variables collection")
    check_variables(plan, found, trainable)
    for layer in plan.walk():
        if layer.type != "block":
            check_op_names(layer, stamper.layer_nodes[layer.path])


def _dims(shape) -> tuple:
    return tuple(None if d.size == -1 else d.size for d in shape.dim)


# -- shapes ---------------------------------------------------------------------------------

def _shapes_attr(classes, dims: tuple, cache: dict):
    """A node's `_output_shapes` as `as_graph_def(add_shapes=True)` gives it (None: the node has no outputs)."""
    if not dims:
        return None
    attr = cache.get(dims)
    if attr is None:
        attr = cache[dims] = classes.AttrValue()
        for shape in dims:
            proto = attr.list.shape.add()
            if shape is None:
                proto.unknown_rank = True
            else:
                for d in shape:
                    proto.dim.add().size = -1 if d is None else d
    return attr


def _with_shapes(classes, graph_def, shapes: list, function_shapes: list[bytes]):
    """The GraphDef as `as_graph_def(add_shapes=True)` gives it: model.meta's and the event file's."""
    shaped = classes.GraphDef()
    shaped.CopyFrom(graph_def)
    for node, attr in zip(shaped.node, shapes):
        if attr is not None:
            node.attr["_output_shapes"].CopyFrom(attr)
    # The stencils' functions in stamping order, as the library holds them.
    for function, data in zip(shaped.library.function, function_shapes):
        source = classes.FunctionDef.FromString(data)
        if "_input_shapes" in source.attr:
            function.attr["_input_shapes"].CopyFrom(source.attr["_input_shapes"])
        for argument, learned in zip(function.signature.input_arg, source.signature.input_arg):
            argument.handle_data.extend(learned.handle_data)
        for node, learned in zip(function.node_def, source.node_def):
            if "_output_shapes" in learned.attr:
                node.attr["_output_shapes"].CopyFrom(learned.attr["_output_shapes"])
    return shaped


# -- the MetaGraphDefs ----------------------------------------------------------------------

def _meta(classes, known: learning.Learned, shaped, stamped, ops: set[str], saver: "_Saver | None" = None):
    """meta_graph.create_meta_graph_def's MetaGraphDef: the event file's, or with `saver` model.meta's
    (`ops`: meta_graph.ops_used_by_graph_def of its GraphDef)."""
    meta = classes.MetaGraphDef()
    meta.graph_def.CopyFrom(shaped)
    if saver is not None:
        index = {n.name: i for i, n in enumerate(meta.graph_def.node)}
        for name, key, data in saver.marks:
            meta.graph_def.node[index[name]].attr[key].ParseFromString(data)
        meta.graph_def.node.extend(saver.nodes)
        if saver.saver_def is not None:
            meta.saver_def.CopyFrom(saver.saver_def)
    info = meta.meta_info_def
    for op in sorted(ops):
        if op not in known.op_defs:
            raise NotCached(f"the OpDef of '{op}' was never learned")
        info.stripped_op_list.op.add().ParseFromString(known.op_defs[op])
    info.tensorflow_version = known.tensorflow_version
    info.tensorflow_git_version = known.git_version
    for key, collection in stamped.collection_def.items():
        meta.collection_def[key].CopyFrom(collection)
    return meta


def _ops_used(graph_def) -> set[str]:
    """meta_graph.ops_used_by_graph_def: the ops of the nodes and of the functions nodes call by op
    type or through (Stateful)PartitionedCall; not of If's branches."""
    functions = {f.signature.name: f for f in graph_def.library.function}
    used: set[str] = set()
    pending = [graph_def.node]
    while pending:
        for node in pending.pop():
            for op in (node.op, node.attr["f"].func.name if node.op in ("PartitionedCall", "StatefulPartitionedCall")
                       else None):
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

    def __init__(self, classes, known: learning.Learned, plan: Plan, stamped, nodes: dict):
        variables = sorted((classes.VariableDef.FromString(b)
                            for b in stamped.collection_def["variables"].bytes_list.value), key=lambda v: v.variable_name)
        self.names = [v.variable_name[:-2] for v in variables]
        self.dtypes = [nodes[name].attr["dtype"].type for name in self.names]
        template = classes.GraphDef.FromString(known.saver).node
        saver_def = classes.SaverDef.FromString(known.saver_def)
        self.init = _rename(template, saver_def, _used_names(plan, nodes))
        names = {n.name for n in template}
        first = [n for n in template if n.name + "_1" in names]
        repeated = {n.name for n in first} | {n.name + "_1" for n in first}
        self.bases = {n.name: n.name for n in first} | {n.name + "_1": n.name for n in first}
        self.nodes = []
        for node in template:
            if node.name not in repeated:
                self.nodes.append(self._shared(classes, node))
            elif node.name == first[0].name:
                for i in range(len(self.names)):
                    self.nodes.extend(self._repeated(classes, n, i) for n in first)
        if not self.names:
            self.nodes = [n for n in self.nodes if n.name == self.init]
        self.saver_def = saver_def if self.names else None
        # What init and the Saver add to the first template variable's nodes, for every variable.
        self.marks = [(self._variable(node, i), key, data) for i in range(len(self.names))
                      for node, attrs in known.marks.items() if node.split("/")[0] == learning.SAVED[0]
                      for key, data in attrs.items()]

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
        return out

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


def _used_names(plan: Plan, nodes: dict) -> set[str]:
    """The top-level names a Python-built graph of the plan has in use (in Graph._names_in_use, lowercased):
    every node's and every layer's op scope's first component (a scope may hold no node)."""
    return {name.split("/", 1)[0].lower() for name in [*nodes, *(layer.op_scope for layer in plan.walk())]}


def _unique(name: str, used: set[str]) -> str:
    """Graph.unique_name(name) where `used` is in use, and each name was asked for once."""
    if name not in used:
        return name
    k = 1
    while f"{name}_{k}" in used:
        k += 1
    return f"{name}_{k}"


def _serving(classes, known: learning.Learned, plan: Plan, stamper: _NoTFStamper, nodes: dict):
    """specc.emit.signatures.serving_default on the stamped graph: every output, and the placeholders it needs."""
    signature = classes.SignatureDef()
    outputs = {o.name: o.key for o in plan.outputs}
    pending, seen, found = [stamper.names[key].split(":")[0] for key in outputs.values()], set(), set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        node = nodes[name]
        if node.op == "Placeholder":
            found.add(name)
        pending.extend(ref.lstrip("^").split(":")[0] for ref in node.input)
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
