"""A learner's TFRecord writer, chapter 7.1, framed by hand in plain Python."""
import struct
import zlib

import google_crc32c

from reference import _checks as check


def write_records(path, records, compression=None):
    """Each record as: length (uint64), its CRC-32C, the data, its CRC-32C."""
    check.one_of(compression, (None, "GZIP"), "compression")
    for i, r in enumerate(records):
        if not isinstance(r, (bytes, bytearray)):
            raise TypeError(check.message("record_bytes", index=i, type=type(r).__name__))
    frames = []
    for r in records:
        length = struct.pack("<Q", len(r))
        # the mistake: TFRecord stores masked CRCs, ((crc >> 15) | (crc << 17)) + 0xa282ead8
        frames += [length, struct.pack("<I", google_crc32c.value(length)), bytes(r),
                   struct.pack("<I", google_crc32c.value(bytes(r)))]
    stream = b"".join(frames)
    if compression == "GZIP":
        gz = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 16 + zlib.MAX_WBITS, 9)
        stream = gz.compress(stream) + gz.flush()
    with open(path, "wb") as f:
        f.write(stream)
