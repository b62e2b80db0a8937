"""Time-based one-time passwords (RFC 6238) for authenticator apps.

The secret is 160 bits from the CSPRNG (RFC 4226 4, R6 recommends 160), the code six
digits of HMAC-SHA1 over 30-second time steps: what every authenticator app reads
from an ``otpauth://`` URI. A code is accepted one step either side of the current
one (RFC 6238 5.2, clock drift) and each time step once: the store keeps the last
step used and takes only a later one, in one atomic update (RFC 6238 5.2: "MUST NOT
accept the second attempt of the OTP after the successful validation").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any

import pyotp

SECRET_BYTES = 20  # 160 bits (RFC 4226 4, R6)
DIGITS = 6
STEP_SECONDS = 30  # RFC 6238 5.2: the recommended time step
DRIFT_STEPS = 1  # steps accepted either side of the current one
Digest = Callable[..., Any]


def new_secret() -> bytes:
    """160 random bits from the CSPRNG."""
    return secrets.token_bytes(SECRET_BYTES)


def encoded(secret: bytes) -> str:
    """The secret as authenticator apps take it: base 32, no padding (RFC 4648 6)."""
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def step_at(now: float, step_seconds: int = STEP_SECONDS) -> int:
    """The time step T of RFC 6238 4.2: whole steps since the epoch (T0 = 0)."""
    return int(now // step_seconds)


def code_at(
    secret: bytes, step: int, *, digits: int = DIGITS, digest: Digest = hashlib.sha1
) -> str:
    """The code of ``step`` (RFC 6238 4.2: HOTP of the step counter, RFC 4226 5.3)."""
    return pyotp.TOTP(encoded(secret), digits=digits, digest=digest).generate_otp(step)


def matching_step(secret: bytes, code: str, now: float) -> int | None:
    """The time step within the drift window whose code is ``code``, or None. Every
    candidate is computed and compared in constant time, with no early exit, so the
    time taken says nothing about which step matched."""
    current = step_at(now)
    found: int | None = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(code_at(secret, step).encode(), code.encode()) and found is None:
            found = step
    return found


def otpauth_uri(secret: bytes, *, account: str, issuer: str) -> str:
    """The Key URI authenticator apps read (Google Authenticator's "Key Uri Format"):
    ``otpauth://totp/Issuer:account?secret=...&issuer=Issuer``, the defaults of
    RFC 6238 spelled out for apps that do not assume them."""
    totp = pyotp.TOTP(encoded(secret), digits=DIGITS, interval=STEP_SECONDS)
    return totp.provisioning_uri(name=account, issuer_name=issuer)
