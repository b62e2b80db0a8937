"""POST /oauth/token: one client authentication method per request (RFC 6749 2.3), on
both configurations. HTTP Basic with a secret in the body too, or with a body's
client_id naming another client, is invalid_request, and the code stays usable."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.oidc.conftest import (
    CALLBACK,
    Person,
    RegisteredClient,
    add_client,
    exchange,
    issue_code,
    oauth_error,
    pkce,
)


def test_two_client_authentications_are_refused(
    app: Flask, client: FlaskClient, confidential: RegisteredClient, person: Person
) -> None:
    other = add_client(app)
    verifier, challenge = pkce()
    code = issue_code(app, confidential, person, challenge=challenge)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "code_verifier": verifier,
    }
    assert confidential.secret is not None and other.secret is not None
    for body in (
        {"client_id": confidential.client_id, "client_secret": confidential.secret},
        {"client_secret": confidential.secret},
        {"client_id": other.client_id},
        {"client_id": other.client_id, "client_secret": other.secret},
    ):
        response = client.post("/oauth/token", data={**form, **body}, headers=confidential.basic())
        oauth_error(response, 400, "invalid_request")
    # Basic with the body's client_id the same client is one method: taken.
    response = client.post(
        "/oauth/token",
        data={**form, "client_id": confidential.client_id},
        headers=confidential.basic(),
    )
    assert response.status_code == 200, response.get_json()


def test_one_method_alone_is_taken(
    app: Flask, client: FlaskClient, confidential: RegisteredClient, person: Person
) -> None:
    verifier, challenge = pkce()
    code = issue_code(app, confidential, person, challenge=challenge)
    assert exchange(client, confidential, code, verifier, auth="post").status_code == 200
