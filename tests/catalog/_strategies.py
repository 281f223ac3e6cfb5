"""Hypothesis building blocks for catalog entries: small shapes (zero-size sides
included) and bounded float64 values, so XLA compiles few shapes and results
stay finite unless an edge case says otherwise."""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

MAX_SIDE = 4


def shapes(min_rank=1, max_rank=3, min_side=0, max_side=MAX_SIDE):
    return hnp.array_shapes(min_dims=min_rank, max_dims=max_rank, min_side=min_side, max_side=max_side)


SNAP = 1e-4
"""Values closer to 0 than this are drawn as 0. Below float16's smallest normal (6.1e-5)
a value turns subnormal when cast to the dtype under test, and TensorFlow's CPU kernels
flush subnormals to zero in some modes (graph) and not others (eager): hardware
arithmetic, not the concept under test."""


def floats(bound):
    return st.floats(-bound, bound, allow_nan=False, allow_infinity=False, width=64).map(
        lambda v: 0.0 if abs(v) < SNAP else v)


def arrays(shape, bound=10.0, elements=None):
    """float64 arrays of ``shape`` (a tuple or a strategy) with values in [-bound, bound]."""
    return hnp.arrays(np.float64, shape, elements=elements if elements is not None else floats(bound))


def axes_for(shape):
    """A valid axis for ``shape``, negative or not."""
    n = len(shape)
    return st.integers(-n, n - 1)
