"""A dense network in TensorFlow: the same layers, the gradient from GradientTape.

TF1 books write the layer as tf.matmul(x, w) + b and train with
tf.compat.v1.train.GradientDescentOptimizer(lr).minimize(loss) in a Session;
TF2 records the forward pass on a GradientTape and hands the gradients to
keras.optimizers.SGD.apply_gradients. ``train`` and ``train_v1`` below are those two
loops; tests/test_nn.py runs both against the reference's NumPy loop.
"""
import numpy as np
import tensorflow as tf

from tfimpl import _checks as check
from tfimpl import activations as A
from tfimpl import losses
from tfimpl._autodiff import vjp

ACTIVATIONS = {None: tf.identity, "relu": A.relu, "sigmoid": A.sigmoid, "tanh": A.tanh}


def dense(x, w, b, activation=None):
    """activation(tf.matmul(x, w) + b), what keras.layers.Dense.call computes (ops.matmul, ops.add).

    Not tf.nn.bias_add: inside tf.function, grappler fuses MatMul + BiasAdd into
    _FusedMatMul, which (TF 2.21, float32, CPU) returns 0 instead of b when x has
    no columns (tests/test_nn.py::test_fused_matmul_bias_add_drops_the_bias_when_n_in_is_zero).

    Bad input, as the reference: floating x, w and b only (tf.matmul and + would run
    all-integer input in integers), and b exactly (n_out,) (+ would broadcast a bias
    column (n_out, 1) into the (batch, n_out) sum)."""
    check.one_of(activation, ACTIVATIONS, "activation")
    check.floating(x, "x")
    check.floating(w, "w")
    check.floating(b, "b")
    check.rank_is(x, 2, "x")
    check.rank_is(w, 2, "w")
    check.rank_is(b, 1, "b")
    x, w = check.dims_match(x, 1, w, 0, "x", "w")
    b, w = check.dims_match(b, 0, w, 1, "b", "w")
    return ACTIVATIONS[activation](tf.matmul(x, w) + b)


dense_vjp = vjp(dense, wrt=(0, 1, 2))


def mlp_forward(x, params, activation="relu"):
    """Hidden layers dense(..., activation), the last layer linear (the logits)."""
    check.pairs(params, "params")
    for w, b in params[:-1]:
        x = dense(x, w, b, activation)
    w, b = params[-1]
    return dense(x, w, b)


