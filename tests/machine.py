"""Which machine a run used and which TensorFlow kernels ran on it.

TensorFlow's x86-64 Linux builds carry two CPU kernel libraries for many ops: Eigen
(the default for most CPUs) and oneDNN, switched on by default on CPUs with
AVX512_VNNI, AVX512_BF16, AVX_VNNI or AMX (TF >= 2.9) and forced either way by
``TF_ENABLE_ONEDNN_OPTS=0|1``. Some results differ between the two (see the catalog's
``KernelFact`` entries), so every report names the path it ran on.

How the active path is told: TensorFlow has no public API for it. ``kernel_path()``
asks ``tensorflow.python.util._pywrap_util_port.IsMklEnabled()``, the private call
Intel's and TensorFlow's own oneDNN install checks use; where that module is gone it
falls back to the documented rule (the environment variable, else the CPU flags).
"""
from __future__ import annotations

import os
import platform
import sys

ONEDNN_CPU_FLAGS = ("avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")
"""CPU features that make TensorFlow turn oneDNN on by default (tensorflow/core/util/util.cc)."""
SHOWN_CPU_FLAGS = ("avx2", "avx512f") + ONEDNN_CPU_FLAGS


def _cpuinfo():
    try:
        with open("/proc/cpuinfo") as f:
            return f.read()
    except OSError:
        return ""


def cpu_model():
    for line in _cpuinfo().splitlines():
        if line.startswith(("model name", "Model name")):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cpu_flags():
    """The CPU flags that matter to TensorFlow's kernel choice, as /proc/cpuinfo lists them."""
    for line in _cpuinfo().splitlines():
        if line.startswith("flags"):
            have = set(line.split(":", 1)[1].split())
            return tuple(f for f in SHOWN_CPU_FLAGS if f in have)
    return ()


def onednn_setting():
    """What chose the path: the variable's value, or the CPU's default when it is unset."""
    value = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    return f"TF_ENABLE_ONEDNN_OPTS={value}" if value is not None else "TF_ENABLE_ONEDNN_OPTS unset: the CPU default"


def kernel_path():
    """"onednn" or "eigen": which CPU kernels this process's TensorFlow runs."""
    try:
        from tensorflow.python.util import _pywrap_util_port
        return "onednn" if _pywrap_util_port.IsMklEnabled() else "eigen"
    except (ImportError, AttributeError):
        value = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip().lower()
        if value in ("1", "true"):
            return "onednn"
        if value in ("0", "false"):
            return "eigen"
        default_on = platform.machine() in ("x86_64", "AMD64") and any(f in ONEDNN_CPU_FLAGS for f in cpu_flags())
        return "onednn" if default_on else "eigen"


def describe():
    """Everything two reports from two machines need to explain their differences."""
    import numpy as np
    import tensorflow as tf
    try:
        import keras
        keras_version = keras.__version__
    except ImportError:
        keras_version = "not installed"
    gpus = tf.config.list_physical_devices("GPU")
    gpu_names = []
    for g in gpus:
        try:
            gpu_names.append(tf.config.experimental.get_device_details(g).get("device_name", g.name))
        except (ValueError, RuntimeError):
            gpu_names.append(g.name)
    return {
        "cpu": cpu_model(),
        "cpu_flags": list(cpu_flags()),
        "kernel_path": kernel_path(),
        "onednn_setting": onednn_setting(),
        "xla": f"jit_compile available; auto-jit {'on' if tf.config.optimizer.get_jit() else 'off'}"
               + (f"; TF_XLA_FLAGS={os.environ['TF_XLA_FLAGS']}" if os.environ.get("TF_XLA_FLAGS") else ""),
        "gpu": ", ".join(gpu_names) or "none",
        "tensorflow": tf.__version__,
        "keras": keras_version,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.machine()}",
    }


def summary_lines(info=None):
    """Two lines for a report header."""
    d = info or describe()
    flags = ", ".join(d["cpu_flags"]) or "none of " + ", ".join(SHOWN_CPU_FLAGS)
    path = {"onednn": "oneDNN on", "eigen": "oneDNN off (Eigen)"}[d["kernel_path"]]
    return [f"machine: {d['cpu']} [{flags}], {d['os']}; GPU: {d['gpu']}",
            f"kernels: {path} [{d['onednn_setting']}]; XLA: {d['xla']}; "
            f"TensorFlow {d['tensorflow']}, Keras {d['keras']}, NumPy {d['numpy']}, Python {d['python']}"]


if __name__ == "__main__":  # `python -m tests.machine [path]`: for scripts such as .ci/run
    if sys.argv[1:] == ["path"]:
        print(kernel_path())
    else:
        print("\n".join(summary_lines()))
