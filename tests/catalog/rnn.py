"""Catalog entries: the simple RNN, the LSTM cell and the LSTM (reference/rnn.py, tfimpl/rnn.py).

The entries pass h0 (and c0) explicitly, so the gradient covers the initial state too;
h0=None (zeros) has named tests in tests/test_rnn_bptt.py. Functions with several outputs
get a tuple dy, one array per output (tests/harness.py feeds each as a tensor).

The error models below run a first-order bound (Higham, ch. 3) through the recurrence, op
for op in Keras's order: each matmul earns K/2 eps of its sum of |terms|, each add and
product half an ulp, tanh and sigmoid carry their input's error times their largest slope
nearby and add their own ulps (tests/catalog/error_models.py). float16 and bfloat16, on the paths
measured (Eigen and XLA; oneDNN takes neither dtype on an AVX2 CPU), are charged per op as those
kernels compute: a matmul accumulates in float32 and rounds once (Eigen's bfloat16 MatMul
truncates: a whole eps), tanh rounds once, Eigen's logistic three times (error_models.matmul_error,
LOW_ACT_ROUNDINGS); where oneDNN takes them, the general charges stand. Any result (or matmul term) below
the dtype's smallest normal number may be flushed to zero, which costs its whole size
(error_models.flushed; float16 keeps its subnormals, off by at most half their spacing), carried
on by the ops after it like any other error. A state's error is carried into the next step through |R| and contracted by tanh' (and, in the LSTM, by f and o), so the
bound grows with the number of steps only as far as the recurrence lets it. The backward
models run the same bounds through backprop through time, with TF's TanhGrad / SigmoidGrad
working from the rounded forward outputs and the weight gradients summed over the steps.
"""
import re

import numpy as np
from hypothesis import strategies as st

import reference.rnn as R
import tfimpl.rnn as T
from tests.catalog import error_models, strategies
from tests.catalog.concept import XLA_ACCEPTS, BadInput, Concept, Sample, Tol, shape_pattern, traced_or_run
from tests.precision import DTYPES, EPS, LOW

nan, inf = np.nan, np.inf


# --- error models: (value, error bound in eps) pairs through the ops -----------------------

def _exact(a):
    a = np.asarray(a, np.float64)
    return a, np.zeros_like(a)


LOW_ACT_ROUNDINGS = {"sigmoid": 1.5, "tanh": 0.5}
"""Own error of float16 / bfloat16 sigmoid and tanh, in eps of |f| (f computed in float32, its
float32 ulps on top): tanh rounds once (measured within 0.49 eps on both paths); Eigen's logistic
rounds exp(-z), 1 + exp(-z) and the reciprocal, 1.5 eps to first order (measured within 1.09 eps
in bfloat16 and 1.2 in float16 over 1e5 points in [-4, 4]; XLA within 0.5 and 0.98)."""


def _mm(dtype, a, b):
    """a @ b: both inputs' errors through the other's |values|, then the matmul's own roundings
    (error_models.matmul_error)."""
    (va, ea), (vb, eb) = a, b
    v = va @ vb
    return v, ea @ np.abs(vb) + np.abs(va) @ eb + error_models.matmul_error(dtype, va, vb, v)


def _add(dtype, a, b):
    (va, ea), (vb, eb) = a, b
    v = va + vb
    return v, ea + eb + 0.5 * np.abs(v) + error_models.flushed(dtype, v)


def _mul(dtype, a, b):
    (va, ea), (vb, eb) = a, b
    v = va * vb
    return v, ea * np.abs(vb) + np.abs(va) * eb + 0.5 * np.abs(v) + error_models.flushed(dtype, v)


def _max_slope(name, z, dz):
    """max |f'| over [z - dz, z + dz] for tanh and sigmoid, from e = exp(-|z|) so that the tails keep
    their size (1 - s for s = sigmoid(40) is 0 in float64; e / (1 + e)^2 is not):
    sigmoid' = e / (1 + e)^2, tanh' = 4 e^2 / (1 + e^2)^2, both largest at 0."""
    e = np.exp(-np.maximum(np.abs(z) - dz, 0.0))
    return e / (1 + e) ** 2 if name == "sigmoid" else 4 * e * e / (1 + e * e) ** 2


