"""Named facts about the losses, each checked against real TensorFlow / Keras."""
import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

import reference.losses as R
import tfimpl.losses as T
from reference.activations import softmax as ref_softmax
from tests import harness, precision
from tests.catalog.concept import Sample
from tests.harness import assert_within


def rand_probs(rng, n, m):
    return rng.dirichlet(np.ones(m), n)


def one_hot(ids, m):
    return np.eye(m)[ids]


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 6), m=st.integers(2, 6))
@pytest.mark.claim("ch4.2.1", "-tf.reduce_mean(y_ * tf.log(tf.clip_by_value(y, 1e-10, 1.0))) is the cross-entropy of "
                              "the batch", source="book", page=78, verdict="corrected",
                   correction="y_ * log(y) is an n x m matrix and reduce_mean averages all n*m entries: the batch "
                              "cross-entropy divided by m")
def test_clipped_mean_runs_over_all_n_times_m_entries_so_it_is_batch_cross_entropy_over_m(seed, n, m):
    rng = np.random.default_rng(seed)
    y_true, y_pred = one_hot(rng.integers(0, m, n), m), rand_probs(rng, n, m)
    per_example = -np.sum(y_true * np.log(y_pred), axis=1)
    got = float(T.clipped_cross_entropy(y_true, y_pred))
    assert got == pytest.approx(per_example.mean() / m, rel=1e-12), (y_true, y_pred)
    assert float(R.clipped_cross_entropy(y_true, y_pred)) == pytest.approx(got, rel=1e-12)


@pytest.mark.claim("ch4.2.1", "clip_by_value keeps log(0) out of the loss", source="book", page=78)
def test_clipping_keeps_the_loss_finite_where_softmax_underflows_and_the_logits_form_stays_exact():
    """float32 softmax of logits [0, -200] underflows to [1, 0]. With the label on the second
    class, the exact loss is 200 (log-sum-exp form); the clipped form saturates at
    -log(1e-10) = 23.03 / m. Bound: per example, |clipped * m - exact| = exact - (-log eps)
    whenever the true-class probability is below eps, i.e. the clipped loss can only
    under-report, by exactly that difference; elsewhere they agree to float32 rounding."""
    logits = np.array([[0.0, -200.0], [2.0, 1.0]], np.float32)
    labels = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32)
    probs = tf.nn.softmax(logits).numpy()
    assert probs[0, 1] == 0.0  # underflow in float32
    with np.errstate(divide="ignore"):
        assert np.isinf(np.log(probs[0, 1]))  # unclipped log would be -inf
    exact = T.softmax_cross_entropy_with_logits(labels, logits).numpy()
    assert exact[0] == pytest.approx(200.0, rel=1e-6) and np.all(np.isfinite(exact))
    m = labels.shape[1]
    per_example_clipped = -np.sum(labels * np.log(np.clip(probs, 1e-10, 1.0)), axis=1)
    clipped = float(T.clipped_cross_entropy(labels, probs))
    assert clipped * m == pytest.approx(per_example_clipped.mean(), rel=1e-6)
    assert per_example_clipped[0] == pytest.approx(-np.log(np.float32(1e-10)), rel=1e-6)
    gap = exact - per_example_clipped
    assert gap[0] == pytest.approx(200.0 + np.log(1e-10), rel=1e-5)  # the stated bound, attained
    assert abs(gap[1]) <= 4 * np.finfo(np.float32).eps * exact[1]


@pytest.mark.claim("ch4.2.1", "clip_by_value keeps log(0) out of the loss", source="book", page=78,
                   verdict="corrected", correction="not in float16: 1e-10 rounds to 0 there and the loss is inf or NaN")
def test_clip_eps_underflows_to_zero_in_float16_so_the_classic_line_gives_nan():
    """np.float16(1e-10) == 0 (float16's smallest subnormal is 2**-24 ~ 6e-8): the clip
    is at 0, log(0) = -inf, and 0 * -inf = NaN. The reference with eps rounded to
    float16 (eps = 0) reproduces it; eps = 2**-14 (float16's tiny) protects again."""
    assert np.float16(1e-10) == 0
    y_true = np.array([[0.0, 1.0], [1.0, 0.0]], np.float16)
    y_pred = np.array([[0.0, 1.0], [1.0, 0.0]], np.float16)
    for fn in (T.clipped_cross_entropy, tf.function(T.clipped_cross_entropy)):
        assert np.isnan(fn(y_true, y_pred).numpy())
    with np.errstate(divide="ignore", invalid="ignore"):
        assert np.isnan(R.clipped_cross_entropy(y_true, y_pred, eps=float(np.float16(1e-10))))
    safe = T.clipped_cross_entropy(y_true, y_pred, eps=2.0 ** -14).numpy()
    assert safe == 0 and safe.dtype == np.float16


