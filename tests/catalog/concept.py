"""What a catalog entry is made of: Concept, Sample, Tol, BadInput, KernelFact, ModeRejection, and the modes.
The words are defined once, in the glossary of this package's docstring (tests/catalog/__init__.py).
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import tensorflow as tf
from packaging.version import Version

from tests.catalog import error_models
from tests.precision import DTYPES, LOW

MODES = ("eager", "function", "xla", "graph")


@dataclass(frozen=True)
class Sample:
    """One call: positional ``args`` (NumPy arrays become tensors, anything else
    stays a Python constant) and keyword ``kwargs`` (always Python constants).
    Float64 arrays are cast to the dtype under test; integer arrays are not. ``dy``: on a
    gradient edge, the upstream gradient (shaped like the output; None: tests/test_catalog.py's
    fixed one), for an edge that lives in dy itself (a dy of 1e-35 whose products are subnormal)."""
    args: tuple
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    id: str = ""
    dy: Any = None

    def __repr__(self):
        dy = "" if self.dy is None else f", dy={np.asarray(self.dy).tolist()}"
        return f"Sample({self.id or 'drawn'}: {call_text('f', self.args, self.kwargs)}{dy})"


@dataclass(frozen=True)
class Tol:
    """Pass iff |actual - ref| <= n_eps * eps(dtype) * max(scale, tiny(dtype)) + tiny(dtype).

    ``scale`` is, per element, the magnitude the error model says the rounding errors
    are proportional to: by default |ref| (a relative check), or max(|ref|, floor);
    with ``model`` it is ``model(dtype, *args, **kwargs)`` evaluated on the sample
    itself (float64 inputs as rounded to the dtype; for gradients dy is the last
    argument), an array or tuple of arrays shaped like the output. ``n_eps`` is the
    budget in units of the dtype's machine epsilon; tiny(dtype) (the smallest normal
    number) forgives underflow to zero. ``why`` says where the numbers come from."""
    n_eps: float
    why: str
    floor: float = 0.0
    model: Callable | None = None


@dataclass(frozen=True)
class BadInput:
    """Bad input that both sides must reject for the same reason (tests/harness.py,
    check_rejects). The reference must raise ``ref_error`` with a message matching
    ``match`` (naming the argument, what was expected and what was given); TensorFlow
    must raise one of ``tf_types`` with a message matching ``tf_match`` in every mode,
    except where ``xla_match`` says what XLA does instead."""
    id: str
    args: tuple
    kwargs: Mapping[str, Any]
    ref_error: type
    match: str
    tf_types: tuple = ()
    tf_match: str | None = None
    """Pattern of TF's message in every mode; None: ``match``. Both sides fill the same
    templates (reference/_checks.py MESSAGES), so the texts differ only where a mode
    traces with unknown dimensions, which TF writes as None (see shape_pattern)."""
    xla_match: str | None = None
    """Under XLA, where it differs: a pattern of XLA's own error, or XLA_ACCEPTS (XLA
    returns a value); None: as the other modes. A check that needs a runtime assert
    (a dimension unknown to the shape-generic trace) is compiled away by XLA."""
    xla_why: str = ""
    """Why XLA differs: required with ``xla_match``."""


XLA_ACCEPTS = "<XLA accepts the input and returns a value>"


def shape_pattern(shape):
    """A regex for ``shape`` as a check's message writes it, each dimension its value or
    None (unknown while a shape-generic tf.function, XLA function or placeholder graph is
    traced): (4, 1) -> \\((?:4|None), (?:1|None)\\), (4,) -> \\((?:4|None),\\)."""
    dims = ", ".join(f"(?:{d}|None)" for d in shape)
    return rf"\({dims}{',' if len(shape) == 1 else ''}\)"


def shape_mismatch(id_, a, b, name_a, name_b, *, extra=(), kwargs=None, **fields):
    """The case ``f(a, b, *extra, **kwargs)``, with a and b of different shapes; the reference's
    message names both shapes exactly, TF's in every mode (unknown dimensions as None).
    Ranks that differ are caught while tracing, in every mode, XLA included: ValueError."""
    assert np.ndim(a) != np.ndim(b), "same-rank mismatches need a runtime check: give tf_match / xla_match"
    message = "{} shape {} does not match {} shape {}"
    return BadInput(id_, (a, b) + tuple(extra), dict(kwargs or {}), ValueError,
                     message.format(name_a, re.escape(str(np.shape(a))), name_b, re.escape(str(np.shape(b)))),
                     (ValueError,),
                     tf_match=message.format(name_a, shape_pattern(np.shape(a)), name_b, shape_pattern(np.shape(b))),
                     **fields)


def traced_or_run(error):
    """What TF raises for a mismatch of dimensions a shape-generic trace does not know:
    ``error`` where the shapes are known while tracing (eager), InvalidArgumentError from
    the runtime assert (tf.function, Session) or from XLA's own shape checks."""
    return (error, tf.errors.InvalidArgumentError)


