"""Brute-force protection per account: a growing delay, then an admin-only lock
(NIST SP 800-63B-4 3.2.2, ASVS 6.3.1).

Failures (wrong passwords and wrong codes) are counted per canonical username,
whether or not the account exists, so a lock reveals nothing about existence.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from secureflaskauth.domain.errors import DomainError, TooManyRequests
from secureflaskauth.domain.ports import Clock, FailureState, FailureStore


@dataclass(frozen=True)
class LockoutPolicy:
    """The values, their defaults and bounds are the settings' (LockoutSettings)."""

    threshold: int  # failures before the first delay
    base_seconds: int  # first delay; doubles with each further failure
    max_seconds: int  # the delay never grows beyond this
    quiet_reset_seconds: int  # failures older than this are forgotten
    disable_after: int  # NIST: at most 100 consecutive failures, then disable

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


@dataclass(frozen=True)
class Claim:
    """One attempt taken for a key: the state before it and the state it wrote."""

    key: str
    before: FailureState | None
    taken: FailureState

    @property
    def failures(self) -> int:
        return self.taken[0]


# Attempts that lose a compare-and-set to a concurrent one read the state again; this
# many losses in a row means a flood on one key, which is refused rather than waited on.
MAX_CLAIM_TRIES = 50
# An attempt refused only because others are still being checked waits for their
# outcome (they may be right passwords, which give their attempt back) this long at
# most, polling with a growing pause.
CLAIM_WAIT_SECONDS = 5.0
_FIRST_PAUSE, _LONGEST_PAUSE = 0.02, 0.2
# A claimed attempt unresolved this long was lost with its process: not in flight.
IN_FLIGHT_SECONDS = 30.0


class AccountGuard:
    def __init__(
        self,
        store: FailureStore,
        clock: Clock,
        policy: LockoutPolicy,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.clock = clock
        self.policy = policy
        self._sleep = sleep

    def _refuse_while_delayed(self, state: FailureState | None, now: float) -> int:
        """Raise while the key is delayed or disabled; else the failures that count."""
        if state is None:
            return 0
        failures, last_failure_at, _ = state
        if failures >= self.policy.disable_after:
            raise SignInDisabled()
        if now - last_failure_at >= self.policy.quiet_reset_seconds:
            return 0  # forgotten after a quiet period
        wait = last_failure_at + self.policy.delay(failures) - now
        if wait > 0:
            raise TooManyRequests(
                "Too many failed attempts. Please wait before trying again.",
                retry_after=max(1, math.ceil(wait)),
            )
        return failures

    @staticmethod
    def _in_flight(state: FailureState | None, now: float) -> int:
        if state is None or now - state[1] >= IN_FLIGHT_SECONDS:
            return 0
        return state[2]

    def claim(self, key: str) -> Claim:
        """Take one attempt before the secret is checked, counted as a failure at once.

        Refused (429, or 423 once disabled) while the key is delayed; refused attempts
        are not counted, so waiting out a delay always works (Keycloak KEYCLOAK-5420).
        The check and the count are one compare-and-set, so attempts sent together are
        evaluated only as far as the policy allows: the free tries, then one per delay
        window (NIST SP 800-63B-4 3.2.2). An attempt refused only because of others
        still being checked waits for them: right passwords give their attempt back
        (``release``), so sign-ins of one account at the same moment all go through.
        """
        waited, pause = 0.0, _FIRST_PAUSE
        for _ in range(MAX_CLAIM_TRIES):
            state = self.store.get(key)
            now = self.clock.now()
            in_flight = self._in_flight(state, now)
            try:
                failures = self._refuse_while_delayed(state, now)
            except TooManyRequests:
                if not in_flight or waited >= CLAIM_WAIT_SECONDS:
                    raise
                self._sleep(pause)
                waited, pause = waited + pause, min(pause * 2, _LONGEST_PAUSE)
                continue
            taken = (failures + 1, now, in_flight + 1)
            if self.store.swap(key, expected=state, new=taken):
                return Claim(key, state, taken)
        raise TooManyRequests("Too many attempts at once. Please try again.", retry_after=1)

    def confirm(self, claim: Claim) -> None:
        """The secret was wrong: the attempt stays counted, and is no longer in flight."""
        self._resolve(claim, wrong=True)

    def release(self, claim: Claim) -> None:
        """The secret was right: the claimed attempt was no failure after all."""
        self._resolve(claim, wrong=False)

    def _resolve(self, claim: Claim, *, wrong: bool) -> None:
        for _ in range(MAX_CLAIM_TRIES):
            state = self.store.get(claim.key)
            if state is None:
                return
            failures, last_failure_at, in_flight = state
            resolved: FailureState | None
            if not wrong and state == claim.taken:
                resolved = claim.before  # nothing happened since: as it was
            else:
                failures -= 0 if wrong else 1
                resolved = (failures, last_failure_at, max(0, in_flight - 1))
                if failures <= 0 and not resolved[2]:
                    resolved = None
            if self.store.swap(claim.key, expected=state, new=resolved):
                return

    def failed(self, key: str) -> int:
        """Count one failure without a check; return the consecutive failures so far."""
        return self.store.record_failure(
            key, now=self.clock.now(), quiet_reset=self.policy.quiet_reset_seconds
        )

    def succeeded(self, key: str) -> None:
        self.store.reset(key)
