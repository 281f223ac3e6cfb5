"""The agreement harness: run a TensorFlow function in each execution mode,
compare it with the float64 reference, and check gradients.

The generic tests, the planted-bug tests, the agreement report and the
benchmarks all go through these functions, so they judge alike.
"""
from __future__ import annotations

import functools
import re
import time

import numpy as np
import tensorflow as tf

from tests import timing
from tests.catalog.concept import MODES, TF_REJECTIONS, XLA_ACCEPTS, Sample, Tol, call_text
from tests.devices import tf_device
from tests.machine import kernel_path
from tests.precision import eps, is_float_array, np_dtype, tiny

# --- dtypes ---------------------------------------------------------------

def cast(sample: Sample, dtype) -> Sample:
    """The sample with its floating arrays cast to ``dtype`` (integer arrays and constants
    untouched) and what is subnormal in ``dtype`` flushed to (signed) zero: TF's CPU kernels
    flush subnormals in graph mode and not eagerly, so every mode gets the same input."""
    def c(a):
        return flushed(a, dtype) if is_float_array(a) else a
    return Sample(tuple(c(a) for a in sample.args), sample.kwargs, sample.id)


def flushed(a, dtype):
    """``a`` cast to ``dtype``, values subnormal in ``dtype`` replaced by zero of the same sign."""
    with np.errstate(over="ignore"):  # beyond the dtype's range: inf, as TF's cast gives (an edge's point)
        a = np.asarray(a).astype(np_dtype(dtype))
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(a.astype(np.float64)) < tiny(dtype), a * 0, a).astype(a.dtype)


def upcast(sample: Sample) -> Sample:
    return cast(sample, "float64")


# --- execution modes ------------------------------------------------------

MODES_DOC = """
    eager     the TF2 default: each op runs as it is called
    function  tf.function, traced once per dtype/rank signature (shape-generic)
    xla       tf.function(jit_compile=True): compiled by XLA, once per concrete shape
    graph     TF1: placeholders in a tf.Graph, run by tf.compat.v1.Session
"""


def run(fn, sample: Sample, mode="eager", device="cpu"):
    """Call ``fn(*sample.args, **sample.kwargs)`` in ``mode`` on ``device`` and return NumPy
    arrays: the one call the tests, the benchmarks and the docs use to run a function.
    Modes:""" + MODES_DOC
    arrays = tuple(x for a in sample.args for x in fed(a))
    start, call = time.perf_counter(), None
    try:
        call = runner(fn, sample, mode, device)
        with tf.device(tf_device(device)):
            out = call(*(tf.constant(a) for a in arrays) if mode == "eager" else arrays)
        return tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else np.asarray(t), out)
    finally:  # pytest --profile-time: compiling or running (tests/timing.py)
        timing.note_call(call, mode, arrays, time.perf_counter() - start)


def runner(fn, sample: Sample, mode="eager", device="cpu"):
    """``fn`` in ``mode`` on ``device`` as a function of the sample's arrays only (its
    non-array arguments and keywords closed over), compiled once per signature: one
    tf.function / XLA function / Session per (fn, mode, device, dtype and rank of each
    array, constants), with shape-generic input signatures, so new shapes do not retrace
    (XLA still compiles once per concrete shape). Call it with arrays (or tensors, eager);
    a benchmark times exactly this call. Modes:""" + MODES_DOC
    if mode == "eager":
        return bind(fn, sample)
    key = (fn, mode, device,
           tuple(tuple((x.dtype.name, x.ndim) for x in fed(a)) if fed(a) else repr(a) for a in sample.args),
           tuple(sorted((k, repr(v)) for k, v in sample.kwargs.items())))
    if key not in _CACHE:
        specs = [tf.TensorSpec([None] * x.ndim, tf.as_dtype(x.dtype)) for a in sample.args for x in fed(a)]
        bound = bind(fn, sample)
        if mode in ("function", "xla"):
            _CACHE[key] = tf.function(bound, input_signature=specs, jit_compile=(mode == "xla"))
        elif mode == "graph":
            _CACHE[key] = _session_runner(bound, specs, device)
        else:
            raise ValueError(f"unknown mode {mode!r}: expected one of eager, function, xla, graph")
    return _CACHE[key]


