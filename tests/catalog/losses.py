"""Catalog entries: loss functions (reference/losses.py, tfimpl/losses.py)."""
import numpy as np
from hypothesis import strategies as st

import reference.losses as R
import tfimpl.losses as T
from reference.activations import softmax
from tests.catalog import error_models, strategies
from tests.catalog.concept import (LONG_SUM, XLA_ACCEPTS, BadInput, Concept, KernelFact, Sample, Tol,
                                   reduction_tol, shape_mismatch, shape_pattern, traced_or_run)
from tests.precision import DTYPES, LOW

nan, inf = np.nan, np.inf


REGRESSION_SHAPES = ((3,), (2, 3), (2, 1, 3))
"""The regression losses' extreme-magnitude edge's shape (a gradient edge: its compiles are shared), a matrix
and a rank-3 one; rank 0, one element and an empty batch are edges."""
CLIPPED_SHAPES = ((1, 2), (2, 3), (2, 1, 3))
"""The clipped cross-entropy's extreme-magnitude and prediction-zero edges' shapes (gradient edges) and a
rank-3 one."""


def pair(bound_a, bound_b=None, elements_b=None, shapes=REGRESSION_SHAPES):
    """Two same-shape float64 arrays (a, b), the shape one of ``shapes`` (strategies.bucket)."""
    return strategies.bucket(shapes).flatmap(lambda shape: st.tuples(
        strategies.arrays(shape, bound_a), strategies.arrays(shape, bound_b or bound_a, elements=elements_b)))


def _normalised(x, axis):
    """softmax of x along axis: positive soft labels that sum to 1."""
    return softmax(x, axis=axis) if x.size else x


# --- bad input: what every loss rejects, on both sides, for the same reason ----------------------

XLA_DROPS_THE_ASSERT = ("the shape-generic trace does not know these dimensions, so the check is a runtime "
                        "assert, which XLA compiles away; XLA's own shape check of {op} then {what}")


def mismatch(name_a, name_b, xla, op, **kwargs):
    """(4, 3) against (4, 5): one dimension differs, caught eagerly while tracing and by the
    runtime assert in tf.function and a Session; XLA rejects it with ``op``'s own message."""
    return BadInput("mismatched-shapes", (np.ones((4, 3)), np.ones((4, 5))), kwargs, ValueError,
                     rf"{name_a} shape \(4, 3\) does not match {name_b} shape \(4, 5\)", traced_or_run(ValueError),
                     xla_match=xla, xla_why=XLA_DROPS_THE_ASSERT.format(op=op, what="fails to compile"))


def broadcast_column(name_a, name_b, **kwargs):
    """(N,) against (N, 1), the classic bug: the ops alone broadcast it to (N, N). Ranks differ,
    so it is caught while tracing, in every mode, XLA included."""
    return shape_mismatch("broadcast-column", np.arange(4.0), np.arange(4.0)[:, None], name_a, name_b, kwargs=kwargs)


def integer_inputs(name, args, **kwargs):
    """Every array argument an integer array: the ops alone would compute in integers."""
    return BadInput("integer-inputs", args, kwargs, TypeError,
                     rf"{name} must be a floating-point array, got dtype int64", (TypeError,))


INCOMPATIBLE = r"Incompatible shapes: \[4,3\] vs\. \[4,5\]"

CLIPPED_BAD_INPUTS = (
    mismatch("y_true", "y_pred", INCOMPATIBLE, "y_true * log(...)", eps=1e-10),
    broadcast_column("y_true", "y_pred", eps=1e-10),
    integer_inputs("y_true", (np.array([[0, 1]]), np.array([[1, 0]])), eps=1e-10),
    BadInput("integer-y_pred", (np.ones((2, 2)), np.array([[1, 0], [0, 1]])), {}, TypeError,
              r"y_pred must be a floating-point array, got dtype int64", (TypeError,)),
)

