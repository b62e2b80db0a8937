"""The handler a worker leaves for uvicorn to put back and call once it has stopped on
a SIGINT (server/worker.py): it ends the process there and then, with status 0,
whatever threads are still running, as the signal's default action did, but
without dying of the signal."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

CHILD = textwrap.dedent(
    """
    import signal, sys, threading, time
    from secureflaskauth.server import worker

    # A thread still running a request, as one past the graceful timeout would be:
    # not a daemon, so a normal exit of the interpreter would wait for it.
    threading.Thread(target=time.sleep, args=(60,)).start()
    signal.signal(signal.SIGINT, worker._stopped)
    print("line left in the buffer", end="")
    signal.raise_signal(signal.SIGINT)  # what uvicorn does once it has stopped
    time.sleep(60)
    """
)


def test_the_sigint_handler_ends_the_worker_at_once_with_status_0() -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr  # not -2: it did not die of the signal
    assert time.monotonic() - started < 20  # did not wait for the thread's 60 s
    assert done.stdout == "line left in the buffer"  # flushed before the exit
