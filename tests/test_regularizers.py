"""Named facts about the weight penalties, checked against real TF1 graphs and Keras."""
import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

import reference.nn as RN
import reference.regularizers as R
import tfimpl.regularizers as T
from tests import harness
from tests.catalog import error_models
from tests.precision import EPS as EPS_OF
from tests.precision import np_dtype

EPS = EPS_OF["float64"]


@given(seed=st.integers(0, 2**32 - 1), scale=st.sampled_from([0.0, 0.001, 0.01, 0.5]))
@pytest.mark.claim("ch4.4.2", "L1 regularisation adds scale * sum|w| to the loss, L2 adds scale * sum w^2",
                   source="book")
def test_keras_l1_and_l2_objects_agree_with_the_pair(seed, scale):
    """Keras rounds the factor to float32 (ops.cast of a float32 tensor), hence rtol 1e-7."""
    w = np.random.default_rng(seed).standard_normal((3, 4))
    for keras_reg, ref, impl, ref_keras, impl_keras in (
            (keras.regularizers.L1, R.l1, T.l1, R.l1_keras, T.l1_keras),
            (keras.regularizers.L2, R.l2, T.l2, R.l2_keras, T.l2_keras)):
        k = float(keras_reg(scale)(tf.constant(w)))
        assert k == pytest.approx(float(ref(w, scale)), rel=1e-7, abs=1e-300), (keras_reg, w, scale)
        assert float(impl(w, scale)) == pytest.approx(float(ref(w, scale)), rel=1e-14, abs=1e-300)
        # the Keras forms are the objects; their references round the factor to float32 as Keras does
        assert float(impl_keras(w, scale)) == k
        assert float(impl_keras(w, scale)) == pytest.approx(float(ref_keras(w, scale)), rel=1e-14, abs=1e-300)


@pytest.mark.claim("ch4.4.2", "tf.contrib.layers.l2_regularizer(scale)(w) is scale * sum(w^2) / 2, TensorFlow halving "
                              "the sum so that its derivative is simpler: l1_regularizer(.5) of [[1, -2], [-3, 4]] "
                              "is (1 + 2 + 3 + 4) * 0.5 = 5 and l2_regularizer(.5) is (1 + 4 + 9 + 16) / 2 * 0.5 = "
                              "7.5", source="book")
def test_the_books_l1_and_l2_regularizer_example_gives_5_and_7_5():
    """The book's weights and scale through the contrib code's op sequence (tfimpl's l1_v1 / l2_v1,
    tf.contrib being gone) and the references: every sum is exact in float32."""
    weights = np.array([[1.0, -2.0], [-3.0, 4.0]], np.float32)
    assert float(T.l1_v1(weights, 0.5)) == float(R.l1(weights.astype(np.float64), 0.5)) == 5.0
    assert float(T.l2_v1(weights, 0.5)) == 0.5 * float(R.l2_loss(weights.astype(np.float64))) == 7.5
    assert float(tf.nn.l2_loss(weights)) == 15.0  # sum w^2 / 2: the half is tf.nn.l2_loss's


@given(seed=st.integers(0, 2**32 - 1))
@pytest.mark.claim("ch4.4.2", "Keras's L2(scale) is scale * sum(w^2), twice TF1's l2_regularizer(scale) = "
                              "scale * sum(w^2) / 2: a port keeps the penalty with L2(scale / 2)", source="port")
