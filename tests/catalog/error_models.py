"""Error models: how far a correctly rounded computation may land from the exact one,
evaluated on the sample itself, in units of the dtype's machine epsilon (eps = 2u,
u the unit roundoff: one correctly rounded operation is off by at most 0.5 eps
relative).

A catalog tolerance built on these is ``Tol(n_eps, why, model=...)``: it passes an
element iff |tf - ref| <= n_eps * eps * scale, where scale is what the model returns.
The models are first-order bounds (Higham, *Accuracy and Stability of Numerical
Algorithms*, ch. 3): a K-term dot product computed in the dtype is off by at most
(K / 2) eps * sum |x_k w_k|; a value carried into a function f moves f by |f'| times
its own error; f itself adds a few ulps of |f|.

float16 and bfloat16: TensorFlow's Eigen kernels compute many ops in float32 and round
once, but not all of them, and XLA rounds intermediates to the dtype op by op (measured:
bfloat16 softmax under jit_compile rounds exp and the sum to bfloat16, 1.5x a
float32-inside bound). So the models charge every op at the dtype's own eps.

Subnormal intermediates: a first-order bound is relative, and below the dtype's smallest
normal number tiny(dtype) it no longer holds. TensorFlow's CPU kernels flush a subnormal
result to zero (and read a subnormal input as zero) in bfloat16, float32 and float64, in
every mode on both kernel paths (measured on this AVX2 CPU, TF 2.21: (4 tiny x 0.125) x 1024,
a matmul of such products and a sum cancelling to 0.25 tiny all come out 0, eagerly too:
TF's executors, eager included, run kernels with the CPU's flush-to-zero and
denormals-are-zero on; XLA compiles with them on). So an intermediate v below tiny costs |v|,
which the ops after it carry to the output as they carry any error: (scale dy) 2w turns a
flushed scale dy of 1e-38 into a lost 2e-35. ``flushed`` charges it, per op; the harness
forgives only a subnormal *output* (it subtracts tiny(dtype)). float16 keeps its subnormals
(its ops compute in float32, where they are normal, and round back with gradual underflow):
there a subnormal result is off by at most half its spacing, tiny eps / 2, which a relative
bound does not cover either.
"""
import numpy as np

from tests.machine import kernel_path
from tests.precision import EPS, LOW, TINY, np_dtype


def flushes(dtype):
    """Whether TF's CPU kernels flush subnormal ``dtype`` values to zero: bfloat16, float32 and
    float64 everywhere (measured, every mode, both paths); float16 not on Eigen, which computes it
    in float32 and rounds back with gradual underflow. oneDNN's own float16 kernels (CPUs with
    AVX512_FP16 or AMX_FP16) are charged as flushing: not measured, and |v| bounds either way."""
    return dtype != "float16" or kernel_path(dtype) == "onednn"


def flushed(dtype, v):
    """What a subnormal intermediate ``v`` can cost, in eps of ``dtype`` (absolute), per element:
    |v| wherever the exact |v| is below tiny(dtype) and the dtype flushes (``flushes``), else
    half the subnormal spacing (tiny eps / 2) or |v| if smaller (gradual underflow's rounding);
    0 for normal, infinite and NaN values. The caller carries it through the ops that follow."""
    v = np.abs(np.asarray(v, np.float64))
    lost = v if flushes(dtype) else np.minimum(v, 0.5 * TINY[dtype] * EPS[dtype])
    with np.errstate(invalid="ignore"):
        return np.where(v < TINY[dtype], lost, 0.0) / EPS[dtype]


