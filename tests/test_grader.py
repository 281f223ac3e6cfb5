"""The grader graded: `pytest --against=PATH` on learner solutions kept under tests/learners/, each
with the mistake learners really make, must fail exactly the function that holds it, with the hint
that names the mistake; a correct solution written in a learner's style must get full marks in every
mode; bad input stops the run with one line before any test runs; a hang and a crash are failed
cases, not a dead runner.

Each child run costs a TensorFlow import (about 10 s), so the planted mistakes share one folder and
one run (tests/learners/mistakes: one mistake per function), NumPy code has its own, and each run
takes the slice of the matrix its verdicts need (-k); the whole matrix of a planted run and of the
correct chapter-4 solution is what docs/grading.md shows. Runs use the `unshrunk` hypothesis profile
(tests/profiles.py): the failing cases are known, their shrinking is not under test here. The five
child runs (RUNS) go two at a time, each killed after CHILD_TIMEOUT.

Cost: `pytest tests/test_grader.py -n 0` takes 70 s wall and 100 s of CPU on this repository's 2-core
machine (100 s wall while another test run shared the cores): the child runs take 10-40 s each,
about 10 s of it their start-up; the in-process tests about 6 s.
"""
import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import tfimpl.activations
from tests import grader, hints, mentions
from tests.catalog import BY_NAME
from tools import exercise

ROOT = Path(__file__).resolve().parents[1]
LEARNERS = Path("tests") / "learners"


CHILD_TIMEOUT = 420
"""Seconds a child grader run may take before it is killed (its process group) and its test fails."""
PARALLEL = max(1, min(2, os.cpu_count() or 1))
"""Child runs at a time: each is mostly one busy thread (the TensorFlow import, tracing, XLA's compiler)."""

RUNS = {
    "mistakes": (LEARNERS / "mistakes", "-k", "test_catalog and float32 and (eager or graph)"),
    "correct": (LEARNERS / "correct" / "activations.py", "-k", "softmax and not log_softmax"),
    "unruly": (LEARNERS / "unruly", "-n", "1", "--max-worker-restart=0", "--grade-time-limit=1",
               "-k", "test_edge_cases and float32 and eager"),
    "numpy": (LEARNERS / "numpy", "-k", "test_catalog or (test_each_side_reads and mixed-None) "
              "or test_softmax_is_shift or test_relu"),
    "broken": ("tests/learners/broken/wrong_signature.py",),
}
"""The child runs (`pytest --against=PATH ARGS`), longest first; each test names the one it reads."""


def graded_by(run):
    """Marks a test as reading the child run ``run`` (the `graded` fixture starts only the runs the
    selected tests read)."""
    def mark(test):
        test.child_run = run
        return test
    return mark


def run_grader(out, path, *args):
    """`pytest --against=path` in a child process: (the completed process, grade.json's content or None).
    Killed with its process group (an xdist worker included) after CHILD_TIMEOUT seconds."""
    cmd = [sys.executable, "-m", "pytest", f"--against={path}", f"--grade-dir={out}", "-p", "no:cacheprovider",
           "-q", "--hypothesis-profile=unshrunk", *args]
    if not any(a.startswith("-n") for a in args):
        cmd += ["-n", "0"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    try:
        stdout, stderr = proc.communicate(timeout=CHILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=60)
        stderr += f"\n[killed after {CHILD_TIMEOUT} s]"
    done = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    data = json.loads((out / "grade.json").read_text()) if (out / "grade.json").is_file() else None
    return done, data


@pytest.fixture(scope="module")
def graded(request, tmp_path_factory):
    """name -> (process, grade) of the child runs the selected tests of this module read, started
    PARALLEL at a time as soon as the first of those tests needs one."""
    wanted = [name for name in RUNS if any(
        getattr(getattr(item, "function", None), "child_run", None) == name
        for item in request.session.items if item.module is request.module)]
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=PARALLEL)
    futures = {name: pool.submit(run_grader, tmp_path_factory.mktemp(f"grade-{name}"), *RUNS[name])
               for name in wanted}

    def result(name):
        return futures[name].result(timeout=len(futures) * CHILD_TIMEOUT + 120)
    yield result
    pool.shutdown(wait=True, cancel_futures=True)


