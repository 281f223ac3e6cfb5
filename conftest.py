"""Suite-wide set-up: quiet TensorFlow, hypothesis profiles, the device axis,
``--benchmark`` and ``--agreement-report``."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported: C++ INFO/WARNING off

import json  # noqa: E402
import logging  # noqa: E402

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402



def _quietly(action):
    """Run ``action`` with file descriptor 2 sent to /dev/null: TensorFlow's C++ side
    prints INFO lines at import and device discovery before TF_CPP_MIN_LOG_LEVEL is
    read. Python exceptions still propagate and are reported normally."""
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        return action()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _set_up_tensorflow():
    import tensorflow as tf
    tf.get_logger().setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    # Correctness first: TF32 would run float32 matmuls on a GPU with a 10-bit mantissa.
    tf.config.experimental.enable_tensor_float_32_execution(False)
    # Take GPU memory as needed, not all of it up front, so a benchmark and the tests can share a GPU.
    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)
    # The GPU stand-in (bench/conftest.py): a second logical CPU device, /CPU:1, addressed the way
    # /GPU:0 is, so the benchmarks' GPU branch runs where no GPU exists. It shares the CPU's
    # thread pool and kernels; nothing is placed on it unless asked, so /CPU:0 is unchanged.
    # Logical devices can only be set before TensorFlow initialises its runtime: here.
    (cpu, *_) = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
    return tf


tf = _quietly(_set_up_tensorflow)

# --- hypothesis profiles: example counts live here, nowhere else ---------------
# dev and ci draw 4 examples a test: every concept x dtype x mode draws its own, and the
# fixed edge cases run beside them, so a run covers hundreds of inputs per concept while
# XLA (one compile per new shape, ~0.08 s) keeps the suite near two minutes.
_common = dict(deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=4, **_common)
settings.register_profile("ci", max_examples=4, derandomize=True, database=None, **_common)
settings.register_profile("thorough", max_examples=200, **_common)
settings.load_profile("dev")  # --hypothesis-profile=ci|thorough overrides


# --- the device axis -------------------------------------------------------------
NO_GPU = "no GPU visible to TensorFlow (tf.config.list_physical_devices('GPU') is empty)"


def device_params(base_id, *values):
    """pytest.params for ``values`` on the CPU (id ``base_id``) and on the GPU
    (id ``base_id-gpu``, marked gpu, skipped with the reason where none is visible)."""
    gpu = bool(tf.config.list_physical_devices("GPU"))
    return [pytest.param(*values, "cpu", id=base_id),
            pytest.param(*values, "gpu", id=f"{base_id}-gpu",
                         marks=[pytest.mark.gpu, pytest.mark.skipif(not gpu, reason=NO_GPU)])]


# --- options -----------------------------------------------------------------------
def pytest_addoption(parser):
    parser.addoption("--benchmark", action="store_true", default=False,
                     help="run the benchmarks in bench/ with timing on (plain pytest runs tests/ "
                          "and each benchmark body once, timing off, as a smoke check)")
    parser.addoption("--benchmark-full", action="store_true", default=False,
                     help="with --benchmark: the full sweep (the largest sizes, e.g. 1 GB checkpoints, "
                          "1000-step sequences); the default sweep fits in about 5 minutes on 2 cores")
    parser.addoption("--claims", action="store_true", default=False,
                     help="after the run, print every claim of the book a test answers (the claim "
                          "marker): statement, verdict, the test and its result; also written to build/claims.md")
    parser.addoption("--agreement-report", action="store_true", default=False,
                     help="after the run, print the worst error against the float64 reference per "
                          "concept x dtype x mode, in units of the dtype's epsilon, beside the tolerance")


TIMING_FLAGS = ("benchmark_only", "benchmark_enable", "benchmark_json", "benchmark_save", "benchmark_autosave",
                "benchmark_compare", "benchmark_histogram")
"""pytest-benchmark's flags that ask for timings: each implies --benchmark."""

DEFAULT_MAX_TIME, DEFAULT_MIN_ROUNDS = "0.1", 3
"""pytest-benchmark's --benchmark-max-time and --benchmark-min-rounds under the default sweep, where
the user gives neither (--benchmark-full keeps its own defaults, 1 s and 5 rounds a case): the
default sweep's ~600 cases then fit in about 5 minutes on 2 cores."""


