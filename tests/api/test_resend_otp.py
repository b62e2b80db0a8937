"""POST /auth/resend-otp: cooldown, cap, and each new code replacing the last (item 7)."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.clock import FrozenClock
from tests.conftest import last_code, login, register
from tests.helpers import problem

NEXT_STEP_KEYS = {"expires_in", "resend_after", "attempts_remaining"}


def resend(client: FlaskClient, session_id: str) -> TestResponse:
    return client.post("/auth/resend-otp", json={"session_id": session_id})


def verify(client: FlaskClient, session_id: str, code: str) -> TestResponse:
    return client.post("/auth/verify-otp", json={"session_id": session_id, "otp": code})


def outbox_size(client: FlaskClient) -> int:
    return len(client.get("/dev/outbox", headers={"Accept": "application/json"}).get_json())


def start(client: FlaskClient) -> tuple[str, str]:
    session_id = login(client, register(client))["session_id"]
    return session_id, last_code(client)


def test_too_early_is_refused_with_the_wait(client: FlaskClient, clock: FrozenClock) -> None:
    session_id, _ = start(client)
    sent = outbox_size(client)
    early = resend(client, session_id)
    body = problem(early, 429)
    assert early.headers["Retry-After"] == "30"
    assert body["resend_after"] == 30
    assert body["expires_in"] == 300
    assert body["attempts_remaining"] == 5

    clock.advance(12)
    later = resend(client, session_id)
    body = problem(later, 429)
    assert later.headers["Retry-After"] == "18"
    assert body["resend_after"] == 18
    assert body["expires_in"] == 288
    assert outbox_size(client) == sent  # nothing was sent


def test_after_the_cooldown_a_new_code_replaces_the_old(
    client: FlaskClient, clock: FrozenClock
) -> None:
    session_id, old_code = start(client)
    clock.advance(30)
    sent = outbox_size(client)
    response = resend(client, session_id)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["session_id"] == session_id
    assert body["expires_in"] == 300  # counted from the new code
    assert body["resend_after"] == 30
    assert body["attempts_remaining"] == 5
    assert body["sent_to"] == "+972*****4336"
    assert outbox_size(client) == sent + 1
    new_code = last_code(client)

    if new_code != old_code:  # equal one time in a million
        stale = problem(verify(client, session_id, old_code), 401)
        assert stale["attempts_remaining"] == 4
    assert verify(client, session_id, new_code).status_code == 200


def test_the_new_code_lives_its_own_ttl(client: FlaskClient, clock: FrozenClock) -> None:
    session_id, _ = start(client)
    clock.advance(200)
    assert resend(client, session_id).status_code == 200
    code = last_code(client)
    clock.advance(250)  # 450 s after login, 250 s after the resend
    assert verify(client, session_id, code).status_code == 200


def test_at_most_three_resends(client: FlaskClient, clock: FrozenClock) -> None:
    session_id, _ = start(client)
    answers = []
    for _ in range(3):
        clock.advance(30)
        response = resend(client, session_id)
        assert response.status_code == 200
        answers.append(response.get_json()["resend_after"])
    assert answers == [30, 30, None]  # None: no further resend will be allowed
    code = last_code(client)
    sent = outbox_size(client)

    clock.advance(30)
    capped = resend(client, session_id)
    body = problem(capped, 429)
    assert body["resend_after"] is None
    assert set(body) >= NEXT_STEP_KEYS
    assert outbox_size(client) == sent
    # The last code sent still works.
    assert verify(client, session_id, code).status_code == 200


def test_wrong_tries_are_not_reset_by_a_resend(client: FlaskClient, clock: FrozenClock) -> None:
    session_id, code = start(client)
    for _ in range(2):
        problem(verify(client, session_id, f"{(int(code) + 1) % 1_000_000:06d}"), 401)
    clock.advance(30)
    response = resend(client, session_id)
    assert response.get_json()["attempts_remaining"] == 3


def sign_in_expired(response: TestResponse) -> dict[str, Any]:
    """A resend on a sign-in that is over: its own problem type, not "wrong code"."""
    body = problem(response, 401)
    assert body["type"] == "urn:secureflaskauth:problem:sign-in-expired"
    assert body["title"] == "Sign-in expired"
    assert "code" not in body["title"].lower()
    assert (body["attempts_remaining"], body["expires_in"], body["resend_after"]) == (0, 0, None)
    return body


def test_resend_of_an_unknown_session_is_refused(client: FlaskClient) -> None:
    start(client)
    for session_id in ["no-such-session", "", "y" * 200]:
        sign_in_expired(resend(client, session_id))


def test_resend_of_a_used_session_is_refused(client: FlaskClient, clock: FrozenClock) -> None:
    session_id, code = start(client)
    assert verify(client, session_id, code).status_code == 200
    clock.advance(30)
    sent = outbox_size(client)
    sign_in_expired(resend(client, session_id))
    assert outbox_size(client) == sent


def test_resend_of_an_expired_or_exhausted_session_is_refused(
    client: FlaskClient, clock: FrozenClock
) -> None:
    expired, _ = start(client)
    clock.advance(301)
    sign_in_expired(resend(client, expired))

    exhausted, code = start(client)
    for _ in range(5):
        problem(verify(client, exhausted, f"{(int(code) + 1) % 1_000_000:06d}"), 401)
    clock.advance(30)
    sign_in_expired(resend(client, exhausted))


def test_resend_of_a_superseded_session_is_refused(client: FlaskClient, clock: FrozenClock) -> None:
    username = register(client)
    first = login(client, username)["session_id"]
    login(client, username)
    clock.advance(30)
    sign_in_expired(resend(client, first))


def test_resend_body_is_validated(client: FlaskClient) -> None:
    assert problem(client.post("/auth/resend-otp", json={}), 422)["errors"] == {
        "session_id": ["This field is required."]
    }
    typed = client.post("/auth/resend-otp", json={"session_id": 5})
    assert problem(typed, 422)["errors"] == {"session_id": ["Must be a string."]}
    extra = client.post("/auth/resend-otp", json={"session_id": "abc", "phone_number": "1"})
    assert problem(extra, 422)["errors"] == {"phone_number": ["Unknown field."]}
