"""Access tokens: signed JWTs (RFC 9068 profile) and their strict verification (RFC 8725)."""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jwt.algorithms import ECAlgorithm, OKPAlgorithm

from secureflaskauth.domain.errors import ConfigurationError, InvalidToken
from secureflaskauth.domain.models import SigningKeyRecord
from secureflaskauth.domain.ports import KeyStore

# ASVS 9.1.2 / Appendix C: asymmetric only, never RS256.
SUPPORTED_ALGORITHMS = ("EdDSA", "ES256")
TOKEN_TYPE = "at+jwt"  # noqa: S105 (RFC 9068 2.1; a media type, not a secret)
REQUIRED_CLAIMS = ("iss", "aud", "sub", "iat", "nbf", "exp", "jti", "sid", "amr")
# Header members we produce. Anything else (jwk, jku, x5u, x5c, crit...) is refused:
# key material is never taken from the token (RFC 8725 3.10, ASVS 9.1.3).
_ALLOWED_HEADER = frozenset({"alg", "typ", "kid"})
MAX_TOKEN_LENGTH = 4096
_COMPACT_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
LEEWAY_SECONDS = 30
KEYRING_REFRESH_SECONDS = 10.0
# An unknown kid reloads the keys at most this often: a key another process has just
# added is found at once, and forged kids cost at most one query per interval.
UNKNOWN_KID_RELOAD_SECONDS = 0.1


@dataclass(frozen=True)
class TokenSettings:
    issuer: str
    audience: str
    algorithm: str = "EdDSA"
    ttl_seconds: int = 900

    def check(self) -> None:
        if self.algorithm not in SUPPORTED_ALGORITHMS:
            raise ConfigurationError(
                f"JWT algorithm must be one of {', '.join(SUPPORTED_ALGORITHMS)}"
            )
        if not 60 <= self.ttl_seconds <= 3600:
            raise ConfigurationError("access token lifetime must be 60 to 3600 seconds")


def _pem_encryption(passphrase: str | None) -> serialization.KeySerializationEncryption:
    if passphrase:
        return serialization.BestAvailableEncryption(passphrase.encode("utf-8"))
    return serialization.NoEncryption()


def generate_key(algorithm: str, now: float, passphrase: str | None = None) -> SigningKeyRecord:
    """A fresh signing key with a random ``kid``; encrypted at rest with ``passphrase``."""
    private: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
    if algorithm == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
        jwk = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
    elif algorithm == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
        jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    else:
        raise ConfigurationError(f"unsupported signing algorithm {algorithm!r}")
    kid = secrets.token_urlsafe(12)
    jwk.update({"kid": kid, "alg": algorithm, "use": "sig"})
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        _pem_encryption(passphrase),
    ).decode("ascii")
    return SigningKeyRecord(kid, algorithm, pem, json.dumps(jwk, sort_keys=True), now)


@dataclass(frozen=True)
class _LoadedKey:
    record: SigningKeyRecord
    private: Any
    public: Any


def key_state(record: SigningKeyRecord, now: float) -> str:
    """``retired`` once its retirement time has passed (every token it signed has
    expired), ``published`` while it waits for that, ``current`` otherwise."""
    if record.retired_at is None:
        return "current"
    return "retired" if record.retired_at <= now else "published"


class KeyRing:
    """The signing keys in memory, reloaded from the store at most every ``refresh``
    seconds, so a key added by another process is picked up without a restart.

    The newest key that is not being retired signs; every key not yet retired verifies
    and is published in the JWKS.
    """

    def __init__(
        self,
        load: Callable[[], Sequence[SigningKeyRecord]],
        clock: Callable[[], float],
        refresh_seconds: float = KEYRING_REFRESH_SECONDS,
        passphrase: str | None = None,
    ) -> None:
        self._load = load
        self._clock = clock
        self._passphrase = passphrase.encode("utf-8") if passphrase else None
        self._refresh = refresh_seconds
        self._lock = threading.Lock()
        self._keys: dict[str, _LoadedKey] = {}
        self._active: _LoadedKey | None = None
        self._loaded_at = float("-inf")
        self.reload()

    def reload(self) -> None:
        now = self._clock()
        keys = {}
        for record in self._load():
            if key_state(record, now) == "retired":
                continue
            keys[record.kid] = _LoadedKey(record, *self._private_and_public(record))
        current = [k for k in keys.values() if key_state(k.record, now) == "current"]
        with self._lock:
            self._keys = keys
            self._active = max(current, key=lambda k: k.record.created_at, default=None)
            self._loaded_at = now

    def _private_and_public(self, record: SigningKeyRecord) -> tuple[Any, Any]:
        encrypted = "ENCRYPTED" in record.private_pem.split("\n", 1)[0]
        if encrypted and self._passphrase is None:
            raise ConfigurationError(
                f"signing key {record.kid} is encrypted: set SFA_KEY_ENCRYPTION_KEY"
            )
        try:
            private = serialization.load_pem_private_key(
                record.private_pem.encode(), self._passphrase if encrypted else None
            )
        except ValueError:
            raise ConfigurationError(
                f"signing key {record.kid} cannot be decrypted with SFA_KEY_ENCRYPTION_KEY"
            ) from None
        return private, private.public_key()

    def _maybe_reload(self) -> None:
        if self._clock() - self._loaded_at >= self._refresh:
            self.reload()

    def active(self) -> _LoadedKey:
        self._maybe_reload()
        if self._active is None:
            raise ConfigurationError("no signing key: run 'secureflaskauth keys rotate'")
        return self._active

    def public(self, kid: str) -> _LoadedKey | None:
        self._maybe_reload()
        key = self._keys.get(kid)
        if key is None and self._clock() - self._loaded_at >= UNKNOWN_KID_RELOAD_SECONDS:
            # Another process may sign with a key added since the last reload: a token
            # from another node must not be refused until this one reloads too.
            self.reload()
            key = self._keys.get(kid)
        if key is None or key_state(key.record, self._clock()) == "retired":
            return None
        return key

    def jwks(self) -> dict[str, Any]:
        """The published key set (RFC 7517), public members only."""
        self._maybe_reload()
        return {"keys": [json.loads(k.record.public_jwk) for k in self._keys.values()]}


