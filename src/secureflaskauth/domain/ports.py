"""What the domain needs from the outside world, as small Protocols.

Adapters in ``secureflaskauth.adapters`` implement them; the domain imports
nothing else from outside itself.
"""

from __future__ import annotations

from typing import Protocol

from secureflaskauth.domain.models import (
    AuditEvent,
    Challenge,
    RefreshRecord,
    SentMessage,
    Session,
    SigningKeyRecord,
    User,
)
from secureflaskauth.domain.ratelimit import Rate


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class UserStore(Protocol):
    def add(self, user: User) -> None:
        """Insert a user; raise UsernameTaken if the canonical username exists."""
        ...

    def by_canonical_username(self, canonical: str) -> User | None: ...

    def by_id(self, user_id: str) -> User | None: ...

    def set_password_hash(self, user_id: str, password_hash: str) -> None: ...

    def record_otp_failure(
        self, user_id: str, *, now: float, threshold: int, lock_seconds: float
    ) -> tuple[int, float | None]:
        """Atomically count one wrong code; lock OTP sign-in when ``threshold`` is reached.

        Returns the new consecutive-failure count and the lock expiry, if locked.
        """
        ...

    def reset_otp_failures(self, user_id: str) -> None: ...

    def all(self) -> list[User]:
        """Every user, oldest first."""
        ...

    def set_disabled(self, user_id: str, disabled: bool) -> bool:
        """True if the user exists."""
        ...

    def delete(self, user_id: str) -> bool:
        """Delete the user with their challenges and sessions; True if it existed."""
        ...


class ChallengeStore(Protocol):
    def create(self, challenge: Challenge) -> None:
        """Store a new challenge and end every other open challenge of the same user."""
        ...

    def get(self, challenge_id: str) -> Challenge | None: ...

    def reserve_attempt(
        self, challenge_id: str, *, now: float, max_attempts: int
    ) -> Challenge | None:
        """Atomically take one try from a live challenge; None if it is not live.

        Taking the try before the code is compared bounds the guesses evaluated
        under concurrency to ``max_attempts`` (ASVS 6.6.3).
        """
        ...

    def consume(self, challenge_id: str, *, code_hash: str, now: float) -> bool:
        """Mark the challenge used if it is unused and still has this code; True exactly once."""
        ...

    def replace_code(
        self,
        challenge_id: str,
        *,
        code_hash: str,
        now: float,
        expires_at: float,
        cooldown: float,
        max_resends: int,
        max_attempts: int,
    ) -> Challenge | None:
        """Atomically swap in a new code if the challenge is live, out of cooldown and
        under its resend cap; None otherwise."""
        ...

    def kill(self, challenge_id: str) -> None: ...

    def kill_all_for_user(self, user_id: str) -> None: ...


class RateLimiter(Protocol):
    def hit(self, key: str, rate: Rate, *, now: float) -> float | None:
        """Count one event under ``key``; return seconds to wait if over the limit, else None."""
        ...

    def incr(self, key: str, *, period: int, now: float) -> int:
        """Count one event in the current window of ``period`` seconds; return the count."""
        ...

    def peek(self, key: str, *, period: int, now: float) -> int:
        """The count in the current window, without counting."""
        ...


class SmsSender(Protocol):
    def send(self, to_e164: str, body: str) -> None:
        """Hand one message to the provider; raise SmsProviderError on failure."""
        ...


class Outbox(Protocol):
    def recent(self, limit: int = 50) -> list[SentMessage]:
        """Messages sent through the development outbox, newest first."""
        ...


class KeyStore(Protocol):
    def all(self) -> list[SigningKeyRecord]:
        """Every stored signing key, oldest first."""
        ...

    def add(self, key: SigningKeyRecord) -> None: ...

    def retire(self, kid: str, *, at: float) -> None:
        """Schedule the key's retirement: after ``at`` it is neither used nor published."""
        ...


class SessionStore(Protocol):
    def create(self, session: Session, refresh_hash: str) -> None:
        """Store a new session with its first refresh token."""
        ...

    def get(self, session_id: str) -> Session | None: ...

    def for_user(self, user_id: str) -> list[Session]:
        """The user's sessions, newest first (active and ended)."""
        ...

    def touch(self, session_id: str, now: float) -> None: ...

    def revoke(self, session_id: str, *, now: float, reason: str) -> bool:
        """End one session; True if it was active until now."""
        ...

    def revoke_all_for_user(self, user_id: str, *, now: float, reason: str) -> list[Session]:
        """End every active session of the user; return the ones ended."""
        ...

    def get_refresh(self, token_hash: str) -> RefreshRecord | None: ...

    def rotate_refresh(
        self, old_hash: str, new_hash: str, *, session_id: str, now: float, successor: str
    ) -> bool:
        """Atomically mark ``old_hash`` rotated (if it was not) and store ``new_hash``;
        False if another request rotated it first."""
        ...


class RevocationList(Protocol):
    """Session ids whose access tokens must be refused before they expire."""

    def revoke(self, session_id: str, *, until: float) -> None: ...

    def is_revoked(self, session_id: str) -> bool: ...


class AuditLog(Protocol):
    def record(self, event: AuditEvent) -> None: ...

    def tail(self, *, limit: int, user_id: str | None = None) -> list[AuditEvent]:
        """The newest events, newest last."""
        ...


class FailureStore(Protocol):
    """Consecutive sign-in failures per key (a canonical username)."""

    def get(self, key: str) -> tuple[int, float] | None:
        """Failures and the time of the last one, or None."""
        ...

    def record_failure(self, key: str, *, now: float, quiet_reset: float) -> int:
        """Atomically count one failure (starting again from 1 when the last one is
        older than ``quiet_reset`` seconds); return the new count."""
        ...

    def reset(self, key: str) -> None: ...
