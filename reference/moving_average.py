"""Exponential moving averages of parameters (Polyak averaging), as
tf.train.ExponentialMovingAverage keeps them in shadow variables."""
import numpy as np

from reference import _checks as check
from reference._checks import in_float64


def ema_decay(decay, num_updates=None):
    """min(decay, (1 + num_updates) / (10 + num_updates)), or decay without num_updates:
    the cap lets the average move fast early in training (tf.train.ExponentialMovingAverage)."""
    check.in_unit_interval(decay=decay)
    if num_updates is None:
        return np.float64(decay)
    n = np.asarray(num_updates, np.float64)
    return np.minimum(decay, (1 + n) / (10 + n))


@in_float64
def ema_update(shadow, value, decay, num_updates=None):
    """shadow - (1 - d) * (shadow - value) = d * shadow + (1 - d) * value, d = ema_decay(decay, num_updates).
    Mirrors one ExponentialMovingAverage.apply (assign_moving_average without zero_debias).
    Bad input: floating shadow and value of one shape only (ExponentialMovingAverage averages
    float variables; a value (N, 1) for a shadow (N,) is rejected, not broadcast)."""
    check.floating(shadow, "shadow")
    check.floating(value, "value")
    check.same_shape(value, shadow, "value", "shadow")
    d = ema_decay(decay, num_updates)
    return shadow - (1 - d) * (shadow - value)


def ema(values, decay, num_updates=None):
    """The shadow after each of values[1:], starting at values[0]: shadow <- ema_update(shadow,
    values[k], decay, num_updates[k - 1]), kept in the values' dtype between steps as the shadow
    variable is. Mirrors ExponentialMovingAverage.apply / average in a loop (tfimpl.moving_average.ema)."""
    values = np.asarray(values)
    shadow, shadows = values[0], []
    for k in range(1, len(values)):
        shadow = ema_update(shadow, values[k], decay, None if num_updates is None else num_updates[k - 1])
        shadows.append(shadow)
    return np.reshape(shadows, (len(values) - 1,) + values.shape[1:]).astype(values.dtype)


def ema_v1(values, decay, num_updates=None):
    """The same shadows; mirrors the book's TF1 apply / average in a Session."""
    return ema(values, decay, num_updates)
