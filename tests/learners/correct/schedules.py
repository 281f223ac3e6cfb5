"""A learner's learning-rate decay, chapter 4.4.1."""
import tensorflow as tf

from tfimpl import _checks as check


def exponential_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False):
    """learning_rate * decay_rate ** (global_step / decay_steps), the exponent floored with staircase,
    all in the learning rate's dtype."""
    check.floating(learning_rate, "learning_rate")
    check.real(global_step, "global_step")
    check.positive(decay_steps=decay_steps)
    lr = tf.convert_to_tensor(learning_rate)
    p = tf.cast(global_step, lr.dtype) / tf.cast(decay_steps, lr.dtype)
    if staircase:
        p = tf.floor(p)
    return lr * tf.pow(tf.cast(decay_rate, lr.dtype), p)
