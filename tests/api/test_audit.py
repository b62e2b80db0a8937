"""The audit trail: every security event of a sign-in, with who, from
where and the outcome, in the database and as one structured log line; never a secret."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from secureflaskauth.domain.clock import iso_utc
from secureflaskauth.observability.logs import JsonFormatter, TextFormatter
from tests.api.test_refresh import bearer, claims, query, refreshed
from tests.conftest import PASSWORD, PHONE, last_code, login, register

USER_AGENT = "audit-test/1.0 (\x1bred)"
STORED_AGENT = "audit-test/1.0 (\\u001bred)"
FLOW_EVENTS = [
    "registered",
    "password_failed",
    "otp_sent",
    "otp_failed",
    "login_succeeded",
    "token_refreshed",
    "logged_out",
]
PHONE_DIGITS = PHONE.lstrip("0")  # in every written form of the number: 0508464336, +972508464336


def audit_rows(app: Flask) -> list[dict[str, Any]]:
    return query(
        app,
        "SELECT at, event, outcome, user_id, username, ip, user_agent, detail "
        "FROM audit_events ORDER BY id",
    )


def audit_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """Each audit event's log line as a log collector reads it (SFA_LOG_FORMAT=json)."""
    formatter = JsonFormatter()
    return [
        json.loads(formatter.format(record))
        for record in caplog.records
        if record.name == "secureflaskauth.audit"
    ]


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every record in both of the service's formats, plus its raw message and args."""
    messages = [caplog.text]
    for formatter in (JsonFormatter(), TextFormatter()):
        messages += [formatter.format(record) for record in caplog.records]
    messages += [record.getMessage() for record in caplog.records]
    messages += [repr(record.args) for record in caplog.records]
    return "\n".join(messages)


def contains_code(text: str, code: str) -> bool:
    return re.search(rf"(?<!\d){code}(?!\d)", text) is not None


def full_flow(client: FlaskClient) -> dict[str, Any]:
    """Register, a wrong password, log in, a wrong code, the right code, refresh, log out."""
    username = register(client)
    wrong_password = client.post(
        "/auth/login", json={"username": username, "password": PASSWORD + " wrong"}
    )
    assert wrong_password.status_code == 401
    session_id = login(client, username)["session_id"]
    code = last_code(client)
    wrong_code = f"{(int(code) + 1) % 1_000_000:06d}"
    bad = client.post("/auth/verify-otp", json={"session_id": session_id, "otp": wrong_code})
    assert bad.status_code == 401
    good = client.post("/auth/verify-otp", json={"session_id": session_id, "otp": code})
    assert good.status_code == 200
    first = good.get_json()
    second = refreshed(client, first["refresh_token"])
    assert client.post("/auth/logout", headers=bearer(second["access_token"])).status_code == 204
    return {
        "username": username,
        "user_id": claims(first["access_token"])["sub"],
        "sid": claims(first["access_token"])["sid"],
        "codes": [code, wrong_code],
        "tokens": [
            first["access_token"],
            first["refresh_token"],
            second["access_token"],
            second["refresh_token"],
            session_id,
        ],
    }


