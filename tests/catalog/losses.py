"""Catalog entries: loss functions (reference/losses.py, tfimpl/losses.py)."""
import numpy as np
from hypothesis import strategies as st

import reference.losses as R
import tfimpl.losses as T
from tests.catalog import DTYPES, LONG_SUM, Concept, ErrorCase, Sample, Tol, reduction_tol, tf_errors
from tests.catalog import _strategies as S

nan, inf = np.nan, np.inf




def pair(bound_a, bound_b=None, min_rank=0, elements_b=None, min_side=0):
    """Two same-shape float64 arrays (a, b)."""
    return S.shapes(min_rank=min_rank, min_side=min_side).flatmap(lambda shape: st.tuples(
        S.arrays(shape, bound_a), S.arrays(shape, bound_b or bound_a, elements=elements_b)))


def _normalised(x, axis):
    """softmax of x along axis: positive soft labels that sum to 1."""
    from reference.activations import softmax
    return softmax(x, axis=axis) if x.size else x


def mismatch(*names, **kwargs):
    a, b = names
    return ErrorCase("mismatched-shapes", (np.ones((4, 3)), np.ones((4, 5))), kwargs, ValueError,
                     rf"{a} shape \(4, 3\) does not match {b} shape \(4, 5\)", tf_errors())


# --- clipped_cross_entropy ------------------------------------------------------------
# float16 is left out of this entry: tf.clip_by_value rounds eps = 1e-10 to float16's 0,
# so the classic line returns NaN/inf wherever a prediction is 0, while the float64
# reference clips at 1e-10. tests/test_losses.py pins float16 by name (NaN at 0; agreement
# where predictions are >= float16's smallest normal).

PREDICTIONS = st.one_of(st.sampled_from([0.0, 1e-30, 1.0]), st.floats(1e-6, 1.1))
"""Predictions: exactly 0 and 1e-30 (clipped to eps), exactly 1 (the upper bound), and
(1e-6, 1.1] (above 1 is clipped to 1). Nothing within rounding of eps itself, where the
dtype's rounding of eps decides the side (the bound convention has a named test)."""


def clipped_samples():
    """Non-empty (the mean of nothing is NaN, pinned by the empty-batch edge, and would
    make the finite differences NaN)."""
    return pair(1.0, elements_b=PREDICTIONS, min_side=1).map(
        lambda ab: Sample((np.asarray(np.abs(ab[0])), ab[1]), {"eps": 1e-10}))


def clipped_off_kink(sample, margin):
    """Predictions away from the clip bounds eps and 1, and >= 0.1 where log is not too
    curved for the finite-difference step (or below 0: on the flat, clipped side)."""
    y_true, y = sample.args
    y = np.where(y < 0.05, -margin, np.where(y < 0.1, 0.1, y))
    y = np.where(np.abs(y - 1) < margin, np.where(y < 1, 1 - margin, 1 + margin), y)
    return Sample((y_true, y), sample.kwargs, sample.id)


CLIPPED_EDGES = (
    Sample((np.zeros((0, 3)), np.zeros((0, 3))), {"eps": 1e-10}, id="empty-batch"),
    Sample((np.array([[1.0]]), np.array([[0.25]])), {"eps": 1e-10}, id="one-element"),
    Sample((np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]), np.array([[0.5, 0.0, 0.5], [0.0, 1.0, 0.0]])),
           {"eps": 1e-10}, id="prediction-zero"),
    Sample((np.array([[0.2, 0.8]]), np.array([[1.5, 1e-300]])), {"eps": 1e-10}, id="extreme-magnitude"),
    Sample((np.array([[1.0, 0.0]]), np.array([[nan, 0.5]])), {"eps": 1e-10}, id="inf-nan"),
)


