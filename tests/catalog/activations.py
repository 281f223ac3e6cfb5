"""Catalog entries: activation functions (reference/activations.py, tfimpl/activations.py)."""
import numpy as np
from hypothesis import strategies as st

import reference.activations as R
import tfimpl.activations as T
from tests.catalog import DTYPES, Concept, ErrorCase, KernelFact, Sample, Tol, off_zero, tf_errors
from tests.catalog import _strategies as S

nan, inf = np.nan, np.inf




# --- the elementwise functions ----------------------------------------------

def elementwise(bound):
    return S.shapes(min_rank=0).flatmap(lambda shape: S.arrays(shape, bound)).map(lambda x: Sample((x,)))


def elementwise_edges(big):
    return (
        Sample((np.zeros((0, 3)),), id="empty-batch"),
        Sample((np.array([0.75]),), id="one-element"),
        Sample((np.array(-1.5),), id="scalar"),
        Sample((np.array([-big, -30.0, 30.0, big]),), id="extreme-magnitude"),
        Sample((np.array([inf, -inf, nan, 0.0, -0.0]),), id="inf-nan"),
    )


def dense_bench(n, rng):
    return Sample((rng.standard_normal((n // 1000 or 1, 1000)) * 4,))


EXACT = {d: Tol(0, "max(x, 0) returns one of its inputs: exact in every dtype") for d in DTYPES}
EXACT_GRAD = {d: Tol(0, "dy * (x > 0) is dy or 0: exact in every dtype") for d in DTYPES}


def transcendental(f32, f64, why32, why64, low=1, why_low=None):
    """Tolerances for an op evaluated once per element (exp, tanh). float16 and
    bfloat16 are mostly computed in float32 and rounded: half an ulp of the result
    plus float32's error, so 1 eps covers them unless ``why_low`` says otherwise."""
    why_low = why_low or "computed in float32 and rounded once: <= 0.5 ulp, and ulp <= eps * |value|"
    return {"float16": Tol(low, why_low), "bfloat16": Tol(low, why_low),
            "float32": Tol(f32, why32), "float64": Tol(f64, why64)}


def from_output(ulps):
    """Gradient tolerances for sigmoid and tanh. TF's SigmoidGrad and TanhGrad work from
    the rounded output y: dy * y * (1 - y) and dy * (1 - y^2). Where |y| is near 1 the
    1 - y cancels, so the error is absolute, about eps * |dy| (|dy| <= 1 here): floor 1."""
    why = ("TF's grad kernel uses the rounded output y; 1 - y cancels: absolute error ~ eps * |dy|, "
           "doubled where Eigen saturates y to exactly +-1 (tanh'(18) = 4 eps in float64 comes out 0)")
    return {d: Tol(ulps, why, floor=1) for d in DTYPES}


def wrong_dtype(arg="x"):
    return ErrorCase(f"integer-{arg}", (np.array([1, 2, 3]),), {}, TypeError,
                     rf"{arg} must be a floating-point array, got dtype int64", tf_errors())


CATALOG = [
    Concept(
        name="relu", ref=R.relu, tf=T.relu, ref_vjp=R.relu_vjp, tf_vjp=T.relu_vjp,
        samples=lambda: elementwise(50.0), edges=elementwise_edges(1e4),
        tol=EXACT, grad_tol=EXACT_GRAD, off_kink=off_zero,
        grad_edges=("empty-batch", "one-element", "scalar", "extreme-magnitude"),
        errors=(ErrorCase("bool-x", (np.array([True, False]),), {}, TypeError,
                          r"x must be a real number array \(float or integer\), got dtype bool", tf_errors()),),
        bench=dense_bench,
    ),
    Concept(
        name="sigmoid", ref=R.sigmoid, tf=T.sigmoid, ref_vjp=R.sigmoid_vjp, tf_vjp=T.sigmoid_vjp,
        samples=lambda: elementwise(60.0), edges=elementwise_edges(1e4),
        grad_tol=from_output(8),
        tol=transcendental(4, 4, "Eigen's float32 logistic: exp, add, divide, each <= 0.5 ulp, plus cancellation-free form",
                           "exp, add, divide in float64: each <= 0.5 ulp",
                           low=2, why_low="in a TF1 graph the bfloat16 logistic is not float32 rounded once: "
                                          "sigmoid(-1.9375) comes out 2 ulp high (0.12695 for 0.12592), 1.05 eps"),
        grad_edges=("empty-batch", "one-element", "scalar", "extreme-magnitude"),
        errors=(wrong_dtype(),), bench=dense_bench,
    ),
    Concept(
        name="tanh", ref=R.tanh, tf=T.tanh, ref_vjp=R.tanh_vjp, tf_vjp=T.tanh_vjp,
        samples=lambda: elementwise(20.0), edges=elementwise_edges(1e4),
        grad_tol=from_output(8),
        tol=transcendental(4, 4, "Eigen's float32 tanh is a rational approximation, a few ulp",
                           "libm tanh, <= 1 ulp"),
        grad_edges=("empty-batch", "one-element", "scalar", "extreme-magnitude"),
        errors=(wrong_dtype(),), bench=dense_bench,
    ),
]


# --- softmax and log_softmax ----------------------------------------------------

def logits_samples(bound):
    def with_axis(shape):
        return st.tuples(S.arrays(shape, bound), S.axes_for(shape)).map(
            lambda xa: Sample((xa[0],), {"axis": int(xa[1])}))
    return S.shapes(min_rank=1).flatmap(with_axis)


SOFTMAX_EDGES = (
    Sample((np.zeros((0, 5)),), {"axis": -1}, id="empty-batch"),
    Sample((np.zeros((3, 0)),), {"axis": -1}, id="empty-classes"),
    Sample((np.array([[2.5]]),), {"axis": -1}, id="one-element"),
    Sample((np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4 + 1]]),), {"axis": -1}, id="extreme-magnitude"),
    Sample((np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]]),), {"axis": 0}, id="axis-0"),
    Sample((np.array([[inf, 1.0], [-inf, 1.0], [nan, 1.0], [-inf, -inf]]),), {"axis": -1}, id="inf-nan"),
)


