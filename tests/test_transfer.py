"""Transfer learning (ch6.5): a network pretrained here, saved to real checkpoint files, restored
into a new model with its base frozen and only a new head trained: the Keras way, the TF1
Saver/var_list way and the tf_slim way, each against the NumPy head trained on cached bottleneck
features, step by step."""
import functools
from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf

import reference.nn as RN
import reference.transfer as R
import tfimpl.nn as TN
import tfimpl.transfer as T
from tests import trajectory
from tests.catalog import error_models
from tests.harness import assert_within

# tf_slim's layers are TensorFlow's legacy tf.keras layers, which warn on their own layer.apply
pytestmark = pytest.mark.filterwarnings("ignore:`layer.apply` is deprecated:UserWarning")

RNG = np.random.default_rng(2024)
X = RNG.standard_normal((24, 4))
OLD_LABELS = np.eye(3)[np.argmax(X @ RNG.standard_normal((4, 3)), axis=1)]  # the pretraining task: 3 classes
NEW_LABELS = np.eye(2)[(X[:, 0] * X[:, 1] > 0).astype(int)]                 # the new task: 2 classes
SIZES = (4, 8, 6, 3)  # input, two hidden layers (the base), the old logits
ACTIVATION = "relu"
HEAD = (RNG.standard_normal((6, 2)) * 0.1, np.zeros(2))  # the new logits layer: 6 bottleneck features -> 2 classes
STEPS = 30
BATCHES = [np.random.default_rng(k).permutation(24)[:8] for k in range(STEPS)]
EPS = np.finfo(np.float64).eps

FORMS = {"keras-fit": (T.train_head, "keras", R.train_head), "tf1-saver-var-list": (T.train_head_v1, "v1", R.train_head_v1),
         "tf-slim": (T.train_head_slim, "v1", R.train_head_slim)}
"""form -> (tfimpl trainer, which checkpoint it restores, the reference's twin: its judge)"""


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.fixture(scope="module")
def pretrained_as(tmp_path_factory):
    """activation -> the pretraining run with that hidden activation: the whole network (4-8-6-3)
    trained on the old task by TF1 gradient descent in a Session from seeded weights (100 steps for
    relu, whose run the claims below use; 40 for the others), then saved as pretraining leaves it: a
    .keras file, a TF1 Saver checkpoint, and NumPy's .npz for the reference (its save_pretrained's, and
    its save_pretrained_v1's for the TF1 forms' twins). Run once per activation."""
    @functools.cache
    def run(activation):
        folder = tmp_path_factory.mktemp(f"pretrained-{activation}")
        rng = np.random.default_rng(0)
        initial = [(rng.standard_normal((a, b)) / np.sqrt(a), rng.standard_normal(b) * 0.1)
                   for a, b in zip(SIZES, SIZES[1:])]
        params = TN.train_v1(X, OLD_LABELS, initial, 0.5, 100 if activation == "relu" else 40, None, activation)[-1]
        return SimpleNamespace(initial=initial, params=params, base=params[:-1], activation=activation,
                               keras=T.save_pretrained(folder / "pretrained", params, activation),
                               v1=T.save_pretrained_v1(folder / "pretrained", params, activation),
                               numpy=R.save_pretrained(folder / "pretrained", params, activation),
                               numpy_v1=R.save_pretrained_v1(folder / "pretrained-v1", params, activation))
    return run


@pytest.fixture(scope="module")
def pretrained(pretrained_as):
    """The relu pretraining run (100 steps)."""
    return pretrained_as(ACTIVATION)


def learning_rate(base, activation=ACTIVATION):
    """The largest power of 2 (exact in the float32 both optimizers keep it in) at or below 2 / L, L the
    curvature bound of the head's loss: the Hessian of softmax cross-entropy in the logits has norm
    <= 1/2, so L <= max_i |[f_i, 1]|^2 / 2 over the bottleneck rows f_i (1 for the bias)."""
    f = R.features(X, base, activation)
    return 2.0 ** np.floor(np.log2(4 / (np.sum(f ** 2, axis=1) + 1).max()))


def rows_of(batches, steps):
    """The rows of each step: batches[k], or every row for batches=None."""
    return [slice(None) if batches is None else batches[k] for k in range(steps)]


