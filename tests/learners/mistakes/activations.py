"""A learner's softmax, chapter 4.2.1: the formula as written on the page, without the max shift."""
import tensorflow as tf

from tfimpl import _checks as check


def softmax(logits, axis=-1):
    """softmax(z)_i = exp(z_i) / sum_j exp(z_j)."""
    check.floating(logits, "logits")
    check.rank_at_least(logits, 1, "logits")
    check.axis_in_range(axis, logits)
    e = tf.exp(logits)  # the mistake: exp(z - max z) would not overflow
    return e / tf.reduce_sum(e, axis=axis, keepdims=True)
