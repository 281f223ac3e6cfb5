"""The classic book snippets that do not run, beside the form that does. Each test runs the
snippet as printed, shows the error, then the fix. (The snippets that run and compute the wrong
thing are in their topic's tests: probabilities fed to the logits op in test_losses.py, the
tf.contrib L2 regulariser in test_regularizers.py.)"""
import numpy as np
import pytest
import tensorflow as tf



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
