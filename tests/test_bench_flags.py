"""pytest-benchmark's flags do what its users expect here, and the chart tool draws.

Each flag is checked on a real pytest run in a child process over one tiny benchmark case
(bench_limits.py's one-thread memcpy of 1000 floats, no TensorFlow op in its body): timing flags
turn timing on and write their files; --benchmark-skip skips; --benchmark-disable runs the body
once, timing off. The runs start together (each child imports TensorFlow: ~3 s of CPU) and the
compare run follows the save it compares against."""
import json
import math
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from bench._support import DEFAULT_MIN_ROUNDS
from tools import plot_bench

ROOT = Path(__file__).resolve().parents[1]
CASE = "bench/bench_limits.py::bench_memcpy_one_thread"
TIMED = f"{CASE}[n1e3]"


def start(tmp_path, name, *flags):
    out = open(tmp_path / f"{name}.log", "w+")
    # Not an xdist worker's environment: pytest-benchmark disables timing wherever PYTEST_XDIST_WORKER
    # is set (session.py), and the child inherits it from the worker running this test.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-n", "0", "-q", "-p", "no:cacheprovider",
                             "--benchmark-storage", str(tmp_path / "storage"), "-k", "n1e3", CASE, *flags],
                            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    return proc, out


def finish(run):
    proc, out = run
    code = proc.wait(timeout=300)
    out.seek(0)
    text = out.read()
    out.close()
    return code, text


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench-flags")
    started = {
        "only": start(tmp, "only", "--benchmark-only", "--benchmark-json", str(tmp / "run.json"),
                      "--benchmark-save", "first", "--benchmark-histogram", str(tmp / "hist" / "h")),
        "skip": start(tmp, "skip", "--benchmark-skip"),
        "disable": start(tmp, "disable", "--benchmark-disable", "-rA"),
    }
    done = {name: finish(run) for name, run in started.items()}
    done["compare"] = finish(start(tmp, "compare", "--benchmark-compare"))
    return tmp, done


def test_benchmark_only_times_the_case_and_json_save_and_histogram_write_their_files(runs):
    tmp, done = runs
    code, text = done["only"]
    assert code == 0, text
    report = json.loads((tmp / "run.json").read_text())
    (case,) = report["benchmarks"]
    assert case["fullname"] == TIMED and case["stats"]["rounds"] >= DEFAULT_MIN_ROUNDS, (case["fullname"], case["stats"], text)
    assert case["extra_info"]["gbps"] > 0 and case["extra_info"]["bytes"] == 2 * 4 * 1000, case["extra_info"]
    assert "tfref" in report["machine_info"], sorted(report["machine_info"])
    saved = list((tmp / "storage").glob("*/0001_first.json"))
    assert len(saved) == 1 and json.loads(saved[0].read_text())["benchmarks"][0]["fullname"] == TIMED, text
    assert [p.name for p in (tmp / "hist").glob("h-*.svg")] == ["h-memcpy-n1000-cpu.svg"], text


def test_benchmark_compare_times_the_case_and_compares_it_with_the_saved_run(runs):
    _, done = runs
    code, text = done["compare"]
    assert code == 0, text
    assert "0001_first" in text and "NOW" in text, text  # pytest-benchmark's comparison table: the saved run and this one


def test_benchmark_skip_skips_the_case(runs):
    _, done = runs
    code, text = done["skip"]
    assert code == 0 and "1 skipped" in text and "passed" not in text, text


def test_benchmark_disable_runs_the_body_once_with_timing_off(runs):
    _, done = runs
    code, text = done["disable"]
    assert code == 0 and "1 passed" in text, text
    assert "throughput (min time)" not in text and "Min " not in text, text  # no timing table, no summary


def test_crossover_is_exact_where_the_time_ratio_is_a_power_of_the_size():
    # NumPy t = 1e-6 n, TF t = 1e-3: the ratio is 1000 / n, a straight line in log-log through 1 at n = 1000
    sizes = [10, 100, 10_000, 100_000]
    numpy_t = {n: 1e-6 * n for n in sizes}
    tf_t = {n: 1e-3 for n in sizes}
    assert math.isclose(plot_bench.crossover(tf_t, numpy_t), 1000.0, rel_tol=1e-12)
    assert plot_bench.crossover({n: 1e-9 for n in sizes}, numpy_t) == ("<=", 10)
    assert plot_bench.crossover({n: 1.0 for n in sizes}, numpy_t) == (">", 100_000)


def tiny_report():
    """Two concepts, four modes, three sizes: TF's time per call a fixed 1e-4 s + 1e-9 s an
    element, NumPy's 1e-6 s + 1e-8 s an element (TF overtakes NumPy at n = 11000)."""
    benchmarks = []
    for kind in ("relu", "softmax"):
        for impl in ("numpy", "eager", "function", "xla"):
            for n in (1000, 100_000, 10_000_000):
                t = 1e-6 + 1e-8 * n if impl == "numpy" else 1e-4 + 1e-9 * n
                benchmarks.append(dict(name=f"bench_concept[{kind}-{impl}-{n}]", group=f"{kind}-n{n}-cpu",
                                       stats=dict(min=t), extra_info=dict(
                                           family="concept", kind=kind, impl=impl, size=n, elements=n, device="cpu",
                                           fraction_of_memcpy=min(1.0, 1e-3 * n ** 0.5))))
    return dict(benchmarks=benchmarks)


def png_size(path):
    head = Path(path).read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])


def test_plot_bench_draws_time_and_fraction_charts_and_prints_the_table(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="the [plots] extra")
    source = tmp_path / "bench.json"
    source.write_text(json.dumps(tiny_report()))
    plot_bench.main([str(source), "-o", str(tmp_path / "plots")])
    names = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert names == ["fraction-cpu.png", "overview-cpu.png", "time-relu-cpu.png", "time-softmax-cpu.png"], names
    for name in names:
        width, height = png_size(tmp_path / "plots" / name)
        assert width > 300 and height > 200, (name, width, height)
    capsys.readouterr()
    plot_bench.main([str(source), "--table"])
    table = capsys.readouterr().out
    # 1e-4 + 1e-9 n = 1e-6 + 1e-8 n at n = 99e-6 / 9e-9 = 11000; measured at 1e3 and 1e5, the log-log
    # interpolation between them lands near it (the curves are not straight lines there)
    relu = next(line for line in table.splitlines() if line.startswith("| relu "))
    crossings = [float(cell.split("/")[1]) for cell in relu.split("|")[3:6]]
    assert all(3e3 < c < 3e4 for c in crossings), relu
