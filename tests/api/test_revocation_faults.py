"""Ending sessions is all-or-nothing under faults: a failure at any step leaves either
nothing changed or the end in force, and a retry completes it.

The steps of every end (logout, logout-all, DELETE /auth/sessions/{id}, refresh-token
reuse, disabling and deleting a user) are: one database transaction that ends the
sessions and writes their revocations, then the propagation to the other processes
(the marker file in the var directory, or Redis). Failures are injected at each step:
a write refused by the database, a marker file that cannot be written, a Redis that
refuses writes, and a process that dies right after its commit.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, event

from secureflaskauth.adapters.db import marker as db_marker
from secureflaskauth.adapters.db import revocations as db_revocations
from secureflaskauth.adapters.redis import revocations as redis_revocations
from secureflaskauth.domain.errors import StoreUnavailable
from tests.api.test_refresh import (
    assert_access_refused,
    assert_refresh_refused,
    bearer,
    claims,
    private,
    query,
    refresh,
    refreshed,
    signed_in,
    wiring_of,
)
from tests.clock import FrozenClock
from tests.conftest import OwnRedis, register
from tests.helpers import problem

Bodies = list[dict[str, Any]]


@contextmanager
def failing_writes(engine: Engine, table: str) -> Iterator[None]:
    """Statements that write ``table`` fail as on a full disk (the driver's own error)."""
    error = engine.dialect.loaded_dbapi.OperationalError

    def refuse(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        words = statement.lower().split()
        verb = words[0] if words else ""
        target = words[2] if verb in ("insert", "delete") else words[1] if verb == "update" else ""
        if target.strip('"') == table:
            raise error("database or disk is full (injected)")

    event.listen(engine, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", refuse)


def sign_ins(client: FlaskClient, count: int) -> Bodies:
    username = register(client)
    return [signed_in(client, username) for _ in range(count)]


def assert_all_work(client: FlaskClient, bodies: Bodies) -> None:
    for body in bodies:
        assert private(client, body["access_token"]).status_code == 200


def assert_all_refused(client: FlaskClient, bodies: Bodies) -> None:
    for body in bodies:
        assert_access_refused(client, body["access_token"])


def revoked_rows(app: Flask) -> int:
    return int(query(app, "SELECT count(*) AS n FROM revoked_sessions")[0]["n"])


def active_sessions(app: Flask) -> int:
    rows = query(app, "SELECT count(*) AS n FROM sessions WHERE revoked_at IS NULL")
    return int(rows[0]["n"])


# -- the transaction: a refused write changes nothing --------------------------------

ENDS: dict[str, Callable[[FlaskClient, Bodies], Any]] = {
    "logout-all": lambda c, b: c.post("/auth/logout-all", headers=bearer(b[0]["access_token"])),
    "logout": lambda c, b: c.post("/auth/logout", headers=bearer(b[0]["access_token"])),
    "delete-session": lambda c, b: c.delete(
        f"/auth/sessions/{claims(b[1]['access_token'])['sid']}",
        headers=bearer(b[0]["access_token"]),
    ),
}
ENDED: dict[str, Callable[[Bodies], Bodies]] = {
    "logout-all": lambda b: b,
    "logout": lambda b: b[:1],
    "delete-session": lambda b: b[1:2],
}


@pytest.mark.parametrize("table", ["revoked_sessions", "sessions"])
@pytest.mark.parametrize("action", list(ENDS))
def test_an_end_whose_write_fails_changes_nothing_and_its_retry_completes_it(
    app: Flask, client: FlaskClient, action: str, table: str
) -> None:
    bodies = sign_ins(client, 3)
    with failing_writes(wiring_of(app).engine, table):
        failed = ENDS[action](client, bodies)
    problem(failed, 503)
    assert failed.headers["Retry-After"] == "5"
    # Nothing half-done: every session is still active and none is revoked.
    assert active_sessions(app) == 3 and revoked_rows(app) == 0
    assert_all_work(client, bodies)

    assert ENDS[action](client, bodies).status_code == 204
    ended = ENDED[action](bodies)
    assert_all_refused(client, ended)
    for body in ended:
        assert_refresh_refused(client, body["refresh_token"])
    assert_all_work(client, [b for b in bodies if b not in ended])
    assert revoked_rows(app) == len(ended)


@pytest.mark.parametrize("table", ["revoked_sessions", "sessions"])
def test_reuse_detection_that_fails_to_end_the_session_is_repeated_by_the_next_reuse(
    app: Flask, client: FlaskClient, clock: FrozenClock, table: str
) -> None:
    body = signed_in(client)
    newer = refreshed(client, body["refresh_token"])
    clock.advance(wiring_of(app).settings.sessions.refresh_grace_seconds + 1)
    with failing_writes(wiring_of(app).engine, table):
        problem(refresh(client, body["refresh_token"]), 503)
    assert private(client, newer["access_token"]).status_code == 200
    assert revoked_rows(app) == 0

    problem(refresh(client, body["refresh_token"]), 401)  # the reuse, detected again
    assert_access_refused(client, newer["access_token"])
    assert_access_refused(client, body["access_token"])
    assert_refresh_refused(client, newer["refresh_token"])


@pytest.mark.parametrize("action", ["disable", "delete"])
@pytest.mark.parametrize("table", ["revoked_sessions", "sessions", "users"])
def test_disabling_or_deleting_a_user_is_one_transaction_with_their_sessions(
    app: Flask, client: FlaskClient, action: str, table: str
) -> None:
    bodies = sign_ins(client, 2)
    w = wiring_of(app)
    user = w.users.by_id(claims(bodies[0]["access_token"])["sub"])
    assert user is not None
    act = w.accounts.disable if action == "disable" else w.accounts.delete
    with failing_writes(w.engine, table), pytest.raises(StoreUnavailable):
        act(user, by="test")
    stored = w.users.by_id(user.id)
    assert stored is not None and not stored.disabled
    assert active_sessions(app) == 2 and revoked_rows(app) == 0
    assert_all_work(client, bodies)

    assert act(user, by="test") == 2
    assert_all_refused(client, bodies)
    assert revoked_rows(app) == 2
    gone = w.users.by_id(user.id)
    assert (gone is None) if action == "delete" else (gone is not None and gone.disabled)


# -- the propagation: enforced everywhere even when it fails ---------------------------


def test_a_marker_that_cannot_be_written_still_ends_the_sessions_everywhere(
    make_app: Callable[..., Flask], clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No Redis: the marker file tells the other processes at once; when it cannot be
    written (a full copy-on-write disk, an I/O error), they read the database within
    the max age instead."""
    one, two = make_app(redis_url=None), make_app(redis_url=None)
    client_one, client_two = one.test_client(), two.test_client()
    bodies = sign_ins(client_one, 3)
    assert_all_work(client_two, bodies)

    def full(*_: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", full)  # neither in place nor as a new file
    monkeypatch.setattr(os, "replace", full)
    assert (
        client_one.post("/auth/logout-all", headers=bearer(bodies[0]["access_token"])).status_code
        == 204
    )
    assert_all_refused(client_one, bodies)  # the process that ended them: at once
    clock.advance(wiring_of(two).settings.sessions.revocation_max_age_seconds)
    assert_all_refused(client_two, bodies)  # every other one: within the max age


def test_a_marker_write_that_failed_is_retried_and_then_signals_at_once(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = make_app(redis_url=None), make_app(redis_url=None)
    client_one, client_two = one.test_client(), two.test_client()
    bodies = sign_ins(client_one, 2)
    assert_all_work(client_two, bodies)
    real_pwrite, real_replace = os.pwrite, os.replace

    def full(*_: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(db_marker, "SIGNAL_RETRY_SECONDS", 0.0)
    monkeypatch.setattr(os, "pwrite", full)
    monkeypatch.setattr(os, "replace", full)
    client_one.post("/auth/logout", headers=bearer(bodies[0]["access_token"]))
    assert private(client_two, bodies[0]["access_token"]).status_code == 200  # not told yet

    monkeypatch.setattr(os, "pwrite", real_pwrite)  # the disk has room again
    monkeypatch.setattr(os, "replace", real_replace)
    assert private(client_one, bodies[1]["access_token"]).status_code == 200  # retries
    assert_access_refused(client_two, bodies[0]["access_token"])  # told, no clock moved


def test_a_process_that_dies_after_its_commit_leaves_the_sessions_ended_everywhere(
    make_app: Callable[..., Flask], clock: FrozenClock
) -> None:
    """The commit is the end: what a dead process did not propagate, the others read
    from the database within the max age (with Redis too)."""
    one, two = make_app(), make_app()
    bodies = sign_ins(one.test_client(), 2)
    client_two = two.test_client()
    assert_all_work(client_two, bodies)
    w = wiring_of(one)
    now = clock.now()
    # What Sessions.end_all does before it propagates; the process dies here.
    w.sessions.store.revoke_all_for_user(
        claims(bodies[0]["access_token"])["sub"],
        now=now,
        reason="logout-all",
        until=w.sessions.revoked_until(now),
    )
    clock.advance(w.settings.sessions.revocation_max_age_seconds)
    assert_all_refused(client_two, bodies)
    assert_all_refused(make_app().test_client(), bodies)  # and a process started later


@pytest.fixture
def redis_on_own_server(own_redis: OwnRedis) -> dict[str, Any]:
    return {"redis_url": own_redis.url, "redis_prefix": "sfa:"}


def test_a_redis_refusing_writes_does_not_keep_ended_sessions_alive(
    make_app: Callable[..., Flask],
    clock: FrozenClock,
    own_redis: OwnRedis,
    redis_on_own_server: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(redis_revocations, "RETRY_SECONDS", 0.0)
    one, two = make_app(**redis_on_own_server), make_app(**redis_on_own_server)
    client_one, client_two = one.test_client(), two.test_client()
    bodies = sign_ins(client_one, 3)
    assert_all_work(client_two, bodies)
    admin = own_redis.client()

    admin.config_set("maxmemory", "1")  # every write now fails: OOM, as a full Redis does
    try:
        ended = client_one.post("/auth/logout-all", headers=bearer(bodies[0]["access_token"]))
        assert ended.status_code == 204, ended.get_data(as_text=True)
        assert_all_refused(client_one, bodies)
        clock.advance(wiring_of(two).settings.sessions.revocation_max_age_seconds)
        for body in bodies:  # refused from the database; a 503 is fail-closed too
            assert private(client_two, body["access_token"]).status_code in (401, 503)
    finally:
        admin.config_set("maxmemory", "0")

    assert_all_refused(client_two, bodies)
    assert_all_refused(make_app(**redis_on_own_server).test_client(), bodies)
    # The copies that failed reach Redis once it takes writes again.
    client_one.get("/auth/private", headers=bearer(bodies[0]["access_token"]))
    for body in bodies:
        assert admin.exists(f"sfa:revoked:{claims(body['access_token'])['sid']}") == 1
    admin.close()


def test_with_redis_short_of_a_revocation_a_process_that_cannot_read_the_database_refuses(
    make_app: Callable[..., Flask],
    clock: FrozenClock,
    own_redis: OwnRedis,
    redis_on_own_server: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two faults at once: Redis refuses the copy of a revocation, and the other process
    cannot read the database. Past the max age it answers 503, never 200."""
    one, two = make_app(**redis_on_own_server), make_app(**redis_on_own_server)
    client_one, client_two = one.test_client(), two.test_client()
    bodies = sign_ins(client_one, 2)
    assert_all_work(client_two, bodies)
    admin = own_redis.client()
    admin.config_set("maxmemory", "1")
    try:
        ended = client_one.post("/auth/logout-all", headers=bearer(bodies[0]["access_token"]))
        assert ended.status_code == 204

        def database_away(*_: Any) -> Iterator[list[tuple[str, float]]]:
            raise StoreUnavailable("database", "injected")

        monkeypatch.setattr(db_revocations.SqlRevocationArchive, "batches", database_away)
        clock.advance(wiring_of(two).settings.sessions.revocation_max_age_seconds)
        for body in bodies:
            problem(private(client_two, body["access_token"]), 503)
    finally:
        admin.config_set("maxmemory", "0")
        admin.close()
