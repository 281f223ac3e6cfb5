"""Recurrent networks from scratch: a simple RNN and an LSTM, forward and backprop through time.

``x`` is [batch, time, features]. The weights follow Keras's layout: g blocks of ``units``
columns side by side, g = 1 for the simple RNN and 4 for the LSTM, so ``kernel`` is
[features, g * units], ``recurrent_kernel`` [units, g * units] and ``bias`` [g * units]:

    simple RNN   h_t = tanh(x_t K + h_{t-1} R + b)
    LSTM         z = x_t K + h_{t-1} R + b = [z_i | z_f | z_g | z_o]   (Keras's gate order)
                 i = sigmoid(z_i), f = sigmoid(z_f), g = tanh(z_g), o = sigmoid(z_o)
                 c_t = f c_{t-1} + i g,   h_t = o tanh(c_t)

The state starts at h0 (and c0), zeros when not given. Each ``*_vjp`` is backprop through
time written out: run forward keeping every state, then walk the steps backwards; each step
turns the gradient reaching its outputs into gradients of the weights (summed over the
steps) and of the state it started from, which it hands to the step before.
tfimpl/rnn.py runs Keras's SimpleRNN, LSTMCell and LSTM with these weights instead.
"""
import numpy as np

from reference import _checks as check
from reference.activations import sigmoid
from reference._checks import in_float64


@in_float64
def simple_rnn(x, kernel, recurrent_kernel, bias, h0=None):
    """h_t = tanh(x_t K + h_{t-1} R + b) for t = 1..T from h_0 = h0 (zeros if None); returns
    (outputs, h_T), outputs [batch, time, units] holding h_1..h_T. Mirrors
    keras.layers.SimpleRNN(units, return_sequences=True, return_state=True)."""
    _check_rnn(x, kernel, recurrent_kernel, bias, h0, gates=1)
    h = _state(x, recurrent_kernel, h0)
    outputs = []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ kernel + h @ recurrent_kernel + bias)
        outputs.append(h)
    return np.stack(outputs, axis=1), h


@in_float64
def simple_rnn_vjp(x, kernel, recurrent_kernel, bias, h0, dy):
    """Backprop through time: dy = (d_outputs, d_h_T) gives (dx, dK, dR, db, dh0).

    Walking back from g = d_h_T: at step t, g += d_outputs[:, t]; da = (1 - h_t^2) g
    (tanh' from the output); dx_t = da K^T, dK += x_t^T da, dR += h_{t-1}^T da, db += sum da;
    then g = da R^T is the gradient of h_{t-1}. What is left at t = 0 is dh0 (the gradient
    at h0 = 0 when h0 is None)."""
    _check_rnn(x, kernel, recurrent_kernel, bias, h0, gates=1)
    d_outputs, g = (np.asarray(d, np.float64) for d in dy)
    hs = [_state(x, recurrent_kernel, h0)]
    for t in range(x.shape[1]):
        hs.append(np.tanh(x[:, t] @ kernel + hs[-1] @ recurrent_kernel + bias))
    dx, dk, dr, db = np.zeros_like(x), np.zeros_like(kernel), np.zeros_like(recurrent_kernel), np.zeros_like(bias)
    for t in reversed(range(x.shape[1])):
        g = g + d_outputs[:, t]
        da = (1 - hs[t + 1] ** 2) * g
        dx[:, t] = da @ kernel.T
        dk += x[:, t].T @ da
        dr += hs[t].T @ da
        db += da.sum(axis=0)
        g = da @ recurrent_kernel.T
    return dx, dk, dr, db, g


@in_float64
def lstm_cell(x_t, h, c, kernel, recurrent_kernel, bias):
    """One LSTM step: z = x_t K + h R + b split into Keras's gates [i | f | g | o];
    c' = sigmoid(z_f) c + sigmoid(z_i) tanh(z_g), h' = sigmoid(z_o) tanh(c'); returns (h', c').
    Mirrors keras.layers.LSTMCell(units) called on x_t with states [h, c]."""
    _check_cell(x_t, h, c, kernel, recurrent_kernel, bias)
    (i, f, g, o), c_new = _gates_and_carry(x_t, h, c, kernel, recurrent_kernel, bias)
    return o * np.tanh(c_new), c_new


