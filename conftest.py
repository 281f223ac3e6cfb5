"""pytest hooks and options of the suite: TensorFlow set up before anything else, the hypothesis
profiles, --benchmark(-full), --claims, --agreement-report, --against (grade a learner's own
functions), the run's header and summaries. The machinery they call lives in tests/ (tf_setup,
profiles, devices, harness, claims, report, machine, grader) and bench/_support.py."""
from tests import tf_setup

tf_setup.configure()  # before any TensorFlow op: the GPU stand-in device can only be made now

import json  # noqa: E402
import os  # noqa: E402

import hypothesis  # noqa: E402
import pytest  # noqa: E402

from xdist.scheduler import LoadScopeScheduling  # noqa: E402

from bench import _support as bench_support  # noqa: E402
from tests import backstop, claims, devices, grader, harness, machine, profiles, report, selection, timing  # noqa: E402

profiles.register()

_CONFIG = []
"""The run's config, for the report hooks that pytest calls without it."""


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
    parser.addoption("--against", default=None, metavar="PATH",
                     help="grade your own implementation: PATH is a folder of modules named like the pairs "
                          "(activations.py, losses.py, ...) or one .py file; its functions with tfref's names run "
                          "through the catalog matrix and the named tests in place of tfimpl's (NumPy code: "
                          "eagerly, against the float64 reference); the grade is printed at the end and "
                          "written to build/grade.md and build/grade.json (docs/grading.md)")
    parser.addoption("--grade-dir", default=None, metavar="DIR",
                     help="with --against: write grade.md and grade.json to DIR instead of build/")
    parser.addoption("--grade-time-limit", type=float, default=grader.DEFAULT_TIME_LIMIT, metavar="SECONDS",
                     help="with --against: the time one call of a learner's function may take before it is "
                          f"stopped and its case failed (default {grader.DEFAULT_TIME_LIMIT:g})")
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
    """Before pytest-benchmark reads its options: one timing switch (bench/_support.py). With
    --against: the learner's solution loaded and matched to the contract, or one line saying why it
    cannot be graded, before any test runs."""
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
    _CONFIG[:] = [config]
    against = config.getoption("against")
    if against:
        try:
            solution = grader.load(against, config.getoption("grade_time_limit"))
        except grader.LoadError as e:
            raise pytest.UsageError(str(e)) from None
        config.grade_plan = grader.plan(solution, config.rootpath)
        config.grade = grader.Grade(config.grade_plan)


PROFILE = []
"""With --profile-time: the run's timing.Profile (on the controller, or the one process)."""
CPU = {}
"""With --profile-time: this process's CPU seconds at start-up, after collection and at the end."""


