"""Every limit a one-time code try passes, in one place.

A try is taken from each counter before the code is compared, so tries sent at once
are evaluated only as far as every limit allows (ASVS 6.6.3; NIST SP 800-63B-4 3.2.2).
In the order they are taken:

1. Requests per client IP and per account (Counters; SFA_LIMIT_VERIFY_IP and
   SFA_LIMIT_VERIFY_ACCOUNT): every try counts, right or wrong.
2. Tries of this sign-in (ChallengeStore; SFA_OTP_MAX_ATTEMPTS, 5): at none left
   the sign-in ends.
3. The username's consecutive failures, wrong passwords included (FailureStore;
   SFA_LOCKOUT_DISABLE_AFTER, 100): past it sign-in is disabled until an
   administrator unlocks it. The right code resets it.
4. The account's consecutive wrong codes (UserStore; SFA_OTP_ACCOUNT_MAX_FAILURES,
   10): reaching it locks code sign-in for SFA_OTP_ACCOUNT_LOCK_SECONDS (900). The
   right code resets it.

A new code (a login or a resend) resets none of them (NIST SP 800-63B-4 3.1.3).

A password reset's codes, which anyone who knows a username may ask for, pass 1 and 2
like the others, but 3 and 4 only as a count of their own: the account's consecutive
wrong reset codes (UserStore, its RESET lock). Reaching SFA_OTP_ACCOUNT_MAX_FAILURES
locks further resets for SFA_OTP_ACCOUNT_LOCK_SECONDS, and past
SFA_LOCKOUT_DISABLE_AFTER resets stop until an administrator unlocks the account. So
guessing at reset codes is held to what guessing at sign-in codes is (NIST SP
800-63B-4 3.2.2 and 4.2), while a stranger's wrong guesses lock neither the owner's
sign-in (by code, app or passkey) nor delay the password.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from secureflaskauth.domain.errors import ChallengeFailed, SignInExpired
from secureflaskauth.domain.lockout import AccountGuard
from secureflaskauth.domain.models import (
    RESET,
    SIGN_IN,
    Challenge,
    Client,
    OtpClaim,
    User,
    code_lock,
)
from secureflaskauth.domain.otp import OtpPolicy
from secureflaskauth.domain.ports import ChallengeStore, UserStore
from secureflaskauth.domain.ratelimit import Throttle

# What a sign-in that no code can complete any more answers with.
NO_TRIES_LEFT: Mapping[str, int | None] = {
    "attempts_remaining": 0,
    "expires_in": 0,
    "resend_after": None,
}


def expired_sign_in() -> SignInExpired:
    return SignInExpired(
        "This sign-in can no longer be completed: it has expired, was already used "
        "or had too many wrong codes. Please sign in again.",
        extra=dict(NO_TRIES_LEFT),
    )


def already_used() -> SignInExpired:
    """For a request whose code was right but used a moment before by another one."""
    return SignInExpired(
        "This code was right, but another request used it a moment before: this one "
        "changed nothing.",
        extra=dict(NO_TRIES_LEFT),
    )


def account_locked(locked_until: float | None, now: float, lock: str = SIGN_IN) -> ChallengeFailed:
    what = "Password resets are" if lock == RESET else "Sign-in is"
    return ChallengeFailed(
        f"Too many wrong codes for this account. {what} locked for a while.",
        extra=dict(NO_TRIES_LEFT),
        retry_after=math.ceil(locked_until - now) if locked_until else None,
    )


class TriesLeft(Protocol):
    """What a challenge's state tells of it (signin.ChallengeState)."""

    @property
    def attempts_remaining(self) -> int: ...
    @property
    def expires_in(self) -> int: ...
    @property
    def resend_after(self) -> int | None: ...


def wrong_code_answer(state: TriesLeft, wrong: str = "Wrong code.") -> ChallengeFailed:
    """A wrong code's answer (``wrong`` says what was wrong): the tries left, or none."""
    if state.attempts_remaining == 0:
        return ChallengeFailed(
            f"{wrong} No tries are left for this sign-in; please sign in again.",
            extra=dict(NO_TRIES_LEFT),
        )
    return ChallengeFailed(
        wrong,
        extra={
            "attempts_remaining": state.attempts_remaining,
            "expires_in": state.expires_in,
            "resend_after": state.resend_after,
        },
    )


