"""Steps per second of one synchronous data-parallel training step (tfimpl.parallel's TF2 loop: the
MLP's batch-mean softmax cross-entropy, keras SGD, strategy.run inside a tf.function), float32:

    one-device     the default strategy (tf.distribute.get_strategy()): the same code, no replicas
    mirrored-cpu   MirroredStrategy over /CPU:0 and /CPU:1, the two logical CPU devices tests/tf_setup.py
                   makes at start-up (the GPU stand-in); both share the CPU's cores and thread pool,
                   so this measures what the replication costs (the split, two half-batch steps, the
                   all-reduce of every gradient, the mirrored update), not a speed-up
    mirrored-gpus  MirroredStrategy over every visible GPU (NCCL all-reduce), where there are two or
                   more; skipped with the reason elsewhere

Each case first checks its first step against reference.parallel.data_parallel_step in float64,
then times steady steps (the weights keep moving; the work per step does not change). The global
batch is the same in every case, so steps/s compare directly; extra_info holds steps_per_s and,
with timing on, the speed relative to one-device in the same run."""
import numpy as np
import pytest
import tensorflow as tf

import reference.parallel as R
import tfimpl.parallel as T
from bench._support import mlp_problem, record, sweep

DEPTH, LR = 2, 0.5  # classes: bench/_support.py's MLP_CLASSES
SECONDS = {}
"""(batch, width, impl) -> min seconds of this run, for the ratio to one-device."""
NEED_TWO_CPUS = ("needs two logical CPU devices, made before TensorFlow initialises (tests/tf_setup.py's GPU stand-in "
                 "makes /CPU:1); this process has {}")
NEED_TWO_GPUS = "needs two or more GPUs for MirroredStrategy across GPUs; TensorFlow sees {}"


def pytest_generate_tests(metafunc):
    if "batch_width" in metafunc.fixturenames:
        cases = sweep(metafunc.config, smoke=[(64, 32)], default=[(64, 32), (1024, 256), (4096, 1024)])
        metafunc.parametrize("batch_width", cases, ids=[f"b{b}-w{w}" for b, w in cases])


def problem(batch, width, rng):
    """bench_training's problem, DEPTH layers deep; forward + backward is about 3 forwards' FLOPs."""
    x, labels, params, flops = mlp_problem(batch, width, rng, DEPTH)
    return x, labels, params, 3 * flops


def strategy_for(impl):
    """(strategy, device for the sync) or a pytest.skip naming what is missing."""
    if impl == "one-device":
        return tf.distribute.get_strategy(), "cpu"
    if impl == "mirrored-cpu":
        cpus = tf.config.list_logical_devices("CPU")
        if len(cpus) < 2:
            pytest.skip(NEED_TWO_CPUS.format([d.name for d in cpus]))
        return T._mirrored_on(tuple(d.name for d in cpus[:2])), "cpu"
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) < 2:
        pytest.skip(NEED_TWO_GPUS.format([d.name for d in gpus] or "none"))
    return T._mirrored_on(tuple(d.name for d in gpus)), "gpu"


@pytest.mark.parametrize("impl", ["one-device", "mirrored-cpu", "mirrored-gpus"])
def bench_data_parallel_step(benchmark, impl, batch_width, rng):
    batch, width = batch_width
    x, labels, params, flops = problem(batch, width, rng)
    strategy, device = strategy_for(impl)
    train_step, variables = T._train_step(strategy, x, labels, params, LR)

    def call():
        train_step()
        if device == "gpu":
            tf.test.experimental.sync_devices()
    if device == "gpu":
        was = tf.config.experimental.tensor_float_32_execution_enabled()
        tf.config.experimental.enable_tensor_float_32_execution(False)  # float32 means float32 for the check
    try:
        call()
    finally:
        if device == "gpu":
            tf.config.experimental.enable_tensor_float_32_execution(was)
    expected = R.data_parallel_step(x.astype(np.float64), labels.astype(np.float64),
                                    [(w.astype(np.float64), b.astype(np.float64)) for w, b in params], LR,
                                    strategy.num_replicas_in_sync)
    # float32: each gradient entry sums batch products through width-term dot products of O(1) terms;
    # (batch + width) roundings of eps each bound it, times lr for the weights
    atol = LR * (batch + width) * np.finfo(np.float32).eps
    err = 0.0
    for layer, ((w, b), (ew, eb)) in enumerate(zip(variables, expected)):
        for name, got, want in (("w", w.numpy(), ew), ("b", b.numpy(), eb)):
            np.testing.assert_allclose(got, want, rtol=0, atol=atol,
                                       err_msg=f"benchmark data-parallel step [{impl}, b{batch}, w{width}]: layer "
                                               f"{layer} {name}")
            err = max(err, float(np.abs(got - want).max()) / np.finfo(np.float32).eps)
    benchmark.group = f"data-parallel-step-b{batch}-w{width}"
    benchmark(call)
    info = dict(kind="step", impl=impl, device=device, size=batch, flops=flops, max_err_eps=err,
                replicas=strategy.num_replicas_in_sync)
    if benchmark.enabled:
        seconds = benchmark.stats.stats.min
        SECONDS[batch, width, impl] = seconds
        info["steps_per_s"] = 1 / seconds
        if (batch, width, "one-device") in SECONDS:
            info["speed_vs_one_device"] = SECONDS[batch, width, "one-device"] / seconds
    record(benchmark, **info)
