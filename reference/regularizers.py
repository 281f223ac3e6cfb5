"""Weight penalties R(w), added to the data loss as J(theta) + lambda R(w).

Two conventions for "L2" coexist: Keras's ``regularizers.L2(s)`` is s * sum w^2,
while tf.nn.l2_loss (and TF1's ``tf.contrib.layers.l2_regularizer(s)``, which
was s * tf.nn.l2_loss) halve it. tests/test_regularizers.py pins the factor 2.
"""
import numpy as np

from reference import _checks as check
from reference._checks import in_float64
from reference.losses import mean_squared_error
from reference.nn import mlp_forward


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


# --- the Keras objects (TF2) and the book's TF1 forms ------------------------------

@in_float64
def l1_keras(w, scale):
    """float32(scale) * sum |w|. Mirrors keras.regularizers.L1(scale)(w), which rounds the factor to float32."""
    check.floating(w, "w")
    check.non_negative(scale=scale)
    return np.float64(np.float32(scale)) * np.sum(np.abs(w))


@in_float64
def l2_keras(w, scale):
    """float32(scale) * sum w^2. Mirrors keras.regularizers.L2(scale)(w), which rounds the factor to float32."""
    check.floating(w, "w")
    check.non_negative(scale=scale)
    return np.float64(np.float32(scale)) * np.sum(w ** 2)


def l1_v1(w, scale):
    """scale * sum |w|, the same number as l1. Mirrors TF1's tf.contrib.layers.l1_regularizer(scale)(w)."""
    return l1(w, scale)


@in_float64
def l2_v1(w, scale):
    """scale * sum w^2 / 2 = scale * l2_loss(w): half of Keras's L2(scale).
    Mirrors TF1's tf.contrib.layers.l2_regularizer(scale)(w)."""
    check.floating(w, "w")
    check.non_negative(scale=scale)
    return scale * np.sum(w ** 2) / 2


def regularized_mse(x, y_true, params, scale, activation="relu"):
    """J(theta) + lambda R(w) = mean((y_true - mlp_forward(x, params))^2) + sum over layers of
    scale * l2_loss(w): the data loss plus every weight matrix's penalty (biases unpenalised).
    Mirrors Dense layers with kernel_regularizer=L2(scale / 2) and MSE + sum(model.losses)."""
    params = [(np.asarray(w, np.float64), np.asarray(b, np.float64)) for w, b in params]
    y_pred = mlp_forward(np.asarray(x, np.float64), params, activation)
    return mean_squared_error(np.asarray(y_true, np.float64), y_pred) + sum(l2_v1(w, scale) for w, _ in params)


def regularized_mse_v1(x, y_true, params, scale, activation="relu"):
    """The same total; mirrors the TF1 "losses" collection summed by tf.add_n."""
    return regularized_mse(x, y_true, params, scale, activation)


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
