"""Catalog entries: a dense layer and a dense network's forward pass (reference/nn.py, tfimpl/nn.py).

``mlp_forward`` takes a list of (w, b) pairs; the runner feeds flat arrays, so the
entry uses ``mlp_forward_flat(x, w1, b1, ..., wL, bL, activation=...)`` and its
``_vjp``, the same thin adapters around each side; the gradient is taken with respect
to x and every parameter. mlp_gradients (the loss's gradient) has named tests in
tests/test_nn.py.
"""
import re

import numpy as np
from hypothesis import strategies as st

import reference.nn as R
import tfimpl.nn as T
from tests.catalog import error_models, strategies
from tests.catalog.concept import XLA_ACCEPTS, BadInput, Concept, Sample, Tol, shape_pattern, traced_or_run
from tests.precision import DTYPES

nan, inf = np.nan, np.inf


# --- dense ------------------------------------------------------------------------

DENSE_SHAPES = (((1, 2, 1), "sigmoid"), ((3, 4, 2), "tanh"), ((4, 3, 2), "relu"), ((2, 4, 3), None))
"""((batch, inputs, units), activation): each activation once, two of them in the shapes of the
extreme-magnitude and three-by-four edges (gradient edges: their compiles are shared); a dimension of 0 is
an edge."""


