"""Where the time of a run goes: the profile behind `pytest --profile-time`.

Per test, pytest's own reports give its setup and call time. Inside them, the harness
(tests/harness.py, ``run``) notes each call of a TensorFlow function it makes, by mode, as

    compiling  the first call of a compiled function: tracing the Python function into a graph
               (tf.function, XLA) or building the TF1 graph and its Session (graph mode), plus
               the first run; under XLA the first call for each new concrete input shape (XLA
               on the CPU compiles once per shape, even behind a shape-generic signature)
    running    every other call: the compiled function (or, eagerly, each op) doing its work

and what is left of a test's time is its own Python: drawing the sample (hypothesis), the
float64 reference, the error model, the comparison. The harness also notes every input a
catalog cell (concept x dtype x mode) is checked on, hashed with its shape and values, so the
profile says how many distinct inputs, and how many distinct shapes, each cell saw.

Each xdist worker attaches its notes to its test reports (which cross to the controller) and
its CPU times to its worker output; the controller writes build/profile.md and
build/profile.json. ``python -m tests.timing BEFORE.json AFTER.json`` prints what changed.

This module knows nothing of pytest's hooks: conftest.py calls ``begin``, ``take``, ``add``,
``write``; the harness calls ``note_call`` and ``note_input``.
"""
from __future__ import annotations

import collections
import hashlib
import json
import os
import resource
import sys
import time

import numpy as np

# --- inside a process: what the harness notes -------------------------------------------------

_COMPILED = set()
"""(id of a compiled function, signature) already called in this process: the harness's cache
keeps every compiled function alive, so an id is never reused for another."""
ON = []
"""Non-empty while a profile is taken (``enable``): otherwise the harness's notes cost nothing."""
_NOTES: dict = {}
"""This process's notes for the test phase under way: mode -> [compile s, run s, compiles, calls],
and "inputs" -> [[concept, dtype, mode, input hash, shape hash], ...]."""


def enable():
    ON[:] = [True]


def note_call(call, mode, arrays, seconds):
    """The harness ran ``call`` (a function of ``mode`` from harness.runner) on ``arrays`` in
    ``seconds``: a compile if it is the first call of that function (under XLA: of that function
    on these concrete shapes and dtypes), a run otherwise. Eager calls are runs."""
    if not ON:
        return
    if mode == "eager":
        first = False
    else:
        key = (id(call), tuple((np.shape(a), np.asarray(a).dtype.str) for a in arrays) if mode == "xla" else ())
        first = call is None or key not in _COMPILED  # None: building the function raised (bad input)
        _COMPILED.add(key)
    slot = _NOTES.setdefault(mode, [0.0, 0.0, 0, 0])
    slot[0 if first else 1] += seconds
    slot[2 if first else 3] += 1


def note_input(concept, dtype, mode, args, kwargs):
    """A catalog cell was checked on this input (already cast to ``dtype``; dy not included)."""
    if not ON:
        return
    h, shapes = hashlib.sha1(), hashlib.sha1()
    for a in _flat(args):
        if isinstance(a, np.ndarray) or np.isscalar(a):
            a = np.asarray(a)
            shapes.update(f"{a.shape}{a.dtype.str};".encode())
            h.update(f"{a.shape}{a.dtype.str};".encode())
            h.update(np.ascontiguousarray(a).tobytes())
        else:
            h.update(repr(a).encode())
    h.update(repr(sorted(kwargs.items())).encode())
    _NOTES.setdefault("inputs", []).append([concept, dtype, mode, h.hexdigest()[:16], shapes.hexdigest()[:12]])


def _flat(args):
    for a in args:
        if isinstance(a, (tuple, list)):
            yield from _flat(a)
        else:
            yield a


def take():
    """This process's notes since the last take(), reset: one test phase's."""
    out = dict(_NOTES)
    _NOTES.clear()
    return out


def cpu_seconds(children=True):
    """User + system CPU time of this process and, with ``children``, of its finished child processes
    (the probes', the child pytest runs')."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + (kids.ru_utime + kids.ru_stime if children else 0.0)


# --- xdist: which tests share a worker ---------------------------------------------------------

def work_unit(nodeid):
    """The unit of work an xdist worker takes whole (conftest.py's scheduler): in the catalog, the tests of one
    parameter id together, so a cell's tests (test_agreement, test_edge_cases, test_deterministic and
    test_gradient_matches_reference of one concept x dtype x mode) run in one process and share its compiled
    functions; any other file's tests together, so its module fixtures (child processes, clusters) run once."""
    path, _, rest = nodeid.partition("::")
    if path.endswith("tests/test_catalog.py") and "[" in rest:
        return "catalog[" + rest.split("[", 1)[1]
    return path


