"""``secureflaskauth users list|show|disable|enable|unlock|delete``,
each checked against the HTTP API of apps on the same database."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from secureflaskauth.cli.users import LoginDelay, login_delay
from secureflaskauth.domain.usernames import canonical
from tests.cli.conftest import (
    Cli,
    cli_json,
    full_sign_in,
    one_line_error,
    private_status,
    refresh_status,
    table,
    wiring_of,
)
from tests.clock import FrozenClock
from tests.conftest import PASSWORD, last_code, register, unique_username

MASKED = "+972*****4336"
FULL_PHONE_DIGITS = "508464336"


def login_status(client: FlaskClient, username: str) -> int:
    response = client.post("/auth/login", json={"username": username, "password": PASSWORD})
    return response.status_code


def user_row(cli: Cli, username: str) -> dict[str, object]:
    rows = [r for r in cli_json(cli, "users", "list") if r["username"] == username]
    assert len(rows) == 1
    row: dict[str, object] = rows[0]
    return row


def test_list_on_an_empty_database(cli: Cli) -> None:
    result = cli("users", "list")
    assert result.exit_code == 0
    assert result.stdout.strip() == "(none)"
    assert cli_json(cli, "users", "list") == []


def test_list_as_table_and_json(cli: Cli, client: FlaskClient, clock: FrozenClock) -> None:
    first = register(client, unique_username("first"))
    clock.advance(5)
    second = register(client, unique_username("second"))
    assert cli("users", "disable", second).exit_code == 0

    header, rows = table(cli("users", "list"))
    assert header == ["ID", "USERNAME", "PHONE", "STATUS", "CREATED_AT"]
    # Neither has verified their number with a code yet: pending, unless disabled.
    assert [r[1:4] for r in rows] == [[first, MASKED, "pending"], [second, MASKED, "disabled"]]

    listed = cli_json(cli, "users", "list")
    assert [u["username"] for u in listed] == [first, second]  # oldest first
    for user in listed:
        assert {"id", "username", "phone", "status", "created_at"} <= set(user)
        uuid.UUID(user["id"])
        assert user["phone"] == MASKED
        assert user["created_at"].endswith("Z")
    assert [u["status"] for u in listed] == ["pending", "disabled"]
    created = [datetime.fromisoformat(u["created_at"]).timestamp() for u in listed]
    assert created[0] == pytest.approx(clock.now() - 5, abs=1)
    assert created[1] == pytest.approx(clock.now(), abs=1)
    stored = wiring_of(client.application).users.by_id(listed[0]["id"])
    assert stored is not None and stored.username == first
    assert FULL_PHONE_DIGITS not in cli("users", "list").output


def test_show_by_username_in_another_case_and_by_id(cli: Cli, client: FlaskClient) -> None:
    username = register(client, unique_username("Mixed.Case"))
    signed = full_sign_in(client, username)

    result = cli("users", "show", username.upper())
    assert result.exit_code == 0, result.output
    fields = dict(line.split(":", 1) for line in result.stdout.splitlines())
    fields = {k: v.strip() for k, v in fields.items()}
    assert fields["id"] == signed.user_id
    assert fields["username"] == username
    assert fields["phone"] == MASKED
    assert fields["status"] == "active"
    assert fields["active_sessions"] == "1"

    shown = cli_json(cli, "users", "show", signed.user_id)
    assert shown["id"] == signed.user_id
    assert shown["username"] == username
    assert shown["phone"] == MASKED
    assert shown["status"] == "active"
    assert shown["active_sessions"] == 1
    assert FULL_PHONE_DIGITS not in result.output


@pytest.mark.parametrize(
    "command",
    [
        ["show"],
        ["disable"],
        ["enable"],
        ["unlock"],
        ["delete", "--yes"],
        ["reset-password"],
        ["recovery-codes", "revoke"],
    ],
)
def test_unknown_user_is_a_one_line_error(
    cli: Cli, client: FlaskClient, command: list[str]
) -> None:
    register(client)  # a database with someone else in it
    for ident in ("nobody.here", str(uuid.uuid4())):
        result = cli("users", *command, ident)
        one_line_error(result, f"no such user: {ident}")


def test_disable_ends_sessions_at_once_and_enable_lets_them_back(
    cli: Cli, client: FlaskClient, make_app: Callable[..., Flask]
) -> None:
    # A second instance on the same database and var directory, built before the
    # disable: the revocation marker file makes the change visible to it at once.
    other = make_app().test_client()
    username = register(client)
    signed = full_sign_in(client, username)
    assert private_status(client, signed.access_token) == 200
    assert private_status(other, signed.access_token) == 200

    result = cli("users", "disable", username)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"disabled {username}; ended 1 session(s)"

    response = client.get(
        "/auth/private", headers={"Authorization": f"Bearer {signed.access_token}"}
    )
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert private_status(other, signed.access_token) == 401
    assert refresh_status(client, signed.refresh_token) == 401
    assert login_status(client, username) == 401
    assert login_status(other, username) == 401
    assert user_row(cli, username)["status"] == "disabled"
    session = wiring_of(client.application).sessions.store.get(signed.session_id)
    assert session is not None and session.revoked_at is not None
    assert session.revoked_reason == "user disabled"

    result = cli("users", "enable", username.upper())
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"enabled {username}"
    assert user_row(cli, username)["status"] == "active"
    again = full_sign_in(client, username)
    assert private_status(client, again.access_token) == 200
    # Enabling does not bring the ended session back.
    assert private_status(client, signed.access_token) == 401
    assert refresh_status(client, signed.refresh_token) == 401


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_unlock_clears_an_otp_lock(cli: Cli, client: FlaskClient, clock: FrozenClock) -> None:
    username = register(client)
    # Ten wrong codes over two sign-ins lock the account (default threshold 10).
    for _ in range(2):
        response = client.post("/auth/login", json={"username": username, "password": PASSWORD})
        if response.status_code == 429:  # the per-account brute-force delay: wait it out
            clock.advance(int(response.headers["Retry-After"]))
            response = client.post("/auth/login", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.get_json()
        challenge = response.get_json()["session_id"]
        wrong = _wrong(last_code(client))
        for _ in range(5):
            response = client.post("/auth/verify-otp", json={"session_id": challenge, "otp": wrong})
            assert response.status_code == 401
    locked = client.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    row = user_row(cli, username)
    assert row["status"] == "locked"
    assert row["otp_failures"] == 10
    assert row["locked_until"] is not None

    result = cli("users", "unlock", username)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"unlocked {username}"
    row = user_row(cli, username)
    assert row["status"] == "pending"  # unlocked; its number was never verified
    assert row["otp_failures"] == 0
    assert row["locked_until"] is None
    signed = full_sign_in(client, username)
    assert private_status(client, signed.access_token) == 200


def test_unlock_clears_the_lock_wrong_reset_codes_put_on_resets(
    cli: Cli, client: FlaskClient
) -> None:
    username = register(client)
    full_sign_in(client, username)
    for _ in range(2):  # ten wrong reset codes, asked for with the username alone
        forgot = client.post("/auth/password/forgot", json={"username": username})
        session_id, wrong = forgot.get_json()["session_id"], _wrong(last_code(client))
        for _ in range(5):
            body = {"session_id": session_id, "otp": wrong, "new_password": "a brand new horse"}
            assert client.post("/auth/password/reset", json=body).status_code == 401
    row = user_row(cli, username)
    assert row["status"] == "active"  # sign-in is not locked: resets are
    assert (row["otp_failures"], row["locked_until"]) == (0, None)
    assert row["reset_failures"] == 10 and row["reset_locked_until"] is not None

    result = cli("users", "unlock", username)
    assert result.exit_code == 0, result.output
    row = user_row(cli, username)
    assert (row["reset_failures"], row["reset_locked_until"]) == (0, None)
    sent = len(client.get("/dev/outbox", headers={"Accept": "application/json"}).get_json())
    client.post("/auth/password/forgot", json={"username": username})
    outbox = client.get("/dev/outbox", headers={"Accept": "application/json"}).get_json()
    assert len(outbox) == sent + 1  # a reset code goes out again


def test_delete_with_yes_removes_the_user_and_their_sessions(cli: Cli, client: FlaskClient) -> None:
    keep = register(client)
    keeper = full_sign_in(client, keep)
    username = register(client)
    first = full_sign_in(client, username)
    second = full_sign_in(client, username)

    result = cli("users", "delete", "--yes", username)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"deleted {username}; ended 2 session(s)"

    for signed in (first, second):
        assert private_status(client, signed.access_token) == 401
        assert refresh_status(client, signed.refresh_token) == 401
    assert login_status(client, username) == 401
    w = wiring_of(client.application)
    assert w.users.by_id(first.user_id) is None
    assert w.sessions.store.for_user(first.user_id) == []
    assert w.sessions.store.get(first.session_id) is None
    one_line_error(cli("users", "show", username), f"no such user: {username}")
    assert [u["username"] for u in cli_json(cli, "users", "list")] == [keep]
    # Nobody else was touched.
    assert private_status(client, keeper.access_token) == 200


def test_delete_asks_first_and_no_keeps_the_user(cli: Cli, client: FlaskClient) -> None:
    username = register(client)
    signed = full_sign_in(client, username)

    result = cli("users", "delete", username, input="n\n")
    assert result.exit_code == 1
    assert f"Delete {username} ({signed.user_id})?" in result.output
    assert "Aborted" in result.output
    assert "deleted" not in result.stdout
    assert wiring_of(client.application).users.by_id(signed.user_id) is not None
    assert private_status(client, signed.access_token) == 200
    assert refresh_status(client, signed.refresh_token) == 200

    result = cli("users", "delete", username, input="y\n")
    assert result.exit_code == 0, result.output
    assert wiring_of(client.application).users.by_id(signed.user_id) is None
    assert private_status(client, signed.access_token) == 401


def _wrong_password(client: FlaskClient, username: str) -> int:
    response = client.post("/auth/login", json={"username": username, "password": PASSWORD + "!"})
    return response.status_code


def _timestamp(iso_time: object) -> float:
    assert isinstance(iso_time, str) and iso_time.endswith("Z"), iso_time
    return datetime.fromisoformat(iso_time.replace("Z", "+00:00")).timestamp()


def test_show_tells_the_login_delay_in_force(
    cli: Cli, client: FlaskClient, clock: FrozenClock
) -> None:
    username = register(client)
    for _ in range(5):  # the default threshold: then 30 s
        assert _wrong_password(client, username) == 401
    refused = client.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert refused.status_code == 429
    retry_after = int(refused.headers["Retry-After"])

    shown = cli_json(cli, "users", "show", username)
    assert shown["status"] == "delayed"
    assert shown["login_failures"] == 5
    assert shown["login_disabled"] is False
    until = _timestamp(shown["login_delayed_until"])
    assert until == pytest.approx(clock.now() + retry_after, abs=1)
    assert user_row(cli, username)["status"] == "delayed"

    result = cli("users", "show", username)
    assert result.exit_code == 0, result.output
    fields = {k: v.strip() for k, v in (line.split(":", 1) for line in result.stdout.splitlines())}
    assert fields["status"] == "delayed"
    assert fields["login_failures"] == "5"
    assert fields["login_delayed_until"] == shown["login_delayed_until"]
    assert fields["login_disabled"] == "False"


def test_the_login_delay_shown_ends_when_sign_in_allows_again(
    client: FlaskClient, clock: FrozenClock
) -> None:
    """What `users show` reads, at the times the sign-in step decides."""
    username = register(client)
    w = wiring_of(client.application)
    user = w.users.by_canonical_username(canonical(username))
    assert user is not None
    assert login_delay(w, user, clock.now()) == LoginDelay(0, None, disabled=False)
    for _ in range(6):
        assert _wrong_password(client, username) == 401
        clock.advance(120)  # past each delay (30 s, then 60 s)
    clock.advance(-120)
    delay = login_delay(w, user, clock.now())
    assert delay.failures == 6 and delay.delayed_until == pytest.approx(clock.now() + 60)

    clock.advance(59)
    assert login_delay(w, user, clock.now()).delayed_until is not None
    assert login_status(client, username) == 429
    clock.advance(1)
    assert login_delay(w, user, clock.now()) == LoginDelay(6, None, disabled=False)
    clock.advance(12 * 3600)  # failures are forgotten after a quiet period
    assert login_delay(w, user, clock.now()) == LoginDelay(0, None, disabled=False)
    assert login_status(client, username) == 200


def test_show_tells_sign_in_stopped_after_too_many_failures_until_unlock(
    cli: Cli, client: FlaskClient
) -> None:
    username = register(client)
    guard = wiring_of(client.application).guard
    for _ in range(100):  # SFA_LOCKOUT_DISABLE_AFTER
        guard.failed(canonical(username))
    assert login_status(client, username) == 423

    shown = cli_json(cli, "users", "show", username)
    assert shown["status"] == "locked"
    assert shown["login_failures"] == 100
    assert shown["login_disabled"] is True
    assert shown["login_delayed_until"] is None
    assert user_row(cli, username)["status"] == "locked"

    assert cli("users", "unlock", username).exit_code == 0
    shown = cli_json(cli, "users", "show", username)
    assert shown["status"] == "pending"  # unlocked; its number was never verified
    assert (shown["login_failures"], shown["login_disabled"]) == (0, False)
    assert login_status(client, username) == 200
