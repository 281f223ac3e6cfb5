"""Every catalog entry timed: the NumPy reference against TF eager, tf.function
and XLA, float32, on the CPU and on a GPU when one is visible. Each case first
checks its result against the float64 reference with the catalog's float32
tolerance, so a GPU benchmark run is also a GPU correctness run."""
import numpy as np
import pytest
import tensorflow as tf

from bench.conftest import on_device, record, require_device, skip_numpy_on_gpu, timed_tf
from conftest import device_params
from tests import harness as H
from tests.catalog import all_concepts

DTYPE = "float32"
IMPLS = ("numpy", "eager", "function", "xla")
CONCEPTS = [c for c in all_concepts() if c.bench is not None]


def nbytes(tree):
    return sum(np.asarray(a).nbytes for a in tf.nest.flatten(tree) if isinstance(a, np.ndarray))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name,device", [p for c in CONCEPTS for p in device_params(c.name, c.name)])
def bench_concept(benchmark, name, device, impl, size, rng):
    require_device(device)
    skip_numpy_on_gpu(impl, device)
    concept = next(c for c in CONCEPTS if c.name == name)
    sample = H.cast(concept.bench(size, rng), DTYPE)
    expected = H.reference(concept.ref, sample)
    if impl == "numpy":
        def call():
            return concept.ref(*sample.args, **sample.kwargs)
    else:
        mode = "eager" if impl == "eager" else impl
        fn = H.runner(concept.tf, sample, mode, device)
        call = timed_tf(fn, on_device([a for a in sample.args if isinstance(a, np.ndarray)], device), device)
    actual = tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else np.asarray(t), call())
    err = H.assert_agree(actual, expected, DTYPE, concept.bench_tol or concept.tol[DTYPE],
                         f"benchmark {name} [{impl}, {device}, n={size}]", sample=sample)
    moved = nbytes(sample.args) + nbytes(actual)
    benchmark.group = f"{name}-n{size}"
    benchmark(call)
    record(benchmark, kind=name, impl=impl, size=size, device=device, bytes=moved, max_err_eps=err)


@pytest.mark.parametrize("device", [p for p in device_params("memcpy")])
def bench_memcpy(benchmark, device, size, rng):
    """The floor for a memory-bound op: copy the same number of float32 bytes."""
    require_device(device)
    src = rng.standard_normal(size).astype(np.float32)
    if device == "cpu":
        dst = np.empty_like(src)

        def call():
            np.copyto(dst, src)
            return dst
    else:
        (x,) = on_device([src], device)
        call = timed_tf(lambda t: tf.raw_ops.DeepCopy(x=t), [x], device)
    out = call()
    np.testing.assert_array_equal(np.asarray(out), src)
    benchmark.group = f"memcpy-n{size}"
    benchmark(call)
    record(benchmark, kind="memcpy", impl="copy", size=size, device=device, bytes=2 * src.nbytes)
