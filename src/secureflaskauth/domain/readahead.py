"""A read started before it falls due, by a thread of its own.

The copies a process keeps in memory (the signing keys, the revoked sessions) are read
again every few seconds. A check that finds its copy due must read it before it
answers; on the server's event loop it cannot (api/inline.py), so its request goes to
a thread, which under load waits for the interpreter lock and makes the event loop
wait for it in turn. Started ``AHEAD_SECONDS`` before the copy falls due, the read is
done by the time it would have been: the checks find their copy current and answer
from memory.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("secureflaskauth.readahead")

# How long before a copy falls due its next read starts (so a copy read every 2 s is
# read every 1.5 s instead). Well above a read's duration, below the shortest period.
AHEAD_SECONDS = 0.5
# A read that failed or did not run is not started again sooner than this.
RETRY_SECONDS = 1.0


class ReadAhead:
    """Runs ``read`` in a daemon thread named ``name`` when ``start`` is called: one at
    a time, at most once per RETRY_SECONDS. Its errors are logged; the copy it did not
    read simply falls due, and the checks then read it the usual way."""

    def __init__(self, name: str, read: Callable[[], None]) -> None:
        self._name = name
        self._read = read
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._not_before = 0.0  # monotonic

    def start(self) -> None:
        with self._lock:
            # After a fork the thread is gone (is_alive is False in the child).
            if time.monotonic() < self._not_before or (
                self._thread is not None and self._thread.is_alive()
            ):
                return
            self._not_before = time.monotonic() + RETRY_SECONDS
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            self._read()
        except Exception as exc:  # a thread's error would otherwise go unlogged
            # The type only: a driver's message may quote a statement or an address.
            log.warning(
                "%s: the read ahead failed (%s); the checks read it when it falls due",
                self._name,
                type(exc).__name__,
            )
