"""GET /auth/me: the signed-in user's own account (CONTRACT: Account lifecycle)."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from flask.testing import FlaskClient

from tests.api.test_refresh import bearer, claims, signed_in, wiring_of
from tests.clock import FrozenClock
from tests.conftest import register, unique_username
from tests.helpers import problem

ACCOUNT_FIELDS = {"user_id", "username", "phone_number", "phone_verified", "factors", "created_at"}


def me(client: FlaskClient, token: str) -> dict[str, object]:
    response = client.get("/auth/me", headers=bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, object] = response.get_json()
    return body


def test_me_describes_the_account_with_the_number_masked(
    client: FlaskClient, clock: FrozenClock
) -> None:
    username = register(client, unique_username("Me.Myself"))
    registered_at = clock.now()
    clock.advance(60)
    token = signed_in(client, username)["access_token"]

    body = me(client, token)

    assert set(body) == ACCOUNT_FIELDS
    assert body["user_id"] == claims(token)["sub"]
    assert body["username"] == username  # as registered, case kept
    assert body["phone_number"] == "+972*****4336"
    assert "508464336" not in str(body)
    assert body["phone_verified"] is True
    assert body["factors"] == ["sms"]
    created = datetime.fromisoformat(str(body["created_at"]).replace("Z", "+00:00"))
    assert abs(created.timestamp() - registered_at) < 1


def test_me_refuses_without_a_valid_token(app: Flask, client: FlaskClient) -> None:
    response = client.get("/auth/me")
    problem(response, 401)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="secureflaskauth"'

    response = client.get("/auth/me", headers=bearer("not.a.token"))
    problem(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_me_refuses_a_token_of_an_ended_session(client: FlaskClient) -> None:
    token = signed_in(client)["access_token"]
    assert client.post("/auth/logout", headers=bearer(token)).status_code == 204
    problem(client.get("/auth/me", headers=bearer(token)), 401)


def test_me_refuses_a_token_of_a_deleted_account(app: Flask, client: FlaskClient) -> None:
    token = signed_in(client)["access_token"]
    wiring = wiring_of(app)
    user = wiring.users.by_id(claims(token)["sub"])
    assert user is not None
    wiring.accounts.delete(user, by="test")
    problem(client.get("/auth/me", headers=bearer(token)), 401)