def _act(dtype, name, z):
    """tanh or sigmoid of z: z's error times the largest slope within it, plus the function's own
    ulps. A saturated input (|z| = inf) gives an exact 0, 1 or -1: nothing is carried."""
    vz, ez = z
    slope = _max_slope(name, vz, ez * EPS[dtype])
    carried = np.where(slope > 0, slope * ez, 0.0)
    f = error_models._act(name, vz)
    if error_models.low_measured(dtype):
        own = (LOW_ACT_ROUNDINGS[name] + error_models.ACT_ULPS[name] * EPS["float32"] / EPS[dtype]) * np.abs(f)
    else:
        own = (error_models.ACT_ULPS[name] + (0.5 if dtype in LOW else 0.0)) * np.abs(f)
    return f, carried + own + error_models.flushed(dtype, f)


def _act_grad(dtype, name, y, g):
    """TF's TanhGrad g (1 - y^2) and SigmoidGrad (g y) (1 - y), from the rounded output y: the slope
    carries y's error, the slope and the product round, g y and the result may flush
    (tests/catalog/error_models.py, _layer_backward)."""
    (vy, ey), (vg, eg) = y, g
    if name == "tanh":
        slope = 1 - vy * vy
        err = np.abs(vg) * (2 * np.abs(vy) * ey + 1.0)
    else:
        slope = vy * (1 - vy)
        err = (np.abs(vg) * (np.abs(1 - 2 * vy) * ey + 1.5 * slope)
               + error_models.flushed(dtype, vg * vy) * np.abs(1 - vy))
    return slope * vg, err + slope * eg + 0.5 * np.abs(slope * vg) + error_models.flushed(dtype, slope * vg)


def _sum0(dtype, a):
    """The sum over the batch (the bias gradient of Keras's broadcast add): B/2 eps of sum |terms|."""
    va, ea = a
    return va.sum(axis=0), (ea.sum(axis=0) + 0.5 * va.shape[0] * np.abs(va).sum(axis=0)
                            + error_models.flushed_sum(dtype, va, axis=0))


def _acc(dtype, total, a):
    """Accumulate a weight gradient over the steps: each addition rounds once."""
    return a if total is None else _add(dtype, total, a)


def _t(a):
    return a[0].T, a[1].T


def _cols(a, k, n=4):
    """The k-th of n gate blocks of columns."""
    size = a[0].shape[-1] // n
    return a[0][..., k * size:(k + 1) * size], a[1][..., k * size:(k + 1) * size]


def _concat(parts):
    return np.concatenate([p[0] for p in parts], axis=-1), np.concatenate([p[1] for p in parts], axis=-1)


def _reference_too(dtype, errors):
    """In float64 the reference rounds as often as TF does: its own error counts as much again."""
    return tuple(2 * e if dtype == "float64" else e for e in errors)


def _finite(errors):
    return tuple(np.where(np.isnan(e), 0.0, e) for e in errors)


def _simple_rnn_states(dtype, x, kernel, recurrent_kernel, bias, h0):
    """h_0..h_T with their bounds, in SimpleRNNCell's order: tanh((x_t K + b) + h_{t-1} R)."""
    hs = [_exact(h0)]
    for t in range(x.shape[1]):
        xkb = _add(dtype, _mm(dtype, _exact(x[:, t]), _exact(kernel)), _exact(bias))
        hs.append(_act(dtype, "tanh", _add(dtype, xkb, _mm(dtype, hs[-1], _exact(recurrent_kernel)))))
    return hs


def simple_rnn_error(dtype, x, kernel, recurrent_kernel, bias, h0):
    hs = _simple_rnn_states(dtype, x, kernel, recurrent_kernel, bias, h0)
    outputs = np.stack([h[1] for h in hs[1:]], axis=1)
    return _reference_too(dtype, (outputs, hs[-1][1]))


