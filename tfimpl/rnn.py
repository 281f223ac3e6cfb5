"""Recurrent networks in TensorFlow: Keras's SimpleRNN, LSTMCell and LSTM run with given weights.

The TF1 book builds the cell and unrolls it over time in a graph run by a Session (ch8):

    lstm = tf.nn.rnn_cell.BasicLSTMCell(lstm_hidden_size)       # gone with Keras 3
    outputs, state = tf.nn.dynamic_rnn(lstm, x, dtype=tf.float32)

``lstm_v1`` runs that program today: tf.compat.v1.nn.dynamic_rnn over a keras.layers.LSTMCell.

TF2 uses the Keras layers, whose weights have the same layout as reference/rnn.py
(kernel [features, g * units], recurrent_kernel [units, g * units], bias [g * units];
g = 4 gate blocks in the order i, f, c, o for the LSTM):

    layer = keras.layers.LSTM(units, return_sequences=True, return_state=True)
    layer.build(x.shape)
    layer.set_weights([kernel, recurrent_kernel, bias])
    outputs, h_last, c_last = layer(x, initial_state=[h0, c0])

``set_weights`` copies arrays into the layer's variables, so GradientTape would differentiate
with respect to those variables, and a tf.function could not create a new layer on every
trace. The functions below therefore make the layer's cell compute with the given tensors
themselves: the same Keras call, differentiable with respect to every argument, in every mode
(eager, tf.function, XLA, a TF1 Session). ``simple_rnn_scan`` and ``lstm_scan`` write the same
recurrences with tf.scan, op for op as the Keras cells compute them.
"""
import functools

import keras
import numpy as np
import tensorflow as tf

from tfimpl import _checks as check
from tfimpl._autodiff import vjp


def simple_rnn(x, kernel, recurrent_kernel, bias, h0=None):
    """keras.layers.SimpleRNN(units, return_sequences=True, return_state=True) with these weights,
    called on x from initial_state h0 (zeros if None): (outputs [batch, time, units], h_T)."""
    x, kernel, recurrent_kernel, bias, (h0,) = _check_rnn(x, kernel, recurrent_kernel, bias, [h0], gates=1)
    layer = _with_weights(keras.layers.SimpleRNN, x, kernel, recurrent_kernel, bias,
                          return_sequences=True, return_state=True)
    outputs, h_last = _call(layer, x, initial_state=[_state(x, recurrent_kernel, h0)])
    return outputs, h_last


def simple_rnn_vjp(x, kernel, recurrent_kernel, bias, h0, dy):
    """(dx, dK, dR, db, dh0) of sum(dy * simple_rnn(...)), dy = (d_outputs, d_h_T), by GradientTape
    through the Keras layer's loop; dh0 at h0 = 0 when h0 is None."""
    if h0 is None:
        h0 = _state(tf.convert_to_tensor(x), tf.convert_to_tensor(recurrent_kernel), None)
    return _simple_rnn_vjp(x, kernel, recurrent_kernel, bias, h0, dy)


def lstm_cell(x_t, h, c, kernel, recurrent_kernel, bias):
    """keras.layers.LSTMCell(units) with these weights, one step: cell(x_t, [h, c]) returns
    h' and the new states [h', c']; this returns (h', c')."""
    x_t, h, c, kernel, recurrent_kernel, bias = _check_cell(x_t, h, c, kernel, recurrent_kernel, bias)
    if _empty_batch(x_t):
        return _lstm_step((h, c), x_t, kernel, recurrent_kernel, bias)
    cell = _with_weights(keras.layers.LSTMCell, x_t, kernel, recurrent_kernel, bias)
    h_new, (_, c_new) = _call(cell, x_t, [h, c])
    return h_new, c_new


lstm_cell_vjp = vjp(lstm_cell, wrt=(0, 1, 2, 3, 4, 5))