def flushed_sum(dtype, terms, axis=-1, same_sign=False):
    """What subnormals can cost a sum of ``terms`` along ``axis``, in eps (absolute): each term below
    tiny, and the partial sums. Same-sign terms: a partial sum below tiny holds only terms below tiny,
    each lost at most once, so the terms' own charge covers it. Mixed signs: a partial sum can
    cancel into the subnormals, losing up to tiny at each of the n - 1 additions, but only where
    some term is below 2 tiny / eps (a nonzero sum below tiny is a multiple of a term's ulp); where
    the dtype keeps subnormals such an addition is exact."""
    terms = np.asarray(terms, np.float64)
    own = flushed(dtype, terms).sum(axis=axis)
    if same_sign or not flushes(dtype) or terms.size == 0:
        return own
    a = np.abs(terms)
    small = np.any((a > 0) & (a < 2 * TINY[dtype] / EPS[dtype]), axis=axis)
    return own + np.where(small, (terms.shape[axis] - 1) * TINY[dtype] / EPS[dtype], 0.0)


def flushed_products(dtype, a, w):
    """flushed_sum of the K products a_ik w_kj of a @ w, per output element, built one k at a time
    (the benchmarks' inputs would make the (i, k, j) products too large to hold at once)."""
    k = a.shape[-1]
    own, small = 0.0, False
    for i in range(k):
        p = np.abs(a[..., :, i:i + 1] * w[..., i:i + 1, :])
        own = own + flushed(dtype, p)
        small = small | ((p > 0) & (p < 2 * TINY[dtype] / EPS[dtype]))
    if k == 0 or not flushes(dtype):
        return own + np.zeros(a.shape[:-1] + w.shape[-1:])
    return own + np.where(small, (k - 1) * TINY[dtype] / EPS[dtype], 0.0)


def log2_terms(n):
    """Depth of a pairwise (tree) sum of n terms: Eigen's and XLA's vectorised reductions."""
    return float(np.ceil(np.log2(max(n, 1)))) + 1


LOW_MATMUL_ROUNDING = {"bfloat16": 1.0, "float16": 0.5}
"""The one rounding of a float16 / bfloat16 matmul that accumulates in float32, in eps of |result|
(measured on this CPU, TF 2.21, K = 2..256, 16384 results each): XLA rounds the float32 sum to the
nearest (within 0.5, always the float32 sum correctly rounded); Eigen's bfloat16 MatMul truncates
it (within 0.99 eps, 50 % of the results the correctly rounded value, the others one ulp towards
zero: 1 + 63 eps/2 gives 1.2421875, not 1.25) and its float16 MatMul rounds to the nearest (within
0.499 eps). A bound with one half-eps rounding therefore held on oneDNN and failed on Eigen by 1.5x."""


def low_measured(dtype):
    """Whether the measured float16 / bfloat16 charges (LOW_MATMUL_ROUNDING, rnn.LOW_ACT_ROUNDINGS)
    hold for ``dtype`` in this process: its ops run on Eigen (or XLA), the paths measured. Where
    oneDNN takes the dtype (AVX512 CPUs) nothing was measured, and the models keep the general
    charges: every op at the dtype's eps."""
    return dtype in LOW and kernel_path(dtype) == "eigen"


def matmul_error(dtype, a, w, out):
    """Error bound of a @ w, in eps of ``dtype``: K/2 roundings of the sum of |terms|, then for
    float16/bfloat16 one final rounding of |out|; the products and partial sums that may flush
    (flushed_products: a product 0.5 x 2e-38 is lost inside oneDNN's and Eigen's matmuls alike),
    and the result's own. Where low_measured, the sum is float32's (K/2 float32 eps of the terms)
    and the final rounding LOW_MATMUL_ROUNDING's; elsewhere every rounding is charged at the
    dtype's eps, a bound whatever precision a kernel accumulates in."""
    k = a.shape[-1]
    terms = np.abs(a) @ np.abs(w)
    if low_measured(dtype):
        own = 0.5 * k * EPS["float32"] / EPS[dtype] * terms + LOW_MATMUL_ROUNDING[dtype] * np.abs(out)
    else:
        own = 0.5 * k * terms + (0.5 * np.abs(out) if dtype in LOW else 0.0)
    return own + flushed_products(dtype, a, w) + flushed(dtype, out)


