"""Access tokens: signed JWTs (RFC 9068 profile) and their strict verification (RFC 8725)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import MISSING, dataclass, fields
from typing import Any

import jwt

from secureflaskauth.domain.errors import InvalidToken
from secureflaskauth.domain.tokens.cache import VerifiedTokens
from secureflaskauth.domain.tokens.claims import AccessClaims
from secureflaskauth.domain.tokens.header import TOKEN_TYPE, expected_kid, unverified_header
from secureflaskauth.domain.tokens.keyring import KeyRing
from secureflaskauth.domain.tokens.keys import RSA_ALGORITHM, SigningKey

REQUIRED_CLAIMS = tuple(field.name for field in fields(AccessClaims) if field.default is MISSING)
# Carried by the tokens of an OpenID Connect client's sessions only (claims.py).
CLIENT_CLAIMS = ("client_id", "scope")
LEEWAY_SECONDS = 30
# The longest lifetime a token may have (the bound of SFA_ACCESS_TOKEN_TTL_SECONDS). A
# revocation lasts that long (Sessions.revoked_until), whatever this process's own
# setting: another process, or this one before a restart, may have issued tokens with
# a longer one.
MAX_TTL_SECONDS = 3600


@dataclass(frozen=True)
class TokenSettings:
    """What issuing and verifying need from the settings (JwtSettings, which holds the
    defaults and the bounds). Tokens are signed with the key ring's active key, in that
    key's algorithm."""

    issuer: str
    audience: str
    access_token_ttl_seconds: int
    # Tokens that verified, remembered by each process (tokens/cache.py); 0: none.
    verified_cache_size: int


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int
    jti: str


class AccessTokens:
    """Issues and verifies access tokens."""

    def __init__(self, settings: TokenSettings, keys: KeyRing, clock: Callable[[], float]) -> None:
        self._settings = settings
        self._keys = keys
        self._clock = clock
        self.verified = VerifiedTokens(keys, clock, settings.verified_cache_size)

    def issue(
        self,
        *,
        subject: str,
        session_id: str,
        amr: Sequence[str],
        client_id: str | None = None,
        scope: str | None = None,
    ) -> IssuedToken:
        """A token for the session; ``client_id`` and ``scope`` for a session of an
        OpenID Connect client (RFC 9068 2.2: the client it was issued to, and 2.2.3: the
        scope granted, which a resource server reads to decide what it allows)."""
        key = self._keys.active()
        now = int(self._clock())
        jti = secrets.token_urlsafe(16)
        claims = {
            "iss": self._settings.issuer,
            "aud": self._settings.audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + self._settings.access_token_ttl_seconds,
            "jti": jti,
            "sid": session_id,
            "amr": list(amr),
        }
        if client_id is not None:
            claims["client_id"] = client_id
            claims["scope"] = scope or ""
        token = jwt.encode(
            claims, key.private, algorithm=key.alg, headers={"kid": key.kid, "typ": TOKEN_TYPE}
        )
        return IssuedToken(token, self._settings.access_token_ttl_seconds, jti)

    def verify(self, token: str) -> AccessClaims:
        """Return the claims of a valid access token; raise InvalidToken otherwise.

        The same text verified before answers from memory while it is unexpired and its
        key still verifies (tokens/cache.py); anything else is checked in full."""
        claims = self.verified.get(token)
        if claims is None:
            claims, kid = self._verify(token)
            self.verified.put(token, claims, kid)
        return claims

    def verified_in_memory(self, token: str) -> AccessClaims | None:
        """The claims ``verify`` would return, when memory alone can say so (the token
        is remembered and the key ring is not due to be reloaded); else None, and the
        caller verifies the usual way. Never reads the key store."""
        return self.verified.get(token, from_memory=True)

    def _verify(self, token: str) -> tuple[AccessClaims, str]:
        header = unverified_header(token)
        key = self._key_for(header)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.public,
                algorithms=[key.alg],  # RFC 8725 3.1: an allow-list of one
                audience=self._settings.audience,
                issuer=[self._settings.issuer],  # exact match (a list avoids CVE-2024-53861)
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "strict_aud": True,
                    # PyJWT reads the wall clock; the times are checked in _checked
                    # against the injected clock instead.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(type(exc).__name__) from None
        return self._checked(claims), key.kid

    def _key_for(self, header: dict[str, Any]) -> SigningKey:
        key = self._keys.public(expected_kid(header))
        # An RSA key signs ID tokens only: a token it signed is never an access token.
        if key is None or header.get("alg") != key.alg or key.alg == RSA_ALGORITHM:
            raise InvalidToken("unknown kid or wrong alg")
        return key

    def _checked(self, claims: dict[str, Any]) -> AccessClaims:
        now = self._clock()
        # NumericDate (RFC 7519 2) as issued here: an int, never a bool, float or string.
        if any(type(claims[name]) is not int for name in ("iat", "nbf", "exp")):
            raise InvalidToken("bad time claim")
        if claims["exp"] <= now - LEEWAY_SECONDS:
            raise InvalidToken("expired")
        # Never longer-lived than a revocation lasts (MAX_TTL_SECONDS): no setting
        # issues such a token.
        if claims["exp"] - claims["iat"] > MAX_TTL_SECONDS:
            raise InvalidToken("lifetime over the longest allowed")
        if claims["nbf"] > now + LEEWAY_SECONDS or claims["iat"] > now + LEEWAY_SECONDS:
            raise InvalidToken("not yet valid")
        for name in ("sub", "jti", "sid"):
            if not isinstance(claims[name], str) or not claims[name]:
                raise InvalidToken(f"bad {name}")
        amr = claims["amr"]
        if not isinstance(amr, list) or not all(isinstance(method, str) for method in amr):
            raise InvalidToken("bad amr")
        client_id, scope = claims.get("client_id"), claims.get("scope")
        if client_id is not None and (not isinstance(client_id, str) or not client_id):
            raise InvalidToken("bad client_id")
        if (scope is None) != (client_id is None) or (scope is not None and type(scope) is not str):
            raise InvalidToken("bad scope")
        # iss and aud: PyJWT has compared them with the expected strings exactly.
        return AccessClaims(
            iss=claims["iss"],
            aud=claims["aud"],
            sub=claims["sub"],
            iat=claims["iat"],
            nbf=claims["nbf"],
            exp=claims["exp"],
            jti=claims["jti"],
            sid=claims["sid"],
            amr=tuple(amr),
            client_id=client_id,
            scope=scope,
        )