@pytest.fixture(scope="module")
def trained(pretrained_as):
    """(form, activation, batches, steps[, rate]) -> the whole network's parameters after each step of
    head training (computed once per key). batches: "explicit" (BATCHES, 8 rows a step) or None (every
    row)."""
    @functools.cache
    def run(form, activation=ACTIVATION, batches="explicit", steps=STEPS, rate=None):
        pre = pretrained_as(activation)
        lr, chosen = learning_rate(pre.base, activation), (BATCHES if batches == "explicit" else None)
        if form.startswith("numpy:"):  # the reference's twin of a form, at ``rate`` when given: the rate it keeps
            _, kind, twin = FORMS[form[len("numpy:"):]]
            checkpoint = pre.numpy if kind == "keras" else pre.numpy_v1
            return twin(X, NEW_LABELS, checkpoint, HEAD, lr if rate is None else rate, steps, chosen, activation)
        if form == "tf-slim":
            pytest.importorskip("tf_slim", reason="the tf_slim form needs `pip install tf-slim`")
        trainer, checkpoint, _ = FORMS[form]
        return trainer(X, NEW_LABELS, getattr(pre, checkpoint), HEAD, lr, steps, chosen, activation)
    return run


def head_bounds(pre, expected, batches, steps, rate):
    """The head's drift bounds after each step (tests/trajectory.py), around the reference's
    trajectory at ``rate``. The local error of a step: the head's gradient error on each side, from
    the error models of the whole network (the base's forward pass, which the TF forms run every step
    and the reference once, then the head's forward and backward pass), times the rate, and each
    side's rounding of the step. The Jacobian: I - rate H of the head's loss on the reference's
    bottleneck features (the base is frozen), by central differences."""
    rows = rows_of(batches, steps)
    f = R.features(X, pre.base, pre.activation)

    def head_gradient(q, k):
        return RN.mlp_gradients(f[rows[k]], NEW_LABELS[rows[k]], q)[1]

    def local_error(q, k):
        errors = trajectory.gradient_error(X[rows[k]], NEW_LABELS[rows[k]], pre.base + q, pre.activation)[-1:]
        return trajectory.step_error(q, head_gradient(q, k), errors, rate)
    return trajectory.gd_bounds([[HEAD]] + [params[-1:] for params in expected[:-1]],
                                lambda k, v: trajectory.mlp_gradients_batch(f[rows[k]], NEW_LABELS[rows[k]], [HEAD], v,
                                                                            None),
                                head_gradient, local_error, rate)


def rate_used(form, lr, rows):
    """The rate each TF form's step multiplies the batch-mean gradient by: Keras's SGD and TF1's
    GradientDescentOptimizer keep lr in float32 (a power of 2 here: exact); tf_slim's loss,
    tf.compat.v1.losses.softmax_cross_entropy, reduces in float32 whatever the dtype
    (losses_impl.compute_weighted_loss casts the losses to float32, sums, divides by the count, casts
    back), so each row's gradient is scaled by float32(1 / rows), not 1 / rows: the rate is
    lr * rows * float32(1 / rows) (exact for 8 rows, 1.2e-8 relative off for 24)."""
    lr32 = float(np.float32(lr))
    return lr32 * rows * float(np.float32(1) / np.float32(rows)) if form == "tf-slim" else lr32


def check_head_training(trained, pretrained_as, form, activation, batches="explicit", steps=STEPS):
    """form's head after every step against the reference's (features cached once, then gradient
    descent on the head) taken at the rate the form keeps (rate_used: what TF is known to do, not an
    error), within head_bounds; and the base bitwise the pretrained one throughout. Returns the
    largest share of a bound used."""
    pre = pretrained_as(activation)
    rate = rate_used(form, learning_rate(pre.base, activation), len(X) if batches is None else len(BATCHES[0]))
    expected = trained(f"numpy:{form}", activation, batches, steps, rate)
    actual = trained(form, activation, batches, steps)
    bounds = head_bounds(pre, expected, BATCHES if batches == "explicit" else None, steps, rate)
    for step, params in enumerate(actual, 1):
        for layer, (pair, saved) in enumerate(zip(params[:-1], pre.base), 1):
            assert all(same_bits(v, e) for v, e in zip(pair, saved)), f"{form}: layer{layer} changed at step {step}"
    return trajectory.assert_drift_within([p[-1] for p in actual], [p[-1] for p in expected], bounds,
                                          f"{form}, {activation}, batches {batches}: the head")


