"""The harness must catch real mistakes. Each test plants one bug in a TF function
and runs it through the same checks the generic tests use: the check must fail.

A bug the harness cannot see would let every catalog entry pass while wrong."""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

import tfimpl.moving_average as TM
import tfimpl.schedules as TS
from tests import harness
from tests.catalog import BY_NAME, CATALOG, strategies
from tests.catalog.concept import MODES, Sample
from tfimpl._autodiff import vjp

SOFTMAX = BY_NAME["softmax"]
X = Sample((np.random.default_rng(0).uniform(-3, 3, (4, 5)),), {"axis": -1}, id="planted")


def planted(fn):
    """The softmax entry with its TF function (and so its GradientTape gradient) replaced."""
    return SOFTMAX.replace(tf=fn, tf_vjp=vjp(fn))


def edge(concept, id_):
    return next(s for s in concept.edges if s.id == id_)


def test_a_correct_function_passes_every_check_it_is_planted_into():
    """Control: the checks below fail because of the planted bugs, not the set-up."""
    for mode in MODES:
        harness.check_values(SOFTMAX, X, "float32", mode)
        harness.check_gradient(SOFTMAX, X, np.ones((4, 5)), "float32", mode)
        harness.check_values(SOFTMAX, edge(SOFTMAX, "inf-nan"), "float32", mode)
        harness.check_values(SOFTMAX, edge(SOFTMAX, "empty-batch"), "float32", mode)


@pytest.mark.planted
def test_an_error_of_1e_minus_4_relative_in_float32_fails():
    bug = planted(lambda logits, axis=-1: tf.nn.softmax(logits, axis=axis) * (1 + 1e-4))
    for mode in MODES:
        with pytest.raises(AssertionError, match="disagree"):
            harness.check_values(bug, X, "float32", mode)


@pytest.mark.planted
def test_a_right_value_with_a_wrong_gradient_fails():
    @tf.custom_gradient
    def softmax_with_bad_grad(logits):
        y = tf.nn.softmax(logits)
        return y, lambda dy: 1.01 * y * (dy - tf.reduce_sum(dy * y, axis=-1, keepdims=True))

    bug = planted(lambda logits, axis=-1: softmax_with_bad_grad(logits))
    dy = np.random.default_rng(1).uniform(-1, 1, (4, 5))
    for mode in MODES:
        harness.check_values(bug, X, "float32", mode)  # the value is right...
        with pytest.raises(AssertionError, match="gradient"):  # ...the gradient is not
            harness.check_gradient(bug, X, dy, "float32", mode)
    with pytest.raises(AssertionError, match="finite differences"):
        harness.check_finite_differences(bug, "tf", X, dy, [[np.random.default_rng(2).uniform(-1, 1, (4, 5))]])


@pytest.mark.planted
def test_a_bug_only_inside_tf_function_fails_in_every_compiled_mode():
    def softmax(logits, axis=-1):
        y = tf.nn.softmax(logits, axis=axis)
        return y if tf.executing_eagerly() else y * 1.001

    bug = planted(softmax)
    harness.check_values(bug, X, "float32", "eager")
    for mode in ("function", "xla", "graph"):
        with pytest.raises(AssertionError, match="disagree"):
            harness.check_values(bug, X, "float32", mode)


@pytest.mark.planted
def test_nan_turned_into_zero_fails():
    def softmax(logits, axis=-1):
        y = tf.nn.softmax(logits, axis=axis)
        return tf.where(tf.math.is_nan(y), tf.zeros_like(y), y)

    bug = planted(softmax)
    for mode in MODES:
        with pytest.raises(AssertionError, match="NaN/inf mismatch"):
            harness.check_values(bug, edge(SOFTMAX, "inf-nan"), "float32", mode)


