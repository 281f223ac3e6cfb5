"""Checkpoints in TensorFlow: the book's Saver (TF1) beside tf.train.Checkpoint (TF2).

    TF1 (the book, ch5.4), in a Session                      TF2, eagerly
    saver = tf.compat.v1.train.Saver()                       ckpt = tf.train.Checkpoint(v1=v1, v2=v2)
    saver.save(sess, "model.ckpt")                           ckpt.write("model.ckpt")
    saver.restore(sess, "model.ckpt")                        ckpt.read("model.ckpt").assert_consumed()
    Saver(max_to_keep=5), tf.train.latest_checkpoint(dir)    tf.train.CheckpointManager(ckpt, dir, max_to_keep=5)
    tf.compat.v1.train.NewCheckpointReader(path)             tf.train.load_checkpoint(path), list_variables(path)
    key: the variable's name, "v1"                            key: "v1/.ATTRIBUTES/VARIABLE_VALUE", its object path
    Saver({"v/ExponentialMovingAverage": v})                 (restore by object, not by name)
    saver = tf.compat.v1.train.import_meta_graph(path.meta)  no graph in a TF2 checkpoint: tf.saved_model keeps one
    graph_util.convert_variables_to_constants(sess, gd, ..)  convert_variables_to_constants_v2(concrete_function)

Saver.save writes ``path.index`` (each key's dtype, shape, offset and the CRC-32C of its bytes),
``path.data-00000-of-00001`` (the bytes), ``path.meta`` (the graph, a MetaGraphDef) and the
directory's ``checkpoint`` list; Checkpoint.write writes the first two, with the object graph
stored as one more string tensor, ``_CHECKPOINTABLE_OBJECT_GRAPH``. reference/checkpoint.py writes
the same keys and numbers with np.savez.

A bad checkpoint fails differently in the two forms (TF 2.21; tests/test_checkpoint.py pins each):

    bad checkpoint        Checkpoint.read (eager)                   Saver.restore (Session)
    missing path/index    NotFoundError "Failed to find any         ValueError "The passed save_path is
                          matching files for <path>"                not a valid checkpoint: <path>"
    shape mismatch        ValueError "Received incompatible         resource variables (compat.v1's default):
                          tensor with shape ..."; the variables     no error, the variable holds the wrong
                          before it are already restored            shape; RefVariable: InvalidArgumentError
    dtype mismatch        InvalidArgumentError "expected dtype double does not equal original dtype float"
    missing name          AssertionError at assert_consumed         NotFoundError "Key x not found in checkpoint"
    truncated data file   IndexError "Read less bytes than          OutOfRangeError "Read less bytes than
                          requested"                                requested"
    a flipped bit         DataLossError "Checksum does not match: stored <crc32c> vs. calculated on the
                          restored bytes <crc32c>" (TF2, in the object graph's bytes: the same text as a
                          plain OpError, code UNKNOWN: CheckpointReader's error_translator)
"""
import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
from tensorflow.python.trackable import trackable_utils

from tfimpl import _checks as check


def save(path, variables):
    """tf.train.Checkpoint(**variables).write(path), each value a tf.Variable (an array is put in
    one, named by its key); returns the path. Keys: tf2_key(name)."""
    checkpoint = tf.train.Checkpoint(**{name: _variable(value, name) for name, value in variables.items()})
    return checkpoint.write(str(path))


def restore(path, variables, partial=False):
    """tf.train.Checkpoint(**variables).read(path) into the tf.Variables of ``variables``, then
    status.assert_consumed() (AssertionError naming what went unmatched, after restoring what
    matched), or status.expect_partial() with ``partial``. Returns ``variables``."""
    status = tf.train.Checkpoint(**variables).read(str(path))
    if partial:
        status.expect_partial()
    else:
        status.assert_consumed()
    return variables


def list_variables(path):
    """tf.train.list_variables(path): [(key, shape as a list)] sorted by key."""
    return tf.train.list_variables(str(path))


def load_checkpoint(path):
    """{key: array}: tf.train.load_checkpoint(path).get_tensor(key) for every key (the TF2 object
    graph, _CHECKPOINTABLE_OBJECT_GRAPH, comes out as bytes)."""
    reader = tf.train.load_checkpoint(str(path))
    return {key: reader.get_tensor(key) for key in sorted(reader.get_variable_to_shape_map())}


