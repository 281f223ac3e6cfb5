"""Loss functions: the number training drives down.

Each function mirrors the TensorFlow expression named in its docstring; each
``*_vjp`` is its hand-derived derivative as backprop applies it: given the
upstream gradient ``dy`` (shaped like the loss), return the gradient with
respect to the arguments the catalog entry lists in ``wrt``.
"""
import numpy as np

from reference import _checks as check
from reference._checks import in_float64
from reference.activations import log_softmax


def _mean(x):
    """np.mean without the warning: the mean of nothing is 0/0 = NaN, as in tf.reduce_mean."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(x) / np.float64(np.size(x))  # np.size: a Python float has no .size


@in_float64
def clipped_cross_entropy(y_true, y_pred, eps=1e-10):
    """-mean(y_true * log(clip(y_pred, eps, 1))) over ALL n x m elements, a scalar.
    Mirrors the TF1 line ``-tf.reduce_mean(y_ * tf.log(tf.clip_by_value(y, 1e-10, 1.0)))``.

    The mean runs over every element, not over examples, so this is the usual
    per-example cross-entropy averaged over the batch, divided by the number
    of classes m. Clipping keeps log away from log(0) = -inf: a prediction of
    0 costs at most -log(eps) (23.03 for eps = 1e-10).

    Precision: tf.clip_by_value converts ``eps`` to the input dtype. 1e-10 is
    below float16's smallest subnormal (2**-24 = 6e-8), so in float16 the clip
    is at 0, log(0) = -inf and the loss is NaN (0 * -inf) or inf: the classic
    line does not protect float16. This reference, computed in float64, clips
    at 1e-10 as written, so it is compared with TF in bfloat16/float32/float64
    only; tests/test_losses.py pins the float16 behaviour by name.

    Bad input: floating arrays of one shape only; (N,) against (N, 1) is rejected,
    not broadcast to (N, N)."""
    check.floating(y_true, "y_true")
    check.floating(y_pred, "y_pred")
    check.same_shape(y_true, y_pred, "y_true", "y_pred")
    return -_mean(y_true * np.log(np.clip(y_pred, eps, 1.0)))


@in_float64
def softmax_cross_entropy_with_logits(labels, logits, axis=-1):
    """-sum(labels * log_softmax(logits), axis): one loss per example, soft labels allowed.
    Mirrors tf.nn.softmax_cross_entropy_with_logits (TF2's, formerly ``_v2``).

    Taking log_softmax (a max-shifted log-sum-exp) instead of log(softmax)
    keeps the loss exact where softmax underflows to 0.

    Bad input: floating labels and logits of one shape only (the TF op would
    broadcast labels (N,) against logits (N, 1))."""
    _check_dense(labels, logits, axis)
    return -np.sum(labels * log_softmax(logits, axis=axis), axis=axis)


@in_float64
def sparse_softmax_cross_entropy_with_logits(labels, logits):
    """-log_softmax(logits)[..., labels]: one loss per example, labels are class ids.
    Mirrors tf.nn.sparse_softmax_cross_entropy_with_logits; equals the dense
    loss with one-hot labels. An id outside [0, classes) is an error. Labels of any
    integer dtype (uint8, as MNIST stores them, too), shaped like logits without its
    class axis; floating logits only."""
    _check_sparse(labels, logits)
    picked = np.take_along_axis(log_softmax(logits, axis=-1), labels[..., None].astype(np.intp), axis=-1)
    return -picked[..., 0]


@in_float64
def mean_squared_error(y_true, y_pred):
    """mean((y_true - y_pred)^2) over all elements, a scalar.
    Mirrors ``tf.reduce_mean(tf.square(y_ - y))`` and keras.losses.MeanSquaredError.
    Bad input: floating arrays of one shape only; (N,) against (N, 1) is rejected, not
    broadcast to (N, N), and integers are rejected, not averaged in integer arithmetic."""
    check.floating(y_true, "y_true")
    check.floating(y_pred, "y_pred")
    check.same_shape(y_true, y_pred, "y_true", "y_pred")
    return _mean((y_true - y_pred) ** 2)


@in_float64
def asymmetric_loss(v1, v2, a, b):
    """sum(where(v1 > v2, (v1 - v2) * a, (v2 - v1) * b)), a scalar: cost a per unit
    that v1 exceeds v2, b per unit it falls short. Mirrors the classic
    ``tf.reduce_sum(tf.where(tf.greater(v1, v2), (v1 - v2) * a, (v2 - v1) * b))``.
    At a tie the b branch is taken (its value is 0 either way; its gradient is not).
    Bad input: floating v1 and v2 of one shape only; (N,) against (N, 1) is rejected."""
    check.floating(v1, "v1")
    check.floating(v2, "v2")
    check.same_shape(v1, v2, "v1", "v2")
    return np.sum(np.where(v1 > v2, (v1 - v2) * a, (v2 - v1) * b))


def asymmetric_regression(x, y_true, w, learning_rate, steps, loss_more, loss_less):
    """Full-batch gradient descent on asymmetric_loss(x @ w, y_true, a=loss_more, b=loss_less):
    w <- w - lr * x.T @ g with g = loss_more where x @ w > y_true, else -loss_less (the loss's
    gradient wrt the prediction). Returns w after each step. When under-prediction costs more
    (loss_less > loss_more) the fit settles above the least-squares line, and below it otherwise.
    Mirrors the book's TF1 training loop (tfimpl.losses.asymmetric_regression_v1) and its Keras twin."""
    check.positive(learning_rate=learning_rate)
    x, y_true, w = np.asarray(x, np.float64), np.asarray(y_true, np.float64), np.asarray(w, np.float64)
    trajectory = []
    for _ in range(steps):
        g_pred, _ = asymmetric_loss_vjp(x @ w, y_true, np.float64(1.0), loss_more, loss_less)
        w = w - learning_rate * x.T @ g_pred
        trajectory.append(w)
    return trajectory


def asymmetric_regression_v1(x, y_true, w, learning_rate, steps, loss_more, loss_less):
    """The same trajectory; mirrors GradientDescentOptimizer(lr).minimize(loss) run in a Session."""
    return asymmetric_regression(x, y_true, w, learning_rate, steps, loss_more, loss_less)


def _check_dense(labels, logits, axis):
    check.floating(labels, "labels")
    check.floating(logits, "logits")
    check.rank_at_least(logits, 1, "logits")
    check.same_shape(labels, logits, "labels", "logits")
    check.axis_in_range(axis, logits.ndim)


def _check_sparse(labels, logits):
    check.integer(labels, "labels")
    check.floating(logits, "logits")
    check.rank_at_least(logits, 1, "logits")
    check.batch_shape(labels, logits, "labels", "logits")
    bad = (labels < 0) | (labels >= logits.shape[-1])
    if bad.any():
        i = tuple(int(k) for k in np.argwhere(bad)[0])
        raise ValueError(f"labels must be class ids in [0, {logits.shape[-1]}), "
                         f"got {labels[i]} at index {i}")


# Derivatives: what backprop computes for each function above.

@in_float64
def clipped_cross_entropy_vjp(y_true, y_pred, dy, eps=1e-10):
    """Gradients wrt (y_true, y_pred), N = number of elements:
    d/dy_true = -log(clip(y_pred)) / N;
    d/dy_pred = -y_true / (N * y_pred) where eps <= y_pred <= 1, else 0.
    At exactly a bound the gradient passes: tf.clip_by_value is
    maximum(minimum(y, 1), eps), whose gradients select with <= and >=
    (_MinimumGrad / _MaximumGrad in tensorflow/python/ops/math_grad.py)."""
    n = np.float64(y_pred.size)
    inside = (y_pred >= eps) & (y_pred <= 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        d_pred = np.where(inside, -dy * y_true / (n * y_pred), 0.0)
    return -dy * np.log(np.clip(y_pred, eps, 1.0)) / n, d_pred


@in_float64
def softmax_cross_entropy_with_logits_vjp(labels, logits, dy, axis=-1):
    """Gradients wrt (labels, logits): d/dlabels = -log_softmax(logits);
    d/dlogits = softmax(logits) * sum(labels) - labels, which is the familiar
    softmax - labels when each row of labels sums to 1 (TF's kernel returns
    softmax - labels whatever the labels sum to; see tests/test_losses.py)."""
    dy = np.expand_dims(dy, axis)
    log_s = log_softmax(logits, axis=axis)
    return -dy * log_s, dy * (np.exp(log_s) * np.sum(labels, axis=axis, keepdims=True) - labels)


@in_float64
def sparse_softmax_cross_entropy_with_logits_vjp(labels, logits, dy):
    """Gradient wrt logits: softmax(logits) - one_hot(labels)."""
    one_hot = np.arange(logits.shape[-1]) == labels[..., None]
    return dy[..., None] * (np.exp(log_softmax(logits, axis=-1)) - one_hot)


@in_float64
def mean_squared_error_vjp(y_true, y_pred, dy):
    """Gradients wrt (y_true, y_pred): +-2 (y_true - y_pred) / N."""
    g = dy * 2 * (y_true - y_pred) / np.float64(y_true.size)
    return g, -g


@in_float64
def asymmetric_loss_vjp(v1, v2, dy, a, b):
    """Gradients wrt (v1, v2): (a, -a) where v1 > v2, else (-b, b), ties included
    (tf.where passes the gradient to the branch it selected, the b branch at a tie)."""
    g = dy * np.where(v1 > v2, a, -b)
    return g, -g
