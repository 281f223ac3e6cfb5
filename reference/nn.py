"""A dense network from scratch: forward pass, backprop by hand, gradient descent.

``dense`` is one layer, ``mlp_forward`` stacks them (hidden layers with an
activation, the last one linear: the logits), ``mlp_gradients`` is the
batch-mean softmax cross-entropy and its gradient written out layer by layer
(the chain rule, last layer first), and ``gradient_descent_step`` is
w <- w - lr * dJ/dw. tfimpl/nn.py gets the gradient from GradientTape instead.
"""
import numpy as np

from reference import _checks as check
from reference import activations as A
from reference import losses
from reference._checks import in_float64

ACTIVATIONS = {None: lambda z: z, "relu": A.relu, "sigmoid": A.sigmoid, "tanh": A.tanh}
ACTIVATION_VJPS = {None: lambda z, dy: dy, "relu": A.relu_vjp, "sigmoid": A.sigmoid_vjp, "tanh": A.tanh_vjp}


@in_float64
def dense(x, w, b, activation=None):
    """activation(x @ w + b). Mirrors tf.matmul(x, w) + b (keras.layers.Dense).

    x: (batch, n_in), w: (n_in, n_out), b: (n_out,); activation None, "relu", "sigmoid" or "tanh".
    Floating x, w and b only (all-integer input is rejected, not multiplied in integers), and b
    exactly (n_out,): a bias column (n_out, 1) would broadcast into a wrong (batch, n_out) sum."""
    _check_dense(x, w, b, activation)
    return ACTIVATIONS[activation](x @ w + b)


@in_float64
def dense_vjp(x, w, b, dy, activation=None):
    """Backprop through one layer: with z = x @ w + b and dz = act'(z) * dy,
    dx = dz @ w.T, dw = x.T @ dz, db = sum of dz over the batch."""
    _check_dense(x, w, b, activation)
    dz = ACTIVATION_VJPS[activation](x @ w + b, dy)
    return dz @ w.T, x.T @ dz, dz.sum(axis=0)


def mlp_forward(x, params, activation="relu"):
    """logits = dense(... dense(x, w1, b1, activation) ..., wL, bL): hidden layers
    use ``activation``, the last layer is linear. ``params`` is a list of (w, b)."""
    _check_params(params)
    for w, b in params[:-1]:
        x = dense(x, w, b, activation)
    w, b = params[-1]
    return dense(x, w, b)


def mlp_forward_vjp(x, params, dy, activation="relu"):
    """Backprop through the whole network: (dx, [(dw, db) per layer]) for the upstream
    gradient dy of the logits. Forward, keeping each layer's input; then dense_vjp layer
    by layer, last first, each handing the gradient of its input to the layer before."""
    _check_params(params)
    inputs = [x]
    for w, b in params[:-1]:
        inputs.append(dense(inputs[-1], w, b, activation))
    grads = []
    for i in reversed(range(len(params))):
        dy, dw, db = dense_vjp(inputs[i], *params[i], dy, activation if i < len(params) - 1 else None)
        grads.append((dw, db))
    return dy, grads[::-1]


@in_float64
def softmax_cross_entropy(labels, logits):
    """The batch mean of losses.softmax_cross_entropy_with_logits(labels, logits), its input checks
    included. Mirrors the book's tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels, logits))."""
    return np.mean(losses.softmax_cross_entropy_with_logits(labels, logits))


