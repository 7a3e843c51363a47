"""Plan -> tf.Graph by stamping: each layer's stencil copied under the plan's names, imported at once.

The plan knows every name TensorFlow would give: each layer's op scope and uniquified op
names, each variable's full name. So instead of building layer after layer in Python, the
stamping emitter takes each layer's stencil (specc.emit.stencils: the nodes the Python
emitter makes for one layer of that signature), fills in the plan's names, inputs and
op seeds, assembles one MetaGraphDef (the GraphDef, the variables' VariableDefs in
GLOBAL_VARIABLES and TRAINABLE_VARIABLES, UPDATE_OPS) and imports it once. Its nodes and
collections are held serialized as they are stamped (specc.emit.wire says why). The result is
the graph the Python emitter builds, node for node (tests/test_stamp.py proves it per spec),
and the same plan-vs-graph checks run on it.

Devices are stamped as TensorFlow gives them under the model's device functions
(replica_device_setter and each `device:` as a nested tf.device): each stencil node says how
its device is chosen (specc.emit.stencils), and the plan's placement says what the layer's
device is and on which device each variable lives.

A model with a layer that has no stencil (one whose nodes hold a name the stencil cannot
resolve; no layer type in specc today) is built by the Python emitter as a whole: splicing
Python-built layers between imported ones would need one import per run of stamped layers,
and the op-seed counter and name scopes continue across layers, so a per-layer mix is not
the same graph for free.
"""

from __future__ import annotations

import functools
from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..errors import BuildError, Unstampable
from ..layers import TensorInfo
from ..placement import Device
from ..plans import Plan, PlannedLayer
from . import tf1, wire
from .stencils import OP_COLLECTIONS, Slot, StencilCache, default_directory, normalised
from .tfimport import tensorflow

_MAXINT32 = 2**31 - 1  # TensorFlow's op seeds are taken modulo this (random_seed._truncate_seed)
DEFAULT = "default"


def emit(plan: Plan, verbose: bool = False, cache_dir: Path | str | None = DEFAULT) -> tf1.Model:
    """Build the plan by stamping stencils, or with the Python emitter where a layer has none.

    Args:
        cache_dir: where stencils are kept (`DEFAULT`: specc.emit.stencils.default_directory(); None: nowhere).

    Returns:
        A Model whose `emitter` is "stamp", or "python" with `fallback` saying which layer could not be stamped.

    Raises:
        BuildError: the graph differs from the plan (an internal error).
    """
    tf = tensorflow(verbose)
    cache = StencilCache(tf, default_directory() if cache_dir == DEFAULT else cache_dir)
    try:
        stamper = _Stamper(tf, plan, cache)
    except Unstampable as e:
        model = tf1.emit(plan, verbose)
        model.fallback = str(e)
        return model
    graph = stamper.imported()
    with graph.as_default():
        trainable = {v.name for v in tf.compat.v1.trainable_variables()}
        variables = {v.name[:-2]: v for v in tf.compat.v1.global_variables()}
    tf1.verify_variables(plan, {v.name: v for v in variables.values()}, trainable)
    checker = tf1._Builder(tf, graph, plan)
    for layer in plan.walk():
        if layer.type != "block":
            ops = [graph.get_operation_by_name(n) for n in stamper.node_names(layer.path)]
            checker.check_ops(layer, ops)
            if checker.placed:
                checker.check_devices(layer, ops)
    if plan.placement is not None:
        tf1.verify_devices(plan, lambda name: graph.get_operation_by_name(name).device)
    tensors = {key: graph.get_tensor_by_name(name) for key, name in stamper.names.items()}
    return tf1.Model(plan=plan, graph=graph, inputs={i.name: tensors[i.name] for i in plan.inputs},
                     outputs={o.name: tensors[o.key] for o in plan.outputs}, variables=variables, tensors=tensors,
                     emitter="stamp", function_shapes=stamper.function_shapes)


def tf_protos(tf) -> SimpleNamespace:
    """TensorFlow's protobuf classes, and its process-wide counter that names functions (ops.uid)."""
    from tensorflow.core.framework.variable_pb2 import VariableDef
    from tensorflow.python.framework import ops

    v1 = tf.compat.v1
    return SimpleNamespace(GraphDef=v1.GraphDef, MetaGraphDef=v1.MetaGraphDef, VariableDef=VariableDef, uid=ops.uid)


