"""The classic book snippets that do not run, or run and compute the wrong thing, beside the
form that is right. Each test runs the snippet as printed, shows what it does, then the fix."""
import numpy as np
import pytest
import tensorflow as tf

import reference.losses as RL
import reference.regularizers as RR
import tfimpl.losses as TL
import tfimpl.regularizers as TR


@pytest.mark.claim("snippet", "with tf.Session as sess: ... runs the graph",
                   verdict="wrong", correction="tf.Session is a class: call it, with tf.compat.v1.Session() as sess")
def test_a_session_class_without_parentheses_is_not_a_context_manager():
    with pytest.raises(TypeError, match="does not support the context manager protocol"):
        with tf.compat.v1.Session as sess:  # noqa: F841  (the book's line, minus the v1 module path)
            pass
    graph = tf.Graph()
    with graph.as_default():
        total = tf.add(tf.constant(2.0), tf.constant(3.0))
    with tf.compat.v1.Session(graph=graph) as sess:
        assert sess.run(total) == 5.0


@pytest.mark.claim("snippet", "tf.get_variable('v', initializer=tf.zeros_initializer(shape=[1])) makes v = [0.]",
                   verdict="wrong", correction="the shape goes to get_variable: get_variable('v', shape=[1], "
                                               "initializer=tf.zeros_initializer())")
def test_zeros_initializer_takes_no_shape_get_variable_does():
    with pytest.raises(TypeError, match="unexpected keyword argument 'shape'"):
        tf.compat.v1.zeros_initializer(shape=[1])
    graph = tf.Graph()
    with graph.as_default():
        v = tf.compat.v1.get_variable("v", shape=[1], initializer=tf.compat.v1.zeros_initializer())
        init = tf.compat.v1.global_variables_initializer()
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        np.testing.assert_array_equal(sess.run(v), np.zeros(1, np.float32))


@pytest.mark.claim("snippet", "the cross-entropy of a softmax output is tf.nn.softmax_cross_entropy_with_logits(y_, y)",
                   verdict="wrong", correction="the op takes logits, the pre-softmax scores; fed probabilities it "
                                               "applies softmax a second time and the loss is wrong")
def test_probabilities_fed_to_softmax_cross_entropy_with_logits_give_a_wrong_loss():
    """With logits z and probabilities p = softmax(z): the op on z is the cross-entropy -sum y log p;
    on p it is -sum y log softmax(p), which squashes every loss towards log(classes)."""
    rng = np.random.default_rng(7)
    logits = rng.normal(0, 3, (8, 5))
    labels = np.eye(5)[rng.integers(0, 5, 8)]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    true_loss = -np.sum(labels * np.log(p), axis=1)
    for side in (RL, TL):
        right = np.asarray(side.softmax_cross_entropy_with_logits(labels, logits))
        wrong = np.asarray(side.softmax_cross_entropy_with_logits(labels, p))
        np.testing.assert_allclose(right, true_loss, rtol=1e-12)  # float64, a 5-term log-sum-exp
        assert np.all(np.abs(wrong - true_loss) > 0.01), f"{side.__name__}: {wrong} vs {true_loss}"
        # softmax of probabilities in [0, 1] stays within e-fold of uniform: the loss is near log(5)
        assert np.all(np.abs(wrong - np.log(5)) < 1.0), wrong


@pytest.mark.claim("snippet", "tf.contrib.layers.l2_regularizer(scale)(w) adds scale * ||w||^2 to the loss",
                   verdict="corrected", correction="tf.contrib is gone in TF2 and the TF1 regulariser was "
                                                   "scale * sum(w^2) / 2 (tf.nn.l2_loss); Keras's L2(scale) is "
                                                   "scale * sum(w^2), twice as much")
def test_tf_contrib_is_gone_and_its_l2_regularizer_was_half_of_keras_l2():
    assert not hasattr(tf, "contrib") and not hasattr(tf.compat.v1, "contrib")
    w = np.array([[0.5, -1.0], [2.0, 0.25]])
    scale = 0.1
    contrib_value = scale * np.sum(w ** 2) / 2  # l2_regularizer(scale)(w) = scale * tf.nn.l2_loss(w)
    for side in (RR, TR):
        np.testing.assert_allclose(float(side.l2(w, scale)), 2 * contrib_value, rtol=1e-15)
        np.testing.assert_allclose(scale * float(side.l2_loss(w)), contrib_value, rtol=1e-15)
