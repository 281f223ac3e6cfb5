"""Weight penalties in TensorFlow: Keras's regularizer objects (TF2), the book's
tf.contrib.layers regularizers with the "losses" collection (TF1), and the formulas
both compute.

TF1's tf.contrib.layers.l1_regularizer(scale) / l2_regularizer(scale) returned
scale * reduce_sum(abs(w)) and scale * tf.nn.l2_loss(w), with scale converted
to w's dtype. tf.contrib is gone from TF 2: its layers live on in the separate
tf-slim package (tf_slim.layers.regularizers, the same code), and TF's own
upgrade script (tensorflow/tools/compatibility/tf_upgrade_v2.py,
_contrib_layers_l2_regularizer_transformer) rewrites
``tf.contrib.layers.l2_regularizer(scale)`` as ``tf.keras.regularizers.l2(0.5 * (scale))``.
tf.compat.v1.keras.regularizers.l2 is not the TF1 function: in TF 2.21 it is Keras 3's
L2 class itself, twice the TF1 penalty. ``l1_v1`` / ``l2_v1`` below are the contrib
code's op sequence; ``regularized_mse_v1`` is the book's loss collection.

Keras's regularizers.L1 / L2 compute scale * sum|w| and scale * sum w^2, but convert
the factor to a float32 tensor first (keras/src/regularizers/regularizers.py:
ops.cast(self.l1, x.dtype) of a float32 value), so for float64 weights the factor
is float32-rounded: ``l1_keras`` / ``l2_keras`` call them. ``l1`` / ``l2`` write the
same formulas with the factor converted straight to w's dtype
(tf.convert_to_tensor(scale, w.dtype); tf.cast(scale, ...) would make a float32
tensor first and round it just as Keras does), so they are exact in float64.
"""
import numpy as np
import tensorflow as tf

from tfimpl import _checks as check
from tfimpl._autodiff import vjp
from tfimpl.losses import mean_squared_error
from tfimpl.nn import dense


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


# --- the Keras objects (TF2) ----------------------------------------------------------

def l1_keras(w, scale):
    """keras.regularizers.L1(scale)(w): the factor rounded to float32, then cast to w's dtype.
    Keras takes only a Python float or int scale; a NumPy scalar or 0-d array is converted first."""
    check.floating(w, "w")
    check.non_negative(scale=scale)
    import keras
    return keras.regularizers.L1(float(scale))(tf.convert_to_tensor(w))


def l2_keras(w, scale):
    """keras.regularizers.L2(scale)(w) = scale * sum w^2, the factor rounded to float32. Twice
    TF1's l2_regularizer(scale)(w): TF's upgrade script turns that into L2(0.5 * scale)."""
    check.floating(w, "w")
    check.non_negative(scale=scale)
    import keras
    return keras.regularizers.L2(float(scale))(tf.convert_to_tensor(w))


# --- the book's TF1 forms ---------------------------------------------------------------

def l1_v1(w, scale):
    """TF1 tf.contrib.layers.l1_regularizer(scale)(w): ``convert_to_tensor(scale, w.dtype) *
    reduce_sum(abs(w))`` (contrib's op sequence, kept in tf_slim). contrib also refused an
    integer scale and returned None for scale 0; here, as in ``l1``, 0 gives 0."""
    check.floating(w, "w")
    check.non_negative(scale=scale)
    w = tf.convert_to_tensor(w)
    return tf.multiply(tf.convert_to_tensor(scale, w.dtype), tf.reduce_sum(tf.abs(w)))


def l2_v1(w, scale):
    """TF1 tf.contrib.layers.l2_regularizer(scale)(w): ``convert_to_tensor(scale, w.dtype) *
    tf.nn.l2_loss(w)`` = scale * sum w^2 / 2, half of Keras's L2(scale) (contrib's op sequence,
    kept in tf_slim; TF 2's upgrade script rewrites it as keras.regularizers.l2(0.5 * scale))."""
    check.floating(w, "w")
    check.non_negative(scale=scale)
    w = tf.convert_to_tensor(w)
    return tf.multiply(tf.convert_to_tensor(scale, w.dtype), tf.nn.l2_loss(w))


def regularized_mse(x, y_true, params, scale, activation="relu"):
    """J(theta) + lambda R(w), the TF2 way: ``keras.layers.Dense`` layers holding ``params``
    (hidden layers ``activation``, the last linear) with ``kernel_regularizer=L2(scale / 2)``
    (TF1's l2_regularizer(scale) in Keras's units), and the total
    ``mean((y_true - model(x))^2) + tf.add_n(model.losses)``. Keras rounds scale / 2 to float32."""
    check.pairs(params, "params")
    import keras
    x = tf.convert_to_tensor(x)
    layers = [keras.layers.Dense(np.shape(w)[1], activation=activation if i < len(params) - 1 else None,
                                 kernel_regularizer=keras.regularizers.L2(float(scale) / 2), dtype=x.dtype.name)
              for i, (w, _) in enumerate(params)]
    model = keras.Sequential([keras.Input((x.shape[1],), dtype=x.dtype.name)] + layers)
    for layer, (w, b) in zip(layers, params):
        layer.set_weights([np.asarray(w), np.asarray(b)])
    return tf.reduce_mean(tf.square(tf.convert_to_tensor(y_true, x.dtype) - model(x))) + tf.add_n(model.losses)


def regularized_mse_v1(x, y_true, params, scale, activation="relu"):
    """J(theta) + lambda R(w), the book's TF1 way: each layer's weight w adds
    ``l2_regularizer(scale)(w)`` (``l2_v1``) to the "losses" collection, the mean squared error
    ``tf.reduce_mean(tf.square(y_ - y))`` joins it, and ``tf.add_n(tf.get_collection("losses"))``
    is the total, run in a Session with x and y_true fed to placeholders. Returns the total."""
    check.pairs(params, "params")
    x, y_true = np.asarray(x), np.asarray(y_true)
    graph = tf.Graph()
    with graph.as_default():
        xs = tf.compat.v1.placeholder(x.dtype, (None, x.shape[1]))
        ys = tf.compat.v1.placeholder(y_true.dtype, (None, y_true.shape[1]))
        h = xs
        for i, (w0, b0) in enumerate(params):
            w, b = tf.compat.v1.Variable(w0), tf.compat.v1.Variable(b0)
            tf.compat.v1.add_to_collection("losses", l2_v1(w, scale))
            h = dense(h, w, b, activation if i < len(params) - 1 else None)
        tf.compat.v1.add_to_collection("losses", mean_squared_error(ys, h))
        total = tf.add_n(tf.compat.v1.get_collection("losses"))
        init = tf.compat.v1.global_variables_initializer()
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        return sess.run(total, feed_dict={xs: x, ys: y_true})


# Derivatives: GradientTape's pull-back of dy through each function above.
l1_vjp = vjp(l1)
l2_vjp = vjp(l2)
l2_loss_vjp = vjp(l2_loss)
