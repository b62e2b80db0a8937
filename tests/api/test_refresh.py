"""POST /auth/refresh: rotation, the grace window, reuse detection, lifetimes.

The helpers at the top are shared by the other session tests.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text
from werkzeug.test import TestResponse

from secureflaskauth.adapters.db.tables import metadata
from secureflaskauth.wiring import Wiring
from tests.clock import FrozenClock
from tests.conftest import last_code, login, register
from tests.helpers import problem

GRACE = 5  # the default SFA_REFRESH_GRACE_SECONDS
_URLSAFE = re.compile(r"^[A-Za-z0-9_-]+$")


# -- shared helpers -----------------------------------------------------------


def wiring_of(app: Flask) -> Wiring:
    w: Wiring = app.extensions["secureflaskauth"]
    return w


def signed_in(client: FlaskClient, username: str | None = None) -> dict[str, Any]:
    """Register (unless ``username`` is given), log in and verify: the whole verify-otp body."""
    username = username or register(client)
    session_id = login(client, username)["session_id"]
    response = client.post(
        "/auth/verify-otp", json={"session_id": session_id, "otp": last_code(client)}
    )
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims(token: str) -> dict[str, Any]:
    """The claims of a token we issued, read without checking it (the server checks)."""
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def private(client: FlaskClient, token: str) -> TestResponse:
    return client.get("/auth/private", headers=bearer(token))


def assert_access_refused(client: FlaskClient, token: str) -> None:
    response = private(client, token)
    problem(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def refresh(client: FlaskClient, token: Any) -> TestResponse:
    return client.post("/auth/refresh", json={"refresh_token": token})


def refreshed(client: FlaskClient, token: str) -> dict[str, Any]:
    response = refresh(client, token)
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    return body


def assert_refresh_refused(client: FlaskClient, token: str) -> None:
    body = problem(refresh(client, token), 401)
    assert body["type"].endswith("invalid-refresh-token")
    assert "access_token" not in body


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def query(app: Flask, sql: str, **params: Any) -> list[dict[str, Any]]:
    with wiring_of(app).engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(text(sql), params)]


def database_text(app: Flask) -> str:
    """Every row of every table, as text: to prove a secret is stored nowhere."""
    parts = []
    with wiring_of(app).engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                parts.append(repr(tuple(row)))
    return "\n".join(parts)


# -- the refresh token as issued ------------------------------------------------


def test_verify_otp_returns_an_opaque_refresh_token_stored_only_as_a_hash(
    app: Flask, client: FlaskClient
) -> None:
    body = signed_in(client)
    token = body["refresh_token"]
    assert isinstance(token, str)
    assert len(token) >= 43  # 256 bits in base64url
    assert _URLSAFE.match(token), token
    assert token.count(".") == 0  # opaque, not a JWT
    assert token != body["access_token"]

    sid = claims(body["access_token"])["sid"]
    rows = query(app, "SELECT token_hash, session_id, rotated_at FROM refresh_tokens")
    assert rows == [{"token_hash": sha256(token), "session_id": sid, "rotated_at": None}]
    [session] = query(app, "SELECT id, revoked_at FROM sessions")
    assert session == {"id": sid, "revoked_at": None}
    assert token not in database_text(app)


def test_each_sign_in_gets_its_own_session_and_refresh_token(client: FlaskClient) -> None:
    username = register(client)
    first, second = signed_in(client, username), signed_in(client, username)
    assert first["refresh_token"] != second["refresh_token"]
    assert claims(first["access_token"])["sid"] != claims(second["access_token"])["sid"]


# -- rotation -------------------------------------------------------------------


def test_refresh_rotates_the_pair(app: Flask, client: FlaskClient) -> None:
    body = signed_in(client)
    old_access, old_refresh = body["access_token"], body["refresh_token"]

    response = refresh(client, old_refresh)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    new = response.get_json()
    assert set(new) == {"message", "access_token", "token_type", "expires_in", "refresh_token"}
    assert new["token_type"] == "Bearer"
    assert new["expires_in"] == 900
    assert new["access_token"] != old_access
    assert new["refresh_token"] != old_refresh
    assert len(new["refresh_token"]) >= 43

    old_claims, new_claims = claims(old_access), claims(new["access_token"])
    assert new_claims["sid"] == old_claims["sid"]
    assert new_claims["sub"] == old_claims["sub"]
    assert new_claims["amr"] == ["pwd", "sms"]
    assert new_claims["jti"] != old_claims["jti"]
    assert private(client, new["access_token"]).get_json() == {"message": "Access granted."}

    stored = {
        r["token_hash"]: r
        for r in query(app, "SELECT token_hash, session_id, rotated_at FROM refresh_tokens")
    }
    assert set(stored) == {sha256(old_refresh), sha256(new["refresh_token"])}
    assert stored[sha256(old_refresh)]["rotated_at"] is not None
    assert stored[sha256(new["refresh_token"])]["rotated_at"] is None
    dump = database_text(app)
    assert old_refresh not in dump and new["refresh_token"] not in dump
    assert new["access_token"] not in dump


def test_a_chain_of_refreshes_keeps_the_session(client: FlaskClient, clock: FrozenClock) -> None:
    body = signed_in(client)
    sid = claims(body["access_token"])["sid"]
    token = body["refresh_token"]
    seen = {token}
    for _ in range(5):
        clock.advance(60)
        body = refreshed(client, token)
        token = body["refresh_token"]
        assert token not in seen
        seen.add(token)
        assert claims(body["access_token"])["sid"] == sid
        assert private(client, body["access_token"]).status_code == 200


def test_refresh_updates_last_used(app: Flask, client: FlaskClient, clock: FrozenClock) -> None:
    body = signed_in(client)
    [before] = query(app, "SELECT created_at, last_used_at FROM sessions")
    assert before["last_used_at"] == before["created_at"]
    clock.advance(120)
    refreshed(client, body["refresh_token"])
    [after] = query(app, "SELECT created_at, last_used_at FROM sessions")
    assert after["created_at"] == before["created_at"]
    assert after["last_used_at"] == pytest.approx(before["created_at"] + 120)


# -- the grace window and reuse detection ------------------------------------------


def test_a_repeat_within_the_grace_window_gets_the_same_pair(
    app: Flask, client: FlaskClient, clock: FrozenClock
) -> None:
    old = signed_in(client)["refresh_token"]
    first = refresh(client, old)
    assert first.status_code == 200
    clock.advance(GRACE - 1)
    again = refresh(client, old)
    assert again.status_code == 200
    assert again.get_data() == first.get_data()  # byte-identical tokens
    assert again.headers["Cache-Control"] == "no-store"
    pair = again.get_json()
    assert private(client, pair["access_token"]).status_code == 200
    # No third token was made, and the session is alive.
    assert len(query(app, "SELECT token_hash FROM refresh_tokens")) == 2
    assert query(app, "SELECT revoked_at FROM sessions") == [{"revoked_at": None}]
    assert refreshed(client, pair["refresh_token"])["refresh_token"] != pair["refresh_token"]


def test_the_last_moment_of_the_grace_window_still_gets_the_pair(
    client: FlaskClient, clock: FrozenClock
) -> None:
    old = signed_in(client)["refresh_token"]
    first = refreshed(client, old)
    clock.advance(GRACE)
    assert refreshed(client, old) == first


def test_reuse_after_the_grace_window_revokes_the_whole_session(
    app: Flask, client: FlaskClient, clock: FrozenClock
) -> None:
    body = signed_in(client)
    user_id = claims(body["access_token"])["sub"]
    sid = claims(body["access_token"])["sid"]
    old = body["refresh_token"]
    newest = refreshed(client, old)
    assert private(client, newest["access_token"]).status_code == 200

    clock.advance(GRACE + 1)
    client.environ_base["HTTP_USER_AGENT"] = "thief/1.0"
    assert_refresh_refused(client, old)

    # The thief may hold either token: both die at once, as does the first access token.
    assert_access_refused(client, newest["access_token"])
    assert_access_refused(client, body["access_token"])
    assert_refresh_refused(client, newest["refresh_token"])
    [session] = query(app, "SELECT id, revoked_at, revoked_reason FROM sessions")
    assert session["id"] == sid
    assert session["revoked_at"] is not None
    assert "reuse" in session["revoked_reason"]
    events = query(
        app,
        "SELECT user_id, outcome, ip, user_agent, detail FROM audit_events "
        "WHERE event = 'refresh_reuse_detected'",
    )
    assert events == [
        {
            "user_id": user_id,
            "outcome": "failure",
            "ip": "127.0.0.1",
            "user_agent": "thief/1.0",
            "detail": json.dumps({"sid": sid}),
        }
    ]
    # Repeating the stolen token again changes nothing and stays refused.
    assert_refresh_refused(client, old)


def test_reuse_of_an_older_token_in_a_chain_revokes_the_session(
    client: FlaskClient, clock: FrozenClock
) -> None:
    first = signed_in(client)["refresh_token"]
    second = refreshed(client, first)["refresh_token"]
    clock.advance(60)
    third = refreshed(client, second)
    clock.advance(60)
    assert_refresh_refused(client, first)
    assert_refresh_refused(client, third["refresh_token"])
    assert_access_refused(client, third["access_token"])


def test_reuse_does_not_touch_other_sessions_of_the_user(
    client: FlaskClient, clock: FrozenClock
) -> None:
    username = register(client)
    stolen, other = signed_in(client, username), signed_in(client, username)
    refreshed(client, stolen["refresh_token"])
    clock.advance(GRACE + 1)
    assert_refresh_refused(client, stolen["refresh_token"])
    assert private(client, other["access_token"]).status_code == 200
    assert refresh(client, other["refresh_token"]).status_code == 200


def test_grace_zero_makes_any_repeat_a_reuse(make_app: Any, clock: FrozenClock) -> None:
    client = make_app(refresh_grace_seconds=0).test_client()
    old = signed_in(client)["refresh_token"]
    new = refreshed(client, old)
    clock.advance(1)
    assert_refresh_refused(client, old)
    assert_access_refused(client, new["access_token"])


# -- bad input --------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "x" * 10_240,
        secrets.token_urlsafe(32),  # well formed, never issued
        "a.b.c",
        "\u0000" * 43,
        "\u00e9" * 50,
        " " * 43,
    ],
    ids=["empty", "garbage", "10kb", "unknown", "jwt-like", "nul", "non-ascii", "spaces"],
)
def test_unusable_refresh_tokens_get_401(client: FlaskClient, token: str) -> None:
    assert_refresh_refused(client, token)


def test_an_access_token_is_not_a_refresh_token(client: FlaskClient) -> None:
    body = signed_in(client)
    assert_refresh_refused(client, body["access_token"])
    assert refresh(client, body["refresh_token"]).status_code == 200


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"refresh_token": None},
        {"refresh_token": 123},
        {"refresh_token": ["a"]},
        {"refresh_token": {"a": 1}},
        {"refresh_token": True},
        {"refresh_token": "x", "extra": 1},
        {"token": "x"},
    ],
)
def test_refresh_body_of_the_wrong_shape_gets_422(client: FlaskClient, payload: Any) -> None:
    body = problem(client.post("/auth/refresh", json=payload), 422)
    assert body["errors"]


def test_refresh_body_that_is_not_an_object_gets_422(client: FlaskClient) -> None:
    payloads: list[Any] = [[], "token", 1, None]
    for payload in payloads:
        data = json.dumps(payload)
        problem(client.post("/auth/refresh", data=data, content_type="application/json"), 422)


def test_refresh_wrong_content_type_and_malformed_json(client: FlaskClient) -> None:
    token = signed_in(client)["refresh_token"]
    data = json.dumps({"refresh_token": token})
    for content_type in ["text/plain", "application/x-www-form-urlencoded", "text/html", ""]:
        problem(client.post("/auth/refresh", data=data, content_type=content_type), 415)
    problem(client.post("/auth/refresh", data={"refresh_token": token}), 415)
    for raw in [b"{", b"", b'{"refresh_token": "a", "refresh_token": "b"}', b"[" * 100]:
        problem(client.post("/auth/refresh", data=raw, content_type="application/json"), 400)
    big = json.dumps({"refresh_token": "a" * 70_000})
    problem(client.post("/auth/refresh", data=big, content_type="application/json"), 413)
    problem(client.get("/auth/refresh"), 405)
    # None of these spent the token.
    assert refresh(client, token).status_code == 200


# -- lifetimes ----------------------------------------------------------------------

SHORT = {
    "session_idle_seconds": 600,
    "session_lifetime_seconds": 1800,
    "access_token_ttl_seconds": 300,
}


def test_idle_timeout_ends_the_session(make_app: Any, clock: FrozenClock) -> None:
    app = make_app(**SHORT)
    client = app.test_client()
    token = signed_in(client)["refresh_token"]
    clock.advance(599)
    token = refreshed(client, token)["refresh_token"]  # just in time: the idle clock restarts
    clock.advance(599)
    token = refreshed(client, token)["refresh_token"]
    clock.advance(601)
    assert_refresh_refused(client, token)


def test_idle_timeout_without_any_use(make_app: Any, clock: FrozenClock) -> None:
    client = make_app(**SHORT).test_client()
    token = signed_in(client)["refresh_token"]
    clock.advance(600)
    assert_refresh_refused(client, token)


def test_absolute_lifetime_ends_even_a_busy_session(make_app: Any, clock: FrozenClock) -> None:
    app = make_app(**SHORT)
    client = app.test_client()
    body = signed_in(client)
    start = clock.now()
    token = body["refresh_token"]
    while clock.now() + 599 < start + 1800:
        clock.advance(599)
        token = refreshed(client, token)["refresh_token"]
    assert clock.now() - start == 3 * 599
    clock.advance(599)  # 2396 s after sign-in: well inside the idle window, past the lifetime
    assert_refresh_refused(client, token)
    [row] = query(app, "SELECT expires_at, created_at FROM sessions")
    assert row["expires_at"] == pytest.approx(row["created_at"] + 1800)


def test_default_lifetimes_are_stored_with_the_session(app: Flask, client: FlaskClient) -> None:
    signed_in(client)
    [row] = query(app, "SELECT created_at, expires_at, idle_timeout FROM sessions")
    assert row["expires_at"] == pytest.approx(row["created_at"] + 30 * 86400)
    assert row["idle_timeout"] == 7 * 86400