@pytest.mark.claim("ch4.2.1", "the cross-entropy of the answer (1, 0, 0) and the prediction (0.5, 0.4, 0.1) is about "
                              "0.3, and of (1, 0, 0) and (0.8, 0.1, 0.1) about 0.1", source="book",
                   verdict="corrected",
                   correction="those are base-10 logarithms (-log10 0.5 = 0.301, -log10 0.8 = 0.097); tf.log, which "
                              "the book's cross-entropy code takes, is the natural log: 0.693 and 0.223 (the "
                              "ranking is the same, every value ln 10 = 2.3 times larger)")
def test_the_books_cross_entropy_examples_are_base_10_while_tf_log_is_the_natural_log():
    y_ = np.array([[1.0, 0.0, 0.0]] * 2)
    y = np.array([[0.5, 0.4, 0.1], [0.8, 0.1, 0.1]])
    assert tf.compat.v1.log is tf.math.log
    book_line = (-tf.reduce_sum(y_ * tf.compat.v1.log(y), axis=1)).numpy()  # the book's formula, per example
    np.testing.assert_allclose(book_line, [np.log(2.0), -np.log(0.8)], rtol=1e-15)
    assert np.round(book_line, 3).tolist() == [0.693, 0.223]
    assert np.round(book_line / np.log(10.0), 1).tolist() == [0.3, 0.1]  # the book's numbers: base 10
    assert np.round(-np.log10(y[:, 0]), 3).tolist() == [0.301, 0.097]
    # the logits op agrees (softmax(log y) = y): TF's cross-entropy is in nats throughout
    np.testing.assert_allclose(T.softmax_cross_entropy_with_logits(y_, np.log(y)).numpy(), book_line, rtol=1e-15)


@given(seed=st.integers(0, 2**32 - 1))
def test_clipped_float16_agrees_with_the_reference_where_predictions_are_normal_numbers(seed):
    rng = np.random.default_rng(seed)
    y_true = rng.uniform(0, 1, (3, 4)).astype(np.float16)
    y_pred = rng.uniform(2.0 ** -14, 1, (3, 4)).astype(np.float16)
    expected = float(R.clipped_cross_entropy(y_true.astype(np.float64), y_pred.astype(np.float64)))
    got = float(T.clipped_cross_entropy(y_true, y_pred).numpy())
    assert abs(got - expected) <= 3 * 2.0 ** -10 * abs(expected), (y_true, y_pred)


def test_clip_gradient_passes_at_exactly_the_bounds():
    """tf.clip_by_value is maximum(minimum(y, hi), lo); _MinimumGrad selects with <=,
    _MaximumGrad with >= (tensorflow/python/ops/math_grad.py), so at y == lo and y == hi
    the gradient flows; strictly outside it is 0."""
    y = tf.constant([0.25, 1.0, 0.1, 1.5, 0.5])
    with tf.GradientTape() as tape:
        tape.watch(y)
        out = tf.clip_by_value(y, 0.25, 1.0)
    assert tape.gradient(out, y).numpy().tolist() == [1.0, 1.0, 0.0, 0.0, 1.0]
    y_true = np.ones(5, np.float32)
    g_tf = T.clipped_cross_entropy_vjp(y_true, y.numpy(), dy=np.float32(1.0), eps=0.25)[1].numpy()
    g_ref = R.clipped_cross_entropy_vjp(y_true, y.numpy(), dy=np.float32(1.0), eps=0.25)[1]
    np.testing.assert_allclose(g_tf, g_ref, rtol=1e-6)
    assert g_tf[0] != 0 and g_tf[1] != 0 and g_tf[2] == 0 and g_tf[3] == 0


@pytest.mark.claim("ch4.2.1", "the cross-entropy of a softmax output y is "
                              "tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=y)", source="notes",
                   verdict="wrong",
                   correction="the notes set two of the book's snippets side by side: the book's y here is the "
                              "network's raw output (the logits), and every official script passes logits "
                              "(1.4.0/Chapter05/5. MNIST最佳实践/mnist_train.py line 28: "
                              "sparse_softmax_cross_entropy_with_logits(logits=y, labels=tf.argmax(y_, 1))). Fed the "
                              "softmax output, the op applies softmax a second time")
