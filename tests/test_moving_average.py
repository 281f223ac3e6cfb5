"""Claims about exponential moving averages, against real tf.train.ExponentialMovingAverage objects."""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import reference.moving_average as R
import tfimpl.moving_average as T
from tests import trajectory
from tests.precision import DTYPES, np_dtype


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
    # per step: the reference's shadow moved by TF's known float32-decay drift, within the roundings
    # carried by the factor 1 - c of each later update (tests/trajectory.py, ema_bounds)
    centres, bounds = trajectory.ema_bounds(values, 0.95, range(39), shadows, "float64")
    trajectory.assert_drift_within(averages, centres, bounds, "ema_v1 against the reference")


NUM_UPDATES = {"no-num-updates": (0.9, None),
               "num-updates": (0.99, [0, 0, 1, 2, 5, 10, 10, 40, 80, 89, 90, 200, 500, 889, 890, 891, 2000, 10 ** 6,
                                      10 ** 6, 10 ** 9, 0, 3])}
"""case -> (decay, the step variable's value at each apply): without the cap, and with it rising
through the crossover (890 for 0.99) to huge, then falling back (a reset global step)."""


def check_shadows(form, case, dtype):
    """form's shadows against the reference's after every update, within the derived bounds
    (trajectory.ema_bounds): returns the largest share of a bound used."""
    decay, steps = NUM_UPDATES[case]
    count = 23 if steps is None else len(steps) + 1
    values = (np.random.default_rng(5).standard_normal((count, 2, 3)) * 3).astype(np_dtype(dtype))
    centres, bounds = trajectory.ema_bounds(values, decay, steps, R.ema(values, decay, steps), dtype)
    return trajectory.assert_drift_within(form(values, decay, steps), centres, bounds,
                                          f"{form.__module__}.{form.__name__}, {case}, {dtype}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(NUM_UPDATES))
def test_every_shadow_of_both_forms_is_the_reference_shadow_within_the_derived_bound(case, dtype):
    """ema (TF2, eager) and ema_v1 (the book's Session) against reference.moving_average.ema after
    every one of 22 updates, in every dtype, with and without num_updates. The centre is the
    reference's shadow moved by TF's known drift (its 1 - d in float32); the bound, each update's
    roundings on both sides carried by the later updates' factors 1 - c (tests/trajectory.py).
    Measured: 18 to 54 % of it used."""
    for form in (T.ema, T.ema_v1):
        check_shadows(form, case, dtype)


@pytest.mark.planted
def test_a_shadow_read_before_its_update_fails_the_per_step_check(monkeypatch):
    """Planted: the TF2 form reads each average before its apply instead of after (a lag of one
    update, the TF1 loop's two sess.run calls swapped). The check fails at the first update."""
    real = T.ema

    def lagging(values, decay, num_updates=None):
        return np.concatenate([np.asarray(values)[:1], real(np.asarray(values)[:-1], decay, num_updates)])
    monkeypatch.setattr(T, "ema", lagging)
    with pytest.raises(AssertionError, match=r"after step 1, .* off the derived bound"):
        check_shadows(T.ema, "num-updates", "float16")


def test_ema_decay_is_the_reference_cap_in_float32():
    """tfimpl's ema_decay (float32, as ExponentialMovingAverage computes it) against the reference's
    float64 cap, num_updates below, at and above the crossover: within float32's rounding of decay
    and of (1 + n) / (10 + n) (three roundings: 1.5 eps32 relative)."""
    for decay in (0.0, 0.5, 0.99, 0.999, 1.0):
        for n in (None, 0, 1, 9, 890, 10 ** 4, 2 ** 31):
            got, want = float(T.ema_decay(decay, n)), float(R.ema_decay(decay, n))
            assert abs(got - want) <= 1.5 * np.finfo(np.float32).eps * want, (decay, n, got, want)


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
    shadow follows after every step, within the drift bound derived for the applies so far."""

    @initialize(decay=st.sampled_from([0.5, 0.9, 0.99]), start=st.floats(-5, 5))
    def init(self, decay, start):
        self.decay, self.value, self.shadow, self.n = decay, np.float64(start), np.float64(start), 0
        self.applied, self.steps = [np.float64(start)], []  # the variable at each apply, num_updates at each
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
        self.applied.append(self.value)
        self.steps.append(self.n)

    @rule(n=st.integers(0, 2000))
    def set_num_updates(self, n):
        self.n = n
        self.step.assign(n)

    @invariant()
    def agrees(self):
        if getattr(self, "steps", None):
            shadows = R.ema(np.array(self.applied), self.decay, self.steps)
            assert shadows[-1] == self.shadow  # the reference's loop is its one-update function, applied in turn
            centres, bounds = trajectory.ema_bounds(self.applied, self.decay, self.steps, shadows, "float64")
            trajectory.assert_drift_within([self.ema.average(self.var).numpy()], centres[-1:], bounds[-1:],
                                           f"the shadow after {len(self.steps)} applies")


TestEmaMachine = EmaMachine.TestCase
TestEmaMachine.settings = settings(stateful_step_count=15)
