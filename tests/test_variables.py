"""Variable management (the book's p107): tf.compat.v1.get_variable and variable_scope name,
create and share variables in a TF1 graph; in TF2 a variable is a Python object and sharing it is
holding the same object."""
import numpy as np
import pytest
import tensorflow as tf


def in_graph(build):
    graph = tf.Graph()
    with graph.as_default():
        return build()


@pytest.mark.claim("p107", "get_variable inside variable_scope('foo') creates a variable named foo/v:0; asking for "
                           "it again without reuse is an error, with reuse=True returns the same variable")
def test_get_variable_names_by_scope_and_shares_only_with_reuse():
    def build():
        with tf.compat.v1.variable_scope("foo"):
            v = tf.compat.v1.get_variable("v", [1], initializer=tf.compat.v1.zeros_initializer())
        with pytest.raises(ValueError, match=r"Variable foo/v already exists, disallowed\. Did you mean to set "
                                             r"reuse=True or reuse=tf\.AUTO_REUSE in VarScope\?"):
            with tf.compat.v1.variable_scope("foo"):
                tf.compat.v1.get_variable("v", [1])
        with tf.compat.v1.variable_scope("foo", reuse=True):
            again = tf.compat.v1.get_variable("v", [1])
        with pytest.raises(ValueError, match=r"Variable foo/w does not exist, or was not created with "
                                             r"tf\.get_variable\(\)"):
            with tf.compat.v1.variable_scope("foo", reuse=True):
                tf.compat.v1.get_variable("w", [1])
        return v, again
    v, again = in_graph(build)
    assert v.name == "foo/v:0" and again is v


@pytest.mark.claim("p107", "nested variable scopes compose names and inherit reuse; name_scope names ops but "
                           "not get_variable's variables")
def test_nested_scopes_compose_names_and_name_scope_leaves_get_variable_alone():
    def build():
        with tf.compat.v1.variable_scope("foo"):
            with tf.compat.v1.variable_scope("bar"):
                v = tf.compat.v1.get_variable("v", [1])
        with tf.compat.v1.variable_scope("foo", reuse=True):
            with tf.compat.v1.variable_scope("bar"):  # inherits reuse=True
                inner = tf.compat.v1.get_variable("v", [1])
        with tf.compat.v1.variable_scope("", reuse=True):
            by_full_name = tf.compat.v1.get_variable("foo/bar/v", [1])
        with tf.compat.v1.name_scope("ns"):
            w = tf.compat.v1.get_variable("w", [1])
            op = tf.add(w, 1.0, name="add")
        return v, inner, by_full_name, w, op
    v, inner, by_full_name, w, op = in_graph(build)
    assert v.name == "foo/bar/v:0" and inner is v and by_full_name is v
    assert w.name == "w:0" and op.name == "ns/add:0"


@pytest.mark.claim("p107", "in TF2 variables are Python objects: sharing one is holding the same object",
                   verdict="corrected", correction="TF2 has no variable scopes or reuse flag; tf.Module / Keras "
                                                   "layers track the variables they hold")
def test_tf2_shares_a_variable_by_holding_the_same_object():
    class Dense(tf.Module):
        def __init__(self, w):
            super().__init__()
            self.w = w

        def __call__(self, x):
            return tf.matmul(x, self.w)

    shared = tf.Variable(np.ones((2, 1)))
    first, second = Dense(shared), Dense(shared)
    shared.assign(2 * np.ones((2, 1)))
    x = tf.constant([[1.0, 2.0]], tf.float64)
    assert first(x).numpy()[0, 0] == second(x).numpy()[0, 0] == 6.0
    assert first.trainable_variables[0] is second.trainable_variables[0] is shared
