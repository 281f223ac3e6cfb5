"""GPU selection and memory (the book's 12.1 [1st ed.: 10.1]): TF1's ConfigProto Sessions and TF2's
tf.config, on this machine's devices.

Everything a Session decides (placement, soft placement, the placement log, the GPU options it
is given) runs here, in real tf.compat.v1 Sessions. Everything that must come before TensorFlow
initialises (CUDA_VISIBLE_DEVICES, tf.config's visible devices, logical devices, memory growth and
limits), and the error TF gives when it comes too late, runs in a child process
(tests/isolated.py): this process's TensorFlow is initialised long before. Logical CPU devices
stand in for a device list; what needs a real GPU (how much memory a GPU gives up, a memory limit
running out) runs where one is visible and skips with the reason elsewhere. Each child costs a
TensorFlow import (about 4 s), so one child serves several tests (the module fixtures)."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import kernels

import tfimpl.devices as T
from tests.devices import NO_GPU, gpus
from tests.isolated import probe
from tests.machine import kernel_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GPUS = gpus()
HAS_GPU = bool(GPUS)
CPU0 = "/job:localhost/replica:0/task:0/device:CPU:0"
CPU1 = "/job:localhost/replica:0/task:0/device:CPU:1"
GPU0 = "/job:localhost/replica:0/task:0/device:GPU:0"
gpu_only = pytest.mark.skipif(not HAS_GPU, reason=NO_GPU)

@pytest.fixture(autouse=True, scope="module")
def _eager_context_first():
    """Initialise this process's eager context before any Session here: the context makes each GPU's
    allocator (once per process) with conftest.py's memory growth, so a Session's
    per_process_gpu_memory_fraction below cannot take 40% of a shared GPU for the rest of the run."""
    tf.config.list_logical_devices()


def child(code, **env):
    """probe() with this repository importable in the child; the child's last stdout line is JSON."""
    outcome = probe(code, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), **env)
    try:
        return json.loads(outcome), outcome.detail
    except json.JSONDecodeError:
        pytest.fail(f"the child did not finish with its JSON line\n{outcome.detail}")


# --- TF1: ConfigProto, one per Session --------------------------------------------------------

@pytest.mark.claim("ch12.1", "tf.ConfigProto(gpu_options=tf.GPUOptions(allow_growth=True)) or "
                             "config.gpu_options.per_process_gpu_memory_fraction = 0.4 configures a Session's GPU "
                             "memory", source="book", verdict="changed", since="TF 2.0",
                   correction="TF2 has no tf.ConfigProto, tf.GPUOptions or tf.Session: they are "
                              "tf.compat.v1.ConfigProto, tf.compat.v1.GPUOptions and tf.compat.v1.Session, the same "
                              "protos; TF2 sets the same things once per process with tf.config")
def test_the_books_config_proto_and_gpu_options_are_tf_compat_v1_names_and_both_spellings_are_one_proto():
    assert not any(hasattr(tf, name) for name in ("ConfigProto", "GPUOptions", "Session"))
    book = tf.compat.v1.ConfigProto(gpu_options=tf.compat.v1.GPUOptions(allow_growth=True,
                                                                        per_process_gpu_memory_fraction=0.4))
    ours = T.session_config_v1(allow_growth=True, per_process_gpu_memory_fraction=0.4)
    assert ours == book and ours.SerializeToString() == book.SerializeToString(), f"{ours}\n!=\n{book}"
    assert str(book) == "gpu_options {\n  per_process_gpu_memory_fraction: 0.4\n  allow_growth: true\n}\n"


@pytest.mark.claim("ch12.1", "Sessions configured with allow_growth=True or per_process_gpu_memory_fraction=0.4 run "
                             "the graph as usual", source="book")
@pytest.mark.parametrize("options", [dict(allow_growth=True), dict(per_process_gpu_memory_fraction=0.4),
                                     dict(allow_growth=True, per_process_gpu_memory_fraction=0.4)],
                         ids=["allow_growth", "fraction-0.4", "both"])
def test_sessions_with_gpu_memory_options_run_and_give_the_exact_sum(options):
    """On the GPU where one is visible (TF places a float32 add there by default), else the CPU; the
    options only change how the GPU's memory is taken, never the numbers."""
    a, b = np.array([1.0, 2.0, 3.0], np.float32), np.array([0.5, 0.25, -3.0], np.float32)
    value, where = T.add_on_device_v1(a, b, config=T.session_config_v1(**options))
    np.testing.assert_array_equal(value, a.astype(np.float64) + b)  # exact: each sum is a float32
    assert where == {"add": GPU0 if HAS_GPU else CPU0}, f"{options}: the add ran on {where}"


@pytest.mark.claim("ch12.1", "with tf.device('/cpu:0') or tf.device('/gpu:1'), the ops built inside run on that "
                             "device", source="book", code="1.4.0/Chapter12/1. GPU基本操作.py, lines 14-21")
