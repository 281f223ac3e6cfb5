"""Checkpoints (the book's ch5.4): tf.compat.v1.train.Saver and tf.train.Checkpoint write real files,
restored into fresh graphs and fresh variables bitwise; the renaming restore loads a moving-average
shadow; import_meta_graph and a frozen graph evaluate as the live graph. Bad checkpoints fail with
TensorFlow's own errors, pinned per form (eager Checkpoint.read, Saver.restore in a Session), with what
each leaves in the target variables; the NumPy reference writes the same keys and numbers with np.savez
and rejects the same bad files with its own messages, changing nothing."""
import collections
import os
import re

import google_crc32c
import ml_dtypes
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import example, given
from hypothesis import strategies as st

import reference.checkpoint as R
import tfimpl.checkpoint as T
from tests import trajectory

DATA = ".data-00000-of-00001"
OBJECT_GRAPH = "_CHECKPOINTABLE_OBJECT_GRAPH"
VARIABLE_OPS = {"VariableV2", "Variable", "VarHandleOp", "ReadVariableOp", "AssignVariableOp", "Assign",
                "VarIsInitializedOp", "IsVariableInitialized", "ResourceGather"}


def every_kind_of_value():
    """One of each dtype a checkpoint holds, with the bit patterns a careless copy loses: -0.0, +-inf,
    a NaN with a payload, a subnormal, an empty array, a 0-d array; names with "/" and "."."""
    rng = np.random.default_rng(0)
    return {
        "layer1/w": rng.standard_normal((3, 4)).astype(np.float32),
        "layer1/b": np.array([0.0, -0.0, np.inf, -np.inf, 1e-45, np.uint32(0x7FC00123).view(np.float32)], np.float32),
        "half": rng.standard_normal(5).astype(np.float16),
        "brain": rng.standard_normal(4).astype(ml_dtypes.bfloat16),
        "double.pi": np.array(np.pi),
        "step": np.array(7, np.int64),
        "count": np.arange(-2, 3, dtype=np.int32),
        "mask": np.array([True, False]),
        "empty": np.zeros((0, 3), np.float32),
    }


def assert_bitwise(actual, expected, what):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert (actual.dtype, actual.shape) == (expected.dtype, expected.shape), (
        f"{what}: {actual.dtype}{actual.shape}, saved {expected.dtype}{expected.shape}")
    assert actual.tobytes() == expected.tobytes(), f"{what}: {actual!r} is not bitwise the saved {expected!r}"


def assert_all_bitwise(actual, expected, what):
    assert sorted(actual) == sorted(expected), f"{what}: names {sorted(actual)}, expected {sorted(expected)}"
    for name in expected:
        assert_bitwise(actual[name], expected[name], f"{what}, {name!r}")


def numpy_of(variables):
    return {name: np.asarray(v.numpy() if isinstance(v, tf.Variable) else v) for name, v in variables.items()}


# --- checkpoints that work --------------------------------------------------------------------

@pytest.mark.claim("ch5.4", "saver.save(sess, 'model.ckpt') writes three files: model.ckpt.meta (the graph's "
                            "structure), model.ckpt (the variables' values) and checkpoint (the list of the "
                            "directory's model files)", source="book", code="1.4.0/Chapter05/4.1. ckpt文件保存方法.ipynb, cell 2 (the save)",
                   verdict="wrong",
                   correction="three was the V1 format's count (TF 0.11 and before); the V2 format, TF's default "
                              "since 0.12 (its release notes) and so in the book's TF 1.4, writes four: "
                              "model.ckpt.index (each key's dtype, shape, offset and CRC-32C), "
                              "model.ckpt.data-00000-of-00001 (the bytes), model.ckpt.meta and checkpoint; no file "
                              "is named model.ckpt. TF2's Checkpoint.write writes only the index and the data")
def test_saver_writes_an_index_a_data_shard_the_meta_graph_and_the_checkpoint_list(tmp_path):
    path = T.save_v1(tmp_path / "model.ckpt", {"v1": np.array([1.0], np.float32), "v2": np.array([2.0], np.float32)})
    assert path == str(tmp_path / "model.ckpt")
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "model.ckpt" + DATA, "model.ckpt.index", "model.ckpt.meta"]
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert (state.model_checkpoint_path, list(state.all_model_checkpoint_paths)) == (path, [path])
    meta = tf.compat.v1.MetaGraphDef()
    meta.ParseFromString((tmp_path / "model.ckpt.meta").read_bytes())
    assert {"v1", "v2"} <= {node.name for node in meta.graph_def.node}, "the .meta file holds the graph"
    T.save(tmp_path / "tf2", {"v1": np.array([1.0], np.float32)})
    assert sorted(f for f in os.listdir(tmp_path) if f.startswith("tf2")) == ["tf2" + DATA, "tf2.index"]


@pytest.mark.claim("ch5.4", "saver.restore(sess, path) in a program that defines the same variables loads their "
                            "saved values", source="book", code="1.4.0/Chapter05/4.1. ckpt文件保存方法.ipynb, cell 4")
def test_saver_restore_into_a_fresh_graph_is_bitwise_for_every_dtype(tmp_path):
    saved = every_kind_of_value()
    path = T.save_v1(tmp_path / "model.ckpt", saved)
    targets = {name: np.ones_like(value) for name, value in saved.items()}  # a fresh graph starting elsewhere
    assert_all_bitwise(T.restore_v1(path, targets), saved, "Saver.restore in a fresh graph")
    ref_targets = {name: np.ones_like(value) for name, value in saved.items()}
    assert_all_bitwise(R.restore_v1(R.save_v1(tmp_path / "model.npz", saved), ref_targets), saved, "reference")


