"""Input checks for the references, kept out of the math.

Each check names the argument, what was expected and what was given, and
raises the exception TensorFlow users would expect for that mistake:
TypeError for a wrong dtype, ValueError for a wrong shape or parameter.
MESSAGES is the one registry of message templates for both sides: the
checks' below, and those reference/tfrecord.py and reference/transfer.py raise.
tfimpl/ fills the same templates (``message(kind, **fields)``), so the two
sides' texts cannot drift; each side decides with its own code when to raise.
"""
import functools

import numpy as np

MESSAGES = {
    "floating": "{name} must be a floating-point array, got dtype {dtype}",
    "real": "{name} must be a real number array (float or integer), got dtype {dtype}",
    "integer": "{name} must be an integer array, got dtype {dtype}",
    "rank_at_least": "{name} must have rank >= {rank}, got rank {ndim} (shape {shape})",
    "rank_is": "{name} must have rank {rank}, got rank {ndim} (shape {shape})",
    "axis_in_range": "{name} {axis} is out of range for an array of rank {ndim} (expected {low} <= {name} < {ndim})",
    "same_shape": "{name_a} shape {shape_a} does not match {name_b} shape {shape_b}",
    "dims_match": ("{name_a} shape {shape_a} does not match {name_b} shape {shape_b} "
                   "({name_a}.shape[{i}] must equal {name_b}.shape[{j}])"),
    "batch_shape": ("{name_a} shape {shape_a} does not match {name_b} shape {shape_b} "
                    "without its class axis, {batch_shape}"),
    "positive": "{name} must be > 0, got {value}",
    "non_negative": "{name} must be >= 0, got {value}",
    "in_unit_interval": "{name} must be in [0, 1], got {value}",
    "one_of": "{name} must be one of {options}, got {value!r}",
    "pairs": "{name} must be a non-empty list of (w, b) pairs, got {value!r}",
    "image_rank": "{name} must have rank 3 (HWC) or 4 (NHWC), got rank {ndim} (shape {shape})",
    "last_dim": "{name} must have {size} {what} (its last dimension), got shape {shape}",
    "size_pair": "{name} must be a pair of positive integers (height, width), got {value!r}",
    "gate_columns": ("{name}.shape[{axis}] must be {gates} * units = {columns} "
                     "(units = recurrent_kernel.shape[0] = {units}), got shape {shape}"),
    "time_steps": "{name} must have at least one time step ({name}.shape[1] >= 1), got shape {shape}",
    # tfrecord: records, feature names and values, serialised Examples
    "record_bytes": "records[{index}] must be bytes, got {type}",
    "feature_name": "feature names must be str, got {type} {name!r}",
    "feature_values": "feature {name!r} must be a list or a 1-D array of ints, floats or bytes, got {what}",
    "feature_empty": ("feature {name!r} is an empty list: its kind (bytes, float or int64) cannot be inferred; "
                      "pass an empty NumPy array of the dtype"),
    "feature_int64": "feature {name!r} holds {value}, outside int64 [-2**63, 2**63 - 1]",
    "feature_no_kind": "feature {name!r} holds no list: none of bytes_list, float_list or int64_list is set",
    "example_malformed": "not a serialised tf.train.Example: {what}",
    # transfer: the activation a pretrained network was saved with (.npz and .keras files record it)
    "activation_mismatch": "activation {given!r} does not match the pretrained network's activation {saved!r}",
    # checkpoint: one value per step for every variable (save_averages_v1)
    "same_length": "{name} must hold the same number of steps for every variable, got lengths {lengths}",
}


def message(kind, **fields):
    """The message for check ``kind``; shapes are tuples, written as NumPy writes them: (4, 3), (4,), ()."""
    return MESSAGES[kind].format(**fields)


def is_floating(dtype):
    """True for float16/32/64 and for bfloat16 (an ml_dtypes extension type
    that NumPy does not count as np.floating)."""
    dtype = np.dtype(dtype)
    return dtype.kind == "f" or dtype.name == "bfloat16"


def floating(x, name):
    if not is_floating(np.asarray(x).dtype):
        raise TypeError(message("floating", name=name, dtype=np.asarray(x).dtype))


