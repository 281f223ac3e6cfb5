"""The matmul-heavy cases of training: an MLP's forward pass and forward + backward
(loss and every layer's gradient), NumPy against TF eager, tf.function and XLA, at
several batch sizes and widths, float32, CPU, GPU and (smoke run) the GPU stand-in.
Each records the FLOP/s it achieves and its fraction of the machine's matmul FLOP/s
(bench/bench_limits.py, measured in the same run). Each result is first checked
against float64."""
import numpy as np
import pytest
import tensorflow as tf

import reference.moving_average as R_ema
import reference.nn as R
import tfimpl.nn as T
from bench._support import (STANDIN, compiled, device_axis, exact_float32, first_call, mlp_problem, on_device, record,
                            require_device, skip_numpy_on_gpu, tf_device, timed_tf)
from tests import harness
from tests.catalog import BY_NAME
from tests.catalog.concept import Sample, Tol

IMPLS = ("numpy", "eager", "function", "xla")
DEPTH = 3  # layers: width -> width -> width -> classes


def shapes(config):
    """(batch, width) cases: all of them with --benchmark, the smallest as a smoke check."""
    cases = [(32, 64), (256, 256), (2048, 512)]
    return cases if config.getoption("benchmark") else cases[:1]


def pytest_generate_tests(metafunc):
    if "batch_width" in metafunc.fixturenames:
        cases = shapes(metafunc.config)
        metafunc.parametrize("batch_width", cases, ids=[f"b{b}-w{w}" for b, w in cases])


def tolerance(width):
    """A width-K dot product of O(1) terms (weights scaled by 1/sqrt(K)) rounds K partial
    sums: worst case K eps at scale sqrt(K) per layer, DEPTH layers deep."""
    return Tol(DEPTH * width, "worst case: K roundings of a K-term dot product per layer", floor=np.sqrt(width))


def flat_params(params):
    return [a for pair in params for a in pair]


def pairs(flat):
    return [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]


def tf_forward(x, *wb):
    return T.mlp_forward(x, pairs(wb), "relu")


def tf_forward_backward(x, labels, *wb):
    loss, grads = T.mlp_gradients(x, labels, pairs(wb), "relu")
    return (loss, *[g for pair in grads for g in pair])


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("pass_", ["forward", "forward-backward"])
@pytest.mark.parametrize("device", device_axis("mlp"))
def bench_mlp(benchmark, limits, device, pass_, impl, batch_width, rng):
    require_device(device)
    skip_numpy_on_gpu(impl, device)
    batch, width = batch_width
    x, labels, params, flops = mlp_problem(batch, width, rng, DEPTH)
    if pass_ == "forward":
        expected = R.mlp_forward(x.astype(np.float64), [(w.astype(np.float64), b.astype(np.float64))
                                                        for w, b in params], "relu")
        arrays = [x, *flat_params(params)]
        ref_call, tf_fn = (lambda: R.mlp_forward(x, params, "relu")), tf_forward
    else:
        flops *= 3  # backward: one matmul for dW and one for dX per layer, each as costly as the forward
        loss, grads = R.mlp_gradients(x.astype(np.float64), labels, [(w.astype(np.float64), b.astype(np.float64))
                                                                    for w, b in params], "relu")
        expected = (loss, *[g for pair in grads for g in pair])
        arrays = [x, labels, *flat_params(params)]
        ref_call, tf_fn = (lambda: R.mlp_gradients(x, labels, params, "relu")), tf_forward_backward
    trace_s = first_s = None
    if impl == "numpy":
        call = ref_call
        out = call()
        actual = out if pass_ == "forward" else (out[0], *[g for pair in out[1] for g in pair])
    else:
        fn = tf_fn
        if impl != "eager":
            fn, trace_s = compiled(tf_fn, impl, [tf.TensorSpec(a.shape, a.dtype) for a in arrays], device)
        call = timed_tf(fn, on_device(arrays, device), device)
        with exact_float32(device):
            out, first_s = first_call(call)
        actual = tf.nest.map_structure(lambda t: t.numpy(), out)
    err = harness.assert_agree(actual, expected, "float32", tolerance(width),
                         f"benchmark mlp {pass_} [{impl}, {device}, batch {batch}, width {width}]")
    benchmark.group = f"mlp-{pass_}-b{batch}-w{width}-{device}"
    benchmark(call)
    record(benchmark, limits, kind="mlp", impl=impl, device=device, flops=flops, max_err_eps=err,
           trace_s=trace_s, first_call_s=first_s)


EMA_VARIABLES = 100


@pytest.mark.parametrize("device,impl", [
    pytest.param(d.values[0], impl, id=f"{d.id}-{impl}", marks=d.marks)
    for d in device_axis("ema-100-variables") for impl in ("numpy", "eager", "function")
    if not (impl == "numpy" and d.values[0] != "cpu")
    and not (d.values[0] == STANDIN and impl == "function")])  # the stand-in: eager is enough to place 100 variables there
def bench_ema_over_many_variables(benchmark, limits, device, impl, size, rng):
    """One moving-average update of 100 variables holding ``size`` floats in all:
    a NumPy loop of reference.moving_average.ema_update against one
    tf.train.ExponentialMovingAverage(0.99).apply(variables), eager and in tf.function."""
    require_device(device)
    skip_numpy_on_gpu(impl, device)
    tol = BY_NAME["ema_update"].tol["float32"]
    per = max(size // EMA_VARIABLES, 1)
    shadows = [rng.standard_normal(per).astype(np.float32) for _ in range(EMA_VARIABLES)]
    values = [rng.standard_normal(per).astype(np.float32) for _ in range(EMA_VARIABLES)]
    expected = [R_ema.ema_update(s.astype(np.float64), v.astype(np.float64), 0.99) for s, v in zip(shadows, values)]
    if impl == "numpy":
        def call():
            return [R_ema.ema_update(s, v, 0.99) for s, v in zip(shadows, values)]
        actual = call()
    else:
        with tf.device(tf_device(device)):
            variables = [tf.Variable(s) for s in shadows]
            ema = tf.train.ExponentialMovingAverage(0.99)
            ema.apply(variables)  # creates the shadows, equal to the variables' values
            for var, v in zip(variables, values):
                var.assign(v)  # the parameters move; the shadows follow on the next apply
        def apply():
            ema.apply(variables)  # its return value (an op in graphs) is not needed
        call = timed_tf(apply if impl == "eager" else tf.function(apply), [], device)
        call()
        actual = [ema.average(var).numpy() for var in variables]
    err = max(harness.assert_agree(a, e, "float32", tol, f"benchmark ema, variable {i} of {EMA_VARIABLES} "
                                                   f"[{impl}, {device}, n={size}]", sample=Sample((s, v, 0.99)))
              for i, (a, e, s, v) in enumerate(zip(actual, expected, shadows, values)))
    benchmark.group = f"ema-{EMA_VARIABLES}-variables-n{size:g}-{device}"
    benchmark(call)
    record(benchmark, limits, kind="ema", impl=impl, size=size, device=device, bytes=3 * 4 * per * EMA_VARIABLES,
           max_err_eps=err)
