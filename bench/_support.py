"""The benchmarks' library: the timing switch, sizes, devices, honest timing, the machine's limits
and the figures. bench/conftest.py holds only the pytest hooks that use it.

`pytest --benchmark` (or any pytest-benchmark timing flag: --benchmark-only, --benchmark-json,
...) times every case at every size of the default sweep; --benchmark-full runs the full sweep.
Plain `pytest` runs each case once at the smallest size with timing off: a smoke check that
the benchmark body works and its result agrees with the reference, on the CPU and on the GPU
stand-in (below).

Devices. A case runs on "cpu", on each visible GPU ("gpu" for /GPU:0, "gpu1", ... for the
others) and, in the smoke run, on "standin": /CPU:1, a second logical CPU device made at
start-up (tests/tf_setup.py), addressed exactly as a GPU is. Every device but "cpu" takes the GPU
branch: its inputs are placed there inside a tf.device scope, the timed call ends with a sync
(the clock stops after the device has finished, so results are materialised inside the timed
call), and the accuracy check runs with TF32 switched off. On the stand-in all of that
executes; only the GPU hardware itself is left untested where no GPU exists.

Timing. Tracing (building the tf.function's graph) and the first call (XLA compiles there,
grappler optimises a tf.function's graph there) are timed once, apart, and saved as their
own figures (trace_s, first_call_s); the benchmark then times only the steady call.

Limits. The figures a case is read against are measured in the same run: host memcpy
bandwidth with as many threads as TensorFlow uses, device-to-device copy on an accelerator,
and a large matmul's FLOP/s (`limits` below; bench/bench_limits.py times them as cases of
their own). Each case's extra_info holds the bytes it moves and/or its FLOPs, the GB/s or
FLOP/s it achieves, the fraction of the limit and its max error against the float64 reference.
"""
import contextlib
import math
import os
import threading
import time

import numpy as np
import pytest
import tensorflow as tf

from tests.devices import DEVICES, NO_GPU, device_params, gpu_names
from tests.tf_setup import STANDIN_DEVICE
from tools.plot_bench import dispatch_table

# --- the timing switch --------------------------------------------------------------------
TIMING_FLAGS = ("benchmark_only", "benchmark_enable", "benchmark_json", "benchmark_save", "benchmark_autosave",
                "benchmark_compare", "benchmark_histogram")
"""pytest-benchmark's flags that ask for timings: each implies --benchmark."""

DEFAULT_MAX_TIME, DEFAULT_MIN_ROUNDS = "0.1", 3
"""pytest-benchmark's --benchmark-max-time and --benchmark-min-rounds under the default sweep, where
the user gives neither (--benchmark-full keeps its own defaults, 1 s and 5 rounds a case): the
default sweep's ~600 cases then fit in about 5 minutes on 2 cores."""


def timing_on(config):
    """Timing is on with --benchmark or any pytest-benchmark flag that wants timings
    (--benchmark-only, --benchmark-json, --benchmark-save, --benchmark-autosave,
    --benchmark-compare, --benchmark-histogram, --benchmark-enable); off under plain pytest (the
    smoke run), with --benchmark-disable (without --benchmark-enable) and with --benchmark-skip."""
    option = config.option
    if not hasattr(option, "benchmark_disable"):
        return False
    if option.benchmark_disable and not option.benchmark_enable:
        return False
    if option.benchmark_skip and not option.benchmark_only:
        return False
    return bool(option.benchmark or any(getattr(option, flag, None) for flag in TIMING_FLAGS))


def apply_timing_switch(config):
    """Make --benchmark follow timing_on, before pytest-benchmark reads its options. An explicit
    --benchmark-disable stays (with --benchmark-only pytest-benchmark then refuses the pair, as its
    users expect); otherwise timing is on exactly when timing_on says so, so the sweep sizes, the
    collection of bench/ alone and the worker count all read one switch. Under the default sweep,
    the rounds and time per case are cut to DEFAULT_MIN_ROUNDS and DEFAULT_MAX_TIME where not given."""
    if not hasattr(config.option, "benchmark_disable"):
        return
    timing = timing_on(config)
    config.option.benchmark = timing
    if not config.option.benchmark_disable:
        config.option.benchmark_disable = not timing
    given = [str(a) for a in config.invocation_params.args]
    if timing and not config.option.benchmark_full:
        if not any(a.startswith("--benchmark-max-time") for a in given):
            config.option.benchmark_max_time = DEFAULT_MAX_TIME
        if not any(a.startswith("--benchmark-min-rounds") for a in given):
            config.option.benchmark_min_rounds = DEFAULT_MIN_ROUNDS


