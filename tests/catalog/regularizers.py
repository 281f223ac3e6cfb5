"""Catalog entries: weight penalties (reference/regularizers.py, tfimpl/regularizers.py)."""
import numpy as np

import reference.regularizers as R
import tfimpl.regularizers as T
from tests.catalog import error_models, strategies
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


# --- what subnormal intermediates cost (tests/catalog/error_models.py: flushed) -------------------

def l2_flushes(dtype, w, scale):
    """scale * sum(w^2): squares below tiny (|w| < 1.1e-19 in float32) may flush before the sum and
    scale carry them on (a positive sum: the terms cover its partial sums), and so may a subnormal
    scale itself (a Python constant converted to the dtype)."""
    squares = np.asarray(w, np.float64) ** 2
    return (abs(scale) * error_models.flushed_sum(dtype, squares.ravel(), same_sign=True)
            + error_models.flushed(dtype, scale) * squares.sum())


def l2_loss_flushes(dtype, w):
    """sum(w^2) / 2 (TF's L2Loss halves each square before the sum, XLA after it): a half square below
    tiny may flush, which bounds what either order loses."""
    return error_models.flushed_sum(dtype, (np.asarray(w, np.float64) ** 2 / 2).ravel(), same_sign=True)


def l2_vjp_error(dtype, w, dy, scale):
    """TF's gradient of scale * sum(w^2): the Mul's grad scale * dy, broadcast by the Sum's, then the
    Square's (scale dy) (2 w): scale rounded (0.5), two products (1.5); scale * dy below tiny may
    flush before 2 w scales it back into the normal range (l2_vjp([1.0], dy=-6.64e-36, scale=0.001)
    is -1.3e-38 in float32, 0 from TF), and so may a subnormal scale."""
    g = scale * np.asarray(dy, np.float64)
    two_w = 2 * np.abs(w)
    lost = (error_models.flushed(dtype, g) + error_models.flushed(dtype, scale) * np.abs(dy)) * two_w
    return 2 * np.abs(R.l2_vjp(w, dy, scale)) + lost


L2_DY = Sample((np.array([1.0]),), {"scale": 0.001}, id="subnormal-scale-times-dy", dy=np.array(-6.64e-36))
"""Found by the drawn examples: scale * dy = -6.6e-39 is subnormal and flushed, in every mode, while the
gradient 2 w (scale dy) = -1.3e-38 is a normal float32 (and bfloat16); l2_vjp_error charges it."""


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
        strategy=lambda: weights(True), edges=edges(0.01) + (L2_DY,),
        tol=reduction_tol(R.l2, 0.5, 1.0, "square (0.5 ulp) per term; times scale, itself rounded (0.5 + 0.5)",
                          flushes=l2_flushes),
        grad_tol={d: Tol(1, "(scale * dy) * 2w: scale rounded (0.5), two products; scale * dy may flush",
                         model=l2_vjp_error) for d in DTYPES},
        grad_edge_ids=("empty-batch", "one-element", "scalar", "zeros", "extreme-magnitude", L2_DY.id),
        bad_inputs=(NEGATIVE_SCALE, INTEGER_W), bench_sample=bench_sample(True), bench_tol=LONG_SUM,
    ),
    Concept(
        name="l2_loss", ref=R.l2_loss, tf=T.l2_loss, ref_vjp=R.l2_loss_vjp, tf_vjp=T.l2_loss_vjp,
        strategy=lambda: weights(False), edges=edges(None),
        tol=reduction_tol(R.l2_loss, 0.5, 0.0, "square (0.5 ulp) per term; halving exact", flushes=l2_loss_flushes),
        grad_tol={d: Tol(1, "w * dy: one product") for d in DTYPES},
        grad_edge_ids=("empty-batch", "one-element", "scalar", "zeros", "extreme-magnitude"),
        bad_inputs=(BadInput("integer-w", (np.array([1, 2, 3]),), {}, TypeError,
                          r"w must be a floating-point array, got dtype int64", (TypeError,)),),
        bench_sample=bench_sample(False), bench_tol=LONG_SUM,
    ),
]
