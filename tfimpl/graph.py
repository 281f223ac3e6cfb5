"""Graphs, tensors, dtypes and sessions (the book's chapter 3): what TF1 makes the reader
write out and TF2 does behind the scenes.

    TF1 (tf.compat.v1: build a graph, then run it)         TF2 (run at once; trace on request)
    g1 = tf.Graph()                                         (no graph to manage: a variable is a
    with g1.as_default():                                    Python object and belongs to whatever
        v = tf.get_variable("v", shape=[1],                  holds it)
                initializer=tf.zeros_initializer())         v = tf.Variable(tf.zeros([1]), name="v")
    a = tf.constant([1.0, 2.0], name="a")                   a = tf.constant([1.0, 2.0])
    result = tf.add(a, b, name="add")                       result = tf.add(a, b)
    print(result)                                           print(result)
      Tensor("add:0", shape=(2,), dtype=float32)              tf.Tensor([3. 5.], shape=(2,), dtype=float32)
    with tf.Session(graph=g) as sess:                       result.numpy()
        sess.run(result)
    x = tf.placeholder(tf.float32, (None, 2))               f = tf.function(fn)   # traced on the first call
    y = fn(x); sess.run(y, feed_dict={x: batch})            f(batch)              # jit_compile=True: XLA

A TF1 tensor holds no number: it names an operation's output, "add:0" being output 0 of the
op "add", with the shape and dtype known while building. ``Session.run`` computes what a fetch
needs, each time it is called. Inside ``tf.function`` TF2 still builds such a graph, and its
tensors have the same names; an eager tensor is a value and has none.

Python numbers become int32 (``1``) and float32 (``1.0``), not NumPy's int64 and float64; NumPy
arrays keep their dtype. TF never converts between dtypes in an op: int32 + float32 is an error,
in a graph and eagerly, until a ``dtype=`` makes the two match.

tests/test_graph.py states each fact; tests/test_snippets.py runs the snippets that fail today
(the notes' ``with tf.Session as sess``, the first edition's ``tf.zeros_initializer(shape=[1])``,
right in TF 0.12) beside the forms that run. The module
has no NumPy twin: NumPy computes at once and has no graph (tests/test_api.py, TF_ONLY_MODULES).
"""
import numpy as np
import tensorflow as tf

# --- graphs (ch3.1) --------------------------------------------------------------------


def variables_in_two_graphs_v1():
    """The book's two graphs, each holding a variable "v": zeros in g1, ones in g2, each read in
    a Session of its own graph, as the second edition writes it (the first edition's
    tf.zeros_initializer(shape=[1]) takes no shape since TF 1.0: it goes to get_variable).
    Returns (g1's v, g2's v): [0.] and [1.]."""
    values = []
    for initializer in (tf.compat.v1.zeros_initializer(), tf.compat.v1.ones_initializer()):
        graph = tf.Graph()
        with graph.as_default():
            tf.compat.v1.get_variable("v", shape=[1], initializer=initializer)
        with tf.compat.v1.Session(graph=graph) as sess:  # also makes graph the default graph
            tf.compat.v1.global_variables_initializer().run()
            with tf.compat.v1.variable_scope("", reuse=True):
                values.append(sess.run(tf.compat.v1.get_variable("v")))
    return tuple(values)


def variables_in_two_modules():
    """TF2: two variables both named "v", each held by its own tf.Module. Names are labels, not
    keys: nothing clashes, and each module reads its own. Returns ([0.], [1.])."""
    first, second = tf.Module(name="g1"), tf.Module(name="g2")
    first.v = tf.Variable(tf.zeros([1]), name="v")
    second.v = tf.Variable(tf.ones([1]), name="v")
    return first.v.numpy(), second.v.numpy()


# --- tensors and dtypes (ch3.2) --------------------------------------------------------

def add_v1(a, b, dtype=None):
    """The book's first program: ``a = tf.constant(a, name="a", dtype=dtype)``, b likewise,
    ``result = tf.add(a, b, name="add")``, built in a new graph and not run. Returns
    (graph, result). ``print(result)`` shows ``Tensor("add:0", shape=(2,), dtype=float32)``.

    With dtype None TF infers each constant's dtype: ``[1, 2]`` is int32, ``[2.0, 3.0]`` float32,
    and adding them raises TypeError while building; ``dtype=tf.float32`` is the book's fix."""
    graph = tf.Graph()
    with graph.as_default():
        a = tf.constant(a, name="a", dtype=dtype)
        b = tf.constant(b, name="b", dtype=dtype)
        result = tf.add(a, b, name="add")
    return graph, result