def test_keras_l2_is_exactly_twice_tf1_l2_regularizer(seed):
    """TF1: tf.contrib.layers.l2_regularizer(s)(w) = s * tf.nn.l2_loss(w) = s * sum w^2 / 2;
    Keras: L2(s)(w) = s * sum w^2. Scales are powers of 2 so float32 rounding cannot blur the 2x."""
    w = np.random.default_rng(seed).standard_normal((4, 3)).astype(np.float32)
    s = 2.0 ** -7
    tf1 = float(T.l2_v1(w, s))
    assert tf1 == float(s * tf.nn.l2_loss(w))
    assert float(keras.regularizers.L2(s)(tf.constant(w))) == 2 * tf1
    assert float(T.l2_keras(w, s)) == 2 * tf1 == float(T.l2_keras(w, 0.5 * s)) * 2  # TF's upgrade script: l2(0.5 * s)
    assert float(R.l2(w.astype(np.float64), s)) == pytest.approx(2 * float(s * R.l2_loss(w.astype(np.float64))),
                                                                  rel=1e-15)


def test_l1_gradient_at_zero_is_zero_in_tf():
    """tf.abs's gradient is sign(x) (math_grad._AbsGrad) and sign(0) = 0."""
    w = np.array([0.0, -0.0, 2.0, -3.0])
    g = T.l1_vjp(w, dy=np.float64(1.0), scale=0.5).numpy()
    assert g.tolist() == [0.0, 0.0, 0.5, -0.5]
    assert R.l1_vjp(w, dy=np.float64(1.0), scale=0.5).tolist() == g.tolist()


def _network(rng):
    """A 2 -> 5 -> 3 -> 1 network: weights, biases, one seeded batch."""
    sizes = [2, 5, 3, 1]
    ws = [rng.standard_normal((a, b)) for a, b in zip(sizes, sizes[1:])]
    bs = [rng.standard_normal(b) * 0.1 for b in sizes[1:]]
    x, y = rng.standard_normal((16, 2)), rng.standard_normal((16, 1))
    return ws, bs, x, y


@pytest.mark.claim("ch4.4.2", "add_to_collection('losses', ...) for every layer's penalty, then "
                              "add_n(get_collection('losses')), is the total loss", source="book", page=89,
                   code="1.4.0/Chapter04/3. 正则化.ipynb, cells 3 and 5")
def test_tf1_loss_collection_total_equals_numpy_and_keras_model_losses():
    """J(theta) + lambda R(w), the book's way: each layer adds
    l2_regularizer(lambda)(w) = lambda * tf.nn.l2_loss(w) to the 'losses' collection, the
    MSE joins it, tf.add_n sums it in a Session. TF2: Dense layers with
    kernel_regularizer=L2(lambda / 2) (Keras has no 1/2), total = MSE + sum(model.losses)."""
    rng = np.random.default_rng(7)
    ws, bs, x, y = _network(rng)
    params, lam = list(zip(ws, bs)), 2.0 ** -6
    expected = R.regularized_mse(x, y, params, lam)
    tf1_total = T.regularized_mse_v1(x, y, params, lam)
    assert tf1_total == pytest.approx(expected, rel=1e-12)

    tf2_total = float(T.regularized_mse(x, y, params, lam))
    # lam / 2 = 2**-7 is exact in float32, so Keras's float32 factor costs nothing here
    assert tf2_total == pytest.approx(expected, rel=1e-12)


@pytest.mark.claim("ch4.4.2", "tf.contrib is gone in TF2: tf.contrib.layers.l2_regularizer(scale) ports as "
                              "tf.keras.regularizers.l2(0.5 * scale), as TF's own upgrade script tf_upgrade_v2 "
                              "writes it", source="port")
def test_tf2_upgrade_script_rewrites_contrib_l2_regularizer_as_keras_l2_of_half_the_scale(tmp_path):
    """tf.contrib is gone in TF 2; TF's own upgrade script (tf_upgrade_v2, shipped with TensorFlow)
    rewrites the book's call as tf.keras.regularizers.l2(0.5 * (scale)), which is l2_v1's number
    (for a scale float32 holds exactly: Keras rounds the factor)."""
    from tensorflow.tools.compatibility import ast_edits, tf_upgrade_v2
    book, upgraded = tmp_path / "book.py", tmp_path / "upgraded.py"
    book.write_text("import tensorflow as tf\nreg = tf.contrib.layers.l2_regularizer(scale)\n")
    ast_edits.ASTCodeUpgrader(tf_upgrade_v2.TFAPIChangeSpec()).process_file(str(book), str(upgraded))
    assert "reg = tf.keras.regularizers.l2(0.5 * (scale))" in upgraded.read_text()
    w, s = np.random.default_rng(3).standard_normal((4, 3)), 2.0 ** -5
    assert float(T.l2_keras(w, 0.5 * s)) == float(T.l2_v1(w, s))


