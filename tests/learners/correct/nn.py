"""A learner's dense layer and forward pass, chapter 4.1."""
import tensorflow as tf

from tfimpl import _checks as check
from tfimpl.nn import ACTIVATIONS


def dense(x, w, b, activation=None):
    """activation(x w + b)."""
    check.one_of(activation, ACTIVATIONS, "activation")
    check.floating(x, "x")
    check.floating(w, "w")
    check.floating(b, "b")
    check.rank_is(x, 2, "x")
    check.rank_is(w, 2, "w")
    check.rank_is(b, 1, "b")
    x, w = check.dims_match(x, 1, w, 0, "x", "w")
    b, w = check.dims_match(b, 0, w, 1, "b", "w")
    z = tf.matmul(x, w) + b
    if activation == "relu":
        return tf.nn.relu(z)
    if activation == "sigmoid":
        return tf.sigmoid(z)
    if activation == "tanh":
        return tf.tanh(z)
    return z


def mlp_forward(x, params, activation="relu"):
    """Hidden layers with the activation, the last one linear."""
    check.pairs(params, "params")
    for w, b in params[:-1]:
        x = dense(x, w, b, activation)
    w, b = params[-1]
    return dense(x, w, b)