ACT_ULPS = {None: 0.0, "relu": 0.0, "sigmoid": 2.0, "tanh": 2.0}
"""Own error of each activation in ulps of its output, working precision: relu is exact;
Eigen's logistic and tanh are rational approximations measured within 2.4 ulp in float32
(libm's within 1 in float64); charged at the dtype's eps, plus a final half for float16/bfloat16."""


def _act(name, z):
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    return z


def _max_slope(name, z, dz):
    """max |f'| over [z - dz, z + dz]: the most an input error of dz can be amplified."""
    if name is None:
        return np.ones_like(z)
    if name == "relu":
        return (z + dz > 0).astype(np.float64)
    nearest = np.maximum(np.abs(z) - dz, 0.0)  # sigmoid' and tanh' peak at 0 and fall off symmetrically
    s = 1 / (1 + np.exp(-nearest))
    return s * (1 - s) if name == "sigmoid" else 1 - np.tanh(nearest) ** 2


def activation_error(dtype, name, z, dz):
    """Error of act(z_computed) in eps, z_computed off by dz eps (absolute): the slope carries
    dz through, the activation adds its own ulps, and float16/bfloat16 round once more; a
    subnormal sigmoid or tanh (sigmoid(-100)) may flush (relu passes z, whose flush dz holds)."""
    f = np.abs(_act(name, z))
    own = ACT_ULPS[name] + (0.5 if dtype in LOW and name is not None else 0.0)
    lost = flushed(dtype, f) if name in ("sigmoid", "tanh") else 0.0
    return _max_slope(name, z, dz * EPS[dtype]) * dz + own * f + lost


def dense_error(dtype, x, w, b, activation, x_err=0.0):
    """Error bound of activation(x @ w + b) in eps, with x already off by ``x_err`` eps (absolute):
    the matmul, the bias add (0.5 eps of |z|) and the activation. Returns (error, output)."""
    xw = x @ w
    z = xw + b
    dz = np.asarray(x_err) @ np.abs(w) if np.ndim(x_err) else x_err * (np.ones_like(x) @ np.abs(w))
    dz = dz + matmul_error(dtype, x, w, xw) + 0.5 * np.abs(z) + flushed(dtype, z)
    return activation_error(dtype, activation, z, dz), _act(activation, z)


def _layer_backward(dtype, a, a_err, w, b, activation, g, g_err):
    """One dense layer's backprop with error bounds (eps, absolute). The layer's input ``a`` is off
    by ``a_err``, the upstream gradient ``g`` by ``g_err``. dz = act'(z) g comes from TF's grad
    kernels, which work from the rounded output y (ReluGrad from z): (g y) (1 - y) for sigmoid,
    g (1 - y^2) for tanh, each op rounding once and its result possibly flushed (g y of 1e-38
    is lost before 1 - y could keep it); a relu whose z lies within its error of 0 may pass g
    or 0. Then da = dz @ w.T, dw = a.T @ dz (matmul_error, flushed products included),
    db = sum(dz) with its partial sums. Returns (da, da_err, dw_err, db_err)."""
    y_err, y = dense_error(dtype, a, w, b, activation, a_err)
    z = a @ w + b
    if activation == "sigmoid":
        slope = y * (1 - y)
        dz_err = (np.abs(g) * (np.abs(1 - 2 * y) * y_err + 1.5 * slope) + slope * g_err + 0.5 * np.abs(slope * g)
                  + flushed(dtype, g * y) * np.abs(1 - y) + flushed(dtype, slope * g))
    elif activation == "tanh":
        slope = 1 - y * y
        dz_err = (np.abs(g) * (2 * np.abs(y) * y_err + 1.0) + slope * g_err + 0.5 * np.abs(slope * g)
                  + flushed(dtype, slope * g))
    elif activation == "relu":
        slope = (z > 0).astype(np.float64)
        carried = np.asarray(a_err) @ np.abs(w) if np.ndim(a_err) else 0.0
        z_err = carried + matmul_error(dtype, a, w, a @ w) + 0.5 * np.abs(z)
        near_kink = np.abs(z) <= z_err * EPS[dtype]
        dz_err = np.where(near_kink, np.abs(g) / EPS[dtype] + g_err, slope * g_err)
    else:
        slope = np.ones_like(z)
        dz_err = g_err * slope
    dz = slope * g
    a_err = a_err if np.ndim(a_err) else np.full(a.shape, float(a_err))
    # db = sum of dz over the batch: BiasAddGrad sums float16 in float16 (measured 0.44 eps off for
    # 5 rows, against 0.37 for one final rounding), so each of its B - 1 additions is charged
    return (dz @ w.T,
            dz_err @ np.abs(w.T) + matmul_error(dtype, dz, w.T, dz @ w.T),
            np.abs(a.T) @ dz_err + a_err.T @ np.abs(dz) + matmul_error(dtype, a.T, dz, a.T @ dz),
            dz_err.sum(axis=0) + 0.5 * dz.shape[0] * np.abs(dz).sum(axis=0) + flushed_sum(dtype, dz, axis=0))


