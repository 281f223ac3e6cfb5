"""TFRecord files and tf.train.Example, by hand and by TensorFlow: the framing and its CRC-32C, the
GZIP stream, the Example wire format, and what each reader does with a damaged file. Every file here
is a real file on disk, written by one side and read by the other."""
import gzip
import json
import os
import re
import struct
import subprocess
import sys
import time
import zlib

import google.protobuf
import google_crc32c
import hypothesis
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import Version

import reference.tfrecord as R
import tfimpl.tfrecord as T

RNG = np.random.default_rng(712)
OFFSET = re.compile(r"(corrupted|truncated) record at (\d+)")


def tf_read(path, compression=None):
    """(the records tf.data.TFRecordDataset yields, the DataLossError it stops with or None)."""
    records = []
    try:
        for record in tf.data.TFRecordDataset(str(path), compression_type=compression or ""):
            records.append(record.numpy())
    except tf.errors.DataLossError as e:
        return records, e
    return records, None


def tf_iterate(path, compression=None):
    """tf_read through tf.compat.v1.io.tf_record_iterator: the same C++ RecordReader (and zlib stream)
    that TFRecordDataset runs, without building a dataset per file: ~0.05 ms a file against ~10-90 ms,
    which lets the damage tests try every byte. They check TFRecordDataset on a sample of the bytes."""
    records = []
    try:
        for record in tf.compat.v1.io.tf_record_iterator(str(path), compression):
            records.append(record)
    except tf.errors.DataLossError as e:
        return records, e
    return records, None


def tf_readers(position):
    """The TF readers to try at byte ``position``: the iterator at every byte, the dataset at every 11th."""
    return [tf_read, tf_iterate] if position % 11 == 0 else [tf_iterate]


def ref_read(path, compression=None):
    """(the records reference.read_records returns, or [] with the DataLossError it raises); its TF1
    twin read_records_v1 must do the same (the same records, or an error with the same message)."""
    outcomes = []
    for read in (R.read_records, R.read_records_v1):
        try:
            outcomes.append((read(path, compression), None))
        except R.DataLossError as e:
            outcomes.append(([], e))
    (records, err), (records_v1, err_v1) = outcomes
    assert records_v1 == records and str(err_v1) == str(err), f"{path}: read_records_v1 {err_v1}, read_records {err}"
    return records, err


TFIMPL_READERS = [T.read_records, T.read_records_v1]


def check_tfimpl_readers(path, compression, where, readers=TFIMPL_READERS):
    """Each of tfimpl's readers on a (damaged) file does what TF's own RecordReader does: where
    tf_record_iterator yields some records and raises DataLossError, the reader raises DataLossError
    with TF's message (a reader returns a list or raises: it cannot hand back the records before the
    damage); where TF's reader ends without an error, the reader returns exactly TF's records. So no
    tfimpl reader returns a damaged record as good, nor a list from a file TF refuses."""
    tf_records, tf_err = tf_iterate(path, compression)
    for read in readers:
        name = f"tfimpl.{read.__name__}"
        try:
            records = read(path, compression)
        except tf.errors.DataLossError as e:
            assert tf_err is not None, f"{where}: {name} raised where TF reads {len(tf_records)} records: {e.message}"
            assert tf_err.message in e.message, f"{where}: {name} raised {e.message!r}, TF {tf_err.message!r}"
        else:
            assert tf_err is None, (f"{where}: {name} returned {len(records)} records where TF's reader raises "
                                    f"DataLossError: {tf_err.message}")
            assert records == tf_records, f"{where}: {name} returned {len(records)} records, TF {len(tf_records)}"


class Planted:
    """A module with the names given replaced: monkeypatched in as a tfimpl module's ``tf`` (or, nested,
    its ``tf.compat.v1``), it plants a bug in tfimpl's own code without copying that code."""

    def __init__(self, module, **replaced):
        self._module = module
        self.__dict__.update(replaced)

    def __getattr__(self, name):
        return getattr(self._module, name)


def mask(crc):
    """TF's crc32c::Mask, written out: rotate right by 15 bits, add 0xa282ead8."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) % 2 ** 32


def starts(records):
    """The byte offset of each record in an uncompressed file, and the file's length."""
    return list(np.cumsum([0] + [16 + len(r) for r in records]))


# --- CRC-32C ----------------------------------------------------------------------------

def test_crc32c_check_value_of_123456789_is_0xe3069283():
    """The catalogued check value of CRC-32/ISCSI (the Castagnoli CRC TF uses)."""
    assert R.crc32c(b"123456789") == google_crc32c.value(b"123456789") == 0xE3069283


def crc32c_bitwise(data):
    """The docstring's formula, one bit at a time."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


LENGTHS = [0, 1, 2, 7, 8, 9, 63, 255, 4095, 4096, 4097, 65535, 65536, 65537, 1 << 20, 3 * (1 << 20) + 5]


@pytest.mark.parametrize("n", LENGTHS)
def test_crc32c_agrees_with_google_crc32c_on_both_paths(n):
    """Below 4 KiB the table loop, from 4 KiB the chunked NumPy path (2^k chunks and a tail): each
    against google-crc32c (a C library), and the short ones against the bitwise formula too."""
    data = RNG.bytes(n)
    assert R.crc32c(data) == google_crc32c.value(data), f"{n} bytes"
    if n <= 4096:
        assert R.crc32c(data) == crc32c_bitwise(data), f"{n} bytes"


@given(st.binary(min_size=1, max_size=9000))
@hypothesis.example(b"")
def test_crc32c_agrees_with_google_crc32c_on_any_bytes(data):
    assert R.crc32c(data) == google_crc32c.value(data), data[:32]


def test_masked_crc32c_rotates_right_by_15_and_adds_0xa282ead8():
    for data in (b"", b"a", b"123456789", RNG.bytes(5000)):
        assert R.masked_crc32c(data) == mask(google_crc32c.value(data))


def test_the_crc_of_a_1_mib_record_takes_well_under_a_second():
    """The chunked path: about 10 ms on a 2-core EPYC; the bound leaves room for a loaded machine."""
    data = RNG.bytes(1 << 20)
    start = time.perf_counter()
    R.crc32c(data)
    assert time.perf_counter() - start < 0.5


# --- the framing, both ways ------------------------------------------------------------------

@pytest.mark.claim("ch7.1", "TFRecord files store data as tf.train.Example protocol buffers", source="book",
                   verdict="corrected",
                   correction="a TFRecord file is a run of framed byte strings (uint64 length, masked CRC-32C of "
                              "the length, the bytes, masked CRC-32C of the bytes); any bytes can be a record, an "
                              "Example is only the usual content")
def test_a_record_is_any_bytes_framed_by_its_length_and_two_masked_crcs(tmp_path):
    """TF's own file, taken apart with struct and google-crc32c alone (no reference code): records that
    are not Examples (empty, raw bytes, text) are framed alike and read back."""
    records = [b"", b"\x00\xff raw", "文本".encode()]
    T.write_records(tmp_path / "tf.tfrecord", records)
    raw = (tmp_path / "tf.tfrecord").read_bytes()
    offset = 0
    for record in records:
        length, length_crc = struct.unpack_from("<QI", raw, offset)
        assert length == len(record) and length_crc == mask(google_crc32c.value(raw[offset:offset + 8]))
        assert raw[offset + 12:offset + 12 + length] == record
        (data_crc,) = struct.unpack_from("<I", raw, offset + 12 + length)
        assert data_crc == mask(google_crc32c.value(record))
        offset += 16 + length
    assert offset == len(raw)
    assert T.read_records(tmp_path / "tf.tfrecord") == records


RECORD_SETS = {
    "no-records": [],
    "empty-records": [b""] * 5,
    "mixed": [RNG.bytes(int(n)) for n in RNG.integers(0, 300, 40)],
    "one-mib-and-more": [RNG.bytes(1 << 20), bytes(RNG.integers(0, 4, (1 << 20) + 7, dtype=np.uint8)),
                         RNG.bytes(3 * (1 << 20) + 1)],
    "many": [RNG.bytes(int(n)) for n in RNG.integers(0, 64, 10_000)],
}


@pytest.mark.parametrize("compression", [None, "GZIP"])
@pytest.mark.parametrize("name", list(RECORD_SETS))
def test_each_side_reads_the_others_file_and_both_write_the_same_bytes(tmp_path, name, compression):
    """Empty records, records of 1 MiB and more (GZIP: past TF's 256 KiB zlib buffers), 10,000 records.
    GZIP files are byte-identical too: the reference uses TF's zlib options (level 6, memLevel 9,
    window 15 + 16: test_pythons_gzip_defaults_write_other_bytes_than_tfs_zlib_options)."""
    records = RECORD_SETS[name]
    ref_path, tf_path = tmp_path / "ref.tfrecord", tmp_path / "tf.tfrecord"
    R.write_records(ref_path, records, compression)
    T.write_records(tf_path, records, compression)
    assert T.read_records(ref_path, compression) == records
    assert R.read_records(tf_path, compression) == records
    if name == "mixed":  # the book's TF1 reader too: a TFRecordReader on a string_input_producer queue
        assert T.read_records_v1(ref_path, compression) == records
    ref_bytes, tf_bytes = ref_path.read_bytes(), tf_path.read_bytes()
    if ref_bytes != tf_bytes:
        a, b = np.frombuffer(ref_bytes, np.uint8), np.frombuffer(tf_bytes, np.uint8)
        n = min(len(a), len(b))
        first = int(np.argmax(a[:n] != b[:n])) if np.any(a[:n] != b[:n]) else n
        pytest.fail(f"{name}, {compression}: the files differ from byte {first} (sizes {len(a)}, {len(b)}); "
                    f"Python's zlib {zlib.ZLIB_RUNTIME_VERSION}")


def read_outcome(read, path, compression):
    """The records ``read`` returns, or the DataLossError (the reference's or TF's) it raises."""
    try:
        return read(path, compression)
    except (R.DataLossError, tf.errors.DataLossError) as e:
        return e


def writers_and_readers():
    """Each side's writer, and the four readers, looked up now (so that a planted one is the one used)."""
    writers = {"tfimpl": T.write_records, "reference": R.write_records}
    readers = {"reference": R.read_records, "reference v1": R.read_records_v1, "tfimpl": T.read_records,
               "tfimpl v1": T.read_records_v1}
    return writers, readers


