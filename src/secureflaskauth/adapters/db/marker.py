"""The revocation marker: a file in the var directory that each revocation replaces,
so that the other processes of the machine read the revoked sessions again at once.
A process compares the file's identity at each check: one stat call, no query."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import time
from pathlib import Path

log = logging.getLogger("secureflaskauth.revocations")
# A marker that could not be written is tried again at most this often (seconds).
SIGNAL_RETRY_SECONDS = 1.0

MarkerState = tuple[int, int] | None


class ChangeMarker:
    """``max_age``: how soon the other processes read the table anyway (for the log)."""

    def __init__(self, path: Path, *, max_age: float) -> None:
        self._path = path
        self._max_age = max_age
        self._retry_due: float | None = None  # monotonic time of the next retry
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("revocation marker directory unavailable: %s", _why(exc))

    def signal(self) -> None:
        """Tell the other processes to reload: a new inode, seen at once."""
        tmp = self._path.with_name(f".{self._path.name}.{secrets.token_hex(4)}")
        try:
            tmp.write_text(secrets.token_hex(8), encoding="ascii")
            os.replace(tmp, self._path)
        except OSError as exc:
            self._retry_due = time.monotonic() + SIGNAL_RETRY_SECONDS
            log.warning(
                "revocation marker %s not written (%s): other processes refuse the "
                "revoked sessions within %.0f s instead of at once; retrying",
                self._path,
                _why(exc),
                self._max_age,
            )
            with contextlib.suppress(OSError):  # a read-only directory refuses this too
                tmp.unlink(missing_ok=True)
            return
        self._retry_due = None

    def retry_if_due(self) -> None:
        """Write again a marker that could not be written, once the retry is due."""
        if self.retry_due():
            self.signal()

    def retry_due(self) -> bool:
        """A marker that could not be written is due to be written again."""
        return self._retry_due is not None and time.monotonic() >= self._retry_due

    def state(self) -> MarkerState:
        """The file's identity now (None: no file)."""
        try:
            st = os.stat(self._path)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns)


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