class _Stamper:
    """Stamps every layer of a plan into one MetaGraphDef; raises Unstampable for a layer without a stencil.

    `protos` holds the protobuf classes to stamp with (default: TensorFlow's, `tf_protos`);
    specc.emit.notf stamps with TensorBoard's copies of them and makes the input nodes itself.
    The nodes are held serialized (`nodes`, a segment per layer: specc.emit.wire says why), and so are
    the collections (`collections`); `graph_def` holds the GraphDef's other fields: versions, function library.
    """

    def __init__(self, tf, plan: Plan, cache: StencilCache, protos: SimpleNamespace | None = None):
        self.tf, self.plan, self.cache = tf, plan, cache
        self.protos = protos or tf_protos(tf)
        self.planned = {v.name: v for v in plan.variables}
        self.graph_def = self.protos.GraphDef()
        self.nodes = wire.Nodes(self.protos.GraphDef)
        self.collections = wire.Collections()
        self.names: dict[str, str] = {}  # tensor key -> tensor name
        self.infos: dict[str, TensorInfo] = {}  # tensor key -> its static shape and dtype in the graph
        self.segments: dict[str, int] = {}  # layer path -> the segment of `nodes` that holds its nodes
        self.function_shapes: dict[str, bytes] = {}  # function name -> Stencil.function_shapes' FunctionDef
        # Per stamped node from the first layer whose shapes an import loses (refined_from, a segment
        # index) on: its outputs' static shapes as Python leaves them. Before it, import infers
        # the same shapes from the same inputs.
        self.refined_from: int | None = None
        self.shapes: list = []
        self.counter = 0  # the graph's op-seed counter (random_seed.get_seed) as the Python emitter leaves it
        self.templates: dict[int, Any] = {}  # id(stencil.graph_def) -> its parsed GraphDef
        placement = plan.placement
        self.layer_devices = placement.layer_devices() if placement is not None else {}
        self.variable_devices = {v.name: v.device for v in placement.variables} if placement is not None else {}
        self.devices: dict[str, str] = {}  # node name -> device, for the nodes that have one
        # Colocated nodes without a device (a variable's initializer): the importer gives them
        # their colocation's device, which the Python emitter's graph does not.
        self.undevised: list[str] = []
        self._inputs()
        for layer in plan.layers:
            self.layer(layer)

    def _inputs(self) -> None:
        tf = self.tf
        scratch = tf.Graph()
        builder = tf1._Builder(tf, scratch, self.plan)
        with scratch.as_default(), ExitStack() as placed:
            if self.plan.placement is not None:  # the placeholders are placed as the Python emitter places them
                placed.enter_context(tf.compat.v1.device(tf1.device_function(tf, self.plan.placement.spec)))
            builder.inputs({})
        made = builder.tensors
        graph_def = scratch.as_graph_def()
        self.devices.update((n.name, n.device) for n in graph_def.node if n.device)
        self.graph_def.versions.CopyFrom(graph_def.versions)
        graph_def.ClearField("versions")
        self.nodes.add(graph_def)
        for name, tensor in made.items():
            self.names[name] = tensor.name
            self.infos[name] = TensorInfo(tuple(tensor.shape.as_list()), tensor.dtype.name)

    def layer(self, layer: PlannedLayer) -> None:
        if layer.type == "block":
            for child in layer.children:
                self.layer(child)
            self.names[layer.path] = self.names[layer.result]
            self.infos[layer.path] = self.infos[layer.result]
            return
        stencil = self.cache.get(layer, [self.infos[k] for k in layer.inputs], self.planned, self.plan.seed)
        if stencil.problem:
            raise Unstampable(f"layer '{layer.path}' ({layer.type}): {stencil.problem}")
        template = self.templates.get(id(stencil.graph_def))
        if template is None:
            template = self.templates[id(stencil.graph_def)] = self.protos.GraphDef.FromString(stencil.graph_def)
        prefix = layer.op_scope + "/" if layer.op_scope else ""
        variables = [b.name for b in layer.variables]
        inputs = [self.names[k] for k in layer.inputs]

        def fill(slot: Slot) -> str:
            if slot.kind == "op":
                return prefix + layer.ops[slot.index] + slot.rest
            if slot.kind == "var":
                return variables[slot.index] + slot.rest
            return inputs[slot.index].removesuffix(":0")

        def ref(control: bool, slot: Slot, index: int) -> str:
            if slot.kind == "input":
                name, _, k = inputs[slot.index].partition(":")
                index = int(k)
            else:
                name = fill(slot)
            return "^" + name if control else name if index == 0 else f"{name}:{index}"

        stamped_layer = self.protos.GraphDef()
        nodes = stamped_layer.node
        for node, slot, refs in zip(template.node, stencil.names, stencil.inputs):
            stamped = nodes.add()
            stamped.CopyFrom(node)
            stamped.name = fill(slot)
            del stamped.input[:]
            stamped.input.extend(ref(*r) for r in refs)
        for index, key, item, before, slot, after in stencil.attrs:
            value = (before + fill(slot) + after).encode()
            if item < 0:
                nodes[index].attr[key].s = value
            else:
                nodes[index].attr[key].list.s[item] = value
        placed = self._devices(layer, stencil, nodes, variables, inputs)
        global_seed = self.plan.seed % _MAXINT32
        for index, offset in stencil.seeds:
            op_seed = (self.counter + offset) % _MAXINT32
            # (0, 0) means "nondeterministic" to the kernels; get_seed swaps it, so do we.
            nodes[index].attr["seed2"].i = _MAXINT32 if (global_seed, op_seed) == (0, 0) else op_seed
        self.counter += stencil.seed_calls
        for (index, key, branch, data, captured), devices, shaped in zip(stencil.functions, stencil.function_devices,
                                                                          stencil.function_shapes):
            function = self.graph_def.library.function.add()
            function.ParseFromString(data)
            if placed is not None:
                for node, recipe in zip(function.node_def, devices):
                    node.device = placed(recipe)
            renamed = {}
            for arg, before, slot, after, length in captured:
                outer = before + fill(slot) + after
                function.arg_attr[arg].attr["_user_specified_name"].s = outer.encode()
                argument = function.signature.input_arg[arg]
                renamed[argument.name] = argument.name[:len(argument.name) - length] + normalised(outer)
            _rename_arguments(function, renamed)
            function.signature.name = f"{nodes[index].name.replace('/', '_')}_{branch}_{self.protos.uid()}"
            nodes[index].attr[key].func.name = function.signature.name
            self.function_shapes[function.signature.name] = shaped
        self._collections(stencil, fill)
        out_slot, out_index = stencil.output
        self.names[layer.path] = (inputs[out_slot.index] if out_slot.kind == "input"
                                  else f"{fill(out_slot)}:{out_index}")
        self.infos[layer.path] = stencil.output_info
        self.segments[layer.path] = self.nodes.add(stamped_layer)
        if stencil.refines and self.refined_from is None:
            self.refined_from = self.segments[layer.path]
        if self.refined_from is not None:
            self.shapes.extend(stencil.shapes)

    def node_names(self, path: str) -> list[str]:
        """The names of the nodes stamped for the layer at `path`, in order."""
        return [node.name for node in self.nodes.segment(self.segments[path]).node]

    def _devices(self, layer: PlannedLayer, stencil, nodes, variables: list[str], inputs: list[str]):
        """Give the stamped nodes their devices (Stencil.devices); returns the recipe -> device function
        for the layer's functions, or None when nothing of the layer has a device."""
        if not self.layer_devices and not self.devices and not any(
                text for _, _, text in (*stencil.devices, *(r for f in stencil.function_devices for r in f))):
            return None  # no device anywhere: every recipe gives ''
        own = self.layer_devices.get(layer.path, "")
        found: dict[int, str] = {}

        def reference(slot) -> str:
            if slot.kind == "node":
                return node_device(slot.index)
            if slot.kind == "input":
                return self.devices.get(inputs[slot.index].partition(":")[0], "")
            return self.variable_devices.get(variables[slot.index], "")

        def placed(recipe, index: int | None = None) -> str:
            kind, slot, text = recipe
            if kind == "same":
                return reference(slot)
            if kind == "placed":  # the model's device functions merge the layer's device under the op's own
                return merged(own, reference(slot) if slot is not None else text)
            if kind == "ps":
                return self.variable_devices.get(nodes[index].name, "")
            return text  # `fixed`, or `none` ('')

        def node_device(index: int) -> str:
            if index not in found:
                found[index] = placed(stencil.devices[index], index)
            return found[index]

        for index in range(len(stencil.devices)):
            device = node_device(index)
            node = nodes[index]
            if device:
                node.device = device
                self.devices[node.name] = device
            elif "_class" in node.attr:
                self.undevised.append(node.name)
        return placed

    def _collections(self, stencil, fill) -> None:
        for key, items in stencil.collections:
            if key in OP_COLLECTIONS:
                for slot in items:
                    self.collections.add(key, wire.Collections.NODE_LIST, fill(slot).encode())
                continue
            for item in items:
                proto = self.protos.VariableDef.FromString(item[-1])
                for field, before, slot, after in item[:-1]:
                    if slot is not None:
                        setattr(proto, field, before + fill(slot) + after)
                self.collections.add(key, wire.Collections.BYTES_LIST, proto.SerializeToString())

    def imported(self):
        """The assembled MetaGraphDef imported into a fresh graph, seeded as the Python emitter leaves it."""
        from tensorflow.python.framework import meta_graph, random_seed

        tf = self.tf
        graph = tf.Graph()
        with graph.as_default():
            _import_serialized(graph, self.nodes.joined(self.graph_def.SerializeToString()),
                               self.graph_def.library)
            # The collections, by import_meta_graph's own body without its last step (with no
            # saver_def it adds a default Saver, `save/...` ops the Python emitter's graph has not),
            # from a MetaGraphDef whose graph holds nothing but its versions.
            collections = self.protos.MetaGraphDef.FromString(b"".join(self.collections.serialized()))
            collections.graph_def.versions.CopyFrom(self.graph_def.versions)
            meta_graph.import_scoped_meta_graph_with_return_elements(collections)
            for name in self.undevised:
                graph.get_operation_by_name(name)._set_device("")
            _mark_names_used(graph, self.plan)
            self._refine_shapes(graph)
            tf.compat.v1.set_random_seed(self.plan.seed)
            # Ops added later (training, dropout) draw the op seeds they would after the Python emitter.
            random_seed._graph_to_seed_dict[graph] = self.counter
        if len(graph.get_operations()) != len(self.nodes):
            raise BuildError("the stamped graph did not import whole")
        return graph


    def _refine_shapes(self, graph) -> None:
        """Give every imported tensor the static shape the Python emitter's has: import infers
        shapes in C++ only, without what Python's set_shape added (and what followed from it)."""
        if self.refined_from is None:
            return
        first = sum(self.nodes.counts[:self.refined_from])
        nodes = (node for segment in self.nodes.segments(self.refined_from) for node in segment.node)
        # The importer creates ops in the GraphDef's order (a topological one); look up any that is not.
        for op, node, shapes in zip(graph.get_operations()[first:], nodes, self.shapes):
            if op.name != node.name:
                op = graph.get_operation_by_name(node.name)
            for tensor, dims in zip(op.outputs, shapes):
                if dims is not None and (tensor.shape.rank is None or tuple(tensor.shape.as_list()) != dims):
                    tensor.set_shape(dims)


