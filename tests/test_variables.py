"""Variable management (the book's p107) and collections (p89): tf.compat.v1.get_variable and
variable_scope name, create and share variables in a TF1 graph, and the graph's collections list
them; in TF2 a variable is a Python object, sharing it is holding the same object, and a module or
a Keras model lists what it holds. The numbers (the book's inference() run with reuse, the "losses"
collection's total) are checked against reference/variables.py, exactly: the weights are multiples
of 1/8 and the inputs small integers, so every product and partial sum is exact in float64 and any
summation order gives the same bits."""
import re

import numpy as np
import pytest
import tensorflow as tf

import reference.variables as R
import tfimpl.variables as T
from tests.catalog import error_models
from tests.harness import assert_within
from tests.precision import EPS as EPS_OF
from tfimpl.regularizers import l2_v1

EPS = EPS_OF["float64"]


def in_graph(build):
    graph = tf.Graph()
    with graph.as_default():
        return build()


@pytest.mark.claim("ch5.3", "get_variable inside variable_scope('foo') creates a variable named foo/v:0; asking for "
                            "it again without reuse is an error, with reuse=True returns the same variable",
                   source="book", page=107, code="1.4.0/Chapter05/3. 变量管理.ipynb, cell 2")
def test_get_variable_names_by_scope_and_shares_only_with_reuse():
    def build():
        with tf.compat.v1.variable_scope("foo"):
            v = tf.compat.v1.get_variable("v", [1], initializer=tf.compat.v1.zeros_initializer())
        with pytest.raises(ValueError, match=r"Variable foo/v already exists, disallowed\. Did you mean to set "
                                             r"reuse=True or reuse=tf\.AUTO_REUSE in VarScope\?"):
            with tf.compat.v1.variable_scope("foo"):
                tf.compat.v1.get_variable("v", [1])
        with tf.compat.v1.variable_scope("foo", reuse=True):
            again = tf.compat.v1.get_variable("v", [1])
        with pytest.raises(ValueError, match=r"Variable foo/w does not exist, or was not created with "
                                             r"tf\.get_variable\(\)"):
            with tf.compat.v1.variable_scope("foo", reuse=True):
                tf.compat.v1.get_variable("w", [1])
        return v, again
    v, again = in_graph(build)
    assert v.name == "foo/v:0" and again is v


@pytest.mark.claim("ch5.3", "nested variable scopes compose names and inherit reuse; name_scope names ops but "
                            "not get_variable's variables", source="book", page=107, code="1.4.0/Chapter05/3. 变量管理.ipynb, cells 6 and 8")
def test_nested_scopes_compose_names_and_name_scope_leaves_get_variable_alone():
    def build():
        with tf.compat.v1.variable_scope("foo"):
            with tf.compat.v1.variable_scope("bar"):
                v = tf.compat.v1.get_variable("v", [1])
        with tf.compat.v1.variable_scope("foo", reuse=True):
            with tf.compat.v1.variable_scope("bar"):  # inherits reuse=True
                inner = tf.compat.v1.get_variable("v", [1])
        with tf.compat.v1.variable_scope("", reuse=True):
            by_full_name = tf.compat.v1.get_variable("foo/bar/v", [1])
        with tf.compat.v1.name_scope("ns"):
            w = tf.compat.v1.get_variable("w", [1])
            op = tf.add(w, 1.0, name="add")
        return v, inner, by_full_name, w, op
    v, inner, by_full_name, w, op = in_graph(build)
    assert v.name == "foo/bar/v:0" and inner is v and by_full_name is v
    assert w.name == "w:0" and op.name == "ns/add:0"


@pytest.mark.claim("ch5.3", "TF2 has no variable scopes and no reuse flag: variables are Python objects, sharing one "
                            "is holding the same object, and tf.Module / Keras layers track the variables they hold",
                   source="port")
def test_tf2_shares_a_variable_by_holding_the_same_object():
    class Dense(tf.Module):
        def __init__(self, w):
            super().__init__()
            self.w = w

        def __call__(self, x):
            return tf.matmul(x, self.w)

    shared = tf.Variable(np.ones((2, 1)))
    first, second = Dense(shared), Dense(shared)
    shared.assign(2 * np.ones((2, 1)))
    x = tf.constant([[1.0, 2.0]], tf.float64)
    assert first(x).numpy()[0, 0] == second(x).numpy()[0, 0] == 6.0
    assert first.trainable_variables[0] is second.trainable_variables[0] is shared


