"""A dense network in TensorFlow: the same layers, the gradient from GradientTape.

TF1 books write the layer as tf.matmul(x, w) + b and train with
tf.compat.v1.train.GradientDescentOptimizer(lr).minimize(loss) in a Session;
TF2 records the forward pass on a GradientTape and hands the gradients to
keras.optimizers.SGD.apply_gradients. tests/test_nn.py runs both.
"""
import tensorflow as tf

from tfimpl import _checks as check
from tfimpl import activations as A
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
    """tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels, logits)).

    The kernel's gradient wrt the logits is softmax - labels: exact when each label
    row sums to 1, as one-hot and probability labels do. labels and logits of one shape,
    as the reference (the op would broadcast them)."""
    labels, logits = check.same_shape(labels, logits, "labels", "logits")
    return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits))


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
    variable and casts it to each parameter's dtype (sgd.py update_step)."""
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
    import keras
    variables = [tuple(tf.Variable(p) for p in pair) for pair in params]
    keras.optimizers.SGD(learning_rate).apply_gradients(
        [(tf.convert_to_tensor(g), v) for gpair, vpair in zip(grads, variables) for g, v in zip(gpair, vpair)])
    return [tuple(tf.convert_to_tensor(v) for v in pair) for pair in variables]
