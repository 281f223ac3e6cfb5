"""TFRecord throughput: writing and reading a file of small records (100 bytes) and of large ones
(1 MiB), the reference (pure Python framing, CRC-32C by table and by NumPy chunks) against TF
(tf.io.TFRecordWriter, tf.data.TFRecordDataset), uncompressed and GZIP. Each case first checks that
the other side reads what it wrote (or that it read what the other side wrote); the MB/s count the
records' payload bytes."""
import pytest

import reference.tfrecord as R
import tfimpl.tfrecord as T
from bench._support import record

IMPLS = {"reference": R, "tf": T}
OTHER = {"reference": T, "tf": R}


def records_of(kind, timed, rng):
    """(count, size) of the file: 10,000 x 100 B or 16 x 1 MiB timed; a few small ones as a smoke check
    (64 KiB still takes the reference's chunked CRC path)."""
    count, size = {("small", True): (10_000, 100), ("large", True): (16, 1 << 20),
                   ("small", False): (50, 100), ("large", False): (2, 1 << 16)}[kind, timed]
    return [rng.bytes(size) for _ in range(count)]


@pytest.mark.parametrize("compression", [None, "GZIP"], ids=["raw", "gzip"])
@pytest.mark.parametrize("kind", ["small", "large"])
@pytest.mark.parametrize("impl", list(IMPLS))
@pytest.mark.parametrize("op", ["write", "read"])
def bench_tfrecord(benchmark, tmp_path, op, impl, kind, compression, rng):
    records = records_of(kind, benchmark.enabled, rng)
    path = tmp_path / "bench.tfrecord"
    side = IMPLS[impl]
    if op == "write":
        def call():
            side.write_records(path, records, compression)
        call()
        assert OTHER[impl].read_records(path, compression) == records, f"{impl} wrote a file the other side misreads"
    else:
        OTHER[impl].write_records(path, records, compression)

        def call():
            return side.read_records(path, compression)
        assert call() == records, f"{impl} misread the other side's file"
    payload = sum(len(r) for r in records)
    benchmark.group = f"tfrecord-{op}-{kind}-{compression or 'raw'}"
    benchmark(call)
    if benchmark.enabled:
        benchmark.extra_info["MB/s"] = payload / benchmark.stats.stats.min / 1e6
    record(benchmark, kind="tfrecord", impl=impl, op=op, records=len(records), record_bytes=len(records[0]),
           compression=compression or "none", device="cpu", bytes=payload)
