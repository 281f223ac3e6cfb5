"""Multi-step state across sides: both sides iterate one map (a gradient-descent step, a
moving-average update), each from its own previous state. How far apart may they drift?

One step on each side is x_k = F_k(x_{k-1}), computed with rounding: F~ on the TF side, F^ on
the reference's, F the exact map. With e_k = TF_k - ref_k,

    e_k = [F~_k(TF_{k-1}) - F_k(TF_{k-1})] + [F_k(TF_{k-1}) - F_k(ref_{k-1})] + [F_k(ref_{k-1}) - F^_k(ref_{k-1})]
          TF's rounding in this step          the earlier difference,           the reference's rounding
                                              carried: J_k e_{k-1}              in this step

to first order in e (TF's rounding at its own point is bounded by the error model at the reference's
point, which is e away; the second-order term, |e|^2 times the map's second derivative, is below
1e-25 for the float64 trajectories here, whose e stays under 1e-12). With delta_k bounding the two
roundings together, elementwise,

    |e_k| <= B_k = sum over j <= k of |J_k ... J_{j+1}| delta_j         (drift_bounds)

and the check is |e_k| <= B_k after every step, element by element (assert_drift_within). J_k is
the step's Jacobian at the reference's point: for gradient descent I - lr H_k, by central
differences of the gradient (step_jacobian); for an EMA the factor d_k of each element. Products of
Jacobians, not of their norms: an error made along a direction that later steps shrink is charged
shrunk (gradient descent's map expands along some directions for a step or two while it contracts
along most; a product of norms would charge every error the expansion).

delta_k comes from the error models of tests/catalog/error_models.py, evaluated at the reference's
point: the forward pass's dot products and activations, the softmax cross-entropy's gradient, each
layer's backward pass (gradient_error), then the step's own product and subtraction (step_error).
The model bounds one side's distance from the exact step; the two sides compute the same dot
products and pointwise functions (TF by its kernels, the reference by NumPy, in other orders), so
the distance between them is at most twice it.
"""
import numpy as np

from reference.moving_average import ema_decay
from tests.catalog import error_models
from tests.catalog.error_models import _layer_backward
from tests.precision import EPS, np_dtype


def flat(params):
    """[(w, b), ...] (or any nest of arrays) as one float64 vector."""
    if isinstance(params, (list, tuple)):
        parts = [flat(p) for p in params]
        return np.concatenate(parts) if parts else np.zeros(0)
    return np.ravel(np.asarray(params, np.float64))


def unflat(vector, like):
    """The inverse of flat: ``vector`` cut into arrays shaped as ``like``'s (w, b) pairs."""
    out, at = [], 0
    for pair in like:
        arrays = []
        for a in pair:
            size = np.size(a)
            arrays.append(np.reshape(vector[at:at + size], np.shape(a)))
            at += size
        out.append(tuple(arrays))
    return out


def mlp_gradients_batch(x, labels, like, vectors, activation="relu"):
    """The gradients of the batch-mean softmax cross-entropy of mlp_forward(x, ., activation) at m
    parameter sets at once: ``vectors`` (m, P) flat parameters shaped as ``like``'s (w, b) pairs;
    returns (m, P). Plain float64 NumPy with a leading axis over the sets, for the central
    differences of ``step_jacobian`` (2P gradients a step); gd_bounds checks it against the
    reference's gradient at every point it is used."""
    x, labels = np.asarray(x, np.float64), np.asarray(labels, np.float64)
    vectors = np.atleast_2d(vectors)
    m, at, layers = len(vectors), 0, []
    for w, _ in like:
        a, c = np.shape(w)
        layers.append((vectors[:, at:at + a * c].reshape(m, a, c), vectors[:, at + a * c:at + a * c + c]))
        at += a * c + c
    inputs, zs = [np.broadcast_to(x, (m,) + x.shape)], []
    for w, b in layers[:-1]:
        zs.append(inputs[-1] @ w + b[:, None, :])
        inputs.append(_ACT[activation](zs[-1]))
    logits = inputs[-1] @ layers[-1][0] + layers[-1][1][:, None, :]
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    g = (e / e.sum(axis=-1, keepdims=True) * labels.sum(axis=-1, keepdims=True) - labels) / max(len(x), 1)
    grads = []
    for i in reversed(range(len(layers))):
        grads = [np.swapaxes(inputs[i], 1, 2) @ g, g.sum(axis=1)] + grads
        if i:
            g = (g @ np.swapaxes(layers[i][0], 1, 2)) * _SLOPE[activation](zs[i - 1])
    return np.concatenate([a.reshape(m, -1) for a in grads], axis=1)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


