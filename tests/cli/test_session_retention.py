"""Ended sessions are kept SFA_SESSION_RETENTION_SECONDS, then removed: a batch at each
sign-in, and all of them by ``secureflaskauth maintenance``. Active sessions never are,
whatever their age, and a removed session takes its refresh tokens with it."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, insert, select, text, update

from secureflaskauth import cli as cli_module
from secureflaskauth.adapters.db.sessions import SqlSessionStore
from secureflaskauth.adapters.db.tables import refresh_tokens, sessions
from secureflaskauth.domain import sessions as domain_sessions
from secureflaskauth.domain.errors import StoreUnavailable
from secureflaskauth.domain.models import Purged, Session
from tests.cli.conftest import Cli, cli_json_lines, full_sign_in, private_status, wiring_of
from tests.conftest import register

DAY = 86400.0
RETENTION = 90 * DAY  # the default


def ended_sessions(
    client: FlaskClient, user_id: str, count: int, ended_days_ago: float, refreshed: int = 0
) -> list[str]:
    """``count`` sessions of the user, revoked ``ended_days_ago`` days before the app's
    clock, each with a refresh token (written through the store, as a sign-in would)
    and ``refreshed`` rotated ones before it; their ids."""
    w = wiring_of(client.application)
    now = w.clock.now()
    made: list[str] = []
    for index in range(count):
        started = now - (ended_days_ago + 1) * DAY
        session = Session(
            id=secrets.token_urlsafe(16),
            user_id=user_id,
            created_at=started,
            last_used_at=started,
            expires_at=started + 30 * DAY,
            idle_timeout=7 * DAY,
            ip="192.0.2.1",
            user_agent="old",
            amr=("pwd", "sms"),
        )
        assert w.sessions.store.create(session, secrets.token_hex(32))
        # Logged out then, a second apart: the order they are removed in is known.
        age(client, session.id, revoked_at=now - ended_days_ago * DAY - index)
        rotated = [
            {"token_hash": secrets.token_hex(32), "session_id": session.id, "created_at": started}
            for _ in range(refreshed)
        ]
        if rotated:
            with w.engine.begin() as conn:
                conn.execute(insert(refresh_tokens), rotated)
        made.append(session.id)
    return made


def age(client: FlaskClient, session_id: str, **values: float) -> None:
    with wiring_of(client.application).engine.begin() as conn:
        conn.execute(update(sessions).where(sessions.c.id == session_id).values(**values))


def session_ids(client: FlaskClient) -> set[str]:
    with wiring_of(client.application).engine.connect() as conn:
        return {row.id for row in conn.execute(select(sessions.c.id))}


def refresh_tokens_of(client: FlaskClient, session_ids: set[str]) -> int:
    with wiring_of(client.application).engine.connect() as conn:
        found = select(func.count()).where(refresh_tokens.c.session_id.in_(session_ids))
        return int(conn.execute(found).scalar_one())


def purge_failing_at(
    monkeypatch: pytest.MonkeyPatch, call: int
) -> list[tuple[dict[str, Any], Purged]]:
    """The store's ``purge_ended`` fails with a database error at its ``call``-th call,
    and is itself again afterwards (the store is back); each call before it, with its
    arguments and what it removed."""
    real = SqlSessionStore.purge_ended
    done: list[tuple[dict[str, Any], Purged]] = []

    def purge(self: SqlSessionStore, **kwargs: Any) -> Purged:
        if len(done) == call - 1:
            monkeypatch.setattr(SqlSessionStore, "purge_ended", real)
            raise StoreUnavailable("database", "disk I/O error")
        done.append((kwargs, real(self, **kwargs)))
        return done[-1][1]

    monkeypatch.setattr(SqlSessionStore, "purge_ended", purge)
    return done


def test_maintenance_removes_the_sessions_that_ended_before_the_retention_only(
    cli: Cli, client: FlaskClient
) -> None:
    username = register(client)
    signed = [full_sign_in(client, username) for _ in range(7)]
    ids = [s.session_id for s in signed]
    now = time.time()
    old = now - RETENTION - DAY
    idle = 7 * DAY
    # Ended before the retention: revoked, past their lifetime, idle past their timeout.
    age(client, ids[0], created_at=old - DAY, revoked_at=old)
    age(client, ids[1], created_at=old - 30 * DAY, expires_at=old)
    age(client, ids[2], created_at=old - 2 * idle, last_used_at=old - idle, idle_timeout=idle)
    # Ended within it: kept for the listings.
    age(client, ids[3], created_at=old, revoked_at=now - 10 * DAY)
    age(client, ids[4], created_at=now - 40 * DAY, expires_at=now - 10 * DAY)
    # Active, though started long before the retention (a long SFA_SESSION_LIFETIME).
    age(client, ids[5], created_at=now - 200 * DAY, expires_at=now + DAY, last_used_at=now)
    # ids[6]: active and new.

    result = cli("maintenance")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["removed 0 pending accounts", "removed 3 ended sessions"]
    assert session_ids(client) == set(ids[3:])
    assert refresh_tokens_of(client, set(ids[:3])) == 0
    assert refresh_tokens_of(client, set(ids[3:])) == 4
    listed = {s["id"] for s in cli_json_lines(cli, "sessions", "list", "--all")}
    assert listed == set(ids[3:])
    # The active ones still work; running it again finds nothing more.
    assert private_status(client, signed[5].access_token) == 200
    assert private_status(client, signed[6].access_token) == 200
    again = cli("maintenance")
    assert again.stdout.splitlines()[-1] == "removed 0 ended sessions"
    assert session_ids(client) == set(ids[3:])


def test_each_sign_in_removes_a_batch_of_the_ended_sessions(client: FlaskClient) -> None:
    username = register(client)
    first = full_sign_in(client, username)
    ended_sessions(client, first.user_id, domain_sessions.PURGE_BATCH + 5, ended_days_ago=91)
    ended_sessions(client, first.user_id, 3, ended_days_ago=89)  # within the retention
    assert len(session_ids(client)) == 1 + domain_sessions.PURGE_BATCH + 5 + 3

    second = full_sign_in(client, username)
    assert len(session_ids(client)) == 2 + 5 + 3  # one batch gone
    third = full_sign_in(client, username)
    assert len(session_ids(client)) == 3 + 3  # the rest of them
    assert {first.session_id, second.session_id, third.session_id} <= session_ids(client)


def test_a_sign_in_succeeds_when_the_ended_sessions_cannot_be_removed(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    username = register(client)
    first = full_sign_in(client, username)
    ended_sessions(client, first.user_id, 2, ended_days_ago=91)

    def unavailable(self: SqlSessionStore, **_: Any) -> int:
        raise StoreUnavailable("database", "connection refused")

    monkeypatch.setattr(SqlSessionStore, "purge_ended", unavailable)
    with caplog.at_level(logging.WARNING):
        second = full_sign_in(client, username)
    assert private_status(client, second.access_token) == 200
    assert "ended sessions not removed this time (connection refused)" in caplog.text
    assert len(session_ids(client)) == 4  # nothing removed, nothing half-removed
    monkeypatch.undo()
    full_sign_in(client, username)  # the next sign-in removes them
    assert len(session_ids(client)) == 3


def test_maintenance_stopped_by_a_failing_store_keeps_each_batch_whole_and_a_rerun_ends_it(
    cli: Cli, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    username = register(client)
    first = full_sign_in(client, username)
    ended_sessions(client, first.user_id, 5, ended_days_ago=95)
    monkeypatch.setattr(cli_module, "MAINTENANCE_BATCH", 2)
    purge_failing_at(monkeypatch, 2)
    failed = cli("maintenance")
    assert failed.exit_code == 1
    assert "the database is unavailable (disk I/O error)" in failed.output
    left = session_ids(client) - {first.session_id}
    assert len(left) == 3  # the first batch of two is gone, whole
    assert refresh_tokens_of(client, left) == 3

    rerun = cli("maintenance")
    assert rerun.exit_code == 0, rerun.output
    assert rerun.stdout.splitlines()[-1] == "removed 3 ended sessions"
    assert session_ids(client) == {first.session_id}


def test_removals_at_once_remove_each_ended_session_once(client: FlaskClient) -> None:
    username = register(client)
    first = full_sign_in(client, username)
    ended_sessions(client, first.user_id, 30, ended_days_ago=100)
    store = wiring_of(client.application).sessions.store
    cutoff = wiring_of(client.application).clock.now() - RETENTION
    start = threading.Barrier(8)
    removed: list[int] = []
    tokens: list[int] = []
    errors: list[BaseException] = []

    def purge() -> None:
        start.wait()
        try:
            while batch := store.purge_ended(ended_before=cutoff, limit=4, row_limit=100):
                removed.append(batch.sessions)
                tokens.append(batch.refresh_tokens)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=purge) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(removed) == 30
    assert sum(tokens) == 30  # one each: each counted once, by whichever removed it
    assert session_ids(client) == {first.session_id}
    assert private_status(client, first.access_token) == 200


def test_a_session_refreshed_for_months_goes_a_bounded_number_of_rows_at_a_time(
    client: FlaskClient,
) -> None:
    username = register(client)
    first = full_sign_in(client, username)
    rows = domain_sessions.PURGE_ROWS
    heavy = ended_sessions(client, first.user_id, 1, ended_days_ago=91, refreshed=rows + 200)
    light = ended_sessions(client, first.user_id, 3, ended_days_ago=91)

    # One sign-in removes PURGE_ROWS of the refresh tokens and no session yet (those
    # chosen with it wait for the next); it is answered as any other.
    second = full_sign_in(client, username)
    assert private_status(client, second.access_token) == 200
    left = session_ids(client)
    assert set(heavy + light) <= left
    # 1,204 refresh tokens among the four (the heavy one's 1,201, one each for the
    # others): 1,000 of them went, whichever.
    assert refresh_tokens_of(client, set(heavy + light)) == 204
    full_sign_in(client, username)
    assert not set(heavy + light) & session_ids(client)
    assert refresh_tokens_of(client, set(heavy + light)) == 0


def test_maintenance_removes_refresh_heavy_sessions_in_bounded_transactions_and_resumes(
    cli: Cli, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    username = register(client)
    first = full_sign_in(client, username)
    heavy = ended_sessions(client, first.user_id, 4, ended_days_ago=120, refreshed=9)
    monkeypatch.setattr(cli_module, "MAINTENANCE_BATCH", 2)
    monkeypatch.setattr(cli_module, "MAINTENANCE_ROWS", 8)
    done = purge_failing_at(monkeypatch, 4)
    failed = cli("maintenance")
    assert failed.exit_code == 1
    # 20 tokens for the first two sessions: 8, 8, then 4 with the sessions.
    assert [(p.sessions, p.refresh_tokens) for _, p in done] == [(0, 8), (0, 8), (2, 4)]
    assert all(kwargs["row_limit"] == 8 for kwargs, _ in done)
    assert "removed 2 ended sessions" in failed.stdout
    assert "the database is unavailable (disk I/O error)" in failed.output
    assert len(set(heavy) & session_ids(client)) == 2
    assert refresh_tokens_of(client, set(heavy)) == 20  # the other two's, whole

    rerun = cli("maintenance")
    assert rerun.exit_code == 0, rerun.output
    assert rerun.stdout.splitlines()[-1] == "removed 2 ended sessions"
    assert session_ids(client) == {first.session_id}


def test_a_retention_of_zero_keeps_the_ended_sessions(make_app: Any) -> None:
    client = make_app(session_retention_seconds=0).test_client()
    username = register(client)
    first = full_sign_in(client, username)
    old = ended_sessions(client, first.user_id, 3, ended_days_ago=3000)
    full_sign_in(client, username)
    assert set(old) <= session_ids(client)
    assert not wiring_of(client.application).sessions.purge_ended(limit=100)


# PostgreSQL only: SQLite has no row locks (its writers take turns).
@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres+redis"], indirect=True)
def test_a_removal_skips_the_sessions_another_transaction_holds_without_waiting(
    client: FlaskClient,
) -> None:
    w = wiring_of(client.application)
    assert w.engine.dialect.name == "postgresql"
    username = register(client)
    first = full_sign_in(client, username)
    held = ended_sessions(client, first.user_id, 4, ended_days_ago=100)[0]
    cutoff = w.clock.now() - RETENTION
    with w.engine.connect() as holder:
        holder.execute(text("SET lock_timeout = '10s'"))
        holder.execute(select(sessions.c.id).where(sessions.c.id == held).with_for_update())
        result: list[Any] = []
        purge = threading.Thread(
            target=lambda: result.append(
                w.sessions.store.purge_ended(ended_before=cutoff, limit=10, row_limit=100)
            )
        )
        purge.start()
        purge.join(timeout=5)
        assert not purge.is_alive()  # it did not wait for the held row
        holder.rollback()
    assert result[0].sessions == 3
    assert session_ids(client) == {first.session_id, held}
