"""Probes of TensorFlow behaviour that can kill the process run in a child process,
so that an abort or a segfault is an outcome a test states, not a dead test runner.

    outcome = probe(CODE, TF_ENABLE_ONEDNN_OPTS="1")
    assert outcome == "abort", outcome.detail

The child runs ``CODE`` after ``import numpy as np, tensorflow as tf``; whatever it
prints last on stdout is the outcome. A child killed by a signal gives its name
("abort", "segfault", ...); a Python exception gives "raised <ExceptionType>".
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

PRELUDE = """\
import os, numpy as np
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf
"""


_SIGNALS = {signal.SIGABRT: "abort", signal.SIGSEGV: "segfault", signal.SIGBUS: "bus error",
            signal.SIGFPE: "floating-point exception", signal.SIGILL: "illegal instruction"}


class Outcome(str):
    """The probe's outcome as a string, with the child's output for failure messages."""
    detail: str


def probe(code, timeout=120, **env):
    """Run ``code`` in a fresh Python with ``env`` added to this process's environment."""
    child_env = dict(os.environ, **env)
    proc = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=timeout, env=child_env)
    if proc.returncode < 0:
        value = _SIGNALS.get(-proc.returncode, signal.Signals(-proc.returncode).name.lower())
    elif proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1:] or ["?"]
        value = f"raised {last[0].split(':')[0]}"
    else:
        value = (proc.stdout.strip().splitlines() or [""])[-1]
    out = Outcome(value)
    out.detail = (f"probe ({env or 'inherited environment'}) exited {proc.returncode}: {value}\n"
                  f"  stdout: {proc.stdout.strip()[-500:]}\n  stderr: {proc.stderr.strip()[-1500:]}")
    return out