@pytest.mark.parametrize("compression", [None, "GZIP"])
def test_every_writer_and_reader_pair_agrees_on_each_compression(tmp_path, compression):
    """Both writers and all four readers (the TF1 forms too), for compression None and "GZIP", on
    records of 0 to 20,000 bytes: each reader returns what each writer wrote, and refuses the file
    read with the other compression (a GZIP file read raw is "corrupted record at 0", a raw file
    read as GZIP fails zlib's header check), so a reader or writer that dropped its compression
    argument fails here."""
    records = [b"", b"\x00", RNG.bytes(200), RNG.bytes(20_000)]
    other = "GZIP" if compression is None else None
    writers, readers = writers_and_readers()
    for writer, write in writers.items():
        path = tmp_path / f"{writer}.tfrecord"
        write(path, records, compression)
        assert (path.read_bytes()[:2] == b"\x1f\x8b") == (compression == "GZIP"), f"{writer}'s file, {compression}"
        for reader, read in readers.items():
            got = read_outcome(read, path, compression)
            assert got == records, f"{reader} reading {writer}'s file with {compression}: {got!r:.200}"
            got = read_outcome(read, path, other)
            assert isinstance(got, Exception), f"{reader} read {writer}'s {compression} file as {other}"


@pytest.mark.planted
@pytest.mark.parametrize("planted", ["reference v1", "tfimpl v1", "tfimpl writer"])
def test_planted_a_dropped_compression_argument_fails_the_pairs_test(tmp_path, monkeypatch, planted):
    """read_records_v1 (either side) reading as if compression were None (tfimpl's: a TFRecordReader
    made without its options), and tfimpl's writer writing so (a TFRecordWriter without its options)."""
    if planted == "reference v1":
        monkeypatch.setattr(R, "read_records_v1", lambda path, compression=None: R.read_records(path))
    elif planted == "tfimpl v1":
        reader = Planted(tf.compat.v1, TFRecordReader=lambda options=None: tf.compat.v1.TFRecordReader())
        monkeypatch.setattr(T, "tf", Planted(tf, compat=Planted(tf.compat, v1=reader)))
    else:
        writer = Planted(tf.io, TFRecordWriter=lambda path, options=None: tf.io.TFRecordWriter(path))
        monkeypatch.setattr(T, "tf", Planted(tf, io=writer))
    caught = {"reference v1": r"^reference v1 read", "tfimpl v1": r"^tfimpl v1 read", "tfimpl writer": r"tfimpl's"}
    for compression in ("GZIP", None):
        try:
            test_every_writer_and_reader_pair_agrees_on_each_compression(tmp_path, compression)
        except AssertionError as e:
            assert re.search(caught[planted], str(e)), e
            return
    pytest.fail(f"the pairs test passed with the planted {planted}")


def test_pythons_gzip_defaults_write_other_bytes_than_tfs_zlib_options(tmp_path):
    """Why the reference calls zlib.compressobj(-1, DEFLATED, 31, memLevel=9): TF's GZIP header has
    mtime 0 and XFL 0 (level 6), where gzip.compress writes XFL 2 (its level 9); and zlib's default
    memLevel 8 compresses to other bytes than TF's memLevel 9 once a block holds more than 16 K symbols
    (memLevel sets the symbol buffer, 2^(memLevel + 6), which ends each deflate block). All decompress alike."""
    records = [bytes(RNG.integers(0, 16, 1000, dtype=np.uint8)) for _ in range(100)]  # 100 kB, mostly literals
    T.write_records(tmp_path / "tf.tfrecord", records, "GZIP")
    tf_bytes = (tmp_path / "tf.tfrecord").read_bytes()
    stream = zlib.decompress(tf_bytes, 16 + zlib.MAX_WBITS)
    mtime, xfl = struct.unpack_from("<IB", tf_bytes, 4)
    assert tf_bytes[:4] == b"\x1f\x8b\x08\x00" and (mtime, xfl) == (0, 0)
    assert gzip.compress(b"x", mtime=0)[8] == 2
    mem8 = zlib.compressobj(-1, zlib.DEFLATED, 31, 8)
    assert mem8.compress(stream) + mem8.flush() != tf_bytes
    mem9 = zlib.compressobj(-1, zlib.DEFLATED, 31, 9)
    assert mem9.compress(stream) + mem9.flush() == tf_bytes
    assert gzip.decompress(tf_bytes) == stream


@pytest.mark.claim("ch7.1", "writer = tf.python_io.TFRecordWriter(filename); writer.write(example.SerializeToString()) "
                            "writes the examples to a TFRecord file", source="book", code="1.4.0/Chapter07/1. TFRecord样例程序.ipynb, cell 2",
                   verdict="corrected",
                   correction="TF2 keeps it as tf.compat.v1.python_io.TFRecordWriter, the very class "
                              "tf.io.TFRecordWriter; SerializeToString() orders a multi-feature Example's map by a "
                              "per-process hash, so the file's bytes change from run to run unless "
                              "SerializeToString(deterministic=True)")
def test_the_books_writer_is_tf_io_tfrecordwriter_and_its_file_is_the_references(tmp_path):
    """The book's MNIST writer: pixels and label as int64, the image as raw bytes. Its file decodes to
    the same values as the reference's; with deterministic=True it is the reference's, byte for byte."""
    assert tf.compat.v1.python_io.TFRecordWriter is tf.io.TFRecordWriter
    images, labels = RNG.integers(0, 256, (4, 28 * 28), dtype=np.uint8), RNG.integers(0, 10, 4)

    def book_example(image, label):
        return tf.train.Example(features=tf.train.Features(feature={
            "pixels": tf.train.Feature(int64_list=tf.train.Int64List(value=[28 * 28])),
            "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
            "image_raw": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image.tobytes()]))}))

    for deterministic in (False, True):
        writer = tf.compat.v1.python_io.TFRecordWriter(str(tmp_path / f"book-{deterministic}.tfrecord"))
        for image, label in zip(images, labels):
            writer.write(book_example(image, label).SerializeToString(deterministic=deterministic))
        writer.close()
    wanted = [{"pixels": [784], "label": [int(label)], "image_raw": [image.tobytes()]}
              for image, label in zip(images, labels)]
    R.write_records(tmp_path / "ref.tfrecord", [R.encode_example(f) for f in wanted])
    assert (tmp_path / "book-True.tfrecord").read_bytes() == (tmp_path / "ref.tfrecord").read_bytes()
    for record, f in zip(R.read_records(tmp_path / "book-False.tfrecord"), wanted):
        assert_features_equal(R.decode_example(record), expected_arrays(f, KINDS_OF_BOOK), "book writer")


@pytest.mark.claim("ch7.1", "tf.TFRecordReader reading a tf.train.string_input_producer queue, then "
                            "tf.parse_single_example with FixedLenFeature and tf.decode_raw, run in a Session with "
                            "queue runners, reads the examples back", source="book", code="1.4.0/Chapter07/1. TFRecord样例程序.ipynb, cell 4",
                   verdict="changed", since="TF 2.0",
                   correction="TF2 keeps these only as tf.compat.v1 (TFRecordReader, train.string_input_producer, "
                              "parse_single_example, decode_raw), where they still read the file back; TF2 reads "
                              "with tf.data.TFRecordDataset and tf.io.parse_single_example")
