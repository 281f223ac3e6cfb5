"""Activation functions: the nonlinearity between layers.

Without one, stacked layers collapse into a single linear map (see
tests/test_activations.py). Each function mirrors the TensorFlow op named in
its docstring; each ``*_vjp`` is its derivative as backprop applies it:
given the upstream gradient ``dy``, return ``dy`` pulled back through the
function.
"""
import numpy as np

from reference import _checks as check
from reference._checks import in_float64


@in_float64
def relu(x):
    """relu(x) = max(x, 0). Mirrors tf.nn.relu (which also takes integers)."""
    check.real(x, "x")
    return np.maximum(x, 0)


@in_float64
def sigmoid(x):
    """sigmoid(x) = 1 / (1 + exp(-x)). Mirrors tf.math.sigmoid.

    Written with e = exp(-|x|) <= 1 so that neither branch overflows:
    1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0."""
    check.floating(x, "x")
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


@in_float64
def tanh(x):
    """tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x)). Mirrors tf.math.tanh."""
    check.floating(x, "x")
    return np.tanh(x)


@in_float64
def softmax(logits, axis=-1):
    """softmax(z)_i = exp(z_i) / sum_j exp(z_j) along ``axis``. Mirrors tf.nn.softmax.

    Subtracting the maximum first (exp(z - m) / sum exp(z - m)) changes nothing
    mathematically and keeps exp from overflowing."""
    _check_logits(logits, axis)
    z = logits - np.max(logits, axis=axis, keepdims=True, initial=-np.inf)
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


@in_float64
def log_softmax(logits, axis=-1):
    """log_softmax(z)_i = z_i - log sum_j exp(z_j). Mirrors tf.nn.log_softmax.

    The log-sum-exp is taken after the same max shift: m + log sum exp(z - m),
    so the result stays finite where softmax itself underflows to 0."""
    _check_logits(logits, axis)
    z = logits - np.max(logits, axis=axis, keepdims=True, initial=-np.inf)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def _check_logits(logits, axis):
    check.floating(logits, "logits")
    check.rank_at_least(logits, 1, "logits")
    check.axis_in_range(axis, logits.ndim)


# Derivatives: what backprop computes for each function above.

@in_float64
def relu_vjp(x, dy):
    """d relu / dx = 1 where x > 0, else 0; TF's convention at the kink x = 0 is 0."""
    return dy * (x > 0)


@in_float64
def sigmoid_vjp(x, dy):
    """d sigmoid / dx = s (1 - s) = e / (1 + e)^2 with e = exp(-|x|).

    The second form is the same number without the cancellation in 1 - s
    (for x = 30, s rounds to 1 - 1e-13 and 1 - s keeps only 3 digits)."""
    e = np.exp(-np.abs(x))
    return dy * e / (1 + e) ** 2


@in_float64
def tanh_vjp(x, dy):
    """d tanh / dx = 1 - tanh(x)^2 = 4 e / (1 + e)^2 with e = exp(-2|x|).

    The second form avoids the cancellation in 1 - tanh^2 where |tanh| is near 1."""
    e = np.exp(-2 * np.abs(x))
    return dy * 4 * e / (1 + e) ** 2


@in_float64
def softmax_vjp(logits, dy, axis=-1):
    """d s_i / d z_j = s_i (delta_ij - s_j), so the pull-back is s * (dy - sum(dy * s))."""
    s = softmax(logits, axis=axis)
    return s * (dy - np.sum(dy * s, axis=axis, keepdims=True))


@in_float64
def log_softmax_vjp(logits, dy, axis=-1):
    """d log_softmax_i / d z_j = delta_ij - s_j, so the pull-back is dy - s * sum(dy)."""
    return dy - softmax(logits, axis=axis) * np.sum(dy, axis=axis, keepdims=True)
