"""scipy as a second, independent oracle for the NumPy references: each test computes what a
reference function computes by another route through scipy, on inputs drawn by hypothesis, and
allows the difference only what the two routes' rounding errors can explain.

Error model: U = 2**-53 is float64's unit roundoff; an add, multiply, divide or subtract errs by at
most U relative, exp and log by at most one ulp, 2U (glibc's bound; on this AVX2 machine NumPy's
float64 exp and log return libm's values bitwise), a sum of n terms by at most (n - 1) U times the
sum of their magnitudes, and a result in the subnormal range by an absolute 2**-1074 instead. Each
tolerance is the sum of the two routes' bounds, per element, worked out in the helper or the test
that uses it; ``WORST`` keeps the largest error / tolerance each check has seen, so a run can report
how much of its budget it used.

scipy offers no independent tanh (2 expit(2x) - 1 cancels near 0, so that check is absolute), and
the LSTM's gates are the sigmoid and tanh checked here, wired as reference/rnn.py wires them: a
scipy version of the cell would copy that wiring, so there is none.
"""
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import linalg, ndimage, optimize, signal, special

import reference.activations as A
import reference.image as I
import reference.losses as L
import reference.moving_average as M
import reference.nn as N

U = np.finfo(np.float64).eps / 2
"""float64's unit roundoff, 2**-53: one correctly rounded operation errs by at most U relative."""
TINY = np.finfo(np.float64).tiny
"""The smallest normal float64, 2.2e-308: below it a result keeps no relative precision."""
SUB = np.finfo(np.float64).smallest_subnormal
"""2**-1074: the absolute rounding step of a subnormal result."""

WORST = {}
"""check name -> the largest |difference| / tolerance seen in this process."""


def within(actual, expected, tol, what):
    """|actual - expected| <= tol elementwise (equal infinities and NaN where both have them pass);
    records the worst ratio in WORST[what]; a failure names the worst element, both values, the
    error in units of the tolerance."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} vs {expected.shape}"
    tol = np.broadcast_to(np.asarray(tol, np.float64), actual.shape)
    same = (actual == expected) | (np.isnan(actual) & np.isnan(expected))
    with np.errstate(invalid="ignore", divide="ignore"):
        err = np.where(same, 0.0, np.abs(actual - expected))
        ratio = np.where(err == 0, 0.0, err / tol)
    ratio = np.where(np.isnan(ratio), np.inf, ratio)
    if ratio.size:
        WORST[what] = max(WORST.get(what, 0.0), float(ratio.max()))
        i = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
        assert ratio[i] <= 1, (f"{what}: {int((ratio > 1).sum())} of {ratio.size} elements off; worst at {i}: "
                               f"reference {actual[i]!r}, scipy {expected[i]!r}, |diff| {err[i]:.3g} = "
                               f"{ratio[i]:.3g} x tolerance {tol[i]:.3g}")


# --- strategies -------------------------------------------------------------------------------

def finite(bound):
    return st.floats(-bound, bound, allow_nan=False, allow_infinity=False)


@st.composite
def logits(draw, min_side=1, max_rank=3):
    """(logits, axis): an offset up to 1e3 plus a spread of 1, 30 or 1e3 (so |x| reaches 2e3,
    where exp(x) overflows: a softmax without the max shift gives NaN there), any axis."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=max_rank, min_side=min_side, max_side=5))
    spread = draw(st.sampled_from([1.0, 30.0, 1e3]))
    x = draw(hnp.arrays(np.float64, shape, elements=finite(spread))) + draw(finite(1e3))
    return x, draw(st.integers(-len(shape), len(shape) - 1))


# --- activations ------------------------------------------------------------------------------

def softmax_rel_err(x, axis):
    """Bound on the relative error of the max-shifted softmax exp(z_i) / S, z = x - max, per element:
    z_i = fl(x_i - m) errs by U |z_i|, which exp turns into U |z_i| relative, plus 2U for exp itself;
    S = sum_j exp(z_j) errs by sum_j p_j (U |z_j| + 2U) + (n - 1) U <= U (2n + 1) relative, since
    p_j |z_j| <= exp(z_j) |z_j| <= 1/e; the division adds U. Total U (|z_i| + 2n + 4)."""
    n = x.shape[axis]
    z = x - np.max(x, axis=axis, keepdims=True)
    return U * (np.abs(z) + 2 * n + 4)


def lse_abs_err(lse, n):
    """Bound on the absolute error of a log-sum-exp L of n terms taken around its maximum m (scipy's
    m + log1p(sum over the others of exp(x_j - m)), or m + log(sum exp(x - m)) before scipy 1.15):
    the sum errs by U (2n + 1) relative as in softmax_rel_err, log or log1p turns that into as much
    absolute, adds 2U, and the final + m rounds by U |L|."""
    return U * (np.abs(lse) + 2 * n + 3)


def scaled(p, rel):
    """p * rel where p > 0, 0 where p == 0 (rel may be inf there: exp(-inf) = 0 exactly)."""
    with np.errstate(invalid="ignore"):
        return np.where(p > 0, p * rel, 0.0)


@given(logits())
@example((np.array([1000.0, 0.0]), 0))
@example((np.array([709.0, 710.0, 711.0]), -1))  # exp overflows at 709.78: the unshifted formula gives NaN
@example((np.array([[-1000.0, -1000.0, -1000.0]]), 1))
def test_softmax_matches_scipy_softmax_and_exp_of_x_minus_logsumexp(case):
    """scipy.special.softmax is the same max-shifted formula written by other hands;
    exp(x - scipy.special.logsumexp(x)) is another formula: it never forms the sum of the shifted
    exponentials as a divisor, and since scipy 1.15 its log-sum-exp is m + log1p(sum of the others).

    Tolerance per element p_i: the reference errs by p_i U (|z_i| + 2n + 4) (softmax_rel_err), and so
    does scipy.special.softmax. The other route errs by L's absolute error (lse_abs_err) plus
    U |x_i - L| for the subtraction and 2U for exp, relative: its conditioning is |x|, not |x - max|,
    so at |x| ~ 1e3 it is two to three orders looser, and that is the bound. Results below the smallest
    normal add 2 subnormal steps each."""
    x, axis = case
    n = x.shape[axis]
    ref = A.softmax(x, axis=axis)
    ref_err = scaled(ref, softmax_rel_err(x, axis)) + 2 * SUB
    within(ref, special.softmax(x, axis=axis), 2 * ref_err, "softmax vs scipy.special.softmax")
    lse = special.logsumexp(x, axis=axis, keepdims=True)
    route = np.exp(x - lse)
    route_err = scaled(route, lse_abs_err(lse, n) + U * np.abs(x - lse) + 2 * U) + 2 * SUB
    within(ref, route, ref_err + route_err, "softmax vs exp(x - logsumexp)")


