"""``secureflaskauth users set-phone USER NUMBER``: the operator replaces a number (it
counts as verified), every session ends, the old number gets a notice, the action is
audited; bad numbers and unknown users are one line."""

from __future__ import annotations

import json
import uuid

from flask import Flask
from flask.testing import FlaskClient

from tests.api.test_password_change import outbox
from tests.api.test_refresh import query
from tests.cli.conftest import (
    Cli,
    bearer,
    full_sign_in,
    one_line_error,
    private_status,
    refresh_status,
)
from tests.conftest import PASSWORD, register

OLD = "+972508464336"
NEW = "0549876543"
NEW_E164 = "+972549876543"
NEW_MASKED = "+972*****6543"


def test_the_operator_replaces_the_number_and_every_session_ends(
    cli: Cli, app: Flask, client: FlaskClient
) -> None:
    username = register(client)
    one, two = full_sign_in(client, username), full_sign_in(client, username)

    result = cli("users", "set-phone", username, NEW)

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        f"set the phone of {username} to {NEW_MASKED}; ended 2 session(s); "
        "a notice sent to +972*****4336"
    )
    for signed in (one, two):
        assert private_status(client, signed.access_token) == 401
        assert refresh_status(client, signed.refresh_token) == 401
    notice = outbox(client)[0]
    assert notice["to"] == OLD and NEW_MASKED in notice["body"]
    # The new number is the account's, verified; its next code goes there.
    again = full_sign_in(client, username)
    assert outbox(client)[0]["to"] == NEW_E164  # the sign-in code
    profile = client.get("/auth/me", headers=bearer(again.access_token)).get_json()
    assert profile["phone_number"] == NEW_MASKED and profile["phone_verified"] is True
    events = query(
        app,
        "SELECT detail FROM audit_events WHERE event = 'admin_action' AND user_id = :u",
        u=one.user_id,
    )
    detail = json.loads(events[-1]["detail"])
    assert detail == {
        "action": "set-phone",
        "by": "cli",
        "sessions_ended": 2,
        "old_number": "+972*****4336",
        "new_number": NEW_MASKED,
    }
    assert "549876543" not in result.output + result.stderr


def test_a_pending_account_comes_out_verified(cli: Cli, app: Flask, client: FlaskClient) -> None:
    username = register(client)  # never verified its number

    assert cli("users", "set-phone", username, NEW).exit_code == 0

    rows = query(app, "SELECT phone_verified_at FROM users WHERE username = :n", n=username)
    assert rows[0]["phone_verified_at"] is not None


def test_the_owner_waits_out_the_cooldown_after_an_operators_change(
    cli: Cli, client: FlaskClient
) -> None:
    username = register(client)
    assert cli("users", "set-phone", username, NEW).exit_code == 0
    token = full_sign_in(client, username).access_token

    response = client.post(
        "/auth/phone/change",
        json={"password": PASSWORD, "phone_number": "0508461234"},
        headers=bearer(token),
    )

    assert response.status_code == 429, response.get_json()
    assert int(response.headers["Retry-After"]) > 86000


def test_a_code_in_flight_to_the_old_number_ends(cli: Cli, client: FlaskClient) -> None:
    username = register(client)
    waiting = client.post("/auth/login", json={"username": username, "password": PASSWORD})
    session_id = waiting.get_json()["session_id"]
    code = outbox(client)[0]["body"].split("code: ")[1][:6]

    assert cli("users", "set-phone", username, NEW).exit_code == 0

    response = client.post("/auth/verify-otp", json={"session_id": session_id, "otp": code})
    assert response.status_code == 401


def test_bad_numbers_are_one_line_and_change_nothing(
    cli: Cli, app: Flask, client: FlaskClient
) -> None:
    username = register(client)
    signed = full_sign_in(client, username)

    for number, reason in (
        ("12", "Not a valid phone number."),
        ("not-a-number", "Not a phone number."),
        ("035555555", "Must be a mobile number that can receive SMS."),
        ("+12015550123", "Codes cannot be sent by SMS to this country (only to: IL)."),
        ("+972 50-846-4336", "This is already the account's number."),
    ):
        result = cli("users", "set-phone", username, number)
        one_line_error(result, f"not a usable phone number: {reason}")

    rows = query(app, "SELECT phone_e164 FROM users WHERE username = :n", n=username)
    assert rows == [{"phone_e164": OLD}]
    assert private_status(client, signed.access_token) == 200


def test_an_unknown_user_is_one_line(cli: Cli, client: FlaskClient) -> None:
    register(client)
    for ident in ("nobody.here", str(uuid.uuid4())):
        one_line_error(cli("users", "set-phone", ident, NEW), f"no such user: {ident}")


def test_a_full_number_is_noted_not_refused(
    cli: Cli, cli_env: dict[str, str], client: FlaskClient
) -> None:
    cli_env["SFA_MAX_ACCOUNTS_PER_NUMBER"] = "1"
    full_sign_in(client, register(client, phone_number=NEW))
    username = register(client)

    result = cli("users", "set-phone", username, NEW)

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == (
        "note: 1 other verified account(s) hold this number; "
        "SFA_MAX_ACCOUNTS_PER_NUMBER (1) does not bind operators"
    )
