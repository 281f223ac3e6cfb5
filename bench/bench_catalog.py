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

from bench.conftest import (STANDIN, compiled, device_axis, exact_float32, first_call, on_device, record,
                            require_device, skip_numpy_on_gpu, timed_tf)
from tests import harness as H
from tests.catalog import all_concepts

DTYPE = "float32"
IMPLS = ("numpy", "eager", "function", "xla", "graph")
"""graph: TF1, placeholders fed by Session.run (tests/harness.py's mode "graph")."""
CONCEPTS = [c for c in all_concepts() if c.bench is not None]
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
        sample = H.cast(concept.bench(size, rng), DTYPE)
        tol = concept.bench_tol or concept.tol[DTYPE]
        if tol.model is not None:
            tol = dataclasses.replace(tol, model=once(tol.model))
        _EXPECTED[key] = sample, H.reference(concept.ref, sample), tol
    return _EXPECTED[key]


def time_concept(benchmark, limits, concept, impl, device, size, rng, group):
    """One case: ``concept`` as ``impl`` on ``device`` at ``size``: checked against the float64
    reference, then timed; tracing and the first call timed apart. Shared with bench_dispatch."""
    require_device(device)
    skip_numpy_on_gpu(impl, device)
    sample, expected, tol = prepared(concept, size, rng)
    arrays = [x for a in sample.args for x in H.fed(a)]
    trace_s = None
    if impl == "numpy":
        def call():
            return concept.ref(*sample.args, **sample.kwargs)
    elif impl == "graph":
        fn = H.runner(concept.tf, sample, "graph", device)  # fed from NumPy, as the book's Session.run is

        def call():
            return fn(*arrays)
    else:
        fn = H.bind(concept.tf, sample)
        if impl in ("function", "xla"):
            specs = [tf.TensorSpec([None] * x.ndim, tf.as_dtype(x.dtype)) for x in arrays]
            fn, trace_s = compiled(fn, impl, specs, device)
        call = timed_tf(fn, on_device(arrays, device), device)
    with exact_float32(device):
        out, first_s = first_call(call)
        actual = tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else np.asarray(t), out)
        err = H.assert_agree(actual, expected, DTYPE, tol,
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
    mode for the first concept (each branch of the GPU path), to keep the smoke run short."""
    params = []
    for c in concepts:
        for device_param in device_axis(c.name, c.name):
            device = device_param.values[-1]
            for impl in impls:
                if impl == "numpy" and device != "cpu":
                    continue  # the NumPy reference runs on the CPU only
                if device == STANDIN and impl != "eager" and c is not concepts[0]:
                    continue
                params.append(pytest.param(c.name, device, impl, id=f"{device_param.id}-{impl}",
                                           marks=device_param.marks))
    return params


SLOW_REFERENCE = {
    "resize": (100_000, "the NumPy reference loops in Python over output rows: 92 s at 1e7 values"),
    "resize_nearest": (100_000, "the NumPy reference loops in Python over output rows: 76 s at 1e7 values"),
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