def bind(fn, sample):
    """fn as a function of the sample's arrays only (its other arguments and keywords closed over)."""
    slots = [isinstance(a, np.ndarray) or len(fed(a)) for a in sample.args]  # True: an array; n: a tuple of n
    consts = [None if s else a for s, a in zip(slots, sample.args)]
    kwargs = dict(sample.kwargs)

    def arg(s, c, it):
        return c if not s else next(it) if s is True else tuple(next(it) for _ in range(s))

    def bound(*tensors):
        it = iter(tensors)
        return fn(*(arg(s, c, it) for s, c in zip(slots, consts)), **kwargs)
    return bound


_CACHE = {}


def fed(a):
    """The arrays of an argument that are fed as tensors: an array, or each array of a tuple of arrays
    (the upstream gradient dy of a function with several outputs); none for a constant."""
    if isinstance(a, np.ndarray):
        return (a,)
    if isinstance(a, tuple) and a and all(isinstance(x, np.ndarray) for x in a):
        return a
    return ()


def _session_runner(bound, specs, device):
    graph = tf.Graph()
    with graph.as_default(), tf.device(tf_device(device)):
        placeholders = [tf.compat.v1.placeholder(s.dtype, s.shape) for s in specs]
        out = bound(*placeholders)
    sess = tf.compat.v1.Session(graph=graph)
    return lambda *arrays: sess.run(out, feed_dict=dict(zip(placeholders, arrays)))


# --- comparison -----------------------------------------------------------

RECORD = {}
"""(concept, check, dtype, mode) -> worst error seen, in units of eps, and the tolerance: for the report."""


def reference(fn, sample):
    """The float64 reference for the (already cast) sample: inputs upcast exactly, so
    rounding the inputs to a low precision costs the implementation nothing."""
    s = upcast(sample)
    return fn(*s.args, **s.kwargs)


def assert_agree(actual, expected, dtype, tol: Tol, context, record=None, sample=None):
    """Compare ``actual`` (TF, in ``dtype``) with ``expected`` (float64 reference) leaf by leaf.

    NaN must stand where the reference has NaN, inf where the reference rounded
    to ``dtype`` is inf (same sign); every other element within ``tol`` (whose
    error ``model``, if it has one, is evaluated on ``sample``, already cast).
    Returns the worst error in units of eps(dtype)."""
    a_leaves, e_leaves = tf.nest.flatten(actual), tf.nest.flatten(expected)
    if len(a_leaves) != len(e_leaves):
        raise AssertionError(f"{context}\n  TF returned {len(a_leaves)} outputs, the reference {len(e_leaves)}")
    scales = [None] * len(e_leaves)
    if tol.model is not None:
        s = upcast(sample)
        with np.errstate(all="ignore"):
            scales = tf.nest.flatten(tol.model(dtype, *s.args, **s.kwargs))
        assert len(scales) == len(e_leaves), f"{tol.why}: the error model gives {len(scales)} scales for {len(e_leaves)} outputs"
    worst = 0.0
    for i, (a, e, sc) in enumerate(zip(a_leaves, e_leaves, scales)):
        where = f"output {i}: " if len(a_leaves) > 1 else ""
        worst = max(worst, _assert_leaf(np.asarray(a), np.asarray(e), dtype, tol, context, where, sc))
    if record is not None:
        note_worst(record, worst, tol.n_eps)
    return worst


def note_worst(key, worst, tol_eps):
    """Keep the largest error seen for ``key`` in RECORD (also merges xdist workers' records)."""
    RECORD[key] = max(RECORD.get(key, (0.0,))[0], worst), tol_eps


