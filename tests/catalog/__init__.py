"""The concept catalog: one ``Concept`` entry per concept drives the generic
tests (tests/test_catalog.py), the agreement report and the benchmarks.

Adding a concept = its two functions (reference/ and tfimpl/) plus one entry
in the module of this package that matches its topic, appended to CATALOG
there. Concept-specific facts get their own named tests beside it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

DTYPES = ("float16", "bfloat16", "float32", "float64")
MODES = ("eager", "function", "xla", "graph")


@dataclass(frozen=True)
class Sample:
    """One call: positional ``args`` (NumPy arrays become tensors, anything else
    stays a Python constant) and keyword ``kwargs`` (always Python constants).
    Float64 arrays are cast to the dtype under test; integer arrays are not."""
    args: tuple
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    id: str = ""

    def __repr__(self):
        return f"Sample({self.id or 'drawn'}: {call_text('f', self.args, self.kwargs)})"


@dataclass(frozen=True)
class Tol:
    """Pass iff |actual - ref| <= ulps * eps(dtype) * max(|ref|, floor) + tiny(dtype).

    ``ulps`` is the error budget in units of the dtype's machine epsilon,
    relative to the reference value; ``floor`` turns it absolute for values
    below it (use it where the output is a difference of O(floor) terms);
    tiny(dtype) (the smallest normal number) forgives underflow to zero.
    ``why`` says where the number comes from: every number has a reason."""
    ulps: float
    why: str
    floor: float = 0.0


@dataclass(frozen=True)
class ErrorCase:
    """Bad input that both sides must reject. The reference must raise ``ref_error``
    with a message matching ``match`` (naming the argument, what was expected and
    what was given); TensorFlow must raise one of ``tf_errors`` in every mode."""
    id: str
    args: tuple
    kwargs: Mapping[str, Any]
    ref_error: type
    match: str
    tf_errors: tuple = ()


@dataclass(frozen=True)
class KernelFact:
    """Where TensorFlow's answer on an edge depends on the CPU kernel library, the
    edge-case contract states each path's answer instead of skipping it.

    On kernel path ``path`` ("onednn" or "eigen", see tests/machine.py), for the edge
    ``edge`` in ``dtypes`` x ``modes`` on the CPU, TF must give ``expected(*args,
    **kwargs)`` (float64 inputs) where the reference gives something else; every other
    path, dtype and mode is held to the reference. Either answer changing fails."""
    edge: str
    path: str
    dtypes: tuple
    modes: tuple
    expected: Callable
    why: str


@dataclass(frozen=True)
class Concept:
    name: str
    ref: Callable
    tf: Callable
    samples: Callable[[], Any]
    """() -> hypothesis strategy of Sample with float64 arrays."""
    tol: Mapping[str, Tol]
    """dtype name -> value tolerance against the float64 reference."""
    edges: tuple = ()
    """Fixed Samples pinning the edges: empty batch, one element, extreme magnitudes, inf, NaN."""
    ref_vjp: Callable | None = None
    tf_vjp: Callable | None = None
    wrt: tuple = (0,)
    """Positional arguments the gradient is taken with respect to."""
    grad_tol: Mapping[str, Tol] | None = None
    off_kink: Callable[[Sample, float], Sample] | None = None
    """Moves a sample at least ``margin`` away from non-differentiable points,
    so finite differences and the analytic gradient talk about the same side."""
    grad_edges: tuple = ()
    """Ids of edges whose gradients are also compared (finite-valued ones)."""
    errors: tuple = ()
    bench: Callable[[int, np.random.Generator], Sample] | None = None
    """(n, rng) -> a Sample with about n elements, for the benchmarks."""
    bench_tol: Tol | None = None
    """float32 tolerance for the benchmark inputs (up to 1e7 elements) where they reduce
    over far more terms than the samples ``tol`` was derived for; None: tol["float32"]."""
    kernel_facts: tuple = ()
    """KernelFacts: edges whose answer TF gives differently on one kernel path."""
    dtypes: tuple = DTYPES
    skips: Mapping[tuple, str] = field(default_factory=dict)
    """(dtype, mode) -> reason, for combinations TensorFlow does not support."""

    def __repr__(self):
        return self.name

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


LONG_SUM = Tol(1024, "a float32 sum of up to 1e7 terms: the textbook bound is (n - 1) eps; Eigen's tree "
                     "sum stays near 10 eps, but XLA's CPU reduction was measured 587 eps off at n = 1e7")


def reduction_tol(ulps_low, ulps32, ulps64, what):
    """Tolerances for a sum or mean of same-sign terms: no cancellation, so relative error.
    float16 and bfloat16 reductions accumulate in float32 (TF's reduction_ops.h, and XLA),
    so only the per-term and final roundings show; the samples sum at most 64 terms."""
    return {"float16": Tol(ulps_low, f"{what}; each term rounded to float16, sum in float32, final rounding"),
            "bfloat16": Tol(ulps_low, f"{what}; each term rounded to bfloat16, sum in float32, final rounding"),
            "float32": Tol(ulps32, f"{what}; <= 64 terms summed in float32 (tree sum: ~log2(64) roundings)"),
            "float64": Tol(ulps64, f"{what}; <= 64 terms summed in float64 (tree sum: ~log2(64) roundings)")}


def off_zero(sample, margin):
    """Move the first argument at least ``margin`` away from 0, the kink of relu and |w|."""
    x = sample.args[0]
    return Sample((np.where(np.abs(x) < margin, np.where(x < 0, -margin, margin), x),) + tuple(sample.args[1:]),
                  sample.kwargs, sample.id)


def tf_errors():
    """What TensorFlow raises for bad input, by mode: InvalidArgumentError from a kernel
    (eager, Session), ValueError or TypeError while tracing (tf.function, XLA, graph building)."""
    import tensorflow as tf
    return (tf.errors.InvalidArgumentError, ValueError, TypeError)


def call_text(fn_name, args, kwargs):
    """A one-line, copy-pasteable call: arrays written out with their dtype."""
    def lit(a):
        if isinstance(a, np.ndarray):
            return f"np.array({np.asarray(a, np.float64).tolist() if a.dtype.kind not in 'iub' else a.tolist()}, dtype='{a.dtype.name}')"
        return repr(a)
    parts = [lit(a) for a in args] + [f"{k}={lit(v)}" for k, v in kwargs.items()]
    return f"{fn_name}({', '.join(parts)})"


def all_concepts():
    """Every entry of every topic module in this package (modules starting with
    an underscore are helpers), in a stable order."""
    import importlib
    import pkgutil
    concepts = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            concepts += importlib.import_module(f"{__name__}.{info.name}").CATALOG
    names = [c.name for c in concepts]
    assert len(names) == len(set(names)), f"duplicate concept names in the catalog: {names}"
    return concepts
