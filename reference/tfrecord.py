"""TFRecord files and tf.train.Example, written byte by byte: no TensorFlow.

A TFRecord file is records one after another, each framed as TensorFlow's RecordWriter
writes it (tensorflow/core/lib/io/record_writer.cc, WriteRecord)::

    uint64  length             little-endian
    uint32  masked_crc32c(length's 8 bytes)
    byte    data[length]
    uint32  masked_crc32c(data)

masked_crc32c(x) = ((c >> 15) | (c << 17)) + 0xa282ead8 mod 2^32 with c = crc32c(x) (tsl/lib/hash/crc32c.h,
Mask: "it is problematic to compute the CRC of a string that contains embedded CRCs"). The reader
(record_reader.cc, ReadChecksummed) checks both CRCs and raises DataLossError "corrupted record at
<offset>" or "truncated record at <offset>". A CRC with a degree-32 generator catches every error burst
of 32 bits or fewer, so any one changed byte in a length, a CRC or the data is caught, always. A file cut
exactly between two records is a shorter valid file: the framing has no record count. (TF's reader also
takes a file cut inside a record's 12-byte header for one that ends before that record: ReadChecksummed
returns ReadNBytes's OutOfRange before its own "truncated" check. The reference raises.)

compression="GZIP" is zlib's gzip wrapper around the whole framed stream, with TF's options
(tsl/lib/io/zlib_compression_options.h/.cc: level Z_DEFAULT_COMPRESSION, window bits 15 + 16, memLevel 9).

An Example is the protobuf (tensorflow/core/example/example.proto, feature.proto)::

    Example  { Features features = 1; }
    Features { map<string, Feature> feature = 1; }      entries: { string key = 1; Feature value = 2; }
    Feature  { oneof kind { BytesList bytes_list = 1; FloatList float_list = 2; Int64List int64_list = 3; } }
    BytesList { repeated bytes value = 1; }   FloatList { repeated float value = 1 [packed]; }
    Int64List { repeated int64 value = 1 [packed]; }

on the wire: each field is a tag varint(number << 3 | wire type) and its value: wire type 0 a varint
(7 bits a byte, low first, high bit "more"; a negative int64 is its two's complement, 10 bytes), 2 a
varint length and that many bytes (strings, messages, packed lists), 5 four little-endian bytes (float).

TF1 (the book): tf.python_io.TFRecordWriter(path) and writer.write(example.SerializeToString()); reading
with tf.TFRecordReader and tf.train.string_input_producer in a Session (``*_v1``).
TF2: tf.io.TFRecordWriter, tf.data.TFRecordDataset and tf.io.parse_single_example (tfimpl/tfrecord.py).
"""
import struct
import zlib

import numpy as np

from reference import _checks as check

_COMPRESSIONS = (None, "GZIP")


class DataLossError(OSError):
    """A damaged TFRecord file, as TF's tf.errors.DataLossError: ``index`` is the damaged record,
    ``offset`` the byte where the checksummed block that failed starts (the length's at the record's
    start, the data's 12 bytes later: TF's "corrupted record at <offset>"), or the record's start when
    the file ends inside it (TF's "truncated record at <offset>"); both None when the GZIP stream
    itself is damaged. For GZIP files, offsets count in the decompressed stream, as TF's do."""

    def __init__(self, message, path=None, index=None, offset=None):
        super().__init__(message)
        self.path, self.index, self.offset = path, index, offset


# --- CRC-32C ------------------------------------------------------------------------

_POLY = 0x82F63B78  # Castagnoli's polynomial 0x1EDC6F41, bit-reversed: the register shifts right


def _byte_table():
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ (_POLY if crc & 1 else 0)
        table.append(crc)
    return table


_TABLE = _byte_table()
_NP_TABLE = np.array(_TABLE, np.uint32)
_BITS = np.arange(32, dtype=np.uint32)


def crc32c(data):
    """CRC-32C (Castagnoli) of ``data``, TF's crc32c::Value (tsl/lib/hash/crc32c.h)::

        crc = 0xFFFFFFFF
        for byte in data:
            crc ^= byte
            for _ in range(8):
                crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        return crc ^ 0xFFFFFFFF

    The eight inner steps depend only on the low byte of crc ^ byte: _TABLE holds them, so one
    step a byte is crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8). The check value:
    crc32c(b"123456789") == 0xE3069283."""
    data = memoryview(data).cast("B")
    crc = _register(data, 0xFFFFFFFF) if len(data) < 4096 else _register_in_chunks(data)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data):
    """((c >> 15) | (c << 17)) + 0xa282ead8 mod 2^32 with c = crc32c(data): what a TFRecord stores."""
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _register(data, crc):
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


