"""Generic tests: every catalog entry through the whole matrix.

Each test id names the concept, dtype and mode, e.g. test_agreement[softmax-float32-xla];
GPU twins end in -gpu and are collected only where a GPU is visible (tests/devices.py).

What a cell costs: where an entry has a gradient, test_agreement, test_gradient_matches_reference
and the gradient edges call one compiled function returning value and gradient, each judging its
part (eagerly nothing is compiled, so test_agreement runs the value alone there); an entry's tests
of one dtype run in one xdist worker (conftest.py's scheduler), and the strategies draw their
shapes from a few per concept, so under XLA (one compile per concrete shape) a cell compiles once
per shape and function, and the drawn values vary inside them.
"""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import event, given
from hypothesis import strategies as st

from tests import harness
from tests.catalog import BY_NAME, CATALOG, strategies
from tests.catalog.concept import MODES
from tests.devices import device_params


def matrix(concepts, need=None):
    """concept x dtype x mode x device; a mode the entry states TF cannot run (Concept.rejected_in)
    is left out here and held to its rejection by test_rejected_modes_raise_what_the_catalog_states."""
    return [p for c in concepts if not (need and getattr(c, need) is None)
            for dtype in c.dtypes for mode in MODES if c.rejection(mode) is None
            for p in device_params(f"{c.name}-{dtype}-{mode}", c.name, dtype, mode)]


def cotangent(data, expected):
    """An upstream gradient dy shaped like the function's output(s), drawn by hypothesis."""
    return tf.nest.map_structure(
        lambda e: data.draw(strategies.arrays(np.shape(e), 1.0), label="dy"), expected)


def fixed_cotangent(expected, seed=0):
    rng = np.random.default_rng(seed)
    return tf.nest.map_structure(lambda e: rng.uniform(-1, 1, np.shape(e)), expected)


# --- values ---------------------------------------------------------------------

@pytest.mark.parametrize("concept,dtype,mode,device", matrix(CATALOG))
@given(data=st.data())
def test_agreement(concept, dtype, mode, device, data):
    """TF agrees with the float64 reference on inputs hypothesis draws."""
    concept = BY_NAME[concept]
    sample = data.draw(concept.strategy(), label="sample")
    for region in strategies.regions(sample):
        event(region)
    if concept.tf_vjp and mode != "eager":  # the function test_gradient_matches_reference compiles: one compile
        dy = fixed_cotangent(harness.reference(concept.ref, harness.cast(sample, dtype)))
        harness.check_values_and_gradient(concept, sample, dy, dtype, mode, device, judge=("value",))
    else:
        harness.check_values(concept, sample, dtype, mode, device)


@pytest.mark.parametrize("concept,dtype,mode,device", matrix(CATALOG))
def test_edge_cases(concept, dtype, mode, device):
    """Empty batch, one element, extreme magnitudes, inf and NaN: values (and, where
    finite, gradients) agree, dtype and shape preserved."""
    concept = BY_NAME[concept]
    assert concept.edges, f"{concept.name} pins no edge cases"
    for sample in concept.edges:
        if concept.tf_vjp and sample.id in concept.grad_edge_ids:
            dy = sample.dy if sample.dy is not None else fixed_cotangent(
                harness.reference(concept.ref, harness.cast(sample, dtype)))
            harness.check_values_and_gradient(concept, sample, dy, dtype, mode, device)
        else:
            harness.check_values(concept, sample, dtype, mode, device)


@pytest.mark.parametrize("concept,dtype,mode,device", matrix(CATALOG))
def test_deterministic(concept, dtype, mode, device):
    """The same input gives bitwise-identical TF results twice in a row (on the largest
    edge case: a fixed shape, so at most one more XLA compile). In a compiled mode, where
    that edge's gradient is checked, value and gradient from the function test_edge_cases
    compiled for it (no compile at all); eagerly, where nothing is compiled, the value."""
    concept = BY_NAME[concept]
    edge = max(concept.edges, key=lambda s: sum(np.size(a) for a in s.args))
    if concept.tf_vjp and edge.id in concept.grad_edge_ids and mode != "eager":
        dy = fixed_cotangent(harness.reference(concept.ref, harness.cast(edge, dtype)))
        outputs = (harness.run_value_and_gradient(concept, edge, dy, dtype, mode, device) for _ in range(2))
    else:
        outputs = (harness.run(concept.tf, harness.cast(edge, dtype), mode, device) for _ in range(2))
    first, second = (tf.nest.flatten(o) for o in outputs)
    for a, b in zip(first, second):
        assert a.tobytes() == b.tobytes(), f"{concept.name} [{dtype}, {mode}] differs between two identical calls"