def test_the_books_queue_reader_reads_a_file_the_reference_wrote(tmp_path):
    """The book's reading program, in a TF1 graph, on a file written by the reference alone; and
    tfimpl's read_records_v1 / decode_example_v1 (the same calls as functions) on the same file."""
    images, labels = RNG.integers(0, 256, (3, 28 * 28), dtype=np.uint8), RNG.integers(0, 10, 3)
    path = str(tmp_path / "ref.tfrecord")
    R.write_records(path, [R.encode_example({"pixels": [784], "label": [int(label)], "image_raw": [im.tobytes()]})
                           for im, label in zip(images, labels)])
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        reader = v1.TFRecordReader()
        filename_queue = v1.train.string_input_producer([path], shuffle=False)
        _, serialized_example = reader.read(filename_queue)
        features = v1.parse_single_example(serialized_example, features={
            "image_raw": v1.FixedLenFeature([], tf.string), "pixels": v1.FixedLenFeature([], tf.int64),
            "label": v1.FixedLenFeature([], tf.int64)})
        image = v1.decode_raw(features["image_raw"], tf.uint8)
        label, pixels = tf.cast(features["label"], tf.int32), tf.cast(features["pixels"], tf.int32)
        with v1.Session() as sess:
            coord = v1.train.Coordinator()
            threads = v1.train.start_queue_runners(sess=sess, coord=coord)
            read = [sess.run([image, label, pixels]) for _ in range(3)]
            coord.request_stop()
            coord.join(threads)
    for k, (im, label, pixels) in enumerate(read):
        np.testing.assert_array_equal(im, images[k], err_msg=f"image {k}")
        assert (label, pixels) == (labels[k], 784), f"example {k}"
    records = T.read_records_v1(path)
    assert records == R.read_records(path)
    for record, im, label in zip(records, images, labels):
        assert_features_equal(T.decode_example_v1(record),
                              expected_arrays({"pixels": [784], "label": [int(label)], "image_raw": [im.tobytes()]},
                                              KINDS_OF_BOOK), "decode_example_v1")


# --- damaged files ---------------------------------------------------------------------------

SMALL = [b"", b"abc", RNG.bytes(17), b"\x07"]
"""An 85-byte file: small enough to damage at every byte."""


def record_of(position, records):
    """(index, start) of the record holding byte ``position`` of the uncompressed file."""
    bounds = starts(records)
    index = int(np.searchsorted(bounds, position, side="right")) - 1
    return index, int(bounds[index])


def field_of(position, records):
    """(record index, the field of the framing that holds byte ``position``: length, length-crc, data or
    data-crc): the kinds of damage a flip does."""
    index, start = record_of(position, records)
    offset = position - start
    return index, ("length" if offset < 8 else "length-crc" if offset < 12 else
                   "data" if offset < 12 + len(records[index]) else "data-crc")


def check_flip(tmp_path, records, position, mask, readers, tfimpl=True):
    """Flip byte ``position`` (xor ``mask``) of a file of ``records``: both readers must raise, at the
    same record and offset (the length's block at the record's start, the data's 12 bytes on), and TF
    must yield exactly the records before the damaged one; tfimpl's readers (if ``tfimpl``) raise as TF does."""
    path = tmp_path / "flipped.tfrecord"
    R.write_records(path, records)
    raw = bytearray(path.read_bytes())
    raw[position] ^= mask
    path.write_bytes(bytes(raw))
    index, start = record_of(position, records)
    block = start if position < start + 12 else start + 12
    where = f"byte {position} ^ {mask:#04x}: record {index} at {start}"
    _, err = ref_read(path)
    assert err is not None, f"{where}: the reference returned records from a damaged file"
    assert (err.index, err.offset) == (index, block) and "corrupted" in str(err), f"{where}: {err}"
    for read in readers:
        tf_records, tf_err = read(path)
        assert tf_err is not None, f"{where}: {read.__name__} read the damaged file without an error"
        assert tf_records == records[:index], f"{where}: {read.__name__} yielded {len(tf_records)} records"
        assert OFFSET.search(tf_err.message).groups() == ("corrupted", str(block)), f"{where}: {tf_err.message}"
    if tfimpl:
        check_tfimpl_readers(path, None, where)


def test_every_flipped_byte_is_caught_by_both_readers_at_the_same_record_and_offset(tmp_path):
    """Every byte of the file, in a length, a CRC or the data, flipped by a varying mask: the length's
    CRC-32C catches the header, the data's catches the rest (any burst of <= 32 bits, so always).
    TF's iterator reads every file, TFRecordDataset every 11th, tfimpl's two readers (a dataset, and
    a Session: 30-40 ms each) a file of each kind of damage, each field of record 2 (two good records
    before it, which a reader that swallowed the error would return)."""
    kinds = set()
    for position in range(starts(SMALL)[-1]):
        index, field = field_of(position, SMALL)
        tfimpl = index == 2 and field not in kinds
        check_flip(tmp_path, SMALL, position, position * 37 % 255 + 1, tf_readers(position), tfimpl)
        kinds |= {field} if tfimpl else set()
    assert kinds == {"length", "length-crc", "data", "data-crc"}


@given(st.data())
def test_no_flip_anywhere_lets_a_damaged_record_through(tmp_path_factory, data):
    """Random files (one record long enough for the chunked CRC path), a random byte, a random mask;
    TF reads through TFRecordDataset, and so do tfimpl's readers."""
    sizes = data.draw(st.lists(st.sampled_from([5000, 100, 12, 1, 0]), min_size=1, max_size=5), "sizes")
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32), "seed"))
    records = [rng.bytes(n) for n in sizes]
    position = data.draw(st.integers(0, starts(records)[-1] - 1), "position")
    mask = data.draw(st.integers(1, 255), "mask")
    check_flip(tmp_path_factory.mktemp("flip"), records, position, mask, [tf_read])


def test_a_cut_file_is_caught_by_the_reference_and_by_tf_only_past_the_records_header(tmp_path):
    """Cut at every byte. Between two records the file is a valid shorter file for both readers (the
    framing has no record count). Anywhere else the reference raises "truncated" at the record's start.
    TF raises "truncated record at <start>" only once the record's 12-byte header is whole: cut inside
    the header, RecordReader::ReadChecksummed returns ReadNBytes's OutOfRange before its own "truncated"
    check, and OutOfRange there means the end of the file, so the record is dropped without a word
    (tsl/lib/io/record_reader.cc). TF never yields a damaged record. tfimpl's readers do as TF does,
    on a cut of each kind in record 2: at its start, inside its header, past its header."""
    path, bounds = tmp_path / "cut.tfrecord", starts(SMALL)
    R.write_records(path, SMALL)
    raw = path.read_bytes()
    silent, kinds = set(), set()
    for cut in range(len(raw)):
        path.write_bytes(raw[:cut])
        ref_records, err = ref_read(path)
        index, start = record_of(cut, SMALL)
        if cut == start:
            assert err is None and ref_records == SMALL[:index], f"cut at {cut}: {err}"
        else:
            assert err is not None and (err.index, err.offset) == (index, start) and "truncated" in str(err), (
                f"cut at {cut}: {err}")
        for read in tf_readers(cut):
            tf_records, tf_err = read(path)
            assert tf_records == SMALL[:index], f"cut at {cut}: {read.__name__} yielded {len(tf_records)} records"
            if cut < start + 12:  # at a record boundary, or inside a header: TF sees the end of the file
                assert tf_err is None, f"cut at {cut}: {read.__name__}: {tf_err.message}"
                silent |= {cut} - {start}
            else:
                assert OFFSET.search(tf_err.message).groups() == ("truncated", str(start)), (
                    f"cut at {cut}: {read.__name__}: {tf_err.message}")
        kind = "start" if cut == start else "header" if cut < start + 12 else "past the header"
        if index == 2 and kind not in kinds:
            check_tfimpl_readers(path, None, f"cut at {cut}")
            kinds.add(kind)
    assert silent == {b + j for b in bounds[:-1] for j in range(1, 12)}  # 1 to 11 bytes of each header
    assert len(kinds) == 3


def test_the_references_error_names_the_record_the_offset_and_what_failed(tmp_path):
    """SMALL's records start at bytes 0, 16, 35 and 68; record 2 holds 17 bytes."""
    path = tmp_path / "damaged.tfrecord"
    R.write_records(path, SMALL)
    raw = path.read_bytes()
    cases = {35 + 3: r"corrupted record 2 at byte 35: the length's masked CRC-32C is 0x[0-9a-f]{8}, "
                     r"the header stores 0x[0-9a-f]{8}",
             35 + 12 + 3: r"corrupted record 2 at byte 47: the data's masked CRC-32C is 0x[0-9a-f]{8}, "
                          r"the footer stores 0x[0-9a-f]{8}"}
    for position, message in cases.items():
        damaged = bytearray(raw)
        damaged[position] ^= 1
        path.write_bytes(bytes(damaged))
        with pytest.raises(R.DataLossError, match=re.escape(str(path)) + ": " + message):
            R.read_records(path)
    for cut, message in ((40, r"truncated record 2 at byte 35: the file ends 5 bytes into the 12-byte header"),
                         (50, r"truncated record 2 at byte 35: the record needs 12 \+ 17 \+ 4 bytes, the file has "
                              r"15 left"),
                         (83, r"truncated record 3 at byte 68: the record needs 12 \+ 1 \+ 4 bytes, the file has "
                              r"15 left")):
        path.write_bytes(raw[:cut])
        with pytest.raises(R.DataLossError, match=message):
            R.read_records(path)