# --- scopes: the rest of the book's p107-p109 -----------------------------------------------

@pytest.mark.claim("ch5.3", "the reuse flag passes down: in root it is False, in variable_scope('foo', reuse=True) "
                            "True, in a scope nested there True, back in root False", source="book", page=107,
                   code="1.4.0/Chapter05/3. 变量管理.ipynb, cell 4 (prints False, True, True, False)")
def test_reuse_passes_down_nested_scopes_and_reuse_false_inside_cannot_switch_it_off():
    def build():
        reuse = tf.compat.v1.get_variable_scope
        seen = [reuse().reuse]
        with tf.compat.v1.variable_scope("root"):
            seen.append(reuse().reuse)
            with tf.compat.v1.variable_scope("foo", reuse=True):
                seen.append(reuse().reuse)
                with tf.compat.v1.variable_scope("bar"):
                    seen.append(reuse().reuse)
                with tf.compat.v1.variable_scope("baz", reuse=False):  # asks for False, inherits True
                    seen.append(reuse().reuse)
            seen.append(reuse().reuse)
        return seen
    assert in_graph(build) == [False, False, True, True, True, False]


def test_auto_reuse_creates_the_variable_on_the_first_call_and_returns_it_after():
    def build():
        got = []
        for _ in range(3):
            with tf.compat.v1.variable_scope("foo", reuse=tf.compat.v1.AUTO_REUSE):
                got.append(tf.compat.v1.get_variable("v", [1]))
        return got, tf.compat.v1.global_variables()
    got, everything = in_graph(build)
    assert got[0] is got[1] is got[2] and got[0].name == "foo/v:0"
    assert len(everything) == 1, f"AUTO_REUSE made {[v.name for v in everything]}"


def test_sharing_a_variable_with_another_shape_is_an_error_naming_both_shapes():
    def build():
        with tf.compat.v1.variable_scope("foo"):
            tf.compat.v1.get_variable("v", [1])
        with tf.compat.v1.variable_scope("foo", reuse=True):
            tf.compat.v1.get_variable("v", [2])
    with pytest.raises(ValueError, match=re.escape("Trying to share variable foo/v, but specified shape (2,) and "
                                                   "found shape (1,).")):
        in_graph(build)


def test_a_reopened_variable_scope_shares_its_variable_prefix_but_its_ops_go_to_a_new_name_scope():
    """variable_scope opens a name scope for ops too; entered a second time, the name scope is
    made unique (foo_1) while get_variable still names and finds variables under foo/."""
    def build():
        with tf.compat.v1.variable_scope("foo"):
            v = tf.compat.v1.get_variable("v", [1])
            first = tf.add(v, 1.0, name="add")
        with tf.compat.v1.variable_scope("foo", reuse=True):
            again = tf.compat.v1.get_variable("v", [1])
            second = tf.add(again, 1.0, name="add")
        return v, again, first, second
    v, again, first, second = in_graph(build)
    assert again is v and v.name == "foo/v:0"
    assert (first.name, second.name) == ("foo/add:0", "foo_1/add:0")


@pytest.mark.claim("ch5.3", "tf.get_variable needs a name and creates or fetches the variable by it; tf.Variable's "
                            "name is optional", source="book", page=107)
def test_tf_variable_makes_a_taken_name_unique_where_get_variable_refuses():
    def build():
        plain = [tf.compat.v1.Variable(1.0, name="v"), tf.compat.v1.Variable(1.0, name="v"), tf.compat.v1.Variable(1.0)]
        with pytest.raises(TypeError, match="missing 1 required positional argument: 'name'"):
            tf.compat.v1.get_variable()
        first = tf.compat.v1.get_variable("w", [1])
        with pytest.raises(ValueError, match="Variable w already exists, disallowed"):
            tf.compat.v1.get_variable("w", [1])
        return plain, first
    plain, first = in_graph(build)
    assert [v.name for v in plain] == ["v:0", "v_1:0", "Variable:0"]  # three variables, three names
    assert first.name == "w:0"


