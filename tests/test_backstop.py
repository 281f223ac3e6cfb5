"""The per-test backstop (tests/backstop.py), in child processes: a test that sleeps past its
limit ends its process with the test named and every thread's stack on stderr; code that holds the
GIL (a catastrophic regular expression, which the watchdog thread cannot interrupt) is ended by
faulthandler's watchdog the grace period later; a test that ends in time leaves no trace. About 4 s."""
import os
import subprocess
import sys
import time

from tests import backstop

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = """
import re, sys, time
from tests import backstop
dog = backstop.Watchdog(seconds={seconds}, grace={grace})
dog.start("tests/test_x.py::test_{name}")
{body}
dog.cancel()
print("ended in time")
"""


def run_child(name, body, seconds=1.0, grace=1.0):
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", CHILD.format(seconds=seconds, grace=grace, name=name, body=body)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")))
    return proc, time.monotonic() - start


def test_a_test_that_sleeps_past_the_limit_ends_its_process_naming_the_test_with_every_stack():
    proc, took = run_child("sleeps", "time.sleep(30)")
    assert proc.returncode == backstop.EXIT_CODE, (proc.returncode, proc.stderr[-2000:])
    assert "backstop: tests/test_x.py::test_sleeps ran over 1.0 s" in proc.stderr
    assert 'line 6 in <module>' in proc.stderr and "Thread 0x" in proc.stderr, proc.stderr[-2000:]
    assert took < 20, took


def test_code_holding_the_gil_is_ended_by_faulthandler_after_the_grace_period():
    proc, took = run_child("holds_the_gil", 're.match(r"(a+)+$", "a" * 40 + "b")', grace=1.0)
    assert proc.returncode != 0 and "backstop:" not in proc.stderr, (proc.returncode, proc.stderr[-2000:])
    assert "Timeout (0:00:02)!" in proc.stderr and "line 6 in <module>" in proc.stderr, proc.stderr[-2000:]
    assert took < 20, took


def test_a_test_that_ends_in_time_leaves_no_trace():
    proc, _ = run_child("quick", "time.sleep(0.1)", seconds=3.0)
    assert proc.returncode == 0 and proc.stdout.strip() == "ended in time" and proc.stderr == "", proc.stderr
