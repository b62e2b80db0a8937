"""An API that accepts SecureFlaskAuth's access tokens, verified offline: the signing
keys come from the service's JWKS (fetched once, then again only for a new kid). Given
a ``client_id``, it serves only the tokens issued to that OpenID Connect client (their
``client_id`` claim, RFC 9068 2.2): not the service's own sign-ins, nor another app's."""

from __future__ import annotations

import os

import jwt
from flask import Flask, request
from werkzeug.wrappers import Response


def create_api(
    issuer: str, token_issuer: str, audience: str, client_id: str | None = None
) -> Flask:
    api = Flask(__name__)
    keys = jwt.PyJWKClient(f"{issuer}/.well-known/jwks.json")

    @api.get("/hello")
    def hello() -> dict[str, str] | Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            if (
                scheme.lower() != "bearer"
                or jwt.get_unverified_header(token).get("typ") != "at+jwt"
            ):
                raise jwt.InvalidTokenError("not an access token")
            claims = jwt.decode(
                token,
                keys.get_signing_key_from_jwt(token),
                algorithms=["EdDSA", "ES256"],  # the service's; never "none" or HS256
                audience=audience,
                issuer=token_issuer,
                options={"require": ["exp", "iat", "sub", "sid"]},
            )
            if client_id is not None and claims.get("client_id") != client_id:
                raise jwt.InvalidTokenError("issued to another client, or to none")
        except jwt.PyJWTError:
            return Response("", 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return {"message": f"Hello, {claims['sub']}", "signed_in_with": " ".join(claims["amr"])}

    return api


if __name__ == "__main__":
    create_api(
        os.environ.get("SERVICE_URL", f"http://localhost:{os.environ.get('SFA_PORT', '5000')}"),
        os.environ.get("SFA_JWT_ISSUER", "secureflaskauth"),
        os.environ.get("SFA_JWT_AUDIENCE", "secureflaskauth"),
        os.environ.get("CLIENT_ID"),
    ).run(port=8001)
