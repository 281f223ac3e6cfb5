"""Weight penalties R(w), added to the data loss as J(theta) + lambda R(w).

Two conventions for "L2" coexist: Keras's ``regularizers.L2(s)`` is s * sum w^2,
while tf.nn.l2_loss (and TF1's ``tf.contrib.layers.l2_regularizer(s)``, which
was s * tf.nn.l2_loss) halve it. tests/test_regularizers.py pins the factor 2.
"""
import numpy as np

from reference import _checks as check
from reference._checks import in_float64


@in_float64
def l1(w, scale):
    """scale * sum |w|. Mirrors keras.regularizers.L1(scale) (TF1: tf.contrib.layers.l1_regularizer)."""
    check.floating(w, "w")
    check.non_negative(scale=scale)
    return scale * np.sum(np.abs(w))


@in_float64
def l2(w, scale):
    """scale * sum w^2. Mirrors keras.regularizers.L2(scale): no factor 1/2."""
    check.floating(w, "w")
    check.non_negative(scale=scale)
    return scale * np.sum(w ** 2)


@in_float64
def l2_loss(w):
    """sum w^2 / 2. Mirrors tf.nn.l2_loss; TF1's l2_regularizer(scale)(w) was scale * l2_loss(w)."""
    check.floating(w, "w")
    return np.sum(w ** 2) / 2


# Derivatives: what backprop computes for each function above.

@in_float64
def l1_vjp(w, dy, scale):
    """scale * sign(w); TF's convention at the kink w = 0 is sign(0) = 0 (tf.abs's gradient is sign)."""
    return dy * scale * np.sign(w)


@in_float64
def l2_vjp(w, dy, scale):
    """2 * scale * w."""
    return dy * 2 * scale * w


@in_float64
def l2_loss_vjp(w, dy):
    """w."""
    return dy * w