def _register_in_chunks(data):
    """The register after ``data`` from 0xFFFFFFFF, 2^k chunks of n bytes stepped at once with NumPy.
    Every chunk but the first starts from 0; the register is linear over GF(2) in what it starts
    from, so a chunk's start value s carried through n more bytes is Z(s) ^ (its register from 0),
    Z the map "n zero bytes". 32 extra registers step the unit vectors through zeros: Z's images of
    bit 0..31. Pairs of chunks then join, Z doubling each round; the leftover tail steps last."""
    a = np.frombuffer(data, np.uint8)
    k = 1 << (int(np.log2(len(a))) * 3 // 5)
    n = len(a) // k
    columns = np.zeros((n, k + 32), np.uint8)
    columns[:, :k] = a[:k * n].reshape(k, n).T
    reg = np.zeros(k + 32, np.uint32)
    reg[0], reg[k:] = 0xFFFFFFFF, 1 << _BITS
    for column in columns:
        reg = _NP_TABLE[(reg ^ column) & 0xFF] ^ (reg >> 8)
    chunks, images = reg[:k], reg[k:]
    while len(chunks) > 1:
        chunks = _linear(images, chunks[0::2]) ^ chunks[1::2]
        images = _linear(images, images)
    return _register(data[k * n:], int(chunks[0]))


def _linear(images, v):
    """The GF(2)-linear map with images[b] the image of bit b, applied to each 32-bit value in v."""
    return np.bitwise_xor.reduce(((v[:, None] >> _BITS) & 1) * images, axis=1)


# --- TFRecord files -------------------------------------------------------------------

def write_records(path, records, compression=None):
    """Each record framed as length (uint64 LE), masked CRC-32C of the length, data, masked CRC-32C of
    the data; the whole stream gzip-compressed with TF's zlib options when compression="GZIP".
    Mirrors tf.io.TFRecordWriter (TF1: tf.python_io.TFRecordWriter) writing each record."""
    check.one_of(compression, _COMPRESSIONS, "compression")
    records = _check_records(records)
    stream = b"".join(_frame(r) for r in records)
    if compression == "GZIP":
        gz = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 16 + zlib.MAX_WBITS, 9)
        stream = gz.compress(stream) + gz.flush()
    with open(path, "wb") as f:
        f.write(stream)


def _frame(data):
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data))


def read_records(path, compression=None):
    """The records of a TFRecord file, every CRC checked: a list of bytes, or DataLossError naming
    the damaged record, the byte offset and what failed (a CRC, or the file ends inside a record).
    Mirrors tf.data.TFRecordDataset(path, compression_type).

    The reference raises wherever the file ends inside a record. TF's reader does only once the
    record's 12-byte header is whole: a file that ends inside a header reads there as ending before
    that record. For GZIP files the reference also insists on the gzip stream's end and its CRC-32
    trailer, where TF's reader takes the end of the file for the end of the stream. tests/test_tfrecord.py
    pins both."""
    check.one_of(compression, _COMPRESSIONS, "compression")
    with open(path, "rb") as f:
        stream = f.read()
    if compression == "GZIP":
        stream = _gunzip(stream, path)
    records, offset = [], 0
    while offset < len(stream):
        records.append(_unframe(stream, offset, len(records), path))
        offset += 16 + len(records[-1])
    return records


def _gunzip(raw, path):
    gz = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        stream = gz.decompress(raw)
    except zlib.error as e:
        raise DataLossError(f"{path}: the GZIP stream is damaged: {e}", path) from None
    if not gz.eof:
        raise DataLossError(f"{path}: the GZIP stream ends early: no end-of-stream block or CRC-32 trailer", path)
    return stream


def _unframe(stream, offset, index, path):
    """The data of the record at ``offset``, after checking its two CRCs."""
    def damaged(kind, at, what):
        return DataLossError(f"{path}: {kind} record {index} at byte {at}: {what}", path, index, at)

    left = len(stream) - offset
    if left < 12:
        raise damaged("truncated", offset, f"the file ends {left} bytes into the 12-byte header")
    length, stored = struct.unpack_from("<QI", stream, offset)
    computed = masked_crc32c(stream[offset:offset + 8])
    if computed != stored:
        raise damaged("corrupted", offset, f"the length's masked CRC-32C is {computed:#010x}, "
                                           f"the header stores {stored:#010x}")
    if left < 16 + length:
        raise damaged("truncated", offset, f"the record needs 12 + {length} + 4 bytes, the file has {left} left")
    data = stream[offset + 12:offset + 12 + length]
    (stored,) = struct.unpack_from("<I", stream, offset + 12 + length)
    computed = masked_crc32c(data)
    if computed != stored:
        raise damaged("corrupted", offset + 12, f"the data's masked CRC-32C is {computed:#010x}, "
                                                f"the footer stores {stored:#010x}")
    return data


