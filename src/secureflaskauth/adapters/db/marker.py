"""The revocation marker: a small file in the var directory holding a random value that
each revocation overwrites in place, so that the other processes of the machine read
the revoked sessions again at once.

Each process maps the file into its memory (mmap, shared): a process's write goes to
the page cache that every mapping of the file shares, so a check reads the value from
memory, with no system call, and sees a revocation from the moment its writer's write
returned (before the writer's answer leaves). Every protected request makes a check,
so a system call there is paid on each (README, "Performance").

Whatever happens to the file, a check never trusts a copy older than ``max_age`` (the
caller's rule), so the marker can only make the other processes learn sooner:

- the file cannot be created or written (a read-only directory, a disk full when it
  is made, or full on a copy-on-write file system, where an overwrite needs a new
  block): the writer logs it and tries again at most every SIGNAL_RETRY_SECONDS;
- the file cannot be mapped (a file system without shared mappings): each check
  reads it with ``pread`` instead, and the process tries to map it again every
  REMAP_SECONDS;
- it is replaced or deleted (a person, a copy of the var directory put back): every
  process compares the path's inode with its mapping's every REMAP_SECONDS, and maps
  the new file (whose value differs from the old one: the copy is read again);
- it is cut shorter than SIZE bytes by hand: reading a mapped page past the end of
  its file kills a process (SIGBUS); the server starts a new worker, which lengthens
  the file again. The service itself only ever writes its SIZE bytes in place.

Overwritten in place rather than replaced by a new file each time (whose inode each
check would compare with a ``stat``): the same "at once" without a system call a
check, and an overwrite needs no free block, so a full disk does not stop it once the
file exists. No library does this; ``mmap`` and ``os.pwrite`` are the standard
library's own.
"""

from __future__ import annotations

import logging
import mmap
import os
import secrets
import threading
import time
from pathlib import Path

log = logging.getLogger("secureflaskauth.revocations")
# A marker that could not be written is tried again at most this often (seconds).
SIGNAL_RETRY_SECONDS = 1.0
# Each process checks this often that its mapping is still the path's file.
REMAP_SECONDS = 1.0
# The value's length: a random value each write, so two writes never leave it alike.
SIZE = 16
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | _CLOEXEC | getattr(os, "O_NOFOLLOW", 0)

# The marker's value as a process last read it (None: no file mapped).
MarkerState = bytes | None


class ChangeMarker:
    """``max_age``: how soon the other processes read the table anyway (for the log)."""

    def __init__(self, path: Path, *, max_age: float) -> None:
        self._path = path
        self._max_age = max_age
        self._retry_due: float | None = None  # monotonic time of the next retry
        self._lock = threading.Lock()  # one (re)mapping at a time
        self._view: mmap.mmap | None = None
        self._inode: tuple[int, int] | None = None  # (st_dev, st_ino) of the mapped file
        self._remap_due = 0.0  # monotonic time of the next comparison with the path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("revocation marker directory unavailable: %s", _why(exc))
        self._map()

    def signal(self) -> None:
        """Tell the other processes to reload: a new value, written in place."""
        try:
            self._write(secrets.token_bytes(SIZE))
        except OSError as exc:
            self._retry_due = time.monotonic() + SIGNAL_RETRY_SECONDS
            log.warning(
                "revocation marker %s not written (%s): other processes refuse the "
                "revoked sessions within %.0f s instead of at once; retrying",
                self._path,
                _why(exc),
                self._max_age,
            )
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
        """The marker's value now (None: no file to read)."""
        view = self._view
        if time.monotonic() >= self._remap_due:
            view = self._map()
        if view is not None:
            return view[:SIZE]
        return self._read()

    def _read(self) -> MarkerState:
        """The value read from the file itself, for a process that could not map it (a
        file system without shared mappings, say): three system calls a check instead
        of none, and the same "at once"."""
        try:
            fd = os.open(self._path, os.O_RDONLY | _CLOEXEC)
        except OSError:
            return None
        try:
            value = os.pread(fd, SIZE, 0)
        except OSError:
            return None
        finally:
            os.close(fd)
        return value if len(value) == SIZE else None

    def _write(self, value: bytes) -> None:
        # Opened by path each time: a file replaced since is the one written.
        fd = os.open(self._path, _OPEN_FLAGS, 0o600)
        try:
            if os.pwrite(fd, value, 0) != SIZE:
                raise OSError("short write")
        finally:
            os.close(fd)

    def _map(self) -> mmap.mmap | None:
        """The path's file mapped (made, or lengthened to SIZE, first when needed): the
        current mapping when it still is that file; None when it cannot be mapped."""
        with self._lock:
            self._remap_due = time.monotonic() + REMAP_SECONDS
            try:
                view = self._mapping()
            except (OSError, ValueError):
                view = None
            if view is None:
                self._view, self._inode = None, None
            return view

    def _mapping(self) -> mmap.mmap | None:
        try:
            found: os.stat_result | None = os.stat(self._path)
        except FileNotFoundError:
            found = None
        if found is not None and found.st_size >= SIZE:
            if (found.st_dev, found.st_ino) == self._inode:
                return self._view
        else:
            self._write(secrets.token_bytes(SIZE))
        fd = os.open(self._path, os.O_RDONLY | _CLOEXEC)
        try:
            st = os.fstat(fd)
            if st.st_size < SIZE:  # cut short again in between
                return None
            view = mmap.mmap(fd, SIZE, mmap.MAP_SHARED, mmap.PROT_READ)
        finally:
            os.close(fd)
        # The old mapping is not closed: a check on another thread may still be reading
        # it; it is unmapped when the last reference to it goes.
        self._view, self._inode = view, (st.st_dev, st.st_ino)
        return view


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
