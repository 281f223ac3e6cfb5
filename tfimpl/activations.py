"""Activation functions in TensorFlow: the ops a TF1 book and a TF2 model both call.

TF1 and TF2 spell these the same (tf.nn.relu, tf.nn.softmax, ...); only the
way they are run differs (a Session in TF1, eagerly or in tf.function in TF2),
and the tests run each in all of those ways.
"""
import tensorflow as tf

from tfimpl import _checks as check
from tfimpl._autodiff import vjp


def relu(x):
    """tf.nn.relu: max(x, 0). Integers are accepted on both sides (tf.nn.relu takes them)."""
    check.real(x, "x")
    return tf.nn.relu(x)


def sigmoid(x):
    """tf.math.sigmoid: 1 / (1 + exp(-x))."""
    check.floating(x, "x")
    return tf.math.sigmoid(x)


def tanh(x):
    """tf.math.tanh."""
    check.floating(x, "x")
    return tf.math.tanh(x)


def softmax(logits, axis=-1):
    """tf.nn.softmax: exp(z_i) / sum_j exp(z_j) along ``axis``, max-shifted inside the kernel."""
    _check_logits(logits, axis)
    return tf.nn.softmax(logits, axis=axis)


def log_softmax(logits, axis=-1):
    """tf.nn.log_softmax: z_i - logsumexp(z) along ``axis``."""
    _check_logits(logits, axis)
    return tf.nn.log_softmax(logits, axis=axis)


def _check_logits(logits, axis):
    check.floating(logits, "logits")
    check.rank_at_least(logits, 1, "logits")
    check.axis_in_range(axis, logits)


# Derivatives: GradientTape's pull-back of dy through each function above.
relu_vjp = vjp(relu)
sigmoid_vjp = vjp(sigmoid)
tanh_vjp = vjp(tanh)
softmax_vjp = vjp(softmax)
log_softmax_vjp = vjp(log_softmax)