def dense_vjp_error(dtype, x, w, b, dy, activation=None):
    """Error bounds of (dx, dw, db) in eps: one layer of _layer_backward, exact inputs and dy."""
    _, dx_err, dw_err, db_err = _layer_backward(dtype, x, 0.0, w, b, activation, dy, np.zeros_like(dy))
    return dx_err, dw_err, db_err


def mlp_vjp_error(dtype, x, *wb_dy, activation="relu"):
    """Error bounds of (dx, dw1, db1, ..., dwL, dbL): the forward errors layer by layer
    (dense_error), then _layer_backward from the logits back, each layer's input-gradient
    error handed to the layer before."""
    wb, dy = wb_dy[:-1], wb_dy[-1]
    layers = [(wb[i], wb[i + 1], activation if i + 2 < len(wb) else None) for i in range(0, len(wb), 2)]
    inputs, errors = [x], [0.0]
    for w, b, act in layers[:-1]:
        err, out = dense_error(dtype, inputs[-1], w, b, act, errors[-1])
        inputs.append(out)
        errors.append(err)
    g, g_err, grads = dy, np.zeros_like(dy), []
    for i in reversed(range(len(layers))):
        w, b, act = layers[i]
        g, g_err, dw_err, db_err = _layer_backward(dtype, inputs[i], errors[i], w, b, act, g, g_err)
        grads = [dw_err, db_err] + grads
    return (g_err, *grads)


def mlp_error(dtype, x, *wb, activation="relu"):
    """dense_error layer after layer, each layer's output error carried into the next
    through |w|; the last layer is linear (the logits)."""
    err, a = 0.0, x
    for i in range(0, len(wb), 2):
        act = activation if i + 2 < len(wb) else None
        err, a = dense_error(dtype, a, wb[i], wb[i + 1], act, err)
    return err


# --- softmax and friends: the class axis moved last, then back -------------------------

def _last(axis, *arrays):
    return [np.moveaxis(a, axis, -1) for a in arrays]


def _softmax_parts(dtype, x):
    """z = x - max, p, the relative error of p in eps (before the final rounding), per element:
    z rounds (0.5 |z|, which exp turns relative), exp (1 ulp), the positive sum (depth / 2),
    the divide (0.5), each at the dtype's eps."""
    z = x - np.max(x, axis=-1, keepdims=True) if x.size else x
    e = np.exp(z)
    p = e / np.sum(e, axis=-1, keepdims=True)
    depth = log2_terms(x.shape[-1])
    rel = (0.5 * np.abs(z) + 1.0 + 0.5 * depth + 0.5)
    return z, p, rel