def simple_rnn_vjp_error(dtype, x, kernel, recurrent_kernel, bias, h0, dy):
    """Backprop through time with bounds: g = dh_t (from the output and from step t + 1, added),
    da = TanhGrad(h_t, g), dx_t = da K^T, dK += x_t^T da, dR += h_{t-1}^T da (h_{t-1} carrying its
    forward error), db += sum da, and g = da R^T for the step before."""
    d_outputs, d_h = (np.asarray(d, np.float64) for d in dy)
    hs = _simple_rnn_states(dtype, x, kernel, recurrent_kernel, bias, h0)
    g, dx, dk, dr, db = _exact(d_h), np.zeros_like(x), None, None, None
    for t in reversed(range(x.shape[1])):
        g = _add(dtype, g, _exact(d_outputs[:, t]))
        da = _act_grad(dtype, "tanh", hs[t + 1], g)
        dx[:, t] = _mm(dtype, da, _exact(kernel.T))[1]
        dk = _acc(dtype, dk, _mm(dtype, _exact(x[:, t].T), da))
        dr = _acc(dtype, dr, _mm(dtype, _t(hs[t]), da))
        db = _acc(dtype, db, _sum0(dtype, da))
        g = _mm(dtype, da, _exact(recurrent_kernel.T))
    return _finite(_reference_too(dtype, (dx, dk[1], dr[1], db[1], g[1])))


def _lstm_step(dtype, x_t, h, c, kernel, recurrent_kernel, bias):
    """One LSTMCell step with bounds, in Keras's order: z = (x_t K + h R) + b; the gates; c' = f c + i g;
    h' = o tanh(c'). ``h`` and ``c`` are (value, error) pairs."""
    z = _add(dtype, _add(dtype, _mm(dtype, _exact(x_t), _exact(kernel)), _mm(dtype, h, _exact(recurrent_kernel))),
             _exact(bias))
    i, f, g, o = (_act(dtype, name, _cols(z, k)) for k, name in enumerate(("sigmoid", "sigmoid", "tanh", "sigmoid")))
    c_new = _add(dtype, _mul(dtype, f, c), _mul(dtype, i, g))
    tc = _act(dtype, "tanh", c_new)
    return {"h_in": h, "c_in": c, "i": i, "f": f, "g": g, "o": o, "c": c_new, "tc": tc, "h": _mul(dtype, o, tc)}


def _lstm_step_back(dtype, x_t, kernel, recurrent_kernel, s, dh, dc):
    """One step of TF's LSTM backward pass with bounds, from (dh', dc') with their bounds."""
    do, dtc = _mul(dtype, dh, s["tc"]), _mul(dtype, dh, s["o"])
    dc_total = _add(dtype, dc, _act_grad(dtype, "tanh", s["tc"], dtc))
    df, dc_prev = _mul(dtype, dc_total, s["c_in"]), _mul(dtype, dc_total, s["f"])
    di, dg = _mul(dtype, dc_total, s["g"]), _mul(dtype, dc_total, s["i"])
    dz = _concat([_act_grad(dtype, "sigmoid", s["i"], di), _act_grad(dtype, "sigmoid", s["f"], df),
                  _act_grad(dtype, "tanh", s["g"], dg), _act_grad(dtype, "sigmoid", s["o"], do)])
    return (_mm(dtype, dz, _exact(kernel.T)), _mm(dtype, dz, _exact(recurrent_kernel.T)), dc_prev,
            _mm(dtype, _exact(x_t.T), dz), _mm(dtype, _t(s["h_in"]), dz), _sum0(dtype, dz))


def lstm_cell_error(dtype, x_t, h, c, kernel, recurrent_kernel, bias):
    s = _lstm_step(dtype, x_t, _exact(h), _exact(c), kernel, recurrent_kernel, bias)
    return _reference_too(dtype, (s["h"][1], s["c"][1]))


def lstm_cell_vjp_error(dtype, x_t, h, c, kernel, recurrent_kernel, bias, dy):
    dh, dc = (_exact(d) for d in dy)
    s = _lstm_step(dtype, x_t, _exact(h), _exact(c), kernel, recurrent_kernel, bias)
    return _finite(_reference_too(dtype, tuple(g[1] for g in _lstm_step_back(dtype, x_t, kernel, recurrent_kernel,
                                                                               s, dh, dc))))


def _lstm_steps(dtype, x, kernel, recurrent_kernel, bias, h0, c0):
    steps, h, c = [], _exact(h0), _exact(c0)
    for t in range(x.shape[1]):
        steps.append(_lstm_step(dtype, x[:, t], h, c, kernel, recurrent_kernel, bias))
        h, c = steps[-1]["h"], steps[-1]["c"]
    return steps


