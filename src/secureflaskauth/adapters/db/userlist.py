"""UserDirectory on SQLAlchemy: pages, filters and counts of accounts, each answered
from an index (migration 0020 makes them; tests/cli/test_listing_plans.py checks the
plans PostgreSQL picks with a realistic table).

Oldest first, keyed by (created_at, id); with a username prefix, in username order,
keyed by the canonical username. The SQL finds the accounts that may be in the state
asked for, through an index; the domain's rule keeps those that are. A page reads
on until it has its rows (or the end); a whole listing is read BATCH rows at a time:
through one server-side cursor on PostgreSQL, and on SQLite one short query per
batch (keyset), so that no read transaction stays open for the whole listing.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any

from sqlalchemy import ColumnElement, Engine, Row, Select, func, not_, select, tuple_

from secureflaskauth.adapters.db import accountstate as sql_state
from secureflaskauth.adapters.db import cursors
from secureflaskauth.adapters.db.errors import fail_closed, failing_closed
from secureflaskauth.adapters.db.tables import login_failures, users
from secureflaskauth.adapters.db.users import user_from_row
from secureflaskauth.domain import accountstate as states
from secureflaskauth.domain.directory import ListedUser, Page, UserQuery
from secureflaskauth.domain.lockout import LockoutPolicy

BY_CREATED, BY_NAME = "users-created", "users-name"
BATCH = 1000
# After every canonical username that starts with a prefix, in code-point order: no
# name holds U+10FFFF (a noncharacter: RFC 8265 refuses it).
_AFTER_ALL = "\U0010ffff"


class SqlUserDirectory:
    def __init__(self, engine: Engine, policy: LockoutPolicy) -> None:
        self._engine = engine
        self._policy = policy
        self._postgres = engine.dialect.name == "postgresql"

    def _name(self) -> ColumnElement[str]:
        """The canonical username in code-point order whatever the database's
        collation: under COLLATE "C" on PostgreSQL (an index of its own), as it is on
        SQLite (BINARY)."""
        name = users.c.username_canonical
        return name.collate("C") if self._postgres else name

    @staticmethod
    def order(query: UserQuery) -> str:
        return BY_NAME if query.prefix is not None else BY_CREATED

    def statement(
        self, query: UserQuery, *, after: cursors.Key | None, limit: int | None, now: float
    ) -> Select[Any]:
        """The accounts of ``query`` after the key ``after``, in order, with their
        failure rows."""
        f = login_failures
        stmt = select(users, f.c.failures, f.c.last_failure_at, f.c.in_flight).select_from(
            sql_state.joined(users, f)
        )
        if query.prefix is not None:
            name = self._name()
            stmt = stmt.where(name >= query.prefix, name < query.prefix + _AFTER_ALL)
            if after is not None:
                stmt = stmt.where(name > after[0])
            stmt = stmt.order_by(name)
        else:
            if after is not None:
                stmt = stmt.where(tuple_(users.c.created_at, users.c.id) > tuple_(*after))
            stmt = stmt.order_by(users.c.created_at, users.c.id)
        if query.created_since is not None:
            stmt = stmt.where(users.c.created_at >= query.created_since)
        if query.state is not None:
            stmt = stmt.where(*self._candidates(query.state, now))
        return stmt if limit is None else stmt.limit(limit)

    def _candidates(self, state: str, now: float) -> list[ColumnElement[bool]]:
        """The accounts that may be in the state, found through an index: the partial
        indexes of disabled and of unverified accounts, the main one for the others
        (most of them: active), and for locks and delays the few flagged accounts.
        The state itself is then the domain's rule (``state_of``): a lock or a
        delay is time and policy arithmetic a planner cannot estimate."""
        if state == states.DISABLED:
            return [users.c.disabled]
        if state == states.PENDING:
            return [users.c.phone_verified_at.is_(None), not_(users.c.disabled)]
        if state == states.ACTIVE:
            return [users.c.phone_verified_at.is_not(None), not_(users.c.disabled)]
        return [users.c.id.in_(sql_state.flagged(users, login_failures, self._policy, now))]

    def state_of(self, listed: ListedUser, now: float) -> str:
        delay = states.login_delay(self._policy, listed.failures, now)
        return states.account_state(listed.user, delay, now)

    @staticmethod
    def _listed(row: Row[Any]) -> ListedUser:
        m = row._mapping
        failures = None
        if m["failures"] is not None:
            failures = (int(m["failures"]), float(m["last_failure_at"]), int(m["in_flight"]))
        return ListedUser(user_from_row(row), failures)

    @staticmethod
    def _key(order: str, listed: ListedUser) -> cursors.Key:
        user = listed.user
        if order == BY_NAME:
            return (user.username_canonical,)
        return (user.created_at, user.id)

    def _after(self, order: str, after: str | None) -> cursors.Key | None:
        if after is None:
            return None
        kinds: tuple[type[float] | type[str], ...] = (str,) if order == BY_NAME else (float, str)
        return cursors.decode(after, order, kinds)

    @fail_closed
    def page(
        self, query: UserQuery, *, after: str | None, limit: int, now: float
    ) -> Page[ListedUser]:
        order = self.order(query)
        # The few flagged accounts are read whole and sorted: one query for them all.
        flagged = query.state in (states.LOCKED, states.DELAYED)
        first = max(limit + 1, BATCH) if flagged else limit + 1
        batches = self._batches(query, order, self._after(order, after), now, first)
        rows = list(islice(self._matching(batches, query.state, now), limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, cursors.encode(order, self._key(order, rows[-1])) if more else None)

    def every(self, query: UserQuery, *, after: str | None, now: float) -> Iterator[ListedUser]:
        order = self.order(query)
        key = self._after(order, after)  # a bad cursor raises now, not at the first row
        if self._postgres:
            return self._matching(self._streamed(query, key, now), query.state, now)
        return self._matching(self._batches(query, order, key, now, BATCH), query.state, now)

    def _matching(
        self, batches: Iterator[list[ListedUser]], state: str | None, now: float
    ) -> Iterator[ListedUser]:
        for batch in batches:
            yield from (r for r in batch if state is None or self.state_of(r, now) == state)

    def _batches(
        self, query: UserQuery, order: str, key: cursors.Key | None, now: float, size: int
    ) -> Iterator[list[ListedUser]]:
        """The candidate rows, ``size`` first, then BATCH at a time, each batch a
        short query of its own (keyset): no read stays open between batches."""
        while True:
            stmt = self.statement(query, after=key, limit=size, now=now)
            with failing_closed(), self._engine.connect() as conn:
                batch = [self._listed(r) for r in conn.execute(stmt)]
            yield batch
            if len(batch) < size:
                return
            key, size = self._key(order, batch[-1]), max(size, BATCH)

    def _streamed(
        self, query: UserQuery, key: cursors.Key | None, now: float
    ) -> Iterator[list[ListedUser]]:
        """The candidate rows through one server-side cursor, BATCH at a time."""
        stmt = self.statement(query, after=key, limit=None, now=now)
        with failing_closed(), self._engine.connect() as conn:
            result = conn.execution_options(yield_per=BATCH).execute(stmt)
            for rows in result.partitions():
                yield [self._listed(r) for r in rows]

    def count_statements(self, now: float) -> tuple[Select[Any], Select[Any]]:
        """The counts every state needs: whole-table and partial-index counts, and the
        states of the few accounts that may be locked or delayed."""
        u, f = users, login_failures
        unverified = u.c.phone_verified_at.is_(None)

        def counted(*where: ColumnElement[bool]) -> Any:
            return select(func.count()).select_from(u).where(*where).scalar_subquery()

        totals = select(
            counted().label("total"),
            counted(u.c.disabled).label("disabled"),
            counted(unverified).label("unverified"),
            counted(unverified, u.c.disabled).label("unverified_disabled"),
        )
        flagged = (
            select(
                sql_state.state(u, f, self._policy, now).label("state"),
                unverified.label("unverified"),
            )
            .select_from(sql_state.joined(u, f))
            .where(u.c.id.in_(sql_state.flagged(u, f, self._policy, now)), not_(u.c.disabled))
            .subquery()
        )
        by_state = select(flagged.c.state, flagged.c.unverified, func.count()).group_by(
            flagged.c.state, flagged.c.unverified
        )
        return totals, by_state

    @fail_closed
    def count(self, *, now: float) -> dict[str, int]:
        totals_stmt, flagged_stmt = self.count_statements(now)
        with self._engine.connect() as conn:
            if self._postgres:  # both statements see the same snapshot
                conn.execution_options(isolation_level="REPEATABLE READ")
            totals = conn.execute(totals_stmt).one()._mapping
            flagged = conn.execute(flagged_stmt).all()
        found = {states.LOCKED: 0, states.DELAYED: 0}
        flagged_unverified = 0
        for state, unverified, n in flagged:
            if state in found:
                found[state] += int(n)
                flagged_unverified += int(n) if unverified else 0
        disabled = int(totals["disabled"])
        pending = int(totals["unverified"]) - int(totals["unverified_disabled"])
        pending -= flagged_unverified
        total = int(totals["total"])
        active = total - disabled - pending - found[states.LOCKED] - found[states.DELAYED]
        counts = {states.ACTIVE: active, states.PENDING: pending, states.DISABLED: disabled}
        counts.update(found)
        return {**{s: counts[s] for s in states.STATES}, "total": total}
