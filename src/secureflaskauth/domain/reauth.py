"""The password asked again before a signed-in user changes their account.

A wrong password here is a failed sign-in attempt: it is counted by the same
per-account guard as /auth/login (domain/lockout.py), taken before the password is
checked, so guesses sent at once are evaluated only as far as the delay allows, and
refused (429) while the delay is in force. A stolen access token therefore buys no
more password guesses than the username alone does.
"""

from __future__ import annotations

from secureflaskauth.domain.audit import Audit
from secureflaskauth.domain.errors import WrongPassword
from secureflaskauth.domain.lockout import AccountGuard
from secureflaskauth.domain.models import Client, User
from secureflaskauth.domain.passwords import PasswordHasher
from secureflaskauth.domain.passwords.policy import normalise as normalise_password


class PasswordCheck:
    def __init__(self, *, hasher: PasswordHasher, guard: AccountGuard, audit: Audit) -> None:
        self.hasher = hasher
        self.guard = guard
        self.audit = audit

    def confirm(self, user: User, password: str, client: Client, *, purpose: str) -> None:
        """Return if ``password`` is the user's; else count the failure and raise 401.
        Raises 429 (423 once disabled) while the account's failure delay is in force."""
        claim = self.guard.claim(user.username_canonical)
        if self.hasher.verify(user.password_hash, normalise_password(password)):
            self.guard.release(claim)
            return
        self.guard.confirm(claim)
        failures = claim.failures
        who = {"user_id": user.id, "username": user.username}
        self.audit.client_event(
            "password_failed",
            "failure",
            client,
            **who,
            detail={"reason": "wrong password", "failures": failures, "for": purpose},
        )
        policy = self.guard.policy
        if failures >= policy.threshold:
            self.audit.client_event(
                "locked",
                "delayed" if failures < policy.disable_after else "disabled",
                client,
                **who,
                detail={"failures": failures, "delay": policy.delay(failures)},
            )
        raise WrongPassword()

    def forget(self, user: User) -> None:
        """The account is gone: its failure count, kept under its username, goes too."""
        self.guard.succeeded(user.username_canonical)
