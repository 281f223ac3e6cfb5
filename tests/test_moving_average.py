"""Claims about exponential moving averages, against real tf.train.ExponentialMovingAverage objects."""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import reference.moving_average as R
import tfimpl.moving_average as T


def effective_decay(decay, n):
    """Run one real apply with shadow 0 and variable 1: the new shadow is 1 - d."""
    var = tf.Variable(np.float64(0.0))
    step = tf.Variable(n, dtype=tf.int64)
    ema = tf.train.ExponentialMovingAverage(decay, num_updates=step)
    ema.apply([var])
    var.assign(1.0)
    ema.apply([var])
    return 1.0 - ema.average(var).numpy()


@pytest.mark.claim("ch4.4.3", "the moving-average decay is min(decay, (1 + num_updates) / (10 + num_updates))",
                   source="book", page=91)
def test_num_updates_caps_the_decay_early_and_decay_wins_later():
    decay = 0.99
    crossover = int(np.ceil((10 * decay - 1) / (1 - decay)))  # (1 + n) / (10 + n) >= decay from here on: 890
    for n in (0, 1, 10, 100, crossover - 1, crossover, 10 ** 5):
        expected = R.ema_decay(decay, n)
        assert expected == (min(decay, (1 + n) / (10 + n)))
        # TF computes d in float32: |d32 - d| <= 2^-24
        np.testing.assert_allclose(effective_decay(decay, n), expected, atol=2 ** -23, err_msg=f"n = {n}")
    assert R.ema_decay(decay, 0) == 0.1 and R.ema_decay(decay, 10 ** 5) == decay


def test_tf_computes_the_decay_in_float32():
    """moving_averages.py: convert_to_tensor(decay, dtype=float32); float64 shadows get float32's 1 - d."""
    d = effective_decay(0.999, 10 ** 6)
    assert d == float(np.float32(0.999)) != 0.999
    assert T.ema_decay(0.999).dtype == tf.float32


def test_ema_update_is_bitwise_one_real_apply_step_by_step():
    rng = np.random.default_rng(0)
    for dtype in (np.float16, np.float32, np.float64):
        values = rng.standard_normal((20, 3)).astype(dtype)
        real = T.ema(values, 0.9, num_updates=range(19))  # a real ExponentialMovingAverage, eagerly
        shadow = tf.constant(values[0])
        for k, v in enumerate(values[1:]):
            shadow = T.ema_update(shadow, v, 0.9, k)
            assert real[k].tobytes() == shadow.numpy().tobytes(), f"{dtype.__name__} step {k}"


@pytest.mark.claim("ch4.4.3", "ema.apply keeps a shadow per variable, shadow = decay * shadow + (1 - decay) * "
                              "variable, and ema.average reads it", source="book", page=91, code="1.4.0/Chapter04/4. 滑动平均模型.ipynb, cells 2 and 4")
def test_tf1_apply_and_average_track_the_reference_step_by_step():
    values = np.random.default_rng(1).standard_normal((40, 4))
    averages = T.ema_v1(values, 0.95, num_updates=range(39))  # global step k during the k-th apply
    shadows = R.ema_v1(values, 0.95, num_updates=range(39))
    for k, v in enumerate(values[1:]):
        # float32 decay: |1 - d error| <= 2^-23 per step, the shadow contracts, values O(3)
        np.testing.assert_allclose(averages[k], shadows[k], atol=1e-6, err_msg=f"step {k}, value {v}")


@pytest.mark.claim("ch4.4.3", "the book's example prints the shadows 4.5, 4.555 and 4.60945", source="book", page=91,
                   code="1.4.0/Chapter04/4. 滑动平均模型.ipynb, cell 4 (prints 4.5, 4.5549998, 4.6094499)")
def test_book_example_shadows_are_4_5_then_4_555_then_4_60945():
    """The book's example: v1 = 0, step = 0 (decay min(0.99, 1/10) = 0.1); v1 = 5: shadow 4.5;
    step = 10000, v1 = 10 (decay 0.99): 4.555; apply again: 4.60945. TF's float32 decay: 1e-6."""
    values, steps = [0.0, 5.0, 10.0, 10.0], [0, 10000, 10000]
    expected = [4.5, 4.555, 4.60945]
    for form in (R.ema, R.ema_v1, T.ema, T.ema_v1):
        np.testing.assert_allclose(form(np.array(values), 0.99, num_updates=steps), expected, rtol=1e-6,
                                   err_msg=form.__module__)
    # the notebook's float32 shadows, printed with 8 significant digits (Python 2's str of a float32)
    shown = ["%.8g" % v for v in T.ema_v1(np.array(values, np.float32), 0.99, num_updates=steps)]
    assert shown == ["4.5", "4.5549998", "4.6094499"], shown


@pytest.mark.claim("ch4.4.3", "the moving-average model is more robust: its shadow varies less than the noisy "
                              "parameter", source="book", page=91)
def test_the_shadow_of_a_noisy_parameter_has_a_smaller_variance():
    """iid noise of variance s^2 around a constant: the stationary EMA variance is s^2 (1 - d) / (1 + d)."""
    noise = np.random.default_rng(2).standard_normal(600)
    shadows = T.ema(np.concatenate([[3.0], 3.0 + noise]), 0.9)[100:]  # a real ExponentialMovingAverage
    ratio = shadows.var() / noise[100:].var()
    assert ratio < 1, ratio
    np.testing.assert_allclose(ratio, (1 - 0.9) / (1 + 0.9), rtol=0.5)


class EmaMachine(RuleBasedStateMachine):
    """assign / apply / change num_updates on a real eager ExponentialMovingAverage; the reference
    shadow follows after every step."""

    @initialize(decay=st.sampled_from([0.5, 0.9, 0.99]), start=st.floats(-5, 5))
    def init(self, decay, start):
        self.decay, self.value, self.shadow, self.n = decay, np.float64(start), np.float64(start), 0
        self.var = tf.Variable(np.float64(start))
        self.step = tf.Variable(0, dtype=tf.int64)
        self.ema = tf.train.ExponentialMovingAverage(decay, num_updates=self.step)
        self.ema.apply([self.var])  # creates the shadow at the variable's value; d * s + (1 - d) * s = s

    @rule(x=st.floats(-5, 5))
    def assign(self, x):
        self.value = np.float64(x)
        self.var.assign(x)

    @rule()
    def apply(self):
        self.ema.apply([self.var])
        self.shadow = R.ema_update(self.shadow, self.value, self.decay, self.n)

    @rule(n=st.integers(0, 2000))
    def set_num_updates(self, n):
        self.n = n
        self.step.assign(n)

    @invariant()
    def agrees(self):
        if hasattr(self, "ema"):
            # the decay in float32: 1 - d off by <= 2^-23 per apply, times |shadow - value| <= 10
            np.testing.assert_allclose(self.ema.average(self.var).numpy(), self.shadow, atol=1e-5)


TestEmaMachine = EmaMachine.TestCase
TestEmaMachine.settings = settings(stateful_step_count=15)