def lstm_error(dtype, x, kernel, recurrent_kernel, bias, h0, c0):
    steps = _lstm_steps(dtype, x, kernel, recurrent_kernel, bias, h0, c0)
    return _reference_too(dtype, (np.stack([s["h"][1] for s in steps], axis=1), steps[-1]["h"][1],
                                  steps[-1]["c"][1]))


def lstm_vjp_error(dtype, x, kernel, recurrent_kernel, bias, h0, c0, dy):
    """Backprop through time with bounds: at step t, dh = d_outputs[:, t] + the dh handed back by
    step t + 1; one LSTM step backwards; the weight gradients summed over the steps."""
    d_outputs, d_h, d_c = (np.asarray(d, np.float64) for d in dy)
    steps = _lstm_steps(dtype, x, kernel, recurrent_kernel, bias, h0, c0)
    dh, dc, dx, dk, dr, db = _exact(d_h), _exact(d_c), np.zeros_like(x), None, None, None
    for t in reversed(range(x.shape[1])):
        dh = _add(dtype, dh, _exact(d_outputs[:, t]))
        dx_t, dh, dc, dk_t, dr_t, db_t = _lstm_step_back(dtype, x[:, t], kernel, recurrent_kernel, steps[t], dh, dc)
        dx[:, t] = dx_t[1]
        dk, dr, db = _acc(dtype, dk, dk_t), _acc(dtype, dr, dr_t), _acc(dtype, db, db_t)
    return _finite(_reference_too(dtype, (dx, dk[1], dr[1], db[1], dh[1], dc[1])))


def _tol(model, what):
    return {d: Tol(1, what, model=model) for d in DTYPES}


FORWARD_WHY = ("per element, step by step: each matmul K/2 eps of sum |terms| (float16 / bfloat16 on Eigen and XLA: "
               "float32 accumulation, then one rounding of |result|, a whole eps for Eigen's truncating bfloat16 "
               "MatMul), each add and product 0.5 eps, "
               "tanh / sigmoid their own ulps plus the slope times their input's error; a state's error carried "
               "into the next step through |R| (x2 in float64: the reference rounds as often)")
BACKWARD_WHY = ("backprop through time with the same bounds: TanhGrad / SigmoidGrad from the rounded forward outputs, "
                "the gradient handed back through |R^T|, each step's weight gradients matmuls summed over the steps "
                "(x2 in float64)")


# --- samples and edges -------------------------------------------------------------------------

SHAPES = ((2, 3, 3, 2), (4, 12, 2, 1), (1, 1, 3, 5))
"""(batch, time, features, units) of the drawn samples: 3 steps of 2 rows into 2 units, 12 steps of
4 rows into 1 unit, one step of a batch of one into 5 units (the first holds the fewest numbers:
hypothesis's base example, which its health check wants small). XLA compiles a recurrent layer's
loop and its gradient once per shape (about a second), so the draws come from these three shapes
(strategies.bucket) and vary the values inside them. The saturating and inf-nan edges take the first
shape and the one-step edge (a batch of one, where Keras's ops.add turns LSTMCell's z + h R into a
BiasAdd) the last, so they share the drawn samples' compiles; the other edges are an empty batch,
no features and 200 steps."""
SHAPE, ONE_STEP = SHAPES[0], SHAPES[-1]
"""The shapes of the saturating and inf-nan edges and of the one-step edge."""


def sequence_strategy(gates, states):
    """x in [-2, 2], the weights and the initial states in [-1, 1], in one of SHAPES."""
    def draw(shape):
        b, t, f, u = shape
        return st.tuples(strategies.arrays((b, t, f), 2.0), strategies.arrays((f, gates * u), 1.0),
                         strategies.arrays((u, gates * u), 1.0), strategies.arrays((gates * u,), 1.0),
                         *[strategies.arrays((b, u), 1.0)] * states)
    return strategies.bucket(SHAPES).flatmap(draw).map(Sample)


