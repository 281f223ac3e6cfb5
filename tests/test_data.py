"""tf.data (the book's 7.4 and the tf.data guide): reference/data.py's generators beside tf.data.

The same chain, written once against a ``Dataset`` class, runs through both sides and yields the
same elements in the same order, exactly: the same structure, and per component the same dtype,
shape and values. ``shuffle`` draws from NumPy on one side and from TF's Philox stream on the
other, so its orders differ; each of its documented properties is checked on both sides, and its law
(the law of TF's kernel) by chi-square tests over thousands of seeds, where the orders are compared as
distributions (input_pipeline's too)."""
import bisect

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import example, given
from hypothesis import strategies as st
from scipy import stats

import reference.data as R
import tfimpl.data as T

SIDES = [pytest.param(R, id="reference"), pytest.param(T, id="tf.data")]
SEEDS = st.integers(0, 2**31 - 1)


@pytest.fixture
def no_global_seed():
    """TF's global seed unset, as in a fresh process. A seeded shuffle's order depends on the global
    seed too (tf.data seeds its kernel with (global seed or 87654321, op seed)), and a fresh tf.Graph,
    where input_pipeline_v1 runs, has none; another test's tf.random.set_seed (test_image sets 5)
    would otherwise change every eager order in this process, so that TF2 and the Session disagree."""
    tf.random.set_seed(None)
    yield
    tf.random.set_seed(None)


def elements(dataset):
    return list(dataset.as_numpy_iterator())


def assert_same_elements(actual, expected, what):
    """Element by element: the same nesting, and per component the same dtype, shape and values."""
    assert len(actual) == len(expected), (f"{what}: {len(actual)} elements, expected {len(expected)}\n"
                                          f"  got      {actual}\n  expected {expected}")
    for k, (a, e) in enumerate(zip(actual, expected)):
        tf.nest.assert_same_structure(a, e)
        for x, y in zip(tf.nest.flatten(a), tf.nest.flatten(e)):
            np.testing.assert_array_equal(x, y, strict=True, err_msg=f"{what}: element {k}: {a} vs {e}")


def both(chain, what):
    """``chain(Dataset)`` built on the reference's Dataset and on tf.data.Dataset: the same elements."""
    expected, actual = elements(chain(R.Dataset)), elements(chain(T.Dataset))
    assert_same_elements(actual, expected, what)
    return expected


def values(dataset):
    """The elements of a dataset of scalars, as Python ints."""
    return [int(x) for x in dataset.as_numpy_iterator()]


# --- the orders: one chain, two sides, the same elements ---------------------------------

@given(n=st.integers(3, 12), batch=st.integers(1, 5), drop=st.booleans(), epochs=st.integers(1, 3),
       repeat_first=st.booleans(), take=st.one_of(st.integers(1, 15), st.just(-1)), skip=st.integers(-1, 15),
       ahead=st.integers(-1, 3))
@example(n=10, batch=3, drop=False, epochs=2, repeat_first=True, take=-1, skip=1, ahead=-1)
@example(n=7, batch=4, drop=True, epochs=3, repeat_first=False, take=5, skip=0, ahead=2)
@example(n=0, batch=2, drop=False, epochs=2, repeat_first=True, take=-1, skip=0, ahead=1)  # no data
@example(n=5, batch=2, drop=True, epochs=0, repeat_first=False, take=0, skip=0, ahead=0)  # no epochs, take 0
@pytest.mark.claim("api", "batch(batch_size) combines batch_size consecutive elements, the last batch smaller unless "
                           "drop_remainder=True drops it; repeat(count), take(count) and skip(count) repeat, take and "
                           "skip count elements in order; map and prefetch keep the order", source="docs")
def test_map_batch_repeat_take_skip_and_prefetch_give_the_reference_order(n, batch, drop, epochs, repeat_first,
                                                                         take, skip, ahead):
    """from_tensor_slices((x, labels)).map(...), then batch and repeat in either order, then
    take, skip and prefetch (-1: AUTOTUNE): the same batches, float32 and int64, on both sides."""
    x, labels = np.arange(n, dtype=np.float32) / 4, np.arange(100, 100 + n)

    def chain(D):
        ds = D.from_tensor_slices((x, labels)).map(lambda a, b: (a * 2 + 1, b % 7))
        ds = ds.repeat(epochs).batch(batch, drop) if repeat_first else ds.batch(batch, drop).repeat(epochs)
        return ds.take(take).skip(skip).prefetch(ahead)
    both(chain, f"n={n}, batch={batch}, drop={drop}, epochs={epochs}, repeat first={repeat_first}, "
                f"take={take}, skip={skip}, prefetch={ahead}")


@given(n=st.integers(1, 6), m=st.integers(1, 6), k=st.integers(0, 3))
@example(n=0, m=4, k=1)
@example(n=3, m=0, k=0)
@pytest.mark.claim("api", "Dataset.zip has the semantics of Python's zip(), the datasets argument a (nested) "
                           "structure of datasets: it pairs their elements in that structure and stops at the "
                           "shortest", source="docs")