def _assert_leaf(a, e, dtype, tol, context, where, model_scale=None):
    if a.shape != e.shape:
        raise AssertionError(f"{context}\n  {where}TF shape {a.shape} != reference shape {e.shape}")
    if e.dtype.kind not in "fV":  # integer outputs (ids, steps) must match exactly
        if not np.array_equal(a, e):
            raise AssertionError(f"{context}\n  {where}TF {a} != reference {e}")
        return 0.0
    if a.dtype.name != dtype:
        raise AssertionError(f"{context}\n  {where}TF returned dtype {a.dtype.name}, expected {dtype}")
    a = a.astype(np.float64)
    e = e.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        e_rounded = e.astype(np_dtype(dtype)).astype(np.float64)  # where the dtype overflows
    bad_nan = np.isnan(a) != np.isnan(e)
    nonfinite = ~np.isfinite(e_rounded) | ~np.isfinite(a)
    bad_inf = nonfinite & ~np.isnan(e) & ~np.isnan(a) & (a != e_rounded)
    ep, tn = eps(dtype), tiny(dtype)
    finite = np.isfinite(a) & np.isfinite(e_rounded)
    with np.errstate(invalid="ignore", over="ignore"):
        if model_scale is None:
            magnitude = np.maximum(np.abs(e), tol.floor)
        else:  # the error model's scale; where it is not finite (a NaN row), exactness is asked
            magnitude = np.broadcast_to(np.nan_to_num(np.asarray(model_scale, np.float64), nan=0.0), e.shape)
        scale = ep * np.maximum(magnitude, tn)
        units = np.where(finite, np.maximum(np.abs(a - e) - tn, 0) / scale, 0.0)  # error in eps
    bad = bad_nan | bad_inf | (units > tol.n_eps)
    if bad.any():
        score = np.where(bad_nan | bad_inf, np.inf, units)
        idx = np.unravel_index(int(np.argmax(np.where(bad, score, -1))), a.shape)
        detail = ("NaN/inf mismatch" if not np.isfinite(score[idx]) else
                  f"{units[idx]:.3g} eps = {units[idx] / tol.n_eps:.3g}x the tolerance" if tol.n_eps else
                  "an exact match is required")
        raise AssertionError(
            f"{context}\n  {where}{int(bad.sum())} of {a.size} elements disagree; worst at index {idx}: "
            f"TF {a[idx]!r} vs reference {e[idx]!r} ({detail})\n"
            f"  tolerance: {tol.n_eps} eps x " + (f"the error model's scale, {magnitude[idx]:.3g} there"
                                                  if model_scale is not None else
                                                  f"max(|reference|, floor {tol.floor})") + f" - {tol.why}")
    return float(units.max()) if units.size else 0.0


def assert_within(actual, expected, bound, what):
    """|actual - expected| <= bound elementwise, for the named tests, which derive their bound where
    they compute it; the message names the worst element, both values and the bound."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    err = np.abs(actual - expected)
    bound = np.broadcast_to(np.asarray(bound, np.float64), err.shape)  # a scalar bound names its element too
    bad = ~(err <= bound)
    if bad.any():
        i = np.unravel_index(int(np.argmax(np.where(bad, err - bound, -np.inf))), err.shape)
        raise AssertionError(f"{what}: {int(bad.sum())} of {err.size} elements off; worst at {i}: "
                             f"{actual[i]!r} vs {expected[i]!r}, |diff| {err[i]:.3g} > bound {bound[i]:.3g}")


def context(concept, check, dtype, mode, fn, sample, device="cpu"):
    """The first lines of a failure message: what failed and a one-line reproduction."""
    name = f"{fn.__module__}.{fn.__name__}"
    where = f"mode={mode}" + ("" if device == "cpu" else f", device={device}")
    return (f"{concept} {check} [{dtype}, {where}] sample {sample.id or 'drawn by hypothesis'}\n"
            f"  reproduce: {call_text(name, sample.args, sample.kwargs)}   # {where}")


def check_values(concept, sample, dtype, mode, device="cpu"):
    """TF's value in ``mode`` agrees with the float64 reference within the dtype's tolerance."""
    s = cast(sample, dtype)
    return _judge_values(concept, s, run(concept.tf, s, mode, device), dtype, mode, device)


def value_check_failures(concept, samples, dtype, mode="eager"):
    """The failure messages of the catalog's value comparison (``concept.tol[dtype]``) on each of
    ``samples``, kept out of the agreement report and the profile: for planted runs, which say
    nothing of an implementation's agreement."""
    failures = []
    for sample in samples:
        s = cast(sample, dtype)
        try:
            assert_agree(run(concept.tf, s, mode), reference(concept.ref, s), dtype, concept.tol[dtype],
                         f"{concept.name} [{dtype}, {mode}]", sample=s)
        except AssertionError as e:
            failures.append(str(e))
    return failures