CELL_SHAPES = tuple((b, f, u) for b, _, f, u in SHAPES)
"""(batch, features, units) of one LSTM step: SHAPES without their time; the saturating edge takes the
first, the one-row edge the last."""


def cell_strategy():
    """One LSTM step in one of CELL_SHAPES: x_t in [-2, 2], h in [-1, 1], c in [-2, 2]."""
    def draw(shape):
        b, f, u = shape
        return st.tuples(strategies.arrays((b, f), 2.0), strategies.arrays((b, u), 1.0),
                         strategies.arrays((b, u), 2.0), strategies.arrays((f, 4 * u), 1.0),
                         strategies.arrays((u, 4 * u), 1.0), strategies.arrays((4 * u,), 1.0))
    return strategies.bucket(CELL_SHAPES).flatmap(draw).map(Sample)


def _weights(rng, features, units, gates, norm=None):
    """kernel, recurrent_kernel, bias; ``norm``: the recurrent kernel's gate blocks scaled to that spectral norm."""
    kernel, recurrent, bias = (rng.uniform(-1, 1, s) for s in [(features, gates * units), (units, gates * units),
                                                               (gates * units,)])
    if norm is not None:
        for k in range(gates):
            block = recurrent[:, k * units:(k + 1) * units]
            block *= norm / np.linalg.norm(block, 2)
    return kernel, recurrent, bias


def sequence_edges(gates, seed):
    """Edges of a sequence entry: args (x, kernel, recurrent_kernel, bias, h0[, c0]).

    How tight the bfloat16 LSTM bound is on each (median bound / |reference|, measured use eager / XLA;
    this CPU, TF 2.21): one-step 6.8 % (0.16 / 0.11), twelve-steps 9.1 % (0.21 / 0.17), no-features
    9.2 % (0.08), long-200 13 % (0.21 / 0.17), saturating 3.5 % (0.28 / 0.23), inf-nan 19 % (0.15 / 0.16).
    Where it is loose, it is the truth of a worst-case bound: long-200's grows from 4-13 % of |h| at
    step 1 to 11-24 % by step 50 and stays there, each step's roundings (2 to 5 eps of |c|) carried
    on through f (up to 0.9: about 1 / (1 - f) of one step's) and through |R|; a planted 5 % forget
    gate shifts c by 6.4 eps of f c a step and builds up the same way, so this edge does not catch it
    (the drawn samples do: tests/test_rnn.py). inf-nan's and saturating's large ratios are at small
    results: an h of 0.003 from c = f c0 + i g cancelling (the bound is eps of the terms, 9.9x the
    result) and, saturating, o = sigmoid(-100) below bfloat16's smallest normal, which may flush to
    zero (error_models.flushed: its whole size); elsewhere in them the ratio is 2-14 %."""
    rng = np.random.default_rng(seed)
    states = 1 if gates == 1 else 2

    def sample(x, weights, id_, scale=1.0, draw=rng):
        b, u = x.shape[0], weights[1].shape[0]
        return Sample((x, *weights, *[draw.uniform(-scale, scale, (b, u)) for _ in range(states)]), id=id_)
    w = _weights(rng, 3, 2, gates)
    own = np.random.default_rng(seed + 100)  # the edges in the drawn shapes, from a stream of their own
    (b1, t1, f1, u1), (b2, t2, f2, u2) = ONE_STEP, SHAPES[1]
    return (
        sample(own.uniform(-2, 2, (b1, t1, f1)), _weights(own, f1, u1, gates), "one-step", draw=own),
        # 12 steps of 4 rows into one unit, as the strategy draws them: every drawn shape is checked,
        # value and gradient, in every cell, however few examples a profile draws
        sample(own.uniform(-2, 2, (b2, t2, f2)), _weights(own, f2, u2, gates), "twelve-steps", draw=own),
        sample(np.zeros((0, 4, 3)), w, "empty-batch"),
        sample(np.zeros((2, 3, 0)), _weights(rng, 0, 2, gates), "no-features"),
        # 200 steps through a recurrent kernel of spectral norm 0.9 (each gate block): the states, the
        # error bounds and the gradient handed back to x_0 and h0 stay finite
        sample(rng.uniform(-1, 1, (1, 200, 1)), _weights(rng, 1, 2, gates, norm=0.9), "long-200"),
        # pre-activations in the hundreds: tanh and sigmoid saturate to exactly -1, 0 or 1 (in SHAPE: the
        # drawn samples' compile of value and gradient serves it)
        sample(rng.uniform(-60, 60, SHAPE[:3]), tuple(a * 3 for a in w), "saturating", scale=3.0),
        sample(_inf_nan_sequence(rng), w, "inf-nan"),
    )


