"""``secureflaskauth users reset-password`` and ``users recovery-codes revoke``, each
checked against the HTTP API of apps on the same database."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.api.test_passkeys import with_passkey
from tests.api.test_password_reset import NEW, forgot, reset
from tests.api.test_recovery_codes import codes_of, with_recovery
from tests.api.test_refresh import query
from tests.cli.conftest import (
    Cli,
    cli_json,
    full_sign_in,
    messages,
    private_status,
    refresh_status,
    wiring_of,
)
from tests.clock import FrozenClock
from tests.conftest import PASSWORD, last_code, login, register, sign_in, unique_username
from tests.helpers import problem

WRONG = "wrong horse battery staple"


def attempt(client: FlaskClient, username: str, password: str) -> TestResponse:
    return client.post("/auth/login", json={"username": username, "password": password})


def admin_actions(app: Flask, user_id: str) -> list[dict[str, Any]]:
    rows = query(
        app,
        "SELECT detail FROM audit_events WHERE event = 'admin_action' AND user_id = :u ORDER BY id",
        u=user_id,
    )
    return [json.loads(row["detail"]) for row in rows]


def shown(cli: Cli, username: str) -> dict[str, Any]:
    row: dict[str, Any] = cli_json(cli, "users", "show", username)
    return row


def test_reset_password_ends_every_session_and_the_password_until_a_reset(
    cli: Cli, app: Flask, client: FlaskClient
) -> None:
    username = register(client)
    one, two = full_sign_in(client, username), full_sign_in(client, username)

    result = cli("users", "reset-password", username.upper())

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"password reset required for {username}; ended 2 session(s)"
    assert messages(result) == []  # the owner can reset alone: no warning
    for signed in (one, two):
        assert private_status(client, signed.access_token) == 401
        assert refresh_status(client, signed.refresh_token) == 401
    session = wiring_of(app).sessions.store.get(one.session_id)
    assert session is not None and session.revoked_reason == "password reset required"
    assert admin_actions(app, one.user_id) == [
        {"action": "reset-password", "by": "cli", "sessions_ended": 2}
    ]
    assert shown(cli, username)["password_reset_required"] is True

    # The right password is told to reset, and sends no code.
    sent = len(client.get("/dev/outbox", headers={"Accept": "application/json"}).get_json())
    body = problem(attempt(client, username, PASSWORD), 403)
    assert body["type"].endswith("password-reset-required")
    assert "/auth/password/forgot" in body["detail"]
    assert len(client.get("/dev/outbox", headers={"Accept": "application/json"}).get_json()) == sent
    refused = query(app, "SELECT outcome FROM audit_events WHERE event = 'password_reset'")
    assert [row["outcome"] for row in refused] == ["required"]

    # The owner recovers with a code to the phone, and the requirement ends with it.
    started = forgot(client, username)
    assert reset(client, started["session_id"], last_code(client)).status_code == 204
    assert shown(cli, username)["password_reset_required"] is False
    assert attempt(client, username, PASSWORD).status_code == 401
    assert login(client, username, NEW)["session_id"]


def test_a_wrong_password_learns_nothing_of_the_requirement(cli: Cli, client: FlaskClient) -> None:
    username = register(client)
    sign_in(client, username)
    assert cli("users", "reset-password", username).exit_code == 0

    wrong = attempt(client, username, WRONG)
    unknown = attempt(client, unique_username("ghost"), WRONG)

    body = problem(wrong, 401)
    assert body["type"].endswith("invalid-credentials")
    assert (wrong.status_code, wrong.get_data()) == (unknown.status_code, unknown.get_data())


def test_a_sign_in_begun_before_cannot_be_completed(cli: Cli, client: FlaskClient) -> None:
    username = register(client)
    sign_in(client, username)
    waiting = login(client, username)["session_id"]
    code = last_code(client)

    assert cli("users", "reset-password", username).exit_code == 0

    response = client.post("/auth/verify-otp", json={"session_id": waiting, "otp": code})
    assert problem(response, 401)["type"].endswith("sign-in-expired")


def test_a_held_reset_is_dropped(
    cli: Cli, make_app: Callable[..., Flask], clock: FrozenClock
) -> None:
    client = make_app(reset_with_sms_only="delayed", reset_hold_seconds=60).test_client()
    username = register(client)
    sign_in(client, username)
    started = forgot(client, username)
    assert reset(client, started["session_id"], last_code(client)).status_code == 204

    assert cli("users", "reset-password", username).exit_code == 0
    clock.advance(61)

    # The password set by the held reset never takes effect; the owner asks anew.
    problem(attempt(client, username, NEW), 401)
    problem(attempt(client, username, PASSWORD), 403)
    started = forgot(client, username)
    assert reset(client, started["session_id"], last_code(client)).status_code == 204
    clock.advance(61)
    assert attempt(client, username, NEW).status_code == 200


def test_reset_password_warns_when_the_user_cannot_reset_alone(
    cli: Cli, client: FlaskClient
) -> None:
    username = register(client)  # its number was never verified: no reset code goes to it

    result = cli("users", "reset-password", username)

    assert result.exit_code == 0, result.output
    assert messages(result) == [
        f"warning: {username} cannot reset it alone: the phone number was never verified, "
        "so no reset code is sent to it"
    ]


def test_reset_password_knows_a_passkey_or_an_app_stands_in_for_recovery_codes(
    cli: Cli, cli_env: dict[str, str], client: FlaskClient
) -> None:
    """With SFA_RESET_WITH_SMS_ONLY=off a reset needs a stronger proof: an account with
    a passkey (and no recovery codes) has one, an account with the phone alone has none."""
    cli_env["SFA_RESET_WITH_SMS_ONLY"] = "off"
    with_key, _, _ = with_passkey(client)
    phone_only = register(client)
    sign_in(client, phone_only)

    assert messages(cli("users", "reset-password", with_key)) == []
    assert messages(cli("users", "reset-password", phone_only)) == [
        f"warning: {phone_only} cannot reset it alone: SFA_RESET_WITH_SMS_ONLY=off needs a "
        "recovery code and none is left"
    ]


def test_recovery_codes_revoke_ends_every_code(cli: Cli, app: Flask, client: FlaskClient) -> None:
    username = register(client)
    token = sign_in(client, username)
    codes = codes_of(client, token)
    session_id = login(client, username)["session_id"]
    assert with_recovery(client, session_id, codes[0]).status_code == 200
    assert shown(cli, username)["recovery_codes"] == 9

    result = cli("users", "recovery-codes", "revoke", username)

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"revoked 9 unused recovery code(s) of {username}"
    session_id = login(client, username)["session_id"]
    for code in codes[1:3]:
        body = problem(with_recovery(client, session_id, code), 401)
        assert body["type"].endswith("invalid-otp")
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert me["factors"] == ["sms"]
    user_id = me["user_id"]
    assert admin_actions(app, user_id) == [
        {"action": "recovery-codes-revoke", "by": "cli", "revoked": 9}
    ]
    assert query(app, "SELECT * FROM recovery_codes WHERE user_id = :u", u=user_id) == []
    assert shown(cli, username)["recovery_codes"] == 0
    # Nothing left: revoking again is harmless.
    again = cli("users", "recovery-codes", "revoke", username)
    assert again.stdout.strip() == f"revoked 0 unused recovery code(s) of {username}"
