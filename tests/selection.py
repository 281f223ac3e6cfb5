"""Which tests check a chapter of the book: `pytest --chapter 4.2` (also "4", "ch7.2") keeps these.

A test is in chapter C (tests/chapters.py: C's entries, its sections, and the modules they check,
primary or "also") when any of these holds:

    - it is a case of a catalog concept (a ``concept`` parameter, or a bench case's ``name``) whose
      reference module is one of C's modules (``concept.ref.__module__``), or a case of one of C's
      modules (a ``module`` parameter: tests/test_api.py's contract cases);
    - its file is tests/test_<module>.py or bench/bench_<module>.py of one of C's modules, or
      test_<module>_<topic>.py (tests/test_rnn_bptt.py is rnn's);
    - it answers a claim (the claim marker) whose ``where`` names one of C's entries
      (chapters.claimed: "ch4.2.1" is in 4 and 4.2; "ch10", the first edition's GPU chapter, is in 12).
      A page claim ("p78") goes with its test's file: the chapter map knows no pages.

The core of the --chapter option: conftest.py asks ``in_chapter`` of each collected test.
"""
from __future__ import annotations

from pathlib import PurePosixPath

from tests import chapters
from tests.catalog import BY_NAME



def module_of(concept):
    """The module (reference/ and tfimpl/ name) a catalog concept comes from: its reference's."""
    return concept.ref.__module__.rsplit(".", 1)[-1]


def check(chapter):
    """``chapter`` normalised ("ch4.2" -> "4.2"); ValueError naming the known ones if the map has no such chapter."""
    chapters.chapters(chapter)
    return chapters.normalise(chapter)


def in_chapter(chapter, path, params=None, where=None):
    """True if the test in file ``path`` (relative to the repository: "tests/test_losses.py"), with
    parametrization ``params`` (name -> value) and claim ``where`` (None: no claim), checks ``chapter``."""
    entries = chapters.chapters(chapter)
    modules = chapters.modules_of(chapter)
    stem = PurePosixPath(path).stem
    for prefix in ("test_", "bench_"):
        if stem.startswith(prefix) and any(stem[len(prefix):] == m or stem[len(prefix):].startswith(m + "_")
                                           for m in modules):
            return True
    params = params or {}
    if params.get("module") in modules:
        return True
    for name in ("concept", "name") if stem.startswith("bench_") else ("concept",):
        value = params.get(name)
        if isinstance(value, str) and value in BY_NAME and module_of(BY_NAME[value]) in modules:
            return True
    return where is not None and any(c in entries for c in chapters.claimed(where))
