"""Exponential moving averages in TensorFlow: tf.train.ExponentialMovingAverage.

ExponentialMovingAverage.apply (tensorflow/python/training/moving_averages.py) does::

    decay = convert_to_tensor(self._decay, dtype=float32)            # always float32
    if num_updates is not None:
        decay = minimum(decay, (1.0 + n) / (10.0 + n))              # n = cast(num_updates, float32)
    assign_moving_average(avg, var, decay, zero_debias)
        one_minus = convert_to_tensor(1.0 - decay)                   # float32
        one_minus = cast(one_minus, avg.dtype)
        avg.assign_sub((avg - var) * one_minus)

It never increments num_updates itself (pass a global_step variable you step),
and zero_debias only applies to shadows of plain tensors in TF1 graphs (shadows of
Variables start at the variable's value, not at 0).

``ema_update`` below is that arithmetic, op for op, as a pure function of the
shadow: a variable-creating EMA object cannot run per call inside a tf.function
or a placeholder-fed Session. tests/test_moving_average.py proves it is bitwise
what a real ExponentialMovingAverage.apply produces, step by step, eagerly and
in a TF1 Session with ``apply``/``average``.
"""
import tensorflow as tf

from tfimpl import _checks as check


def ema_decay(decay, num_updates=None):
    """The decay ExponentialMovingAverage.apply uses: float32, min(decay, (1 + n) / (10 + n))."""
    check.in_unit_interval(decay=decay)
    d = tf.convert_to_tensor(decay, dtype=tf.float32)
    if num_updates is not None:
        n = tf.cast(num_updates, tf.float32)
        d = tf.minimum(d, (1.0 + n) / (10.0 + n))
    return d


def ema_update(shadow, value, decay, num_updates=None):
    """The shadow after one ExponentialMovingAverage.apply: shadow - (shadow - value) * (1 - d),
    1 - d computed in float32 and cast to the shadow's dtype.

    Bad input, as the reference: floating shadow and value of one shape only
    (ExponentialMovingAverage averages float variables; the arithmetic alone would
    broadcast a value (N, 1) against a shadow (N,) into an (N, N) "shadow")."""
    check.floating(shadow, "shadow")
    check.floating(value, "value")
    value, shadow = check.same_shape(value, shadow, "value", "shadow")
    shadow = tf.convert_to_tensor(shadow)
    one_minus = tf.cast(1.0 - ema_decay(decay, num_updates), shadow.dtype)
    return shadow - (shadow - tf.convert_to_tensor(value, shadow.dtype)) * one_minus
