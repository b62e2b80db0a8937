"""Authenticator apps (CONTRACT: Second factors): enrolment with the password, active
after a first right code; sign-in without an SMS; one step of drift; each time step
once, also under concurrent requests; wrong codes counted like SMS codes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.api.test_account import me
from tests.api.test_metrics import scrape
from tests.api.test_password_change import outbox
from tests.api.test_refresh import bearer, claims, query
from tests.clock import FrozenClock
from tests.conftest import PASSWORD, last_code, login, register, sign_in
from tests.helpers import problem

STEP = 30


def enrol(client: FlaskClient, token: str, password: str = PASSWORD) -> TestResponse:
    return client.post("/auth/factors/totp", json={"password": password}, headers=bearer(token))


def confirm(client: FlaskClient, token: str, factor_id: str, code: str) -> TestResponse:
    return client.post(
        "/auth/factors/totp/confirm",
        json={"factor_id": factor_id, "code": code},
        headers=bearer(token),
    )


def code_of(secret: str, clock: FrozenClock, steps: int = 0) -> str:
    """What the app shows ``steps`` time steps from now."""
    return pyotp.TOTP(secret).at(clock.now() + steps * STEP)


def with_app(client: FlaskClient, clock: FrozenClock) -> tuple[str, str, str]:
    """An account with an active authenticator app: username, token and secret. The
    clock is moved to the next step, so the confirming code is not the one to use."""
    username = register(client)
    token = sign_in(client, username)
    started = enrol(client, token)
    assert started.status_code == 200, started.get_json()
    body = started.get_json()
    assert (
        confirm(client, token, body["factor_id"], code_of(body["secret"], clock)).status_code == 204
    )
    clock.advance(STEP)
    return username, token, body["secret"]


def verify(client: FlaskClient, session_id: str, code: str, **more: str) -> TestResponse:
    return client.post("/auth/verify-otp", json={"session_id": session_id, "otp": code, **more})


def test_enrolment_shows_the_secret_once_and_activates_on_the_first_code(
    app: Flask, client: FlaskClient, clock: FrozenClock
) -> None:
    username = register(client)
    token = sign_in(client, username)
    response = enrol(client, token)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == {"factor_id", "secret", "otpauth_uri", "qr_svg"}
    assert len(body["secret"]) == 32  # 160 bits in base 32
    assert pyotp.parse_uri(body["otpauth_uri"]).secret == body["secret"]
    assert f"SecureFlaskAuth:{username}" in body["otpauth_uri"]
    assert body["qr_svg"].startswith("<svg") and body["qr_svg"].rstrip().endswith("</svg>")
    assert "http" not in body["qr_svg"].replace("http://www.w3.org/2000/svg", "")
    # Pending: not a factor yet, and sign-in still sends an SMS.
    assert me(client, token)["factors"] == ["sms"]
    assert login(client, username)["method"] == "sms"

    wrong = f"{(int(code_of(body['secret'], clock)) + 1) % 10**6:06d}"
    refused = problem(confirm(client, token, body["factor_id"], wrong), 422)
    assert list(refused["errors"]) == ["code"]
    assert me(client, token)["factors"] == ["sms"]

    before = len(outbox(client))
    assert (
        confirm(client, token, body["factor_id"], code_of(body["secret"], clock, -1)).status_code
        == 204
    )
    assert me(client, token)["factors"] == ["sms", "totp"]
    notice = outbox(client)
    assert len(notice) == before + 1 and "authenticator app was added" in notice[0]["body"]
    again = problem(confirm(client, token, body["factor_id"], code_of(body["secret"], clock)), 422)
    assert list(again["errors"]) == ["factor_id"]
    events = query(app, "SELECT outcome FROM audit_events WHERE event = 'factor_added'")
    assert [e["outcome"] for e in events] == ["pending", "failure", "success"]


def test_enrolment_needs_the_password_and_a_pending_app_of_ones_own(
    client: FlaskClient, clock: FrozenClock
) -> None:
    token = sign_in(client)
    problem(enrol(client, token, "not the password"), 401)
    other = sign_in(client)
    pending = enrol(client, other).get_json()
    taken = confirm(client, token, pending["factor_id"], code_of(pending["secret"], clock))
    assert list(problem(taken, 422)["errors"]) == ["factor_id"]
    clock.advance(601)  # a pending app expires after 10 minutes
    late = confirm(client, other, pending["factor_id"], code_of(pending["secret"], clock))
    assert list(problem(late, 422)["errors"]) == ["factor_id"]
    assert list(problem(confirm(client, token, "x", "12345"), 422)["errors"]) == ["code"]


def test_sign_in_with_the_app_sends_no_sms(client: FlaskClient, clock: FrozenClock) -> None:
    username, _, secret = with_app(client, clock)
    before = len(outbox(client))
    started = login(client, username)
    assert started["method"] == "totp"
    assert started["methods"] == ["totp", "sms"]
    assert started["sent_to"] is None
    assert started["resend_after"] == 0
    assert len(outbox(client)) == before  # no SMS at all

    response = verify(client, started["session_id"], code_of(secret, clock))
    assert response.status_code == 200, response.get_json()
    assert claims(response.get_json()["access_token"])["amr"] == ["pwd", "otp"]


def test_one_step_of_drift_is_taken_and_two_are_not(
    client: FlaskClient, clock: FrozenClock
) -> None:
    username, _, secret = with_app(client, clock)
    for steps in (2, -2):
        session_id = login(client, username)["session_id"]
        body = problem(verify(client, session_id, code_of(secret, clock, steps)), 401)
        assert body["attempts_remaining"] == 4
    session_id = login(client, username)["session_id"]
    assert verify(client, session_id, code_of(secret, clock, 1), method="totp").status_code == 200
    clock.advance(3 * STEP)  # the step used was now + 1: take one after it
    session_id = login(client, username)["session_id"]
    assert verify(client, session_id, code_of(secret, clock, -1)).status_code == 200


def test_a_code_is_taken_once(app: Flask, client: FlaskClient, clock: FrozenClock) -> None:
    username, _, secret = with_app(client, clock)
    code = code_of(secret, clock)
    assert verify(client, login(client, username)["session_id"], code).status_code == 200
    replayed = problem(verify(client, login(client, username)["session_id"], code), 401)
    assert replayed["type"].endswith(":invalid-otp") and replayed["attempts_remaining"] == 4
    # So is the code that confirmed the app, and any code of an earlier step.
    earlier = problem(
        verify(client, login(client, username)["session_id"], code_of(secret, clock, -1)), 401
    )
    assert earlier["attempts_remaining"] == 4
    clock.advance(STEP)
    assert (
        verify(client, login(client, username)["session_id"], code_of(secret, clock)).status_code
        == 200
    )


def test_twenty_concurrent_uses_of_one_code_sign_in_once(
    app: Flask, client: FlaskClient, clock: FrozenClock
) -> None:
    username, _, secret = with_app(client, clock)
    sessions = [login(client, username)["session_id"] for _ in range(20)]
    code = code_of(secret, clock)
    barrier = threading.Barrier(len(sessions))

    def attempt(session_id: str) -> int:
        own = app.test_client()
        barrier.wait(timeout=30)
        return verify(own, session_id, code, method="totp").status_code

    with ThreadPoolExecutor(max_workers=len(sessions)) as pool:
        statuses = list(pool.map(attempt, sessions))
    assert statuses.count(200) == 1, statuses
    assert statuses.count(401) == len(sessions) - 1, statuses


def test_wrong_app_codes_count_like_wrong_sms_codes(
    make_app: Callable[..., Flask], clock: FrozenClock
) -> None:
    # The password delay later than the code lock, to see the code lock (as for SMS codes).
    app = make_app(lockout_threshold=50)
    client = app.test_client()
    username, _, secret = with_app(client, clock)
    wrong = f"{(int(code_of(secret, clock)) + 1) % 10**6:06d}"
    session_id = login(client, username)["session_id"]
    remaining = [
        problem(verify(client, session_id, wrong), 401).get("attempts_remaining") for _ in range(5)
    ]
    assert remaining == [4, 3, 2, 1, 0]
    # The sign-in is over, right code or not.
    over = problem(verify(client, session_id, code_of(secret, clock)), 401)
    assert over["type"].endswith(":sign-in-expired")
    user = query(app, "SELECT otp_failures FROM users WHERE username = :u", u=username)
    assert user[0]["otp_failures"] == 5
    # Five more, across sign-ins, reach the account's code lock (SFA_OTP_ACCOUNT_MAX_FAILURES).
    for _ in range(4):
        problem(verify(client, login(client, username)["session_id"], wrong), 401)
    locked = problem(verify(client, login(client, username)["session_id"], wrong), 401)
    assert "locked" in locked["detail"]
    problem(client.post("/auth/login", json={"username": username, "password": PASSWORD}), 429)


def test_wrong_app_codes_delay_sign_in_like_wrong_passwords(
    client: FlaskClient, clock: FrozenClock
) -> None:
    username, _, secret = with_app(client, clock)
    wrong = f"{(int(code_of(secret, clock)) + 1) % 10**6:06d}"
    session_id = login(client, username)["session_id"]
    for _ in range(5):  # SFA_LOCKOUT_THRESHOLD
        problem(verify(client, session_id, wrong), 401)
    delayed = client.post("/auth/login", json={"username": username, "password": PASSWORD})
    problem(delayed, 429)
    assert int(delayed.headers["Retry-After"]) > 0


def test_an_sms_when_asked_for(client: FlaskClient, clock: FrozenClock) -> None:
    username, _, _ = with_app(client, clock)
    started = login(client, username)
    before = len(outbox(client))
    resent = client.post(
        "/auth/resend-otp", json={"session_id": started["session_id"], "method": "sms"}
    )
    assert resent.status_code == 200, resent.get_json()
    body = resent.get_json()
    assert body["method"] == "sms" and body["sent_to"] == "+972*****4336"
    assert body["methods"] == ["totp", "sms"]
    assert len(outbox(client)) == before + 1
    # Without "method" the SMS code is now the one expected.
    response = verify(client, started["session_id"], last_code(client))
    assert response.status_code == 200, response.get_json()
    assert claims(response.get_json()["access_token"])["amr"] == ["pwd", "sms"]
    bad = client.post("/auth/resend-otp", json={"session_id": "x", "method": "totp"})
    assert list(problem(bad, 422)["errors"]) == ["method"]


def test_recovery_codes_still_work_for_an_account_with_an_app(
    client: FlaskClient, clock: FrozenClock
) -> None:
    username, token, secret = with_app(client, clock)
    codes = client.post(
        "/auth/recovery-codes",
        json={"password": PASSWORD, "totp": code_of(secret, clock)},
        headers=bearer(token),
    )
    session_id = login(client, username)["session_id"]
    response = client.post(
        "/auth/verify-otp",
        json={"session_id": session_id, "recovery_code": codes.get_json()["codes"][0]},
    )
    assert response.status_code == 200, response.get_json()
    mixed = client.post(
        "/auth/verify-otp",
        json={"session_id": session_id, "recovery_code": "x", "method": "totp"},
    )
    assert "method" in problem(mixed, 422)["errors"]


def test_metrics_count_sign_ins_by_method_and_the_sms_saved(
    client: FlaskClient, clock: FrozenClock
) -> None:
    username, _, secret = with_app(client, clock)  # one SMS sign-in on the way
    assert (
        verify(client, login(client, username)["session_id"], code_of(secret, clock)).status_code
        == 200
    )
    metrics = scrape(client)
    assert metrics.value("sfa_signins_total", method="sms") == 1
    assert metrics.value("sfa_signins_total", method="totp") == 1
    assert metrics.value("sfa_sms_saved_total", method="totp") == 1
    assert (
        metrics.value("sfa_sms_messages_total", provider="outbox", country="IL", outcome="verified")
        == 1
    )


def test_a_factor_id_that_no_factor_can_have_is_refused_plainly(client: FlaskClient) -> None:
    token = sign_in(client)
    for factor_id in ("\u0000|S", "x" * 5000, "' OR 1=1 --"):
        body = problem(confirm(client, token, factor_id, "123456"), 422)
        assert list(body["errors"]) == ["factor_id"]
        problem(
            client.delete(
                "/auth/factors/" + factor_id.replace("\u0000", "%00"),
                json={"password": PASSWORD},
                headers=bearer(token),
            ),
            404,
        )