def _exp_flushes(dtype, x):
    """What subnormal exp(z) values cost softmax, in eps: (the row's sum's relative error from its
    subnormal terms (a positive sum: the terms cover its partial sums), p_i's loss if exp(z_i) is
    one of them, absolute, flushed(e_i) / sum)."""
    z = x - np.max(x, axis=-1, keepdims=True) if x.size else x
    e = np.exp(z)
    total = np.sum(e, axis=-1, keepdims=True)
    return flushed_sum(dtype, e, same_sign=True)[..., None] / total, flushed(dtype, e) / total


def softmax_error(dtype, logits, axis=-1):
    """Error of softmax, relative per element: eps * p_i * (|z_i| / 2 + 1 + depth / 2 + 1 / 2),
    + 0.5 eps of p_i for float16/bfloat16's final rounding. A tiny probability is held to
    the same relative accuracy as a large one, down to where exp(z_i) is subnormal (_exp_flushes)."""
    (x,) = _last(axis, logits)
    _, p, rel = _softmax_parts(dtype, x)
    sum_rel, own = _exp_flushes(dtype, x)
    err = p * (rel + (0.5 if dtype in LOW else 0.0) + sum_rel) + own
    return np.moveaxis(err, -1, axis)


def log_softmax_error(dtype, logits, axis=-1):
    """Error of z - log(sum exp z), absolute per element: z's rounding (0.5 |z_i|), the sum's
    relative error (sum_j p_j (|z_j| / 2 + 1) + depth / 2) and log's ulp of |lse|, the final
    subtraction (0.5 |y_i|), each at the dtype's eps; float16/bfloat16 round the result once more."""
    (x,) = _last(axis, logits)
    z, p, _ = _softmax_parts(dtype, x)
    lse = np.log(np.sum(np.exp(z), axis=-1, keepdims=True)) if x.size else z
    y = z - lse
    s_rel = (np.sum(p * (0.5 * np.abs(z) + 1.0), axis=-1, keepdims=True) + 0.5 * log2_terms(x.shape[-1])
             + _exp_flushes(dtype, x)[0])
    err = (0.5 * np.abs(z) + s_rel + np.abs(lse) + 0.5 * np.abs(y)) + (
        0.5 * np.abs(y) if dtype in LOW else 0.0)
    return np.moveaxis(err, -1, axis)


def sum_error(dtype, n):
    """Relative error of a same-sign sum of n terms accumulated as TF does it, in eps of the
    dtype: float16/bfloat16 in float32 (reduction_ops.h; XLA likewise), then one rounding."""
    if dtype in LOW:
        return 0.5 * log2_terms(n) * EPS["float32"] / EPS[dtype] + 0.5
    return 0.5 * log2_terms(n)


def _reduction(dtype, n):
    """Relative error of a sum of n terms in eps of the dtype, relative to the sum of |terms|:
    depth / 2 roundings in the working precision, + one final rounding for float16/bfloat16."""
    return 0.5 * log2_terms(n) + (0.5 if dtype in LOW else 0.0)


def softmax_vjp_error(dtype, logits, dy, axis=-1):
    """TF's _SoftmaxGrad, op by op in the dtype: t = sum(dy * s), d = dy - t, g = d * s,
    with s the forward output (off by softmax_error); the products dy * s and the sum's
    partial sums, d and g may flush."""
    s_err = softmax_error(dtype, logits, axis)
    x, dy, s_err = _last(axis, logits, dy, s_err)
    _, s, _ = _softmax_parts(dtype, x)
    t = np.sum(dy * s, axis=-1, keepdims=True)
    t_err = np.sum(np.abs(dy) * s_err, axis=-1, keepdims=True) + np.sum(np.abs(dy * s), axis=-1, keepdims=True) * (
        0.5 + _reduction(dtype, x.shape[-1])) + flushed_sum(dtype, dy * s)[..., None]
    d = dy - t
    d_err = t_err + 0.5 * np.abs(d) + flushed(dtype, d)
    g_err = s * d_err + np.abs(d) * s_err + 0.5 * np.abs(d * s) + flushed(dtype, d * s)
    return np.moveaxis(g_err, -1, axis)