def clipped_bench(n, rng):
    m = 10
    y = rng.dirichlet(np.ones(m), n // m or 1)
    return Sample((np.eye(m)[rng.integers(0, m, len(y))], y), {"eps": 1e-10})


CATALOG = [
    Concept(
        name="clipped_cross_entropy", ref=R.clipped_cross_entropy, tf=T.clipped_cross_entropy,
        ref_vjp=R.clipped_cross_entropy_vjp, tf_vjp=T.clipped_cross_entropy_vjp, wrt=(0, 1),
        samples=clipped_samples, edges=CLIPPED_EDGES,
        tol=reduction_tol(3, 10, 10, "log (<= 1 ulp), product (0.5), mean of same-sign terms"),
        grad_tol=reduction_tol(3, 4, 4, "elementwise: log or divide (<= 1 ulp), multiply, divide by N"),
        off_kink=clipped_off_kink,
        grad_edges=("empty-batch", "one-element", "prediction-zero", "extreme-magnitude"),
        errors=(mismatch("y_true", "y_pred"),
                ErrorCase("integer-y_pred", (np.ones((2, 2)), np.array([[1, 0], [0, 1]])), {}, TypeError,
                          r"y_pred must be a floating-point array, got dtype int64", tf_errors())),
        bench=clipped_bench, dtypes=("bfloat16", "float32", "float64"), bench_tol=LONG_SUM,
    ),
]


# --- softmax cross-entropy, dense and sparse -----------------------------------------------

def dense_samples(bound=30.0):
    """Soft labels (positive, summing to 1: TF's logits gradient assumes it) and logits.
    At most one empty side: TF 2.21 raises InvalidArgumentError (a reshape inside
    softmax_cross_entropy_with_logits) when the class axis AND another axis are both
    empty, e.g. shape (0, 0); (0, 5) and (3, 0) work and are edges here."""
    def with_axis(shape):
        return st.tuples(S.arrays(shape, 4.0), S.arrays(shape, bound), S.axes_for(shape)).map(
            lambda t: Sample((_normalised(t[0], int(t[2])), t[1]), {"axis": int(t[2])}))
    return S.shapes(min_rank=1).filter(lambda s: s.count(0) <= 1).flatmap(with_axis)


def sparse_samples(bound=30.0):
    def draw(shape):
        classes = shape[-1]
        ids = st.integers(0, max(classes - 1, 0))
        return st.tuples(
            S.arrays(shape, bound),
            st.lists(ids, min_size=int(np.prod(shape[:-1])), max_size=int(np.prod(shape[:-1])))
        ).map(lambda t: Sample((np.array(t[1], np.int64).reshape(shape[:-1]), t[0])))
    return S.shapes(min_rank=1, min_side=1).flatmap(draw) | S.shapes(min_rank=2).filter(
        lambda s: 0 in s[:-1] and s[-1] > 0).map(lambda s: Sample((np.zeros(s[:-1], np.int64), np.zeros(s))))


DENSE_EDGES = (
    Sample((np.zeros((0, 5)), np.zeros((0, 5))), {"axis": -1}, id="empty-batch"),
    Sample((np.zeros((3, 0)), np.zeros((3, 0))), {"axis": -1}, id="empty-classes"),
    Sample((np.array([[1.0]]), np.array([[2.5]])), {"axis": -1}, id="one-element"),
    Sample((np.array([[0.0, 1.0, 0.0], [0.5, 0.25, 0.25]]), np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4 + 1]])),
           {"axis": -1}, id="extreme-magnitude"),
    Sample((np.array([[0.0, 0.25], [0.5, 0.75], [0.5, 0.0]]), np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]])),
           {"axis": 0}, id="axis-0"),
    # (labels [0, 1], logits [-inf, 1]) is left out: 0 * -inf is NaN eagerly and in the
    # reference but 0 under XLA; tests/test_losses.py pins that per mode.
    Sample((np.array([[0.0, 1.0], [0.5, 0.5]]), np.array([[inf, 1.0], [nan, 1.0]])),
           {"axis": -1}, id="inf-nan"),
)

SPARSE_EDGES = (
    Sample((np.zeros((0,), np.int64), np.zeros((0, 5))), id="empty-batch"),
    Sample((np.array([0]), np.array([[2.5]])), id="one-element"),
    Sample((np.array(1), np.array([0.5, -1.0, 2.0])), id="rank-1-logits"),
    Sample((np.array([1, 2]), np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4 + 1]])), id="extreme-magnitude"),
    Sample((np.array([0, 1]), np.array([[inf, 1.0], [nan, 1.0]])), id="inf-nan"),
)