@pytest.mark.claim("ch5.4", "tf.train.NewCheckpointReader(path) lists every saved variable's name and shape "
                            "(v1 [1], v2 [1]) and get_tensor('v1') returns its value, [1.]", source="book")
def test_the_checkpoint_reader_lists_the_names_and_shapes_of_the_numpy_arrays_and_returns_them_bitwise(tmp_path):
    book = T.save_v1(tmp_path / "book.ckpt", {"v1": np.array([1.0], np.float32), "v2": np.array([2.0], np.float32)})
    reader = tf.compat.v1.train.NewCheckpointReader(book)  # the book's form
    assert reader.get_variable_to_shape_map() == {"v1": [1], "v2": [1]}
    assert_bitwise(reader.get_tensor("v1"), np.array([1.0], np.float32), "book v1")

    saved = every_kind_of_value()
    path, ref_path = T.save_v1(tmp_path / "model.ckpt", saved), R.save_v1(tmp_path / "model.npz", saved)
    expected = sorted((name, list(value.shape)) for name, value in saved.items())
    assert T.list_variables(path) == R.list_variables(ref_path) == expected
    assert_all_bitwise(T.load_checkpoint(path), saved, "tf.train.load_checkpoint")
    assert_all_bitwise(R.load_checkpoint(ref_path), saved, "reference load_checkpoint")


@pytest.mark.claim("ch5.4", "restoring into variables named differently fails, the saved names are not found; "
                            "tf.train.Saver({'v1': other_v1, 'v2': other_v2}) loads each saved name into the "
                            "variable given", source="book", code="1.4.0/Chapter05/4.1. ckpt文件保存方法.ipynb, cell 8")
def test_saver_finds_variables_by_name_and_a_dict_maps_saved_names_to_other_variables(tmp_path):
    saved = {"v1": np.array([1.0], np.float32), "v2": np.array([2.0], np.float32)}
    path, ref_path = T.save_v1(tmp_path / "model.ckpt", saved), R.save_v1(tmp_path / "model.npz", saved)
    start = {"other-v1": np.zeros(1, np.float32), "other-v2": np.zeros(1, np.float32)}
    renamed = {"other-v1": "v1", "other-v2": "v2"}
    targets = dict(start)
    with pytest.raises(tf.errors.NotFoundError, match=r"Key other-v[12] not found in checkpoint"):
        T.restore_v1(path, targets)
    assert_all_bitwise(targets, start, "after the failed restore")
    with pytest.raises(KeyError, match=r"holds no \['other-v1', 'other-v2'\]; it holds \['v1', 'v2'\]"):
        R.restore_v1(ref_path, dict(start))
    expected = {"other-v1": saved["v1"], "other-v2": saved["v2"]}
    assert_all_bitwise(T.restore_v1(path, dict(start), names=renamed), expected, "Saver({'v1': other_v1, ...})")
    assert_all_bitwise(R.restore_v1(ref_path, dict(start), names=renamed), expected, "reference")


@pytest.mark.claim("ch5.4", "tf.train.import_meta_graph loads the saved graph without defining it again, and "
                            "get_tensor_by_name('add:0') evaluates to [3.]", source="book", code="1.4.0/Chapter05/4.1. ckpt文件保存方法.ipynb, cell 6")
def test_import_meta_graph_restores_the_graph_and_add_0_evaluates_to_the_sum(tmp_path):
    book = T.save_sum_v1(tmp_path / "book.ckpt", {"v1": np.array([1.0], np.float32), "v2": np.array([2.0], np.float32)})
    assert_bitwise(T.import_meta_graph_v1(book, "add:0"), np.array([3.0], np.float32), "the book's add:0")
    rng = np.random.default_rng(1)
    v1, v2 = rng.standard_normal((2, 5)).astype(np.float32)
    path = T.save_sum_v1(tmp_path / "model.ckpt", {"v1": v1, "v2": v2})
    # one float32 addition, correctly rounded on both sides: bitwise
    assert_bitwise(T.import_meta_graph_v1(path, "add:0"), v1 + v2, "add:0 of random values")


def test_checkpoint_write_and_read_are_bitwise_and_key_each_value_by_its_attribute_path(tmp_path):
    """TF2: tf.train.Checkpoint(**variables).write / .read into fresh tf.Variables, bitwise; the keys are
    tf2_key(name) ('/' written '.S', '.' doubled) plus the object graph, as the reference writes them."""
    saved = every_kind_of_value()
    path, ref_path = T.save(tmp_path / "ckpt", saved), R.save(tmp_path / "ckpt.npz", saved)
    targets = {name: tf.Variable(np.ones_like(value), name=name) for name, value in saved.items()}
    T.restore(path, targets)
    assert_all_bitwise(numpy_of(targets), saved, "Checkpoint.read into fresh variables")
    assert T.tf2_key("layer1/w") == R.tf2_key("layer1/w") == "layer1.Sw/.ATTRIBUTES/VARIABLE_VALUE"
    assert T.tf2_key("double.pi") == R.tf2_key("double.pi") == "double..pi/.ATTRIBUTES/VARIABLE_VALUE"
    assert T.list_variables(path) == sorted([(OBJECT_GRAPH, [])] + R.list_variables(ref_path))
    loaded, ref_loaded = T.load_checkpoint(path), R.load_checkpoint(ref_path)
    assert isinstance(loaded.pop(OBJECT_GRAPH), bytes)  # a serialized TrackableObjectGraph proto
    assert_all_bitwise(loaded, {T.tf2_key(name): value for name, value in saved.items()}, "load_checkpoint")
    assert_all_bitwise(ref_loaded, loaded, "reference against TF")
    ref_targets = {name: np.ones_like(value) for name, value in saved.items()}
    assert_all_bitwise(R.restore(ref_path, ref_targets), saved, "reference restore")


