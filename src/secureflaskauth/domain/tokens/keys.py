"""Signing keys: made with a random ``kid``, stored as PKCS#8 PEM (encrypted with a
passphrase when one is set), loaded back into typed key objects.

The service signs with EdDSA or ES256. An RSA key (RS256) exists only for the OpenID
Connect clients registered to receive RS256 ID tokens (OpenID Connect Core 15.1 asks
providers to offer it); it never signs an access token."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Literal, TypedDict, get_args

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from secureflaskauth.domain.errors import ConfigurationError
from secureflaskauth.domain.models import SigningKeyRecord

# ASVS 9.1.2 / Appendix C: asymmetric only, never HMAC; the service's own algorithm is
# one of these (access tokens, and ID tokens by default).
Algorithm = Literal["EdDSA", "ES256"]
SUPPORTED_ALGORITHMS: tuple[Algorithm, ...] = get_args(Algorithm)
# ID tokens only, for the clients registered with it (OpenID Connect Core 15.1).
RSA_ALGORITHM = "RS256"
RSA_KEY_BITS = 2048  # NIST SP 800-57 Part 1: 112-bit security, the floor through 2030
# What an ID token may be signed with: the service's algorithms, and RS256.
ID_TOKEN_ALGORITHMS: tuple[str, ...] = (*SUPPORTED_ALGORITHMS, RSA_ALGORITHM)


class _PublicKeyMembers(TypedDict):
    kty: Literal["OKP", "EC", "RSA"]
    kid: str
    alg: Literal["EdDSA", "ES256", "RS256"]
    use: Literal["sig"]


# total=False rather than NotRequired[], which Python 3.11 does not see in a string
# annotation (``from __future__ import annotations``).
class Jwk(_PublicKeyMembers, total=False):
    """A published public key (RFC 7517 4; RFC 8037 2 for OKP, RFC 7518 6.2 for EC,
    RFC 7518 6.3 for RSA)."""

    crv: Literal["Ed25519", "P-256"]  # OKP and EC
    x: str  # OKP and EC
    y: str  # EC only
    n: str  # RSA only
    e: str  # RSA only


PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey


@dataclass(frozen=True)
class SigningKey:
    """A stored key with its key material loaded."""

    record: SigningKeyRecord
    private: PrivateKey
    public: PublicKey

    @property
    def kid(self) -> str:
        return self.record.kid

    @property
    def alg(self) -> str:
        return self.record.alg


def key_state(record: SigningKeyRecord, now: float) -> str:
    """``retired`` once its retirement time has passed (every token it signed has
    expired), ``published`` while it waits for that, ``current`` otherwise."""
    if record.retired_at is None:
        return "current"
    return "retired" if record.retired_at <= now else "published"


def _encryption(passphrase: str | None) -> serialization.KeySerializationEncryption:
    if passphrase:
        return serialization.BestAvailableEncryption(passphrase.encode("utf-8"))
    return serialization.NoEncryption()


def generate_key(algorithm: str, now: float, passphrase: str | None = None) -> SigningKeyRecord:
    """A fresh signing key with a random ``kid``; encrypted at rest with ``passphrase``."""
    private: PrivateKey
    if algorithm == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
        jwk = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
    elif algorithm == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
        jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    elif algorithm == RSA_ALGORITHM:
        private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
        jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    else:
        raise ConfigurationError(f"unsupported signing algorithm {algorithm!r}")
    kid = secrets.token_urlsafe(12)
    jwk.update({"kid": kid, "alg": algorithm, "use": "sig"})
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        _encryption(passphrase),
    ).decode("ascii")
    return SigningKeyRecord(kid, algorithm, pem, json.dumps(jwk, sort_keys=True), now)


def load_key(record: SigningKeyRecord, passphrase: bytes | None) -> SigningKey:
    """The key material of a stored key; ConfigurationError when it cannot be read."""
    encrypted = "ENCRYPTED" in record.private_pem.split("\n", 1)[0]
    if encrypted and passphrase is None:
        raise ConfigurationError(
            f"signing key {record.kid} is encrypted: set SFA_KEY_ENCRYPTION_KEY"
        )
    try:
        private = serialization.load_pem_private_key(
            record.private_pem.encode(), passphrase if encrypted else None
        )
    except ValueError:
        raise ConfigurationError(
            f"signing key {record.kid} cannot be decrypted with SFA_KEY_ENCRYPTION_KEY"
        ) from None
    if not isinstance(
        private, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    ):
        raise ConfigurationError(f"signing key {record.kid} is of an unsupported type")
    return SigningKey(record, private, private.public_key())
