"""A map + batch input pipeline timed: reference/data.py's generators against tf.data, each read
to the end from Python (a for loop over as_numpy_iterator(), as a training loop reads it). Both
first give the same batches, bitwise; the summary reports elements per second."""
import numpy as np
import pytest

import reference.data as R
import tfimpl.data as T
from bench._support import record, sweep

BATCH = 32


def pytest_generate_tests(metafunc):
    if "elements" in metafunc.fixturenames:
        sizes = sweep(metafunc.config, smoke=[1_000], default=[1_000, 100_000])
        metafunc.parametrize("elements", sizes, ids=[f"n{n:.0e}".replace("+0", "") for n in sizes])


def pipeline(D, x, y):
    """The book's chain without the shuffle: slices, a map per element, batches of 32."""
    return D.from_tensor_slices((x, y)).map(lambda a, b: (a * 2.0 + 1.0, b)).batch(BATCH)


@pytest.mark.parametrize("impl", ["numpy", "tf.data"])
def bench_map_batch_pipeline(benchmark, impl, elements, rng):
    x = rng.standard_normal((elements, 8)).astype(np.float32)
    y = rng.integers(0, 10, elements)
    dataset = pipeline(R.Dataset if impl == "numpy" else T.Dataset, x, y)

    def call():
        return list(dataset.as_numpy_iterator())
    batches = call()
    assert len(batches) == -(-elements // BATCH)
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), x * np.float32(2) + np.float32(1),
                                  strict=True)  # one rounding per float32 op on both sides: bitwise
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y, strict=True)
    benchmark.group = f"data-map-batch-n{elements}"
    benchmark(call)
    record(benchmark, kind="data", impl=impl, device="cpu", size=elements, elements=elements)