def test_zip_pairs_elements_in_the_datasets_structure_and_stops_at_the_shortest(n, m, k):
    x, y = np.arange(n) * 10, np.linspace(0, 1, m, dtype=np.float32)
    forms = {  # form -> (chain, its length)
        "zip(a, b)": (lambda D: D.zip(D.from_tensor_slices(x), D.from_tensor_slices(y).skip(k)), min(n, max(m - k, 0))),
        "zip((a, b))": (lambda D: D.zip((D.from_tensor_slices(x), D.range(k, k + m))), min(n, m)),
        "zip(datasets=(a, b))": (lambda D: D.zip(datasets=(D.from_tensor_slices(x), D.from_tensor_slices(y))),
                                 min(n, m)),
        "zip({'a': a, 'b': (b, c)})": (lambda D: D.zip({"a": D.from_tensor_slices(x),
                                                        "b": (D.from_tensor_slices(y), D.range(3))}), min(n, m, 3)),
        "zip(a)": (lambda D: D.zip(D.from_tensor_slices(x)), n),
    }
    for form, (chain, length) in forms.items():
        assert len(both(chain, f"{form}, n={n}, m={m}, k={k}")) == length, form


def repeated_by_value(D):
    """x -> a dataset of x repeated x % 4 times: some inputs give an empty dataset."""
    def fn(x):
        return D.from_tensors(x).repeat(x % 4)
    return fn


@given(n=st.integers(1, 9), cycle=st.one_of(st.none(), st.integers(1, 4)),
       block=st.one_of(st.none(), st.integers(1, 4)))
@example(n=0, cycle=2, block=2)
@example(n=9, cycle=2, block=1)  # slots run out unevenly: a new dataset opens while its neighbour is mid-way
@example(n=9, cycle=3, block=2)
@example(n=9, cycle=None, block=None)
@pytest.mark.claim("api", "interleave applies map_func to cycle_length input elements and cycles through their "
                           "datasets, block_length consecutive elements from each, consuming the next input element "
                           "each time one reaches its end", source="docs")
def test_interleave_gives_the_reference_round_robin(n, cycle, block):
    """cycle_length datasets open at a time, block_length elements from each in turn, an exhausted
    one (or an empty one) replaced by the next input's in its slot; cycle_length None is TF's
    AUTOTUNE, the number of schedulable CPUs."""
    both(lambda D: D.range(1, n + 1).interleave(repeated_by_value(D), cycle, block),
         f"n={n}, cycle_length={cycle}, block_length={block}")


def test_interleave_matches_the_documented_example():
    """tf.data.Dataset.interleave's docstring: range(1, 6), each x repeated 6 times, cycle_length=2,
    block_length=4."""
    documented = [1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 3, 3, 4, 4, 5, 5, 5, 5, 5, 5]

    def six_times(D):
        def fn(x):
            return D.from_tensors(x).repeat(6)
        return fn
    out = both(lambda D: D.range(1, 6).interleave(six_times(D), cycle_length=2, block_length=4), "documented example")
    assert [int(v) for v in out] == documented


def numpy_fill(n):
    return np.full(n, n)


def tf_fill(n):
    return tf.fill([n], n)


@given(lengths=st.lists(st.integers(0, 5), min_size=2, max_size=7), batch=st.integers(1, 4), drop=st.booleans(),
       fixed=st.booleans(), pad=st.sampled_from([None, -1, 9]))
@example(lengths=[], batch=2, drop=False, fixed=False, pad=9)
@example(lengths=[3, 0, 5, 1, 2], batch=2, drop=False, fixed=False, pad=None)
@example(lengths=[3, 0, 5, 1, 2], batch=2, drop=True, fixed=True, pad=-1)
@pytest.mark.claim("api", "padded_batch pads every component to the maximum size in the batch, or to padded_shapes; "
                           "the padding value defaults to 0 for numbers", source="docs")
def test_padded_batch_pads_each_component_to_the_batch_longest_or_the_given_shape(lengths, batch, drop, fixed, pad):
    """Elements (n copies of n, n): the vector is padded at its end with padding_values (0 if None)
    to the longest in its batch, or to padded_shapes [6]; the scalar is stacked as batch does."""
    def chain(D, fill):
        ds = D.from_tensor_slices(np.array(lengths, np.int64)).map(lambda n: (fill(n), n))
        value = None if pad is None else (np.int64(pad), np.int64(0))
        return ds.padded_batch(batch, ([6], []) if fixed else None, value, drop)
    expected = elements(chain(R.Dataset, numpy_fill))
    assert_same_elements(elements(chain(T.Dataset, tf_fill)), expected,
                         f"lengths={lengths}, batch={batch}, drop={drop}, padded to 6={fixed}, pad={pad}")
    for vectors, ns in expected:  # the padding the guide draws: n copies of n, then the pad value
        assert vectors.shape[1] == (6 if fixed else max(ns))
        for row, k in zip(vectors, ns):
            assert list(row) == [k] * k + [0 if pad is None else pad] * (len(row) - k)