def _inf_nan_sequence(rng):
    """x in SHAPE (whose XLA compile it shares with the drawn strategy): row 0 starts with +inf (x_0 K
    saturates to +-inf, tanh and sigmoid give exact 1, 0 or -1, and the state goes on finite); row 1
    holds a NaN at its last step, its earlier steps finite (NaN neither runs back nor across rows)."""
    b, t, f, _ = SHAPE
    x = rng.uniform(-2, 2, (b, t, f))
    x[0, 0, 0], x[1, -1, 1] = inf, nan
    return x


def cell_edges():
    rng = np.random.default_rng(13)
    k, r, b = _weights(rng, 3, 2, 4)

    def sample(x_t, id_, weights=(k, r, b), scale=1.0, draw=rng):
        u = weights[1].shape[0]
        return Sample((x_t, draw.uniform(-scale, scale, (len(x_t), u)), draw.uniform(-2 * scale, 2 * scale, (len(x_t), u)),
                       *weights), id=id_)
    own = np.random.default_rng(113)  # the edges in the drawn shapes, from a stream of their own
    (b1, f1, u1), (b2, f2, u2) = CELL_SHAPES[-1], CELL_SHAPES[1]
    return (
        sample(own.uniform(-2, 2, (b1, f1)), "one-row", weights=_weights(own, f1, u1, 4), draw=own),
        sample(own.uniform(-2, 2, (b2, f2)), "four-rows-one-unit", weights=_weights(own, f2, u2, 4), draw=own),
        sample(np.zeros((0, 3)), "empty-batch"),
        sample(np.zeros((2, 0)), "no-features", weights=_weights(rng, 0, 2, 4)),
        sample(rng.uniform(-60, 60, (2, 3)), "saturating", weights=(3 * k, 3 * r, 3 * b), scale=3.0),
        sample(np.array([[inf, 0.5, -0.5], [nan, 0.5, -0.5], [0.25, -inf, 0.5]]), "inf-nan"),
    )


GRAD_EDGES = ("one-step", "twelve-steps", "empty-batch", "long-200", "saturating")
"""Gradient edges: each shape compiles the layer's backward loop once under XLA per dtype (about a
second), so the gradient is pinned where it has something to show or costs no compile: one step, twelve
steps and saturation (zero slopes) in the drawn samples' shapes, an empty batch (the weight gradients sum
nothing), 200 steps back; no features and inf-nan are value edges."""


# --- bad input ---------------------------------------------------------------------------------

XLA_DROPS_THE_ASSERT = ("the shape-generic trace does not know these dimensions, so the check is a runtime "
                        "assert, which XLA compiles away; {what}")


def runtime_case(id_, args, match, xla, what):
    """A mismatch of dimensions the shape-generic trace does not know: ValueError eagerly, the
    runtime assert's InvalidArgumentError (same message) in tf.function and a Session; under XLA
    ``xla`` (a pattern of XLA's own error, or XLA_ACCEPTS), ``what`` saying why."""
    return BadInput(id_, args, {}, ValueError, match, traced_or_run(ValueError),
                     xla_match=xla, xla_why=XLA_DROPS_THE_ASSERT.format(what=what))


def rank_case(id_, args, name, rank, shape):
    """A wrong rank is known while tracing: ValueError in every mode, XLA included."""
    message = "{} must have rank {}, got rank {} \\(shape {}\\)"
    return BadInput(id_, args, {}, ValueError, message.format(name, rank, len(shape), re.escape(str(shape))),
                     (ValueError,), tf_match=message.format(name, rank, len(shape), shape_pattern(shape)))


