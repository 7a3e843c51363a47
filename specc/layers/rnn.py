"""Statically unrolled recurrent layers, named exactly as TensorFlow 1's own cells (LSTMCell,
GRUCell, BasicRNNCell, MultiRNNCell) under tf.compat.v1.nn.static_rnn and
static_bidirectional_rnn name them.

Measured with TF 1's own cells (tensorflow.python.keras.layers.legacy_rnn, which TF 2.21
still ships): the variables are `<scope>/lstm_cell/kernel` and `bias`, created once; every
step's ops land in the ONE name scope `<scope>/lstm_cell/` (the cell re-enters the name
scope it opened at step 0, so the ops of step 2 are `mul_8`, not `lstm_cell_2/mul_2`).
MultiRNNCell adds `multi_rnn_cell/cell_<i>/` to variable names, and its steps land under a
second copy of the scope's last segment: `rnn/rnn/multi_rnn_cell/cell_0/lstm_cell/`.

The emitter builds the ops of those cells in their order. One difference from TF 1 is
deliberate: static_rnn sets a caching device, so TF 1 reads each variable once
(`kernel/Read/Identity`); here each step reads it where it is used
(`lstm_cell/MatMul_1/ReadVariableOp`). Values are the same.
"""

from __future__ import annotations

from dataclasses import replace

from ..record import record
from .activations import activation
from .base import Inferred, Initializer, LayerContext, TensorInfo, VarRequest, same_dtype
from .declare import ACTIVATION, BOOL, NUMBER, POSITIVE_INT, REF, enum, layer, nested, param, parse_params

FAMILY = "Recurrent layers"
ORDER = 60

# cell type -> (its variable and name scope, its class name: `<class>ZeroState` scopes the zeros)
CELLS = {"lstm": ("lstm_cell", "LSTMCell"), "gru": ("gru_cell", "GRUCell"), "basic": ("basic_rnn_cell", "BasicRNNCell")}
GLOROT, ZEROS = Initializer("glorot_uniform"), Initializer("zeros")
# A static unroll builds every step's ops: beyond this, a graph is too big to be useful.
MAX_STEPS = 4096


@record(kw_only=True)
class Cell:
    type: str = param(enum(*CELLS), "`lstm` (LSTMCell), `gru` (GRUCell) or `basic` (BasicRNNCell).", required=True,
                      example="lstm")
    units: int = param(POSITIVE_INT, "The width of the state and the output.", required=True, example=128)
    # LSTMCell's default.
    forget_bias: float = param(NUMBER, "Added to the LSTM forget gate.", default=1.0, convert=float)
    # Every cell's activation defaults to tanh.
    activation: str = param(ACTIVATION, "The cell's activation.", default="tanh")

    @property
    def state_parts(self) -> int:
        """Tensors in one cell's state: (c, h) for an LSTM, h otherwise."""
        return 2 if self.type == "lstm" else 1


STATE = {"anyOf": [REF, {"type": "array", "minItems": 1, "items": REF}]}


@layer("rnn", scoped=True,
       doc="A statically unrolled recurrent layer, named exactly as TensorFlow 1's own cells under "
           "`tf.compat.v1.nn.static_rnn` (and `static_bidirectional_rnn`) name them: one set of variables "
           "serves every time step. See [Recurrent layers](#recurrent-layers).",
       example={"id": "encoder", "type": "rnn", "cell": {"type": "lstm", "units": 128}, "return": "final_output"},
       variables="see [Recurrent layers](#recurrent-layers)",
       ops="`unstack`, `Shape`, `strided_slice`, `LSTMCellZeroState`, `lstm_cell`, `stack`")