def test_pretraining_fit_the_old_task(pretrained):
    """The base is a pretrained one: 100 steps brought the old task's loss well down."""
    before = float(RN.mlp_gradients(X, OLD_LABELS, pretrained.initial, ACTIVATION)[0])
    after = float(RN.mlp_gradients(X, OLD_LABELS, pretrained.params, ACTIVATION)[0])
    assert after < 0.5 * before, f"pretraining loss {before} -> {after}"


# --- restoring ------------------------------------------------------------------------------

@pytest.mark.claim("ch6.5", "restoring the pretrained variables from the checkpoint gives back the pretrained "
                            "network: its bottleneck outputs are the ones it computed before it was saved",
                   source="book", code="1.4.0/Chapter06/2.2 fine_tuning.ipynb, cell 7 (slim.assign_from_checkpoint_fn, load_fn(sess))")
def test_restored_base_reproduces_the_pretrained_bottleneck_bitwise(pretrained):
    """The pretrained network's bottleneck (its last hidden layer) on X, computed from its weights before
    saving, against the base restored from each file: Keras load_model, then every layer but the
    logits; TF1 Saver restore of all but the logits scope, run in a Session; NumPy's np.load. Same
    float64 weights and the same kernels (matmul, add, relu) on both sides of the file: bitwise."""
    saved = T.features(X, pretrained.base, ACTIVATION).numpy()
    restored = {"keras .keras": T.bottleneck(X, pretrained.keras, ACTIVATION).numpy(),
                "tf1 Saver checkpoint": T.bottleneck_v1(X, pretrained.v1, ACTIVATION)}
    for form, features in restored.items():
        assert same_bits(features, saved), f"{form}: max |diff| {np.abs(features - saved).max()}"
    assert same_bits(R.bottleneck(X, pretrained.numpy, ACTIVATION), R.features(X, pretrained.base, ACTIVATION))
    check_bottlenecks(pretrained)  # and each TF form against the reference's, across sides


def features_bound(x, base, activation):
    """Both sides' forward error on the base: error_models.dense_error layer by layer (the dot products,
    the bias add, the activation's own ulps, the earlier error carried through |w| and the slope),
    twice (the two sides compute the same layers, each within it of the exact features)."""
    err, a = 0.0, x
    for w, b in base:
        err, a = error_models.dense_error("float64", a, w, b, activation, err)
    return 2 * err * EPS


def check_bottlenecks(pre):
    """Every TF form of the restored bottleneck against the reference's on the same pretrained weights:
    T.bottleneck (the .keras file), T.bottleneck_v1 (the Saver checkpoint) and T.features (the weights
    in memory) against R.bottleneck (NumPy's .npz), R.bottleneck_v1 and R.features, which agree
    bitwise among themselves; within the forward error model of both sides."""
    expected = R.bottleneck(X, pre.numpy, pre.activation)
    assert same_bits(R.bottleneck_v1(X, pre.numpy, pre.activation), expected)
    assert same_bits(R.features(X, pre.base, pre.activation), expected)
    bound = features_bound(X, pre.base, pre.activation)
    for form, got in {"T.bottleneck (.keras)": T.bottleneck(X, pre.keras, pre.activation),
                      "T.bottleneck_v1 (Saver)": T.bottleneck_v1(X, pre.v1, pre.activation),
                      "T.features": T.features(X, pre.base, pre.activation)}.items():
        assert_within(np.asarray(got), expected, bound, f"{form}, {pre.activation}, against the reference")


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", None], ids=["sigmoid", "tanh", "linear"])
def test_every_activation_restores_the_reference_bottleneck(activation, pretrained_as):
    """The pretraining run, its three files and the restored bottleneck with each hidden activation
    (relu: above), every TF form against the reference on the same pretrained weights."""
    check_bottlenecks(pretrained_as(activation))


