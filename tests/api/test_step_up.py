"""Step-up (README "Step-up"): the sensitive actions of an account with an
authenticator app need its code, with a passkey an assertion, a recovery code as the
last resort; a wrong proof is a wrong code; an account with the phone only is
unchanged; a stolen token with the password cannot remove the app. And
/auth/verify-otp without "method" on a sign-in that sent no SMS. On SQLite and on
PostgreSQL with Redis."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.api.test_passkeys import step_up, with_passkey
from tests.api.test_refresh import bearer, query
from tests.api.test_totp import code_of, enrol, verify, with_app
from tests.clock import FrozenClock
from tests.conftest import PASSWORD, last_code, login, sign_in
from tests.helpers import problem

Action = Callable[[FlaskClient, str, str], TestResponse]


def _strongest(client: FlaskClient, token: str) -> str:
    listed = client.get("/auth/factors", headers=bearer(token)).get_json()
    return str([f for f in listed if f["type"] in ("totp", "webauthn")][-1]["id"])


def _action(name: str) -> Callable[..., TestResponse]:
    def act(
        client: FlaskClient, token: str, password: str = PASSWORD, **proof: Any
    ) -> TestResponse:
        headers = bearer(token)
        if name == "password_changed":
            body = {"current_password": password, "new_password": "a brand new horse", **proof}
            return client.post("/auth/password/change", json=body, headers=headers)
        if name == "phone_change_requested":
            body = {"password": password, "phone_number": "0549876543", **proof}
            return client.post("/auth/phone/change", json=body, headers=headers)
        if name == "recovery_codes_issued":
            return client.post(
                "/auth/recovery-codes", json={"password": password, **proof}, headers=headers
            )
        if name == "factor_removed":
            listed = client.get("/auth/factors", headers=headers).get_json()
            target = [f["id"] for f in listed if f["type"] != "sms"] or ["recovery_codes"]
            return client.delete(
                f"/auth/factors/{target[-1]}", json={"password": password, **proof}, headers=headers
            )
        return client.delete("/auth/account", json={"password": password, **proof}, headers=headers)

    return act


ACTIONS = [
    "password_changed",
    "phone_change_requested",
    "recovery_codes_issued",
    "factor_removed",
    "account_deleted",
]


def _done(response: TestResponse) -> None:
    assert response.status_code in (200, 204), response.get_json()


def _confirmed_by(app: Flask, event: str) -> str:
    rows = query(app, "SELECT detail FROM audit_events WHERE event = :e", e=event)
    return str(json.loads(rows[-1]["detail"])["confirmed_by"])


@pytest.mark.parametrize("event", ACTIONS)
def test_an_account_with_an_app_needs_its_code(
    app: Flask, client: FlaskClient, clock: FrozenClock, event: str
) -> None:
    act = _action(event)
    _, token, secret = with_app(client, clock)
    # A wrong password says nothing of the app.
    wrong = problem(act(client, token, "not the password"), 401)
    assert wrong["type"].endswith(":wrong-password") and "totp" not in json.dumps(wrong)
    missing = problem(act(client, token), 422)
    assert list(missing["errors"]) == ["totp"]
    problem(act(client, token, totp="12345"), 422)  # malformed: no attempt
    refused = problem(act(client, token, totp=code_of(secret, clock, steps=5)), 401)
    assert refused["type"].endswith(":invalid-otp")
    _done(act(client, token, totp=code_of(secret, clock)))
    assert _confirmed_by(app, event) == "totp"


@pytest.mark.parametrize("event", ACTIONS)
def test_an_account_with_a_passkey_needs_an_assertion(
    app: Flask, client: FlaskClient, clock: FrozenClock, event: str
) -> None:
    act = _action(event)
    _, token, authenticator = with_passkey(client)
    missing = problem(act(client, token), 422)
    assert list(missing["errors"]) == ["webauthn"]
    # The strongest factor decides: an app's code is not taken in its place.
    assert list(problem(act(client, token, totp="123456"), 422)["errors"]) == ["totp"]
    problem(act(client, token, webauthn={"id": 1}), 422)
    assertion = step_up(client, token, authenticator)
    problem(act(client, token, "not the password", webauthn=assertion), 401)
    _done(act(client, token, webauthn=step_up(client, token, authenticator)))
    assert _confirmed_by(app, event) == "webauthn"


@pytest.mark.parametrize("event", ACTIONS)
def test_an_account_with_the_phone_only_is_unchanged(
    app: Flask, client: FlaskClient, event: str
) -> None:
    act = _action(event)
    token = sign_in(client)
    if event == "factor_removed":  # something to remove: its recovery codes
        _done(_action("recovery_codes_issued")(client, token))
    # Nothing is spent for nothing: a proof it does not need is refused.
    assert list(problem(act(client, token, totp="123456"), 422)["errors"]) == ["totp"]
    _done(act(client, token))
    assert _confirmed_by(app, event) == "password"


def test_a_recovery_code_stands_in_once(
    app: Flask, client: FlaskClient, clock: FrozenClock
) -> None:
    _, token, secret = with_app(client, clock)
    codes = _action("recovery_codes_issued")(client, token, totp=code_of(secret, clock))
    code = codes.get_json()["codes"][0]
    both = problem(
        _action("password_changed")(client, token, totp="123456", recovery_code=code), 422
    )
    assert set(both["errors"]) == {"totp", "recovery_code"}
    _done(_action("phone_change_requested")(client, token, recovery_code=code))
    assert _confirmed_by(app, "phone_change_requested") == "recovery_code"
    used = problem(_action("password_changed")(client, token, recovery_code=code), 401)
    assert used["type"].endswith(":invalid-otp")


def test_the_app_code_is_used_once(client: FlaskClient, clock: FrozenClock) -> None:
    username, token, secret = with_app(client, clock)
    code = code_of(secret, clock)
    _done(_action("recovery_codes_issued")(client, token, totp=code))
    problem(_action("password_changed")(client, token, totp=code), 401)  # replayed
    problem(verify(client, login(client, username)["session_id"], code), 401)


def test_wrong_proofs_count_like_wrong_codes(
    app: Flask, client: FlaskClient, clock: FrozenClock
) -> None:
    username, token, secret = with_app(client, clock)
    act = _action("recovery_codes_issued")
    for _ in range(2):
        problem(act(client, token, totp=code_of(secret, clock, steps=7)), 401)
    rows = query(app, "SELECT otp_failures FROM users WHERE username = :u", u=username)
    assert rows[0]["otp_failures"] == 2  # the account's code lock counts them
    failed = query(app, "SELECT detail FROM audit_events WHERE event = 'otp_failed'")
    assert json.loads(failed[-1]["detail"])["factor"] == "totp"
    # The right code starts the count again.
    _done(act(client, token, totp=code_of(secret, clock)))
    rows = query(app, "SELECT otp_failures FROM users WHERE username = :u", u=username)
    assert rows[0]["otp_failures"] == 0


def test_a_stolen_token_and_password_cannot_remove_the_app(
    client: FlaskClient, clock: FrozenClock
) -> None:
    username, token, _ = with_app(client, clock)
    app_id = _strongest(client, token)
    headers = bearer(token)
    removal = client.delete(f"/auth/factors/{app_id}", json={"password": PASSWORD}, headers=headers)
    assert list(problem(removal, 422)["errors"]) == ["totp"]
    # Nor replace it with the thief's own app, nor add a passkey that would outrank it.
    assert list(problem(enrol(client, token), 422)["errors"]) == ["totp"]
    options = client.post(
        "/auth/factors/webauthn/options", json={"password": PASSWORD}, headers=headers
    )
    assert list(problem(options, 422)["errors"]) == ["totp"]
    assert _strongest(client, token) == app_id
    assert login(client, username)["method"] == "totp"


def test_step_up_challenges_are_the_accounts_and_single_use(client: FlaskClient) -> None:
    problem(client.post("/auth/webauthn/step-up", headers=bearer(sign_in(client))), 422)
    problem(client.post("/auth/webauthn/step-up"), 401)
    username, token, authenticator = with_passkey(client)
    act = _action("recovery_codes_issued")
    assertion = step_up(client, token, authenticator)
    _done(act(client, token, webauthn=assertion))
    problem(act(client, token, webauthn=assertion), 401)  # used
    # Another account's step-up challenge, or a sign-in's, confirms nothing here.
    _, other, _ = with_passkey(client)
    foreign = client.post("/auth/webauthn/step-up", headers=bearer(other)).get_json()
    problem(act(client, token, webauthn=authenticator.assert_(foreign)), 401)
    started = login(client, username)
    signin = client.post("/auth/webauthn/options", json={"session_id": started["session_id"]})
    problem(act(client, token, webauthn=authenticator.assert_(signin.get_json())), 401)


def test_verify_otp_without_method_after_a_passkey_start(
    client: FlaskClient, clock: FrozenClock
) -> None:
    username, _, _ = with_passkey(client)
    started = login(client, username)
    assert started["method"] == "webauthn" and started["sent_to"] is None
    refused = problem(verify(client, started["session_id"], "123456"), 422)
    assert list(refused["errors"]) == ["method"] and refused["methods"] == ["webauthn", "sms"]
    # Not a wrong code: the sign-in keeps its tries; an SMS asked for is then the default.
    sent = client.post(
        "/auth/resend-otp", json={"session_id": started["session_id"], "method": "sms"}
    )
    assert sent.status_code == 200, sent.get_json()
    assert sent.get_json()["attempts_remaining"] == 5
    done = verify(client, started["session_id"], last_code(client))
    assert done.status_code == 200, done.get_json()


def test_verify_otp_without_method_takes_the_apps_code_when_no_sms_was_sent(
    client: FlaskClient, clock: FrozenClock
) -> None:
    username, _, secret = with_app(client, clock)
    assert login(client, username)["method"] == "totp"
    started = login(client, username)
    assert verify(client, started["session_id"], code_of(secret, clock)).status_code == 200
