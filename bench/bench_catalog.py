"""Every catalog entry timed: the NumPy reference against TF eager, tf.function,
XLA and the book's TF1 form (a graph run by Session.run), float32, on the CPU, on
each visible GPU and (smoke run) on the GPU stand-in. Each case first checks its
result against the float64 reference with the catalog's float32 tolerance, so a
GPU benchmark run is also a GPU correctness run. One table (pytest-benchmark
group) compares the variants of one concept at one size on one device."""
import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from bench._support import (STANDIN, compiled, device_axis, exact_float32, first_call, on_device, record,
                            require_device, skip_numpy_on_gpu, sweep, tf_device, timed_tf, timing)
from tests import harness
from tests.catalog import CATALOG

DTYPE = "float32"
IMPLS = ("numpy", "eager", "function", "xla", "graph")
"""graph: TF1, placeholders fed by Session.run (tests/harness.py's mode "graph")."""
CONCEPTS = [c for c in CATALOG if c.bench_sample is not None]
_EXPECTED = {}


def nbytes(tree):
    return sum(np.asarray(a).nbytes for a in tf.nest.flatten(tree) if isinstance(a, np.ndarray))


def once(model):
    """``model`` evaluated on its first call only: the variants of one (concept, size) share one sample."""
    saved = []

    def cached(*args, **kwargs):
        if not saved:
            saved.append(model(*args, **kwargs))
        return saved[0]
    return cached


def prepared(concept, size, rng):
    """(sample, float64 reference, tolerance) for (concept, size), kept for the last pair so the
    variants run one after another reuse them: at 1e7 elements the sample, the reference and
    the tolerance's error model take longer than the timed calls."""
    key = (concept.name, size)
    if key not in _EXPECTED:
        _EXPECTED.clear()
        sample = harness.cast(concept.bench_sample(size, rng), DTYPE)
        tol = concept.bench_tol or concept.tol[DTYPE]
        if tol.model is not None:
            tol = dataclasses.replace(tol, model=once(tol.model))
        _EXPECTED[key] = sample, harness.reference(concept.ref, sample), tol
    return _EXPECTED[key]


def time_concept(benchmark, limits, concept, impl, device, size, rng, group):
    """One case: ``concept`` as ``impl`` on ``device`` at ``size``: checked against the float64
    reference, then timed; tracing and the first call timed apart. Shared with bench_dispatch."""
    require_device(device)
    skip_numpy_on_gpu(impl, device)
    sample, expected, tol = prepared(concept, size, rng)
    arrays = [x for a in sample.args for x in harness.fed(a)]
    trace_s = None
    if impl == "numpy":
        def call():
            return concept.ref(*sample.args, **sample.kwargs)
    elif impl == "graph":
        fn = harness.runner(concept.tf, sample, "graph", tf_device(device))  # fed from NumPy, as the book's Session.run is

        def call():
            return fn(*arrays)
    else:
        fn = harness.bind(concept.tf, sample)
        if impl in ("function", "xla"):
            specs = [tf.TensorSpec([None] * x.ndim, tf.as_dtype(x.dtype)) for x in arrays]
            fn, trace_s = compiled(fn, impl, specs, device)
        call = timed_tf(fn, on_device(arrays, device), device)
    with exact_float32(device):
        out, first_s = first_call(call)
        actual = tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else np.asarray(t), out)
        err = harness.assert_agree(actual, expected, DTYPE, tol,
                             f"benchmark {concept.name} [{impl}, {device}, n={size}]", sample=sample)
    moved = nbytes(sample.args) + nbytes(actual)
    benchmark.group = group
    benchmark(call)
    record(benchmark, limits, family="concept", kind=concept.name, impl=impl, size=size, device=device,
           elements=max(x.size for x in arrays), bytes=moved, max_err_eps=err,
           trace_s=trace_s, first_call_s=None if impl == "numpy" else first_s)


