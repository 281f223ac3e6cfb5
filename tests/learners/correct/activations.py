"""A learner's activations, chapter 4.1 and 4.2.1: the formulas with TensorFlow ops (the stubs of
`python -m tools.exercise new DIR --chapter 4`, filled in)."""
import tensorflow as tf

from tfimpl import _checks as check
from tfimpl.activations import _check_logits


def relu(x):
    """max(x, 0), as the book writes it: tf.nn.relu (its gradient at 0 is 0; tf.maximum(x, 0) would pass dy there)."""
    check.real(x, "x")
    return tf.nn.relu(x)


def sigmoid(x):
    """1 / (1 + exp(-x)), through e = exp(-|x|) <= 1 so that neither branch overflows; -|x| written
    with tf.where, whose gradient at 0 is -1 (tf.abs's is 0, which would lose the slope 1/4 there)."""
    check.floating(x, "x")
    x = tf.convert_to_tensor(x)
    e = tf.exp(tf.where(x >= 0, -x, x))
    return tf.where(x >= 0, 1 / (1 + e), e / (1 + e))


def tanh(x):
    """(exp(x) - exp(-x)) / (exp(x) + exp(-x)): TensorFlow's op."""
    check.floating(x, "x")
    return tf.math.tanh(x)


def softmax(logits, axis=-1):
    """exp(z - max z) / sum exp(z - max z): the max shift keeps exp from overflowing."""
    _check_logits(logits, axis)
    z = logits - tf.stop_gradient(tf.reduce_max(logits, axis=axis, keepdims=True))
    e = tf.exp(z)
    return e / tf.reduce_sum(e, axis=axis, keepdims=True)


def log_softmax(logits, axis=-1):
    """z - max z - log sum exp(z - max z)."""
    _check_logits(logits, axis)
    z = logits - tf.stop_gradient(tf.reduce_max(logits, axis=axis, keepdims=True))
    return z - tf.math.log(tf.reduce_sum(tf.exp(z), axis=axis, keepdims=True))
