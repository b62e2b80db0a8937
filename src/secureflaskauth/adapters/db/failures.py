"""FailureStore on SQLAlchemy: a compare-and-set (one conditional statement) per
claimed attempt, and one atomic upsert per counted failure, so concurrent wrong
guesses each count and none passes a check another has already used."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, case, delete, select, update

from secureflaskauth.adapters.db.counters import storable_key
from secureflaskauth.adapters.db.engine import insert_for
from secureflaskauth.adapters.db.errors import fail_closed
from secureflaskauth.adapters.db.tables import login_failures
from secureflaskauth.domain.ports import FailureState


class SqlFailureStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = insert_for(engine)

    @fail_closed
    def get(self, key: str) -> FailureState | None:
        t = login_failures
        with self._engine.connect() as conn:
            row = conn.execute(
                select(t.c.failures, t.c.last_failure_at, t.c.in_flight).where(
                    t.c.key == storable_key(key)
                )
            ).first()
        return (int(row[0]), float(row[1]), int(row[2])) if row else None

    @fail_closed
    def swap(self, key: str, *, expected: FailureState | None, new: FailureState | None) -> bool:
        t = login_failures
        k = storable_key(key)
        if expected is None:
            if new is None:
                return self.get(key) is None
            stmt: Any = (
                self._insert(t)
                .values(key=k, failures=new[0], last_failure_at=new[1], in_flight=new[2])
                .on_conflict_do_nothing(index_elements=[t.c.key])
            )
        else:
            same = (
                t.c.key == k,
                t.c.failures == expected[0],
                t.c.last_failure_at == expected[1],
                t.c.in_flight == expected[2],
            )
            if new is None:
                stmt = delete(t).where(*same)
            else:
                stmt = (
                    update(t)
                    .where(*same)
                    .values(failures=new[0], last_failure_at=new[1], in_flight=new[2])
                )
        with self._engine.begin() as conn:
            # RETURNING, not rowcount: psycopg reports no count for an INSERT ... ON
            # CONFLICT DO NOTHING that inserted.
            return conn.execute(stmt.returning(t.c.key)).first() is not None

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
                "in_flight": case((stale, 0), else_=t.c.in_flight),
            },
        ).returning(t.c.failures)
        with self._engine.begin() as conn:
            return int(conn.execute(upsert).scalar_one())

    @fail_closed
    def reset(self, key: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(login_failures).where(login_failures.c.key == storable_key(key)))
