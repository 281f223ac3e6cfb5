"""Variable management (the book's p107) and collections (p89): TF1's names, scopes and
collections beside TF2's Python objects.

    TF1 (tf.compat.v1, in a graph)                          TF2
    def inference(input_tensor, reuse=False):               class Layer(tf.Module):
        with tf.variable_scope("layer1", reuse=reuse):          def __init__(self, w, b):
            weights = tf.get_variable("weights", shape,             self.weights = tf.Variable(w)
                                      initializer=...)              self.biases = tf.Variable(b)
            ...
    y = inference(x)                                        net = Network(...)
    new_y = inference(new_x, True)   # the same weights     y, new_y = net(x), net(new_x)
    tf.add_to_collection("losses", regularizer(weights))   Dense(..., kernel_regularizer=L2(s / 2))
    loss = tf.add_n(tf.get_collection("losses"))            loss = tf.add_n(model.losses)
    tf.trainable_variables()                                net.trainable_variables

TF1 finds a variable by its name in the graph: ``get_variable("weights")`` inside
``variable_scope("layer1")`` is layer1/weights:0; asking again is an error unless the scope says
``reuse=True`` (then the same variable comes back, and a name never created is an error) or
``reuse=tf.AUTO_REUSE``. ``reuse`` passes down to nested scopes; ``reuse=False`` inside cannot
switch it off. ``variable_scope`` also opens a name scope for ops (opened again, its ops go to
foo_1/ while its variables stay in foo/); ``name_scope`` names ops and ``tf.Variable``, never
``get_variable``. The graph's collections are named lists: every variable joins
GLOBAL_VARIABLES, the trainable ones TRAINABLE_VARIABLES, and ``add_to_collection`` appends to
any list you name.

TF2 has no such registry: a variable belongs to the object that holds it, sharing is holding
the same object, ``Module.trainable_variables`` finds what a module holds (sorted by attribute
name, not in creation order) and ``Model.losses`` collects the layers' penalties. Eagerly, the
old ``get_variable`` ignores ``reuse`` and makes a new variable on every call: the scopes share
only inside a graph. tests/test_variables.py states each of these facts.
"""
import numpy as np
import tensorflow as tf

from tfimpl import _checks as check
from tfimpl import nn
from tfimpl.regularizers import l2_v1


# --- TF2: variables are held by Python objects -------------------------------------------

class _Layer(tf.Module):
    """TF2's layer1/weights: a Module named "layer<i>" holding its own two variables. No scope,
    no reuse flag: calling the layer again uses the same variables."""

    def __init__(self, w, b, activation, name):
        super().__init__(name=name)
        with self.name_scope:  # names the variables layer<i>/weights:0 and layer<i>/biases:0
            self.weights = tf.Variable(w, name="weights")
            self.biases = tf.Variable(b, name="biases")
        self.activation = activation

    def __call__(self, x):
        return nn.ACTIVATIONS[self.activation](tf.matmul(x, self.weights) + self.biases)


class _Network(tf.Module):
    """The layers in order: hidden ones with ``activation``, the last linear."""

    def __init__(self, params, activation="relu"):
        super().__init__(name="network")
        self.layers = [_Layer(w, b, activation if i < len(params) else None, name=f"layer{i}")
                       for i, (w, b) in enumerate(params, start=1)]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def inference(batches, params, activation="relu"):
    """TF2: one ``tf.Module`` network built from ``params`` and called on every batch; the same
    object, so the same variables. Returns the list of outputs."""
    check.pairs(params, "params")
    net = _Network(params, activation)
    return [net(tf.convert_to_tensor(x)) for x in batches]


# --- TF1: the book's inference(input_tensor, reuse) -------------------------------------------

