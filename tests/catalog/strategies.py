"""Hypothesis building blocks for catalog entries: a few small non-empty shapes per entry,
one of rank 3 among them (empty and single-element inputs are fixed edge cases in every
entry, so the drawn examples go to inputs with something to compare) and float64 values
whose magnitudes span every dtype's normal range, so results stay finite unless an edge
case says otherwise.

Shapes: each entry draws from a few fixed shapes of its own (``bucket``), and the values
inside them. XLA on the CPU compiles once per concrete shape, and tf.function and the TF1
graph trace once per rank and keyword set, so a new shape in every example would buy
little and cost a compile each; a few shapes per entry, with its gradient edges' shapes
among them, let a cell's examples, gradients and edges share their compiles.

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
from hypothesis import Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample
from hypothesis.extra import numpy as hnp

SMALLEST = 1e-38
"""float32's and bfloat16's smallest normal number is 1.18e-38; float16's is 6.1e-5."""


def bucket(choices):
    """One of ``choices``, a few fixed shapes (or (shape, keyword) pairs) of an entry: each costs a
    compile per function and dtype under XLA, and each rank or keyword a trace elsewhere. The values
    drawn inside vary from example to example. List the entry's gradient edges' shapes among them
    (their compiles are shared), a rank above 2, and the smallest first: hypothesis shrinks towards it."""
    return st.sampled_from(choices)


AXIS_SHAPES = (((2, 3), -1), ((3, 2), 0), ((2, 3, 2), 1))
"""(shape, axis) of the entries along an axis (softmax, log_softmax, softmax cross-entropy): their
extreme-magnitude and axis-0 edges' (gradient edges) and a rank-3 one along its middle axis; two of the
three along an axis that is not the last."""


def floats(bound):
    uniform = st.floats(-bound, bound, allow_nan=False, allow_infinity=False, width=64)
    magnitude = st.floats(np.log(SMALLEST), np.log(bound)).map(np.exp)
    log_uniform = st.tuples(magnitude, st.sampled_from([-1.0, 1.0])).map(lambda ms: min(ms[0], bound) * ms[1])
    exact = st.sampled_from([0.0, 1.0, -1.0]).filter(lambda v: abs(v) <= bound)
    return st.one_of(uniform, log_uniform, exact)


def arrays(shape, bound=10.0, elements=None):
    """float64 arrays of ``shape`` (a tuple or a strategy) with values in [-bound, bound]."""
    return hnp.arrays(np.float64, shape, elements=elements if elements is not None else floats(bound))


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


def first_draws(strategy, n):
    """The first ``n`` samples hypothesis draws from ``strategy``, derandomized (the same on every
    run), unshrunk: the kind of sample the catalog's drawn checks see."""
    drawn = []
    try:
        find(strategy, lambda s: drawn.append(s) and False,
             settings=settings(max_examples=n, database=None, derandomize=True, phases=[Phase.generate]))
    except NoSuchExample:
        pass
    return drawn
