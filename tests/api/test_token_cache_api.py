"""The verified-token cache seen from outside: /auth/private answers every token as it
would with the cache off (SFA_JWT_VERIFIED_CACHE_SIZE=0), whatever the token went
through before (answered from memory or not)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from secureflaskauth.domain.tokens import LEEWAY_SECONDS
from tests.api.test_refresh import assert_access_refused, bearer, claims, private, signed_in
from tests.clock import FrozenClock


@pytest.fixture(params=[10_000, 0], ids=["cache", "no-cache"])
def client(request: pytest.FixtureRequest, make_app: Any) -> FlaskClient:
    app = make_app(jwt_verified_cache_size=request.param)
    test_client: FlaskClient = app.test_client()
    return test_client


def test_a_remembered_token_lives_as_long_as_a_checked_one(
    client: FlaskClient, clock: FrozenClock
) -> None:
    token = signed_in(client)["access_token"]
    assert private(client, token).status_code == 200
    clock.advance(claims(token)["exp"] - clock.now() - 1)
    assert private(client, token).status_code == 200
    clock.advance(1 + LEEWAY_SECONDS - 1)  # past exp, within the leeway
    assert private(client, token).status_code == 200
    clock.advance(1)
    assert_access_refused(client, token)


def test_a_remembered_token_is_refused_after_logout_all(client: FlaskClient) -> None:
    token = signed_in(client)["access_token"]
    assert private(client, token).status_code == 200
    assert client.post("/auth/logout-all", headers=bearer(token)).status_code == 204
    assert_access_refused(client, token)


def test_changed_copies_of_a_remembered_token_are_refused(client: FlaskClient) -> None:
    token = signed_in(client)["access_token"]
    assert private(client, token).status_code == 200
    head, payload, signature = token.split(".")
    flipped = "A" if signature[0] != "A" else "B"
    for changed in (
        f"{head}.{payload}.{flipped}{signature[1:]}",
        f"{head}.{payload}.",
        f"{head}.{payload}",
        f"{head}.{payload[:-1]}.{signature}",
        f"{token}.",
        f"{token}=",
        token + "A" * 4,
    ):
        response = private(client, changed)
        assert response.status_code in (400, 401), changed
    assert private(client, token).status_code == 200