def by_function(data):
    return {f["function"]: f for f in data["functions"]}


def failed_cells(entry):
    return sorted({(check, dtype, mode) for check, rows in entry.get("cells", {}).items()
                   for dtype, modes in rows.items() for mode, v in modes.items() if v == "FAIL"})


def explain(proc):
    return f"exit {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"


# --- planted mistakes ------------------------------------------------------------------------------

PLANTED = {
    "activations.relu": "relu-kink",
    "activations.sigmoid": "sigmoid-abs-kink",
    "activations.softmax": "softmax-overflow",
    "losses.softmax_cross_entropy_with_logits": "xent-fed-probabilities",
    "losses.mean_squared_error": "traced-only",
    "moving_average.ema_update": "ema-num-updates",
    "schedules.exponential_decay": "staircase-rounds",
    "rnn.lstm_cell": "lstm-tf1-gate-order",
    "rnn.simple_rnn": "rnn-no-tanh",
    "image.resize": "resize-tf1-grid",
}
"""tests/learners/mistakes: function -> the hint its planted mistake must earn."""


@pytest.mark.planted
@graded_by("mistakes")
def test_each_planted_mistake_fails_its_function_with_the_hint_that_names_it(graded):
    """One run over the planted TensorFlow mistakes, float32, eagerly and in a TF1 Session (the
    traced-only mistake needs both): every function fails, each with exactly its own hint; the
    first failing case names the call, the expected value, the value got and the error; the exit
    code is 1."""
    proc, data = graded("mistakes")
    assert data is not None, explain(proc)
    assert proc.returncode == 1, explain(proc)
    fns = by_function(data)
    assert set(fns) == set(PLANTED), sorted(fns)
    for name, hint in PLANTED.items():
        entry = fns[name]
        assert entry["status"] == "failed", (name, entry["status"])
        assert [h["id"] for h in entry["hints"]] == [hint], (name, entry["hints"], entry["first_failure"])
        first = entry["first_failure"]
        short = name.split(".")[1]
        assert first["call"].startswith((short + "(", short + "_vjp(")), (name, first)  # _vjp: a gradient case
        assert first.get("got") and first.get("error"), (name, first)
    for name in set(PLANTED) - {"losses.mean_squared_error"}:
        assert first_value_case(fns[name]), (name, fns[name]["first_failure"])
    traced = fns["losses.mean_squared_error"]
    assert {mode for _, _, mode in failed_cells(traced)} == {"graph"}, failed_cells(traced)
    assert traced["cells"]["values"]["float32"]["eager"] == "pass"
    assert "NotImplementedError" in traced["first_failure"]["got"]
    assert data["passed"] is False and "grade of tests/learners/mistakes" in proc.stdout


def first_value_case(entry):
    """The first failure carries the expected value and the value got, at the worst element."""
    first = entry["first_failure"]
    return first.get("expected") is not None and first.get("index") is not None


@graded_by("numpy")
def test_a_numpy_solution_is_graded_eagerly_and_its_traced_modes_are_not_applicable(graded):
    """tests/learners/numpy: NumPy code (no TensorFlow import), graded against the float64 reference
    eagerly; tf.function, XLA and a Session are "not applicable", not failures. relu (with its own
    relu_vjp) gets full marks, gradients included; softmax, written without the max shift, fails
    with the overflow hint and has its gradients "not attempted" (no softmax_vjp); tanh, still the
    stub, is "not attempted"; the TFRecord writer that frames records with plain CRCs fails the
    named tests TensorFlow's reader judges, with the masked-CRC hint."""
    proc, data = graded("numpy")
    assert data is not None, explain(proc)
    fns = by_function(data)
    assert data["not_attempted"] == ["activations.tanh"] and fns["activations.tanh"]["status"] == "not attempted"
    relu = fns["activations.relu"]
    assert relu["kind"] == "NumPy" and relu["status"] == "passed", failed_cells(relu)
    for check in ("values", "gradients", "edges"):
        for dtype, modes in relu["cells"][check].items():
            assert modes == {"eager": "pass", "function": "n/a", "xla": "n/a", "graph": "n/a"}, (check, dtype, modes)
    assert relu["cells"]["bad input"]["all"] == {"eager": "pass", "function": "n/a", "xla": "n/a", "graph": "n/a"}
    softmax = fns["activations.softmax"]
    assert softmax["status"] == "failed" and [h["id"] for h in softmax["hints"]] == ["softmax-overflow"]
    assert {m for _, _, m in failed_cells(softmax)} == {"eager"}
    assert all(v == "not attempted" for modes in softmax["cells"]["gradients"].values() for v in modes.values())
    writer = fns["tfrecord.write_records"]
    assert writer["status"] == "failed" and [h["id"] for h in writer["hints"]] == ["tfrecord-plain-crc"], writer
    assert grader.NOT_APPLICABLE in proc.stdout
    assert proc.returncode == 1, explain(proc)


