"""pytest hooks and options of the suite: TensorFlow set up before anything else, the hypothesis
profiles, --benchmark(-full), --claims, --agreement-report, the run's header and summaries.
The machinery they call lives in tests/ (tf_setup, profiles, devices, harness, claims, report,
machine) and bench/_support.py."""
from tests import tf_setup

tf_setup.configure()  # before any TensorFlow op: the GPU stand-in device can only be made now

import json  # noqa: E402
import os  # noqa: E402

import pytest  # noqa: E402

from xdist.scheduler import LoadScopeScheduling  # noqa: E402

from bench import _support as bench_support  # noqa: E402
from tests import backstop, claims, devices, harness, machine, profiles, report, selection, timing  # noqa: E402

profiles.register()


def pytest_addoption(parser):
    parser.addoption("--benchmark", action="store_true", default=False,
                     help="run the benchmarks in bench/ with timing on (plain pytest runs tests/ "
                          "and each benchmark body once, timing off, as a smoke check)")
    parser.addoption("--benchmark-full", action="store_true", default=False,
                     help="with --benchmark: the full sweep (the largest sizes, e.g. 1 GB checkpoints, "
                          "1000-step sequences); the default sweep fits in about 5 minutes on 2 cores")
    parser.addoption("--claims", action="store_true", default=False,
                     help="after the run, print every claim a test answers (the claim marker): its source "
                          "(book, notes, port, docs), statement, verdict, the test and its result, also in "
                          "build/claims.md; a run that collected every claim also writes docs/claims.md")
    parser.addoption("--agreement-report", action="store_true", default=False,
                     help="after the run, print the worst error against the float64 reference per "
                          "concept x dtype x mode, in units of the dtype's epsilon, beside the tolerance")
    parser.addoption("--chapter", default=None, metavar="N",
                     help="run only the tests of one chapter of the book, e.g. 4.2, 4 or ch7.2: its concepts' catalog "
                          "cases, its modules' test and bench files and the claims it answers (tests/selection.py)")
    parser.addoption("--backstop", type=float, default=backstop.SECONDS, metavar="SECONDS",
                     help="end a test's process after it has run this long, with every thread's stack on stderr "
                          "(pytest-xdist reports the test as failed and goes on); 0: never (tests/backstop.py)")
    parser.addoption("--profile-time", action="store_true", default=False,
                     help="after the run, write where its time went (build/profile.md and .json): per file, per "
                          "catalog test and concept x mode, tracing/compiling vs running, and the distinct inputs "
                          "of each catalog cell (tests/timing.py)")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Before pytest-benchmark reads its options: one timing switch (bench/_support.py)."""
    bench_support.apply_timing_switch(config)
    if config.getoption("chapter"):
        try:
            selection.check(config.getoption("chapter"))
        except ValueError as e:
            raise pytest.UsageError(f"--chapter: {e}") from None
    if config.getoption("profile_time"):
        timing.enable()
        PROFILE.append(timing.Profile())
        CPU.update(startup=timing.cpu_seconds())


PROFILE = []
"""With --profile-time: the run's timing.Profile (on the controller, or the one process)."""
CPU = {}
"""With --profile-time: this process's CPU seconds at start-up, after collection and at the end."""