def _unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header, read only to pick the key. ``jwt.decode`` parses the same bytes
    again, strictly, and checks them with the signature; this avoids PyJWT's
    ``get_unverified_header``, which decodes and checks all three segments (about a
    tenth of the cost of /auth/private)."""
    segment = token.partition(".")[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        raise InvalidToken("malformed header") from None
    if not isinstance(header, dict):
        raise InvalidToken("malformed header")
    return header


def rotate_keys(
    store: KeyStore, *, algorithm: str, now: float, access_ttl: int, passphrase: str | None
) -> SigningKeyRecord:
    """Add a new signing key; schedule the current ones for retirement once every
    token they may still sign (until each process reloads its key ring) has expired."""
    new = generate_key(algorithm, now, passphrase)
    older = [k for k in store.all() if k.retired_at is None]
    store.add(new)
    retire_at = now + access_ttl + LEEWAY_SECONDS + KEYRING_REFRESH_SECONDS
    for key in older:
        store.retire(key.kid, at=retire_at)
    return new


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int
    jti: str


class AccessTokens:
    """Issues and verifies access tokens."""

    def __init__(self, settings: TokenSettings, keys: KeyRing, clock: Callable[[], float]) -> None:
        settings.check()
        self._settings = settings
        self._keys = keys
        self._clock = clock

    def issue(self, *, subject: str, session_id: str, amr: Sequence[str]) -> IssuedToken:
        key = self._keys.active()
        now = int(self._clock())
        jti = secrets.token_urlsafe(16)
        claims = {
            "iss": self._settings.issuer,
            "aud": self._settings.audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + self._settings.ttl_seconds,
            "jti": jti,
            "sid": session_id,
            "amr": list(amr),
        }
        token = jwt.encode(
            claims,
            key.private,
            algorithm=key.record.alg,
            headers={"kid": key.record.kid, "typ": TOKEN_TYPE},
        )
        return IssuedToken(token, self._settings.ttl_seconds, jti)

    def verify(self, token: str) -> dict[str, Any]:
        """Return the claims of a valid access token; raise InvalidToken otherwise."""
        if len(token) > MAX_TOKEN_LENGTH or not _COMPACT_JWS.match(token):
            raise InvalidToken("malformed")
        key = self._key_for(_unverified_header(token))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.public,
                algorithms=[key.record.alg],  # RFC 8725 3.1: an allow-list of one
                audience=self._settings.audience,
                issuer=[self._settings.issuer],  # exact match (a list avoids CVE-2024-53861)
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "strict_aud": True,
                    # PyJWT reads the wall clock; the times are checked in _check_claims
                    # against the injected clock instead.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(type(exc).__name__) from None
        self._check_claims(claims)
        return claims

    def _key_for(self, header: dict[str, Any]) -> _LoadedKey:
        if not set(header) <= _ALLOWED_HEADER:
            raise InvalidToken("unexpected header member")
        # RFC 8725 3.11, RFC 9068 4 (which also allows the full media type)
        if header.get("typ") not in (TOKEN_TYPE, "application/" + TOKEN_TYPE):
            raise InvalidToken("wrong typ")
        kid = header.get("kid")
        if not isinstance(kid, str) or len(kid) > 64:
            raise InvalidToken("bad kid")
        key = self._keys.public(kid)
        if key is None or header.get("alg") != key.record.alg:
            raise InvalidToken("unknown kid or wrong alg")
        return key

    def _check_claims(self, claims: dict[str, Any]) -> None:
        now = self._clock()
        # NumericDate (RFC 7519 2) as issued here: an int, never a bool, float or string.
        if any(type(claims[name]) is not int for name in ("iat", "nbf", "exp")):
            raise InvalidToken("bad time claim")
        if claims["exp"] <= now - LEEWAY_SECONDS:
            raise InvalidToken("expired")
        if claims["nbf"] > now + LEEWAY_SECONDS or claims["iat"] > now + LEEWAY_SECONDS:
            raise InvalidToken("not yet valid")
        for name in ("sub", "jti", "sid"):
            if not isinstance(claims[name], str) or not claims[name]:
                raise InvalidToken(f"bad {name}")
        if not isinstance(claims["amr"], list):
            raise InvalidToken("bad amr")
