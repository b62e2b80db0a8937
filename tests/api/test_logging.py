"""Structured logs: one JSON object a line, each with the request id, and no secrets.

The service's handler writes to whatever sys.stderr is when a line is logged, so
capsys sees exactly what an operator's log collector would.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any, Literal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from secureflaskauth.observability.logs import configure_logging
from tests.conftest import PASSWORD, PHONE, last_code, login, register, unique_username

GENERATED_ID = re.compile(r"[0-9a-f]{16}")
JWT_LIKE = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


def json_lines(captured: str) -> list[dict[str, Any]]:
    """Every line must be one JSON object with the base fields."""
    lines = [line for line in captured.splitlines() if line.strip()]
    entries = []
    for line in lines:
        entry = json.loads(line)
        assert isinstance(entry, dict), line
        assert {"timestamp", "level", "logger", "message", "request_id"} <= set(entry), line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["timestamp"])
        entries.append(entry)
    return entries


@pytest.fixture
def logged_client(app: Flask, capsys: pytest.CaptureFixture[str]) -> FlaskClient:
    """A client whose app's start-up lines are already read away."""
    capsys.readouterr()
    return app.test_client()


def test_every_line_of_a_request_carries_the_given_request_id(
    logged_client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    username = register(logged_client)
    capsys.readouterr()

    response = logged_client.post(
        "/auth/login",
        json={"username": username, "password": PASSWORD},
        headers={"X-Request-ID": "lb-7f3a.9c21:42"},
    )

    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "lb-7f3a.9c21:42"
    entries = json_lines(capsys.readouterr().err)
    loggers = {e["logger"] for e in entries}
    # At least the audit line (code sent) and the access line.
    assert {"secureflaskauth.audit", "secureflaskauth.access"} <= loggers, entries
    assert all(e["request_id"] == "lb-7f3a.9c21:42" for e in entries), entries
    access = [e for e in entries if e["logger"] == "secureflaskauth.access"]
    assert len(access) == 1
    assert access[0]["level"] == "INFO"
    assert (access[0]["method"], access[0]["route"], access[0]["status"]) == (
        "POST",
        "/auth/login",
        200,
    )
    assert access[0]["duration_ms"] >= 0


def test_a_request_without_an_id_gets_a_new_one_on_every_line(
    logged_client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    first = logged_client.post(
        "/auth/login", json={"username": unique_username(), "password": PASSWORD}
    )
    first_lines = json_lines(capsys.readouterr().err)
    second = logged_client.get("/nope")
    second_lines = json_lines(capsys.readouterr().err)

    assert first.status_code == 401 and second.status_code == 404
    ids = [first.headers["X-Request-ID"], second.headers["X-Request-ID"]]
    assert all(GENERATED_ID.fullmatch(i) for i in ids), ids
    assert ids[0] != ids[1]
    assert first_lines and all(e["request_id"] == ids[0] for e in first_lines)
    assert second_lines and all(e["request_id"] == ids[1] for e in second_lines)


@pytest.mark.parametrize(
    "hostile",
    [
        "abc\nINFO forged line",
        'abc\r\n{"level": "CRITICAL"}',
        "x" * 10240,
        "a b",
        "<script>alert(1)</script>",
        '"},"request_id":"forged',
        "",
        JWT_LIKE,
    ],
    ids=["newline", "crlf-json", "10KB", "space", "markup", "quote", "empty", "token"],
)
def test_a_hostile_request_id_is_replaced_and_never_logged(
    logged_client: FlaskClient, capsys: pytest.CaptureFixture[str], hostile: str
) -> None:
    # Set in the WSGI environ directly: the test client refuses newlines in headers,
    # but a raw socket can send anything a server passes on.
    response = logged_client.post(
        "/auth/login",
        json={"username": unique_username(), "password": PASSWORD},
        environ_overrides={"HTTP_X_REQUEST_ID": hostile},
    )

    assert response.status_code == 401
    given = response.headers["X-Request-ID"]
    assert GENERATED_ID.fullmatch(given), given
    captured = capsys.readouterr().err
    entries = json_lines(captured)  # still one JSON object a line
    assert entries and all(e["request_id"] == given for e in entries)
    if hostile:
        assert hostile not in captured
        assert json.dumps(hostile)[1:-1] not in captured


def test_no_secret_reaches_the_logs(
    logged_client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    username = register(logged_client)
    session_id = login(logged_client, username)["session_id"]
    code = last_code(logged_client)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert (
        logged_client.post(
            "/auth/verify-otp", json={"session_id": session_id, "otp": wrong}
        ).status_code
        == 401
    )
    tokens = logged_client.post(
        "/auth/verify-otp", json={"session_id": session_id, "otp": code}
    ).get_json()
    refreshed = logged_client.post(
        "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    ).get_json()
    bearer = {"Authorization": f"Bearer {refreshed['access_token']}"}
    assert logged_client.get("/auth/private", headers=bearer).status_code == 200
    assert logged_client.post("/auth/logout", headers=bearer).status_code == 204
    assert logged_client.get("/auth/private", headers=bearer).status_code == 401

    captured = capsys.readouterr().err
    entries = json_lines(captured)
    assert len(entries) >= 10  # the flow was logged: this is not an empty capture
    secrets = {
        "password": PASSWORD,
        "code": code,
        "wrong code": wrong,
        "challenge": session_id,
        "access token": tokens["access_token"],
        "refresh token": tokens["refresh_token"],
        "new access token": refreshed["access_token"],
        "new refresh token": refreshed["refresh_token"],
        "phone": PHONE.lstrip("0"),
    }
    leaked = [name for name, value in secrets.items() if value in captured]
    assert not leaked, leaked


def test_no_secret_of_the_account_lifecycle_reaches_the_logs(
    logged_client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    client, new_password, wrong = logged_client, "a brand new horse battery", "wrong horse staple"
    username = register(client)
    session_id = login(client, username)["session_id"]
    tokens = client.post(
        "/auth/verify-otp", json={"session_id": session_id, "otp": last_code(client)}
    ).get_json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    change = {"current_password": wrong, "new_password": new_password}
    assert client.post("/auth/password/change", json=change, headers=bearer).status_code == 401
    change["current_password"] = PASSWORD
    assert client.post("/auth/password/change", json=change, headers=bearer).status_code == 204
    codes = client.post(
        "/auth/recovery-codes", json={"password": new_password}, headers=bearer
    ).get_json()["codes"]
    session_id = login(client, username, new_password)["session_id"]
    wrong_code = "zzzz-zzzz" if "zzzz-zzzz" not in codes else "yyyy-yyyy"
    for code in (wrong_code, codes[0]):
        client.post("/auth/verify-otp", json={"session_id": session_id, "recovery_code": code})
    reset_id = client.post("/auth/password/forgot", json={"username": username}).get_json()[
        "session_id"
    ]
    reset_code = last_code(client)
    reset = {"session_id": reset_id, "otp": reset_code, "new_password": PASSWORD}
    assert client.post("/auth/password/reset", json=reset).status_code == 204
    tokens = client.post(
        "/auth/verify-otp",
        json={"session_id": login(client, username)["session_id"], "otp": last_code(client)},
    ).get_json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    gone = client.delete("/auth/account", json={"password": PASSWORD}, headers=bearer)
    assert gone.status_code == 204

    captured = capsys.readouterr().err
    assert len(json_lines(captured)) >= 20
    secrets = {
        "password": PASSWORD,
        "new password": new_password,
        "wrong password": wrong,
        "wrong recovery code": wrong_code,
        "reset code": reset_code,
        "reset session": reset_id,
        "access token": tokens["access_token"],
        "phone": PHONE.lstrip("0"),
        **{f"recovery code {i}": code for i, code in enumerate(codes)},
        **{f"recovery code {i} as stored": code.replace("-", "") for i, code in enumerate(codes)},
    }
    leaked = [name for name, value in secrets.items() if value in captured]
    assert not leaked, leaked


def test_an_unexpected_error_is_one_json_line_with_its_traceback_and_id(
    make_app: Callable[..., Flask], capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app()

    def explode() -> str:
        raise RuntimeError(f"broken while holding {JWT_LIKE}")

    app.add_url_rule("/explode", view_func=explode)
    capsys.readouterr()

    response = app.test_client().get("/explode", headers={"X-Request-ID": "trace-1"})

    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "trace-1"
    assert "RuntimeError" not in response.get_data(as_text=True)
    captured = capsys.readouterr().err
    entries = json_lines(captured)
    errors = [e for e in entries if e["level"] == "ERROR"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == "trace-1"
    assert "Traceback" in errors[0]["exception"]
    assert "RuntimeError: broken while holding [redacted token]" in errors[0]["exception"]
    assert JWT_LIKE not in captured  # a token in a message is cut out
    access = [e for e in entries if e["logger"] == "secureflaskauth.access"]
    assert [(e["status"], e["request_id"]) for e in access] == [(500, "trace-1")]


def test_text_format_for_people_is_one_line_a_record(
    make_app: Callable[..., Flask], capsys: pytest.CaptureFixture[str]
) -> None:
    client = make_app(log_format="text").test_client()
    capsys.readouterr()

    response = client.get("/nope", headers={"X-Request-ID": "human-1"})
    logging.getLogger("secureflaskauth.test").warning("first\nsecond")

    lines = capsys.readouterr().err.splitlines()
    assert response.status_code == 404
    assert len(lines) == 2, lines
    assert "[human-1]" in lines[0] and "GET unmatched 404" in lines[0]
    assert lines[1].endswith("first\\u000asecond")
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[0])


def test_configuring_twice_keeps_one_handler(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "INFO")
    configure_logging("json", "INFO")
    capsys.readouterr()

    logging.getLogger("secureflaskauth.test").info("once")

    assert [e["message"] for e in json_lines(capsys.readouterr().err)] == ["once"]


def test_database_errors_carry_no_bound_values(app: Flask) -> None:
    # An SQL error logged by the 500 handler must not carry the values it was given.
    engine = app.extensions["secureflaskauth"].engine
    phone = "+972508464336"
    with pytest.raises(SQLAlchemyError) as raised, engine.connect() as conn:
        conn.execute(text("SELECT * FROM no_such_table WHERE phone = :phone"), {"phone": phone})

    assert "no_such_table" in str(raised.value)
    assert phone not in str(raised.value)


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_url_credentials_are_cut_out_of_every_line(
    capsys: pytest.CaptureFixture[str], log_format: Literal["json", "text"]
) -> None:
    # Any library may log a URL it was given; userinfo and query strings never show.
    configure_logging(log_format, "INFO")
    capsys.readouterr()
    url = "https://svc-user:svc-pass-1f2e@sms.example.com/send?api_key=key-3d4c&to=1"
    other = logging.getLogger("some.library")
    other.warning("POST %s failed", url)
    other.warning("retrying", extra={"target": url})
    try:
        raise ConnectionError(f"cannot reach {url}")
    except ConnectionError:
        other.exception("gave up")

    captured = capsys.readouterr().err
    assert captured.count("https://[redacted]@sms.example.com/send?[redacted]") >= 3, captured
    for secret in ("svc-user", "svc-pass-1f2e", "key-3d4c"):
        assert secret not in captured
