"""The machine's limits, timed in the same run as the cases read against them:

- host memcpy bandwidth, one thread and as many threads as TensorFlow's CPU kernels use (one
  thread is not the limit: a multi-threaded TF kernel can beat it), bytes read + written per second;
- device-to-device copy on each accelerator (tf.raw_ops.DeepCopy on the device; the stand-in in
  the smoke run);
- a large square float32 matmul's FLOP/s, NumPy's and TensorFlow's, on each device.

bench/conftest.py's `limits` fixture measures the same figures once per run for the fractions in
every case's extra_info; these cases put them in the tables, the JSON and the charts."""
import numpy as np
import pytest
import tensorflow as tf

from bench._support import (ThreadedCopy, device_axis, exact_float32, on_device, record, require_device, sweep,
                            tf_threads, timed_tf)
from tests import harness
from tests.catalog.concept import Tol


@pytest.mark.parametrize("device", device_axis("memcpy"))
def bench_memcpy(benchmark, limits, device, size, rng):
    """The floor for a memory-bound op: copy ``size`` float32 on the host with TF's thread count
    (the one-thread copy is bench_memcpy_one_thread), or device to device on an accelerator."""
    require_device(device)
    src = rng.standard_normal(size).astype(np.float32)
    if device == "cpu":
        dst = np.empty_like(src)
        copy = ThreadedCopy(src, dst, tf_threads())
        impl = f"memcpy-{tf_threads()}-threads"

        def call():
            copy()
            return dst
    else:
        copy = None
        impl = "d2d"
        (x,) = on_device([src], device)
        call = timed_tf(lambda t: tf.raw_ops.DeepCopy(x=t), [x], device)
    try:
        np.testing.assert_array_equal(np.asarray(call()), src, err_msg=f"{impl} on {device}, n={size}")
        benchmark.group = f"memcpy-n{size:g}-{device}"
        benchmark(call)
    finally:
        if copy is not None:
            copy.close()
    record(benchmark, limits, family="limit", kind="memcpy", impl=impl, size=size, device=device,
           bytes=2 * src.nbytes, threads=tf_threads() if device == "cpu" else None)


def bench_memcpy_one_thread(benchmark, limits, size, rng):
    """One thread's np.copyto: what a single-threaded kernel can reach on the host."""
    src = rng.standard_normal(size).astype(np.float32)
    dst = np.empty_like(src)

    def call():
        np.copyto(dst, src)
        return dst
    np.testing.assert_array_equal(call(), src)
    benchmark.group = f"memcpy-n{size:g}-cpu"
    benchmark(call)
    record(benchmark, limits, family="limit", kind="memcpy", impl="memcpy-1-thread", size=size, device="cpu",
           bytes=2 * src.nbytes, threads=1)


def pytest_generate_tests(metafunc):
    if "side" in metafunc.fixturenames:
        sides = sweep(metafunc.config, [64], [1024, 2048], [1024, 2048, 4096])
        metafunc.parametrize("side", sides, ids=[f"n{n}" for n in sides])


@pytest.mark.parametrize("impl", ["numpy", "tf"])
@pytest.mark.parametrize("device", device_axis("matmul"))
def bench_matmul(benchmark, limits, device, impl, side, rng):
    """The machine's matmul FLOP/s: a square float32 matmul (TF32 off for the check on an accelerator)."""
    require_device(device)
    if impl == "numpy" and device != "cpu":
        pytest.skip("the NumPy reference runs on the CPU only")
    n = side
    a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
    if impl == "numpy":
        def call():
            return a @ b
    else:
        call = timed_tf(tf.matmul, on_device([a, b], device), device)
    with exact_float32(device):
        actual = np.asarray(call())
    err = harness.assert_agree(actual, a.astype(np.float64) @ b.astype(np.float64), "float32",
                         Tol(n, "worst case: n roundings of an n-term dot product", floor=np.sqrt(n)),
                         f"benchmark matmul [{impl}, {device}, n={n}]")
    benchmark.group = f"matmul-n{n}-{device}"
    benchmark(call)
    record(benchmark, limits, family="limit", kind="matmul", impl=impl, size=n, device=device,
           flops=2 * n ** 3, max_err_eps=err)