# --- a correct solution ----------------------------------------------------------------------------

@graded_by("correct")
def test_a_correct_solution_in_a_learners_style_gets_full_marks_in_every_mode(graded):
    """tests/learners/correct/activations.py's softmax, written with tf ops (exp(z - max z) / sum,
    the max under tf.stop_gradient, the gradient by GradientTape through it), through the whole
    matrix (every dtype x mode: values, gradients, edges; bad input mode by mode) and its named
    tests: every case passes and the exit code is 0. (The whole correct chapter-4 solution,
    tests/learners/correct, 18 functions, is the run docs/grading.md times against tfimpl.)"""
    proc, data = graded("correct")
    assert data is not None, explain(proc)
    assert proc.returncode == 0, explain(proc)
    entry = by_function(data)["activations.softmax"]
    assert entry["status"] == "passed" and not failed_cells(entry), failed_cells(entry)
    for check in ("values", "gradients", "edges"):
        assert set(entry["cells"][check]) == {"float16", "bfloat16", "float32", "float64"}, entry["cells"][check]
        for dtype, modes in entry["cells"][check].items():
            assert modes == dict.fromkeys(("eager", "function", "xla", "graph"), "pass"), (check, dtype, modes)
    assert entry["cells"]["bad input"]["all"] == dict.fromkeys(("eager", "function", "xla", "graph"), "pass")
    named = {n["test"].split("[", 1)[0]: n["outcome"] for n in entry["named"]}
    assert "tests/test_activations.py::test_softmax_outputs_are_positive_and_sum_to_one_along_the_axis" in named, named
    assert set(named.values()) == {"passed"}, named


# --- bad input ---------------------------------------------------------------------------------------

BROKEN = {
    "tests/learners/no_such_folder": "no such file or folder",
    "tests/learners/broken/does_not_import.py": "does not import: NameError: name 'tf' is not defined (line 4)",
    "tests/learners/broken/wrong_signature.py": "softmax(logits) does not match the contract softmax(logits, axis=-1)",
    "tests/learners/broken/no_contract_names.py": "defines no function with a contract name of any module",
    "tests/learners/broken/pair_named": "pair_named/activations.py: defines none of activations's contract names",
    "tests/learners/broken/patches_tfref.py": "importing it changes tfref (tfimpl.activations.softmax was replaced)",
}


@pytest.mark.parametrize("path", list(BROKEN))
def test_a_solution_that_cannot_be_graded_gets_one_line_naming_the_file_and_the_problem(path):
    """A path that does not exist, a file that does not import, a wrong signature, a file or a module
    with none of the contract names, a file that patches tfimpl when imported: one line, naming the
    file; tfimpl is left as it was."""
    original = tfimpl.activations.softmax
    with pytest.raises(grader.LoadError) as e:
        grader.load(path)
    message = str(e.value)
    assert "\n" not in message and message.startswith(f"--against {path}"), message
    assert BROKEN[path] in message, message
    assert tfimpl.activations.softmax is original


@graded_by("broken")
def test_bad_input_stops_the_run_before_any_test_runs(graded):
    """The same line from pytest itself: a usage error (exit code 4), no test collected or run, no grade."""
    proc, data = graded("broken")
    assert proc.returncode == 4 and data is None, explain(proc)
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR:")]
    assert lines == ["ERROR: --against tests/learners/broken/wrong_signature.py: softmax(logits) does not match the "
                     "contract softmax(logits, axis=-1) (tfimpl.activations.softmax and reference.activations.softmax "
                     "take these parameters)"], explain(proc)
    assert "passed" not in proc.stdout and "failed" not in proc.stdout, explain(proc)