def _judge_values(concept, s, actual, dtype, mode, device):
    timing.note_input(concept.name, dtype, mode, s.args, s.kwargs)  # pytest --profile-time
    expected, ctx = reference(concept.ref, s), context(concept.name, "value", dtype, mode, concept.tf, s, device)
    tol = concept.tol[dtype]
    fact = kernel_fact(concept, s.id, dtype, mode, device)
    if fact is not None:
        expected = fact.expected(*upcast(s).args, **s.kwargs)
        tol = Tol(fact.n_eps, "relative to the answer the fact states")
        first, before = fact.versions
        ctx += (f"\n  expected TF's answer on kernel path {fact.path}, TF {tf.__version__} (the fact holds from "
                f"{first or 'the oldest release'} to {'before ' + before if before else 'the newest'}), "
                f"not the reference's - {fact.why}"
                f"\n  (the reference gives {np.asarray(reference(concept.ref, s)).tolist()})")
    check = "value" if fact is None else "kernel fact"  # a fact's own tolerance stays out of the value row
    return assert_agree(actual, expected, dtype, tol, ctx, record=(concept.name, check, dtype, mode), sample=s)


def kernel_fact(concept, edge_id, dtype, mode, device="cpu"):
    """The concept's KernelFact for this edge on this process's kernel path and TF release, if any."""
    if device != "cpu" or not edge_id:
        return None
    path, version = kernel_path(dtype), tf.__version__
    return next((f for f in concept.kernel_facts if f.applies(edge_id, path, version, dtype, mode)), None)


# --- gradients ------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _dy_last(vjp_fn):
    """vjp_fn(*args, dy=...) as a function whose last positional argument is dy,
    so the mode runners can feed dy like any other input."""
    def f(*args, **kwargs):
        return vjp_fn(*args[:-1], dy=args[-1], **kwargs)
    f.__name__, f.__module__ = vjp_fn.__name__, vjp_fn.__module__
    return f


def as_tuple(g):
    return tuple(g) if isinstance(g, (tuple, list)) else (g,)


def check_gradient(concept, sample, dy, dtype, mode, device="cpu"):
    """TF's GradientTape gradient in ``mode`` agrees with the hand-derived reference gradient."""
    sd = _with_cotangent(sample, dy, dtype)
    return _judge_gradient(concept, sd, run(_dy_last(concept.tf_vjp), sd, mode, device), dtype, mode, device)


def check_values_and_gradient(concept, sample, dy, dtype, mode, device="cpu", judge=("value", "gradient")):
    """check_values and check_gradient from one TF function returning both, so XLA
    compiles once per shape instead of twice. ``judge`` names what is compared: the
    generic tests call the same compiled function for a value check alone (test_agreement)
    and for a gradient check alone (test_gradient_matches_reference); None for the other."""
    sd = _with_cotangent(sample, dy, dtype)
    value, grads = run(_value_and_vjp(concept.tf, concept.tf_vjp), sd, mode, device)
    s = Sample(sd.args[:-1], sd.kwargs, sd.id)
    return (_judge_values(concept, s, value, dtype, mode, device) if "value" in judge else None,
            _judge_gradient(concept, sd, grads, dtype, mode, device) if "gradient" in judge else None)


def run_value_and_gradient(concept, sample, dy, dtype, mode, device="cpu"):
    """(value, gradients) of ``concept``'s TF function and its vjp with upstream gradient ``dy``
    on ``sample`` cast to ``dtype``: the one compiled function check_values_and_gradient judges."""
    return run(_value_and_vjp(concept.tf, concept.tf_vjp), _with_cotangent(sample, dy, dtype), mode, device)


def _with_cotangent(sample, dy, dtype):
    """The sample cast to ``dtype`` with dy (cast too) appended as the last argument."""
    s = cast(sample, dtype)
    dy = tf.nest.map_structure(lambda d: flushed(d, dtype), dy)
    return Sample(s.args + (dy,), s.kwargs, s.id)