def log_softmax_abs_err(x, axis, lse):
    """Bound on the absolute error of the reference's z_i - log S (z = x - m): U |z_i| for z, then
    log S errs by U (2n + 1) (S's relative error) + U |log S|, and the subtraction by U |result|;
    log S = L - m and the result x_i - L are taken from scipy's L (accurate far inside these bounds)."""
    n = x.shape[axis]
    m = np.max(x, axis=axis, keepdims=True)
    return U * (np.abs(x - m) + 2 * n + 1 + np.abs(lse - m) + np.abs(x - lse))


@given(logits())
@example((np.array([1000.0, 0.0]), 0))
@example((np.array([-1e3, 1e3, 0.0]), 0))
def test_log_softmax_is_x_minus_scipy_logsumexp(case):
    """log_softmax(x)_i = x_i - logsumexp(x): scipy's log-sum-exp (log1p around the maximum since
    scipy 1.15) subtracted from x, against the reference's z_i - log(sum exp(z)). Also against
    scipy.special.log_softmax (the reference's formula in other hands).

    Tolerance, absolute: the reference's bound (log_softmax_abs_err) plus the route's: L's error
    (lse_abs_err) and U |x_i - L| for the subtraction. Both grow with |x| and |L|, not with n alone:
    at logits ~ 1e3 an ulp of L is 1.1e-13."""
    x, axis = case
    n = x.shape[axis]
    lse = special.logsumexp(x, axis=axis, keepdims=True)
    ref = A.log_softmax(x, axis=axis)
    route = x - lse
    ref_err = log_softmax_abs_err(x, axis, lse)
    within(ref, route, ref_err + lse_abs_err(lse, n) + U * np.abs(route), "log_softmax vs x - logsumexp")
    within(ref, special.log_softmax(x, axis=axis), 2 * ref_err, "log_softmax vs scipy.special.log_softmax")


@pytest.mark.parametrize("shape,axis", [((0, 3), -1), ((0, 2, 4), 1), ((2, 0, 3), -1)],
                         ids=["no-rows", "no-rows-middle-axis", "empty-batch-axis"])
def test_softmax_and_log_softmax_of_no_rows_are_empty_as_scipys(shape, axis):
    """No rows to normalise: the reference returns an empty array of the input's shape, as
    scipy.special.softmax and log_softmax do. (Over an empty class axis, shape (2, 0), the reference
    gives an empty array too; scipy.special.softmax raises there, as np.max does, and logsumexp raises
    in scipy 1.10 and gives -inf in 1.17, so scipy has no settled word on it.)"""
    x = np.zeros(shape)
    assert A.softmax(x, axis=axis).shape == special.softmax(x, axis=axis).shape == shape
    assert A.log_softmax(x, axis=axis).shape == special.log_softmax(x, axis=axis).shape == shape


@pytest.mark.parametrize("x", [-1e308, -1e3, 0.0, 1e3, 1e308])
def test_softmax_of_one_element_is_1_and_log_softmax_0_exactly(x):
    """One class: softmax is 1 and log_softmax 0, exactly, at any finite logit; scipy agrees bitwise."""
    v = np.array([x])
    assert A.softmax(v).tolist() == special.softmax(v).tolist() == [1.0]
    assert A.log_softmax(v).tolist() == special.log_softmax(v).tolist() == [0.0]


SIGMOID_RTOL = 10 * U
"""sigmoid: the reference's 1 / (1 + e) or e / (1 + e) with e = exp(-|x|) errs by at most
2U (exp) + U (the add, after e's 2U shrinks by e / (1 + e) <= 1) + U (the divide), and 2U more
for e / (1 + e)'s numerator: 6U; scipy.special.expit(x) = 1 / (1 + exp(-x)) by at most 4U."""


@given(hnp.arrays(np.float64, hnp.array_shapes(max_dims=2, max_side=6), elements=finite(800.0)))
@example(np.array([0.0, -709.0, -710.0, -745.0, -746.0, 36.0, 37.0, 710.0, 800.0, 1e-310]))
def test_sigmoid_is_scipy_expit(x):
    """scipy.special.expit is a C ufunc computing 1 / (1 + exp(-x)) for every x (exp(-x) may
    overflow to inf and give 0); the reference branches on the sign with e = exp(-|x|).
    Tolerance: SIGMOID_RTOL relative (6U + 4U), and TINY absolute: for x < -709.78 expit's exp(-x)
    overflows and it returns 0 where the true value, below exp(-709.78) = 5.6e-309, is subnormal."""
    within(A.sigmoid(x), special.expit(x), SIGMOID_RTOL * special.expit(x) + TINY, "sigmoid vs expit")


@given(hnp.arrays(np.float64, hnp.array_shapes(max_dims=2, max_side=6), elements=finite(800.0)),
       st.floats(-10, 10))
