"""Plan -> tf.Graph with tf.compat.v1, then proof that the graph is the plan.

The emitter decides nothing: it enters each planned frame (name_scope,
variable_scope with reuse only where planned, or a captured scope object),
fetches the planned variables with get_variable and calls the layer's emitter.
Afterwards every variable and every layer's op scope is compared with the plan;
a difference is a BuildError (a bug in specc), never silently accepted.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import BuildError
from ..caller import AUTO_REUSE, CallerGraph, GivenTensor, GraphVariable, inputs_read
from ..plans import Plan, PlannedLayer
from .tfimport import tensorflow


@dataclass
class Model:
    """A built model: the graph and its named tensors and variables.

    Attributes:
        plan: the Plan it was built from.
        graph: the tf.Graph.
        inputs: placeholder tensors by input name.
        outputs: output tensors by output name.
        variables: tf.Variable objects by full variable name (no `:0`).
        tensors: every layer's output by layer path.
        report: the sharing report (specc.report.Report).
        init_from: with `build(..., init_from=...)`, what restored from the checkpoint (specc.checkpoints.restore.InitFrom).
        emitter: which emitter built the graph, "python" (this module) or "stamp" (specc.emit.stamp).
        fallback: why the stamping emitter left the model to this one ('' if it did not).
        function_shapes: stamped, each function's FunctionDef as `as_graph_def(add_shapes=True)` gives it
            when built in Python, by name (specc.emit.stencils.Stencil.function_shapes): TensorFlow gives an
            imported function's none.
    """

    plan: Plan
    graph: Any
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    variables: dict[str, Any]
    tensors: dict[str, Any] = field(repr=False)
    report: Any = None
    init_from: Any = None
    emitter: str = "python"
    fallback: str = ""
    function_shapes: dict[str, bytes] = field(default_factory=dict, repr=False)


def emit(plan: Plan, verbose: bool = False) -> Model:
    """Build the plan into a fresh tf.Graph and verify it.

    Raises:
        BuildError: the graph differs from the plan (an internal error).
    """
    tf = tensorflow(verbose)
    v1 = tf.compat.v1
    graph = tf.Graph()
    builder = _Builder(tf, graph, plan)
    with graph.as_default(), ExitStack() as placed:
        if plan.placement is not None:
            placed.enter_context(v1.device(device_function(tf, plan.placement.spec)))
        v1.set_random_seed(plan.seed)
        builder.inputs({})
        for inp in plan.inputs:  # in a fresh graph each placeholder has exactly its planned name
            if builder.tensors[inp.name].op.name != inp.name:
                raise BuildError(f"input '{inp.name}': TensorFlow named its placeholder "
                                 f"'{builder.tensors[inp.name].op.name}', the plan says '{inp.name}'")
        for layer in plan.layers:
            builder.layer(layer)
        variables = {v.name[:-2]: v for v in v1.global_variables()}
        trainable = {v.name for v in v1.trainable_variables()}
    verify_variables(plan, {v.name: v for v in variables.values()}, trainable)
    if plan.placement is not None:
        verify_devices(plan, lambda name: graph.get_operation_by_name(name).device)
    return Model(
        plan=plan, graph=graph,
        inputs={i.name: builder.tensors[i.name] for i in plan.inputs},
        outputs={o.name: builder.tensors[o.key] for o in plan.outputs},
        variables=variables, tensors=builder.tensors,
    )


class Applied(dict):
    """What `specc.apply` returns: the outputs by name (it is that dict), and what it built.

    Attributes:
        plan: the plan, with the caller's scopes in every name.
        inputs: the tensors it read, by input name (a placeholder_with_default where none was given).
        variables: the variables it used, by full name: created here or reused from the graph.
        created: the names of those it created (none under a reusing variable scope).
        tensors: every layer's output by layer path.
        report: the sharing report (specc.report.Report) of the spec.
    """

    def __init__(self, outputs: dict, *, plan: Plan, inputs: dict, variables: dict, created: tuple[str, ...],
                 tensors: dict, report: Any = None):
        super().__init__(outputs)
        self.plan, self.inputs, self.variables, self.created = plan, inputs, variables, created
        self.tensors, self.report = tensors, report


def caller_graph(tf, inputs: dict[str, Any]) -> CallerGraph:
    """The caller's context: the default graph's current scopes, names and variables, and the given tensors.

    Raises:
        TypeError: an input is not a graph tensor. ValueError: eager execution, or a tensor of another graph.
    """
    v1 = tf.compat.v1
    if tf.executing_eagerly():
        raise ValueError("specc.apply builds a TF1 graph: call it inside `with tf.Graph().as_default():` "
                         "(or after tf.compat.v1.disable_eager_execution())")
    graph = v1.get_default_graph()
    given = []
    for name, t in inputs.items():
        if not isinstance(t, tf.Tensor) or not hasattr(t, "graph"):
            raise TypeError(f"specc.apply: inputs['{name}'] must be a tf.Tensor of the current graph, "
                            f"not {type(t).__name__}")
        if t.graph is not graph:
            raise ValueError(f"specc.apply: inputs['{name}'] ({t.name}) belongs to another graph than the "
                             "default one; apply inside `with its_graph.as_default():`")
        shape = None if t.shape.rank is None else tuple(t.shape.as_list())
        given.append(GivenTensor(name, shape, t.dtype.base_dtype.name))
    scope = v1.get_variable_scope()
    reuse = AUTO_REUSE if scope.reuse is v1.AUTO_REUSE else bool(scope.reuse)
    # Graph._names_in_use is the very dict Graph.unique_name consults: planning among it names
    # every op as TensorFlow will, whatever the caller built before.
    names = dict(graph._names_in_use)
    trainable = {v.name for v in v1.trainable_variables()}
    variables = {v.name[:-2]: GraphVariable(None if v.shape.rank is None else tuple(v.shape.as_list()),
                                            v.dtype.base_dtype.name, v.name in trainable)
                 for v in v1.global_variables()}
    return CallerGraph(scope.name, graph.get_name_scope(), reuse, variables, tuple(given), names)


def apply(plan: Plan, inputs: dict[str, Any], tf) -> Applied:
    """Build a plan made for this caller (planner.plan(..., caller_graph(...))) into the
    default graph, reading `inputs`, and verify what it made and reused.

    Raises:
        BuildError: the graph differs from the plan (an internal error).
    """
    v1 = tf.compat.v1
    graph = v1.get_default_graph()
    before = {v.name for v in v1.global_variables()}
    builder = _Builder(tf, graph, plan)
    builder.inputs(inputs, inputs_read(plan))
    for layer in plan.layers:
        builder.layer(layer)
    created = [v for v in v1.global_variables() if v.name not in before]
    # Only what this application made or reused: the caller's graph may hold anything else.
    used = {v.name: v for v in [*builder.made.values(), *created]}
    verify_variables(plan, used, {v.name for v in v1.trainable_variables()})
    return Applied(
        {o.name: builder.tensors[o.key] for o in plan.outputs}, plan=plan,
        inputs={i.name: builder.tensors[i.name] for i in plan.inputs if i.name in builder.tensors},
        variables={name[:-2]: v for name, v in used.items()}, created=tuple(v.name[:-2] for v in created),
        tensors=builder.tensors)


class _Builder:
    def __init__(self, tf, graph, plan: Plan):
        self.tf, self.graph = tf, graph
        self.tensors: dict[str, Any] = {}
        self.scopes: dict[str, Any] = {}  # layer path -> the VariableScope object it entered
        self.planned_vars = {v.name: v for v in plan.variables}
        self.made: dict[str, Any] = {}  # full name -> the variable object get_variable returned
        self.plan = plan
        # The `device:` each layer writes, entered around it as a user would: a nested
        # tf.device whose fields win over the enclosing ones (the setter merges them).
        self.devices = dict(plan.placement.written) if plan.placement is not None else {}
        self.placed = plan.placement.layer_devices() if plan.placement is not None else {}

    def inputs(self, given: dict[str, Any], read: set[str] | None = None) -> None:
        """The given tensors; a placeholder (with its default, if it has one) for each input not given,
        but, when `read` says which inputs a layer or an output reads, for one none reads."""
        tf, v1 = self.tf, self.tf.compat.v1
        for inp in self.plan.inputs:
            if inp.name in given:
                self.tensors[inp.name] = given[inp.name]
                continue
            if read is not None and inp.name not in read:
                continue
            dtype = tf.as_dtype(inp.dtype)
            if inp.has_default:
                import numpy as np  # here, not at the top: a build written without TensorFlow needs no NumPy

                # A NumPy value, not tf.constant: the constant then lands at `<name>/input`,
                # not in a root `Const` that would push a layer named `const` to `const_1`.
                self.tensors[inp.name] = v1.placeholder_with_default(
                    np.asarray(inp.default, dtype=dtype.as_numpy_dtype), list(inp.shape), name=inp.name)
            else:
                self.tensors[inp.name] = v1.placeholder(dtype, list(inp.shape), name=inp.name)

    def layer(self, layer: PlannedLayer) -> None:
        v1 = self.tf.compat.v1
        first_op = len(self.graph.get_operations())
        with ExitStack() as stack:
            if layer.path in self.devices:
                stack.enter_context(self.tf.compat.v1.device(self.devices[layer.path]))
            for frame in layer.frames:
                if frame.kind == "name_scope":
                    stack.enter_context(v1.name_scope(frame.name))
                elif frame.kind == "variable_scope":
                    self.scopes[layer.path] = stack.enter_context(
                        v1.variable_scope(frame.name, reuse=True if frame.reuse else None))
                else:
                    # Another place's variables, without opening a name scope of theirs: ops stay here.
                    stack.enter_context(v1.variable_scope(
                        self.scopes[frame.name], reuse=True, auxiliary_name_scope=False))
            actual = self.graph.get_name_scope()
            if actual != layer.op_scope:
                raise BuildError(f"layer '{layer.path}': ops would land in name scope '{actual}', "
                                 f"the plan says '{layer.op_scope}'")
            if layer.type == "block":
                for child in layer.children:
                    self.layer(child)
                self.tensors[layer.path] = self.tensors[layer.result]
                return
            variables = {b.local: self.variable(layer, b) for b in layer.variables}
            inputs = [self.tensors[k] for k in layer.inputs]
            self.tensors[layer.path] = layer.params.emit(self.tf, layer, inputs, variables)
        self.check_ops(layer, self.graph.get_operations()[first_op:])
        if self.placed:
            self.check_devices(layer, self.graph.get_operations()[first_op:])

    def variable(self, layer: PlannedLayer, binding):
        if binding.borrowed:
            # Created by another layer (a tied embedding table): the object itself, as BERT
            # passes it; get_variable here would look under this layer's scope instead.
            return self.made[binding.name]
        planned = self.planned_vars[binding.name]
        # Created under the plan's name, relative to the scope it is in (`variables:` may rename
        # `kernel` to `output_weights`); the layer's emitter still receives it as `kernel`.
        name = binding.name[len(layer.var_scope) + 1:] if layer.var_scope else binding.name
        v = self.tf.compat.v1.get_variable(
            name, shape=list(planned.shape), dtype=self.tf.as_dtype(planned.dtype),
            initializer=planned.initializer.make(self.tf), trainable=planned.trainable)
        if v.name != binding.name + ":0":
            raise BuildError(f"layer '{layer.path}': TensorFlow named a variable '{v.name}', "
                             f"the plan says '{binding.name}:0'")
        self.made[binding.name] = v
        return v

    def check_devices(self, layer: PlannedLayer, ops) -> None:
        """check_devices on the layer's ops."""
        def colocations(op) -> list[str]:
            try:
                return [group.decode()[len("loc:@"):] for group in op.get_attr("_class")]
            except ValueError:
                return []

        check_devices(layer, self.placed[layer.path], [(op.name, op.device, colocations(op)) for op in ops],
                      lambda name: self.graph.get_operation_by_name(name).device)

    def check_ops(self, layer: PlannedLayer, ops) -> None:
        """Every op the layer made (besides variables' own) sits directly in its planned scope."""
        check_op_names(layer, [op.name for op in ops])