def lstm(x, kernel, recurrent_kernel, bias, h0=None, c0=None):
    """keras.layers.LSTM(units, return_sequences=True, return_state=True) with these weights,
    called on x from initial_state [h0, c0] (zeros if None): (outputs, h_T, c_T). On a GPU,
    Keras may run it as one cuDNN kernel; on the CPU it is the generic loop over LSTMCell."""
    x, kernel, recurrent_kernel, bias, (h0, c0) = _check_rnn(x, kernel, recurrent_kernel, bias, [h0, c0], gates=4)
    if _empty_batch(x):
        return _lstm_scan(x, kernel, recurrent_kernel, bias, h0, c0)
    layer = _with_weights(keras.layers.LSTM, x, kernel, recurrent_kernel, bias,
                          return_sequences=True, return_state=True)
    outputs, h_last, c_last = _call(layer, x, initial_state=[_state(x, recurrent_kernel, h0),
                                                              _state(x, recurrent_kernel, c0)])
    return outputs, h_last, c_last


def lstm_vjp(x, kernel, recurrent_kernel, bias, h0, c0, dy):
    """(dx, dK, dR, db, dh0, dc0) of sum(dy * lstm(...)), dy = (d_outputs, d_h_T, d_c_T), by
    GradientTape through the Keras layer's loop; dh0, dc0 at zero states where None."""
    x, recurrent_kernel = tf.convert_to_tensor(x), tf.convert_to_tensor(recurrent_kernel)
    h0, c0 = _state(x, recurrent_kernel, h0), _state(x, recurrent_kernel, c0)
    return _lstm_vjp(x, kernel, recurrent_kernel, bias, h0, c0, dy)


def lstm_v1(x, kernel, recurrent_kernel, bias, h0=None, c0=None):
    """The book's TF1 program: a placeholder for x, tf.compat.v1.nn.dynamic_rnn unrolling an LSTM
    cell over it in a graph, and a Session running it; returns (outputs, h_T, c_T) as NumPy arrays.

    tf.nn.rnn_cell.BasicLSTMCell is gone with Keras 3 (its tf.compat.v1 name raises AttributeError),
    so the cell is keras.layers.LSTMCell with these weights; dynamic_rnn still unrolls it. It must be
    given initial_state: with dtype= alone, dynamic_rnn asks the cell for a zero state in TF1's way,
    get_initial_state(inputs=None, ...), which a Keras 3 cell refuses (TypeError)."""
    x = np.asarray(x)
    graph = tf.Graph()
    with graph.as_default():
        xs = tf.compat.v1.placeholder(x.dtype, (None,) + x.shape[1:])  # the batch left open, as the book does
        xs, kernel, recurrent_kernel, bias, (h0, c0) = _check_rnn(xs, kernel, recurrent_kernel, bias, [h0, c0],
                                                                  gates=4)
        cell = _with_weights(keras.layers.LSTMCell, xs, kernel, recurrent_kernel, bias)
        initial_state = [_state(xs, recurrent_kernel, h0), _state(xs, recurrent_kernel, c0)]
        outputs, (h_last, c_last) = tf.compat.v1.nn.dynamic_rnn(cell, xs, initial_state=initial_state)
    with tf.compat.v1.Session(graph=graph) as sess:
        return tuple(sess.run([outputs, h_last, c_last], feed_dict={xs: x}))


# --- the from-ops forms: what the layers compute, with tf.scan over the time axis -------------

def simple_rnn_scan(x, kernel, recurrent_kernel, bias, h0=None):
    """tf.scan of the step h_t = tanh((x_t K + b) + h_{t-1} R), in SimpleRNNCell's order of ops,
    over the time axis (tf.scan runs along axis 0, so time goes first and back)."""
    x, kernel, recurrent_kernel, bias, (h0,) = _check_rnn(x, kernel, recurrent_kernel, bias, [h0], gates=1)

    def step(h, x_t):
        return tf.tanh(tf.matmul(x_t, kernel) + bias + tf.matmul(h, recurrent_kernel))
    hs = tf.scan(step, tf.transpose(x, [1, 0, 2]), initializer=_state(x, recurrent_kernel, h0))
    return tf.transpose(hs, [1, 0, 2]), hs[-1]


