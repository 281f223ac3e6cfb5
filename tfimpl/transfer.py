"""Transfer learning in TensorFlow: restore a pretrained network, freeze it, train a new head.

The same idea three ways, each restoring every layer but the old logits from the file the
pretraining run saved and training only a new logits layer on the frozen base (the book's first
edition caches the frozen base's outputs, the bottleneck, and trains the new layer on the cache:
reference/transfer.py computes it that way, and the tests show the two agree step by step).

TF1, as the book writes it (ch6.5): the structure in code, the weights from a Saver checkpoint::

    with tf.variable_scope("layer1"): ...                     # the base, as pretrained
    with tf.variable_scope("logits"): ...                     # the new head, new shape
    restore = [v for v in tf.global_variables() if not v.op.name.startswith("logits")]
    head = tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES, "logits")
    train_step = tf.train.GradientDescentOptimizer(lr).minimize(loss, var_list=head)
    saver = tf.train.Saver(var_list=restore)
    sess.run(tf.global_variables_initializer()); saver.restore(sess, ckpt)   # init first

TF2, the Keras way: the pretrained model from its .keras file, the top dropped, the rest frozen::

    pretrained = keras.models.load_model("pretrained.keras")
    base = keras.Model(pretrained.inputs, pretrained.layers[-2].output)
    base.trainable = False
    model = keras.Sequential([keras.Input((n_in,)), base, keras.layers.Dense(n_classes)])
    model.compile(keras.optimizers.SGD(lr), keras.losses.CategoricalCrossentropy(from_logits=True))
    model.fit(...)                                            # trains model.trainable_weights: the head

``var_list`` and ``trainable = False`` do one job: they choose what the optimizer updates. Left
out, minimize(loss) updates every variable in TRAINABLE_VARIABLES, the base included
(tests/test_transfer.py shows the book's fine-tuning code does exactly that). In float64, two
Keras defaults round to float32 (floatx): a Sequential with no Input casts its input to it, and
a loss computes in it unless given ``dtype``; ``train_head`` avoids both.

What became of tf.contrib.slim. The book's second edition fine-tunes Inception-v3 with
``import tensorflow.contrib.slim as slim``: slim.get_model_variables() minus the
CHECKPOINT_EXCLUDE_SCOPES, slim.assign_from_checkpoint_fn, and minimize. TensorFlow 2.0 removed
tf.contrib (its parts moved into core TensorFlow, into ecosystem projects such as TensorFlow
Addons, or were dropped); slim moved out into its own package, TF-Slim (``pip install tf-slim``,
``import tf_slim as slim``; github.com/google-research/tf-slim; 1.1.0 is its latest release).
It builds TF1 graphs from TensorFlow's private modules (tensorflow.python.ops, and for its layers
the legacy tf.keras kept in tensorflow/python/keras, not Keras 3), so each TensorFlow release may
break it; with TensorFlow 2.21 and Keras 3 it imports and runs, and ``train_head_slim`` shows its
form. The TF2 way is Keras: keras.applications for pretrained networks, ``trainable = False``.
"""
import numpy as np
import tensorflow as tf
import tf_slim as slim

from reference._checks import message
from tfimpl import _checks as check
from tfimpl import nn

# Keras's names for the activations (Dense(activation=...)); None is "linear" there
_KERAS_ACTIVATIONS = {None: "linear", "relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh"}


# --- what the pretraining run leaves behind -----------------------------------------------

def save_pretrained(path, params, activation="relu"):
    """The pretrained network as a Keras model saved whole: Dense layers named layer1, ...,
    logits holding ``params`` (hidden layers with ``activation``, logits linear), in the dtype of
    the weights, written by ``model.save(path + ".keras")`` (architecture and weights in one file).
    Returns the file written."""
    import keras
    check.pairs(params, "params")
    check.one_of(activation, nn.ACTIVATIONS, "activation")
    dtype = np.asarray(params[0][0]).dtype.name
    scopes = _scopes(len(params))
    layers = [keras.Input((np.shape(params[0][0])[0],), dtype=dtype)]
    for scope, (w, _) in zip(scopes, params):
        layers.append(keras.layers.Dense(np.shape(w)[1], activation=None if scope == "logits" else activation,
                                         dtype=dtype, name=scope))
    model = keras.Sequential(layers, name="pretrained")
    model.set_weights([np.asarray(a) for pair in params for a in pair])
    path = str(path) if str(path).endswith(".keras") else f"{path}.keras"
    model.save(path)
    return path