XENT_BAD_INPUTS = (
    mismatch("labels", "logits", r"Dimensions cannot be made to match through broadcasting", "the fused kernel"),
    broadcast_column("labels", "logits"),
    BadInput("rank-0", (np.array(1.0), np.array(1.0)), {}, ValueError,
              r"logits must have rank >= 1, got rank 0 \(shape \(\)\)", (ValueError,)),
    BadInput("axis-out-of-range", (np.ones((2, 3)), np.ones((2, 3))), {"axis": 2}, ValueError,
              r"axis 2 is out of range for an array of rank 2 \(expected -2 <= axis < 2\)", (ValueError,)),
    BadInput("integer-labels", (np.eye(3, dtype=np.int64)[[0, 2]], np.ones((2, 3))), {}, TypeError,
              r"labels must be a floating-point array, got dtype int64", (TypeError,)),
    BadInput("integer-logits", (np.ones((1, 3)), np.array([[1, 2, 3]])), {}, TypeError,
              r"logits must be a floating-point array, got dtype int64", (TypeError,)),
)

_LABELS_4_1 = (r"labels shape {} does not match logits shape {} without its class axis, {}")
SPARSE_BAD_INPUTS = (
    BadInput("wrong-rank-labels", (np.ones((4, 1), np.int64), np.ones((4, 5))), {}, ValueError,
              _LABELS_4_1.format(r"\(4, 1\)", r"\(4, 5\)", r"\(4,\)"), (ValueError,),
              tf_match=_LABELS_4_1.format(shape_pattern((4, 1)), shape_pattern((4, 5)), shape_pattern((4,)))),
    BadInput("broadcast-labels", (np.array([0]), np.ones((4, 5))), {}, ValueError,
              _LABELS_4_1.format(r"\(1,\)", r"\(4, 5\)", r"\(4,\)"), traced_or_run(ValueError),
              xla_match=r"logits and labels must have the same first dimension, got logits shape \[4,5\] "
                        r"and labels shape \[1\]",
              xla_why=XLA_DROPS_THE_ASSERT.format(op="the sparse kernel", what="fails to compile")),
    BadInput("float-labels", (np.ones(4), np.ones((4, 5))), {}, TypeError,
              r"labels must be an integer array, got dtype float64", (TypeError,)),
    BadInput("integer-logits", (np.array([0, 2]), np.ones((2, 3), np.int64)), {}, TypeError,
              r"logits must be a floating-point array, got dtype int64", (TypeError,)),
    BadInput("rank-0", (np.array(1), np.array(1.0)), {}, ValueError,
              r"logits must have rank >= 1, got rank 0 \(shape \(\)\)", (ValueError,)),
)

MSE_BAD_INPUTS = (
    mismatch("y_true", "y_pred", INCOMPATIBLE, "y_true - y_pred"),
    broadcast_column("y_true", "y_pred"),
    BadInput("broadcast-same-rank", (np.ones((4, 1)), np.ones((4, 5))), {}, ValueError,
              r"y_true shape \(4, 1\) does not match y_pred shape \(4, 5\)", traced_or_run(ValueError),
              xla_match=XLA_ACCEPTS,
              xla_why=XLA_DROPS_THE_ASSERT.format(op="y_true - y_pred", what="broadcasts (4, 1) against (4, 5): "
                                                  "shape-generic jit_compile callers get no check (a concrete "
                                                  "input_signature makes it a trace-time ValueError)")),
    integer_inputs("y_true", (np.arange(4), np.zeros(4, np.int64))),
)

ASYMMETRIC_BAD_INPUTS = (
    mismatch("v1", "v2", INCOMPATIBLE, "tf.greater(v1, v2)", a=1.0, b=10.0),
    broadcast_column("v1", "v2", a=1.0, b=10.0),
    integer_inputs("v1", (np.arange(4), np.zeros(4, np.int64)), a=1.0, b=10.0),
)