@pytest.mark.planted
def test_a_bottleneck_bug_shared_by_every_tf_form_fails_the_cross_side_check(pretrained, monkeypatch):
    """Planted: every TF form computes the features of x rounded to float32 (what a keras.Sequential
    without an Input does to float64 input). TF against TF cannot see it: the restored bottleneck is
    still bitwise the in-memory one. Against the reference, it is 1e-8 off."""
    def rounded(fn):
        return lambda x, *args: fn(np.asarray(x).astype(np.float32).astype(np.float64), *args)
    for name in ("features", "bottleneck", "bottleneck_v1"):
        monkeypatch.setattr(T, name, rounded(getattr(T, name)))
    assert same_bits(T.bottleneck_v1(X, pretrained.v1, ACTIVATION), T.features(X, pretrained.base, ACTIVATION).numpy())
    with pytest.raises(AssertionError, match=r"T.bottleneck \(.keras\), relu, against the reference: \d+ of 144"):
        check_bottlenecks(pretrained)


@pytest.mark.claim("ch6.5", "initialise the variables that are not loaded before loading the pretrained model, "
                            "otherwise the initializer assigns them again", source="book",
                   code="1.4.0/Chapter06/2.2 fine_tuning.ipynb, cell 7 (global_variables_initializer, then load_fn(sess))")
def test_running_the_initializer_after_restore_overwrites_the_restored_weights(pretrained):
    """The book's Session runs global_variables_initializer(), then load_fn(sess). The other order puts
    every restored variable back to its initial value (zeros here)."""
    def base_after(order):
        graph = tf.Graph()
        with graph.as_default():
            with tf.compat.v1.variable_scope("layer1"):
                w = tf.compat.v1.get_variable("weights", (4, 8), tf.float64, tf.compat.v1.zeros_initializer())
            saver = tf.compat.v1.train.Saver(var_list=[w])  # a Saver over part of the checkpoint: layer1/weights
            init = tf.compat.v1.global_variables_initializer()
        with tf.compat.v1.Session(graph=graph) as sess:
            for step in order:
                sess.run(init) if step == "init" else saver.restore(sess, pretrained.v1)
            return sess.run(w)
    assert same_bits(base_after(["init", "restore"]), pretrained.params[0][0])
    assert same_bits(base_after(["restore", "init"]), np.zeros((4, 8)))


# --- training the head on the frozen base -----------------------------------------------------

@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.claim("ch6.5", "load every variable but the last layer's from the pretrained model and train only the "
                            "new last layer: the pretrained layers keep their values", source="book",
                   code="1.4.0/Chapter06/2.2 fine_tuning.ipynb, cells 3 and 5 (get_tuned_variables, get_trainable_variables)")
def test_restored_base_stays_bitwise_unchanged_while_the_head_trains(form, pretrained, trained):
    """Keras: base.trainable = False, then model.fit; TF1: minimize(loss, var_list=the logits' variables);
    tf_slim: create_train_op(variables_to_train=the logits' variables). After every one of the 30 steps
    the base's weights are the pretrained bits, and the head has moved."""
    after = trained(form)
    assert len(after) == STEPS
    for step, params in enumerate(after, 1):
        for layer, (pair, saved) in enumerate(zip(params[:-1], pretrained.base), 1):
            for name, value, expected in zip(("weights", "biases"), pair, saved):
                assert same_bits(value, expected), (f"{form}: layer{layer}/{name} changed at step {step}: "
                                                    f"max |diff| {np.abs(np.asarray(value) - expected).max()}")
    moved = np.abs(np.asarray(after[-1][-1][0]) - HEAD[0]).max()
    assert moved > 0.05, f"{form}: the head hardly moved ({moved}): the test proves nothing"


@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.claim("ch6.5", "the pretrained parameters do not change, so each image's bottleneck can be computed once "
                            "and cached, and a new fully connected layer trained on the cache", source="book",
                   edition="1st", code="0.12.1/Chapter06/2. 迁移学习.ipynb, cells 14 and 20")
