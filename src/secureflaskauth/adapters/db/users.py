"""UserStore on SQLAlchemy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Engine, Row, case, insert, or_, select, update
from sqlalchemy import delete as sa_delete
from sqlalchemy.exc import IntegrityError

from secureflaskauth.adapters.db import numbers, revocations
from secureflaskauth.adapters.db.errors import fail_closed
from secureflaskauth.adapters.db.sessions import end_sessions_of
from secureflaskauth.adapters.db.tables import (
    browser_signins,
    challenges,
    factors,
    held_resets,
    recovery_codes,
    refresh_tokens,
    sessions,
    users,
)
from secureflaskauth.domain.errors import UsernameTaken
from secureflaskauth.domain.models import RESET, SIGN_IN, EndedSessions, OtpClaim, Revocation, User


def user_from_row(row: Row[Any]) -> User:
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
        phone_verified_at=m["phone_verified_at"],
        username_skeleton=m["username_skeleton"],
        password_reset_required=bool(m["password_reset_required"]),
        phone_changed_at=m["phone_changed_at"],
        reset_failures=m["reset_failures"],
        reset_locked_until=m["reset_locked_until"],
    )


def _lock_columns(lock: str) -> tuple[Column[int], Column[float]]:
    """The count and the end of the account's code lock ``lock``."""
    c = users.c
    if lock == RESET:
        return c.reset_failures, c.reset_locked_until
    return c.otp_failures, c.otp_locked_until


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
                        phone_verified_at=user.phone_verified_at,
                        username_skeleton=user.username_skeleton,
                        password_reset_required=user.password_reset_required,
                    )
                )
        except IntegrityError:
            raise UsernameTaken(
                "That username is already taken, or reads like one that is."
            ) from None

    @fail_closed
    def by_canonical_username(self, canonical: str) -> User | None:
        if "\x00" in canonical:  # PostgreSQL text cannot hold NUL: no stored name has one
            return None
        with self._engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.username_canonical == canonical)).first()
        return user_from_row(row) if row else None

    @fail_closed
    def by_id(self, user_id: str) -> User | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.id == user_id)).first()
        return user_from_row(row) if row else None

    @fail_closed
    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(users).where(users.c.id == user_id).values(password_hash=password_hash)
            )

    @fail_closed
    def change_password(
        self,
        user_id: str,
        *,
        old_hash: str,
        new_hash: str,
        keep_session: str | None,
        now: float,
        until: float,
    ) -> EndedSessions | None:
        with self._engine.begin() as conn:
            changed = conn.execute(
                update(users)
                .where(users.c.id == user_id, users.c.password_hash == old_hash)
                # A new password is the reset an operator may have required.
                .values(password_hash=new_hash, password_reset_required=False)
            ).rowcount
            if changed != 1:
                return None
            reason = "password changed"
            ended = conn.execute(
                end_sessions_of(user_id, now, reason, until=until, keep=keep_session)
            ).all()
            revocations.record(conn, [Revocation(r.id, until) for r in ended], now=now)
            in_force = revocations.in_force_for_user(conn, user_id, now=now)
        return EndedSessions(len(ended), tuple(in_force))

    @fail_closed
    def claim_otp_attempt(
        self, user_id: str, *, now: float, threshold: int, lock_seconds: float, lock: str = SIGN_IN
    ) -> OtpClaim:
        # One conditional statement: concurrent tries cannot all pass the lock check.
        failures, locked_until = _lock_columns(lock)
        new_count = failures + 1
        stmt = (
            update(users)
            .where(users.c.id == user_id, or_(locked_until.is_(None), locked_until <= now))
            .values(
                {
                    failures: new_count,
                    locked_until: case(
                        (new_count >= threshold, now + lock_seconds), else_=locked_until
                    ),
                }
            )
            .returning(failures, locked_until)
        )
        with self._engine.begin() as conn:
            row = conn.execute(stmt).first()
            if row is None:
                found = conn.execute(
                    select(failures, locked_until).where(users.c.id == user_id)
                ).first()
                count, until = found if found else (0, None)
                return OtpClaim(False, int(count), until)
        count, until = row
        if until is not None and until <= now:
            until = None
        return OtpClaim(True, int(count), until)

    @fail_closed
    def mark_phone_verified(self, user_id: str, *, now: float, max_accounts: int = 0) -> bool:
        with self._engine.begin() as conn:
            marked = conn.execute(
                update(users)
                .where(users.c.id == user_id, users.c.phone_verified_at.is_(None))
                .values(phone_verified_at=now)
                .returning(users.c.phone_e164)
            ).first()
            if marked is not None:  # raises, rolling it back, when the number is full
                numbers.check_holders(conn, marked.phone_e164, user_id, max_accounts)
        return marked is not None

    @fail_closed
    def change_phone(
        self,
        user_id: str,
        *,
        old_phone: str,
        new_phone: str,
        changed_by: float,
        max_accounts: int,
        keep_session: str | None,
        now: float,
        until: float,
    ) -> EndedSessions | None:
        c = users.c
        with self._engine.begin() as conn:
            changed = conn.execute(
                update(users)
                .where(
                    c.id == user_id,
                    c.phone_e164 == old_phone,
                    or_(c.phone_changed_at.is_(None), c.phone_changed_at <= changed_by),
                )
                .values(phone_e164=new_phone, phone_verified_at=now, phone_changed_at=now)
            ).rowcount
            if changed != 1:
                return None
            numbers.check_holders(conn, new_phone, user_id, max_accounts)
            reason = "phone changed"
            ended = conn.execute(
                end_sessions_of(user_id, now, reason, until=until, keep=keep_session)
            ).all()
            revocations.record(conn, [Revocation(r.id, until) for r in ended], now=now)
            in_force = revocations.in_force_for_user(conn, user_id, now=now)
        return EndedSessions(len(ended), tuple(in_force))

    @fail_closed
    def phone_holders(self, e164: str, *, besides: str) -> int:
        with self._engine.connect() as conn:
            return numbers.holders(conn, e164, besides=besides)

    @fail_closed
    def delete_pending(self, *, created_by: float, limit: int) -> int:
        c = users.c
        with self._engine.begin() as conn:
            expired = (
                select(c.id)
                .where(c.phone_verified_at.is_(None), c.created_at <= created_by)
                .limit(limit)
            )
            ids = [row.id for row in conn.execute(expired)]
            if not ids:
                return 0
            # A pending account has no session (the first verified code, which starts
            # one, verifies the number first); its challenges go with it.
            conn.execute(sa_delete(challenges).where(challenges.c.user_id.in_(ids)))
            # Only those still pending: one verified a moment ago stays.
            deleted = conn.execute(
                sa_delete(users).where(c.id.in_(ids), c.phone_verified_at.is_(None)).returning(c.id)
            ).all()
        return len(deleted)

    @fail_closed
    def reset_otp_failures(self, user_id: str, locks: Sequence[str] = (SIGN_IN,)) -> None:
        cleared: dict[Column[Any], object] = {}
        for lock in locks:
            failures, locked_until = _lock_columns(lock)
            cleared |= {failures: 0, locked_until: None}
        with self._engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(cleared))

    @fail_closed
    def by_phone(self, e164: str) -> list[User]:
        if "\x00" in e164:
            return []
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(users).where(users.c.phone_e164 == e164).order_by(users.c.created_at)
            ).all()
        return [user_from_row(r) for r in rows]

    @fail_closed
    def set_disabled(self, user_id: str, disabled: bool) -> bool:
        with self._engine.begin() as conn:
            result = conn.execute(
                update(users).where(users.c.id == user_id).values(disabled=disabled)
            )
        return result.rowcount == 1

    @fail_closed
    def disable(self, user_id: str, *, now: float, until: float) -> EndedSessions | None:
        with self._engine.begin() as conn:
            found = conn.execute(
                update(users).where(users.c.id == user_id).values(disabled=True)
            ).rowcount
            if found != 1:
                return None
            ended = conn.execute(end_sessions_of(user_id, now, "user disabled", until=until)).all()
            revocations.record(conn, [Revocation(r.id, until) for r in ended], now=now)
            in_force = revocations.in_force_for_user(conn, user_id, now=now)
        return EndedSessions(len(ended), tuple(in_force))

    @fail_closed
    def require_password_reset(
        self, user_id: str, *, now: float, until: float
    ) -> EndedSessions | None:
        with self._engine.begin() as conn:
            found = conn.execute(
                update(users).where(users.c.id == user_id).values(password_reset_required=True)
            ).rowcount
            if found != 1:
                return None
            # A reset held before (SFA_RESET_WITH_SMS_ONLY=delayed) is dropped: the
            # owner asks for a new one, after the operator's decision.
            conn.execute(sa_delete(held_resets).where(held_resets.c.user_id == user_id))
            ended = conn.execute(
                end_sessions_of(user_id, now, "password reset required", until=until)
            ).all()
            revocations.record(conn, [Revocation(r.id, until) for r in ended], now=now)
            in_force = revocations.in_force_for_user(conn, user_id, now=now)
        return EndedSessions(len(ended), tuple(in_force))

    @fail_closed
    def delete(self, user_id: str, *, now: float, until: float) -> EndedSessions | None:
        with self._engine.connect() as conn, conn.begin() as tx:
            # The row is locked first (PostgreSQL): of deletions at once, the others wait
            # here and then find it gone, so exactly one deletes (SQLite: one writer).
            found = select(users.c.id).where(users.c.id == user_id).with_for_update()
            if conn.execute(found).first() is None:
                return None
            ended = conn.execute(end_sessions_of(user_id, now, "user deleted", until=until)).all()
            revocations.record(conn, [Revocation(r.id, until) for r in ended], now=now)
            in_force = revocations.in_force_for_user(conn, user_id, now=now)
            # Explicit, so it holds on SQLite connections without foreign-key enforcement too.
            own_sessions = select(sessions.c.id).where(sessions.c.user_id == user_id)
            for by_session in (refresh_tokens, browser_signins):
                conn.execute(sa_delete(by_session).where(by_session.c.session_id.in_(own_sessions)))
            for table in (challenges, sessions, recovery_codes, held_resets, factors):
                conn.execute(sa_delete(table).where(table.c.user_id == user_id))
            gone = conn.execute(sa_delete(users).where(users.c.id == user_id)).rowcount
            if gone != 1:  # deleted by another request meanwhile: that one reports it
                tx.rollback()
                return None
        return EndedSessions(len(ended), tuple(in_force))