def save_steps(directory, steps, max_to_keep=5):
    """A tf.train.CheckpointManager over tf.train.Checkpoint(**variables), the variables created
    from steps[0]; for each step: assign its values, manager.save() (``directory/ckpt-<k>``, k the
    checkpoint's save_counter). Returns manager.checkpoints: the kept paths, oldest first."""
    if max_to_keep is not None:
        check.positive(max_to_keep=max_to_keep)
    variables = {name: tf.Variable(value, name=name) for name, value in steps[0].items()}
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(**variables), str(directory), max_to_keep=max_to_keep)
    for step in steps:
        for name, value in step.items():
            variables[name].assign(value)
        manager.save()
    return manager.checkpoints


def latest_checkpoint(directory):
    """tf.train.latest_checkpoint(directory): the path the ``checkpoint`` file names, or None."""
    return tf.train.latest_checkpoint(str(directory))


def save_v1(path, variables):
    """The book's Saver::

        v1 = tf.Variable(..., name="v1")                  # one per entry of ``variables``
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            saver.save(sess, path)

    in a fresh tf.Graph with tf.compat.v1. Returns the path Saver.save returns."""
    graph = tf.Graph()
    with graph.as_default():
        for name, value in variables.items():
            tf.compat.v1.Variable(value, name=name)
        saver = tf.compat.v1.train.Saver()
        init = tf.compat.v1.global_variables_initializer()
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        return saver.save(sess, str(path))


def restore_v1(path, variables, names=None):
    """Saver({names.get(name, name): variable}).restore(sess, path) in a fresh graph whose
    variables start at the values of ``variables`` (their shapes and dtypes). Afterwards, failed
    or not, variables[name] is what the session's variable holds. Returns ``variables``."""
    names = names or {}

    def saver(targets):
        return tf.compat.v1.train.Saver({names.get(name, name): var for name, var in targets.items()})
    return _restore_in_fresh_graph(path, variables, saver)


def save_averages_v1(path, values, decay):
    """The book's moving-average checkpoint::

        v = tf.Variable(0, dtype=tf.float32, name="v")
        ema = tf.train.ExponentialMovingAverage(0.99)
        maintain_averages_op = ema.apply(tf.global_variables())
        ... sess.run(tf.assign(v, 10)); sess.run(maintain_averages_op)
        saver.save(sess, path)               # saves v and v/ExponentialMovingAverage

    Each variable starts at values[name][0]; for k = 1, 2, ... every variable is assigned
    values[name][k], then the averages are maintained once. Returns the path. Bad input, as the
    reference: series of different lengths."""
    check.in_unit_interval(decay=decay)
    check.same_length(values, "values")
    values = {name: np.asarray(series) for name, series in values.items()}
    graph = tf.Graph()
    with graph.as_default():
        variables = {name: tf.compat.v1.Variable(series[0], name=name) for name, series in values.items()}
        ema = tf.compat.v1.train.ExponentialMovingAverage(decay)
        maintain_averages_op = ema.apply(tf.compat.v1.global_variables())
        feeds = {name: tf.compat.v1.placeholder(var.dtype, var.shape) for name, var in variables.items()}
        assign = tf.group(*[tf.compat.v1.assign(variables[name], feeds[name]) for name in variables])
        saver = tf.compat.v1.train.Saver()
        init = tf.compat.v1.global_variables_initializer()
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        for k in range(1, len(next(iter(values.values())))):
            sess.run(assign, {feeds[name]: series[k] for name, series in values.items()})
            sess.run(maintain_averages_op)
        return saver.save(sess, str(path))


def restore_averages_v1(path, variables):
    """The book's ``saver = tf.train.Saver(ema.variables_to_restore())``: each variable's shadow,
    ``name/ExponentialMovingAverage``, restored into the variable. Returns ``variables``."""
    def saver(targets):
        ema = tf.compat.v1.train.ExponentialMovingAverage(0.99)  # the book's; the decay plays no part in the names
        return tf.compat.v1.train.Saver(ema.variables_to_restore())  # {"v/ExponentialMovingAverage": v, ...}
    return _restore_in_fresh_graph(path, variables, saver)