def in_releases(versions, tf_version):
    """``tf_version`` within ``versions`` = (first, before): first <= release < before, None leaving that
    end open (a KernelFact's or a ModeRejection's releases)."""
    first, before = versions
    v = Version(tf_version)
    return (first is None or v >= Version(first)) and (before is None or v < Version(before))


@dataclass(frozen=True)
class KernelFact:
    """Where TensorFlow's answer on an edge depends on the CPU kernel library or on the
    TensorFlow release, the edge-case contract states each one's answer instead of skipping it.

    On kernel path ``path`` ("onednn", "eigen" or "any", see tests/machine.py) and TF
    releases in ``versions`` (first <= release < before; None leaves that end open), for the edge
    ``edge`` in ``dtypes`` x ``modes`` on the CPU, TF must give ``expected(*args,
    **kwargs)`` (float64 inputs) where the reference gives something else; every other
    path, release, dtype and mode is held to the reference. Either answer changing fails."""
    edge: str
    path: str
    dtypes: tuple
    modes: tuple
    expected: Callable
    why: str
    versions: tuple = (None, None)
    n_eps: float = 4
    """Tolerance relative to the expected value: the entry's error model is written for the
    reference's answer (a NaN there), so a fact's answer is held to a few roundings of itself."""

    def applies(self, edge, path, tf_version, dtype, mode):
        return (self.edge == edge and self.path in ("any", path) and dtype in self.dtypes and mode in self.modes
                and in_releases(self.versions, tf_version))


@dataclass(frozen=True)
class ModeRejection:
    """A mode in which TensorFlow cannot run an entry at all, in any dtype (XLA has no kernel for one
    of its ops): on the TF releases in ``versions`` (first <= release < before; None leaves that end
    open) TF must raise ``error`` with a message matching ``match``, for the value and the gradient.
    The matrix leaves the mode out of the entry's other cells (tests/test_catalog.py), and
    test_rejected_modes_raise_what_the_catalog_states holds TF to the rejection: a release that runs
    the entry fails it, so the gap cannot outlive its reason."""
    mode: str
    error: type
    match: str
    why: str
    versions: tuple = (None, None)

    def applies(self, mode, tf_version):
        return self.mode == mode and in_releases(self.versions, tf_version)