def read_records_v1(path, compression=None):
    """The same records; mirrors the book's tf.TFRecordReader reading a string_input_producer queue."""
    return read_records(path, compression)


def _check_records(records):
    """Each record as bytes: bytes or bytearray only (TF's writer would encode a str as UTF-8 and
    refuse a memoryview; both sides refuse both, with one message)."""
    out = []
    for i, r in enumerate(records):
        if not isinstance(r, (bytes, bytearray)):
            raise TypeError(check.message("record_bytes", index=i, type=type(r).__name__))
        out.append(bytes(r))
    return out


# --- tf.train.Example -------------------------------------------------------------------

_FIELDS = {"bytes_list": 1, "float_list": 2, "int64_list": 3}  # Feature.kind: the oneof's field numbers
_KINDS = {number: kind for kind, number in _FIELDS.items()}


def encode_example(features):
    """The tf.train.Example holding ``features`` ({name: list or 1-D array}), serialised:
    bytes values -> bytes_list, ints -> int64_list, floats -> float_list (float32). Numbers packed,
    map entries in upb's deterministic order (_upb_order): byte for byte what TF's
    SerializeToString(deterministic=True) writes with protobuf's default backend, upb. Without
    deterministic=True upb writes the map in the order of a hash table seeded per process."""
    entries = b""
    for name in sorted(_check_names(features), key=_upb_order):
        kind, values = _feature_kind(name, features[name])
        feature = _len_field(_FIELDS[kind], _encode_list(kind, values))
        entries += _len_field(1, _len_field(1, name.encode()) + _len_field(2, feature))
    return _len_field(1, entries)


def _upb_order(name):
    """The key upb's deterministic serialisation sorts map entries by: the UTF-8 bytes ascending, a key
    before any key that is a prefix of it ("ab" before "a", "" last). upb sorts by a negated memcmp with
    a length tie-break and emits the entries from a buffer built backwards (upb/message/map_sorter.c,
    _upb_mapsorter_cmpstr); protobuf's pure-Python backend sorts prefixes first instead."""
    return (*name.encode(), 256)


def _encode_list(kind, values):
    if kind == "bytes_list":
        return b"".join(_len_field(1, v) for v in values)  # repeated bytes: one field each
    if not values:
        return b""  # a packed field with no values is left out
    if kind == "float_list":
        with np.errstate(over="ignore"):  # beyond float32's range rounds to +-inf, as FloatList does
            return _len_field(1, np.asarray(values, "<f4").tobytes())
    return _len_field(1, b"".join(_varint(v & 0xFFFFFFFFFFFFFFFF) for v in values))  # two's complement


def _varint(n):
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _len_field(number, payload):
    """Field ``number``, wire type 2: tag, length, bytes."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def decode_example(data):
    """{name: values} of a serialised tf.train.Example: int64_list -> int64 array, float_list ->
    float32 array, bytes_list -> object array of bytes; names in sorted order. Reads numbers packed
    or one field each, skips unknown fields, and merges as protobuf does: a repeated Features or
    Feature message merges into the earlier one, a repeated map key replaces its entry.
    Mirrors tf.io.parse_single_example with a spec of each feature's kind and length."""
    found = {}
    for number, wire, value in _fields(data):
        if (number, wire) == (1, 2):  # Example.features
            for n, w, entry in _fields(value):
                if (n, w) == (1, 2):  # Features.feature: one map entry
                    key, feature = "", (None, [])
                    for en, ew, ev in _fields(entry):
                        if (en, ew) == (1, 2):
                            key = ev.decode()
                        elif (en, ew) == (2, 2):
                            feature = _decode_feature(ev, feature)
                    found[key] = feature
    out = {}
    for name in sorted(found):
        kind, values = found[name]
        if kind is None:
            raise ValueError(check.message("feature_no_kind", name=name))
        out[name] = np.array(values, {"bytes_list": object, "float_list": np.float32, "int64_list": np.int64}[kind])
    return out


def _decode_feature(data, feature):
    """(kind, values) after merging ``data`` (a Feature) into ``feature``: the oneof keeps the last
    kind set; a second list of the same kind appends to the first."""
    kind, values = feature
    for number, wire, value in _fields(data):
        if number in _KINDS and wire == 2:
            if _KINDS[number] != kind:
                kind, values = _KINDS[number], []
            values = values + _decode_list(kind, value)
    return kind, values


