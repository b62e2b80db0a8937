"""Client IPs for rate limits and the audit come from X-Forwarded-For only behind
the configured number of trusted proxies (ASVS 4.1.3)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy import select

from secureflaskauth.adapters.db.tables import audit_events
from tests.conftest import PASSWORD, unique_username


def _login(client, forwarded_for: str) -> int:  # type: ignore[no-untyped-def]
    # A new username each time: the per-account brute-force delay is not under test.
    response = client.post(
        "/auth/login",
        json={"username": unique_username("nobody"), "password": PASSWORD},
        headers={"X-Forwarded-For": forwarded_for},
    )
    return int(response.status_code)


def test_forwarded_for_is_ignored_without_trusted_proxies(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app(limit_login_ip="3/minute", limit_login_account="1000/minute").test_client()
    statuses = [_login(client, f"203.0.113.{i}") for i in range(5)]
    # A spoofed header per request changes nothing: the socket address is the client.
    assert statuses == [401, 401, 401, 429, 429]


def test_forwarded_for_names_the_client_behind_one_trusted_proxy(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(trusted_proxies=1, limit_login_ip="3/minute", limit_login_account="1000/minute")
    client = app.test_client()
    # Each request from a different client address (as set by the proxy) has its own limit.
    assert [_login(client, f"203.0.113.{i}") for i in range(5)] == [401] * 5
    # One address is limited however the client pads the header before the proxy's entry.
    assert [_login(client, f"198.51.100.{i}, 192.0.2.7") for i in range(5)] == [
        401,
        401,
        401,
        429,
        429,
    ]
    engine = app.extensions["secureflaskauth"].engine
    with engine.connect() as conn:
        ips = set(conn.execute(select(audit_events.c.ip)).scalars())
    assert "192.0.2.7" in ips and "203.0.113.4" in ips
    assert "127.0.0.1" not in ips
