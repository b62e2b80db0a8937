"""ChallengeStore on SQLAlchemy. Every check-and-update is one conditional UPDATE,
so concurrent requests cannot both pass a check (ASVS 15.4.2)."""

from __future__ import annotations

from sqlalchemy import Engine, Row, delete, insert, select, update

from secureflaskauth.adapters.db.errors import fail_closed
from secureflaskauth.adapters.db.tables import challenges, users
from secureflaskauth.domain.models import Challenge

_CLEANUP_GRACE = 3600.0


def _challenge(row: Row[tuple[object, ...]]) -> Challenge:
    m = row._mapping
    return Challenge(
        id=m["id"],
        user_id=m["user_id"],
        code_hash=m["code_hash"],
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        last_sent_at=m["last_sent_at"],
        attempts=m["attempts"],
        resends=m["resends"],
        used_at=m["used_at"],
        purpose=m["purpose"],
        send_to=m["send_to"],
    )


class SqlChallengeStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @fail_closed
    def create(self, challenge: Challenge) -> None:
        c = challenges.c
        with self._engine.begin() as conn:
            # One live challenge per account: concurrent logins of one user take turns
            # on the user's row (PostgreSQL; SQLite has one writer at a time anyway), so
            # each one's UPDATE below sees the challenge the previous one inserted.
            conn.execute(
                select(users.c.id).where(users.c.id == challenge.user_id).with_for_update()
            )
            # A new login supersedes the user's earlier codes (OWASP MFA CS); a reset
            # supersedes earlier resets only, so a stranger asking for a reset cannot
            # end the owner's sign-in.
            conn.execute(
                update(challenges)
                .where(
                    c.user_id == challenge.user_id,
                    c.purpose == challenge.purpose,
                    c.used_at.is_(None),
                    c.expires_at > 0,
                )
                .values(expires_at=0)
            )
            # Old rows are dropped here rather than by a separate job.
            conn.execute(
                delete(challenges).where(c.expires_at < challenge.created_at - _CLEANUP_GRACE)
            )
            conn.execute(
                insert(challenges).values(
                    id=challenge.id,
                    user_id=challenge.user_id,
                    code_hash=challenge.code_hash,
                    created_at=challenge.created_at,
                    expires_at=challenge.expires_at,
                    last_sent_at=challenge.last_sent_at,
                    attempts=0,
                    resends=0,
                    purpose=challenge.purpose,
                    send_to=challenge.send_to,
                )
            )

    @fail_closed
    def get(self, challenge_id: str) -> Challenge | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(challenges).where(challenges.c.id == challenge_id)).first()
        return _challenge(row) if row else None

    @fail_closed
    def reserve_attempt(
        self, challenge_id: str, *, now: float, max_attempts: int
    ) -> Challenge | None:
        c = challenges.c
        stmt = (
            update(challenges)
            .where(
                c.id == challenge_id,
                c.used_at.is_(None),
                c.expires_at > now,
                c.attempts < max_attempts,
            )
            .values(attempts=c.attempts + 1)
            .returning(*challenges.c)
        )
        with self._engine.begin() as conn:
            row = conn.execute(stmt).first()
        return _challenge(row) if row else None

    @fail_closed
    def consume(self, challenge_id: str, *, code_hash: str, now: float) -> bool:
        c = challenges.c
        stmt = (
            update(challenges)
            .where(
                c.id == challenge_id,
                c.used_at.is_(None),
                c.code_hash == code_hash,
                c.expires_at > now,
            )
            .values(used_at=now)
        )
        with self._engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    @fail_closed
    def replace_code(
        self,
        challenge_id: str,
        *,
        code_hash: str,
        now: float,
        expires_at: float,
        cooldown: float,
        max_resends: int,
        max_attempts: int,
    ) -> Challenge | None:
        c = challenges.c
        stmt = (
            update(challenges)
            .where(
                c.id == challenge_id,
                c.used_at.is_(None),
                c.expires_at > now,
                c.attempts < max_attempts,
                c.resends < max_resends,
                c.last_sent_at <= now - cooldown,
            )
            .values(
                code_hash=code_hash,
                resends=c.resends + 1,
                last_sent_at=now,
                expires_at=expires_at,
            )
            .returning(*challenges.c)
        )
        with self._engine.begin() as conn:
            row = conn.execute(stmt).first()
        return _challenge(row) if row else None

    @fail_closed
    def kill(self, challenge_id: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(challenges).where(challenges.c.id == challenge_id).values(expires_at=0)
            )

    @fail_closed
    def kill_all_for_user(self, user_id: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(challenges).where(challenges.c.user_id == user_id).values(expires_at=0)
            )
