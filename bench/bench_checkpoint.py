"""Checkpoint throughput in MB/s: TF2's tf.train.Checkpoint write and read (tfimpl.checkpoint.save and
restore, on tf.Variables that already exist) beside np.save / np.load of the same arrays (one .npy file
each) and the reference's np.savez / np.load (one zip), timed in the same run. 1 MB and 100 MB of float32
variables under --benchmark, 1 GB too with --benchmark-full, 1 MB once as the smoke check. Every case
first restores what it saved and checks it bitwise. The files go to pytest's tmp_path; neither TF nor
NumPy calls fsync, so this times serialising and copying into the page cache, not the disk.
Each case records MB/s in extra_info, and TF's cases their time relative to np.save / np.load."""
import numpy as np
import pytest
import tensorflow as tf

import reference.checkpoint as R
import tfimpl.checkpoint as T
from bench._support import record, sweep

VARIABLES = 8  # the bytes spread over 8 float32 variables, as a small model's layers
IMPLS = ("np.save", "reference", "tf")  # np.save first: the TF cases compare against its time in this run
MB = 1_000_000
SECONDS = {}
"""(op, megabytes, impl) -> min seconds of this run, for the TF cases' ratio to np.save / np.load."""


def pytest_generate_tests(metafunc):
    if "megabytes" in metafunc.fixturenames:
        sizes = sweep(metafunc.config, smoke=[1], default=[1, 100], full=[1, 100, 1000])
        metafunc.parametrize("megabytes", sizes, ids=[f"{mb}MB" for mb in sizes])


def forms(arrays, tmp_path):
    """impl -> (save, restore, restored): the calls to time and what the last restore read back."""
    variables = {name: tf.Variable(a) for name, a in arrays.items()}
    targets = {name: tf.Variable(tf.zeros_like(a)) for name, a in arrays.items()}
    prefix = str(tmp_path / "tf-ckpt")
    files = [tmp_path / f"{k}.npy" for k in range(len(arrays))]
    loaded, ref_path, ref_targets = {}, str(tmp_path / "reference.npz"), {}

    def np_restore():
        loaded.update({name: np.load(f) for name, f in zip(arrays, files)})

    def ref_restore():
        ref_targets.update({name: np.zeros_like(a) for name, a in arrays.items()})
        R.restore(ref_path, ref_targets)
    return {
        "tf": (lambda: T.save(prefix, variables), lambda: T.restore(prefix, targets),
               lambda: {name: v.numpy() for name, v in targets.items()}),
        "np.save": (lambda: [np.save(f, a) for f, a in zip(files, arrays.values())], np_restore, lambda: loaded),
        "reference": (lambda: R.save(ref_path, arrays), ref_restore, lambda: ref_targets),
    }


@pytest.mark.parametrize("op", ["save", "restore"])
@pytest.mark.parametrize("impl", IMPLS)
def bench_checkpoint(benchmark, impl, op, megabytes, tmp_path, rng):
    per = megabytes * MB // 4 // VARIABLES
    arrays = {f"layer{k}/w": rng.standard_normal(per, dtype=np.float32) for k in range(VARIABLES)}
    nbytes = sum(a.nbytes for a in arrays.values())
    save, restore, restored = forms(arrays, tmp_path)[impl]
    save()
    restore()
    for name, a in arrays.items():
        assert restored()[name].tobytes() == a.tobytes(), f"benchmark checkpoint [{impl}, {megabytes} MB]: {name}"
    benchmark.group = f"checkpoint-{op}-{megabytes}MB"
    benchmark(save if op == "save" else restore)
    if benchmark.enabled:
        seconds = benchmark.stats.stats.min
        SECONDS[op, megabytes, impl] = seconds
        benchmark.extra_info["mb_per_s"] = nbytes / MB / seconds
        if impl == "tf" and (op, megabytes, "np.save") in SECONDS:
            benchmark.extra_info["time_vs_np_save_load"] = seconds / SECONDS[op, megabytes, "np.save"]
    record(benchmark, kind="checkpoint", impl=impl, op=op, size=nbytes, device="cpu", bytes=nbytes)