EDGES = {
    "range(3).repeat().take(7)": lambda D: D.range(3).repeat().take(7),
    "range(3).repeat(-1).take(7)": lambda D: D.range(3).repeat(-1).take(7),
    "range(3).repeat(0)": lambda D: D.range(3).repeat(0),
    "range(0).repeat()": lambda D: D.range(0).repeat(),
    "range(4).take(-1)": lambda D: D.range(4).take(-1),
    "range(4).take(0)": lambda D: D.range(4).take(0),
    "range(4).take(9)": lambda D: D.range(4).take(9),
    "range(4).skip(-1)": lambda D: D.range(4).skip(-1),
    "range(4).skip(9)": lambda D: D.range(4).skip(9),
    "range(2, 11, 3).batch(2)": lambda D: D.range(2, 11, 3).batch(2),
    "from_tensors([1, 2]).repeat(3).batch(2)": lambda D: D.from_tensors([1, 2]).repeat(3).batch(2),
    "range(5).prefetch(0)": lambda D: D.range(5).prefetch(0),
}


@pytest.mark.parametrize("form", list(EDGES))
@pytest.mark.claim("api", "repeat() and repeat(-1) repeat the dataset indefinitely; take(-1), or a count past the "
                           "end, takes every element; skip(-1) skips every element", source="docs")
def test_edge_counts_give_the_reference_elements(form):
    """repeat() and repeat(-1) forever (but an empty dataset stays empty), take(-1) everything,
    skip(-1) everything, counts past the end stop at the end."""
    both(EDGES[form], form)


# --- the book's pipelines --------------------------------------------------------------

@pytest.mark.claim("ch7.4", "dataset = tf.data.Dataset.from_tensor_slices([1, 2, 3, 5, 8]); x = "
                            "dataset.make_one_shot_iterator().get_next(); y = x * x prints 1, 4, 9, 25, 64",
                   source="book", code="1.4.0/Chapter07/7. 数据集基本使用方法.ipynb, cell 2", verdict="changed",
                   since="TF 2.0",
                   correction="TF2's tf.data.Dataset has no make_one_shot_iterator method: "
                              "tf.compat.v1.data.make_one_shot_iterator(dataset) in a graph, or a for loop over the "
                              "dataset")
def test_the_books_first_dataset_squares_1_2_3_5_8():
    printed = [1, 4, 9, 25, 64]  # the book's output
    for form in (R.squares, R.squares_v1, T.squares, T.squares_v1):
        out = form([1, 2, 3, 5, 8])
        name = f"{form.__module__}.{form.__name__}"
        assert [int(v) for v in out] == printed, name
        assert {np.asarray(v).dtype for v in out} == {np.dtype(np.int32)}, f"{name}: a Python list is int32"
    assert not hasattr(tf.data.Dataset, "make_one_shot_iterator")
    assert hasattr(tf.compat.v1.data.Dataset, "make_one_shot_iterator")


IMAGES = np.random.default_rng(7).integers(0, 256, (10, 2, 3), dtype=np.uint8)
LABELS = np.arange(10)


@pytest.mark.parametrize("buffer_size", [1, 4, 10])
@pytest.mark.claim("ch7.4", "map -> shuffle(buffer) -> batch -> repeat(N), read through an initializable iterator "
                            "until OutOfRangeError, passes N times over the data in shuffled batches",
                   source="book", code="1.4.0/Chapter07/8. 数据集高层操作.ipynb, cells 6 and 10")
def test_the_books_pipeline_reads_the_data_epochs_times_in_the_session_and_in_tf2(buffer_size, no_global_seed):
    """Ten images, batches of 4, 3 epochs: 3 x (4, 4, 2) batches; each epoch a permutation of the
    labels ending in its own partial batch (batch comes before repeat); each image float32 pixels / 255,
    bitwise (a float32 division, correctly rounded on both sides). The Session loop and the TF2 loop
    read the same batches, shuffled orders included, for one seed; buffer_size 1 reads in order, as the
    reference does."""
    runs = {"reference": R.input_pipeline_v1(IMAGES, LABELS, 4, buffer_size, 3, seed=11),
            "tf2": elements(T.input_pipeline(IMAGES, LABELS, 4, buffer_size, 3, seed=11)),
            "v1 session": T.input_pipeline_v1(IMAGES, LABELS, 4, buffer_size, 3, seed=11)}
    for name, batches in runs.items():
        assert [len(b[1]) for b in batches] == [4, 4, 2] * 3, name
        for epoch in range(3):
            order = np.concatenate([b[1] for b in batches[3 * epoch:3 * epoch + 3]])
            assert sorted(order) == list(LABELS), f"{name}, epoch {epoch}: {order}"
        for images, labels in batches:
            np.testing.assert_array_equal(images, IMAGES[labels].astype(np.float32) / np.float32(255), strict=True)
    assert_same_elements(runs["v1 session"], runs["tf2"], "Session vs TF2, one seed")
    if buffer_size == 1:
        assert_same_elements(runs["tf2"], runs["reference"], "buffer_size 1: no shuffling")


PIXELS = np.random.default_rng(8).integers(0, 256, (12, 3, 2), dtype=np.uint8)


@given(n=st.integers(2, 12), batch_size=st.integers(2, 5), buffer_size=st.integers(2, 14), epochs=st.integers(1, 3),
       seed=st.one_of(SEEDS, st.none()))
