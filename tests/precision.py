"""The dtypes under test and their precision: the one table of eps and tiny.

eps is the gap after 1.0 (one correctly rounded operation is off by at most eps / 2 relative);
tiny is the smallest normal number, below which TF's CPU kernels may flush to zero. Tolerances,
error models and the report all count in eps(dtype) and read it from here.
"""
import ml_dtypes
import numpy as np

DTYPES = ("float16", "bfloat16", "float32", "float64")
LOW = ("float16", "bfloat16")
"""The half-precision dtypes: TF accumulates some of their ops in float32, XLA rounds op by op."""

MANTISSA_BITS = {"float16": 10, "bfloat16": 7, "float32": 23, "float64": 52}
MIN_EXPONENT = {"float16": -14, "bfloat16": -126, "float32": -126, "float64": -1022}

EPS = {name: 2.0 ** -bits for name, bits in MANTISSA_BITS.items()}
"""Machine epsilon: 2**-10 float16, 2**-7 bfloat16, 2**-23 float32, 2**-52 float64."""
TINY = {name: 2.0 ** exponent for name, exponent in MIN_EXPONENT.items()}
"""Smallest positive normal number: 2**-14 float16, 2**-126 bfloat16 and float32, 2**-1022 float64."""


def eps(name):
    """Machine epsilon of the dtype ``name``."""
    return EPS[name]


def tiny(name):
    """Smallest positive normal number of the dtype ``name`` (below it, precision is lost to underflow)."""
    return TINY[name]


def np_dtype(name):
    """NumPy dtype for a dtype name; bfloat16 is ml_dtypes' type, the one TensorFlow's tensors hold."""
    return np.dtype(ml_dtypes.bfloat16) if name == "bfloat16" else np.dtype(name)


def is_float_array(a):
    """A NumPy array of a floating dtype, bfloat16 included (NumPy does not count it as floating)."""
    return isinstance(a, np.ndarray) and (a.dtype.kind == "f" or a.dtype.name == "bfloat16")
