"""Injection (checklist B-5, ASVS 1.2, 16.4.1): SQL and NoSQL strings, format and
template strings, CR/LF, NUL and very long values in every field of every endpoint.
Each gets a clean 4xx (never a 5xx, never a sign-in), is neither evaluated nor echoed,
and leaves the database as it was; a line break in a username cannot forge a log line.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from werkzeug.test import TestResponse

from secureflaskauth.adapters.db.tables import sessions, users
from tests.conftest import PASSWORD, PHONE, last_code, login, register, sign_in, unique_username
from tests.helpers import problem

PAYLOADS = [
    # SQL
    "' OR '1'='1",
    "' OR 1=1 --",
    "admin'--",
    "'; DROP TABLE users; --",
    '" OR ""="',
    "' UNION SELECT id, password_hash FROM users --",
    "1; SELECT pg_sleep(5) --",
    "') OR ('a'='a",
    # NoSQL (as text; as objects they are wrong types: see test_operator_objects)
    '{"$gt": ""}',
    '{"$ne": null}',
    # format strings
    "%s%s%s%s%n",
    "{0.__class__.__mro__}",
    "%(password)s",
    # template strings
    "{{7*7}}",
    "${7*7}",
    "${jndi:ldap://127.0.0.1:1/x}",
    "<%= 7*7 %>",
    "#{7*7}",
    "{% debug %}",
    # line breaks, NUL and other control and format characters
    "bob\r\nX-Injected: 1",
    "bob\n2026-01-01 INFO login_succeeded user=admin",
    "nul\x00byte",
    "\u202eevil\u200b\ufeff",
    "../../../../etc/passwd",
    # long values (the body stays under the 64 KiB limit)
    "A" * 10_000,
    "' OR '1'='1" * 900,
]


def assert_not_reflected(response: TestResponse, payload: str) -> None:
    raw = response.get_data(as_text=True)
    assert payload not in raw
    assert json.dumps(payload)[1:-1] not in raw  # nor in its JSON-escaped form
    if "7*7" in payload and response.mimetype == "application/problem+json":
        # Not evaluated either: no standalone 49 (ids may contain the digits).
        assert not re.search(r"(?<![0-9A-Za-z_-])49(?![0-9A-Za-z_-])", raw)


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The brute-force delay out of the way: each payload is one more failed login."""
    return make_app(lockout_threshold=100)


@pytest.fixture
def known(client: FlaskClient) -> Iterator[str]:
    """A registered user, and afterwards: the database still has its tables and only
    the users the test registered."""
    username = register(client)
    yield username
    app: Flask = client.application
    engine = app.extensions["secureflaskauth"].engine
    with engine.connect() as conn:
        names = conn.execute(select(users.c.username)).scalars().all()
        for table in ("users", "otp_challenges", "sessions", "audit_events"):
            assert conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one() >= 0  # noqa: S608
    assert names == [username]


def test_every_field_of_every_endpoint(client: FlaskClient, known: str) -> None:
    token = sign_in(client, known)
    session_id = login(client, known)["session_id"]
    code = last_code(client)
    for payload in PAYLOADS:
        try:
            attack_every_field(client, known, token, session_id, code, payload)
        except AssertionError as exc:
            raise AssertionError(f"payload {payload[:60]!r}: {exc}") from exc

    # Nothing above disturbed the real sign-in, the session or the stored users.
    assert client.get("/auth/private", headers=bearer(token)).status_code == 200
    verified = client.post("/auth/verify-otp", json={"session_id": session_id, "otp": code})
    assert verified.status_code == 200, verified.get_data(as_text=True)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def attack_every_field(
    client: FlaskClient, known: str, token: str, session_id: str, code: str, payload: str
) -> None:
    def post(path: str, body: dict[str, Any]) -> TestResponse:
        response = client.post(path, json=body)
        assert_not_reflected(response, payload)
        return response

    # Register: every field refused as invalid (the password field is tested below).
    for field in ("username", "phone_number"):
        body = {"username": unique_username(), "password": PASSWORD, "phone_number": PHONE}
        errors = problem(post("/auth/register", {**body, field: payload}), 422)["errors"]
        assert set(errors) == {field}
    # Login: no sign-in, whichever field holds it, for a known or an unknown user.
    problem(post("/auth/login", {"username": payload, "password": PASSWORD}), 401, 422)
    problem(post("/auth/login", {"username": known, "password": payload}), 401, 422)
    # Verify and resend: the live sign-in survives an injected session id, and an
    # injected code is refused before it costs a try.
    problem(post("/auth/verify-otp", {"session_id": payload, "otp": code}), 401, 422)
    problem(post("/auth/verify-otp", {"session_id": session_id, "otp": payload}), 422)
    problem(post("/auth/resend-otp", {"session_id": payload}), 401, 422)
    problem(post("/auth/refresh", {"refresh_token": payload}), 401, 422)
    # A path parameter and the Authorization header.
    quoted = urllib.parse.quote(payload, safe="")
    problem(client.delete(f"/auth/sessions/{quoted}", headers=bearer(token)), 404)
    if "\r" not in payload and "\n" not in payload:  # a line break cannot be in a header
        for value in (f"Bearer {payload}", payload):
            problem(client.get("/auth/private", headers={"Authorization": value}), 401)