def test_the_books_logits_form_is_the_cross_entropy_and_softmax_output_fed_to_it_is_softmaxed_twice():
    """The book's form, logits = the raw output y (dense labels, and the sparse form of its MNIST
    script), is the cross-entropy of softmax(y); the notes' softmax output in its place is not."""
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((5, 4)) * 3
    ids = rng.integers(0, 4, 5)
    labels = one_hot(ids, 4)
    right = T.softmax_cross_entropy_with_logits(labels, logits).numpy()
    wrong = T.softmax_cross_entropy_with_logits(labels, tf.nn.softmax(logits)).numpy()
    np.testing.assert_allclose(right, -np.sum(labels * np.log(ref_softmax(logits)), axis=1), rtol=1e-12)
    np.testing.assert_allclose(T.sparse_softmax_cross_entropy_with_logits(ids, logits).numpy(), right, rtol=1e-12)
    assert np.all(np.abs(wrong - right) > 1e-3), (right, wrong)
    # squashing probabilities through a second softmax pulls every loss towards log(m)
    assert np.all(np.abs(wrong - np.log(4)) < np.abs(right - np.log(4)) + 1e-12)


@given(seed=st.integers(0, 2**32 - 1))
@pytest.mark.claim("ch4.3", "the gradient of softmax cross-entropy with respect to the logits is softmax(logits) - "
                            "labels", source="book")
def test_softmax_cross_entropy_gradient_wrt_logits_is_softmax_minus_labels(seed):
    rng = np.random.default_rng(seed)
    logits, labels = rng.standard_normal((3, 5)) * 4, rand_probs(rng, 3, 5)
    _, g = T.softmax_cross_entropy_with_logits_vjp(labels, logits, dy=np.ones(3))
    np.testing.assert_allclose(g.numpy(), ref_softmax(logits) - labels, atol=1e-12)


def test_tf_gradient_wrt_labels_is_minus_log_softmax():
    """_SoftmaxCrossEntropyWithLogitsGrad returns grad * -log_softmax(logits) for labels."""
    logits, labels = np.array([[1.0, 2.0, -1.0]]), np.array([[0.2, 0.5, 0.3]])
    g, _ = T.softmax_cross_entropy_with_logits_vjp(labels, logits, dy=np.ones(1))
    np.testing.assert_allclose(g.numpy(), -(logits - np.log(np.sum(np.exp(logits)))), rtol=1e-12)


def test_tf_logits_gradient_assumes_labels_sum_to_one():
    """The kernel's backprop is softmax - labels whatever the labels sum to; the
    derivative of the loss it returns is softmax * sum(labels) - labels."""
    logits, labels = np.array([[1.0, 2.0, -1.0]]), np.array([[1.0, 1.0, 0.0]])
    _, g = T.softmax_cross_entropy_with_logits_vjp(labels, logits, dy=np.ones(1))
    np.testing.assert_allclose(g.numpy(), ref_softmax(logits) - labels, rtol=1e-12)
    true = R.softmax_cross_entropy_with_logits_vjp(labels, logits, dy=np.ones(1))[1]
    assert not np.allclose(g.numpy(), true)


def xent_bound(logits, ids, dtype):
    """|computed loss - exact| per example for -log_softmax(logits)[id], logits exact in ``dtype``:
    z = logits - max rounds (eps/2 |z|, in z_id and, as a relative error of exp(z_j), in the sum);
    each exp(z_j) off by eps (|z_j| / 2 + 1) relative (Eigen's exp within 2 ulp), the m-term sum
    m/2 more; log passes the sum's relative error on as absolute and adds its ulp of |lse| (eps);
    the final subtraction eps/2 |loss|. A one-hot label times a term is exact, and the zeros add
    nothing, so the dense form obeys the same bound."""
    z = logits - logits.max(axis=-1, keepdims=True)
    lse = np.log(np.sum(np.exp(z), axis=-1))
    z_id = np.take_along_axis(z, ids[:, None], axis=-1)[:, 0]
    return precision.eps(dtype) * (np.abs(z_id) / 2 + np.abs(z).max(axis=-1, initial=0.0) / 2 + 1 + logits.shape[-1] / 2
                           + np.abs(lse) + np.abs(lse - z_id) / 2)


@pytest.mark.parametrize("dtype", ["bfloat16", "float32", "float64"])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 5), m=st.integers(1, 6))
@pytest.mark.claim("ch4.2.1", "sparse_softmax_cross_entropy_with_logits takes class ids and equals the dense loss with "
                              "one-hot labels", source="book")
