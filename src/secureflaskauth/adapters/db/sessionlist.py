"""SessionDirectory on SQLAlchemy: sessions newest first, keyed by (created_at, id),
of every user (index on created_at, id) or of one (index on user_id, created_at, id);
counts from the partial indexes of revoked and of unrevoked sessions. A whole listing
is read as userlist.py reads one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import ColumnElement, Engine, Row, Select, and_, func, not_, select, tuple_

from secureflaskauth.adapters.db import cursors
from secureflaskauth.adapters.db.errors import fail_closed, failing_closed
from secureflaskauth.adapters.db.sessions import session_of_row
from secureflaskauth.adapters.db.tables import sessions, users
from secureflaskauth.domain import directory
from secureflaskauth.domain.directory import ListedSession, Page, SessionQuery

NEWEST = "sessions-newest"
BATCH = 1000
_KINDS: tuple[type[float] | type[str], ...] = (float, str)


def live(now: float) -> ColumnElement[bool]:
    """Session.is_active, but for the revocation (the partial indexes' condition)."""
    c = sessions.c
    return and_(c.expires_at > now, c.last_used_at + c.idle_timeout > now)


def in_state(state: str, now: float) -> ColumnElement[bool]:
    """directory.session_state(session) == state."""
    revoked = sessions.c.revoked_at
    if state == directory.SESSION_REVOKED:
        return revoked.is_not(None)
    if state == directory.SESSION_ACTIVE:
        return and_(revoked.is_(None), live(now))
    return and_(revoked.is_(None), not_(live(now)))


class SqlSessionDirectory:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    @staticmethod
    def statement(
        query: SessionQuery, *, after: cursors.Key | None, limit: int | None, now: float
    ) -> Select[Any]:
        c = sessions.c
        stmt = select(sessions, users.c.username).join(users, users.c.id == c.user_id)
        if query.user_id is not None:
            stmt = stmt.where(c.user_id == query.user_id)
        if after is not None:
            stmt = stmt.where(tuple_(c.created_at, c.id) < tuple_(*after))
        if query.created_since is not None:
            stmt = stmt.where(c.created_at >= query.created_since)
        if query.state is not None:
            stmt = stmt.where(in_state(query.state, now))
        stmt = stmt.order_by(c.created_at.desc(), c.id.desc())
        return stmt if limit is None else stmt.limit(limit)

    @staticmethod
    def _listed(row: Row[Any]) -> ListedSession:
        return ListedSession(session_of_row(row), str(row._mapping["username"]))

    @staticmethod
    def _key(listed: ListedSession) -> cursors.Key:
        return (listed.session.created_at, listed.session.id)

    @staticmethod
    def _after(after: str | None) -> cursors.Key | None:
        return None if after is None else cursors.decode(after, NEWEST, _KINDS)

    @fail_closed
    def page(
        self, query: SessionQuery, *, after: str | None, limit: int, now: float
    ) -> Page[ListedSession]:
        stmt = self.statement(query, after=self._after(after), limit=limit + 1, now=now)
        with self._engine.connect() as conn:
            rows = [self._listed(r) for r in conn.execute(stmt)]
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, cursors.encode(NEWEST, self._key(rows[-1])) if more else None)

    def every(
        self, query: SessionQuery, *, after: str | None, now: float
    ) -> Iterator[ListedSession]:
        return self._every(query, self._after(after), now)  # the cursor checked now

    def _every(
        self, query: SessionQuery, key: cursors.Key | None, now: float
    ) -> Iterator[ListedSession]:
        if self._postgres:
            stmt = self.statement(query, after=key, limit=None, now=now)
            with failing_closed(), self._engine.connect() as conn:
                result = conn.execution_options(yield_per=BATCH).execute(stmt)
                for rows in result.partitions():
                    yield from (self._listed(r) for r in rows)
            return
        while True:
            stmt = self.statement(query, after=key, limit=BATCH, now=now)
            with failing_closed(), self._engine.connect() as conn:
                batch = [self._listed(r) for r in conn.execute(stmt)]
            yield from batch
            if len(batch) < BATCH:
                return
            key = self._key(batch[-1])

    @staticmethod
    def count_statement(now: float) -> Select[Any]:
        def counted(*where: ColumnElement[bool]) -> Any:
            return select(func.count()).select_from(sessions).where(*where).scalar_subquery()

        # Each from an index alone (an index-only scan): every session (the whole-table
        # count, which PostgreSQL splits between parallel workers), the revoked ones from
        # their partial index, and the active ones, a range of expiry times in the partial
        # index of the others. Ended sessions are kept, so most rows are neither revoked
        # nor active: counting "not revoked" as well read them all a second time.
        return select(
            counted().label("total"),
            counted(in_state(directory.SESSION_REVOKED, now)).label("revoked"),
            counted(in_state(directory.SESSION_ACTIVE, now)).label("active"),
        )

    @fail_closed
    def count(self, *, now: float) -> dict[str, int]:
        with self._engine.connect() as conn:
            found = conn.execute(self.count_statement(now)).one()._mapping
        total, revoked = int(found["total"]), int(found["revoked"])
        active = int(found["active"])
        return {
            directory.SESSION_ACTIVE: active,
            directory.SESSION_REVOKED: revoked,
            directory.SESSION_EXPIRED: total - revoked - active,
            "total": total,
        }