def dense_bench(n, rng):
    m = 10
    logits = rng.standard_normal((n // m or 1, m)) * 4
    return Sample((rng.dirichlet(np.ones(m), len(logits)), logits), {"axis": -1})


def sparse_bench(n, rng):
    m = 10
    logits = rng.standard_normal((n // m or 1, m)) * 4
    return Sample((rng.integers(0, m, len(logits)), logits))


XENT_WHY = ("absolute error ~ eps x |logit - max| (<= 60 here): the shift, log-sum-exp and "
            "label-weighted sum each round once; floor 1 for losses near 0 (confident and right)")
XENT_TOL = {"float16": Tol(8, XENT_WHY, floor=1), "bfloat16": Tol(8, XENT_WHY, floor=1),
            "float32": Tol(16, XENT_WHY, floor=1), "float64": Tol(16, XENT_WHY, floor=1)}
XENT_GRAD_WHY = ("softmax - labels: exp, sum and divide (a few ulp of softmax <= 1), one subtraction, "
                 "floor 1 as entries are O(1); labels rounded to the dtype sum to 1 +- m eps/2")
XENT_GRAD_TOL = {"float16": Tol(8, XENT_GRAD_WHY, floor=1), "bfloat16": Tol(8, XENT_GRAD_WHY, floor=1),
                 "float32": Tol(16, XENT_GRAD_WHY, floor=1), "float64": Tol(16, XENT_GRAD_WHY, floor=1)}

CATALOG += [
    Concept(
        name="softmax_cross_entropy_with_logits", ref=R.softmax_cross_entropy_with_logits,
        tf=T.softmax_cross_entropy_with_logits, ref_vjp=R.softmax_cross_entropy_with_logits_vjp,
        tf_vjp=T.softmax_cross_entropy_with_logits_vjp, wrt=(0, 1),
        samples=dense_samples, edges=DENSE_EDGES, tol=XENT_TOL, grad_tol=XENT_GRAD_TOL,
        grad_edges=("empty-batch", "empty-classes", "one-element", "extreme-magnitude", "axis-0"),
        errors=(mismatch("labels", "logits"),
                ErrorCase("rank-0", (np.array(1.0), np.array(1.0)), {}, ValueError,
                          r"logits must have rank >= 1, got rank 0 \(shape \(\)\)", tf_errors()),
                ErrorCase("axis-out-of-range", (np.ones((2, 3)), np.ones((2, 3))), {"axis": 2}, ValueError,
                          r"axis 2 is out of range for an array of rank 2 \(expected -2 <= axis < 2\)",
                          tf_errors()),
                ErrorCase("integer-logits", (np.ones((1, 3)), np.array([[1, 2, 3]])), {}, TypeError,
                          r"logits must be a floating-point array, got dtype int64", tf_errors())),
        bench=dense_bench,
    ),
    Concept(
        name="sparse_softmax_cross_entropy_with_logits", ref=R.sparse_softmax_cross_entropy_with_logits,
        tf=T.sparse_softmax_cross_entropy_with_logits, ref_vjp=R.sparse_softmax_cross_entropy_with_logits_vjp,
        tf_vjp=T.sparse_softmax_cross_entropy_with_logits_vjp, wrt=(1,),
        samples=sparse_samples, edges=SPARSE_EDGES, tol=XENT_TOL, grad_tol=XENT_GRAD_TOL,
        grad_edges=("empty-batch", "one-element", "rank-1-logits", "extreme-magnitude"),
        # An id outside [0, classes) is not an ErrorCase: XLA drops the Assert ops and
        # returns NaN, so it cannot be rejected in every mode; test_losses.py pins it per mode.
        errors=(ErrorCase("wrong-rank-labels", (np.ones((4, 1), np.int64), np.ones((4, 5))), {}, ValueError,
                          r"labels shape \(4, 1\) does not match logits shape \(4, 5\) without its class "
                          r"axis, \(4,\)", tf_errors()),
                ErrorCase("float-labels", (np.ones(4), np.ones((4, 5))), {}, TypeError,
                          r"labels must be an integer array, got dtype float64", tf_errors()),
                ErrorCase("rank-0", (np.array(1), np.array(1.0)), {}, ValueError,
                          r"logits must have rank >= 1, got rank 0 \(shape \(\)\)", tf_errors())),
        bench=sparse_bench,
    ),
]


# --- mean squared error and the asymmetric loss ----------------------------------------------

def regression_bench(n, rng):
    return Sample((rng.standard_normal(n), rng.standard_normal(n)))


def off_tie(sample, margin):
    """Move v1 at least ``margin`` away from v2 (the kink of the asymmetric loss)."""
    v1, v2 = sample.args
    d = v1 - v2
    return Sample((np.where(np.abs(d) < margin, v2 + np.where(d < 0, -margin, margin), v1), v2),
                  sample.kwargs, sample.id)


def asymmetric_samples():
    ties = st.sampled_from([0.0, 1.0, -2.5])
    return st.tuples(pair(10.0, elements_b=None), st.sampled_from([1.0, 10.0, 0.5]),
                     st.sampled_from([1.0, 10.0, 3.0])).map(
        lambda t: Sample(t[0], {"a": t[1], "b": t[2]})) | \
        pair(10.0).map(lambda ab: Sample((ab[0], ab[0].copy()), {"a": 10.0, "b": 1.0}))  # all ties


REGRESSION_EDGES = (
    Sample((np.zeros((0, 3)), np.zeros((0, 3))), id="empty-batch"),
    Sample((np.array([0.75]), np.array([-0.5])), id="one-element"),
    Sample((np.array(-1.5), np.array(2.0)), id="scalar"),
    Sample((np.array([1e3, -1e3, 250.0]), np.array([-1e3, 1e3, 250.5])), id="extreme-magnitude"),
    Sample((np.array([inf, 1.0, nan]), np.array([1.0, -inf, 0.0])), id="inf-nan"),
)


def with_ab(edges, a, b):
    return tuple(Sample(e.args, {"a": a, "b": b}, e.id) for e in edges)


CATALOG += [
    Concept(
        name="mean_squared_error", ref=R.mean_squared_error, tf=T.mean_squared_error,
        ref_vjp=R.mean_squared_error_vjp, tf_vjp=T.mean_squared_error_vjp, wrt=(0, 1),
        samples=lambda: pair(10.0, min_side=1).map(lambda ab: Sample(ab)), edges=REGRESSION_EDGES,
        tol=reduction_tol(3, 10, 10, "difference (0.5 ulp, doubled by squaring), square (0.5), mean of >= 0 terms"),
        grad_tol=reduction_tol(2, 2, 2, "difference (0.5 ulp) times 2/N (exact for N a power of 2, else 0.5 ulp)"),
        grad_edges=("empty-batch", "one-element", "scalar", "extreme-magnitude"),
        errors=(mismatch("y_true", "y_pred"),),
        bench=regression_bench, bench_tol=LONG_SUM,
    ),
    Concept(
        name="asymmetric_loss", ref=R.asymmetric_loss, tf=T.asymmetric_loss,
        ref_vjp=R.asymmetric_loss_vjp, tf_vjp=T.asymmetric_loss_vjp, wrt=(0, 1),
        samples=asymmetric_samples, edges=with_ab(REGRESSION_EDGES, 10.0, 1.0),
        tol=reduction_tol(3, 10, 10, "difference (0.5 ulp), times a or b (0.5), sum of >= 0 terms"),
        grad_tol={d: Tol(0.5, "a or -b times dy: one rounding (a, b are small integers or halves)")
                  for d in DTYPES},
        off_kink=off_tie,
        grad_edges=("empty-batch", "one-element", "scalar", "extreme-magnitude"),
        errors=(ErrorCase("mismatched-shapes", (np.ones((4, 3)), np.ones((4, 5))), {"a": 1.0, "b": 10.0},
                          ValueError, r"v1 shape \(4, 3\) does not match v2 shape \(4, 5\)", tf_errors()),),
        bench=lambda n, rng: Sample(regression_bench(n, rng).args, {"a": 10.0, "b": 1.0}), bench_tol=LONG_SUM,
    ),
]