def outcome_of(tf_records, tf_err, n):
    """What TF's reader did with a file of ``n`` records: read them "all", "fewer" without an error, or
    raised an error of this text (offsets left out; zlib's many texts, one path in TF, as one)."""
    if tf_err is None:
        return "all" if len(tf_records) == n else "fewer"
    return "inflate() failed" if "inflate() failed" in tf_err.message else re.sub(r"\d+", "N", tf_err.message)


def test_tf_does_not_require_the_gzip_trailer_so_some_cut_gzip_files_read_short_without_error(tmp_path):
    """TF's GZIP reader (ZlibInputStream) takes the end of the input for the end of the stream: it checks
    a gzip CRC-32 / size trailer that is there, but a file cut inside its 8-byte trailer reads as whole,
    and one cut inside the deflate data where the decompressed stream ends between two records, or
    inside a record's header, reads as a shorter file, silently. The reference insists on the
    end-of-stream block and the trailer, so it raises for every cut. Neither returns a damaged record,
    and tfimpl's readers do as TF does on the first cut of each outcome of TF's: all the records, fewer
    without an error, or an error of each text."""
    rng = np.random.default_rng(4)
    records = [rng.bytes(20) for _ in range(4)]
    path = tmp_path / "cut.tfrecord.gz"
    R.write_records(path, records, "GZIP")
    raw = path.read_bytes()
    silent, kinds = [], set()
    for cut in range(len(raw)):
        path.write_bytes(raw[:cut])
        _, err = ref_read(path, "GZIP")
        assert isinstance(err, R.DataLossError), f"cut at {cut} of {len(raw)}: the reference read it"
        outcomes = {read(path, "GZIP")[1] is None for read in tf_readers(cut)}
        tf_records, tf_err = tf_iterate(path, "GZIP")
        assert tf_records == records[:len(tf_records)], f"cut at {cut}: TF yielded a damaged record"
        assert outcomes == {tf_err is None}, f"cut at {cut}: TFRecordDataset and tf_record_iterator disagree"
        if tf_err is None:
            silent.append((cut, len(tf_records)))
        kind = outcome_of(tf_records, tf_err, len(records))
        if kind not in kinds:
            check_tfimpl_readers(path, "GZIP", f"cut at {cut} of {len(raw)}")
            kinds.add(kind)
    assert {"all", "fewer"} < kinds, kinds
    assert [(cut, n) for cut, n in silent if cut >= len(raw) - 8] == [(c, 4) for c in range(len(raw) - 8, len(raw))]
    assert any(n < len(records) for _, n in silent), f"no cut read short: {silent}"


def test_a_flipped_gzip_bit_never_yields_a_damaged_record_and_tf_may_read_the_file_short(tmp_path):
    """Bits 0 and 2 of each byte of a GZIP file flipped. The reference returns every record intact or
    raises; it raises for each bit-0 flip outside bytes 3-9 (FLG's FTEXT bit, MTIME, XFL, OS, which no
    reader checks). TF never yields a damaged record, but may stop short without an error: with FLG's
    FEXTRA bit set (byte 3, bit 2) zlib takes MTIME for an extra field and waits for input that never
    comes, and TF reads the file as empty. tfimpl's readers do as TF does on the first file of each
    outcome of TF's: all the records, fewer without an error, a record's CRC, or zlib's error."""
    rng = np.random.default_rng(3)
    records = [rng.bytes(20) for _ in range(4)]
    path = tmp_path / "flipped.tfrecord.gz"
    R.write_records(path, records, "GZIP")
    raw = path.read_bytes()
    kinds = set()
    for position in range(len(raw)):
        for bit in (0, 2):
            damaged = bytearray(raw)
            damaged[position] ^= 1 << bit
            path.write_bytes(bytes(damaged))
            where = f"byte {position}, bit {bit}"
            ref_records, err = ref_read(path, "GZIP")
            assert err is not None or ref_records == records, f"{where}: the reference returned other records"
            if bit == 0:
                assert (err is None) == (3 <= position <= 9), f"{where}: {err}"
            for read in tf_readers(position) if bit == 0 else [tf_iterate]:
                tf_records, tf_err = read(path, "GZIP")
                assert tf_records == records[:len(tf_records)], f"{where}: {read.__name__} yielded a damaged record"
            kind = outcome_of(tf_records, tf_err, len(records))
            if kind not in kinds:
                check_tfimpl_readers(path, "GZIP", where)
                kinds.add(kind)
    assert kinds == {"all", "fewer", "corrupted record at N", "inflate() failed"}, sorted(kinds)
    path.write_bytes(raw[:3] + bytes([raw[3] | 4]) + raw[4:])
    assert tf_iterate(path, "GZIP") == ([], None) and tf_read(path, "GZIP") == ([], None)
    assert isinstance(ref_read(path, "GZIP")[1], R.DataLossError)


@pytest.mark.planted
def test_planted_a_tf1_reader_that_swallows_data_loss_fails_the_damage_tests(tmp_path, monkeypatch):
    """The issue's bug: read_records_v1 catching DataLossError beside OutOfRangeError, so that it
    returns the records read before the damage. Planted by giving tfimpl.tfrecord a tf whose
    errors.OutOfRangeError is the pair; the flip test then fails."""
    errors = Planted(tf.errors, OutOfRangeError=(tf.errors.OutOfRangeError, tf.errors.DataLossError))
    monkeypatch.setattr(T, "tf", Planted(tf, errors=errors))
    path = tmp_path / "damaged.tfrecord"
    R.write_records(path, SMALL)
    path.write_bytes(path.read_bytes()[:50])  # inside record 2, past its header
    assert T.read_records_v1(path) == SMALL[:2]  # the plant took
    with pytest.raises(AssertionError, match="tfimpl.read_records_v1 returned 2 records where TF's reader raises"):
        test_every_flipped_byte_is_caught_by_both_readers_at_the_same_record_and_offset(tmp_path)


@pytest.mark.planted
def test_planted_a_reader_that_ignores_errors_fails_the_damage_tests(tmp_path, monkeypatch):
    """read_records reading tf.data.TFRecordDataset(...).ignore_errors(), which ends the dataset at the
    first damaged record without a word: the cut test fails."""
    def ignoring(*args, **kwargs):
        return tf.data.TFRecordDataset(*args, **kwargs).ignore_errors()
    monkeypatch.setattr(T, "tf", Planted(tf, data=Planted(tf.data, TFRecordDataset=ignoring)))
    with pytest.raises(AssertionError, match="tfimpl.read_records returned 2 records where TF's reader raises"):
        test_a_cut_file_is_caught_by_the_reference_and_by_tf_only_past_the_records_header(tmp_path)


# --- tf.train.Example ------------------------------------------------------------------------

LISTS = {"bytes_list": tf.train.BytesList, "float_list": tf.train.FloatList, "int64_list": tf.train.Int64List}
DTYPES = {"bytes_list": object, "float_list": np.float32, "int64_list": np.int64}
TF_DTYPES = {"bytes_list": tf.string, "float_list": tf.float32, "int64_list": tf.int64}
KINDS_OF_BOOK = {"pixels": "int64_list", "label": "int64_list", "image_raw": "bytes_list"}
INT_EDGES = [-2 ** 63, -2 ** 63 + 1, -2 ** 31 - 1, -2 ** 31, -2 ** 31 + 1, -1, 0, 1, 127, 128, 2 ** 31 - 1, 2 ** 31,
             2 ** 32 - 1, 2 ** 32, 2 ** 63 - 2, 2 ** 63 - 1]
"""The int64 and int32 boundaries and one past them, the uint32 ones, and where a varint grows a byte."""
INT64 = st.one_of(st.sampled_from(INT_EDGES), st.integers(-2 ** 63, 2 ** 63 - 1))
FLOAT32 = st.floats(width=32)  # inf and NaN included
SEEDS = st.integers(0, 2 ** 32 - 1)
LONG = st.one_of(st.sampled_from([128, 16384, 127, 16383]), st.integers(128, 20_000))
"""Byte counts around and past where a length varint takes 2 bytes (128 .. 16383) and 3 (16384 ..)."""


def seeded_bytes(n, seed):
    return np.random.default_rng(seed).bytes(n)


