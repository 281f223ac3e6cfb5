"""TensorFlow set up for a run of the suite, the benchmarks or a tool: quiet logs, TF32 off, GPU
memory taken as needed, and the GPU stand-in device.

Importing this module imports TensorFlow with its start-up chatter silenced; ``configure()`` must
run before TensorFlow initialises its runtime (the first op), because logical devices cannot be
made later. The root conftest.py imports this module first and calls ``configure()`` at once.
"""
import importlib
import logging
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported: C++ INFO/WARNING off


def quietly(action):
    """Run ``action`` with file descriptor 2 sent to /dev/null: TensorFlow's C++ side prints lines
    at import and at device discovery before TF_CPP_MIN_LOG_LEVEL is read. Python exceptions
    still propagate and are reported normally."""
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        return action()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


tf = quietly(lambda: importlib.import_module("tensorflow"))

from tests.devices import gpus  # noqa: E402  (after the quiet import of TensorFlow above)

STANDIN_DEVICE = "/CPU:1"
"""The GPU stand-in: a second logical CPU device, addressed the way /GPU:0 is, so the benchmarks'
GPU branch (device scope, sync, the TF32 switch) runs where no GPU exists. It shares the CPU's
thread pool and kernels; nothing is placed on it unless asked, so /CPU:0 is unchanged."""


def _configure():
    tf.get_logger().setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    # Correctness first: TF32 would run float32 matmuls on a GPU with a 10-bit mantissa.
    tf.config.experimental.enable_tensor_float_32_execution(False)
    # Take GPU memory as needed, not all of it up front, so a benchmark and the tests can share a GPU.
    for gpu in gpus():
        tf.config.experimental.set_memory_growth(gpu, True)
    (cpu, *_) = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])


_DONE = []


def configure():
    """Quiet TensorFlow's Python loggers, TF32 off, GPU memory growth, /CPU:1 as the GPU stand-in.
    Once per process; later calls do nothing."""
    if not _DONE:
        quietly(_configure)
        _DONE.append(True)