@pytest.mark.claim("ch5.3", "variable_scope with reuse=True shares variables", source="book", page=107,
                   verdict="changed", since="TF 2.0",
                   correction="only in a graph today: eagerly (TF2's default) tf.compat.v1.get_variable ignores "
                              "reuse and makes a new variable on every call, even with reuse=True")
def test_eagerly_get_variable_ignores_reuse_and_makes_a_new_variable_each_call():
    """variable_scope.py, VariableScope.get_variable: ``if context.executing_eagerly(): reuse = False``."""
    assert tf.executing_eagerly()
    with tf.compat.v1.variable_scope("eager_foo"):
        first = tf.compat.v1.get_variable("v", [1])
        second = tf.compat.v1.get_variable("v", [1])  # in a graph: ValueError, already exists
    with tf.compat.v1.variable_scope("eager_foo", reuse=True):
        third = tf.compat.v1.get_variable("v", [1])
    assert first.name == second.name == third.name == "eager_foo/v:0"
    assert first is not second and third is not first and third is not second


# --- the book's inference(input_tensor, reuse), with numbers --------------------------------------

def dyadic_network(rng, sizes=(3, 4, 4, 2)):
    """Weights and biases that are multiples of 1/8 in [-2, 2], float64."""
    return [(rng.integers(-16, 17, (a, b)) / 8.0, rng.integers(-16, 17, b) / 8.0) for a, b in zip(sizes, sizes[1:])]


def small_integer_batches(rng, n_in=3, rows=(5, 2)):
    return [rng.integers(-3, 4, (n, n_in)).astype(np.float64) for n in rows]


@pytest.mark.claim("ch5.3", "inference(new_x, True) computes with the variables inference(x) created: the same "
                            "weights on a new input", source="book", page=107)
def test_the_book_inference_called_again_with_reuse_computes_with_the_same_weights():
    rng = np.random.default_rng(10)
    params, batches = dyadic_network(rng), small_integer_batches(rng)
    expected = R.inference_v1(batches, params)
    for got, want, k in zip(T.inference_v1(batches, params), expected, range(len(batches))):
        np.testing.assert_array_equal(got, want, err_msg=f"TF1 batch {k}")
    for got, want, k in zip(T.inference(batches, params), R.inference(batches, params), range(len(batches))):
        np.testing.assert_array_equal(got.numpy(), want, err_msg=f"TF2 batch {k}")

    def build():  # the graph behind inference_v1: two calls, one set of variables
        xs = [tf.compat.v1.placeholder(tf.float64, (None, 3)) for _ in batches]
        outputs = [T.inference_graph_v1(x, params, reuse=k > 0) for k, x in enumerate(xs)]
        return outputs, tf.compat.v1.global_variables()
    outputs, variables = in_graph(build)
    assert [v.name for v in variables] == [f"layer{i}/{n}:0" for i in (1, 2, 3) for n in ("weights", "biases")]
    assert outputs[0].name.startswith("layer3/") and outputs[1].name.startswith("layer3_1/")


def check_inference(activation):
    """inference (one tf.Module called on each batch) and inference_v1 (the book's reuse) with a hidden
    ``activation`` against the reference's, batch by batch: exact for relu and linear layers on the
    dyadic network (every product and sum is exact), and within both sides' forward error model
    (error_models.mlp_error, twice) for sigmoid and tanh, whose values are not."""
    rng = np.random.default_rng(14)
    params, batches = dyadic_network(rng), small_integer_batches(rng)
    expected = R.inference(batches, params, activation)
    for got_batches, form in ((T.inference_v1(batches, params, activation), "inference_v1"),
                              ([y.numpy() for y in T.inference(batches, params, activation)], "inference")):
        for k, (got, x, want) in enumerate(zip(got_batches, batches, expected)):
            assert np.array_equal(R.inference_v1(batches, params, activation)[k], want)
            bound = 2 * EPS * error_models.mlp_error("float64", x, *[a for p in params for a in p], activation=activation)
            assert_within(got, want, bound, f"{form}, {activation}, batch {k}")


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", None], ids=["sigmoid", "tanh", "linear"])
def test_inference_with_every_activation_is_the_references(activation):
    """The book's inference(x), inference(new_x, True) and the TF2 module with each hidden activation
    besides relu (above)."""
    check_inference(activation)