def check_op_names(layer: PlannedLayer, names: list[str]) -> None:
    """The names of the ops a layer made (besides its variables' own) are in its planned scope, with
    the planned first components, in order."""
    var_names = {b.name for b in layer.variables}
    prefix = layer.op_scope + "/" if layer.op_scope else ""
    heads = []
    for name in names:
        if any(name == v or name.startswith(v + "/") for v in var_names):
            continue
        if not name.startswith(prefix):
            raise BuildError(f"layer '{layer.path}': op '{name}' is outside its planned name scope "
                             f"'{layer.op_scope}'")
        head = name[len(prefix):].split("/")[0]
        if head not in heads:
            heads.append(head)
    if heads != list(layer.ops):
        raise BuildError(f"layer '{layer.path}': ops {heads} in '{layer.op_scope}', the plan says {list(layer.ops)}")


def check_devices(layer: PlannedLayer, device: str, ops: list[tuple[str, str, list[str]]],
                  device_of: Callable[[str], str]) -> None:
    """Every op the layer made with a device of its own is on the planned one, `device`. Ops without
    one run where TensorFlow colocates them: a variable's initializer with the variable
    (`loc:@`), a read of a resource variable with its handle. An op colocated with another
    (an embedding's gather with its table) takes that op's device instead.

    Args:
        ops: (name, device, the names of the ops its `_class` colocates it with) per op.
        device_of: an op's device, by name.
    """
    var_names = {b.name for b in layer.variables}
    for name, on, colocations in ops:
        if not on or on == device or any(name == v or name.startswith(v + "/") for v in var_names):
            continue
        # TensorFlow gives a colocated op the device of the first op of its groups that has one.
        if on != next((d for d in map(device_of, colocations) if d), None):
            raise BuildError(f"layer '{layer.path}': op '{name}' is on '{on}', the plan says '{device}'")


