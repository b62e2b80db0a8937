"""DELETE /auth/account (CONTRACT: Account lifecycle): the password is required, every
session ends at once, the personal data goes, the audit trail keeps the user id only,
and the username is free again."""

from __future__ import annotations

import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from secureflaskauth.adapters.db.tables import metadata
from tests.api.test_account import me
from tests.api.test_refresh import (
    assert_access_refused,
    assert_refresh_refused,
    bearer,
    claims,
    private,
    query,
    signed_in,
)
from tests.clock import FrozenClock
from tests.conftest import PASSWORD, last_code, login, register
from tests.helpers import problem

WRONG = "wrong horse battery staple"


def delete(client: FlaskClient, token: str, password: str = PASSWORD) -> TestResponse:
    return client.delete("/auth/account", json={"password": password}, headers=bearer(token))


def test_deleting_ends_every_session_at_once(app: Flask, client: FlaskClient) -> None:
    username = register(client)
    mine, other = signed_in(client, username), signed_in(client, username)

    response = delete(client, mine["access_token"])

    assert response.status_code == 204, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    for body in (mine, other):
        assert_access_refused(client, body["access_token"])
        assert_refresh_refused(client, body["refresh_token"])
    problem(client.get("/auth/me", headers=bearer(mine["access_token"])), 401)
    revoked = query(app, "SELECT session_id FROM revoked_sessions")
    assert {r["session_id"] for r in revoked} >= {
        claims(mine["access_token"])["sid"],
        claims(other["access_token"])["sid"],
    }
    response = client.post("/auth/login", json={"username": username, "password": PASSWORD})
    problem(response, 401)


def test_personal_data_is_erased_and_the_audit_trail_keeps_the_user_id(
    app: Flask, client: FlaskClient
) -> None:
    username = register(client)
    token = signed_in(client, username)["access_token"]
    user_id = claims(token)["sub"]
    codes = client.post("/auth/recovery-codes", json={"password": PASSWORD}, headers=bearer(token))
    assert codes.status_code == 200
    problem(delete(client, token, WRONG), 401)  # a failure counted under the username

    assert delete(client, token).status_code == 204

    assert query(app, "SELECT * FROM users WHERE id = :u", u=user_id) == []
    assert query(app, "SELECT * FROM recovery_codes") == []
    assert query(app, "SELECT * FROM sessions") == []
    assert query(app, "SELECT * FROM login_failures") == []
    events = query(app, "SELECT * FROM audit_events WHERE user_id = :u ORDER BY id", u=user_id)
    assert {e["event"] for e in events} >= {"registered", "otp_sent", "login_succeeded"}
    assert all(e["username"] is None and e["ip"] is None for e in events)
    assert all(e["user_agent"] is None for e in events)
    assert all("sent_to" not in json.loads(e["detail"] or "{}") for e in events)
    assert events[-1]["event"] == "account_deleted"
    assert json.loads(events[-1]["detail"]) == {
        "by": "user",
        "sessions_ended": 1,
        "confirmed_by": "password",
    }
    # Nothing names the person any more, but the development outbox's messages and
    # the rate counters keyed by the name or number, which expire with their window.
    rows = rows_but(app, {"sms_outbox", "rate_counters", "signing_keys"})
    assert username not in rows and username.lower() not in rows
    assert "508464336" not in rows and "*4336" not in rows


def rows_but(app: Flask, skipped: set[str]) -> str:
    parts: list[Any] = []
    for table in metadata.sorted_tables:
        if table.name not in skipped:
            parts.append(query(app, f"SELECT * FROM {table.name}"))  # noqa: S608 - our tables
    return str(parts)


def test_the_username_is_free_again_with_a_new_user_id(client: FlaskClient) -> None:
    username = register(client)
    token = signed_in(client, username)["access_token"]
    assert delete(client, token).status_code == 204

    register(client, username)
    new_token = signed_in(client, username)["access_token"]

    assert claims(new_token)["sub"] != claims(token)["sub"]
    assert me(client, new_token)["username"] == username
    assert_access_refused(client, token)


def test_a_stolen_token_alone_cannot_delete_the_account(app: Flask, client: FlaskClient) -> None:
    username = register(client)
    token = signed_in(client, username)["access_token"]

    response = delete(client, token, WRONG)
    body = problem(response, 401)
    assert body["type"].endswith("wrong-password")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="secureflaskauth"'
    body = problem(client.delete("/auth/account", json={}, headers=bearer(token)), 422)
    assert "password" in body["errors"]
    problem(client.delete("/auth/account", json={"password": PASSWORD}), 401)

    assert private(client, token).status_code == 200
    assert me(client, token)["username"] == username


def test_wrong_passwords_delay_the_account_like_failed_logins(
    client: FlaskClient, clock: FrozenClock
) -> None:
    token = signed_in(client)["access_token"]
    assert [delete(client, token, WRONG).status_code for _ in range(5)] == [401] * 5
    response = delete(client, token)
    problem(response, 429)
    assert response.headers["Retry-After"] == "30"
    clock.advance(31)
    assert delete(client, token).status_code == 204


def test_a_sign_in_waiting_for_its_code_cannot_complete(client: FlaskClient) -> None:
    username = register(client)
    token = signed_in(client, username)["access_token"]
    waiting = login(client, username)["session_id"]
    code = last_code(client)

    assert delete(client, token).status_code == 204

    body = problem(client.post("/auth/verify-otp", json={"session_id": waiting, "otp": code}), 401)
    assert body["type"].endswith("sign-in-expired")


@pytest.mark.parametrize("race", range(3))  # the window is narrow: race more than once
def test_deletions_at_once_delete_once(app: Flask, client: FlaskClient, race: int) -> None:
    username = register(client)
    token = signed_in(client, username)["access_token"]
    user_id = claims(token)["sub"]
    gate = threading.Barrier(10)

    def attempt(_: int) -> TestResponse:
        own = app.test_client()
        gate.wait(timeout=30)
        return delete(own, token)

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(attempt, range(10)))

    statuses = Counter(a.status_code for a in answers)
    assert statuses == {204: 1, 401: 9}, statuses
    events = query(
        app,
        "SELECT COUNT(*) AS n FROM audit_events WHERE event = 'account_deleted' AND user_id = :u",
        u=user_id,
    )
    assert events == [{"n": 1}]
    assert query(app, "SELECT * FROM users WHERE id = :u", u=user_id) == []
