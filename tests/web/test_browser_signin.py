"""The browser's sign-in (web/browser.py): a cookie whose value only the browser has,
bound to the session the sign-in created, seen by ``current_signin()`` as long as that
session is active, and ended with it by everything that ends sessions."""

from __future__ import annotations

import hashlib
from http.cookies import SimpleCookie
from typing import Any

from flask import Flask, Response
from flask.testing import FlaskClient

from secureflaskauth.web.browser import (
    COOKIE,
    BrowserSignIn,
    current_signin,
    end_signin,
    start_signin,
)
from tests.api.test_refresh import bearer, claims, query, signed_in
from tests.clock import FrozenClock


def browser_cookie(app: Flask, session_id: str, cookie: str = "") -> tuple[str, dict[str, str]]:
    """Sign a browser in with ``session_id`` (replacing ``cookie``'s sign-in): the new
    cookie value and its attributes, as the Set-Cookie header gives them."""
    headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie else {}
    with app.test_request_context("/", headers=headers):
        response = Response()
        start_signin(response, session_id)
        [header] = response.headers.getlist("Set-Cookie")
    parsed = SimpleCookie()
    parsed.load(header)
    morsel = parsed[COOKIE]
    attributes = {k: str(v) for k, v in morsel.items() if v}
    lowered = header.lower()
    attributes["secure"] = str("; secure" in lowered)
    attributes["httponly"] = str("; httponly" in lowered)
    return morsel.value, attributes


def seen(app: Flask, cookie: str) -> BrowserSignIn | None:
    with app.test_request_context("/", headers={"Cookie": f"{COOKIE}={cookie}"}):
        return current_signin()


def session_row(app: Flask, session_id: str) -> dict[str, Any]:
    [row] = query(app, "SELECT * FROM sessions WHERE id = :id", id=session_id)
    return row


def test_a_browser_signed_in_is_the_session_s_user_with_its_time_and_methods(
    app: Flask, client: FlaskClient, clock: FrozenClock
) -> None:
    body = signed_in(client)
    token = claims(body["access_token"])
    cookie, _ = browser_cookie(app, token["sid"])
    assert seen(app, cookie) == BrowserSignIn(
        user_id=token["sub"],
        session_id=token["sid"],
        auth_time=int(session_row(app, token["sid"])["created_at"]),
        amr=("pwd", "sms"),
    )


def test_the_cookie_is_host_only_secure_httponly_lax_and_lives_as_long_as_the_session(
    app: Flask, client: FlaskClient
) -> None:
    sid = claims(signed_in(client)["access_token"])["sid"]
    _, attributes = browser_cookie(app, sid)
    assert COOKIE.startswith("__Host-")
    assert attributes["secure"] == "True"
    assert attributes["httponly"] == "True"
    assert attributes["samesite"] == "Lax"
    assert attributes["path"] == "/"
    assert "domain" not in attributes
    row = session_row(app, sid)
    lifetime = row["expires_at"] - row["created_at"]
    assert abs(int(attributes["max-age"]) - lifetime) <= 1


def test_only_a_keyed_hash_of_the_cookie_is_stored(app: Flask, client: FlaskClient) -> None:
    sid = claims(signed_in(client)["access_token"])["sid"]
    cookie, _ = browser_cookie(app, sid)
    [row] = query(app, "SELECT * FROM browser_signins WHERE session_id = :id", id=sid)
    assert len(cookie) >= 43  # 256 bits, base64url
    assert cookie not in str(row)
    assert row["token_hash"] != hashlib.sha256(cookie.encode()).hexdigest()


def test_no_cookie_a_tampered_or_unknown_one_is_nobody(app: Flask, client: FlaskClient) -> None:
    sid = claims(signed_in(client)["access_token"])["sid"]
    cookie, _ = browser_cookie(app, sid)
    with app.test_request_context("/"):
        assert current_signin() is None
    tampered = cookie[:-1] + ("A" if cookie[-1] != "A" else "B")
    for value in (tampered, sid, "x" * 500, "é", '"quoted"'):
        assert seen(app, value) is None
    assert seen(app, cookie) is not None


def test_logout_all_from_the_api_signs_the_browser_out(app: Flask, client: FlaskClient) -> None:
    body = signed_in(client)
    cookie, _ = browser_cookie(app, claims(body["access_token"])["sid"])
    other = signed_in(client)  # another account
    other_cookie, _ = browser_cookie(app, claims(other["access_token"])["sid"])
    assert client.post("/auth/logout-all", headers=bearer(body["access_token"])).status_code == 204
    assert seen(app, cookie) is None
    assert seen(app, other_cookie) is not None


