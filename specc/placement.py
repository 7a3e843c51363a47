"""Placement: the device of every variable and of every layer's ops, decided without TensorFlow.

A spec's `placement:` section (or `--ps-tasks` / `--worker-device`) says how many parameter
servers hold the variables; `device:` on a layer or block pins what it makes. The emitter
builds under `tf.compat.v1.train.replica_device_setter`, with each `device:` a nested
`tf.compat.v1.device`, and this module predicts what that gives, as measured on TF 2.21:

- The setter is a device function. It sees each op with the device the nested string
  devices gave it (inner fields win). A variable's `VarHandleOp` is a ps op: when that
  device names no job, or the ps job, the strategy picks a task (so a variable pinned to
  `/job:ps/task:1` still takes its turn), and the result is `/job:ps/task:<t>` merged with
  the op's own device. Any other op gets the worker device merged with its own device.
- A variable is created once: a layer that reuses it (`share:`) makes no `VarHandleOp`,
  so a shared variable lives on one task and takes one turn, however many layers use it.
- Round-robin gives tasks 0, 1, ... in creation order. Greedy (TF 1's
  `tf.contrib.training.GreedyLoadBalancingStrategy` with `byte_size_load_fn`, absent from
  TF 2) gives each variable the least-loaded task so far (the lowest on a tie) and adds its
  bytes. `byte_size_load_fn` reads the op's single output: a `VariableV2`'s value, but a
  resource variable's `VarHandleOp` outputs a scalar `resource` handle, whose dtype size
  TF 2.21 reports as 0: unchanged, it would load nothing and put every variable on task 0.
  Here a variable's load is the bytes of its value (shape x dtype size), as it was for the
  reference variables the function was written for.
- The initializer's ops carry no device of their own, colocated with the variable
  (`loc:@<name>`); `Assign` and `Read/ReadVariableOp` take the variable's device.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Iterator

from .record import record

if TYPE_CHECKING:
    from .plans import Plan, PlannedLayer
    from .spec import LayerSpec, Spec

ROUND_ROBIN, GREEDY = "round_robin", "greedy"
STRATEGIES = (ROUND_ROBIN, GREEDY)
PS_JOB = "/job:ps"
WORKER_JOB = "/job:worker"
DTYPE_BYTES = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8, "int8": 1, "int16": 2, "int32": 4,
               "int64": 8, "uint8": 1, "bool": 1}

# What TensorFlow's DeviceSpec.from_string accepts, one `/`-led field at a time.
_FIELD = re.compile(r"/(?:job:(?P<job>[A-Za-z_][A-Za-z0-9_]*)|replica:(?P<replica>\d+)|task:(?P<task>\d+)"
                    r"|device:(?P<type>[A-Za-z_]+):(?P<index>\d+|\*)|(?P<short>cpu|gpu|CPU|GPU):(?P<sindex>\d+|\*))")
DEVICE_PATTERN = r"^(/(job:[A-Za-z_][A-Za-z0-9_]*|replica:[0-9]+|task:[0-9]+|device:[A-Za-z_]+:([0-9]+|\*)" \
                 r"|(cpu|gpu|CPU|GPU):([0-9]+|\*)))*$"


@record
class Device:
    """A device as TensorFlow's DeviceSpec holds it; None: not set (a merge keeps the other's)."""

    job: str | None = None
    replica: int | None = None
    task: int | None = None
    device_type: str | None = None
    device_index: str | None = None

    @staticmethod
    def parse(text: str) -> "Device":
        """`/job:ps/task:0`, `/device:GPU:0`, `/cpu:0` (-> CPU); the empty text is no device.

        Raises:
            ValueError: text the pattern does not match (the schema checks it first).
        """
        out: dict = {}
        at = 0
        for m in _FIELD.finditer(text):
            if m.start() != at:
                break
            at = m.end()
            if m["job"]:
                out["job"] = m["job"]
            elif m["replica"]:
                out["replica"] = int(m["replica"])
            elif m["task"]:
                out["task"] = int(m["task"])
            elif m["type"]:
                # DeviceSpec upper-cases CPU and GPU, and leaves other types as written.
                kind = m["type"].upper() if m["type"].lower() in ("cpu", "gpu") else m["type"]
                out["device_type"], out["device_index"] = kind, m["index"]
            else:
                out["device_type"], out["device_index"] = m["short"].upper(), m["sindex"]
        if at != len(text):
            raise ValueError(f"not a device: {text!r}")
        return Device(**out)

    def merged(self, other: "Device") -> "Device":
        """`DeviceSpec.make_merged_spec`: `other`'s fields where it sets them, else this one's."""
        return Device(*(o if o is not None else s for s, o in zip(
            (self.job, self.replica, self.task, self.device_type, self.device_index),
            (other.job, other.replica, other.task, other.device_type, other.device_index))))

    def __str__(self) -> str:
        """`DeviceSpec.to_string`: `/job:ps/replica:0/task:1/device:CPU:0`, the fields that are set."""
        out = f"/job:{self.job}" if self.job is not None else ""
        out += f"/replica:{self.replica}" if self.replica is not None else ""
        out += f"/task:{self.task}" if self.task is not None else ""
        if self.device_type is not None:
            out += f"/device:{self.device_type}:{self.device_index if self.device_index is not None else '*'}"
        return out


@record
class PlacementSpec:
    """The `placement:` section as written (validated by the schema)."""

    ps_tasks: int = 0
    worker_device: str = WORKER_JOB
    ps_device: str = PS_JOB
    strategy: str = ROUND_ROBIN


@record
class PlacedVariable:
    name: str
    device: str
    bytes: int


@record
class Placement:
    """Where everything goes: the plan's `placement`.

    Attributes:
        spec: the settings.
        variables: each variable's device and bytes, in creation order.
        layers: layer path -> the device its ops get (blocks included).
        written: layer path -> its `device:` as written, for the layers that write one.
        ps_bytes: bytes of the variables each parameter server task holds, task 0 first.
    """

    spec: PlacementSpec
    variables: tuple[PlacedVariable, ...]
    layers: tuple[tuple[str, str], ...]
    written: tuple[tuple[str, str], ...]
    ps_bytes: tuple[int, ...]

    def device(self, variable: str) -> str:
        return next(v.device for v in self.variables if v.name == variable)

    def layer_devices(self) -> dict[str, str]:
        return dict(self.layers)


def parse_section(raw: dict | None) -> PlacementSpec | None:
    return None if raw is None else PlacementSpec(**raw)


def variable_bytes(shape: tuple[int, ...], dtype: str) -> int:
    size = DTYPE_BYTES[dtype]
    for n in shape:
        size *= n
    return size


def place(spec: "Spec", plan: "Plan") -> "Plan":
    """The plan with its `placement`, when the spec has `placement:` or any `device:`; else as it is."""
    written = _written_devices(spec.layers)
    if spec.placement is None and not written:
        return plan
    settings = spec.placement or PlacementSpec(ps_tasks=0, worker_device="")
    ps, worker = Device.parse(settings.ps_device), Device.parse(settings.worker_device)
    choose = _Chooser(settings)
    planned = {v.name: v for v in plan.variables}
    variables: list[PlacedVariable] = []
    layers: list[tuple[str, str]] = []
    pinned: list[tuple[str, str]] = []

    def visit(layer: "PlannedLayer", outer: Device) -> None:
        own = written.get(tuple(layer.where.path))
        current = outer.merged(Device.parse(own)) if own is not None else outer
        if own is not None:
            pinned.append((layer.path, own))
        layers.append((layer.path, str(worker.merged(current))))
        for binding in layer.variables:
            var = planned[binding.name]
            if binding.borrowed or var.owner != layer.path:
                continue  # made elsewhere: reusing a variable makes no op to place
            size = variable_bytes(var.shape, var.dtype)
            if settings.ps_tasks:
                device = ps
                if ps.job is not None and current.job in (None, ps.job):
                    device = replace(ps, task=choose(size))
                device = device.merged(current)
            else:
                device = worker.merged(current)
            variables.append(PlacedVariable(var.name, str(device), size))
        for child in layer.children:
            visit(child, current)

    for layer in plan.layers:  # build order: the order get_variable creates them in
        visit(layer, Device())
    loads = [0] * settings.ps_tasks
    for v in variables:
        d = Device.parse(v.device)
        if d.job == ps.job and d.task is not None and d.task < len(loads):
            loads[d.task] += v.bytes
    return replace(plan, placement=Placement(settings, tuple(variables), tuple(layers), tuple(pinned), tuple(loads)))


class _Chooser:
    """The ps task of each new variable, in creation order: TF's strategies, replayed."""

    def __init__(self, settings: PlacementSpec):
        self.greedy = settings.strategy == GREEDY
        self.loads = [0] * settings.ps_tasks
        self.next = 0

    def __call__(self, size: int) -> int:
        if self.greedy:
            task = self.loads.index(min(self.loads))  # np.argmin: the first of the least loaded
            self.loads[task] += size
            return task
        task, self.next = self.next, (self.next + 1) % len(self.loads)
        return task


def _written_devices(layers: "tuple[LayerSpec, ...]") -> dict[tuple, str]:
    return {tuple(layer.path): layer.device for layer in _walk(layers) if layer.device is not None}


def _walk(layers) -> Iterator["LayerSpec"]:
    for layer in layers:
        yield layer
        if layer.layers:
            yield from _walk(layer.layers)