@pytest.mark.parametrize("max_to_keep", [1, 3, None])
def test_checkpoint_manager_keeps_the_last_max_to_keep_checkpoints_and_deletes_the_rest(tmp_path, max_to_keep):
    rng = np.random.default_rng(2)
    steps = [{"w": rng.standard_normal(3).astype(np.float32), "step": np.array(k, np.int64)} for k in range(5)]
    kept = T.save_steps(tmp_path / "tf", steps, max_to_keep)
    ref_kept = R.save_steps(str(tmp_path / "ref"), steps, max_to_keep)
    first = 1 if max_to_keep is None else 6 - max_to_keep
    names = [f"ckpt-{k}" for k in range(first, 6)]
    assert [os.path.basename(p) for p in kept] == [os.path.basename(p) for p in ref_kept] == names
    files = sorted(["checkpoint"] + [n + suffix for n in names for suffix in (DATA, ".index")])
    assert sorted(os.listdir(tmp_path / "tf")) == files
    assert sorted(os.listdir(tmp_path / "ref")) == sorted(["checkpoint"] + names)
    assert T.latest_checkpoint(tmp_path / "tf") == kept[-1]
    assert R.latest_checkpoint(str(tmp_path / "ref")) == ref_kept[-1]
    for k, p, q in zip(range(first, 6), kept, ref_kept):
        loaded = T.load_checkpoint(p)
        del loaded[OBJECT_GRAPH]
        expected = {T.tf2_key("save_counter"): np.array(k, np.int64),
                    **{T.tf2_key(name): value for name, value in steps[k - 1].items()}}
        assert_all_bitwise(loaded, expected, f"TF ckpt-{k}")
        assert_all_bitwise(R.load_checkpoint(q), expected, f"reference ckpt-{k}")
    # Checkpoint.read (unlike .restore) makes no save_counter to take the manager's: restoring the
    # variables alone leaves it unmatched, so it takes expect_partial; the reference says the same
    variables = {name: tf.Variable(np.zeros_like(value), name=name) for name, value in steps[0].items()}
    with pytest.raises(AssertionError, match=r"Unresolved object in checkpoint \(root\)\.save_counter"):
        T.restore(kept[-1], variables)
    with pytest.raises(AssertionError, match=r"no variable took: \['save_counter/\.ATTRIBUTES/VARIABLE_VALUE'\]"):
        R.restore(ref_kept[-1], {name: np.zeros_like(value) for name, value in steps[0].items()})
    targets = {name: np.zeros_like(value) for name, value in steps[0].items()}
    assert_all_bitwise(numpy_of(T.restore(kept[-1], variables, partial=True)), steps[-1], "TF latest, partial")
    assert_all_bitwise(R.restore(ref_kept[-1], targets, partial=True), steps[-1], "reference latest, partial")


@pytest.mark.claim("ch5.4", "the book's moving-average program (v = 0, ExponentialMovingAverage(0.99), v = 10, "
                            "one update) saves v = 10.0 and its shadow v/ExponentialMovingAverage = 0.099999905",
                   source="book", code="1.4.0/Chapter05/4.2.1 滑动平均类的保存.ipynb, cell 4 (prints [10.0, 0.099999905])")
def test_the_moving_average_checkpoint_holds_10_and_the_shadow_0_099999905(tmp_path):
    values = {"v": np.array([0.0, 10.0], np.float32)}
    saved = T.load_checkpoint(T.save_averages_v1(tmp_path / "model.ckpt", values, 0.99))
    assert_all_bitwise(saved, {"v": np.float32(10.0), "v/ExponentialMovingAverage": np.float32(0.099999905)},
                       "the book's printout")
    ref = R.load_checkpoint(R.save_averages_v1(tmp_path / "model.npz", values, 0.99))
    assert_bitwise(ref["v"], np.float32(10.0), "reference v")
    # TF's 1 - decay is float32's 1 - 0.99f = 0.00999999 (float32(0.99) is 1.1e-8 above 0.99: 1.1e-6
    # relative on 1 - d); the reference's is float64's 0.01, rounded once to 0.1f at the end
    np.testing.assert_allclose(saved["v/ExponentialMovingAverage"], ref["v/ExponentialMovingAverage"], rtol=2e-6)


@pytest.mark.claim("ch5.4", "tf.train.Saver({'v/ExponentialMovingAverage': v}) loads the saved shadow into v, "
                            "and ema.variables_to_restore() builds that dict, {'v/ExponentialMovingAverage': v}",
                   source="book", code="1.4.0/Chapter05/4.2.2 variables_to_restore函数的使用样例.ipynb, cell 0")
def test_a_renaming_restore_loads_the_moving_average_shadow_into_the_variable(tmp_path):
    rng = np.random.default_rng(3)
    values = {"v": np.array([0.0, 10.0], np.float32), "w": rng.standard_normal((2, 2, 3)).astype(np.float32)}
    path = T.save_averages_v1(tmp_path / "model.ckpt", values, 0.99)
    ref_path = R.save_averages_v1(tmp_path / "model.npz", values, 0.99)
    shadows = {name: T.load_checkpoint(path)[name + "/ExponentialMovingAverage"] for name in values}
    assert_bitwise(shadows["v"], np.float32(0.099999905), "the book's shadow")
    start = {"v": np.zeros((), np.float32), "w": np.zeros((2, 3), np.float32)}
    renamed = {name: name + "/ExponentialMovingAverage" for name in values}
    assert_all_bitwise(T.restore_v1(path, dict(start), names=renamed), shadows,
                       "Saver({'v/ExponentialMovingAverage': v})")
    assert_all_bitwise(T.restore_averages_v1(path, dict(start)), shadows, "Saver(ema.variables_to_restore())")
    ref_shadows = {name: R.load_checkpoint(ref_path)[name + "/ExponentialMovingAverage"] for name in values}
    assert_all_bitwise(R.restore_v1(ref_path, dict(start), names=renamed), ref_shadows, "reference renaming")
    assert_all_bitwise(R.restore_averages_v1(ref_path, dict(start)), ref_shadows, "reference averages")
    graph = tf.Graph()
    with graph.as_default():  # the book's print(ema.variables_to_restore())
        v = tf.compat.v1.Variable(0, dtype=tf.float32, name="v")
        ema = tf.compat.v1.train.ExponentialMovingAverage(0.99)
        assert ema.variables_to_restore() == {"v/ExponentialMovingAverage": v}