def test_injection_strings_as_passwords_are_stored_literally(client: FlaskClient) -> None:
    """A password may be any text: the ones the policy accepts are hashed as given and
    work only exactly as given."""
    accepted = 0
    for payload in PAYLOADS:
        username = unique_username("literal")
        response = client.post(
            "/auth/register",
            json={"username": username, "password": payload, "phone_number": PHONE},
        )
        assert_not_reflected(response, payload)
        if response.status_code == 422:
            assert set(problem(response, 422)["errors"]) == {"password"}
            continue
        assert response.status_code == 201, response.get_data(as_text=True)
        accepted += 1
        assert login(client, username, payload)["session_id"]
        for other in (payload + "x", payload[:-1], "' OR '1'='1", "%s%s%s%s%n"):
            if other != payload:
                wrong = client.post("/auth/login", json={"username": username, "password": other})
                problem(wrong, 401)
    assert accepted >= 10  # most of them are fine passwords


def test_operator_objects_in_place_of_strings(client: FlaskClient, known: str) -> None:
    """NoSQL operator objects and other non-strings are type errors, not queries."""
    values: list[Any] = [{"$gt": ""}, {"$ne": None}, ["admin"], None, True, 1, 1.5]
    for value in values:
        for path, body in (
            ("/auth/login", {"username": known, "password": value}),
            ("/auth/login", {"username": value, "password": PASSWORD}),
            ("/auth/verify-otp", {"session_id": value, "otp": "123456"}),
            ("/auth/resend-otp", {"session_id": value}),
            ("/auth/refresh", {"refresh_token": value}),
        ):
            problem(client.post(path, json=body), 422)


def test_a_body_over_the_limit_is_refused_before_it_is_read(client: FlaskClient) -> None:
    for path in ("/auth/register", "/auth/login", "/auth/verify-otp", "/auth/resend-otp"):
        body = {"username": "' OR '1'='1" * 7000, "password": PASSWORD, "session_id": "x"}
        problem(client.post(path, json=body), 413)


def test_a_line_break_in_a_username_writes_one_escaped_log_line(
    client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """What an operator's log collector reads (the service's stream): the forged line
    stays inside one JSON line, with CR and LF escaped."""
    marker = unique_username("forged")
    forged = f'{marker}\r\n{{"level": "INFO", "logger": "secureflaskauth.audit", "message": "ok"}}'
    capsys.readouterr()

    response = client.post("/auth/login", json={"username": forged, "password": PASSWORD})

    problem(response, 401)
    lines = capsys.readouterr().err.splitlines()
    entries = [json.loads(line) for line in lines if line.strip()]  # every line is JSON
    mentioning = [line for line in lines if marker in line]
    assert len(mentioning) == 1, lines
    [entry] = [e for e in entries if marker in json.dumps(e)]
    assert entry["logger"] == "secureflaskauth.audit"
    assert entry["event"] == "password_failed"
    assert entry["username"].startswith(marker + "\\u000d\\u000a{")
    assert "\r" not in "\n".join(lines)


def test_sql_strings_never_match_a_row(client: FlaskClient, known: str) -> None:
    """The classic bypasses find no account: the stored users and sessions are the
    same before and after, and no SMS is sent."""
    app: Flask = client.application
    engine = app.extensions["secureflaskauth"].engine

    def snapshot() -> tuple[int, int, int]:
        with engine.connect() as conn:
            return (
                conn.execute(select(func.count()).select_from(users)).scalar_one(),
                conn.execute(select(func.count()).select_from(sessions)).scalar_one(),
                len(client.get("/dev/outbox", headers={"Accept": "application/json"}).get_json()),
            )

    before = snapshot()
    for payload in PAYLOADS[:8]:
        for username in (payload, f"{known}{payload}"):
            response = client.post("/auth/login", json={"username": username, "password": payload})
            problem(response, 401)
    assert snapshot() == before
