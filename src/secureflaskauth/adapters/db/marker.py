"""The revocation marker: a small file in the var directory holding a random value that
each revocation overwrites in place, so that the other processes of the machine read
the revoked sessions again at once.

Each process keeps the file open and a check reads its SIZE bytes with one ``pread``
(no path to look up, nothing raised when all is well): it sees a revocation from the
moment its writer's write returned, before the writer's answer leaves. Every protected
request makes a check, so its cost is paid on each (README, "Performance"). The file
is read, not mapped into memory: a mapped file that someone empties (``cp`` over it,
``: >``) kills each process that reads it next with SIGBUS, which Python cannot catch.

Whatever happens to the file, a check never trusts a copy older than ``max_age`` (the
caller's rule), so the marker can only make the other processes learn sooner:

- it is replaced, deleted, or put back from a copy: every process compares the path's
  inode with its open file's every REOPEN_SECONDS and opens the new file, whose value
  differs (the copy is read again), unless it is the very value last read (then the
  table is read within ``max_age``); a file emptied or cut short reads short, which
  is also a change, and the next write makes it whole;
- it cannot be written in place (another user's file, say one an administration
  command run as root made; a symbolic or hard link, a FIFO; a full copy-on-write
  file system, where an overwrite needs a new block): the writer replaces it with a
  new file of its own, which the others open within REOPEN_SECONDS. A process that
  cannot open it for reading (another user's, a link, a FIFO, a directory) replaces
  it the same way at its next comparison, revocation or not, with a warning;
- neither can be done (a read-only or full disk): the writer logs it and tries again
  at most every SIGNAL_RETRY_SECONDS; the others read the table within ``max_age``.

Files are opened without following symbolic links and without blocking (a FIFO put
in its place would otherwise hold the open forever), and only a regular file is
read. Overwritten in place rather than replaced at each revocation: a full disk does
not stop an overwrite once the file exists, and a check costs a ``pread`` of an open
file rather than a ``stat`` of a path. No library does this; ``os.pread`` and
``os.pwrite`` are the standard library's own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
import threading
import time
from pathlib import Path

log = logging.getLogger("secureflaskauth.revocations")
# A marker that could not be written is tried again at most this often (seconds).
SIGNAL_RETRY_SECONDS = 1.0
# Each process checks this often that its open file is still the path's.
REOPEN_SECONDS = 1.0
# The value's length: a random value each write, so two writes never leave it alike.
SIZE = 16
_FLAGS = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK

# The marker's value as a process last read it (None: no file to read).
MarkerState = bytes | None


class ChangeMarker:
    """``max_age``: how soon the other processes read the table anyway (for the log)."""

    def __init__(self, path: Path, *, max_age: float) -> None:
        self._path = path
        self._max_age = max_age
        self._retry_due: float | None = None  # monotonic time of the next retry
        self._lock = threading.Lock()  # one reopening at a time
        self._fd: int | None = None
        self._inode: tuple[int, int] | None = None  # (st_dev, st_ino) of the open file
        # The file open before the last reopening: closed at the next one, at least
        # REOPEN_SECONDS later, so that a check that took it just before a reopening
        # still reads it rather than whatever file reuses its number.
        self._previous: int | None = None
        self._reopen_due = 0.0  # monotonic time of the next comparison with the path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("revocation marker directory unavailable: %s", _why(exc))
        self._reopen()

    def signal(self) -> None:
        """Tell the other processes to reload: a new value, written in place (or, where
        that cannot be done, in a new file put in the old one's place)."""
        value = secrets.token_bytes(SIZE)
        try:
            self._write(value)
        except OSError as in_place:
            try:
                self._replace(value)
            except OSError:
                self._failed(in_place)
                return
        self._retry_due = None

    def _failed(self, exc: OSError) -> None:
        self._retry_due = time.monotonic() + SIGNAL_RETRY_SECONDS
        log.warning(
            "revocation marker %s not written (%s): other processes refuse the "
            "revoked sessions within %.0f s instead of at once; retrying",
            self._path,
            _why(exc),
            self._max_age,
        )

    def retry_if_due(self) -> None:
        """Write again a marker that could not be written, once the retry is due."""
        if self.retry_due():
            self.signal()

    def retry_due(self) -> bool:
        """A marker that could not be written is due to be written again."""
        return self._retry_due is not None and time.monotonic() >= self._retry_due

    def state(self) -> MarkerState:
        """The marker's value now (None: no file to read)."""
        if time.monotonic() >= self._reopen_due:
            self._reopen()
        fd = self._fd
        if fd is None:
            return None
        try:
            return os.pread(fd, SIZE, 0)
        except OSError:
            return None

    def _write(self, value: bytes) -> None:
        # Opened by path each time: a file replaced since is the one written.
        fd, found = self._open_regular(os.O_WRONLY | os.O_CREAT)
        try:
            if found.st_nlink != 1:
                # A hard link would have the write land in another file as well.
                raise OSError(f"{self._path.name} is not a file of its own")
            if os.pwrite(fd, value, 0) != SIZE:
                raise OSError("short write")
        finally:
            os.close(fd)

    def _replace(self, value: bytes) -> None:
        """A new file of this process's own in the path's place (what another user made,
        a link, a FIFO: replaced, not followed)."""
        tmp = self._path.with_name(f".{self._path.name}.{secrets.token_hex(4)}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _FLAGS, 0o600)
            try:
                if os.write(fd, value) != SIZE:
                    raise OSError("short write")
            finally:
                os.close(fd)
            os.replace(tmp, self._path)
        except OSError:
            with contextlib.suppress(OSError):  # a read-only directory refuses this too
                tmp.unlink(missing_ok=True)
            raise

    def _reopen(self) -> None:
        """Keep the path's file open for reading: the one already open while it still
        is the path's; else the new one, made first when there is none (or none this
        process may read)."""
        with self._lock:
            now = time.monotonic()
            if now < self._reopen_due:  # another check just did it
                return
            self._reopen_due = now + REOPEN_SECONDS
            try:
                found = os.stat(self._path, follow_symlinks=False)
            except OSError:
                found = None
            if found is not None and (found.st_dev, found.st_ino) == self._inode:
                return
            try:
                fd, st = self._open()
            except OSError:
                fd = None
            self._close(self._previous)
            self._previous, self._fd, self._inode = self._fd, None, None
            if fd is not None:
                self._fd, self._inode = fd, (st.st_dev, st.st_ino)

    def _open(self) -> tuple[int, os.stat_result]:
        try:
            return self._open_regular(os.O_RDONLY)
        except FileNotFoundError:
            pass
        except OSError as exc:
            # Another user's, a link, a FIFO, a directory: one of this process's own.
            log.warning(
                "revocation marker %s could not be read (%s): replacing it", self._path, _why(exc)
            )
        self._replace(secrets.token_bytes(SIZE))
        return self._open_regular(os.O_RDONLY)

    def _open_regular(self, flags: int) -> tuple[int, os.stat_result]:
        """The path opened with ``flags`` (no link followed, no wait), and its status;
        OSError when it is not a regular file."""
        fd = os.open(self._path, flags | _FLAGS, 0o600)
        try:
            found = os.fstat(fd)
            if not stat.S_ISREG(found.st_mode):
                raise OSError(f"{self._path.name} is not a regular file")
        except BaseException:
            os.close(fd)
            raise
        return fd, found

    def __del__(self) -> None:
        # Each app of a process has its marker (the tests build thousands of apps).
        self._close(getattr(self, "_fd", None))
        self._close(getattr(self, "_previous", None))

    @staticmethod
    def _close(fd: int | None) -> None:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__