def _decode_list(kind, data):
    values = []
    for number, wire, value in _fields(data):
        if number != 1:
            continue
        if kind == "bytes_list" and wire == 2:
            values.append(value)
        elif kind == "float_list" and wire in (2, 5):  # packed, or one fixed32 each
            if len(value) % 4:
                raise ValueError(check.message("example_malformed", what=f"a packed float list of {len(value)} bytes"))
            values += np.frombuffer(value, "<f4").tolist()
        elif kind == "int64_list" and wire in (0, 2):  # one varint each, or packed
            raw = [value] if wire == 0 else [v for _, _, v in _fields(value, packed_varints=True)]
            values += [v - (1 << 64) if v >= 1 << 63 else v for v in raw]
        else:
            raise ValueError(check.message("example_malformed", what=f"{kind}.value with wire type {wire}"))
    return values


def _fields(data, packed_varints=False):
    """(field number, wire type, value) of each field of a message, in order: the value is an int
    (wire type 0: varint) or bytes (1: 8 bytes, 2: length-delimited, 5: 4 bytes). With
    packed_varints the data is a run of bare varints, each yielded as (1, 0, value)."""
    data, i = bytes(data), 0
    while i < len(data):
        if packed_varints:
            number, wire = 1, 0
        else:
            tag, i = _read_varint(data, i)
            number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, i = _read_varint(data, i)
        elif wire in (1, 5):
            value, i = data[i:i + (8 if wire == 1 else 4)], i + (8 if wire == 1 else 4)
        elif wire == 2:
            length, i = _read_varint(data, i)
            value, i = data[i:i + length], i + length
        else:
            raise ValueError(check.message("example_malformed", what=f"wire type {wire} (field {number})"))
        if i > len(data):
            raise ValueError(check.message("example_malformed", what=f"field {number} runs past the end"))
        yield number, wire, value


def _read_varint(data, i):
    """(value mod 2^64, next index) of the varint at data[i]: 7 bits a byte, low bits first."""
    value = shift = 0
    while True:
        if i >= len(data):
            raise ValueError(check.message("example_malformed", what="a varint runs past the end"))
        byte = data[i]
        value |= (byte & 0x7F) << shift
        i, shift = i + 1, shift + 7
        if byte < 0x80:
            return value & 0xFFFFFFFFFFFFFFFF, i


def decode_example_v1(data):
    """The same values; mirrors the book's tf.parse_single_example run in a Session."""
    return decode_example(data)


# --- what a feature holds ----------------------------------------------------------------

def _check_names(features):
    for name in features:
        if not isinstance(name, str):
            raise TypeError(check.message("feature_name", type=type(name).__name__, name=name))
    return list(features)


def _feature_kind(name, values):
    """("bytes_list" | "float_list" | "int64_list", the values as a Python list).

    A list: all bytes -> bytes_list; all ints -> int64_list; ints and floats with at least one
    float -> float_list (NumPy scalars count as the Python value they hold). A 1-D NumPy array by
    its dtype: integers -> int64_list, floats (bfloat16 too) -> float_list, bytes (S), str (U) or
    object -> bytes_list, whose values must then be bytes. Refused: str, bool (Int64List refuses it),
    anything else, ints outside int64, and an empty list, which has no dtype to tell its kind."""
    def refuse(what):
        return TypeError(check.message("feature_values", name=name, what=what))

    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise refuse(f"an array of shape {values.shape}")
        kind = ("float_list" if check.is_floating(values.dtype) else
                {"i": "int64_list", "u": "int64_list", "S": "bytes_list", "U": "bytes_list",
                 "O": "bytes_list"}.get(values.dtype.kind))
        if kind is None:
            raise refuse(f"an array of dtype {values.dtype}")
        values = values.tolist()
    elif isinstance(values, (list, tuple)):
        if not values:
            raise ValueError(check.message("feature_empty", name=name))
        kind = None
    else:
        raise refuse(type(values).__name__)
    items = [v.item() if isinstance(v, np.generic) else v for v in values]
    types = {type(v) for v in items}
    if kind is None:
        kind = "bytes_list" if types == {bytes} else "float_list" if float in types else "int64_list"
    if not types <= {"bytes_list": {bytes}, "float_list": {int, float}, "int64_list": {int}}[kind]:
        raise refuse("values of type " + ", ".join(sorted(t.__name__ for t in types)))
    if kind == "float_list":
        return kind, [float(v) for v in items]
    for v in items:
        if kind == "int64_list" and not -(1 << 63) <= v < 1 << 63:
            raise ValueError(check.message("feature_int64", name=name, value=v))
    return kind, items
