"""Recurrent networks timed: a simple RNN and an LSTM, forward (every step's output and the final
states) and forward + backward (the gradients of the input and of every weight), over sequence
lengths and batch sizes, float32.

numpy: reference/rnn.py as written (float64 inside; backprop through time by hand). eager,
function, xla: a Keras layer (SimpleRNN, LSTM) built once with the same weights set in, called
eagerly, in tf.function and compiled by XLA; on a GPU (and the smoke run's stand-in) these run
Keras's generic loop (use_cudnn=False); cudnn is Keras's LSTM on its cuDNN kernel (a real GPU
only; Keras has none for SimpleRNN). Sizes (length, batch): (10, 1) as the smoke check, (10, 1)
and (100, 32) under --benchmark, (10, 100, 1000) x (1, 32, 256) under --benchmark-full.

Each case first checks its result against the float64 reference and records the error (in eps of
each output's largest element) beside the time, the tracing and first-call seconds apart, and
its FLOP/s: the matmuls only, 2 * batch * (features + units) * g * units a step (g = 1 or 4
gates), three times that forward + backward, with its fraction of the machine's matmul FLOP/s
measured in the same run (bench/_support.py limits)."""
import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

import reference.rnn as R
from bench._support import (STANDIN, compiled, device_axis, exact_float32, first_call, on_device, record,
                            require_device, skip_numpy_on_gpu, sweep, tf_device, timed_tf, timing)
from tests import harness
from tests.catalog.concept import Tol

FEATURES, UNITS = 32, 64
LENGTHS, BATCHES = (10, 100, 1000), (1, 32, 256)
MODELS = {"simple_rnn": (keras.layers.SimpleRNN, 1, R.simple_rnn, R.simple_rnn_vjp),
          "lstm": (keras.layers.LSTM, 4, R.lstm, R.lstm_vjp)}


def cases(config):
    """(length, batch): one step up in both under --benchmark (Keras's eager loop costs about 1 s a
    call at length 100, so the default stays at two sizes); every pair under --benchmark-full."""
    return sweep(config, smoke=[(10, 1)], default=[(10, 1), (100, 32)],
                 full=list(itertools.product(LENGTHS, BATCHES)))


def pytest_generate_tests(metafunc):
    if "length_batch" in metafunc.fixturenames:
        sizes = cases(metafunc.config)
        metafunc.parametrize("length_batch", sizes, ids=[f"t{t}-b{b}" for t, b in sizes])
        metafunc.parametrize("model,impl,device", impl_params(timing(metafunc.config)))


def impl_params(timed):
    """(model, impl, device): numpy, eager, function and xla on every device of the axis; cudnn on
    the GPUs and for the LSTM only (the stand-in is a CPU device: cuDNN cannot run there). The
    smoke run takes the stand-in's GPU branch with the LSTM only: the branch is the same code for
    both models, and each XLA compile there costs seconds."""
    params = []
    for model in MODELS:
        for impl in ("numpy", "eager", "function", "xla"):
            params += [pytest.param(model, *p.values, marks=p.marks, id=f"{model}-{p.id}")
                       for p in device_axis(impl, impl) if timed or model == "lstm" or p.values[-1] != STANDIN]
        if model == "lstm":
            params += [pytest.param(model, *p.values, marks=p.marks, id=f"{model}-{p.id}")
                       for p in device_axis("cudnn", "cudnn") if p.values[-1] not in ("cpu", STANDIN)]
    return params


def problem(model, length, batch, rng):
    """float32 x [batch, length, features], weights and the upstream gradients of each output.
    Each gate's recurrent block is orthogonal times 0.5, so a step contracts and rounding errors of
    earlier steps fade instead of growing with the length."""
    gates = MODELS[model][1]
    x = rng.standard_normal((batch, length, FEATURES)).astype(np.float32)
    kernel = (rng.standard_normal((FEATURES, gates * UNITS)) / np.sqrt(FEATURES)).astype(np.float32)
    recurrent = np.hstack([0.5 * np.linalg.qr(rng.standard_normal((UNITS, UNITS)))[0]
                           for _ in range(gates)]).astype(np.float32)
    bias = (0.1 * rng.standard_normal(gates * UNITS)).astype(np.float32)
    dy = [rng.standard_normal((batch, length, UNITS)).astype(np.float32)]
    dy += [rng.standard_normal((batch, UNITS)).astype(np.float32) for _ in range(1 if gates == 1 else 2)]
    return x, (kernel, recurrent, bias), tuple(dy)