def dense_strategy():
    return strategies.bucket(DENSE_SHAPES).flatmap(lambda da: st.tuples(
        strategies.arrays((da[0][0], da[0][1]), 2.0), strategies.arrays((da[0][1], da[0][2]), 2.0), strategies.arrays((da[0][2],), 2.0),
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


def dense_bench_sample(n, rng):
    k = 32
    return Sample((rng.standard_normal((max(n // k, 1), k)), rng.standard_normal((k, k)) / k ** 0.5,
                   rng.standard_normal(k)), {"activation": "relu"})


XLA_DROPS_THE_ASSERT = ("the shape-generic trace does not know these dimensions, so the check is a runtime "
                        "assert, which XLA compiles away; XLA's own shape check of {op} then {what}")


def shape_error(id_, args, match, xla, op, what="fails to compile"):
    """A mismatch of dimensions the shape-generic trace does not know: ValueError eagerly, the
    runtime assert's InvalidArgumentError (same message) in tf.function and a Session; under XLA
    ``op``'s own check (``xla``: its message, or XLA_ACCEPTS)."""
    return BadInput(id_, args, {}, ValueError, match, traced_or_run(ValueError),
                     xla_match=xla, xla_why=XLA_DROPS_THE_ASSERT.format(op=op, what=what))


def bias_column(args, shape):
    """A rank-2 bias (n_out, 1) or (1, n_out): + would broadcast it. The rank is known while
    tracing, so every mode rejects it, XLA included."""
    message = "b must have rank 1, got rank 2 \\(shape {}\\)"
    return BadInput("bias-column", args, {}, ValueError, message.format(re.escape(str(shape))), (ValueError,),
                     tf_match=message.format(shape_pattern(shape)))


X, W, B = np.ones((2, 3)), np.ones((3, 2)), np.ones(2)
DENSE_BAD_INPUTS = (
    shape_error("x-w-mismatch", (X, np.ones((4, 2)), B),
                r"x shape \(2, 3\) does not match w shape \(4, 2\) \(x.shape\[1\] must equal w.shape\[0\]\)",
                r"Matrix size-incompatible: In\[0\]: \[2,3\], In\[1\]: \[4,2\]", "tf.matmul"),
    shape_error("b-w-mismatch", (X, W, np.ones(5)),
                r"b shape \(5,\) does not match w shape \(3, 2\) \(b.shape\[0\] must equal w.shape\[1\]\)",
                r"Incompatible shapes: \[2,2\] vs\. \[5\]", "the bias add"),
    shape_error("bias-one-element", (X, W, np.ones(1)),
                r"b shape \(1,\) does not match w shape \(3, 2\) \(b.shape\[0\] must equal w.shape\[1\]\)",
                XLA_ACCEPTS, "the bias add", what="broadcasts the one bias to every unit: shape-generic "
                "jit_compile callers get no check (a concrete input_signature makes it a trace-time ValueError)"),
    bias_column((X, W, np.ones((2, 1))), (2, 1)),
    BadInput("unknown-activation", (X, W, B), {"activation": "swish"},
              ValueError, r"activation must be one of \[None, 'relu', 'sigmoid', 'tanh'\], got 'swish'", (ValueError,)),
    BadInput("integer-inputs", (np.ones((2, 3), np.int64), np.ones((3, 2), np.int64), np.ones(2, np.int64)), {},
              TypeError, r"x must be a floating-point array, got dtype int64", (TypeError,)),
    BadInput("integer-x", (np.ones((2, 3), np.int64), W, B), {}, TypeError,
              r"x must be a floating-point array, got dtype int64", (TypeError,)),
    BadInput("integer-b", (X, W, np.ones(2, np.int64)), {}, TypeError,
              r"b must be a floating-point array, got dtype int64", (TypeError,)),
)

# activation(x @ w + b): the K-term dot product (K/2 roundings of sum |x_k w_k|), the bias add
# (0.5 |z|), the activation's slope times that, and its own ulps (tests/catalog/error_models.py).
# Per element and per sample: no floor, so a wrong activation or a lost term shows in every dtype.
DENSE_TOL = {d: Tol(1, "per element: |act'(z)| x (K/2 sum|x w| + |z|/2) + the activation's own ulps of |act(z)|",
                    model=lambda dtype, x, w, b, activation=None: error_models.dense_error(dtype, x, w, b, activation)[0])
             for d in DTYPES}
DENSE_GRAD_TOL = {d: Tol(1, "dz = act'(z) dy from TF's grad kernels (from the rounded output), then "
                            "dz @ w.T, x.T @ dz and sum(dz) as matmuls", model=error_models.dense_vjp_error) for d in DTYPES}


# --- mlp_forward ------------------------------------------------------------------

def _flat(mlp_forward):
    def mlp_forward_flat(x, *wb, activation="relu"):
        return mlp_forward(x, [(wb[i], wb[i + 1]) for i in range(0, len(wb), 2)], activation)
    mlp_forward_flat.__module__ = mlp_forward.__module__
    return mlp_forward_flat


def _flat_vjp(mlp_forward_vjp):
    def mlp_forward_flat_vjp(x, *wb, dy, activation="relu"):
        dx, grads = mlp_forward_vjp(x, [(wb[i], wb[i + 1]) for i in range(0, len(wb), 2)], dy, activation)
        return (dx, *(g for pair in grads for g in pair))
    mlp_forward_flat_vjp.__module__ = mlp_forward_vjp.__module__
    return mlp_forward_flat_vjp


ref_mlp_forward_flat, tf_mlp_forward_flat = _flat(R.mlp_forward), _flat(T.mlp_forward)
ref_mlp_forward_flat_vjp, tf_mlp_forward_flat_vjp = _flat_vjp(R.mlp_forward_vjp), _flat_vjp(T.mlp_forward_vjp)


def mlp_off_kink(sample, margin):
    """relu networks: shift each hidden layer's biases off the kink (dense's off_kink, layer by layer)."""
    if sample.kwargs.get("activation") != "relu":
        return sample
    x, *wb = sample.args
    out, a = [x], x
    for i in range(0, len(wb) - 2, 2):
        _, w, b = off_kink(Sample((a, wb[i], wb[i + 1]), sample.kwargs), margin).args
        out += [w, b]
        a = R.dense(a, w, b, "relu")
    return Sample(tuple(out + list(wb[-2:])), sample.kwargs, sample.id)


MLP_SHAPES = (((2, 3, 4), "relu"), ((3, 2, 4, 1), "sigmoid"), ((5, 3, 4, 4, 2), "tanh"))
"""((batch, inputs, widths of the layers...), activation): one, two and three layers, each activation once,
the last in the shapes of the two-hidden-tanh edge (a gradient edge: its compiles are shared)."""


def mlp_strategy():
    """1 to 3 layers, widths up to 5, weights in [-1, 1] (so each layer's |output| stays
    <= 4 * 4 + 1 = 17 for |input| <= 4 and at most ~ 4x larger per layer)."""
    def build(widths_act):
        widths, act = widths_act
        arrays = [strategies.arrays((widths[0], widths[1]), 4.0)]
        for i in range(1, len(widths) - 1):
            arrays += [strategies.arrays((widths[i], widths[i + 1]), 1.0), strategies.arrays((widths[i + 1],), 1.0)]
        return st.tuples(*arrays).map(lambda a: Sample(tuple(a), {"activation": act}))
    return strategies.bucket(MLP_SHAPES).flatmap(build)


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
        SUBNORMAL_PRODUCTS,
    )


SUBNORMAL_PRODUCTS = Sample(
    (np.zeros((3, 1)), np.zeros((1, 1)), np.zeros(1), np.zeros((1, 3)), np.zeros(3),
     np.array([[0.0, 0.0], [0.0, 0.0], [0.0, -3.3057005e-37]]), np.zeros(2)), {"activation": "sigmoid"},
    id="subnormal-products", dy=np.array([[0.0, 0.25], [0.0, 0.0], [0.0, 0.25]]))
"""Found by the drawn examples on the oneDNN path, and it fails on Eigen too: dz2 = -2.07e-38 (normal) times
a1 = sigmoid(0) = 0.5 gives products of -1.03e-38 inside dw2 = a1^T dz2, subnormal and flushed by the matmul,
whose exact sum -2.07e-38 is normal (error_models.matmul_error charges each product)."""


def mlp_bench_sample(n, rng):
    k = 32
    layers = [a for _ in range(2) for a in (rng.standard_normal((k, k)) / k ** 0.5, rng.standard_normal(k))]
    return Sample((rng.standard_normal((max(n // k, 1), k)), *layers), {"activation": "relu"})


MLP_BAD_INPUTS = (
    shape_error("layer-mismatch", (X, np.ones((3, 4)), np.ones(4), np.ones((5, 2)), B),
                r"x shape \(2, 4\) does not match w shape \(5, 2\)",
                r"Matrix size-incompatible: In\[0\]: \[2,4\], In\[1\]: \[5,2\]", "the second tf.matmul"),
    bias_column((X, np.ones((3, 4)), np.ones((4, 1)), np.ones((4, 2)), B), (4, 1)),
    BadInput("integer-inputs", (np.ones((2, 3), np.int64), np.ones((3, 2), np.int64), np.ones(2, np.int64)), {},
              TypeError, r"x must be a floating-point array, got dtype int64", (TypeError,)),
    BadInput("no-layers", (X,), {}, ValueError, r"params must be a non-empty list of \(w, b\) pairs, got \[\]",
              (ValueError,)),
)

MLP_TOL = {d: Tol(1, "dense's bound layer by layer, each layer's output error carried into the next through |w|",
                  model=error_models.mlp_error) for d in DTYPES}
MLP_GRAD_TOL = {d: Tol(1, "dense's backward bound layer by layer from the logits, with each layer's forward error "
                          "and the upstream gradient's error carried along", model=error_models.mlp_vjp_error) for d in DTYPES}


CATALOG = [
    Concept(
        name="dense", ref=R.dense, tf=T.dense, ref_vjp=R.dense_vjp, tf_vjp=T.dense_vjp, wrt=(0, 1, 2),
        strategy=dense_strategy, edges=dense_edges(), tol=DENSE_TOL, grad_tol=DENSE_GRAD_TOL, off_kink=off_kink,
        grad_edge_ids=("empty-batch", "three-by-four", "one-element", "no-inputs", "extreme-magnitude"),
        bad_inputs=DENSE_BAD_INPUTS, bench_sample=dense_bench_sample,
    ),
    Concept(
        name="mlp_forward", ref=ref_mlp_forward_flat, tf=tf_mlp_forward_flat,
        ref_vjp=ref_mlp_forward_flat_vjp, tf_vjp=tf_mlp_forward_flat_vjp, wrt="all",
        strategy=mlp_strategy, edges=mlp_edges(), tol=MLP_TOL, grad_tol=MLP_GRAD_TOL, off_kink=mlp_off_kink,
        # three gradient edges: each compiles the whole network's backward pass per dtype and mode
        # (~0.5 s); a single layer's linear and saturating cases are dense's gradient edges
        grad_edge_ids=("empty-batch", "two-hidden-tanh", SUBNORMAL_PRODUCTS.id),
        bad_inputs=MLP_BAD_INPUTS, bench_sample=mlp_bench_sample,
    ),
]
