"""``secureflaskauth audit tail``: the trail shows what was done over
HTTP and by the CLI, oldest first, filtered and limited, and never a secret."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime

import pytest
from flask.testing import FlaskClient

from secureflaskauth.observability.logs import JsonFormatter
from tests.cli.conftest import Cli, bearer, cli_json, full_sign_in, one_line_error, table
from tests.conftest import PASSWORD, last_code, login, register, unique_username

AUDIT_KEYS = {"at", "event", "outcome", "user_id", "username", "ip", "user_agent", "detail"}
AGENT = "audit-test-agent/1.0"
# What run_flow does, in order.
EXPECTED_EVENTS = [
    "registered",
    "password_failed",
    "otp_sent",
    "otp_failed",
    "login_succeeded",
    "token_refreshed",
    "logged_out",
    "otp_sent",  # a second sign-in
    "login_succeeded",
    "admin_action",  # users disable (ends that session)
    "admin_action",  # users enable
    "otp_sent",  # a third sign-in
    "login_succeeded",
    "session_revoked",  # sessions revoke <id>
]


@dataclass
class Flow:
    username: str
    user_id: str = ""
    secrets: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def run_flow(cli: Cli, client: FlaskClient) -> Flow:
    """Everything a user and an operator do, with every secret that went by."""
    headers = {"User-Agent": AGENT}
    flow = Flow(unique_username("audited"))
    response = client.post(
        "/auth/register",
        json={"username": flow.username, "password": PASSWORD, "phone_number": "0508464336"},
        headers=headers,
    )
    assert response.status_code == 201
    flow.user_id = response.get_json()["user_id"]
    wrong_password = PASSWORD + " not"
    response = client.post(
        "/auth/login", json={"username": flow.username, "password": wrong_password}, headers=headers
    )
    assert response.status_code == 401
    challenge = client.post(
        "/auth/login", json={"username": flow.username, "password": PASSWORD}, headers=headers
    ).get_json()["session_id"]
    code = last_code(client)
    wrong = _wrong(code)
    response = client.post(
        "/auth/verify-otp", json={"session_id": challenge, "otp": wrong}, headers=headers
    )
    assert response.status_code == 401
    response = client.post(
        "/auth/verify-otp", json={"session_id": challenge, "otp": code}, headers=headers
    )
    assert response.status_code == 200
    tokens = response.get_json()
    response = client.post(
        "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}, headers=headers
    )
    assert response.status_code == 200
    refreshed = response.get_json()
    response = client.post("/auth/logout", headers={**headers, **bearer(refreshed["access_token"])})
    assert response.status_code == 204
    again = full_sign_in(client, flow.username, user_agent=AGENT)

    assert cli("users", "disable", flow.username).exit_code == 0
    assert cli("users", "enable", flow.username).exit_code == 0
    fresh = full_sign_in(client, flow.username, user_agent=AGENT)
    flow.codes = [code, wrong, again.otp, fresh.otp]
    flow.secrets = [
        PASSWORD,
        wrong_password,
        tokens["access_token"],
        tokens["refresh_token"],
        refreshed["access_token"],
        refreshed["refresh_token"],
        again.access_token,
        again.refresh_token,
        fresh.access_token,
        fresh.refresh_token,
        challenge,  # the login transaction id is a bearer secret until verified
        "+972508464336",
        "0508464336",
        "508464336",
    ]
    assert cli("sessions", "revoke", fresh.session_id).exit_code == 0
    return flow


def test_tail_shows_the_http_flow_and_admin_actions_oldest_first(
    cli: Cli, client: FlaskClient
) -> None:
    bystander = register(client)
    flow = run_flow(cli, client)

    events = cli_json(cli, "audit", "tail", "--user", flow.username)
    assert [e["event"] for e in events] == EXPECTED_EVENTS
    for event in events:
        assert set(event) == AUDIT_KEYS
        assert event["user_id"] == flow.user_id
        datetime.fromisoformat(event["at"])
        assert event["at"].endswith("Z")
    by_cli = [e for e in events if e["event"] in ("admin_action", "session_revoked")]
    http = [e for e in events if e not in by_cli]
    assert all(e["ip"] == "127.0.0.1" and e["user_agent"] == AGENT for e in http)
    assert all(e["detail"]["by"] == "cli" for e in by_cli)
    assert [e["detail"]["action"] for e in by_cli[:2]] == ["disable", "enable"]
    assert by_cli[0]["username"] == flow.username
    outcomes = {e["event"]: e["outcome"] for e in events}
    assert outcomes["password_failed"] == "failure"
    assert outcomes["otp_failed"] == "failure"
    assert outcomes["login_succeeded"] == "success"
    assert outcomes["token_refreshed"] == "success"
    assert events[0]["username"] == flow.username  # registered
    assert events[1]["detail"]["reason"] == "wrong password"
    assert events[2]["detail"]["sent_to"] == "+972*****4336"

    # The table for people: the same events, each with the user's name.
    header, rows = table(cli("audit", "tail", "--user", flow.user_id))
    assert header == ["AT", "EVENT", "OUTCOME", "USERNAME", "IP", "DETAIL"]
    assert [r[1] for r in rows] == EXPECTED_EVENTS
    assert {r[3] for r in rows} == {flow.username}

    # Without --user, everyone's events; the bystander registered first.
    everything = cli_json(cli, "audit", "tail")
    assert everything[0]["event"] == "registered"
    assert everything[0]["username"] == bystander
    assert [e for e in everything if e["user_id"] == flow.user_id] == events


def test_tail_limits_to_the_newest_n(cli: Cli, client: FlaskClient) -> None:
    flow = run_flow(cli, client)
    everything = cli_json(cli, "audit", "tail", "--user", flow.username)
    newest = cli_json(cli, "audit", "tail", "--user", flow.username, "-n", "3")
    assert newest == everything[-3:]
    _, rows = table(cli("audit", "tail", "-n", "2"))
    assert [r[1] for r in rows] == ["login_succeeded", "session_revoked"]
    assert len(cli_json(cli, "audit", "tail", "--lines", "1")) == 1
    assert cli("audit", "tail", "-n", "0").exit_code == 2


def test_tail_of_an_unknown_user_fails(cli: Cli, client: FlaskClient) -> None:
    register(client)
    one_line_error(cli("audit", "tail", "--user", "nobody.here"), "no such user: nobody.here")


def assert_no_secret(text: str, flow: Flow) -> None:
    for secret in flow.secrets:
        assert secret not in text
    for code in flow.codes:
        # Digits inside longer numbers (timestamps) are not the code.
        assert not re.search(rf"(?<![0-9A-Za-z]){code}(?![0-9A-Za-z])", text), code


def test_no_secret_in_the_trail_or_its_log_lines(
    cli: Cli, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="secureflaskauth.audit")
    flow = run_flow(cli, client)
    login(client, flow.username)  # one more code, never used
    flow.codes.append(last_code(client))

    for args in ([], ["--json"], ["--user", flow.username], ["--user", flow.username, "--json"]):
        result = cli("audit", "tail", "-n", "10000", *args)
        assert result.exit_code == 0
        assert flow.user_id in result.stdout or flow.username in result.stdout
        assert_no_secret(result.output, flow)
    audit_lines = [
        JsonFormatter().format(r) for r in caplog.records if r.name == "secureflaskauth.audit"
    ]
    assert len(audit_lines) >= len(EXPECTED_EVENTS)
    assert_no_secret("\n".join(audit_lines), flow)