def test_ending_the_session_from_the_list_signs_the_browser_out(
    app: Flask, client: FlaskClient
) -> None:
    body = signed_in(client)
    browser_sid = claims(body["access_token"])["sid"]
    cookie, _ = browser_cookie(app, browser_sid)
    # The same account signed in elsewhere (the API) ends the browser's session.
    username = query(
        app, "SELECT username FROM users WHERE id = :id", id=claims(body["access_token"])["sub"]
    )[0]["username"]
    elsewhere = signed_in(client, username)
    ended = client.delete(
        f"/auth/sessions/{browser_sid}", headers=bearer(elsewhere["access_token"])
    )
    assert ended.status_code == 204
    assert seen(app, cookie) is None


def test_a_password_change_elsewhere_signs_the_browser_out(app: Flask, client: FlaskClient) -> None:
    body = signed_in(client)
    cookie, _ = browser_cookie(app, claims(body["access_token"])["sid"])
    username = query(
        app, "SELECT username FROM users WHERE id = :id", id=claims(body["access_token"])["sub"]
    )[0]["username"]
    elsewhere = signed_in(client, username)
    changed = client.post(
        "/auth/password/change",
        json={
            "current_password": "correct horse battery staple",
            "new_password": "a quite different passphrase",
        },
        headers=bearer(elsewhere["access_token"]),
    )
    assert changed.status_code == 204, changed.get_json()
    assert seen(app, cookie) is None


def test_the_session_s_lifetime_and_idle_timeout_end_it(
    make_app: Any, client: FlaskClient, clock: FrozenClock
) -> None:
    app = make_app(session_lifetime_seconds=3000, session_idle_seconds=1000)
    client = app.test_client()
    sid = claims(signed_in(client)["access_token"])["sid"]
    cookie, _ = browser_cookie(app, sid)
    # Each page seen counts as a use: the idle timeout starts again.
    for _ in range(2):
        clock.advance(900)
        assert seen(app, cookie) is not None
    clock.advance(1001)
    assert seen(app, cookie) is None  # idle
    sid = claims(signed_in(client)["access_token"])["sid"]
    cookie, _ = browser_cookie(app, sid)
    for _ in range(3):
        clock.advance(999)
        assert seen(app, cookie) is not None
    clock.advance(4)
    assert seen(app, cookie) is None  # its absolute lifetime


def test_end_signin_ends_the_session_and_clears_the_cookie(app: Flask, client: FlaskClient) -> None:
    body = signed_in(client)
    sid = claims(body["access_token"])["sid"]
    cookie, _ = browser_cookie(app, sid)
    with app.test_request_context("/", headers={"Cookie": f"{COOKIE}={cookie}"}):
        assert current_signin() is not None
        response = Response()
        end_signin(response)
        assert current_signin() is None
        [header] = response.headers.getlist("Set-Cookie")
    assert header.startswith(f"{COOKIE}=;")
    assert "Max-Age=0" in header and "Secure" in header and "Path=/" in header
    assert session_row(app, sid)["revoked_at"] is not None
    assert seen(app, cookie) is None
    assert query(app, "SELECT * FROM browser_signins WHERE session_id = :id", id=sid) == []


def test_a_new_sign_in_replaces_the_browser_s_previous_one(app: Flask, client: FlaskClient) -> None:
    first = claims(signed_in(client)["access_token"])["sid"]
    second = claims(signed_in(client)["access_token"])["sid"]
    cookie, _ = browser_cookie(app, first)
    replaced, _ = browser_cookie(app, second, cookie)
    assert seen(app, cookie) is None
    assert session_row(app, first)["revoked_at"] is not None
    found = seen(app, replaced)
    assert found is not None and found.session_id == second


def test_deleting_the_account_removes_its_browser_sign_ins(app: Flask, client: FlaskClient) -> None:
    body = signed_in(client)
    sid = claims(body["access_token"])["sid"]
    cookie, _ = browser_cookie(app, sid)
    deleted = client.delete(
        "/auth/account",
        json={"password": "correct horse battery staple"},
        headers=bearer(body["access_token"]),
    )
    assert deleted.status_code == 204, deleted.get_json()
    assert seen(app, cookie) is None
    assert query(app, "SELECT * FROM browser_signins WHERE session_id = :id", id=sid) == []
