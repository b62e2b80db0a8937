"""Revoked sessions in the database, and the RevocationList read from memory.

The ``revoked_sessions`` table is the single source of truth: the session store
writes a row in the same transaction that ends a session (``record``), so a session
is never ended without its revocation, nor the other way round.

``SqlRevocationList`` keeps the rows in each process's memory and reads them again
when they may have changed: a revocation rewrites a marker file in the var directory,
and each check compares the file's identity (one stat call, no query). Whatever
happens to the marker (a full or read-only disk, a process killed after the commit,
another node without that directory), every process also reads the table at least
every ``max_age`` seconds, so a committed revocation is enforced everywhere within
that time, and at once in the process that made it.

A read fetches only the rows written since the last one (``revoked_at``, with
OVERLAP_SECONDS to spare for a writer's slow commit or clock), so a hundred thousand
revoked sessions cost a check nothing more; every FULL_READ_SECONDS the whole table
is read instead, which also forgets the revocations that have run out. Rows with
``revoked_at`` 0 (written by a version before the column) are read every time.
Rows come READ_BATCH at a time (a server-side cursor on PostgreSQL) and go into the
copy in memory as they come, so a whole-table read holds one batch besides the copy,
not a second copy of the table.
So a revocation reaches every process within ``max_age`` when its writer's clock
is at most OVERLAP_SECONDS behind the reader's and its transaction commits within
that time; otherwise within FULL_READ_SECONDS.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
import time
from collections.abc import Generator, Sequence
from pathlib import Path

from sqlalchemy import Connection, Engine, delete, or_, select

from secureflaskauth.adapters.db.engine import insert_for
from secureflaskauth.adapters.db.errors import failing_closed
from secureflaskauth.adapters.db.tables import revoked_sessions, sessions
from secureflaskauth.domain.errors import StoreUnavailable
from secureflaskauth.domain.models import Revocation
from secureflaskauth.domain.ports import Clock

log = logging.getLogger("secureflaskauth.revocations")
# A marker that could not be written is tried again at most this often (seconds).
SIGNAL_RETRY_SECONDS = 1.0
# A table that could not be read is tried again at most this often; meanwhile checks
# fail closed rather than wait on a database that is away.
RELOAD_RETRY_SECONDS = 1.0
# A read fetches the rows written since the previous read less this much, in case a
# revocation's transaction took long to commit or its writer's clock lags this one's.
OVERLAP_SECONDS = 60.0
# The whole table is read at least this often (and at the first check).
FULL_READ_SECONDS = 300.0
# Rows fetched from the database at a time.
READ_BATCH = 1000


def record(conn: Connection, revocations: Sequence[Revocation], *, now: float) -> None:
    """Write revocations inside the caller's transaction (idempotent: a repeat keeps
    the later ``until``), and drop the ones that have run out."""
    t = revoked_sessions
    insert = insert_for(conn.engine)
    for revocation in revocations:
        stmt = insert(t).values(
            session_id=revocation.session_id, until=revocation.until, revoked_at=now
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[t.c.session_id],
                set_={"until": stmt.excluded.until, "revoked_at": stmt.excluded.revoked_at},
            )
        )
    conn.execute(delete(t).where(t.c.until < now))


def in_force_for_user(conn: Connection, user_id: str, *, now: float) -> list[Revocation]:
    """The user's revocations still in force (read inside the caller's transaction)."""
    t = revoked_sessions
    rows = conn.execute(
        select(t.c.session_id, t.c.until)
        .join(sessions, sessions.c.id == t.c.session_id)
        .where(sessions.c.user_id == user_id, t.c.until > now)
    ).all()
    return [Revocation(str(sid), float(until)) for sid, until in rows]


class SqlRevocationArchive:
    """Reads the revoked sessions table."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def active(self, now: float) -> list[tuple[str, float]]:
        """Every revocation in force."""
        return [row for batch in self.batches(now, None) for row in batch]

    def batches(
        self, now: float, since: float | None
    ) -> Generator[list[tuple[str, float]], None, None]:
        """The revocations in force (written at ``since`` or later unless None), at
        most READ_BATCH at a time: only the batch being read is held in memory."""
        t = revoked_sessions
        query = select(t.c.session_id, t.c.until).where(t.c.until > now)
        if since is not None:
            # 0: written by a version before revoked_at (during a rolling upgrade),
            # which leaves the column to its default; such rows run out within the
            # access-token lifetime, so reading them again each time stays cheap.
            query = query.where(or_(t.c.revoked_at >= since, t.c.revoked_at == 0))
        with failing_closed(), self._engine.connect() as conn:
            # yield_per: a server-side cursor where the driver has one (psycopg), else
            # fetchmany; either way no list of every row.
            result = conn.execution_options(yield_per=READ_BATCH).execute(query)
            for rows in result.partitions():
                yield [(str(sid), float(until)) for sid, until in rows]