def varint_size(value):
    return max(1, -(-(value & 0xFFFFFFFFFFFFFFFF).bit_length() // 7))


def seeded_ints(nbytes, seed, dtype=np.int64):
    """Values of ``dtype`` whose packed varints take at least ``nbytes`` bytes: half of them its
    boundaries (and for int64, INT_EDGES), the rest uniform over its range (an unsigned dtype: up to
    2**63 - 1, what Int64List holds), then -1 (or the largest value) until the bytes are there."""
    rng, info = np.random.default_rng(seed), np.iinfo(dtype)
    high = min(int(info.max), 2 ** 63 - 1)
    edges = [v for v in INT_EDGES + [int(info.min), int(info.min) + 1, high - 1, high] if info.min <= v <= high]
    n = max(1, nbytes // 8)
    values = rng.integers(int(info.min), high, n, dtype=np.int64 if info.min < 0 else np.uint64, endpoint=True)
    values = values.astype(dtype)
    pick = rng.random(n) < 0.5
    values[pick] = rng.choice(np.array(edges, dtype), int(pick.sum()))
    filler = -1 if info.min < 0 else high
    missing = nbytes - sum(varint_size(int(v)) for v in values)
    return np.concatenate([values, np.full(max(0, -(-missing // varint_size(filler))), filler, dtype)])


def seeded_floats(nbytes, seed, dtype=np.float32):
    """ceil(nbytes / 4) values of ``dtype`` (4 bytes each, packed): normal numbers of every size, and the
    specials (0, -0, +-inf, NaN, the largest float32, the smallest subnormal) where the seed puts them."""
    rng = np.random.default_rng(seed)
    n = max(1, -(-nbytes // 4))
    with np.errstate(over="ignore"):
        values = (rng.standard_normal(n) * 10.0 ** rng.integers(-45, 39, n)).astype(dtype)
        specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 3.4028235e38, 1e-45], dtype)
    pick = rng.random(n) < 0.2
    values[pick] = rng.choice(specials, int(pick.sum()))
    return values


INT_DTYPES = st.sampled_from([np.int64, np.int32, np.uint32, np.uint64, np.int8, np.uint8])
FLOAT_DTYPES = st.sampled_from([np.float32, np.float64, np.float16])
FEATURE = st.one_of(
    st.tuples(st.just("int64_list"), st.lists(INT64, min_size=1, max_size=5)),
    st.tuples(st.just("float_list"), st.lists(FLOAT32, min_size=1, max_size=5)),
    st.tuples(st.just("float_list"), st.lists(st.one_of(FLOAT32, st.integers(-2 ** 24, 2 ** 24)), min_size=1,
                                              max_size=5).filter(lambda v: any(isinstance(x, float) for x in v))),
    st.tuples(st.just("bytes_list"), st.lists(st.binary(max_size=12), min_size=1, max_size=4)),
    st.tuples(st.just("int64_list"), st.lists(INT64, max_size=4).map(lambda v: np.array(v, np.int64))),
    st.tuples(st.just("float_list"), st.lists(FLOAT32, max_size=4).map(lambda v: np.array(v, np.float32))),
    st.tuples(st.just("bytes_list"), st.lists(st.binary(max_size=6), max_size=3).map(lambda v: np.array(v, object))),
    st.tuples(st.just("int64_list"), st.builds(seeded_ints, st.integers(1, 40), SEEDS, INT_DTYPES)),
    st.tuples(st.just("float_list"), st.builds(seeded_floats, st.integers(1, 40), SEEDS, FLOAT_DTYPES)),
)
LONG_FEATURE = st.one_of(
    st.tuples(st.just("bytes_list"), st.lists(st.builds(seeded_bytes, LONG, SEEDS), min_size=1, max_size=2)),
    st.tuples(st.just("int64_list"), st.builds(seeded_ints, LONG, SEEDS, INT_DTYPES)),
    st.tuples(st.just("float_list"), st.builds(seeded_floats, LONG, SEEDS, FLOAT_DTYPES)),
)
"""A feature whose value or packed list takes LONG bytes: its length varint is 2 or 3 bytes long, and so
are those of the Feature, the map entry and Features around it."""
NAMES = st.text(st.characters(codec="utf-8"), max_size=6)
FEATURES = st.builds(lambda others, name, long: {**others, name: long},
                     st.dictionaries(NAMES, FEATURE, max_size=5), NAMES, LONG_FEATURE)
"""One long feature and up to five others: every draw crosses the multi-byte varints; the empty
Example is pinned as an @example, so that no draw is spent on it."""
EVERY_KIND = {
    "ints": ("int64_list", INT_EDGES),
    "int32-array": ("int64_list", np.array([-2 ** 31, -1, 0, 2 ** 31 - 1], np.int32)),
    "ints-16384-bytes": ("int64_list", np.full(1639, -1, np.int64)),  # 10 bytes each: 16390 bytes, a 3-byte length
    "floats": ("float_list", [0.0, -0.0, 1.5, np.inf, -np.inf, np.nan, 3.4028235e38, 1e-45, 0.1]),
    "floats-128-bytes": ("float_list", np.arange(32, dtype=np.float64) / 3),
    "bytes": ("bytes_list", [b"", b"\x00", b"x" * 127, b"y" * 128, b"z" * 16383, b"w" * 16384]),
    "": ("bytes_list", np.array([b"empty name"], object)),
    "empty-ints": ("int64_list", np.array([], np.int64)),
}
"""Every kind, as lists and as arrays, at the int32 and int64 boundaries and across each varint length."""


def expected_arrays(features, kinds):
    """What a decoder must return for ``features``: float32, int64 or object arrays, by kind."""
    return {name: np.array(list(values), DTYPES[kinds[name]]) for name, values in features.items()}


def assert_same_bytes(got, want, where):
    """``got == want``; if not, the lengths and the first differing offset, in one line. (Not a bare
    ``assert got == want``: where the CI variable is set, pytest explains a failed comparison of two long
    byte strings with difflib's ndiff, which ran for over 600 s on EVERY_KIND's 33 KB under a planted bug.)"""
    if got != want:
        at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        raise AssertionError(f"{where}: {len(got)} bytes against {len(want)}, first different at byte {at}: "
                             f"{got[at:at + 12]!r} against {want[at:at + 12]!r}")


def assert_features_equal(actual, expected, where):
    assert sorted(actual) == sorted(expected), f"{where}: names {sorted(actual)} != {sorted(expected)}"
    for name, values in expected.items():
        got = np.asarray(actual[name])
        assert got.dtype == values.dtype, f"{where}: {name!r} dtype {got.dtype}, expected {values.dtype}"
        np.testing.assert_array_equal(got, values, err_msg=f"{where}: feature {name!r}")  # NaN equals NaN


def tf_example(features, kinds):
    """The Example built with tf.train.* directly (not through tfimpl)."""
    return tf.train.Example(features=tf.train.Features(feature={
        name: tf.train.Feature(**{kinds[name]: LISTS[kinds[name]](value=list(values))})
        for name, values in features.items()}))


@pytest.mark.claim("ch7.1", "a tf.train.Example maps feature names to a BytesList, a FloatList or an Int64List "
                            "(message Example { Features features = 1; }, Features { map<string, Feature> feature "
                            "= 1; }, Feature { oneof kind { BytesList bytes_list = 1; FloatList float_list = 2; "
                            "Int64List int64_list = 3; } })", source="book")
@given(FEATURES)
@hypothesis.example(drawn={})  # (the file's own example() builds a message by hand)
@hypothesis.example(drawn=EVERY_KIND)
def test_examples_written_by_hand_parse_in_tf_and_tfs_decode_by_hand(tmp_path_factory, drawn):
    """Names of any UTF-8 (the empty one and prefixes of each other too), values of each kind as lists
    or arrays (of int8 to uint64, float16 to float64), ints at the int32 and int64 boundaries, values
    and lists long enough for 2- and 3-byte length varints. The reference's bytes are
    SerializeToString(deterministic=True)'s and tfimpl's; TF's C++ parser (parse_single_example, with a
    spec from the drawn kinds) reads them; every decoder (both sides, TF2 and TF1 forms, and the
    pipeline's parse) reads each kind back; the reference decodes TF's default serialisation
    (hash-ordered map) too."""
    features = {name: values for name, (kind, values) in drawn.items()}
    kinds = {name: kind for name, (kind, values) in drawn.items()}
    expected = expected_arrays(features, kinds)
    ref = R.encode_example(features)
    example = tf_example(features, kinds)
    assert_same_bytes(ref, example.SerializeToString(deterministic=True), "reference bytes vs SerializeToString")
    assert_same_bytes(T.encode_example(features), ref, "tfimpl bytes vs the reference's")
    spec = {name: tf.io.VarLenFeature(TF_DTYPES[kind]) for name, kind in kinds.items()}
    if spec:  # parse_single_example refuses an empty spec
        parsed = {name: t.values.numpy() for name, t in tf.io.parse_single_example(ref, spec).items()}
        assert_features_equal(parsed, expected, "tf.io.parse_single_example(reference bytes)")
        assert_features_equal(pipeline_parse(tmp_path_factory, ref, kinds, expected), expected, "the pipeline's parse")
    assert_features_equal(R.decode_example(example.SerializeToString()), expected, "reference decode of TF's bytes")
    assert_features_equal(R.decode_example_v1(ref), expected, "reference decode_example_v1")
    assert_features_equal(T.decode_example(ref), expected, "tfimpl decode_example")
    assert_features_equal(T.decode_example_v1(ref), expected, "tfimpl decode_example_v1")


def drawn_only(test, strategy):
    """``test`` (a @given test) run on its drawn examples alone, under the active profile (ci: 4
    derandomized draws), without its @examples and without shrinking."""
    return hypothesis.settings(hypothesis.settings(), phases=[hypothesis.Phase.generate], database=None)(
        given(strategy)(test.hypothesis.inner_test))


def widened_floats(decode):
    def planted(data):
        return {name: v.astype(np.float64) if v.dtype == np.float32 else v for name, v in decode(data).items()}
    return planted


@pytest.mark.planted
@pytest.mark.parametrize("planted", ["ints-as-32-bit-varints", "one-byte-lengths", "v1-floats-widened"])
def test_planted_encoding_bugs_fail_the_drawn_examples_and_the_pinned_one(tmp_path_factory, monkeypatch, planted):
    """The reference's encoder writing each varint mod 2^32 (every int beyond uint32 comes out wrong), or
    each length as one byte (every length over 127), and tfimpl's decode_example_v1 widening floats to
    float64: the Example test fails on its drawn examples alone, and on the pinned EVERY_KIND."""
    if planted == "ints-as-32-bit-varints":
        varint = R._varint
        monkeypatch.setattr(R, "_varint", lambda n: varint(n & 0xFFFFFFFF))
    elif planted == "one-byte-lengths":
        varint = R._varint
        monkeypatch.setattr(R, "_len_field", lambda number, payload: varint(number << 3 | 2) +
                            bytes([len(payload) & 0x7F]) + payload)
    else:
        monkeypatch.setattr(T, "decode_example_v1", widened_floats(T.decode_example_v1))
    test = test_examples_written_by_hand_parse_in_tf_and_tfs_decode_by_hand
    with pytest.raises(AssertionError):
        drawn_only(test, FEATURES)(tmp_path_factory)
    with pytest.raises(AssertionError):
        test.hypothesis.inner_test(tmp_path_factory, EVERY_KIND)


def pipeline_parse(tmp_path_factory, data, kinds, expected):
    """The pipeline's parse (tests/test_pipeline.py): the record written to a file, read back by
    tf.data.TFRecordDataset and mapped through tf.io.parse_single_example with a FixedLenFeature([n])
    of each feature's kind and length."""
    path = tmp_path_factory.mktemp("parse") / "example.tfrecord"
    R.write_records(path, [data])
    spec = {name: tf.io.FixedLenFeature([len(expected[name])], TF_DTYPES[kind]) for name, kind in kinds.items()}
    (parsed,) = tf.data.TFRecordDataset(str(path)).map(lambda record: tf.io.parse_single_example(record, spec))
    return {name: t.numpy() for name, t in parsed.items()}


def test_parse_example_reads_a_batch_of_reference_examples_from_a_reference_file(tmp_path):
    """tf.data.TFRecordDataset(...).batch(n).map(tf.io.parse_example) over a file the reference wrote."""
    examples = [{"id": [k], "score": np.array([0.5 * k] * k, np.float32), "tag": [b"t%d" % k]} for k in range(5)]
    R.write_records(tmp_path / "batch.tfrecord", [R.encode_example(e) for e in examples])
    spec = {"id": tf.io.FixedLenFeature([], tf.int64), "score": tf.io.VarLenFeature(tf.float32),
            "tag": tf.io.FixedLenFeature([], tf.string)}
    dataset = tf.data.TFRecordDataset(str(tmp_path / "batch.tfrecord")).batch(5).map(
        lambda batch: tf.io.parse_example(batch, spec))
    (parsed,) = list(dataset)
    np.testing.assert_array_equal(parsed["id"].numpy(), np.arange(5))
    assert parsed["tag"].numpy().tolist() == [b"t%d" % k for k in range(5)]
    scores = tf.sparse.to_dense(parsed["score"]).numpy()
    for k in range(5):
        np.testing.assert_array_equal(scores[k, :k], np.float32(0.5 * k))


CHILD = """
import json
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.internal import api_implementation
pool = descriptor_pool.DescriptorPool()
for blob in {files!r}:
    pool.Add(descriptor_pb2.FileDescriptorProto.FromString(blob))
example = message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow.Example"))()
for key in {keys!r}:
    example.features.feature[key].int64_list.value.append(1)

def varint(data, i):
    value = shift = 0
    while True:
        value, i, shift = value | (data[i] & 127) << shift, i + 1, shift + 7
        if data[i - 1] < 128:
            return value, i

def order(data):  # the keys of Example.features' map entries, in the order written
    n, i = varint(data, 1)
    end, keys = i + n, []
    while i < end:
        n, j = varint(data, i + 1)
        length, k = varint(data, j + 1)
        keys.append(data[k:k + length].decode())
        i = j + n
    return keys

print(json.dumps([api_implementation.Type(), order(example.SerializeToString()),
                  order(example.SerializeToString(deterministic=True))]))
"""


def protobuf_child(keys, backend="upb"):
    """(backend, default order, deterministic order) of an Example with an int64 feature per key,
    serialised in a fresh process that imports protobuf alone (with TF's Example descriptors) under
    PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=backend."""
    files = [tf.train.Feature.DESCRIPTOR.file.serialized_pb, tf.train.Example.DESCRIPTOR.file.serialized_pb]
    out = subprocess.run([sys.executable, "-c", CHILD.format(files=files, keys=keys)], capture_output=True, text=True,
                         check=True, timeout=60, env=dict(os.environ, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=backend))
    return json.loads(out.stdout)


def test_serialize_to_string_orders_the_map_by_a_hash_seeded_per_process_unless_deterministic():
    """protobuf's upb keeps a map in a hash table seeded with the address of a static variable
    (upb/hash/common.c, _upb_Seed: "enough to prevent unit tests from relying on a deterministic map
    ordering", given ASLR), so one Example serialises to other bytes in each process. Four fresh
    processes (protobuf alone, TF's Example descriptors) show it; deterministic=True repeats. The seed
    came with protobuf 6.31: before it (5.29, which TF 2.18 pins; 6.30) every process writes one order."""
    keys = ["k%02d" % i for i in range(12)]
    runs = [protobuf_child(keys) for _ in range(4)]
    assert {impl for impl, _, _ in runs} == {"upb"}, runs  # protobuf's default backend, which TF uses here
    with open("/proc/sys/kernel/randomize_va_space") as f:
        aslr = f.read().strip() != "0"
    seeded = PROTOBUF >= Version("6.31")  # measured: one order in every process with 5.29.6 and 6.30.0, four with 6.31.1
    defaults = {tuple(default) for _, default, _ in runs}
    assert (len(defaults) > 1) == (aslr and seeded), (
        f"protobuf {PROTOBUF}, ASLR {'on' if aslr else 'off'}, default orders: {defaults}")
    assert all(sorted(d) == keys for d in defaults)
    assert {tuple(det) for _, _, det in runs} == {tuple(keys)}
    features = dict.fromkeys(keys, [1])
    assert R.encode_example(features) == tf_example(features, dict.fromkeys(keys, "int64_list")).SerializeToString(
        deterministic=True)


def test_deterministic_order_puts_a_key_before_its_prefixes_in_upb_and_after_in_pure_python():
    """upb sorts the map by a negated memcmp with a length tie-break and emits it from a buffer built
    backwards (upb/message/map_sorter.c, _upb_mapsorter_cmpstr): bytes ascending, but "kab" before "ka".
    The pure-Python backend sorts as Python does, prefixes first. The reference writes upb's order, so
    its bytes are TF's SerializeToString(deterministic=True) with the default backend (upb)."""
    keys = ["ka", "kab", "kb", "k\x00", "k\x00a"]
    assert protobuf_child(keys, "upb")[2] == ["k\x00a", "k\x00", "kab", "ka", "kb"]
    assert protobuf_child(keys, "python")[2] == ["k\x00", "k\x00a", "ka", "kab", "kb"]
    features = dict.fromkeys(keys, [1])
    reference = R.encode_example(features)
    assert reference == tf_example(features, dict.fromkeys(keys, "int64_list")).SerializeToString(deterministic=True)
    assert reference == T.encode_example(features)


def hand(*fields):
    """A message from (field number, wire type, payload) triples; payload bytes, or an int for wire type 0."""
    def varint(n):
        out = b""
        while n > 0x7F:
            out, n = out + bytes([n & 0x7F | 0x80]), n >> 7
        return out + bytes([n])
    out = b""
    for number, wire, payload in fields:
        out += varint(number << 3 | wire)
        out += varint(payload) if wire == 0 else varint(len(payload)) + payload if wire == 2 else payload
    return out


def entry(key, feature):
    return hand((1, 2, hand((1, 2, key.encode()), (2, 2, feature))))


def example(*entries):
    return hand((1, 2, b"".join(entries)))


def feature(number, *list_fields):
    """A Feature whose oneof field ``number`` (1 bytes, 2 float, 3 int64) holds a list of ``list_fields``."""
    return hand((number, 2, hand(*list_fields)))


F32 = struct.Struct("<f").pack


def ints(*values):
    return np.array(values, np.int64)


ONE = feature(3, (1, 2, b"\x04"))  # int64_list [4], packed
SAME = None
"""TF's parse_single_example reads what protobuf reads."""

SPLIT_PACKED_ERROR = (r"Parsing int64_list failed" if Version(tf.__version__) >= Version("2.20") else
                      r"Can't parse serialized Example")
"""TF's parse_single_example on an int64 list written unpacked, then packed: its error names the list from
TF 2.20 on (measured: "Can't parse serialized Example" on 2.17.1 to 2.19.1, the list on 2.20.0 and 2.21.0)."""

UNUSUAL = {
    # case: (message, what protobuf and the reference read, what TF's parse_single_example reads or its error)
    "unpacked-int64": (example(entry("a", feature(3, (1, 0, 5), (1, 0, 127), (1, 0, 2 ** 64 - 1)))),
                       {"a": ints(5, 127, -1)}, SAME),
    "unpacked-float": (example(entry("a", feature(2, (1, 5, F32(1.0)), (1, 5, F32(-2.5))))),
                       {"a": np.array([1.0, -2.5], np.float32)}, SAME),
    "negative-int64-ten-bytes": (example(entry("a", feature(3, (1, 2, b"\xff" * 9 + b"\x01")))), {"a": ints(-1)}, SAME),
    "unknown-field-in-example": (hand((7, 0, 9)) + example(entry("a", ONE)), {"a": ints(4)}, SAME),
    "unknown-field-in-feature": (example(entry("a", ONE + hand((9, 0, 1)))), {"a": ints(4)}, SAME),
    "unknown-field-in-list": (example(entry("a", feature(3, (1, 2, b"\x04"), (9, 5, b"abcd")))), {"a": ints(4)}, SAME),
    "value-before-key": (hand((1, 2, hand((1, 2, hand((2, 2, ONE), (1, 2, b"a")))))), {"a": ints(4)}, SAME),
    "repeated-key-last-wins": (example(entry("a", feature(3, (1, 2, b"\x01"))),
                                       entry("a", feature(3, (1, 2, b"\x02")))), {"a": ints(2)}, SAME),
    "two-features-messages-merge": (example(entry("a", ONE)) + example(entry("b", feature(1, (1, 2, b"x")))),
                                    {"a": ints(4), "b": np.array([b"x"], object)}, SAME),
    "no-features": (b"", {}, SAME),
    # TF's fast parser (tensorflow/core/util/example_proto_fast_parsing.cc) reads less than protobuf
    # (measured on TF 2.21):
    "list-in-two-packed-runs": (example(entry("a", feature(3, (1, 2, b"\x01\x02"), (1, 2, b"\x03")))),
                                {"a": ints(1, 2, 3)}, {"a": ints(1, 2)}),
    "packed-then-unpacked": (example(entry("a", feature(3, (1, 2, b"\x01\x02"), (1, 0, 3)))),
                             {"a": ints(1, 2, 3)}, {"a": ints(1, 2)}),
    "unpacked-then-packed": (example(entry("a", feature(3, (1, 0, 3), (1, 2, b"\x01\x02")))),
                             {"a": ints(3, 1, 2)}, SPLIT_PACKED_ERROR),
    "same-list-twice": (example(entry("a", feature(3, (1, 2, b"\x01")) + feature(3, (1, 2, b"\x02")))),
                        {"a": ints(1, 2)}, {"a": ints(1)}),
    "oneof-set-twice": (example(entry("a", feature(3, (1, 2, b"\x01")) + feature(2, (1, 2, F32(1.5))))),
                        {"a": np.array([1.5], np.float32)}, r"Data types don't match"),
    "unknown-field-in-features": (example(entry("a", ONE), hand((15, 2, b"xyz"))), {"a": ints(4)},
                                  r"Could not parse example input"),
    "value-twice-in-an-entry": (hand((1, 2, hand((1, 2, hand((1, 2, b"a"), (2, 2, feature(3, (1, 2, b"\x01"))),
                                                              (2, 2, feature(3, (1, 2, b"\x02")))))))),
                                {"a": ints(1, 2)}, r"Could not parse example input"),
}


@pytest.mark.parametrize("case", list(UNUSUAL))
def test_valid_encodings_no_tf_writer_produces_decode_as_protobuf_reads_them(case):
    """Numbers one field each or packed, unknown fields, a repeated key, a oneof set twice, two Features
    messages: the reference reads what protobuf's FromString reads (protobuf's merge rules). TF's C++
    parser (VarLenFeature of protobuf's kind) agrees on most; where it reads other values or fails,
    tfimpl's decode_example, whose spec takes the lengths from FromString, raises instead."""
    data, expected, tf_reads = UNUSUAL[case]
    assert_features_equal(R.decode_example(data), expected, f"{case}: reference")
    proto = tf.train.Example.FromString(data).features.feature
    kinds = {name: proto[name].WhichOneof("kind") for name in proto}
    assert_features_equal({name: np.array(list(getattr(proto[name], kinds[name]).value), DTYPES[kinds[name]])
                           for name in proto}, expected, f"{case}: FromString")
    if not expected:
        assert T.decode_example(data) == {}
        return
    spec = {name: tf.io.VarLenFeature(TF_DTYPES[kind]) for name, kind in kinds.items()}
    if isinstance(tf_reads, str):
        with pytest.raises(tf.errors.InvalidArgumentError, match=tf_reads):
            tf.io.parse_single_example(data, spec)
    else:
        parsed = {n: t.values.numpy() for n, t in tf.io.parse_single_example(data, spec).items()}
        assert_features_equal(parsed, expected if tf_reads is SAME else tf_reads, f"{case}: parse_single_example")
    if tf_reads is SAME:
        assert_features_equal(T.decode_example(data), expected, f"{case}: tfimpl")
    else:
        with pytest.raises(tf.errors.InvalidArgumentError):
            T.decode_example(data)


def test_a_negative_int64_is_a_ten_byte_varint_and_int64_max_nine():
    for value, varint in ((-1, b"\xff" * 9 + b"\x01"), (-2 ** 63, b"\x80" * 9 + b"\x01"),
                          (2 ** 63 - 1, b"\xff" * 8 + b"\x7f"), (0, b"\x00"), (300, b"\xac\x02")):
        encoded = R.encode_example({"v": [value]})
        assert encoded == T.encode_example({"v": [value]})
        assert encoded.endswith(b"\x1a" + bytes([len(varint) + 2]) + b"\x0a" + bytes([len(varint)]) + varint), value


@pytest.mark.claim("ch7.1", "a FloatList holds a list of real numbers", source="book", verdict="corrected",
                   correction="it holds float32: a Python float or float64 is rounded to the nearest float32 "
                              "(0.1 comes back as 0.10000000149011612) and beyond float32's range becomes inf")
def test_a_float_list_holds_float32_so_float64_values_come_back_rounded():
    values = [0.1, 1 / 3, 1e39, -1e39, 1e-46, 16777217.0]
    for encode in (R.encode_example, T.encode_example):
        for decode in (R.decode_example, T.decode_example):
            back = decode(encode({"x": values}))["x"]
            assert back.dtype == np.float32
            with np.errstate(over="ignore"):  # round to nearest, beyond float32's range to inf
                np.testing.assert_array_equal(back, np.array(values, np.float32))
    assert float(R.decode_example(R.encode_example({"x": [0.1]}))["x"][0]) == 0.10000000149011612 != 0.1


FEATURE_KINDS = {
    # lists: the first of int64, float, bytes that holds every value; NumPy scalars as the value they hold
    "ints": ([1, -2], "int64_list"),
    "int64-extremes": ([-2 ** 63, 2 ** 63 - 1], "int64_list"),
    "tuple": ((1, 2), "int64_list"),
    "numpy-ints": ([np.int64(3), np.uint8(4), 5], "int64_list"),
    "ints-and-a-float": ([1, 2.5], "float_list"),
    "a-numpy-float64": ([np.float64(2.0)], "float_list"),
    "numpy-floats-and-ints": ([np.float32(1.5), np.float16(0.1), 1], "float_list"),
    "big-int-then-float": ([2 ** 63, 1.5], "float_list"),  # a float makes it a float list, outside int64 or not
    "float-then-big-int": ([1.5, 2 ** 63], "float_list"),
    "beyond-float32": ([1e39], "float_list"),  # rounds to inf
    "bytes": ([b"x", b""], "bytes_list"),
    "numpy-bytes": ([np.bytes_(b"x")], "bytes_list"),
    # 1-D arrays: by dtype, empty ones too
    "int8-array": (np.array([-1], np.int8), "int64_list"),
    "uint8-array": (np.array([255], np.uint8), "int64_list"),
    "uint64-array": (np.array([2 ** 63 - 1], np.uint64), "int64_list"),
    "empty-int64-array": (np.array([], np.int64), "int64_list"),
    "float16-array": (np.array([0.1], np.float16), "float_list"),
    "bfloat16-array": (np.array([0.1], "bfloat16"), "float_list"),
    "float64-array": (np.array([0.1, np.nan]), "float_list"),
    "empty-float32-array": (np.array([], np.float32), "float_list"),
    "bytes-array": (np.array([b"a", b"bc"]), "bytes_list"),
    "empty-bytes-array": (np.array([], "S1"), "bytes_list"),
    "object-array": (np.array([b"a"], object), "bytes_list"),
    "empty-object-array": (np.array([], object), "bytes_list"),
    "empty-str-array": (np.array([], "U1"), "bytes_list"),  # a str array has bytes' kind; a str in it is refused
}


@pytest.mark.parametrize("case", list(FEATURE_KINDS))
def test_both_encoders_give_each_feature_the_same_kind_and_bytes(case):
    """Each side tells the kind its own way (the reference by Python types and NumPy dtype kinds,
    tfimpl by tf.as_dtype and the tf.train lists' protobuf fields); both give the kind in the table,
    read back by protobuf's parser, and the same bytes."""
    values, kind = FEATURE_KINDS[case]
    ref, impl = R.encode_example({"a": values}), T.encode_example({"a": values})
    assert tf.train.Example.FromString(ref).features.feature["a"].WhichOneof("kind") == kind
    assert impl == ref


BAD_FEATURES = {
    "empty-list": ({"a": []}, ValueError, r"feature 'a' is an empty list: its kind \(bytes, float or int64\) cannot "
                                          r"be inferred; pass an empty NumPy array of the dtype"),
    "empty-tuple": ({"a": ()}, ValueError, r"feature 'a' is an empty list"),
    "str-values": ({"a": ["text"]}, TypeError, r"feature 'a' must be a list or a 1-D array of ints, floats or bytes, "
                                               r"got values of type str$"),
    "numpy-str": ({"a": [np.str_("text")]}, TypeError, r"got values of type str$"),
    "str-array": ({"a": np.array(["text"])}, TypeError, r"got values of type str$"),
    "bool-values": ({"a": [True]}, TypeError, r"got values of type bool$"),
    "int-and-bool": ({"a": [1, True]}, TypeError, r"got values of type bool, int$"),
    "float-and-bool": ({"a": [1.5, False]}, TypeError, r"got values of type bool, float$"),
    "numpy-bool": ({"a": [np.bool_(True)]}, TypeError, r"got values of type bool$"),
    "bool-array": ({"a": np.array([True])}, TypeError, r"got an array of dtype bool$"),
    "object-bool-array": ({"a": np.array([True], object)}, TypeError, r"got values of type bool$"),
    "numpy-complex": ({"a": [np.complex128(1j)]}, TypeError, r"got values of type complex$"),
    "complex-array": ({"a": np.array([1j])}, TypeError, r"got an array of dtype complex128$"),
    "datetime-array": ({"a": np.array(["2018-01-01"], "datetime64[D]")}, TypeError,
                       r"got an array of dtype datetime64\[D\]$"),
    "bytes-and-ints": ({"a": [b"x", 1]}, TypeError, r"got values of type bytes, int$"),
    "bytes-and-floats": ({"a": [b"x", 1.5]}, TypeError, r"got values of type bytes, float$"),
    "object-array-of-ints": ({"a": np.array([1, 2], object)}, TypeError, r"got values of type int$"),
    "bytearray-values": ({"a": [bytearray(b"x")]}, TypeError, r"got values of type bytearray$"),
    "none-values": ({"a": [None]}, TypeError, r"got values of type NoneType$"),
    "nested-list": ({"a": [[1]]}, TypeError, r"got values of type list$"),
    "scalar": ({"a": 3}, TypeError, r"got int$"),
    "bytes-scalar": ({"a": b"xyz"}, TypeError, r"got bytes$"),
    "two-d-array": ({"a": np.zeros((2, 2))}, TypeError, r"got an array of shape \(2, 2\)$"),
    "zero-d-array": ({"a": np.array(3)}, TypeError, r"got an array of shape \(\)$"),
    "int64-overflow": ({"a": [2 ** 63]}, ValueError, r"feature 'a' holds 9223372036854775808, outside int64"),
    "int64-underflow": ({"a": [1, -2 ** 63 - 1]}, ValueError, r"feature 'a' holds -9223372036854775809, outside int64"),
    "numpy-uint64-overflow": ({"a": [np.uint64(2 ** 64 - 1)]}, ValueError, r"holds 18446744073709551615, outside"),
    "uint64-overflow": ({"a": np.array([2 ** 64 - 1], np.uint64)}, ValueError, r"holds 18446744073709551615"),
    "bytes-name": ({b"a": [1]}, TypeError, r"feature names must be str, got bytes b'a'"),
    "int-name": ({1: [1]}, TypeError, r"feature names must be str, got int 1"),
    "names-before-values": ({"a": [], b"b": [1]}, TypeError, r"feature names must be str, got bytes b'b'"),
}


@pytest.mark.parametrize("case", list(BAD_FEATURES))
def test_both_encoders_refuse_the_same_features_with_the_same_message(case):
    features, error, message = BAD_FEATURES[case]
    for encode in (R.encode_example, T.encode_example):
        with pytest.raises(error, match=message):
            encode(features)


PROTOBUF = Version(google.protobuf.__version__)


@pytest.mark.parametrize("list_type,values,error", [
    (tf.train.BytesList, np.array(["text"]), TypeError),
    (tf.train.BytesList, np.array([1, 2], object), TypeError),
    (tf.train.Int64List, np.array([2 ** 64 - 1], np.uint64), ValueError),
], ids=["str-array", "object-int-array", "uint64-overflow"])
def test_protobuf_before_6_30_refuses_a_value_of_an_array_by_leaving_the_list_empty(list_type, values, error):
    """protobuf's upb refuses a value it cannot hold with TypeError or ValueError when it is given a list;
    given a NumPy array, upb before 6.30 (protobuf 4.x and 5.x, which TF 2.17 and 2.18 pin, and which TF
    2.19 to 2.21 still admit) raises nothing and leaves the whole list empty: the Example would be
    written with an empty feature. Measured with protobuf 4.25.9 and 5.29.6 (empty), 6.30.0, 6.31.1,
    6.33.0 and 7.36.2 (raises). tfimpl's encoder checks the list took every value, and so refuses these
    on every protobuf (test_both_encoders_refuse_the_same_features_with_the_same_message)."""
    with pytest.raises(error):
        list_type(value=list(values))
    if PROTOBUF < Version("6.30"):
        assert list(list_type(value=values).value) == [], f"protobuf {PROTOBUF}"
    else:
        with pytest.raises(error):
            list_type(value=values)


def test_both_sides_refuse_a_feature_with_no_kind_and_bad_arguments_alike(tmp_path):
    """A Feature with no list set is a valid message with no dtype to decode to; a str record (TF's
    writer would write its UTF-8) and compression "ZLIB" are outside the pair's contract."""
    kindless = example(entry("a", b""))
    for decode in (R.decode_example, T.decode_example, R.decode_example_v1, T.decode_example_v1):
        with pytest.raises(ValueError, match=r"feature 'a' holds no list: none of bytes_list, float_list or "
                                             r"int64_list is set"):
            decode(kindless)
    for write in (R.write_records, T.write_records):
        with pytest.raises(TypeError, match=r"records\[1\] must be bytes, got str"):
            write(tmp_path / "x.tfrecord", [b"a", "b"])
        with pytest.raises(ValueError, match=r"compression must be one of \[None, 'GZIP'\], got 'ZLIB'"):
            write(tmp_path / "x.tfrecord", [b"a"], "ZLIB")
    for read in (R.read_records, T.read_records, R.read_records_v1, T.read_records_v1):
        with pytest.raises(ValueError, match=r"compression must be one of \[None, 'GZIP'\], got ''"):
            read(tmp_path / "x.tfrecord", "")
