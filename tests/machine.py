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

import keras
import numpy as np
import tensorflow as tf

from tests.devices import gpus

try:  # private, and may go in a later release: kernel_path() then falls back to the documented rule
    from tensorflow.python.util import _pywrap_util_port
except ImportError:
    _pywrap_util_port = None
try:  # private too; TF's own rule for which half-precision types oneDNN takes on this CPU
    from tensorflow.python.util import _pywrap_utils
except ImportError:
    _pywrap_utils = None

ONEDNN_CPU_FLAGS = ("avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")
"""CPU features that make TensorFlow turn oneDNN on by default (tensorflow/core/util/util.cc)."""
ONEDNN_DTYPE_FLAGS = {"bfloat16": ("avx512f", "avx_ne_convert"), "float16": ("avx512_fp16", "amx_fp16")}
"""The CPU flags with which oneDNN takes a half-precision dtype (tensorflow/core/util/util.cc)."""
SHOWN_CPU_FLAGS = ("avx2", "avx512f") + ONEDNN_CPU_FLAGS + ("avx512_fp16", "amx_fp16")


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


def cpu_flags(shown=SHOWN_CPU_FLAGS):
    """Those of the CPU flags ``shown`` (by default, the ones that matter to TensorFlow's kernel choice)
    that /proc/cpuinfo lists."""
    for line in _cpuinfo().splitlines():
        if line.startswith("flags"):
            have = set(line.split(":", 1)[1].split())
            return tuple(f for f in shown if f in have)
    return ()


def onednn_setting():
    """What chose the path: the variable's value, or the CPU's default when it is unset."""
    value = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    return f"TF_ENABLE_ONEDNN_OPTS={value}" if value is not None else "TF_ENABLE_ONEDNN_OPTS unset: the CPU default"


def onednn_takes(dtype):
    """Whether oneDNN's kernels take ``dtype`` on this CPU when oneDNN is on: float32 always; bfloat16
    only with AVX512F (or AVX_NE_CONVERT), float16 only with AVX512_FP16 (or AMX_FP16): elsewhere TF
    registers no oneDNN kernel for it and its ops run on Eigen's (mkl_graph_util.h: a half-precision
    op is rewritten only if IsDataTypeSupportedByOneDNNOnThisCPU). float64 runs on Eigen's kernels."""
    if dtype == "float32":
        return True
    if dtype not in ("float16", "bfloat16"):
        return False
    if hasattr(_pywrap_utils, "IsDataTypeSupportedByOneDNNOnThisCPU"):
        return bool(_pywrap_utils.IsDataTypeSupportedByOneDNNOnThisCPU(tf.as_dtype(dtype).as_datatype_enum))
    if dtype == "bfloat16" and hasattr(_pywrap_utils, "IsBF16SupportedByOneDNNOnThisCPU"):
        return bool(_pywrap_utils.IsBF16SupportedByOneDNNOnThisCPU())
    have = set(cpu_flags(ONEDNN_DTYPE_FLAGS[dtype]))
    return bool(have)


def kernel_path(dtype=None):
    """"onednn" or "eigen": which CPU kernels this process's TensorFlow runs (for ``dtype``, if given:
    with oneDNN on, a half-precision dtype the CPU cannot take in oneDNN still runs on Eigen)."""
    path = _process_path()
    if path == "onednn" and dtype is not None and not onednn_takes(dtype):
        return "eigen"
    return path


def _process_path():
    if hasattr(_pywrap_util_port, "IsMklEnabled"):
        return "onednn" if _pywrap_util_port.IsMklEnabled() else "eigen"
    value = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip().lower()
    if value in ("1", "true"):
        return "onednn"
    if value in ("0", "false"):
        return "eigen"
    default_on = platform.machine() in ("x86_64", "AMD64") and any(f in ONEDNN_CPU_FLAGS for f in cpu_flags())
    return "onednn" if default_on else "eigen"


def describe():
    """Everything two reports from two machines need to explain their differences."""
    gpu_names = []
    for g in gpus():
        try:
            gpu_names.append(tf.config.experimental.get_device_details(g).get("device_name", g.name))
        except (ValueError, RuntimeError):
            gpu_names.append(g.name)
    return {
        "cpu": cpu_model(),
        "cpu_flags": list(cpu_flags()),
        "kernel_path": kernel_path(),
        "onednn_half_types": [d for d in ("float16", "bfloat16") if onednn_takes(d)],
        "onednn_setting": onednn_setting(),
        "xla": f"jit_compile available; auto-jit {'on' if tf.config.optimizer.get_jit() else 'off'}"
               + (f"; TF_XLA_FLAGS={os.environ['TF_XLA_FLAGS']}" if os.environ.get("TF_XLA_FLAGS") else ""),
        "gpu": ", ".join(gpu_names) or "none",
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.machine()}",
    }


def summary_lines(info=None):
    """Two lines for a report header."""
    d = info or describe()
    flags = ", ".join(d["cpu_flags"]) or "none of " + ", ".join(SHOWN_CPU_FLAGS)
    path = {"onednn": "oneDNN on", "eigen": "oneDNN off (Eigen)"}[d["kernel_path"]]
    if d["kernel_path"] == "onednn":
        eigen = [t for t in ("float16", "bfloat16") if t not in d["onednn_half_types"]]
        path += f" ({', '.join(eigen)} on Eigen: not supported by oneDNN on this CPU)" if eigen else ""
    return [f"machine: {d['cpu']} [{flags}], {d['os']}; GPU: {d['gpu']}",
            f"kernels: {path} [{d['onednn_setting']}]; XLA: {d['xla']}; "
            f"TensorFlow {d['tensorflow']}, Keras {d['keras']}, NumPy {d['numpy']}, Python {d['python']}"]


if __name__ == "__main__":  # `python -m tests.machine [path]`: for scripts such as .ci/run
    if sys.argv[1:] == ["path"]:
        print(kernel_path())
    else:
        print("\n".join(summary_lines()))
