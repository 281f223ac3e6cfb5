"""A per-test backstop: a test that never ends (a TensorFlow queue, collective or child process
that waits forever) ends its process instead of the whole run's time.

After SECONDS of one test (setup, call and teardown), a watchdog thread names the test and writes
every thread's stack to the run's real stderr (pytest's capture suspended first, so the lines are
not swallowed with the test's output), then ends the process with exit code 70. Under pytest-xdist
the controller reports that test as failed ("worker ... crashed while running ...") and starts a new
worker for the rest; without xdist the run stops there. If the hung code holds the GIL, the thread
cannot run: faulthandler's own watchdog, which needs no GIL, dumps the stacks GRACE seconds later
and ends the process the same way.

The longest test here takes about 40 s on 2 cores when nothing else runs, and 150 s when a
machine's load is 7 (test_bench_flags' child runs and test_parallel's children, both in their
module fixtures' setup: docs/profile.md); SECONDS leaves room for a slower or busier machine."""
import faulthandler
import os
import sys
import threading

SECONDS = 600
GRACE = 60
EXIT_CODE = 70


class Watchdog:
    """start(nodeid) before a test, cancel() after it; ``capture`` is pytest's capture manager (or
    None); seconds <= 0 turns it off."""

    def __init__(self, capture=None, seconds=SECONDS, grace=GRACE):
        self.capture, self.seconds, self.grace, self.timer = capture, seconds, grace, None

    def start(self, nodeid):
        self.cancel()
        if self.seconds <= 0:
            return
        self.timer = threading.Timer(self.seconds, self._fire, args=(nodeid,))
        self.timer.daemon = True
        self.timer.start()
        faulthandler.dump_traceback_later(self.seconds + self.grace, exit=True)

    def cancel(self):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        faulthandler.cancel_dump_traceback_later()

    def _fire(self, nodeid):
        if self.capture is not None:
            try:
                self.capture.suspend_global_capture(in_=False)
            except Exception:  # noqa: BLE001 (the stacks matter more than a clean suspend)
                pass
        sys.stderr.write(f"\nbackstop: {nodeid} ran over {self.seconds} s; every thread's stack follows, "
                         f"then this process (pid {os.getpid()}) ends\n")
        sys.stderr.flush()
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        sys.stderr.flush()
        os._exit(EXIT_CODE)