def _mark_names_used(graph, plan: Plan) -> None:
    """Mark the names a Python-built graph has in use (Graph._names_in_use, lowercased): every op's
    name, and every scope above it or a layer's, as entering a name scope does. Import marks the
    ops' own names only; so ops added later (a Saver, `init`, training) get the names they would
    get in the Python emitter's graph (`save_1/...` where a layer is named `save`)."""
    in_use = graph._names_in_use
    names = [op.name for op in graph.get_operations()] + [layer.op_scope for layer in plan.walk() if layer.op_scope]
    for name in names:
        key = name.lower()
        in_use.setdefault(key, 1)
        while "/" in key:
            key = key.rpartition("/")[0]
            if key in in_use:
                break
            in_use[key] = 1


def _import_serialized(graph, data: bytes, library) -> None:
    """tf.graph_util.import_graph_def's own steps for a GraphDef held serialized (it would take a message,
    and serialize it again): the nodes and functions into `graph`'s C graph, then their Python side."""
    from tensorflow.python.client import pywrap_tf_session as c_api
    from tensorflow.python.framework import c_api_util, function, importer

    options = c_api_util.ScopedTFImportGraphDefOptions()
    importer._PopulateTFImportGraphDefOptions(options.options, "", {}, None, validate_colocation_constraints=True)
    with graph._mutation_lock():
        buffer = c_api.TF_NewBufferFromString(data)
        try:
            with graph._c_graph.get() as c_graph:
                c_api_util.ScopedTFImportGraphDefResults(
                    c_api.TF_GraphImportGraphDefWithResults(c_graph, buffer, options.options))
        finally:
            c_api.TF_DeleteBuffer(buffer)
        importer._ProcessNewOps(graph)
    for defined in function.from_library(library):
        defined.add_to_graph(graph)


@functools.lru_cache(maxsize=1024)
def merged(outer: str, inner: str) -> str:
    """The device a tf.device(`outer`) function gives an op that has `inner` (its fields win) so far."""
    if not inner or not outer:
        return inner or outer
    return str(Device.parse(outer).merged(Device.parse(inner)))


def _rename_arguments(function, renamed: dict[str, str]) -> None:
    """Rename a FunctionDef's arguments and every reference to them."""
    if not renamed:
        return
    for argument in function.signature.input_arg:
        argument.name = renamed.get(argument.name, argument.name)
    for node in function.node_def:
        for i, ref in enumerate(node.input):
            control = ref.startswith("^")
            name, sep, rest = ref.lstrip("^").partition(":")
            if name in renamed:
                node.input[i] = ("^" if control else "") + renamed[name] + sep + rest
    for key, ref in list(function.ret.items()):
        name, sep, rest = ref.partition(":")
        if name in renamed:
            function.ret[key] = renamed[name] + sep + rest
