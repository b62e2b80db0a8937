"""POST /auth/phone/change and /auth/phone/verify (CONTRACT: Account lifecycle): the
password again, a code to the new number only, the number replaced only after that
code, a notice to the old number, every other session ended; the code counts like a
sign-in code and completes a phone change of its own account only."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.api.test_password_change import outbox
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

OLD = "+972508464336"  # tests.conftest.PHONE
NEW = "0549876543"
NEW_E164 = "+972549876543"
NEW_MASKED = "+972*****6543"
WRONG = "wrong horse battery staple"
CHALLENGE = {
    "message",
    "session_id",
    "expires_in",
    "resend_after",
    "sent_to",
    "attempts_remaining",
    "method",
    "methods",
}


def change(client: FlaskClient, token: str, password: str = PASSWORD, phone: str = NEW) -> Any:
    return client.post(
        "/auth/phone/change",
        json={"password": password, "phone_number": phone},
        headers=bearer(token),
    )


def started(client: FlaskClient, token: str, phone: str = NEW) -> dict[str, Any]:
    response = change(client, token, phone=phone)
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    return body


def verify(client: FlaskClient, token: str, session_id: str, code: str) -> TestResponse:
    return client.post(
        "/auth/phone/verify", json={"session_id": session_id, "otp": code}, headers=bearer(token)
    )


def me(client: FlaskClient, token: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/auth/me", headers=bearer(token)).get_json()
    return body


def stored_phone(app: Flask, user_id: str) -> str:
    rows = query(app, "SELECT phone_e164 FROM users WHERE id = :u", u=user_id)
    phone: str = rows[0]["phone_e164"]
    return phone


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_the_number_changes_after_the_code_sent_to_it(app: Flask, client: FlaskClient) -> None:
    username = register(client)
    mine, other = signed_in(client, username), signed_in(client, username)
    token = mine["access_token"]
    user_id = claims(token)["sub"]
    sent_before = len(outbox(client))

    response = change(client, token)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == CHALLENGE
    assert body["sent_to"] == NEW_MASKED
    assert (body["method"], body["methods"]) == ("sms", ["sms"])
    assert (body["expires_in"], body["resend_after"], body["attempts_remaining"]) == (300, 30, 5)
    # One SMS, with the code, to the new number only; the number is not changed yet.
    messages = outbox(client)
    assert len(messages) == sent_before + 1 and messages[0]["to"] == NEW_E164
    assert stored_phone(app, user_id) == OLD
    assert me(client, token)["phone_number"] == "+972*****4336"

    done = verify(client, token, body["session_id"], last_code(client))

    assert done.status_code == 204, done.get_data(as_text=True)
    assert done.headers["Cache-Control"] == "no-store"
    assert stored_phone(app, user_id) == NEW_E164
    profile = me(client, token)
    assert profile["phone_number"] == NEW_MASKED and profile["phone_verified"] is True
    # The notice went to the old number, and names the new one masked only.
    notice = outbox(client)[0]
    assert notice["to"] == OLD
    assert NEW_MASKED in notice["body"] and NEW_E164 not in notice["body"]
    # This session stays; the other one ends at once, refresh token included.
    assert private(client, token).status_code == 200
    refreshed(client, mine["refresh_token"])
    assert_access_refused(client, other["access_token"])
    assert_refresh_refused(client, other["refresh_token"])
    # The next sign-in's code goes to the new number.
    login(client, username)
    assert outbox(client)[0]["to"] == NEW_E164


def test_audit_events_without_a_full_number_or_a_secret(app: Flask, client: FlaskClient) -> None:
    username = register(client)
    token = signed_in(client, username)["access_token"]
    signed_in(client, username)
    session_id = started(client, token)["session_id"]
    code = last_code(client)
    assert verify(client, token, session_id, code).status_code == 204

    events = query(
        app,
        "SELECT event, outcome, detail FROM audit_events WHERE user_id = :u ORDER BY id",
        u=claims(token)["sub"],
    )
    requested = [e for e in events if e["event"] == "phone_change_requested"]
    assert [e["outcome"] for e in requested] == ["sent"]
    changed = [e for e in events if e["event"] == "phone_changed"]
    assert len(changed) == 1 and changed[0]["outcome"] == "success"
    detail = json.loads(changed[0]["detail"])
    assert detail["sessions_ended"] == 1 and detail["sid"] == claims(token)["sid"]
    assert (detail["old_number"], detail["new_number"]) == ("+972*****4336", NEW_MASKED)
    notices = [json.loads(e["detail"]) for e in events if e["event"] == "notice_sent"]
    assert notices[-1] == {"notice": "phone_changed", "sent_to": "+972*****4336"}
    everything = str(query(app, "SELECT * FROM audit_events"))
    assert NEW_E164 not in everything and "549876543" not in everything
    assert PASSWORD not in everything and code not in everything


def test_a_stolen_token_alone_cannot_change_the_number(app: Flask, client: FlaskClient) -> None:
    username = register(client)
    token = signed_in(client, username)["access_token"]
    sent = len(outbox(client))

    response = change(client, token, password=WRONG)

    body = problem(response, 401)
    assert body["type"].endswith("wrong-password")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="secureflaskauth"'
    assert len(outbox(client)) == sent  # no code went anywhere
    # The wrong password is a failed sign-in of the account.
    failures = query(app, "SELECT failures FROM login_failures")
    assert [row["failures"] for row in failures] == [1]
    # And without a code from the new number, nothing changes either.
    body = problem(verify(client, token, "made-up-session-id", "123456"), 401)
    assert body["type"].endswith("sign-in-expired")
    assert stored_phone(app, claims(token)["sub"]) == OLD


def test_wrong_passwords_delay_the_account_like_failed_logins(
    client: FlaskClient, clock: FrozenClock
) -> None:
    username = register(client)
    token = signed_in(client, username)["access_token"]

    assert [change(client, token, password=WRONG).status_code for _ in range(5)] == [401] * 5

    response = change(client, token)
    problem(response, 429)
    assert response.headers["Retry-After"] == "30"
    assert (
        client.post("/auth/login", json={"username": username, "password": PASSWORD}).status_code
        == 429
    )
    clock.advance(31)
    assert change(client, token).status_code == 200


def test_no_token_no_change(client: FlaskClient) -> None:
    register(client)
    response = client.post("/auth/phone/change", json={"password": PASSWORD, "phone_number": NEW})
    problem(response, 401)
    problem(client.post("/auth/phone/verify", json={"session_id": "x", "otp": "123456"}), 401)


def test_wrong_codes_count_like_sign_in_codes(app: Flask, client: FlaskClient) -> None:
    username = register(client)
    token = signed_in(client, username)["access_token"]
    session_id = started(client, token)["session_id"]
    code = last_code(client)

    response = verify(client, token, session_id, other_code(code))
    body = problem(response, 401)

    assert body["type"].endswith("invalid-otp")
    # RFC 9110 11.6.1: a scheme named, but no token error: the token was fine.
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="secureflaskauth"'
    assert body["attempts_remaining"] == 4
    user_id = claims(token)["sub"]
    failures = query(app, "SELECT otp_failures FROM users WHERE id = :u", u=user_id)
    assert failures[0]["otp_failures"] == 1
    for remaining in (3, 2, 1):
        body = problem(verify(client, token, session_id, other_code(code)), 401)
        assert body["attempts_remaining"] == remaining
    body = problem(verify(client, token, session_id, other_code(code)), 401)
    assert body["attempts_remaining"] == 0
    # Out of tries: the right code no longer changes anything.
    body = problem(verify(client, token, session_id, code), 401)
    assert body["type"].endswith("sign-in-expired")
    assert stored_phone(app, user_id) == OLD


def test_a_malformed_code_or_body_is_refused_without_a_try(client: FlaskClient) -> None:
    token = signed_in(client)["access_token"]
    session_id = started(client, token)["session_id"]
    code = last_code(client)

    body = problem(verify(client, token, session_id, "12345"), 422)
    assert list(body["errors"]) == ["otp"]
    body = problem(
        client.post("/auth/phone/verify", json={"session_id": session_id}, headers=bearer(token)),
        422,
    )
    assert "otp" in body["errors"]
    assert verify(client, token, session_id, code).status_code == 204


def test_resend_sends_a_new_code_to_the_new_number(client: FlaskClient, clock: FrozenClock) -> None:
    token = signed_in(client)["access_token"]
    session_id = started(client, token)["session_id"]
    first = last_code(client)
    clock.advance(31)

    response = client.post("/auth/resend-otp", json={"session_id": session_id})

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["sent_to"] == NEW_MASKED
    assert outbox(client)[0]["to"] == NEW_E164
    second = last_code(client)
    if second != first:  # one chance in a million that they are the same
        problem(verify(client, token, session_id, first), 401)
    assert verify(client, token, session_id, second).status_code == 204


def test_another_accounts_change_cannot_be_completed(app: Flask, client: FlaskClient) -> None:
    victim = signed_in(client)["access_token"]
    intruder = signed_in(client)["access_token"]
    session_id = started(client, victim)["session_id"]
    code = last_code(client)

    body = problem(verify(client, intruder, session_id, code), 401)

    assert body["type"].endswith("sign-in-expired")
    assert stored_phone(app, claims(intruder)["sub"]) == OLD
    # No try of the victim's was taken: the change completes with all five left.
    rows = query(app, "SELECT otp_failures FROM users WHERE id = :u", u=claims(victim)["sub"])
    assert rows[0]["otp_failures"] == 0
    assert verify(client, victim, session_id, code).status_code == 204
    assert stored_phone(app, claims(victim)["sub"]) == NEW_E164


def test_a_sign_in_code_cannot_change_the_number(app: Flask, client: FlaskClient) -> None:
    username = register(client)
    token = signed_in(client, username)["access_token"]
    waiting = login(client, username)["session_id"]
    code = last_code(client)

    body = problem(verify(client, token, waiting, code), 401)

    assert body["type"].endswith("sign-in-expired")
    assert stored_phone(app, claims(token)["sub"]) == OLD
    # The sign-in itself is untouched.
    response = client.post("/auth/verify-otp", json={"session_id": waiting, "otp": code})
    assert response.status_code == 200


def test_a_phone_change_code_cannot_sign_in_or_reset(app: Flask, client: FlaskClient) -> None:
    token = signed_in(client)["access_token"]
    session_id = started(client, token)["session_id"]
    code = last_code(client)

    body = problem(
        client.post("/auth/verify-otp", json={"session_id": session_id, "otp": code}), 401
    )
    assert body["type"].endswith("sign-in-expired")
    reset = {"session_id": session_id, "otp": code, "new_password": "a brand new horse battery"}
    body = problem(client.post("/auth/password/reset", json=reset), 401)
    assert body["type"].endswith("sign-in-expired")
    # Neither took a try: the change still completes.
    assert verify(client, token, session_id, code).status_code == 204


def test_codes_in_flight_to_the_old_number_end(client: FlaskClient) -> None:
    username = register(client)
    token = signed_in(client, username)["access_token"]
    waiting = login(client, username)["session_id"]
    old_code = last_code(client)
    session_id = started(client, token)["session_id"]

    assert verify(client, token, session_id, last_code(client)).status_code == 204

    response = client.post("/auth/verify-otp", json={"session_id": waiting, "otp": old_code})
    assert problem(response, 401)["type"].endswith("sign-in-expired")


def test_twenty_concurrent_verifies_of_one_code_change_the_number_once(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(otp_max_attempts=10, otp_account_max_failures=100, lockout_threshold=100)
    client = app.test_client()
    token = signed_in(client)["access_token"]
    session_id = started(client, token)["session_id"]
    code = last_code(client)
    gate = threading.Barrier(20)

    def attempt(_: int) -> int:
        own = app.test_client()
        gate.wait(timeout=30)
        return verify(own, token, session_id, code).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(attempt, range(20)))

    assert statuses.count(204) == 1, statuses
    assert set(statuses) == {204, 401}, statuses
    user_id = claims(token)["sub"]
    changed = query(
        app,
        "SELECT outcome FROM audit_events WHERE event = 'phone_changed' AND user_id = :u",
        u=user_id,
    )
    assert changed == [{"outcome": "success"}]
    notices = [m for m in outbox(client) if "phone number was changed" in m["body"]]
    assert len(notices) == 1 and notices[0]["to"] == OLD
    assert private(client, token).status_code == 200  # the session that changed it stays