def keras_layer(model, weights, batch, length, impl):
    options = dict(return_sequences=True, return_state=True)
    if model == "lstm":
        options["use_cudnn"] = impl == "cudnn"
    layer = MODELS[model][0](UNITS, **options)
    layer.build((batch, length, FEATURES))
    layer.set_weights(list(weights))
    return layer


def tolerance(pass_):
    """In eps of each output's largest element (Tol's floor). Each step is an (F + U)-term dot
    product, but the steps contract (recurrent norm 0.5, the LSTM's forget gates near 0.5), so
    errors do not grow with the length, and roundings of random sign cancel: measured at most 7 eps
    forward and 12 eps for the weight gradients (sums over length x batch terms) at length 1000,
    batch 256, in tf.function and under XLA on both CPU kernel paths (eagerly the same up to length
    100). A wrong gate or a step off by one is off by ~1e6 eps."""
    if pass_ == "forward":
        return Tol(32, "(F + U)-term dot products per contracting step: measured <= 7 eps up to length 1000")
    return Tol(64, "weight gradients sum length x batch terms: measured <= 12 eps up to length 1000, batch 256")


def check(actual, expected, tol, context):
    """Each output against the float64 reference, relative to its own largest element."""
    worst = 0.0
    for i, (a, e) in enumerate(zip(actual, expected)):
        leaf_tol = Tol(tol.n_eps, tol.why, floor=float(np.abs(e).max()))
        worst = max(worst, harness.assert_agree(np.asarray(a), e, "float32", leaf_tol, f"{context}, output {i}"))
    return worst


@pytest.mark.parametrize("pass_", ["forward", "forward-backward"])
def bench_rnn(benchmark, limits, model, impl, device, pass_, length_batch, rng):
    require_device(device)
    skip_numpy_on_gpu(impl, device)
    length, batch = length_batch
    _, gates, ref_forward, ref_vjp = MODELS[model]
    x, weights, dy = problem(model, length, batch, rng)
    x64, w64, dy64 = x.astype(np.float64), [w.astype(np.float64) for w in weights], [d.astype(np.float64) for d in dy]
    states = (None,) if gates == 1 else (None, None)
    flops = 2 * batch * (FEATURES + UNITS) * gates * UNITS * length
    if pass_ == "forward":
        expected = ref_forward(x64, *w64)
    else:
        flops *= 3  # backward: dX/dH and dW matmuls each step, each as costly as the forward's
        expected = ref_vjp(x64, *w64, *states, tuple(dy64))[:4]  # dx, dK, dR, db

    trace_s = first_s = None
    if impl == "numpy":
        if pass_ == "forward":
            def call():
                return ref_forward(x, *weights)
        else:
            def call():
                return ref_vjp(x, *weights, *states, dy)[:4]
        actual = call()
    else:
        with tf.device(tf_device(device)):
            layer = keras_layer(model, weights, batch, length, impl)
        cell = layer.cell

        def forward(x):
            return tuple(layer(x))

        def forward_backward(x, *dys):
            with tf.GradientTape() as tape:
                tape.watch(x)
                outputs = layer(x)
                loss = tf.add_n([tf.reduce_sum(d * o) for d, o in zip(dys, outputs)])
            return tuple(tape.gradient(loss, [x, cell.kernel, cell.recurrent_kernel, cell.bias]))

        fn = forward if pass_ == "forward" else forward_backward
        arrays = [x] + ([] if pass_ == "forward" else list(dy))
        if impl in ("function", "xla"):
            fn, trace_s = compiled(fn, impl, [tf.TensorSpec(a.shape, a.dtype) for a in arrays], device)
        call = timed_tf(fn, on_device(arrays, device), device)
        with exact_float32(device):
            out, first_s = first_call(call)
        actual = [t.numpy() for t in out]
    context = f"benchmark {model} {pass_} [{impl}, {device}, length {length}, batch {batch}]"
    err = check(actual, expected, tolerance(pass_), context)
    benchmark.group = f"{model}-{pass_}-t{length}-b{batch}-{device}"
    benchmark(call)
    record(benchmark, limits, kind=f"{model}-{pass_}", impl=impl, device=device, flops=flops, max_err_eps=err,
           length=length, batch=batch, trace_s=trace_s, first_call_s=first_s)