WATCHDOG = []
"""This process's backstop (tests/backstop.py), made at its first test."""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """The per-test backstop: a test that never ends ends its process (tests/backstop.py), which
    pytest-xdist reports as that test's failure (with --against: that case's, graded as a crash).
    With --against it waits at least 20 per-call time limits."""
    if not WATCHDOG:
        seconds = item.config.getoption("backstop")
        if item.config.getoption("against") and seconds > 0:
            seconds = max(seconds, 20 * item.config.getoption("grade_time_limit"))
        WATCHDOG.append(backstop.Watchdog(item.config.pluginmanager.getplugin("capturemanager"), seconds))
    WATCHDOG[0].start(item.nodeid)
    try:
        yield
    finally:
        WATCHDOG[0].cancel()


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
    plan = getattr(config, "grade_plan", None)
    if plan is not None and grader.ignores(plan, collection_path.relative_to(config.rootpath)):
        return True  # with --against: a file none of whose tests grade the learner's functions
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
    for docs/claims.md; with --chapter, keep that chapter's tests (tests/selection.py). With
    --against: keep only the tests that grade the learner's functions (each report carries what
    it grades), and swap those functions in for the session."""
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
    plan = getattr(config, "grade_plan", None)
    if plan is None:
        return
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        grades = grader.meta(plan, item.nodeid, params)
        if grades is None:
            drop.append(item)
        else:
            item.user_properties.append(("grade", grades))
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = keep
    config.grade_restore = grader.substitute(plan, {item.module for item in keep if getattr(item, "module", None)})


CLAIMS_COLLECTED = []
"""The collected claims, one row per test function: this process's, or an xdist worker's."""

CLAIM_RESULTS = []
"""One dict per claim-marked test that ran: filled on the controller from the reports."""


def pytest_runtest_logreport(report):
    notes = dict(report.user_properties).get("timing")
    if PROFILE and notes is not None:
        PROFILE[0].add(report.nodeid, report.when, report.duration, report.outcome, notes["notes"], notes["params"])
    grade = getattr(_CONFIG[0], "grade", None) if _CONFIG and not hasattr(_CONFIG[0], "workerinput") else None
    if grade is not None and (report.when == "call" or report.outcome != "passed"):
        props = dict(report.user_properties)
        grades = props.get("grade") or grader.meta_from_nodeid(grade.plan, report.nodeid)
        if grades is not None:
            failure = props.get("grade_failure")
            if report.outcome == "failed" and failure is None:  # a crashed worker's report
                failure = grader.crash_failure(str(report.longrepr))
            grade.add(grades, report.outcome, failure, getattr(report, "duration", 0.0))
    claim = dict(report.user_properties).get("claim")
    if claim is None or not (report.when == "call" or report.outcome != "passed"):
        return
    CLAIM_RESULTS.append(claims.result(claim, report))


GRADE_FAILED_UNITS = set()
"""With --against: the learner's functions that already have a failed case in this process."""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """With --against: hypothesis shrinks the first failing case of each of the learner's functions
    (in this process) and no later one, whose shrinking would repeat the lesson at the cost of
    hundreds of calls. Code that TensorFlow itself runs forever (a tf.while_loop: the per-call time
    limit cannot interrupt it) meets the per-test backstop (pytest_runtest_protocol)."""
    grades = dict(item.user_properties).get("grade")
    if grades is None:
        yield
        return
    test = getattr(item, "obj", None)
    current = getattr(test, "_hypothesis_internal_use_settings", None)
    shrinks = (current is not None and hypothesis.Phase.shrink in current.phases
               and not GRADE_FAILED_UNITS.intersection(grades["units"]))
    item.grade_minimal = current is None or shrinks  # a fixed case, or a drawn one hypothesis shrinks
    if current is not None and not shrinks:
        test._hypothesis_internal_use_settings = hypothesis.settings(
            current, phases=[p for p in current.phases if p is not hypothesis.Phase.shrink])
    try:
        yield
    finally:
        if current is not None:
            test._hypothesis_internal_use_settings = current


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With --profile-time: the harness's notes of this test phase, and the test's catalog parameters,
    ride on the report (reports cross xdist workers). With --against: a failed case's report carries
    what went wrong (the call, expected, got, the error in eps), read from the exception where it
    was raised."""
    outcome = yield
    report = outcome.get_result()
    if PROFILE:
        params = {k: v for k, v in getattr(getattr(item, "callspec", None), "params", {}).items() if isinstance(v, str)}
        report.user_properties = [*report.user_properties, ("timing", {"notes": timing.take(), "params": params})]
    grades = dict(item.user_properties).get("grade")
    if grades is None or report.outcome != "failed" or call.excinfo is None:
        return
    GRADE_FAILED_UNITS.update(grades["units"])
    details = grader.describe_failure(call.excinfo.value)
    details["minimal"] = getattr(item, "grade_minimal", True)
    if grades["check"] == "bad input":
        details["modes"] = grader.bad_input_modes(item.callspec.params)
    if grades["check"] == "named":
        details["detail"] = str(report.longrepr)[-3000:]
    report.user_properties.append(("grade_failure", details))


GPU_TWINS = []
"""GPU cases the selected tests would have had with a GPU visible: this process's count, or each
xdist worker's (every worker collects and selects the same tests)."""


def pytest_collection_finish(session):
    GPU_TWINS.append(devices.uncollected_gpu_twins(session.items))
    if PROFILE:
        CPU.update(collected=timing.cpu_seconds())


def pytest_sessionfinish(session):
    """On an xdist worker: hand this worker's agreement record, collected claims, GPU-twin count (and
    with --profile-time its CPU time) to the controller.
    With --against: the learner's functions taken out again; the exit status is the grade's (1 if
    an attempted function fails, else 0, also when nothing was attempted yet)."""
    if PROFILE:  # the xdist controller's workers are its children: their CPU time comes from themselves
        end = timing.cpu_seconds(children=not session.config.pluginmanager.hasplugin("dsession"))
        cpu = dict(startup=CPU["startup"], collection=CPU.get("collected", end) - CPU["startup"], total=end)
        if hasattr(session.config, "workeroutput"):
            session.config.workeroutput["cpu"] = json.dumps(cpu)
        else:
            PROFILE[0].add_process(cpu)
    restore = getattr(session.config, "grade_restore", None)
    if restore is not None:
        restore()
    grade = getattr(session.config, "grade", None)
    if grade is not None and not hasattr(session.config, "workerinput"):
        session.exitstatus = grader.exit_status(grade, session.exitstatus)
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
    grade = getattr(config, "grade", None)
    if grade is not None:
        directory = config.getoption("grade_dir") or os.path.join(str(config.rootpath), "build")
        written = grader.write(grade, directory)
        terminalreporter.section(f"grade of {config.getoption('against')} (also in {', '.join(written)})")
        terminalreporter.write(grade.text())
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
