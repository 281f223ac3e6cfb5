"""Named facts about the weight penalties, checked against real TF1 graphs and Keras."""
import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

import reference.regularizers as R
import tfimpl.regularizers as T


@given(seed=st.integers(0, 2**32 - 1), scale=st.sampled_from([0.0, 0.001, 0.01, 0.5]))
def test_keras_l1_and_l2_objects_agree_with_the_pair(seed, scale):
    """Keras rounds the factor to float32 (ops.cast of a float32 tensor), hence rtol 1e-7."""
    w = np.random.default_rng(seed).standard_normal((3, 4))
    for keras_reg, ref, impl in ((keras.regularizers.L1, R.l1, T.l1), (keras.regularizers.L2, R.l2, T.l2)):
        k = float(keras_reg(scale)(tf.constant(w)))
        assert k == pytest.approx(float(ref(w, scale)), rel=1e-7, abs=1e-300), (keras_reg, w, scale)
        assert float(impl(w, scale)) == pytest.approx(float(ref(w, scale)), rel=1e-14, abs=1e-300)


@given(seed=st.integers(0, 2**32 - 1))
def test_keras_l2_is_exactly_twice_tf1_l2_regularizer(seed):
    """TF1: tf.contrib.layers.l2_regularizer(s)(w) = s * tf.nn.l2_loss(w) = s * sum w^2 / 2;
    Keras: L2(s)(w) = s * sum w^2. Scales are powers of 2 so float32 rounding cannot blur the 2x."""
    w = np.random.default_rng(seed).standard_normal((4, 3)).astype(np.float32)
    s = 2.0 ** -7
    tf1 = float(s * tf.nn.l2_loss(w))
    assert float(keras.regularizers.L2(s)(tf.constant(w))) == 2 * tf1
    assert float(R.l2(w.astype(np.float64), s)) == pytest.approx(2 * float(s * R.l2_loss(w.astype(np.float64))),
                                                                  rel=1e-15)


def test_l1_gradient_at_zero_is_zero_in_tf():
    """tf.abs's gradient is sign(x) (math_grad._AbsGrad) and sign(0) = 0."""
    w = np.array([0.0, -0.0, 2.0, -3.0])
    g = T.l1_vjp(w, dy=np.float64(1.0), scale=0.5).numpy()
    assert g.tolist() == [0.0, 0.0, 0.5, -0.5]
    assert R.l1_vjp(w, dy=np.float64(1.0), scale=0.5).tolist() == g.tolist()


def _network(rng):
    """A 2 -> 5 -> 3 -> 1 network: weights, biases, one seeded batch."""
    sizes = [2, 5, 3, 1]
    ws = [rng.standard_normal((a, b)) for a, b in zip(sizes, sizes[1:])]
    bs = [rng.standard_normal(b) * 0.1 for b in sizes[1:]]
    x, y = rng.standard_normal((16, 2)), rng.standard_normal((16, 1))
    return ws, bs, x, y


def _numpy_total(ws, bs, x, y, lam):
    h = x
    for i, (w, b) in enumerate(zip(ws, bs)):
        h = h @ w + b
        if i < len(ws) - 1:
            h = np.maximum(h, 0)
    return np.mean((y - h) ** 2) + sum(lam * R.l2_loss(w) for w in ws)


def test_tf1_loss_collection_total_equals_numpy_and_keras_model_losses():
    """J(theta) + lambda R(w), the book's way: each layer adds
    l2_regularizer(lambda)(w) = lambda * tf.nn.l2_loss(w) to the 'losses' collection, the
    MSE joins it, tf.add_n sums it in a Session. TF2: Dense layers with
    kernel_regularizer=L2(lambda / 2) (Keras has no 1/2), total = MSE + sum(model.losses)."""
    rng = np.random.default_rng(7)
    ws, bs, x, y = _network(rng)
    lam = 2.0 ** -6
    expected = _numpy_total(ws, bs, x, y, lam)

    g = tf.Graph()
    with g.as_default():
        xs = tf.compat.v1.placeholder(tf.float64, (None, 2))
        ys = tf.compat.v1.placeholder(tf.float64, (None, 1))
        h = xs
        for i, (w0, b0) in enumerate(zip(ws, bs)):
            w, b = tf.compat.v1.Variable(w0), tf.compat.v1.Variable(b0)
            tf.compat.v1.add_to_collection("losses", lam * tf.nn.l2_loss(w))
            h = tf.matmul(h, w) + b
            if i < len(ws) - 1:
                h = tf.nn.relu(h)
        tf.compat.v1.add_to_collection("losses", tf.reduce_mean(tf.square(ys - h)))
        total = tf.add_n(tf.compat.v1.get_collection("losses"))
        init = tf.compat.v1.global_variables_initializer()
    with tf.compat.v1.Session(graph=g) as sess:
        sess.run(init)
        tf1_total = sess.run(total, {xs: x, ys: y})
    assert tf1_total == pytest.approx(expected, rel=1e-12)

    layers = [keras.layers.Dense(w.shape[1], activation="relu" if i < len(ws) - 1 else None,
                                 kernel_regularizer=keras.regularizers.L2(lam / 2), dtype="float64")
              for i, w in enumerate(ws)]
    model = keras.Sequential([keras.Input((2,), dtype="float64")] + layers)
    for layer, w, b in zip(layers, ws, bs):
        layer.set_weights([w, b])
    pred = model(x)
    tf2_total = float(tf.reduce_mean(tf.square(y - pred)) + tf.add_n(model.losses))
    # lam / 2 = 2**-7 is exact in float32, so Keras's float32 factor costs nothing here
    assert tf2_total == pytest.approx(expected, rel=1e-12)