def verify_variables(plan: Plan, actual: dict[str, Any], trainable: set[str]) -> None:
    """The variables built (by name with `:0`) are exactly the planned ones: names, shapes, dtypes,
    trainable (`trainable`: the names of the graph's trainable variables)."""
    check_variables(plan, {name[:-2]: (tuple(a.shape.as_list()), a.dtype.base_dtype.name) for name, a in actual.items()},
                    {name[:-2] for name in trainable})


def check_variables(plan: Plan, actual: dict[str, tuple[tuple, str]], trainable: set[str]) -> None:
    """verify_variables on (shape, dtype name) pairs by variable name (without `:0`)."""
    planned = {v.name: v for v in plan.variables}
    names = sorted(planned) if actual.keys() == planned.keys() else sorted(set(actual) | set(planned))
    for name in names:
        if name not in actual:
            raise BuildError(f"variable '{name}:0' is planned but missing from the graph")
        if name not in planned:
            raise BuildError(f"variable '{name}:0' is in the graph but not in the plan")
        (shape, dtype), p = actual[name], planned[name]
        if shape != p.shape:
            raise BuildError(f"variable '{name}:0': graph shape {list(shape)}, planned {list(p.shape)}")
        if dtype != p.dtype:
            raise BuildError(f"variable '{name}:0': graph dtype {dtype}, planned {p.dtype}")
        if (name in trainable) != p.trainable:
            raise BuildError(f"variable '{name}:0': trainable={name in trainable}, planned {p.trainable}")