def test_head_follows_the_numpy_trajectory_on_cached_bottleneck_features(form, pretrained, trained):
    """The first edition caches each image's bottleneck and trains a new layer on the cache; the second
    restores the network, freezes all but the logits and trains them through the whole network. The
    reference is the first (features once, then gradient descent on one layer); each TF form is the
    second. Same batches, same start: the heads agree after every step.

    Tolerance, per step (tests/trajectory.py): the local error of one step from the error models of
    the whole network on both sides (the base's forward pass, which the TF forms run every step and the
    reference once; the head's forward and backward pass; the step's product and subtraction),
    carried by the later steps' Jacobians I - lr H of the head's loss; below lr = 2 / L (asserted)
    the convex head loss makes each a contraction. Measured: 3 to 4 % of it used (the old bound, 16
    ulps of the largest head parameter per step, added up: under 2 %)."""
    lr = learning_rate(pretrained.base)
    f = R.features(X, pretrained.base, ACTIVATION)
    assert lr <= 4 / (np.sum(f ** 2, axis=1) + 1).max(), lr
    check_head_training(trained, lambda activation: pretrained, form, ACTIVATION)


HEAD_CASES = [("sigmoid", "explicit"), ("tanh", None), (None, "explicit"), ("relu", None)]
"""(hidden activation, batches) of the head trainings below: each activation besides relu's 30
explicit batches above, and batches=None (every row, every step) twice."""


@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.parametrize("activation,batches", HEAD_CASES,
                         ids=[f"{a or 'linear'}-{'batches=None' if b is None else b}" for a, b in HEAD_CASES])
def test_every_activation_trains_the_head_on_the_reference_trajectory(form, activation, batches, trained,
                                                                      pretrained_as):
    """The pretraining, the three files, the restored base and 10 steps of head training with each
    hidden activation, against the reference after every step within the derived bound; the base
    stays bitwise the pretrained one."""
    check_head_training(trained, pretrained_as, form, activation, batches, steps=10)


@pytest.mark.planted
def test_a_tf1_base_built_with_relu_whatever_the_activation_fails_the_head_check(trained, pretrained_as,
                                                                                 monkeypatch):
    """Planted: the TF1 form builds its base with relu whatever activation it is given (a TF1
    checkpoint records no activation, so nothing else notices). Every head test used relu; the tanh
    trajectory fails at the first step."""
    real = T._base_v1
    monkeypatch.setattr(T, "_base_v1", lambda xs, checkpoint, activation: real(xs, checkpoint, "relu"))
    with pytest.raises(AssertionError, match=r"after step 1, "):
        check_head_training(lambda *key: trained.__wrapped__(*key), pretrained_as, "tf1-saver-var-list", "tanh",
                            None, steps=2)


# --- the book's code --------------------------------------------------------------------------

def book_fine_tuning_step(checkpoint, pass_var_list):
    """The book's fine-tuning program (second edition, ch6.5) on the pretrained checkpoint, one step:
    the network in code with a new logits layer, get_tuned_variables() (all model variables but the
    logits) restored, trainable_variables = get_trainable_variables() (the logits'), then
    train_step = tf.train.RMSPropOptimizer(LEARNING_RATE).minimize(total_loss), as the book writes it
    (pass_var_list=False) or with var_list=trainable_variables. Returns layer1/weights after the step."""
    graph = tf.Graph()
    with graph.as_default():
        images = tf.compat.v1.placeholder(tf.float64, [None, 4])
        labels = tf.compat.v1.placeholder(tf.float64, [None, 2])
        net = images
        for scope, (n_in, n_out) in (("layer1", (4, 8)), ("layer2", (8, 6)), ("logits", (6, 2))):
            start = HEAD if scope == "logits" else (np.zeros((n_in, n_out)), np.zeros(n_out))  # the base: restored
            with tf.compat.v1.variable_scope(scope):
                w = tf.compat.v1.get_variable("weights", initializer=start[0])
                b = tf.compat.v1.get_variable("biases", initializer=start[1])
            net = tf.matmul(net, w) + b
            net = net if scope == "logits" else tf.nn.relu(net)
        tuned = [v for v in tf.compat.v1.global_variables() if not v.op.name.startswith("logits")]
        trainable_variables = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES, "logits")
        tf.compat.v1.losses.softmax_cross_entropy(labels, net, weights=1.0)
        total_loss = tf.compat.v1.losses.get_total_loss()
        optimizer = tf.compat.v1.train.RMSPropOptimizer(0.0001)
        train_step = (optimizer.minimize(total_loss, var_list=trainable_variables) if pass_var_list
                      else optimizer.minimize(total_loss))
        load = tf.compat.v1.train.Saver(var_list=tuned)
        init = tf.compat.v1.global_variables_initializer()
        layer1 = tuned[0]
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        load.restore(sess, checkpoint)
        sess.run(train_step, feed_dict={images: X, labels: NEW_LABELS})
        return sess.run(layer1)


