"""Devices: which GPUs TensorFlow sees (the one place that asks), their names, and the device axis.

A case with a device axis runs on the CPU ("cpu") and once on each visible GPU ("gpu" for /GPU:0,
"gpu1", "gpu2", ... for the others). Where no GPU is visible its GPU twin is not collected at all:
the run's header says so, and the count of the twins left out is printed at the end of the run.
"""
import pytest
import tensorflow as tf

NO_GPU = "no GPU visible to TensorFlow (tf.config.list_physical_devices('GPU') is empty)"


def gpus():
    """The physical GPUs TensorFlow sees (CUDA_VISIBLE_DEVICES and tf.config.set_visible_devices apply)."""
    return tf.config.list_physical_devices("GPU")


def gpu_names():
    """"gpu" for /GPU:0, "gpu1", "gpu2", ... for the others."""
    return ["gpu" if i == 0 else f"gpu{i}" for i in range(len(gpus()))]


DEVICES = {"cpu": "/CPU:0", **{name: f"/GPU:{i}" for i, name in enumerate(gpu_names())}}
"""Device name -> TensorFlow device string."""


def tf_device(device):
    """The TensorFlow device string of a device name ("cpu", "gpu", "gpu1", ...); a string that is
    already a device ("/CPU:1") is returned as it is."""
    return device if device.startswith("/") else DEVICES[device]


def device_params(base_id, *values, marks=()):
    """pytest.params for ``values`` on the CPU (id ``base_id``) and on each visible GPU (ids
    ``base_id-gpu``, ``base_id-gpu1``, ...; marked gpu). Where none is visible, only the CPU's,
    marked gpu_twin: the run counts those to say how many GPU cases it left out."""
    names = gpu_names()
    cpu_marks = list(marks) + ([] if names else [pytest.mark.gpu_twin])
    return [pytest.param(*values, "cpu", id=base_id, marks=cpu_marks)] + [
        pytest.param(*values, name, id=f"{base_id}-{name}", marks=[pytest.mark.gpu, *marks]) for name in names]


def uncollected_gpu_twins(items):
    """How many GPU cases the collected ``items`` would have had with one GPU visible: one per CPU case
    with a device axis (marked gpu_twin where no GPU is visible)."""
    return sum(1 for item in items if item.get_closest_marker("gpu_twin"))