def mlp_gradients(x, labels, params, activation="relu"):
    """(loss, [(dw, db) per layer]) of the batch-mean softmax cross-entropy, by hand.

    Forward: keep each layer's input. Backward: the loss pulls back to the logits as
    dJ/dz = (softmax(z) * sum(labels) - labels) / batch, which is (softmax(z) - labels) / batch
    for label rows that sum to 1 (TF's kernel assumes they do); then each layer, last
    first, turns the gradient of its output into (dw, db) and the gradient of its input."""
    _check_params(params)
    x = np.asarray(x)
    dtype = x.dtype
    params64 = [(np.asarray(w, np.float64), np.asarray(b, np.float64)) for w, b in params]
    inputs = [np.asarray(x, np.float64)]
    for w, b in params64[:-1]:
        inputs.append(dense(inputs[-1], w, b, activation))
    logits = dense(inputs[-1], *params64[-1])
    labels = np.asarray(labels, np.float64)
    loss = softmax_cross_entropy(labels, logits)
    dy = A.log_softmax_vjp(logits, -labels / max(len(logits), 1))
    grads = []
    for i in reversed(range(len(params64))):
        dy, dw, db = dense_vjp(inputs[i], *params64[i], dy, activation if i < len(params64) - 1 else None)
        grads.append((dw.astype(dtype), db.astype(dtype)))
    return np.asarray(loss).astype(dtype), grads[::-1]


def gradient_descent_step(params, grads, learning_rate):
    """w <- w - learning_rate * dw for every array. Mirrors
    tf.compat.v1.train.GradientDescentOptimizer and keras.optimizers.SGD (no momentum).
    Plain gradient descent keeps no state, so here one step is the whole optimizer;
    ``train`` below is the loop around it."""
    check.positive(learning_rate=learning_rate)
    return [tuple(_step(p, g, learning_rate) for p, g in zip(pair, gpair)) for pair, gpair in zip(params, grads)]


@in_float64
def _step(p, g, learning_rate):
    check.same_shape(g, p, "gradient", "parameter")
    return p - learning_rate * g


def train(x, labels, params, learning_rate, steps, batches=None, activation="relu"):
    """Gradient descent on the batch-mean softmax cross-entropy of ``mlp_forward``: for each
    step k, params <- gradient_descent_step(params, mlp_gradients(x[i], labels[i], params)[1], lr)
    with i = batches[k] (None: every row). Returns the parameters after each step.
    Mirrors the Keras SGD loop (tfimpl.nn.train) and the TF1 Session loop (train_v1)."""
    check.positive(learning_rate=learning_rate)
    _check_params(params)
    x, labels = np.asarray(x), np.asarray(labels)
    trajectory = []
    for k in range(steps):
        idx = slice(None) if batches is None else batches[k]
        params = gradient_descent_step(params, mlp_gradients(x[idx], labels[idx], params, activation)[1],
                                       learning_rate)
        trajectory.append(params)
    return trajectory


def train_v1(x, labels, params, learning_rate, steps, batches=None, activation="relu"):
    """The same trajectory; mirrors GradientDescentOptimizer(lr).minimize(loss) run in a Session."""
    return train(x, labels, params, learning_rate, steps, batches, activation)


def least_squares(a, b, learning_rate, steps):
    """Gradient descent on J(w) = ||a w - b||^2 / (2 N) from w = 0: dJ/dw = a.T (a w - b) / N,
    w <- w - lr dJ/dw. Returns w after each step, shape (steps, a.shape[1]). It descends
    while lr < 2 / lambda_max(a.T a / N) and reaches np.linalg.lstsq's w."""
    check.positive(learning_rate=learning_rate)
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64).reshape(-1)
    w, trajectory = np.zeros(a.shape[1]), []
    for _ in range(steps):
        w = w - learning_rate * (a.T @ (a @ w - b) / len(a))
        trajectory.append(w)
    return np.array(trajectory)


def least_squares_v1(a, b, learning_rate, steps):
    """The same trajectory; mirrors the TF1 GradientDescentOptimizer loop."""
    return least_squares(a, b, learning_rate, steps)


def _check_dense(x, w, b, activation):
    """The same checks in the same order as tfimpl.nn.dense, so both name the same first fault."""
    check.one_of(activation, ACTIVATIONS, "activation")
    check.floating(x, "x")
    check.floating(w, "w")
    check.floating(b, "b")
    check.rank_is(x, 2, "x")
    check.rank_is(w, 2, "w")
    check.rank_is(b, 1, "b")
    check.dims_match(x, 1, w, 0, "x", "w")
    check.dims_match(b, 0, w, 1, "b", "w")


def _check_params(params):
    check.pairs(params, "params")
