"""POST /oauth/token with the authorization code (RFC 6749 4.1.3, RFC 7636, OpenID
Connect Core 3.1.3), on both configurations: client authentication, PKCE, codes bound
to client and redirect URI, single use (also under concurrent requests) with the
tokens of a reused code revoked, and the ID token a relying party validates."""

from __future__ import annotations

import threading

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.clock import FrozenClock
from tests.oidc.conftest import (
    ISSUER,
    Person,
    RegisteredClient,
    add_client,
    exchange,
    issue_code,
    oauth_error,
    pkce,
    tokens_for,
    validate_id_token,
    wiring_of,
)


def private(client: FlaskClient, access_token: str) -> int:
    return client.get(
        "/auth/private", headers={"Authorization": f"Bearer {access_token}"}
    ).status_code


@pytest.mark.parametrize("auth", ["basic", "post"])
def test_a_confidential_client_exchanges_its_code_for_tokens(
    app: Flask,
    client: FlaskClient,
    confidential: RegisteredClient,
    person: Person,
    clock: FrozenClock,
    auth: str,
) -> None:
    verifier, challenge = pkce()
    code = issue_code(app, confidential, person, challenge=challenge, nonce="n-0S6_WzA2Mj")
    response = exchange(client, confidential, code, verifier, auth=auth)
    assert response.status_code == 200, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "scope",
        "id_token",
    }
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "openid profile phone"
    # The access token is the API's own JWT: it opens the API.
    assert jwt.get_unverified_header(body["access_token"])["typ"] == "at+jwt"
    assert private(client, body["access_token"]) == 200
    claims = validate_id_token(
        client,
        body["id_token"],
        client_id=confidential.client_id,
        nonce="n-0S6_WzA2Mj",
        access_token=body["access_token"],
        now=clock.now(),
    )
    access = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == person.user_id == access["sub"]
    assert claims["iss"] == ISSUER
    assert claims["aud"] == confidential.client_id
    assert claims["auth_time"] == person.auth_time
    assert claims["amr"] == list(person.amr)
    assert claims["acr"] == "mfa"
    assert claims["sid"] == access["sid"]
    # RFC 9068 2.2, 2.2.3: the client it was issued to, and the scope granted.
    assert (access["client_id"], access["scope"]) == (confidential.client_id, body["scope"])
    # Profile claims go to userinfo, not into the ID token (Core 5.4).
    assert "phone_number" not in claims and "preferred_username" not in claims


def test_a_public_client_authenticates_with_pkce_alone(
    app: Flask, client: FlaskClient, public: RegisteredClient, person: Person, clock: FrozenClock
) -> None:
    body = tokens_for(app, client, public, person, nonce=None)
    claims = validate_id_token(
        client, body["id_token"], client_id=public.client_id, nonce=None, now=clock.now()
    )
    assert claims["sub"] == person.user_id


def test_client_authentication_is_required_and_checked(
    app: Flask, client: FlaskClient, confidential: RegisteredClient, person: Person
) -> None:
    verifier, challenge = pkce()
    code = issue_code(app, confidential, person, challenge=challenge)
    # A confidential client without its secret is not a public client. Every refusal
    # is a 401 with the Basic challenge, the one method a client is expected to try.
    response = exchange(client, confidential, code, verifier, auth="none")
    oauth_error(response, 401, "invalid_client")
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    wrong = RegisteredClient(confidential.client_id, "not-the-secret")
    response = exchange(client, wrong, code, verifier, auth="basic")
    oauth_error(response, 401, "invalid_client")
    assert response.headers["WWW-Authenticate"].startswith("Basic")  # RFC 6749 5.2
    oauth_error(exchange(client, wrong, code, verifier, auth="post"), 401, "invalid_client")
    # None of that used the code up.
    assert exchange(client, confidential, code, verifier).status_code == 200


def test_a_public_client_cannot_present_a_secret(
    app: Flask, client: FlaskClient, public: RegisteredClient, person: Person
) -> None:
    verifier, challenge = pkce()
    code = issue_code(app, public, person, challenge=challenge)
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "https://app.example.test/callback",
            "code_verifier": verifier,
            "client_id": public.client_id,
            "client_secret": "made-up",
        },
    )
    oauth_error(response, 401, "invalid_client")


# -- PKCE at the token endpoint (RFC 7636 4.6) ------------------------------------------


@pytest.mark.parametrize(
    ("verifier", "error"),
    [
        (None, "invalid_request"),  # no verifier
        ("short", "invalid_request"),  # not a verifier (43 to 128 characters)
        ("x" * 64, "invalid_grant"),  # a verifier, not the one
    ],
)
def test_the_code_verifier_is_required_and_must_match(
    app: Flask,
    client: FlaskClient,
    public: RegisteredClient,
    person: Person,
    verifier: str | None,
    error: str,
) -> None:
    right, challenge = pkce()
    code = issue_code(app, public, person, challenge=challenge)
    oauth_error(exchange(client, public, code, verifier, auth="none"), 400, error)
    # A refused verifier does not burn the code: its owner still exchanges it.
    assert exchange(client, public, code, right, auth="none").status_code == 200