@pytest.mark.planted
def test_an_inference_that_ignores_the_activation_fails_the_check(monkeypatch):
    """Planted: the book's inference graph uses relu whatever it is given (every test used relu)."""
    real = T.inference_graph_v1
    monkeypatch.setattr(T, "inference_graph_v1", lambda x, params, activation="relu", **kw: real(x, params, **kw))
    with pytest.raises(AssertionError, match=r"inference_v1, tanh, batch 0: .* elements off"):
        check_inference("tanh")


def test_calling_the_book_inference_again_with_a_regularizer_counts_every_penalty_twice():
    """The book's get_weight_variable adds regularizer(weights) to "losses" on every call, reused
    or not; its evaluation program passes regularizer=None. Reusing with one doubles the penalty."""
    rng = np.random.default_rng(11)
    params, scale = dyadic_network(rng), 2.0 ** -4

    def build():
        x = tf.compat.v1.placeholder(tf.float64, (None, 3))
        for k in range(2):
            T.inference_graph_v1(x, params, reuse=k > 0, regularizer=lambda w: l2_v1(w, scale))
        total = tf.add_n(tf.compat.v1.get_collection("losses"))
        init = tf.compat.v1.global_variables_initializer()
        return tf.compat.v1.get_default_graph(), total, init
    graph, total, init = in_graph(build)
    assert len(graph.get_collection("losses")) == 2 * len(params)
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        assert sess.run(total) == 2 * R.weight_penalty_v1(params, scale)


# --- collections (the book's p89) --------------------------------------------------------

@pytest.mark.claim("ch4.4.2", "every variable joins tf.GraphKeys.GLOBAL_VARIABLES, a trainable one also "
                              "TRAINABLE_VARIABLES; trainable=False keeps a variable (the global step) out of the "
                              "trainable list", source="book", page=89)
def test_global_and_trainable_collections_list_variables_in_creation_order_without_the_untrainable_ones():
    keys = tf.compat.v1.GraphKeys

    def build():
        w = tf.compat.v1.get_variable("w", [2])
        step = tf.compat.v1.Variable(0, trainable=False, name="global_step")
        b = tf.compat.v1.Variable(tf.zeros([2]), name="b")
        frozen = tf.compat.v1.get_variable("frozen", [2], trainable=False)
        with tf.compat.v1.variable_scope("layer1"):
            inner = tf.compat.v1.get_variable("weights", [2])
        graph = tf.compat.v1.get_default_graph()
        return (graph.get_collection(keys.GLOBAL_VARIABLES), tf.compat.v1.global_variables(),
                graph.get_collection(keys.TRAINABLE_VARIABLES), tf.compat.v1.trainable_variables(),
                tf.compat.v1.trainable_variables(scope="layer1"), [w, step, b, frozen, inner])
    global_, global_fn, trainable, trainable_fn, in_layer1, (w, step, b, frozen, inner) = in_graph(build)
    assert (keys.GLOBAL_VARIABLES, keys.TRAINABLE_VARIABLES) == ("variables", "trainable_variables")
    def names(variables):
        return [v.name for v in variables]
    assert names(global_) == names(global_fn) == ["w:0", "global_step:0", "b:0", "frozen:0", "layer1/weights:0"]
    assert all(a is b for a, b in zip(global_, [w, step, b, frozen, inner]))
    assert names(trainable) == names(trainable_fn) == ["w:0", "b:0", "layer1/weights:0"]
    assert names(in_layer1) == ["layer1/weights:0"]  # a scope filters a collection by name prefix


@pytest.mark.claim("ch4.4.2", "tf.add_to_collection(name, value) adds to a named list that tf.get_collection(name) "
                              "returns", source="book", page=89)
def test_a_custom_collection_holds_what_was_added_in_order_and_get_collection_returns_a_copy():
    def build():
        values = [tf.constant(float(i)) for i in range(3)]
        for v in values:
            tf.compat.v1.add_to_collection("my_list", v)
        copy = tf.compat.v1.get_collection("my_list")
        copy.append("not added")
        live = tf.compat.v1.get_collection_ref("my_list")
        return values, copy, live, tf.compat.v1.get_collection("my_list"), tf.compat.v1.get_collection("nothing")
    values, copy, live, again, nothing = in_graph(build)
    assert [t.name for t in again] == [t.name for t in live] == ["Const:0", "Const_1:0", "Const_2:0"]
    assert all(a is v and b is v for a, b, v in zip(again, live, values))
    assert len(copy) == 4 and len(again) == 3  # appending to the copy changed nothing
    assert nothing == []  # a name never used is an empty collection, not an error