AVERAGED = {"v": np.array([0.0, 10.0, 10.0, 4.0, -2.5, 7.0], np.float32),
            "layer1/w": np.random.default_rng(6).standard_normal((6, 2, 3)).astype(np.float32)}
"""Each variable's value at each step: the book's 0 then 10, and a (2, 3) weight, five updates."""


def check_averaged_checkpoints(folder, values, decay):
    """The averages checkpointed after every step: for k = 1, 2, ..., each side's save_averages_v1 of
    the first k + 1 values. In each TF checkpoint the variable is bitwise its last value, and the
    shadow is the reference checkpoint's within the drift bound of k float32 updates
    (trajectory.ema_bounds: the reference's shadow moved by TF's known float32-decay drift, each
    update's roundings carried by the later updates' factors); restore_averages_v1 loads exactly the
    saved shadow into the variable on each side. Returns the largest share of a bound used."""
    steps = len(next(iter(values.values()))) - 1
    tf_saved, ref_saved, used = [], [], 0.0
    for k in range(1, steps + 1):
        prefix = {name: series[:k + 1] for name, series in values.items()}
        tf_path = T.save_averages_v1(folder / f"model-{k}.ckpt", prefix, decay)
        ref_path = R.save_averages_v1(folder / f"model-{k}.npz", prefix, decay)
        tf_saved.append(T.load_checkpoint(tf_path))
        ref_saved.append(R.load_checkpoint(ref_path))
        start = {name: np.zeros_like(series[0]) for name, series in values.items()}
        restored = T.restore_averages_v1(tf_path, dict(start)), R.restore_averages_v1(ref_path, dict(start))
        for name, series in values.items():
            shadow = name + "/ExponentialMovingAverage"
            for side, saved, back in zip(("TF", "reference"), (tf_saved[-1], ref_saved[-1]), restored):
                assert_bitwise(saved[name], series[k], f"{side} step {k}: {name}")
                assert_bitwise(back[name], saved[shadow], f"{side} step {k}: {name} restored")
    for name, series in values.items():
        shadow = name + "/ExponentialMovingAverage"
        expected = [saved[shadow] for saved in ref_saved]
        centres, bounds = trajectory.ema_bounds(series, decay, None, expected, "float32")
        used = max(used, trajectory.assert_drift_within([saved[shadow] for saved in tf_saved], centres, bounds,
                                                        f"save_averages_v1, {name}'s shadow, decay {decay}"))
    return used


@pytest.mark.parametrize("decay", [0.99, 0.5])
def test_the_averages_checkpointed_after_every_step_are_the_reference_shadows(tmp_path, decay):
    """save_averages_v1 / restore_averages_v1 after 1, 2, ..., 5 updates, on both sides: the book's
    decay and a fast one. The book's program makes one update, whose shadow cannot tell an update per
    step from one update after the loop; five can."""
    check_averaged_checkpoints(tmp_path, AVERAGED, decay)


@pytest.mark.planted
def test_averages_updated_once_after_the_loop_fail_the_per_step_check(tmp_path, monkeypatch):
    """Planted (the issue's): save_averages_v1 assigns every value, then maintains the averages once
    after the loop instead of once per step: the shadow is d s_0 + (1 - d) v_last, which is right
    after one step (the book's example) and wrong from the second on."""
    real = T.save_averages_v1

    def once_after_the_loop(path, values, decay):
        return real(path, {name: np.asarray(series)[[0, -1]] for name, series in values.items()}, decay)
    monkeypatch.setattr(T, "save_averages_v1", once_after_the_loop)
    values = {name: series[:3] for name, series in AVERAGED.items()}
    with pytest.raises(AssertionError, match=r"after step 2, .* off the derived bound"):
        check_averaged_checkpoints(tmp_path, values, 0.5)


@pytest.mark.parametrize("side", ["reference", "tf"])
def test_series_of_different_lengths_are_rejected_on_both_sides(tmp_path, side):
    """Every variable takes one value per step. TF's loop ran as many steps as the first series had
    and the reference each series to its own end: (v: 2 steps, w: 4) saved w's second value in one
    and its fourth in the other. Both now refuse, with one message."""
    save = R.save_averages_v1 if side == "reference" else T.save_averages_v1
    values = {"v": np.zeros(2, np.float32), "w": np.zeros((4, 3), np.float32)}
    with pytest.raises(ValueError, match=r"^values must hold the same number of steps for every variable, "
                                         r"got lengths \{'v': 2, 'w': 4\}$"):
        save(tmp_path / "model.ckpt", values, 0.99)


# --- freezing ------------------------------------------------------------------------------------