@pytest.mark.claim("ch4.4.2", "tf.compat.v1.keras.regularizers.l2(scale) is not TF1's l2_regularizer(scale): in "
                              "TF 2.21 it is Keras 3's L2 itself, twice the TF1 penalty", source="port")
def test_compat_v1_keras_l2_is_keras_3_l2_twice_the_tf1_penalty():
    """The usual migration advice, tf.compat.v1.keras.regularizers.l2 for tf.contrib.layers.l2_regularizer,
    doubles the penalty: in TF 2.21 the compat name is Keras 3's L2 class itself, scale * sum w^2."""
    assert tf.compat.v1.keras.regularizers.l2 is keras.regularizers.L2
    w, s = np.random.default_rng(4).standard_normal((4, 3)), 2.0 ** -5
    assert float(tf.compat.v1.keras.regularizers.l2(s)(tf.constant(w))) == 2 * float(T.l2_v1(w, s))


def regularized_mse_bound(x, y, params, scale, activation):
    """Both sides' error bound of mean((y - f)^2) + sum of scale * l2_loss(w), f the network's output:
    f's error (error_models.mlp_error: the dense layers, the earlier error carried through |w|) moves
    each squared residual by 2 |y - f| df; the n squares, their sum and the mean round (n + 1) / 2 eps
    of the sum; each penalty's K squares and sum ((K + 1) / 2 eps of the sum) and its product with
    scale / 2 (Keras rounds scale / 2 to float32: a power of 2 here, exact); the L + 1 terms' sum.
    Twice that: the two sides compute the same terms in their own orders."""
    wb = [a for pair in params for a in pair]
    out = RN.mlp_forward(x, params, activation)
    f_err = error_models.mlp_error("float64", x, *wb, activation=activation) * EPS
    r = np.abs(y - out)
    mse = np.mean(r ** 2)
    penalties = [scale * np.sum(w ** 2) / 2 for w, _ in params]
    err = np.mean(2 * r * f_err) + 0.5 * (r.size + 1) * EPS * mse
    err += sum(0.5 * (np.size(w) + 2) * EPS * p for (w, _), p in zip(params, penalties))
    err += 0.5 * (len(params) + 1) * EPS * (mse + sum(penalties))
    return 2 * err


def check_regularized_loss(activation):
    """Both TF forms against the reference with one hidden activation; returns the share of the bound used."""
    ws, bs, x, y = _network(np.random.default_rng(9))
    params, lam = list(zip(ws, bs)), 2.0 ** -3
    expected = R.regularized_mse(x, y, params, lam, activation)
    assert R.regularized_mse_v1(x, y, params, lam, activation) == expected
    bound, used = regularized_mse_bound(x, y, params, lam, activation), 0.0
    for form in (T.regularized_mse, T.regularized_mse_v1):
        got = float(form(x, y, params, lam, activation))
        assert abs(got - expected) <= bound, (f"{form.__name__}, {activation}: {got!r} vs the reference's {expected!r}, "
                                              f"|diff| {abs(got - expected):.3g} > bound {bound:.3g}")
        used = max(used, abs(got - expected) / bound)
    return used


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", None], ids=["sigmoid", "tanh", "linear"])
def test_the_regularized_loss_with_every_activation_is_the_references(activation):
    """regularized_mse (Keras Dense layers with kernel_regularizer, MSE + sum(model.losses)) and
    regularized_mse_v1 (the book's "losses" collection) with each hidden activation besides relu
    (above), against the reference, within both sides' error model."""
    check_regularized_loss(activation)


