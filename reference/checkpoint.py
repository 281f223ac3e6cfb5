"""Checkpoints: the numbers a checkpoint holds, written and read with NumPy.

A checkpoint is a map from keys to arrays. TensorFlow writes it as a tensor bundle
(``prefix.index``: each key's dtype, shape, offset and CRC-32C; ``prefix.data-00000-of-00001``:
the bytes); this reference writes the same map with ``np.savez`` into one file at ``path``
(a zip of one .npy per key, each with the zip's CRC-32), under the keys TensorFlow uses:

    TF1  tf.compat.v1.train.Saver().save(sess, path)       key = the variable's name: "v1", "layer1/w"
    TF2  tf.train.Checkpoint(v1=v1).write(path)             key = its path in the object graph:
                                                            "v1/.ATTRIBUTES/VARIABLE_VALUE"

Restoring puts each key's array back under its name; a missing file, a shape or dtype that
differs, and a file that is cut short or corrupt are rejected with a message of their own before
any value is replaced (TensorFlow is not always so careful: tests/test_checkpoint.py pins what it
does); a missing key is rejected by restore_v1 (as Saver's NotFoundError), and reported by
restore after the matched values are in, as TF2's assert_consumed() does. The graph a TF1
checkpoint carries beside its numbers (``path.meta``, import_meta_graph, freezing) has no NumPy
counterpart: see tfimpl/checkpoint.py.
"""
import os

import ml_dtypes
import numpy as np

from reference import _checks as check
from reference import moving_average

_TF2_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"  # what tf.train.Checkpoint appends to an attribute's name
_AVERAGE_SUFFIX = "/ExponentialMovingAverage"  # what ExponentialMovingAverage appends to a variable's name


def save(path, variables):
    """Write {tf2_key(name): value} to ``path``; returns ``path``.
    Mirrors tf.train.Checkpoint(**variables).write(path)."""
    _write(path, {tf2_key(name): np.asarray(value) for name, value in variables.items()})
    return str(path)


def restore(path, variables, partial=False):
    """variables[name] <- the checkpoint's tf2_key(name), for every name the checkpoint holds;
    then, unless ``partial``, AssertionError if a variable or a checkpoint value went unmatched.
    Mirrors tf.train.Checkpoint(**variables).read(path).assert_consumed() (``partial``:
    .expect_partial()). Shapes and dtypes are checked for every match before any is replaced.
    ``variables`` is {name: array}; its entries are replaced, where TF assigns its tf.Variables."""
    values = _read(path)
    keys = {tf2_key(name): name for name in variables}
    _assign(path, variables, {keys[k]: k for k in keys if k in values}, values)
    unmatched = sorted(name for name in variables if tf2_key(name) not in values)
    unused = sorted(k for k in values if k not in keys)
    if not partial and (unmatched or unused):
        raise AssertionError(f"checkpoint {path}: variables not found in it: {unmatched}; "
                             f"values in it no variable took: {unused}")
    return variables


def list_variables(path):
    """[(key, shape as a list)] sorted by key. Mirrors tf.train.list_variables(path)."""
    return [(key, list(value.shape)) for key, value in sorted(_read(path).items())]


def load_checkpoint(path):
    """{key: array}. Mirrors tf.train.load_checkpoint(path).get_tensor(key) for every key."""
    return _read(path)


def save_steps(directory, steps, max_to_keep=5):
    """Save steps[0], steps[1], ... (each {name: value}) as ``directory/ckpt-1``, ``ckpt-2``, ...,
    each with its save_counter (int64 k); keep the last ``max_to_keep`` (None: all), delete older
    ones, list the kept ones in ``directory/checkpoint``. Returns the kept paths, oldest first.
    Mirrors tf.train.CheckpointManager(tf.train.Checkpoint(**variables), directory,
    max_to_keep).save() after each step."""
    if max_to_keep is not None:
        check.positive(max_to_keep=max_to_keep)
    os.makedirs(directory, exist_ok=True)
    kept = []
    for k, step in enumerate(steps, start=1):
        kept.append(os.path.join(directory, f"ckpt-{k}"))
        _write(kept[-1], {tf2_key("save_counter"): np.int64(k),
                          **{tf2_key(name): np.asarray(value) for name, value in step.items()}})
        while max_to_keep is not None and len(kept) > max_to_keep:
            os.remove(kept.pop(0))
        _write_state(directory, [os.path.basename(p) for p in kept])
    return kept


def latest_checkpoint(directory):
    """The last path listed in ``directory/checkpoint``, or None. Mirrors tf.train.latest_checkpoint."""
    try:
        with open(os.path.join(directory, "checkpoint")) as f:
            first = f.readline()
    except FileNotFoundError:
        return None
    return os.path.join(directory, first.split('"')[1])