def _judge_gradient(concept, sd, actual, dtype, mode, device):
    timing.note_input(concept.name, dtype, mode, sd.args[:-1], sd.kwargs)  # pytest --profile-time
    expected = as_tuple(reference(_dy_last(concept.ref_vjp), sd))
    return assert_agree(as_tuple(actual), expected, dtype, (concept.grad_tol or concept.tol)[dtype],
                        context(concept.name, "gradient", dtype, mode, concept.tf_vjp, sd, device),
                        record=(concept.name, "gradient", dtype, mode), sample=sd)


@functools.lru_cache(maxsize=None)
def _value_and_vjp(fn, vjp_fn):
    """(fn(*args), vjp_fn(*args, dy=dy)) with dy the last positional argument."""
    def f(*args, **kwargs):
        return fn(*args[:-1], **kwargs), vjp_fn(*args[:-1], dy=args[-1], **kwargs)
    f.__name__, f.__module__ = f"{fn.__name__}_and_vjp", fn.__module__
    return f


FD_STEP = 1e-3
"""Step of the 4th-order central difference in float64: truncation ~ h^4 = 1e-12,
rounding ~ 1e-16 / h = 1e-13 times the function's scale; the estimate at 2h measures
what is left of both (see check_finite_differences)."""
FD_RTOL = 1e-5
"""Relative agreement asked of analytic and numeric directional derivatives. Where the
output is a small difference of large terms (a saturated softmax: loss 1e-8 from logits
of 30) float64 differences resolve only ~1e-6; 1e-5 still exposes any wrong formula
(a missing factor, a sign, a 1% error)."""


def check_finite_differences(concept, side, sample, dy, directions):
    """<grad, v> == d/dt sum(dy * f(x + t v)) at t = 0, in float64, for random directions v.

    ``side`` is "reference" (the hand-derived gradient against the reference
    forward pass) or "tf" (GradientTape against TF's own forward pass, eager)."""
    s = upcast(sample)
    if side == "reference":
        forward, vjp_fn = concept.ref, concept.ref_vjp

        def f(args):
            return forward(*args, **s.kwargs)
        grads = as_tuple(vjp_fn(*s.args, dy=dy, **s.kwargs))
    else:
        forward, vjp_fn = concept.tf, concept.tf_vjp

        def f(args):
            return run(forward, Sample(tuple(args), s.kwargs), "eager")
        grads = as_tuple(run(_dy_last(vjp_fn), Sample(s.args + (dy,), s.kwargs), "eager"))
    name = f"{vjp_fn.__module__}.{vjp_fn.__name__}"
    for v in directions:
        def terms(t):
            """The products dy * f(x + t v), whose sum is the scalar being differentiated."""
            args = list(s.args)
            for i, vi in zip(concept.wrt_of(s), v):
                args[i] = args[i] + t * vi
            return [np.asarray(d, np.float64) * np.asarray(o, np.float64)
                    for d, o in zip(tf.nest.flatten(dy), tf.nest.flatten(f(args)))]

        def phi(t):
            return sum(float(np.sum(p)) for p in terms(t))

        def stencil(h):
            return (-phi(2 * h) + 8 * phi(h) - 8 * phi(-h) + phi(-2 * h)) / (12 * h)
        numeric, coarse = stencil(FD_STEP), stencil(2 * FD_STEP)
        analytic = sum(float(np.sum(np.asarray(g, np.float64) * vi)) for g, vi in zip(grads, v))
        scale = sum(float(np.linalg.norm(np.asarray(g, np.float64)) * np.linalg.norm(vi)) for g, vi in zip(grads, v))
        # Error of the estimate at h: truncation ~ h^4 (16x smaller than at 2h, so the
        # two estimates' difference bounds it) and rounding: each phi is off by a few eps
        # of the larger of its terms and its inputs (f = lse(z) - z_k is 1e-8 when z is 30,
        # but rounds at eps * 30), times the stencil's 18/12, over h.
        eps64 = np.finfo(np.float64).eps
        if side == "tf" and getattr(concept, "fd_eps", None):  # TF's forward rounds at a lower precision
            eps64 = concept.fd_eps
        magnitude = sum(float(np.sum(np.abs(p))) for p in terms(0.0))
        inputs = sum(float(np.sum(np.abs(d))) for d in tf.nest.flatten(dy)) * max(
            [1.0] + [float(np.max(np.abs(s.args[i]), initial=0.0)) for i in concept.wrt_of(s)])
        rounding = 1.5 * 16 * eps64 * (magnitude + inputs) / FD_STEP
        allowed = FD_RTOL * (scale + abs(numeric)) + rounding + 2 * abs(numeric - coarse) + 1e-15
        if not abs(numeric - analytic) <= allowed:
            raise AssertionError(
                f"{concept.name} gradient ({side}) disagrees with float64 finite differences\n"
                f"  directional derivative: analytic {analytic!r} vs numeric {numeric!r} "
                f"(|diff| {abs(numeric - analytic):.3g}, allowed {allowed:.3g})\n"
                f"  reproduce: {call_text(name, s.args + (dy,), s.kwargs)}\n"
                f"  direction: {[np.asarray(x).tolist() for x in v]}")