def mlp_forward_vjp(x, params, dy, activation="relu"):
    """(dx, [(dw, db) per layer]) of sum(dy * mlp_forward(x, params)), by GradientTape."""
    x = tf.convert_to_tensor(x)
    params = [(tf.convert_to_tensor(w), tf.convert_to_tensor(b)) for w, b in params]
    with tf.GradientTape() as tape:
        tape.watch([x, params])
        logits = mlp_forward(x, params, activation)
    dx, grads = tape.gradient(logits, [x, params], output_gradients=tf.cast(dy, logits.dtype),
                              unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return dx, [tuple(g) for g in grads]


def softmax_cross_entropy(labels, logits):
    """The book's tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels, logits)): the batch
    mean of losses.softmax_cross_entropy_with_logits, its input checks included.

    The kernel's gradient wrt the logits is softmax - labels: exact when each label
    row sums to 1, as one-hot and probability labels do."""
    return tf.reduce_mean(losses.softmax_cross_entropy_with_logits(labels, logits))


def mlp_gradients(x, labels, params, activation="relu"):
    """(loss, [(dw, db) per layer]) by GradientTape."""
    params = [(tf.convert_to_tensor(w), tf.convert_to_tensor(b)) for w, b in params]
    with tf.GradientTape() as tape:
        tape.watch(params)
        loss = softmax_cross_entropy(labels, mlp_forward(x, params, activation))
    return loss, [tuple(g) for g in tape.gradient(loss, params)]


def gradient_descent_step(params, grads, learning_rate):
    """One keras.optimizers.SGD(learning_rate).apply_gradients step on variables holding
    ``params``; returns the new values. Keras keeps the learning rate in a float32
    variable and casts it to each parameter's dtype (sgd.py update_step). A Python int,
    a NumPy scalar or a 0-d array is accepted as the reference accepts it (Keras itself
    takes only a Python float).

    An adapter, not a training loop: it turns the stateful optimizer into a pure function
    of (params, grads) so it can be compared with the reference step by step. Each call
    builds new Variables and a new optimizer, so whatever state the optimizer keeps
    (its ``iterations`` count, momentum and Adam slots, a learning-rate schedule's step)
    starts afresh and is dropped after the step: copied into a loop it silently trains
    with a fresh optimizer every step. The real loop, ``train`` below, creates the
    variables and the optimizer once::

        variables = [tf.Variable(p) for p in params]
        opt = keras.optimizers.SGD(learning_rate)
        for x, labels in batches:
            with tf.GradientTape() as tape:
                loss = loss_fn(x, labels, variables)
            opt.apply_gradients(zip(tape.gradient(loss, variables), variables))

    and TF1's (``train_v1``) builds ``GradientDescentOptimizer(lr).minimize(loss)`` once
    and runs it in a Session."""
    learning_rate = _learning_rate(learning_rate)
    import keras
    variables = [tuple(tf.Variable(p) for p in pair) for pair in params]
    keras.optimizers.SGD(learning_rate).apply_gradients(
        [(tf.convert_to_tensor(g), v) for gpair, vpair in zip(grads, variables) for g, v in zip(gpair, vpair)])
    return [tuple(tf.convert_to_tensor(v) for v in pair) for pair in variables]


def _learning_rate(learning_rate):
    """A positive learning rate as the Python float Keras's optimizers require
    (``isinstance(lr, float)``: a Python int, np.float32 or 0-d array would be refused)."""
    check.positive(learning_rate=learning_rate)
    return float(learning_rate)


# --- training loops: the optimizers as a reader uses them ----------------------------

def train(x, labels, params, learning_rate, steps, batches=None, activation="relu"):
    """The TF2 loop: variables created once from ``params``, one keras.optimizers.SGD, and
    for each step the batch-mean softmax cross-entropy of ``mlp_forward`` recorded on a
    GradientTape (inside a tf.function) and handed to ``opt.apply_gradients``.

    ``batches[k]`` holds the row indices of step k's mini-batch (None: the whole batch every
    step). Returns the parameters after each step: ``steps`` lists of (w, b) NumPy pairs.
    Keras keeps the learning rate in float32 (a power of 2 such as 0.5 is exact)."""
    check.pairs(params, "params")
    learning_rate = _learning_rate(learning_rate)
    import keras
    x, labels = tf.convert_to_tensor(x), tf.convert_to_tensor(labels)
    variables = [(tf.Variable(w), tf.Variable(b)) for w, b in params]
    flat = [v for pair in variables for v in pair]
    opt = keras.optimizers.SGD(learning_rate)

    @tf.function(input_signature=[tf.TensorSpec([None, None], x.dtype), tf.TensorSpec([None, None], labels.dtype)])
    def gradients(xb, yb):
        with tf.GradientTape() as tape:
            loss = softmax_cross_entropy(yb, mlp_forward(xb, variables, activation))
        return tape.gradient(loss, flat)

    trajectory = []
    for k in range(steps):
        idx = tf.range(tf.shape(x)[0]) if batches is None else batches[k]
        opt.apply_gradients(zip(gradients(tf.gather(x, idx), tf.gather(labels, idx)), flat))
        trajectory.append([(w.numpy(), b.numpy()) for w, b in variables])
    return trajectory


def train_v1(x, labels, params, learning_rate, steps, batches=None, activation="relu"):
    """The TF1 loop, as the book writes it: placeholders for a batch, variables, the loss
    ``tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(...))`` of ``mlp_forward``,
    ``train_step = tf.compat.v1.train.GradientDescentOptimizer(learning_rate).minimize(loss)``,
    then in a Session: initialise, and ``sess.run(train_step, feed_dict=...)`` per step.

    Arguments and result as ``train``. The optimizer converts a Python float learning rate
    to a float32 tensor and casts it to each variable's dtype; a np.float64 stays exact."""
    check.pairs(params, "params")
    check.positive(learning_rate=learning_rate)
    x, labels = np.asarray(x), np.asarray(labels)
    graph = tf.Graph()
    with graph.as_default():
        xs = tf.compat.v1.placeholder(x.dtype, [None, x.shape[1]])
        ys = tf.compat.v1.placeholder(labels.dtype, [None, labels.shape[1]])
        variables = [(tf.compat.v1.Variable(w), tf.compat.v1.Variable(b)) for w, b in params]
        loss = softmax_cross_entropy(ys, mlp_forward(xs, variables, activation))
        train_step = tf.compat.v1.train.GradientDescentOptimizer(learning_rate).minimize(loss)
        init = tf.compat.v1.global_variables_initializer()
    trajectory = []
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        for k in range(steps):
            idx = slice(None) if batches is None else batches[k]
            sess.run(train_step, feed_dict={xs: x[idx], ys: labels[idx]})
            trajectory.append(sess.run(variables))
    return trajectory


def least_squares(a, b, learning_rate, steps):
    """Gradient descent on J(w) = ||a w - b||^2 / (2 N) from w = 0, the TF2 way: a Variable,
    one keras.optimizers.SGD, the gradient from a GradientTape. Returns w after each step,
    shape (steps, a.shape[1]). Keras rounds the learning rate to float32."""
    learning_rate = _learning_rate(learning_rate)
    import keras
    a = tf.convert_to_tensor(a)
    target = tf.reshape(tf.convert_to_tensor(b, a.dtype), [-1, 1])
    w = tf.Variable(tf.zeros([a.shape[1], 1], a.dtype))
    opt = keras.optimizers.SGD(learning_rate)
    trajectory = []
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(tf.matmul(a, w) - target)) / (2 * a.shape[0])
        opt.apply_gradients([(tape.gradient(loss, w), w)])
        trajectory.append(w.numpy()[:, 0])
    return np.array(trajectory)


def least_squares_v1(a, b, learning_rate, steps):
    """The same descent the TF1 way: ``loss = tf.reduce_sum(tf.square(tf.matmul(a, w) - b)) / (2 N)``,
    ``GradientDescentOptimizer(learning_rate).minimize(loss)`` run ``steps`` times in a Session.
    A np.float64 learning rate stays exact (a Python float is rounded to float32)."""
    check.positive(learning_rate=learning_rate)
    a = np.asarray(a)
    graph = tf.Graph()
    with graph.as_default():
        w = tf.compat.v1.Variable(np.zeros((a.shape[1], 1), a.dtype))
        loss = tf.reduce_sum(tf.square(tf.matmul(a, w) - np.reshape(b, (-1, 1)).astype(a.dtype))) / (2 * len(a))
        train_step = tf.compat.v1.train.GradientDescentOptimizer(learning_rate).minimize(loss)
        init = tf.compat.v1.global_variables_initializer()
    trajectory = []
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        for _ in range(steps):
            sess.run(train_step)
            trajectory.append(sess.run(w)[:, 0])
    return np.array(trajectory)