def save_v1(path, variables):
    """Write {name: value} to ``path``; returns ``path``. Mirrors the book's
    tf.compat.v1.train.Saver().save(sess, path) (each variable keyed by its name)."""
    _write(path, {name: np.asarray(value) for name, value in variables.items()})
    _write_state(os.path.dirname(str(path)) or ".", [str(path)])
    return str(path)


def restore_v1(path, variables, names=None):
    """variables[name] <- the checkpoint's names.get(name, name) for every variable: KeyError if
    one is missing; values no variable asks for are ignored. Mirrors
    tf.compat.v1.train.Saver({key: variable}).restore(sess, path)."""
    names = names or {}
    values = _read(path)
    keys = {name: names.get(name, name) for name in variables}
    missing = sorted(k for k in keys.values() if k not in values)
    if missing:
        raise KeyError(f"checkpoint {path} holds no {missing}; it holds {sorted(values)}")
    _assign(path, variables, keys, values)
    return variables


def save_averages_v1(path, values, decay):
    """The book's moving-average checkpoint: for each name, the variable takes values[name][0],
    values[name][1], ... and its shadow follows (moving_average.ema); save the last value under
    ``name`` and the shadow under ``name/ExponentialMovingAverage``. Returns ``path``.
    Bad input: series of different lengths (every variable takes one value per step)."""
    check.in_unit_interval(decay=decay)
    check.same_length(values, "values")
    arrays = {}
    for name, series in values.items():
        series = np.asarray(series)
        shadows = moving_average.ema(series, decay)
        arrays[name] = series[-1]
        arrays[name + _AVERAGE_SUFFIX] = shadows[-1] if len(shadows) else series[0]
    return save_v1(path, arrays)


def restore_averages_v1(path, variables):
    """variables[name] <- the checkpoint's ``name/ExponentialMovingAverage``: the shadow loaded into
    the variable. Mirrors Saver(ema.variables_to_restore()).restore(sess, path)."""
    return restore_v1(path, variables, {name: name + _AVERAGE_SUFFIX for name in variables})


def tf2_key(name):
    """tf.train.Checkpoint's key for attribute ``name``: "." doubled and "/" written ".S"
    (trackable_utils.escape_local_name), then /.ATTRIBUTES/VARIABLE_VALUE."""
    return name.replace(".", "..").replace("/", ".S") + _TF2_SUFFIX


# --- the file: np.savez at exactly ``path``, checked on the way back ------------------------

def _write(path, arrays):
    with open(path, "wb") as f:  # a file object: np.savez would append .npz to a name
        np.savez(f, **arrays)


def _read(path):
    """{key: array}, every array read in full, so the zip checks each one's CRC-32."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except Exception as e:  # noqa: BLE001 - whatever the zip or .npy reader trips on, the file is corrupt
        raise ValueError(f"checkpoint {path} is corrupt: {e}") from e
    # np.save writes bfloat16 (an ml_dtypes type the .npy header cannot name) as raw 2-byte
    # records, |V2; TensorFlow has no void dtype, so a V2 array can only be a bfloat16 one
    for key, a in arrays.items():
        if a.dtype == np.dtype("V2"):
            arrays[key] = a.view(ml_dtypes.bfloat16)
    return arrays


def _assign(path, variables, keys, values):
    """variables[name] <- values[keys[name]], after every pair is checked (nothing changes on a mismatch)."""
    for name, key in keys.items():
        have, want = np.asarray(values[key]), np.asarray(variables[name])
        if have.dtype != want.dtype:  # first, as TF's RestoreV2 checks dtypes before any shape is compared
            raise TypeError(f"checkpoint value {key!r} of {path} has dtype {have.dtype}, "
                            f"variable {name!r} has dtype {want.dtype}")
        if have.shape != want.shape:
            raise ValueError(check.message("same_shape", name_a=f"checkpoint value {key!r} of {path}",
                                           shape_a=have.shape, name_b=f"variable {name!r}", shape_b=want.shape))
    for name, key in keys.items():
        variables[name] = values[key]


def _write_state(directory, paths):
    """The ``checkpoint`` file TensorFlow keeps beside its checkpoints (CheckpointState, text format)."""
    lines = [f'model_checkpoint_path: "{paths[-1]}"'] + [f'all_model_checkpoint_paths: "{p}"' for p in paths]
    with open(os.path.join(directory, "checkpoint"), "w") as f:
        f.write("\n".join(lines) + "\n")