def test_the_challenge_is_never_compared_as_plain(
    app: Flask, client: FlaskClient, public: RegisteredClient, person: Person
) -> None:
    verifier, _ = pkce()
    code = issue_code(app, public, person, challenge=verifier)  # as "plain" would store it
    oauth_error(exchange(client, public, code, verifier, auth="none"), 400, "invalid_grant")


# -- the code's binding, lifetime and single use ---------------------------------------


def test_a_code_is_bound_to_its_client_and_redirect_uri(
    app: Flask, client: FlaskClient, confidential: RegisteredClient, person: Person
) -> None:
    verifier, challenge = pkce()
    code = issue_code(app, confidential, person, challenge=challenge)
    other = add_client(app)
    oauth_error(exchange(client, other, code, verifier), 400, "invalid_grant")
    response = exchange(
        client, confidential, code, verifier, redirect_uri="https://app.example.test/other"
    )
    oauth_error(response, 400, "invalid_grant")
    assert exchange(client, confidential, code, verifier).status_code == 200


def test_a_code_lives_a_minute(
    app: Flask,
    client: FlaskClient,
    confidential: RegisteredClient,
    person: Person,
    clock: FrozenClock,
) -> None:
    verifier, challenge = pkce()
    code = issue_code(app, confidential, person, challenge=challenge)
    clock.advance(61)
    oauth_error(exchange(client, confidential, code, verifier), 400, "invalid_grant")


def test_a_code_used_again_is_refused_and_its_tokens_revoked(
    app: Flask, client: FlaskClient, confidential: RegisteredClient, person: Person
) -> None:
    verifier, challenge = pkce()
    code = issue_code(app, confidential, person, challenge=challenge)
    first = exchange(client, confidential, code, verifier)
    assert first.status_code == 200
    tokens = first.get_json()
    assert private(client, tokens["access_token"]) == 200
    oauth_error(exchange(client, confidential, code, verifier), 400, "invalid_grant")
    # RFC 6749 4.1.2: the tokens issued from the code are revoked.
    assert private(client, tokens["access_token"]) == 401
    refreshed = client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers=confidential.basic(),
    )
    oauth_error(refreshed, 400, "invalid_grant")


def test_concurrent_exchanges_of_one_code_give_tokens_once(
    app: Flask, confidential: RegisteredClient, person: Person
) -> None:
    verifier, challenge = pkce()
    code = issue_code(app, confidential, person, challenge=challenge)
    statuses: list[int] = []
    tokens: list[str] = []
    barrier = threading.Barrier(6)

    def attempt() -> None:
        own = app.test_client()
        barrier.wait()
        response = exchange(own, confidential, code, verifier)
        statuses.append(response.status_code)
        if response.status_code == 200:
            tokens.append(response.get_json()["access_token"])

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # One request claims the code; the others see it used, which is a reuse: the
    # session of its tokens ends, whichever came first (its tokens, if it answered
    # before it saw them, stop working; if after, it answers invalid_grant itself).
    assert len(statuses) == 6 and statuses.count(200) <= 1, statuses
    assert statuses.count(400) >= 5
    for token in tokens:
        assert private(app.test_client(), token) == 401
    w = wiring_of(app)
    issued = w.sessions.store.for_client(confidential.client_id)
    assert len(issued) == 1  # one claim, one session
    assert not issued[0].is_active(w.clock.now())


def test_an_rs256_client_gets_rs256_id_tokens_and_others_the_service_algorithm(
    app: Flask, client: FlaskClient, person: Person, clock: FrozenClock
) -> None:
    rsa = add_client(app, alg="RS256")
    body = tokens_for(app, client, rsa, person)
    assert jwt.get_unverified_header(body["id_token"])["alg"] == "RS256"
    validate_id_token(
        client,
        body["id_token"],
        client_id=rsa.client_id,
        nonce="n-0S6_WzA2Mj",
        access_token=body["access_token"],
        now=clock.now(),
    )
    # The access token keeps the service's algorithm.
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "EdDSA"
    plain = tokens_for(app, client, add_client(app), person)
    assert jwt.get_unverified_header(plain["id_token"])["alg"] == "EdDSA"


def test_an_id_token_is_not_an_access_token(
    app: Flask, client: FlaskClient, confidential: RegisteredClient, person: Person
) -> None:
    body = tokens_for(app, client, confidential, person)
    assert private(client, body["id_token"]) == 401
    assert (
        client.get(
            "/oauth/userinfo", headers={"Authorization": "Bearer " + body["id_token"]}
        ).status_code
        == 401
    )