def test_a_full_sign_in_leaves_its_trail(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client.environ_base["HTTP_USER_AGENT"] = USER_AGENT
    flow = full_flow(client)

    rows = audit_rows(app)
    assert [r["event"] for r in rows] == FLOW_EVENTS
    for row in rows:
        assert row["user_id"] == flow["user_id"], row
        assert row["ip"] == "127.0.0.1", row
        assert row["user_agent"] == STORED_AGENT, row
        assert row["at"] > 0
    by_event = {r["event"]: r for r in rows}
    assert by_event["registered"]["outcome"] == "success"
    assert by_event["registered"]["username"] == flow["username"]
    assert by_event["password_failed"]["outcome"] == "failure"
    assert by_event["otp_sent"]["outcome"] == "success"
    assert by_event["otp_failed"]["outcome"] == "failure"
    assert by_event["login_succeeded"]["outcome"] == "success"
    assert by_event["token_refreshed"]["outcome"] == "success"
    assert by_event["logged_out"]["outcome"] == "success"
    for event in ("login_succeeded", "token_refreshed", "logged_out"):
        assert json.loads(by_event[event]["detail"])["sid"] == flow["sid"], event
    sent = json.loads(by_event["otp_sent"]["detail"])
    assert sent["sent_to"].startswith("+972") and sent["sent_to"].endswith("4336")
    assert "*" in sent["sent_to"]
    # Ordered in time.
    assert [r["at"] for r in rows] == sorted(r["at"] for r in rows)

    # Each event is also one structured log line with the same content.
    lines = audit_lines(caplog)
    assert [line["event"] for line in lines] == FLOW_EVENTS
    assert all(line["user_id"] == flow["user_id"] for line in lines)
    assert all(line["user_agent"] == STORED_AGENT for line in lines)


def test_each_event_is_a_log_line_with_fields_not_json_in_its_message(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A log collector reads the event's members as fields and ``detail`` as an
    object, in the same line as the timestamp, level and request id."""
    caplog.set_level(logging.INFO, logger="secureflaskauth.audit")
    flow = full_flow(client)

    rows = audit_rows(app)
    lines = audit_lines(caplog)
    assert len(lines) == len(rows) == len(FLOW_EVENTS)
    for row, line in zip(rows, lines, strict=True):
        assert line["logger"] == "secureflaskauth.audit"
        assert line["message"] == f"{row['event']} {row['outcome']}"
        for member in ("event", "outcome", "user_id", "username", "ip", "user_agent"):
            assert line[member] == row[member], member
        assert line["at"] == iso_utc(row["at"])
        # The column keeps its JSON text; the log line has the object it encodes.
        assert line["detail"] == (json.loads(row["detail"]) if row["detail"] else None)
        assert line["request_id"]
    by_event = {line["event"]: line for line in lines}
    assert by_event["login_succeeded"]["detail"]["sid"] == flow["sid"]
    assert by_event["password_failed"]["detail"] == {"reason": "wrong password", "failures": 1}

    # The text format (SFA_LOG_FORMAT=text) carries the same fields after the message.
    [record] = [r for r in caplog.records if r.getMessage() == "otp_sent success"]
    text = TextFormatter().format(record)
    head, _, fields = text.partition(" otp_sent success ")
    assert "secureflaskauth.audit" in head
    assert json.loads(fields)["detail"]["resend"] is False


def test_otp_sent_names_the_user(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="secureflaskauth.audit")
    flow = full_flow(client)
    [row] = [r for r in audit_rows(app) if r["event"] == "otp_sent"]
    assert row["username"] == flow["username"]
    [line] = [line for line in audit_lines(caplog) if line["event"] == "otp_sent"]
    assert line["username"] == flow["username"]


def test_no_secret_is_stored_or_logged(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    flow = full_flow(client)

    stored = "\n".join(repr({k: v for k, v in row.items() if k != "at"}) for row in audit_rows(app))
    logged = everything_logged(caplog)
    assert "audit" in logged and flow["user_id"] in logged  # the capture saw the events
    for text in (stored, logged):
        assert PASSWORD not in text
        assert "horse battery" not in text
        assert PHONE_DIGITS not in text
        for code in flow["codes"]:
            assert not contains_code(text, code), code
        for token in flow["tokens"]:
            assert token not in text
            assert token[-20:] not in text  # not even a piece of it


def test_a_username_with_line_breaks_or_nul_is_stored_escaped(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    forged = 'nobody\r\n{"audit": {"event": "login_succeeded"}}'
    for username in (forged, "evil\x00name", "tab\there\u2028sep"):
        response = client.post("/auth/login", json={"username": username, "password": PASSWORD})
        assert response.status_code == 401, response.get_data(as_text=True)

    rows = audit_rows(app)
    assert [r["event"] for r in rows] == ["password_failed"] * 3
    stored = [r["username"] for r in rows]
    assert stored[0] == 'nobody\\u000d\\u000a{"audit": {"event": "login_succeeded"}}'
    assert stored[1] == "evil\\u0000name"
    assert stored[2] == "tab\\u0009here\\u2028sep"
    assert all(r["user_id"] is None and r["outcome"] == "failure" for r in rows)

    records = [r for r in caplog.records if r.name == "secureflaskauth.audit"]
    assert len(records) == 3
    for record in records:
        for formatter in (JsonFormatter(), TextFormatter()):
            line = formatter.format(record)
            assert not set(line) & {"\r", "\n", "\x00", "\u2028"}, line
    lines = audit_lines(caplog)
    assert [line["event"] for line in lines] == ["password_failed"] * 3
    assert [line["username"] for line in lines] == stored
    # Nothing else logged a raw line break from the client either.
    for record in caplog.records:
        assert "\r" not in record.getMessage(), record.getMessage()


def test_audit_of_an_unknown_user_names_no_user_id(app: Flask, client: FlaskClient) -> None:
    response = client.post("/auth/login", json={"username": "ghost.user", "password": PASSWORD})
    assert response.status_code == 401
    [row] = audit_rows(app)
    assert row["event"] == "password_failed"
    assert row["user_id"] is None
    assert row["username"] == "ghost.user"
    assert PASSWORD not in repr(row)


def test_a_long_user_agent_is_cut_not_refused(app: Flask, client: FlaskClient) -> None:
    client.environ_base["HTTP_USER_AGENT"] = "u" * 5000
    register(client)
    [row] = audit_rows(app)
    assert row["event"] == "registered"
    assert row["user_agent"] == "u" * 256
