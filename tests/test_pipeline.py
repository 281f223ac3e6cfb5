"""The whole input pipeline of chapter 7, end to end: images and labels written to TFRecord files,
read back, parsed, preprocessed, shuffled and batched, feeding a small Keras model for one epoch;
beside it the same pipeline built from the references (reference/tfrecord.py, reference/image.py,
reference/data.py) and the same epoch of gradient descent in NumPy.

TF side                                            reference side
  tf.data.TFRecordDataset(files)                     read_records(f) for f in files
  .map(tf.io.parse_single_example)                   .map(decode_example)
  .map(decode_raw, convert, resize, flip, std.)      .map(the reference image ops)
  .shuffle(buffer, seed).batch(8)                    .batch(8), in the order TF's shuffle chose
  model.fit(dataset, epochs=1)                       reference.nn.mlp_gradients + a step per batch

One thing is taken from TF: the shuffle's order. TF draws it from its own Philox stream, which the
reference does not reproduce (its shuffle shares the buffer algorithm, its properties and its law,
pinned in tests/test_data.py); each Example carries its id, and the reference batches its own parsed and
preprocessed images in the id order of TF's batches. Everything else is computed on each side: the
bytes of the files, the parse, the preprocessing, the batching, the loss and the updates. A damaged
shard stops both pipelines, and no damaged record reaches a batch.
"""
import sys

import numpy as np
import pytest
import tensorflow as tf

from reference import data as RD
from reference import image as RI
from reference import nn as RN
from reference import tfrecord as RT
from tests.harness import assert_within
from tfimpl import image as TI

N, SHARDS, SIDE, SMALL, CLASSES, BATCH, BUFFER, SEED, LR = 30, 2, 8, 4, 3, 8, 10, 7, 0.1
EPS32 = float(np.finfo(np.float32).eps)


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """N seeded 8x8 RGB uint8 images with labels, as Examples (image_raw, label, id) in two shards
    written by the reference's own TFRecord writer."""
    rng = np.random.default_rng(SEED)
    images = rng.integers(0, 256, (N, SIDE, SIDE, 3), dtype=np.uint8)
    labels = rng.integers(0, CLASSES, N)
    root = tmp_path_factory.mktemp("pipeline")
    files = []
    for s in range(SHARDS):
        path = root / f"data.tfrecords-{s:05d}-of-{SHARDS:05d}"
        RT.write_records(path, [RT.encode_example({"image_raw": [images[i].tobytes()], "label": [int(labels[i])],
                                                   "id": [i]}) for i in range(s, N, SHARDS)])
        files.append(str(path))
    return files, images, labels


FEATURES = {"image_raw": tf.io.FixedLenFeature([], tf.string), "label": tf.io.FixedLenFeature([], tf.int64),
            "id": tf.io.FixedLenFeature([], tf.int64)}


def tf_preprocess(serialized):
    """The book's parser (7.3.2) and a deterministic preprocessing chain, in TF."""
    ex = tf.io.parse_single_example(serialized, FEATURES)
    image = tf.reshape(tf.io.decode_raw(ex["image_raw"], tf.uint8), [SIDE, SIDE, 3])
    image = TI.convert_image_dtype(image, tf.float32)
    image = TI.flip_left_right(TI.resize(image, [SMALL, SMALL]))
    return TI.per_image_standardization(image), ex["label"], ex["id"]


def ref_preprocess(serialized):
    """The same chain on the reference side."""
    ex = RT.decode_example(serialized)
    image = np.frombuffer(ex["image_raw"][0], np.uint8).reshape(SIDE, SIDE, 3)
    image = RI.convert_image_dtype(image, np.float32)
    image = RI.flip_left_right(RI.resize(image, [SMALL, SMALL]))
    return RI.per_image_standardization(image), ex["label"][0], ex["id"][0]


def tf_pipeline(files):
    return (tf.data.TFRecordDataset(files).map(tf_preprocess)
            .shuffle(BUFFER, seed=SEED).batch(BATCH))


def ref_batches(files, order):
    """The reference pipeline's batches: the records read, parsed and preprocessed by the references,
    batched by reference.data in TF's shuffled order ``order`` (a list of id batches)."""
    parsed = RD.Dataset.from_tensor_slices(np.array([r for f in files for r in RT.read_records(f)], object))
    by_id = {int(i): (x, y) for x, y, i in parsed.map(ref_preprocess)}
    ids = np.concatenate(order)
    ordered = RD.Dataset.from_tensor_slices((np.stack([by_id[i][0] for i in ids]),
                                             np.array([by_id[i][1] for i in ids])))
    return list(ordered.batch(BATCH))