@pytest.mark.parametrize("kind", ["wrong-shape", "raises"])
def test_a_mishandled_empty_batch_fails(kind):
    def softmax(logits, axis=-1):
        y = tf.nn.softmax(logits, axis=axis)
        if kind == "wrong-shape":  # an empty batch comes back as one row of zeros
            return tf.cond(tf.size(y) > 0, lambda: y, lambda: tf.zeros([1, tf.shape(y)[1]], y.dtype))
        with tf.control_dependencies([tf.debugging.assert_positive(tf.size(y))]):
            return tf.identity(y)

    bug = planted(softmax)
    # XLA compiles Assert ops away, so there the "raises" bug is absent and softmax is right.
    for mode in MODES if kind == "wrong-shape" else ("eager", "function", "graph"):
        with pytest.raises((AssertionError, tf.errors.InvalidArgumentError)):
            harness.check_values(bug, edge(SOFTMAX, "empty-batch"), "float32", mode)


# --- bad input: both sides must reject it, for the same reason ----------------------------

MSE = BY_NAME["mean_squared_error"]


def bad_input(concept, id_):
    return next(case for case in concept.bad_inputs if case.id == id_)


def book_line_mse(y_true, y_pred):
    """The old tfimpl.losses.mean_squared_error: the book line with no input checks."""
    return tf.reduce_mean(tf.square(y_true - y_pred))


@pytest.mark.planted
def test_a_tf_function_that_broadcasts_n_against_n_by_1_fails_the_bad_input_check():
    """(4,) against (4, 1) broadcasts to a (4, 4) mean, 2.5, in every mode; the reference raises.
    The check must call TF's answer a failure in each mode, the real function (control) passing."""
    case = bad_input(MSE, "broadcast-column")
    harness.check_rejects(MSE, case)
    for mode in MODES:
        with pytest.raises(AssertionError, match=r"TF accepted it and returned 2\.5"):
            harness.check_rejects(MSE.replace(tf=book_line_mse), case, modes=(mode,))


@pytest.mark.planted
def test_a_rejection_for_another_reason_fails_the_bad_input_check():
    """Raising is not enough: the book line rejects (4, 3) against (4, 5) too, but with TF's
    'Incompatible shapes', not the reference's message naming y_true and y_pred. (Under XLA
    that is what the case expects: XLA compiles the runtime check away.)"""
    case = bad_input(MSE, "mismatched-shapes")
    harness.check_rejects(MSE, case)
    for mode in ("eager", "function", "graph"):
        with pytest.raises(AssertionError, match="TF rejected it for another reason"):
            harness.check_rejects(MSE.replace(tf=book_line_mse), case, modes=(mode,))


# --- sharper checks (issue 8): each class of bug a fixed floor or a blind spot let through ------


def hard_sigmoid(z):
    return tf.clip_by_value(0.2 * z + 0.5, 0.0, 1.0)  # Keras 2's hard_sigmoid


@pytest.mark.planted
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
@pytest.mark.parametrize("activation,hard", [("sigmoid", hard_sigmoid), ("tanh", lambda z: tf.clip_by_value(z, -1, 1))],
                         ids=["hard-sigmoid", "hard-tanh"])
def test_a_dense_layer_with_a_hard_activation_fails_in_every_dtype(dtype, activation, hard):
    """The piecewise-linear 'hard' activations are within 0.08 of the smooth ones: an absolute floor
    of 18 eps let them pass in bfloat16; the per-element error model does not."""
    dense = BY_NAME["dense"]
    bug = dense.replace(tf=lambda x, w, b, activation=None: hard(tf.matmul(x, w) + b))
    z = np.array([[-2.5, -1.0, 0.5, 1.5, 2.5]])
    sample = Sample((np.ones((1, 1)), z, np.zeros(5)), {"activation": activation}, id="hard")
    harness.check_values(dense, sample, dtype, "eager")  # control: the real layer passes
    for mode in MODES:
        with pytest.raises(AssertionError, match="disagree"):
            harness.check_values(bug, sample, dtype, mode)