def test_tf_device_pins_the_add_to_the_second_of_two_cpu_devices_and_lowercase_names_are_canonicalised():
    """ConfigProto(device_count={"CPU": 2}) gives a Session two CPU devices: a device list on a
    machine with no GPU. The book's lowercase '/cpu:1' and '/gpu:0' are '/device:CPU:1' and
    '/device:GPU:0' once TF reads them."""
    config = T.session_config_v1(cpu_count=2)
    with tf.compat.v1.Session(graph=tf.Graph(), config=config) as sess:
        assert [d.name for d in sess.list_devices()][:2] == [CPU0, CPU1]
    for device, ran_on in (("/cpu:1", CPU1), ("/cpu:0", CPU0), ("/device:CPU:1", CPU1)):
        value, where = T.add_on_device_v1([1.0, 2.0], [3.0, 4.0], device=device, config=config)
        np.testing.assert_array_equal(value, [4.0, 6.0])
        assert where == {"add": ran_on}, f"pinned to {device!r}, the add ran on {where}"
    assert tf.DeviceSpec.from_string("/gpu:0").to_string() == "/device:GPU:0"
    with tf.Graph().as_default(), tf.device("/gpu:1"):
        assert tf.constant(1.0).device == "/device:GPU:1"  # a request, checked only when a Session places it


# --- soft placement ---------------------------------------------------------------------------

def _dtypes_with_a_gpu_kernel(op_type):
    """The dtypes an op's GPU kernels accept, read from this build's kernel registry (a kernel
    registered for DEFAULT serves every device without one of its own, the GPU included)."""
    out = set()
    for kernel in kernels.get_registered_kernels_for_op(op_type).kernel:
        if kernel.device_type in ("GPU", "DEFAULT"):
            out |= {tf.dtypes.as_dtype(t).name for c in kernel.constraint if c.name == "dtype"
                    for t in c.allowed_values.list.type}
    return out


@pytest.mark.claim("ch12.1", "on a GPU, tf.Variable takes only real numbers (float16, float32, double): an integer "
                             "variable pinned to '/gpu:0' cannot be placed there", source="book",
                   code="1.4.0/Chapter12/1. GPU基本操作.py, lines 24-26", verdict="corrected",
                   correction="int32 variables still have no GPU kernel (VariableV2, and VarHandleOp, the resource "
                              "variables compat.v1 makes today), but bfloat16, bool, complex and int64 ones now do")
def test_int32_variables_have_no_gpu_kernel_while_float_and_int64_ones_do():
    """Read from the kernel registry of this build: a CUDA build registers its GPU kernels whether or not
    a GPU is present, so it shows the same on every machine with a CUDA build, GPU or none; a build
    without CUDA (tensorflow-cpu) registers none, and there the test skips: it has nothing to show."""
    if not tf.test.is_built_with_cuda():
        pytest.skip("this TensorFlow is built without CUDA: it registers no GPU kernels to read")
    for op_type in ("VarHandleOp", "VariableV2"):
        gpu = _dtypes_with_a_gpu_kernel(op_type)
        assert {"float16", "float32", "float64"} <= gpu, f"{op_type}: GPU dtypes {sorted(gpu)}"
        assert {"bfloat16", "bool", "complex64", "complex128", "int64"} <= gpu, f"{op_type}: GPU dtypes {sorted(gpu)}"
        assert "int32" not in gpu, f"{op_type} has an int32 GPU kernel now: {sorted(gpu)}"
    with tf.Graph().as_default():
        assert tf.compat.v1.Variable(0, name="a_gpu").op.type == "VarHandleOp"  # compat.v1 makes resource variables


# Pinned to /gpu:0 without soft placement, the int32 variable fails to place: on a machine with no GPU
# because there is no such device (measured, TF 2.21); with one because there is no int32 kernel for it
# (the text of tensorflow/core/common_runtime/colocation_graph.cc, which the book quotes).
NOT_PLACED = (r"Could not satisfy explicit device specification '/device:GPU:0' because no supported kernel for "
              r"GPU devices is available" if HAS_GPU else
              r"Cannot assign a device for operation a_gpu/IsInitialized/VarIsInitializedOp: "
              r"\{\{node a_gpu/IsInitialized/VarIsInitializedOp\}\} was explicitly assigned to /device:GPU:0 but "
              r"available devices are \[ " + re.escape(CPU0) + r" \]\. Make sure the device specification refers "
              r"to a valid device\.")


@pytest.mark.claim("ch12.1", "allow_soft_placement=True lets an op with no GPU kernel, pinned to the GPU, run on the "
                             "CPU; without it the Session raises an error", source="book", code="1.4.0/Chapter12/1. GPU基本操作.py, lines 24-29")
def test_allow_soft_placement_moves_the_books_int_variable_to_the_cpu_and_without_it_placement_fails():
    values, where = T.book_variables_v1(T.session_config_v1(allow_soft_placement=True))
    assert values == {"a_cpu": 0, "a_gpu": 0}
    assert where["a_gpu"] == where["a_gpu/Assign"] == where["a_cpu"] == CPU0, where
    with pytest.raises(tf.errors.InvalidArgumentError, match=NOT_PLACED):
        T.book_variables_v1(T.session_config_v1(allow_soft_placement=False))


@pytest.mark.claim("ch12.1", "without allow_soft_placement, tf.Session() refuses an op pinned to a device that "
                             "cannot run it", source="book", verdict="changed", since="TF 2.0",
                   correction="in TF2, tf.compat.v1.Session() with no config copies the eager context's, whose "
                              "allow_soft_placement is on outside a `with graph.as_default()` block (eager soft "
                              "placement) and off inside one; only an explicit ConfigProto() turns it off everywhere")
