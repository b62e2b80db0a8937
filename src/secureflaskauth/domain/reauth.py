"""What a signed-in user proves before a sensitive action: the password asked again,
and, for an account with a stronger factor than its phone, a fresh proof of the
strongest one (step-up).

A wrong password here is a failed sign-in attempt: it is counted by the same
per-account guard as /auth/login (domain/lockout.py), taken before the password is
checked, so guesses sent at once are evaluated only as far as the delay allows, and
refused (429) while the delay is in force. A stolen access token therefore buys no
more password guesses than the username alone does.

Step-up (NIST SP 800-63B-4 2.2.3 and 4.3, reauthentication; ASVS 6.2.3, 7.5.1): the
actions that could take the account over (a new password or phone number, a factor
removed, new recovery codes, the account deleted) also need what the account's
strongest factor proves, so a stolen token and password are not enough to remove the
authenticator app that protects the account. ``StepUp.needed`` is the one place that
decides it:

- an account with a passkey: an assertion of one of its passkeys (``webauthn``),
  over a challenge from POST /auth/webauthn/step-up (bound to the account, single use);
- else, with an authenticator app: its code (``totp``), each time step once, as at
  sign-in;
- either way a recovery code (``recovery_code``) as the last resort, used up;
- else (the phone only) the password alone, as before.

What is needed is told only after the right password (422 naming the field), so a
token without the password learns nothing of the account's factors. A wrong proof is
a wrong code: it counts toward the account's code lock and the username's failures
(codetries.py) and is refused with 401 (``invalid-otp``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from secureflaskauth.domain import otp, recovery
from secureflaskauth.domain.audit import Audit
from secureflaskauth.domain.codetries import WrongCodePolicy, account_locked
from secureflaskauth.domain.errors import ChallengeFailed, ValidationFailed, WrongPassword
from secureflaskauth.domain.factors import TOTP, WEBAUTHN, stronger
from secureflaskauth.domain.lockout import AccountGuard
from secureflaskauth.domain.models import Client, OtpClaim, User
from secureflaskauth.domain.passwords import PasswordHasher
from secureflaskauth.domain.passwords.policy import normalise as normalise_password
from secureflaskauth.domain.ports import ChallengeStore, Clock, FactorStore

NO_STEP_UP = "password"  # what confirmed an action of an account with no stronger factor
RECOVERY_CODE = "recovery_code"
# The answers about a proof missing, not needed or given twice (the pages word them).
NEEDED = {
    WEBAUTHN: (
        "Required: this account has a passkey; give its assertion over a challenge from "
        "POST /auth/webauthn/step-up (or one of its recovery codes in recovery_code)."
    ),
    TOTP: (
        "Required: this account has an authenticator app; give its current code (or one "
        "of its recovery codes in recovery_code)."
    ),
}
ONE_OF = "Give one of totp, webauthn and recovery_code."
NOT_NEEDED = (
    "Not needed: this account has no authenticator app or passkey; the password alone "
    "confirms this."
)
_WRONG = {
    TOTP: "Wrong code.",
    WEBAUTHN: "The passkey was not accepted.",
    RECOVERY_CODE: "Wrong recovery code.",
}


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


@dataclass(frozen=True)
class Proof:
    """What a request gives besides the password (each absent when None)."""

    totp: str | None = None
    webauthn: Mapping[str, Any] | None = None
    recovery_code: str | None = None

    def given(self) -> list[str]:
        named = ((TOTP, self.totp), (WEBAUTHN, self.webauthn), (RECOVERY_CODE, self.recovery_code))
        return [name for name, value in named if value is not None]


PASSWORD_ONLY = Proof()  # nothing besides the password


class TotpProof(Protocol):
    def use(self, user_id: str, code: str, now: float) -> bool:
        """Whether ``code`` is the app's, its time step not used before (then used)."""
        ...


class PasskeyProof(Protocol):
    def parse(self, credential: Mapping[str, Any]) -> None:
        """422 naming ``webauthn`` unless it is an assertion's JSON form."""
        ...

    def confirm(
        self, user: User, credential: Mapping[str, Any], now: float, client: Client
    ) -> bool:
        """Whether it is an assertion of the user's passkey over a step-up challenge."""
        ...