@in_float64
def lstm_cell_vjp(x_t, h, c, kernel, recurrent_kernel, bias, dy):
    """One step backwards: dy = (dh', dc') gives (dx_t, dh, dc, dK, dR, db).

    With t = tanh(c'): do = dh' t; the carry's gradient dc' + dh' o (1 - t^2) flows to
    di = . g, dg = . i, df = . c and dc = . f; each gate's pre-activation gradient is its
    own derivative times that (s (1 - s) for the sigmoids, 1 - g^2 for the candidate);
    with dz = [dz_i | dz_f | dz_g | dz_o]: dx_t = dz K^T, dh = dz R^T, dK = x_t^T dz,
    dR = h^T dz, db = sum dz over the batch."""
    _check_cell(x_t, h, c, kernel, recurrent_kernel, bias)
    dh_new, dc_new = (np.asarray(d, np.float64) for d in dy)
    return _cell_backward(x_t, h, c, kernel, recurrent_kernel, bias, dh_new, dc_new)


@in_float64
def lstm(x, kernel, recurrent_kernel, bias, h0=None, c0=None):
    """lstm_cell over t = 1..T from (h0, c0) (zeros if None); returns (outputs, h_T, c_T),
    outputs [batch, time, units] holding h_1..h_T. Mirrors
    keras.layers.LSTM(units, return_sequences=True, return_state=True)."""
    _check_rnn(x, kernel, recurrent_kernel, bias, h0, gates=4, c0=c0)
    h, c = _state(x, recurrent_kernel, h0), _state(x, recurrent_kernel, c0)
    outputs = []
    for t in range(x.shape[1]):
        h, c = lstm_cell(x[:, t], h, c, kernel, recurrent_kernel, bias)
        outputs.append(h)
    return np.stack(outputs, axis=1), h, c


@in_float64
def lstm_vjp(x, kernel, recurrent_kernel, bias, h0, c0, dy):
    """Backprop through time: dy = (d_outputs, d_h_T, d_c_T) gives (dx, dK, dR, db, dh0, dc0).

    Forward keeping every (h_t, c_t); then from (dh, dc) = (d_h_T, d_c_T) step back:
    dh += d_outputs[:, t], lstm_cell_vjp of step t gives dx_t, the step's weight gradients
    (summed over the steps) and the (dh, dc) of the state before it."""
    _check_rnn(x, kernel, recurrent_kernel, bias, h0, gates=4, c0=c0)
    d_outputs, dh, dc = (np.asarray(d, np.float64) for d in dy)
    states = [(_state(x, recurrent_kernel, h0), _state(x, recurrent_kernel, c0))]
    for t in range(x.shape[1]):
        states.append(lstm_cell(x[:, t], *states[-1], kernel, recurrent_kernel, bias))
    dx, dk, dr, db = np.zeros_like(x), np.zeros_like(kernel), np.zeros_like(recurrent_kernel), np.zeros_like(bias)
    for t in reversed(range(x.shape[1])):
        dx[:, t], dh, dc, dk_t, dr_t, db_t = _cell_backward(x[:, t], *states[t], kernel, recurrent_kernel, bias,
                                                             dh + d_outputs[:, t], dc)
        dk, dr, db = dk + dk_t, dr + dr_t, db + db_t
    return dx, dk, dr, db, dh, dc


def lstm_v1(x, kernel, recurrent_kernel, bias, h0=None, c0=None):
    """The same LSTM; mirrors the book's TF1 program, tf.compat.v1.nn.dynamic_rnn run in a Session."""
    return lstm(x, kernel, recurrent_kernel, bias, h0, c0)


# The from-ops forms: tfimpl writes each recurrence with tf.scan to show what the Keras layer
# computes; in NumPy the loop above already is that form.

