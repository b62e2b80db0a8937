"""Brute-force protection per account: a growing delay, then an admin-only lock
(NIST SP 800-63B-4 3.2.2, ASVS 6.3.1).

Failures (wrong passwords and wrong codes) are counted per canonical username,
whether or not the account exists, so a lock reveals nothing about existence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from secureflaskauth.domain.errors import DomainError, TooManyRequests
from secureflaskauth.domain.ports import Clock, FailureStore


@dataclass(frozen=True)
class LockoutPolicy:
    threshold: int = 5  # failures before the first delay
    base_seconds: int = 30  # first delay; doubles with each further failure
    max_seconds: int = 900  # the delay never grows beyond this
    quiet_reset_seconds: int = 12 * 3600  # failures older than this are forgotten
    disable_after: int = 100  # NIST: at most 100 consecutive failures, then disable

    def delay(self, failures: int) -> int:
        if failures < self.threshold:
            return 0
        exponent = min(failures - self.threshold, 32)
        return int(min(self.base_seconds * 2**exponent, self.max_seconds))


class SignInDisabled(DomainError):
    """Too many consecutive failures: only an administrator can re-enable sign-in."""

    status = 423
    slug = "sign-in-disabled"
    title = "Sign-in disabled"

    def __init__(self) -> None:
        super().__init__(
            "Sign-in is disabled after too many failed attempts. Contact an administrator."
        )


class AccountGuard:
    def __init__(self, store: FailureStore, clock: Clock, policy: LockoutPolicy) -> None:
        self.store = store
        self.clock = clock
        self.policy = policy

    def check(self, key: str) -> None:
        """Refuse an attempt while the account is delayed or disabled. Refused attempts
        are not counted, so waiting out a delay always works (Keycloak KEYCLOAK-5420)."""
        state = self.store.get(key)
        if state is None:
            return
        failures, last_failure_at = state
        now = self.clock.now()
        if failures >= self.policy.disable_after:
            raise SignInDisabled()
        if now - last_failure_at >= self.policy.quiet_reset_seconds:
            return
        wait = last_failure_at + self.policy.delay(failures) - now
        if wait > 0:
            raise TooManyRequests(
                "Too many failed attempts. Please wait before trying again.",
                retry_after=max(1, math.ceil(wait)),
            )

    def failed(self, key: str) -> int:
        """Count one failure; return the consecutive failures so far."""
        return self.store.record_failure(
            key, now=self.clock.now(), quiet_reset=self.policy.quiet_reset_seconds
        )

    def succeeded(self, key: str) -> None:
        self.store.reset(key)
