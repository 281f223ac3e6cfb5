"""Graphs, tensor names, dtype inference and Session lifetime (the book's chapter 3), in real
tf.compat.v1 graphs and Sessions beside the TF2 forms (eager tensors, tf.function, tf.Module).
The book's snippets that fail outright are in test_snippets.py."""
import re

import numpy as np
import pytest
import tensorflow as tf

import tfimpl.graph as G

# --- graphs (ch3.1) --------------------------------------------------------------------


@pytest.mark.claim("ch3.1", "a variable v in graph g1 and another v in graph g2 do not share: initialised with "
                            "zeros in g1 and ones in g2, g1's Session reads [0.] and g2's reads [1.]",
                   source="book", code="1.4.0/Chapter03/1. 图，张量及会话.ipynb, cell 1 (prints [ 0.] and [ 1.])")
def test_two_graphs_each_hold_their_own_v_and_a_session_reads_only_its_graph():
    in_g1, in_g2 = G.variables_in_two_graphs_v1()
    np.testing.assert_array_equal(in_g1, np.zeros(1, np.float32))
    np.testing.assert_array_equal(in_g2, np.ones(1, np.float32))
    g1, g2 = tf.Graph(), tf.Graph()
    with g1.as_default():
        v1 = tf.compat.v1.get_variable("v", shape=[1], initializer=tf.compat.v1.zeros_initializer())
        assert v1.graph is g1 is tf.compat.v1.get_default_graph()
    with g2.as_default():
        v2 = tf.compat.v1.get_variable("v", shape=[1], initializer=tf.compat.v1.ones_initializer())
    assert v1.name == v2.name == "v:0"  # one name in two graphs: no clash
    with tf.compat.v1.Session(graph=g1) as sess:
        with pytest.raises(ValueError, match=r"is not an element of this graph"):
            sess.run(v2)  # g2's variable, fetched in g1's Session


@pytest.mark.claim("ch3.1", "graphs keep their tensors and operations apart: which v a program gets is decided by the "
                            "Graph object it builds in or hands the Session, not by the name v", source="book",
                   code="1.4.0/Chapter03/1. 图，张量及会话.ipynb, cell 1 (tf.Session(graph=g1), tf.Session(graph=g2))")
def test_the_graph_object_is_the_key_so_the_name_v_finds_nothing_in_a_third_graph():
    """Two graphs hold a variable named v each (both 'v:0'); a third graph, given no v, finds none by
    that name (get_variable with reuse=True raises), and the default graph outside every block is
    none of the three. A graph has no name to look it up by: the object is the handle."""
    graphs = [tf.Graph() for _ in range(3)]
    for graph, init in zip(graphs[:2], (tf.compat.v1.zeros_initializer(), tf.compat.v1.ones_initializer())):
        with graph.as_default():
            tf.compat.v1.get_variable("v", shape=[1], initializer=init)
    variables = [g.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES) for g in graphs]
    assert [[v.name for v in vs] for vs in variables] == [["v:0"], ["v:0"], []]
    with graphs[2].as_default(), tf.compat.v1.variable_scope("", reuse=True):
        with pytest.raises(ValueError, match="Variable v does not exist"):
            tf.compat.v1.get_variable("v", shape=[1])
    assert all(tf.compat.v1.get_default_graph() is not g for g in graphs)
    assert not hasattr(tf.Graph(), "name")
    read = []
    for graph, (v,) in zip(graphs[:2], variables[:2]):
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            read.append(sess.run(v))
    np.testing.assert_array_equal(read, [[0.0], [1.0]])


@pytest.mark.claim("ch3.1", "TF2 has no graphs to manage: a variable is a Python object, and two variables named v "
                            "held by two tf.Modules are two variables; the name is a label, not a key, and each "
                            "module reads its own v", source="port")
def test_tf2_two_variables_named_v_in_two_modules_are_separate():
    first, second = G.variables_in_two_modules()
    np.testing.assert_array_equal(first, np.zeros(1, np.float32))
    np.testing.assert_array_equal(second, np.ones(1, np.float32))
    a, b = tf.Variable(0.0, name="v"), tf.Variable(1.0, name="v")
    assert a.name == b.name == "v:0" and a is not b  # eagerly, TF does not even make the names unique