def lstm_scan(x, kernel, recurrent_kernel, bias, h0=None, c0=None):
    """tf.scan of LSTMCell's step over the time axis: z = (x_t K + h R) + b split into
    [i | f | g | o], c = f c + i tanh(z_g), h = o tanh(c)."""
    x, kernel, recurrent_kernel, bias, (h0, c0) = _check_rnn(x, kernel, recurrent_kernel, bias, [h0, c0], gates=4)
    return _lstm_scan(x, kernel, recurrent_kernel, bias, h0, c0)


def _lstm_step(state, x_t, kernel, recurrent_kernel, bias):
    h, c = state
    zi, zf, zg, zo = tf.split(tf.matmul(x_t, kernel) + tf.matmul(h, recurrent_kernel) + bias, 4, axis=1)
    c = tf.sigmoid(zf) * c + tf.sigmoid(zi) * tf.tanh(zg)
    return tf.sigmoid(zo) * tf.tanh(c), c


def _lstm_scan(x, kernel, recurrent_kernel, bias, h0, c0):
    hs, cs = tf.scan(lambda state, x_t: _lstm_step(state, x_t, kernel, recurrent_kernel, bias),
                     tf.transpose(x, [1, 0, 2]),
                     initializer=(_state(x, recurrent_kernel, h0), _state(x, recurrent_kernel, c0)))
    return tf.transpose(hs, [1, 0, 2]), hs[-1], cs[-1]


# --- helpers -------------------------------------------------------------------------------

def _with_weights(layer_class, x, kernel, recurrent_kernel, bias, **options):
    """A Keras layer (or cell) of ``x``'s dtype whose cell computes with ``kernel``,
    ``recurrent_kernel`` and ``bias`` as its weights: set on the cell, which is marked built so
    Keras creates no variables of its own for them.

    ``units`` is read by Keras only to make a zero state and to infer output shapes; the call gets
    both from the tensors, so where a shape-generic trace does not know it, 1 stands in."""
    units = tf.compat.dimension_value(recurrent_kernel.shape[0]) or 1
    layer = _layer(layer_class, units, x.dtype.name, tuple(sorted(options.items())))
    cell = getattr(layer, "cell", layer)
    cell.kernel, cell.recurrent_kernel, cell.bias = kernel, recurrent_kernel, bias
    return layer


@functools.lru_cache(maxsize=None)
def _layer(layer_class, units, dtype, options):
    """One layer_class(units, dtype=dtype, **options) per set of arguments, its cell marked built: a
    layer holds no weights of its own here (each call sets the given tensors on its cell), so it is
    made once and reused, not made again (a fiftieth of a second) for every call and every trace.

    Every Keras RNN cell also owns a seed variable for dropout (unused here: dropout is 0), and
    tf.function refuses a new variable on every trace, so the layer is made in a graph of its own."""
    with tf.Graph().as_default():
        layer = layer_class(units, dtype=dtype, **dict(options))
    getattr(layer, "cell", layer).built = True
    return layer


@tf.autograph.experimental.do_not_convert
def _call(layer, *args, **kwargs):
    """layer(*args, **kwargs), as plain Python also inside tf.function. Keras's code, like the checks
    below, branches on Python values only (static shapes, options), and AutoGraph would otherwise
    rewrite it on every new trace: most of the tracing time here."""
    return layer(*args, **kwargs)


def _empty_batch(x):
    """True where x's batch is known to be 0 while tracing: Keras 3's ops.add (TF backend) takes
    LSTMCell's h R of shape [0, 4 units] for a bias, its one dimension above 1 matching z's last,
    and BiasAdd refuses it ("Biases must be 1D: [0,8]"); the LSTM then runs as its ops do
    (tests/test_rnn_bptt.py::test_keras_lstm_cell_fails_on_an_empty_batch_whose_shape_is_known)."""
    return tf.compat.dimension_value(x.shape[0]) == 0


def _state(x, recurrent_kernel, s0):
    """The initial state: s0, or zeros [batch, units] of x's dtype."""
    if s0 is not None:
        return s0
    return tf.zeros(tf.stack([tf.shape(x)[0], tf.shape(recurrent_kernel)[0]]), x.dtype)