def test_sparse_loss_equals_dense_loss_with_one_hot_labels(dtype, seed, n, m):
    """On both sides, TF in ``dtype`` and the reference in float64 on the same rounded logits;
    float16 is left out only because its range makes exp(z) underflow from z = -17."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, m, n)
    logits = (rng.standard_normal((n, m)) * 5).astype(precision.np_dtype(dtype))
    logits64 = logits.astype(np.float64)
    labels = one_hot(ids, m)
    bound = xent_bound(logits64, ids, dtype)
    results = {}
    for name, sparse_fn, dense_fn, dt, lab, lg in (
            ("reference", R.sparse_softmax_cross_entropy_with_logits, R.softmax_cross_entropy_with_logits,
             "float64", labels, logits64),
            ("tf", lambda i, x: T.sparse_softmax_cross_entropy_with_logits(i, x).numpy(),
             lambda y, x: T.softmax_cross_entropy_with_logits(y, x).numpy(), dtype,
             labels.astype(logits.dtype), logits)):
        results[name] = sparse_fn(ids, lg), dense_fn(lab, lg)
        # the two forms: each within its bound of the exact loss, so within twice of each other
        assert_within(*results[name], 2 * xent_bound(logits64, ids, dt),
                      f"{name} sparse vs dense, dtype {dtype}, ids={ids.tolist()}, logits={logits64.tolist()}")
    for i, form in enumerate(("sparse", "dense")):
        assert_within(results["tf"][i], results["reference"][i], bound + xent_bound(logits64, ids, "float64"),
                      f"tf {form} vs the float64 reference, dtype {dtype}, ids={ids.tolist()}, "
                      f"logits={logits64.tolist()}")


@pytest.mark.parametrize("mode", ["eager", "function", "xla", "graph"])
def test_sparse_loss_takes_uint8_class_ids_as_mnist_stores_them(mode):
    """The op takes int32/int64 ids only; tfimpl casts other integer ids to int64 and the reference
    takes any integer dtype, so uint8 ids give, on each side, the loss int64 ids give."""
    ids = np.array([3, 0, 9], np.uint8)
    logits = np.random.default_rng(5).standard_normal((3, 10)) * 5
    ref = R.sparse_softmax_cross_entropy_with_logits(ids, logits)
    np.testing.assert_array_equal(ref, R.sparse_softmax_cross_entropy_with_logits(ids.astype(np.int64), logits))
    got = harness.run(T.sparse_softmax_cross_entropy_with_logits, Sample((ids, logits)), mode)
    np.testing.assert_array_equal(got, harness.run(T.sparse_softmax_cross_entropy_with_logits,
                                             Sample((ids.astype(np.int64), logits)), mode))
    assert_within(got, ref, 2 * xent_bound(logits, ids.astype(np.int64), "float64"), f"tf vs reference [{mode}]")


@pytest.mark.parametrize("mode", ["eager", "function", "graph", "xla"])
def test_out_of_range_class_id_is_rejected_except_under_xla_which_returns_nan(mode):
    """TF's CPU kernel raises, its GPU kernel returns NaN; tfimpl's explicit asserts make
    every device reject it eagerly, in tf.function and in a Session. XLA compiles Assert
    ops away and returns NaN: a jit-compiled caller must check ids itself."""
    sample = Sample((np.array([0, 3]), np.ones((2, 3))))
    with pytest.raises(ValueError, match=r"labels must be class ids in \[0, 3\), got 3 at index \(1,\)"):
        R.sparse_softmax_cross_entropy_with_logits(*sample.args)
    if mode == "xla":
        assert np.isnan(harness.run(T.sparse_softmax_cross_entropy_with_logits, sample, mode)[1])
    else:
        with pytest.raises(tf.errors.InvalidArgumentError, match="class ids"):
            harness.run(T.sparse_softmax_cross_entropy_with_logits, sample, mode)


def test_zero_label_times_minus_inf_logit_is_nan_eagerly_but_zero_under_xla():
    labels, logits = np.array([[0.0, 1.0]]), np.array([[-np.inf, 1.0]])
    with np.errstate(invalid="ignore"):
        assert np.isnan(R.softmax_cross_entropy_with_logits(labels, logits)[0])
    assert np.isnan(T.softmax_cross_entropy_with_logits(labels, logits).numpy()[0])
    xla = tf.function(T.softmax_cross_entropy_with_logits, jit_compile=True)
    assert xla(labels, logits).numpy()[0] == 0.0


def test_keras_loss_objects_average_the_per_example_losses_over_the_batch():
    rng = np.random.default_rng(1)
    logits = (rng.standard_normal((6, 4)) * 3).astype(np.float32)
    ids = rng.integers(0, 4, 6)
    soft = rand_probs(rng, 6, 4).astype(np.float32)
    cce = keras.losses.CategoricalCrossentropy(from_logits=True)(soft, logits)
    np.testing.assert_allclose(cce, R.softmax_cross_entropy_with_logits(soft, logits).astype(np.float64).mean(),
                               rtol=1e-6)
    scce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(ids, logits)
    np.testing.assert_allclose(scce, R.sparse_softmax_cross_entropy_with_logits(ids, logits).astype(
        np.float64).mean(), rtol=1e-6)
    y_true, y_pred = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    mse = keras.losses.MeanSquaredError()(y_true.astype(np.float32), y_pred.astype(np.float32))
    np.testing.assert_allclose(mse, R.mean_squared_error(y_true, y_pred), rtol=1e-6)


@pytest.mark.claim("ch4.2.2", "the custom loss costs a per unit of over-prediction and b per unit of under-prediction",
                   source="book", code="1.4.0/Chapter04/1. 自定义损失函数.ipynb, cell 4")
def test_asymmetric_gradient_is_a_above_the_kink_and_minus_b_below_and_at_it():
    """tf.where(tf.greater(v1, v2), ...) takes the b branch at a tie, and tf.where's
    gradient goes to the selected branch only: d/dv1 = -b at v1 == v2."""
    v1, v2 = np.array([2.0, 0.0, 1.0]), np.array([1.0, 1.0, 1.0])
    g1, g2 = T.asymmetric_loss_vjp(v1, v2, dy=np.float64(1.0), a=3.0, b=7.0)
    assert g1.numpy().tolist() == [3.0, -7.0, -7.0] and g2.numpy().tolist() == [-3.0, 7.0, 7.0]
    r1, r2 = R.asymmetric_loss_vjp(v1, v2, dy=np.float64(1.0), a=3.0, b=7.0)
    assert r1.tolist() == g1.numpy().tolist() and r2.tolist() == g2.numpy().tolist()


def _book_data():
    """The book's data: X uniform in [0, 1)^2, y = x1 + x2 + noise in [-0.05, 0.05) (seeded)."""
    rdm = np.random.RandomState(1)
    x = rdm.rand(128, 2)
    y = (x[:, 0] + x[:, 1] + rdm.rand(128) / 10.0 - 0.05)[:, None]
    return x, y