def device_function(tf, settings):
    """`replica_device_setter` as the placement says (specc.placement predicts what it does)."""
    from ..placement import GREEDY

    v1 = tf.compat.v1
    if not settings.ps_tasks:
        return settings.worker_device or None
    strategy = _Greedy(settings.ps_tasks) if settings.strategy == GREEDY else None  # None: TF's round-robin
    return v1.train.replica_device_setter(ps_tasks=settings.ps_tasks, ps_device=settings.ps_device,
                                          worker_device=settings.worker_device, ps_strategy=strategy)


class _Greedy:
    """TF 1's contrib GreedyLoadBalancingStrategy (gone from TF 2): the least-loaded task, the first on a
    tie. The load is the variable's bytes, read from the VarHandleOp's `shape` and `dtype` attributes:
    contrib's byte_size_load_fn reads the op's output, a resource handle of size 0 in TF 2."""

    def __init__(self, tasks: int):
        self.loads = [0] * tasks

    def __call__(self, op) -> int:
        from ..placement import variable_bytes

        task = self.loads.index(min(self.loads))
        shape = tuple(d.size for d in op.get_attr("shape").dim)
        self.loads[task] += variable_bytes(shape, op.get_attr("dtype").name)
        return task


def verify_devices(plan: Plan, device_of: Callable[[str], str]) -> None:
    """Every variable sits on its planned device (`device_of`: an op's device, by name; check_devices
    checks the layers' ops)."""
    for v in plan.placement.variables:
        actual = device_of(v.name)
        if actual != v.device:
            raise BuildError(f"variable '{v.name}' is on '{actual}', the plan says '{v.device}'")
