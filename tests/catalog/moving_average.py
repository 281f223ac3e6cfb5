"""Catalog entries: one exponential-moving-average update (reference/moving_average.py,
tfimpl/moving_average.py).

tf.train.ExponentialMovingAverage computes the decay in float32 whatever the variable's
dtype (moving_averages.py: convert_to_tensor(decay, dtype=float32), the num_updates cap
in float32, 1 - decay in float32, then cast). The float64 tolerance is therefore
float32's: tests/test_moving_average.py pins that this is the only difference.
"""
import numpy as np
from hypothesis import strategies as st

import reference.moving_average as R
import tfimpl.moving_average as T
from tests.catalog import error_models, strategies
from tests.catalog.concept import BadInput, Concept, Sample, Tol, shape_pattern, traced_or_run

nan, inf = np.nan, np.inf
DECAYS = (0.0, 0.5, 0.9, 0.99, 0.999, 1.0)


def strategy():
    """shadow and value in [-10, 10] of one shape, a decay from DECAYS, num_updates None or an int64 in [0, 1000]."""
    def build(shape):
        return st.builds(
            lambda s, v, d, n: Sample((s, v, d) if n is None else (s, v, d, np.array(n, np.int64))),
            strategies.arrays(shape, 10.0), strategies.arrays(shape, 10.0), st.sampled_from(DECAYS),
            st.none() | st.integers(0, 1000))
    return strategies.bucket(SHAPES).flatmap(build)


SHAPES = ((2,), (2, 3), (2, 1, 3))
"""The shape of most edges, a matrix and a rank-3 one; rank 0 and an empty batch are edges."""


EDGES = (
    Sample((np.zeros((0, 3)), np.zeros((0, 3)), 0.99), id="empty-batch"),
    Sample((np.array(2.0), np.array(-1.0), 0.9), id="one-element"),
    Sample((np.array([1.0, -2.0]), np.array([5.0, 7.0]), 1.0), id="decay-one-keeps-shadow"),
    Sample((np.array([1.0, -2.0]), np.array([5.0, 7.0]), 0.0), id="decay-zero-takes-value"),
    Sample((np.array([1.0, -2.0]), np.array([5.0, 7.0]), 0.999, np.array(0, np.int64)), id="num-updates-zero"),
    Sample((np.array([1.0, -2.0]), np.array([5.0, 7.0]), 0.99, np.array(10 ** 6, np.int64)), id="num-updates-large"),
    Sample((np.array([3e4, -3e4]), np.array([2e4, -2.5e4]), 0.9), id="extreme-magnitude"),
    Sample((np.array([0.0, 0.0, 0.0, nan]), np.array([inf, -inf, nan, 1.0]), 0.9), id="inf-nan"),
)

_VALUE_SHADOW = "value shape {} does not match shadow shape {}"
BAD_INPUTS = (
    BadInput("shape-mismatch", (np.ones(3), np.ones(4), 0.9), {}, ValueError,
              r"value shape \(4,\) does not match shadow shape \(3,\)", traced_or_run(ValueError),
              xla_match=r"Incompatible shapes: \[3\] vs\. \[4\]",
              xla_why="the shape-generic trace does not know the lengths, so the check is a runtime assert, "
                      "which XLA compiles away; XLA's own shape check of shadow - value fails to compile"),
    BadInput("broadcast-column", (np.arange(4.0), np.arange(4.0)[:, None], 0.9), {}, ValueError,
              _VALUE_SHADOW.format(r"\(4, 1\)", r"\(4,\)"), (ValueError,),
              tf_match=_VALUE_SHADOW.format(shape_pattern((4, 1)), shape_pattern((4,)))),
    BadInput("integer-value", (np.ones(3), np.arange(3), 0.9), {}, TypeError,
              r"value must be a floating-point array, got dtype int64", (TypeError,)),
    BadInput("decay-above-one", (np.ones(3), np.ones(3), 1.5), {}, ValueError,
              r"decay must be in \[0, 1\], got 1.5", (ValueError,)),
    BadInput("decay-negative", (np.ones(3), np.ones(3), -0.1), {}, ValueError,
              r"decay must be in \[0, 1\], got -0.1", (ValueError,)),
    BadInput("integer-shadow", (np.ones(3, np.int64), np.ones(3), 0.9), {}, TypeError,
              r"shadow must be a floating-point array, got dtype int64", (TypeError,)),
)


def bench_sample(n, rng):
    return Sample((rng.uniform(-10, 10, n), rng.uniform(-10, 10, n), 0.999, np.array(100, np.int64)))


TOL = {d: Tol(1, "per sample: |shadow - value| x the known error of TF's float32 1 - d (cast to the dtype), "
                "+ the subtraction, product and final subtraction (0.5 eps each)", model=error_models.ema_error)
       for d in ("float16", "bfloat16", "float32", "float64")}

CATALOG = [
    Concept(name="ema_update", ref=R.ema_update, tf=T.ema_update,
            strategy=strategy, edges=EDGES, tol=TOL, bad_inputs=BAD_INPUTS, bench_sample=bench_sample),
]
