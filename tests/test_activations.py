"""What the activation functions are for, stated as tests a reader can learn from."""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

import reference.activations as R
import reference.nn as RN
import tfimpl.activations as T
import tfimpl.nn as TN
from tests import harness, precision
from tests.catalog import strategies
from tests.catalog.concept import Sample
from tests.harness import assert_within


def batches(bound=30.0):
    """Logits of shape (batch, classes) with at least one class."""
    return strategies.arrays(st.tuples(st.integers(1, 4), st.integers(1, 5)), bound)


@given(batches())
@pytest.mark.claim("ch4.2.1", "softmax turns a layer's outputs into a probability distribution: positive, summing to 1",
                   source="book")
def test_softmax_outputs_are_positive_and_sum_to_one_along_the_axis(x):
    for name, p in (("reference", R.softmax(x)), ("tf", T.softmax(x).numpy())):
        assert np.all(p >= 0), f"{name} softmax({x.tolist()}) has a negative entry: {p.tolist()}"
        np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12, err_msg=f"{name} softmax({x.tolist()})")


# --- named facts through the pair: reference.X and tfimpl.X, each side against itself, TF against
# the float64 reference. Inputs are rounded to the dtype first, so both sides see the same numbers
# and the float64 reference on them is the exact answer to within float64's own error.

def rounded(x, dtype):
    """x rounded to ``dtype`` (returned in that dtype) and the same values in float64."""
    xd = np.asarray(x).astype(precision.np_dtype(dtype))
    return xd, xd.astype(np.float64)


def softmax_bound(x, dtype):
    """|computed softmax - exact| per element, for logits x exact in ``dtype``: z = x - max rounds
    (eps/2 |z|, which exp turns into a relative error of p), exp (Eigen's is within 2 ulp: eps),
    the n-term sum (<= n/2 roundings, relative) and the divide (eps/2); all relative to p:
    p * eps * (|z| / 2 + n / 2 + 1.5)."""
    z = x - x.max(axis=-1, keepdims=True)
    return R.softmax(x) * precision.eps(dtype) * (np.abs(z) / 2 + x.shape[-1] / 2 + 1.5)


def log_softmax_bound(x, dtype):
    """|computed log_softmax - exact| per element, for logits x exact in ``dtype``: y = z - lse with
    z = x - max (eps/2 |z|), lse = log(sum exp z): the sum's relative error (each exp(z_j) off by
    eps (|z_j| / 2 + 1), the sum n/2) passes through log unchanged, log's own ulp of |lse| (eps),
    the final subtraction eps/2 |y|: eps * (|z| / 2 + max|z| / 2 + 1 + n / 2 + |lse| + |y| / 2)."""
    z = x - x.max(axis=-1, keepdims=True)
    lse = np.log(np.sum(np.exp(z), axis=-1, keepdims=True))
    return precision.eps(dtype) * (np.abs(z) / 2 + np.abs(z).max(axis=-1, keepdims=True) / 2 + 1 + x.shape[-1] / 2
                           + np.abs(lse) + np.abs(z - lse) / 2)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(x=batches(), c=strategies.floats(1e3))
@pytest.mark.claim("ch4.2.1", "softmax depends only on the differences between its inputs: softmax(x + c) = softmax(x)",
                   source="book")
def test_softmax_is_shift_invariant(dtype, x, c):
    """softmax(x + c) == softmax(x): the max shift inside softmax relies on exactly this.
    float16/bfloat16 are left out: rounding x + c (|c| <= 1e3) to them moves a logit by up to
    0.5 (float16) or 4 (bfloat16), which says nothing about softmax."""
    xd, x64 = rounded(x, dtype)
    sd, s64 = rounded(x64 + c, dtype)
    # Rounding x + c to the dtype moves each logit by <= eps/2 |x + c| <= eps/2 M; softmax is
    # invariant to the common c, and a perturbation d moves log p_i by d_i - sum_j p_j d_j, at most
    # eps M: |p(x + c) - p(x)| <= p eps M (1 + eps M). Then each side's own rounding of both
    # softmaxes (softmax_bound, at x and at x + c).
    m = np.abs(s64).max(initial=0.0)
    for name, f, ep_dtype in (("reference", R.softmax, "float64"), ("tf", lambda z: T.softmax(z).numpy(), dtype)):
        shift = s64 if name == "reference" else sd
        base = x64 if name == "reference" else xd
        bound = (R.softmax(x64) * precision.eps(dtype) * m * (1 + precision.eps(dtype) * m)
                 + softmax_bound(x64, ep_dtype) + softmax_bound(s64, ep_dtype))
        assert_within(f(shift), f(base), bound, f"{name} softmax(x + c) vs softmax(x), dtype {dtype}, "
                                                f"x={x.tolist()}, c={c}")
    # TF against the float64 reference on the same rounded logits: TF's own rounding and float64's.
    for logits64, logits in ((x64, xd), (s64, sd)):
        assert_within(T.softmax(logits).numpy(), R.softmax(logits64),
                      softmax_bound(logits64, dtype) + softmax_bound(logits64, "float64"),
                      f"tf softmax vs the float64 reference, dtype {dtype}, logits={logits64.tolist()}")


