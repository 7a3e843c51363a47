"""Planner for statically unrolled recurrent layers, named exactly as TensorFlow 1's own cells
(LSTMCell, GRUCell, BasicRNNCell, MultiRNNCell) under tf.compat.v1.nn.static_rnn and
static_bidirectional_rnn name them.

Measured with TF 1's own cells (tensorflow.python.keras.layers.legacy_rnn, which TF 2.21
still ships): the variables are `<scope>/lstm_cell/kernel` and `bias`, created once; every
step's ops land in the ONE name scope `<scope>/lstm_cell/` (the cell re-enters the name
scope it opened at step 0, so the ops of step 2 are `mul_8`, not `lstm_cell_2/mul_2`).
MultiRNNCell adds `multi_rnn_cell/cell_<i>/` to variable names, and its steps land under a
second copy of the scope's last segment: `rnn/rnn/multi_rnn_cell/cell_0/lstm_cell/`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..spec import Initializer
from .base import Inferred, LayerContext, TensorInfo, VarRequest, same_dtype

# cell type -> (its variable and name scope, its class name: `<class>ZeroState` scopes the zeros)
CELLS = {"lstm": ("lstm_cell", "LSTMCell"), "gru": ("gru_cell", "GRUCell"), "basic": ("basic_rnn_cell", "BasicRNNCell")}
GLOROT, ZEROS = Initializer("glorot_uniform"), Initializer("zeros")
# A static unroll builds every step's ops: beyond this, a graph is too big to be useful.
MAX_STEPS = 4096


@dataclass(frozen=True)
class Cell:
    type: str
    units: int
    forget_bias: float
    activation: str

    @property
    def state_parts(self) -> int:
        """Tensors in one cell's state: (c, h) for an LSTM, h otherwise."""
        return 2 if self.type == "lstm" else 1


@dataclass(frozen=True)
class Rnn:
    cell: Cell
    steps: int | None
    initial_state: tuple[str, ...]
    returns: str  # sequence, final_output or final_state
    stack: int
    bidirectional: bool

    @property
    def directions(self) -> tuple[str, ...]:
        """Variable-scope prefixes: static_bidirectional_rnn's `fw/`, `bw/`, or none."""
        return ("fw/", "bw/") if self.bidirectional else ("",)

    def cell_prefix(self, direction: str, i: int) -> str:
        """Where cell `i`'s variables live inside the layer's scope, e.g. `fw/multi_rnn_cell/cell_1/lstm_cell/`."""
        multi = f"multi_rnn_cell/cell_{i}/" if self.stack > 1 else ""
        return f"{direction}{multi}{CELLS[self.cell.type][0]}/"


def parse_rnn(raw: dict) -> Rnn:
    cell = raw["cell"]
    state = raw.get("initial_state", ())
    return Rnn(
        # LSTMCell's forget_bias default; every cell's activation defaults to tanh.
        cell=Cell(cell["type"], cell["units"], float(cell.get("forget_bias", 1.0)), cell.get("activation", "tanh")),
        steps=raw.get("steps"),
        initial_state=(state,) if isinstance(state, str) else tuple(state),
        returns=raw.get("return", "sequence"),
        stack=raw.get("stack", 1),
        bidirectional=raw.get("bidirectional", False),
    )


def rnn_refs(p: Rnn) -> tuple[tuple[tuple, str], ...]:
    if len(p.initial_state) == 1:
        return ((("initial_state",), p.initial_state[0]),)
    return tuple(((("initial_state", i), ref) for i, ref in enumerate(p.initial_state)))


def cell_variables(p: Rnn, prefix: str, width: int, dtype: str) -> list[VarRequest]:
    """One cell's variables, in the order its build() creates them, for an input of `width`."""
    u, rows = p.cell.units, width + p.cell.units
    if p.cell.type == "lstm":
        return [VarRequest(prefix + "kernel", (rows, 4 * u), dtype, GLOROT),
                VarRequest(prefix + "bias", (4 * u,), dtype, ZEROS)]
    if p.cell.type == "gru":
        # GRUCell starts its gates open: bias 1.0.
        return [VarRequest(prefix + "gates/kernel", (rows, 2 * u), dtype, GLOROT),
                VarRequest(prefix + "gates/bias", (2 * u,), dtype, Initializer("constant", (("value", 1.0),))),
                VarRequest(prefix + "candidate/kernel", (rows, u), dtype, GLOROT),
                VarRequest(prefix + "candidate/bias", (u,), dtype, ZEROS)]
    return [VarRequest(prefix + "kernel", (rows, u), dtype, GLOROT),
            VarRequest(prefix + "bias", (u,), dtype, ZEROS)]


