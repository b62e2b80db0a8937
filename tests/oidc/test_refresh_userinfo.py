"""The refresh token grant on the service's rotation and reuse detection, bound to the
client the tokens were issued to; userinfo's claims per scope (OpenID Connect Core
5.3, 5.4); discovery's metadata; hostile input at the token endpoint."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from authlib.oidc.discovery import OpenIDProviderMetadata
from flask import Flask
from flask.testing import FlaskClient

from tests.clock import FrozenClock
from tests.conftest import last_code, login, register, sign_in
from tests.oidc.conftest import (
    ISSUER,
    Person,
    RegisteredClient,
    add_client,
    oauth_error,
    refresh,
    tokens_for,
)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- refresh (RFC 6749 6, RFC 9700 4.14) -------------------------------------------------


@pytest.mark.parametrize("kind", ["confidential", "public"])
def test_refresh_rotates_and_a_rotated_token_ends_the_session(
    app: Flask, client: FlaskClient, person: Person, clock: FrozenClock, kind: str
) -> None:
    registered = add_client(app, public=kind == "public")
    first = tokens_for(app, client, registered, person)
    response = refresh(client, registered, first["refresh_token"])
    assert response.status_code == 200, response.get_json()
    second = response.get_json()
    assert set(second) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert second["refresh_token"] != first["refresh_token"]
    assert second["scope"] == "openid profile phone"
    access = jwt.decode(second["access_token"], options={"verify_signature": False})
    assert (access["client_id"], access["scope"]) == (registered.client_id, second["scope"])
    assert client.get("/auth/private", headers=bearer(second["access_token"])).status_code == 200
    # Past the grace window, the rotated token coming back is theft: the session ends.
    clock.advance(30)
    oauth_error(refresh(client, registered, first["refresh_token"]), 400, "invalid_grant")
    assert client.get("/auth/private", headers=bearer(second["access_token"])).status_code == 401
    oauth_error(refresh(client, registered, second["refresh_token"]), 400, "invalid_grant")


def test_a_refresh_token_is_refreshed_only_by_its_client(
    app: Flask, client: FlaskClient, confidential: RegisteredClient, person: Person
) -> None:
    tokens = tokens_for(app, client, confidential, person)
    other = add_client(app)
    oauth_error(refresh(client, other, tokens["refresh_token"]), 400, "invalid_grant")
    # Nor without the client's authentication, at the API's own refresh endpoint.
    response = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert response.status_code == 401
    # None of that rotated it: the client still can.
    assert refresh(client, confidential, tokens["refresh_token"]).status_code == 200


def test_the_apis_refresh_tokens_are_not_the_providers(
    client: FlaskClient, confidential: RegisteredClient
) -> None:
    username = register(client)
    session_id = login(client, username)["session_id"]
    verified = client.post(
        "/auth/verify-otp", json={"session_id": session_id, "otp": last_code(client)}
    ).get_json()
    oauth_error(refresh(client, confidential, verified["refresh_token"]), 400, "invalid_grant")


def test_refresh_grants_no_scope_beyond_the_original(
    app: Flask, client: FlaskClient, confidential: RegisteredClient, person: Person
) -> None:
    tokens = tokens_for(app, client, confidential, person, scope="openid")
    oauth_error(
        refresh(client, confidential, tokens["refresh_token"], scope="openid phone"),
        400,
        "invalid_scope",
    )
    response = refresh(client, confidential, tokens["refresh_token"], scope="openid")
    assert response.status_code == 200
    assert response.get_json()["scope"] == "openid"


# -- userinfo (Core 5.3) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "claims"),
    [
        ("openid", {"sub"}),
        ("openid profile", {"sub", "preferred_username"}),
        ("openid phone", {"sub", "phone_number", "phone_number_verified"}),
        (
            "openid profile phone",
            {"sub", "preferred_username", "phone_number", "phone_number_verified"},
        ),
    ],
)
def test_userinfo_releases_the_claims_of_the_scopes_granted(
    app: Flask,
    client: FlaskClient,
    confidential: RegisteredClient,
    person: Person,
    scope: str,
    claims: set[str],
) -> None:
    tokens = tokens_for(app, client, confidential, person, scope=scope)
    for method in (client.get, client.post):
        response = method("/oauth/userinfo", headers=bearer(tokens["access_token"]))
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.headers["Cache-Control"] == "no-store"
        body: dict[str, Any] = response.get_json()
        assert set(body) == claims
        assert body["sub"] == person.user_id
        if "phone_number" in claims:
            assert body["phone_number"] == "+972508464336"
            assert body["phone_number_verified"] is True
        if "preferred_username" in claims:
            assert body["preferred_username"] == person.username


def test_a_client_gets_only_the_scopes_it_is_registered_for(
    app: Flask, client: FlaskClient, person: Person
) -> None:
    narrow = add_client(app, scopes=("openid",))
    tokens = tokens_for(app, client, narrow, person, scope="openid")
    body = client.get("/oauth/userinfo", headers=bearer(tokens["access_token"])).get_json()
    assert body == {"sub": person.user_id}


def test_userinfo_refuses_the_apis_own_tokens_and_bad_ones(client: FlaskClient) -> None:
    response = client.get("/oauth/userinfo", headers=bearer(sign_in(client)))
    assert response.status_code == 403
    assert response.get_json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    response = client.get("/oauth/userinfo")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="secureflaskauth"'
    response = client.get("/oauth/userinfo", headers=bearer("not.a.token"))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_userinfo_stops_with_the_session(
    app: Flask, client: FlaskClient, confidential: RegisteredClient, person: Person
) -> None:
    tokens = tokens_for(app, client, confidential, person)
    assert client.post("/auth/logout", headers=bearer(tokens["access_token"])).status_code == 204
    assert client.get("/oauth/userinfo", headers=bearer(tokens["access_token"])).status_code == 401


# -- discovery (Discovery 1.0, 3) -------------------------------------------------------


def test_discovery_names_the_issuer_endpoints_and_what_is_supported(client: FlaskClient) -> None:
    response = client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=300"
    meta = response.get_json()
    OpenIDProviderMetadata(meta).validate()  # authlib's checks of every member
    assert meta["issuer"] == ISSUER
    assert meta["authorization_endpoint"] == f"{ISSUER}/oauth/authorize"
    assert meta["token_endpoint"] == f"{ISSUER}/oauth/token"
    assert meta["userinfo_endpoint"] == f"{ISSUER}/oauth/userinfo"
    assert meta["end_session_endpoint"] == f"{ISSUER}/oauth/logout"
    assert meta["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert meta["response_types_supported"] == ["code"]
    assert meta["subject_types_supported"] == ["public"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["id_token_signing_alg_values_supported"] == ["EdDSA", "RS256"]
    assert meta["scopes_supported"] == ["openid", "profile", "phone"]
    assert meta["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert {"sub", "preferred_username", "phone_number", "auth_time", "amr", "acr"} <= set(
        meta["claims_supported"]
    )
    assert meta["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
        "none",
    ]
    # Every endpoint named is served here.
    for name in ("token_endpoint", "userinfo_endpoint", "jwks_uri"):
        path = meta[name].removeprefix(ISSUER)
        assert client.open(path, method="OPTIONS").status_code != 404, name


def test_development_names_localhost_as_the_issuer(make_app: Any) -> None:
    meta = make_app(port=5123).test_client().get("/.well-known/openid-configuration").get_json()
    assert meta["issuer"] == "http://localhost:5123"


# -- hostile input at the token endpoint -------------------------------------------------


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"grant_type": 'a"b\\c'},
        {"grant_type": "password", "username": "u", "password": "p"},
        {"grant_type": "client_credentials"},
        {"grant_type": "authorization_code"},
        {"grant_type": "authorization_code", "code": "x" * 5000, "client_id": "y" * 5000},
        {"grant_type": "authorization_code", "code": "c", "client_id": "\x00"},
        {"grant_type": "refresh_token", "client_id": "nobody", "refresh_token": "r"},
        {"grant_type": "authorization_code", "code": 'é"', "client_id": "é\\"},
    ],
)
def test_bad_token_requests_are_oauth_errors_never_a_500(
    client: FlaskClient, confidential: RegisteredClient, form: dict[str, str]
) -> None:
    response = client.post("/oauth/token", data=form)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    assert "error" in response.get_json()


def test_a_repeated_parameter_and_a_json_body_are_refused(
    client: FlaskClient, confidential: RegisteredClient
) -> None:
    response = client.post(
        "/oauth/token",
        data="grant_type=authorization_code&code=a&code=b",
        content_type="application/x-www-form-urlencoded",
        headers=confidential.basic(),
    )
    oauth_error(response, 400, "invalid_request")
    response = client.post("/oauth/token", json={"grant_type": "authorization_code"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "unsupported_grant_type"


def test_the_token_endpoint_is_rate_limited_per_ip(make_app: Any) -> None:
    client = make_app(public_url=ISSUER, limit_token_ip="3/minute").test_client()
    for _ in range(3):
        assert client.post("/oauth/token", data={}).status_code == 400
    response = client.post("/oauth/token", data={})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
