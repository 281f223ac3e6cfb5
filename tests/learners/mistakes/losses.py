"""A learner's losses, chapter 4.2.1: two mistakes, one per function."""
import numpy as np
import tensorflow as tf

from tfimpl import _checks as check


def softmax_cross_entropy_with_logits(labels, logits, axis=-1):
    """The cross-entropy of the network's softmax output."""
    check.floating(labels, "labels")
    check.floating(logits, "logits")
    check.rank_at_least(logits, 1, "logits")
    labels, logits = check.same_shape(labels, logits, "labels", "logits")
    check.axis_in_range(axis, logits)
    rank = tf.convert_to_tensor(logits).shape.rank
    if rank is not None and -rank <= axis < -1:
        axis += rank
    y = tf.nn.softmax(logits, axis=axis)  # the mistake: the op wants the logits, and applies softmax itself
    return tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=y, axis=axis)


def mean_squared_error(y_true, y_pred):
    """The mean of the squared differences: their sum over their count."""
    check.floating(y_true, "y_true")
    check.floating(y_pred, "y_pred")
    y_true, y_pred = check.same_shape(y_true, y_pred, "y_true", "y_pred")
    d = tf.convert_to_tensor(y_true) - tf.convert_to_tensor(y_pred)
    n = np.size(d)  # the mistake: NumPy needs a value, and a traced tensor has none
    return tf.reduce_sum(tf.square(d)) / n
