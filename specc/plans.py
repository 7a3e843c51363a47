"""The plan: everything TensorFlow will build, decided without TensorFlow.

A Plan is frozen data: the placeholders, every layer with the scopes it enters
(in order) and the name scope its ops land in, every variable with its full
name, shape, dtype, initializer, creator and users, and the outputs. The emitter
follows it; nothing downstream decides anything about scopes or sharing.
"""

from __future__ import annotations

import math
from dataclasses import field
from typing import Any, Iterator

from .errors import Location
from .layers import Initializer, TensorInfo
from .record import record


@record
class Frame:
    """One context the emitter enters around a layer, outermost first.

    kind:
        "name_scope": `tf.compat.v1.name_scope(name)`.
        "variable_scope": `variable_scope(name, reuse=True if reuse else None)`; a new
            uniquified name scope opens with it.
        "reenter": `variable_scope(<scope object captured by layer `name`>, reuse=True,
            auxiliary_name_scope=False)`: the variables of another place, no new name scope.
    """

    kind: str
    name: str
    reuse: bool = False


@record
class VarBinding:
    """A variable a layer uses: its local name (`kernel`) and full name (`tower/kernel`).
    `borrowed`: created elsewhere and passed to the layer as the object (a tied table)."""

    local: str
    name: str
    borrowed: bool = False


@record
class VariableUse:
    """One layer's use of a variable, and the name scope its ops ran in. `updates`: this
    use assigns to the variable in training (a batch norm's moving-average update).
    `steps`: the time steps of a static unroll that apply it, each with its own ops."""

    layer: str
    op_scope: str
    creates: bool
    updates: bool = False
    steps: int = 1


@record
class PlannedVariable:
    name: str
    shape: tuple[int, ...]
    dtype: str
    initializer: Initializer
    trainable: bool
    owner: str
    users: tuple[VariableUse, ...]

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def applications(self) -> int:
        """How many times the graph applies it: once per using layer, once per time step of an unroll."""
        if len(self.users) == 1:  # the usual variable (what the loop below gives for one use)
            return max(0, self.users[0].steps)
        steps: dict[str, int] = {}
        for u in self.users:
            steps[u.layer] = max(steps.get(u.layer, 0), u.steps)
        return sum(steps.values())

    @property
    def shared(self) -> bool:
        return self.applications > 1


@record
class PlannedInput:
    name: str
    shape: tuple[int | None, ...]
    dtype: str
    default: Any
    has_default: bool


@record
class PlannedLayer:
    """A layer or block, fully decided.

    Attributes:
        path: dotted path (`tower_b.fc1`); also the key of its output tensor.
        frames: the contexts to enter, outermost first.
        op_scope: the name scope its ops land in ('' for the root), as TensorFlow will name it.
        var_scope: the full variable scope its variables live in (None if it has none).
        reuse: whether variables are reused rather than created here.
        inputs: tensor keys it reads (input names or layer paths).
        ops: the names its ops take directly inside op_scope, as TensorFlow uniquifies them, in creation order.
        children: a block's layers; result: the tensor key of a block's output.
    """

    path: str
    id: str
    type: str
    where: Location
    frames: tuple[Frame, ...]
    op_scope: str
    var_scope: str | None
    reuse: bool
    inputs: tuple[str, ...]
    output: TensorInfo
    variables: tuple[VarBinding, ...] = ()
    ops: tuple[str, ...] = ()
    params: Any = None
    children: tuple["PlannedLayer", ...] = ()
    result: str = ""

    def walk(self) -> Iterator["PlannedLayer"]:
        """This layer, then every layer inside it, depth first, in build order."""
        if not self.children:
            return iter((self,))
        return _depth_first((self,))


@record
class PlannedOutput:
    name: str
    key: str
    info: TensorInfo


@record
class Plan:
    name: str
    file: str
    seed: int
    inputs: tuple[PlannedInput, ...]
    layers: tuple[PlannedLayer, ...]
    variables: tuple[PlannedVariable, ...]
    outputs: tuple[PlannedOutput, ...]
    # The Spec it was planned from: `specc.apply` plans it again inside a caller's scopes.
    spec: Any = field(default=None, compare=False, repr=False)
    placement: Any = None  # specc.placement.Placement: the devices, when the spec places anything

    def walk(self) -> Iterator[PlannedLayer]:
        """Every layer and block, depth first, in build order."""
        return _depth_first(self.layers)

    def layer(self, path: str) -> PlannedLayer:
        for layer in self.walk():
            if layer.path == path:
                return layer
        raise KeyError(path)

    @property
    def parameters(self) -> int:
        return sum(v.size for v in self.variables)

    @property
    def trainable_parameters(self) -> int:
        return sum(v.size for v in self.variables if v.trainable)


def _depth_first(layers: tuple[PlannedLayer, ...]) -> Iterator[PlannedLayer]:
    # A stack, not nested generators: lint and report walk a 50,000-layer plan several times.
    todo = list(reversed(layers))
    while todo:
        layer = todo.pop()
        yield layer
        if layer.children:
            todo += reversed(layer.children)
