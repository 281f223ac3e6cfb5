"""Benchmark set-up: sizes, timing helpers and the bandwidth / FLOP/s summary.

`pytest --benchmark` times every case at every size. Plain `pytest` runs each case
once at the smallest size with timing off: a smoke check that the benchmark body
works and its result agrees with the reference.
"""
import numpy as np
import pytest
import tensorflow as tf

from tests.harness import DEVICES, gpu_available

SIZES = (1_000, 100_000, 10_000_000)
"""Elements per input, from cache-resident to well past the last-level cache."""


def sweep(config, smoke, default, full=None):
    """The values a benchmark runs over: ``smoke`` under plain pytest (timing off, one quick
    pass), ``default`` under --benchmark, ``full`` (default: ``default``) under --benchmark-full."""
    if not config.getoption("benchmark"):
        return smoke
    if config.getoption("benchmark_full") and full is not None:
        return full
    return default


def pytest_generate_tests(metafunc):
    if "size" in metafunc.fixturenames:
        sizes = SIZES if metafunc.config.getoption("benchmark") else SIZES[:1]
        metafunc.parametrize("size", sizes, ids=[f"n{n:.0e}".replace("+0", "") for n in sizes])


def sync(device):
    """Wait for the device to finish queued work, so the clock stops after the work does.
    CPU ops in TF return when done; GPU kernels are queued and need the sync."""
    if device == "gpu":
        tf.test.experimental.sync_devices()


def timed_tf(fn, tensors, device):
    """The call to time: ``fn`` on ``device``, then a sync, so the clock stops after the work."""
    def call():
        with tf.device(DEVICES[device]):
            out = fn(*tensors)
        sync(device)
        return out
    return call


def on_device(arrays, device):
    with tf.device(DEVICES[device]):
        tensors = [tf.identity(tf.constant(a)) for a in arrays]
    sync(device)
    return tensors


def skip_numpy_on_gpu(impl, device):
    if impl == "numpy" and device == "gpu":
        pytest.skip("the NumPy reference runs on the CPU only")


def require_device(device):
    if device == "gpu" and not gpu_available():
        pytest.skip("no GPU visible to TensorFlow")


RESULTS = {}
"""name -> dict(seconds, bytes, flops, kind, size, device): filled by the cases, read by the summary."""


def record(benchmark, **info):
    """Attach figures to the benchmark (saved with --benchmark-json) and to the summary table."""
    benchmark.extra_info.update(info)
    if benchmark.enabled:
        stats = benchmark.stats.stats
        RESULTS[benchmark.name] = dict(info, seconds=stats.min)


def pytest_terminal_summary(terminalreporter, config):
    if not RESULTS:
        return
    terminalreporter.section("throughput (min time): fraction of a same-size memcpy, FLOP/s vs a plain matmul")
    copies = {(r["size"], r["device"]): r for r in RESULTS.values() if r.get("kind") == "memcpy"}
    matmuls = {}  # the fastest plain matmul per device
    for r in RESULTS.values():
        best = matmuls.get(r["device"])
        if r.get("kind") == "matmul" and (best is None or r["flops"] / r["seconds"] > best["flops"] / best["seconds"]):
            matmuls[r["device"]] = r
    for name, r in sorted(RESULTS.items()):
        line = f"{name:70s} {r['seconds'] * 1e6:11.1f} us"
        if r.get("bytes"):
            gbps = r["bytes"] / r["seconds"] / 1e9
            line += f"  {gbps:7.2f} GB/s"
            ref = copies.get((r.get("size"), r["device"]))
            if ref and r.get("kind") != "memcpy":
                line += f"  {gbps / (ref['bytes'] / ref['seconds'] / 1e9):6.1%} of memcpy"
        if r.get("flops"):
            gf = r["flops"] / r["seconds"] / 1e9
            line += f"  {gf:8.2f} GFLOP/s"
            ref = matmuls.get(r["device"])
            if ref and r.get("kind") != "matmul":
                line += f"  {gf / (ref['flops'] / ref['seconds'] / 1e9):6.1%} of matmul"
        if r.get("elements"):
            line += f"  {r['elements'] / r['seconds'] / 1e6:8.3f} M elements/s"
        if "max_err_eps" in r:
            line += f"  max err {r['max_err_eps']:.3g} eps"
        terminalreporter.write_line(line)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