_ACT = {None: lambda z: z, "relu": lambda z: np.maximum(z, 0), "sigmoid": _sigmoid, "tanh": np.tanh}
_SLOPE = {None: np.ones_like, "relu": lambda z: (z > 0).astype(np.float64),
          "sigmoid": lambda z: _sigmoid(z) * (1 - _sigmoid(z)), "tanh": lambda z: 1 - np.tanh(z) ** 2}


def step_jacobian(gradients, point, learning_rate, h=1e-6):
    """J = I - lr dG/dp of the step p -> p - lr G(p) at ``point`` (flat), dG by central differences
    with step h from one call ``gradients(points (2P, P)) -> (2P, P)``. The error of dG, about
    h^2 |G'''| + eps |G| / h, is some 1e-10 relative: J multiplies errors of 1e-15 and needs no more."""
    point = np.asarray(point, np.float64)
    d = h * np.eye(point.size)
    g = gradients(np.concatenate([point + d, point - d]))
    dg = (g[:point.size] - g[point.size:]).T / (2 * h)
    return np.eye(point.size) - learning_rate * dg


def drift_bounds(jacobians, deltas):
    """Elementwise first-order bounds on |e_k|, where e_k = J_k e_{k-1} + (a local error, |.| <=
    delta_k) and e_0 = 0: B_k = sum over j <= k of |J_k ... J_{j+1}| delta_j. Products of the
    Jacobians, not of their norms: an error made along a direction the later steps shrink is charged
    shrunk. A Jacobian given as a scalar or a vector is diagonal (an elementwise map, as an EMA's:
    B_k = |rho_k| B_{k-1} + delta_k)."""
    bounds, carried, seen = [], [], []  # carried[j] = J_k ... J_{j+1} for the deltas seen[j]
    for jac, delta in zip(jacobians, deltas):
        jac, delta = np.asarray(jac, np.float64), np.asarray(delta, np.float64)
        if jac.ndim <= 1:
            bounds.append(np.abs(jac) * (bounds[-1] if bounds else 0.0) + delta)
            continue
        carried = [jac @ c for c in carried] + [np.eye(len(jac))]
        seen.append(delta)
        bounds.append(sum(np.abs(c) @ d for c, d in zip(carried, seen)))
    return bounds


