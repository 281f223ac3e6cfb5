"""Input checks for the TensorFlow forms, kept out of the math: the twin of
reference/_checks.py, the same checks under the same names, raising the same
exception types with the same messages. Only the texts are shared (the templates
are reference/_checks.py's MESSAGES, so the two cannot drift); every check here is
this module's own code, so a test comparing the two sides compares two checks.

A check reads the static dtype and shape while the function is traced, so one
check serves every way of running it: eagerly (traced on every call, every
shape known), in tf.function, under XLA (jit_compile) and in a TF1 graph. A
static failure raises at once: TypeError for a wrong dtype, ValueError for a
wrong rank or shape, whose unknown dimensions print as None, e.g.
``y_true shape (None,) does not match y_pred shape (None, None)``.

Where the check needs a dimension that is unknown at trace time (a
shape-generic input signature, a placeholder of shape [None, ...]), it adds a
runtime assert whose message is the same template filled from the runtime
shapes, and returns its input tied to the assert: the Session or tf.function
run then fails with InvalidArgumentError ``assertion failed: [<message>]``.
XLA compiles Assert ops away, so under jit_compile such a mismatch is left to
XLA's own shape checks: a mismatch the ops cannot broadcast fails to compile,
a broadcastable one (N, 1) against (N, M) goes through. The catalog's
BadInputs state, case by case, what XLA does.
"""
import numbers
import string

import numpy as np
import tensorflow as tf

from reference._checks import MESSAGES, message

# --- what is known at trace time ---------------------------------------------------


def _static(x):
    """(tf.DType, tf.TensorShape) of ``x``, without copying a NumPy array into a tensor."""
    if tf.is_tensor(x) or isinstance(x, tf.Variable):
        return x.dtype, x.shape
    if isinstance(x, (np.ndarray, np.generic)):
        return tf.as_dtype(x.dtype), tf.TensorShape(x.shape)
    t = tf.convert_to_tensor(x)
    return t.dtype, t.shape


def _text(shape):
    """A static shape as NumPy writes one, unknown dimensions as None: (4, 3), (None,), ()."""
    return "<unknown rank>" if shape.rank is None else str(tuple(shape.as_list()))


# --- runtime checks, where a dimension is only known when the graph runs ------------

def _runtime_text(shape_vector):
    """A runtime shape vector as a string tensor in the same form: (4, 3), (4,), ().
    tf.equal, not ==: in a TF1 graph ``tensor == 1`` is Python identity, always False."""
    s = tf.strings.as_string(shape_vector)
    comma = tf.where(tf.equal(tf.size(s), 1), ",", "")
    return tf.strings.join(["(", tf.strings.reduce_join(s, separator=", "), comma, ")"])


def _runtime_message(kind, **fields):
    """MESSAGES[kind] with string-tensor fields joined in: the template the reference fills."""
    parts, fmt = [], string.Formatter()
    for literal, field, spec, conversion in fmt.parse(MESSAGES[kind]):
        parts.append(literal)
        if field is not None:
            value = fields[field]
            parts.append(value if tf.is_tensor(value) else fmt.format_field(fmt.convert_field(value, conversion), spec))
    return tf.strings.join(parts)


def _require(ok, x, kind, **fields):
    """``x`` tied to an assert that ``ok`` holds, failing with MESSAGES[kind] (fields filled at run time)."""
    assertion = tf.debugging.Assert(ok, [_runtime_message(kind, **fields)], name=f"check_{kind}")
    with tf.control_dependencies([assertion]):
        return tf.identity(x)


def _shape_of(x):
    return tf.shape(x, out_type=tf.int64)


# --- dtypes --------------------------------------------------------------------------

def floating(x, name):
    dtype, _ = _static(x)
    if not dtype.is_floating:
        raise TypeError(message("floating", name=name, dtype=dtype.name))


def real(x, name):
    dtype, _ = _static(x)
    if not (dtype.is_floating or dtype.is_integer):
        raise TypeError(message("real", name=name, dtype=dtype.name))