@pytest.mark.planted
def test_a_regularized_loss_that_ignores_the_activation_fails_the_check(monkeypatch):
    """Planted: the TF1 form builds its hidden layers with relu whatever it is given (every test used relu)."""
    real = T.regularized_mse_v1
    monkeypatch.setattr(T, "regularized_mse_v1", lambda x, y, params, scale, activation="relu": real(x, y, params, scale))
    with pytest.raises(AssertionError, match=r"<lambda>, tanh: .* > bound"):
        check_regularized_loss("tanh")


@given(seed=st.integers(0, 2**32 - 1), scale=st.sampled_from([0.0, 0.001, 0.01, 0.5, 3.0]))
def test_the_tf1_contrib_forms_are_the_references(seed, scale):
    """l1_v1 and l2_v1 (contrib's op sequence) against reference.regularizers.l1_v1 and l2_v1: a sum
    of K terms (|w| exact, w^2 0.5 eps), within (K - 1) / 2 eps of the sum of |terms| on each side, the
    product with scale and the halving (exact) one more rounding; twice, for the two sides."""
    w = np.random.default_rng(seed).standard_normal((4, 3))
    k = w.size
    for tf_form, ref_form, terms in ((T.l1_v1, R.l1_v1, np.abs(w)), (T.l2_v1, R.l2_v1, w ** 2 / 2)):
        got, want = float(tf_form(w, scale)), float(ref_form(w, scale))
        bound = 2 * EPS * (0.5 * (k - 1) + 0.5 * (ref_form is R.l2_v1) * k + 0.5) * scale * terms.sum()
        assert abs(got - want) <= bound, (tf_form.__name__, scale, got, want, bound)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_keras_l1_object_agrees_with_the_reference_at_non_default_scales(dtype):
    """tfimpl's keras.regularizers.L1(scale)(w) against reference.l1_keras (float32(scale) * sum |w|)
    on the same w rounded to the dtype, at scales other than Keras's default 0.01, per sample within
    an error model: |w| is exact, float32(scale) cast to the dtype is exact in float32 and float64
    (charged 0.5 eps |result| in float16 / bfloat16, where it rounds), the tree sum of n terms
    (error_models.sum_error: float16 / bfloat16 accumulate in float32 and round once), the product
    0.5 eps; in float64 the reference rounds as often (x2). Sharp: the planted scale that is not
    rounded to float32 (reference.l1, the exact scale) misses by |scale - float32(scale)| / scale
    (up to 3e-8 relative), far outside the float64 bound. Measured: at most 0.61 (float16), 0.44 (bfloat16),
    0.25 (float32), 0.14 (float64) of the bound."""
    rng = np.random.default_rng(23)
    dt = np_dtype(dtype)
    for scale in (0.1, 3e-4, 2.5, 1.0 / 3.0):
        for shape in ((1,), (7, 5), (64, 33)):
            w = rng.standard_normal(shape).astype(dt)
            w64 = w.astype(np.float64)
            expected = float(R.l1_keras(w64, scale))
            got = float(tf.cast(T.l1_keras(w, scale), tf.float64))
            scale_rounds = 0.5 if dtype in ("float16", "bfloat16") else 0.0
            model = abs(expected) * (error_models.sum_error(dtype, w.size) + 0.5 + scale_rounds)
            bound = model * EPS_OF[dtype] * (2 if dtype == "float64" else 1)
            harness.assert_within(got, expected, bound, f"l1_keras({dtype} {shape}, scale={scale})")
            if dtype == "float64" and np.float32(scale) != scale:
                planted = float(R.l1(w64, scale))  # the plant: the scale kept exact, not rounded to float32
                assert abs(got - planted) > bound, f"the exact-scale plant passes at scale {scale}"
