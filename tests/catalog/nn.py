"""Catalog entries: a dense layer and a dense network's forward pass (reference/nn.py, tfimpl/nn.py).

``mlp_forward`` takes a list of (w, b) pairs; the runner feeds flat arrays, so the
entry uses ``mlp_forward_flat(x, w1, b1, ..., wL, bL, activation=...)``, the same thin
adapter around each side. Its gradients (mlp_gradients) have named tests in tests/test_nn.py.
"""
import numpy as np
from hypothesis import strategies as st

import reference.nn as R
import tfimpl.nn as T
from tests.catalog import DTYPES, Concept, ErrorCase, Sample, Tol, tf_errors
from tests.catalog import _strategies as S

nan, inf = np.nan, np.inf
ACTS = (None, "relu", "sigmoid", "tanh")




# --- dense ------------------------------------------------------------------------

def dense_samples():
    dims = st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 4))
    return st.tuples(dims, st.sampled_from(ACTS)).flatmap(lambda da: st.tuples(
        S.arrays((da[0][0], da[0][1]), 2.0), S.arrays((da[0][1], da[0][2]), 2.0), S.arrays((da[0][2],), 2.0),
    ).map(lambda xwb: Sample(xwb, {"activation": da[1]})))


def off_kink(sample, margin):
    """relu samples: shift each column's bias so no pre-activation x @ w + b lies within
    ``margin`` of relu's kink at 0 (Chainer's dodge_nondifferentiable, per column)."""
    if sample.kwargs.get("activation") != "relu":
        return sample
    x, w, b = sample.args
    z = x @ w
    b = b.copy()
    for j in range(b.size):
        for shift in np.arange(0, 1, margin):
            if np.all(np.abs(z[:, j] + b[j] + shift) >= margin):
                b[j] += shift
                break
    return Sample((x, w, b), sample.kwargs, sample.id)


def dense_edges():
    rng = np.random.default_rng(4)
    x, w, b = rng.uniform(-2, 2, (3, 4)), rng.uniform(-2, 2, (4, 2)), rng.uniform(-2, 2, (2,))
    return (
        Sample((np.zeros((0, 4)), w, b), {"activation": "relu"}, id="empty-batch"),
        Sample((x, w, b), {"activation": "tanh"}, id="three-by-four"),
        Sample((np.array([[0.75]]), np.array([[-1.5]]), np.array([0.25])), {"activation": "tanh"}, id="one-element"),
        Sample((np.zeros((3, 0)), np.zeros((0, 2)), np.array([0.5, -1.0])), {"activation": "sigmoid"}, id="no-inputs"),
        Sample((np.array([[100.0, -100.0]]), np.array([[100.0], [100.0]]), np.array([0.0])),
               {"activation": "sigmoid"}, id="extreme-magnitude"),
        Sample((np.array([[inf, 1.0], [nan, 1.0]]), np.array([[1.0, 0.0], [0.0, 1.0]]), np.zeros(2)),
               {"activation": "tanh"}, id="inf-nan"),
    )