def test_a_session_without_a_config_soft_places_outside_a_graph_block_and_not_inside_one():
    values, where = T.book_variables_v1(config=None)  # the Session is opened outside the graph's block
    assert values == {"a_cpu": 0, "a_gpu": 0} and where["a_gpu"] == CPU0, where
    assert tf.config.get_soft_device_placement() and not tf.compat.v1.ConfigProto().allow_soft_placement
    graph = tf.Graph()
    with graph.as_default():
        with tf.device("/gpu:0"):
            joined = tf.strings.join(["a", "b"], name="join")  # StringJoin has a CPU kernel only
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"Cannot assign a device for operation join"):
            with tf.compat.v1.Session() as sess:  # inside the block: the context's config says no soft placement
                sess.run(joined)
    with tf.compat.v1.Session(graph=graph) as sess:  # outside: soft placement
        assert sess.run(joined) == b"ab"


# The eager error for an op pinned to /GPU:0 with soft placement off (measured, TF 2.21, no GPU:
# StringJoin's kernels are CPU only, and so is the machine). The devices listed are this process's:
# CPU:0, the logical CPUs conftest.py adds, and the GPUs where there are some.
EAGER_NOT_PLACED = re.escape(
    "Could not satisfy device specification '/job:localhost/replica:0/task:0/device:GPU:0'. "
    "enable_soft_placement=0. Supported device types [CPU]. All available devices [" + CPU0) + (
    r"[^\]]*GPU:0[^\]]*\]\." if HAS_GPU else r"(, /job:localhost/replica:0/task:0/device:CPU:\d+)*\]\.")


def test_eager_soft_placement_is_on_by_default_and_switched_off_a_gpu_pinned_op_raises():
    """TF2's allow_soft_placement is tf.config.set_soft_device_placement, on by default: an add pinned to
    /GPU:0 runs on the CPU where no GPU is visible, and a string op (no GPU kernel) on the CPU anywhere.
    Switched off, the string op raises. It can change at any time (it is not fixed at initialisation)."""
    assert tf.config.get_soft_device_placement()
    value, device = T.add_on_device([1.0, 2.0], [3.0, 4.0], device="/GPU:0")
    np.testing.assert_array_equal(value.numpy(), [4.0, 6.0])
    assert device == (GPU0 if HAS_GPU else CPU0), device
    with tf.device("/GPU:0"):
        assert tf.strings.join(["a", "b"]).device == CPU0
    try:
        tf.config.set_soft_device_placement(False)
        assert not tf.compat.v1.ConfigProto().allow_soft_placement
        with pytest.raises(tf.errors.InvalidArgumentError, match=EAGER_NOT_PLACED):
            with tf.device("/GPU:0"):
                tf.strings.join(["a", "b"])
    finally:
        tf.config.set_soft_device_placement(True)


# --- in a child: CUDA_VISIBLE_DEVICES and the placement log -----------------------------------

CAPTURE = """
import ctypes, json, sys, tempfile
_libc = ctypes.CDLL(None)

def captured(action):
    '''Run action with file descriptors 1 and 2 sent to files: TF prints the placement log with C's
    printf and logs it with its C++ logger, around Python's sys.stdout. Returns (stdout, stderr) lines.'''
    files, saved = [tempfile.TemporaryFile() for _ in range(2)], [os.dup(1), os.dup(2)]
    sys.stdout.flush(); sys.stderr.flush(); _libc.fflush(None)
    for fd, f in zip((1, 2), files):
        os.dup2(f.fileno(), fd)
    try:
        action()
    finally:
        sys.stdout.flush(); sys.stderr.flush(); _libc.fflush(None)
        for fd, s in zip((1, 2), saved):
            os.dup2(s, fd)
    out = []
    for f in files:
        f.seek(0)
        out.append(f.read().decode(errors="replace").splitlines())
    return out
"""