def _simple_rnn_from(x, kernel, recurrent_kernel, bias, h0):
    return simple_rnn(x, kernel, recurrent_kernel, bias, h0)


def _lstm_from(x, kernel, recurrent_kernel, bias, h0, c0):
    return lstm(x, kernel, recurrent_kernel, bias, h0, c0)


_simple_rnn_vjp = vjp(_simple_rnn_from, wrt=(0, 1, 2, 3, 4))
_lstm_vjp = vjp(_lstm_from, wrt=(0, 1, 2, 3, 4, 5))


def _tensor(a):
    return a if tf.is_tensor(a) else tf.convert_to_tensor(a)


@tf.autograph.experimental.do_not_convert
def _check_rnn(x, kernel, recurrent_kernel, bias, states, gates):
    """The reference's checks in the same order; returns the tensors, tied to runtime asserts
    where a shape is unknown at trace time. ``states`` is [h0] or [h0, c0], None for zeros."""
    named = [(s, n) for s, n in zip(states, ("h0", "c0")) if s is not None]
    for a, name in [(x, "x"), (kernel, "kernel"), (recurrent_kernel, "recurrent_kernel"), (bias, "bias")] + named:
        check.floating(a, name)
    x, kernel, recurrent_kernel, bias = (_tensor(a) for a in (x, kernel, recurrent_kernel, bias))
    states = [None if s is None else _tensor(s) for s in states]
    check.rank_is(x, 3, "x")
    kernel, recurrent_kernel, bias = _check_weights(kernel, recurrent_kernel, bias, gates)
    x = check.time_steps(x, "x")
    x, kernel = check.dims_match(x, 2, kernel, 0, "x", "kernel")
    for k, name in enumerate(("h0", "c0")[:len(states)]):
        if states[k] is not None:
            check.rank_is(states[k], 2, name)
            states[k], x = check.dims_match(states[k], 0, x, 0, name, "x")
            states[k], recurrent_kernel = check.dims_match(states[k], 1, recurrent_kernel, 0, name, "recurrent_kernel")
    return x, kernel, recurrent_kernel, bias, states


@tf.autograph.experimental.do_not_convert
def _check_cell(x_t, h, c, kernel, recurrent_kernel, bias):
    for a, name in [(x_t, "x_t"), (h, "h"), (c, "c"), (kernel, "kernel"), (recurrent_kernel, "recurrent_kernel"),
                    (bias, "bias")]:
        check.floating(a, name)
    x_t, h, c, kernel, recurrent_kernel, bias = (_tensor(a) for a in (x_t, h, c, kernel, recurrent_kernel, bias))
    check.rank_is(x_t, 2, "x_t")
    check.rank_is(h, 2, "h")
    check.rank_is(c, 2, "c")
    kernel, recurrent_kernel, bias = _check_weights(kernel, recurrent_kernel, bias, 4)
    x_t, kernel = check.dims_match(x_t, 1, kernel, 0, "x_t", "kernel")
    h, x_t = check.dims_match(h, 0, x_t, 0, "h", "x_t")
    h, recurrent_kernel = check.dims_match(h, 1, recurrent_kernel, 0, "h", "recurrent_kernel")
    c, h = check.same_shape(c, h, "c", "h")
    return x_t, h, c, kernel, recurrent_kernel, bias


@tf.autograph.experimental.do_not_convert
def _check_weights(kernel, recurrent_kernel, bias, gates):
    check.rank_is(kernel, 2, "kernel")
    check.rank_is(recurrent_kernel, 2, "recurrent_kernel")
    check.rank_is(bias, 1, "bias")
    recurrent_kernel = check.gate_columns(recurrent_kernel, 1, recurrent_kernel, gates, "recurrent_kernel")
    kernel = check.gate_columns(kernel, 1, recurrent_kernel, gates, "kernel")
    bias = check.gate_columns(bias, 0, recurrent_kernel, gates, "bias")
    return kernel, recurrent_kernel, bias