@pytest.mark.claim("ch5.4", "graph_util.convert_variables_to_constants stores the variables as constants in the "
                            "GraphDef; the frozen graph, imported, evaluates add:0 to [3.]", source="book",
                   code="1.4.0/Chapter05/4.3. pb文件保存方法.ipynb, cells 1 and 3 (convert_variables_to_constants(sess, graph_def, "
                        "['add']), import_graph_def(..., return_elements=['add:0']))")
def test_a_frozen_graph_evaluates_as_the_live_graph_and_holds_no_variable_ops(tmp_path):
    book = T.save_sum_v1(tmp_path / "book.ckpt", {"v1": np.array([1.0], np.float32), "v2": np.array([2.0], np.float32)})
    T.freeze_v1(book, ["add"], tmp_path / "combined_model.pb")
    assert_bitwise(T.run_frozen_v1(tmp_path / "combined_model.pb", "add:0"), np.array([3.0], np.float32), "book")
    rng = np.random.default_rng(4)
    variables = {f"layer{k}/w": rng.standard_normal((3, 4)).astype(np.float32) for k in range(3)}
    path = T.save_sum_v1(tmp_path / "model.ckpt", variables)
    frozen = T.freeze_v1(path, ["add"], tmp_path / "frozen.pb")
    ops = {node.op for node in frozen.node}
    assert not ops & VARIABLE_OPS, f"variable ops left in the frozen graph: {ops & VARIABLE_OPS}"
    assert sum(node.op == "Const" for node in frozen.node) >= len(variables)
    assert_bitwise(T.run_frozen_v1(tmp_path / "frozen.pb", "add:0"), T.import_meta_graph_v1(path, "add:0"), "frozen")


def test_a_frozen_tf_function_evaluates_as_the_live_one_and_no_longer_follows_its_variables():
    rng = np.random.default_rng(5)
    w, b = tf.Variable(rng.standard_normal((3, 2))), tf.Variable(rng.standard_normal(2))
    x = tf.constant(rng.standard_normal((4, 3)))
    live = tf.function(lambda: tf.matmul(x, w) + b).get_concrete_function()
    frozen = T.freeze(live)
    live_ops = {node.op for node in live.graph.as_graph_def().node}
    frozen_ops = {node.op for node in frozen.graph.as_graph_def().node}
    assert "ReadVariableOp" in live_ops and not frozen_ops & VARIABLE_OPS, (live_ops, frozen_ops)
    assert not frozen.graph.captures, "a frozen function captures no variable handles"
    before = live().numpy()
    assert_bitwise(tf.nest.flatten(frozen())[0], before, "frozen against live")
    w.assign(w + 1.0)
    assert not np.array_equal(live().numpy(), before)
    assert_bitwise(tf.nest.flatten(frozen())[0], before, "frozen after the variable changed")


# --- bad checkpoints -------------------------------------------------------------------------------
# Saved: a, m, z; the targets start at -1 with the saved shapes and dtypes unless a case changes one.

SAVED = {"a": np.array(7.0, np.float32), "m": np.arange(6, dtype=np.float32).reshape(2, 3), "z": np.array(9.0)}


def start(**changed):
    """The targets' starting values: -1 everywhere, in the saved shapes and dtypes except ``changed``."""
    values = {name: np.full(value.shape, -1, value.dtype) for name, value in SAVED.items()}
    values.update(changed)
    return values


def tf2_variables(values):
    return {name: tf.Variable(value, name=name) for name, value in values.items()}


Saved = collections.namedtuple("Saved", "tf2 tf1 ref ref_v1")


@pytest.fixture
def saved(tmp_path):
    """One checkpoint of SAVED in each form: TF2 Checkpoint.write and TF1 Saver.save prefixes, and the
    reference's files of each (TF2 keys, TF1 names)."""
    return Saved(T.save(tmp_path / "tf2", SAVED), T.save_v1(tmp_path / "tf1", SAVED),
                 R.save(tmp_path / "ref", SAVED), R.save_v1(tmp_path / "ref_v1", SAVED))


def test_a_missing_checkpoint_is_rejected_in_every_form_and_changes_nothing(tmp_path):
    path = str(tmp_path / "nothing-here")
    variables = tf2_variables(start())
    with pytest.raises(tf.errors.NotFoundError, match=f"Failed to find any matching files for {re.escape(path)}"):
        T.restore(path, variables)
    assert_all_bitwise(numpy_of(variables), start(), "TF2 targets")
    targets = start()
    with pytest.raises(ValueError, match=f"The passed save_path is not a valid checkpoint: {re.escape(path)}"):
        T.restore_v1(path, targets)
    assert_all_bitwise(targets, start(), "TF1 targets")
    targets = start()
    with pytest.raises(FileNotFoundError, match=f"no checkpoint at {re.escape(path)}"):
        R.restore(path, targets)
    assert_all_bitwise(targets, start(), "reference targets")


def test_a_missing_index_file_reads_as_a_missing_checkpoint(saved):
    """Without path.index TensorFlow finds no checkpoint at all (the data file alone is not one):
    the same errors as a missing path. The reference's checkpoint is one file: its missing-file case is above."""
    tf2, tf1, _, _ = saved
    for prefix in (tf2, tf1):
        os.remove(prefix + ".index")
    variables = tf2_variables(start())
    with pytest.raises(tf.errors.NotFoundError, match=f"Failed to find any matching files for {re.escape(tf2)}"):
        T.restore(tf2, variables)
    with pytest.raises(tf.errors.NotFoundError, match="Failed to find any matching files"):
        T.list_variables(tf2)
    assert_all_bitwise(numpy_of(variables), start(), "TF2 targets")
    targets = start()
    with pytest.raises(ValueError, match=f"The passed save_path is not a valid checkpoint: {re.escape(tf1)}"):
        T.restore_v1(tf1, targets)
    assert_all_bitwise(targets, start(), "TF1 targets")