HIDDEN_AND_LOGGED = CAPTURE + """
import tfimpl.devices as T
result = {"gpus": [d.name for d in tf.config.list_physical_devices("GPU")]}
result["session"] = captured(lambda: T.add_on_device_v1([1.0, 2.0], [3.0, 4.0],
                                                        config=T.session_config_v1(log_device_placement=True)))
tf.debugging.set_log_device_placement(True)
result["eager"] = captured(lambda: (tf.add([1.0], [2.0]).numpy(), tf.matmul([[1.0]], [[2.0]]).numpy()))
result["logical"] = [d.name for d in tf.config.list_logical_devices()]
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def hidden_and_logged():
    """One child with CUDA_VISIBLE_DEVICES="" (no GPU for it to see) and TF_CPP_MIN_LOG_LEVEL=0 (INFO
    shown): the book's a + b in a Session with log_device_placement, then an eager add and matmul with
    tf.debugging.set_log_device_placement(True)."""
    return child(HIDDEN_AND_LOGGED, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="0")


def test_an_empty_cuda_visible_devices_leaves_the_child_no_gpu_and_its_session_on_the_cpu(hidden_and_logged):
    """The child with CUDA_VISIBLE_DEVICES="" runs the book's a + b on the CPU. Where this process sees
    no GPU the child would see none anyway: that the variable hides GPUs is shown on a GPU machine
    (test_an_empty_cuda_visible_devices_hides_the_gpus_this_process_sees)."""
    result, detail = hidden_and_logged
    assert result["gpus"] == [], f"the child saw {result['gpus']} (this process sees {len(GPUS)})\n{detail}"
    assert result["logical"] == ["/device:CPU:0"], detail
    placed = [line for line in result["session"][0] if ": (" in line]
    assert placed and all(line.endswith(CPU0) for line in placed), placed


@pytest.mark.claim("ch12.1", "log_device_placement=True logs the device of every op as the Session places it",
                   source="book", code="1.4.0/Chapter12/1. GPU基本操作.py, lines 8-10")
def test_log_device_placement_prints_each_op_and_its_device_on_stdout_and_logs_it_on_stderr(hidden_and_logged):
    """The Session's placer prints "<op name>: (<op type>): <device>" with printf on stdout and
    logs the same line at INFO on stderr (placer.cc), once per op of the graph. The log line's prefix
    is TF's own ("... tensorflow/core/common_runtime/placer.cc:162] ", 2.17 to 2.20) or absl's
    ("I0000 ... placer.cc:162] ", 2.21)."""
    (stdout, stderr), detail = hidden_and_logged[0]["session"], hidden_and_logged[1]
    expected = {f"{name}: ({op}): {CPU0}" for name, op in (("a", "Placeholder"), ("b", "Placeholder"),
                                                            ("add", "AddV2"))}
    assert {line for line in stdout if ": (" in line} == expected, f"stdout: {stdout}\n{detail}"
    logged = {line.split("] ", 1)[1] for line in stderr if re.search(r"[ /]placer\.cc:\d+\] ", line)}
    assert logged == expected, f"stderr: {stderr}\n{detail}"


# The kernel an eager tf.matmul runs: oneDNN rewrites MatMul to its own _MklMatMul (measured, TF 2.21).
EAGER_MATMUL_KERNEL = {"onednn": "_MklMatMul", "eigen": "MatMul"}


def test_eager_log_device_placement_logs_each_executed_op_and_names_the_path_s_matmul_kernel(hidden_and_logged):
    """TF2's tf.debugging.set_log_device_placement(True) logs "Executing op <type> in device <device>"
    at INFO on stderr for each op run eagerly (and prints the placement of each one-op function on
    stdout). The matmul's type is the kernel path's: _MklMatMul on oneDNN, MatMul on Eigen."""
    (stdout, stderr), detail = hidden_and_logged[0]["eager"], hidden_and_logged[1]
    executed = [line.split("] ", 1)[1] for line in stderr if "Executing op " in line]
    matmul = EAGER_MATMUL_KERNEL[kernel_path()]
    assert f"Executing op AddV2 in device {CPU0}" in executed, f"{executed}\n{detail}"
    assert f"Executing op {matmul} in device {CPU0}" in executed, f"[{kernel_path()}] {executed}\n{detail}"
    assert f"{matmul}: ({matmul}): {CPU0}" in stdout and f"AddV2: (AddV2): {CPU0}" in stdout, stdout


# --- in a child: tf.config before and after initialisation ------------------------------------

BEFORE_AND_AFTER = CAPTURE + """
import tfimpl.devices as T
LDC = tf.config.LogicalDeviceConfiguration

def error(action):
    try:
        action()
    except Exception as e:  # the exception is the outcome
        return [type(e).__name__, str(e)]
    return None

cpu = tf.config.list_physical_devices("CPU")[0]
result = {"cpu_limit": error(lambda: tf.config.set_logical_device_configuration(cpu, [LDC(memory_limit=64)])),
          "cpu_growth": error(lambda: tf.config.experimental.set_memory_growth(cpu, True))}
T.logical_cpus(2)
T.configure_gpus(memory_growth=True)  # nothing to set where no GPU is visible
result["logical"] = [d.name for d in tf.config.list_logical_devices("CPU")]  # TF initialises here
with tf.device("/CPU:1"):
    result["placed"] = tf.add(1.0, 2.0).device
result["too_late"] = {
    "logical": error(lambda: tf.config.set_logical_device_configuration(cpu, [LDC(), LDC(), LDC()])),
    "same_logical": error(lambda: tf.config.set_logical_device_configuration(cpu, [LDC(), LDC()])),
    "visible": error(lambda: tf.config.set_visible_devices([], "CPU")),
    "same_visible": error(lambda: tf.config.set_visible_devices(tf.config.get_visible_devices()))}
result["session_log"] = captured(lambda: T.add_on_device_v1(
    [1.0], [2.0], device="/cpu:1", config=T.session_config_v1(log_device_placement=True, cpu_count=2)))
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def before_and_after():
    """One child with TF_CPP_MIN_LOG_LEVEL=3, the suite's quiet level:
    what the CPU refuses, two logical CPUs set before TF initialises, then each setting tried again
    after, and a Session's placement log at that quiet level."""
    return child(BEFORE_AND_AFTER, TF_CPP_MIN_LOG_LEVEL="3")