def save_pretrained_v1(path, params, activation="relu"):
    """The TF1 pretraining run's last act: the network's variables in scopes layer1, ...,
    logits (``weights``, ``biases``, as slim.fully_connected names them), initialised to
    ``params`` in a Session and saved by ``tf.compat.v1.train.Saver().save(sess, path)``.
    Returns the checkpoint prefix (path.index and path.data-00000-of-00001 on disk)."""
    check.pairs(params, "params")
    check.one_of(activation, nn.ACTIVATIONS, "activation")
    graph = tf.Graph()
    with graph.as_default():
        for scope, (w, b) in zip(_scopes(len(params)), params):
            with tf.compat.v1.variable_scope(scope):
                tf.compat.v1.get_variable("weights", initializer=np.asarray(w))
                tf.compat.v1.get_variable("biases", initializer=np.asarray(b))
        saver = tf.compat.v1.train.Saver()
        init = tf.compat.v1.global_variables_initializer()
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        return saver.save(sess, str(path))


# --- the frozen base --------------------------------------------------------------------------

def features(x, base_params, activation="relu"):
    """dense(... dense(x, w1, b1, activation) ..., wL, bL, activation): the base's forward pass,
    every layer with the activation (tf.matmul(x, w) + b, what keras.layers.Dense computes)."""
    check.pairs(base_params, "base_params")
    for w, b in base_params:
        x = nn.dense(x, w, b, activation)
    return x


def bottleneck(x, checkpoint, activation="relu"):
    """The bottleneck features of the restored base, the Keras way: keras.models.load_model,
    every layer but the last (the old logits), frozen, called with training=False."""
    base = _frozen_base(checkpoint, activation)
    return base(tf.convert_to_tensor(x), training=False)


def bottleneck_v1(x, checkpoint, activation="relu"):
    """The same features the TF1 way: the base's structure in code (shapes read from the
    checkpoint), a Saver over its variables restores them (``logits`` excluded), then
    ``sess.run(features, feed_dict={x: ...})``."""
    x = np.asarray(x)
    graph = tf.Graph()
    with graph.as_default():
        xs = tf.compat.v1.placeholder(x.dtype, [None, x.shape[1]])
        net, base = _base_v1(xs, checkpoint, activation)
        saver = tf.compat.v1.train.Saver(var_list=base)
    with tf.compat.v1.Session(graph=graph) as sess:
        saver.restore(sess, checkpoint)  # every variable the graph reads is restored: no initializer needed
        return sess.run(net, feed_dict={xs: x})


# --- training the new head ---------------------------------------------------------------------

def train_head(x, labels, checkpoint, head, learning_rate, steps, batches=None, activation="relu"):
    """The Keras way: the pretrained model restored from its .keras file, its old logits layer
    dropped, the rest frozen (``base.trainable = False``), a new Dense head holding ``head``
    on top; ``model.compile(SGD(learning_rate), CategoricalCrossentropy(from_logits=True))`` and
    ``model.fit`` for ``steps`` steps, one batch each (``batches[k]``: the rows of step k; None:
    every row). Returns the whole network's parameters after each step: the base's (w, b)
    pairs, then the head's. SGD without momentum is plain gradient descent; Keras keeps the
    learning rate in float32 (a power of 2 such as 0.5 is exact)."""
    import keras
    check.pairs([head], "head")
    learning_rate = nn._learning_rate(learning_rate)
    x, labels = np.asarray(x), np.asarray(labels)
    base = _frozen_base(checkpoint, activation)
    new_head = keras.layers.Dense(np.shape(head[0])[1], dtype=x.dtype.name, name="logits")
    model = keras.Sequential([keras.Input((x.shape[1],), dtype=x.dtype.name), base, new_head])
    new_head.set_weights([np.asarray(a) for a in head])
    # the loss in the model's dtype: a Keras loss computes in floatx (float32) unless told otherwise
    model.compile(optimizer=keras.optimizers.SGD(learning_rate),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True, dtype=x.dtype.name))
    trajectory = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            trajectory.append(_pairs(model.get_weights()))

    rows = [slice(None) if batches is None else batches[k] for k in range(steps)]
    data = tf.data.Dataset.from_generator(
        lambda: ((x[r], labels[r]) for r in rows),
        output_signature=(tf.TensorSpec([None, x.shape[1]], x.dtype),
                          tf.TensorSpec([None, labels.shape[1]], labels.dtype)))
    model.fit(data, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0, callbacks=[Record()])
    return trajectory