# --- bad input ----------------------------------------------------------------------

def check_rejects(concept, case, modes=None, device="cpu"):
    """Both sides reject ``case`` for the same reason. The reference raises ``case.ref_error``
    with a message matching ``case.match``; TF, in every mode, raises one of ``case.tf_types``
    with a message matching ``case.tf_match`` (None: ``case.match``), except under XLA where
    ``case.xla_match`` says otherwise: a pattern of XLA's own error, or XLA_ACCEPTS (XLA
    returns a value, and ``case.xla_why`` says why). Accepting, raising another type or
    another message all fail, with a one-line reproduction."""
    def gist(e):
        """The message without TF's stack traces: its first few lines of text."""
        lines = [ln.strip() for ln in str(e).splitlines()
                 if ln.strip() and not ln.strip().startswith(("File ", "Detected at node", "Stack trace", "Original"))]
        return " | ".join(lines[:4])[:600]
    name = f"{concept.tf.__module__}.{concept.tf.__name__}"
    head = f"{concept.name} bad input {case.id!r}"
    try:
        concept.ref(*case.args, **case.kwargs)
    except Exception as e:  # noqa: BLE001 - judged below
        if not (isinstance(e, case.ref_error) and re.search(case.match, str(e))):
            raise AssertionError(f"{head}: the reference raised {type(e).__name__}: {e}\n"
                                 f"  expected {case.ref_error.__name__} matching {case.match!r}") from e
    else:
        raise AssertionError(f"{head}: the reference accepted it; expected {case.ref_error.__name__} "
                             f"matching {case.match!r}")
    if case.xla_match is not None and not case.xla_why:
        raise AssertionError(f"{head}: xla_match is set, so xla_why must say why XLA differs")
    for mode in modes or getattr(concept, "modes", MODES):  # the grader's NumPy stand-ins: eager only
        pattern = case.xla_match if mode == "xla" and case.xla_match is not None else (case.tf_match or case.match)
        where = f"mode={mode}" + ("" if device == "cpu" else f", device={device}")
        repro = f"  reproduce: {call_text(name, case.args, case.kwargs)}   # {where}"
        try:
            out = run(concept.tf, Sample(case.args, case.kwargs, case.id), mode, device)
        except Exception as e:  # noqa: BLE001 - judged below
            first = gist(e)
            if pattern == XLA_ACCEPTS:
                raise AssertionError(f"{head} [{where}]: XLA was expected to accept it ({case.xla_why}), "
                                     f"but raised {type(e).__name__}: {first}\n{repro}") from e
            allowed = case.tf_types or TF_REJECTIONS
            if not isinstance(e, allowed):
                raise AssertionError(f"{head} [{where}]: TF raised {type(e).__name__}, expected one of "
                                     f"{[t.__name__ for t in allowed]}: {first}\n{repro}") from e
            if not re.search(pattern, str(e)):
                raise AssertionError(f"{head} [{where}]: TF rejected it for another reason\n"
                                     f"  TF: {type(e).__name__}: {gist(e)}\n  expected a message matching {pattern!r}\n"
                                     f"{repro}") from e
        else:
            if pattern != XLA_ACCEPTS:
                shown = tf.nest.map_structure(lambda a: np.asarray(a).tolist(), out)
                raise AssertionError(f"{head} [{where}]: TF accepted it and returned {shown}; "
                                     f"expected a message matching {pattern!r}, as the reference's\n{repro}")