def timing_on(config):
    """Timing is on with --benchmark or any pytest-benchmark flag that wants timings
    (--benchmark-only, --benchmark-json, --benchmark-save, --benchmark-autosave,
    --benchmark-compare, --benchmark-histogram, --benchmark-enable); off under plain pytest (the
    smoke run), with --benchmark-disable (without --benchmark-enable) and with --benchmark-skip."""
    option = config.option
    if not hasattr(option, "benchmark_disable"):
        return False
    if option.benchmark_disable and not option.benchmark_enable:
        return False
    if option.benchmark_skip and not option.benchmark_only:
        return False
    return bool(option.benchmark or any(getattr(option, flag, None) for flag in TIMING_FLAGS))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    # Runs before pytest-benchmark reads its options. An explicit --benchmark-disable stays (with
    # --benchmark-only pytest-benchmark then refuses the pair, as its users expect); otherwise
    # timing is on exactly when timing_on says so, and --benchmark follows it, so the sweep sizes,
    # the collection of bench/ alone and the worker count all read one switch.
    if not hasattr(config.option, "benchmark_disable"):
        return
    timing = timing_on(config)
    config.option.benchmark = timing
    if not config.option.benchmark_disable:
        config.option.benchmark_disable = not timing
    given = [str(a) for a in config.invocation_params.args]
    if timing and not config.option.benchmark_full:
        if not any(a.startswith("--benchmark-max-time") for a in given):
            config.option.benchmark_max_time = DEFAULT_MAX_TIME
        if not any(a.startswith("--benchmark-min-rounds") for a in given):
            config.option.benchmark_min_rounds = DEFAULT_MIN_ROUNDS


def pytest_xdist_auto_num_workers(config):
    """`-n auto` (pyproject's addopts) runs one pytest-xdist worker per core, at most 4
    (on 2 cores: 87 s instead of 130 s, most of it XLA compiling one program per shape);
    none for --benchmark, whose timings want the machine to themselves."""
    if timing_on(config):
        return 0
    return max(1, min(os.cpu_count() or 1, 4))


def pytest_ignore_collect(collection_path, config):
    if config.getoption("benchmark") and "tests" in collection_path.relative_to(config.rootpath).parts[:1]:
        return True
    return None


def pytest_sessionfinish(session):
    """On an xdist worker: hand this worker's agreement record to the controller."""
    if hasattr(session.config, "workeroutput") and session.config.getoption("agreement_report"):
        from tests.harness import RECORD
        session.config.workeroutput["agreement"] = json.dumps([[list(k), list(v)] for k, v in RECORD.items()])


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """On the xdist controller: merge a finished worker's agreement record."""
    from tests.harness import note_worst
    for key, (worst, tol) in json.loads(getattr(node, "workeroutput", {}).get("agreement", "[]")):
        note_worst(tuple(key), worst, tol)


CLAIM_RESULTS = []
"""One dict per claim-marked test that ran: filled on the controller from the reports."""


def pytest_collection_modifyitems(config, items):
    """Check every claim marker and attach it to the test's reports (they cross xdist workers)."""
    from tests.claims import claim_of
    for item in items:
        claim = claim_of(item)
        if claim is not None:
            item.user_properties.append(("claim", claim))


def pytest_runtest_logreport(report):
    claim = dict(report.user_properties).get("claim")
    if claim is None or not (report.when == "call" or report.outcome != "passed"):
        return
    where, statement, verdict, correction = claim
    CLAIM_RESULTS.append(dict(where=where, statement=statement, verdict=verdict, correction=correction,
                              test=report.nodeid, outcome=report.outcome))


def pytest_report_header(config):
    """The machine and the kernel path in the header: two runs on two machines explain their differences."""
    from tests.machine import summary_lines
    return summary_lines()


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config, machine_info):
    """The same facts in the benchmark JSON (--benchmark-json / --benchmark-save), under "tfref"."""
    from tests.machine import describe
    machine_info["tfref"] = describe()


def pytest_terminal_summary(terminalreporter, config):
    if hasattr(config, "workerinput"):
        return
    if config.getoption("claims"):
        from tests import claims
        table = claims.table(CLAIM_RESULTS)
        claims.write(table, os.path.join(str(config.rootpath), "build"))
        terminalreporter.section(f"claims of the book: {len(table)} (also in build/claims.md)")
        terminalreporter.write(claims.text(table))
    if not config.getoption("agreement_report"):
        return
    from tests.harness import RECORD
    from tests.machine import summary_lines
    from tests.report import format_report, write_report
    text = "\n".join(summary_lines()) + "\n\n" + format_report(RECORD)
    written = write_report(RECORD, text, os.path.join(str(config.rootpath), "build"))
    terminalreporter.section(f"agreement with the float64 reference (also in {', '.join(written)})")
    terminalreporter.write(text)
