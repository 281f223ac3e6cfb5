"""A learner's moving average, p91: shadow = decay * shadow + (1 - decay) * variable."""
import tensorflow as tf

from tfimpl import _checks as check


def ema_update(shadow, value, decay, num_updates=None):
    """One update of the shadow."""
    check.floating(shadow, "shadow")
    check.floating(value, "value")
    value, shadow = check.same_shape(value, shadow, "value", "shadow")
    check.in_unit_interval(decay=decay)
    shadow = tf.convert_to_tensor(shadow)
    d = tf.convert_to_tensor(decay, tf.float32)  # the mistake: num_updates is ignored, no min(decay, (1+n)/(10+n))
    one_minus = tf.cast(1.0 - d, shadow.dtype)
    return shadow - (shadow - tf.convert_to_tensor(value, shadow.dtype)) * one_minus