# --- clipped_cross_entropy ------------------------------------------------------------
# float16 is left out of this entry: tf.clip_by_value rounds eps = 1e-10 to float16's 0,
# so the classic line returns NaN/inf wherever a prediction is 0, while the float64
# reference clips at 1e-10. tests/test_losses.py pins float16 by name (NaN at 0; agreement
# where predictions are >= float16's smallest normal).

PREDICTIONS = st.one_of(st.sampled_from([0.0, 1e-30, 1.0]), st.floats(1e-6, 1.1))
"""Predictions: exactly 0 and 1e-30 (clipped to eps), exactly 1 (the upper bound), and
(1e-6, 1.1] (above 1 is clipped to 1). Nothing within rounding of eps itself, where the
dtype's rounding of eps decides the side (the bound convention has a named test)."""


def clipped_strategy():
    """Non-empty (the mean of nothing is NaN, pinned by the empty-batch edge, and would
    make the finite differences NaN)."""
    return pair(1.0, elements_b=PREDICTIONS, shapes=CLIPPED_SHAPES).map(
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
    # found by the drawn examples (bfloat16, Session: 0 against 1.87e-38): -dy / N = -1e-38 is subnormal and
    # flushed, in every mode; its products with 1 / y_pred (2e-38, 4e-38) are normal
    Sample((np.array([[1.0, 1.0]]), np.array([[0.5, 0.25]])), {"eps": 1e-10}, id="subnormal-dy-over-n",
           dy=np.array(2e-38)),
)


def _clipped(y_pred, eps):
    """clip(y_pred, eps, 1) and where it passes the gradient (inside the bounds, both included)."""
    return np.clip(y_pred, eps, 1.0), (y_pred >= eps) & (y_pred <= 1.0)