@example(np.array([0.0, 20.0, -20.0, 36.0, 300.0, -700.0]), 1.0)
@example(np.array([0.33203125]), 2.225073858507e-311)  # subnormal dy: the products round by 2**-1074
def test_sigmoid_and_tanh_vjps_are_products_of_expits(x, dy):
    """s'(x) = s(x) (1 - s(x)) = expit(x) expit(-x) (1 - s(x) = s(-x): no cancellation), and
    tanh'(x) = 1 - tanh(x)^2 = 4 expit(2x) expit(-2x) (tanh(x) = 2 expit(2x) - 1); the reference
    writes them as e / (1 + e)^2 and 4 e / (1 + e)^2 with e = exp(-|x|) or exp(-2|x|).

    Tolerance, relative: the reference's e / (1 + e)^2 errs by 2U (exp) + 3U (1 + e, carrying e's
    error) x 2 (the square) + U (square) + U (divide) = 10U; expit(x) expit(-x) by 4U + 4U + U = 9U;
    the dy product by U on each side: 21U. Absolute: 2 TINY |dy| (8 TINY |dy| with tanh's factor 4),
    for where expit's exp(-x) overflows, below x = -709.78, and the product is 0 while the true
    derivative is below 5.6e-309; and where dy makes the products subnormal they round by 2**-1074
    absolute: 3 products a side."""
    dy = np.full_like(x, dy)
    within(A.sigmoid_vjp(x, dy), dy * special.expit(x) * special.expit(-x),
           21 * U * np.abs(dy * special.expit(x) * special.expit(-x)) + 2 * TINY * np.abs(dy) + 6 * SUB,
           "sigmoid_vjp vs expit")
    route = dy * 4 * special.expit(2 * x) * special.expit(-2 * x)
    within(A.tanh_vjp(x, dy), route, 21 * U * np.abs(route) + 8 * TINY * np.abs(dy) + 6 * SUB, "tanh_vjp vs expit")


@given(hnp.arrays(np.float64, hnp.array_shapes(max_dims=2, max_side=6), elements=finite(400.0)))
@example(np.array([0.0, 1e-300, -1e-8, 0.5, 19.0, 400.0, -400.0]))
def test_tanh_is_2_expit_2x_minus_1_to_absolute_precision(x):
    """tanh(x) = 2 expit(2x) - 1. The reference is np.tanh; the route through expit cancels near 0,
    so this check is absolute: expit(2x) errs by 4U relative, at most 4U absolute as expit <= 1,
    doubled to 8U, the subtraction adds U and np.tanh U: 10U absolute. It pins the function, not its
    last digits near 0 (there scipy offers nothing independent of np.tanh)."""
    within(A.tanh(x), 2 * special.expit(2 * x) - 1, np.full(x.shape, 10 * U), "tanh vs 2 expit(2x) - 1")


@given(logits(max_rank=2), st.data())
@example((np.array([1000.0, 0.0, 999.0]), 0), None)
@example((np.array([0.0, 1.0]), 0), "subnormal")  # dy 2.2e-309: results round by 2**-1074 absolute
def test_softmax_vjps_pull_dy_back_through_the_jacobian_built_from_scipys_softmax(case, data):
    """The Jacobian of s = scipy.special.softmax(x) along the axis, J_ij = s_i (delta_ij - s_j), built
    as a matrix per row and applied as J^T dy (einsum), against the reference's s * (dy - sum(dy s));
    for log_softmax J_ij = delta_ij - s_j against dy - s sum(dy).

    Tolerance (absolute, per element, each side, doubled): with r_i = softmax_rel_err and
    A = sum_j s_j |dy_j|: s_i's error s_i r_i multiplies |dy_i| + A; sum_j dy_j s_j errs by
    E = sum_j s_j |dy_j| (r_j + n U); the products, the einsum's n-term sums and the differences add
    (n + 4) U s_i (|dy_i| + A). For log_softmax, with D = sum |dy|: (n + 2) U (|dy_i| + s_i D) +
    s_i r_i D. Subnormal s carries an absolute 2**-1074 per rounding into the products with dy, and
    subnormal results round by 2**-1074 themselves: n + 4 of those a side."""
    x, axis = case
    dy = (np.ones_like(x) if data is None else np.full_like(x, 2.225073858507203e-309) if data == "subnormal"
          else data.draw(hnp.arrays(np.float64, x.shape, elements=finite(10.0))))
    xs, dys = np.moveaxis(x, axis, -1), np.moveaxis(dy, axis, -1)
    n = xs.shape[-1]
    s = special.softmax(xs, axis=-1)
    r = softmax_rel_err(xs, -1)
    eye = np.eye(n)
    jac = s[..., :, None] * (eye - s[..., None, :])  # J[..., i, j] = d s_i / d x_j
    route = np.moveaxis(np.einsum("...i,...ij->...j", dys, jac), -1, axis)
    a_sum = np.sum(s * np.abs(dys), axis=-1, keepdims=True)
    e_sum = np.sum(s * np.abs(dys) * (r + n * U), axis=-1, keepdims=True)
    tol = 2 * (s * ((r + (n + 4) * U) * (np.abs(dys) + a_sum) + e_sum)) + 4 * SUB * (np.abs(dys) + a_sum) \
        + 2 * (n + 4) * SUB
    within(A.softmax_vjp(x, dy, axis=axis), route, np.moveaxis(tol, -1, axis), "softmax_vjp vs scipy Jacobian")

    log_jac = eye - s[..., None, :]  # d log_softmax_i / d x_j
    route = np.moveaxis(np.einsum("...i,...ij->...j", dys, log_jac), -1, axis)
    d_sum = np.sum(np.abs(dys), axis=-1, keepdims=True)
    tol = 2 * ((n + 2) * U * (np.abs(dys) + s * d_sum) + s * r * d_sum) + 4 * SUB * d_sum + 2 * (n + 4) * SUB
    within(A.log_softmax_vjp(x, dy, axis=axis), route, np.moveaxis(tol, -1, axis), "log_softmax_vjp vs scipy Jacobian")


# --- losses -----------------------------------------------------------------------------------