def test_a_dtype_mismatch_is_rejected_before_any_variable_changes(saved):
    """One RestoreV2 op reads every tensor before any is assigned, and it checks each dtype:
    InvalidArgumentError, in both forms, naming the key and both dtypes; nothing changes."""
    tf2, tf1, ref, _ = saved
    wrong = start(m=np.full((2, 3), -1.0))  # float64 for a float32 value
    variables = tf2_variables(wrong)
    mismatch = "expected dtype double does not equal original dtype float"
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=rf"tensor_name = m/\.ATTRIBUTES/VARIABLE_VALUE; {mismatch}"):
        T.restore(tf2, variables)
    assert_all_bitwise(numpy_of(variables), wrong, "TF2 targets")
    targets = dict(wrong)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=rf"(?s)Restoring from checkpoint failed.*tensor_name = m; {mismatch}"):
        T.restore_v1(tf1, targets)
    assert_all_bitwise(targets, wrong, "TF1 targets")
    targets = dict(wrong)
    with pytest.raises(TypeError, match=r"checkpoint value 'm/\.ATTRIBUTES/VARIABLE_VALUE' of .* has dtype float32, "
                                        r"variable 'm' has dtype float64"):
        R.restore(ref, targets)
    assert_all_bitwise(targets, wrong, "reference targets")


def test_tf2_rejects_a_shape_mismatch_after_restoring_the_variables_whose_keys_come_before_it(saved):
    """Checkpoint.read reads every tensor, then assigns them one variable at a time in key order
    (functional_saver.py): a is restored, m (the wrong shape) raises ValueError naming both shapes and
    the variable, z stays as it was. The reference checks every shape before it assigns anything."""
    tf2, _, ref, _ = saved
    wrong = start(m=np.full((3, 2), -1, np.float32))
    variables = tf2_variables(wrong)
    with pytest.raises(ValueError, match=re.escape("Received incompatible tensor with shape (2, 3) when attempting "
                                                   "to restore variable with shape (3, 2) and name m:0.")):
        T.restore(tf2, variables)
    assert_all_bitwise(numpy_of(variables), dict(wrong, a=SAVED["a"]), "TF2 targets: a restored, m and z not")
    targets = dict(wrong)
    with pytest.raises(ValueError, match=r"checkpoint value 'm/\.ATTRIBUTES/VARIABLE_VALUE' of .* shape \(2, 3\) "
                                         r"does not match variable 'm' shape \(3, 2\)"):
        R.restore(ref, targets)
    assert_all_bitwise(targets, wrong, "reference targets")


def test_compat_v1_saver_puts_a_wrongly_shaped_value_into_a_resource_variable_without_an_error(saved):
    """tf.compat.v1.Variable makes a resource variable under TF2 behaviour; Saver restores it with
    AssignVariableOp, which checks the shape only statically, and RestoreV2's output has no static
    shape: the (3, 2) variable silently holds the saved (2, 3) value (tests below: a RefVariable, the
    book's TF 1.x variable, refuses)."""
    _, tf1, _, ref_v1 = saved
    targets = start(m=np.full((3, 2), -1, np.float32))
    T.restore_v1(tf1, targets)
    assert_all_bitwise(targets, SAVED, "TF1 resource variables: every saved value, m in the saved shape (2, 3)")
    targets = start(m=np.full((3, 2), -1, np.float32))
    with pytest.raises(ValueError, match=r"checkpoint value 'm' of .* shape \(2, 3\) does not match variable 'm' "
                                         r"shape \(3, 2\)"):
        R.restore_v1(ref_v1, targets)
    assert_all_bitwise(targets, start(m=np.full((3, 2), -1, np.float32)), "reference targets")


def restore_into(path, values, use_resource):
    """Saver().restore in a fresh graph of variables starting at ``values``: (the error or None, each
    variable's static shape, each variable's value afterwards)."""
    graph = tf.Graph()
    with graph.as_default():
        variables = {name: tf.compat.v1.Variable(value, name=name, use_resource=use_resource)
                     for name, value in values.items()}
        saver = tf.compat.v1.train.Saver()
        init = tf.compat.v1.global_variables_initializer()
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        try:
            saver.restore(sess, path)
            error = None
        except tf.errors.OpError as e:
            error = e
        return error, {name: tuple(v.shape) for name, v in variables.items()}, numpy_of(sess.run(variables))


def test_tf1_ref_variables_reject_a_shape_mismatch_but_the_other_variables_are_restored(saved):
    """The book's TF 1.x variables (RefVariable, use_resource=False) are assigned with Assign, which
    checks shapes when it runs: InvalidArgumentError naming both shapes; the restore op's other assigns
    have run, so a and z are restored and m is not. Resource variables take the value (above) and keep
    their static shape, (3, 2), while holding a (2, 3) value."""
    _, tf1, _, _ = saved
    wrong = start(m=np.full((3, 2), -1, np.float32))
    error, static, after = restore_into(tf1, wrong, use_resource=False)
    assert isinstance(error, tf.errors.InvalidArgumentError), error
    assert "Assign requires shapes of both tensors to match. lhs shape= [3,2] rhs shape= [2,3]" in error.message
    assert_all_bitwise(after, dict(wrong, a=SAVED["a"], z=SAVED["z"]), "RefVariables: a and z restored, m not")
    error, static, after = restore_into(tf1, wrong, use_resource=True)
    assert error is None and static["m"] == (3, 2) and after["m"].shape == (2, 3), (error, static, after["m"])


