"""HeldResetStore on SQLAlchemy: completing a reset is one transaction with the end of
the user's sessions and their revocation records."""

from __future__ import annotations

from sqlalchemy import Engine, delete, insert, select, update

from secureflaskauth.adapters.db import revocations
from secureflaskauth.adapters.db.errors import fail_closed
from secureflaskauth.adapters.db.sessions import end_sessions_of
from secureflaskauth.adapters.db.tables import held_resets, users
from secureflaskauth.domain.models import EndedSessions, HeldReset, Revocation


class SqlHeldResetStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @fail_closed
    def hold(self, reset: HeldReset) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(held_resets).where(held_resets.c.user_id == reset.user_id))
            conn.execute(
                insert(held_resets).values(
                    user_id=reset.user_id,
                    password_hash=reset.password_hash,
                    old_hash=reset.old_hash,
                    requested_at=reset.requested_at,
                    effective_at=reset.effective_at,
                )
            )

    @fail_closed
    def get(self, user_id: str) -> HeldReset | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(held_resets).where(held_resets.c.user_id == user_id)).first()
        return HeldReset(**row._mapping) if row else None

    @fail_closed
    def cancel(self, user_id: str) -> bool:
        with self._engine.begin() as conn:
            gone = conn.execute(delete(held_resets).where(held_resets.c.user_id == user_id))
        return gone.rowcount == 1

    @fail_closed
    def complete(self, user_id: str, *, now: float, until: float) -> EndedSessions | None:
        h = held_resets.c
        with self._engine.begin() as conn:
            # Taken by the one request whose DELETE finds it: concurrent sign-ins apply
            # it once.
            taken = conn.execute(
                delete(held_resets)
                .where(h.user_id == user_id, h.effective_at <= now)
                .returning(h.password_hash, h.old_hash)
            ).first()
            if taken is None:
                return None
            changed = conn.execute(
                update(users)
                .where(users.c.id == user_id, users.c.password_hash == taken.old_hash)
                .values(password_hash=taken.password_hash, password_reset_required=False)
            ).rowcount
            if changed != 1:
                return None  # the owner changed the password meanwhile: dropped
            ended = conn.execute(end_sessions_of(user_id, now, "password reset", until=until)).all()
            revocations.record(conn, [Revocation(r.id, until) for r in ended], now=now)
            in_force = revocations.in_force_for_user(conn, user_id, now=now)
        return EndedSessions(len(ended), tuple(in_force))