def integer(x, name):
    dtype, _ = _static(x)
    if not dtype.is_integer:
        raise TypeError(message("integer", name=name, dtype=dtype.name))


# --- ranks and axes (static: the rank of a traced tensor is known) ---------------------

def rank_at_least(x, rank, name):
    _, shape = _static(x)
    if shape.rank is not None and shape.rank < rank:
        raise ValueError(message("rank_at_least", name=name, rank=rank, ndim=shape.rank, shape=_text(shape)))


def rank_is(x, rank, name):
    _, shape = _static(x)
    if shape.rank is not None and shape.rank != rank:
        raise ValueError(message("rank_is", name=name, rank=rank, ndim=shape.rank, shape=_text(shape)))


def axis_in_range(axis, x, name="axis"):
    """``axis`` against the rank of ``x`` (the reference takes the rank itself)."""
    ndim = _static(x)[1].rank
    if ndim is not None and not -ndim <= axis < ndim:
        raise ValueError(message("axis_in_range", name=name, axis=axis, ndim=ndim, low=-ndim))


# --- shapes: static where known, a runtime assert where not -----------------------------

def same_shape(a, b, name_a, name_b):
    """Equal shapes, not merely broadcastable ones: (4,) against (4, 1) is the classic bug.
    Returns (a, b), a tied to a runtime assert where a dimension is unknown at trace time."""
    sa, sb = _static(a)[1], _static(b)[1]
    if not sa.is_compatible_with(sb):  # a rank or a known dimension differs
        raise ValueError(message("same_shape", name_a=name_a, shape_a=_text(sa), name_b=name_b, shape_b=_text(sb)))
    if sa.is_fully_defined() and sb.is_fully_defined():
        return a, b
    ta, tb = _runtime_text(_shape_of(a)), _runtime_text(_shape_of(b))
    ok = (tf.reduce_all(tf.equal(_shape_of(a), _shape_of(b))) if sa.rank is not None and sb.rank is not None
          else tf.equal(ta, tb))
    return _require(ok, a, "same_shape", name_a=name_a, shape_a=ta, name_b=name_b, shape_b=tb), b


def dims_match(a, i, b, j, name_a, name_b):
    """a.shape[i] == b.shape[j] (the inner dimension of a matmul, a bias against its weights);
    the ranks are checked first. Returns (a, b) as same_shape does."""
    sa, sb = _static(a)[1], _static(b)[1]
    da, db = tf.compat.dimension_value(sa[i]), tf.compat.dimension_value(sb[j])
    if da is not None and db is not None:
        if da != db:
            raise ValueError(message("dims_match", name_a=name_a, shape_a=_text(sa), name_b=name_b, shape_b=_text(sb),
                                     i=i, j=j))
        return a, b
    ok = tf.equal(_shape_of(a)[i], _shape_of(b)[j])
    return _require(ok, a, "dims_match", name_a=name_a, shape_a=_runtime_text(_shape_of(a)), name_b=name_b,
                    shape_b=_runtime_text(_shape_of(b)), i=i, j=j), b


def batch_shape(labels, logits, name_a, name_b):
    """labels.shape == logits.shape[:-1]: one class id per row of logits (logits' rank is
    checked first). Returns (labels, logits) as same_shape does."""
    sl, sg = _static(labels)[1], _static(logits)[1]
    if not sl.is_compatible_with(sg[:-1]):
        raise ValueError(message("batch_shape", name_a=name_a, shape_a=_text(sl), name_b=name_b, shape_b=_text(sg),
                                 batch_shape=_text(sg[:-1])))
    if sl.is_fully_defined() and sg[:-1].is_fully_defined():
        return labels, logits
    batch = _shape_of(logits)[:-1]
    tl, tb = _runtime_text(_shape_of(labels)), _runtime_text(batch)
    ok = (tf.reduce_all(tf.equal(_shape_of(labels), batch)) if sl.rank is not None and sg.rank is not None
          else tf.equal(tl, tb))
    return _require(ok, labels, "batch_shape", name_a=name_a, shape_a=tl, name_b=name_b,
                    shape_b=_runtime_text(_shape_of(logits)), batch_shape=tb), logits