@given(logits(), st.data())
@example((np.array([[1000.0, 0.0, -1000.0]]), -1), None)
@example((np.array([0.0, 0.0]), 0), "subnormal")  # labels 2.2e-311: subnormal products
def test_softmax_cross_entropy_is_logsumexp_times_sum_of_labels_minus_labels_dot_logits(case, data):
    """-sum_i y_i log_softmax(x)_i = L sum(y) - sum(y x) with L = scipy.special.logsumexp(x): the loss
    without ever forming log_softmax, against the reference's -sum(y * (z - log S)).

    Tolerance: the reference errs by sum_i y_i e_i (e_i = log_softmax_abs_err) + n U sum |y_i r_i|
    (products and the sum); the route by sum|y| lse_abs_err + |L| n U sum|y| (L times the n-term sum
    of y, rounded) + n U sum |y_i x_i| + U |result|. The route cancels L sum(y) against sum(y x):
    its bound grows with |x| ~ 1e3, which is the conditioning of that formula, not the reference's.
    Labels so small that the products are subnormal round by 2**-1074 absolute instead: 2n + 2 steps
    a side."""
    x, axis = case
    y = (np.ones_like(x) / x.shape[axis] if data is None else np.full_like(x, 2.2250738585e-311) if data == "subnormal"
         else data.draw(hnp.arrays(np.float64, x.shape, elements=st.floats(0, 1))))
    n = x.shape[axis]
    lse = special.logsumexp(x, axis=axis, keepdims=True)
    route = np.squeeze(lse, axis) * np.sum(y, axis=axis) - np.sum(y * x, axis=axis)
    r = x - lse
    ref_err = np.sum(y * log_softmax_abs_err(x, axis, lse) + n * U * np.abs(y * r), axis=axis)
    route_err = (np.sum(y, axis=axis) * (np.squeeze(lse_abs_err(lse, n), axis) + n * U * np.abs(np.squeeze(lse, axis)))
                 + n * U * np.sum(np.abs(y * x), axis=axis) + U * np.abs(route))
    within(L.softmax_cross_entropy_with_logits(y, x, axis=axis), route, ref_err + route_err + (4 * n + 4) * SUB,
           "softmax_cross_entropy vs L sum(y) - sum(y x)")


@given(logits(), st.data())
def test_sparse_softmax_cross_entropy_is_logsumexp_minus_the_labelled_logit(case, data):
    """-log_softmax(x)[label] = logsumexp(x) - x[label], with scipy's logsumexp over the class axis
    (the last): the picked element of the log_softmax check above, through the reference's
    take_along_axis. Tolerance: that element's log_softmax_abs_err + lse_abs_err + U |result|."""
    x, _ = case
    n = x.shape[-1]
    labels = data.draw(hnp.arrays(np.int64, x.shape[:-1], elements=st.integers(0, n - 1)))
    lse = special.logsumexp(x, axis=-1, keepdims=True)
    picked = np.take_along_axis(x, labels[..., None], axis=-1)
    route = (lse - picked)[..., 0]
    tol = np.take_along_axis(log_softmax_abs_err(x, -1, lse), labels[..., None], axis=-1)[..., 0] \
        + lse_abs_err(lse, n)[..., 0] + U * np.abs(route)
    within(L.sparse_softmax_cross_entropy_with_logits(labels, x), route, tol,
           "sparse_softmax_cross_entropy vs logsumexp - x[label]")


predictions = st.one_of(st.floats(0, 1), st.floats(1e-15, 1e-9), st.just(0.0), st.floats(1, 2), st.floats(-1, 0))
"""Predicted probabilities, and what the clip exists for: values under eps = 1e-10, zeros, values past 1."""


@given(hnp.array_shapes(max_dims=3, max_side=5).flatmap(lambda shape: st.tuples(
    hnp.arrays(np.float64, shape, elements=st.floats(0, 1)), hnp.arrays(np.float64, shape, elements=predictions))))
def test_clipped_cross_entropy_is_minus_the_mean_of_scipy_xlogy(yp):
    """-mean(xlogy(y, clip(p, 1e-10, 1))): scipy.special.xlogy is the C ufunc y log(p) (0 where
    y = 0); the clip is the definition (tf.clip_by_value). Tolerance: each term errs by 3U relative
    on each side (log 2U, product U), the n-term sums by (n - 1) U, the mean's division by U:
    2 (n + 3) U sum|t| / n, and 2 (n + 1) subnormal steps where terms are that small."""
    y, p = yp
    terms = special.xlogy(y, np.clip(p, 1e-10, 1.0))
    n = y.size
    tol = 2 * (n + 3) * U * np.sum(np.abs(terms)) / n + 2 * (n + 1) * SUB
    within(L.clipped_cross_entropy(y, p), -np.sum(terms) / n, tol,
           "clipped_cross_entropy vs xlogy")


@given(hnp.array_shapes(max_dims=3, max_side=5).flatmap(lambda shape: st.tuples(
    hnp.arrays(np.float64, shape, elements=finite(1e3)), hnp.arrays(np.float64, shape, elements=finite(1e3)))))
@example((np.array([-3.5626121784811574e-161, 1.886000603993936e-161, -3.2417754898573345e-161]),
          np.array([-2.167619989436775e-161, 7.805487040095846e-161, -5.456848129332406e-161])))  # subnormal squares
def test_mean_squared_error_is_the_squared_blas_norm_over_n(yp):
    """scipy.linalg.norm(y - p) ** 2 / n: BLAS nrm2 accumulates a scaled sum of squares (with no
    overflow whatever the magnitudes), another summation than the reference's mean of squares.
    Tolerance: the differences y - p are the same numbers on both sides; the reference's squares err
    by U each, its sum by (n - 1) U, the mean by U: (n + 1) U; nrm2 by (n + 2) U relative, squared
    2 (n + 2) U + U, divided U: (2n + 6) U. (3n + 7) U relative to the loss; squares in the
    subnormal range round by an absolute 2**-1074 instead (nrm2 scales them out of it): n + 2 steps."""
    y, p = yp
    n = y.size
    route = linalg.norm((y - p).ravel()) ** 2 / n
    within(L.mean_squared_error(y, p), route, (3 * n + 7) * U * route + (n + 2) * SUB,
           "mean_squared_error vs nrm2")


def test_losses_of_nothing_are_nan_as_the_mean_of_nothing():
    """An empty batch: the clipped cross-entropy and the MSE are 0 / 0 = NaN (tf.reduce_mean's), as
    the scipy routes give: xlogy of nothing sums to 0, norm of nothing is 0."""
    e = np.zeros((0, 3))
    with np.errstate(invalid="ignore"):
        assert np.isnan(L.clipped_cross_entropy(e, e)) and np.isnan(-np.sum(special.xlogy(e, e)) / np.float64(0))
        assert np.isnan(L.mean_squared_error(e, e)) and np.isnan(linalg.norm(e.ravel()) ** 2 / np.float64(0))


# --- moving average -----------------------------------------------------------------------------

