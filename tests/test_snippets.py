"""The classic book snippets that do not run, beside the form that does. Each test runs the
snippet as printed, shows the error, then the fix. (The snippets that run and compute the wrong
thing are in their topic's tests: probabilities fed to the logits op in test_losses.py, the
tf.contrib L2 regulariser in test_regularizers.py; the book's int32 + float32 addition, which the
book itself shows failing, is in test_graph.py.)"""
import sys

import numpy as np
import pytest
import tensorflow as tf

import tfimpl.graph as G

NOT_A_CONTEXT_MANAGER = ((TypeError, "does not support the context manager protocol") if sys.version_info >= (3, 11)
                         else (AttributeError, "__enter__"))
"""What ``with X:`` raises when X has no __enter__: TypeError from Python 3.11 (bpo-12022,
What's New in 3.11), AttributeError('__enter__') before."""


@pytest.mark.claim("snippet", "with tf.Session as sess: ... runs the graph",
                   verdict="wrong", correction="tf.Session is a class: call it, with tf.compat.v1.Session() as sess")
def test_a_session_class_without_parentheses_is_not_a_context_manager():
    error, message = NOT_A_CONTEXT_MANAGER
    with pytest.raises(error, match=message):
        with tf.compat.v1.Session as sess:  # noqa: F841  (the book's line, minus the v1 module path)
            pass
    graph, total = G.add_v1(2.0, 3.0)
    with tf.compat.v1.Session(graph=graph) as sess:
        assert sess.run(total) == 5.0


@pytest.mark.claim("snippet", "tf.get_variable('v', initializer=tf.zeros_initializer(shape=[1])) makes v = [0.]",
                   verdict="wrong", correction="the shape goes to get_variable: get_variable('v', shape=[1], "
                                               "initializer=tf.zeros_initializer())")
def test_zeros_initializer_takes_no_shape_get_variable_does():
    with pytest.raises(TypeError, match="unexpected keyword argument 'shape'"):
        tf.compat.v1.zeros_initializer(shape=[1])
    with pytest.raises(TypeError, match="unexpected keyword argument 'shape'"):
        tf.compat.v1.ones_initializer(shape=[1])  # the book's g2 line
    graph = tf.Graph()
    with graph.as_default():
        v = tf.compat.v1.get_variable("v", shape=[1], initializer=tf.compat.v1.zeros_initializer())
        init = tf.compat.v1.global_variables_initializer()
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        np.testing.assert_array_equal(sess.run(v), np.zeros(1, np.float32))
    # the book's whole two-graph program, with the fix (tests/test_graph.py states what it shows)
    zeros, ones = G.variables_in_two_graphs_v1()
    np.testing.assert_array_equal(zeros, np.zeros(1, np.float32))
    np.testing.assert_array_equal(ones, np.ones(1, np.float32))