def sequence_bad_inputs(gates):
    """Bad input for simple_rnn (gates 1) and lstm (gates 4): x [2, 4, 3], units 2."""
    u, g = 2, gates
    x, k, r, b = np.ones((2, 4, 3)), np.ones((3, g * u)), np.ones((u, g * u)), np.ones(g * u)
    states = (np.ones((2, u)),) * (1 if g == 1 else 2)
    good = (x, k, r, b) + states
    bias_xla = ((XLA_ACCEPTS, "the bias add broadcasts a one-element bias to every unit") if g == 1 else
                (r"Incompatible shapes: \[2,8\] vs\. \[7\]", "the bias add fails to compile"))
    cases = [
        rank_case("x-rank-2", (np.ones((2, 3)), k, r, b) + states, "x", 3, (2, 3)),
        runtime_case("kernel-not-gates-times-units", (x, np.ones((3, g * u + 1)), r, b) + states,
                     rf"kernel.shape\[1\] must be {g} \* units = {g * u} \(units = recurrent_kernel.shape\[0\] = 2\), "
                     rf"got shape \(3, {g * u + 1}\)",
                     rf"Incompatible shapes: \[2,{g * u + 1}\] vs\. \[{2 if g == 4 else ''},?{g * u}\]",
                     "the first add of x_t K (the bias in SimpleRNNCell, h R in LSTMCell) fails to compile"),
        runtime_case("recurrent-kernel-not-gates-times-units", (x, k, np.ones((u + 1, g * u)), b) + states,
                     rf"recurrent_kernel.shape\[1\] must be {g} \* units = {g * (u + 1)} \(units = "
                     rf"recurrent_kernel.shape\[0\] = 3\), got shape \(3, {g * u}\)",
                     rf"Matrix size-incompatible: In\[0\]: \[2,2\], In\[1\]: \[3,{g * u}\]",
                     "the matmul h R fails to compile"),
        runtime_case("bias-not-gates-times-units", (x, k, r, np.ones(g * u - 1)) + states,
                     rf"bias.shape\[0\] must be {g} \* units = {g * u} \(units = recurrent_kernel.shape\[0\] = 2\), "
                     rf"got shape \({g * u - 1},\)", *bias_xla),
        runtime_case("features-mismatch", (np.ones((2, 4, 5)), k, r, b) + states,
                     rf"x shape \(2, 4, 5\) does not match kernel shape \(3, {g * u}\) "
                     r"\(x.shape\[2\] must equal kernel.shape\[0\]\)",
                     rf"Matrix size-incompatible: In\[0\]: \[2,5\], In\[1\]: \[3,{g * u}\]",
                     "the matmul x_t K fails to compile"),
        runtime_case("h0-batch-mismatch", (x, k, r, b, np.ones((3, u))) + states[1:],
                     r"h0 shape \(3, 2\) does not match x shape \(2, 4, 3\) \(h0.shape\[0\] must equal x.shape\[0\]\)",
                     rf"Incompatible shapes: \[2,{g * u}\] vs\. \[3,{g * u}\]", "adding h0 R to x_t K fails to compile"),
        runtime_case("no-time-steps", (np.ones((2, 0, 3)), k, r, b) + states,
                     r"x must have at least one time step \(x.shape\[1\] >= 1\), got shape \(2, 0, 3\)",
                     r"slice index 0 of dimension 1 out of bounds",
                     "Keras's loop reads step 0 (to learn the output's shape) and fails to compile"),
        BadInput("integer-x", (np.ones((2, 4, 3), np.int64),) + good[1:], {}, TypeError,
                  r"x must be a floating-point array, got dtype int64", (TypeError,)),
    ]
    if g == 4:
        cases.append(runtime_case(
            "c0-mismatches-h0", (x, k, r, b, states[0], np.ones((2, u + 1))),
            r"c0 shape \(2, 3\) does not match recurrent_kernel shape \(2, 8\) "
            r"\(c0.shape\[1\] must equal recurrent_kernel.shape\[0\]\)",
            r"Incompatible shapes: \[2,2\] vs\. \[2,3\]", "the product f * c0 fails to compile"))
    return tuple(cases)