# --- gradients ---------------------------------------------------------------------

@pytest.mark.parametrize("concept,dtype,mode,device", matrix(CATALOG, need="tf_vjp"))
@given(data=st.data())
def test_gradient_matches_reference(concept, dtype, mode, device, data):
    """GradientTape's gradient equals the hand-derived one (reference *_vjp)."""
    concept = BY_NAME[concept]
    sample = data.draw(concept.strategy(), label="sample")
    dy = cotangent(data, harness.reference(concept.ref, harness.cast(sample, dtype)))
    harness.check_values_and_gradient(concept, sample, dy, dtype, mode, device, judge=("gradient",))


@pytest.mark.parametrize("concept", [c.name for c in CATALOG if c.tf_vjp])
@pytest.mark.parametrize("side", ["reference", "tf"])
@given(data=st.data())
def test_gradient_matches_finite_differences(concept, side, data):
    """Both gradients equal float64 central differences along random directions,
    sampled away from kinks (which have their own named tests)."""
    concept = BY_NAME[concept]
    sample = data.draw(concept.strategy(), label="sample")
    if concept.off_kink:
        sample = concept.off_kink(sample, 10 * harness.FD_STEP)
    dy = cotangent(data, harness.reference(concept.ref, sample))
    directions = [[data.draw(strategies.arrays(np.shape(sample.args[i]), 1.0), label="direction") for i in concept.wrt_of(sample)]
                  for _ in range(2)]
    harness.check_finite_differences(concept, side, sample, dy, directions)


# --- modes TF cannot run ---------------------------------------------------------------

REJECTED = [pytest.param(c.name, mode, dtype, id=f"{c.name}-{dtype}-{mode}")
            for c in CATALOG for mode in MODES if c.rejection(mode) is not None for dtype in c.dtypes]


@pytest.mark.parametrize("concept,mode,dtype", REJECTED)
def test_rejected_modes_raise_what_the_catalog_states(concept, mode, dtype):
    """Where the catalog states that TF cannot run an entry in a mode (XLA without a kernel for one
    of its ops), TF raises that error there, for the value and, where the entry has one, the gradient,
    on the entry's first non-empty edge; should a release run it, this fails and the mode joins the matrix."""
    concept = BY_NAME[concept]
    rejection = concept.rejection(mode)
    edge = next(s for s in concept.edges if all(np.size(a) for a in s.args if isinstance(a, np.ndarray)))
    calls = [lambda: harness.run(concept.tf, harness.cast(edge, dtype), mode)]
    if concept.tf_vjp:
        dy = fixed_cotangent(harness.reference(concept.ref, harness.cast(edge, dtype)))
        calls.append(lambda: harness.run_value_and_gradient(concept, edge, dy, dtype, mode))
    for call in calls:
        with pytest.raises(rejection.error, match=rejection.match):
            call()


# --- bad input -----------------------------------------------------------------------

BAD_INPUTS = [pytest.param(c.name, case, id=f"{c.name}-{case.id}") for c in CATALOG for case in c.bad_inputs]


@pytest.mark.parametrize("concept,case", BAD_INPUTS)
def test_rejects_bad_input(concept, case):
    """Both sides reject the same input for the same reason: the reference raises a message
    naming the argument, the expectation and what was given; TensorFlow raises the same
    message in every mode (eager, tf.function, XLA, TF1 graph), or what the case says XLA
    does where a check can only run when the graph runs."""
    harness.check_rejects(BY_NAME[concept], case)
