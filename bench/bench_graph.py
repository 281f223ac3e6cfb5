"""What each way of running TensorFlow costs per call, on one small computation: a dense relu
layer, relu(x @ w + b) with x 32 x 64 and w 64 x 64, float32, on the CPU. The four ways: a TF1
Session fed through feed_dict (tfimpl.graph.SessionFunction), eagerly, in tf.function and
compiled by XLA; NumPy beside them. At this size the work is about 0.26 MFLOP, so the times are
mostly each way's overhead.

What each way pays once, before its first call, is timed on its own: building the TF1 graph
(placeholders and ops), a new Session's first run (grappler optimises the graph then), tracing
a tf.function into a concrete function, and XLA's trace + compile + first run.

Inputs are small integers and weights multiples of 1/8, so every product and partial sum is
exact in float32 and each result must equal NumPy's bitwise, whatever the summation order.
"""
import numpy as np
import pytest
import tensorflow as tf

import tfimpl.graph as G
from bench._support import record

BATCH, WIDTH = 32, 64
FLOPS = 2 * BATCH * WIDTH * WIDTH  # one multiply-add per weight per row


def layer(x, w, b):
    return tf.nn.relu(tf.matmul(x, w) + b)


def problem():
    rng = np.random.default_rng(0)
    x = rng.integers(-4, 5, (BATCH, WIDTH)).astype(np.float32)
    w = (rng.integers(-16, 17, (WIDTH, WIDTH)) / 8).astype(np.float32)
    b = (rng.integers(-16, 17, WIDTH) / 8).astype(np.float32)
    return x, w, b, np.maximum(x.astype(np.float64) @ w + b, 0)


def specs(arrays):
    return [tf.TensorSpec(a.shape, a.dtype) for a in arrays]


@pytest.mark.parametrize("impl", ["numpy", "session", "eager", "function", "xla"])
def bench_small_layer_per_call(benchmark, impl):
    """One call, everything built, traced and compiled beforehand."""
    x, w, b, expected = problem()
    opened = None
    if impl == "numpy":
        def call():
            return np.maximum(x @ w + b, 0)
    elif impl == "session":
        opened = G.SessionFunction(layer, x, w, b)

        def call():
            return opened(x, w, b)
    else:
        fn = layer if impl == "eager" else tf.function(layer, input_signature=specs((x, w, b)),
                                                       jit_compile=impl == "xla")
        tensors = [tf.constant(a) for a in (x, w, b)]

        def call():
            return fn(*tensors)
    try:
        np.testing.assert_array_equal(np.asarray(call()), expected, err_msg=f"small layer [{impl}]")
        benchmark.group = f"small-layer-per-call-b{BATCH}-w{WIDTH}"
        benchmark(call)
    finally:
        if opened is not None:
            opened.close()
    record(benchmark, kind="small-layer", impl=impl, device="cpu", flops=FLOPS)


def _graph_construction(x, w, b):
    graph = tf.Graph()
    with graph.as_default():
        inputs = [tf.compat.v1.placeholder(tf.float32, a.shape) for a in (x, w, b)]
        out = layer(*inputs)
    return graph, inputs, out


@pytest.mark.parametrize("stage", ["graph-construction", "session-first-run", "trace", "xla-compile"])
def bench_small_layer_setup(benchmark, stage):
    """What one way pays once: each round starts afresh (a new graph, Session or tf.function)."""
    x, w, b, expected = problem()
    tensors = [tf.constant(a) for a in (x, w, b)]
    setup = None
    if stage == "graph-construction":
        def call():
            return _graph_construction(x, w, b)
    elif stage == "session-first-run":
        def setup():
            return _graph_construction(x, w, b), {}

        def call(graph, inputs, out):
            with tf.compat.v1.Session(graph=graph) as sess:
                return sess.run(out, feed_dict=dict(zip(inputs, (x, w, b))))
    elif stage == "trace":
        def call():
            return tf.function(layer).get_concrete_function(*specs((x, w, b)))
    else:
        def call():
            return tf.function(layer, jit_compile=True)(*tensors)  # a new function: traced and compiled anew

    # each stage's product computes the layer exactly
    if stage == "graph-construction":
        graph, inputs, out = call()
        got = G.run_v1(graph, out, dict(zip(inputs, (x, w, b))))
    elif stage == "session-first-run":
        got = call(*setup()[0])
    elif stage == "trace":
        got = call()(*tensors)
    else:
        got = call()
    np.testing.assert_array_equal(np.asarray(got), expected, err_msg=f"small layer setup [{stage}]")
    benchmark.group = f"small-layer-setup-b{BATCH}-w{WIDTH}"
    if setup is None:
        benchmark.pedantic(call, rounds=20, warmup_rounds=1)
    else:
        benchmark.pedantic(call, setup=setup, rounds=20, warmup_rounds=1)
    record(benchmark, kind="small-layer-setup", impl=stage, device="cpu")