@dataclass(frozen=True)
class CodeTry:
    """A try taken from every counter: the sign-in as counted, the account's count."""

    challenge: Challenge
    account: OtpClaim


class WrongCodePolicy:
    def __init__(
        self,
        *,
        throttle: Throttle,
        challenges: ChallengeStore,
        guard: AccountGuard,
        users: UserStore,
        otp: OtpPolicy,
    ) -> None:
        self.throttle = throttle
        self.challenges = challenges
        self.guard = guard
        self.users = users
        self.otp = otp

    def admit(self, client: Client) -> None:
        """The per-IP request rate, before anything is read."""
        limits = self.throttle.limits
        self.throttle.check(f"verify:ip:{client.ip}", limits.verify_ip, per_ip=True)

    def take(self, challenge: Challenge, user: User, now: float) -> CodeTry:
        """Take one try from every counter, or raise (the sign-in expired or locked)."""
        self.throttle.check(f"verify:user:{user.id}", self.throttle.limits.verify_account)
        taken = self.challenges.reserve_attempt(
            challenge.id, now=now, max_attempts=self.otp.max_attempts
        )
        if taken is None:
            raise expired_sign_in()
        if code_lock(challenge.purpose) == RESET:
            return CodeTry(taken, self._reset_try(challenge, user, now))
        return CodeTry(taken, self._account_try(user, now))

    def take_account(self, user: User, now: float) -> OtpClaim:
        """The account's counters alone (1, 3 and 4), for a sign-in with no challenge
        of its own: a passkey without the password."""
        self.throttle.check(f"verify:user:{user.id}", self.throttle.limits.verify_account)
        return self._account_try(user, now)

    def _account_try(self, user: User, now: float) -> OtpClaim:
        if self.guard.failed(user.username_canonical) > self.guard.policy.disable_after:
            self.challenges.kill_all_for_user(user.id)
            raise expired_sign_in()
        account = self._claim(user, now, SIGN_IN)
        if not account.allowed:
            self.challenges.kill_all_for_user(user.id)
            raise account_locked(account.locked_until, now)
        return account

    def _reset_try(self, challenge: Challenge, user: User, now: float) -> OtpClaim:
        """A reset's try, from the account's count of wrong reset codes alone: a lock
        there ends this reset, never the account's sign-ins."""
        account = self._claim(user, now, RESET)
        if not account.allowed:
            self.challenges.kill(challenge.id)
            raise account_locked(account.locked_until, now, RESET)
        if account.failures > self.guard.policy.disable_after:
            # NIST SP 800-63B-4 3.2.2: no more than this many in a row; `users unlock`.
            self.challenges.kill(challenge.id)
            raise expired_sign_in()
        return account

    def _claim(self, user: User, now: float, lock: str) -> OtpClaim:
        return self.users.claim_otp_attempt(
            user.id,
            now=now,
            threshold=self.otp.account_max_failures,
            lock_seconds=self.otp.account_lock_seconds,
            lock=lock,
        )

    def resets_stopped(self, user: User, now: float) -> bool:
        """Whether wrong reset codes stop the account's resets now: locked for a while,
        or past the most failures in a row (until an administrator unlocks it)."""
        if user.locked_until(RESET, now) is not None:
            return True
        return user.reset_failures >= self.guard.policy.disable_after

    def right(self, user: User, lock: str = SIGN_IN) -> None:
        """The code was right: the counts its try was taken from start again (a
        reset's own; else the account's and the username's)."""
        if lock == RESET:
            self.users.reset_otp_failures(user.id, (RESET,))
            return
        self.users.reset_otp_failures(user.id)
        self.guard.succeeded(user.username_canonical)

    def clear(self, user: User) -> None:
        """Every failure count of the account starts again (a new password set by a
        reset, an administrator's unlock)."""
        self.users.reset_otp_failures(user.id, (SIGN_IN, RESET))
        self.guard.succeeded(user.username_canonical)

    def tries_left(self, attempt: CodeTry) -> int:
        return max(0, self.otp.max_attempts - attempt.challenge.attempts)