def gate_columns(a, axis, recurrent_kernel, gates, name):
    """a.shape[axis] == gates * units, units = recurrent_kernel.shape[0]: an RNN's weights hold
    ``gates`` blocks of ``units`` columns side by side. Returns ``a``, tied to a runtime assert
    where a dimension is unknown at trace time."""
    sa, sr = _static(a)[1], _static(recurrent_kernel)[1]
    da, units = tf.compat.dimension_value(sa[axis]), tf.compat.dimension_value(sr[0])
    if da is not None and units is not None:
        if da != gates * units:
            raise ValueError(message("gate_columns", name=name, axis=axis, gates=gates, columns=gates * units,
                                     units=units, shape=_text(sa)))
        return a
    units = _shape_of(recurrent_kernel)[0]
    return _require(tf.equal(_shape_of(a)[axis], gates * units), a, "gate_columns", name=name, axis=axis,
                    gates=gates, columns=tf.strings.as_string(gates * units), units=tf.strings.as_string(units),
                    shape=_runtime_text(_shape_of(a)))


def time_steps(x, name):
    """x.shape[1] >= 1: a sequence [batch, time, features] with at least one step. Returns ``x``,
    tied to a runtime assert where the length is unknown at trace time."""
    shape = _static(x)[1]
    steps = tf.compat.dimension_value(shape[1])
    if steps is not None:
        if steps < 1:
            raise ValueError(message("time_steps", name=name, shape=_text(shape)))
        return x
    return _require(tf.greater_equal(_shape_of(x)[1], 1), x, "time_steps", name=name,
                    shape=_runtime_text(_shape_of(x)))

# --- parameters: Python numbers (a tensor-valued parameter is left to the ops) ------------

def _number(value):
    return isinstance(value, numbers.Real) or (isinstance(value, np.ndarray) and value.ndim == 0)


def positive(**named):
    for name, value in named.items():
        if _number(value) and not value > 0:
            raise ValueError(message("positive", name=name, value=value))


def non_negative(**named):
    for name, value in named.items():
        if _number(value) and not value >= 0:
            raise ValueError(message("non_negative", name=name, value=value))


def in_unit_interval(**named):
    for name, value in named.items():
        if _number(value) and not 0 <= value <= 1:
            raise ValueError(message("in_unit_interval", name=name, value=value))


# --- Python-valued parameters: options, layer lists, sizes ---------------------------------

def one_of(value, options, name):
    """``value`` is one of ``options`` (a tuple, or a dict's keys)."""
    if value not in options:
        raise ValueError(message("one_of", name=name, options=list(options), value=value))


def pairs(params, name="params"):
    """A non-empty list of (w, b) pairs: what mlp_forward and the optimizers zip over."""
    if not params or any(len(p) != 2 for p in params):
        raise ValueError(message("pairs", name=name, value=params))


def same_length(series, name):
    """Every entry of the dict ``series`` holds as many steps as the others (axis 0): a loop that runs
    one step per value would otherwise stop at the first variable's length."""
    lengths = {key: int(_static(value)[1][0]) for key, value in series.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(message("same_length", name=name, lengths=lengths))


def size_pair(size, name):
    """A pair of positive integers (height, width), read as tf.image.resize reads ``size``: converted
    to a tensor of integers and shape [2] (image_ops_impl._resize_images_common). Its kernel refuses a
    side < 1 only when it runs, and it would take a bool beside an int as 1; here both fail at once.
    A size whose value is known only when a graph runs is left to TF's own checks."""
    try:
        t = tf.convert_to_tensor(size)
    except (TypeError, ValueError):  # mixed types (True, 2), None, strings
        raise ValueError(message("size_pair", name=name, value=size)) from None
    value = tf.get_static_value(t)
    if value is None:
        return
    if not (t.dtype.is_integer and t.shape == [2] and (value > 0).all()):
        raise ValueError(message("size_pair", name=name, value=size))
