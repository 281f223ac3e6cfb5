"""Catalog entries: learning-rate schedules (reference/schedules.py, tfimpl/schedules.py).

TF computes the schedule in the learning rate's dtype, step included
(cast(step, dtype) / cast(decay_steps, dtype)). So that every dtype sees the step the
reference sees, samples keep steps in [0, 255] (integers bfloat16 holds exactly) and
decay_steps in {1, 10, 100}; there no step / decay_steps rounds across an integer, so
the staircase floor agrees too. What happens beyond (float16 steps > 2048) is pinned in
tests/test_schedules.py.
"""
import numpy as np
from hypothesis import strategies as st

import reference.schedules as R
import tfimpl.schedules as T
from tests.catalog import error_models
from tests.catalog.concept import BadInput, Concept, Sample, Tol
from tests.precision import DTYPES

nan, inf = np.nan, np.inf


STEPS = (2, 4, 5)
"""How many steps a drawn sample has (strategies.bucket): the lengths of the edges' step vectors, whose
compiles the drawn samples share; no step vector and one step are edges."""


def strategy():
    """learning_rate in [1e-3, 1] and decay_rate in [0.9, 1] (scalars, cast to the dtype under test),
    a vector of 2, 4 or 5 int64 steps in [0, 255], decay_steps a Python int, staircase either way."""
    return st.builds(
        lambda lr, steps, ds, rate, stair: Sample(
            (np.array(lr), np.array(steps, np.int64), ds, np.array(rate)), {"staircase": stair}),
        st.floats(1e-3, 1.0), st.sampled_from(STEPS).flatmap(lambda n: st.lists(st.integers(0, 255), min_size=n, max_size=n)),
        st.sampled_from([1, 10, 100]),
        st.floats(0.9, 1.0), st.booleans())


def sample(lr, steps, ds, rate, staircase, id):
    return Sample((np.array(lr), np.array(steps, np.int64), ds, np.array(rate)), {"staircase": staircase}, id=id)


EDGES = (
    sample(0.1, [], 10, 0.96, False, "empty-steps"),
    sample(0.1, 0, 10, 0.96, False, "one-element"),
    sample(0.1, [0, 9, 10, 11, 19, 20, 255], 10, 0.96, True, "staircase-boundaries"),
    sample(0.5, [0, 1, 100, 255], 1, 0.0, False, "rate-zero"),
    sample(0.5, [0, 1, 100, 255], 1, 1.0, True, "rate-one"),
    sample(6e4, [0, 255], 100, 0.9, False, "extreme-magnitude"),
    sample(inf, [0, 5], 10, 0.96, False, "inf-nan"),
    sample(nan, [0, 5], 10, 0.96, True, "nan-rate"),
    # Found by the drawn examples: TF's vectorised float64 pow is off by up to 0.36 |p ln rate| eps
    # (tests/catalog/error_models.py, schedule_error), here 3 ulp at rate^64 and at rate^88.
    sample(1.0, [0, 0, 0, 64], 1, 0.9, True, "vectorised-pow"),
    sample(1.0, [0, 0, 0, 31, 88], 1, 0.939052, True, "vectorised-pow-88"),
    # rate^p below tiny, lr * rate^p normal: 0.6^172 = 6.8e-39 flushes in float32 and bfloat16 (6e4 times it is
    # 4e-34), 0.6^25 = 2.8e-6 is a float16 subnormal, rounded to its spacing of 6e-8 before 6e4 scales it up
    sample(6e4, [0, 25, 172], 1, 0.6, False, "subnormal-power"),
)

BAD_INPUTS = (
    BadInput("decay-steps-zero", (np.array(0.1), np.array([1], np.int64), 0, np.array(0.96)), {}, ValueError,
              r"decay_steps must be > 0, got 0", (ValueError,)),
    BadInput("decay-steps-negative", (np.array(0.1), np.array([1], np.int64), -5, np.array(0.96)), {}, ValueError,
              r"decay_steps must be > 0, got -5", (ValueError,)),
    # Keras computes the schedule in the learning rate's dtype: an integer rate would make
    # decay_rate 0.96 the integer 0 and the schedule 0 from the first step.
    BadInput("integer-learning-rate", (np.array(1), np.array([1], np.int64), 10, np.array(0.96)), {}, TypeError,
              r"learning_rate must be a floating-point array, got dtype int64", (TypeError,)),
)


def bench_sample(n, rng):
    return Sample((np.array(0.1), rng.integers(0, 256, n), 10, np.array(0.96)), {"staircase": False})


TOL = {d: Tol(1, "per sample: 0.5 |p ln rate| from rounding p = step / decay_steps (0 with a staircase, whose "
                "floor is exact), + pow's ulp and the product's half; float64: + 0.5 |p ln rate| for Eigen's "
                "vectorised pow", model=error_models.schedule_error) for d in DTYPES}

CATALOG = [
    Concept(name="exponential_decay", ref=R.exponential_decay, tf=T.exponential_decay,
            strategy=strategy, edges=EDGES, tol=TOL, bad_inputs=BAD_INPUTS, bench_sample=bench_sample),
]
