"""The OpenID Connect provider's tests: an app whose issuer is an https URL, clients
registered through the domain (as the CLI does), people signed in through the JSON
API, and the checks a relying party makes on what it receives."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from secureflaskauth.domain.tokens.keys import ID_TOKEN_ALGORITHMS
from secureflaskauth.wiring import EXTENSION, Wiring
from tests.conftest import register, sign_in

ISSUER = "https://auth.example.test"
CALLBACK = "https://app.example.test/callback"
LOGGED_OUT = "https://app.example.test/goodbye"


def wiring_of(app: Flask) -> Wiring:
    found: Wiring = app.extensions[EXTENSION]
    return found


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(public_url=ISSUER)


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    secret: str | None

    def basic(self) -> dict[str, str]:
        assert self.secret is not None
        raw = f"{self.client_id}:{self.secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def add_client(
    app: Flask,
    *,
    public: bool = False,
    alg: str | None = None,
    scopes: tuple[str, ...] = ("openid", "profile", "phone"),
) -> RegisteredClient:
    w = wiring_of(app)
    if alg == "RS256":
        from secureflaskauth.wiring.keys import ensure_rsa_key

        ensure_rsa_key(w.key_store, w.settings.jwt, w.clock)
        w.keyring.reload()
    registered = w.oidc.clients.register(
        "Example app",
        redirect_uris=[CALLBACK],
        post_logout_redirect_uris=[LOGGED_OUT],
        scopes=scopes,
        public=public,
        id_token_alg=alg,
    )
    return RegisteredClient(registered.client.client_id, registered.secret)


@pytest.fixture
def confidential(app: Flask) -> RegisteredClient:
    return add_client(app)


@pytest.fixture
def public(app: Flask) -> RegisteredClient:
    return add_client(app, public=True)


@dataclass(frozen=True)
class Person:
    user_id: str
    username: str
    amr: tuple[str, ...]
    auth_time: int


def signed_in_person(client: FlaskClient) -> Person:
    """A person who completed a sign-in (password and SMS code) through the JSON API."""
    username = register(client)
    claims = jwt.decode(sign_in(client, username), options={"verify_signature": False})
    return Person(claims["sub"], username, tuple(claims["amr"]), claims["iat"])


@pytest.fixture
def person(client: FlaskClient) -> Person:
    return signed_in_person(client)


def pkce() -> tuple[str, str]:
    """A code verifier and its S256 challenge (RFC 7636 4.1, 4.2)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue_code(
    app: Flask,
    client: RegisteredClient,
    person: Person,
    *,
    challenge: str,
    nonce: str | None = "n-0S6_WzA2Mj",
    scope: str = "openid profile phone",
) -> str:
    """A code as the authorization endpoint issues it to a signed-in person."""
    with app.test_request_context():
        return wiring_of(app).oidc.codes.issue(
            client_id=client.client_id,
            user_id=person.user_id,
            redirect_uri=CALLBACK,
            scope=scope,
            nonce=nonce,
            code_challenge=challenge,
            auth_time=person.auth_time,
            amr=person.amr,
        )


def exchange(
    client: FlaskClient,
    registered: RegisteredClient,
    code: str,
    verifier: str | None,
    *,
    auth: str = "basic",
    redirect_uri: str = CALLBACK,
) -> TestResponse:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier is not None:
        form["code_verifier"] = verifier
    headers: dict[str, str] = {}
    if auth == "basic":
        headers = registered.basic()
    elif auth == "post":
        assert registered.secret is not None
        form |= {"client_id": registered.client_id, "client_secret": registered.secret}
    else:
        form["client_id"] = registered.client_id
    return client.post("/oauth/token", data=form, headers=headers)


def refresh(
    client: FlaskClient, registered: RegisteredClient, token: str, **extra: str
) -> TestResponse:
    form = {"grant_type": "refresh_token", "refresh_token": token, **extra}
    if registered.secret is None:
        return client.post("/oauth/token", data={**form, "client_id": registered.client_id})
    return client.post("/oauth/token", data=form, headers=registered.basic())


def tokens_for(
    app: Flask,
    client: FlaskClient,
    registered: RegisteredClient,
    person: Person,
    **code: Any,
) -> dict[str, Any]:
    verifier, challenge = pkce()
    issued = issue_code(app, registered, person, challenge=challenge, **code)
    auth = "none" if registered.secret is None else "basic"
    response = exchange(client, registered, issued, verifier, auth=auth)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def oauth_error(response: TestResponse, status: int, error: str) -> dict[str, Any]:
    """An OAuth 2.0 error answer (RFC 6749 5.2): JSON, the code, never stored."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = response.get_json()
    assert body["error"] == error, body
    return body


def validate_id_token(
    client: FlaskClient,
    id_token: str,
    *,
    client_id: str,
    nonce: str | None,
    access_token: str | None = None,
    now: float,
) -> dict[str, Any]:
    """OpenID Connect Core 3.1.3.7, as a relying party does it: the signature against
    the published JWKS (the header's kid and alg, an allow-list of algorithms), iss
    exactly the issuer, aud the client, exp in the future, iat near now, the nonce
    sent, and at_hash the access token's (3.1.3.8)."""
    header = jwt.get_unverified_header(id_token)
    assert header["typ"] == "JWT"
    assert header["alg"] in ID_TOKEN_ALGORITHMS
    keys = client.get("/.well-known/jwks.json").get_json()["keys"]
    matching = [k for k in keys if k["kid"] == header["kid"]]
    assert len(matching) == 1, "the ID token's kid is published"
    key = jwt.PyJWK(matching[0])
    assert key.algorithm_name == header["alg"]
    claims: dict[str, Any] = jwt.decode(
        id_token,
        key,
        algorithms=[header["alg"]],
        audience=client_id,
        issuer=ISSUER,
        options={"require": ["iss", "sub", "aud", "exp", "iat", "auth_time"], "verify_iat": False},
        leeway=0,
    )
    assert claims["exp"] > now
    assert abs(claims["iat"] - now) <= 5
    if nonce is None:
        assert "nonce" not in claims
    else:
        assert claims["nonce"] == nonce
    if access_token is not None:
        hasher = hashlib.sha512 if header["alg"] == "EdDSA" else hashlib.sha256
        digest = hasher(access_token.encode()).digest()
        expected = base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()
        assert claims["at_hash"] == expected
    return claims