@example(n=0, batch_size=3, buffer_size=2, epochs=2, seed=5)  # no data
@example(n=7, batch_size=3, buffer_size=5, epochs=0, seed=None)  # no epochs
@example(n=9, batch_size=4, buffer_size=1, epochs=2, seed=None)  # no shuffling: every form's order is the input's
def test_input_pipeline_every_form_batches_each_epoch_of_the_data(n, batch_size, buffer_size, epochs, seed):
    """input_pipeline's every parameter at other values than the book's, on its four forms (each side's
    TF2 and TF1 forms): epochs x the batches of one epoch (n // batch_size full ones and the remainder:
    batch comes before repeat), each epoch a permutation of the data whose output k is one of its first
    buffer_size + k elements, each image its pixels / 255 in float32, bitwise, beside its int64 label.
    For a seed, each side's two forms give one order (TF's with the global seed unset, as in the TF1
    form's fresh graph; a @given test cannot take the fixture); buffer_size 1 gives the input's."""
    tf.random.set_seed(None)
    images, labels = PIXELS[:n], np.arange(n)
    args = (images, labels, batch_size, buffer_size, epochs, seed)
    runs = {"reference": list(R.input_pipeline(*args)), "reference v1": R.input_pipeline_v1(*args),
            "tfimpl": elements(T.input_pipeline(*args)), "tfimpl v1": T.input_pipeline_v1(*args)}
    sizes = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    for name, batches in runs.items():
        assert [len(b[1]) for b in batches] == sizes * epochs, f"{name}: batch sizes"
        order = np.concatenate([b[1] for b in batches]) if batches else np.array([], np.int64)
        for epoch in range(epochs):
            run = order[epoch * n:(epoch + 1) * n]
            assert sorted(run) == list(range(n)), f"{name}, epoch {epoch}: {run}"
            late = [(k, v) for k, v in enumerate(run) if v >= buffer_size + k]
            assert not late, f"{name}, epoch {epoch}: outputs (k, value) beyond the window {late}: {run}"
        for x, y in batches:
            assert y.dtype == np.int64, f"{name}: labels {y.dtype}"
            np.testing.assert_array_equal(x, PIXELS[y].astype(np.float32) / np.float32(255), strict=True, err_msg=name)
    if seed is not None:
        assert_same_elements(runs["reference v1"], runs["reference"], "reference: v1 vs TF2 form, one seed")
        assert_same_elements(runs["tfimpl v1"], runs["tfimpl"], "tfimpl: Session vs TF2, one seed")
    if buffer_size == 1:
        for name in runs:
            assert_same_elements(runs[name], runs["reference"], f"{name} vs reference, buffer_size 1")


@pytest.mark.planted
def test_planted_pipeline_parameter_bugs_fail_the_every_form_test(monkeypatch):
    """tfimpl's input_pipeline repeating before it batches, and its TF1 form dropping the seed: the
    every-form test fails on an ordinary case (ten images, batches of 4, buffer 3, two epochs, seed 7)."""
    test = test_input_pipeline_every_form_batches_each_epoch_of_the_data.hypothesis.inner_test
    with monkeypatch.context() as m:
        m.setattr(T, "input_pipeline", planted_input_pipeline("repeat-before-batch"))
        with pytest.raises(AssertionError, match="tfimpl: batch sizes"):
            test(n=10, batch_size=4, buffer_size=3, epochs=2, seed=7)
    input_pipeline_v1 = T.input_pipeline_v1
    monkeypatch.setattr(T, "input_pipeline_v1", lambda images, labels, batch_size, buffer_size, epochs, seed=None:
                        input_pipeline_v1(images, labels, batch_size, buffer_size, epochs))
    with pytest.raises(AssertionError, match="tfimpl: Session vs TF2, one seed"):
        test(n=10, batch_size=4, buffer_size=3, epochs=2, seed=7)


# --- shuffle: the same properties on both sides ------------------------------------------

@given(n=st.integers(2, 20), seed=SEEDS)
@example(n=0, seed=0)
@pytest.mark.parametrize("side", SIDES)
@pytest.mark.claim("guide", "shuffle(buffer_size=1) is the identity", source="docs")
def test_shuffle_with_a_buffer_of_one_is_the_identity(side, n, seed):
    assert values(side.Dataset.range(n).shuffle(1, seed=seed)) == list(range(n))


@given(n=st.integers(2, 25), buffer_size=st.integers(2, 30), seed=SEEDS, reshuffle=st.booleans())
@example(n=0, buffer_size=3, seed=0, reshuffle=True)
@pytest.mark.parametrize("side", SIDES)
@pytest.mark.claim("guide", "every shuffle is a permutation", source="docs")
def test_every_shuffle_is_a_permutation(side, n, buffer_size, seed, reshuffle):
    ds = side.Dataset.range(n).shuffle(buffer_size, seed=seed, reshuffle_each_iteration=reshuffle)
    for epoch in range(2):
        out = values(ds)
        assert sorted(out) == list(range(n)), f"buffer {buffer_size}, epoch {epoch}: {out}"


