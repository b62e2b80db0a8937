"""The Bearer access token of a request (RFC 6750), checked for the routes that
declare ``bearer=True``."""

from __future__ import annotations

from flask import request

from secureflaskauth import wiring
from secureflaskauth.api.errors import MissingToken
from secureflaskauth.domain.errors import InvalidToken
from secureflaskauth.domain.tokens import AccessClaims

# The WSGI environ key of claims checked before the app ran (api/inline.py). Only the
# server's code writes environ keys other than the request's HTTP_* and CGI ones.
CHECKED_CLAIMS = "secureflaskauth.checked_claims"


def bearer_token() -> str:
    """The token from the Authorization header (RFC 6750 2.1); nowhere else. The WSGI
    environ holds one value a header (read straight from it: the header mapping would
    walk the whole environ): servers join a repeated header with commas, so a repeated
    one reads "Bearer <token>,Bearer <token>" and is refused as malformed."""
    value = request.environ.get("HTTP_AUTHORIZATION")
    if value is None:
        raise MissingToken("no Authorization header")
    return _token_in(value)


def token_in(authorization: str | None) -> str | None:
    """The token ``bearer_token`` would take from this header value, or None where it
    would refuse it (api/inline.py asks before the request runs)."""
    if authorization is None:
        return None
    try:
        return _token_in(authorization)
    except (MissingToken, InvalidToken):
        return None


def _token_in(value: str) -> str:
    scheme, _, token = value.partition(" ")
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
    """The claims of the request's access token, its session checked for revocation:
    by the server's event loop just before the app runs, when it could tell from
    memory alone (api/inline.py, which hands the claims over in the environ under
    CHECKED_CLAIMS), else here."""
    checked = request.environ.get(CHECKED_CLAIMS)
    if isinstance(checked, AccessClaims):
        return checked
    return wiring.current().sessions.authenticate(bearer_token())