# --- on the controller: the run's records -----------------------------------------------------

class Profile:
    """Every test report of a run, and every process's CPU times."""

    def __init__(self):
        self.tests = {}  # nodeid -> {"setup": s, "call": s, "teardown": s, "outcome": ..., "params": {...}, "modes": {...}}
        self.inputs = collections.defaultdict(set)  # (concept, dtype, mode) -> input hashes
        self.shapes = collections.defaultdict(set)  # (concept, dtype, mode) -> shape hashes
        self.processes = []  # {"startup": s, "collection": s, "total": s} CPU seconds per process
        self.start = time.time()
        self.wall = None

    def add(self, nodeid, when, duration, outcome, notes, params=None):
        t = self.tests.setdefault(nodeid, {"setup": 0.0, "call": 0.0, "teardown": 0.0, "outcome": "passed",
                                           "params": {}, "modes": {}})
        t[when] += duration
        if outcome != "passed" and t["outcome"] == "passed" or when == "call":
            t["outcome"] = outcome
        if params:
            t["params"] = params
        for mode, (c, r, nc, nr) in ((m, v) for m, v in notes.items() if m != "inputs"):
            slot = t["modes"].setdefault(mode, [0.0, 0.0, 0, 0])
            for i, v in enumerate((c, r, nc, nr)):
                slot[i] += v
        for concept, dtype, mode, h, s in notes.get("inputs", ()):
            self.inputs[concept, dtype, mode].add(h)
            self.shapes[concept, dtype, mode].add(s)

    def add_process(self, cpu):
        self.processes.append(cpu)

    def finish(self):
        self.wall = time.time() - self.start

    # --- views ---

    def rows(self, key):
        """Sum the tests by ``key(nodeid, test)`` (None: left out): group -> totals."""
        out = collections.defaultdict(lambda: dict(tests=0, setup=0.0, call=0.0, compile=0.0, run=0.0,
                                                   compiles=0, calls=0))
        for nodeid, t in self.tests.items():
            group = key(nodeid, t)
            if group is None:
                continue
            row = out[group]
            row["tests"] += 1
            row["setup"] += t["setup"] + t["teardown"]
            row["call"] += t["call"]
            for c, r, nc, nr in t["modes"].values():
                row["compile"] += c
                row["run"] += r
                row["compiles"] += nc
                row["calls"] += nr
        return dict(out)

    def by_mode(self, catalog_only=True):
        """(concept, mode) -> compile s, run s, compiles, calls, from the harness's notes; the mode is the
        one the harness ran in (a bad-input test runs all four)."""
        out = collections.defaultdict(lambda: [0.0, 0.0, 0, 0])
        for nodeid, t in self.tests.items():
            if catalog_only and not is_catalog(nodeid):
                continue
            concept = t["params"].get("concept", "-")
            for mode, vals in t["modes"].items():
                for i, v in enumerate(vals):
                    out[concept, mode][i] += v
        return dict(out)

    def to_json(self, machine_lines=(), command=""):
        return dict(command=command, machine=list(machine_lines), wall=self.wall, processes=self.processes,
                    tests=self.tests,
                    cells={"|".join(k): [len(v), len(self.shapes[k])] for k, v in sorted(self.inputs.items())})


def is_catalog(nodeid):
    return nodeid.startswith("tests/test_catalog.py::")


def test_name(nodeid):
    return nodeid.split("::", 1)[-1].split("[", 1)[0]


def file_of(nodeid):
    return nodeid.split("::", 1)[0]


def load(path):
    """A profile written by ``write`` (its JSON), as a Profile."""
    with open(path) as f:
        data = json.load(f)
    p = Profile()
    p.tests, p.wall, p.processes = data["tests"], data["wall"], data["processes"]
    for key, (n_inputs, n_shapes) in data["cells"].items():
        k = tuple(key.split("|"))
        p.inputs[k] = set(range(n_inputs))
        p.shapes[k] = set(range(n_shapes))
    p.command, p.machine = data.get("command", ""), data.get("machine", [])
    return p


# --- the tables ----------------------------------------------------------------------------------