@given(n=st.integers(3, 40), buffer_size=st.integers(2, 12), seed=SEEDS)
@pytest.mark.parametrize("side", SIDES)
@pytest.mark.claim("guide", "with buffer b, the first output comes from the first b elements", source="docs")
def test_shuffle_output_k_comes_from_the_first_buffer_size_plus_k_elements(side, n, buffer_size, seed):
    """The buffer holds the first b elements; each output is replaced by the next input, so output k
    is one of inputs 0 .. b + k - 1 (output 0 one of the first b)."""
    out = values(side.Dataset.range(n).shuffle(buffer_size, seed=seed))
    late = [(k, v) for k, v in enumerate(out) if v >= buffer_size + k]
    assert not late, f"buffer {buffer_size}: outputs (k, value) beyond the window: {late}; order {out}"


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.claim("guide", "with buffer b, the first output comes from the first b elements", source="docs")
def test_the_guides_first_batch_has_no_index_over_buffer_plus_batch_and_the_window_is_used(side):
    """The guide: buffer_size 100 and batches of 20, so the first batch holds no index over 120
    (the window bound: at most 119). And the bound is tight: with buffer 8 over 64 elements, some
    output is the newest element the window allows (value k + 7 at position k), for each of three
    seeds (a uniform pick misses it at ~56 steps with probability (7/8)^56 ~ 6e-4)."""
    first = next(side.Dataset.range(600).shuffle(100, seed=3).batch(20).as_numpy_iterator())
    assert first.max() < 120, first
    for seed in range(3):
        out = values(side.Dataset.range(64).shuffle(8, seed=seed))
        assert max(v - k for k, v in enumerate(out)) == 7, out


@given(n=st.integers(2, 20), buffer_size=st.integers(2, 20), seed=SEEDS)
@pytest.mark.parametrize("side", SIDES)
@pytest.mark.claim("guide", "a seeded shuffle repeats", source="docs")
def test_a_seeded_shuffle_repeats(side, n, buffer_size, seed):
    """Two datasets shuffled with one seed give the same order, epoch after epoch (reshuffled
    each iteration: the same sequence of orders); without reshuffling, every epoch has one order."""
    def build(reshuffle):
        return side.Dataset.range(n).shuffle(buffer_size, seed=seed, reshuffle_each_iteration=reshuffle)
    first, second = build(True), build(True)
    assert [values(first) for _ in range(3)] == [values(second) for _ in range(3)]
    fixed = build(False)
    orders = [values(fixed) for _ in range(3)]
    assert orders[0] == orders[1] == orders[2], orders
    repeated = values(build(False).repeat(2))
    assert repeated[:n] == repeated[n:], repeated


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.claim("guide", "reshuffle_each_iteration changes the order between epochs", source="docs")
def test_reshuffle_each_iteration_changes_the_order_between_epochs(side):
    """20 elements, a full buffer: each epoch's order is a fresh uniform permutation, equal to the
    previous with probability 1 / 20! ~ 4e-19; for five seeds, every epoch of three differs from the
    one before, whether the epochs are iterations of one dataset or passes of repeat()."""
    for seed in range(5):
        ds = side.Dataset.range(20).shuffle(20, seed=seed)
        orders = [values(ds) for _ in range(3)]
        assert orders[0] != orders[1] != orders[2], (seed, orders)
        passes = values(side.Dataset.range(20).shuffle(20, seed=seed).repeat(3))
        assert passes[:20] != passes[20:40] != passes[40:], (seed, passes)


@given(n=st.integers(16, 30), data=st.data(), seed=SEEDS)
@pytest.mark.parametrize("side", SIDES)
@pytest.mark.claim("guide", "repeat().shuffle() differs from shuffle().repeat(): shuffle doesn't signal the end of an "
                            "epoch until its buffer is empty, so a shuffle before a repeat shows every element of one "
                            "epoch before the next; a repeat before a shuffle mixes the epoch boundaries",
                   source="docs")
def test_shuffle_then_repeat_keeps_epochs_and_repeat_then_shuffle_mixes_them(side, n, data, seed):
    """shuffle(b).repeat(3): each run of n outputs is a permutation of the data, for any b.
    repeat(3).shuffle(n): within the first n outputs some element comes twice, so an element of
    epoch 2 came before one of epoch 1 (with the full buffer every pick avoids epoch 2 with
    probability n! / n^n <= 16! / 16^16 ~ 1e-6)."""
    buffer_size = data.draw(st.integers(2, 2 * n), label="buffer_size")
    kept = values(side.Dataset.range(n).shuffle(buffer_size, seed=seed).repeat(3))
    for epoch in range(3):
        assert sorted(kept[epoch * n:(epoch + 1) * n]) == list(range(n)), (epoch, kept)
    mixed = values(side.Dataset.range(n).repeat(3).shuffle(n, seed=seed))
    assert sorted(mixed) == sorted(list(range(n)) * 3)
    assert len(set(mixed[:n])) < n, f"the first {n} outputs are exactly epoch 1: {mixed[:n]}"


# --- shuffle: the law, on both sides ----------------------------------------------------------

LAW_N, LAW_BUFFER, LAW_DRAWS, LAW_ORDERS, ALPHA = 40, 20, 2500, 1000, 1e-6
"""The law tests: the first output of 2500 seeded shuffles of range(40) with a buffer of 20, and the
whole order of 1000 of them, on each side; a chi-square p-value under ALPHA fails. The seeds are fixed,
so the verdict is fixed too; ALPHA is the chance that a correct shuffle fails for another set of seeds (a
new NumPy or TF random stream). At it the first-output test has power 0.9996 against the issue's bias
(test_the_law_tests_power_against_the_issues_bias); the picks test, against the planted shuffle that
favours its buffer's front at every pick, failed 60 simulated runs of 60 (median p 5e-18; with 500
orders, 32 of 60)."""


