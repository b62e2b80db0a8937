"""The claims of a verified access token, as the rest of the service reads them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """The claims of an access token that verified, each checked (tokens/access.py):
    every access token carries all of them without a default (RFC 9068 2.2, plus
    ``sid`` and ``amr``); a token issued to an OpenID Connect client carries its
    ``client_id`` and the ``scope`` granted too (RFC 9068 2.2, 2.2.3). The API's own
    sign-ins have no OAuth client, and no such claims."""

    iss: str
    aud: str
    sub: str
    iat: int
    nbf: int
    exp: int
    jti: str
    sid: str
    amr: tuple[str, ...]
    client_id: str | None = None
    scope: str | None = None
