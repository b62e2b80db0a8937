"""The Bearer access token of a request (RFC 6750), checked for the routes that
declare ``bearer=True``."""

from __future__ import annotations

from flask import request

from secureflaskauth import wiring
from secureflaskauth.api.errors import MissingToken
from secureflaskauth.domain.errors import InvalidToken
from secureflaskauth.domain.tokens import AccessClaims


def bearer_token() -> str:
    """The token from the one Authorization header (RFC 6750 2.1); nowhere else."""
    values = request.headers.getlist("Authorization")
    if not values:
        raise MissingToken("no Authorization header")
    if len(values) != 1:
        raise InvalidToken("repeated Authorization header")
    scheme, _, token = values[0].partition(" ")
    if scheme.lower() != "bearer":
        raise MissingToken("not a Bearer credential")
    token = token.strip()
    # Swagger UI adds "Bearer " itself; people following the seed's instructions
    # type "Bearer <token>" into it as well. Accept that one doubled prefix.
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    if not token or " " in token:
        raise InvalidToken("malformed Bearer credential")
    return token


def authenticate() -> AccessClaims:
    """The claims of the request's access token, its session checked for revocation."""
    return wiring.current().sessions.authenticate(bearer_token())
