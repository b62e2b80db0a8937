"""Helpers of the provider tests that go through the app: sign-in steps and what is left."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import and_, func, select

from secureflaskauth.adapters.db.tables import challenges
from secureflaskauth.adapters.redis.challenges import RedisChallengeStore
from tests.conftest import PASSWORD, PHONE, unique_username
from tests.helpers import problem

PHONE_E164 = "+972508464336"  # PHONE in E.164
NATIONAL_DIGITS = "508464336"  # the part of the number present in every way of writing it
TEXT = "SecureFlaskAuth code: 123456. Expires in 5 min. Never share it."
SMS_TIMEOUT = 0.3
# Settings that keep the app tests fast: short timeouts, no wait between retries.
FAST = {"sms_timeout_seconds": SMS_TIMEOUT, "sms_retry_backoff_seconds": 0.001}
_CODE = re.compile(r"\b(\d{6})\b")


def code_in(text: str) -> str:
    match = _CODE.search(text)
    assert match, text
    return match.group(1)


def register_user(client: FlaskClient) -> tuple[str, str]:
    username = unique_username()
    response = client.post(
        "/auth/register",
        json={"username": username, "password": PASSWORD, "phone_number": PHONE},
    )
    assert response.status_code == 201, response.get_json()
    return username, response.get_json()["user_id"]


def post_login(client: FlaskClient, username: str) -> Any:
    return client.post("/auth/login", json={"username": username, "password": PASSWORD})


def verify(client: FlaskClient, session_id: str, code: str) -> Any:
    return client.post("/auth/verify-otp", json={"session_id": session_id, "otp": code})


def assert_signs_in(client: FlaskClient, session_id: str, code: str) -> None:
    """The code completes the sign-in and its access token opens /auth/private."""
    response = verify(client, session_id, code)
    assert response.status_code == 200, response.get_json()
    token = response.get_json()["access_token"]
    private = client.get("/auth/private", headers={"Authorization": f"Bearer {token}"})
    assert private.status_code == 200
    assert private.get_json() == {"message": "Access granted."}


def assert_delivery_failed(response: Any) -> None:
    """A 502 problem+json that hands out no session."""
    body = problem(response, 502)
    assert body["type"].endswith("sms-delivery-failed")
    assert "session_id" not in body


def challenge_counts(app: Flask, user_id: str, now: float) -> tuple[int, int]:
    """(all challenges, live challenges) of the user in the database or Redis."""
    store = app.extensions["secureflaskauth"].signin.challenges
    if isinstance(store, RedisChallengeStore):
        found = store.for_user(user_id)
        return len(found), sum(c.used_at is None and c.expires_at > now for c in found)
    engine = app.extensions["secureflaskauth"].engine
    c = challenges.c
    live = and_(c.expires_at > now, c.used_at.is_(None))
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).where(c.user_id == user_id)).scalar_one()
        alive = conn.execute(select(func.count()).where(c.user_id == user_id, live)).scalar_one()
    return total, alive


def assert_logs_hold_none_of(
    caplog: pytest.LogCaptureFixture, secrets: list[str], *, codes: set[str], logger: str
) -> None:
    """The provider's logger spoke, and no record holds a secret, a code or the number."""
    logged = [(r.name, r.getMessage()) for r in caplog.records]
    assert any(name == logger for name, _ in logged), logged
    texts = [message for _, message in logged] + [caplog.text]
    for text in texts:
        assert NATIONAL_DIGITS not in text
        for secret in secrets:
            assert secret not in text, text
        for code in codes:
            assert not re.search(rf"(?<!\d){code}(?!\d)", text), text
