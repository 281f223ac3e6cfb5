"""What the activation functions are for, stated as tests a reader can learn from."""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

import reference.activations as R
import tfimpl.activations as T
from tests.catalog import _strategies as S


def batches(bound=30.0):
    """Logits of shape (batch, classes) with at least one class."""
    return S.arrays(st.tuples(st.integers(1, 4), st.integers(1, 5)), bound)


@given(batches())
def test_softmax_outputs_are_positive_and_sum_to_one_along_the_axis(x):
    for name, p in (("reference", R.softmax(x)), ("tf", T.softmax(x).numpy())):
        assert np.all(p >= 0), f"{name} softmax({x.tolist()}) has a negative entry: {p.tolist()}"
        np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12, err_msg=f"{name} softmax({x.tolist()})")


@given(batches(), S.floats(1e3))
def test_softmax_is_shift_invariant(x, c):
    """softmax(x + c) == softmax(x): the max shift inside softmax relies on exactly this."""
    for name, f in (("reference", R.softmax), ("tf", lambda z: T.softmax(z).numpy())):
        np.testing.assert_allclose(f(x + c), f(x), rtol=1e-9, atol=1e-12,
                                   err_msg=f"{name} softmax not shift invariant for x={x.tolist()}, c={c}")


@given(batches(bound=10.0))
def test_log_softmax_equals_log_of_softmax_where_softmax_does_not_underflow(x):
    """With |logits| <= 10 every float32 probability is >= exp(-20) / n, far from underflow.
    log of a probability near 1 has an absolute (not relative) error of a few eps."""
    x = x.astype(np.float32)
    atol = 8 * np.finfo(np.float32).eps
    np.testing.assert_allclose(T.log_softmax(x).numpy(), np.log(T.softmax(x).numpy()), rtol=1e-6, atol=atol,
                               err_msg=f"tf, logits={x.tolist()}")
    np.testing.assert_allclose(R.log_softmax(x), np.log(R.softmax(x)), rtol=1e-6, atol=atol,
                               err_msg=f"reference, logits={x.tolist()}")


def test_log_softmax_stays_finite_where_softmax_underflows():
    """softmax([0, -200]) in float32 is [1, 0] (exp(-200) = 1e-87 underflows), so
    log(softmax) gives -inf; log_softmax gives the exact -200."""
    x = np.array([[0.0, -200.0]], np.float32)
    with np.errstate(divide="ignore"):
        assert np.log(T.softmax(x).numpy())[0, 1] == -np.inf
    for name, y in (("reference", R.log_softmax(x)), ("tf", T.log_softmax(x).numpy())):
        np.testing.assert_allclose(y, [[0.0, -200.0]], rtol=1e-6, err_msg=name)


def test_stacked_linear_layers_without_an_activation_collapse_to_one_linear_layer():
    """(x W1 + b1) W2 + b2 == x (W1 W2) + (b1 W2 + b2): depth buys nothing without a
    nonlinearity. With relu between the layers no single linear layer matches."""
    rng = np.random.default_rng(0)
    x, w1, b1, w2, b2 = (rng.standard_normal(s) for s in [(8, 3), (3, 5), (5,), (5, 2), (2,)])
    two_layers = tf.matmul(tf.matmul(x, w1) + b1, w2) + b2
    one_layer = tf.matmul(x, w1 @ w2) + (b1 @ w2 + b2)
    np.testing.assert_allclose(two_layers.numpy(), one_layer.numpy(), rtol=1e-12, atol=1e-12)

    with_relu = tf.matmul(T.relu(tf.matmul(x, w1) + b1), w2) + b2
    design = np.hstack([x, np.ones((8, 1))])  # best affine fit of the relu network's outputs
    fit, *_ = np.linalg.lstsq(design, with_relu.numpy(), rcond=None)
    assert np.abs(design @ fit - with_relu.numpy()).max() > 1e-3, "relu network is affine?"


def test_a_bias_is_a_constant_one_input_column():
    """x W + b == [x, 1] [W; b]: the bias is the weight of an input that is always 1."""
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((6, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3)
    augmented = tf.matmul(tf.concat([x, tf.ones((6, 1), tf.float64)], axis=1), tf.concat([w, b[None, :]], axis=0))
    np.testing.assert_allclose((tf.matmul(x, w) + b).numpy(), augmented.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x,slope", [(-1e-3, 0.0), (1e-3, 1.0), (-5.0, 0.0), (5.0, 1.0)])
def test_relu_gradient_is_zero_left_of_the_kink_and_one_right_of_it(x, slope):
    for name, g in (("reference", R.relu_vjp(np.array(x), dy=np.array(1.0))),
                    ("tf", T.relu_vjp(np.array(x), dy=np.array(1.0)).numpy())):
        assert g == slope, f"{name}: d relu/dx at x={x} is {g}, expected {slope}"


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_relu_gradient_at_the_kink_is_zero_by_tf_convention(dtype):
    """relu is not differentiable at 0; TF picks the sub-gradient 0 (ReluGrad: dy * (x > 0))."""
    x = tf.zeros([3], dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.relu(x)
    assert tape.gradient(y, x).numpy().tolist() == [0, 0, 0]
    assert R.relu_vjp(np.zeros(3), dy=np.ones(3)).tolist() == [0, 0, 0]