def dense_bench(n, rng):
    k = 32
    return Sample((rng.standard_normal((max(n // k, 1), k)), rng.standard_normal((k, k)) / k ** 0.5,
                   rng.standard_normal(k)), {"activation": "relu"})


def shape_error(id_, x, w, b, match):
    return ErrorCase(id_, (x, w, b), {}, ValueError, match, tf_errors())


DENSE_ERRORS = (
    shape_error("x-w-mismatch", np.ones((2, 3)), np.ones((4, 2)), np.ones(2),
                r"x shape \(2, 3\) does not match w shape \(4, 2\) \(x.shape\[1\] must equal w.shape\[0\]\)"),
    shape_error("b-w-mismatch", np.ones((2, 3)), np.ones((3, 2)), np.ones(5),
                r"b shape \(5,\) does not match w shape \(3, 2\) \(b.shape\[0\] must equal w.shape\[1\]\)"),
    ErrorCase("unknown-activation", (np.ones((2, 3)), np.ones((3, 2)), np.ones(2)), {"activation": "swish"},
              ValueError, r"activation must be one of \[None, 'relu', 'sigmoid', 'tanh'\], got 'swish'", tf_errors()),
    ErrorCase("integer-x", (np.ones((2, 3), np.int64), np.ones((3, 2)), np.ones(2)), {}, TypeError,
              r"x must be a floating-point array, got dtype int64", tf_errors()),
)

# z = sum_k x_k w_k + b over K <= 4 terms of size <= 2 * 2, so |terms| sum to <= 4 * 4 + 2 = 18.
# Dot product and bias add: <= K + 1 = 5 roundings, each <= eps * 18 absolute (floor 18).
# The activations shrink absolute errors (|act'| <= 1) and add their own few ulps of the output.
DENSE_TOL = {
    "float16": Tol(8, "5 roundings of the dot product + bias (K <= 4) at scale 18, + the activation's 1 ulp", floor=18),
    "bfloat16": Tol(8, "5 roundings of the dot product + bias (K <= 4) at scale 18, + the activation's 1 ulp",
                    floor=18),
    "float32": Tol(8, "5 roundings of the dot product + bias (K <= 4) at scale 18, + Eigen's few-ulp tanh/logistic",
                   floor=18),
    "float64": Tol(8, "5 roundings of the dot product + bias (K <= 4) at scale 18, + libm's <= 1 ulp", floor=18),
}
# dx = dz @ w.T, dw = x.T @ dz, db = sum(dz): sums of <= 4 products of |dy| <= 1, |act'| <= 1, |x|, |w| <= 2;
# act'(z) is itself a few roundings of exp; each result <= 5 roundings at scale 8 (floor 8) plus act' error.
DENSE_GRAD_TOL = {d: Tol(12, "<= 4-term sums of dy * act'(z) * (x or w) at scale 8: 5 roundings + act'(z)'s few ulps",
                         floor=8) for d in DTYPES}


# --- mlp_forward ------------------------------------------------------------------

def _flat(mlp_forward):
    def mlp_forward_flat(x, *wb, activation="relu"):
        return mlp_forward(x, [(wb[i], wb[i + 1]) for i in range(0, len(wb), 2)], activation)
    mlp_forward_flat.__module__ = mlp_forward.__module__
    return mlp_forward_flat


ref_mlp_forward_flat, tf_mlp_forward_flat = _flat(R.mlp_forward), _flat(T.mlp_forward)


def mlp_samples():
    """1 to 3 layers, widths 1-4, weights in [-1, 1] (so each layer's |output| stays
    <= 4 * 4 + 1 = 17 for |input| <= 4 and at most ~ 4x larger per layer)."""
    def build(widths_act):
        widths, act = widths_act
        arrays = [S.arrays((widths[0], widths[1]), 4.0)]
        for i in range(1, len(widths) - 1):
            arrays += [S.arrays((widths[i], widths[i + 1]), 1.0), S.arrays((widths[i + 1],), 1.0)]
        return st.tuples(*arrays).map(lambda a: Sample(tuple(a), {"activation": act}))
    widths = st.integers(2, 4).flatmap(lambda n: st.tuples(st.integers(0, 4), *[st.integers(1, 4)] * n))
    return st.tuples(widths, st.sampled_from(ACTS[1:])).flatmap(build)


def mlp_edges():
    rng = np.random.default_rng(5)
    layers = [rng.uniform(-1, 1, s) for s in [(3, 4), (4,), (4, 4), (4,), (4, 2), (2,)]]
    return (
        Sample((np.zeros((0, 3)), *layers), {"activation": "relu"}, id="empty-batch"),
        Sample((rng.uniform(-4, 4, (5, 3)), *layers), {"activation": "tanh"}, id="two-hidden-tanh"),
        Sample((rng.uniform(-4, 4, (5, 3)), *layers[:2]), {"activation": "relu"}, id="one-layer-linear"),
        Sample((np.array([[1e3, 2e3, 3e3]]), np.full((3, 4), 0.5), *layers[1:]), {"activation": "sigmoid"},
               id="extreme-magnitude"),
        Sample((np.array([[nan, 0.0, 0.0], [inf, 0.0, 0.0]]), *layers[:2]), {"activation": "relu"}, id="inf-nan"),
    )


def mlp_bench(n, rng):
    k = 32
    layers = [a for _ in range(2) for a in (rng.standard_normal((k, k)) / k ** 0.5, rng.standard_normal(k))]
    return Sample((rng.standard_normal((max(n // k, 1), k)), *layers), {"activation": "relu"})


MLP_ERRORS = (
    ErrorCase("layer-mismatch", (np.ones((2, 3)), np.ones((3, 4)), np.ones(4), np.ones((5, 2)), np.ones(2)), {},
              ValueError, r"x shape \(2, 4\) does not match w shape \(5, 2\)", tf_errors()),
)

# Per layer: <= 5 roundings at the layer's scale (see DENSE_TOL); the next layer's weights (|w| <= 1,
# <= 4 of them) carry an absolute error on to at most 4x, while the scale itself grows the same 4x,
# so the error stays ~5 roundings per layer relative to the current scale: 3 layers -> ~16, floor 16.
MLP_TOL = {d: Tol(24, "3 layers x (5 roundings of a <= 4-term dot product + bias + the activation's few ulps), "
                      "relative to a scale of 16", floor=16) for d in DTYPES}


CATALOG = [
    Concept(
        name="dense", ref=R.dense, tf=T.dense, ref_vjp=R.dense_vjp, tf_vjp=T.dense_vjp, wrt=(0, 1, 2),
        samples=dense_samples, edges=dense_edges(), tol=DENSE_TOL, grad_tol=DENSE_GRAD_TOL, off_kink=off_kink,
        grad_edges=("empty-batch", "three-by-four", "one-element", "no-inputs", "extreme-magnitude"),
        errors=DENSE_ERRORS, bench=dense_bench,
    ),
    Concept(
        name="mlp_forward", ref=ref_mlp_forward_flat, tf=tf_mlp_forward_flat,
        samples=mlp_samples, edges=mlp_edges(), tol=MLP_TOL, errors=MLP_ERRORS, bench=mlp_bench,
    ),
]
