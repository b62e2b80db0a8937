"""POST /auth/password/forgot and /auth/password/reset (CONTRACT: Account lifecycle):
one answer for every username, a code only to a verified number, a reset that ends
every session, and SFA_RESET_WITH_SMS_ONLY."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.api.test_password_change import outbox
from tests.api.test_recovery_codes import codes_of
from tests.api.test_refresh import (
    assert_access_refused,
    assert_refresh_refused,
    bearer,
    claims,
    query,
    signed_in,
    wiring_of,
)
from tests.api.test_totp import code_of, confirm, enrol
from tests.clock import FrozenClock
from tests.conftest import PASSWORD, last_code, login, register, sign_in, unique_username
from tests.helpers import problem

NEW = "a brand new horse battery"
STARTED = {"message", "session_id", "expires_in", "resend_after"}


def forgot(client: FlaskClient, username: str) -> dict[str, Any]:
    response = client.post("/auth/password/forgot", json={"username": username})
    assert response.status_code == 202, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = response.get_json()
    return body


def reset(client: FlaskClient, session_id: str, code: str, **more: Any) -> TestResponse:
    body = {"session_id": session_id, "otp": code, "new_password": NEW, **more}
    return client.post("/auth/password/reset", json=body)


def login_status(client: FlaskClient, username: str, password: str) -> int:
    return client.post("/auth/login", json={"username": username, "password": password}).status_code


def test_a_reset_sets_the_password_and_ends_every_session(app: Flask, client: FlaskClient) -> None:
    username = register(client)
    one, two = signed_in(client, username), signed_in(client, username)

    started = forgot(client, username)
    assert set(started) == STARTED
    assert started["expires_in"] == 300 and started["resend_after"] == 30
    code = last_code(client)
    response = reset(client, started["session_id"], code)

    assert response.status_code == 204, response.get_data(as_text=True)
    for body in (one, two):
        assert_access_refused(client, body["access_token"])
        assert_refresh_refused(client, body["refresh_token"])
    assert login_status(client, username, PASSWORD) == 401
    assert login_status(client, username, NEW) == 200
    notice = outbox(client)[1]  # the newest is the login's code
    assert "password was reset" in notice["body"]
    user_id = claims(one["access_token"])["sub"]
    events = query(
        app, "SELECT event, outcome, detail FROM audit_events WHERE user_id = :u", u=user_id
    )
    done = [e for e in events if e["event"] == "password_reset"]
    assert len(done) == 1
    assert json.loads(done[0]["detail"]) == {
        "sessions_ended": 2,
        "recovery_code": False,
        "totp": False,
        "webauthn": False,
    }
    assert [e["outcome"] for e in events if e["event"] == "password_reset_requested"] == ["sent"]
    assert NEW not in str(query(app, "SELECT * FROM audit_events"))
    # The code worked once.
    body = problem(reset(client, started["session_id"], code), 401)
    assert body["type"].endswith("sign-in-expired")


def test_the_same_answer_for_every_username(app: Flask, client: FlaskClient) -> None:
    verified = register(client)
    sign_in(client, verified)
    pending = register(client)  # never verified its number
    sent = len(outbox(client))

    answers = [forgot(client, name) for name in (verified, pending, unique_username("ghost"))]

    assert [set(a) for a in answers] == [STARTED] * 3
    assert len({a["message"] for a in answers}) == 1
    assert {(a["expires_in"], a["resend_after"]) for a in answers} == {(300, 30)}
    assert all(len(a["session_id"]) == 43 for a in answers)
    # A code went only to the verified number.
    assert len(outbox(client)) == sent + 1
    outcomes = [
        e["outcome"]
        for e in query(
            app,
            "SELECT outcome FROM audit_events WHERE event = 'password_reset_requested' ORDER BY id",
        )
    ]
    assert outcomes == ["sent", "not_sent", "not_sent"]
    # No code belongs to the others' session ids.
    for started in answers[1:]:
        problem(reset(client, started["session_id"], "123456"), 401)


def test_the_answer_takes_the_same_time_either_way(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app(reset_answer_seconds=0.3).test_client()
    username = register(client)
    sign_in(client, username)
    durations = []
    for name in (username, unique_username("ghost")):
        began = time.monotonic()
        forgot(client, name)
        durations.append(time.monotonic() - began)
    assert all(0.3 <= d < 0.6 for d in durations), durations


def test_a_reset_code_never_signs_in_nor_a_sign_in_code_resets(client: FlaskClient) -> None:
    username = register(client)
    sign_in(client, username)
    started = forgot(client, username)
    code = last_code(client)

    response = client.post(
        "/auth/verify-otp", json={"session_id": started["session_id"], "otp": code}
    )
    assert problem(response, 401)["type"].endswith("sign-in-expired")

    waiting = login(client, username)["session_id"]
    sign_in_code = last_code(client)
    assert problem(reset(client, waiting, sign_in_code), 401)["type"].endswith("sign-in-expired")
    # Neither ended the other: a stranger's reset request does not end a sign-in.
    response = client.post("/auth/verify-otp", json={"session_id": waiting, "otp": sign_in_code})
    assert response.status_code == 200
    assert reset(client, started["session_id"], code).status_code == 204


COUNTS = (
    "SELECT otp_failures, otp_locked_until, reset_failures, reset_locked_until FROM users"
    " WHERE username_canonical = :u"
)


def counts(app: Flask, username: str) -> dict[str, Any]:
    """The account's code counts and locks as stored: sign-in's, then the reset's."""
    [row] = query(app, COUNTS, u=username.lower())
    return row