def lfilter_ema(values, decays):
    """The shadows after values[1:], by scipy.signal.lfilter: an EMA with a constant decay d is the
    first-order IIR filter y_k = (1 - d) x_k + d y_(k-1), b = [1 - d], a = [1, -d], started from
    y_(-1) = values[0], which in lfilter's transposed direct form is the state zi = d y_(-1) (what
    lfiltic(b, a, y=[y_(-1)]) gives). A decay that changes (num_updates) is run piecewise: one
    lfilter call per run of equal decays, each started from the last shadow of the run before."""
    shadow, runs, k = values[0], [], 0
    while k < len(decays):
        j = k + 1
        while j < len(decays) and decays[j] == decays[k]:
            j += 1
        d = decays[k]
        run, _ = signal.lfilter([1 - d], [1, -d], values[k + 1:j + 1], axis=0, zi=(d * shadow)[None])
        runs.append(run)
        shadow, k = run[-1], j
    return np.concatenate(runs) if runs else values[:0]


def ema_tol(values, decays):
    """Per step each side rounds by a few U times the magnitudes in play: the reference's
    shadow - (1 - d)(shadow - value) by U (the difference, up to 2M) + U (1 - d) + U (product)
    + U M (the subtraction), at most 5 U M; lfilter's (1 - d) x + z and z = d y by 4 U M; with M the
    largest |value| so far (the shadow stays within it). A shadow forgets its past errors at the
    rate d, so after k steps the sum of the local errors is at most 9 U M min(k, 1 / (1 - d_max)).
    Where M is subnormal the operations round by an absolute 2**-1074 instead: 9 of those a step."""
    k = np.arange(1, len(values)).reshape((-1,) + (1,) * (values.ndim - 1))
    big = np.maximum.accumulate(np.abs(values), axis=0)[1:]
    d_max = max(decays, default=0.0)
    memory = np.minimum(k, 1 / (1 - d_max)) if d_max < 1 else k
    return 9 * (U * big + SUB) * memory


decays = st.one_of(st.floats(0, 1), st.sampled_from([0.0, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0]))


@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 40)).flatmap(
    lambda t: hnp.array_shapes(min_dims=0, max_dims=2, max_side=3).map(lambda tail: t + tail)),
    elements=finite(1e3)), decays)
@example(np.array([1.0, 0.0, 0.0, 0.0]), 0.5)
@example(np.array([[3.0, -3.0]]), 0.9)  # one value: no update, no shadow
@example(np.array([2.739233746429e-311, -4.6042657247227e-311, -9.1805295212763e-311, -9.6694472894295e-311]),
         0.3)  # subnormal values: the two routes differ by one 2**-1074 step, the absolute floor
def test_ema_with_a_constant_decay_is_scipys_lfilter(values, decay):
    """reference.moving_average.ema against scipy.signal.lfilter([1 - d], [1, -d], values[1:], zi=d
    values[0]) (lfilter_ema): a linear recursion solved by scipy's IIR filter code, against the
    reference's shadow - (1 - d)(shadow - value) step by step. Tolerance: ema_tol."""
    ref = M.ema(values, decay)
    route = lfilter_ema(values, [decay] * (len(values) - 1))
    within(ref, route, ema_tol(values, [decay]), "ema vs lfilter")


@given(hnp.arrays(np.float64, st.tuples(st.integers(2, 40), st.integers(1, 3)), elements=finite(1e3)),
       st.sampled_from([0.9, 0.99, 0.999]) | st.floats(0, 1),
       st.one_of(st.integers(0, 10 ** 4).map(lambda n0: ("from", n0)),
                 st.lists(st.integers(0, 10 ** 4), min_size=39, max_size=39).map(lambda ns: ("any", ns))))
@example(np.ones((12, 1)) * np.arange(12.0)[:, None], 0.99, ("from", 0))
def test_ema_with_num_updates_is_lfilter_run_by_runs_of_equal_decay(values, decay, updates):
    """With num_updates the decay is d_k = min(decay, (1 + n_k) / (10 + n_k)) (ExponentialMovingAverage's
    documented cap, written out here, not taken from reference.ema_decay), which changes per step
    while the cap binds, so lfilter, a filter with constant coefficients, serves run by run
    (lfilter_ema): n_k counting up from a global step n0 (training: one run per step until the
    cap passes decay, then one run), or any steps (a run per change). Tolerance: ema_tol with the
    largest decay used."""
    kind, n = updates
    steps = n + np.arange(len(values) - 1) if kind == "from" else np.array(n[:len(values) - 1])
    d = np.minimum(decay, (1.0 + steps) / (10.0 + steps))
    ref = M.ema(values, decay, num_updates=steps)
    within(ref, lfilter_ema(values, list(d)), ema_tol(values, list(d)), "ema(num_updates) vs lfilter")


@given(hnp.array_shapes(min_dims=0, max_dims=3, max_side=4).flatmap(lambda shape: st.tuples(
    hnp.arrays(np.float64, shape, elements=finite(1e3)), hnp.arrays(np.float64, shape, elements=finite(1e3)))),
    decays, st.none() | st.integers(0, 10 ** 6))
@example((np.array(2.0), np.array(-2.0)), 0.99, 0)
def test_ema_update_is_one_sample_of_lfilter(shadow_value, decay, num_updates):
    """One apply, shadow <- ema_update(shadow, value, decay, num_updates), is lfilter over the single
    sample value from the state d shadow, with d = decay or min(decay, (1 + n) / (10 + n)) written
    out here. Tolerance: ema_tol for one step, 9 U max(|shadow|, |value|)."""
    shadow, value = shadow_value
    d = decay if num_updates is None else min(decay, (1.0 + num_updates) / (10.0 + num_updates))
    route = lfilter_ema(np.stack([shadow, value]), [d])[0]
    within(M.ema_update(shadow, value, decay, num_updates), route, ema_tol(np.stack([shadow, value]), [d])[0],
           "ema_update vs lfilter")


def test_lfilter_initial_state_is_lfiltic_of_the_first_value():
    """The state zi = d values[0] used by lfilter_ema is what scipy.signal.lfiltic derives from a past
    output y_(-1) = values[0]; and a first value alone makes no shadow, as lfilter of nothing."""
    d, y0 = 0.9, 2.5
    np.testing.assert_array_equal(signal.lfiltic([1 - d], [1, -d], y=[y0]), [d * y0])
    assert M.ema(np.array([y0]), d).shape == lfilter_ema(np.array([y0]), []).shape == (0,)


# --- least squares by gradient descent ---------------------------------------------------------