def buffer_picks(order, n, buffer_size):
    """(m, r) for each output of ``order``, a shuffle of range(n): m the number of elements in the
    buffer when it was picked, r its rank among them (by input position).

    The law, read off TF's kernel (tensorflow/core/kernels/data/shuffle_dataset_op.cc,
    ShuffleDatasetBase::Iterator::GetNextInternal): fill the buffer to buffer_size elements, output
    the one at Random() % (the buffer's live size) (a 32-bit Philox draw: the modulo's bias is below
    size / 2^32), put the next input in its place. So before output k the buffer holds m = min(
    buffer_size, n - k) elements, inputs 0 .. buffer_size + k - 1 not yet output, and the pick's rank r
    is uniform on 0 .. m - 1 and independent of the picks before it. The first output is uniform over
    the first buffer_size elements; element j's position is P(k) = 1/m_k prod_(t<k) (1 - 1/m_t) from
    the step it enters. reference.data's shuffle claims the same algorithm. An output that is not in
    the buffer (beyond the window) fails here."""
    buffer, following, out = list(range(min(buffer_size, n))), min(buffer_size, n), []
    for k, v in enumerate(order):
        r = bisect.bisect_left(buffer, v)
        assert r < len(buffer) and buffer[r] == v, f"output {k} is {v}, not in the buffer {buffer}: order {order}"
        out.append((len(buffer), r))
        del buffer[r]
        if following < n:
            buffer.append(following)
            following += 1
    return out


def assert_first_output_uniform(firsts, buffer_size, what):
    """A chi-square test of the first outputs of shuffles against uniform on the first buffer_size
    elements (a first output beyond them fails buffer_picks, or here)."""
    counts = np.bincount(firsts, minlength=buffer_size)
    assert len(counts) == buffer_size, f"{what}: a first output beyond the first {buffer_size}: {counts.tolist()}"
    p = stats.chisquare(counts).pvalue
    assert p > ALPHA, (f"{what}: the first output is not uniform over the first {buffer_size} elements: "
                       f"p = {p:.2g}; counts {counts.tolist()}")


def assert_picks_uniform(orders, n, buffer_size, what):
    """A chi-square test of every pick's rank r in shuffles of range(n) against uniform on its buffer of
    m (one test per m >= 2, statistics summed, df = sum (m - 1): the picks are independent)."""
    counts = {}
    for order in orders:
        for m, r in buffer_picks(order, n, buffer_size):
            counts.setdefault(m, np.zeros(m, np.int64))[r] += 1
    statistic = sum(stats.chisquare(c).statistic for m, c in counts.items() if m > 1)
    p = stats.chi2.sf(statistic, sum(m - 1 for m in counts if m > 1))
    assert p > ALPHA, (f"{what}: the picks are not uniform over the buffer: p = {p:.2g}; rank counts with a "
                       f"full buffer {counts[min(buffer_size, n)].tolist()}")


def reference_orders(n, buffer_size, draws, first_only=False):
    """reference.data's shuffle of range(n), seeds 0 .. draws - 1: each order, or its first output."""
    if first_only:
        return [int(next(iter(R.Dataset.range(n).shuffle(buffer_size, seed=s)))) for s in range(draws)]
    return [values(R.Dataset.range(n).shuffle(buffer_size, seed=s)) for s in range(draws)]


def tf_orders(n, buffer_size, draws, first_only=False):
    """tf.data's shuffle of range(n), seeds 0 .. draws - 1, in one pipeline: each seed's dataset (its
    first output only, if first_only) flat-mapped, batched per seed, then all at once (a Python loop
    would build ``draws`` datasets)."""
    length = 1 if first_only else n

    def shuffled(seed):
        return T.Dataset.range(n).shuffle(buffer_size, seed=seed).take(length)
    orders = next(iter(T.Dataset.range(draws).flat_map(shuffled).batch(length).batch(draws))).numpy()
    return orders[:, 0].tolist() if first_only else orders.tolist()


@pytest.mark.parametrize("side", ["reference", "tf.data"])
def test_shuffle_follows_the_buffer_law_of_tfs_kernel(side, no_global_seed):
    """Each side's shuffle has the law of TF's kernel (buffer_picks): the first output uniform over the
    first 20 elements (2500 seeds), each pick uniform over the buffer (1000 whole orders: 21,000 picks
    from a full buffer, 19,000 from the draining one): about 0.4 s of CPU for the reference, 0.9 s for
    tf.data (its flat_map traced twice), measured on 2 loaded cores."""
    orders = reference_orders if side == "reference" else tf_orders
    assert_first_output_uniform(orders(LAW_N, LAW_BUFFER, LAW_DRAWS, first_only=True), LAW_BUFFER, side)
    assert_picks_uniform(orders(LAW_N, LAW_BUFFER, LAW_ORDERS), LAW_N, LAW_BUFFER, side)


