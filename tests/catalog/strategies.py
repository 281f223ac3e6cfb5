"""Hypothesis building blocks for catalog entries: small non-empty shapes of rank up to 4
(empty and single-element inputs are fixed edge cases in every entry, so the drawn
examples go to inputs with something to compare) and float64 values whose magnitudes
span every dtype's normal range, so results stay finite unless an edge case says
otherwise.

Values: a third uniform in [-bound, bound] (the O(1) region where most arithmetic
happens), a third log-uniform in magnitude from 1e-38 (float32's smallest normal) to
``bound`` with either sign, and exact zeros and +-1. The cast to each dtype under test
(tests/harness.py: cast) flushes what is subnormal in that dtype to zero, as TF's CPU
kernels do in graph mode, so every mode sees the same input.

``regions(sample)`` names what a drawn sample reaches; the generic agreement test
reports it as a hypothesis event (`pytest --hypothesis-show-statistics`), and
tests/test_harness.py checks every strategy can reach each region.
"""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

MAX_SIDE = 4
SMALLEST = 1e-38
"""float32's and bfloat16's smallest normal number is 1.18e-38; float16's is 6.1e-5."""


def shapes(min_rank=1, max_rank=4, min_side=1, max_side=MAX_SIDE):
    return hnp.array_shapes(min_dims=min_rank, max_dims=max_rank, min_side=min_side, max_side=max_side)


def floats(bound):
    uniform = st.floats(-bound, bound, allow_nan=False, allow_infinity=False, width=64)
    magnitude = st.floats(np.log(SMALLEST), np.log(bound)).map(np.exp)
    log_uniform = st.tuples(magnitude, st.sampled_from([-1.0, 1.0])).map(lambda ms: min(ms[0], bound) * ms[1])
    exact = st.sampled_from([0.0, 1.0, -1.0]).filter(lambda v: abs(v) <= bound)
    return st.one_of(uniform, log_uniform, exact)


def arrays(shape, bound=10.0, elements=None):
    """float64 arrays of ``shape`` (a tuple or a strategy) with values in [-bound, bound]."""
    return hnp.arrays(np.float64, shape, elements=elements if elements is not None else floats(bound))


def axes_for(shape):
    """A valid axis for ``shape``, negative or not."""
    n = len(shape)
    return st.integers(-n, n - 1)


def regions(sample):
    """The regions of input space a sample reaches: shape, axis and magnitude."""
    arrays_ = [a for a in sample.args if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    if not arrays_:
        return ["no float input"]
    first = arrays_[0]
    out = ["empty" if first.size == 0 else "one element" if first.size == 1 else "several elements"]
    if first.ndim > 2:
        out.append("rank > 2")
    axis = sample.kwargs.get("axis")
    if axis is not None and first.ndim > 1 and axis % first.ndim != first.ndim - 1:
        out.append("axis not last")
    values = np.abs(np.concatenate([a.ravel() for a in arrays_]))
    if np.any((values > 0) & (values < 1e-4)):
        out.append("a magnitude below 1e-4")
    if np.any(values > 1):
        out.append("a magnitude above 1")
    return out
