"""Learning-rate schedules: the step size as a function of the training step."""
import numpy as np

from reference import _checks as check
from reference._checks import in_float64


@in_float64
def exponential_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False):
    """learning_rate * decay_rate ** (global_step / decay_steps); staircase floors the exponent,
    so the rate is constant for decay_steps steps and then drops by a factor decay_rate.
    Mirrors keras.optimizers.schedules.ExponentialDecay (which rejects decay_steps <= 0).
    The result has learning_rate's dtype (TF: a Python float learning rate means float32).
    A floating learning_rate only: in TF an integer one makes the whole schedule integer."""
    check.floating(learning_rate, "learning_rate")
    check.real(global_step, "global_step")
    check.positive(decay_steps=decay_steps)
    p = np.asarray(global_step, np.float64) / decay_steps
    return learning_rate * decay_rate ** (np.floor(p) if staircase else p)


def exponential_decay_v1(learning_rate, global_step, decay_steps, decay_rate, staircase=False):
    """The same number; mirrors tf.compat.v1.train.exponential_decay (which, unlike Keras,
    does not check decay_steps: 0 gives step / 0 = inf, and so 0 or nan)."""
    return exponential_decay(learning_rate, global_step, decay_steps, decay_rate, staircase)


def decayed_gradient_descent(learning_rate, decay_steps, decay_rate, steps, staircase=False):
    """Gradient descent on loss = w (gradient 1) with the rate exponential_decay(..., k, ...) at
    step k = 0, 1, ...: returns (those rates, the step count after each step, 1 ... steps, and
    w = -(rate_0 + ... + rate_k) after each step). Mirrors minimize(loss, global_step=) in TF1 and
    Keras's SGD(ExponentialDecay(...)) with its iterations counter."""
    rates = exponential_decay(learning_rate, np.arange(steps), decay_steps, decay_rate, staircase)
    return rates, np.arange(1, steps + 1), -np.cumsum(rates)


def decayed_gradient_descent_v1(learning_rate, decay_steps, decay_rate, steps, staircase=False):
    """The same numbers; mirrors tf.compat.v1.train.exponential_decay + minimize(global_step=)."""
    return decayed_gradient_descent(learning_rate, decay_steps, decay_rate, steps, staircase)