def add(a, b, dtype=None):
    """TF2: the same lines run eagerly. The result is a value at once,
    ``tf.Tensor([3. 5.], shape=(2,), dtype=float32)``, and has no name. int32 + float32 raises
    InvalidArgumentError when the op runs."""
    return tf.add(tf.constant(a, dtype=dtype), tf.constant(b, dtype=dtype), name="add")


def counted_square_v1(x):
    """A graph is a record of operations: ``y = x * x`` in a new graph, computed by a Python
    callback (tf.numpy_function) that appends to ``calls`` each time it runs. Building appends
    nothing; every ``sess.run(y)`` appends once. Returns (graph, y, calls)."""
    calls = []

    def square(v):
        calls.append(v.copy())
        return v * v

    x = np.asarray(x)
    graph = tf.Graph()
    with graph.as_default():
        y = tf.numpy_function(square, [tf.constant(x)], tf.as_dtype(x.dtype), name="square")
    return graph, y, calls


def counted_square(x):
    """TF2: the same callback in a tf.function, traced once for ``x``'s signature. Tracing
    appends nothing; each call of the function appends once. Returns (function, calls)."""
    calls = []

    def square(v):
        calls.append(v.copy())
        return v * v

    x = np.asarray(x)
    fn = tf.function(lambda t: tf.numpy_function(square, [t], t.dtype, name="square"))
    fn.get_concrete_function(tf.TensorSpec(x.shape, x.dtype))
    return fn, calls


# --- sessions (ch3.3) ------------------------------------------------------------------

def run_v1(graph, fetches, feed_dict=None):
    """The book's second pattern: ``with tf.Session(graph=graph) as sess: sess.run(fetches)``.
    The with-block makes sess the default session and graph the default graph, and closes
    sess at its end: running it afterwards raises RuntimeError."""
    with tf.compat.v1.Session(graph=graph) as sess:
        return sess.run(fetches, feed_dict=feed_dict)


def run_and_close_v1(graph, fetches, feed_dict=None):
    """The book's first pattern: ``sess = tf.Session(); sess.run(fetches); sess.close()``. Not the
    default session; it runs until close(), which a raised error skips (the book's reason to
    prefer the with-block)."""
    sess = tf.compat.v1.Session(graph=graph)
    value = sess.run(fetches, feed_dict=feed_dict)
    sess.close()
    return value


def eval_v1(graph, tensor):
    """``tensor.eval()`` needs a default session, which TF1 never makes on its own:
    ``with sess.as_default(): tensor.eval()``. Leaving as_default() does not close sess."""
    sess = tf.compat.v1.Session(graph=graph)
    with sess.as_default():
        value = tensor.eval()
    sess.close()
    return value


def interactive_eval_v1(graph, tensor, config=None):
    """``sess = tf.InteractiveSession(config=config)``: made the default session as it is
    created, so ``tensor.eval()`` needs no session; it stays the default until ``sess.close()``.
    ``config``: a tf.compat.v1.ConfigProto (the book's allow_soft_placement, log_device_placement)."""
    sess = tf.compat.v1.InteractiveSession(graph=graph, config=config)
    value = tensor.eval()
    sess.close()
    return value


class SessionFunction:
    """TF1's "build once, run many", the twin of TF2's ``tf.function(fn)``: placeholders shaped
    like ``examples`` (the first axis None, a batch of any size), ``y = fn(*placeholders)`` in a
    new graph, and one Session kept open. ``f(*arrays)`` is ``sess.run(y, feed_dict={...})``.
    Close it (or use it in a with-block) to free the session."""

    def __init__(self, fn, *examples):
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.placeholders = [tf.compat.v1.placeholder(np.asarray(e).dtype, (None,) + np.shape(e)[1:])
                                 for e in examples]
            self.output = fn(*self.placeholders)
        self.session = tf.compat.v1.Session(graph=self.graph)

    def __call__(self, *arrays):
        return self.session.run(self.output, feed_dict=dict(zip(self.placeholders, arrays)))

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