@pytest.mark.claim("ch6.5", "trainable_variables = get_trainable_variables(), then "
                            "train_step = tf.train.RMSPropOptimizer(LEARNING_RATE).minimize(tf.losses.get_total_loss()) "
                            "trains only the new logits layer",
                   source="book", code="1.4.0/Chapter06/2.2 fine_tuning.ipynb, cell 7 (trainable_variables is computed and never used)",
                   verdict="wrong", correction="minimize without var_list updates every variable in TRAINABLE_VARIABLES: "
                                               "the restored layers change on the first step; pass "
                                               "var_list=trainable_variables")
def test_the_books_minimize_without_var_list_trains_the_restored_layers_too(pretrained):
    saved = pretrained.params[0][0]
    as_printed = book_fine_tuning_step(pretrained.v1, pass_var_list=False)
    changed = np.count_nonzero(as_printed != saved)
    assert changed > saved.size // 2, f"only {changed} of {saved.size} restored weights moved"
    assert same_bits(book_fine_tuning_step(pretrained.v1, pass_var_list=True), saved)


@pytest.mark.claim("ch6.5", "bottleneck_string = ','.join(str(x) for x in bottleneck_values) caches a bottleneck; "
                            "[float(x) for x in bottleneck_string.split(',')] reads it back for training",
                   source="book", edition="1st", code="0.12.1/Chapter06/2. 迁移学习.ipynb, cell 14 (get_or_create_bottleneck)")
def test_the_text_cache_gives_back_the_float32_bottleneck_bitwise(pretrained):
    """The first edition caches each image's 2048 float32 bottleneck values as text. str() of a
    NumPy float32 prints the shortest digits that round back to it; float() reads them as a float64
    that is not the float32 value (str(np.float32(0.1)) is '0.1'), but the float32 placeholder the
    cache is fed to rounds it back. The cache is lossless for the training it feeds."""
    base32 = [(w.astype(np.float32), b.astype(np.float32)) for w, b in pretrained.base]
    values = T.features(X.astype(np.float32), base32, ACTIVATION).numpy()
    for row in values:
        bottleneck_string = ",".join(str(x) for x in row)
        read_back = [float(x) for x in bottleneck_string.split(",")]
        fed = tf.constant(read_back, tf.float32).numpy()  # what a float32 placeholder holds
        assert same_bits(fed, row), (bottleneck_string, row)
    assert str(np.float32(0.1)) == "0.1" and float("0.1") != float(np.float32(0.1))


@pytest.mark.claim("ch6.5", "tf.contrib was removed in TF 2.0: the book's import tensorflow.contrib.slim as slim "
                            "(1.4.0/Chapter06/2.2 fine_tuning.ipynb, cell 1) becomes the separate TF-Slim package, pip install tf-slim, import "
                            "tf_slim as slim, with the functions the book calls", source="port")
def test_tf_contrib_is_gone_and_slim_lives_on_as_the_tf_slim_package():
    assert not hasattr(tf, "contrib")
    with pytest.raises(ModuleNotFoundError, match="tensorflow.contrib"):
        import tensorflow.contrib.slim  # noqa: F401
    slim = pytest.importorskip("tf_slim", reason="tf-slim not installed (pip install tf-slim)")
    for name in ("get_model_variables", "get_variables_to_restore", "assign_from_checkpoint_fn",
                 "get_trainable_variables", "fully_connected", "arg_scope"):
        assert callable(getattr(slim, name)), name
    assert callable(slim.learning.create_train_op)


# --- Keras: what trainable = False does, and two float64 pitfalls met on the way ---------------------

def test_trainable_false_takes_weights_out_of_trainable_weights_but_the_optimizer_does_not_check_it():
    """Freezing is a filter: fit (and a loop over model.trainable_weights) hands the optimizer only the
    trainable weights. Handed a frozen weight's gradient directly, keras.optimizers.SGD updates it."""
    layer = keras.layers.Dense(1, dtype="float64", kernel_initializer="ones")
    layer.build((None, 1))
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2
    keras.optimizers.SGD(0.5).apply_gradients([(tf.constant([[1.0]], tf.float64), layer.kernel)])
    assert layer.kernel.numpy()[0, 0] == 0.5


