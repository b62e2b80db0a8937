"""UserStore on SQLAlchemy."""

from __future__ import annotations

from sqlalchemy import Engine, Row, case, insert, select, update
from sqlalchemy import delete as sa_delete
from sqlalchemy.exc import IntegrityError

from secureflaskauth.adapters.db.errors import fail_closed
from secureflaskauth.adapters.db.tables import challenges, refresh_tokens, sessions, users
from secureflaskauth.domain.errors import UsernameTaken
from secureflaskauth.domain.models import User


def _user(row: Row[tuple[object, ...]]) -> User:
    m = row._mapping
    return User(
        id=m["id"],
        username=m["username"],
        username_canonical=m["username_canonical"],
        password_hash=m["password_hash"],
        phone_e164=m["phone_e164"],
        created_at=m["created_at"],
        disabled=bool(m["disabled"]),
        otp_failures=m["otp_failures"],
        otp_locked_until=m["otp_locked_until"],
    )


class SqlUserStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @fail_closed
    def add(self, user: User) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(users).values(
                        id=user.id,
                        username=user.username,
                        username_canonical=user.username_canonical,
                        password_hash=user.password_hash,
                        phone_e164=user.phone_e164,
                        created_at=user.created_at,
                        disabled=user.disabled,
                        otp_failures=0,
                    )
                )
        except IntegrityError:
            raise UsernameTaken("That username is already taken.") from None

    @fail_closed
    def by_canonical_username(self, canonical: str) -> User | None:
        if "\x00" in canonical:  # PostgreSQL text cannot hold NUL: no stored name has one
            return None
        with self._engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.username_canonical == canonical)).first()
        return _user(row) if row else None

    @fail_closed
    def by_id(self, user_id: str) -> User | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.id == user_id)).first()
        return _user(row) if row else None

    @fail_closed
    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(users).where(users.c.id == user_id).values(password_hash=password_hash)
            )

    @fail_closed
    def record_otp_failure(
        self, user_id: str, *, now: float, threshold: int, lock_seconds: float
    ) -> tuple[int, float | None]:
        # One statement, so concurrent failures each count (no read-modify-write race).
        new_count = users.c.otp_failures + 1
        stmt = (
            update(users)
            .where(users.c.id == user_id)
            .values(
                otp_failures=new_count,
                otp_locked_until=case(
                    (new_count >= threshold, now + lock_seconds),
                    else_=users.c.otp_locked_until,
                ),
            )
            .returning(users.c.otp_failures, users.c.otp_locked_until)
        )
        with self._engine.begin() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            return 0, None
        failures, locked_until = row
        if locked_until is not None and locked_until <= now:
            locked_until = None
        return int(failures), locked_until

    @fail_closed
    def reset_otp_failures(self, user_id: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(otp_failures=0, otp_locked_until=None)
            )

    @fail_closed
    def all(self) -> list[User]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(users).order_by(users.c.created_at)).all()
        return [_user(r) for r in rows]

    @fail_closed
    def set_disabled(self, user_id: str, disabled: bool) -> bool:
        with self._engine.begin() as conn:
            result = conn.execute(
                update(users).where(users.c.id == user_id).values(disabled=disabled)
            )
        return result.rowcount == 1

    @fail_closed
    def delete(self, user_id: str) -> bool:
        with self._engine.begin() as conn:
            # Explicit, so it holds on SQLite connections without foreign-key enforcement too.
            own_sessions = select(sessions.c.id).where(sessions.c.user_id == user_id)
            conn.execute(
                sa_delete(refresh_tokens).where(refresh_tokens.c.session_id.in_(own_sessions))
            )
            for table in (challenges, sessions):
                conn.execute(sa_delete(table).where(table.c.user_id == user_id))
            result = conn.execute(sa_delete(users).where(users.c.id == user_id))
        return result.rowcount == 1