# --- sizes ----------------------------------------------------------------------------------
SIZES = (1_000, 100_000, 10_000_000)
"""Elements per input, from cache-resident to well past the last-level cache."""

FULL_SIZES = (1_000, 10_000, 100_000, 1_000_000, 10_000_000)
"""The same range, one point a decade, under --benchmark-full."""


def timing(config):
    """Timing on: --benchmark or a pytest-benchmark timing flag (set by apply_timing_switch)."""
    return bool(config.getoption("benchmark"))


def sweep(config, smoke, default, full=None):
    """The values a benchmark runs over: ``smoke`` under plain pytest (timing off, one quick
    pass), ``default`` under --benchmark, ``full`` (default: ``default``) under --benchmark-full."""
    if not timing(config):
        return smoke
    if config.getoption("benchmark_full") and full is not None:
        return full
    return default


def size_id(n):
    return f"n{n:.0e}".replace("+0", "").replace("+", "")


def parametrize_sizes(metafunc):
    """Parametrize a benchmark's ``size`` argument by the sweep."""
    sizes = sweep(metafunc.config, SIZES[:1], SIZES, FULL_SIZES)
    metafunc.parametrize("size", sizes, ids=[size_id(n) for n in sizes])


# --- devices ------------------------------------------------------------------------
STANDIN = "standin"
BENCH_DEVICES = dict(DEVICES, standin=STANDIN_DEVICE)
"""Device name -> TensorFlow device: the CPU, each visible GPU and the GPU stand-in."""


def tf_device(device):
    """The TensorFlow device string of a benchmark device name (the stand-in included)."""
    return BENCH_DEVICES[device]


def device_axis(base_id, *values):
    """pytest.params for ``values`` on the CPU (id ``base_id``), on each visible GPU (ids
    ``base_id-gpu``, ``base_id-gpu1``, ...: tests/devices.py, collected only where a GPU is visible)
    and on the stand-in (``base_id-standin``, marked standin: smoke run only, see the module)."""
    return device_params(base_id, *values) + [
        pytest.param(*values, STANDIN, id=f"{base_id}-{STANDIN}", marks=[pytest.mark.standin])]


def accelerator(device):
    """Every device but the CPU takes the GPU branch (the stand-in included)."""
    return device != "cpu"


def sync(device):
    """Wait for the device to finish queued work, so the clock stops after the work does.
    CPU ops in TF return when done; GPU kernels are queued and need the sync."""
    if accelerator(device):
        tf.test.experimental.sync_devices()


@contextlib.contextmanager
def exact_float32(device):
    """The accuracy check of an accelerator runs with TF32 off (a GPU would otherwise run float32
    matmuls and convolutions with a 10-bit mantissa); the previous setting comes back after."""
    if not accelerator(device):
        yield
        return
    was = tf.config.experimental.tensor_float_32_execution_enabled()
    tf.config.experimental.enable_tensor_float_32_execution(False)
    try:
        yield
    finally:
        tf.config.experimental.enable_tensor_float_32_execution(was)


def timed_tf(fn, tensors, device):
    """The call to time: ``fn`` on ``device``, then a sync, so the clock stops after the work."""
    def call():
        with tf.device(tf_device(device)):
            out = fn(*tensors)
        sync(device)
        return out
    return call


def on_device(arrays, device):
    with tf.device(tf_device(device)):
        tensors = [tf.identity(tf.constant(a)) for a in arrays]
    sync(device)
    return tensors


def skip_numpy_on_gpu(impl, device):
    if impl == "numpy" and accelerator(device):
        pytest.skip("the NumPy reference runs on the CPU only")