def train_head_v1(x, labels, checkpoint, head, learning_rate, steps, batches=None, activation="relu"):
    """The TF1 way, as the book's fine-tuning program: the base in code under its pretrained
    scopes, the new head under ``logits`` (the old head's name, a new shape), the loss
    tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(...)); the variables to restore are
    all but ``logits`` (the book's get_tuned_variables), the variables to train are the
    TRAINABLE_VARIABLES under ``logits`` (its get_trainable_variables), and
    ``GradientDescentOptimizer(learning_rate).minimize(loss, var_list=...)`` trains those only.
    In the Session: the initializer first, then ``saver.restore`` (the other order would
    overwrite the restored weights). Arguments and result as ``train_head``."""
    check.pairs([head], "head")
    check.positive(learning_rate=learning_rate)
    x, labels = np.asarray(x), np.asarray(labels)
    graph = tf.Graph()
    with graph.as_default():
        xs = tf.compat.v1.placeholder(x.dtype, [None, x.shape[1]])
        ys = tf.compat.v1.placeholder(labels.dtype, [None, labels.shape[1]])
        net, _ = _base_v1(xs, checkpoint, activation)
        with tf.compat.v1.variable_scope("logits"):
            w = tf.compat.v1.get_variable("weights", initializer=np.asarray(head[0]))
            b = tf.compat.v1.get_variable("biases", initializer=np.asarray(head[1]))
        loss = nn.softmax_cross_entropy(ys, nn.dense(net, w, b))
        restore = [v for v in tf.compat.v1.global_variables() if not v.op.name.startswith("logits")]
        to_train = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES, "logits")
        train_step = tf.compat.v1.train.GradientDescentOptimizer(learning_rate).minimize(loss, var_list=to_train)
        saver = tf.compat.v1.train.Saver(var_list=restore)
        init = tf.compat.v1.global_variables_initializer()
        params = _pairs(tf.compat.v1.global_variables())
    return _run_v1(graph, init, lambda sess: saver.restore(sess, checkpoint), train_step, params, xs, ys,
                   x, labels, steps, batches)


def train_head_slim(x, labels, checkpoint, head, learning_rate, steps, batches=None, activation="relu"):
    """The book's slim form on the tf_slim package: slim.fully_connected layers under the
    pretrained scopes and a new one under ``logits``; ``slim.get_variables_to_restore(exclude=
    ["logits"])`` (taken before the train op adds global_step, which the checkpoint lacks);
    ``slim.assign_from_checkpoint_fn(checkpoint, ...)`` (a Saver over them); the book's loss,
    ``tf.losses.softmax_cross_entropy`` and ``tf.losses.get_total_loss()``; and
    ``slim.learning.create_train_op(total_loss, GradientDescentOptimizer(learning_rate),
    variables_to_train=slim.get_trainable_variables("logits"))``. Arguments and result as
    ``train_head``. tf_slim is what became of tf.contrib.slim (a dependency of tfref).

    tf.compat.v1.losses reduces in float32 whatever the dtype (compute_weighted_loss casts the
    per-example losses to float32, averages, casts back): on float64 input the loss is a float32
    number and each row's gradient is scaled by float32(1 / n), 1.2e-8 relative off for n = 24
    (exact for a power of 2); tests/test_transfer.py pins it."""
    check.pairs([head], "head")
    check.positive(learning_rate=learning_rate)
    check.one_of(activation, nn.ACTIVATIONS, "activation")
    x, labels = np.asarray(x), np.asarray(labels)
    shapes = _saved_shapes(checkpoint)
    graph = tf.Graph()
    with graph.as_default():
        xs = tf.compat.v1.placeholder(x.dtype, [None, x.shape[1]])
        ys = tf.compat.v1.placeholder(labels.dtype, [None, labels.shape[1]])
        net = xs
        for scope in _scopes(len(shapes))[:-1]:
            net = slim.fully_connected(net, shapes[scope][1], activation_fn=nn.ACTIVATIONS[activation], scope=scope)
        logits = slim.fully_connected(net, np.shape(head[0])[1], activation_fn=None, scope="logits",
                                      weights_initializer=tf.compat.v1.constant_initializer(np.asarray(head[0])),
                                      biases_initializer=tf.compat.v1.constant_initializer(np.asarray(head[1])))
        params = _pairs(slim.get_model_variables())
        load_fn = slim.assign_from_checkpoint_fn(checkpoint, slim.get_variables_to_restore(exclude=["logits"]))
        tf.compat.v1.losses.softmax_cross_entropy(ys, logits)
        train_op = slim.learning.create_train_op(
            tf.compat.v1.losses.get_total_loss(), tf.compat.v1.train.GradientDescentOptimizer(learning_rate),
            variables_to_train=slim.get_trainable_variables("logits"))
        init = tf.compat.v1.global_variables_initializer()
    return _run_v1(graph, init, load_fn, train_op, params, xs, ys, x, labels, steps, batches)