@dataclass(frozen=True)
class Concept:
    name: str
    ref: Callable
    tf: Callable
    strategy: Callable[[], Any]
    """() -> a hypothesis strategy that draws Samples with float64 arrays."""
    tol: Mapping[str, Tol]
    """dtype name -> value tolerance against the float64 reference."""
    edges: tuple = ()
    """Fixed Samples pinning the edges: empty batch, one element, extreme magnitudes, inf, NaN."""
    ref_vjp: Callable | None = None
    tf_vjp: Callable | None = None
    wrt: tuple | str = (0,)
    """Positional arguments the gradient is taken with respect to; "all": every array argument."""
    grad_tol: Mapping[str, Tol] | None = None
    off_kink: Callable[[Sample, float], Sample] | None = None
    """Moves a sample at least ``margin`` away from non-differentiable points,
    so finite differences and the analytic gradient talk about the same side."""
    grad_edge_ids: tuple = ()
    """Ids of the edges whose gradients are also compared (finite-valued ones)."""
    bad_inputs: tuple = ()
    """BadInputs: what both sides must reject, for the same reason."""
    bench_sample: Callable[[int, np.random.Generator], Sample] | None = None
    """(n, rng) -> a Sample with about n elements, for the benchmarks."""
    bench_tol: Tol | None = None
    """float32 tolerance for the benchmark inputs (up to 1e7 elements) where they reduce
    over far more terms than the samples ``tol`` was derived for; None: tol["float32"]."""
    kernel_facts: tuple = ()
    """KernelFacts: edges whose answer TF gives differently on one kernel path."""
    rejected_in: tuple = ()
    """ModeRejections: modes in which TF cannot run the entry at all (its value and gradient raise)."""
    dtypes: tuple = DTYPES
    fd_eps: float | None = None
    """Machine epsilon of the precision TF's forward pass computes in for float64 input, where that
    is not float64 (TF's image ops work in float32): the "tf" side of the finite-difference check
    charges its rounding at this eps. None: float64's."""

    def __repr__(self):
        return self.name

    def wrt_of(self, sample):
        """The positions of ``sample``'s arguments the gradient is taken with respect to."""
        if self.wrt == "all":
            return tuple(i for i, a in enumerate(sample.args) if isinstance(a, np.ndarray))
        return self.wrt

    def rejection(self, mode, tf_version=tf.__version__):
        """The ModeRejection for ``mode`` on this TF release, or None (the mode runs)."""
        return next((r for r in self.rejected_in if r.applies(mode, tf_version)), None)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


LONG_SUM = Tol(1024, "a float32 sum of up to 1e7 terms: the textbook bound is (n - 1) eps; Eigen's tree "
                     "sum stays near 10 eps, but XLA's CPU reduction was measured 587 eps off at n = 1e7")


def reduction_tol(fn, per_term, after, what, flushes=None):
    """Tolerances for a sum or mean of same-sign terms (no cancellation, so relative to the
    result), derived from the sample: each term's own roundings (``per_term`` eps), a tree sum
    of n terms (log2(n) + 1 deep, 0.5 eps a level; float16 and bfloat16 accumulate in float32,
    TF's reduction_ops.h and XLA alike, so there a level costs float32's eps and the result
    rounds once more), then ``after`` eps for what follows the sum (divide by N, times scale).
    ``flushes(dtype, *args, **kwargs)``: what subnormal intermediates can cost (absolute, eps;
    error_models.flushed), where the terms or what follows can carry them into a normal result."""
    def model(dtype, *args, **kwargs):
        n = max((np.size(a) for a in args if isinstance(a, np.ndarray)), default=1)
        relative = np.abs(fn(*args, **kwargs)) * (per_term + error_models.sum_error(dtype, n) + after)
        return relative + (flushes(dtype, *args, **kwargs) if flushes is not None else 0.0)
    why = f"{what}; tree sum of n terms (0.5 eps a level, log2(n) + 1 levels), from the sample"
    if flushes is not None:
        why += "; subnormal terms or intermediates may flush"
    return {d: Tol(1, why, model=model) for d in DTYPES}


def elementwise_tol(low, high, what):
    """Relative tolerances for an elementwise result: ``low`` eps for float16/bfloat16, ``high`` otherwise."""
    return {d: Tol(low if d in LOW else high, what) for d in DTYPES}


def off_zero(sample, margin):
    """Move the first argument at least ``margin`` away from 0, the kink of relu and |w|."""
    x = sample.args[0]
    return Sample((np.where(np.abs(x) < margin, np.where(x < 0, -margin, margin), x),) + tuple(sample.args[1:]),
                  sample.kwargs, sample.id)


TF_REJECTIONS = (tf.errors.InvalidArgumentError, ValueError, TypeError)
"""What TensorFlow raises for bad input, by mode: InvalidArgumentError from a kernel (eager,
Session), ValueError or TypeError while tracing (tf.function, XLA, graph building)."""


def call_text(fn_name, args, kwargs):
    """A one-line, copy-pasteable call: arrays written out with their dtype."""
    def lit(a):
        if isinstance(a, np.ndarray):
            return f"np.array({np.asarray(a, np.float64).tolist() if a.dtype.kind not in 'iub' else a.tolist()}, dtype='{a.dtype.name}')"
        return repr(a)
    parts = [lit(a) for a in args] + [f"{k}={lit(v)}" for k, v in kwargs.items()]
    return f"{fn_name}({', '.join(parts)})"