def infer_rnn(p: Rnn, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
    x, states = inputs[0], inputs[1:]
    same_dtype([x], dtype, ctx)
    if len(x.shape) != 3 or x.shape[2] is None:
        raise ctx.error(f"rnn reads [batch, time, features] with known features, got {x}", "input")
    steps = _steps(p, x, ctx)
    u = p.cell.units
    _check_states(p, states, dtype, ctx)
    variables = []
    for direction in p.directions:
        for i in range(p.stack):
            variables += cell_variables(p, p.cell_prefix(direction, i), x.shape[2] if i == 0 else u, dtype)

    batch, dirs = x.shape[0], len(p.directions)
    # One direction's ops, as static_rnn makes them inside its scope.
    inner = ("Shape", "strided_slice") if batch is None else ()
    if not states:
        inner += ("MultiRNNCellZeroState",) if p.stack > 1 else (CELLS[p.cell.type][1] + "ZeroState",)
    if p.stack > 1:
        # MultiRNNCell re-enters the current variable scope object, which opens a name scope
        # named after the scope's last segment, then multi_rnn_cell/cell_<i>/<cell>/.
        segment = (ctx.var_scope or "").rsplit("/", 1)[-1]
        if not segment:
            raise ctx.error("a stacked rnn needs a variable scope of its own (MultiRNNCell names its steps "
                            "after it); give the layer a `scope`", "stack")
        inner += (segment,)
    else:
        inner += (CELLS[p.cell.type][0],)
    state_width = p.cell.state_parts * u * p.stack
    if p.returns == "sequence":
        output = TensorInfo((batch, steps, u * dirs), dtype)
    elif p.returns == "final_output":
        output = TensorInfo((batch, u * dirs), dtype)
    else:
        output = TensorInfo((batch, state_width * dirs), dtype)
    if p.bidirectional:
        # static_bidirectional_rnn: variable_scope("fw"), then static_rnn re-enters it: fw/fw/.
        combine = {"sequence": ("concat",) * steps + ("stack",)}.get(p.returns, ("concat",))
        ops = ("unstack", "fw", "bw") + combine
    else:
        last = {"sequence": ("stack",), "final_output": (),
                "final_state": ("concat",) if p.cell.state_parts * p.stack > 1 else ()}[p.returns]
        ops = ("unstack",) + inner + last
    return Inferred(output, tuple(variables), ops)


def _steps(p: Rnn, x: TensorInfo, ctx: LayerContext) -> int:
    time = x.shape[1]
    if time is not None and p.steps is not None and time != p.steps:
        raise ctx.error(f"`steps` is {p.steps} but the input {x} has {time} time steps; leave `steps` out "
                        "or make them agree", "steps")
    if time is None and p.steps is None:
        raise ctx.error(f"the input {x} has an unknown time dimension; a static unroll needs `steps`", "input")
    steps = time if time is not None else p.steps
    if steps > MAX_STEPS:  # type: ignore[operator]
        raise ctx.error(f"a static unroll of {steps} steps builds {steps} copies of the cell's ops; at most "
                        f"{MAX_STEPS} are supported", "steps" if time is None else "input")
    return steps  # type: ignore[return-value]


def _check_states(p: Rnn, states: list[TensorInfo], dtype: str, ctx: LayerContext) -> None:
    if not states:
        return
    if p.bidirectional:
        raise ctx.error("`initial_state` is not supported with `bidirectional: true` (each direction would need "
                        "its own)", "initial_state")
    want = p.cell.state_parts * p.stack
    if len(states) != want:
        what = "c and h" if p.cell.type == "lstm" else "h"
        per = f" for each of the {p.stack} stacked cells" if p.stack > 1 else ""
        raise ctx.error(f"a {p.cell.type} cell's state is {what}{per}: `initial_state` needs {want} inputs, "
                        f"got {len(states)}", "initial_state")
    for s in states:
        if len(s.shape) != 2 or s.shape[1] not in (None, p.cell.units) or s.dtype != dtype:
            raise ctx.error(f"each initial state must be {dtype}[batch, {p.cell.units}], got {s}", "initial_state")
