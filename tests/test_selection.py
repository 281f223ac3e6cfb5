"""`pytest --chapter N`: a reader thinks in chapters; the option keeps one chapter's tests, read from
the one chapter -> module map (tests/chapters.py) by tests/selection.py."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import chapters, selection

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("chapter,path,params,where,expected", [
    # catalog cases go by their concept's reference module: softmax is activations', which 4.2.1 also checks
    ("4.2", "tests/test_catalog.py", {"concept": "softmax", "dtype": "float32", "mode": "xla"}, None, True),
    ("4.2", "tests/test_catalog.py", {"concept": "lstm", "dtype": "float32", "mode": "xla"}, None, False),
    ("8", "tests/test_catalog.py", {"concept": "lstm_cell", "dtype": "float16", "mode": "eager"}, None, True),
    ("ch7.2", "tests/test_catalog.py", {"concept": "resize", "case": "x"}, None, True),
    ("4", "tests/test_harness.py", {"concept": "exponential_decay"}, None, True),  # 4.4.1 is in 4
    # the modules' own test and bench files, and a topic of a module's (test_rnn_bptt.py is rnn's)
    ("4.2.1", "tests/test_losses.py", {}, None, True),
    ("8", "tests/test_rnn_bptt.py", {}, None, True),
    ("8", "bench/bench_rnn.py", {"model": "lstm"}, None, True),
    ("4.2", "tests/test_schedules.py", {}, None, False),
    ("4.2", "tests/test_harness.py", {}, None, False),
    # bench cases by the concept they time; contract cases by their module
    ("4.2", "bench/bench_catalog.py", {"name": "softmax", "impl": "xla"}, None, True),
    ("4.2", "bench/bench_catalog.py", {"name": "lstm", "impl": "xla"}, None, False),
    ("4.2", "tests/test_api.py", {"module": "losses", "name": "mean_squared_error"}, None, True),
    ("4.2", "tests/test_api.py", {"module": "rnn", "name": "lstm"}, None, False),
    # claims by the section they name, the first edition's GPU chapter 10 being 12; pages by their file
    ("4.2", "tests/test_snippets.py", {}, "ch4.2.1", True),
    ("3", "tests/test_snippets.py", {}, "ch3.3", True),
    ("12.1", "tests/test_snippets.py", {}, "ch10", True),
    ("4.2", "tests/test_snippets.py", {}, "p78", False),
    ("4.2", "tests/test_snippets.py", {}, "snippet", False),
])
def test_in_chapter_keeps_the_chapters_concepts_files_and_claims(chapter, path, params, where, expected):
    assert selection.in_chapter(chapter, path, params, where) is expected, (chapter, path, params, where)


def test_claimed_reads_sections_whole_chapters_and_first_edition_numbers():
    def numbers(where):
        return [c.number for c in chapters.claimed(where)]
    assert numbers("ch4.2") == ["4.2.1", "4.2.2"]
    assert numbers("ch4.2.1") == ["4.2.1"]
    assert numbers("ch8.2") == ["8"]  # the map keeps chapter 8 whole
    assert numbers("ch10") == ["12.1", "12.3", "12.4"]  # the first edition's number: no chapter 10 in the second
    assert numbers("ch12.3") == ["12.3"]
    assert numbers("p78") == numbers("snippet") == numbers("guide") == []


def test_an_unknown_chapter_is_one_error_naming_the_known_ones():
    assert selection.check("ch4.2.") == "4.2"
    with pytest.raises(ValueError, match=r"no chapter '99' in tests/chapters.py; the chapters are 3, 4.1, 4.2.1"):
        selection.check("99")


def test_pytest_chapter_collects_that_chapters_tests_only():
    """The option as a reader types it, in a child pytest over two files: chapter 4.2's keeps
    test_losses.py and drops test_schedules.py (4.4.1)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0", "-p", "no:cacheprovider",
                          "--chapter", "ch4.2", "tests/test_losses.py", "tests/test_schedules.py"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    ids = [line for line in out.stdout.splitlines() if "::" in line]
    assert ids and all(i.startswith("tests/test_losses.py::") for i in ids), out.stdout[-2000:]
    assert " deselected" in out.stdout, out.stdout[-2000:]
