"""Counters on SQLAlchemy: one row per key holding its window and count, counted by an
atomic upsert, so every worker process and node counts together.

Written here because the rate-limit libraries (limits, Flask-Limiter) have no SQL
storage; the window arithmetic is the domain's (domain/ratelimit.py).
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import Engine, case, delete, select

from secureflaskauth.adapters.db.engine import insert_for
from secureflaskauth.adapters.db.errors import fail_closed
from secureflaskauth.adapters.db.tables import rate_counters

_CLEANUP_ONE_IN = 500
_MAX_KEY = 200


def storable_key(key: str) -> str:
    """The key as stored: the column holds 255 characters and PostgreSQL text cannot
    hold NUL, while a key may embed any username a client sent; such keys become a digest."""
    if len(key) <= _MAX_KEY and "\x00" not in key:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class SqlCounters:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = insert_for(engine)

    @fail_closed
    def add(self, key: str, *, window: float, expires_at: float) -> int:
        t = rate_counters
        stmt = self._insert(t).values(
            key=storable_key(key), window_start=window, count=1, expires_at=expires_at
        )
        excluded = stmt.excluded
        same_window = t.c.window_start == excluded.window_start
        upsert = stmt.on_conflict_do_update(
            index_elements=[t.c.key],
            set_={
                "count": case((same_window, t.c.count + 1), else_=1),
                "window_start": excluded.window_start,
                "expires_at": excluded.expires_at,
            },
        ).returning(t.c.count)
        with self._engine.begin() as conn:
            count = int(conn.execute(upsert).scalar_one())
            if secrets.randbelow(_CLEANUP_ONE_IN) == 0:
                # Rows whose window ended before this one began are of no use any more.
                conn.execute(delete(t).where(t.c.expires_at < window))
        return count

    @fail_closed
    def count(self, key: str, *, window: float) -> int:
        t = rate_counters
        with self._engine.connect() as conn:
            count = conn.execute(
                select(t.c.count).where(t.c.key == storable_key(key), t.c.window_start == window)
            ).scalar()
        return int(count or 0)

    @fail_closed
    def latest(self, key: str) -> tuple[float, int] | None:
        t = rate_counters
        with self._engine.connect() as conn:
            row = conn.execute(
                select(t.c.window_start, t.c.count).where(t.c.key == storable_key(key))
            ).first()
        return None if row is None else (float(row[0]), int(row[1]))
