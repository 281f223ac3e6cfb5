"""Weight penalties in TensorFlow.

TF1's tf.contrib.layers.l1_regularizer(scale) / l2_regularizer(scale) returned
scale * reduce_sum(abs(w)) and scale * tf.nn.l2_loss(w), with scale converted
to w's dtype; contrib is gone in TF2. Keras's regularizers.L1 / L2 compute
scale * sum|w| and scale * sum w^2, but convert the factor to a float32 tensor
first (keras/src/regularizers/regularizers.py: ops.cast(self.l1, x.dtype) of a
float32 value), so for float64 weights the factor is float32-rounded. These
functions write the same formulas with the factor converted straight to w's
dtype (tf.convert_to_tensor(scale, w.dtype); tf.cast(scale, ...) would make a
float32 tensor first and round it just as Keras does);
tests/test_regularizers.py checks the Keras objects against them.
"""
import tensorflow as tf

from tfimpl import _checks as check
from tfimpl._autodiff import vjp


def l1(w, scale):
    """scale * reduce_sum(abs(w)): keras.regularizers.L1(scale)(w), TF1's l1_regularizer(scale)(w).
    Floating w only: the factor converted to an integer dtype would silently become 0.
    A negative scale is rejected, as Keras's L1/L2 do."""
    check.floating(w, "w")
    check.non_negative(scale=scale)
    w = tf.convert_to_tensor(w)
    return tf.convert_to_tensor(scale, w.dtype) * tf.reduce_sum(tf.abs(w))


def l2(w, scale):
    """scale * reduce_sum(square(w)): keras.regularizers.L2(scale)(w), twice TF1's l2_regularizer(scale)(w).
    Bad input as l1."""
    check.floating(w, "w")
    check.non_negative(scale=scale)
    w = tf.convert_to_tensor(w)
    return tf.convert_to_tensor(scale, w.dtype) * tf.reduce_sum(tf.square(w))


def l2_loss(w):
    """tf.nn.l2_loss(w) = sum w^2 / 2."""
    check.floating(w, "w")
    return tf.nn.l2_loss(w)


# Derivatives: GradientTape's pull-back of dy through each function above.
l1_vjp = vjp(l1)
l2_vjp = vjp(l2)
l2_loss_vjp = vjp(l2_loss)