@pytest.mark.parametrize("loss_more,loss_less,side", [(1.0, 10.0, "above"), (10.0, 1.0, "below")])
@pytest.mark.claim("ch4.2.2", "trained with the custom loss, the model predicts high when under-prediction costs more, "
                              "low when over-prediction does", source="book",
                   code="1.4.0/Chapter04/1. 自定义损失函数.ipynb, cells 4 and 8")
def test_asymmetric_loss_pushes_weights_above_1_when_under_prediction_costs_more(loss_more, loss_less, side):
    """The book: loss = tf.reduce_sum(tf.where(tf.greater(y, y_), (y - y_) * loss_more,
    (y_ - y) * loss_less)) with y the prediction, i.e.
    asymmetric_loss(y_pred, y_true, a=loss_more, b=loss_less) (v1 = prediction; the
    brief's a=loss_less, b=loss_more swaps the book's constants). Full-batch gradient
    descent from w = 1 in float64: the NumPy loop on the reference gradient, a real
    Session with GradientDescentOptimizer and Keras's SGD agree step by step."""
    x, y = _book_data()
    # lr a power of 2: the optimizer makes its learning rate a float32 tensor first
    w0, lr, steps = np.ones((2, 1)), 2.0 ** -12, 60
    for form, twin in ((T.asymmetric_regression_v1, R.asymmetric_regression_v1),
                       (T.asymmetric_regression, R.asymmetric_regression)):
        ref = twin(x, y, w0, lr, steps, loss_more, loss_less)
        tfs = form(x, y, w0, lr, steps, loss_more, loss_less)
        for i, (a, b) in enumerate(zip(ref, tfs)):
            np.testing.assert_allclose(b, a, rtol=1e-12, err_msg=f"{form.__name__}, step {i}")
    w = np.mean(ref[-20:], axis=0)  # GD on a piecewise-linear loss hovers; average the tail
    assert (np.all(w > 1) if side == "above" else np.all(w < 1)), (side, w.ravel())