def simple_rnn_scan(x, kernel, recurrent_kernel, bias, h0=None):
    """The same recurrence; mirrors tfimpl's tf.scan over the time axis."""
    return simple_rnn(x, kernel, recurrent_kernel, bias, h0)


def lstm_scan(x, kernel, recurrent_kernel, bias, h0=None, c0=None):
    """The same recurrence; mirrors tfimpl's tf.scan over the time axis."""
    return lstm(x, kernel, recurrent_kernel, bias, h0, c0)


def _gates_and_carry(x_t, h, c, kernel, recurrent_kernel, bias):
    zi, zf, zg, zo = np.split(x_t @ kernel + h @ recurrent_kernel + bias, 4, axis=-1)
    i, f, g, o = sigmoid(zi), sigmoid(zf), np.tanh(zg), sigmoid(zo)
    return (i, f, g, o), f * c + i * g


def _cell_backward(x_t, h, c, kernel, recurrent_kernel, bias, dh_new, dc_new):
    (i, f, g, o), c_new = _gates_and_carry(x_t, h, c, kernel, recurrent_kernel, bias)
    tc = np.tanh(c_new)
    dc_total = dc_new + dh_new * o * (1 - tc ** 2)
    dz = np.concatenate([dc_total * g * i * (1 - i), dc_total * c * f * (1 - f),
                         dc_total * i * (1 - g ** 2), dh_new * tc * o * (1 - o)], axis=-1)
    return dz @ kernel.T, dz @ recurrent_kernel.T, dc_total * f, x_t.T @ dz, h.T @ dz, dz.sum(axis=0)


def _state(x, recurrent_kernel, s0):
    """The initial state: s0, or zeros [batch, units]."""
    return np.zeros((x.shape[0], recurrent_kernel.shape[0])) if s0 is None else s0


def _check_rnn(x, kernel, recurrent_kernel, bias, h0, gates, c0=None):
    """The same checks in the same order as tfimpl.rnn, so both name the same first fault."""
    states = [(s, n) for s, n in ((h0, "h0"), (c0, "c0")) if s is not None]
    for a, name in [(x, "x"), (kernel, "kernel"), (recurrent_kernel, "recurrent_kernel"), (bias, "bias")] + states:
        check.floating(a, name)
    check.rank_is(x, 3, "x")
    _check_weights(kernel, recurrent_kernel, bias, gates)
    check.time_steps(x, "x")
    check.dims_match(x, 2, kernel, 0, "x", "kernel")
    for s, name in states:
        check.rank_is(s, 2, name)
        check.dims_match(s, 0, x, 0, name, "x")
        check.dims_match(s, 1, recurrent_kernel, 0, name, "recurrent_kernel")


def _check_cell(x_t, h, c, kernel, recurrent_kernel, bias):
    for a, name in [(x_t, "x_t"), (h, "h"), (c, "c"), (kernel, "kernel"), (recurrent_kernel, "recurrent_kernel"),
                    (bias, "bias")]:
        check.floating(a, name)
    check.rank_is(x_t, 2, "x_t")
    check.rank_is(h, 2, "h")
    check.rank_is(c, 2, "c")
    _check_weights(kernel, recurrent_kernel, bias, 4)
    check.dims_match(x_t, 1, kernel, 0, "x_t", "kernel")
    check.dims_match(h, 0, x_t, 0, "h", "x_t")
    check.dims_match(h, 1, recurrent_kernel, 0, "h", "recurrent_kernel")
    check.same_shape(c, h, "c", "h")


def _check_weights(kernel, recurrent_kernel, bias, gates):
    """kernel [features, g * units], recurrent_kernel [units, g * units], bias [g * units]."""
    check.rank_is(kernel, 2, "kernel")
    check.rank_is(recurrent_kernel, 2, "recurrent_kernel")
    check.rank_is(bias, 1, "bias")
    check.gate_columns(recurrent_kernel, 1, recurrent_kernel, gates, "recurrent_kernel")
    check.gate_columns(kernel, 1, recurrent_kernel, gates, "kernel")
    check.gate_columns(bias, 0, recurrent_kernel, gates, "bias")