def initial_params():
    rng = np.random.default_rng(SEED + 1)
    return [(rng.standard_normal((SMALL * SMALL * 3, CLASSES)) * 0.1, rng.standard_normal(CLASSES) * 0.1)]


def keras_epoch(dataset):
    """One epoch of model.fit: Flatten + Dense logits, sparse softmax cross-entropy, plain SGD.
    Returns the losses Keras logs after each batch (its running mean over the epoch, weighted by
    batch size) and the weights after the epoch."""
    import keras
    (w, b), = initial_params()
    model = keras.Sequential([keras.Input((SMALL, SMALL, 3)), keras.layers.Flatten(), keras.layers.Dense(CLASSES)])
    model.layers[-1].set_weights([w.astype(np.float32), b.astype(np.float32)])
    model.compile(optimizer=keras.optimizers.SGD(LR),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    logged = []
    log = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: logged.append(float(logs["loss"])))
    model.fit(dataset.map(lambda x, y, i: (x, y)), epochs=1, verbose=0, shuffle=False, callbacks=[log])
    return np.array(logged), model.layers[-1].get_weights()


def numpy_epoch(batches):
    """The same epoch in float64: per batch the mean softmax cross-entropy and its gradient by hand
    (reference.nn.mlp_gradients with one linear layer), one step w <- w - lr * dJ/dw; the logged value
    after batch k is the batch-size-weighted mean of the losses so far, as Keras's loss tracker keeps it."""
    params, losses, sizes = initial_params(), [], []
    for x, y in batches:
        x = x.reshape(len(x), -1).astype(np.float64)
        loss, grads = RN.mlp_gradients(x, np.eye(CLASSES)[y], params, activation=None)
        params = RN.gradient_descent_step(params, grads, LR)
        losses.append(float(loss))
        sizes.append(len(x))
    running = np.cumsum(np.array(losses) * sizes) / np.cumsum(sizes)
    return running, params


@pytest.mark.filterwarnings("ignore:Your input ran out of data")  # Keras: a dataset of unknown length ends the epoch
@pytest.mark.claim("ch7.3", "the input pipeline reads TFRecord files, parses each Example, preprocesses the "
                            "image, shuffles and batches, and feeds training", source="book",
                   code="1.4.0/Chapter07/8. 数据集高层操作.ipynb, cell 6")