class SqlRevocationList:
    """The table in memory, reloaded on a change signal or after ``max_age`` seconds.

    ``marker`` is the change signal shared by the processes of one machine (None: no
    signal, the table is read every ``max_age`` seconds). A copy older than that is
    never trusted: when the table cannot be read, checks fail closed (503) until it
    can, retried at most every RELOAD_RETRY_SECONDS.
    """

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        marker: Path | None,
        *,
        max_age: float,
    ) -> None:
        self._archive = SqlRevocationArchive(engine)
        self._clock = clock
        self._marker = marker
        self._max_age = max_age
        self._lock = threading.Lock()
        self._reading = threading.Lock()  # one read at a time; the others wait for it
        self._stored: dict[str, float] = {}  # as last read from the table
        self._published: dict[str, float] = {}  # made by this process since
        self._marker_state: tuple[int, int] | None = None
        self._loaded_at = float("-inf")
        self._full_read_at = float("-inf")
        self._signal_due: float | None = None  # monotonic time of the next marker retry
        self._reload_due = 0.0  # monotonic time before which a failed reload is not retried
        if marker is not None:
            try:
                marker.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                log.warning("revocation marker directory unavailable: %s", _why(exc))

    def publish(self, revocations: Sequence[Revocation]) -> None:
        with self._lock:
            for revocation in revocations:
                self._published[revocation.session_id] = revocation.until
        self._signal()

    def _signal(self) -> None:
        """Tell the other processes to reload: a new marker inode, seen at once."""
        if self._marker is None:
            return
        tmp = self._marker.with_name(f".{self._marker.name}.{secrets.token_hex(4)}")
        try:
            tmp.write_text(secrets.token_hex(8), encoding="ascii")
            os.replace(tmp, self._marker)
        except OSError as exc:
            self._signal_due = time.monotonic() + SIGNAL_RETRY_SECONDS
            log.warning(
                "revocation marker %s not written (%s): other processes refuse the "
                "revoked sessions within %.0f s instead of at once; retrying",
                self._marker,
                _why(exc),
                self._max_age,
            )
            with contextlib.suppress(OSError):  # a read-only directory refuses this too
                tmp.unlink(missing_ok=True)
            return
        self._signal_due = None

    def _marker_now(self) -> tuple[int, int] | None:
        if self._marker is None:
            return None
        try:
            st = os.stat(self._marker)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    def _stale(self, marker: tuple[int, int] | None, now: float) -> bool:
        # A clock set back (now before the last read) must not hold off the next read.
        return marker != self._marker_state or not 0 <= now - self._loaded_at < self._max_age

    def _reload(self, marker: tuple[int, int] | None, now: float) -> None:
        with self._reading:
            if not self._stale(marker, now):  # another thread has just read it
                return
            if time.monotonic() < self._reload_due:
                raise StoreUnavailable("database", "revocations not read yet: retrying")
            # After a clock set back, rows may carry times before the last read: all.
            full = not 0 <= now - self._full_read_at < FULL_READ_SECONDS or now < self._loaded_at
            try:
                gone = self._read(now, full)
            except StoreUnavailable:
                self._reload_due = time.monotonic() + RELOAD_RETRY_SECONDS
                raise
            with self._lock:
                for session_id in gone:
                    del self._stored[session_id]
                if full:
                    self._full_read_at = now
                self._published = {s: u for s, u in self._published.items() if u > now}
                self._marker_state = marker
                self._loaded_at = now

    def _read(self, now: float, full: bool) -> set[str]:
        """Read the table into the copy in place, a batch at a time; return what a full
        read found gone from the table (run out or deleted), for the caller to drop.
        Until then the copy holds both the old rows and the new: during a read, a
        check may refuse a session the table no longer lists, never the other way."""
        # The dict's own key strings: the set costs its table, not copies of the ids.
        gone = set(self._stored) if full else set()
        since = None if full else self._loaded_at - OVERLAP_SECONDS
        # Closed on any way out, so a read cut short returns its connection at once.
        with contextlib.closing(self._archive.batches(now, since)) as batches:
            for batch in batches:
                with self._lock:
                    self._stored.update(batch)
                if full:
                    gone.difference_update(session_id for session_id, _ in batch)
        return gone

    def is_revoked(self, session_id: str) -> bool:
        now = self._clock.now()
        if self._signal_due is not None and time.monotonic() >= self._signal_due:
            self._signal()
        marker = self._marker_now()
        if self._stale(marker, now):
            self._reload(marker, now)
        until = max(self._published.get(session_id, 0.0), self._stored.get(session_id, 0.0))
        return until > now


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