WATCHDOG = []
"""This process's backstop (tests/backstop.py), made at its first test."""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """The per-test backstop: a test that never ends ends its process (tests/backstop.py)."""
    if not WATCHDOG:
        WATCHDOG.append(backstop.Watchdog(item.config.pluginmanager.getplugin("capturemanager"),
                                          item.config.getoption("backstop")))
    WATCHDOG[0].start(item.nodeid)
    try:
        yield
    finally:
        WATCHDOG[0].cancel()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With --profile-time: the harness's notes of this test phase, and the test's catalog parameters,
    ride on the report (reports cross xdist workers)."""
    outcome = yield
    if PROFILE:
        params = {k: v for k, v in getattr(getattr(item, "callspec", None), "params", {}).items() if isinstance(v, str)}
        report = outcome.get_result()
        report.user_properties = [*report.user_properties, ("timing", {"notes": timing.take(), "params": params})]


def pytest_xdist_auto_num_workers(config):
    """`-n auto` (pyproject's addopts) runs one pytest-xdist worker per core, at most 4; none for
    --benchmark, whose timings want the machine to themselves."""
    if bench_support.timing_on(config):
        return 0
    return max(1, min(os.cpu_count() or 1, 4))


class WorkUnitScheduling(LoadScopeScheduling):
    """pytest-xdist's scope scheduling with tests/timing.py's work units as the scopes."""

    def _split_scope(self, nodeid):
        return timing.work_unit(nodeid)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Under `-n` with the default --dist load: a catalog cell's tests go to one worker, which compiles the
    functions they share once, and a named test file's tests to one worker, which runs its module fixtures once
    (tests/timing.py, work_unit). An explicit --dist other than load is left to pytest-xdist."""
    if config.getoption("dist") == "load":
        return WorkUnitScheduling(config, log)
    return None


def pytest_ignore_collect(collection_path, config):
    if config.getoption("benchmark") and "tests" in collection_path.relative_to(config.rootpath).parts[:1]:
        return True
    return None


def pytest_report_header(config):
    """The machine and the kernel path in the header: two runs on two machines explain their differences."""
    lines = machine.summary_lines()
    if not devices.gpus():
        lines.append(f"GPU cases: not collected, {devices.NO_GPU}: every case with a device axis runs on the "
                     "CPU only (how many GPU cases were left out is said at the end)")
    return lines


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Check every claim marker (an invalid one fails the collection), attach it to the test's
    reports, which cross xdist workers, and keep the collected claims (before any deselection)
    for docs/claims.md; with --chapter, keep that chapter's tests (tests/selection.py)."""
    for item in items:
        claim = claims.claim_of(item)
        if claim is not None:
            item.user_properties.append(("claim", claim.as_dict()))
    CLAIMS_COLLECTED[:] = claims.collected(items)
    chapter = config.getoption("chapter")
    if chapter:
        keep, drop = [], []
        for item in items:
            claim = claims.claim_of(item)
            (keep if selection.in_chapter(chapter, item.path.relative_to(config.rootpath).as_posix(),
                                          getattr(getattr(item, "callspec", None), "params", {}),
                                          claim and claim.where) else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep


CLAIMS_COLLECTED = []
"""The collected claims, one row per test function: this process's, or an xdist worker's."""

CLAIM_RESULTS = []
"""One dict per claim-marked test that ran: filled on the controller from the reports."""


def pytest_runtest_logreport(report):
    notes = dict(report.user_properties).get("timing")
    if PROFILE and notes is not None:
        PROFILE[0].add(report.nodeid, report.when, report.duration, report.outcome, notes["notes"], notes["params"])
    claim = dict(report.user_properties).get("claim")
    if claim is None or not (report.when == "call" or report.outcome != "passed"):
        return
    CLAIM_RESULTS.append(claims.result(claim, report))


GPU_TWINS = []
"""GPU cases the selected tests would have had with a GPU visible: this process's count, or each
xdist worker's (every worker collects and selects the same tests)."""


def pytest_collection_finish(session):
    GPU_TWINS.append(devices.uncollected_gpu_twins(session.items))
    if PROFILE:
        CPU.update(collected=timing.cpu_seconds())


def pytest_sessionfinish(session):
    """On an xdist worker: hand this worker's agreement record and GPU-twin count to the controller."""
    if PROFILE:  # the xdist controller's workers are its children: their CPU time comes from themselves
        end = timing.cpu_seconds(children=not session.config.pluginmanager.hasplugin("dsession"))
        cpu = dict(startup=CPU["startup"], collection=CPU.get("collected", end) - CPU["startup"], total=end)
        if hasattr(session.config, "workeroutput"):
            session.config.workeroutput["cpu"] = json.dumps(cpu)
        else:
            PROFILE[0].add_process(cpu)
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["gpu_twins"] = max(GPU_TWINS, default=0)
        session.config.workeroutput["claims"] = json.dumps(CLAIMS_COLLECTED)
        if session.config.getoption("agreement_report"):
            session.config.workeroutput["agreement"] = json.dumps(
                [[list(k), list(v)] for k, v in harness.RECORD.items()])


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """On the xdist controller: merge a finished worker's agreement record and GPU-twin count."""
    output = getattr(node, "workeroutput", {})
    GPU_TWINS.append(output.get("gpu_twins", 0))
    CLAIMS_COLLECTED[:] = CLAIMS_COLLECTED or json.loads(output.get("claims", "[]"))
    if PROFILE and "cpu" in output:
        PROFILE[0].add_process(json.loads(output["cpu"]))
    for key, (worst, tol) in json.loads(output.get("agreement", "[]")):
        harness.note_worst(tuple(key), worst, tol)


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config, machine_info):
    """The header's facts in the benchmark JSON (--benchmark-json / --benchmark-save), under "tfref"."""
    machine_info["tfref"] = machine.describe()


def pytest_terminal_summary(terminalreporter, config):
    if hasattr(config, "workerinput"):
        return
    twins = max(GPU_TWINS, default=0)
    if twins:
        terminalreporter.write_line(f"GPU cases not collected: {twins:,}, one per CPU case with a device axis "
                                    f"({devices.NO_GPU})")
    if config.getoption("claims"):
        table = claims.table(CLAIM_RESULTS)
        claims.write(table, os.path.join(str(config.rootpath), "build"))
        terminalreporter.section(f"claims: {len(table)} (also in build/claims.md)")
        terminalreporter.write(claims.text(table))
        in_source = claims.marked_tests(config.rootpath)
        got = {row["test"] for row in CLAIMS_COLLECTED}
        if got == set(in_source):
            claims.write_document(CLAIMS_COLLECTED, os.path.join(str(config.rootpath), "docs", "claims.md"))
            terminalreporter.write_line("docs/claims.md written: " + claims.summary(CLAIMS_COLLECTED))
        else:
            terminalreporter.write_line(f"docs/claims.md not written: this run collected {len(got & set(in_source))} "
                                        f"of the {len(in_source)} claim-marked tests")
    if PROFILE:
        PROFILE[0].finish()
        paths = timing.write(PROFILE[0], os.path.join(str(config.rootpath), "build"),
                             "pytest " + " ".join(config.invocation_params.args), machine.summary_lines())
        terminalreporter.write_line(f"profile of the run's time: {', '.join(os.path.relpath(p) for p in paths)}")
    if config.getoption("agreement_report"):
        text = "\n".join(machine.summary_lines()) + "\n\n" + report.format_report(harness.RECORD)
        written = report.write_report(harness.RECORD, text, os.path.join(str(config.rootpath), "build"))
        terminalreporter.section(f"agreement with the float64 reference (also in {', '.join(written)})")
        terminalreporter.write(text)
