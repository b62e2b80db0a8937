"""One-time codes sent by SMS: generation, keyed hashing and the rules of a challenge."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

CODE_DIGITS = 6
_CODE = re.compile(r"^[0-9]{6}$")


@dataclass(frozen=True)
class OtpPolicy:
    """Limits of one login transaction and of an account (NIST SP 800-63B-4 3.1.3, 3.2.2)."""

    ttl_seconds: int = 300
    max_attempts: int = 5
    resend_cooldown_seconds: int = 30
    max_resends: int = 3
    account_max_failures: int = 10
    account_lock_seconds: int = 900


def new_code() -> str:
    """Six decimal digits from the CSPRNG, leading zeros kept (NIST SP 800-63B-4 3.1.3.2)."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def looks_like_code(text: str) -> bool:
    return bool(_CODE.fullmatch(text))  # fullmatch: "$" alone accepts a trailing newline


def new_session_id() -> str:
    """256 random bits, URL-safe (ASVS 7.2.3 asks for at least 128)."""
    return secrets.token_urlsafe(32)


def challenge_id(session_id: str) -> str:
    """The stored key of a challenge: a hash of the session id, never the id itself."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def code_hash(key: bytes, challenge: str, code: str) -> str:
    """HMAC-SHA256 over the challenge and the code: a database dump alone cannot
    brute-force the million possible codes (OWASP MFA CS, "Hashing OTPs")."""
    return hmac.new(key, f"{challenge}:{code}".encode(), hashlib.sha256).hexdigest()


def code_matches(key: bytes, challenge: str, code: str, stored_hash: str) -> bool:
    # ASVS 11.2.4: constant-time comparison.
    return hmac.compare_digest(code_hash(key, challenge, code), stored_hash)


def sms_text(app_name: str, code: str, ttl_seconds: int) -> str:
    """Minimal message: nothing but the code and its lifetime (OWASP MFA CS)."""
    minutes = max(1, ttl_seconds // 60)
    return f"{app_name} code: {code}. Expires in {minutes} min. Never share it."