def test_the_law_tests_power_against_the_issues_bias():
    """The issue's bias: the first output is element 0 with probability 0.10 instead of 0.05, the other
    19 sharing 0.90. The first-output test is a chi-square with 19 degrees of freedom over 2500 draws,
    failing above chi2.isf(1e-6, 19) = 63.7. 20,000 simulated tests under the bias reject 99.96 % of
    the time (200,000 gave 0.99961; with 2000 draws it would be 0.9931); the noncentral chi-square
    approximation (noncentrality 2500 sum (p1 - p0)^2 / p0 = 131.6) says 0.999995, optimistic. Under
    the uniform law the simulated tests reject at the 1 % level 1 % of the time: the chi-square
    approximation of the null holds at 125 draws a cell."""
    p0 = np.full(LAW_BUFFER, 1 / LAW_BUFFER)
    p1 = np.r_[0.10, np.full(LAW_BUFFER - 1, 0.90 / (LAW_BUFFER - 1))]
    df, critical = LAW_BUFFER - 1, stats.chi2.isf(ALPHA, LAW_BUFFER - 1)
    power = stats.ncx2.sf(critical, df, LAW_DRAWS * np.sum((p1 - p0) ** 2 / p0))
    assert power > 0.9999, power

    def statistics(p, rng):
        counts = rng.multinomial(LAW_DRAWS, p, size=20_000)
        return np.sum((counts - LAW_DRAWS * p0) ** 2 / (LAW_DRAWS * p0), axis=1)
    rng = np.random.default_rng(20)
    simulated = np.mean(statistics(p1, rng) > critical)
    assert simulated > 0.999, simulated
    false_alarms = np.mean(statistics(p0, rng) > stats.chi2.isf(0.01, df))
    assert abs(false_alarms - 0.01) < 0.0025, false_alarms  # 3.5 standard deviations of 20,000 draws


class Planted:
    """A module with the names given replaced: monkeypatched in as a module's ``np``, it plants a bug
    in that module's own code without copying the code."""

    def __init__(self, module, **replaced):
        self._module = module
        self.__dict__.update(replaced)

    def __getattr__(self, name):
        return getattr(self._module, name)


class FrontFavouring:
    """A NumPy Generator whose integers(m) is 0 with probability 1/19 before its uniform pick: with a
    full buffer of 20 the first output is element 0 with probability 1/19 + (18/19) / 20 = 0.10, the
    issue's bias, and every later pick favours the buffer's slot 0."""

    def __init__(self, rng):
        self.rng = rng

    def integers(self, m):
        return 0 if self.rng.random() < 1 / 19 else self.rng.integers(m)


@pytest.mark.planted
def test_planted_a_shuffle_that_favours_the_front_of_its_buffer_fails_the_law_test(monkeypatch):
    default_rng = np.random.default_rng
    generators = Planted(np.random, default_rng=lambda *seed: FrontFavouring(default_rng(*seed)))
    monkeypatch.setattr(R, "np", Planted(np, random=generators))
    firsts = reference_orders(LAW_N, LAW_BUFFER, LAW_DRAWS, first_only=True)
    assert 0.085 < np.mean(np.equal(firsts, 0)) < 0.115  # the plant is the issue's bias
    with pytest.raises(AssertionError, match="the first output is not uniform over the first 20 elements"):
        assert_first_output_uniform(firsts, LAW_BUFFER, "reference with the plant")
    with pytest.raises(AssertionError, match="the picks are not uniform over the buffer"):
        assert_picks_uniform(reference_orders(LAW_N, LAW_BUFFER, LAW_ORDERS), LAW_N, LAW_BUFFER, "with the plant")


PIPELINE_SEEDS, PIPELINE_EPOCHS = 20, 10
"""The pipeline law tests: 20 seeds of 10 epochs each, 200 shuffled epochs a side (tf.data spends
about 80 us an element in this pipeline, so epochs are paid for by the element)."""


def reference_pipeline_labels(batch_size, buffer_size, epochs, seeds):
    """The labels reference.data's input_pipeline yields for seeds 0 .. seeds - 1, epoch after epoch."""
    return [np.concatenate([labels for _, labels in R.input_pipeline(IMAGES, LABELS, batch_size, buffer_size, epochs,
                                                                      seed=s)]).tolist() for s in range(seeds)]


def tf_pipeline_labels(batch_size, buffer_size, epochs, seeds):
    """The labels tfimpl's input_pipeline yields for seeds 0 .. seeds - 1, in one tf.data pipeline."""
    def labels_of(seed):
        return T.input_pipeline(IMAGES, LABELS, batch_size, buffer_size, epochs, seed=seed).map(
            lambda images, labels: labels).unbatch()
    n = len(LABELS) * epochs
    return next(iter(T.Dataset.range(seeds).flat_map(labels_of).batch(n).batch(seeds))).numpy().tolist()