def test_the_cpu_takes_no_memory_limit_and_no_memory_growth(before_and_after):
    result, detail = before_and_after
    assert result["cpu_limit"] == ["ValueError", "Setting memory limit on CPU virtual devices is currently not "
                                                 "supported"], detail
    assert result["cpu_growth"] == ["ValueError", "Cannot set memory growth on non-GPU and non-Pluggable "
                                                  "devices"], detail


@pytest.mark.claim("ch12.1", "where a TF1 Session's ConfigProto chose its devices and their memory, TF2's tf.config "
                             "sets them once for the whole process, before TensorFlow initialises (the first op); "
                             "afterwards a change raises RuntimeError '... cannot be modified after being "
                             "initialized' and a call that changes nothing passes", source="port")
def test_tf_config_devices_are_set_before_initialisation_and_a_later_change_raises_runtime_error(before_and_after):
    result, detail = before_and_after
    assert result["logical"] == ["/device:CPU:0", "/device:CPU:1"], detail
    assert result["placed"] == CPU1, detail
    too_late = result["too_late"]
    assert too_late["logical"] == ["RuntimeError", "Virtual devices cannot be modified after being initialized"], (
        detail)
    assert too_late["visible"] == ["RuntimeError", "Visible devices cannot be modified after being initialized"], (
        detail)
    assert too_late["same_logical"] is None and too_late["same_visible"] is None, too_late


def test_the_sessions_placement_log_is_printed_on_stdout_even_at_the_quietest_log_level(before_and_after):
    """At TF_CPP_MIN_LOG_LEVEL=3 the INFO copy on stderr is gone, the printf on stdout is not: a test
    suite that quiets TF still prints every placement of a Session with log_device_placement."""
    (stdout, stderr), detail = before_and_after[0]["session_log"], before_and_after[1]
    assert f"add: (AddV2): {CPU1}" in stdout, f"{stdout}\n{detail}"
    assert not [line for line in stderr if "placer.cc" in line], stderr


# --- in a child, on a real GPU: how much memory TF takes ------------------------------------

CUDA_MEMORY = """
import ctypes, json
_cuda = ctypes.CDLL("libcuda.so.1")

def _ok(status, call):
    assert status == 0, f"{call} returned CUDA error {status}"

_ok(_cuda.cuInit(0), "cuInit")
_dev, _ctx = ctypes.c_int(), ctypes.c_void_p()
_ok(_cuda.cuDeviceGet(ctypes.byref(_dev), 0), "cuDeviceGet")
_ok(_cuda.cuDevicePrimaryCtxRetain(ctypes.byref(_ctx), _dev), "cuDevicePrimaryCtxRetain")

def gpu0_memory():
    '''(free, total) bytes of the first visible GPU as the driver counts them (every process's use).'''
    _ok(_cuda.cuCtxSetCurrent(_ctx), "cuCtxSetCurrent")
    free, total = ctypes.c_size_t(), ctypes.c_size_t()
    _ok(_cuda.cuMemGetInfo_v2(ctypes.byref(free), ctypes.byref(total)), "cuMemGetInfo_v2")
    return free.value, total.value
"""

TAKEN = CUDA_MEMORY + """
import tfimpl.devices as T
free0, total = gpu0_memory()
late = None
if mode == "tf2-growth":
    T.configure_gpus(memory_growth=True)
    with tf.device("/GPU:0"):
        float(tf.reduce_sum(tf.ones((1024, 1024))))  # 4 MB on the GPU
    try:
        tf.config.experimental.set_memory_growth(tf.config.list_physical_devices("GPU")[0], False)
    except RuntimeError as e:
        late = str(e)
else:
    options = {"tf1-default": {}, "tf1-growth": dict(allow_growth=True),
               "tf1-fraction": dict(per_process_gpu_memory_fraction=0.4),
               "tf1-fraction-0.9": dict(per_process_gpu_memory_fraction=0.9)}[mode]
    x = np.ones(1 << 20, np.float32)  # 4 MB
    _, where = T.add_on_device_v1(x, x, config=T.session_config_v1(**options))
    assert where["add"].endswith("GPU:0"), where
free1, _ = gpu0_memory()
print(json.dumps(dict(free0=free0, taken=free0 - free1, total=total, late=late)))
"""

GIB = 2 ** 30
# What TF may take on top of the tensors: the CUDA context, cuBLAS/cuDNN handles and workspaces.
OVERHEAD = GIB
TAKEN_RANGE = {  # mode -> (low, high) bytes taken from GPU 0, given (free before, total)
    "tf1-growth": lambda free0, total: (0, OVERHEAD),
    "tf2-growth": lambda free0, total: (0, OVERHEAD),
    # BFC without growth reserves its whole limit on the first allocation: a fraction of the total
    "tf1-fraction": lambda free0, total: (0.4 * total - 64 * 2 ** 20, 0.4 * total + OVERHEAD),
    "tf1-fraction-0.9": lambda free0, total: (min(0.9 * total, free0) - 64 * 2 ** 20, free0),
    # and by default nearly all the free memory (TF keeps a small reserve back)
    "tf1-default": lambda free0, total: (0.75 * free0, free0),
}


@gpu_only
@pytest.mark.gpu
@pytest.mark.claim("ch12.1", "allow_growth takes GPU memory as needed; per_process_gpu_memory_fraction=0.4 takes "
                             "40% of each GPU; by default TF takes nearly all of it", source="book")