def test_a_sequential_of_float64_layers_without_an_input_rounds_its_input_to_float32():
    """keras.Sequential(pretrained.layers[:-1]), the obvious way to drop a top layer, has no Input layer, so
    Sequential.__call__ converts its input to the Sequential's own dtype policy, floatx (float32), before
    the float64 layers see it (Keras 3: Sequential.input_dtype). tfimpl.transfer builds the base as
    keras.Model(pretrained.inputs, pretrained.layers[-2].output), which keeps the float64 Input."""
    x = np.array([[0.1]])
    dense = keras.layers.Dense(1, dtype="float64", use_bias=False, kernel_initializer="ones")
    assert dense(x).numpy()[0, 0] == 0.1
    assert keras.Sequential([dense])(x).numpy()[0, 0] == float(np.float32(0.1)) != 0.1
    assert keras.Sequential([keras.Input((1,), dtype="float64"), dense])(x).numpy()[0, 0] == 0.1


def test_a_keras_loss_computes_in_float32_unless_given_a_dtype():
    """keras.losses.Loss converts y_pred and y_true to its own dtype, floatx (float32) by default,
    so a float64 model compiled with CategoricalCrossentropy() trains on a float32 loss and its
    gradient; tfimpl.transfer.train_head passes dtype=x.dtype."""
    labels, logits = np.array([[1.0, 0.0]]), np.array([[0.1, 0.2]])
    expected = RN.softmax_cross_entropy(labels, logits)
    default = keras.losses.CategoricalCrossentropy(from_logits=True)(labels, logits)
    float64 = keras.losses.CategoricalCrossentropy(from_logits=True, dtype="float64")(labels, logits)
    assert default.dtype == tf.float32 and float64.dtype == tf.float64
    assert float(float64) == pytest.approx(float(expected), rel=4 * EPS)
    assert abs(float(default) - float(expected)) > 1e-9  # float32 rounding, ~1e-8 relative


def test_tf1_losses_reduce_in_float32_so_the_slim_loss_scales_each_float64_row_by_float32_of_one_over_n():
    """The book's slim loss, tf.compat.v1.losses.softmax_cross_entropy, goes through
    compute_weighted_loss, which casts the per-example losses to float32, sums and divides by the
    count there, and casts back: on float64 logits the loss is a float32 number and the gradient of
    each row is (softmax - labels) * float32(1 / n). 1/8 is exact; 1/24 is not. The slim head's
    trajectory is checked with that rate (rate_used)."""
    logits, labels = np.random.default_rng(8).standard_normal((24, 2)), NEW_LABELS
    graph = tf.Graph()
    with graph.as_default():
        z = tf.constant(logits)
        loss = tf.compat.v1.losses.softmax_cross_entropy(labels, z)
        (grad,) = tf.gradients(loss, [z])
    with tf.compat.v1.Session(graph=graph) as sess:
        value, got = sess.run([loss, grad])
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    scaled = (p - labels) * float(np.float32(1) / np.float32(24))
    # the softmax of 2 logits and the product: a few roundings, within 8 eps of |g|; 1 / 24 and
    # float32(1 / 24) differ by 1.2e-8 relative, six orders of magnitude more
    assert_within(got, scaled, 8 * EPS * np.abs(scaled), "slim's gradient against float32(1 / 24) * (p - y)")
    assert np.all(np.abs(got - (p - labels) / 24) > 1e-9 * np.abs(scaled)), "the gradient used the exact 1 / 24"
    assert value == float(np.float32(value)) and value.dtype == np.float64, value


# --- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("side", ["reference", "keras"])
def test_both_sides_reject_an_activation_the_checkpoint_was_not_saved_with(side, pretrained):
    """The .npz and the .keras file record the hidden activation; asking for another one is a ValueError
    with one message on both sides (a TF1 checkpoint holds variables only: the code decides)."""
    fn, checkpoint = (R.bottleneck, pretrained.numpy) if side == "reference" else (T.bottleneck, pretrained.keras)
    with pytest.raises(ValueError, match=r"^activation 'tanh' does not match the pretrained network's activation 'relu'$"):
        fn(X, checkpoint, "tanh")
