"""Backpropagation through time: the hand-written NumPy gradients of reference/rnn.py against
GradientTape through Keras's layers and against float64 finite differences, element by element;
and the facts about the layers the BPTT pages rest on. The values and gradients in every dtype and
mode are the catalog's (tests/catalog/rnn.py); the book's RNN claims are tests/test_rnn.py's."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import reference.rnn as R
import tfimpl.rnn as T
from tests import harness
from tests.catalog import rnn as C
from tests.catalog.concept import Sample

GATES = {"simple_rnn": 1, "lstm": 4}
STATES = {"simple_rnn": 1, "lstm": 2}


def sequence(name, batch=2, time=5, features=2, units=3, seed=0):
    """x, kernel, recurrent_kernel, bias, h0[, c0] in float64; weights in [-1, 1]."""
    rng = np.random.default_rng(seed)
    g = GATES[name]
    return (rng.uniform(-2, 2, (batch, time, features)), rng.uniform(-1, 1, (features, g * units)),
            rng.uniform(-1, 1, (units, g * units)), rng.uniform(-1, 1, (g * units,)),
            *[rng.uniform(-1, 1, (batch, units)) for _ in range(STATES[name])])


def cotangent(outputs, seed=1):
    rng = np.random.default_rng(seed)
    return tuple(rng.uniform(-1, 1, np.shape(o)) for o in outputs)


def finite_differences(fn, args, dy, h=1e-3):
    """d/dt sum(dy * fn(args with one element moved by t)) at t = 0, for every element of every
    argument: fourth-order central differences in float64."""
    def phi(i, idx, t):
        moved = [a.copy() for a in args]
        moved[i][idx] += t
        return sum(float(np.sum(d * o)) for d, o in zip(dy, fn(*moved)))
    grads = []
    for i, a in enumerate(args):
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            g[idx] = (-phi(i, idx, 2 * h) + 8 * phi(i, idx, h) - 8 * phi(i, idx, -h) + phi(i, idx, -2 * h)) / (12 * h)
        grads.append(g)
    return grads


NAMES = {"simple_rnn": ("dx", "dK", "dR", "db", "dh0"), "lstm": ("dx", "dK", "dR", "db", "dh0", "dc0")}


@pytest.mark.parametrize("name", ["simple_rnn", "lstm"])
@pytest.mark.claim("ch8.1", "a recurrent network is trained by backpropagation through time: unrolled over its steps, "
                            "the chain rule runs from the last step back to the first, and each shared weight's "
                            "gradient sums every step's contribution", source="book")
def test_hand_bptt_equals_gradient_tape_and_finite_differences_for_every_weight_and_initial_state(name):
    """In float64, on x [2, 5, 2] with 3 units: the NumPy BPTT (reference *_vjp) equals GradientTape
    through Keras's layer within the catalog's float64 error bound, and central differences of the
    NumPy forward pass in every element of x, kernel, recurrent_kernel, bias, h0 (and c0)."""
    args = sequence(name)
    ref, ref_vjp, tf_vjp = getattr(R, name), getattr(R, f"{name}_vjp"), getattr(T, f"{name}_vjp")
    dy = cotangent(ref(*args))
    hand = ref_vjp(*args, dy)
    tape = [g.numpy() for g in tf_vjp(*args, dy)]
    concept = next(c for c in C.CATALOG if c.name == name)
    harness.assert_agree(tape, hand, "float64", concept.grad_tol["float64"],
                   f"{name}: GradientTape vs the NumPy BPTT", sample=Sample(args + (dy,)))
    numeric = finite_differences(ref, args, dy)
    for what, g, n in zip(NAMES[name], hand, numeric):
        # h = 1e-3, fourth order: truncation ~ h^4 = 1e-12 and rounding ~ 1e-16 / h = 1e-13 of the
        # outputs' scale (O(1) here); 1e-8 leaves room for both and still shows any missing term
        harness.assert_within(g, n, 1e-8 * (1 + np.abs(n)), f"{name} {what}: BPTT vs finite differences")


@pytest.mark.parametrize("name", ["simple_rnn", "lstm"])
def test_no_initial_state_is_a_zero_initial_state_and_its_gradient_is_taken_there(name):
    """h0=None (and c0=None) starts from zeros on both sides: the same outputs as zeros passed in,
    and the vjps return the gradient with respect to that zero state."""
    x, k, r, b, *states = sequence(name)
    zeros = [np.zeros_like(s) for s in states]
    for side in (R, T):
        fn, vjp = getattr(side, name), getattr(side, f"{name}_vjp")
        implicit, explicit = fn(x, k, r, b), fn(x, k, r, b, *zeros)
        for a, e in zip(implicit, explicit):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(e), err_msg=f"{side.__name__}.{name}")
        dy = cotangent(explicit)
        for what, a, e in zip(NAMES[name], vjp(x, k, r, b, *[None] * len(states), dy), vjp(x, k, r, b, *zeros, dy)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(e), err_msg=f"{side.__name__}.{name}_vjp {what}")


def untied_lstm(x, kernels, recurrent_kernels, biases, h0, c0):
    """The LSTM with a separate copy of the weights at each step (tfimpl.rnn.lstm_cell per step)."""
    h, c, outputs = h0, c0, []
    for t in range(x.shape[1]):
        h, c = T.lstm_cell(x[:, t], h, c, kernels[t], recurrent_kernels[t], biases[t])
        outputs.append(h)
    return tf.stack(outputs, axis=1), h, c


def test_a_shared_weights_bptt_gradient_is_the_sum_of_each_steps_copy():
    """Give every step its own copy of K, R and b (Keras's LSTMCell per step, GradientTape): the
    gradient with respect to step t's copy is that step's contribution, and their sum over the
    steps is the shared weights' gradient, from NumPy BPTT and from GradientTape through the layer."""
    x, k, r, b, h0, c0 = sequence("lstm")
    steps = x.shape[1]
    copies = [[tf.constant(w) for _ in range(steps)] for w in (k, r, b)]
    with tf.GradientTape() as tape:
        tape.watch(copies)
        outputs = untied_lstm(tf.constant(x), *copies, tf.constant(h0), tf.constant(c0))
        dy = cotangent(outputs)
        total = sum(tf.reduce_sum(tf.constant(d) * o) for d, o in zip(dy, outputs))
    per_step = tape.gradient(total, copies)
    hand = R.lstm_vjp(x, k, r, b, h0, c0, dy)[1:4]
    layer = [g.numpy() for g in T.lstm_vjp(x, k, r, b, h0, c0, dy)[1:4]]
    for what, steps_grads, h, lay in zip(("dK", "dR", "db"), per_step, hand, layer):
        summed = np.sum([g.numpy() for g in steps_grads], axis=0)
        # float64, 5 steps of O(1) terms summed in another order: ~1e-15; 1e-12 leaves headroom
        harness.assert_within(summed, h, 1e-12 * (1 + np.abs(h)), f"{what}: sum of the per-step copies vs NumPy BPTT")
        harness.assert_within(summed, lay, 1e-12 * (1 + np.abs(h)), f"{what}: sum of the per-step copies vs the layer")
        assert not np.allclose(steps_grads[0].numpy(), steps_grads[-1].numpy()), f"{what}: the steps contribute alike"


def test_keras_lstm_cell_fails_on_an_empty_batch_whose_shape_is_known():
    """Keras 3's ops.add (TF backend) turns x + y into tf.nn.bias_add(x, y) when y has one dimension
    above 1 that matches x's last: LSTMCell's z + h R with h R of shape [0, 4 units] qualifies (the
    0 is skipped as if it were a 1), and BiasAdd refuses a [0, 8] bias. So an eager call on an empty
    batch fails while a shape-generic tf.function returns the empty result; tfimpl.rnn runs such a
    batch with the LSTM's own ops (tf.scan) instead."""
    cell = keras.layers.LSTMCell(2, dtype="float32")
    cell.build((None, 3))
    x, h = tf.zeros((0, 3)), tf.zeros((0, 2))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Biases must be 1D: \[0,8\]"):
        cell(x, [h, h])
    spec = [tf.TensorSpec([None, 3]), tf.TensorSpec([None, 2])]
    traced = tf.function(lambda x, h: cell(x, [h, h])[0], input_signature=spec)
    assert traced(x, h).shape == (0, 2)
    x, h, c, k, r, b = (np.zeros((0, 3)), np.zeros((0, 2)), np.zeros((0, 2)), *sequence("lstm", features=3, units=2)[1:4])
    for got, want in zip(T.lstm_cell(x, h, c, k, r, b), R.lstm_cell(x, h, c, k, r, b)):
        assert got.shape == want.shape == (0, 2)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["simple_rnn", "lstm"])