def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if i else "---" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _s(x):
    return f"{x:,.1f}"


def _time_rows(groups, limit=None):
    """Rows: group, tests, setup, call, compiling, running, the rest, total; the costliest first."""
    ordered = sorted(groups.items(), key=lambda kv: -(kv[1]["setup"] + kv[1]["call"]))
    rows = []
    for name, r in ordered[:limit]:
        rest = r["call"] - r["compile"] - r["run"]
        rows.append((name, r["tests"], _s(r["setup"]), _s(r["call"]), _s(r["compile"]), r["compiles"],
                     _s(r["run"]), _s(rest), _s(r["setup"] + r["call"])))
    return rows


TIME_HEADER = ("", "tests", "setup s", "call s", "compiling s", "compiles", "running s", "rest of the call s", "total s")


def markdown(p: Profile, command="", machine_lines=()):
    """The profile as a page: the run, then time by file, by catalog test, by mode, by concept x mode,
    the slowest named tests, and the distinct inputs of each catalog cell."""
    total = sum(t["setup"] + t["call"] + t["teardown"] for t in p.tests.values())
    cpu = sum(x["total"] for x in p.processes)
    startup = sum(x["startup"] for x in p.processes)
    collection = sum(x["collection"] for x in p.processes)
    outcomes = collections.Counter(t["outcome"] for t in p.tests.values())
    out = ["# Where the time goes", "",
           f"Written by `{command or 'pytest --profile-time'}` (tests/timing.py): per test, pytest's setup and call "
           "time; inside the call, the harness's TensorFlow calls split into *compiling* (the first call of a "
           "compiled function: tracing, graph and Session building, and under XLA the first call per concrete "
           "shape, one run included) and *running* (every other call, eager ones included); the *rest* is the "
           "test's own Python: drawing samples, the float64 reference, the error model, the comparison.", ""]
    out += ["```", *machine_lines, "```", ""]
    out.append(f"- wall time: {_s(p.wall or 0)} s; tests: {len(p.tests):,} "
               f"({', '.join(f'{n:,} {k}' for k, n in sorted(outcomes.items()))})")
    out.append(f"- summed test time (setup + call + teardown, all workers): {_s(total)} s")
    out.append(f"- CPU time of the pytest processes (user + system, their child processes included): {_s(cpu)} s "
               f"in {len(p.processes)} processes, of which start-up (imports) {_s(startup)} s and collection "
               f"{_s(collection)} s")
    out += floor(p)
    out += ["", "## By file", "", _table(TIME_HEADER, _time_rows(p.rows(lambda n, t: file_of(n))))]
    out += ["", "## The catalog (tests/test_catalog.py) by test", "",
            _table(TIME_HEADER, _time_rows(p.rows(lambda n, t: test_name(n) if is_catalog(n) else None)))]
    modes = p.rows(lambda n, t: t["params"].get("mode") if is_catalog(n) and "mode" in t["params"] else None)
    out += ["", "## The catalog by mode (tests with a mode parameter)", "", _table(TIME_HEADER, _time_rows(modes))]
    concepts = p.rows(lambda n, t: t["params"].get("concept") if is_catalog(n) else None)
    by_mode = p.by_mode()
    mode_names = ("eager", "function", "xla", "graph")
    rows = []
    for name, r in sorted(concepts.items(), key=lambda kv: -(kv[1]["setup"] + kv[1]["call"])):
        cells = []
        for m in mode_names:
            c, run, nc, _ = by_mode.get((name, m), (0.0, 0.0, 0, 0))
            cells.append(f"{c:.1f} / {run:.1f} ({nc})")
        rows.append((name, r["tests"], _s(r["setup"] + r["call"]), *cells, _s(r["call"] - r["compile"] - r["run"])))
    out += ["", "## The catalog by concept x mode", "",
            "Each mode's cell: compiling s / running s (compiles) inside the harness, summed over the concept's "
            "tests in that mode (a bad-input test runs all four modes; finite differences run eagerly).", "",
            _table(("concept", "tests", "total s", *mode_names, "rest s"), rows)]
    named = p.rows(lambda n, t: None if is_catalog(n) else n)
    out += ["", "## The slowest other tests", "", _table(TIME_HEADER, _time_rows(named, limit=20))]
    out += ["", "## Distinct inputs per catalog cell", "",
            "Per concept: over its dtype x mode cells, the fewest and the most distinct inputs (shapes and values, "
            "hashed after the cast to the dtype) that the checks of a cell saw, and the distinct shapes among them "
            "(each a compile under XLA).", ""]
    out.append(_table(("concept", "cells", "inputs: fewest", "most", "shapes: fewest", "most"), cell_rows(p)))
    return "\n".join(out) + "\n"