def require_device(device):
    if device.startswith("gpu") and device not in gpu_names():
        pytest.skip(NO_GPU)


def compiled(fn, mode, specs, device):
    """A fresh tf.function of ``fn`` (mode "function" or "xla") traced now, on ``device``, for
    ``specs``: returns (function, seconds the tracing took). Fresh, so the tracing is timed
    here and not by whichever case happened to run first."""
    f = tf.function(fn, input_signature=specs, jit_compile=(mode == "xla"))
    start = time.perf_counter()
    with tf.device(tf_device(device)):
        f.get_concrete_function(*specs)
    return f, time.perf_counter() - start


def first_call(call):
    """Run ``call`` once (XLA compiles, a tf.function's graph is optimised, caches warm up):
    returns (its result, seconds)."""
    start = time.perf_counter()
    out = call()
    return out, time.perf_counter() - start


# --- the machine's limits -----------------------------------------------------------------
def tf_threads():
    """The threads TensorFlow's CPU kernels use: its intra-op pool (0 means one per usable core)."""
    return tf.config.threading.get_intra_op_parallelism_threads() or len(os.sched_getaffinity(0))


def best_seconds(call, budget=0.2, least=3, most=50):
    """Seconds per call: the minimum over repeated timings, at least ``least``, then until
    ``budget`` seconds pass; each timing runs enough calls back to back to last 0.1 ms, so
    the clock's own cost does not count (as pytest-benchmark calibrates its iterations)."""
    start = time.perf_counter()
    call()
    loops = max(1, math.ceil(1e-4 / max(time.perf_counter() - start, 1e-9)))
    best, spent, n = math.inf, 0.0, 0
    while n < least or (spent < budget and n < most):
        start = time.perf_counter()
        for _ in range(loops):
            call()
        t = time.perf_counter() - start
        best, spent, n = min(best, t / loops), spent + t, n + 1
    return best


class ThreadedCopy:
    """np.copyto split into ``threads`` contiguous chunks, one per thread (NumPy releases the GIL
    while it copies): the host's memcpy bandwidth as a multi-threaded kernel can reach it."""

    def __init__(self, src, dst, threads):
        bounds = np.linspace(0, src.size, threads + 1).astype(int)
        self.chunks = [(src[a:b], dst[a:b]) for a, b in zip(bounds, bounds[1:]) if b > a]
        self.start = threading.Barrier(len(self.chunks))
        self.done = threading.Barrier(len(self.chunks))
        self.workers = [threading.Thread(target=self._work, args=(i,), daemon=True) for i in range(1, len(self.chunks))]
        self.stopping = False
        for w in self.workers:
            w.start()

    def _work(self, i):
        while True:
            self.start.wait()
            if self.stopping:
                return
            np.copyto(self.chunks[i][1], self.chunks[i][0])
            self.done.wait()

    def __call__(self):
        self.start.wait()
        np.copyto(self.chunks[0][1], self.chunks[0][0])
        self.done.wait()
        return self.chunks

    def close(self):
        self.stopping = True
        self.start.wait()
        for w in self.workers:
            w.join()


def limit_bytes(nbytes):
    """Limits are measured at powers of 4 bytes (4 KiB .. 256 MiB), the nearest to a case's
    copy size in log scale: bandwidth depends on the cache level the data fits in."""
    exponent = min(max(round(math.log(max(nbytes, 1), 4)), 6), 14)
    return 4 ** exponent


