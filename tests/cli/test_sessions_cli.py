"""``secureflaskauth sessions list|revoke``: what the operator sees
matches the HTTP API, and a revocation is refused by /auth/private at once."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from tests.cli.conftest import (
    Cli,
    bearer,
    cli_json,
    cli_json_lines,
    full_sign_in,
    one_line_error,
    private_status,
    refresh_status,
    table,
    wiring_of,
)
from tests.conftest import register

SESSION_KEYS = {"id", "state", "created_at", "last_used_at", "ip", "user_agent"}


def test_list_shows_the_users_active_sessions(cli: Cli, client: FlaskClient) -> None:
    username = register(client)
    laptop = full_sign_in(client, username, user_agent="laptop-browser")
    phone = full_sign_in(client, username, user_agent="phone-app")
    other = full_sign_in(client, register(client))

    header, rows = table(cli("sessions", "list", "--user", username))
    assert header == ["ID", "STATE", "CREATED_AT", "LAST_USED_AT", "IP", "USER_AGENT"]
    assert {r[0] for r in rows} == {laptop.session_id, phone.session_id}
    assert all(r[1] == "active" for r in rows)
    assert {r[5] for r in rows} == {"laptop-browser", "phone-app"}

    listed = cli_json(cli, "sessions", "list", "--user", laptop.user_id)
    assert all(set(s) == SESSION_KEYS for s in listed)
    assert {s["id"] for s in listed} == {laptop.session_id, phone.session_id}
    assert other.session_id not in {s["id"] for s in listed}
    by_id = {s["id"]: s for s in listed}
    assert by_id[phone.session_id]["user_agent"] == "phone-app"
    assert by_id[phone.session_id]["ip"] == "127.0.0.1"
    assert by_id[phone.session_id]["created_at"].endswith("Z")
    # The same sessions as the user sees over HTTP.
    own = client.get("/auth/sessions", headers=bearer(phone.access_token)).get_json()
    assert {s["id"] for s in own} == set(by_id)
    assert {s["id"]: s["created_at"] for s in own} == {
        sid: s["created_at"] for sid, s in by_id.items()
    }


def test_list_of_a_user_without_sessions(cli: Cli, client: FlaskClient) -> None:
    username = register(client)
    result = cli("sessions", "list", "--user", username)
    assert result.exit_code == 0
    assert result.stdout.strip() == "(none)"
    assert cli_json(cli, "sessions", "list", "--user", username) == []
    one_line_error(cli("sessions", "list", "--user", "nobody.here"), "no such user: nobody.here")


def test_revoke_one_session_refuses_its_tokens_at_once(
    cli: Cli, client: FlaskClient, make_app: Callable[..., Flask]
) -> None:
    other_instance = make_app().test_client()
    username = register(client)
    doomed = full_sign_in(client, username)
    kept = full_sign_in(client, username)
    assert private_status(other_instance, doomed.access_token) == 200

    result = cli("sessions", "revoke", doomed.session_id)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"revoked session {doomed.session_id}"

    assert private_status(client, doomed.access_token) == 401
    assert private_status(other_instance, doomed.access_token) == 401
    assert refresh_status(client, doomed.refresh_token) == 401
    assert private_status(client, kept.access_token) == 200
    assert refresh_status(client, kept.refresh_token) == 200
    own = client.get("/auth/sessions", headers=bearer(kept.access_token)).get_json()
    assert [s["id"] for s in own] == [kept.session_id]

    # Without --all only the active one is listed; with it (one JSON object a line),
    # the ended one and why.
    assert [s["id"] for s in cli_json(cli, "sessions", "list", "--user", username)] == [
        kept.session_id
    ]
    everything = {
        s["id"]: s["state"] for s in cli_json_lines(cli, "sessions", "list", "--user", username)
    }
    assert everything == {kept.session_id: "active", doomed.session_id: "revoked by admin"}
    _, rows = table(cli("sessions", "list", "--user", username, "--all"))
    assert len(rows) == 2

    # Revoking it again says so and fails.
    one_line_error(
        cli("sessions", "revoke", doomed.session_id),
        f"session {doomed.session_id} was already ended",
    )


def test_revoke_every_session_of_a_user(cli: Cli, client: FlaskClient) -> None:
    username = register(client)
    signed = [full_sign_in(client, username) for _ in range(3)]
    bystander = full_sign_in(client, register(client))

    result = cli("sessions", "revoke", "--user", username.upper())
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"revoked 3 session(s) of {username}"

    for s in signed:
        assert private_status(client, s.access_token) == 401
        assert refresh_status(client, s.refresh_token) == 401
    assert private_status(client, bystander.access_token) == 200
    assert cli_json(cli, "sessions", "list", "--user", username) == []
    stored = wiring_of(client.application).sessions.store.for_user(signed[0].user_id)
    assert {s.revoked_reason for s in stored} == {"revoked by admin"}

    # The user can sign in again afterwards.
    again = full_sign_in(client, username)
    assert private_status(client, again.access_token) == 200
    result = cli("sessions", "revoke", "--user", username)
    assert result.stdout.strip() == f"revoked 1 session(s) of {username}"
    assert private_status(client, again.access_token) == 401


def test_revoke_unknown_session_or_user_fails(cli: Cli, client: FlaskClient) -> None:
    signed = full_sign_in(client, register(client))
    one_line_error(cli("sessions", "revoke", "no-such-session"), "no such session: no-such-session")
    one_line_error(cli("sessions", "revoke", "--user", "nobody.here"), "no such user: nobody.here")
    assert private_status(client, signed.access_token) == 200


def test_revoke_needs_exactly_one_of_id_and_user(cli: Cli, client: FlaskClient) -> None:
    signed = full_sign_in(client, register(client))
    for args in ([], [signed.session_id, "--user", signed.username]):
        result = cli("sessions", "revoke", *args)
        assert result.exit_code == 2
        assert "Usage:" in result.stderr
        assert "give a SESSION_ID or --user" in result.stderr
    assert private_status(client, signed.access_token) == 200
