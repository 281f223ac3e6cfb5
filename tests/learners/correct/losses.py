"""A learner's losses, chapter 4.2."""
import tensorflow as tf

from tfimpl import _checks as check


def clipped_cross_entropy(y_true, y_pred, eps=1e-10):
    """The book's line: -mean(y_ * log(clip(y, 1e-10, 1)))."""
    check.floating(y_true, "y_true")
    check.floating(y_pred, "y_pred")
    y_true, y_pred = check.same_shape(y_true, y_pred, "y_true", "y_pred")
    return -tf.reduce_mean(y_true * tf.math.log(tf.clip_by_value(y_pred, eps, 1.0)))


def softmax_cross_entropy_with_logits(labels, logits, axis=-1):
    """-sum(labels * log_softmax(logits)): TensorFlow's fused op, fed the logits."""
    check.floating(labels, "labels")
    check.floating(logits, "logits")
    check.rank_at_least(logits, 1, "logits")
    labels, logits = check.same_shape(labels, logits, "labels", "logits")
    check.axis_in_range(axis, logits)
    rank = tf.convert_to_tensor(logits).shape.rank
    if rank is not None and axis < -1:
        axis += rank
    return tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits, axis=axis)


def sparse_softmax_cross_entropy_with_logits(labels, logits):
    """The same with class ids; ids outside [0, classes) are rejected."""
    check.integer(labels, "labels")
    check.floating(logits, "logits")
    check.rank_at_least(logits, 1, "logits")
    labels, logits = check.batch_shape(labels, logits, "labels", "logits")
    labels = tf.cast(labels, tf.int64)
    classes = tf.cast(tf.shape(logits)[-1], tf.int64)
    with tf.control_dependencies([
            tf.debugging.assert_non_negative(labels, message="labels must be class ids >= 0"),
            tf.debugging.assert_less(labels, classes, message="labels must be class ids < classes")]):
        labels = tf.identity(labels)
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def mean_squared_error(y_true, y_pred):
    """The book's line: mean((y_ - y)^2)."""
    check.floating(y_true, "y_true")
    check.floating(y_pred, "y_pred")
    y_true, y_pred = check.same_shape(y_true, y_pred, "y_true", "y_pred")
    return tf.reduce_mean(tf.square(tf.convert_to_tensor(y_true) - tf.convert_to_tensor(y_pred)))


def asymmetric_loss(v1, v2, a, b):
    """The book's custom loss: sum(where(v1 > v2, (v1 - v2) a, (v2 - v1) b))."""
    check.floating(v1, "v1")
    check.floating(v2, "v2")
    v1, v2 = check.same_shape(v1, v2, "v1", "v2")
    v1, v2 = tf.convert_to_tensor(v1), tf.convert_to_tensor(v2)
    return tf.reduce_sum(tf.where(v1 > v2, (v1 - v2) * a, (v2 - v1) * b))
