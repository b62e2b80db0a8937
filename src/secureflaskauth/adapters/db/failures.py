"""FailureStore on SQLAlchemy: one atomic upsert per failure, so concurrent wrong
guesses each count."""

from __future__ import annotations

from sqlalchemy import Engine, case, delete, select

from secureflaskauth.adapters.db.counters import storable_key
from secureflaskauth.adapters.db.engine import insert_for
from secureflaskauth.adapters.db.errors import fail_closed
from secureflaskauth.adapters.db.tables import login_failures


class SqlFailureStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = insert_for(engine)

    @fail_closed
    def get(self, key: str) -> tuple[int, float] | None:
        t = login_failures
        with self._engine.connect() as conn:
            row = conn.execute(
                select(t.c.failures, t.c.last_failure_at).where(t.c.key == storable_key(key))
            ).first()
        return (int(row[0]), float(row[1])) if row else None

    @fail_closed
    def record_failure(self, key: str, *, now: float, quiet_reset: float) -> int:
        t = login_failures
        stmt = self._insert(t).values(key=storable_key(key), failures=1, last_failure_at=now)
        stale = t.c.last_failure_at <= now - quiet_reset
        upsert = stmt.on_conflict_do_update(
            index_elements=[t.c.key],
            set_={
                "failures": case((stale, 1), else_=t.c.failures + 1),
                "last_failure_at": now,
            },
        ).returning(t.c.failures)
        with self._engine.begin() as conn:
            return int(conn.execute(upsert).scalar_one())

    @fail_closed
    def reset(self, key: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(login_failures).where(login_failures.c.key == storable_key(key)))