@graded_by("unruly")
def test_a_hang_and_a_crash_are_failed_cases_not_a_dead_runner(graded):
    """tests/learners/unruly: relu loops forever in Python, sigmoid aborts the process. Under
    pytest-xdist (one worker), relu's case is stopped by the per-call time limit (1 s here) and
    fails naming it; sigmoid's case fails as a crash of the worker (the last case here, so no
    replacement is started: --max-worker-restart=0), and the grade is written."""
    proc, data = graded("unruly")
    assert data is not None, explain(proc)
    fns = by_function(data)
    relu, sigmoid = fns["activations.relu"], fns["activations.sigmoid"]
    assert relu["status"] == "failed" and relu["first_failure"]["exception"] == "TimeLimit", relu["first_failure"]
    assert "did not return within 1 s" in relu["first_failure"]["got"]
    assert relu["cells"]["edges"]["float32"]["eager"] == "FAIL"
    assert sigmoid["status"] == "failed" and sigmoid["first_failure"]["exception"] == "crash", sigmoid["first_failure"]
    assert sigmoid["cells"]["edges"]["float32"]["eager"] == "FAIL"
    assert proc.returncode == 1, explain(proc)


# --- stubs -------------------------------------------------------------------------------------------

def test_stubs_are_graded_not_attempted_until_a_body_is_written(tmp_path):
    """`python -m tools.exercise new DIR --chapter 4.2` writes losses.py and activations.py; each
    stub has the contract's signature, the formula, the TF API and the book's chapter in its
    docstring, the input checks, and raises NotImplementedError. Loaded as a solution, every
    function is "not attempted"; with softmax filled in, softmax alone is attempted."""
    written = exercise.new(tmp_path / "mine", chapter="4.2")
    assert sorted(Path(p).name for p in written) == ["activations.py", "losses.py"]
    assert written[str(tmp_path / "mine" / "activations.py")] == ["softmax", "log_softmax"]
    text = (tmp_path / "mine" / "activations.py").read_text()
    assert "def softmax(logits, axis=-1):" in text and "Mirrors tf.nn.softmax" in text and "Book: 4.2.1" in text
    assert "_check_logits(logits, axis)" in text and "raise NotImplementedError" in text
    solution = grader.load(tmp_path / "mine")
    assert solution.units and not solution.attempted, sorted(solution.attempted)
    filled = text.replace('    _check_logits(logits, axis)\n    raise NotImplementedError("softmax: write it, then run '
                          'pytest --against=<this folder>")',
                          "    _check_logits(logits, axis)\n    e = tf.exp(logits - tf.reduce_max(logits, axis, keepdims=True))\n"
                          "    return e / tf.reduce_sum(e, axis, keepdims=True)", 1)
    assert filled != text
    (tmp_path / "mine" / "activations.py").write_text(filled)
    solution = grader.load(tmp_path / "mine")
    assert sorted(solution.attempted) == ["activations.softmax"] and solution.units["activations.softmax"].kind == "tf"
    p = grader.plan(solution)
    assert p.concept_units == {"softmax": ["activations.softmax"]}
    x = np.array([[1.0, 2.0, 30.0]])
    np.testing.assert_allclose(p.concepts["softmax"].tf(x).numpy(), tf.nn.softmax(x).numpy(), rtol=1e-12)


def test_numpy_stubs_hold_the_gradients_numpy_code_must_write(tmp_path):
    written = exercise.new(tmp_path / "np", concepts=("softmax",), numpy=True)
    assert list(written.values()) == [["softmax", "softmax_vjp"]]
    text = Path(next(iter(written))).read_text()
    assert "import tensorflow" not in text and "from reference import _checks as check" in text
    solution = grader.load(tmp_path / "np")
    assert {u.kind for u in solution.units.values()} == {"numpy"} and not solution.attempted


