"""ID tokens (OpenID Connect Core 2), signed with the service's key ring through PyJWT:
in the service's algorithm, or RS256 for the clients registered for it."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from secureflaskauth.domain.errors import InvalidToken
from secureflaskauth.domain.models import OAuthClient
from secureflaskauth.domain.oidc.claims import acr_of
from secureflaskauth.domain.tokens.header import MAX_TOKEN_LENGTH, unverified_header
from secureflaskauth.domain.tokens.keyring import KeyRing

# not at+jwt: an ID token is never taken for an access token (a media type, no secret)
ID_TOKEN_TYPE = "JWT"  # noqa: S105


def half_hash(value: str, algorithm: str) -> str:
    """``at_hash`` (Core 3.1.3.6): the left half of the hash of ``value`` with the hash
    of the signing algorithm, base64url; SHA-512 for EdDSA with Ed25519 (as the OpenID
    Foundation's errata and every major provider read it)."""
    digest = (hashlib.sha512 if algorithm == "EdDSA" else hashlib.sha256)(value.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class IdTokenHint:
    """What logout reads from an ID token it issued (``id_token_hint``)."""

    subject: str
    audience: tuple[str, ...]
    session_id: str | None


class IdTokens:
    def __init__(
        self, keys: KeyRing, clock: Callable[[], float], *, issuer: str, ttl_seconds: int
    ) -> None:
        self._keys = keys
        self._clock = clock
        self.issuer = issuer
        self._ttl = ttl_seconds

    def algorithm(self, client: OAuthClient) -> str:
        """The algorithm of the client's ID tokens: RS256 if registered so, else the
        service's (the algorithm of its active key)."""
        return self._keys.active(client.id_token_alg).alg

    def issue(
        self,
        client: OAuthClient,
        *,
        subject: str,
        auth_time: float,
        amr: Sequence[str],
        nonce: str | None,
        access_token: str,
        session_id: str,
        claims: dict[str, Any] | None = None,
    ) -> str:
        key = self._keys.active(client.id_token_alg)
        now = int(self._clock())
        payload: dict[str, Any] = {
            **(claims or {}),
            "iss": self.issuer,
            "sub": subject,
            "aud": client.client_id,
            "iat": now,
            "exp": now + self._ttl,
            "auth_time": int(auth_time),
            "amr": list(amr),
            "acr": acr_of(amr),
            "at_hash": half_hash(access_token, key.alg),
            "sid": session_id,
        }
        if nonce is not None:
            payload["nonce"] = nonce
        return jwt.encode(
            payload,
            key.private,
            algorithm=key.alg,
            headers={"kid": key.kid, "typ": ID_TOKEN_TYPE},
        )

    def read_hint(self, token: str) -> IdTokenHint:
        """An ID token this service signed, for RP-initiated logout: signature and issuer
        checked; expiry not, as a hint may be presented after it (RP-Initiated Logout
        1.0, 2). InvalidToken otherwise."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("too long")
        header = unverified_header(token)
        kid = header.get("kid")
        key = self._keys.public(kid) if isinstance(kid, str) and len(kid) <= 64 else None
        if key is None or header.get("alg") != key.alg or header.get("typ") != ID_TOKEN_TYPE:
            raise InvalidToken("not an ID token of this service")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.public,
                algorithms=[key.alg],
                issuer=[self.issuer],
                options={
                    "require": ["iss", "sub", "aud"],
                    "verify_aud": False,  # the caller compares it with the client
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(type(exc).__name__) from None
        aud = claims["aud"]
        audience = (aud,) if isinstance(aud, str) else tuple(a for a in aud if isinstance(a, str))
        sid = claims.get("sid")
        if not isinstance(claims["sub"], str):
            raise InvalidToken("bad sub")
        return IdTokenHint(claims["sub"], audience, sid if isinstance(sid, str) else None)