class Limits:
    """The machine's limits, measured once per (what, size, device) in this process and kept."""

    def __init__(self, budget):
        self.budget = budget
        self.figures = {}

    def memcpy(self, moved, device):
        """Copy bandwidth (bytes read + bytes written per second) for a copy moving ``moved``
        bytes: host memcpy with tf_threads() threads on the CPU, DeepCopy on an accelerator."""
        nbytes = limit_bytes(moved / 2)
        key = ("memcpy", nbytes, device)
        if key not in self.figures:
            src = np.random.default_rng(0).standard_normal(nbytes // 4).astype(np.float32)
            if accelerator(device):
                (x,) = on_device([src], device)
                call = timed_tf(lambda t: tf.raw_ops.DeepCopy(x=t), [x], device)
                seconds = best_seconds(call, self.budget)
            else:
                dst = np.empty_like(src)
                # the limit is the best the host reached: one thread, or TF's thread count
                seconds = best_seconds(lambda: np.copyto(dst, src), self.budget)
                if tf_threads() > 1:
                    copy = ThreadedCopy(src, dst, tf_threads())
                    try:
                        seconds = min(seconds, best_seconds(copy, self.budget))
                    finally:
                        copy.close()
            self.figures[key] = 2 * src.nbytes / seconds
        return self.figures[key]

    def matmul(self, device, n):
        """FLOP/s of one square float32 matmul of side ``n`` (tf.matmul on ``device``)."""
        key = ("matmul", n, device)
        if key not in self.figures:
            a, b = (np.random.default_rng(i).standard_normal((n, n)).astype(np.float32) for i in range(2))
            call = timed_tf(tf.matmul, on_device([a, b], device), device)
            # a few calls more than a copy: one call of side 2048 takes ~0.1 s, and the limit is the best
            self.figures[key] = 2 * n ** 3 / best_seconds(call, 4 * self.budget)
        return self.figures[key]


MATMUL_SIDE = {False: 64, True: 2048}
"""The side of the limit's matmul: 2048 (17 GFLOP) with timing on, 64 in the smoke run."""

_LIMITS = {}


def limits_for(timed):
    """The run's Limits: measured with care when timing is on, once and quickly in the smoke run."""
    if timed not in _LIMITS:
        _LIMITS[timed] = Limits(budget=0.3 if timed else 0.0)
    return _LIMITS[timed]


# --- figures ------------------------------------------------------------------------------
RESULTS = {}
"""name -> dict(seconds, bytes, flops, kind, size, device, ...): filled by the cases, read by the summaries."""


def record(benchmark, limits=None, **info):
    """Attach figures to the benchmark (saved with --benchmark-json) and to the summary tables:
    the caller's (bytes moved, FLOPs, max error, trace and first-call seconds, ...) and, with
    timing on, the achieved GB/s and FLOP/s and their fraction of the machine's limits (for a
    case that names its device)."""
    info = {k: v.item() if isinstance(v, np.generic) else v for k, v in info.items()}  # JSON-serialisable
    limits = limits or limits_for(benchmark.enabled)
    if info.get("device") is not None:
        device = info["device"]
        if info.get("bytes"):
            info["limit_gbps"] = limits.memcpy(info["bytes"], device) / 1e9
        if info.get("flops"):
            info["limit_gflops"] = limits.matmul(device, MATMUL_SIDE[benchmark.enabled]) / 1e9
    if benchmark.enabled:
        seconds = benchmark.stats.stats.min
        if info.get("bytes"):
            info["gbps"] = info["bytes"] / seconds / 1e9
            if info.get("limit_gbps"):
                info["fraction_of_memcpy"] = info["gbps"] / info["limit_gbps"]
        if info.get("flops"):
            info["gflops"] = info["flops"] / seconds / 1e9
            if info.get("limit_gflops"):
                info["fraction_of_matmul"] = info["gflops"] / info["limit_gflops"]
        if info.get("first_call_s") is not None:
            info["compile_s"] = max(info["first_call_s"] - seconds, 0.0)
        RESULTS[benchmark.name] = dict(info, seconds=seconds, extra_info=benchmark.extra_info)
    benchmark.extra_info.update(info)


def best_limits():
    """The best copy bandwidth per (limit size, device) and matmul FLOP/s per device this run
    reached, from the `limits` fixture's figures and bench_limits.py's timed cases alike."""
    copies, matmuls = {}, {}
    for measured in _LIMITS.values():
        for (what, size, device), value in measured.figures.items():
            table, key = (copies, (size, device)) if what == "memcpy" else (matmuls, device)
            table[key] = max(table.get(key, 0.0), value)
    for r in RESULTS.values():
        if r.get("family") == "limit" and r.get("kind") == "memcpy":
            key = (limit_bytes(r["bytes"] / 2), r["device"])
            copies[key] = max(copies.get(key, 0.0), r["bytes"] / r["seconds"])
        elif r.get("family") == "limit" and r.get("kind") == "matmul" and r.get("impl") == "tf":
            matmuls[r["device"]] = max(matmuls.get(r["device"], 0.0), r["flops"] / r["seconds"])
    return copies, matmuls


def settle_fractions():
    """Take every case's fraction against the best limit measured in the whole run (a limit timed
    while the machine was busier is not the limit): run before pytest-benchmark writes its JSON."""
    copies, matmuls = best_limits()
    for r in RESULTS.values():
        updates = {}
        if r.get("gbps") and (limit := copies.get((limit_bytes(r["bytes"] / 2), r["device"]))):
            updates.update(limit_gbps=limit / 1e9, fraction_of_memcpy=r["gbps"] * 1e9 / limit)
        if r.get("gflops") and (limit := matmuls.get(r["device"])):
            updates.update(limit_gflops=limit / 1e9, fraction_of_matmul=r["gflops"] * 1e9 / limit)
        r.update(updates)
        r["extra_info"].update(updates)


def summary():
    """The run's figures as (section title, lines): the limits and one line per case (time,
    GB/s and FLOP/s with their fraction of the limits, max error, tracing and the first call),
    then the dispatch table. Empty when nothing was timed."""
    if not RESULTS:
        return []
    copies, matmuls = best_limits()
    lines = [f"limit: copy of {nbytes:>11,d} bytes on {device:8s} {value / 1e9:8.2f} GB/s (read + write)"
             for (nbytes, device), value in sorted(copies.items())]
    lines += [f"limit: float32 matmul on {device:8s} {value / 1e9:8.2f} GFLOP/s" for device, value in sorted(matmuls.items())]
    for name, r in sorted(RESULTS.items()):
        line = f"{name:72s} {r['seconds'] * 1e6:11.1f} us"
        if r.get("gbps"):
            line += f"  {r['gbps']:7.2f} GB/s"
            if "fraction_of_memcpy" in r:
                line += f"  {r['fraction_of_memcpy']:6.1%} of memcpy"
        if r.get("gflops"):
            line += f"  {r['gflops']:8.2f} GFLOP/s"
            if "fraction_of_matmul" in r:
                line += f"  {r['fraction_of_matmul']:6.1%} of matmul"
        if r.get("elements"):
            line += f"  {r['elements'] / r['seconds'] / 1e6:8.3f} M elements/s"
        if "max_err_eps" in r:
            line += f"  max err {r['max_err_eps']:.3g} eps"
        if r.get("trace_s") is not None:
            line += f"  trace {r['trace_s'] * 1e3:.1f} ms"
        if r.get("compile_s") is not None:
            line += f"  first call +{r['compile_s'] * 1e3:.1f} ms"
        lines.append(line)
    sections = [("throughput (min time): GB/s and FLOP/s against the machine's limits measured in this run", lines)]
    table = dispatch_table([dict(r, name=n) for n, r in RESULTS.items()])
    if table:
        sections.append(("dispatch overhead and where TF overtakes NumPy (CPU, float32)", table.splitlines()))
    return sections


# --- a shared problem ----------------------------------------------------------------------
MLP_CLASSES = 10


def mlp_problem(batch, width, rng, depth):
    """A seeded MLP problem: x (batch, width), one-hot labels, ``depth`` layers scaled by 1/sqrt(fan-in),
    and the forward pass's FLOPs."""
    sizes = [width] * depth + [MLP_CLASSES]
    params = [(rng.standard_normal((a, b)).astype(np.float32) / np.float32(np.sqrt(a)),
               rng.standard_normal(b).astype(np.float32) * np.float32(0.1)) for a, b in zip(sizes, sizes[1:])]
    x = rng.standard_normal((batch, width)).astype(np.float32)
    labels = np.eye(MLP_CLASSES, dtype=np.float32)[rng.integers(0, MLP_CLASSES, batch)]
    flops = 2 * batch * sum(a * b for a, b in zip(sizes, sizes[1:]))  # one multiply-add per weight per row
    return x, labels, params, flops
