"""HTTP hardening: security headers on every response, CORS only by allow-list,
no caching of token answers (ASVS 3.4, 13.4, 14.3)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, last_code, login, register


def _assert_hardened(headers: dict[str, str]) -> None:
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-eval" not in csp
    assert headers["Referrer-Policy"] == "no-referrer"


def test_every_kind_of_response_is_hardened(client: FlaskClient) -> None:
    responses = [
        client.get("/healthz"),
        client.get("/swagger/"),
        client.get("/swagger/init.js"),
        client.get("/openapi.json"),
        client.get("/auth/private"),  # 401
        client.get("/nope"),  # 404
        client.post("/auth/login", json={"username": 1}),  # 422
        client.post("/auth/login", data="x", content_type="text/plain"),  # 415
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 401, 404, 422, 415]
    for response in responses:
        _assert_hardened(dict(response.headers))
        assert "Strict-Transport-Security" not in response.headers  # plain HTTP


def test_hsts_only_behind_tls(make_app: Callable[..., Flask]) -> None:
    direct = make_app().test_client()
    assert "Strict-Transport-Security" not in direct.get("/healthz").headers
    tls = direct.get("/healthz", base_url="https://localhost")
    assert tls.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    proxied = make_app(trusted_proxies=1).test_client()
    via_proxy = proxied.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert via_proxy.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    # Without a trusted proxy the header is the client's word and is ignored.
    spoofed = direct.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in spoofed.headers


def test_cors_is_off_by_default(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = client.options(
        "/auth/login",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_cors_allow_list(make_app: Callable[..., Flask]) -> None:
    client = make_app(cors_origins=("https://app.example.com",)).test_client()
    allowed = client.options(
        "/auth/login",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type",
        },
    )
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in allowed.headers
    other = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_token_and_challenge_answers_are_not_cached(client: FlaskClient) -> None:
    username = register(client)
    challenge = client.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert challenge.headers["Cache-Control"] == "no-store"
    session_id = login(client, username)["session_id"]
    verified = client.post(
        "/auth/verify-otp", json={"session_id": session_id, "otp": last_code(client)}
    )
    assert verified.status_code == 200
    assert verified.headers["Cache-Control"] == "no-store"
    refreshed = client.post(
        "/auth/refresh", json={"refresh_token": verified.get_json()["refresh_token"]}
    )
    assert refreshed.status_code == 200
    assert refreshed.headers["Cache-Control"] == "no-store"
    failed = client.post("/auth/login", json={"username": username, "password": "x" * 9})
    assert failed.headers["Cache-Control"] == "no-store"