@pytest.mark.parametrize("mode", ["tf1-default", "tf1-fraction", "tf1-growth", "tf2-growth"])
def test_allow_growth_takes_gpu_memory_as_needed_and_a_fraction_takes_its_share_up_front(mode):
    """Each in a child (a GPU's allocator is made once per process), measured as the drop in the
    driver's free memory around one small op on GPU 0: the TF1 Session's GPUOptions, and TF2's
    set_memory_growth, whose later change raises RuntimeError."""
    result, detail = child(f"mode = {mode!r}\n" + TAKEN)
    low, high = TAKEN_RANGE[mode](result["free0"], result["total"])
    assert low <= result["taken"] <= high, (f"{mode}: took {result['taken'] / GIB:.2f} GiB of "
                                            f"{result['total'] / GIB:.2f}, expected {low / GIB:.2f}..{high / GIB:.2f}"
                                            f"\n{detail}")
    if mode == "tf2-growth":
        assert result["late"] == "Physical devices cannot be modified after being initialized", detail


@gpu_only
@pytest.mark.gpu
@pytest.mark.claim("ch12.1", "config.gpu_options.per_process_gpu_memory_fraction = 0.9 has TensorFlow take 90% of "
                             "each GPU's memory, up front", source="book")
def test_a_fraction_of_0_9_takes_nine_tenths_of_the_gpu_at_the_first_op():
    """As the 0.4 case of the test above, with 0.9: BFC without growth reserves the whole share at
    the first allocation; on a GPU another process already uses, 90% may exceed what is free, and TF
    then takes what it can (the range's lower end is the smaller of the two)."""
    result, detail = child("mode = 'tf1-fraction-0.9'\n" + TAKEN)
    low, high = TAKEN_RANGE["tf1-fraction-0.9"](result["free0"], result["total"])
    assert low <= result["taken"] <= high, (f"took {result['taken'] / GIB:.2f} GiB of {result['total'] / GIB:.2f} "
                                            f"(free {result['free0'] / GIB:.2f}), expected {low / GIB:.2f}.."
                                            f"{high / GIB:.2f}\n{detail}")


KEPT = CUDA_MEMORY + """
import gc
import tfimpl.devices as T
T.configure_gpus(memory_growth=True)
free0, total = gpu0_memory()
with tf.device("/GPU:0"):
    big = tf.ones((64, 1024, 1024))  # 256 MB
    float(tf.reduce_sum(big))
free1, _ = gpu0_memory()
del big
gc.collect()
with tf.device("/GPU:0"):
    float(tf.reduce_sum(tf.ones((4,))))  # a later op: the allocator has run again since the free
free2, _ = gpu0_memory()
print(json.dumps(dict(grown=free0 - free1, given_back=free2 - free1)))
"""


@gpu_only
@pytest.mark.gpu
@pytest.mark.claim("gpu-guide", "with memory growth (allow_growth) TensorFlow takes GPU memory as it needs it and never "
                                "gives it back, to avoid fragmenting it", source="docs")
def test_memory_growth_keeps_the_memory_a_freed_tensor_held():
    """A child with memory growth: a 256 MB tensor on GPU 0 grows TF's share by at least that much;
    freed, and another op run, the driver's free memory does not come back (less than 16 MB of it)."""
    result, detail = child(KEPT)
    assert result["grown"] >= 256 * 2 ** 20, detail
    assert result["given_back"] < 16 * 2 ** 20, detail


CUDA_DEVICES = """
import ctypes, json
_cuda = ctypes.CDLL("libcuda.so.1")

def _ok(status, call):
    assert status == 0, f"{call} returned CUDA error {status}"

_ok(_cuda.cuInit(0), "cuInit")
_count = ctypes.c_int()
_ok(_cuda.cuDeviceGetCount(ctypes.byref(_count)), "cuDeviceGetCount")
_devices = []
for _i in range(_count.value):
    _dev, _ctx = ctypes.c_int(), ctypes.c_void_p()
    _ok(_cuda.cuDeviceGet(ctypes.byref(_dev), _i), "cuDeviceGet")
    _ok(_cuda.cuDevicePrimaryCtxRetain(ctypes.byref(_ctx), _dev), "cuDevicePrimaryCtxRetain")
    _devices.append((_dev, _ctx))

def memory(i):
    # (free, total) bytes of CUDA's visible GPU i as the driver counts them (every process's use)
    _ok(_cuda.cuCtxSetCurrent(_devices[i][1]), "cuCtxSetCurrent")
    free, total = ctypes.c_size_t(), ctypes.c_size_t()
    _ok(_cuda.cuMemGetInfo_v2(ctypes.byref(free), ctypes.byref(total)), "cuMemGetInfo_v2")
    return free.value, total.value

def bus_id(i):
    # the PCI bus id of CUDA's visible GPU i: one card keeps its id whatever number CUDA gives it
    buf = ctypes.create_string_buffer(64)
    _ok(_cuda.cuDeviceGetPCIBusId(buf, 64, _devices[i][0]), "cuDeviceGetPCIBusId")
    return buf.value.decode()
"""

