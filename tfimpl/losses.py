"""Loss functions in TensorFlow: the classic TF1 lines and the tf.nn ops a TF2
model calls (Keras's loss objects wrap the same ops; tests/test_losses.py
checks they agree). The tests run each function eagerly, in tf.function, under
XLA and in a TF1 graph + Session. ``asymmetric_regression_v1`` is the book's TF1
training program with the asymmetric loss, ``asymmetric_regression`` its Keras twin.
"""
import numpy as np
import tensorflow as tf

from tfimpl import _checks as check
from tfimpl._autodiff import vjp


def clipped_cross_entropy(y_true, y_pred, eps=1e-10):
    """The TF1 book line ``-tf.reduce_mean(y_ * tf.log(tf.clip_by_value(y, 1e-10, 1.0)))``
    (tf.log is tf.math.log in TF2). clip_by_value converts eps to y_pred's
    dtype: in float16 1e-10 becomes 0 and the clip no longer protects log.
    Bad input, as the reference: floating arrays of one shape only (the line alone
    would broadcast (N,) against (N, 1) to an (N, N) mean)."""
    check.floating(y_true, "y_true")
    check.floating(y_pred, "y_pred")
    y_true, y_pred = check.same_shape(y_true, y_pred, "y_true", "y_pred")
    return -tf.reduce_mean(y_true * tf.math.log(tf.clip_by_value(y_pred, eps, 1.0)))


def softmax_cross_entropy_with_logits(labels, logits, axis=-1):
    """tf.nn.softmax_cross_entropy_with_logits: one fused, max-shifted kernel;
    gradients flow into labels as well as logits (TF1's op stopped them at labels).

    A negative axis other than -1 is made positive first: TF 2.21 moves the class
    axis last with tf.range(axis, ...), which fails for axis = -2, -3, ...
    Bad input, as the reference: floating labels and logits of one shape only (the
    op would broadcast labels (N,) against logits (N, 1))."""
    check.floating(labels, "labels")
    check.floating(logits, "logits")
    check.rank_at_least(logits, 1, "logits")
    labels, logits = check.same_shape(labels, logits, "labels", "logits")
    check.axis_in_range(axis, logits)
    rank = tf.convert_to_tensor(logits).shape.rank
    if rank is not None and -rank <= axis < -1:
        axis += rank
    return tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits, axis=axis)


def sparse_softmax_cross_entropy_with_logits(labels, logits):
    """tf.nn.sparse_softmax_cross_entropy_with_logits, with the class ids checked first:
    TF's CPU kernel rejects an id outside [0, classes), its GPU kernel returns NaN.
    The asserts make eager, tf.function and Session runs reject it on every device;
    XLA drops Assert ops, so a jit-compiled call still returns NaN (see the test).
    Labels of any integer dtype, as the reference (the op takes int32/int64 only: uint8
    ids, as MNIST stores them, are cast to int64), shaped like logits without its class axis."""
    check.integer(labels, "labels")
    check.floating(logits, "logits")
    check.rank_at_least(logits, 1, "logits")
    labels, logits = check.batch_shape(labels, logits, "labels", "logits")
    labels = tf.convert_to_tensor(labels)
    if labels.dtype not in (tf.int32, tf.int64):
        labels = tf.cast(labels, tf.int64)
    classes = tf.cast(tf.shape(logits)[-1], labels.dtype)
    with tf.control_dependencies([
            tf.debugging.assert_non_negative(labels, message="labels must be class ids >= 0"),
            tf.debugging.assert_less(labels, classes, message="labels must be class ids < classes")]):
        labels = tf.identity(labels)
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def mean_squared_error(y_true, y_pred):
    """The TF1 book line ``tf.reduce_mean(tf.square(y_ - y))``.
    Bad input, as the reference: floating arrays of one shape only. The line alone
    broadcasts (N,) against (N, 1) into an (N, N) mean and averages integers in
    integer arithmetic; both are rejected here."""
    check.floating(y_true, "y_true")
    check.floating(y_pred, "y_pred")
    y_true, y_pred = check.same_shape(y_true, y_pred, "y_true", "y_pred")
    y_true, y_pred = tf.convert_to_tensor(y_true), tf.convert_to_tensor(y_pred)  # TF's -, not NumPy's or a list's
    return tf.reduce_mean(tf.square(y_true - y_pred))


