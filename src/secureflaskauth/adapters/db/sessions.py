"""SessionStore on SQLAlchemy."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import ReturningUpdate

from secureflaskauth.adapters.db import revocations
from secureflaskauth.adapters.db.errors import fail_closed
from secureflaskauth.adapters.db.tables import refresh_tokens, sessions, users
from secureflaskauth.domain.models import (
    Purged,
    RefreshRecord,
    Revocation,
    Session,
    live_tokens_bound,
)


class _LostRace(Exception):
    """Rolls back a rotation another request won."""


class _AccountGone(Exception):
    """Rolls back a session whose account was disabled or deleted meanwhile."""


def session_of_row(row: Row[tuple[object, ...]]) -> Session:
    m = row._mapping
    return Session(
        id=m["id"],
        user_id=m["user_id"],
        created_at=m["created_at"],
        last_used_at=m["last_used_at"],
        expires_at=m["expires_at"],
        idle_timeout=m["idle_timeout"],
        ip=m["ip"],
        user_agent=m["user_agent"],
        amr=tuple(m["amr"].split()),
        revoked_at=m["revoked_at"],
        revoked_reason=m["revoked_reason"],
        client_id=m["client_id"],
        scope=m["scope"],
    )


def end_sessions_of(
    user_id: str, now: float, reason: str, *, until: float, keep: str | None = None
) -> ReturningUpdate[Any]:
    """End every session of the user but ``keep`` that may still hold an access token
    accepted at ``now`` (Session.may_hold_live_tokens: those its revocation, lasting
    until ``until``, is for), returning the rows ended. A session that ended by its
    lifetime or inactivity long before is left as it is, its end and retention too."""
    c = sessions.c
    others = c.id != keep if keep is not None else true()
    bound = live_tokens_bound(now, until)
    return (
        update(sessions)
        .where(
            c.user_id == user_id,
            c.revoked_at.is_(None),
            c.expires_at > bound,
            c.last_used_at + c.idle_timeout > bound,
            others,
        )
        .values(revoked_at=now, revoked_reason=reason[:64])
        .returning(*sessions.c)
    )


def _ways_to_end(
    ended_before: float,
) -> list[tuple[tuple[ColumnElement[bool], ...], ColumnElement[Any]]]:
    """Each way a session ends before ``ended_before``: its condition, and the time it
    ended (what its index is ordered by): revoked; unrevoked and past its lifetime;
    unrevoked and idle past its timeout."""
    c = sessions.c
    idle_end = c.last_used_at + c.idle_timeout
    return [
        ((c.revoked_at.is_not(None), c.revoked_at < ended_before), c.revoked_at),
        ((c.revoked_at.is_(None), c.expires_at < ended_before), c.expires_at),
        ((c.revoked_at.is_(None), idle_end < ended_before), idle_end),
    ]


class SqlSessionStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @fail_closed
    def create(self, session: Session, refresh_hash: str) -> bool:
        try:
            with self._engine.begin() as conn:
                self._insert(conn, session, refresh_hash)
                # After the insert, in its transaction, with the user's row locked for
                # sharing: a disable or delete committed before is seen here, and one
                # committed after sees this session (and ends it). Inserting first holds
                # SQLite's write lock; PostgreSQL waits here for a disable in progress.
                account = conn.execute(
                    select(users.c.disabled)
                    .where(users.c.id == session.user_id)
                    .with_for_update(read=True)
                ).first()
                if account is None or account.disabled:
                    raise _AccountGone
        except (_AccountGone, IntegrityError):  # disabled, or deleted (its key refused)
            return False
        return True

    @staticmethod
    def _insert(conn: Connection, session: Session, refresh_hash: str) -> None:
        conn.execute(
            insert(sessions).values(
                id=session.id,
                user_id=session.user_id,
                created_at=session.created_at,
                last_used_at=session.last_used_at,
                expires_at=session.expires_at,
                idle_timeout=session.idle_timeout,
                ip=session.ip,
                user_agent=session.user_agent,
                amr=" ".join(session.amr),
                client_id=session.client_id,
                scope=session.scope,
            )
        )
        conn.execute(
            insert(refresh_tokens).values(
                token_hash=refresh_hash, session_id=session.id, created_at=session.created_at
            )
        )

    @fail_closed
    def get(self, session_id: str) -> Session | None:
        if "\x00" in session_id:  # PostgreSQL text cannot hold NUL: no stored id has one
            return None
        with self._engine.connect() as conn:
            row = conn.execute(select(sessions).where(sessions.c.id == session_id)).first()
        return session_of_row(row) if row else None

    @fail_closed
    def for_user(self, user_id: str) -> list[Session]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(sessions)
                .where(sessions.c.user_id == user_id)
                .order_by(sessions.c.created_at.desc())
            ).all()
        return [session_of_row(r) for r in rows]

    @staticmethod
    def purge_statements(ended_before: float, limit: int) -> list[Select[tuple[str]]]:
        """The ids of up to ``limit`` sessions that ended before ``ended_before``, one
        statement for each way a session ends, each read from its own index (0020 and
        0022) in the order the sessions ended: revoked, past their lifetime, idle. A
        single statement over all three would have to read every session left, the
        active ones included, on each sign-in (tests/cli/test_listing_plans.py)."""
        return [
            select(sessions.c.id).where(*condition).order_by(order).limit(limit)
            for condition, order in _ways_to_end(ended_before)
        ]

    @fail_closed
    def purge_ended(self, *, ended_before: float, limit: int, row_limit: int) -> Purged:
        c = sessions.c
        ended = or_(*(and_(*condition) for condition, _ in _ways_to_end(ended_before)))
        with self._engine.begin() as conn:
            ids: set[str] = set()
            for found in self.purge_statements(ended_before, limit):
                # On PostgreSQL, locked as found, skipping any row another transaction
                # holds (another removal, a logout-all ending the user's sessions):
                # this never waits for one, so it can take no part in a deadlock, and
                # removals at once take different sessions. SQLite has no row locks:
                # two removals at once may find the same sessions, and the second, its
                # turn to write come, finds them gone (the counts below are of rows
                # removed, so nothing is counted twice).
                ids.update(conn.scalars(found.with_for_update(skip_locked=True)))
                if len(ids) >= limit:
                    break
            chosen = sorted(ids)[:limit]
            if not chosen:
                return Purged()
            # A session refreshed every few minutes for months has thousands of rotated
            # refresh tokens, kept until it goes. More than ``row_limit`` of them: that
            # many go now, and the sessions at a later call, so that no transaction
            # holds the database (SQLite's one writer) for long. Those sessions have
            # ended: a refresh token of theirs is refused with or without its row.
            t = refresh_tokens.c
            tokens = list(
                conn.scalars(
                    select(t.token_hash).where(t.session_id.in_(chosen)).limit(row_limit + 1)
                )
            )
            if len(tokens) > row_limit:
                some = delete(refresh_tokens).where(t.token_hash.in_(tokens[:row_limit]))
                return Purged(refresh_tokens=conn.execute(some).rowcount)
            gone = conn.execute(delete(refresh_tokens).where(t.session_id.in_(chosen))).rowcount
            # Their browser sign-ins go with them (ON DELETE CASCADE); the condition
            # again, so only what ended is ever removed.
            removed = conn.execute(delete(sessions).where(c.id.in_(chosen), ended).returning(c.id))
            return Purged(sessions=len(removed.all()), refresh_tokens=gone)

    @fail_closed
    def touch(self, session_id: str, now: float) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(sessions).where(sessions.c.id == session_id).values(last_used_at=now)
            )

    @fail_closed
    def revoke(self, session_id: str, *, now: float, reason: str, until: float) -> bool:
        if "\x00" in session_id:
            return False
        with self._engine.begin() as conn:
            exists = select(sessions.c.id).where(sessions.c.id == session_id)
            if conn.execute(exists).first() is None:
                return False
            result = conn.execute(
                update(sessions)
                .where(sessions.c.id == session_id, sessions.c.revoked_at.is_(None))
                .values(revoked_at=now, revoked_reason=reason[:64])
            )
            # In the same transaction: the session never ends without its revocation.
            revocations.record(conn, [Revocation(session_id, until)], now=now)
        return result.rowcount == 1

    @fail_closed
    def revoke_all_for_user(
        self, user_id: str, *, now: float, reason: str, until: float
    ) -> list[Session]:
        with self._engine.begin() as conn:
            ended = [
                session_of_row(r)
                for r in conn.execute(end_sessions_of(user_id, now, reason, until=until)).all()
            ]
            revocations.record(conn, [Revocation(s.id, until) for s in ended], now=now)
        return ended

    @fail_closed
    def revocations_for_user(self, user_id: str, *, now: float) -> list[Revocation]:
        with self._engine.connect() as conn:
            return revocations.in_force_for_user(conn, user_id, now=now)

    @fail_closed
    def get_refresh(self, token_hash: str) -> RefreshRecord | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)
            ).first()
        if row is None:
            return None
        m = row._mapping
        return RefreshRecord(
            m["token_hash"], m["session_id"], m["created_at"], m["rotated_at"], m["successor"]
        )

    @fail_closed
    def rotate_refresh(
        self, old_hash: str, new_hash: str, *, session_id: str, now: float, successor: str
    ) -> bool:
        t = refresh_tokens.c
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(refresh_tokens).values(
                        token_hash=new_hash, session_id=session_id, created_at=now
                    )
                )
                # One conditional UPDATE decides the winner among concurrent refreshes.
                result = conn.execute(
                    update(refresh_tokens)
                    .where(t.token_hash == old_hash, t.rotated_at.is_(None))
                    .values(rotated_at=now, successor=successor)
                )
                if result.rowcount != 1:
                    raise _LostRace
        except _LostRace:
            return False
        return True

    @fail_closed
    def for_client(self, client_id: str) -> list[Session]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(sessions).where(sessions.c.client_id == client_id)).all()
        return [session_of_row(r) for r in rows]

    @fail_closed
    def count_active(self, now: float) -> int:
        """Sessions neither revoked, expired nor idle at ``now`` (Session.is_active)."""
        c = sessions.c
        query = select(func.count()).where(
            c.revoked_at.is_(None), c.expires_at > now, c.last_used_at + c.idle_timeout > now
        )
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())