def floor(p: Profile):
    """What this run's compiles alone cost: the harness's compiling and running plus every process's
    start-up, spread evenly over the workers, is as fast as the run could go at its compile count, were
    drawing, the references, the error models, the named tests and their child processes free."""
    slots = [slot for t in p.tests.values() for slot in t["modes"].values()]
    compiling, running, compiles = (sum(s[i] for s in slots) for i in range(3))
    startup = sum(x["startup"] for x in p.processes)
    workers = max(1, len(p.processes) - 1)  # an xdist controller starts but runs no test
    low = (compiling + running + startup) / workers
    return ["", "## The floor at this compile count", "",
            f"The harness compiled {compiles:,} times in {_s(compiling)} s and ran for {_s(running)} s; the "
            f"{len(p.processes)} processes took {_s(startup)} s of CPU to start (imports). Spread evenly over "
            f"{workers} worker{'s' if workers > 1 else ''}, that alone is **{_s(low)} s** of wall time: no run of "
            "this selection is faster while it compiles what it compiles here, however cheap everything else "
            f"becomes (this run: {_s(p.wall or 0)} s)."]


def cell_rows(p):
    per = collections.defaultdict(list)
    for (concept, dtype, mode), hashes in p.inputs.items():
        per[concept].append((len(hashes), len(p.shapes[concept, dtype, mode])))
    return [(c, len(v), min(i for i, _ in v), max(i for i, _ in v), min(s for _, s in v), max(s for _, s in v))
            for c, v in sorted(per.items())]


def write(p: Profile, folder, command="", machine_lines=()):
    """build/profile.md and build/profile.json; returns their paths."""
    os.makedirs(folder, exist_ok=True)
    md, js = os.path.join(folder, "profile.md"), os.path.join(folder, "profile.json")
    with open(md, "w") as f:
        f.write(markdown(p, command, machine_lines))
    with open(js, "w") as f:
        json.dump(p.to_json(machine_lines, command), f)
    return md, js


def compare(before: Profile, after: Profile):
    """Markdown: summed time by file, before and after, and the distinct inputs per cell."""
    b_files = before.rows(lambda n, t: file_of(n))
    a_files = after.rows(lambda n, t: file_of(n))
    rows = []
    for name in sorted(set(b_files) | set(a_files), key=lambda n: -(b_files.get(n, {}).get("call", 0)
                                                                   + b_files.get(n, {}).get("setup", 0))):
        b, a = (x.get(name, {"setup": 0, "call": 0, "tests": 0}) for x in (b_files, a_files))
        rows.append((name, b["tests"], a["tests"], _s(b["setup"] + b["call"]), _s(a["setup"] + a["call"])))
    totals = [sum(t["setup"] + t["call"] + t["teardown"] for t in x.tests.values()) for x in (before, after)]
    cpu = [sum(x["total"] for x in y.processes) for y in (before, after)]
    rows.append(("**all**", len(before.tests), len(after.tests), _s(totals[0]), _s(totals[1])))
    out = [f"CPU time of the pytest processes: {_s(cpu[0])} s before, {_s(cpu[1])} s after; wall "
           f"{_s(before.wall or 0)} s before, {_s(after.wall or 0)} s after.", "",
           _table(("file", "tests before", "tests after", "summed s before", "summed s after"), rows), ""]
    b_cells, a_cells = dict(_cells(before)), dict(_cells(after))
    rows = []
    for c in sorted(set(b_cells) | set(a_cells)):
        (bi, bs), (ai, as_) = b_cells.get(c, (0, 0)), a_cells.get(c, (0, 0))
        rows.append((c, bi, ai, bs, as_))
    out += ["Distinct inputs (and shapes) of the catalog cell that saw the fewest, per concept:", "",
            _table(("concept", "inputs before", "inputs after", "shapes before", "shapes after"), rows)]
    return "\n".join(out) + "\n"


def _cells(p):
    for c, _, fewest, _, shapes, _ in cell_rows(p):
        yield c, (fewest, shapes)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m tests.timing BEFORE.json AFTER.json")
    print(compare(load(sys.argv[1]), load(sys.argv[2])))
