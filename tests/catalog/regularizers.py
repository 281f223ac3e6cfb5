"""Catalog entries: weight penalties (reference/regularizers.py, tfimpl/regularizers.py)."""
import numpy as np

import reference.regularizers as R
import tfimpl.regularizers as T
from tests.catalog import strategies
from tests.catalog.concept import LONG_SUM, BadInput, Concept, Sample, Tol, off_zero, reduction_tol
from tests.precision import DTYPES

nan, inf = np.nan, np.inf


SHAPES = ((3,), (2, 3), (2, 1, 3))
"""The extreme-magnitude and zeros edges' shapes (gradient edges: their compiles are shared) and a rank-3
one; rank 0, one element and an empty batch are edges."""
SHAPE_SCALES = (((3,), 0.01), ((2, 3), 0.0), ((2, 1, 3), 2.0), ((2, 3), 0.5))
"""(shape, scale): a scale is a keyword, a trace and a compile of its own, so each comes with one shape: the
edges' 0.01 in the extreme-magnitude edge's, no penalty (0), a growing one (2) and a shrinking one (0.5)."""


def weights(with_scale):
    if not with_scale:
        return strategies.bucket(SHAPES).flatmap(lambda shape: strategies.arrays(shape, 10.0)).map(
            lambda x: Sample((x,)))
    shape_scale = strategies.bucket(SHAPE_SCALES)
    return shape_scale.flatmap(lambda ss: strategies.arrays(ss[0], 10.0).map(
        lambda x: Sample((x,), {"scale": ss[1]})))


def edges(scale):
    kw = {"scale": scale} if scale is not None else {}
    return (
        Sample((np.zeros((0, 3)),), kw, id="empty-batch"),
        Sample((np.array([0.75]),), kw, id="one-element"),
        Sample((np.array(-1.5),), kw, id="scalar"),
        Sample((np.array([[0.0, -0.0, 3.0], [-2.0, 0.0, 0.5]]),), kw, id="zeros"),
        Sample((np.array([1e2, -1e2, 1e-3]),), kw, id="extreme-magnitude"),
        Sample((np.array([inf, 1.0, nan]),), kw, id="inf-nan"),
    )


def bench_sample(with_scale):
    def make(n, rng):
        return Sample((rng.standard_normal((n // 100 or 1, 100)),), {"scale": 0.01} if with_scale else {})
    return make


NEGATIVE_SCALE = BadInput("negative-scale", (np.ones(3),), {"scale": -0.1}, ValueError,
                           r"scale must be >= 0, got -0.1", (ValueError,))
INTEGER_W = BadInput("integer-w", (np.array([1, 2, 3]),), {"scale": 0.1}, TypeError,
                      r"w must be a floating-point array, got dtype int64", (TypeError,))

CATALOG = [
    Concept(
        name="l1", ref=R.l1, tf=T.l1, ref_vjp=R.l1_vjp, tf_vjp=T.l1_vjp,
        strategy=lambda: weights(True), edges=edges(0.01),
        tol=reduction_tol(R.l1, 0.0, 1.0, "|w| exact; times scale, itself rounded to the dtype (0.5 + 0.5)"),
        grad_tol={d: Tol(1, "scale * sign(w) * dy: scale rounded to the dtype, one product")
                  for d in DTYPES},
        off_kink=off_zero, grad_edge_ids=("empty-batch", "one-element", "scalar", "zeros", "extreme-magnitude"),
        bad_inputs=(NEGATIVE_SCALE, INTEGER_W), bench_sample=bench_sample(True), bench_tol=LONG_SUM,
    ),
    Concept(
        name="l2", ref=R.l2, tf=T.l2, ref_vjp=R.l2_vjp, tf_vjp=T.l2_vjp,
        strategy=lambda: weights(True), edges=edges(0.01),
        tol=reduction_tol(R.l2, 0.5, 1.0, "square (0.5 ulp) per term; times scale, itself rounded (0.5 + 0.5)"),
        grad_tol={d: Tol(2, "2 * scale * w * dy: scale rounded (0.5), two products")
                  for d in DTYPES},
        grad_edge_ids=("empty-batch", "one-element", "scalar", "zeros", "extreme-magnitude"),
        bad_inputs=(NEGATIVE_SCALE, INTEGER_W), bench_sample=bench_sample(True), bench_tol=LONG_SUM,
    ),
    Concept(
        name="l2_loss", ref=R.l2_loss, tf=T.l2_loss, ref_vjp=R.l2_loss_vjp, tf_vjp=T.l2_loss_vjp,
        strategy=lambda: weights(False), edges=edges(None),
        tol=reduction_tol(R.l2_loss, 0.5, 0.0, "square (0.5 ulp) per term; halving exact"),
        grad_tol={d: Tol(1, "w * dy: one product") for d in DTYPES},
        grad_edge_ids=("empty-batch", "one-element", "scalar", "zeros", "extreme-magnitude"),
        bad_inputs=(BadInput("integer-w", (np.array([1, 2, 3]),), {}, TypeError,
                          r"w must be a floating-point array, got dtype int64", (TypeError,)),),
        bench_sample=bench_sample(False), bench_tol=LONG_SUM,
    ),
]
