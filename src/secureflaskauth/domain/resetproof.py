"""What a password reset needs besides the SMS code: nothing, or one stronger proof.

An account with an authenticator app or a passkey always gives one of them, or one
of its recovery codes, with the SMS code, whatever SFA_RESET_WITH_SMS_ONLY says: the
SMS alone (a SIM swap) never takes over an account that has more. With the setting
``off`` every account gives one. The proofs:

- ``totp``: the app's current code, each time step once, as at sign-in;
- ``webauthn``: an assertion of one of the account's passkeys over request options
  bound to this reset (POST /auth/password/reset/options), which name no passkey and
  are the same for every session id, so they tell nothing of the account's factors;
- ``recovery_code``: one of the account's recovery codes, used up once the reset's
  code is.

A wrong one is a wrong code of the reset (codetries.py). That one is missing is said
only to whoever gave the right SMS code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from secureflaskauth.domain import otp, recovery
from secureflaskauth.domain.errors import ValidationFailed
from secureflaskauth.domain.factors import TOTP, WEBAUTHN
from secureflaskauth.domain.models import Client, User
from secureflaskauth.domain.recovery import RecoveryCodes

RECOVERY_CODE = "recovery_code"
NEEDED = {
    TOTP: (
        "Required: this account has an authenticator app; give its code (or a recovery "
        "code) with the SMS code."
    ),
    WEBAUTHN: (
        "Required: this account has a passkey; give its assertion over the options of "
        "POST /auth/password/reset/options (or one of its recovery codes) with the SMS code."
    ),
}
WRONG = {
    TOTP: "Wrong code.",
    WEBAUTHN: "The passkey was not accepted.",
    RECOVERY_CODE: "Wrong code.",
}


@dataclass(frozen=True)
class ResetProof:
    """What a reset request gives besides the SMS code (each absent when None)."""

    recovery_code: str | None = None
    totp: str | None = None
    webauthn: Mapping[str, Any] | None = None

    def given(self) -> list[str]:
        named = ((TOTP, self.totp), (WEBAUTHN, self.webauthn), (RECOVERY_CODE, self.recovery_code))
        return [name for name, value in named if value is not None]


@dataclass(frozen=True)
class Proven:
    """What confirmed the reset besides the SMS code (None: nothing), and the stored
    hash of its recovery code, to be used up once the reset's code is."""

    factor: str | None
    recovery_hash: str | None = None


class AppCheck(Protocol):
    def stronger(self, user_id: str) -> tuple[str, ...]:
        """The account's active factors stronger than the SMS, the strongest first."""
        ...

    def use(self, user_id: str, code: str, now: float) -> bool:
        """Whether ``code`` is the app's, its time step not used before (then used)."""
        ...


class PasskeyCheck(Protocol):
    def reset_options(self, session_id: str) -> dict[str, Any]:
        """Request options bound to the reset ``session_id``, naming no passkey."""
        ...

    def parse(self, credential: Mapping[str, Any]) -> None:
        """422 naming ``webauthn`` unless it is an assertion's JSON form."""
        ...

    def confirm(
        self,
        user: User,
        credential: Mapping[str, Any],
        now: float,
        client: Client,
        *,
        reset: str | None = None,
    ) -> bool:
        """Whether it is an assertion of the user's passkey over the reset's options."""
        ...


class ResetFactors:
    def __init__(
        self,
        *,
        recovery: RecoveryCodes,
        totp: AppCheck | None,
        passkeys: PasskeyCheck | None,
        sms_only: str,
    ) -> None:
        self.recovery = recovery
        self.totp = totp
        self.passkeys = passkeys
        self.sms_only = sms_only

    def check_form(self, code: str, proof: ResetProof) -> None:
        """The form's own mistakes, before any try is taken."""
        errors: dict[str, list[str]] = {}
        if not otp.looks_like_code(code):
            errors["otp"] = ["Must be exactly 6 digits."]
        given = proof.given()
        if len(given) > 1:
            both = "Give one of totp, webauthn and recovery_code."
            errors.update({name: [both] for name in given})
        elif not given and self.sms_only == "off":
            errors[RECOVERY_CODE] = ["Required: the SMS code alone cannot reset a password."]
        if proof.recovery_code is not None and recovery.normalise(proof.recovery_code) is None:
            errors.setdefault(RECOVERY_CODE, []).append(recovery.MALFORMED)
        if proof.totp is not None and not otp.looks_like_code(proof.totp):
            errors.setdefault(TOTP, []).append("Must be the 6-digit code of the authenticator app.")
        if errors:
            raise ValidationFailed(errors)
        if proof.webauthn is not None:
            if self.passkeys is None:
                raise ValidationFailed({WEBAUTHN: ["Passkeys are not available here."]})
            self.passkeys.parse(proof.webauthn)

    def check(
        self, user: User, proof: ResetProof, challenge_id: str, now: float, client: Client
    ) -> Proven | None:
        """What the proof given confirms, or None when it is wrong. Raises 422 naming
        the proof the account needs when none was given."""
        if proof.recovery_code is not None:
            stored = self.recovery.matching(user.id, recovery.normalise(proof.recovery_code) or "")
            return Proven(RECOVERY_CODE, stored) if stored is not None else None
        if proof.totp is not None:
            right = self.totp is not None and self.totp.use(user.id, proof.totp, now)
            return Proven(TOTP) if right else None
        if proof.webauthn is not None:
            assert self.passkeys is not None  # check_form refused it otherwise
            right = self.passkeys.confirm(user, proof.webauthn, now, client, reset=challenge_id)
            return Proven(WEBAUTHN) if right else None
        needed = self.totp.stronger(user.id) if self.totp is not None else ()
        # The app is named first where the account has both: either one is taken.
        for factor in (TOTP, WEBAUTHN):
            if factor in needed:
                raise ValidationFailed({factor: [NEEDED[factor]]})
        return Proven(None)
