"""The harness must catch real mistakes. Each test plants one bug in a TF function
and runs it through the same checks the generic tests use: the check must fail.

A bug the harness cannot see would let every catalog entry pass while wrong."""
import numpy as np
import pytest
import tensorflow as tf

from tests import harness as H
from tests.catalog import MODES, Sample, all_concepts
from tfimpl._autodiff import vjp

SOFTMAX = next(c for c in all_concepts() if c.name == "softmax")
X = Sample((np.random.default_rng(0).uniform(-3, 3, (4, 5)),), {"axis": -1}, id="planted")


def planted(fn):
    """The softmax entry with its TF function (and so its GradientTape gradient) replaced."""
    return SOFTMAX.replace(tf=fn, tf_vjp=vjp(fn))


def edge(concept, id_):
    return next(s for s in concept.edges if s.id == id_)


def test_a_correct_function_passes_every_check_it_is_planted_into():
    """Control: the checks below fail because of the planted bugs, not the set-up."""
    for mode in MODES:
        H.check_values(SOFTMAX, X, "float32", mode)
        H.check_gradient(SOFTMAX, X, np.ones((4, 5)), "float32", mode)
        H.check_values(SOFTMAX, edge(SOFTMAX, "inf-nan"), "float32", mode)
        H.check_values(SOFTMAX, edge(SOFTMAX, "empty-batch"), "float32", mode)


def test_an_error_of_1e_minus_4_relative_in_float32_fails():
    bug = planted(lambda logits, axis=-1: tf.nn.softmax(logits, axis=axis) * (1 + 1e-4))
    for mode in MODES:
        with pytest.raises(AssertionError, match="disagree"):
            H.check_values(bug, X, "float32", mode)


def test_a_right_value_with_a_wrong_gradient_fails():
    @tf.custom_gradient
    def softmax_with_bad_grad(logits):
        y = tf.nn.softmax(logits)
        return y, lambda dy: 1.01 * y * (dy - tf.reduce_sum(dy * y, axis=-1, keepdims=True))

    bug = planted(lambda logits, axis=-1: softmax_with_bad_grad(logits))
    dy = np.random.default_rng(1).uniform(-1, 1, (4, 5))
    for mode in MODES:
        H.check_values(bug, X, "float32", mode)  # the value is right...
        with pytest.raises(AssertionError, match="gradient"):  # ...the gradient is not
            H.check_gradient(bug, X, dy, "float32", mode)
    with pytest.raises(AssertionError, match="finite differences"):
        H.check_finite_differences(bug, "tf", X, dy, [[np.random.default_rng(2).uniform(-1, 1, (4, 5))]])


def test_a_bug_only_inside_tf_function_fails_in_every_compiled_mode():
    def softmax(logits, axis=-1):
        y = tf.nn.softmax(logits, axis=axis)
        return y if tf.executing_eagerly() else y * 1.001

    bug = planted(softmax)
    H.check_values(bug, X, "float32", "eager")
    for mode in ("function", "xla", "graph"):
        with pytest.raises(AssertionError, match="disagree"):
            H.check_values(bug, X, "float32", mode)


def test_nan_turned_into_zero_fails():
    def softmax(logits, axis=-1):
        y = tf.nn.softmax(logits, axis=axis)
        return tf.where(tf.math.is_nan(y), tf.zeros_like(y), y)

    bug = planted(softmax)
    for mode in MODES:
        with pytest.raises(AssertionError, match="NaN/inf mismatch"):
            H.check_values(bug, edge(SOFTMAX, "inf-nan"), "float32", mode)


@pytest.mark.parametrize("kind", ["wrong-shape", "raises"])
def test_a_mishandled_empty_batch_fails(kind):
    def softmax(logits, axis=-1):
        y = tf.nn.softmax(logits, axis=axis)
        if kind == "wrong-shape":  # an empty batch comes back as one row of zeros
            return tf.cond(tf.size(y) > 0, lambda: y, lambda: tf.zeros([1, tf.shape(y)[1]], y.dtype))
        with tf.control_dependencies([tf.debugging.assert_positive(tf.size(y))]):
            return tf.identity(y)

    bug = planted(softmax)
    # XLA compiles Assert ops away, so there the "raises" bug is absent and softmax is right.
    for mode in MODES if kind == "wrong-shape" else ("eager", "function", "graph"):
        with pytest.raises((AssertionError, tf.errors.InvalidArgumentError)):
            H.check_values(bug, edge(SOFTMAX, "empty-batch"), "float32", mode)
