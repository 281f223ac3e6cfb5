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


def exponential_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False):
    """keras.optimizers.schedules.ExponentialDecay(learning_rate, decay_steps, decay_rate, staircase)(global_step).
    Keras raises ValueError for decay_steps <= 0 when the schedule is built."""
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