def cases(concepts, impls=IMPLS):
    """(name, device, impl) params: every impl on the CPU; the TF impls on each GPU; on the
    stand-in, eager for every concept (each concept's ops placed on the device) and every TF
    mode for the first concept (each branch of the GPU path), to keep the smoke run short. A mode
    TF cannot run for a concept (its ModeRejection, which tests/test_catalog.py holds to its error)
    has nothing to time."""
    params = []
    for c in concepts:
        for device_param in device_axis(c.name, c.name):
            device = device_param.values[-1]
            for impl in impls:
                if impl != "numpy" and c.rejection(impl) is not None:
                    continue
                if impl == "numpy" and device != "cpu":
                    continue  # the NumPy reference runs on the CPU only: no GPU twin either
                if device == STANDIN and impl != "eager" and c is not concepts[0]:
                    continue
                marks = [m for m in device_param.marks if impl != "numpy" or m.name != "gpu_twin"]
                params.append(pytest.param(c.name, device, impl, id=f"{device_param.id}-{impl}", marks=marks))
    return params


SLOW_REFERENCE = {
    "resize": (100_000, "the NumPy reference loops in Python over output rows: 92 s at 1e7 values"),
    "resize_nearest": (100_000, "the NumPy reference loops in Python over output rows: 76 s at 1e7 values"),
    "resize_antialias": (100_000, "the NumPy reference builds each image's weight matrices in Python: 25 s at 1e6 "
                                  "values"),
    "lstm_cell": (1_000_000, "the reference and its error model take 33 s at 1e7 values"),
    "lstm": (1_000_000, "the reference and its error model take 14 s at 1e7 values"),
}
"""concept -> (largest size of the default sweep, why): --benchmark-full runs them at every size."""


@pytest.mark.parametrize("name,device,impl", cases(CONCEPTS))
def bench_concept(benchmark, limits, name, device, impl, size, rng, pytestconfig):
    concept = next(c for c in CONCEPTS if c.name == name)
    cap, why = SLOW_REFERENCE.get(name, (None, ""))
    if cap is not None and size > cap and not pytestconfig.getoption("benchmark_full"):
        pytest.skip(f"{name} at n={size:g} runs with --benchmark-full only: {why}")
    time_concept(benchmark, limits, concept, impl, device, size, rng, f"{name}-n{size:g}-{device}")


# --- per-call dispatch overhead ------------------------------------------------------------
# Per-call dispatch overhead: every catalog concept at its smallest sizes as the NumPy
# reference, TF eager, tf.function, XLA and TF1 Session.run, where the fixed cost of a call
# (Python, the op dispatch, the function call, the Session's feed and fetch) dominates. With
# the catalog's own sizes (bench_catalog.py) the terminal summary and `python -m
# tools.plot_bench <json> --table` give, per concept, each mode's time per call and the size
# at which it overtakes NumPy. The smoke run times one concept only, in every mode.

TINY = ([1], [1], [1, 10, 100])
"""Elements requested (smoke, default, full sweep); a concept's bench may round up (a row of
1000 activations, a batch of one): the tables use the elements actually fed."""


def pytest_generate_tests(metafunc):
    """bench_dispatch's sizes, and its concepts: every one when timing, the first alone in the smoke run."""
    if "tiny" in metafunc.fixturenames:
        sizes = sweep(metafunc.config, *TINY)
        metafunc.parametrize("tiny", sizes, ids=[f"n{n}" for n in sizes])
        concepts = CONCEPTS if timing(metafunc.config) else CONCEPTS[:1]
        metafunc.parametrize("name,device,impl", cases(concepts))


def bench_dispatch(benchmark, limits, name, device, impl, tiny, rng):
    concept = next(c for c in CONCEPTS if c.name == name)
    time_concept(benchmark, limits, concept, impl, device, tiny, rng, f"dispatch-{name}-n{tiny}-{device}")