def test_a_missing_variable_name_fails_the_session_restore_and_the_tf2_consumption_check(saved):
    """TF1: RestoreV2 looks every name up first: NotFoundError naming the key, nothing changes. TF2 reads by
    object, not by name: a variable the checkpoint lacks is left alone and assert_consumed() raises
    AssertionError naming it, after the matched variables were restored. The reference does the same."""
    tf2, tf1, ref, ref_v1 = saved
    extra = dict(start(), x=np.full(2, -1, np.float32))
    targets = dict(extra)
    with pytest.raises(tf.errors.NotFoundError,
                       match=r"(?s)Restoring from checkpoint failed.*Key x not found in checkpoint"):
        T.restore_v1(tf1, targets)
    assert_all_bitwise(targets, extra, "TF1 targets")
    variables = tf2_variables(extra)
    with pytest.raises(AssertionError, match=r"Found 1 Python objects that were not bound to checkpointed values.*"
                                             r"<tf\.Variable 'x:0' shape=\(2,\)"):
        T.restore(tf2, variables)
    assert_all_bitwise(numpy_of(variables), dict(SAVED, x=extra["x"]), "TF2 targets: all but x restored")
    targets = dict(extra)
    with pytest.raises(AssertionError, match=r"variables not found in it: \['x'\]"):
        R.restore(ref, targets)
    assert_all_bitwise(targets, dict(SAVED, x=extra["x"]), "reference targets: all but x restored")
    targets = dict(extra)
    with pytest.raises(KeyError, match=r"holds no \['x'\]"):
        R.restore_v1(ref_v1, targets)
    assert_all_bitwise(targets, extra, "reference restore_v1 targets")


def test_assert_consumed_names_the_unmatched_checkpoint_values_and_expect_partial_restores_the_rest(saved):
    """Restoring a and m from a checkpoint of a, m and z: assert_consumed() raises AssertionError naming
    (root).z, the value no variable took; with expect_partial() (partial=True) the same read passes
    quietly. Either way a and m are restored. A variable the checkpoint lacks: see the test above."""
    tf2, _, ref, _ = saved
    subset = {name: value for name, value in start().items() if name != "z"}
    variables = tf2_variables(subset)
    with pytest.raises(AssertionError, match=r"Unresolved object in checkpoint \(root\)\.z"):
        T.restore(tf2, variables)
    assert_all_bitwise(numpy_of(variables), {"a": SAVED["a"], "m": SAVED["m"]}, "TF2 targets")
    variables = tf2_variables(dict(subset, x=np.full(2, -1, np.float32)))
    T.restore(tf2, variables, partial=True)
    assert_all_bitwise(numpy_of(variables), {"a": SAVED["a"], "m": SAVED["m"], "x": np.full(2, -1, np.float32)},
                       "TF2 partial")
    with pytest.raises(AssertionError, match=r"values in it no variable took: \['z/\.ATTRIBUTES/VARIABLE_VALUE'\]"):
        R.restore(ref, dict(subset))
    targets = dict(subset, x=np.full(2, -1, np.float32))
    R.restore(ref, targets, partial=True)
    assert_all_bitwise(targets, {"a": SAVED["a"], "m": SAVED["m"], "x": np.full(2, -1, np.float32)},
                       "reference partial")


def truncate(path, fraction=0.5):
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(int(size * fraction))


def test_a_truncated_data_file_is_rejected_and_changes_nothing(saved):
    """TF1: RestoreV2 hits the end of the file, OutOfRangeError "Read less bytes than requested". TF2:
    the same status from reading the object graph (stored last, read first) through the
    CheckpointReader binding, which raises OUT_OF_RANGE as a bare IndexError that
    py_checkpoint_reader.error_translator (it catches RuntimeError) lets through: it names neither
    the file nor the tensor."""
    tf2, tf1, ref, _ = saved
    for data in (tf2 + DATA, tf1 + DATA, ref):
        truncate(data)
    variables = tf2_variables(start())
    with pytest.raises(IndexError, match=r"^Read less bytes than requested$"):
        T.restore(tf2, variables)
    assert_all_bitwise(numpy_of(variables), start(), "TF2 targets")
    targets = start()
    with pytest.raises(tf.errors.OutOfRangeError, match=r"(?s)save/RestoreV2.*Read less bytes than requested"):
        T.restore_v1(tf1, targets)
    assert_all_bitwise(targets, start(), "TF1 targets")
    targets = start()
    with pytest.raises(ValueError, match=f"checkpoint {re.escape(ref)} is corrupt: File is not a zip file"):
        R.restore(ref, targets)
    assert_all_bitwise(targets, start(), "reference targets")


def flip(path, position, bit=0):
    data = bytearray(open(path, "rb").read())
    data[position] ^= 1 << bit
    open(path, "wb").write(bytes(data))
    return bytes(data)


def crcs(message):
    """(stored, calculated) from TensorBundle's "Checksum does not match: stored S vs. calculated on
    the restored bytes C"."""
    stored, calculated = re.search(r"stored (\d+) vs\. calculated on the restored bytes (\d+)", message).groups()
    return int(stored), int(calculated)


