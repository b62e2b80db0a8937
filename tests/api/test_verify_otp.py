"""POST /auth/verify-otp: the rules of a challenge and of an account."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from secureflaskauth.adapters.db.tables import users
from tests.clock import FrozenClock
from tests.conftest import PASSWORD, last_code, login, register
from tests.helpers import problem

NEXT_STEP_KEYS = {"expires_in", "resend_after", "attempts_remaining"}


def verify(client: FlaskClient, session_id: str, code: Any) -> TestResponse:
    return client.post("/auth/verify-otp", json={"session_id": session_id, "otp": code})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def refused(response: TestResponse, kind: str = "invalid-otp") -> dict[str, Any]:
    """A 401 about the challenge, saying what the client may do next."""
    body = problem(response, 401)
    assert body["type"] == f"urn:secureflaskauth:problem:{kind}"
    assert set(body) >= NEXT_STEP_KEYS
    assert "access_token" not in body
    return body


def expired(response: TestResponse) -> dict[str, Any]:
    """The sign-in is over: no code completes it (not a wrong code)."""
    body = refused(response, "sign-in-expired")
    assert body["title"] == "Sign-in expired"
    assert (body["attempts_remaining"], body["expires_in"], body["resend_after"]) == (0, 0, None)
    assert "sign in again" in body["detail"]
    return body


def start(client: FlaskClient, username: str | None = None) -> tuple[str, str]:
    """Log in (registering first if no username is given); return (session_id, code)."""
    session_id = login(client, username or register(client))["session_id"]
    return session_id, last_code(client)


def otp_failures(app: Flask, username: str) -> int:
    engine = app.extensions["secureflaskauth"].engine
    with engine.connect() as conn:
        value = conn.execute(
            select(users.c.otp_failures).where(users.c.username_canonical == username.lower())
        ).scalar_one()
    return int(value)


def test_correct_code_gives_a_bearer_token(client: FlaskClient) -> None:
    session_id, code = start(client)
    response = verify(client, session_id, code)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["message"]
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["access_token"].count(".") == 2
    private = client.get(
        "/auth/private", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert private.get_json() == {"message": "Access granted."}


def test_wrong_codes_count_down_then_the_challenge_is_dead(client: FlaskClient) -> None:
    session_id, code = start(client)
    remaining = []
    for _ in range(5):
        body = refused(verify(client, session_id, wrong(code)))
        remaining.append(body["attempts_remaining"])
    assert remaining == [4, 3, 2, 1, 0]
    after = expired(verify(client, session_id, code))
    assert after["attempts_remaining"] == 0
    assert after["expires_in"] == 0


def test_wrong_code_answer_says_what_may_happen_next(client: FlaskClient) -> None:
    session_id, code = start(client)
    body = refused(verify(client, session_id, wrong(code)))
    assert body["attempts_remaining"] == 4
    assert body["expires_in"] == 300
    assert body["resend_after"] == 30


def test_a_code_works_only_once(client: FlaskClient) -> None:
    session_id, code = start(client)
    assert verify(client, session_id, code).status_code == 200
    again = expired(verify(client, session_id, code))
    assert again["attempts_remaining"] == 0


def test_expired_code_is_refused(client: FlaskClient, clock: FrozenClock) -> None:
    session_id, code = start(client)
    clock.advance(301)
    expired(verify(client, session_id, code))


def test_code_is_still_good_just_before_it_expires(client: FlaskClient, clock: FrozenClock) -> None:
    session_id, code = start(client)
    clock.advance(299)
    assert verify(client, session_id, code).status_code == 200


def test_code_of_another_session_is_refused(client: FlaskClient) -> None:
    session_a, code_a = start(client)
    user_b = register(client)
    session_b, code_b = start(client, user_b)
    while code_b == code_a:  # one chance in a million: draw another code for B
        session_b, code_b = start(client, user_b)
    body = refused(verify(client, session_b, code_a))
    assert body["attempts_remaining"] == 4
    assert verify(client, session_a, code_a).status_code == 200
    assert verify(client, session_b, code_b).status_code == 200


def test_malformed_code_is_refused_without_using_a_try(client: FlaskClient) -> None:
    session_id, code = start(client)
    malformed = ["12345", "abcdef", "1234567", "", "12 345", " 123456", "123456\n", "-12345"]
    fullwidth = "".join(chr(0xFF10 + int(d)) for d in code)  # NFKC would make it ASCII
    arabic_indic = "".join(chr(0x0660 + int(d)) for d in code)
    malformed += [fullwidth, arabic_indic, code + "\n", code[:5], code + "0"]
    for otp in malformed:  # more than the five tries a challenge has
        body = problem(verify(client, session_id, otp), 422)
        assert body["errors"] == {"otp": ["Must be exactly 6 digits."]}, repr(otp)
    assert refused(verify(client, session_id, wrong(code)))["attempts_remaining"] == 4
    assert verify(client, session_id, code).status_code == 200


def test_code_of_another_type_is_refused(client: FlaskClient) -> None:
    session_id, code = start(client)
    for value in [int(code), None, [code], {"otp": code}, True]:
        body = problem(verify(client, session_id, value), 422)
        assert body["errors"] == {"otp": ["Must be a string."]}
    assert verify(client, session_id, code).status_code == 200


def test_unknown_session_is_refused(client: FlaskClient) -> None:
    start(client)
    for session_id in ["no-such-session", "", "x" * 129, "A" * 43]:
        body = expired(verify(client, session_id, "123456"))
        assert body["attempts_remaining"] == 0


# The account's brute-force delay (wrong codes count toward it too) has its own tests
# (tests/api/test_lockout.py); here it is raised out of the way to test the OTP lock alone.
WITHOUT_PASSWORD_DELAY = {"lockout_threshold": 50}


def test_ten_wrong_codes_over_two_logins_lock_the_account(
    make_app: Callable[..., Flask], clock: FrozenClock
) -> None:
    app = make_app(**WITHOUT_PASSWORD_DELAY)
    client = app.test_client()
    username = register(client)
    session_id, code = start(client, username)
    for _ in range(5):
        refused(verify(client, session_id, wrong(code)))
    session_id, code = start(client, username)
    for _ in range(4):
        refused(verify(client, session_id, wrong(code)))
    tenth = verify(client, session_id, wrong(code))
    body = refused(tenth)
    assert body["attempts_remaining"] == 0
    assert int(tenth.headers["Retry-After"]) == 900
    assert otp_failures(app, username) == 10

    sent = len(client.get("/dev/outbox", headers={"Accept": "application/json"}).get_json())
    locked = client.post("/auth/login", json={"username": username, "password": PASSWORD})
    lock_body = problem(locked, 429)
    assert 1 <= int(locked.headers["Retry-After"]) <= 900
    assert "session_id" not in lock_body
    outbox = client.get("/dev/outbox", headers={"Accept": "application/json"}).get_json()
    assert len(outbox) == sent  # no code is sent while locked
    # The lock is told only to someone who knows the password.
    wrong_password = client.post("/auth/login", json={"username": username, "password": "nope!"})
    assert wrong_password.status_code == 401

    clock.advance(900 - 1)
    still = client.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert problem(still, 429) and still.headers["Retry-After"] == "1"

    clock.advance(2)  # otp_account_lock_seconds + 1 after the lock
    session_id, code = start(client, username)
    assert verify(client, session_id, code).status_code == 200
    assert otp_failures(app, username) == 0


def test_lock_duration_is_a_setting(make_app: Callable[..., Flask], clock: FrozenClock) -> None:
    client = make_app(otp_account_max_failures=3, otp_account_lock_seconds=60).test_client()
    username = register(client)
    session_id, code = start(client, username)
    refused(verify(client, session_id, wrong(code)))
    refused(verify(client, session_id, wrong(code)))
    third = verify(client, session_id, wrong(code))
    refused(third)
    assert third.headers["Retry-After"] == "60"
    locked = client.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert problem(locked, 429) and locked.headers["Retry-After"] == "60"
    clock.advance(61)
    session_id, code = start(client, username)
    assert verify(client, session_id, code).status_code == 200


def test_a_new_login_does_not_reset_the_count(make_app: Callable[..., Flask]) -> None:
    app = make_app(**WITHOUT_PASSWORD_DELAY)
    client = app.test_client()
    username = register(client)
    for wrong_tries in (5, 4):
        session_id, code = start(client, username)
        for _ in range(wrong_tries):
            refused(verify(client, session_id, wrong(code)))
    assert otp_failures(app, username) == 9
    session_id, code = start(client, username)  # a fresh challenge, the count stays
    tenth = verify(client, session_id, wrong(code))
    assert refused(tenth)["attempts_remaining"] == 0
    assert "Retry-After" in tenth.headers
    # The challenge of the lock is dead, even for the right code.
    expired(verify(client, session_id, code))
    locked = client.post("/auth/login", json={"username": username, "password": PASSWORD})
    problem(locked, 429)


def test_a_success_resets_the_count(make_app: Callable[..., Flask]) -> None:
    app = make_app(**WITHOUT_PASSWORD_DELAY)
    client = app.test_client()
    username = register(client)
    for wrong_tries in (5, 4):
        session_id, code = start(client, username)
        for _ in range(wrong_tries):
            refused(verify(client, session_id, wrong(code)))
    assert verify(client, session_id, code).status_code == 200
    assert otp_failures(app, username) == 0

    session_id, code = start(client, username)
    response = verify(client, session_id, wrong(code))
    assert refused(response)["attempts_remaining"] == 4
    assert "Retry-After" not in response.headers
    assert otp_failures(app, username) == 1
    assert verify(client, session_id, code).status_code == 200