class Rnn:
    cell: Cell = param(nested(Cell, "The cell: its type and width."), "The cell unrolled over time.", required=True,
                       example={"type": "lstm", "units": 128}, convert=lambda raw: parse_params(Cell, raw))
    steps: int | None = param({**POSITIVE_INT, "maximum": MAX_STEPS},
                              "Time steps to unroll; default: the input's known time dimension.", default=None)
    initial_state: tuple[str, ...] | None = param(
        STATE, "Inputs holding the initial state: h, or c and h for an LSTM, for each stacked cell.",
        default=None, convert=lambda v: (v,) if isinstance(v, str) else tuple(v))
    returns: str = param(enum("sequence", "final_output", "final_state"),
                         "`sequence` [batch, time, units]; `final_output` [batch, units]; `final_state` (c and h "
                         "concatenated for an LSTM).", default="sequence", key="return")
    stack: int = param({**POSITIVE_INT, "maximum": 64}, "Stacked cells, as MultiRNNCell.", default=1)
    bidirectional: bool = param(BOOL, "Run a second cell backwards and concatenate the two "
                                      "(static_bidirectional_rnn).", default=False)

    @property
    def directions(self) -> tuple[str, ...]:
        """Variable-scope prefixes: static_bidirectional_rnn's `fw/`, `bw/`, or none."""
        return ("fw/", "bw/") if self.bidirectional else ("",)

    def cell_prefix(self, direction: str, i: int) -> str:
        """Where cell `i`'s variables live inside the layer's scope, e.g. `fw/multi_rnn_cell/cell_1/lstm_cell/`."""
        multi = f"multi_rnn_cell/cell_{i}/" if self.stack > 1 else ""
        return f"{direction}{multi}{CELLS[self.cell.type][0]}/"

    def refs(self) -> tuple[tuple[tuple, str], ...]:
        if not self.initial_state:
            return ()
        if len(self.initial_state) == 1:
            return ((("initial_state",), self.initial_state[0]),)
        return tuple(((("initial_state", i), ref) for i, ref in enumerate(self.initial_state)))

    def infer(self, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
        return infer_rnn(self, inputs, dtype, ctx)

    def emit(self, tf, layer, xs, variables):
        return emit_rnn(tf, self, layer, xs, variables)


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
    """Rnn.infer."""
    x, states = inputs[0], inputs[1:]
    same_dtype([x], dtype, ctx)
    if len(x.shape) != 3 or x.shape[2] is None:
        raise ctx.error(f"rnn reads [batch, time, features] with known features, got {x}", "input")
    steps = _steps(p, x, ctx)
    u = p.cell.units
    _check_states(p, states, dtype, ctx)
    segment = (ctx.var_scope or "").rsplit("/", 1)[-1]
    variables = []
    for direction in p.directions:
        for i in range(p.stack):
            # One set of variables serves every step: each step applies it with its own ops.
            variables += [replace(v, steps=steps, op_scope=_step_scope(p, direction, i, segment))
                          for v in cell_variables(p, p.cell_prefix(direction, i), x.shape[2] if i == 0 else u, dtype)]

    batch, dirs = x.shape[0], len(p.directions)
    # One direction's ops, as static_rnn makes them inside its scope.
    inner = ("Shape", "strided_slice") if batch is None else ()
    if not states:
        inner += ("MultiRNNCellZeroState",) if p.stack > 1 else (CELLS[p.cell.type][1] + "ZeroState",)
    if p.stack > 1:
        # MultiRNNCell re-enters the current variable scope object, which opens a name scope
        # named after the scope's last segment, then multi_rnn_cell/cell_<i>/<cell>/.
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


def _step_scope(p: Rnn, direction: str, i: int, segment: str) -> str:
    """The name scope, inside the layer's, where every step of cell `i` puts its ops (see _static_rnn)."""
    cell = CELLS[p.cell.type][0]
    if direction:  # static_bidirectional_rnn: fw/, then static_rnn re-enters it: fw/fw/
        segment = direction[:-1]
        direction = direction * 2
    return f"{direction}{segment}/multi_rnn_cell/cell_{i}/{cell}" if p.stack > 1 else f"{direction}{cell}"


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


# -- the emitter ------------------------------------------------------------------------

def _lstm(tf, cell, x, state, w):
    # LSTMCell.call without peepholes or projection; gates i, j, f, o.
    c_prev, h_prev = state
    gates = tf.nn.bias_add(tf.matmul(tf.concat([x, h_prev], 1), w["kernel"]), w["bias"])
    i, j, f, o = tf.split(value=gates, num_or_size_splits=4, axis=1)
    c = tf.math.sigmoid(f + cell.forget_bias) * c_prev + tf.math.sigmoid(i) * activation(tf, cell.activation, j)
    h = tf.math.sigmoid(o) * activation(tf, cell.activation, c)
    return h, (c, h)


def _gru(tf, cell, x, state, w):
    (h_prev,) = state
    gates = tf.nn.bias_add(tf.matmul(tf.concat([x, h_prev], 1), w["gates/kernel"]), w["gates/bias"])
    r, u = tf.split(value=tf.math.sigmoid(gates), num_or_size_splits=2, axis=1)
    candidate = tf.nn.bias_add(tf.matmul(tf.concat([x, r * h_prev], 1), w["candidate/kernel"]), w["candidate/bias"])
    c = activation(tf, cell.activation, candidate)
    h = u * h_prev + (1 - u) * c
    return h, (h,)


def _basic(tf, cell, x, state, w):
    h = activation(tf, cell.activation, tf.nn.bias_add(tf.matmul(tf.concat([x, state[0]], 1), w["kernel"]), w["bias"]))
    return h, (h,)


STEPS = {"lstm": _lstm, "gru": _gru, "basic": _basic}


def _static_rnn(tf, p, inputs, initial, variables, direction: str, segment: str, dtype):
    """tf.compat.v1.nn.static_rnn's ops in the current name scope; returns (outputs, final states)."""
    v1 = tf.compat.v1
    scope, cls = CELLS[p.cell.type]
    weights = []
    for i in range(p.stack):
        prefix = p.cell_prefix(direction, i)
        weights.append({k[len(prefix):]: v for k, v in variables.items() if k.startswith(prefix)})
    parts = p.cell.state_parts
    batch = inputs[0].shape[0]
    if batch is None:
        # static_rnn reads the batch size even when it is given an initial state.
        batch = tf.shape(inputs[0])[0]
    if initial:
        states = [tuple(initial[i * parts:(i + 1) * parts]) for i in range(p.stack)]
    else:
        def zeros():
            with v1.name_scope(cls + "ZeroState"):
                size = [batch, p.cell.units] if isinstance(batch, int) else tf.stack([batch, p.cell.units])
                return tuple(tf.zeros(size, dtype) for _ in range(parts))
        if p.stack == 1:
            states = [zeros()]
        else:
            with v1.name_scope("MultiRNNCellZeroState"):
                states = [zeros() for _ in range(p.stack)]
    step = STEPS[p.cell.type]
    entered: list[str] = []  # each cell's name scope: opened at step 0, re-entered exactly after
    outputs = []
    for t, x in enumerate(inputs):
        if t > 0:
            for i in range(p.stack):
                with v1.name_scope(entered[i]):
                    x, states[i] = step(tf, p.cell, x, states[i], weights[i])
        elif p.stack == 1:
            with v1.name_scope(scope) as name:
                entered.append(name)
                x, states[0] = step(tf, p.cell, x, states[0], weights[0])
        else:
            # MultiRNNCell re-enters the variable scope object (a name scope after its last
            # segment), opens multi_rnn_cell/, and each cell under cell_<i>/.
            with v1.name_scope(segment), v1.name_scope("multi_rnn_cell"):
                for i in range(p.stack):
                    with v1.name_scope(f"cell_{i}"), v1.name_scope(scope) as name:
                        entered.append(name)
                        x, states[i] = step(tf, p.cell, x, states[i], weights[i])
        outputs.append(x)
    return outputs, [s for state in states for s in state]


def emit_rnn(tf, p: Rnn, layer, xs, variables):
    x, initial = xs[0], xs[1:]
    dtype = x.dtype
    steps = x.shape[1] if x.shape[1] is not None else p.steps
    inputs = tf.unstack(x, num=steps, axis=1)
    segment = (layer.var_scope or "").rsplit("/", 1)[-1]
    if not p.bidirectional:
        outputs, states = _static_rnn(tf, p, inputs, initial, variables, "", segment, dtype)
        if p.returns == "sequence":
            return tf.stack(outputs, axis=1)
        if p.returns == "final_output":
            return outputs[-1]
        return states[0] if len(states) == 1 else tf.concat(states, axis=1)
    v1 = tf.compat.v1
    # static_bidirectional_rnn: variable_scope("fw") opens fw/, static_rnn re-enters it: fw/fw/.
    with v1.name_scope("fw"), v1.name_scope("fw"):
        out_fw, states_fw = _static_rnn(tf, p, inputs, (), variables, "fw/", "fw", dtype)
    with v1.name_scope("bw"), v1.name_scope("bw"):
        out_bw, states_bw = _static_rnn(tf, p, inputs[::-1], (), variables, "bw/", "bw", dtype)
    out_bw = out_bw[::-1]
    if p.returns == "sequence":
        return tf.stack([tf.concat([f, b], 1) for f, b in zip(out_fw, out_bw)], axis=1)
    if p.returns == "final_output":
        return tf.concat([out_fw[-1], out_bw[-1]], 1)
    return tf.concat(states_fw + states_bw, axis=1)