def test_a_flipped_bit_in_a_tensor_fails_its_crc32c_and_changes_nothing(saved):
    """The index holds, per key, the CRC-32C of the tensor's bytes (tensor_bundle.cc, BundleReader::GetValue);
    the reader recomputes it over the bytes read and raises DataLossError naming the bundle, the shard and
    the byte count (not the key), with both CRCs: here they are checked with an independent CRC-32C
    (google-crc32c) over m's saved and flipped bytes. The data file holds the tensors' raw bytes in key order."""
    tf2, tf1, ref, _ = saved
    raw = b"".join(SAVED[name].tobytes() for name in sorted(SAVED))
    start_of_m = SAVED["a"].nbytes
    expected = {}
    for prefix in (tf1, tf2):
        assert open(prefix + DATA, "rb").read()[:len(raw)] == raw, f"{prefix}: the data file starts with the tensors"
        flipped = flip(prefix + DATA, start_of_m + 5, bit=3)
        expected[prefix] = (google_crc32c.value(SAVED["m"].tobytes()),
                            google_crc32c.value(flipped[start_of_m:start_of_m + SAVED["m"].nbytes]))
    checksum = "TensorBundle at {} shard 0 \\(24 bytes\\): Checksum does not match"
    targets = start()
    with pytest.raises(tf.errors.DataLossError, match=checksum.format(re.escape(tf1))) as caught:
        T.restore_v1(tf1, targets)
    assert crcs(str(caught.value)) == expected[tf1]
    assert_all_bitwise(targets, start(), "TF1 targets")
    variables = tf2_variables(start())
    with pytest.raises(tf.errors.DataLossError, match=checksum.format(re.escape(tf2))) as caught:
        T.restore(tf2, variables)
    assert crcs(str(caught.value)) == expected[tf2]
    assert_all_bitwise(numpy_of(variables), start(), "TF2 targets")
    data = open(ref, "rb").read()
    flip(ref, data.index(SAVED["m"].tobytes()) + 5, bit=3)
    targets = start()
    with pytest.raises(ValueError, match=r"is corrupt: Bad CRC-32 for file 'm/\.ATTRIBUTES/VARIABLE_VALUE\.npy'"):
        R.restore(ref, targets)
    assert_all_bitwise(targets, start(), "reference targets")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A TF2 checkpoint of SAVED, its data file's bytes and its index's bytes, written once."""
    prefix = T.save(tmp_path_factory.mktemp("pristine") / "ckpt", SAVED)
    return prefix, open(prefix + DATA, "rb").read(), open(prefix + ".index", "rb").read()


VARIABLE_BYTES = sum(value.nbytes for value in SAVED.values())  # 36: a, m, z; the object graph follows


POSITIONS = st.integers(-1, 1 << 16)
"""A byte of a file, taken modulo its length (-1: the last byte): the files' lengths are TF's to choose."""


@given(position=POSITIONS, bit=st.integers(0, 7))
@example(position=0, bit=0).via("the first byte of a")
@example(position=VARIABLE_BYTES - 1, bit=7).via("the last byte of z")
@example(position=VARIABLE_BYTES, bit=0).via("the object graph's length varint")
@example(position=-1, bit=7).via("the last byte of the file")
def test_any_flipped_bit_in_the_data_file_is_caught_by_a_checksum_and_changes_nothing(pristine, position, bit):
    """Every byte of the data file is under a CRC-32C: a variable's bytes under its own (DataLossError),
    the object graph's (a string tensor: its length varint, a CRC of the lengths, the bytes) under
    two more, read through CheckpointReader, whose error_translator turns that DataLossError into a
    plain OpError (code UNKNOWN). No flip is ever restored as a value."""
    prefix, data, _ = pristine
    position %= len(data)
    flip_into = prefix + DATA
    try:
        flip(flip_into, position, bit)
        variables = tf2_variables(start())
        with pytest.raises(tf.errors.OpError, match=r"(?i)checksum does not match") as caught:
            T.restore(prefix, variables)
        expected = tf.errors.DataLossError if position < VARIABLE_BYTES else tf.errors.OpError
        assert type(caught.value) is expected and caught.value.error_code == (
            tf.errors.DATA_LOSS if position < VARIABLE_BYTES else tf.errors.UNKNOWN), (position, caught.value)
        assert_all_bitwise(numpy_of(variables), start(), f"targets after a flip at byte {position} bit {bit}")
    finally:
        open(flip_into, "wb").write(data)


@given(position=POSITIONS, bit=st.integers(0, 7))
@example(position=0, bit=0).via("the first data block")
@example(position=-1, bit=7).via("the footer's magic number")
def test_a_flipped_bit_in_the_index_gives_an_error_or_the_saved_values_never_wrong_ones(pristine, position, bit):
    """The index is an SSTable whose blocks carry CRCs; a flip there raises an error ("block checksum
    mismatch", "bad magic number", ...) or lands in bytes the reader does not use (the footer's padding,
    the metaindex), and the restore is exact. An exhaustive sweep of all 286 x 8 flips (TF 2.21) found
    both kinds and no wrong value."""
    prefix, _, index = pristine
    position %= len(index)
    try:
        flip(prefix + ".index", position, bit)
        variables = tf2_variables(start())
        try:
            T.restore(prefix, variables)
        except (tf.errors.OpError, IndexError, ValueError):
            assert_all_bitwise(numpy_of(variables), start(), f"targets after an index flip at {position} bit {bit}")
        else:
            assert_all_bitwise(numpy_of(variables), SAVED, f"restored after an index flip at {position} bit {bit}")
    finally:
        open(prefix + ".index", "wb").write(index)


@given(offset=st.integers(0, SAVED["m"].nbytes - 1), bit=st.integers(0, 7))
def test_the_reference_catches_any_flipped_bit_in_an_arrays_bytes_by_the_zips_crc32(tmp_path_factory, offset, bit):
    ref = R.save(tmp_path_factory.mktemp("ref") / "ckpt", SAVED)
    flip(ref, open(ref, "rb").read().index(SAVED["m"].tobytes()) + offset, bit)
    targets = start()
    with pytest.raises(ValueError, match=r"is corrupt: Bad CRC-32 for file 'm/\.ATTRIBUTES/VARIABLE_VALUE\.npy'"):
        R.restore(ref, targets)
    assert_all_bitwise(targets, start(), "reference targets")