def tf2_key(name):
    """tf.train.Checkpoint's key for attribute ``name``: trackable_utils.escape_local_name(name)
    ("." doubled, "/" written ".S"), then /.ATTRIBUTES/VARIABLE_VALUE."""
    return f"{trackable_utils.escape_local_name(name)}/{trackable_utils.OBJECT_ATTRIBUTES_NAME}/VARIABLE_VALUE"


# --- the graph beside the numbers: no NumPy counterpart ---------------------------------------

def save_sum_v1(path, variables):
    """The book's ch5.4 program: the variables and ``result = v1 + v2`` (here tf.add_n, named
    "add", the sum of all of them), saved with Saver (the graph goes to ``path.meta``)."""
    graph = tf.Graph()
    with graph.as_default():
        tf.math.add_n([tf.compat.v1.Variable(value, name=name) for name, value in variables.items()], name="add")
        saver = tf.compat.v1.train.Saver()
        init = tf.compat.v1.global_variables_initializer()
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        return saver.save(sess, str(path))


def import_meta_graph_v1(path, tensor_name):
    """The book's reload without redefining the graph::

        saver = tf.train.import_meta_graph(path + ".meta")
        saver.restore(sess, path)
        sess.run(tf.get_default_graph().get_tensor_by_name("add:0"))"""
    graph = tf.Graph()
    with graph.as_default():
        saver = tf.compat.v1.train.import_meta_graph(str(path) + ".meta")
    with tf.compat.v1.Session(graph=graph) as sess:
        saver.restore(sess, str(path))
        return sess.run(graph.get_tensor_by_name(tensor_name))


def freeze_v1(path, output_names, pb_path):
    """The book's frozen graph, from a checkpoint: import_meta_graph, restore, then
    ``graph_util.convert_variables_to_constants(sess, graph_def, output_names)`` writes each
    variable's value into the GraphDef as a Const; the GraphDef is written to ``pb_path`` and returned."""
    graph = tf.Graph()
    with graph.as_default():
        saver = tf.compat.v1.train.import_meta_graph(str(path) + ".meta")
    with tf.compat.v1.Session(graph=graph) as sess:
        saver.restore(sess, str(path))
        frozen = tf.compat.v1.graph_util.convert_variables_to_constants(sess, graph.as_graph_def(), list(output_names))
    with tf.io.gfile.GFile(str(pb_path), "wb") as f:
        f.write(frozen.SerializeToString())
    return frozen


def run_frozen_v1(pb_path, tensor_name):
    """The book's reading of a frozen graph::

        graph_def = tf.GraphDef(); graph_def.ParseFromString(f.read())
        result = tf.import_graph_def(graph_def, return_elements=["add:0"])
        sess.run(result)"""
    graph_def = tf.compat.v1.GraphDef()
    with tf.io.gfile.GFile(str(pb_path), "rb") as f:
        graph_def.ParseFromString(f.read())
    graph = tf.Graph()
    with graph.as_default():
        (result,) = tf.compat.v1.import_graph_def(graph_def, return_elements=[tensor_name])
    with tf.compat.v1.Session(graph=graph) as sess:
        return sess.run(result)


def freeze(function):
    """TF2's freezing: convert_variables_to_constants_v2 on the concrete function of ``function``
    (a tf.function taking no arguments, or one with an input_signature): every captured variable
    becomes a Const of its current value. Returns the frozen ConcreteFunction."""
    concrete = function.get_concrete_function() if hasattr(function, "get_concrete_function") else function
    return convert_variables_to_constants_v2(concrete)


def _restore_in_fresh_graph(path, variables, saver_for):
    """A fresh graph holding a tf.compat.v1.Variable per entry of ``variables`` (named by its key,
    starting at its value), ``saver_for(those variables)``; in a Session: initialise, saver.restore.
    Afterwards, failed or not, variables[name] is what the session's variable holds."""
    graph = tf.Graph()
    with graph.as_default():
        targets = {name: tf.compat.v1.Variable(value, name=name) for name, value in variables.items()}
        saver = saver_for(targets)
        init = tf.compat.v1.global_variables_initializer()
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        try:
            saver.restore(sess, str(path))
        finally:
            variables.update({name: np.asarray(value) for name, value in sess.run(targets).items()})
    return variables


def _variable(value, name):
    return value if isinstance(value, tf.Variable) else tf.Variable(value, name=name)
