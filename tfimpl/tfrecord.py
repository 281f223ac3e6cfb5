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
file cut short, can read as a shorter file without an error (tests/test_tfrecord.py pins where).

``encode_example`` asks TensorFlow what kind each feature is: a NumPy array's dtype as tf.as_dtype
reads it, a list's values as the tf.train lists' protobuf fields take them (``_feature``).
``decode_example`` needs a spec, which a reader normally knows in advance; here it is read off the
message by tf.train.Example.FromString (each feature's kind and length), then
tf.io.parse_single_example, TF's C++ parser, decodes the values.
"""
import os

import numpy as np
import tensorflow as tf

from reference._checks import message
from tfimpl import _checks as check

# Of the compression types tf.io.TFRecordOptions takes (None or "", "ZLIB", "GZIP"), the pair's two.
_COMPRESSIONS = (None, "GZIP")
# In the order a list's kind is tried (_feature): every int64 is also a float, so Int64List first.
_LISTS = {"int64_list": tf.train.Int64List, "float_list": tf.train.FloatList, "bytes_list": tf.train.BytesList}
_DTYPES = {"bytes_list": tf.string, "float_list": tf.float32, "int64_list": tf.int64}


def write_records(path, records, compression=None):
    """tf.io.TFRecordWriter(path, tf.io.TFRecordOptions(compression_type=compression)).write(r) for each
    record, then close (which, for GZIP, finishes the zlib stream)."""
    check.one_of(compression, _COMPRESSIONS, "compression")
    records = _check_records(records)
    with tf.io.TFRecordWriter(os.fspath(path), tf.io.TFRecordOptions(compression_type=compression)) as writer:
        for record in records:
            writer.write(record)


def read_records(path, compression=None):
    """The records of tf.data.TFRecordDataset(path, compression_type) as a list of bytes, or
    tf.errors.DataLossError at the first damaged record. Taken 4096 at a time (.batch): eager
    iteration costs about 0.1 ms per element, which 10,000 small records would feel."""
    check.one_of(compression, _COMPRESSIONS, "compression")
    dataset = tf.data.TFRecordDataset(os.fspath(path), compression_type=compression or "")
    return [record for batch in dataset.batch(4096) for record in batch.numpy().tolist()]


def read_records_v1(path, compression=None):
    """The book's TF1 reader: tf.compat.v1.TFRecordReader reading a string_input_producer queue in a
    Session, with queue runners started and stopped by a Coordinator. num_epochs=1 (a local variable)
    makes the queue close after the file, so reading ends with OutOfRangeError instead of looping."""
    check.one_of(compression, _COMPRESSIONS, "compression")
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


def _check_records(records):
    """The records, each bytes or bytearray. TFRecordWriter.write takes those and a str too (it writes
    the str's UTF-8); the pair takes bytes only, and names the first record that is not."""
    records = list(records)
    for i, r in enumerate(records):
        if not isinstance(r, (bytes, bytearray)):
            raise TypeError(message("record_bytes", index=i, type=type(r).__name__))
    return records


def encode_example(features):
    """tf.train.Example(features=tf.train.Features(feature={name: tf.train.Feature(
    int64_list=tf.train.Int64List(value=values))})).SerializeToString(deterministic=True), the kind of
    each feature (bytes_list, float_list, int64_list) asked of TF (``_feature``).
    deterministic=True sorts the map by key; without it, protobuf's upb writes the entries in the order
    of a hash table seeded per process (tests/test_tfrecord.py)."""
    feature = {name: _feature(name, features[name]) for name in _check_names(features)}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)


def _check_names(features):
    """The feature names, each a str. The Features map's protobuf field takes a bytes key too (as its
    UTF-8 text), which would come back from decode_example as a str: the pair takes str only."""
    for name in features:
        if not isinstance(name, str):
            raise TypeError(message("feature_name", type=type(name).__name__, name=name))
    return list(features)


def _feature(name, values):
    """The tf.train.Feature holding ``values``, its kind (bytes_list, float_list or int64_list) asked of TF.

    A 1-D NumPy array has the kind of its dtype as TF reads it (``tf.as_dtype``): an integer DType
    -> Int64List, a floating one (float16, bfloat16, float32, float64) -> FloatList, tf.string (what
    TF makes of NumPy's bytes, str and object arrays) -> BytesList; bool, complex and dtypes TF has no
    DType for are refused. A list or tuple has the kind of the first of Int64List, FloatList, BytesList
    whose protobuf field takes the type of every value: Int64List what has __index__ (ints, NumPy
    ints) but bool, FloatList real numbers, BytesList bytes (not str, not bytearray). The list then
    holds the values or refuses one: an integer outside int64 is Int64List's ValueError.

    Where TF would decide otherwise, the rule here is the reference's (reference/tfrecord.py,
    _feature_kind), for the reason given:
      - an empty list is refused: every list takes [] (and tf.constant([]) guesses float32); no value
        tells the kind, which an empty array's dtype does.
      - bool is refused: FloatList would take True as 1.0, though Int64List refuses it.
      - a NumPy complex scalar is refused: FloatList would take it and drop the imaginary part.
    """
    def refuse(what):
        return TypeError(message("feature_values", name=name, what=what))

    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise refuse(f"an array of shape {values.shape}")
        kinds = [_dtype_kind(values.dtype)]
        if kinds == [None]:
            raise refuse(f"an array of dtype {values.dtype}")
    elif isinstance(values, (list, tuple)):
        if not values:
            raise ValueError(message("feature_empty", name=name))
        if any(isinstance(v, (bool, np.bool_, np.complexfloating)) for v in values):
            raise refuse("values of type " + _type_names(values))
        kinds = list(_LISTS)
    else:
        raise refuse(type(values).__name__)
    for kind in kinds:
        taken, refused = _take(_LISTS[kind], values)
        if taken is not None:
            return tf.train.Feature(**{kind: taken})
        if refused and all(error is ValueError for _, error in refused):  # every type taken, a value out of range
            raise ValueError(message("feature_int64", name=name, value=refused[0][0]))
    raise refuse("values of type " + _type_names(values))


def _dtype_kind(dtype):
    """The list for an array of NumPy ``dtype``, read off TF's DType for it; None where there is none."""
    try:
        dtype = tf.as_dtype(dtype)
    except TypeError:  # datetime64, void, ...: TF has no DType for them
        return None
    if dtype.is_integer:
        return "int64_list"
    if dtype.is_floating:
        return "float_list"
    return "bytes_list" if dtype == tf.string else None


def _take(list_type, values):
    """(list_type(value=values), None) if its protobuf field takes every value, else (None, [(value,
    TypeError or ValueError)] for each value it refuses: TypeError for a value of a type it does not
    hold, ValueError for one of its type out of its range (Int64List: an integer outside int64))."""
    try:
        taken = list_type(value=values)
    except (TypeError, ValueError):
        taken = None
    # protobuf's upb before 6.30 leaves the list empty, with no error, when it refuses a value of a
    # NumPy array (a list raises): a list that did not take every value is asked value by value.
    if taken is not None and len(taken.value) == len(values):
        return taken, None
    refused = []
    for v in values:
        try:
            list_type(value=[v])
        except (TypeError, ValueError) as e:
            refused.append((v, ValueError if isinstance(e, ValueError) else TypeError))
    return None, refused


def _type_names(values):
    """The values' types for a message: sorted, a NumPy scalar named by the Python type it holds."""
    return ", ".join(sorted({type(v.item() if isinstance(v, np.generic) else v).__name__ for v in values}))


def _spec(data):
    """{name: tf.io.FixedLenFeature([n], dtype)}: each feature's kind and length, read off the message
    by tf.train.Example.FromString (the protobuf parser)."""
    spec = {}
    for name, feature in tf.train.Example.FromString(data).features.feature.items():
        kind = feature.WhichOneof("kind")
        if kind is None:
            raise ValueError(message("feature_no_kind", name=name))
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