@pytest.mark.planted
def test_tiny_probabilities_clipped_to_1e_minus_7_fail():
    """Half of all sampled probabilities lie below 1e-7; with an absolute floor of 1 they were never
    compared. Softmax's tolerance is now relative per element."""
    bug = planted(lambda logits, axis=-1: tf.clip_by_value(tf.nn.softmax(logits, axis=axis), 1e-7, 1.0))
    sample = Sample((np.array([[0.0, -20.0, -40.0]]),), {"axis": -1}, id="tiny-p")
    harness.check_values(SOFTMAX, sample, "float32", "eager")
    for mode in MODES:
        with pytest.raises(AssertionError, match="disagree"):
            harness.check_values(bug, sample, "float32", mode)


@pytest.mark.planted
def test_a_schedule_that_ignores_staircase_fails_in_bfloat16():
    """Step 9 of 10 without the floor is rate^0.9 instead of rate^0: 3.6 % off, 4.7 bfloat16 eps, under
    the old flat 16 eps. The derived budget knows a staircase's exponent is exact."""
    decay = BY_NAME["exponential_decay"]
    bug = decay.replace(tf=lambda lr, step, ds, rate, staircase=False: TS.exponential_decay(lr, step, ds, rate, False))
    sample = edge(decay, "staircase-boundaries")
    harness.check_values(decay, sample, "bfloat16", "eager")
    for mode in MODES:
        with pytest.raises(AssertionError, match="disagree"):
            harness.check_values(bug, sample, "bfloat16", mode)


@pytest.mark.planted
def test_a_float64_moving_average_done_in_float32_fails():
    """The float64 tolerance knows the exact error of TF's float32 1 - d (not a float32-sized budget),
    so an update computed wholly in float32 shows wherever that error does not already swamp it: with a decay float32 holds exactly (0.5, 0 and 1 are among the drawn decays), 1 - d is
    exact and the budget is a few float64 eps. (At d = 0.99 TF's own float32 1 - d is off by 1e-6
    relative, as much as rounding the values to float32 would cost: the two are indistinguishable.)"""
    ema = BY_NAME["ema_update"]

    def in_float32(shadow, value, decay, num_updates=None):
        out = TM.ema_update(tf.cast(shadow, tf.float32), tf.cast(value, tf.float32), decay, num_updates)
        return tf.cast(out, tf.float64)
    bug = ema.replace(tf=in_float32)
    sample = Sample((np.array([1.1, -2.3, 5.7]), np.array([0.3, 4.1, -1.9]), 0.5), id="float64")
    harness.check_values(ema, sample, "float64", "eager")
    for mode in MODES:
        with pytest.raises(AssertionError, match="disagree"):
            harness.check_values(bug, sample, "float64", mode)


@pytest.mark.planted
def test_tanh_from_sigmoid_fails_on_small_inputs():
    """tanh(x) = 2 sigmoid(2x) - 1 is exact maths and 470 eps off at x = 1e-3 in float32 (the subtraction
    cancels). The small-magnitude edge, whose values are not snapped to 0, catches it."""
    tanh = BY_NAME["tanh"]
    bug = tanh.replace(tf=lambda x: 2 * tf.math.sigmoid(2 * x) - 1)
    sample = edge(tanh, "small-magnitude")
    harness.check_values(tanh, sample, "float32", "eager")
    for mode in MODES:
        with pytest.raises(AssertionError, match="disagree"):
            harness.check_values(bug, sample, "float32", mode)


@pytest.mark.planted
def test_a_strategy_that_draws_only_trivial_inputs_fails_the_region_check():
    """The example budget went to empty and one-element inputs. Every concept's strategy must reach
    each region (test_catalog_strategies_reach_every_region); a strategy that cannot is caught."""
    trivial = st.sampled_from([Sample((np.zeros((0, 3)),)), Sample((np.array([0.5]),))])
    with pytest.raises(AssertionError, match="never reaches"):
        check_reaches(trivial, ("several elements",), "trivial")


