"""Revoked sessions in the database, and the RevocationList read from memory.

The ``revoked_sessions`` table is the single source of truth: the session store
writes a row in the same transaction that ends a session (``record``), so a session
is never ended without its revocation, nor the other way round.

``SqlRevocationList`` keeps the rows in each process's memory and reads them again
when they may have changed: a revocation overwrites a marker file in the var
directory, and each check compares its value, read from the file each process keeps
open (one ``pread``, no query: adapters/db/marker.py). Whatever
happens to the marker (a full or read-only disk, a process killed after the commit,
another node without that directory), every process also reads the table at least
every ``max_age`` seconds, so a committed revocation is enforced everywhere within
that time, and at once in the process that made it.

A read fetches only the rows written since the last one (``revoked_at``, with
OVERLAP_SECONDS to spare for a writer's slow commit or clock), so a hundred thousand
revoked sessions cost a check nothing more; every FULL_READ_SECONDS the whole table
is read as well, which also forgets the revocations that have run out. That read is
done by a thread of its own while the checks go on (see SqlRevocationList). Rows with
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
import threading
import time
from collections.abc import Generator, Sequence
from pathlib import Path

from sqlalchemy import Connection, Engine, Select, delete, or_, select

from secureflaskauth.adapters.db.engine import insert_for
from secureflaskauth.adapters.db.errors import failing_closed
from secureflaskauth.adapters.db.marker import ChangeMarker, MarkerState
from secureflaskauth.adapters.db.tables import revoked_sessions, sessions
from secureflaskauth.domain.errors import StoreUnavailable
from secureflaskauth.domain.models import Revocation
from secureflaskauth.domain.ports import MEMORY_MARGIN_SECONDS, Clock
from secureflaskauth.domain.readahead import AHEAD_SECONDS, ReadAhead

log = logging.getLogger("secureflaskauth.revocations")
# A table that could not be read is tried again at most this often; meanwhile checks
# fail closed rather than wait on a database that is away.
RELOAD_RETRY_SECONDS = 1.0
# A read fetches the rows written since the previous read less this much, in case a
# revocation's transaction took long to commit or its writer's clock lags this one's.
OVERLAP_SECONDS = 60.0
# The whole table is read at least this often (and at the first check)...
FULL_READ_SECONDS = 300.0
# ...by a thread of its own started this long before it is due, so that no check waits
# for it; a check that finds it overdue all the same reads the table itself.
FULL_READ_AHEAD_SECONDS = 30.0
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

    @staticmethod
    def query(now: float, since: float | None) -> Select[str, float]:
        """The revocations in force, written at ``since`` or later unless None (the
        index on revoked_at finds them: tests/cli/test_listing_plans.py)."""
        t = revoked_sessions
        query = select(t.c.session_id, t.c.until).where(t.c.until > now)
        if since is None:
            return query
        # 0: written by a version before revoked_at (during a rolling upgrade), which
        # leaves the column to its default; such rows run out within the access-token
        # lifetime, so reading them again each time stays cheap.
        return query.where(or_(t.c.revoked_at >= since, t.c.revoked_at == 0))

    def batches(
        self, now: float, since: float | None
    ) -> Generator[list[tuple[str, float]], None, None]:
        """The revocations in force (written at ``since`` or later unless None), at
        most READ_BATCH at a time: only the batch being read is held in memory."""
        query = self.query(now, since)
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

    The reads of new rows happen in the check that finds them due (they are cheap).
    The whole-table read is done by a thread of its own, started by a check
    FULL_READ_AHEAD_SECONDS before it is due, while the checks go on answering from
    the copy, which the reads of new rows keep current meanwhile. The thread starts in
    the process that checks (gunicorn builds the app in each worker, after the fork).
    Only a check that finds the whole read overdue (the first check, a clock set back,
    a read behind that failed or is late) reads the table itself, as before.
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
        self._marker = None if marker is None else ChangeMarker(marker, max_age=max_age)
        self._max_age = max_age
        self._lock = threading.Lock()  # innermost: guards the copy's updates
        self._reading = threading.Lock()  # one read of new rows at a time; others wait
        self._whole = threading.Lock()  # one whole-table read at a time
        self._stored: dict[str, float] = {}  # as last read from the table
        self._published: dict[str, float] = {}  # made by this process since
        # What reads of new rows wrote while a whole-table read runs: read after it
        # began, so newer than what it reads; it neither overwrites nor drops them.
        self._newer: dict[str, float] | None = None
        self._marker_state: MarkerState = None
        self._loaded_at = float("-inf")
        self._full_read_at = float("-inf")  # when the last complete whole read began
        self._reload_due = 0.0  # monotonic time before which a failed reload is not retried
        self._behind: threading.Thread | None = None  # the whole-table read behind checks
        self._behind_due = 0.0  # monotonic time before which it is not started again
        # The read of new rows, started by the checks on the event loop before it falls due.
        self._ahead = ReadAhead("revocations-read-ahead", self._read_ahead)

    def publish(self, revocations: Sequence[Revocation]) -> None:
        with self._lock:
            for revocation in revocations:
                self._published[revocation.session_id] = revocation.until
        if self._marker is not None:
            self._marker.signal()

    def _stale(self, marker: MarkerState, now: float) -> bool:
        # A clock set back (now before the last read) must not hold off the next read.
        return marker != self._marker_state or not 0 <= now - self._loaded_at < self._max_age

    def _overdue(self, now: float) -> bool:
        """The whole table must be read before answering: never read, read more than
        FULL_READ_SECONDS ago, or the clock set back (rows may then carry times before
        the last read)."""
        return not 0 <= now - self._full_read_at < FULL_READ_SECONDS or now < self._loaded_at

    def _reload(self, marker: MarkerState, *, ahead: float = 0.0) -> None:
        """Read what is due at ``now + ahead``. ``ahead`` > 0 (the read ahead): new rows
        only; a whole read that is due is left to the checks, which find it so."""
        with self._reading:
            # The time once the lock is ours: a check that read the clock, then waited
            # for another thread's read, would take its own earlier time for a clock
            # set back, and read the whole table while the requests wait.
            now = self._clock.now()
            full = self._overdue(now)
            if ahead and full:
                return
            if not full and not self._stale(marker, now + ahead):  # another thread read it
                return
            if time.monotonic() < self._reload_due:
                if ahead:  # the checks retry it when it falls due
                    return
                raise StoreUnavailable("database", "revocations not read yet: retrying")
            try:
                if full:
                    with self._whole:  # waits for a read behind the checks to finish
                        full = self._overdue(now)
                        if full:
                            self._read_whole(now)
                if not full:
                    self._read_new(now)
            except StoreUnavailable:
                # Not after a read ahead: the check that finds the copy due tries the
                # database itself then, which may be back (ReadAhead spaces its own tries).
                if not ahead:
                    self._reload_due = time.monotonic() + RELOAD_RETRY_SECONDS
                raise
            with self._lock:
                self._published = {s: u for s, u in self._published.items() if u > now}
                self._marker_state = marker
                self._loaded_at = now

    def _read_new(self, now: float) -> None:
        """Read the rows written since the last read (less the overlap) into the copy."""
        # Closed on any way out, so a read cut short returns its connection at once.
        with contextlib.closing(
            self._archive.batches(now, self._loaded_at - OVERLAP_SECONDS)
        ) as batches:
            for batch in batches:
                with self._lock:
                    self._stored.update(batch)
                    if self._newer is not None:
                        self._newer.update(batch)

    def _read_whole(self, now: float, *, paced: bool = False) -> None:
        """Read the whole table into the copy in place, a batch at a time, then drop
        what it found gone (run out or deleted). Until then the copy holds both the old
        rows and the new: during a read, a check may refuse a session the table no
        longer lists, never the other way. A read cut short drops nothing. The caller
        holds ``_whole``.

        ``paced``: after each batch, sleep as long as this thread ran for it. The
        checks need the interpreter lock too: a thread that keeps it busy for a
        quarter of a second makes every request of the worker wait up to 5 ms
        (sys.getswitchinterval) each time it releases the lock, to write a line or
        send an answer; paced, the read takes at most half of it."""
        with self._lock:
            # The dict's own key strings: the set costs its table, not copies of the ids.
            gone = set(self._stored)
            newer: dict[str, float] = {}
            self._newer = newer
        ran = time.thread_time()
        try:
            with contextlib.closing(self._archive.batches(now, None)) as batches:
                for batch in batches:
                    rows = dict(batch)
                    with self._lock:
                        for session_id in newer.keys() & rows.keys():
                            del rows[session_id]
                        self._stored.update(rows)
                    gone.difference_update(rows)
                    if paced:
                        time.sleep(time.thread_time() - ran)
                        ran = time.thread_time()
            with self._lock:
                for session_id in gone.difference(newer):
                    del self._stored[session_id]
                self._full_read_at = now
        finally:
            with self._lock:
                self._newer = None

    def _start_behind(self, now: float) -> None:
        """Start the whole-table read in a thread of its own, unless one runs."""
        with self._lock:
            # After a fork the thread is gone (is_alive is False in the child).
            if time.monotonic() < self._behind_due or (
                self._behind is not None and self._behind.is_alive()
            ):
                return
            # At most once per RELOAD_RETRY_SECONDS, whatever becomes of it.
            self._behind_due = time.monotonic() + RELOAD_RETRY_SECONDS
            self._behind = threading.Thread(
                target=self._read_behind, args=(now,), name="revocations-read", daemon=True
            )
            self._behind.start()

    def _read_behind(self, now: float) -> None:
        if not self._whole.acquire(blocking=False):
            return  # a check found it overdue and reads it itself
        try:
            if not now - self._full_read_at < FULL_READ_SECONDS - FULL_READ_AHEAD_SECONDS:
                self._read_whole(now, paced=True)
        except StoreUnavailable as exc:
            log.warning(
                "revoked sessions table not read in whole (%s): retrying; checks go on "
                "from the copy, kept current by the reads of new rows",
                exc.cause or "database unavailable",
            )
        except Exception:  # a thread's error would otherwise go unlogged and unretried
            log.exception("revoked sessions table not read in whole: retrying")
        finally:
            self._whole.release()

    def revoked_in_memory(self, session_id: str) -> bool | None:
        """``is_revoked`` when it would answer from the copy: no marker to write again,
        the marker unchanged, the copy young enough and the whole table read recently
        enough (each with MEMORY_MARGIN_SECONDS to spare); else None. Threads do the
        reads that fall due soon: the new rows' within AHEAD_SECONDS (domain/readahead.py),
        and the whole read as ``is_revoked`` starts it; none is done here."""
        if self._marker is not None and self._marker.retry_due():
            return None
        now = self._clock.now()
        marker = None if self._marker is None else self._marker.state()
        if self._read_due(marker, now + MEMORY_MARGIN_SECONDS):
            return None
        if self._stale(marker, now + AHEAD_SECONDS):
            self._ahead.start()
        self._start_behind_if_due(now)
        return self._revoked(session_id, now)

    def _read_ahead(self) -> None:
        marker = None if self._marker is None else self._marker.state()
        self._reload(marker, ahead=AHEAD_SECONDS)

    def is_revoked(self, session_id: str) -> bool:
        now = self._clock.now()
        marker = None
        if self._marker is not None:
            self._marker.retry_if_due()
            marker = self._marker.state()
        if self._read_due(marker, now):
            self._reload(marker)
        self._start_behind_if_due(now)
        return self._revoked(session_id, now)

    def _read_due(self, marker: MarkerState, now: float) -> bool:
        """The copy must be read before it answers at ``now``: new rows, or the whole
        table."""
        return self._stale(marker, now) or not now - self._full_read_at < FULL_READ_SECONDS

    def _start_behind_if_due(self, now: float) -> None:
        if now - self._full_read_at >= FULL_READ_SECONDS - FULL_READ_AHEAD_SECONDS:
            self._start_behind(now)

    def _revoked(self, session_id: str, now: float) -> bool:
        until = max(self._published.get(session_id, 0.0), self._stored.get(session_id, 0.0))
        return until > now