# --- tensors (ch3.2) -------------------------------------------------------------------

@pytest.mark.claim("ch3.2", "a tensor holds no numbers, only how to compute them: print(result) shows "
                            "Tensor(\"add:0\", shape=(2,), dtype=float32), its name, shape and type",
                   source="book", code="1.4.0/Chapter03/1. 图，张量及会话.ipynb, cell 3")
def test_a_graph_tensor_prints_as_node_colon_output_index_with_shape_and_dtype():
    graph, result = G.add_v1([1.0, 2.0], [2.0, 3.0])
    assert str(result) == 'Tensor("add:0", shape=(2,), dtype=float32)'
    assert (result.name, result.op.name, result.value_index) == ("add:0", "add", 0)
    assert result.op.type == "AddV2" and [t.name for t in result.op.inputs] == ["a:0", "b:0"]
    with pytest.raises(AttributeError, match="numpy"):
        result.numpy()  # a symbolic tensor has no value to show
    with graph.as_default():
        again = tf.add(*result.op.inputs, name="add")
    assert again.name == "add_1:0"  # a taken op name is made unique, not shared


def test_the_second_output_of_a_multi_output_op_is_index_1():
    with tf.Graph().as_default():
        halves = tf.split(tf.constant([1.0, 2.0, 3.0, 4.0]), 2)
        unique = tf.unique(tf.constant([5, 5, 7]))
    assert [t.name for t in halves] == ["split:0", "split:1"]
    assert (unique.y.name, unique.idx.name) == ("Unique:0", "Unique:1")
    assert unique.idx is unique.y.op.outputs[1] and unique.idx.value_index == 1


@pytest.mark.claim("ch3.2", "in TF2 a tensor is computed at once: it has a value, a shape and a dtype but no name "
                            "(.name raises AttributeError); inside tf.function the traced tensor is named add:0 as "
                            "in TF1", source="port")
def test_eager_tensors_have_the_graph_shape_and_dtype_and_a_value_but_no_name():
    _, symbolic = G.add_v1([1.0, 2.0], [2.0, 3.0])
    eager = G.add([1.0, 2.0], [2.0, 3.0])
    assert (eager.shape, eager.dtype) == (symbolic.shape, symbolic.dtype) == ((2,), tf.float32)
    np.testing.assert_array_equal(eager.numpy(), np.array([1.0, 2.0]) + np.array([2.0, 3.0]))  # small ints: exact
    with pytest.raises(AttributeError, match="Tensor.name is undefined when eager execution is enabled"):
        eager.name  # noqa: B018
    traced = tf.function(lambda a, b: tf.add(a, b, name="add")).get_concrete_function(
        tf.TensorSpec([2], tf.float32), tf.TensorSpec([2], tf.float32))
    add_op = traced.graph.get_operation_by_name("add")
    assert str(add_op.outputs[0]) == 'Tensor("add:0", shape=(2,), dtype=float32)'


@pytest.mark.claim("ch3.3", "building the graph computes nothing; sess.run computes a fetch, and computes it "
                            "again at every run", source="book")
def test_building_computes_nothing_and_every_run_computes_the_fetch_again():
    x = np.array([1.0, 2.0], np.float32)
    graph, y, calls = G.counted_square_v1(x)
    assert calls == [], "building the graph ran the computation"
    with tf.compat.v1.Session(graph=graph) as sess:
        first, second = sess.run(y), sess.run(y)
        assert len(calls) == 2, f"two runs computed y {len(calls)} times"
        sess.run([y, y, y])  # one run computes each fetch once, however often it is listed
        assert len(calls) == 3, f"a run fetching y three times computed it {len(calls) - 2} times"
    np.testing.assert_array_equal(first, x * x)
    np.testing.assert_array_equal(second, x * x)
    fn, tf2_calls = G.counted_square(x)  # TF2: traced already, not yet called
    assert tf2_calls == []
    fn(x), fn(x)
    assert len(tf2_calls) == 2, f"two calls of the tf.function computed y {len(tf2_calls)} times"


