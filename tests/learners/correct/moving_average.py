"""A learner's moving average, chapter 4.4.3 (p91)."""
import tensorflow as tf

from tfimpl import _checks as check


def ema_decay(decay, num_updates=None):
    """min(decay, (1 + n) / (10 + n)), in float32 as ExponentialMovingAverage computes it."""
    check.in_unit_interval(decay=decay)
    d = tf.convert_to_tensor(decay, tf.float32)
    if num_updates is not None:
        n = tf.cast(num_updates, tf.float32)
        d = tf.minimum(d, (1.0 + n) / (10.0 + n))
    return d


def ema_update(shadow, value, decay, num_updates=None):
    """shadow - (1 - d) (shadow - value): one apply."""
    check.floating(shadow, "shadow")
    check.floating(value, "value")
    value, shadow = check.same_shape(value, shadow, "value", "shadow")
    shadow = tf.convert_to_tensor(shadow)
    one_minus = tf.cast(1.0 - ema_decay(decay, num_updates), shadow.dtype)
    return shadow - (shadow - tf.convert_to_tensor(value, shadow.dtype)) * one_minus