# --- helpers ------------------------------------------------------------------------------------

def _scopes(n_layers):
    """layer1, ..., layer{n-1}, logits: the scopes (Keras: layer names) of an n-layer network."""
    return [f"layer{i}" for i in range(1, n_layers)] + ["logits"]


def _pairs(arrays):
    """[w1, b1, w2, b2, ...] as [(w1, b1), (w2, b2), ...]."""
    return list(zip(arrays[::2], arrays[1::2]))


def _frozen_base(checkpoint, activation):
    """The pretrained Keras model from ``checkpoint`` without its last layer, trainable = False.
    The .keras file records each layer's activation; ``activation`` must be the hidden layers'."""
    import keras
    check.one_of(activation, nn.ACTIVATIONS, "activation")
    pretrained = keras.models.load_model(checkpoint)
    saved = pretrained.layers[0].activation.__name__
    if saved != _KERAS_ACTIVATIONS[activation]:
        raise ValueError(message("activation_mismatch", given=activation,
                                 saved={v: k for k, v in _KERAS_ACTIVATIONS.items()}.get(saved, saved)))
    # a functional model from the pretrained Input: keras.Sequential(pretrained.layers[:-1]) would
    # have no Input layer and cast its input to floatx (float32) before the float64 layers see it
    base = keras.Model(pretrained.inputs, pretrained.layers[-2].output, name="base")
    base.trainable = False
    return base


def _saved_shapes(checkpoint):
    """{scope: shape of scope/weights} of a TF1 checkpoint (tf.train.list_variables)."""
    return {name[:-len("/weights")]: shape for name, shape in tf.train.list_variables(checkpoint)
            if name.endswith("/weights")}


def _base_v1(xs, checkpoint, activation):
    """The base's layers in code, as the pretraining graph had them: (features, its variables).
    Shapes and dtype from the checkpoint; the values come later, from saver.restore."""
    check.one_of(activation, nn.ACTIVATIONS, "activation")
    shapes, net, variables = _saved_shapes(checkpoint), xs, []
    for scope in _scopes(len(shapes))[:-1]:
        with tf.compat.v1.variable_scope(scope):
            w = tf.compat.v1.get_variable("weights", shapes[scope], xs.dtype, tf.compat.v1.zeros_initializer())
            b = tf.compat.v1.get_variable("biases", shapes[scope][1:], xs.dtype, tf.compat.v1.zeros_initializer())
        net = nn.dense(net, w, b, activation)
        variables += [w, b]
    return net, variables


def _run_v1(graph, init, restore, train_step, params, xs, ys, x, labels, steps, batches):
    """Initialise, restore the base, then one ``sess.run(train_step)`` per batch; the network's
    parameters after each step."""
    trajectory = []
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        restore(sess)
        for k in range(steps):
            rows = slice(None) if batches is None else batches[k]
            sess.run(train_step, feed_dict={xs: x[rows], ys: labels[rows]})
            trajectory.append(sess.run(params))
    return trajectory