def onednn_softmax(logits, axis=-1):
    """oneDNN's softmax on rows that hold NaN or +inf, as measured on TF 2.16-2.21: NaN
    where the row holds NaN or +inf, 0 elsewhere (rows without them: the reference).
    The IEEE formula exp(x - max) / sum gives NaN across such a row (inf - inf = NaN
    feeds the sum); the mathematical limit of a +inf row would be [1, 0]. Rows up to
    8 wide: in longer NaN rows more SIMD lanes turn NaN."""
    bad = np.isnan(logits) | (logits == np.inf)
    row_bad = np.any(bad, axis=axis, keepdims=True)
    return np.where(row_bad, np.where(bad, np.nan, 0.0), R.softmax(logits, axis))


SOFTMAX_ONEDNN = KernelFact(
    "inf-nan", "onednn", ("float32", "bfloat16"), ("eager", "function", "graph"), onednn_softmax,
    "oneDNN's softmax primitive (float32 and bfloat16 only; XLA compiles its own) gives [nan, 0] for "
    "[inf, 1] and [nan, 1], where Eigen, XLA, float16 and float64 give [nan, nan]")

SOFTMAX_ERRORS = (
    ErrorCase("rank-0", (np.array(1.0),), {}, ValueError,
              r"logits must have rank >= 1, got rank 0 \(shape \(\)\)", tf_errors()),
    ErrorCase("axis-out-of-range", (np.ones((2, 3)),), {"axis": 2}, ValueError,
              r"axis 2 is out of range for an array of rank 2 \(expected -2 <= axis < 2\)", tf_errors()),
    ErrorCase("integer-logits", (np.array([[1, 2, 3]]),), {}, TypeError,
              r"logits must be a floating-point array, got dtype int64", tf_errors()),
)

# Softmax computes z = x - max(x) in the working precision: z carries an absolute
# rounding error of about eps * |z|, which exp turns into a relative error eps * |z|
# of p = exp(z) / sum. That is large for tiny probabilities but small in absolute
# terms: p * |z| <= max_z z e^-z = 1/e. So the budget is absolute (floor 1).
_P = "absolute: rounding of z = x - max costs p * |z| * eps <= eps / e, plus exp, sum, divide"
SOFTMAX_TOL = {"float16": Tol(2, _P + " (float32 inside, rounded once)", floor=1),
               "bfloat16": Tol(2, _P + " (float32 inside, rounded once)", floor=1),
               "float32": Tol(4, _P + ", each <= 0.5 ulp", floor=1),
               "float64": Tol(4, _P + ", each <= 0.5 ulp", floor=1)}
_L = "absolute near 0: z - log(sum exp z) is a difference of O(1) terms, each <= 0.5 ulp"
LOG_SOFTMAX_TOL = {"float16": Tol(2, _L + " (float32 inside, rounded once)", floor=1),
                   "bfloat16": Tol(2, _L + " (float32 inside, rounded once)", floor=1),
                   "float32": Tol(4, _L, floor=1),
                   "float64": Tol(4, _L, floor=1)}
SOFTMAX_GRAD_TOL = {d: Tol(t.ulps * 2, "the pull-back s * (dy - sum(dy s)) adds a product and a sum "
                                       "of O(1) terms to the forward error", floor=1)
                    for d, t in SOFTMAX_TOL.items()}

ROW_SUM = Tol(16, "benchmark rows of 1000 classes: the row sum is ~log2(1000) = 10 roundings deep in "
                  "Eigen's and XLA's vectorised sums (measured 5.5 eps), + the entry's 4", floor=1)

CATALOG += [
    Concept(
        name="softmax", ref=R.softmax, tf=T.softmax, ref_vjp=R.softmax_vjp, tf_vjp=T.softmax_vjp,
        samples=lambda: logits_samples(30.0), edges=SOFTMAX_EDGES,
        tol=SOFTMAX_TOL, grad_tol=SOFTMAX_GRAD_TOL,
        grad_edges=("empty-batch", "empty-classes", "one-element", "extreme-magnitude", "axis-0"),
        errors=SOFTMAX_ERRORS, bench=dense_bench, bench_tol=ROW_SUM, kernel_facts=(SOFTMAX_ONEDNN,),
    ),
    Concept(
        name="log_softmax", ref=R.log_softmax, tf=T.log_softmax, ref_vjp=R.log_softmax_vjp,
        tf_vjp=T.log_softmax_vjp,
        samples=lambda: logits_samples(30.0), edges=SOFTMAX_EDGES,
        tol=LOG_SOFTMAX_TOL, grad_tol=SOFTMAX_GRAD_TOL,
        grad_edges=("empty-batch", "empty-classes", "one-element", "extreme-magnitude", "axis-0"),
        errors=SOFTMAX_ERRORS, bench=dense_bench, bench_tol=ROW_SUM,
    ),
]
