"""The JOSE header of a presented token, read only to choose the verifying key."""

from __future__ import annotations

import base64
import binascii
import json
import re

from secureflaskauth.domain.errors import InvalidToken

TOKEN_TYPE = "at+jwt"  # noqa: S105 (RFC 9068 2.1; a media type, not a secret)
MAX_TOKEN_LENGTH = 4096
# Header members we produce. Anything else (jwk, jku, x5u, x5c, crit...) is refused:
# key material is never taken from the token (RFC 8725 3.10, ASVS 9.1.3).
ALLOWED_HEADER = frozenset({"alg", "typ", "kid"})
_COMPACT_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


def unverified_header(token: str) -> dict[str, object]:
    """The header of a compact JWS, checked for shape only; the signature check
    (PyJWT's decode) parses the same bytes again, strictly.

    Not PyJWT's ``get_unverified_header``, which decodes and checks all three
    segments (about a tenth of the cost of /auth/private)."""
    if len(token) > MAX_TOKEN_LENGTH or not _COMPACT_JWS.match(token):
        raise InvalidToken("malformed")
    segment = token.partition(".")[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        raise InvalidToken("malformed header") from None
    if not isinstance(header, dict):
        raise InvalidToken("malformed header")
    return header


def expected_kid(header: dict[str, object]) -> str:
    """The ``kid`` of a header that has only the members we produce and our ``typ``."""
    if not set(header) <= ALLOWED_HEADER:
        raise InvalidToken("unexpected header member")
    # RFC 8725 3.11, RFC 9068 4 (which also allows the full media type)
    if header.get("typ") not in (TOKEN_TYPE, "application/" + TOKEN_TYPE):
        raise InvalidToken("wrong typ")
    kid = header.get("kid")
    if not isinstance(kid, str) or len(kid) > 64:
        raise InvalidToken("bad kid")
    return kid