DEFAULT_TAKES = CUDA_DEVICES + """
import tfimpl.devices as T
free0 = [memory(i)[0] for i in range(len(_devices))]
x = np.ones(1 << 20, np.float32)  # 4 MB
_, where = T.add_on_device_v1(x, x, config=T.session_config_v1())
free1 = [memory(i)[0] for i in range(len(_devices))]
print(json.dumps(dict(where=where, free0=free0, taken=[a - b for a, b in zip(free0, free1)])))
"""


def visible_ids():
    """The CUDA ids of the GPUs this process sees, as a child's CUDA_VISIBLE_DEVICES names them."""
    ids = os.environ.get("CUDA_VISIBLE_DEVICES", ",".join(map(str, range(len(GPUS)))))
    return [i.strip() for i in ids.split(",") if i.strip()][:len(GPUS)]


NEEDS = {n: pytest.mark.skipif(len(GPUS) < n, reason=f"needs {n} visible GPUs, this process sees {len(GPUS)}")
         for n in (2, 3)}


@gpu_only
@NEEDS[2]
@pytest.mark.gpu
@pytest.mark.claim("ch12.1", "by default TensorFlow runs on GPU 0 and takes all its memory", source="notes",
                   verdict="corrected",
                   correction="the ops go to GPU 0 (the lowest id) by default, but the memory TensorFlow takes is "
                              "nearly all of every visible GPU's, not GPU 0's alone: the TF guide's \"maps nearly "
                              "all of the GPU memory of all GPUs (subject to CUDA_VISIBLE_DEVICES)\"")
def test_by_default_the_op_runs_on_gpu_0_and_every_visible_gpu_gives_up_nearly_all_its_memory():
    """A child with the default ConfigProto runs the book's a + b: the add lands on GPU:0, and the
    driver's free memory drops by at least 3/4 of what was free on every GPU the child sees."""
    result, detail = child(DEFAULT_TAKES)
    assert result["where"]["add"].endswith("GPU:0"), detail
    short = [i for i, (free, taken) in enumerate(zip(result["free0"], result["taken"])) if taken < 0.75 * free]
    assert not short, f"GPUs {short} kept more than a quarter of their free memory\n{detail}"


BUS_IDS = CUDA_DEVICES + """
print(json.dumps([bus_id(i) for i in range(len(_devices))]))
"""

RENUMBERED = CUDA_DEVICES + """
import tfimpl.devices as T
T.configure_gpus(memory_growth=True)
result = {"tf": [d.name for d in tf.config.list_physical_devices("GPU")], "bus": [bus_id(0), bus_id(1)]}
free0 = [memory(i)[0] for i in range(2)]
with tf.device("/GPU:1"):
    big = tf.ones((64, 1024, 1024))  # 256 MB on TF's GPU:1
    float(tf.reduce_sum(big))
result["taken"] = [a - memory(i)[0] for i, a in enumerate(free0)]
print(json.dumps(result))
"""


@gpu_only
@NEEDS[3]
@pytest.mark.gpu
@pytest.mark.claim("ch12.1", "CUDA_VISIBLE_DEVICES=\"1,2\" shows the program only GPUs 1 and 2, numbered /gpu:0 and "
                             "/gpu:1 in it", source="book")
def test_cuda_visible_devices_1_2_shows_two_gpus_renumbered_from_0():
    """One child lists the PCI bus ids of every GPU this process sees; another, with
    CUDA_VISIBLE_DEVICES set to the second and third of them, sees two GPUs, GPU:0 and GPU:1, whose
    bus ids are the second and third; a 256 MB tensor on TF's /GPU:1 takes its memory from the card
    CUDA numbers 1 there (the third card), not from the other."""
    ids = visible_ids()
    every, _ = child(BUS_IDS)
    result, detail = child(RENUMBERED, CUDA_VISIBLE_DEVICES=f"{ids[1]},{ids[2]}")
    assert result["tf"] == ["/physical_device:GPU:0", "/physical_device:GPU:1"], detail
    assert result["bus"] == every[1:3], f"{result['bus']} are not {every[1:3]} (all: {every})\n{detail}"
    assert result["taken"][1] >= 256 * 2 ** 20 > result["taken"][0], detail


LATE_OR_EARLY = """
import json, os
if when == "late":
    float(tf.reduce_sum(tf.ones((2,))))  # TensorFlow initialises: CUDA reads CUDA_VISIBLE_DEVICES now
os.environ["CUDA_VISIBLE_DEVICES"] = first  # after import tensorflow either way
print(json.dumps([d.name for d in tf.config.list_physical_devices("GPU")]))
"""


@gpu_only
@NEEDS[2]
@pytest.mark.gpu
@pytest.mark.claim("ch12.1", "CUDA_VISIBLE_DEVICES must be set before TensorFlow initialises: set in os.environ "
                             "after TensorFlow's first op it changes nothing", source="book")
def test_cuda_visible_devices_set_after_the_first_op_changes_nothing_and_before_it_hides_the_others():
    """Two children, both setting CUDA_VISIBLE_DEVICES to this process's first GPU after
    `import tensorflow`: the one that ran an op first still sees every GPU; the other sees one."""
    first = visible_ids()[0]
    late, detail = child(f"when, first = 'late', {first!r}\n" + LATE_OR_EARLY)
    early, detail_early = child(f"when, first = 'early', {first!r}\n" + LATE_OR_EARLY)
    assert len(late) == len(GPUS), detail
    assert early == ["/physical_device:GPU:0"], detail_early