def log_softmax_vjp_error(dtype, logits, dy, axis=-1):
    """TF's _LogSoftmaxGrad, op by op: s = exp(y) from the rounded output y, t = sum(dy),
    g = dy - t * s; s, the sum's partial sums, t * s and g may flush."""
    y_err = log_softmax_error(dtype, logits, axis)
    x, dy, y_err = _last(axis, logits, dy, y_err)
    _, s, _ = _softmax_parts(dtype, x)
    s_err = s * (y_err + 1.0) + flushed(dtype, s)
    t = np.sum(dy, axis=-1, keepdims=True)
    t_err = np.sum(np.abs(dy), axis=-1, keepdims=True) * _reduction(dtype, x.shape[-1]) + flushed_sum(dtype, dy)[..., None]
    ts_err = np.abs(t) * s_err + s * t_err + 0.5 * np.abs(t * s) + flushed(dtype, t * s)
    g_err = ts_err + 0.5 * np.abs(dy - t * s) + flushed(dtype, dy - t * s)
    return np.moveaxis(g_err, -1, axis)


def z_minus_lse(x):
    """log_softmax along the last axis, in float64."""
    z = x - np.max(x, axis=-1, keepdims=True) if x.size else x
    return z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True)) if x.size else z


def xent_error(dtype, labels, logits, axis=-1):
    """Loss per example, sum_i y_i (lse - z_i), from TF's fused kernel, which rounds each
    Eigen op in the dtype: |y_i| times log_softmax's error, the product (0.5), the sum; a
    subnormal product y_i (lse - z_i) may flush (labels of 1e-38 against a logit far below the max)."""
    ls_err = log_softmax_error(dtype, logits, axis)
    y, x, ls_err = _last(axis, labels, logits, ls_err)
    u = y * z_minus_lse(x)
    err = np.sum(np.abs(y) * ls_err + 0.5 * np.abs(u), axis=-1) + np.sum(np.abs(u), axis=-1) * _reduction(
        dtype, x.shape[-1]) + 0.5 * np.abs(np.sum(u, axis=-1)) + flushed_sum(dtype, u, same_sign=np.all(y >= 0))
    return err


def xent_vjp_error(dtype, labels, logits, dy, axis=-1):
    """(d labels, d logits) = (-dy log_softmax, dy (softmax - labels)) from TF's kernel:
    the softmax's relative error, the subtraction and the product with dy each round once;
    a subnormal softmax, log_softmax or difference may flush before dy (which a caller may
    pass above 1) scales it back into the normal range."""
    ls_err = log_softmax_error(dtype, logits, axis)
    y, x, ls_err = _last(axis, labels, logits, ls_err)
    dyb = np.expand_dims(dy, -1)
    z, p, rel = _softmax_parts(dtype, x)
    p_err = p * (rel + 0.5) + flushed(dtype, p)
    diff = p * np.sum(y, axis=-1, keepdims=True) - y
    ls = z_minus_lse(x)
    d_labels = np.abs(dyb) * (ls_err + flushed(dtype, ls)) + 0.5 * np.abs(dyb * ls) + flushed(dtype, dyb * ls)
    d_logits = (np.abs(dyb) * (p_err + 0.5 * np.abs(diff) + flushed(dtype, diff)) + 0.5 * np.abs(dyb * diff)
                + flushed(dtype, dyb * diff))
    return np.moveaxis(d_labels, -1, axis), np.moveaxis(d_logits, -1, axis)


def sparse_xent_error(dtype, labels, logits):
    one_hot = (np.arange(logits.shape[-1]) == labels[..., None]).astype(np.float64)
    return xent_error(dtype, one_hot, logits)