def wrong_codes(code: str, count: int) -> list[str]:
    return [f"{(int(code) + n) % 1_000_000:06d}" for n in range(1, count + 1)]


def test_wrong_codes_count_and_the_right_one_clears_the_failures(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(lockout_threshold=50)
    client = app.test_client()
    username = register(client)
    sign_in(client, username)
    assert login_status(client, username, "wrong horse battery staple") == 401
    started = forgot(client, username)
    code = last_code(client)

    body = problem(reset(client, started["session_id"], wrong_codes(code, 1)[0]), 401)
    assert body["type"].endswith("invalid-otp") and body["attempts_remaining"] == 4
    # The wrong reset code counts toward the reset's own lock, not the password's delay
    # nor sign-in's code lock.
    assert query(app, "SELECT failures FROM login_failures")[0]["failures"] == 1
    stored = counts(app, username)
    assert (stored["reset_failures"], stored["otp_failures"]) == (1, 0)

    assert reset(client, started["session_id"], code).status_code == 204
    assert query(app, "SELECT * FROM login_failures") == []
    assert counts(app, username) == {
        "otp_failures": 0,
        "otp_locked_until": None,
        "reset_failures": 0,
        "reset_locked_until": None,
    }


def test_wrong_reset_codes_lock_further_resets_but_never_sign_in(
    app: Flask, client: FlaskClient, clock: FrozenClock
) -> None:
    username = register(client)
    sign_in(client, username)
    # Someone who knows only the username: two resets, five wrong codes each.
    answers: list[TestResponse] = []
    for _ in range(2):
        started = forgot(client, username)
        code = last_code(client)
        answers += [reset(client, started["session_id"], w) for w in wrong_codes(code, 5)]

    assert [a.status_code for a in answers] == [401] * 10
    locked = problem(answers[-1], 401)
    assert "Password resets are locked" in locked["detail"]
    assert 0 < int(answers[-1].headers["Retry-After"]) <= 900
    stored = counts(app, username)
    assert (stored["otp_failures"], stored["otp_locked_until"]) == (0, None)
    assert stored["reset_failures"] == 10 and stored["reset_locked_until"] > clock.now()
    assert query(app, "SELECT * FROM login_failures") == []
    # The owner signs in as ever: no delay on the password, no lock on the code.
    sign_in(client, username)
    # Further resets are stopped while the lock lasts: the same answer, no code sent.
    sent = len(outbox(client))
    forgot(client, username)
    assert len(outbox(client)) == sent

    clock.advance(901)
    started = forgot(client, username)
    assert reset(client, started["session_id"], last_code(client)).status_code == 204
    assert counts(app, username)["reset_failures"] == 0
    assert login_status(client, username, NEW) == 200


def test_the_new_password_follows_the_rules(client: FlaskClient) -> None:
    username = register(client)
    sign_in(client, username)
    started = forgot(client, username)
    code = last_code(client)

    body = problem(reset(client, started["session_id"], code, new_password="iloveyou1234"), 422)
    assert list(body["errors"]) == ["new_password"]
    assert reset(client, started["session_id"], code).status_code == 204  # no try lost


def test_with_sms_only_off_a_recovery_code_is_needed_too(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(reset_with_sms_only="off")
    client = app.test_client()
    username = register(client)
    token = sign_in(client, username)
    codes = codes_of(client, token)
    started = forgot(client, username)
    code = last_code(client)

    body = problem(reset(client, started["session_id"], code), 422)
    assert list(body["errors"]) == ["recovery_code"]
    body = problem(reset(client, started["session_id"], code, recovery_code="zzzz-zzzz"), 401)
    assert body["attempts_remaining"] == 4
    assert reset(client, started["session_id"], code, recovery_code=codes[0]).status_code == 204
    assert login_status(client, username, NEW) == 200
    assert query(app, "SELECT COUNT(*) AS n FROM recovery_codes WHERE used_at IS NULL")[0]["n"] == 9


def test_a_new_code_can_be_asked_for_with_resend(client: FlaskClient, clock: FrozenClock) -> None:
    username = register(client)
    sign_in(client, username)
    started = forgot(client, username)
    first = last_code(client)
    clock.advance(31)

    response = client.post("/auth/resend-otp", json={"session_id": started["session_id"]})
    assert response.status_code == 200, response.get_data(as_text=True)
    second = last_code(client)
    if first != second:
        problem(reset(client, started["session_id"], first), 401)
    assert reset(client, started["session_id"], second).status_code == 204


def test_disabled_accounts_get_no_code(app: Flask, client: FlaskClient) -> None:
    username = register(client)
    sign_in(client, username)
    wiring = wiring_of(app)
    user = wiring.users.by_canonical_username(username)
    assert user is not None
    wiring.accounts.disable(user, by="test")
    sent = len(outbox(client))
    forgot(client, username)
    assert len(outbox(client)) == sent


HOLD = 3600


def delayed_client(make_app: Callable[..., Flask]) -> FlaskClient:
    app = make_app(reset_with_sms_only="delayed", reset_hold_seconds=HOLD)
    return app.test_client()


def held_reset(client: FlaskClient, username: str) -> None:
    started = forgot(client, username)
    response = reset(client, started["session_id"], last_code(client))
    assert response.status_code == 204, response.get_data(as_text=True)


def test_delayed_a_reset_waits_out_its_hold_then_ends_every_session(
    make_app: Callable[..., Flask], clock: FrozenClock
) -> None:
    client = delayed_client(make_app)
    username = register(client)
    owner = signed_in(client, username)

    held_reset(client, username)

    notice = outbox(client)[0]["body"]
    assert "takes effect at" in notice and "cancel" in notice
    # During the hold the old password and every session still work.
    assert client.get("/auth/private", headers=bearer(owner["access_token"])).status_code == 200
    assert login_status(client, username, NEW) == 401
    assert login_status(client, username, PASSWORD) == 200
    clock.advance(HOLD + 1)
    # The first sign-in after the hold applies it: the new password, every session ended.
    assert login_status(client, username, NEW) == 200
    assert_access_refused(client, owner["access_token"])
    assert login_status(client, username, PASSWORD) == 401
    assert "password was reset" in outbox(client)[1]["body"]


def test_delayed_the_owner_cancels_from_a_signed_in_session(
    make_app: Callable[..., Flask], clock: FrozenClock
) -> None:
    client = delayed_client(make_app)
    username = register(client)
    token = sign_in(client, username)
    held_reset(client, username)

    response = client.delete("/auth/password/reset", headers=bearer(token))
    assert response.status_code == 204, response.get_data(as_text=True)
    assert "cancelled" in outbox(client)[0]["body"]
    problem(client.delete("/auth/password/reset", headers=bearer(token)), 404)
    problem(client.delete("/auth/password/reset"), 401)

    clock.advance(HOLD + 1)
    assert login_status(client, username, NEW) == 401
    assert login_status(client, username, PASSWORD) == 200


def test_delayed_a_password_change_meanwhile_drops_the_reset(
    make_app: Callable[..., Flask], clock: FrozenClock
) -> None:
    client = delayed_client(make_app)
    username = register(client)
    token = sign_in(client, username)
    held_reset(client, username)
    mine = "the owner's own new password"
    change = {"current_password": PASSWORD, "new_password": mine}
    assert (
        client.post("/auth/password/change", json=change, headers=bearer(token)).status_code == 204
    )

    clock.advance(HOLD + 1)
    assert login_status(client, username, NEW) == 401
    assert login_status(client, username, mine) == 200


def test_delayed_with_a_recovery_code_the_reset_is_at_once(
    make_app: Callable[..., Flask],
) -> None:
    client = delayed_client(make_app)
    username = register(client)
    codes = codes_of(client, sign_in(client, username))
    started = forgot(client, username)

    response = reset(client, started["session_id"], last_code(client), recovery_code=codes[0])

    assert response.status_code == 204
    assert login_status(client, username, NEW) == 200


def test_delayed_an_app_added_meanwhile_drops_the_reset(
    make_app: Callable[..., Flask], clock: FrozenClock
) -> None:
    client = delayed_client(make_app)
    app = client.application
    username = register(client)
    token = sign_in(client, username)
    held_reset(client, username)
    started = enrol(client, token).get_json()
    assert (
        confirm(client, token, started["factor_id"], code_of(started["secret"], clock)).status_code
        == 204
    )

    clock.advance(HOLD + 1)
    # The SMS code alone no longer resets this account: the held reset is not applied.
    assert login_status(client, username, NEW) == 401
    assert login_status(client, username, PASSWORD) == 200
    assert login_status(client, username, NEW) == 401
    assert any("cancelled" in m["body"] for m in outbox(client))
    events = query(
        app,
        "SELECT outcome, detail FROM audit_events WHERE event = 'password_reset' ORDER BY id",
    )
    assert [e["outcome"] for e in events] == ["held", "cancelled"]
    assert json.loads(events[-1]["detail"])["reason"] == "stronger_factor"
    assert query(app, "SELECT COUNT(*) AS n FROM held_resets") == [{"n": 0}]