def test_the_tf_scan_form_computes_bitwise_what_the_keras_layer_computes_eagerly(name, dtype):
    """simple_rnn_scan / lstm_scan (tf.scan over the time axis, the cell's ops in the cell's order)
    against Keras's SimpleRNN / LSTM with the same weights, eagerly: the same bits, values and
    gradients (the same kernels run the same arithmetic; Keras's BiasAdd and tf.add round alike)."""
    args = harness.cast(Sample(sequence(name)), dtype).args
    layer, scan = getattr(T, name), getattr(T, f"{name}_scan")
    for a, s in zip(layer(*args), scan(*args)):
        np.testing.assert_array_equal(a.numpy(), s.numpy())
    dy = tuple(tf.constant(d.astype(args[0].dtype)) for d in cotangent(getattr(R, name)(*args)))
    tensors = [tf.constant(a) for a in args]
    grads = []
    for fn in (layer, scan):
        with tf.GradientTape() as tape:
            tape.watch(tensors)
            out = fn(*tensors)
        grads.append(tape.gradient(out, tensors, output_gradients=list(dy)))
    for what, a, s in zip(NAMES[name], *grads):
        np.testing.assert_array_equal(a.numpy(), s.numpy(), err_msg=f"{name} {what}")


@pytest.mark.claim("ch8.4", "the book's lstm = tf.nn.rnn_cell.BasicLSTMCell(hidden_size); outputs, state = "
                            "tf.nn.dynamic_rnn(lstm, x, dtype=tf.float32) ports to TF 2.21 (Keras 3) as "
                            "tf.compat.v1.nn.dynamic_rnn over a keras.layers.LSTMCell, given initial_state: "
                            "tf.compat.v1.nn.rnn_cell.BasicLSTMCell raises AttributeError, and dtype= alone fails "
                            "(the TF1 zero-state call does not fit a Keras 3 cell)", source="port")
