"""Learning-rate schedules in TensorFlow: the Keras schedule object (TF2) and the
TF1 function that builds the same graph.

Both compute (keras/src/optimizers/schedules/learning_rate_schedule.py)::

    dtype = convert_to_tensor(initial_learning_rate).dtype   # Python float -> float32
    p = cast(step, dtype) / cast(decay_steps, dtype)          # step rounded to dtype first
    if staircase: p = floor(p)
    return initial_learning_rate * pow(cast(decay_rate, dtype), p)

so everything happens in the learning rate's dtype: in float16 a step above 2048
is rounded before the division (tests/test_schedules.py pins what that does).
``decayed_gradient_descent_v1`` is the book's training program around the TF1
schedule (minimize(loss, global_step=)), ``decayed_gradient_descent`` the Keras one
(SGD(ExponentialDecay(...)), whose iterations counter is the global step).
"""
import numpy as np
import tensorflow as tf

from tfimpl import _checks as check


def exponential_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False):
    """keras.optimizers.schedules.ExponentialDecay(learning_rate, decay_steps, decay_rate, staircase)(global_step).
    Keras raises ValueError for decay_steps <= 0 when the schedule is built (the check below
    says it in the reference's words). A floating learning_rate only, as the reference: Keras
    computes the schedule in the learning rate's dtype, so an integer rate would turn
    decay_rate 0.96 into 0 and return 0."""
    check.floating(learning_rate, "learning_rate")
    check.real(global_step, "global_step")
    check.positive(decay_steps=decay_steps)
    import keras
    return keras.optimizers.schedules.ExponentialDecay(
        learning_rate, decay_steps, decay_rate, staircase=staircase)(global_step)


def exponential_decay_v1(learning_rate, global_step, decay_steps, decay_rate, staircase=False):
    """tf.compat.v1.train.exponential_decay. In a graph (TF1 Session, tf.function) it returns
    the decayed rate tensor; executing eagerly it returns a function of no arguments that
    computes it (functools.partial(schedule, global_step), legacy_learning_rate_decay.py),
    so an optimizer sees the current value of a global_step variable at each call.
    It does not check decay_steps."""
    lr = tf.compat.v1.train.exponential_decay(learning_rate, global_step, decay_steps, decay_rate, staircase)
    return lr() if callable(lr) else lr


def decayed_gradient_descent(learning_rate, decay_steps, decay_rate, steps, staircase=False):
    """The TF2 loop with a decaying rate: ``keras.optimizers.SGD(ExponentialDecay(...))``, whose
    ``iterations`` counter is the global step, applied ``steps`` times to a variable w whose loss
    is w itself (gradient 1, so each step moves w by exactly the rate it used).
    Returns (the rate each step used, iterations after each step, w after each step)."""
    import keras
    schedule = keras.optimizers.schedules.ExponentialDecay(learning_rate, decay_steps, decay_rate,
                                                           staircase=staircase)
    opt = keras.optimizers.SGD(schedule)
    w = tf.Variable(tf.zeros([], tf.convert_to_tensor(learning_rate).dtype))
    rates, counts, ws = [], [], []
    for _ in range(steps):
        rates.append(schedule(opt.iterations).numpy())
        opt.apply_gradients([(tf.ones_like(w), w)])
        counts.append(opt.iterations.numpy())
        ws.append(w.numpy())
    return np.array(rates), np.array(counts), np.array(ws)


def decayed_gradient_descent_v1(learning_rate, decay_steps, decay_rate, steps, staircase=False):
    """The book's TF1 program::

        global_step = tf.Variable(0, trainable=False)
        learning_rate = tf.train.exponential_decay(0.1, global_step, 100, 0.96, staircase=True)
        learning_step = tf.train.GradientDescentOptimizer(learning_rate).minimize(loss, global_step=global_step)

    run ``steps`` times in a Session, with loss = w (gradient 1). ``minimize(..., global_step=)``
    adds one to global_step per run; the rate fetched in the same run is the one the update used.
    Returns (that rate, global_step after each run, w after each run). A np.float64 learning_rate
    and decay_rate keep the schedule in float64 (Python floats make it float32)."""
    graph = tf.Graph()
    with graph.as_default():
        global_step = tf.compat.v1.train.get_or_create_global_step()
        lr = tf.compat.v1.train.exponential_decay(learning_rate, global_step, decay_steps, decay_rate, staircase)
        w = tf.compat.v1.Variable(tf.zeros([], lr.dtype))
        learning_step = tf.compat.v1.train.GradientDescentOptimizer(lr).minimize(w, global_step=global_step)
        init = tf.compat.v1.global_variables_initializer()
    rates, counts, ws = [], [], []
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        for _ in range(steps):
            _, used = sess.run([learning_step, lr])
            count, w_after = sess.run([global_step, w])
            rates.append(used)
            counts.append(count)
            ws.append(w_after)
    return np.array(rates), np.array(counts), np.array(ws)