def real(x, name):
    dtype = np.asarray(x).dtype
    if not (is_floating(dtype) or dtype.kind in "iu"):
        raise TypeError(message("real", name=name, dtype=dtype))


def integer(x, name):
    if np.asarray(x).dtype.kind not in "iu":
        raise TypeError(message("integer", name=name, dtype=np.asarray(x).dtype))


def rank_at_least(x, rank, name):
    x = np.asarray(x)
    if x.ndim < rank:
        raise ValueError(message("rank_at_least", name=name, rank=rank, ndim=x.ndim, shape=x.shape))


def rank_is(x, rank, name):
    x = np.asarray(x)
    if x.ndim != rank:
        raise ValueError(message("rank_is", name=name, rank=rank, ndim=x.ndim, shape=x.shape))


def axis_in_range(axis, ndim, name="axis"):
    if not -ndim <= axis < ndim:
        raise ValueError(message("axis_in_range", name=name, axis=axis, ndim=ndim, low=-ndim))


def same_shape(a, b, name_a, name_b):
    """Equal shapes, not merely broadcastable ones: (4,) against (4, 1) is the classic bug."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(message("same_shape", name_a=name_a, shape_a=a.shape, name_b=name_b, shape_b=b.shape))


def dims_match(a, i, b, j, name_a, name_b):
    """a.shape[i] == b.shape[j] (the inner dimension of a matmul, a bias against its weights)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape[i] != b.shape[j]:
        raise ValueError(message("dims_match", name_a=name_a, shape_a=a.shape, name_b=name_b, shape_b=b.shape,
                                 i=i, j=j))


def batch_shape(labels, logits, name_a, name_b):
    """labels.shape == logits.shape[:-1]: one class id per row of logits."""
    labels, logits = np.asarray(labels), np.asarray(logits)
    if labels.shape != logits.shape[:-1]:
        raise ValueError(message("batch_shape", name_a=name_a, shape_a=labels.shape, name_b=name_b,
                                 shape_b=logits.shape, batch_shape=logits.shape[:-1]))


def positive(**named):
    for name, value in named.items():
        if not value > 0:
            raise ValueError(message("positive", name=name, value=value))


def in_unit_interval(**named):
    for name, value in named.items():
        if not 0 <= value <= 1:
            raise ValueError(message("in_unit_interval", name=name, value=value))


def one_of(value, options, name):
    if value not in options:
        raise ValueError(message("one_of", name=name, options=list(options), value=value))


def pairs(params, name="params"):
    if not params or not all(len(p) == 2 for p in params):
        raise ValueError(message("pairs", name=name, value=params))


def same_length(series, name):
    """Every entry of the dict ``series`` holds as many values (steps) as the others."""
    lengths = {key: len(np.asarray(value)) for key, value in series.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(message("same_length", name=name, lengths=lengths))


def size_pair(size, name):
    """A pair of positive integers (height, width): Python or NumPy ints, not bool."""
    def side(n):
        return isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0
    if not (isinstance(size, (tuple, list, np.ndarray)) and len(size) == 2 and all(side(n) for n in size)):
        raise ValueError(message("size_pair", name=name, value=size))


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
            raise ValueError(message("non_negative", name=name, value=value))


def gate_columns(a, axis, recurrent_kernel, gates, name):
    """a.shape[axis] == gates * units, units = recurrent_kernel.shape[0]: an RNN's weights hold
    ``gates`` blocks of ``units`` columns side by side (1 for a simple RNN, 4 for an LSTM)."""
    a, units = np.asarray(a), np.shape(recurrent_kernel)[0]
    if a.shape[axis] != gates * units:
        raise ValueError(message("gate_columns", name=name, axis=axis, gates=gates, columns=gates * units,
                                 units=units, shape=a.shape))


def time_steps(x, name):
    """x.shape[1] >= 1: a sequence [batch, time, features] with at least one step."""
    x = np.asarray(x)
    if x.shape[1] < 1:
        raise ValueError(message("time_steps", name=name, shape=x.shape))
