"""Claims about exponential learning-rate decay, checked on real TF1 Sessions and Keras schedules."""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import reference.schedules as R
import tfimpl.schedules as T
from tests import harness
from tests.catalog import error_models
from tests.precision import EPS as EPS_OF


def F64(x):
    """A float64 tensor: a Python decay_rate would be rounded to float32 first (see below)."""
    return tf.constant(x, tf.float64)


def test_a_python_decay_rate_is_rounded_to_float32_even_for_a_float64_learning_rate():
    """Both schedules cast(decay_rate, dtype); a Python float becomes a float32 tensor before the cast
    (tf.cast / keras ops.cast convert it first), so 0.96 arrives in float64 as float32(0.96)."""
    lr64 = tf.constant(1.0, tf.float64)
    for fn in (T.exponential_decay, T.exponential_decay_v1):
        assert fn(lr64, 10, 10, 0.96).numpy() == float(np.float32(0.96)) != 0.96
        assert fn(lr64, 10, 10, F64(0.96)).numpy() == 0.96


@pytest.mark.claim("ch4.4.1", "with staircase=True the learning rate is constant within each interval of decay_steps",
                   source="book")
def test_staircase_decay_is_constant_within_each_interval():
    steps = np.arange(0, 60)
    lr = T.exponential_decay(tf.constant(0.1, tf.float64), steps, 10, 0.96, staircase=True).numpy()
    for k in range(6):
        block = lr[10 * k:10 * (k + 1)]
        assert np.all(block == block[0]), f"interval {k}: {block}"


@pytest.mark.claim("ch4.4.1", "with staircase=True the learning rate drops by a factor decay_rate every decay_steps "
                              "steps", source="book")
def test_staircase_drops_by_exactly_decay_rate_at_each_boundary():
    steps = np.arange(0, 60)
    lr = T.exponential_decay(tf.constant(1.0, tf.float64), steps, 10, 0.5, staircase=True).numpy()
    assert np.array_equal(lr[10::10] / lr[9:-1:10], np.full(5, 0.5)), lr  # powers of two: exact
    lr = T.exponential_decay(tf.constant(0.1, tf.float64), steps, 10, F64(0.96), staircase=True).numpy()
    np.testing.assert_allclose(lr[10::10] / lr[9:-1:10], 0.96, rtol=4e-16)  # two roundings of a float64 quotient


@pytest.mark.claim("ch4.4.1", "minimize(loss, global_step=global_step) increments global_step, so "
                              "exponential_decay's rate decays as training runs", source="book",
                   code="1.4.0/Chapter04/2. 学习率的设置.ipynb, cell 6")
def test_minimize_with_global_step_uses_the_reference_rate_at_each_step():
    """TF1: minimize(loss, global_step=...) adds one to global_step per run, and the rate fetched in the
    same run (the one the update used) is the reference value at the step before the increment.
    loss = w has gradient 1, so w moves by exactly that rate."""
    used, steps, w = T.decayed_gradient_descent_v1(np.float64(0.1), 5, np.float64(0.9), 30)
    w_before = np.concatenate([[0.0], w[:-1]])
    for k in range(30):
        assert steps[k] == k + 1
        expected = R.exponential_decay(np.float64(0.1), k, 5, 0.9)
        np.testing.assert_allclose(used[k], expected, rtol=4e-16, err_msg=f"step {k}")
        np.testing.assert_allclose(w_before[k] - w[k], expected, rtol=1e-13, err_msg=f"step {k}")


@pytest.mark.claim("ch4.4.1", "learning_rate = tf.train.exponential_decay(0.1, global_step, 100, 0.96, "
                              "staircase=True) starts at 0.1 and multiplies the rate by 0.96 every 100 steps",
                   source="book")