@pytest.mark.claim("ch4.4.2", "add_to_collection('losses', penalty) where each layer creates its weights, then "
                              "tf.add_n(tf.get_collection('losses')), is the total penalty", source="book", page=89,
                   code="1.4.0/Chapter05/5. MNIST最佳实践/mnist_inference.py, line 9; mnist_train.py, line 30")
def test_the_losses_collection_total_equals_numpy_and_the_tf2_module_and_keras_totals():
    """scale is a power of 2 and the weights multiples of 1/8: every penalty and sum is exact,
    and Keras's float32 scale / 2 too, so all four totals are equal, not merely close."""
    rng = np.random.default_rng(12)
    params, scale = dyadic_network(rng), 2.0 ** -3
    expected = R.weight_penalty_v1(params, scale)
    assert expected == sum(scale * np.sum(w ** 2) / 2 for w, _ in params) > 0
    assert T.weight_penalty_v1(params, scale) == expected
    assert float(T.weight_penalty(params, scale)) == R.weight_penalty(params, scale) == expected
    assert float(T.weight_penalty_keras(params, scale)) == R.weight_penalty_keras(params, scale) == expected


def test_tf1_loss_functions_add_themselves_to_the_losses_collection_so_the_book_pattern_counts_them_twice():
    """GraphKeys.LOSSES is "losses", the book's own collection name, and tf.compat.v1.losses.*
    add their loss to it: adding it again by hand, as the book does with its MSE, counts it
    twice. get_variable(regularizer=...) fills another list, REGULARIZATION_LOSSES."""
    keys = tf.compat.v1.GraphKeys
    y_true, y_pred = np.array([[1.0], [2.0], [0.0], [3.0]]), np.array([[0.5], [2.0], [1.0], [2.0]])
    mse = np.mean((y_true - y_pred) ** 2)  # 9/16: exact

    def build():
        mse_op = tf.compat.v1.losses.mean_squared_error(tf.constant(y_true), tf.constant(y_pred))
        in_losses = tf.compat.v1.get_collection(keys.LOSSES)
        tf.compat.v1.add_to_collection("losses", mse_op)  # the book's line
        w = tf.compat.v1.get_variable("w", initializer=tf.constant([0.5, -1.0], tf.float64),
                                      regularizer=lambda v: tf.reduce_sum(v * v))
        return (mse_op, in_losses, tf.add_n(tf.compat.v1.get_collection("losses")),
                tf.compat.v1.get_collection(keys.REGULARIZATION_LOSSES), w, tf.compat.v1.get_default_graph())
    mse_op, in_losses, total, regularization, w, graph = in_graph(build)
    assert keys.LOSSES == "losses" and len(in_losses) == 1 and in_losses[0] is mse_op
    assert len(regularization) == 1 and len(graph.get_collection("losses")) == 2  # the MSE twice, no penalty
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(tf.compat.v1.variables_initializer([w]))
        assert sess.run(total) == 2 * mse
        assert sess.run(regularization[0]) == 0.5 ** 2 + 1.0 ** 2


@pytest.mark.claim("ch4.4.2", "TF2 has no collections: a tf.Module lists the variables it holds "
                              "(trainable_variables, sorted by attribute name) and a Keras model its layers' "
                              "penalties (model.losses)", source="port")
def test_tf2_modules_list_what_they_hold_and_eager_variables_join_no_collection():
    rng = np.random.default_rng(13)
    params = dyadic_network(rng, sizes=(3, 2, 1))
    net = T._Network(params)
    names = [v.name for v in net.trainable_variables]
    # attribute order, not creation order: biases before weights
    assert names == ["layer1/biases:0", "layer1/weights:0", "layer2/biases:0", "layer2/weights:0"]
    assert net.layers[0].trainable_variables[1] is net.layers[0].weights
    counter = tf.Variable(0, trainable=False)
    net.counter = counter
    assert any(v is counter for v in net.variables) and not any(v is counter for v in net.trainable_variables)
    # eagerly, a variable joins no TF1 collection
    assert not any(v is counter for v in tf.compat.v1.global_variables())
    assert not any(v is net.layers[0].weights for v in tf.compat.v1.trainable_variables())