def sparse_xent_vjp_error(dtype, labels, logits, dy):
    one_hot = (np.arange(logits.shape[-1]) == labels[..., None]).astype(np.float64)
    return xent_vjp_error(dtype, one_hot, logits, dy)[1]


def schedule_error(dtype, learning_rate, global_step, decay_steps, decay_rate, staircase=False):
    """lr * pow(rate, p), all in the learning rate's dtype (Keras's ExponentialDecay): p = step /
    decay_steps rounds (0.5 eps relative) eagerly, and twice in a graph (tf.function, a Session),
    where Grappler rewrites a division by a constant as a product with its rounded reciprocal (1 eps);
    pow turns that into |p ln rate| eps of the result, charged in every mode; a staircase floors p
    back to the exact integer (the samples never round across one: test_schedules.py pins the
    decay_steps where the graph's product does), so that term is 0 there. pow (1 ulp) and the
    product (0.5) add their own.

    float64: TF's CPU kernel (eager, tf.function, Session) runs Eigen's vectorised pow, which
    computes exp(p ln rate) with p ln rate rounded to double: another 0.5 |p ln rate| eps, whatever
    p. Measured on 15,000 full-mantissa bases and p up to 1023: at most 0.36 |p ln rate| + 1 eps
    (139 eps at p ln rate = 385), where XLA and a scalar tf.pow stay within 0.5 ulp. In float32 and
    below pow stays within 1.5 eps (measured), as charged.

    rate^p below tiny may flush before the learning rate scales it back up (6e4 x 0.5^140 is
    a normal float32, 0.5^140 is not): that costs |lr| flushed(rate^p)."""
    p = np.asarray(global_step, np.float64) / decay_steps
    shown = np.floor(p) if staircase else p
    with np.errstate(divide="ignore", invalid="ignore"):
        power = decay_rate ** shown
        ref = learning_rate * power
        exponent = np.where(decay_rate > 0, np.abs(shown * np.log(decay_rate)), 0.0)
        p_term = 0.0 if staircase else np.where(decay_rate > 0, np.abs(p * np.log(decay_rate)), 0.0)
    vectorised_pow = 0.5 * exponent if dtype == "float64" else 0.0
    return np.abs(ref) * (p_term + vectorised_pow + 1.0 + 0.5) + np.abs(learning_rate) * flushed(dtype, power)


def ema_error(dtype, shadow, value, decay, num_updates=None):
    """shadow - (shadow - value) * (1 - d) as ExponentialMovingAverage computes it: d, the
    num_updates cap and 1 - d in float32 (moving_averages.py), cast to the dtype. The error of
    that constant is known exactly, per sample: |shadow - value| * |(1 - d)_TF - (1 - d)|.
    Then the subtraction, the product and the final subtraction round once each (0.5 eps)."""
    d32 = np.float32(decay)
    d_exact = np.float64(decay)
    if num_updates is not None:
        n32 = np.float32(num_updates)
        d32 = np.minimum(d32, (np.float32(1) + n32) / (np.float32(10) + n32))
        n = np.float64(num_updates)
        d_exact = np.minimum(d_exact, (1 + n) / (10 + n))
    one_minus = np.float64((np.float32(1) - d32).astype(np_dtype(dtype)))
    diff = shadow - value
    constant = np.abs(diff) * np.abs(one_minus - (1 - d_exact)) / EPS[dtype]
    rounding = 0.5 * np.abs(diff) * one_minus + 0.5 * np.abs(diff * one_minus) + 0.5 * np.abs(shadow - diff * one_minus)
    # a subnormal difference or product may flush (the final subtraction's result is the output)
    lost = flushed(dtype, diff) * one_minus + flushed(dtype, diff * one_minus)
    # in float64 the reference rounds the same three operations: its error counts too
    return constant + rounding * (2 if dtype == "float64" else 1) + lost
