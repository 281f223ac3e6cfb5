"""The snippets that do not run as the reader has them, beside the form that does: the notes'
typos (``with tf.Session as sess``, ``l2_regular(lambda)``), and the book's lines that ran in its
own TensorFlow and Python but not today (``tf.zeros_initializer(shape=[1])``, TF 0.12;
``print result``, Python 2). Each test runs the line as printed, shows the error, then the form that
runs. (The snippets that run and compute the wrong thing are in their topic's tests: probabilities
fed to the logits op in test_losses.py, the tf.contrib L2 regulariser in test_regularizers.py;
the book's int32 + float32 addition, which the book itself shows failing, is in test_graph.py.)"""
import sys

import numpy as np
import pytest
import tensorflow as tf

import reference.regularizers as R
import tfimpl.graph as G
import tfimpl.regularizers as T

NOT_A_CONTEXT_MANAGER = ((TypeError, "does not support the context manager protocol") if sys.version_info >= (3, 11)
                         else (AttributeError, "__enter__"))
"""What ``with X:`` raises when X has no __enter__: TypeError from Python 3.11 (bpo-12022,
What's New in 3.11), AttributeError('__enter__') before."""


@pytest.mark.claim("ch3.3", "with tf.Session as sess: ... runs the graph", source="notes", verdict="wrong",
                   correction="a typo of the notes: the book and its code write tf.Session() (1.4.0/Chapter03/1. "
                              "图，张量及会话.ipynb, cell 8). tf.Session is a class, and `with` needs the Session "
                              "object: without the parentheses Python raises TypeError (the class does not support "
                              "the context manager protocol)")
def test_a_session_class_without_parentheses_is_not_a_context_manager():
    error, message = NOT_A_CONTEXT_MANAGER
    with pytest.raises(error, match=message):
        with tf.compat.v1.Session as sess:  # noqa: F841  (the book's line, minus the v1 module path)
            pass
    graph, total = G.add_v1(2.0, 3.0)
    with tf.compat.v1.Session(graph=graph) as sess:
        assert sess.run(total) == 5.0


@pytest.mark.claim("ch3.1", "tf.get_variable('v', initializer=tf.zeros_initializer(shape=[1])) makes v = [0.]",
                   source="book", edition="1st", verdict="changed", since="TF 1.0",
                   code="0.12.1/Chapter03/1. 图，张量及会话.ipynb, cell 1 (get_variable('v', [1], "
                        "initializer=tf.zeros_initializer)); 1.4.0's cell 1 writes tf.zeros_initializer()",
                   correction="in TF 0.12 zeros_initializer(shape, dtype=float32) returned zeros(shape), so the "
                              "call made v = [0.]; since TF 1.0 (its release notes) tf.zeros_initializer() returns "
                              "an initializer and takes no shape (TypeError): the shape goes to get_variable, "
                              "get_variable('v', shape=[1], initializer=tf.zeros_initializer()), as the second "
                              "edition writes it")
def test_zeros_initializer_takes_no_shape_since_tf_1_0_get_variable_does():
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


@pytest.mark.claim("ch3.2", "print result prints the tensor", source="book", verdict="changed", since="TF 2.2",
                   code="1.4.0/Chapter03/1. 图，张量及会话.ipynb, cell 3 (and 0.12.1's); print statements "
                        "throughout the official code",
                   correction="a Python 2 print statement, right where the book's TensorFlow ran (Python 2.7 or 3); "
                              "TF 2.1 was the last release for Python 2 (its release notes), and in Python 3 the "
                              "line is a SyntaxError ('Missing parentheses in call to print'): print(result)")
def test_the_books_print_statement_is_python_2_and_a_syntax_error_in_python_3():
    assert sys.version_info >= (3,), "TensorFlow 2.2 and later run on Python 3 only"
    with pytest.raises(SyntaxError, match=r"Missing parentheses in call to 'print'"):
        compile("print result\n", "<the book's cell 3>", "exec")
    graph, result = G.add_v1([1.0, 2.0], [2.0, 3.0])
    shown = []
    exec(compile("print(result)\n", "<fixed>", "exec"), {"print": shown.append, "result": result})
    assert [str(x) for x in shown] == ['Tensor("add:0", shape=(2,), dtype=float32)']


@pytest.mark.claim("ch4.4.2", "tf.contrib.layers.l2_regular(lambda)(w) is the L2 penalty of w", source="notes",
                   verdict="wrong",
                   correction="two typos of the notes: the function is l2_regularizer, and lambda is a Python "
                              "keyword, so the line is a SyntaxError; the book's code writes "
                              "tf.contrib.layers.l2_regularizer(lambda1)(var) (1.4.0/Chapter04/3. 正则化.ipynb, "
                              "cell 3), which is lambda1 * tf.nn.l2_loss(var) = lambda1 * sum(var ** 2) / 2")
def test_the_notes_l2_regular_lambda_line_is_a_syntax_error_and_the_books_line_is_the_half_sum_of_squares():
    with pytest.raises(SyntaxError):
        compile("tf.contrib.layers.l2_regular(lambda)(w)\n", "<the notes>", "exec")
    compile("tf.contrib.layers.l2_regularizer(lambda1)(var)\n", "<the book>", "exec")  # parses
    assert not hasattr(tf, "contrib")  # and today runs only through tfimpl's op-for-op copy
    var, lambda1 = np.array([[1.0, -2.0], [-3.0, 4.0]], np.float32), 0.5
    assert float(T.l2_v1(var, lambda1)) == float(R.l2_loss(var.astype(np.float64))) * lambda1 == 7.5
