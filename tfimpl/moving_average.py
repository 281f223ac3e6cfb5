"""Exponential moving averages in TensorFlow: tf.train.ExponentialMovingAverage.

ExponentialMovingAverage.apply (tensorflow/python/training/moving_averages.py) does::

    decay = convert_to_tensor(self._decay, dtype=float32)            # always float32
    if num_updates is not None:
        decay = minimum(decay, (1.0 + n) / (10.0 + n))              # n = cast(num_updates, float32)
    assign_moving_average(avg, var, decay, zero_debias)
        one_minus = convert_to_tensor(1.0 - decay)                   # float32
        one_minus = cast(one_minus, avg.dtype)
        avg.assign_sub((avg - var) * one_minus)

It never increments num_updates itself (pass a global_step variable you step),
and zero_debias only applies to shadows of plain tensors in TF1 graphs (shadows of
Variables start at the variable's value, not at 0).

``ema_update`` below is that arithmetic, op for op, as a pure function of the
shadow: a variable-creating EMA object cannot run per call inside a tf.function
or a placeholder-fed Session. ``ema`` (TF2, eager) and ``ema_v1`` (the book's TF1
Session) are the real object, ``apply`` and ``average`` over a sequence of values.
tests/test_moving_average.py proves ema_update is bitwise what a real
ExponentialMovingAverage.apply produces, step by step.
"""
import numpy as np
import tensorflow as tf

from tfimpl import _checks as check


def ema_decay(decay, num_updates=None):
    """The decay ExponentialMovingAverage.apply uses: float32, min(decay, (1 + n) / (10 + n))."""
    check.in_unit_interval(decay=decay)
    d = tf.convert_to_tensor(decay, dtype=tf.float32)
    if num_updates is not None:
        n = tf.cast(num_updates, tf.float32)
        d = tf.minimum(d, (1.0 + n) / (10.0 + n))
    return d


def ema_update(shadow, value, decay, num_updates=None):
    """The shadow after one ExponentialMovingAverage.apply: shadow - (shadow - value) * (1 - d),
    1 - d computed in float32 and cast to the shadow's dtype.

    An adapter, not the API: it is apply's arithmetic as a pure function of the shadow, so the
    generic tests can run it in every mode. The object keeps the shadow in a variable of its
    own; a training loop creates it once and calls apply after each step (``ema`` below)::

        step = tf.Variable(0, dtype=tf.int64)
        ema = tf.train.ExponentialMovingAverage(decay, num_updates=step)
        for batch in batches:
            train_step(batch)                  # updates var, step.assign_add(1)
            ema.apply([var])                   # shadow <- shadow - (shadow - var) * (1 - d)
        ema.average(var)                       # the shadow variable

    Bad input, as the reference: floating shadow and value of one shape only
    (ExponentialMovingAverage averages float variables; the arithmetic alone would
    broadcast a value (N, 1) against a shadow (N,) into an (N, N) "shadow")."""
    check.floating(shadow, "shadow")
    check.floating(value, "value")
    value, shadow = check.same_shape(value, shadow, "value", "shadow")
    shadow = tf.convert_to_tensor(shadow)
    one_minus = tf.cast(1.0 - ema_decay(decay, num_updates), shadow.dtype)
    return shadow - (shadow - tf.convert_to_tensor(value, shadow.dtype)) * one_minus


def ema(values, decay, num_updates=None):
    """A real tf.train.ExponentialMovingAverage of a variable, eagerly (TF2): the variable starts
    at values[0] and ``ema.apply([var])`` creates its shadow there; then for k = 1, 2, ...:
    ``var.assign(values[k])``, set the num_updates variable to num_updates[k - 1] (None: no cap),
    ``ema.apply([var])``. Returns ``ema.average(var)`` after each apply, shape (len(values) - 1, ...)."""
    check.in_unit_interval(decay=decay)
    values = tf.convert_to_tensor(values)
    var = tf.Variable(values[0])
    step = None if num_updates is None else tf.Variable(0, dtype=tf.int64)
    average = tf.train.ExponentialMovingAverage(decay, num_updates=step)
    average.apply([var])  # the shadow starts at var's value; this first update leaves it there
    shadows = []
    for k in range(1, values.shape[0]):
        var.assign(values[k])
        if step is not None:
            step.assign(int(num_updates[k - 1]))
        average.apply([var])
        shadows.append(average.average(var).numpy())
    return np.reshape(shadows, (values.shape[0] - 1,) + tuple(values.shape[1:])).astype(values.dtype.as_numpy_dtype)


def ema_v1(values, decay, num_updates=None):
    """The book's TF1 form of ``ema``, run in a Session::

        step = tf.Variable(0, trainable=False)
        ema = tf.train.ExponentialMovingAverage(decay, step)
        maintain_averages_op = ema.apply([v1])
        ...
        sess.run(tf.assign(v1, value)); sess.run(tf.assign(step, n)); sess.run(maintain_averages_op)
        sess.run(ema.average(v1))

    The variable starts at values[0] (its shadow too, from the initializer); then for each later
    value: assign it, assign num_updates[k - 1] to the step (None: no step), run apply, read
    the average. Returns the averages, shape (len(values) - 1, ...)."""
    check.in_unit_interval(decay=decay)
    values = np.asarray(values)
    graph = tf.Graph()
    with graph.as_default():
        var = tf.compat.v1.Variable(values[0])
        step = None if num_updates is None else tf.compat.v1.Variable(0, dtype=tf.int64, trainable=False)
        average = tf.compat.v1.train.ExponentialMovingAverage(decay, num_updates=step)
        maintain_averages_op = average.apply([var])
        shadow = average.average(var)
        new_value = tf.compat.v1.placeholder(var.dtype, values.shape[1:])
        assign_value = tf.compat.v1.assign(var, new_value)
        if step is not None:
            new_step = tf.compat.v1.placeholder(tf.int64, [])
            assign_step = tf.compat.v1.assign(step, new_step)
        init = tf.compat.v1.global_variables_initializer()
    shadows = []
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        for k in range(1, len(values)):
            sess.run(assign_value, {new_value: values[k]})
            if step is not None:
                sess.run(assign_step, {new_step: num_updates[k - 1]})
            sess.run(maintain_averages_op)
            shadows.append(sess.run(shadow))
    return np.reshape(shadows, (len(values) - 1,) + values.shape[1:]).astype(values.dtype)