@st.composite
def least_squares_problems(draw):
    """(a, b, f): a is N x p (p <= 4, N <= 12) with singular values drawn in [1, 3] (a drawn matrix's
    singular vectors from scipy.linalg.svd, its singular values replaced), so the Hessian
    H = a^T a / N has condition number at most 9; b any; the learning rate is f 2 / lambda_max(H)
    with f in [0.25, 0.95], inside the stable range."""
    p = draw(st.integers(1, 4))
    n = draw(st.integers(p, 12))
    u_, _, vt = linalg.svd(draw(hnp.arrays(np.float64, (n, p), elements=finite(1.0))), full_matrices=False)
    sigma = draw(hnp.arrays(np.float64, (p,), elements=st.floats(1.0, 3.0)))
    b = draw(hnp.arrays(np.float64, (n,), elements=finite(10.0)))
    return (u_ * sigma) @ vt, b, draw(st.floats(0.25, 0.95))


def row_norms(m):
    """The 2-norm of each row by BLAS nrm2 (scipy.linalg.norm of a vector), which scales before it
    squares: np.linalg.norm(m, axis=1) squares first, and errors near 1e-161 square into the
    subnormal range and come back a few parts in 1e4 off."""
    return np.array([linalg.norm(row) for row in m])


@given(least_squares_problems())
@example((np.eye(2), np.array([1.0, -1.0]), 0.5))  # lr lambda = 1: the first step lands on the optimum
@example((np.eye(1), np.array([float.fromhex("0x1.694ad9c67f11dp-496")]), 0.25))  # |w_k - w*|^2 subnormal
def test_least_squares_descends_onto_scipys_lstsq_at_the_contraction_rate(problem):
    """reference.nn.least_squares (gradient descent on ||a w - b||^2 / (2N) from w = 0) against
    scipy.linalg.lstsq's w* (LAPACK's SVD solver, no iteration) and scipy.linalg.eigh's H = V diag(l) V^T.

    From w_0 = 0, w_k - w* = (I - lr H)^k (0 - w*) exactly (a^T (a w* - b) = 0), so
    (1) every iterate is w* - V diag((1 - lr l)^k) V^T w*: this pins the step, its 1/N and its
    learning rate, not only where it ends; and (2) ||w_k - w*|| <= rho^k ||w*||, rho = max|1 - lr l|,
    run for K = log(U) / log(rho) steps so that rho^K ||w*|| <= U ||w*||: at the end the iterate is
    lstsq's solution to the rounding floor.

    The floor, in U: each step rounds by at most 2 ||w*|| (the subtraction; |w_k| <= 2 |w*|) +
    lr (N + p + 3) || |a^T| (2 |a| |w*| + |b|) || / N (the residual and the gradient's sums), and the
    contraction forgets old errors, so after k steps min(k, 1 / (1 - rho)) times that; eigh's
    eigenvalues err by (N + p + 1) || |a^T| |a| || / N (forming H, then the solver), which moves
    (1 - lr l)^k by k lr rho^(k-1) times that; the product with V twice, 4 (p + 1) ||w*||; lstsq's
    forward error, 2 N p kappa (2 ||w*|| + (kappa + 1) ||r*|| / sigma_max) (Higham, ch. 20). Where
    b, and so w*, is subnormal, each step's N + p + 3 operations round by 2**-1074 absolute instead."""
    a, b, f = problem
    n, p = a.shape
    w_star, _, _, sv = linalg.lstsq(a, b)
    lam, v = linalg.eigh(a.T @ a / n)
    lr = f * 2 / lam.max()
    rho = np.max(np.abs(1 - lr * lam))
    steps = int(np.clip(np.ceil(np.log(U) / np.log(rho)), 1, 2000)) if rho > 0 else 1
    traj = N.least_squares(a, b, lr, steps)

    k = np.arange(1, steps + 1)[:, None]
    closed = w_star - (((1 - lr * lam) ** k) * (v.T @ w_star)) @ v.T
    size = linalg.norm(w_star)
    kappa = sv.max() / sv.min()
    per_step = 2 * size + lr * (n + p + 3) * linalg.norm(np.abs(a.T) @ (2 * np.abs(a) @ np.abs(w_star) + np.abs(b))) / n
    eig_err = (n + p + 1) * linalg.norm(np.abs(a.T) @ np.abs(a), 2) / n
    lstsq_err = 2 * n * p * kappa * (2 * size + (kappa + 1) * linalg.norm(a @ w_star - b) / sv.max())
    with np.errstate(divide="ignore"):
        memory = np.minimum(k[:, 0], 1 / (1 - rho))
    floor = U * (memory * per_step + k[:, 0] * lr * rho ** (k[:, 0] - 1) * eig_err * size
                 + 4 * (p + 1) * size + lstsq_err) + memory * (n + p + 3) * SUB
    within(row_norms(traj - closed), 0 * floor, floor, "least_squares vs lstsq + eigh closed form")
    within(row_norms(traj - w_star), 0 * floor, rho ** k[:, 0] * size + floor,
           "least_squares vs lstsq contraction bound")
    assert linalg.norm(traj[-1] - w_star) <= U * size + floor[-1]


# --- the asymmetric loss's optimum ----------------------------------------------------------------

def asymmetric_minimizers(x, y, a, b):
    """[w_lo, w_hi], the minimizers over w of sum_i a (x_i w - y_i)_+ + b (y_i - x_i w)_+ for x_i > 0:
    with r_i = y_i / x_i the loss is sum_i x_i (a (w - r_i)_+ + b (r_i - w)_+), whose right slope at
    w is a X(<= w) - b X(> w) (X: the sum of x_i over those r_i), so the minimizer is the x-weighted
    b / (a + b) quantile of r: the first r_(j) with (a + b) C_j >= b X (C_j the weights up to it);
    where that holds with equality the loss is flat up to r_(j + 1)."""
    r = y / x
    order = np.argsort(r, kind="stable")
    r, cum = r[order], np.cumsum(x[order])
    slope = (a + b) * cum - b * cum[-1]  # the right slope on [r_(j), r_(j + 1))
    j = int(np.argmax(slope >= 0))
    return r[j], (r[j + 1] if slope[j] == 0 and j + 1 < len(r) else r[j])