def test_the_exercise_command_writes_stubs_that_name_the_books_page_and_refuses_an_unknown_concept(tmp_path, capsys):
    """`python -m tools.exercise new DIR --concept clipped_cross_entropy` (its main(), in this process): one
    stub whose docstring names the page its claim cites (p. 78), the command to run next; an existing
    file is kept without --force; an unknown concept is a usage error (exit 2) naming it."""
    exercise.main(["new", str(tmp_path / "mine"), "--concept", "clipped_cross_entropy"])
    out = capsys.readouterr().out
    assert f"wrote {tmp_path / 'mine' / 'losses.py'}: clipped_cross_entropy" in out, out
    assert f"pytest --against={tmp_path / 'mine'}" in out, out
    text = (tmp_path / "mine" / "losses.py").read_text()
    assert "def clipped_cross_entropy(" in text and "p. 78" in text and "raise NotImplementedError" in text, text
    (tmp_path / "mine" / "losses.py").write_text("# mine\n")
    exercise.main(["new", str(tmp_path / "mine"), "--concept", "clipped_cross_entropy"])
    assert "kept" in capsys.readouterr().err and (tmp_path / "mine" / "losses.py").read_text() == "# mine\n"
    with pytest.raises(SystemExit) as e:
        exercise.main(["new", str(tmp_path / "other"), "--concept", "sofmax"])
    assert e.value.code == 2 and "no function sofmax" in capsys.readouterr().err


# --- the substitution leaves tfref as it was ----------------------------------------------------------

def test_grading_substitutes_for_the_session_only(tmp_path):
    """Loading, planning and substituting a solution, then restoring: tfimpl's modules, the catalog and
    a test module's names are what they were, and no module under tfimpl's or reference's names
    was replaced (the ones the contract imports are tfref's own files)."""
    named = types.ModuleType("a_test_module", "names a test module binds: tfimpl's module and one of its functions")
    named.T, named.softmax, named.tanh = tfimpl.activations, tfimpl.activations.softmax, tfimpl.activations.tanh
    modules = {k: v for k, v in sys.modules.items() if k.split(".")[0] in ("tfimpl", "reference")}
    before = {k: dict(vars(v)) for k, v in modules.items()}
    catalog, namespace = dict(BY_NAME), dict(vars(named))
    p = grader.plan(grader.load(LEARNERS / "mistakes"))
    restore = grader.substitute(p, [named])
    assert named.T is not tfimpl.activations and named.T.softmax.learner_function.__module__ == "tfref_against.activations"
    assert named.T.log_softmax is tfimpl.activations.log_softmax  # not written: tfimpl's
    assert named.softmax is named.T.softmax and named.tanh is tfimpl.activations.tanh  # tanh: not written
    assert BY_NAME["softmax"] is not catalog["softmax"] and BY_NAME["log_softmax"] is catalog["log_softmax"]
    assert tfimpl.activations.softmax is before["tfimpl.activations"]["softmax"]
    restore()
    assert dict(BY_NAME) == catalog and dict(vars(named)) == namespace
    after = {k: v for k, v in sys.modules.items() if k.split(".")[0] in ("tfimpl", "reference")}
    assert all(after[k] is modules[k] for k in modules)
    for k in after.keys() - modules.keys():  # tfref's own modules the contract imported, from their own files
        assert Path(after[k].__file__).resolve() == ROOT.joinpath(*k.split(".")).with_suffix(".py"), k
    assert all(vars(modules[k])[n] is v for k, values in before.items() for n, v in values.items())


# --- the hints table ---------------------------------------------------------------------------------

@pytest.mark.parametrize("hint", hints.HINTS, ids=lambda h: h.id)
def test_each_hint_names_a_function_of_the_contract_and_a_claim_a_test_answers(hint):
    """A hint is for a contract function (or any); its source is a test carrying a claim marker, or a
    pitfall of the README's list."""
    if hint.function != "*":
        module, name = hint.function.split(".")
        assert name in grader.contract(module), hint.function
    kind, _, where = hint.source.partition(" ")
    if kind == "claim":
        path, _, test = where.partition("::")
        facts = {f.test: f for f in mentions.named_facts(ROOT / path, path)}
        assert where in facts and facts[where].claim is not None, f"{hint.id}: {where} carries no claim marker"
    else:
        assert kind == "pitfall" and f"**{where}**" in (ROOT / "README.md").read_text(), hint.source