def test_the_books_tf1_lstm_needs_a_keras_cell_and_an_initial_state_and_then_equals_the_layer():
    """BasicLSTMCell (and every tf.compat.v1.nn.rnn_cell class) is gone; dynamic_rnn with a Keras
    LSTMCell and dtype= raises TypeError; with initial_state, tfimpl.rnn.lstm_v1 (placeholders, a
    graph, a Session) gives the same bits as keras.layers.LSTM eagerly, and the reference's LSTM."""
    with pytest.raises(AttributeError, match="not available with Keras 3"):
        tf.compat.v1.nn.rnn_cell.BasicLSTMCell(2)
    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 4, 3])
        with pytest.raises(TypeError, match="get_initial_state"):
            tf.compat.v1.nn.dynamic_rnn(keras.layers.LSTMCell(2), x, dtype=tf.float32)
    args = harness.cast(Sample(sequence("lstm", features=3, units=2)), "float32").args
    graph_run, layer = T.lstm_v1(*args), T.lstm(*args)
    for g, k in zip(graph_run, layer):
        np.testing.assert_array_equal(g, k.numpy())
    concept = next(c for c in C.CATALOG if c.name == "lstm")
    harness.assert_agree(graph_run, harness.reference(R.lstm_v1, Sample(args)), "float32", concept.tol["float32"],
                   "lstm_v1 vs the reference", sample=Sample(args))