@given(hnp.arrays(np.float64, st.integers(1, 12), elements=st.floats(0.25, 4.0)).flatmap(lambda x: st.tuples(
    st.just(x), hnp.arrays(np.float64, x.shape, elements=finite(10.0)))),
    st.floats(0.1, 10.0), st.floats(0.1, 10.0))
@example((np.ones(4), np.array([0.0, 1.0, 2.0, 3.0])), 1.0, 10.0)  # the book's constants: sell more
@example((np.ones(4), np.array([0.0, 1.0, 2.0, 3.0])), 10.0, 1.0)  # and sell less
@example((np.array([1.658203125, 0.25, 0.5, 0.70703125, 0.70703125, 0.70703125]), np.array([-1.0, 0, 0, -1, 0, 0])),
         4.4453125, 4.859375)  # left of the optimum the loss rises at 0.0018 only: scipy stops 1.1e-12 short
def test_asymmetric_loss_minimizer_is_the_quantile_scipy_minimize_scalar_finds(xy, loss_more, loss_less):
    """scipy.optimize.minimize_scalar (bounded Brent: golden sections and parabolas, no knowledge of
    the loss's form) minimises reference.asymmetric_loss(w x, y, loss_more, loss_less) over w, and the
    closed form (asymmetric_minimizers: the x-weighted loss_less / (loss_more + loss_less) quantile
    of y / x) must contain what it finds: over-prediction costs loss_more per unit, so the larger
    loss_less, the higher the optimum.

    Tolerances: scipy stops once its bracket is within 2 (sqrt(eps) |w| + xatol / 3) of a minimizer
    (its own stopping rule, xatol = 1e-12), as far as the loss's values can tell points apart: an
    evaluation errs by up to e = (n + 3) U (L + max(a, b) sum |x_i w|) (the products x_i w, the
    differences, the sum), so where the loss rises with slope s beside the optimum, points within
    2 e / s of it are ties to scipy's comparisons; and the reference's loss at the closed form is no
    more than at scipy's point, up to the two sums' rounding, (n + 3) U (L_closed + L_scipy)."""
    (x, y), a, b = xy, loss_more, loss_less

    def loss(w):
        return L.asymmetric_loss(w * x, y, a, b)

    r = y / x
    found = optimize.minimize_scalar(loss, bounds=(r.min(), r.max()), method="bounded",
                                     options={"xatol": 1e-12}).x if r.min() < r.max() else r.min()
    w_lo, w_hi = asymmetric_minimizers(x, y, a, b)
    s_left, s_right = asymmetric_slopes(x, y, a, b, w_lo, w_hi)
    gap = max(w_lo - found, found - w_hi, 0.0)
    ties = 2 * (len(x) + 3) * U * (loss(found) + max(a, b) * np.sum(np.abs(x * found)))
    with np.errstate(divide="ignore"):
        ties /= max(s_left if found < w_lo else s_right, 0.0)
    within(gap, 0.0, 2 * (np.sqrt(2 * U) * abs(found) + 1e-12 / 3) + 4 * U * np.abs(r).max() + ties,
           "asymmetric_loss: minimize_scalar inside the quantile")
    l_closed, l_found = loss(w_lo), loss(found)
    within(max(l_closed - l_found, 0.0), 0.0, (len(x) + 3) * U * (l_closed + l_found),
           "asymmetric_loss at the quantile <= at scipy's point")


def asymmetric_slopes(x, y, a, b, w_lo, w_hi):
    """(s_left, s_right): how steeply the loss rises on each side of its minimizers [w_lo, w_hi], the
    size of its slope just left of w_lo, b X(>= w_lo) - a X(< w_lo), and just right of w_hi,
    a X(<= w_hi) - b X(> w_hi)."""
    r = y / x
    return b * x[r >= w_lo].sum() - a * x[r < w_lo].sum(), a * x[r <= w_hi].sum() - b * x[r > w_hi].sum()


@st.composite
def asymmetric_problems(draw):
    """Integer costs 1..10 (the book's are 1 and 10) and integer x in {1, 2, 3}, so that every slope of
    the loss, a X(...) - b X(...), is an integer: outside the optimum it is at least 1 in size and each
    gradient step moves at least lr toward it. y in [-5, 5], w0 in [-5, 5]."""
    n = draw(st.integers(1, 8))
    x = draw(hnp.arrays(np.float64, (n,), elements=st.sampled_from([1.0, 2.0, 3.0])))
    y = draw(hnp.arrays(np.float64, (n,), elements=finite(5.0)))
    return x, y, draw(st.integers(1, 10)), draw(st.integers(1, 10)), draw(finite(5.0)), draw(st.floats(0.2, 1.0))


@given(asymmetric_problems())
@example((np.ones(4), np.array([0.0, 1.0, 2.0, 3.0]), 1, 10, 0.0, 0.5))
def test_asymmetric_regression_walks_into_the_band_around_the_optimum_and_stays(problem):
    """Full-batch gradient descent on the asymmetric loss (reference.losses.asymmetric_regression, a
    one-weight model w x) against the optimum [w_lo, w_hi] of asymmetric_minimizers, which the test
    above ties to scipy's minimize_scalar.

    The step is lr g with g the loss's left slope at w (the b branch at a tie), -b X <= g <= a X
    (X = sum x). A step from right of the optimum goes left by at most lr a X, from the left goes
    right by at most lr b X, so from inside the band [w_lo - lr a X, w_hi + lr b X] it stays inside;
    from outside, the slope on the side it starts is at least s (the slope next to the optimum, an
    integer >= 1 here), so it enters within ceil(distance / (lr s)) steps. lr is drawn as
    c max(distance, 0.1) / (200 s), c in [0.2, 1]: at most 1000 steps to enter; the run goes 50 further.
    Slack for rounding: the products x_i w against y_i and w - lr g, 4 U (max|w| + lr max(a, b) X)."""
    x, y, a, b, w0, c = problem
    w_lo, w_hi = asymmetric_minimizers(x, y, a, b)
    big_x = x.sum()
    s_left, s_right = asymmetric_slopes(x, y, a, b, w_lo, w_hi)
    s = s_right if w0 > w_hi else s_left
    assert s_right >= 1 and s_left >= 1
    distance = max(w0 - w_hi, w_lo - w0, 0.0)
    lr = c * max(distance, 0.1) / (200 * s)
    enter = int(np.ceil(distance / (lr * s)))
    traj = np.array(L.asymmetric_regression(x[:, None], y[:, None], np.array([[w0]]), lr, enter + 50, a, b))[:, 0, 0]
    slack = 4 * U * (np.abs(traj).max() + abs(w0) + lr * max(a, b) * big_x)
    after = traj[max(enter - 1, 0):]  # w after `enter` steps, and on
    left = after < w_lo
    beyond = np.where(left, w_lo - after, np.maximum(after - w_hi, 0.0))
    within(beyond, 0 * beyond, np.where(left, lr * a * big_x, lr * b * big_x) + slack, "asymmetric_regression band")


