"""RecoveryCodeStore on SQLAlchemy. A use is one conditional UPDATE, so a code is
used once however many requests present it at the same moment (ASVS 15.4.2)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, delete, func, insert, select, update

from secureflaskauth.adapters.db.errors import fail_closed
from secureflaskauth.adapters.db.tables import recovery_codes


class SqlRecoveryCodeStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @fail_closed
    def replace(self, user_id: str, code_hashes: Sequence[str], *, now: float) -> int:
        c = recovery_codes.c
        with self._engine.begin() as conn:
            dropped = conn.execute(
                select(func.count()).where(c.user_id == user_id, c.used_at.is_(None))
            ).scalar_one()
            conn.execute(delete(recovery_codes).where(c.user_id == user_id))
            if code_hashes:  # none: every code revoked
                conn.execute(
                    insert(recovery_codes),
                    [{"user_id": user_id, "code_hash": h, "created_at": now} for h in code_hashes],
                )
        return int(dropped)

    @fail_closed
    def unused(self, user_id: str) -> list[str]:
        c = recovery_codes.c
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(c.code_hash).where(c.user_id == user_id, c.used_at.is_(None))
            ).all()
        return [str(r.code_hash) for r in rows]

    @fail_closed
    def remaining(self, user_id: str) -> int:
        c = recovery_codes.c
        with self._engine.connect() as conn:
            count = conn.execute(
                select(func.count()).where(c.user_id == user_id, c.used_at.is_(None))
            ).scalar_one()
        return int(count)

    @fail_closed
    def issued(self, user_id: str) -> tuple[float, float | None]:
        c = recovery_codes.c
        with self._engine.connect() as conn:
            row = conn.execute(
                select(func.min(c.created_at), func.max(c.used_at)).where(c.user_id == user_id)
            ).one()
        return float(row[0] or 0), None if row[1] is None else float(row[1])

    @fail_closed
    def use(self, user_id: str, code_hash: str, *, now: float) -> bool:
        c = recovery_codes.c
        with self._engine.begin() as conn:
            used = conn.execute(
                update(recovery_codes)
                .where(c.user_id == user_id, c.code_hash == code_hash, c.used_at.is_(None))
                .values(used_at=now)
            ).rowcount
        return used == 1