class RecoveryProof(Protocol):
    def matching(self, user_id: str, code: str) -> str | None: ...

    def use(self, user_id: str, stored_hash: str) -> bool: ...


class StepUp:
    """The password and, where the account has one, its strongest factor (see above)."""

    def __init__(
        self,
        *,
        password: PasswordCheck,
        factors: FactorStore,
        totp: TotpProof,
        passkeys: PasskeyProof,
        recovery_codes: RecoveryProof,
        tries: WrongCodePolicy,
        challenges: ChallengeStore,
        audit: Audit,
        clock: Clock,
    ) -> None:
        self.password = password
        self.factors = factors
        self.totp = totp
        self.passkeys = passkeys
        self.recovery_codes = recovery_codes
        self.tries = tries
        self.challenges = challenges
        self.audit = audit
        self.clock = clock

    def needed(self, user: User) -> str | None:
        """The factor the account's sensitive actions need besides the password: its
        strongest (a passkey, then an app), or None (the phone only)."""
        return next(iter(stronger(self.factors.for_user(user.id))), None)

    def confirm(
        self, user: User, password: str, proof: Proof, client: Client, *, purpose: str
    ) -> str:
        """Return what confirmed the action (``password``, ``totp``, ``webauthn`` or
        ``recovery_code``), or raise: 401 wrong password or wrong proof, 422 a proof
        missing, malformed or not the account's, 429 while the account's delay holds."""
        self._check_form(proof)  # the form's own mistakes cost no guess
        self.password.confirm(user, password, client, purpose=purpose)
        needed, given = self.needed(user), proof.given()
        if needed is None:
            if given:
                raise ValidationFailed({given[0]: [NOT_NEEDED]})
            return NO_STEP_UP
        if not given:
            raise ValidationFailed({needed: [NEEDED[needed]]})
        kind = given[0]
        if kind not in (needed, RECOVERY_CODE):
            raise ValidationFailed({kind: [NEEDED[needed]]})
        self.tries.admit(client)
        now = self.clock.now()
        account = self.tries.take_account(user, now)  # taken before the proof is checked
        if not self._matches(user, kind, proof, now, client):
            self._wrong(user, kind, account, client, now, purpose)
        self.tries.right(user)
        return kind

    def _check_form(self, proof: Proof) -> None:
        given = proof.given()
        if len(given) > 1:
            raise ValidationFailed({name: [ONE_OF] for name in given})
        if proof.totp is not None and not otp.looks_like_code(proof.totp):
            raise ValidationFailed({TOTP: ["Must be the 6-digit code of the authenticator app."]})
        if proof.recovery_code is not None and recovery.normalise(proof.recovery_code) is None:
            raise ValidationFailed({RECOVERY_CODE: [recovery.MALFORMED]})
        if proof.webauthn is not None:
            self.passkeys.parse(proof.webauthn)

    def _matches(self, user: User, kind: str, proof: Proof, now: float, client: Client) -> bool:
        if kind == TOTP:
            assert proof.totp is not None
            return self.totp.use(user.id, proof.totp, now)
        if kind == WEBAUTHN:
            assert proof.webauthn is not None
            return self.passkeys.confirm(user, proof.webauthn, now, client)
        normalised = recovery.normalise(proof.recovery_code or "")
        stored = self.recovery_codes.matching(user.id, normalised or "")
        # Used up here: of requests presenting it at once, one gets it.
        return stored is not None and self.recovery_codes.use(user.id, stored)

    def _wrong(
        self, user: User, kind: str, account: OtpClaim, client: Client, now: float, purpose: str
    ) -> NoReturn:
        self.audit.client_event(
            "otp_failed",
            "failure",
            client,
            user_id=user.id,
            detail={"failures": account.failures, "for": purpose, "factor": kind},
        )
        if account.locked_until is not None:
            # The lock wrong sign-in codes reach (NIST SP 800-63B-4 3.2.2).
            self.challenges.kill_all_for_user(user.id)
            self.audit.client_event(
                "locked",
                "locked",
                client,
                user_id=user.id,
                detail={"until": round(account.locked_until), "failures": account.failures},
            )
            raise account_locked(account.locked_until, now)
        raise ChallengeFailed(_WRONG[kind])