def clipped_flushes(dtype, y_true, y_pred, eps=1e-10):
    """-mean(y_true log c): a product y_true log c below tiny may flush before the sum (same sign:
    the terms cover its partial sums) and the mean's 1 / N carry it."""
    c, _ = _clipped(y_pred, eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = y_true * np.log(c)
    return error_models.flushed_sum(dtype, terms.ravel(), same_sign=True) / max(y_true.size, 1)


def clipped_vjp_error(dtype, y_true, y_pred, dy, eps=1e-10):
    """TF's gradient op by op: g = -dy / N (the Neg's and the Mean's grads), d y_true = g log c,
    d y_pred = (g y_true) (1 / c) inside the clip bounds (the Mul's, the Log's grad, the clip's):
    ``low`` / ``high`` roundings of each result (the log or the reciprocal, the products, the divide
    by N), plus what the subnormal intermediates g and g y_true cost once log c (up to 23) and
    1 / c (up to 1e10) scale them back into the normal range (-dy / N of 1e-38 is lost,
    its gradient 2e-38 is normal)."""
    n_eps = 3 if dtype in LOW else 4
    d_true, d_pred = R.clipped_cross_entropy_vjp(y_true, y_pred, dy, eps)
    c, inside = _clipped(y_pred, eps)
    g = -np.asarray(dy, np.float64) / max(y_true.size, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_c, inv_c = np.abs(np.log(c)), 1 / c
    lost_true = error_models.flushed(dtype, g) * log_c
    lost_pred = np.where(inside, (error_models.flushed(dtype, g) * np.abs(y_true)
                                  + error_models.flushed(dtype, g * y_true)) * inv_c, 0.0)
    return n_eps * np.abs(d_true) + lost_true, n_eps * np.abs(d_pred) + lost_pred


def clipped_bench_sample(n, rng):
    m = 10
    y = rng.dirichlet(np.ones(m), n // m or 1)
    return Sample((np.eye(m)[rng.integers(0, m, len(y))], y), {"eps": 1e-10})


def xla_fast_clamp(y_true, y_pred, eps=1e-10):
    """The clipped cross-entropy where clip_by_value maps NaN to its lower bound eps, as XLA's CPU
    backend did before TF 2.21: its default xla_cpu_enable_fast_min_max lowers clamp to min/max
    instructions that return the non-NaN operand (XLA_FLAGS=--xla_cpu_enable_fast_min_max=false
    gives the IEEE NaN). TF 2.21's XLA propagates the NaN, as the reference does."""
    return R.clipped_cross_entropy(y_true, np.where(np.isnan(y_pred), eps, y_pred), eps)


CLIPPED_FACTS = (
    KernelFact("inf-nan", "any", ("float32", "float64"), ("xla",), xla_fast_clamp,
               "XLA's CPU clamp before TF 2.21 returns the lower bound for NaN (fast min/max): a NaN "
               "prediction's term is -log(1e-10) = 23 instead of NaN", versions=(None, "2.21")),
)

CATALOG = [
    Concept(
        name="clipped_cross_entropy", ref=R.clipped_cross_entropy, tf=T.clipped_cross_entropy,
        ref_vjp=R.clipped_cross_entropy_vjp, tf_vjp=T.clipped_cross_entropy_vjp, wrt=(0, 1),
        strategy=clipped_strategy, edges=CLIPPED_EDGES,
        tol=reduction_tol(R.clipped_cross_entropy, 1.5, 0.5, "log (<= 1 ulp) and product (0.5) per term, mean (0.5)",
                          flushes=clipped_flushes),
        grad_tol={d: Tol(1, "elementwise: log or reciprocal (<= 1 ulp), multiply, divide by N (0.5 each), 3 eps "
                            "(float16/bfloat16: ops in float32, rounded once per op) or 4; -dy / N and its product "
                            "with y_true may flush", model=clipped_vjp_error) for d in DTYPES},
        off_kink=clipped_off_kink,
        grad_edge_ids=("empty-batch", "one-element", "prediction-zero", "extreme-magnitude", "subnormal-dy-over-n"),
        bad_inputs=CLIPPED_BAD_INPUTS,
        bench_sample=clipped_bench_sample, dtypes=("bfloat16", "float32", "float64"), bench_tol=LONG_SUM, kernel_facts=CLIPPED_FACTS,
    ),
]


# --- softmax cross-entropy, dense and sparse -----------------------------------------------

def dense_strategy(bound=30.0):
    """Soft labels (positive, summing to 1: TF's logits gradient assumes it) and logits.
    At most one empty side: TF 2.21 raises InvalidArgumentError (a reshape inside
    softmax_cross_entropy_with_logits) when the class axis AND another axis are both
    empty, e.g. shape (0, 0); (0, 5) and (3, 0) work and are edges here."""
    def with_axis(shape_axis):
        shape, axis = shape_axis
        return st.tuples(strategies.arrays(shape, 4.0), strategies.arrays(shape, bound)).map(
            lambda t: Sample((_normalised(t[0], axis), t[1]), {"axis": axis}))
    return strategies.bucket(strategies.AXIS_SHAPES).flatmap(with_axis)


def sparse_strategy(bound=30.0):
    def draw(shape):
        classes = shape[-1]
        ids = st.integers(0, max(classes - 1, 0))
        return st.tuples(
            strategies.arrays(shape, bound),
            st.lists(ids, min_size=int(np.prod(shape[:-1])), max_size=int(np.prod(shape[:-1])))
        ).map(lambda t: Sample((np.array(t[1], np.int64).reshape(shape[:-1]), t[0])))
    return strategies.bucket(SPARSE_SHAPES).flatmap(draw)


SPARSE_SHAPES = ((3,), (2, 3), (2, 2, 3))
"""Logits shapes: the rank-1-logits and extreme-magnitude edges' (gradient edges: their compiles are shared)
and a rank-3 one; the labels take all but the last axis."""


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


def dense_bench_sample(n, rng):
    m = 10
    logits = rng.standard_normal((n // m or 1, m)) * 4
    return Sample((rng.dirichlet(np.ones(m), len(logits)), logits), {"axis": -1})


def sparse_bench_sample(n, rng):
    m = 10
    logits = rng.standard_normal((n // m or 1, m)) * 4
    return Sample((rng.integers(0, m, len(logits)), logits))


XENT_WHY = ("per example: |labels| times log_softmax's per-element bound (the shift, log-sum-exp), "
            "the products and the sum over classes each rounding once (tests/catalog/error_models.py)")
XENT_TOL = {d: Tol(1, XENT_WHY, model=error_models.xent_error) for d in DTYPES}
XENT_GRAD_TOL = {d: Tol(1, "dy (softmax - labels) and -dy log_softmax: softmax's relative bound per element, "
                           "the subtraction and the product with dy", model=error_models.xent_vjp_error) for d in DTYPES}
SPARSE_TOL = {d: Tol(1, XENT_WHY + "; labels one-hot", model=error_models.sparse_xent_error) for d in DTYPES}
SPARSE_GRAD_TOL = {d: Tol(1, "dy (softmax - one_hot): softmax's relative bound per element, the subtraction "
                             "and the product with dy", model=error_models.sparse_xent_vjp_error) for d in DTYPES}

CATALOG += [
    Concept(
        name="softmax_cross_entropy_with_logits", ref=R.softmax_cross_entropy_with_logits,
        tf=T.softmax_cross_entropy_with_logits, ref_vjp=R.softmax_cross_entropy_with_logits_vjp,
        tf_vjp=T.softmax_cross_entropy_with_logits_vjp, wrt=(0, 1),
        strategy=dense_strategy, edges=DENSE_EDGES, tol=XENT_TOL, grad_tol=XENT_GRAD_TOL,
        grad_edge_ids=("empty-batch", "empty-classes", "one-element", "extreme-magnitude", "axis-0"),
        bad_inputs=XENT_BAD_INPUTS,
        bench_sample=dense_bench_sample,
    ),
    Concept(
        name="sparse_softmax_cross_entropy_with_logits", ref=R.sparse_softmax_cross_entropy_with_logits,
        tf=T.sparse_softmax_cross_entropy_with_logits, ref_vjp=R.sparse_softmax_cross_entropy_with_logits_vjp,
        tf_vjp=T.sparse_softmax_cross_entropy_with_logits_vjp, wrt=(1,),
        strategy=sparse_strategy, edges=SPARSE_EDGES, tol=SPARSE_TOL, grad_tol=SPARSE_GRAD_TOL,
        grad_edge_ids=("empty-batch", "one-element", "rank-1-logits", "extreme-magnitude"),
        # An id outside [0, classes) is not a BadInput: XLA drops the Assert ops and
        # returns NaN, so it cannot be rejected in every mode; test_losses.py pins it per mode.
        bad_inputs=SPARSE_BAD_INPUTS,
        bench_sample=sparse_bench_sample,
    ),
]


# --- mean squared error and the asymmetric loss ----------------------------------------------

def mse_flushes(dtype, y_true, y_pred):
    """mean((y_true - y_pred)^2): squares below tiny may flush before the sum (same sign) and the mean."""
    return error_models.flushed_sum(dtype, ((y_true - y_pred) ** 2).ravel(), same_sign=True) / max(y_true.size, 1)


def mse_vjp_error(dtype, y_true, y_pred, dy):
    """TF's gradient op by op: g = dy / N (the Mean's grad), d = y_true - y_pred, then the Square's
    g (2 d), passed on with either sign: 2 eps of the result (the difference, the divide by N and
    the product), plus a subnormal g (dy / N below tiny), d or 2 d, scaled back up by the other."""
    (grad, _) = R.mean_squared_error_vjp(y_true, y_pred, dy)
    g = np.asarray(dy, np.float64) / max(y_true.size, 1)
    d = y_true - y_pred
    lost = (error_models.flushed(dtype, g) * 2 * np.abs(d)
            + (error_models.flushed(dtype, d) * 2 + error_models.flushed(dtype, 2 * d)) * np.abs(g))
    err = 2 * np.abs(grad) + lost
    return err, err


def asymmetric_flushes(dtype, v1, v2, a, b):
    """sum of (v1 - v2) a or (v2 - v1) b: a subnormal difference may flush before a or b scales it up,
    and so may a subnormal term (all >= 0: the terms cover the partial sums)."""
    d = v1 - v2
    factor = np.where(v1 > v2, abs(a), abs(b))
    return (np.sum(error_models.flushed(dtype, d) * factor)
            + error_models.flushed_sum(dtype, (np.abs(d) * factor).ravel(), same_sign=True))


MSE_DY = Sample((np.array([0.0, 0.0, 0.0, 0.0]), np.array([1.0, -3.0, 0.5, 8.0])), id="subnormal-dy-over-n",
                dy=np.array(4e-38))
"""dy / N = 1e-38 is subnormal: flushed in bfloat16 and float32 before 2 (y_true - y_pred) scales it
back up (2e-38 to 1.6e-37, normal)."""


def regression_bench_sample(n, rng):
    return Sample((rng.standard_normal(n), rng.standard_normal(n)))


def off_tie(sample, margin):
    """Move v1 at least ``margin`` away from v2 (the kink of the asymmetric loss)."""
    v1, v2 = sample.args
    d = v1 - v2
    return Sample((np.where(np.abs(d) < margin, v2 + np.where(d < 0, -margin, margin), v1), v2),
                  sample.kwargs, sample.id)


ASYMMETRIC_WEIGHTS = ((10.0, 1.0), (0.5, 3.0), (1.0, 10.0))
"""(a, b): the edges' first; each pair is a keyword set, a trace and a compile of its own."""


def asymmetric_strategy():
    return st.tuples(pair(10.0, elements_b=None), st.sampled_from(ASYMMETRIC_WEIGHTS)).map(
        lambda t: Sample(t[0], {"a": t[1][0], "b": t[1][1]})) | \
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
        strategy=lambda: pair(10.0).map(lambda ab: Sample(ab)), edges=REGRESSION_EDGES + (MSE_DY,),
        tol=reduction_tol(R.mean_squared_error, 1.5, 0.5,
                          "difference (0.5 ulp, doubled by squaring) and square (0.5) per term, mean (0.5)",
                          flushes=mse_flushes),
        grad_tol={d: Tol(1, "difference (0.5 ulp) times 2/N (exact for N a power of 2, else 0.5 ulp), 2 eps; "
                            "dy / N may flush before 2 (y_true - y_pred) scales it up", model=mse_vjp_error)
                  for d in DTYPES},
        grad_edge_ids=("empty-batch", "one-element", "scalar", "extreme-magnitude", MSE_DY.id),
        bad_inputs=MSE_BAD_INPUTS,
        bench_sample=regression_bench_sample, bench_tol=LONG_SUM,
    ),
    Concept(
        name="asymmetric_loss", ref=R.asymmetric_loss, tf=T.asymmetric_loss,
        ref_vjp=R.asymmetric_loss_vjp, tf_vjp=T.asymmetric_loss_vjp, wrt=(0, 1),
        strategy=asymmetric_strategy, edges=with_ab(REGRESSION_EDGES, 10.0, 1.0),
        tol=reduction_tol(R.asymmetric_loss, 1.0, 0.0, "difference (0.5 ulp) and times a or b (0.5) per term",
                          flushes=asymmetric_flushes),
        grad_tol={d: Tol(0.5, "a or -b times dy: one rounding (a, b are small integers or halves)")
                  for d in DTYPES},
        off_kink=off_tie,
        grad_edge_ids=("empty-batch", "one-element", "scalar", "extreme-magnitude"),
        bad_inputs=ASYMMETRIC_BAD_INPUTS,
        bench_sample=lambda n, rng: Sample(regression_bench_sample(n, rng).args, {"a": 10.0, "b": 1.0}), bench_tol=LONG_SUM,
    ),
]
