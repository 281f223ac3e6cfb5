"""Input checks for the references, kept out of the math.

Each check names the argument, what was expected and what was given, and
raises the exception TensorFlow users would expect for that mistake:
TypeError for a wrong dtype, ValueError for a wrong shape or parameter.
"""
import functools

import numpy as np


def is_floating(dtype):
    """True for float16/32/64 and for bfloat16 (an ml_dtypes extension type
    that NumPy does not count as np.floating)."""
    dtype = np.dtype(dtype)
    return dtype.kind == "f" or dtype.name == "bfloat16"


def floating(x, name):
    if not is_floating(np.asarray(x).dtype):
        raise TypeError(f"{name} must be a floating-point array, got dtype {np.asarray(x).dtype}")


def real(x, name):
    dtype = np.asarray(x).dtype
    if not (is_floating(dtype) or dtype.kind in "iu"):
        raise TypeError(f"{name} must be a real number array (float or integer), got dtype {dtype}")


def integer(x, name):
    if np.asarray(x).dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array, got dtype {np.asarray(x).dtype}")


def rank_at_least(x, rank, name):
    x = np.asarray(x)
    if x.ndim < rank:
        raise ValueError(f"{name} must have rank >= {rank}, got rank {x.ndim} (shape {x.shape})")


def rank_is(x, rank, name):
    x = np.asarray(x)
    if x.ndim != rank:
        raise ValueError(f"{name} must have rank {rank}, got rank {x.ndim} (shape {x.shape})")


def axis_in_range(axis, ndim, name="axis"):
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name} {axis} is out of range for an array of rank {ndim} "
                         f"(expected {-ndim} <= {name} < {ndim})")


def same_shape(a, b, name_a, name_b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"{name_a} shape {a.shape} does not match {name_b} shape {b.shape}")


def positive(**named):
    for name, value in named.items():
        if not value > 0:
            raise ValueError(f"{name} must be > 0, got {value}")


def in_unit_interval(**named):
    for name, value in named.items():
        if not 0 <= value <= 1:
            raise ValueError(f"{name} must be in [0, 1], got {value}")


def in_float64(fn):
    """Run ``fn`` on float64 copies of its floating array arguments and cast
    every floating result back to the dtype of the first floating argument
    (so float16 in, float16 out, with the arithmetic done in float64).
    Integer arrays (class ids, steps) pass through untouched, so a function's
    own checks still see what the caller gave."""

    def up(a):
        return a.astype(np.float64) if isinstance(a, np.ndarray) and is_floating(a.dtype) else a

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        args = tuple(np.asarray(a) if isinstance(a, (list, np.generic)) else a for a in args)
        floats = [a.dtype for a in args if isinstance(a, np.ndarray) and is_floating(a.dtype)]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            # inf and NaN inputs give IEEE inf and NaN results: the answer, not a warning
            out = fn(*(up(a) for a in args), **{k: up(v) for k, v in kwargs.items()})
        if not floats:
            return out
        return _cast_floats(out, floats[0])

    return wrapper


def _cast_floats(out, dtype):
    if isinstance(out, (tuple, list)):
        return type(out)(_cast_floats(o, dtype) for o in out)
    out = np.asarray(out)
    return out.astype(dtype) if is_floating(out.dtype) else out


def non_negative(**named):
    for name, value in named.items():
        if not value >= 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