@gpu_only
@pytest.mark.gpu
@pytest.mark.claim("ch12.1", "CUDA_VISIBLE_DEVICES picks the GPUs a program sees: set to \"\" it sees none and runs "
                             "on the CPU", source="book")
def test_an_empty_cuda_visible_devices_hides_the_gpus_this_process_sees(hidden_and_logged):
    """This process sees a GPU; the child started with CUDA_VISIBLE_DEVICES="" sees none, and runs the
    book's a + b on the CPU."""
    result, detail = hidden_and_logged
    assert GPUS and result["gpus"] == [], f"the child saw {result['gpus']} (this process sees {len(GPUS)})\n{detail}"
    placed = [line for line in result["session"][0] if ": (" in line]
    assert placed and all(line.endswith(CPU0) for line in placed), placed


LIMITED = """
import json
import tfimpl.devices as T
T.configure_gpus(visible=[0], memory_limit=256)
result = {"logical": [d.name for d in tf.config.list_logical_devices("GPU")]}
with tf.device("/GPU:0"):
    result["64MB"] = float(tf.reduce_sum(tf.ones((16, 1024, 1024))))
    try:
        float(tf.reduce_sum(tf.ones((128, 1024, 1024))))  # 512 MB
        result["512MB"] = "ran"
    except tf.errors.ResourceExhaustedError as e:
        result["512MB"] = type(e).__name__
print(json.dumps(result))
"""


@gpu_only
@pytest.mark.gpu
@pytest.mark.claim("ch12.1", "TF2's counterpart of per_process_gpu_memory_fraction is a logical GPU with a "
                             "memory_limit, set_logical_device_configuration(gpu, [LogicalDeviceConfiguration("
                             "memory_limit=MB)]) before TF initialises: an op needing more runs out of memory",
                   source="port")
def test_a_logical_gpu_with_a_memory_limit_runs_out_of_memory_beyond_it():
    result, detail = child(LIMITED)
    assert result["logical"] == ["/device:GPU:0"], detail
    assert result["64MB"] == 16 * 1024 * 1024 and result["512MB"] == "ResourceExhaustedError", detail


@gpu_only
@pytest.mark.gpu
def test_cuda_visible_devices_set_to_one_gpu_shows_tf_exactly_that_one_as_gpu_0():
    """CUDA_VISIBLE_DEVICES=<the last GPU this process sees>: the child sees that one, renumbered GPU:0."""
    ours = os.environ.get("CUDA_VISIBLE_DEVICES", ",".join(map(str, range(len(GPUS))))).split(",")
    result, detail = child('import json\nprint(json.dumps([d.name for d in tf.config.list_physical_devices("GPU")]))',
                           CUDA_VISIBLE_DEVICES=ours[len(GPUS) - 1].strip())
    assert result == ["/physical_device:GPU:0"], detail


# --- in a child: when TensorFlow starts CUDA ----------------------------------------------------

STARTS_CUDA = CAPTURE + """
import json

def load():
    global tf
    import tensorflow as tf
out = {"import": captured(load)}
out["first_op"] = captured(lambda: float(tf.reduce_sum(tf.ones((2,)))))
print(json.dumps(out))
"""

CUDA_START = re.compile(r"cuInit|Created device .*GPU")
"""What TensorFlow logs at INFO or ERROR when it starts CUDA: the driver's cuInit failing (a CUDA
build on a machine without a driver) or a GPU device made (a machine with one)."""


@pytest.mark.claim("ch12.1", "CUDA_VISIBLE_DEVICES must be set before TensorFlow initialises the GPUs", source="book",
                   verdict="corrected",
                   correction="TensorFlow starts CUDA (cuInit, where the driver reads CUDA_VISIBLE_DEVICES) at its "
                              "first op, not at import tensorflow: os.environ['CUDA_VISIBLE_DEVICES'] set after the "
                              "import and before the first op is still in time; after the first op it changes "
                              "nothing (a GPU machine shows that: test_cuda_visible_devices_set_after_the_first_op_"
                              "changes_nothing_and_before_it_hides_the_others)")
def test_tensorflow_starts_cuda_at_its_first_op_not_at_import():
    """A child with TF_CPP_MIN_LOG_LEVEL=0 captures file descriptors 1 and 2 around `import
    tensorflow`, then around the first op: the CUDA start is logged in the second window only. What
    a CPU machine can show of the rule, with a CUDA build of TensorFlow (it calls cuInit, which fails
    without a driver); a build without CUDA never starts CUDA, and the test skips there."""
    if not tf.test.is_built_with_cuda():
        pytest.skip("this TensorFlow is built without CUDA: it never starts CUDA, so it never reads the variable")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="0", PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", "import os\n" + STARTS_CUDA], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    windows = json.loads(proc.stdout.strip().splitlines()[-1])
    started = {name: [line for line in lines[1] if CUDA_START.search(line)] for name, lines in windows.items()}
    assert started["import"] == [], f"CUDA started during the import: {started['import']}"
    assert started["first_op"], f"no CUDA start logged at the first op: {windows['first_op'][1]}"
