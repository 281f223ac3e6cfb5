"""Catalog entries: activation functions (reference/activations.py, tfimpl/activations.py)."""
import numpy as np

import reference.activations as R
import tfimpl.activations as T
from tests.catalog import error_models, strategies
from tests.catalog.concept import BadInput, Concept, KernelFact, Sample, Tol, off_zero
from tests.precision import DTYPES

nan, inf = np.nan, np.inf


# --- the elementwise functions ----------------------------------------------

ELEMENTWISE_SHAPES = ((4,), (5,), (2, 3, 2))
"""The extreme- and small-magnitude edges' shapes (gradient edges: their compiles are shared) and a
rank-3 one; rank 0 and empty inputs are edges."""


def elementwise(bound):
    return strategies.bucket(ELEMENTWISE_SHAPES).flatmap(lambda shape: strategies.arrays(shape, bound)).map(
        lambda x: Sample((x,)))


def elementwise_edges(big):
    return (
        Sample((np.zeros((0, 3)),), id="empty-batch"),
        Sample((np.array([0.75]),), id="one-element"),
        Sample((np.array(-1.5),), id="scalar"),
        Sample((np.array([-big, -30.0, 30.0, big]),), id="extreme-magnitude"),
        # below 1e-4 down to float32's smallest normal: float16 flushes the last two to 0 at the cast
        Sample((np.array([1e-3, -3e-4, 1e-7, -2e-20, 1.5e-38]),), id="small-magnitude"),
        Sample((np.array([inf, -inf, nan, 0.0, -0.0]),), id="inf-nan"),
    )


def dense_bench_sample(n, rng):
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


def from_output(name, forward):
    """Gradient tolerances for sigmoid and tanh, per element. TF's SigmoidGrad and TanhGrad work
    from the rounded output y (off by the forward budget, ``forward[dtype].n_eps`` eps of |y|):
    dy * y * (1 - y) and dy * (1 - y^2). The slope carries y's error (|1 - 2y| and 2|y| times it),
    the 1 - y / y^2 and the products round once each. Near |y| = 1 the result is an absolute
    error of a few eps * |dy|: Eigen saturates tanh(18) to exactly 1, whose slope 4 eps (float64)
    comes out 0. A subnormal y (sigmoid(-88) in float32) may flush, which dy carries."""
    def model(dtype, x, dy):
        y_abs = np.abs(R.sigmoid(x) if name == "sigmoid" else R.tanh(x))
        y_err = forward[dtype].n_eps * y_abs + error_models.flushed(dtype, y_abs)
        if name == "sigmoid":
            y = R.sigmoid(x)
            slope, carried = y * (1 - y), np.abs(1 - 2 * y) * y_err
        else:
            y = R.tanh(x)
            slope, carried = 1 - y * y, 2 * np.abs(y) * y_err + 0.5 * y * y
        return np.abs(dy) * (carried + slope) + 0.5 * np.abs(dy * slope)
    why = (f"TF's {name} grad kernel from the rounded output y: y's error through the slope, "
           f"the slope's and the product's roundings, per element")
    return {d: Tol(1, why, model=model) for d in DTYPES}


def wrong_dtype(arg="x"):
    return BadInput(f"integer-{arg}", (np.array([1, 2, 3]),), {}, TypeError,
                     rf"{arg} must be a floating-point array, got dtype int64", (TypeError,))


SIGMOID_TOL = transcendental(4, 4, "Eigen's float32 logistic: exp, add, divide, each <= 0.5 ulp, plus "
                                   "cancellation-free form", "exp, add, divide in float64: each <= 0.5 ulp",
                             low=2, why_low="in a TF1 graph the bfloat16 logistic is not float32 rounded once: "
                                            "sigmoid(-1.9375) comes out 2 ulp high (0.12695 for 0.12592), 1.05 eps")
TANH_TOL = transcendental(4, 4, "Eigen's float32 tanh is a rational approximation, a few ulp", "libm tanh, <= 1 ulp")

