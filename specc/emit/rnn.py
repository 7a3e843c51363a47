"""Emitter for statically unrolled RNNs: the ops of TensorFlow 1's LSTMCell, GRUCell and
BasicRNNCell, in their order, in the name scopes static_rnn gives them (see
specc.layers.rnn for the layout). One difference from TF 1 is deliberate: static_rnn sets a
caching device, so TF 1 reads each variable once (`kernel/Read/Identity`); here each step
reads it where it is used (`lstm_cell/MatMul_1/ReadVariableOp`). Values are the same.
"""

from __future__ import annotations

from ..layers.rnn import CELLS
from .layers import activation


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


def rnn(tf, layer, xs, variables):
    p = layer.params
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


EMITTERS = {"rnn": rnn}