def test_the_books_decay_of_0_1_by_0_96_every_100_steps_in_a_session():
    """The book's numbers, in the book's TF1 program (Python floats: a float32 schedule): the rate a
    minimize step uses is 0.1 for steps 0-99, 0.1 * 0.96 for 100-199, 0.1 * 0.96 ** 2 from 200, each
    the float32 rounding of float32(0.1) * float32(0.96) ** k."""
    used, counts, _ = T.decayed_gradient_descent_v1(0.1, 100, 0.96, 251, staircase=True)
    assert counts.tolist() == list(range(1, 252))
    lr, rate = np.float32(0.1), np.float32(0.96)
    expected = [lr * rate ** np.float32(k // 100) for k in range(251)]
    np.testing.assert_allclose(used, expected, rtol=2 * np.finfo(np.float32).eps)
    assert used[0] == used[99] == np.float32(0.1) and used[100] == used[199] != used[200] == used[250]
    assert np.round(used[[0, 100, 200]].astype(np.float64), 7).tolist() == [0.1, 0.096, 0.09216]


@pytest.mark.claim("ch4.4.1", "decaying the rate (exponential_decay(0.1, global_step, 1, 0.96, staircase=True)) gets "
                              "x ** 2 from x = 5 to 0.028727 in 91 steps, the rate down to 0.002436", source="book",
                   code="1.4.0/Chapter04/2. 学习率的设置.ipynb, cell 6 (its printed output)")
def test_the_books_decayed_descent_on_x_squared_prints_the_books_numbers():
    """The notebook's program through tf.compat.v1, float32: x and the rate (read after the step, so
    already decayed once more) after steps 1, 11, ..., 91, printed with %f as the notebook does."""
    printed = [("4.000000", "0.096000"), ("0.690561", "0.063824"), ("0.222583", "0.042432"), ("0.106405", "0.028210"),
               ("0.065548", "0.018755"), ("0.047625", "0.012469"), ("0.038558", "0.008290"), ("0.033523", "0.005511"),
               ("0.030553", "0.003664"), ("0.028727", "0.002436")]
    graph = tf.Graph()
    with graph.as_default():
        global_step = tf.compat.v1.Variable(0)
        learning_rate = tf.compat.v1.train.exponential_decay(0.1, global_step, 1, 0.96, staircase=True)
        x = tf.compat.v1.Variable(tf.constant(5, dtype=tf.float32), name="x")
        train_op = tf.compat.v1.train.GradientDescentOptimizer(learning_rate).minimize(tf.square(x),
                                                                                        global_step=global_step)
        init = tf.compat.v1.global_variables_initializer()
    got = []
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        for i in range(100):
            sess.run(train_op)
            if i % 10 == 0:
                got.append(("%f" % sess.run(x), "%f" % sess.run(learning_rate)))
    assert got == printed


def test_keras_sgd_with_a_schedule_counts_its_own_steps_like_global_step():
    """TF2: keras.optimizers.SGD(ExponentialDecay(...)) uses its iterations counter as the global step:
    the same rates, counts and w as the TF1 loop and the reference (float64 rate and decay_rate)."""
    args = (np.float64(0.1), 5, np.float64(0.9), 30)
    for form, twin in ((T.decayed_gradient_descent, R.decayed_gradient_descent),
                       (T.decayed_gradient_descent_v1, R.decayed_gradient_descent_v1)):
        for name, got, want in zip(("rate", "count", "w"), form(*args), twin(*args)):
            np.testing.assert_allclose(got, want, rtol=1e-13, err_msg=f"{form.__name__}: {name}")


def test_v1_exponential_decay_returns_a_callable_when_eager():
    step = tf.Variable(0, dtype=tf.int64)
    lr = tf.compat.v1.train.exponential_decay(0.1, step, 10, 0.5, staircase=True)
    assert callable(lr)
    step.assign(25)
    assert lr().numpy() == np.float32(0.025)  # reads the variable at call time; a Python float -> float32
    assert lr().dtype == tf.float32


def test_v1_does_not_check_decay_steps_but_keras_does():
    assert np.isnan(T.exponential_decay_v1(tf.constant(0.1, tf.float64), 0, 0, 0.5).numpy())  # 0 / 0
    assert T.exponential_decay_v1(tf.constant(0.1, tf.float64), 3, 0, 0.5).numpy() == 0.0  # 0.5 ** inf
    try:
        T.exponential_decay(0.1, 3, 0, 0.5)
    except ValueError as e:
        assert "decay_steps" in str(e)
    else:
        raise AssertionError("keras ExponentialDecay accepted decay_steps=0")


def test_float16_rounds_the_step_before_dividing():
    """Keras casts the step to the learning rate's dtype: float16 holds integers exactly only up to 2048,
    so step 2999 becomes 3000 and a staircase with decay_steps 1000 drops one step early."""
    lr = T.exponential_decay(tf.constant(1.0, tf.float16), np.array([2999], np.int64), 1000, 0.5, staircase=True)
    assert lr.numpy()[0] == np.float16(0.125)  # floor(3000 / 1000) = 3
    assert R.exponential_decay(np.float16(1.0), np.array([2999]), 1000, 0.5, staircase=True)[0] == np.float16(0.25)


class ScheduleMachine(RuleBasedStateMachine):
    """A global_step variable moved by small advances and jumps; the Keras schedule and the
    eager v1 callable (bound to the variable) follow the reference after every move."""

    @initialize(lr=st.floats(1e-3, 1.0), decay_steps=st.integers(1, 1000), rate=st.floats(0.1, 1.0),
                staircase=st.booleans())
    def start(self, lr, decay_steps, rate, staircase):
        self.args = (np.float64(lr), decay_steps, rate, staircase)
        self.step = 0
        self.var = tf.Variable(0, dtype=tf.int64)
        self.v1 = tf.compat.v1.train.exponential_decay(tf.constant(lr, tf.float64), self.var, decay_steps, F64(rate),
                                                       staircase)

    @rule(n=st.integers(1, 50))
    def advance(self, n):
        self.step += n
        self.var.assign_add(n)

    @rule(to=st.integers(0, 10 ** 6))
    def jump(self, to):
        self.step = to
        self.var.assign(to)

    @invariant()
    def agrees(self):
        if not hasattr(self, "args"):
            return
        lr, ds, rate, stair = self.args
        expected = R.exponential_decay(lr, self.step, ds, rate, stair)
        keras_value = T.exponential_decay(tf.constant(lr, tf.float64), self.var, ds, F64(rate), stair).numpy()
        # float64; pow's condition number in p is |p ln rate| <= 1e6 * 2.3: bound the error by it
        rtol = 4e-16 * (2 + abs(self.step / ds * np.log(rate)))
        for name, got in (("keras", keras_value), ("v1", self.v1().numpy())):
            np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-300,
                                       err_msg=f"{name} at step {self.step}, args {self.args}")


TestScheduleMachine = ScheduleMachine.TestCase
TestScheduleMachine.settings = settings(stateful_step_count=10)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_v1_exponential_decay_in_a_session_agrees_with_the_reference(dtype):
    """tfimpl's exponential_decay_v1 built in a TF1 graph over a step placeholder and run by a Session
    (as the book runs it) against reference.exponential_decay, for staircase False and True, decay_steps
    7, 37 and 250 (not the book's 100) and decay rates 0.5, 0.9 and 0.99 (not 0.96), steps 0 .. 2000
    (0.5^(2000 / 7) is below tiny and flushes). The learning rate and the rate are the dtype's numbers
    on both sides (a float64 tensor for the rate: a Python float would be rounded to float32 first).

    Bound per step: error_models.schedule_error (the catalog's exponential_decay model: p's two
    roundings in a graph carried by pow, |p ln rate|; pow's ulp; the product; Eigen's vectorised
    float64 pow; a flushed power). The second rounding of p was found here: grappler's constant
    folding turns step / decay_steps into step * (1 / decay_steps) (measured: 499 / 7 comes out one
    float32 ulp off, 38 eps on the result at rate 0.5, 1.45x the model that charged one rounding;
    eagerly the division is correctly rounded); the model now charges both. With these decay_steps no multiple of
    decay_steps lands below its integer (see the next test), so the staircase's floor is exact. In
    float64, + 1 eps |result|: the reference's pow and product round as often. Measured, where the power does not
    flush (a flushed power costs its whole value, which the bound charges exactly): at most 0.75
    (float32) and 0.57 (float64) of the bound. Sharp: the planted step off by one (step + 1) and the
    staircase flag ignored each fail it."""
    dt = np.dtype(dtype)
    steps = np.array([0, 1, 6, 7, 8, 36, 37, 38, 249, 250, 251, 499, 500, 1000, 1749, 1750, 2000], np.int64)
    for lr, decay_steps, rate in ((0.25, 7, 0.5), (1e-3, 37, 0.9), (0.1, 250, 0.99)):
        lr_d, rate_d = dt.type(lr), dt.type(rate)
        for staircase in (False, True):
            graph = tf.Graph()
            with graph.as_default():
                step = tf.compat.v1.placeholder(tf.int64, [None])
                out = T.exponential_decay_v1(tf.constant(lr_d), step, decay_steps, tf.constant(rate_d), staircase)
            with tf.compat.v1.Session(graph=graph) as sess:
                got = sess.run(out, {step: steps})
            assert got.dtype == dt
            args = (np.float64(lr_d), steps, decay_steps, np.float64(rate_d))
            expected = R.exponential_decay_v1(*args, staircase=staircase)  # the twin judges the TF1 form
            model = error_models.schedule_error(dtype, *args, staircase=staircase)
            if dtype == "float64":
                model = model + np.abs(expected)
            bound = model * EPS_OF[dtype]
            what = f"exponential_decay_v1({lr}, steps, {decay_steps}, {rate}, staircase={staircase}) [{dtype}]"
            harness.assert_within(got, expected, bound, what)
            for name, wrong in (("step off by one", R.exponential_decay(*args[:1], steps + 1, *args[2:],
                                                                         staircase=staircase)),
                                ("staircase ignored", R.exponential_decay(*args, staircase=not staircase))):
                assert np.any(np.abs(got - wrong) > bound), f"{what}: the planted {name} passes"


def test_a_float32_graph_staircase_drops_one_step_late_where_the_reciprocal_rounds_down():
    """exponential_decay_v1(1.0, step, 41, 0.5, staircase=True) in float32: the reference and eager
    Keras drop to 0.5 at step 41 and 0.25 at 82; the same schedule run by a Session gives 1.0 at 41 and
    0.5 at 82, because float32(41) * float32(1 / 41) = 0.99999994 floors to 0 (grappler's
    ReduceDivToReciprocalMul; with constant folding off the graph divides and agrees). float64 keeps it.
    The book's claim that the staircase drops at every multiple of decay_steps holds eagerly only."""
    steps = np.array([40, 41, 42, 82, 83], np.int64)
    assert np.float32(41) * (np.float32(1) / np.float32(41)) < 1
    expected = R.exponential_decay(np.float64(1.0), steps, 41, np.float64(0.5), staircase=True)
    np.testing.assert_array_equal(expected, [1.0, 0.5, 0.5, 0.25, 0.25])
    eager = T.exponential_decay(tf.constant(np.float32(1.0)), tf.constant(steps), 41, tf.constant(np.float32(0.5)),
                                staircase=True)
    np.testing.assert_array_equal(eager.numpy(), expected)
    for dtype, want in ((tf.float32, [1.0, 1.0, 0.5, 0.5, 0.25]), (tf.float64, expected)):
        graph = tf.Graph()
        with graph.as_default():
            step = tf.compat.v1.placeholder(tf.int64, [None])
            out = T.exponential_decay_v1(tf.constant(1.0, dtype), step, 41, tf.constant(0.5, dtype), staircase=True)
        with tf.compat.v1.Session(graph=graph) as sess:
            np.testing.assert_array_equal(sess.run(out, {step: steps}), want, err_msg=str(dtype))