def check_pipeline_law(buffer_size, sides):
    """Each side's input_pipeline (ten images, batches of 4, 10 epochs, 20 seeds): every epoch is a
    draw of the buffer law (all 200 pooled); each epoch reshuffles, so an epoch's first output equals
    the one before's 1 / buffer_size of the time (a binomial test on the 100 disjoint pairs of epochs
    2j, 2j + 1); and the two sides' first outputs have one law (a chi-square test of homogeneity on
    their 2 x buffer_size table)."""
    n, firsts = len(LABELS), []
    for side, labels in sides.items():
        runs = labels(4, buffer_size, PIPELINE_EPOCHS, PIPELINE_SEEDS)
        epochs = [run[k * n:(k + 1) * n] for run in runs for k in range(PIPELINE_EPOCHS)]
        same = sum(a[0] == b[0] for a, b in zip(epochs[0::2], epochs[1::2]))
        p = stats.binomtest(same, len(epochs) // 2, 1 / buffer_size, alternative="greater").pvalue
        assert p > ALPHA, (f"{side}: an epoch's first output repeats the epoch before's {same} times in "
                           f"{len(epochs) // 2}: p = {p:.2g}")
        assert_first_output_uniform([epoch[0] for epoch in epochs], buffer_size, f"{side} input_pipeline")
        assert_picks_uniform(epochs, n, buffer_size, f"{side} input_pipeline, buffer {buffer_size}")
        firsts.append(np.bincount([epoch[0] for epoch in epochs], minlength=buffer_size))
    if len(firsts) == 2:
        p = stats.chi2_contingency(np.array(firsts)).pvalue
        assert p > ALPHA, f"the sides' first outputs differ in law: p = {p:.2g}\n{np.array(firsts)}"


PIPELINES = {"reference": reference_pipeline_labels, "tfimpl": tf_pipeline_labels}


@pytest.mark.parametrize("buffer_size", [4, 10])
def test_input_pipeline_shuffles_by_the_buffer_law_on_both_sides_and_afresh_each_epoch(buffer_size, no_global_seed):
    """The book's pipeline beyond buffer_size 1, where the orders differ by side (NumPy against Philox):
    a buffer of 4 (a window over ten images) and of 10 (a uniform permutation), compared as a law."""
    check_pipeline_law(buffer_size, PIPELINES)


def planted_input_pipeline(bug):
    """tfimpl's input_pipeline written with a bug: the shuffle after the batch (whole batches shuffled),
    no reshuffling each epoch, or the repeat before the batch (batches straddle epochs)."""
    def input_pipeline(images, labels, batch_size, buffer_size, epochs, seed=None):
        dataset = T.Dataset.from_tensor_slices((images, labels)).map(lambda x, y: (tf.cast(x, tf.float32) / 255, y))
        if bug == "shuffle-after-batch":
            return dataset.batch(batch_size).shuffle(buffer_size, seed=seed).repeat(epochs)
        if bug == "no-reshuffle":
            dataset = dataset.shuffle(buffer_size, seed=seed, reshuffle_each_iteration=False)
            return dataset.batch(batch_size).repeat(epochs)
        return dataset.shuffle(buffer_size, seed=seed).repeat(epochs).batch(batch_size)
    return input_pipeline


@pytest.mark.planted
@pytest.mark.parametrize("bug, message", [("shuffle-after-batch", "a first output beyond the first 4"),
                                          ("no-reshuffle", "an epoch's first output repeats the epoch before's")])
def test_planted_pipeline_shuffles_fail_the_law_test(monkeypatch, no_global_seed, bug, message):
    monkeypatch.setattr(T, "input_pipeline", planted_input_pipeline(bug))
    with pytest.raises(AssertionError, match=message):
        check_pipeline_law(4, {"tfimpl": tf_pipeline_labels})


# --- batch ------------------------------------------------------------------------------

@given(n=st.integers(1, 30), batch=st.integers(1, 8))
@example(n=0, batch=3)
@pytest.mark.claim("guide", "drop_remainder drops exactly the last partial batch", source="docs")
def test_drop_remainder_drops_exactly_the_last_partial_batch(n, batch):
    """batch(b, drop_remainder=True) is batch(b) without its last batch when that one has
    n % b != 0 elements; on TF the batch axis becomes static (b, not None), which is what the guide
    sets it for ("batches having the same outer dimension")."""
    kept = both(lambda D: D.range(n).batch(batch), f"n={n}, batch={batch}")
    dropped = both(lambda D: D.range(n).batch(batch, drop_remainder=True), f"n={n}, batch={batch}, drop")
    assert [len(b) for b in kept] == [batch] * (n // batch) + ([n % batch] if n % batch else [])
    assert_same_elements(dropped, kept[:n // batch], f"n={n}, batch={batch}: dropped vs kept")
    assert T.Dataset.range(n).batch(batch, drop_remainder=True).element_spec.shape.as_list() == [batch]
    assert T.Dataset.range(n).batch(batch).element_spec.shape.as_list() == [None]


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.claim("guide", "batch after repeat yields batches that straddle epoch boundaries; batch before repeat "
                            "keeps the epochs apart", source="docs")
def test_batch_after_repeat_straddles_epochs_and_batch_before_repeat_does_not(side):
    D = side.Dataset
    assert [list(b) for b in D.range(5).repeat(2).batch(4).as_numpy_iterator()] == [[0, 1, 2, 3], [4, 0, 1, 2], [3, 4]]
    assert [list(b) for b in D.range(5).batch(4).repeat(2).as_numpy_iterator()] == [[0, 1, 2, 3], [4]] * 2


# --- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize("tensors", [(np.arange(3), np.arange(4)), np.float64(1.0)],
                         ids=["components-of-different-lengths", "a-scalar"])
def test_both_sides_refuse_to_slice_what_has_no_common_first_axis(tensors):
    for side in (R, T):
        with pytest.raises(ValueError):
            side.Dataset.from_tensor_slices(tensors)