def cell_bad_inputs():
    u = 2
    x_t, h, c, k, r, b = (np.ones((2, 3)), np.ones((2, u)), np.ones((2, u)), np.ones((3, 4 * u)), np.ones((u, 4 * u)),
                          np.ones(4 * u))
    return (
        rank_case("x_t-rank-3", (np.ones((2, 1, 3)), h, c, k, r, b), "x_t", 2, (2, 1, 3)),
        runtime_case("kernel-not-gates-times-units", (x_t, h, c, np.ones((3, 6)), r, b),
                     r"kernel.shape\[1\] must be 4 \* units = 8 \(units = recurrent_kernel.shape\[0\] = 2\), "
                     r"got shape \(3, 6\)", r"Incompatible shapes: \[2,6\] vs\. \[2,8\]",
                     "adding h R to x_t K fails to compile"),
        runtime_case("c-mismatches-h", (x_t, h, np.ones((2, 3)), k, r, b),
                     r"c shape \(2, 3\) does not match h shape \(2, 2\)", r"Incompatible shapes: \[2,2\] vs\. \[2,3\]",
                     "the product f * c fails to compile"),
        BadInput("integer-h", (x_t, np.ones((2, u), np.int64), c, k, r, b), {}, TypeError,
                  r"h must be a floating-point array, got dtype int64", (TypeError,)),
    )


BENCH_TIME, BENCH_UNITS = 20, 32
"""bench/: 20 steps of 32 features into 32 units, the batch growing with n."""


def sequence_bench_sample(gates, states):
    """bench/: x [n // 640 or 1, 20, 32] in [-2, 2], weights scaled by 1/sqrt(32), states in [-1, 1]."""
    def make(n, rng):
        b, t, u = max(1, n // (BENCH_TIME * BENCH_UNITS)), BENCH_TIME, BENCH_UNITS
        k, r, bias = (w / np.sqrt(u) for w in _weights(rng, u, u, gates))
        return Sample((rng.uniform(-2, 2, (b, t, u)), k, r, bias, *[rng.uniform(-1, 1, (b, u)) for _ in range(states)]))
    return make


def cell_bench_sample(n, rng):
    """bench/: one LSTM step, x_t [n // 32 or 1, 32]."""
    b, u = max(1, n // BENCH_UNITS), BENCH_UNITS
    k, r, bias = (w / np.sqrt(u) for w in _weights(rng, u, u, 4))
    return Sample((rng.uniform(-2, 2, (b, u)), rng.uniform(-1, 1, (b, u)), rng.uniform(-2, 2, (b, u)), k, r, bias))


CATALOG = [
    Concept(
        name="simple_rnn", ref=R.simple_rnn, tf=T.simple_rnn, ref_vjp=R.simple_rnn_vjp, tf_vjp=T.simple_rnn_vjp,
        wrt="all", strategy=lambda: sequence_strategy(1, 1), edges=sequence_edges(1, 11),
        tol=_tol(simple_rnn_error, FORWARD_WHY), grad_tol=_tol(simple_rnn_vjp_error, BACKWARD_WHY),
        grad_edge_ids=GRAD_EDGES, bad_inputs=sequence_bad_inputs(1),
        bench_sample=sequence_bench_sample(1, 1),
    ),
    Concept(
        name="lstm_cell", ref=R.lstm_cell, tf=T.lstm_cell, ref_vjp=R.lstm_cell_vjp, tf_vjp=T.lstm_cell_vjp,
        wrt="all", strategy=cell_strategy, edges=cell_edges(),
        tol=_tol(lstm_cell_error, FORWARD_WHY), grad_tol=_tol(lstm_cell_vjp_error, BACKWARD_WHY),
        grad_edge_ids=("one-row", "four-rows-one-unit", "empty-batch", "saturating"), bad_inputs=cell_bad_inputs(),
        bench_sample=cell_bench_sample,
    ),
    Concept(
        name="lstm", ref=R.lstm, tf=T.lstm, ref_vjp=R.lstm_vjp, tf_vjp=T.lstm_vjp,
        wrt="all", strategy=lambda: sequence_strategy(4, 2), edges=sequence_edges(4, 12),
        tol=_tol(lstm_error, FORWARD_WHY), grad_tol=_tol(lstm_vjp_error, BACKWARD_WHY),
        grad_edge_ids=GRAD_EDGES, bad_inputs=sequence_bad_inputs(4),
        bench_sample=sequence_bench_sample(4, 2),
    ),
]
