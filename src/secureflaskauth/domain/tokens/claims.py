"""The claims of a verified access token, as the rest of the service reads them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """The claims of an access token that verified, each checked (tokens/access.py):
    every access token carries all of them (RFC 9068 2.2, plus ``sid`` and ``amr``)."""

    iss: str
    aud: str
    sub: str
    iat: int
    nbf: int
    exp: int
    jti: str
    sid: str
    amr: tuple[str, ...]
