"""TFRecord files and tf.train.Example in TensorFlow: the writer, the readers and the parsers.

The book (TF1) writes and reads::

    writer = tf.python_io.TFRecordWriter(filename)
    example = tf.train.Example(features=tf.train.Features(feature={
        'pixels': _int64_feature(pixels), 'label': _int64_feature(label),
        'image_raw': _bytes_feature(image_raw)}))
    writer.write(example.SerializeToString())
    writer.close()

    reader = tf.TFRecordReader()
    filename_queue = tf.train.string_input_producer([filename])
    _, serialized_example = reader.read(filename_queue)
    features = tf.parse_single_example(serialized_example, features={
        'image_raw': tf.FixedLenFeature([], tf.string), ...})
    # then tf.train.start_queue_runners and sess.run in a loop

TF2 writes with tf.io.TFRecordWriter (tf.compat.v1.python_io.TFRecordWriter is the same class) and reads::

    dataset = tf.data.TFRecordDataset(filename).map(lambda r: tf.io.parse_single_example(r, spec))

Every record is framed and checksummed by TF's C++ RecordWriter (length, masked CRC-32C, data, masked
CRC-32C: reference/tfrecord.py writes the same bytes by hand); a damaged record raises
tf.errors.DataLossError when it is read, but a file cut inside a record's 12-byte header, or a GZIP
file cut short, can read as a shorter file without an error (tests/test_tfrecord.py pins where). ``decode_example`` needs a spec, which a reader normally
knows in advance; here it is read off the message by tf.train.Example.FromString (each feature's
kind and length), then tf.io.parse_single_example, TF's C++ parser, decodes the values.
"""
import os

import tensorflow as tf

from reference._checks import one_of
from reference.tfrecord import _COMPRESSIONS, _MESSAGES, _check_names, _check_records, _feature_kind

_LISTS = {"bytes_list": tf.train.BytesList, "float_list": tf.train.FloatList, "int64_list": tf.train.Int64List}
_DTYPES = {"bytes_list": tf.string, "float_list": tf.float32, "int64_list": tf.int64}


def write_records(path, records, compression=None):
    """tf.io.TFRecordWriter(path, tf.io.TFRecordOptions(compression_type=compression)).write(r) for each
    record, then close (which, for GZIP, finishes the zlib stream)."""
    one_of(compression, _COMPRESSIONS, "compression")
    records = _check_records(records)
    with tf.io.TFRecordWriter(os.fspath(path), tf.io.TFRecordOptions(compression_type=compression)) as writer:
        for record in records:
            writer.write(record)


def read_records(path, compression=None):
    """The records of tf.data.TFRecordDataset(path, compression_type) as a list of bytes, or
    tf.errors.DataLossError at the first damaged record. Taken 4096 at a time (.batch): eager
    iteration costs about 0.1 ms per element, which 10,000 small records would feel."""
    one_of(compression, _COMPRESSIONS, "compression")
    dataset = tf.data.TFRecordDataset(os.fspath(path), compression_type=compression or "")
    return [record for batch in dataset.batch(4096) for record in batch.numpy().tolist()]


def read_records_v1(path, compression=None):
    """The book's TF1 reader: tf.compat.v1.TFRecordReader reading a string_input_producer queue in a
    Session, with queue runners started and stopped by a Coordinator. num_epochs=1 (a local variable)
    makes the queue close after the file, so reading ends with OutOfRangeError instead of looping."""
    one_of(compression, _COMPRESSIONS, "compression")
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        queue = v1.train.string_input_producer([os.fspath(path)], num_epochs=1, shuffle=False)
        reader = v1.TFRecordReader(options=tf.io.TFRecordOptions(compression_type=compression))
        _, serialized = reader.read(queue)
        with v1.Session() as sess:
            sess.run(v1.local_variables_initializer())
            coord = v1.train.Coordinator()
            threads = v1.train.start_queue_runners(sess=sess, coord=coord)
            records = []
            try:
                while True:
                    records.append(sess.run(serialized))
            except tf.errors.OutOfRangeError:
                pass
            finally:
                coord.request_stop()
                coord.join(threads)
    return records


def encode_example(features):
    """tf.train.Example(features=tf.train.Features(feature={name: tf.train.Feature(
    int64_list=tf.train.Int64List(value=values))})).SerializeToString(deterministic=True), the kind of
    each feature (bytes_list, float_list, int64_list) told from its values as the reference tells it.
    deterministic=True sorts the map by key; without it, protobuf's upb writes the entries in the order
    of a hash table seeded per process (tests/test_tfrecord.py)."""
    feature = {}
    for name in _check_names(features):
        kind, values = _feature_kind(name, features[name])
        feature[name] = tf.train.Feature(**{kind: _LISTS[kind](value=values)})
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)


def _spec(data):
    """{name: tf.io.FixedLenFeature([n], dtype)}: each feature's kind and length, read off the message
    by tf.train.Example.FromString (the protobuf parser)."""
    spec = {}
    for name, feature in tf.train.Example.FromString(data).features.feature.items():
        kind = feature.WhichOneof("kind")
        if kind is None:
            raise ValueError(_MESSAGES["no_kind"].format(name=name))
        spec[name] = tf.io.FixedLenFeature([len(getattr(feature, kind).value)], _DTYPES[kind])
    return dict(sorted(spec.items()))


def decode_example(data):
    """tf.io.parse_single_example(data, spec), TF's C++ Example parser, with the spec read off the
    message (see _spec); values as NumPy arrays: int64, float32, or (tf.string) an object array of bytes.
    An Example with no features is {} (parse_single_example refuses an empty spec).

    TF's parser is faster than protobuf's and reads less: on encodings no TF writer produces (a list
    split in several packed runs, a Features message with unknown fields, a oneof set twice) it reads
    other values or fails; the lengths in the spec then make it raise InvalidArgumentError rather than
    return other values than protobuf (tests/test_tfrecord.py lists the cases)."""
    spec = _spec(data)
    if not spec:
        return {}
    return {name: t.numpy() for name, t in sorted(tf.io.parse_single_example(data, spec).items())}


def decode_example_v1(data):
    """The book's TF1 form: tf.compat.v1.parse_single_example on a placeholder, run in a Session."""
    v1 = tf.compat.v1
    spec = _spec(data)
    if not spec:
        return {}
    with tf.Graph().as_default():
        serialized = v1.placeholder(tf.string, [])
        parsed = v1.parse_single_example(serialized, spec)
        with v1.Session() as sess:
            values = sess.run(parsed, {serialized: data})
    return dict(sorted(values.items()))
