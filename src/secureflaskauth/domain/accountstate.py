"""An account's state at a moment, as sign-in would find it: disabled by an operator,
locked (code sign-in locked, or sign-in stopped after too many failures), delayed by
the growing delay of failed attempts, pending (number never verified) or active.

Administration lists, filters and counts accounts by this state; the database
adapter mirrors these rules in SQL (adapters/db/accountstate.py), and both must
agree (tests/cli/test_user_listing.py checks it).
"""

from __future__ import annotations

from dataclasses import dataclass

from secureflaskauth.domain.lockout import LockoutPolicy
from secureflaskauth.domain.models import User
from secureflaskauth.domain.ports import FailureState

ACTIVE, PENDING, DELAYED, LOCKED, DISABLED = "active", "pending", "delayed", "locked", "disabled"
# Every state, in the order lists and counts give them.
STATES = (ACTIVE, PENDING, DELAYED, LOCKED, DISABLED)


@dataclass(frozen=True)
class LoginDelay:
    """The brute-force state of a username as sign-in sees it (AccountGuard.claim):
    consecutive failures, the delay in force, and the stop after too many."""

    failures: int
    delayed_until: float | None
    disabled: bool


def login_delay(policy: LockoutPolicy, state: FailureState | None, now: float) -> LoginDelay:
    """What AccountGuard would decide for the username's next attempt at ``now``."""
    failures, last_failure_at, _ = state or (0, 0.0, 0)
    if failures >= policy.disable_after:
        return LoginDelay(failures, None, disabled=True)
    if now - last_failure_at >= policy.quiet_reset_seconds:
        return LoginDelay(0, None, disabled=False)  # forgotten after a quiet period
    until = last_failure_at + policy.delay(failures)
    return LoginDelay(failures, until if until > now else None, disabled=False)


def otp_locked(user: User, now: float) -> bool:
    """Code sign-in is locked after too many wrong codes (until ``otp_locked_until``)."""
    return user.otp_locked_until is not None and user.otp_locked_until > now


def account_state(user: User, delay: LoginDelay, now: float) -> str:
    """One of STATES; the first that holds: disabled, locked, delayed, pending, active."""
    if user.disabled:
        return DISABLED
    if otp_locked(user, now) or delay.disabled:
        return LOCKED
    if delay.delayed_until is not None:
        return DELAYED
    return ACTIVE if user.phone_verified else PENDING