def gradient_error(x, labels, params, activation="relu", dtype="float64"):
    """Bound on |computed - exact| of the gradient of the batch-mean softmax cross-entropy of
    mlp_forward(x, params, activation), per element, absolute: [(dw_err, db_err) per layer].

    Forward: dense_error layer by layer (each layer's dot products, bias add and activation, the
    earlier error carried through |w|). The logits' gradient (softmax - labels) / n: the kernel's own
    error (xent_vjp_error, dy = 1/n per row), the logits' error carried through the softmax's slope
    (|dp_j| <= p_j (|dz_j| + sum_k p_k |dz_k|)), and 1/n's rounding. Backward: _layer_backward from
    the logits to the input, each layer's input-gradient error handed to the layer before."""
    x = np.asarray(x, np.float64)
    labels = np.asarray(labels, np.float64)
    params = [(np.asarray(w, np.float64), np.asarray(b, np.float64)) for w, b in params]
    n = max(len(x), 1)
    acts = [activation] * (len(params) - 1) + [None]
    inputs, errors = [x], [0.0]
    for (w, b), act in zip(params[:-1], acts):
        err, out = error_models.dense_error(dtype, inputs[-1], w, b, act, errors[-1])
        inputs.append(out)
        errors.append(err)
    z_err, logits = error_models.dense_error(dtype, inputs[-1], *params[-1], None, errors[-1])
    z = logits - logits.max(axis=-1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
    g = (p - labels) / n
    _, kernel = error_models.xent_vjp_error(dtype, labels, logits, np.full(len(x), 1.0 / n))
    carried = p * (z_err + np.sum(p * z_err, axis=-1, keepdims=True)) / n
    g_err = kernel + carried + 0.5 * np.abs(g)
    grads = []
    for i in reversed(range(len(params))):
        g, g_err, dw_err, db_err = _layer_backward(dtype, inputs[i], errors[i], *params[i], acts[i], g, g_err)
        grads.append((dw_err * EPS[dtype], db_err * EPS[dtype]))
    return grads[::-1]


def step_error(params, grads, grad_errs, learning_rate, dtype="float64", rate_used=None):
    """Bound on the distance between the two sides' p - lr * g from the same point, per element,
    flat: each side's gradient error times lr (grad_errs bounds one side: twice it), the rates'
    difference times |g| (``rate_used``: the rate the TF side multiplies by, Keras's and the TF1
    optimizer's float32 rounding of a Python float; None: the same rate), and each side's rounding
    of the product and the difference (0.5 eps each)."""
    lr = float(learning_rate)
    rate_used = lr if rate_used is None else float(rate_used)
    p, g, ge = flat(params), flat(grads), flat(grad_errs)
    new = p - lr * g
    return 2 * lr * ge + abs(rate_used - lr) * np.abs(g) + EPS[dtype] * (np.abs(lr * g) + np.abs(new))


def assert_drift_within(actual, expected, bounds, what):
    """|actual[k] - expected[k]| <= bounds[k] elementwise (each flattened) after every step k, 1-based
    in the message; returns the largest share of a bound used. The message names the step, the worst
    element, both values and the bound."""
    assert len(actual) == len(expected) == len(bounds), (what, len(actual), len(expected), len(bounds))
    used = 0.0
    for k, (a, e, bound) in enumerate(zip(actual, expected, bounds), 1):
        a, e = flat(a), flat(e)
        err, bound = np.abs(a - e), np.broadcast_to(np.ravel(np.asarray(bound, np.float64)), a.shape)
        bad = ~(err <= bound)
        if bad.any():
            i = int(np.argmax(np.where(bad, err - bound, -np.inf)))
            raise AssertionError(f"{what}: after step {k}, {int(bad.sum())} of {err.size} elements off the derived "
                                 f"bound; worst, element {i}: {a[i]!r} vs {e[i]!r}, |diff| {err[i]:.3g} > {bound[i]:.3g}")
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(bound > 0, err / bound, 0.0)
        used = max(used, float(share.max()) if share.size else 0.0)
    return used


def gd_bounds(points, gradients, reference_gradient, local_error, learning_rate):
    """Elementwise drift bounds (flat, one per step) of a gradient-descent trajectory. ``points[k]``:
    the reference's parameters before step k + 1 (points[0] the start); ``gradients(k, vectors)``:
    step k's gradient at m flat parameter vectors, (m, P) (mlp_gradients_batch on step k's batch);
    ``reference_gradient(params, k)``: the reference's own [(dw, db)] there, which the batched
    gradient must match (4e-13 relative: two float64 computations of one formula);
    ``local_error(params, k)``: the local error of step k, flat (step_error)."""
    jacobians, deltas = [], []
    for k, params in enumerate(points):
        point = flat(params)
        want, got = flat(reference_gradient(params, k)), gradients(k, point[None])[0]
        assert np.allclose(got, want, rtol=4e-13, atol=4e-13 * np.abs(want).max()), (
            f"step {k + 1}: the batched gradient is not the reference's: {got} vs {want}")
        jacobians.append(step_jacobian(lambda v, k=k: gradients(k, v), point, learning_rate))
        deltas.append(local_error(params, k))
    return drift_bounds(jacobians, deltas)


def ema_bounds(values, decay, num_updates, expected, dtype):
    """(centres, bounds) for a moving-average trajectory, one per update: TF's shadow after update k
    must lie within bounds[k] of centres[k], elementwise. ``values`` (n + 1, ...) as both sides got
    them (in ``dtype``), ``expected`` the reference's n shadows.

    TF's update is s - c (s - v) with c = 1 - d computed in float32 and cast to the dtype
    (moving_averages.py; tests pin it): its exact-arithmetic map differs from the reference's by
    sigma_k = -(c_k - (1 - d_k)) (s_{k-1} - v_k), a known amount, and carries an earlier difference
    by exactly 1 - c_k (the map is linear: no second-order term). So e_k = (1 - c_k) e_{k-1} +
    sigma_k + (the roundings of update k), and the centre is the reference's shadow plus the known
    drift S_k = (1 - c_k) S_{k-1} + sigma_k; the bound carries the roundings alone: TF's three
    (error_models.ema_error without its constant term), the reference's (in float64 three more;
    below it one rounding of its float64 result to the dtype)."""
    values, expected = np.asarray(values, np.float64), np.asarray(expected, np.float64)
    rhos, deltas, centres, drift, shadow = [], [], [], 0.0, values[0]
    for k in range(1, len(values)):
        n = None if num_updates is None else num_updates[k - 1]
        c = _tf_one_minus(decay, n, dtype)
        sigma = -(c - (1 - ema_decay(decay, n))) * (shadow - values[k])
        rounding = error_models.ema_error(dtype, shadow, values[k], decay, n) * EPS[dtype] - np.abs(sigma)
        if dtype != "float64":
            rounding = rounding + 0.5 * EPS[dtype] * np.abs(expected[k - 1])
        drift = (1 - c) * drift + sigma
        rhos.append(1 - c)
        deltas.append(rounding)
        centres.append(expected[k - 1] + drift)
        shadow = expected[k - 1]
    return centres, drift_bounds(rhos, deltas)


def _tf_one_minus(decay, num_updates, dtype):
    """ExponentialMovingAverage's 1 - d: d and the num_updates cap in float32, 1 - d in float32, cast
    to the dtype (as error_models.ema_error takes it)."""
    d32 = np.float32(decay)
    if num_updates is not None:
        n32 = np.float32(num_updates)
        d32 = np.minimum(d32, (np.float32(1) + n32) / (np.float32(10) + n32))
    return float(np.float64((np.float32(1) - d32).astype(np_dtype(dtype))))


def sliced_gradient(slices, like, vectors, weights, activation="relu"):
    """sum_t weights[t] * (the batch-mean gradient of slice t), at m flat parameter vectors (m, P):
    the data-parallel combinations (tf.distribute: weights n_t / N, the full-batch gradient; the book's
    towers: 1 / R). An empty slice contributes 0 (its summed loss has no terms)."""
    vectors = np.atleast_2d(vectors)
    total = np.zeros(vectors.shape)
    for (x, labels), weight in zip(slices, weights):
        if len(x):
            total += weight * mlp_gradients_batch(x, labels, like, vectors, activation)
    return total


def sliced_gradient_error(slices, params, weights, activation="relu", dtype="float64"):
    """Bound on one side's error of sliced_gradient at ``params``, flat: each slice's gradient error
    (gradient_error) weighted as the slice, each weighted gradient's rounding (0.5 eps: the 1 / N of
    compute_average_loss or the tower mean's 1 / R), and the sum over R slices (an all-reduce or the
    towers' mean, R - 1 additions: (R - 1) / 2 eps of the sum of |terms|)."""
    p = flat(params)[None]
    err, terms = np.zeros(p.shape[1]), np.zeros(p.shape[1])
    for (x, labels), weight in zip(slices, weights):
        if len(x):
            g = weight * mlp_gradients_batch(x, labels, params, p, activation)[0]
            err += weight * flat(gradient_error(x, labels, params, activation, dtype)) + 0.5 * EPS[dtype] * np.abs(g)
            terms += np.abs(g)
    return err + 0.5 * (len(slices) - 1) * EPS[dtype] * terms