def check_reaches(strategy, regions, name):
    """Every region in ``regions`` is reached by some draw of ``strategy`` (hypothesis.find)."""
    for region in regions:
        try:  # the first draw that reaches it will do: no shrinking
            find(strategy, lambda s: region in strategies.regions(s),
                 settings=settings(max_examples=300, database=None, derandomize=True, phases=[Phase.generate]))
        except NoSuchExample:
            raise AssertionError(f"{name}: the sample strategy never reaches the region '{region}' in 300 draws")


REGIONS = ("several elements", "rank > 2", "a magnitude below 1e-4", "a magnitude above 1")
AXIS_CONCEPTS = ("softmax", "log_softmax", "softmax_cross_entropy_with_logits")
NOT_APPLICABLE = {
    ("dense", "rank > 2"): "x, w are matrices and b a vector by definition",
    ("mlp_forward", "rank > 2"): "x, w are matrices and b a vector by definition",
    ("lstm_cell", "rank > 2"): "one step: x_t, h, c and the weights are matrices and the bias a vector by definition",
    ("clipped_cross_entropy", "a magnitude above 1"): "labels lie in [0, 1]; predictions above 1 are drawn "
                                                      "(1.1) but the first argument is the labels",
    ("exponential_decay", "several elements"): "the learning rate is a scalar; the steps vector is integer",
    ("exponential_decay", "rank > 2"): "the learning rate is a scalar; the steps vector is integer",
    ("exponential_decay", "a magnitude below 1e-4"): "learning rates are drawn in [1e-3, 1]: the schedule's "
                                                    "error is relative, magnitude-free",
    ("exponential_decay", "a magnitude above 1"): "learning rates are drawn in [1e-3, 1] (6e4: an edge)",
}


def expected_regions(concept):
    regions = [r for r in REGIONS if (concept.name, r) not in NOT_APPLICABLE]
    return regions + (["axis not last"] if concept.name in AXIS_CONCEPTS else [])


@pytest.mark.parametrize("concept", [c.name for c in CATALOG])
def test_catalog_strategies_reach_every_region(concept):
    """Non-empty inputs, rank > 2, a non-last axis, small and large magnitudes: each concept's
    strategy reaches every region that applies to it."""
    c = BY_NAME[concept]
    check_reaches(c.strategy(), expected_regions(c), concept)


@pytest.mark.planted
@pytest.mark.parametrize("dtype,off", [("float16", 0.02), ("bfloat16", 0.30), ("float32", 0.02)])
def test_a_wrong_hidden_layer_gradient_fails_in_low_precision_too(dtype, off):
    """mlp_forward's catalog vjp checks every layer's gradient, not only the final loss's: a hidden
    tanh whose backward pass is 2 % off fails in float16 and float32,
    30 % off in bfloat16: with 8 significant bits, every op of a two-layer backward pass rounding to
    bfloat16 (Eigen's matmuls accumulate in it; a TF1-graph sigmoid was measured 2 ulp off), the
    derived bound on this sample is about 10 % of the gradient, and a bug must exceed it."""
    @tf.custom_gradient
    def tanh_off(z):
        y = tf.math.tanh(z)
        return y, lambda dy: (1 + off) * dy * (1 - y * y)

    mlp = BY_NAME["mlp_forward"]

    def forward(x, w1, b1, w2, b2, activation="tanh"):
        return tf.matmul(tanh_off(tf.matmul(x, w1) + b1), w2) + b2
    bug = mlp.replace(tf=forward, tf_vjp=vjp(forward, wrt=tuple(range(5))))
    sample = edge(mlp, "two-hidden-tanh")
    sample = Sample(sample.args[:5], sample.kwargs, "one-hidden-tanh")  # x, w1, b1, w2, b2
    dy = np.random.default_rng(3).uniform(-1, 1, (5, 4))
    harness.check_gradient(mlp, sample, dy, dtype, "eager")  # control: the real network passes
    for mode in MODES:
        with pytest.raises(AssertionError, match="disagree"):
            harness.check_gradient(bug, sample, dy, dtype, mode)
