"""A learner's weight penalties, chapter 4.4.2."""
import tensorflow as tf

from tfimpl import _checks as check


def l1(w, scale):
    """scale * sum |w|."""
    check.floating(w, "w")
    check.non_negative(scale=scale)
    w = tf.convert_to_tensor(w)
    return tf.convert_to_tensor(scale, w.dtype) * tf.reduce_sum(tf.abs(w))


def l2(w, scale):
    """scale * sum w^2 (Keras's L2: no 1/2)."""
    check.floating(w, "w")
    check.non_negative(scale=scale)
    w = tf.convert_to_tensor(w)
    return tf.convert_to_tensor(scale, w.dtype) * tf.reduce_sum(tf.square(w))


def l2_loss(w):
    """sum w^2 / 2."""
    check.floating(w, "w")
    w = tf.convert_to_tensor(w)
    return tf.reduce_sum(tf.square(w)) / 2
