"""On PostgreSQL the administration queries are answered from indexes: no sequential
scan of users or sessions for a page, a search, a filter or a count, nor of the
revoked sessions for the revocation reader's read of new rows, nor of the active
sessions when the ended ones are removed.

How: a database shaped like a live one (100,000 accounts with real-sized rows, most
active, some pending, disabled, locked or delayed; stale failure rows; 200,000
sessions; 100,000 revocations written over two days), then VACUUM ANALYZE, so that
the planner has the statistics and the visibility map a running service has, and
then EXPLAIN of the statements the adapters run, with their parameters. The plan
asserted is the one PostgreSQL would choose for that data. Turning sequential scans
off (``SET enable_seqscan = off``) would only show that an index *can* serve a query:
the planner then takes any index at all, however slow; here a query whose index
were missing, or slower than reading the table, fails.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, Select, create_engine, text

from secureflaskauth.adapters.db.engine import make_engine
from secureflaskauth.adapters.db.revocations import SqlRevocationArchive
from secureflaskauth.adapters.db.sessionlist import SqlSessionDirectory
from secureflaskauth.adapters.db.sessions import SqlSessionStore
from secureflaskauth.adapters.db.userlist import SqlUserDirectory
from secureflaskauth.domain import accountstate as states
from secureflaskauth.domain.directory import SessionQuery, UserQuery
from secureflaskauth.domain.lockout import LockoutPolicy
from tests.conftest import PostgresDatabases, service_unavailable

pytestmark = pytest.mark.postgres

USERS = 100_000
POLICY = LockoutPolicy(
    threshold=5, base_seconds=30, max_seconds=900, quiet_reset_seconds=43200, disable_after=100
)
NOW = time.time()
TABLES = {"users", "sessions", "revoked_sessions", "login_failures"}
INDEXED = {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}

_FILL = [
    # One in 25 pending, one in 100 disabled, one in 1000 code-locked; names, hashes
    # and numbers of their real sizes.
    """INSERT INTO users (id, username, username_canonical, username_skeleton, password_hash,
       phone_e164, created_at, disabled, otp_failures, otp_locked_until, phone_verified_at,
       password_reset_required)
     SELECT md5(n::text)::uuid::text, 'user.' || lpad(n::text, 7, '0'),
       'user.' || lpad(n::text, 7, '0'), 'user.' || lpad(n::text, 7, '0'),
       '$argon2id$v=19$m=65536,t=3,p=4$' || md5(n || 's') || '$' || md5(n::text) || md5(n || 'h'),
       '+97250' || lpad(n::text, 7, '0'), :now - (:n - n) * 60, n % 100 = 7, 0,
       CASE WHEN n % 1000 = 3 THEN :now + 600 END,
       CASE WHEN n % 25 = 1 THEN NULL ELSE :now - (:n - n) * 60 END, false
     FROM generate_series(1, :n) n""",
    # Failure rows of one name in ten, nearly all old and below the threshold; a few
    # stopped, a few recent.
    """INSERT INTO login_failures (key, failures, last_failure_at, in_flight)
     SELECT 'user.' || lpad(n::text, 7, '0'),
       CASE WHEN n % 997 = 0 THEN 100 ELSE 1 + n % 4 END,
       CASE WHEN n % 499 = 0 THEN :now - 10 ELSE :now - 86400 * (1 + n % 300) END, 0
     FROM generate_series(1, :n, 10) n""",
    # Two sessions an account over the last months: one in three revoked.
    """INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, idle_timeout,
       ip, user_agent, amr, revoked_at, revoked_reason)
     SELECT md5('s' || n), md5((1 + n % :n)::text)::uuid::text, :now - (2 * :n - n) * 30,
       :now - (2 * :n - n) * 30, :now - (2 * :n - n) * 30 + 86400 * 30, 86400 * 7,
       '203.0.113.7', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36', 'pwd sms',
       CASE WHEN n % 3 = 0 THEN :now - n END, CASE WHEN n % 3 = 0 THEN 'signed out' END
     FROM generate_series(1, 2 * :n) n""",
    """INSERT INTO revoked_sessions (session_id, until, revoked_at)
     SELECT md5('r' || n), :now + 900 - n * 1.7, :now - n * 1.7
     FROM generate_series(1, :n) n""",
]


@pytest.fixture(scope="module")
def engine(postgres_databases: PostgresDatabases | None) -> Iterator[Engine]:
    if postgres_databases is None:
        service_unavailable("PostgreSQL")
    assert postgres_databases is not None
    url = postgres_databases.new()
    filling = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with filling.begin() as conn:
        for statement in _FILL:
            conn.execute(text(statement), {"n": USERS, "now": NOW})
    with filling.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    filling.dispose()
    engine = make_engine(url)
    yield engine
    engine.dispose()


def scans(engine: Engine, statement: Select[*tuple[Any, ...]]) -> list[tuple[str, str, str | None]]:
    """Each scan in the plan PostgreSQL picks: (node type, table, index or None)."""
    compiled = statement.compile(dialect=engine.dialect)
    with engine.connect() as conn:
        plan = conn.exec_driver_sql(
            f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params
        ).scalar_one()
    found: list[tuple[str, str, str | None]] = []

    def walk(node: dict[str, Any]) -> None:
        if "Relation Name" in node or "Index Name" in node:
            found.append((node["Node Type"], node.get("Relation Name", ""), node.get("Index Name")))
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


def assert_indexed(engine: Engine, statement: Select[*tuple[Any, ...]], *indexes: str) -> None:
    """No sequential scan of the service's tables, and these indexes among those used."""
    found = scans(engine, statement)
    sequential = [s for s in found if s[0] == "Seq Scan" and s[1] in TABLES]
    assert not sequential, found
    used = {index for _, _, index in found}
    assert set(indexes) <= used, found