CATALOG = [
    Concept(
        name="relu", ref=R.relu, tf=T.relu, ref_vjp=R.relu_vjp, tf_vjp=T.relu_vjp,
        strategy=lambda: elementwise(50.0), edges=elementwise_edges(1e4),
        tol=EXACT, grad_tol=EXACT_GRAD, off_kink=off_zero,
        grad_edge_ids=("empty-batch", "one-element", "scalar", "extreme-magnitude", "small-magnitude"),
        bad_inputs=(BadInput("bool-x", (np.array([True, False]),), {}, TypeError,
                          r"x must be a real number array \(float or integer\), got dtype bool", (TypeError,)),),
        bench_sample=dense_bench_sample,
    ),
    Concept(
        name="sigmoid", ref=R.sigmoid, tf=T.sigmoid, ref_vjp=R.sigmoid_vjp, tf_vjp=T.sigmoid_vjp,
        strategy=lambda: elementwise(60.0), edges=elementwise_edges(1e4),
        grad_tol=from_output("sigmoid", SIGMOID_TOL), tol=SIGMOID_TOL,
        grad_edge_ids=("empty-batch", "one-element", "scalar", "extreme-magnitude", "small-magnitude"),
        bad_inputs=(wrong_dtype(),), bench_sample=dense_bench_sample,
    ),
    Concept(
        name="tanh", ref=R.tanh, tf=T.tanh, ref_vjp=R.tanh_vjp, tf_vjp=T.tanh_vjp,
        strategy=lambda: elementwise(20.0), edges=elementwise_edges(1e4),
        grad_tol=from_output("tanh", TANH_TOL), tol=TANH_TOL,
        grad_edge_ids=("empty-batch", "one-element", "scalar", "extreme-magnitude", "small-magnitude"),
        bad_inputs=(wrong_dtype(),), bench_sample=dense_bench_sample,
    ),
]


# --- softmax and log_softmax ----------------------------------------------------

def logits_strategy(bound):
    return strategies.bucket(strategies.AXIS_SHAPES).flatmap(lambda sa: strategies.arrays(sa[0], bound).map(
        lambda x: Sample((x,), {"axis": sa[1]})))


SOFTMAX_EDGES = (
    Sample((np.zeros((0, 5)),), {"axis": -1}, id="empty-batch"),
    Sample((np.zeros((3, 0)),), {"axis": -1}, id="empty-classes"),
    Sample((np.array([[2.5]]),), {"axis": -1}, id="one-element"),
    Sample((np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4 + 1]]),), {"axis": -1}, id="extreme-magnitude"),
    Sample((np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]]),), {"axis": 0}, id="axis-0"),
    Sample((np.array([[inf, 1.0], [-inf, 1.0], [nan, 1.0], [-inf, -inf]]),), {"axis": -1}, id="inf-nan"),
)


def onednn_softmax(logits, axis=-1):
    """oneDNN's softmax on rows that hold NaN or +inf, as measured on TF 2.17-2.21: NaN
    where the row holds NaN or +inf, 0 elsewhere (rows without them: the reference).
    The IEEE formula exp(x - max) / sum gives NaN across such a row (inf - inf = NaN
    feeds the sum); the mathematical limit of a +inf row would be [1, 0]. Rows up to
    8 wide: in longer NaN rows more SIMD lanes turn NaN."""
    bad = np.isnan(logits) | (logits == np.inf)
    row_bad = np.any(bad, axis=axis, keepdims=True)
    return np.where(row_bad, np.where(bad, np.nan, 0.0), R.softmax(logits, axis))


