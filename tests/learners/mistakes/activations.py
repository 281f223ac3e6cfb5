"""A learner's activations, chapters 4.1 and 4.2.1: three mistakes, one per function."""
import tensorflow as tf

from tfimpl import _checks as check


def relu(x):
    """max(x, 0)."""
    check.real(x, "x")
    return tf.maximum(x, tf.zeros_like(x))  # the mistake: at x = 0 its gradient is dy (ties go to x); tf.nn.relu's is 0


def sigmoid(x):
    """1 / (1 + exp(-x)), through exp(-|x|) so that neither side overflows."""
    check.floating(x, "x")
    x = tf.convert_to_tensor(x)
    e = tf.exp(-tf.abs(x))  # the mistake: tf.abs's gradient at 0 is 0, which loses the slope 1/4 at x = 0
    return tf.where(x >= 0, 1 / (1 + e), e / (1 + e))


def softmax(logits, axis=-1):
    """softmax(z)_i = exp(z_i) / sum_j exp(z_j)."""
    check.floating(logits, "logits")
    check.rank_at_least(logits, 1, "logits")
    check.axis_in_range(axis, logits)
    e = tf.exp(logits)  # the mistake: exp(z - max z) would not overflow
    return e / tf.reduce_sum(e, axis=axis, keepdims=True)