# --- resize -------------------------------------------------------------------------------------

@st.composite
def resize_cases(draw):
    """(image, size): an HWC image or NHWC batch, sides 1..8, 1..3 channels, values up to 1 or 255;
    output sides 1..12 (up, down, equal, to and from 1)."""
    lead = draw(st.sampled_from([(), (2,)]))
    shape = lead + (draw(st.integers(1, 8)), draw(st.integers(1, 8)), draw(st.integers(1, 3)))
    image = draw(hnp.arrays(np.float64, shape, elements=finite(draw(st.sampled_from([1.0, 255.0])))))
    return image, (draw(st.integers(1, 12)), draw(st.integers(1, 12)))


def ndimage_resize(image, size, order):
    """scipy.ndimage.zoom with grid_mode=True: pixels are cells, so output pixel i's centre i + 1/2
    sits at (i + 1/2) in / out in input coordinates (scipy computes the factor in / out from the
    shapes itself); mode='nearest' extends the image by its edge pixels, as TF's clamp does.
    order=1 is linear interpolation between the two nearest pixel centres, order=0 the nearest."""
    factors = (1.0,) * (image.ndim - 3) + (size[0] / image.shape[-3], size[1] / image.shape[-2], 1.0)
    out = ndimage.zoom(image, factors, order=order, mode="nearest", grid_mode=True)
    assert out.shape[-3:-1] == tuple(size)
    return out


@given(resize_cases())
@example((np.arange(12.0).reshape(3, 4, 1), (5, 2)))
@example((np.array([[[0.0], [1.0]]]), (1, 7)))
@example((np.full((2, 2, 1), 2.2250738585e-313), (1, 1)))  # subnormal pixels: the absolute floor
def test_bilinear_resize_is_ndimage_zoom_order_1_on_the_half_pixel_grid(case):
    """reference.image.resize(method="bilinear", antialias=False), a separable product of triangle
    weights normalised per output pixel, against scipy.ndimage.zoom(order=1, grid_mode=True,
    mode="nearest"), an n-dimensional spline interpolator at the coordinates it derives from the
    shapes.

    Tolerance, absolute, M = max |pixel|: along an axis of n_in pixels the sample coordinate
    (i + 1/2) n_in / n_out errs by 2 U n_in on each side, which moves a weight by as much and the
    value by twice that times M (neighbours differ by up to 2M); the weights' and the sum's rounding
    add 6 U M. Two axes in turn, two sides: 4 U M (2 (n_h + n_w) + 12). Subnormal pixels round by an
    absolute step 2**-1074 instead: 4 operations a side and axis, 16 steps."""
    image, size = case
    h, w = image.shape[-3:-1]
    big = np.abs(image).max(initial=0.0)
    within(I.resize(image, size, "bilinear"), ndimage_resize(image, size, 1),
           np.full(image.shape[:-3] + size + image.shape[-1:], 4 * U * big * (2 * (h + w) + 12) + 16 * SUB),
           "resize bilinear vs ndimage.zoom")


def nearest_ties(n_in, n_out):
    """Output pixels whose centre (i + 1/2) n_in / n_out falls exactly on an input cell boundary, in
    integers: 2 n_out divides (2i + 1) n_in."""
    return ((2 * np.arange(n_out) + 1) * n_in) % (2 * n_out) == 0


@given(resize_cases())
@example((np.arange(2.0).reshape(2, 1, 1), (49, 1)))  # output row 24's centre is 1 exactly
@example((np.arange(16.0).reshape(4, 4, 1), (6, 2)))
def test_nearest_resize_is_ndimage_zoom_order_0_away_from_ties(case):
    """reference.image.resize(method="nearest") picks the input cell holding the output pixel's centre
    c = (i + 1/2) n_in / n_out, floor(c); scipy.ndimage.zoom(order=0, grid_mode=True) rounds the
    coordinate c - 1/2 to the nearest pixel, floor(c - 1/2 + 1/2), the same pixel: a selection, so
    bitwise equal. Where c is an integer exactly (a tie between two cells, nearest_ties) the two
    conventions part: the reference (and TF) take the right cell exactly, ndimage computes
    (i + 1/2) fl(n_in / n_out) - 1/2 in floating point and takes whichever side its rounding lands on
    (e.g. 2 -> 49 rows, row 24: c = 1, ndimage takes row 0: fl(2/49) rounds down). At ties the test
    checks the reference's pick in integers, floor(c) = (2i + 1) n_in / (2 n_out), and that ndimage's
    is one of the two cells."""
    image, size = case
    ref, route = I.resize(image, size, "nearest"), ndimage_resize(image, size, 0)
    rows, cols = (nearest_ties(n, m) for n, m in zip(image.shape[-3:-1], size))
    away = ~rows[:, None] & ~cols[None, :]
    np.testing.assert_array_equal(ref[..., away, :], route[..., away, :], err_msg="nearest away from ties")
    picks = [np.minimum((2 * np.arange(m) + 1) * n // (2 * m), n - 1) for n, m in zip(image.shape[-3:-1], size)]
    np.testing.assert_array_equal(ref, image[..., picks[0][:, None], picks[1][None, :], :], err_msg="nearest picks")
    left = [np.where(t, np.maximum(p - 1, 0), p) for t, p in zip((rows, cols), picks)]
    either = [image[..., r[:, None], c[None, :], :] for r in (picks[0], left[0]) for c in (picks[1], left[1])]
    assert np.any([route == e for e in either], axis=0).all(), "ndimage's nearest is not one of the tied cells"
