"""POST /auth/password/change (CONTRACT: Account lifecycle): the current password is
required, the rules of registration apply, every other session ends, a notice SMS
goes out, and a wrong current password counts as a failed sign-in."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.api.test_refresh import (
    assert_access_refused,
    assert_refresh_refused,
    bearer,
    claims,
    private,
    query,
    refreshed,
    signed_in,
)
from tests.clock import FrozenClock
from tests.conftest import PASSWORD, last_code, login, register
from tests.helpers import problem

NEW_PASSWORD = "a brand new horse battery"
WRONG = "wrong horse battery staple"


def change(client: FlaskClient, token: str, current: str, new: str = NEW_PASSWORD) -> TestResponse:
    return client.post(
        "/auth/password/change",
        json={"current_password": current, "new_password": new},
        headers=bearer(token),
    )


def outbox(client: FlaskClient) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = client.get(
        "/dev/outbox", headers={"Accept": "application/json"}
    ).get_json()
    return messages


def login_status(client: FlaskClient, username: str, password: str) -> int:
    response = client.post("/auth/login", json={"username": username, "password": password})
    return response.status_code


def test_the_password_changes_and_every_other_session_ends(app: Flask, client: FlaskClient) -> None:
    username = register(client)
    mine, other = signed_in(client, username), signed_in(client, username)

    response = change(client, mine["access_token"], PASSWORD)

    assert response.status_code == 204, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    # This session stays; the other one ends at once, refresh token included.
    assert private(client, mine["access_token"]).status_code == 200
    refreshed(client, mine["refresh_token"])
    assert_access_refused(client, other["access_token"])
    assert_refresh_refused(client, other["refresh_token"])
    # The new password signs in; the old one no longer does.
    assert login_status(client, username, PASSWORD) == 401
    assert login_status(client, username, NEW_PASSWORD) == 200


def test_a_notice_sms_and_an_audit_event_without_a_secret(app: Flask, client: FlaskClient) -> None:
    username = register(client)
    body = signed_in(client, username)
    signed_in(client, username)

    assert change(client, body["access_token"], PASSWORD).status_code == 204

    notice = outbox(client)[0]
    assert notice["to"] == "+972508464336"
    assert "password was changed" in notice["body"]
    assert NEW_PASSWORD not in notice["body"]
    user_id = claims(body["access_token"])["sub"]
    events = query(
        app,
        "SELECT event, outcome, detail FROM audit_events WHERE user_id = :u ORDER BY id",
        u=user_id,
    )
    changed = [e for e in events if e["event"] == "password_changed"]
    assert len(changed) == 1 and changed[0]["outcome"] == "success"
    assert json.loads(changed[0]["detail"])["sessions_ended"] == 1
    sent = [e for e in events if e["event"] == "notice_sent"]
    assert sent[-1]["outcome"] == "success"
    assert json.loads(sent[-1]["detail"])["notice"] == "password_changed"
    everything = str(query(app, "SELECT * FROM audit_events"))
    assert PASSWORD not in everything and NEW_PASSWORD not in everything


def test_the_new_password_follows_the_rules_of_registration(
    app: Flask, client: FlaskClient
) -> None:
    username = register(client)
    token = signed_in(client, username)["access_token"]

    for bad in ("short", "iloveyou1234", f"my {username} name"):
        body = problem(change(client, token, PASSWORD, bad), 422)
        assert body["type"].endswith("validation-error")
        assert list(body["errors"]) == ["new_password"], body
    body = problem(
        client.post(
            "/auth/password/change", json={"new_password": NEW_PASSWORD}, headers=bearer(token)
        ),
        422,
    )
    assert "current_password" in body["errors"]
    # Nothing changed, and a refused form is no failed attempt.
    assert login_status(client, username, PASSWORD) == 200
    assert query(app, "SELECT * FROM login_failures") == []


def test_a_stolen_token_alone_cannot_change_the_password(app: Flask, client: FlaskClient) -> None:
    username = register(client)
    token = signed_in(client, username)["access_token"]

    response = change(client, token, WRONG)

    body = problem(response, 401)
    assert body["type"].endswith("wrong-password")
    # RFC 9110 11.6.1: a scheme named, but no token error: the token was fine.
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="secureflaskauth"'
    assert private(client, token).status_code == 200
    assert login_status(client, username, PASSWORD) == 200
    assert login_status(client, username, NEW_PASSWORD) == 401


def test_no_token_no_change(client: FlaskClient) -> None:
    username = register(client)
    response = client.post(
        "/auth/password/change", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    problem(response, 401)
    assert login_status(client, username, PASSWORD) == 200


def test_wrong_current_passwords_delay_the_account_like_failed_logins(
    client: FlaskClient, clock: FrozenClock
) -> None:
    username = register(client)
    token = signed_in(client, username)["access_token"]

    assert [change(client, token, WRONG).status_code for _ in range(5)] == [401] * 5

    # The delay is the account's: the right password waits too, here and at login.
    response = change(client, token, PASSWORD)
    problem(response, 429)
    assert response.headers["Retry-After"] == "30"
    assert login_status(client, username, PASSWORD) == 429
    clock.advance(31)
    assert change(client, token, PASSWORD).status_code == 204


def test_failed_logins_delay_the_password_change_too(
    client: FlaskClient, clock: FrozenClock
) -> None:
    username = register(client)
    token = signed_in(client, username)["access_token"]
    for _ in range(5):
        assert login_status(client, username, WRONG) == 401
    problem(change(client, token, PASSWORD), 429)


def test_a_sign_in_waiting_for_its_code_ends(client: FlaskClient) -> None:
    username = register(client)
    token = signed_in(client, username)["access_token"]
    waiting = login(client, username)["session_id"]
    code = last_code(client)

    assert change(client, token, PASSWORD).status_code == 204

    body = problem(client.post("/auth/verify-otp", json={"session_id": waiting, "otp": code}), 401)
    assert body["type"].endswith("sign-in-expired")


def test_wrong_passwords_sent_at_once_are_evaluated_only_as_far_as_the_delay_allows(
    app: Flask, client: FlaskClient
) -> None:
    username = register(client)
    token = signed_in(client, username)["access_token"]
    gate = threading.Barrier(20)

    def attempt(_: int) -> int:
        own = app.test_client()
        gate.wait(timeout=30)
        return change(own, token, WRONG).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(attempt, range(20)))

    # The five free tries are checked; every other one is refused unchecked.
    assert sorted(statuses) == [401] * 5 + [429] * 15, statuses
    assert login_status(client, username, PASSWORD) == 429
