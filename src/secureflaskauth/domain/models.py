"""Plain records the domain passes to and from its ports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    username_canonical: str
    password_hash: str
    phone_e164: str
    created_at: float
    disabled: bool = False
    otp_failures: int = 0
    otp_locked_until: float | None = None


@dataclass(frozen=True, slots=True)
class Challenge:
    """A pending second factor: one login transaction waiting for its SMS code.

    ``id`` is a hash of the session_id handed to the client, so a database dump
    does not reveal live session ids; ``code_hash`` is a keyed hash of the code.
    """

    id: str
    user_id: str
    code_hash: str
    created_at: float
    expires_at: float
    last_sent_at: float
    attempts: int = 0
    resends: int = 0
    used_at: float | None = None

    def is_alive(self, now: float, max_attempts: int) -> bool:
        return self.used_at is None and self.expires_at > now and self.attempts < max_attempts


@dataclass(frozen=True, slots=True)
class SigningKeyRecord:
    """A signing key as stored: PEM private key and its public JWK (JSON text)."""

    kid: str
    alg: str
    private_pem: str
    public_jwk: str
    created_at: float
    retired_at: float | None = None


@dataclass(frozen=True, slots=True)
class SentMessage:
    to: str
    body: str
    sent_at: float