SOFTMAX_FACTS = (
    KernelFact("inf-nan", "onednn", ("float32", "bfloat16"), ("eager", "function", "graph"), onednn_softmax,
               "oneDNN's softmax primitive (float32 and bfloat16 only) gives [nan, 0] for [inf, 1] and [nan, 1], "
               "where Eigen, float16 and float64 give [nan, nan]"),
    # Until TF 2.18, XLA's CPU compiler itself lowered softmax to oneDNN (a custom call
    # __onednn$softmax in the HLO), whatever TF_ENABLE_ONEDNN_OPTS says: float32 on 2.16 and 2.17,
    # bfloat16 from 2.17. From 2.18 XLA compiles its own and gives [nan, nan].
    KernelFact("inf-nan", "any", ("float32",), ("xla",), onednn_softmax,
               "XLA before TF 2.18 calls oneDNN's softmax on every kernel path", versions=(None, "2.18")),
    KernelFact("inf-nan", "any", ("bfloat16",), ("xla",), onednn_softmax,
               "XLA in TF 2.17 calls oneDNN's softmax for bfloat16 too", versions=("2.17", "2.18")),
)

SOFTMAX_BAD_INPUTS = (
    BadInput("rank-0", (np.array(1.0),), {}, ValueError,
              r"logits must have rank >= 1, got rank 0 \(shape \(\)\)", (ValueError,)),
    BadInput("axis-out-of-range", (np.ones((2, 3)),), {"axis": 2}, ValueError,
              r"axis 2 is out of range for an array of rank 2 \(expected -2 <= axis < 2\)", (ValueError,)),
    BadInput("integer-logits", (np.array([[1, 2, 3]]),), {}, TypeError,
              r"logits must be a floating-point array, got dtype int64", (TypeError,)),
)

# Softmax computes z = x - max(x) in the working precision: z carries an absolute rounding
# error of 0.5 eps |z|, which exp turns into a relative error of p = exp(z) / sum. So the
# budget is relative per element and grows with |z|: a probability of 1e-20 is checked to
# the same relative accuracy as one of 0.5 (tests/catalog/error_models.py derives each bound).
SOFTMAX_TOL = {d: Tol(1, "per element, relative: p (|z| / 2 + exp's ulp + depth / 2 of the sum + the divide)",
                      model=error_models.softmax_error) for d in DTYPES}
LOG_SOFTMAX_TOL = {d: Tol(1, "per element, absolute: |z| / 2 + the sum's relative error + log's ulp of |lse| "
                             "+ the final subtraction", model=error_models.log_softmax_error) for d in DTYPES}
SOFTMAX_GRAD_TOL = {d: Tol(1, "TF's _SoftmaxGrad op by op: sum(dy s), dy - t, (dy - t) s, with s off by "
                              "softmax's bound", model=error_models.softmax_vjp_error) for d in DTYPES}
LOG_SOFTMAX_GRAD_TOL = {d: Tol(1, "TF's _LogSoftmaxGrad op by op: exp(y) from the rounded output, sum(dy), "
                                  "dy - sum(dy) exp(y)", model=error_models.log_softmax_vjp_error) for d in DTYPES}

CATALOG += [
    Concept(
        name="softmax", ref=R.softmax, tf=T.softmax, ref_vjp=R.softmax_vjp, tf_vjp=T.softmax_vjp,
        strategy=lambda: logits_strategy(30.0), edges=SOFTMAX_EDGES,
        tol=SOFTMAX_TOL, grad_tol=SOFTMAX_GRAD_TOL,
        grad_edge_ids=("empty-batch", "empty-classes", "one-element", "extreme-magnitude", "axis-0"),
        bad_inputs=SOFTMAX_BAD_INPUTS, bench_sample=dense_bench_sample, kernel_facts=SOFTMAX_FACTS,
    ),
    Concept(
        name="log_softmax", ref=R.log_softmax, tf=T.log_softmax, ref_vjp=R.log_softmax_vjp,
        tf_vjp=T.log_softmax_vjp,
        strategy=lambda: logits_strategy(30.0), edges=SOFTMAX_EDGES,
        tol=LOG_SOFTMAX_TOL, grad_tol=LOG_SOFTMAX_GRAD_TOL,
        grad_edge_ids=("empty-batch", "empty-classes", "one-element", "extreme-magnitude", "axis-0"),
        bad_inputs=SOFTMAX_BAD_INPUTS, bench_sample=dense_bench_sample,
    ),
]