@pytest.fixture(scope="module")
def users(engine: Engine) -> SqlUserDirectory:
    return SqlUserDirectory(engine, POLICY)


def page(users: SqlUserDirectory, query: UserQuery, after: Any = None) -> Select[Any]:
    return users.statement(query, after=after, limit=51, now=NOW)


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (UserQuery(), "ix_users_created_at_id"),
        (UserQuery(state=states.ACTIVE), "ix_users_created_at_id"),
        (UserQuery(state=states.PENDING), "ix_users_pending_created_at"),
        (UserQuery(state=states.DISABLED), "ix_users_disabled_created_at"),
        (UserQuery(created_since=NOW - 86400), "ix_users_created_at_id"),
        (UserQuery(prefix="user.0012"), "ix_users_username_canonical_c"),
        (UserQuery(prefix="user.", state=states.PENDING), "ix_users_username_canonical_c"),
    ],
)
def test_a_page_of_users_comes_from_an_index(
    engine: Engine, users: SqlUserDirectory, query: UserQuery, index: str
) -> None:
    assert_indexed(engine, page(users, query), index)
    middle = ("user.0050000",) if query.prefix else (NOW - USERS * 30, "8")
    assert_indexed(engine, page(users, query, after=middle), index)


@pytest.mark.parametrize("state", [states.LOCKED, states.DELAYED])
def test_locked_and_delayed_accounts_are_found_from_their_indexes(
    engine: Engine, users: SqlUserDirectory, state: str
) -> None:
    assert_indexed(
        engine,
        page(users, UserQuery(state=state)),
        "ix_users_otp_locked_until",
        "ix_login_failures_failures",
        "ix_login_failures_last_failure_at",
        "users_username_canonical_key",
    )


def test_the_counts_read_indexes_only(engine: Engine, users: SqlUserDirectory) -> None:
    totals, flagged = users.count_statements(NOW)
    found = scans(engine, totals)
    assert {s[0] for s in found if s[1] == "users"} <= INDEXED | {"Bitmap Heap Scan"}, found
    # The whole-table count, the disabled and the unverified ones: from indexes alone.
    only = {index for kind, _, index in found if kind == "Index Only Scan"}
    assert {"ix_users_disabled_created_at", "ix_users_pending_created_at"} <= only, found
    assert len(only) == 3, found
    assert_indexed(engine, flagged, "ix_users_otp_locked_until")
    counted = users.count(now=NOW)
    assert counted["total"] == USERS
    assert counted[states.DISABLED] == USERS // 100
    assert sum(counted[s] for s in states.STATES) == USERS


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (SessionQuery(), "ix_sessions_created_at_id"),
        (SessionQuery(state="active"), "ix_sessions_created_at_id"),
        (SessionQuery(state="revoked"), "ix_sessions_created_at_id"),
        (
            SessionQuery(user_id="00000000-0000-0000-0000-000000000000"),
            "ix_sessions_user_id_created_at",
        ),
    ],
)
def test_a_page_of_sessions_comes_from_an_index(
    engine: Engine, query: SessionQuery, index: str
) -> None:
    statement = SqlSessionDirectory.statement(query, after=None, limit=51, now=NOW)
    assert_indexed(engine, statement, index)
    after = SqlSessionDirectory.statement(query, after=(NOW - 86400, "f"), limit=51, now=NOW)
    assert_indexed(engine, after, index)


def test_the_session_counts_read_indexes_only(engine: Engine) -> None:
    found = scans(engine, SqlSessionDirectory.count_statement(NOW))
    assert {kind for kind, table, _ in found if table == "sessions"} == {"Index Only Scan"}, found
    indexes = {index for _, _, index in found}
    assert {"ix_sessions_revoked_at", "ix_sessions_unrevoked_expiry"} <= indexes, found
    assert len(indexes) == 3, found  # and one (the planner's pick) for the whole count
    counted = SqlSessionDirectory(engine).count(now=NOW)
    assert counted["total"] == 2 * USERS
    assert counted["revoked"] == 2 * USERS // 3
    assert counted["active"] + counted["expired"] + counted["revoked"] == counted["total"]
    assert counted["active"] > 0 and counted["expired"] > 0


def test_the_revocation_readers_read_of_new_rows_uses_the_revoked_at_index(
    engine: Engine,
) -> None:
    recent = SqlRevocationArchive.query(NOW, NOW - 120)
    assert_indexed(engine, recent, "ix_revoked_sessions_revoked_at")


def test_the_ended_sessions_to_remove_are_found_from_their_indexes(engine: Engine) -> None:
    # A day ago: most of the 200,000 sessions have ended by then, one way or another.
    revoked, expired, idle = (
        s.with_for_update(skip_locked=True)
        for s in SqlSessionStore.purge_statements(NOW - 86400, 20)
    )
    assert_indexed(engine, revoked, "ix_sessions_revoked_at")
    assert_indexed(engine, expired, "ix_sessions_unrevoked_expiry")
    assert_indexed(engine, idle, "ix_sessions_unrevoked_idle_end")
    with engine.connect() as conn:
        assert all(len(conn.execute(s).all()) == 20 for s in (revoked, expired, idle))