def asymmetric_loss(v1, v2, a, b):
    """The TF1 book's custom loss
    ``tf.reduce_sum(tf.where(tf.greater(v1, v2), (v1 - v2) * a, (v2 - v1) * b))``
    (TF1 wrote tf.select, later tf.where; TF2's tf.where is where_v2).
    Bad input, as the reference: floating v1 and v2 of one shape only (where_v2
    would broadcast (N,) against (N, 1))."""
    check.floating(v1, "v1")
    check.floating(v2, "v2")
    v1, v2 = check.same_shape(v1, v2, "v1", "v2")
    # as tensors first: on NumPy arrays, v1 - v2 would run in NumPy (and float32 * np.float64(a) be float64)
    v1, v2 = tf.convert_to_tensor(v1), tf.convert_to_tensor(v2)
    return tf.reduce_sum(tf.where(tf.greater(v1, v2), (v1 - v2) * a, (v2 - v1) * b))


# --- the book's training loop with the asymmetric loss -------------------------------------

def asymmetric_regression(x, y_true, w, learning_rate, steps, loss_more, loss_less):
    """Fit y = x @ w under the asymmetric loss, the TF2 way: w a Variable (starting at ``w``),
    one keras.optimizers.SGD, each step ``asymmetric_loss(x @ w, y_true, a=loss_more, b=loss_less)``
    on a GradientTape and ``apply_gradients``. Over-prediction costs ``loss_more`` per unit,
    under-prediction ``loss_less``. Returns w after each step. Keras rounds the rate to float32."""
    check.positive(learning_rate=learning_rate)
    import keras
    x = tf.convert_to_tensor(x)
    y_true = tf.convert_to_tensor(y_true, x.dtype)
    var = tf.Variable(tf.convert_to_tensor(w, x.dtype))
    opt = keras.optimizers.SGD(float(learning_rate))
    trajectory = []
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = asymmetric_loss(tf.matmul(x, var), y_true, a=loss_more, b=loss_less)
        opt.apply_gradients([(tape.gradient(loss, var), var)])
        trajectory.append(var.numpy())
    return trajectory


def asymmetric_regression_v1(x, y_true, w, learning_rate, steps, loss_more, loss_less):
    """The book's TF1 program: placeholders x, y_, a variable w, ``y = tf.matmul(x, w)``,
    ``loss = tf.reduce_sum(tf.where(tf.greater(y, y_), (y - y_) * loss_more, (y_ - y) * loss_less))``,
    ``train_step = GradientDescentOptimizer(learning_rate).minimize(loss)`` run ``steps`` times in
    a Session on the full batch (the book trains with AdamOptimizer(0.001); plain gradient descent
    here, so the NumPy twin is one line a step). Returns w after each step."""
    check.positive(learning_rate=learning_rate)
    x, y_true = np.asarray(x), np.asarray(y_true)
    graph = tf.Graph()
    with graph.as_default():
        xs = tf.compat.v1.placeholder(x.dtype, (None, x.shape[1]))
        ys = tf.compat.v1.placeholder(y_true.dtype, (None, y_true.shape[1]))
        var = tf.compat.v1.Variable(np.asarray(w, x.dtype))
        y = tf.matmul(xs, var)
        loss = asymmetric_loss(y, ys, a=loss_more, b=loss_less)
        train_step = tf.compat.v1.train.GradientDescentOptimizer(learning_rate).minimize(loss)
        init = tf.compat.v1.global_variables_initializer()
    trajectory = []
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        for _ in range(steps):
            sess.run(train_step, feed_dict={xs: x, ys: y_true})
            trajectory.append(sess.run(var))
    return trajectory


# Derivatives: GradientTape's pull-back of dy through each function above.
clipped_cross_entropy_vjp = vjp(clipped_cross_entropy, wrt=(0, 1))
softmax_cross_entropy_with_logits_vjp = vjp(softmax_cross_entropy_with_logits, wrt=(0, 1))
sparse_softmax_cross_entropy_with_logits_vjp = vjp(sparse_softmax_cross_entropy_with_logits, wrt=(1,))
mean_squared_error_vjp = vjp(mean_squared_error, wrt=(0, 1))
asymmetric_loss_vjp = vjp(asymmetric_loss, wrt=(0, 1))
