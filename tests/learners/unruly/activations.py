"""Two functions that would stop a test runner: one hangs, one crashes the process."""
import os

import tensorflow as tf

from tfimpl import _checks as check


def relu(x):
    """max(x, 0), by a loop that waits for a condition that never changes."""
    check.real(x, "x")
    done = False
    while not done:  # the mistake: nothing in the loop sets done
        pass
    return tf.maximum(x, 0)


def sigmoid(x):
    """1 / (1 + exp(-x)), by a call that aborts the process (as a failed CHECK inside TensorFlow does)."""
    check.floating(x, "x")
    os.abort()