# --- dtype inference (ch3.2) -----------------------------------------------------------

@pytest.mark.claim("ch3.2", "without a dtype TF gives an integer the type int32 and a decimal float32",
                   source="book")
def test_python_ints_are_int32_and_floats_float32_while_numpy_arrays_keep_their_dtype():
    with tf.Graph().as_default():
        graph_dtypes = [tf.constant(v).dtype for v in (1, 1.0, [1, 2], [2.0, 3.0])]
    eager_dtypes = [tf.constant(v).dtype for v in (1, 1.0, [1, 2], [2.0, 3.0])]
    assert graph_dtypes == eager_dtypes == [tf.int32, tf.float32, tf.int32, tf.float32]
    # NumPy's defaults are twice as wide, and a NumPy value keeps its own dtype in TF
    assert [np.asarray(v).dtype for v in (1, 1.0)] == [np.int64, np.float64]
    assert [tf.constant(np.asarray(v)).dtype for v in (1, 1.0)] == [tf.int64, tf.float64]


@pytest.mark.claim("ch3.2", "a = tf.constant([1, 2]) and b = tf.constant([2.0, 3.0]) cannot be added: TF checks "
                            "types and a + b raises an error", source="book")
def test_adding_int32_to_float32_raises_an_error_naming_both_dtypes_in_a_graph_and_eagerly():
    graph_message = "Input 'y' of 'AddV2' Op has type float32 that does not match type int32 of argument 'x'."
    with pytest.raises(TypeError, match=re.escape(graph_message)):
        G.add_v1([1, 2], [2.0, 3.0])
    with pytest.raises(TypeError, match=re.escape(graph_message)):  # tf.function traces a graph: the same error
        tf.function(G.add).get_concrete_function([1, 2], [2.0, 3.0])
    # eagerly the kernel refuses it, naming float32 by its C++ name, "float"
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=re.escape("cannot compute AddV2 as input #1(zero-based) was expected to be a int32 "
                                       "tensor but is a float tensor")):
        G.add([1, 2], [2.0, 3.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a int32 tensor but is a float tensor"):
        tf.constant(1) + 1.0  # a Python float does not promote the int32 tensor either


@pytest.mark.claim("ch3.2", "giving the constant a type, tf.constant([1, 2], dtype=tf.float32), makes a + b run",
                   source="book")
def test_an_explicit_dtype_makes_the_book_addition_run_in_a_graph_and_eagerly():
    expected = np.array([1, 2], np.float32) + np.array([2.0, 3.0], np.float32)  # [3, 5]: exact in float32
    graph, result = G.add_v1([1, 2], [2.0, 3.0], dtype=tf.float32)
    np.testing.assert_array_equal(G.run_v1(graph, result), expected)
    eager = G.add([1, 2], [2.0, 3.0], dtype=tf.float32)
    assert eager.dtype == tf.float32
    np.testing.assert_array_equal(eager.numpy(), expected)


# --- sessions (ch3.3) ------------------------------------------------------------------

def _book_graph():
    return G.add_v1([1.0, 2.0], [2.0, 3.0])


@pytest.mark.claim("ch3.3", "with tf.Session() as sess: ... closes the session when the block ends, and frees "
                            "its resources even when the block raises", source="book", code="1.4.0/Chapter03/1. 图，张量及会话.ipynb, cell 8")
def test_a_session_used_as_a_context_manager_is_default_inside_and_closed_after():
    graph, result = _book_graph()
    with pytest.raises(ZeroDivisionError):
        with tf.compat.v1.Session(graph=graph) as sess:
            assert tf.compat.v1.get_default_session() is sess and tf.compat.v1.get_default_graph() is graph
            np.testing.assert_array_equal(result.eval(), [3.0, 5.0])  # the default session, so eval() works
            1 / 0
    assert tf.compat.v1.get_default_session() is None
    with pytest.raises(RuntimeError, match="Attempted to use a closed Session."):
        sess.run(result)
    np.testing.assert_array_equal(G.run_v1(graph, result), [3.0, 5.0])


@pytest.mark.claim("ch3.3", "sess = tf.Session() runs the graph until sess.close()", source="book",
                   code="1.4.0/Chapter03/1. 图，张量及会话.ipynb, cell 6")
def test_a_session_made_without_with_runs_until_close_and_is_not_the_default():
    graph, result = _book_graph()
    sess = tf.compat.v1.Session(graph=graph)
    assert tf.compat.v1.get_default_session() is not sess
    np.testing.assert_array_equal(sess.run(result), [3.0, 5.0])
    np.testing.assert_array_equal(sess.run(result), [3.0, 5.0])
    sess.close()
    with pytest.raises(RuntimeError, match="Attempted to use a closed Session."):
        sess.run(result)
    np.testing.assert_array_equal(G.run_and_close_v1(graph, result), [3.0, 5.0])


@pytest.mark.claim("ch3.3", "TF makes no default session by itself: tensor.eval() needs sess.as_default() or "
                            "eval(session=sess)", source="book", code="1.4.0/Chapter03/1. 图，张量及会话.ipynb, cells 10 and 11")
def test_eval_needs_a_default_session_and_leaving_as_default_does_not_close_it():
    graph, result = _book_graph()
    with pytest.raises(ValueError, match=re.escape("Cannot evaluate tensor using `eval()`: No default session "
                                                   "is registered.")):
        result.eval()
    sess = tf.compat.v1.Session(graph=graph)
    np.testing.assert_array_equal(result.eval(session=sess), [3.0, 5.0])
    with sess.as_default():
        np.testing.assert_array_equal(result.eval(), [3.0, 5.0])
    np.testing.assert_array_equal(sess.run(result), [3.0, 5.0])  # as_default() left it open
    sess.close()
    with tf.compat.v1.Session(graph=tf.Graph()):  # a default session of another graph does not do
        with pytest.raises(ValueError, match="the tensor's graph is different from the session's graph"):
            result.eval()
    np.testing.assert_array_equal(G.eval_v1(graph, result), [3.0, 5.0])


@pytest.mark.claim("ch3.3", "tf.InteractiveSession() makes itself the default session, so tensor.eval() needs no "
                            "session until sess.close()", source="book", code="1.4.0/Chapter03/1. 图，张量及会话.ipynb, cells 13 and 15")
def test_an_interactive_session_is_the_default_from_creation_until_close():
    graph, result = _book_graph()
    config = tf.compat.v1.ConfigProto(allow_soft_placement=True, log_device_placement=False)  # the book's config
    sess = tf.compat.v1.InteractiveSession(graph=graph, config=config)
    assert tf.compat.v1.get_default_session() is sess
    np.testing.assert_array_equal(result.eval(), [3.0, 5.0])
    sess.close()
    assert tf.compat.v1.get_default_session() is None
    with pytest.raises(ValueError, match="No default session is registered"):
        result.eval()
    np.testing.assert_array_equal(G.interactive_eval_v1(graph, result, config), [3.0, 5.0])


def test_a_fed_session_function_tf_function_and_xla_compute_the_numpy_layer_bitwise():
    """SessionFunction (placeholders + feed_dict, the book's build once and run many) against
    tf.function and XLA on one dense relu layer. Inputs are small integers and weights multiples
    of 1/8, so every product and partial sum is exact in float32: any summation order gives the
    NumPy float64 result exactly."""
    rng = np.random.default_rng(0)
    x = rng.integers(-4, 5, (6, 5)).astype(np.float32)
    w = (rng.integers(-16, 17, (5, 3)) / 8).astype(np.float32)
    b = (rng.integers(-16, 17, 3) / 8).astype(np.float32)
    expected = np.maximum(x.astype(np.float64) @ w + b, 0)

    def layer(x, w, b):
        return tf.nn.relu(tf.matmul(x, w) + b)
    with G.SessionFunction(layer, x, w, b) as fed:
        np.testing.assert_array_equal(fed(x, w, b), expected)
        np.testing.assert_array_equal(fed(x[:2], w, b), expected[:2])  # the batch axis is None: any batch
    for jit in (False, True):
        np.testing.assert_array_equal(tf.function(layer, jit_compile=jit)(x, w, b).numpy(), expected,
                                      err_msg=f"jit_compile={jit}")