def test_a_tfrecord_pipeline_feeds_keras_one_epoch_whose_loss_is_the_reference_pipelines(shards):
    """Files written by the reference, read by tf.data; the same records through the reference
    pipeline; the epoch's logged losses and final weights agree with NumPy's epoch on the reference's
    batches."""
    files, images, labels = shards
    tf_batches = [tuple(t.numpy() for t in b) for b in tf_pipeline(files)]
    order = [ids for _, _, ids in tf_batches]
    assert sorted(np.concatenate(order).tolist()) == list(range(N)), "TF's epoch is not a permutation of the ids"
    assert [len(o) for o in order] == [BATCH] * (N // BATCH) + [N % BATCH], "batch() kept the last partial batch"
    batches = ref_batches(files, order)

    for (x_tf, y_tf, ids), (x_ref, y_ref) in zip(tf_batches, batches):
        np.testing.assert_array_equal(y_tf, y_ref, err_msg=f"labels of ids {ids}")
        np.testing.assert_array_equal(y_tf, labels[ids], err_msg="labels do not match what was written")
        # float32 preprocessing of values O(1): a 1/255 scale, a 4-tap bilinear average, a 48-term mean
        # and standard deviation: 48 roundings of values at most |x| <= 1/std, so 64 eps of max(1, |x|)
        assert_within(x_tf, x_ref, 64 * EPS32 * np.maximum(1.0, np.abs(x_ref)), f"preprocessed images of ids {ids}")

    logged, (w_tf, b_tf) = keras_epoch(tf_pipeline(files))
    running, [(w_ref, b_ref)] = numpy_epoch(batches)
    steps = np.arange(1, len(running) + 1)
    # Each batch's loss rounds a few times relative to itself (48-term logits of random sign, the
    # log-sum-exp, the batch mean): about one eps of |loss|; the weights it is computed with carry one
    # such rounding per earlier step. So 2 eps of |loss| per step (measured 0.13 eps after one step,
    # 0.67 after four: 7-8 % of this). A bug of 1e-6 relative, or one image in the wrong batch, fails.
    assert_within(logged, running, 2 * EPS32 * np.abs(running) * steps, "Keras's logged running loss vs NumPy's")
    # Each step rounds w - lr * g once (eps / 2 of |w|) and g carries about one eps of relative error,
    # scaled by lr * |g| < |w| here: at most one eps of max|w| per step (measured 0.68 eps after 4 steps).
    for name, tf_value, ref_value in (("kernel", w_tf, w_ref), ("bias", b_tf, b_ref)):
        assert_within(tf_value, ref_value, len(steps) * EPS32 * np.abs(ref_value).max(),
                      f"the Dense {name} after the epoch")
    assert not np.allclose(w_ref, initial_params()[0][0]), "the epoch did not train"


DAMAGES = {
    # how: (what is done to record 3 of shard 1, id 7, starting at byte ``start``: 12 bytes of header,
    # the data, 4 of CRC; what TF's reader says, at which offset from ``start``; None: nothing)
    "a flipped data byte": (lambda raw, start: raw[:start + 40] + bytes([raw[start + 40] ^ 0x20]) + raw[start + 41:],
                            "corrupted record at", 12),
    "a cut inside the record": (lambda raw, start: raw[:start + 40], "truncated record at", 0),
    "a cut inside its header": (lambda raw, start: raw[:start + 5], None, None),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_shard_stops_both_pipelines_and_no_damaged_record_reaches_a_batch(shards, tmp_path, damage):
    """The shards again, with record 3 of shard 1 (id 7) damaged: the reference pipeline raises
    DataLossError naming the shard and the record, whatever the damage. TF's pipeline
    (TFRecordDataset -> parse -> preprocess -> shuffle -> batch) raises DataLossError too, except
    for a cut inside the record's 12-byte header, which TF's reader takes for the end of the file
    (tests/test_tfrecord.py): it then reads an epoch of the records before the cut. Either way, every
    element TF batches is a record read whole: an id before the damage, with its label and the
    reference pipeline's preprocessed image."""
    files, images, labels = shards
    good = [RT.read_records(f) for f in files]
    start = 16 * 3 + sum(len(r) for r in good[1][:3])
    damaged = [str(tmp_path / f"data.tfrecords-{s:05d}-of-{SHARDS:05d}") for s in range(SHARDS)]
    cut, said, offset = DAMAGES[damage]
    for s, (source, target) in enumerate(zip(files, damaged)):
        raw = open(source, "rb").read()
        with open(target, "wb") as f:
            f.write(cut(raw, start) if s == 1 else raw)
    with pytest.raises(RT.DataLossError) as caught:
        ref_batches(damaged, [np.arange(N)])
    assert (caught.value.path, caught.value.index) == (damaged[1], 3), caught.value
    before = {int(RT.decode_example(r)["id"][0]) for r in good[0] + good[1][:3]}
    batches, error = [], None
    try:
        for batch in tf_pipeline(damaged):
            batches.append(tuple(t.numpy() for t in batch))
    except tf.errors.DataLossError as e:
        error = e
    if said is None:
        assert error is None, f"TF's pipeline raised {error.message}"
        assert sorted(np.concatenate([ids for _, _, ids in batches]).tolist()) == sorted(before)
    else:
        assert error is not None, (
            f"{damage}: TF's pipeline read {sum(len(b[2]) for b in batches)} elements without an error")
        assert f"{said} {start + offset}" in error.message, error.message
    ids = sorted(before)
    expected = dict(zip(ids, np.concatenate([x for x, _ in ref_batches(files, [np.array(ids)])])))
    for x, y, ids in batches:
        assert set(ids.tolist()) <= before, f"{damage}: ids {sorted(set(ids.tolist()) - before)} reached a batch"
        np.testing.assert_array_equal(y, labels[ids])
        reference = np.stack([expected[i] for i in ids.tolist()])
        assert_within(x, reference, 64 * EPS32 * np.maximum(1.0, np.abs(reference)), f"images of ids {ids}")


@pytest.mark.planted
def test_planted_a_pipeline_that_ignores_errors_fails_the_damage_test(shards, tmp_path, monkeypatch):
    """TF's pipeline with .ignore_errors() after the reader (a common recipe for corrupt files): it
    ends each damaged shard at the damage without a word, and the damage test fails."""
    module = sys.modules[__name__]
    pipeline = module.tf_pipeline
    monkeypatch.setattr(module, "tf_pipeline", lambda files: pipeline(files).ignore_errors())
    with pytest.raises(AssertionError, match=r"TF's pipeline read \d+ elements without an error"):
        test_a_damaged_shard_stops_both_pipelines_and_no_damaged_record_reaches_a_batch(
            shards, tmp_path, "a flipped data byte")
