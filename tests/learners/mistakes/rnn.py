"""A learner's recurrent networks, chapter 8: two mistakes, one per function."""
import tensorflow as tf

from tfimpl.rnn import _check_cell, _check_rnn


def simple_rnn(x, kernel, recurrent_kernel, bias, h0=None):
    """h_t = x_t K + h_{t-1} R + b over the time axis."""
    x, kernel, recurrent_kernel, bias, (h0,) = _check_rnn(x, kernel, recurrent_kernel, bias, [h0], gates=1)
    if h0 is None:
        h0 = tf.zeros(tf.stack([tf.shape(x)[0], tf.shape(recurrent_kernel)[0]]), x.dtype)

    def step(h, x_t):
        return tf.matmul(x_t, kernel) + tf.matmul(h, recurrent_kernel) + bias  # the mistake: no tanh

    hs = tf.scan(step, tf.transpose(x, [1, 0, 2]), initializer=h0)
    return tf.transpose(hs, [1, 0, 2]), hs[-1]


def lstm_cell(x_t, h, c, kernel, recurrent_kernel, bias):
    """One LSTM step on Keras's weights."""
    x_t, h, c, kernel, recurrent_kernel, bias = _check_cell(x_t, h, c, kernel, recurrent_kernel, bias)
    z = tf.matmul(x_t, kernel) + tf.matmul(h, recurrent_kernel) + bias
    i, g, f, o = tf.split(z, 4, axis=1)  # the mistake: TF1's LSTMCell order; Keras packs i, f, g, o
    c_new = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
    return tf.sigmoid(o) * tf.tanh(c_new), c_new