@pytest.mark.planted
def test_a_shift_invariant_but_wrong_softmax_fails_the_shift_invariance_claim(monkeypatch):
    """A softmax at temperature 1.01 is shift invariant and sums to 1, so a check of TF against TF
    would pass it; the shift-invariance test goes through the reference, and fails it."""
    real = T.softmax
    monkeypatch.setattr(T, "softmax", lambda logits, axis=-1: real(logits / 1.01, axis=axis))
    with pytest.raises(AssertionError):
        test_softmax_is_shift_invariant(dtype="float32")


@pytest.mark.parametrize("dtype", ["bfloat16", "float32", "float64"])
@given(x=batches(bound=10.0))
@pytest.mark.claim("ch4.2.1", "the cross-entropy of a softmax output takes the log of its probabilities", source="book")
def test_log_softmax_equals_log_of_softmax_where_softmax_does_not_underflow(dtype, x):
    """With |logits| <= 10 every probability is >= exp(-20) / 5 = 4e-10, far from underflow in
    bfloat16, float32 and float64 (float16's smallest subnormal is 6e-8: left out)."""
    xd, x64 = rounded(x, dtype)
    # log(softmax): softmax's relative error (softmax_bound / p) becomes an absolute error of the
    # log, which adds its own ulp of |log p| (eps |y|). log_softmax: log_softmax_bound. The two
    # forms agree to the sum of both bounds; each agrees with the exact value to its own.
    y = R.log_softmax(x64)
    log_of_softmax = softmax_bound(x64, dtype) / np.exp(y) + precision.eps(dtype) * np.abs(y)
    direct = log_softmax_bound(x64, dtype)
    tf_direct, tf_log = T.log_softmax(xd).numpy(), tf.math.log(T.softmax(xd)).numpy()
    assert_within(tf_direct, tf_log, direct + log_of_softmax, f"tf, dtype {dtype}, logits={x64.tolist()}")
    with np.errstate(divide="ignore"):
        ref_log = np.log(R.softmax(x64))
    assert_within(y, ref_log, log_softmax_bound(x64, "float64") + softmax_bound(x64, "float64") / np.exp(y)
                  + precision.eps("float64") * np.abs(y), f"reference, logits={x64.tolist()}")
    assert_within(tf_direct, y, direct + log_softmax_bound(x64, "float64"),
                  f"tf log_softmax vs the float64 reference, dtype {dtype}, logits={x64.tolist()}")
    assert_within(tf_log, ref_log, log_of_softmax + softmax_bound(x64, "float64") / np.exp(y)
                  + precision.eps("float64") * np.abs(y),
                  f"tf log(softmax) vs the float64 reference, dtype {dtype}, logits={x64.tolist()}")


@pytest.mark.claim("ch4.2.1", "the cross-entropy of a softmax output takes the log of its probabilities",
                   source="book", verdict="corrected",
                   correction="take log_softmax, not log(softmax): it stays finite where softmax underflows to 0")
def test_log_softmax_stays_finite_where_softmax_underflows():
    """softmax([0, -200]) in float32 is [1, 0] (exp(-200) = 1e-87 underflows), so
    log(softmax) gives -inf; log_softmax gives the exact -200."""
    x = np.array([[0.0, -200.0]], np.float32)
    with np.errstate(divide="ignore"):
        assert np.log(T.softmax(x).numpy())[0, 1] == -np.inf
    for name, y in (("reference", R.log_softmax(x)), ("tf", T.log_softmax(x).numpy())):
        np.testing.assert_allclose(y, [[0.0, -200.0]], rtol=1e-6, err_msg=name)


def dense_pair(dtype):
    """dense on both sides: the reference on float64 copies of the inputs, TF in ``dtype``."""
    def ref(x, w, b, activation=None):
        return RN.dense(*(np.asarray(a, np.float64) for a in (x, w, b)), activation)

    def tf_(x, w, b, activation=None):
        return TN.dense(*(np.asarray(a).astype(precision.np_dtype(dtype)) for a in (x, w, b)), activation).numpy()
    return (("reference", ref, "float64"), ("tf", tf_, dtype))