def inference_graph_v1(input_tensor, params, activation="relu", reuse=False, regularizer=None):
    """The book's inference(input_tensor, reuse) (p107), with mnist_inference's regularizer: layer i's
    ``get_variable("weights")`` and ``get_variable("biases")`` inside
    ``variable_scope("layer<i>", reuse=reuse)``, then ``activation(tf.matmul(h, weights) + biases)``
    (the last layer linear). Builds into the default graph; returns the output tensor.

    The book draws the initial weights (truncated_normal_initializer); here they are ``params``,
    so the numbers can be checked. With a ``regularizer``, each call adds
    ``regularizer(weights)`` to the "losses" collection, as the book's get_weight_variable does:
    pass it to the creating call only (the book's evaluation calls inference(x, None)), or a
    second call counts every penalty twice."""
    check.pairs(params, "params")
    h = input_tensor
    for i, (w, b) in enumerate(params, start=1):
        with tf.compat.v1.variable_scope(f"layer{i}", reuse=reuse):
            weights = tf.compat.v1.get_variable("weights", np.shape(w), input_tensor.dtype,
                                                initializer=tf.compat.v1.constant_initializer(w))
            if regularizer is not None:
                tf.compat.v1.add_to_collection("losses", regularizer(weights))
            biases = tf.compat.v1.get_variable("biases", np.shape(b), input_tensor.dtype,
                                               initializer=tf.compat.v1.constant_initializer(b))
            h = nn.ACTIVATIONS[activation if i < len(params) else None](tf.matmul(h, weights) + biases)
    return h


def inference_v1(batches, params, activation="relu"):
    """The book's way to run one network on several inputs: ``y = inference(x)`` creates the
    variables, ``inference(new_x, True)`` reuses them, for each later batch; one Session
    initialises the variables and runs every output. Returns the list of outputs."""
    check.pairs(params, "params")
    batches = [np.asarray(x) for x in batches]
    graph = tf.Graph()
    with graph.as_default():
        inputs = [tf.compat.v1.placeholder(x.dtype, (None, x.shape[1]), name=f"x-input-{k}")
                  for k, x in enumerate(batches)]
        outputs = [inference_graph_v1(x, params, activation, reuse=k > 0) for k, x in enumerate(inputs)]
        init = tf.compat.v1.global_variables_initializer()
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        return sess.run(outputs, feed_dict=dict(zip(inputs, batches)))


# --- the penalties: a collection (TF1), what the objects hold (TF2) ---------------------------

def weight_penalty(params, scale):
    """TF2: no collection; the network holds its layers, and the penalty is a sum over what it
    holds: ``tf.add_n([scale * tf.nn.l2_loss(layer.weights) for layer in net.layers])``."""
    check.pairs(params, "params")
    check.non_negative(scale=scale)
    net = _Network(params)
    return tf.add_n([tf.convert_to_tensor(scale, layer.weights.dtype) * tf.nn.l2_loss(layer.weights)
                     for layer in net.layers])


def weight_penalty_v1(params, scale):
    """The book's collection: ``inference_graph_v1`` with ``regularizer = l2_regularizer(scale)``
    (``tfimpl.regularizers.l2_v1``) adds each layer's penalty to "losses" where it creates the
    weights; ``tf.add_n(tf.get_collection("losses"))``, run in a Session, is the total."""
    check.pairs(params, "params")
    check.non_negative(scale=scale)
    dtype = np.asarray(params[0][0]).dtype
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(dtype, (None, np.shape(params[0][0])[0]), name="x-input")
        inference_graph_v1(x, params, regularizer=lambda weights: l2_v1(weights, scale))
        total = tf.add_n(tf.compat.v1.get_collection("losses"))
        init = tf.compat.v1.global_variables_initializer()
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        return sess.run(total)


def weight_penalty_keras(params, scale):
    """TF2 with Keras: Dense layers holding ``params`` with ``kernel_regularizer=L2(scale / 2)``
    (TF1's l2_regularizer(scale) in Keras's units) and ``tf.add_n(model.losses)``: each layer
    reports its own penalty. Keras rounds scale / 2 to float32."""
    check.pairs(params, "params")
    check.non_negative(scale=scale)
    import keras
    dtype = np.asarray(params[0][0]).dtype.name
    layers = [keras.layers.Dense(np.shape(w)[1], kernel_regularizer=keras.regularizers.L2(float(scale) / 2),
                                 dtype=dtype) for w, _ in params]
    model = keras.Sequential([keras.Input((np.shape(params[0][0])[0],), dtype=dtype)] + layers)
    for layer, (w, b) in zip(layers, params):
        layer.set_weights([np.asarray(w), np.asarray(b)])
    return tf.add_n(model.losses)
