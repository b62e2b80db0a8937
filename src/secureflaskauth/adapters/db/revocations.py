"""RevocationList on SQLAlchemy, read from memory on the hot path.

The revoked session ids are kept in each process's memory and reloaded from the
database only when they may have changed: a revocation rewrites a marker file in
the var directory, and each request compares the file's change time (one stat
call, no query). Processes that do not share that directory (other nodes
without Redis) reload at least every ``max_age`` seconds.
"""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path

from sqlalchemy import Engine, delete, select

from secureflaskauth.adapters.db.engine import insert_for
from secureflaskauth.adapters.db.errors import fail_closed
from secureflaskauth.adapters.db.tables import revoked_sessions
from secureflaskauth.domain.ports import Clock


class SqlRevocationArchive:
    """The revoked sessions table alone: the durable copy behind the Redis list."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = insert_for(engine)

    @fail_closed
    def record(self, session_id: str, until: float, *, now: float | None = None) -> None:
        """Store a revocation; with ``now``, also drop those that have run out."""
        t = revoked_sessions
        stmt = self._insert(t).values(session_id=session_id, until=until)
        stmt = stmt.on_conflict_do_update(index_elements=[t.c.session_id], set_={"until": until})
        with self._engine.begin() as conn:
            conn.execute(stmt)
            if now is not None:
                conn.execute(delete(t).where(t.c.until < now))

    @fail_closed
    def active(self, now: float) -> list[tuple[str, float]]:
        t = revoked_sessions
        with self._engine.connect() as conn:
            rows = conn.execute(select(t.c.session_id, t.c.until).where(t.c.until > now)).all()
        return [(str(sid), float(until)) for sid, until in rows]


class SqlRevocationList:
    def __init__(self, engine: Engine, clock: Clock, marker: Path, *, max_age: float) -> None:
        self._archive = SqlRevocationArchive(engine)
        self._clock = clock
        self._marker = marker
        self._max_age = max_age
        self._lock = threading.Lock()
        self._revoked: dict[str, float] = {}
        self._marker_state: tuple[int, int] | None = None
        self._loaded_at = float("-inf")
        marker.parent.mkdir(parents=True, exist_ok=True)

    def revoke(self, session_id: str, *, until: float) -> None:
        self._archive.record(session_id, until, now=self._clock.now())
        with self._lock:
            self._revoked[session_id] = until
        self._touch_marker()

    def _touch_marker(self) -> None:
        tmp = self._marker.with_name(f".{self._marker.name}.{secrets.token_hex(4)}")
        tmp.write_text(secrets.token_hex(8), encoding="ascii")
        os.replace(tmp, self._marker)  # a new inode: visible to every process at once

    def _marker_now(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self._marker)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    def _reload(self, marker: tuple[int, int] | None, now: float) -> None:
        revoked = dict(self._archive.active(now))
        with self._lock:
            self._revoked = revoked
            self._marker_state = marker
            self._loaded_at = now

    def is_revoked(self, session_id: str) -> bool:
        now = self._clock.now()
        marker = self._marker_now()
        if marker != self._marker_state or now - self._loaded_at >= self._max_age:
            self._reload(marker, now)
        until = self._revoked.get(session_id)
        return until is not None and until > now