def dot_bound(dtype, terms, n):
    """Rounding error of sums of ``n`` terms whose magnitudes add up to ``terms`` (a product or a
    bias each), summed in any order: <= n eps/2 * sum |term| (Higham's gamma_n, first order)."""
    return n * precision.eps(dtype) / 2 * terms


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.claim("ch4.1", "without an activation function any number of layers is still one linear model", source="book")
def test_stacked_linear_layers_without_an_activation_collapse_to_one_linear_layer(dtype):
    """(x W1 + b1) W2 + b2 == x (W1 W2) + (b1 W2 + b2): depth buys nothing without a
    nonlinearity. With relu between the layers no single linear layer matches."""
    rng = np.random.default_rng(0)
    x, w1, b1, w2, b2 = (rounded(rng.standard_normal(s), dtype)[1] for s in [(8, 3), (3, 5), (5,), (5, 2), (2,)])
    w12, b12 = w1 @ w2, b1 @ w2 + b2  # float64, rounded to the dtype when TF is handed them
    # Every output is a sum over paths x_i W1_ij W2_jk, b1_j W2_jk and b2_k; S adds up their
    # magnitudes. Two layers: layer 1 rounds 3 products + a bias (<= 4 eps/2 of its terms, carried
    # through |W2| into S), layer 2 rounds 5 + 1 (<= 6 eps/2 of S): 10 eps/2 S. One layer: W1 W2 and
    # b1 W2 + b2 rounded to the dtype (eps/2 S), then 3 products + a bias (4 eps/2 S): 5 eps/2 S.
    s = np.abs(x) @ np.abs(w1) @ np.abs(w2) + np.abs(b1) @ np.abs(w2) + np.abs(b2)
    results = {}
    for name, dense, dt in dense_pair(dtype):
        two, one = dense(dense(x, w1, b1), w2, b2), dense(x, w12, b12)
        assert_within(two, one, dot_bound(dt, s, 10) + dot_bound(dt, s, 5) + dot_bound(dtype, s, 1),
                      f"{name}: two linear layers vs one, dtype {dtype}")
        with_relu = dense(dense(x, w1, b1, "relu"), w2, b2)  # relu is exact and 1-Lipschitz: same 10 eps/2 S
        results[name] = two, one, with_relu
    # No affine map fits the relu network: its best affine fit misses by far more than float64
    # rounding (the reference's); TF's relu network is tied to it below, within TF's rounding.
    design = np.hstack([x, np.ones((8, 1))])
    fit, *_ = np.linalg.lstsq(design, results["reference"][2], rcond=None)
    assert np.abs(design @ fit - results["reference"][2]).max() > 1e6 * dot_bound("float64", s, 10).max(), \
        "the relu network is affine?"
    for i, what in enumerate(("two layers", "one layer", "relu network")):
        bound = (10 if i != 1 else 5) * (precision.eps(dtype) + precision.eps("float64")) / 2 * s
        assert_within(results["tf"][i], results["reference"][i], bound,
                      f"tf vs the float64 reference: {what}, dtype {dtype}")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.claim("ch4.1", "a bias is a weight on an input that is always 1", source="book")
def test_a_bias_is_a_constant_one_input_column(dtype):
    """x W + b == [x, 1] [W; b]: the bias is the weight of an input that is always 1."""
    rng = np.random.default_rng(1)
    x, w, b = (rounded(rng.standard_normal(s), dtype)[1] for s in [(6, 4), (4, 3), (3,)])
    augmented = (np.hstack([x, np.ones((6, 1))]), np.vstack([w, b[None, :]]), np.zeros(3))  # exact in any dtype
    # Either form sums the same 5 terms (4 products and the bias, or 5 products with 1 * b exact):
    # each within 5 eps/2 of S = |x| |W| + |b|, so the two within 5 eps S of each other.
    s = np.abs(x) @ np.abs(w) + np.abs(b)
    results = {}
    for name, dense, dt in dense_pair(dtype):
        results[name] = dense(x, w, b), dense(*augmented)
        assert_within(*results[name], 2 * dot_bound(dt, s, 5), f"{name}: x W + b vs [x, 1] [W; b], dtype {dtype}")
    for i in range(2):
        assert_within(results["tf"][i], results["reference"][i], dot_bound(dtype, s, 5) + dot_bound("float64", s, 5),
                      f"tf vs the float64 reference, {('x W + b', '[x, 1] [W; b]')[i]}, dtype {dtype}")


@pytest.mark.parametrize("x,slope", [(-1e-3, 0.0), (1e-3, 1.0), (-5.0, 0.0), (5.0, 1.0)])
def test_relu_gradient_is_zero_left_of_the_kink_and_one_right_of_it(x, slope):
    for name, g in (("reference", R.relu_vjp(np.array(x), dy=np.array(1.0))),
                    ("tf", T.relu_vjp(np.array(x), dy=np.array(1.0)).numpy())):
        assert g == slope, f"{name}: d relu/dx at x={x} is {g}, expected {slope}"


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_relu_gradient_at_the_kink_is_zero_by_tf_convention(dtype):
    """relu is not differentiable at 0; TF picks the sub-gradient 0 (ReluGrad: dy * (x > 0))."""
    x = tf.zeros([3], dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.relu(x)
    assert tape.gradient(y, x).numpy().tolist() == [0, 0, 0]
    assert R.relu_vjp(np.zeros(3), dy=np.ones(3)).tolist() == [0, 0, 0]


@pytest.mark.parametrize("mode", ["eager", "function", "xla", "graph"])
@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_relu_takes_integers_on_both_sides_and_keeps_their_dtype(dtype, mode):
    """tf.nn.relu accepts integer tensors, and so does the reference: the one catalog concept for
    which integer input is not an error (the others' integer BadInputs are in the catalog)."""
    x = np.array([-3, 0, 2, 7], dtype)
    ref, out = R.relu(x), harness.run(T.relu, Sample((x,)), mode)
    assert out.dtype == ref.dtype == x.dtype, (out.dtype, ref.dtype)
    assert out.tolist() == ref.tolist() == [0, 0, 2, 7]
