"""Learning-rate schedules in TensorFlow: the Keras schedule object (TF2) and the
TF1 function that builds the same graph.

Both compute (keras/src/optimizers/schedules/learning_rate_schedule.py)::

    dtype = convert_to_tensor(initial_learning_rate).dtype   # Python float -> float32
    p = cast(step, dtype) / cast(decay_steps, dtype)          # step rounded to dtype first
    if staircase: p = floor(p)
    return initial_learning_rate * pow(cast(decay_rate, dtype), p)

so everything happens in the learning rate's dtype: in float16 a step above 2048
is rounded before the division (tests/test_schedules.py pins what that does).
"""
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
