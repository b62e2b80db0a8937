"""The fields of a sensitive action's body besides the password (step-up,
domain/reauth.py), and what its answers say about them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from secureflaskauth.api.answers import problem, retry_after
from secureflaskauth.domain.reauth import Proof

_STRICT = ConfigDict(extra="forbid", strict=True)


class StepUpFields(BaseModel):
    """At most one of these, where the account has an authenticator app or a passkey;
    none for an account with the phone only."""

    model_config = _STRICT
    totp: str | None = Field(
        default=None,
        description="The authenticator app's current code: required (or `recovery_code`) "
        "when the account has an app and no passkey.",
        json_schema_extra={"pattern": "^[0-9]{6}$", "example": "123456"},
    )
    webauthn: dict[str, Any] | None = Field(
        default=None,
        description="A passkey's assertion (the JSON form of the browser's "
        "PublicKeyCredential) over the options of POST /auth/webauthn/step-up: required "
        "(or `recovery_code`) when the account has a passkey.",
    )
    recovery_code: str | None = Field(
        default=None,
        description="One of the account's recovery codes, used up: the last resort in "
        "place of `totp` or `webauthn`.",
        json_schema_extra={"example": "7kq2-m9xd"},
    )

    def proof(self) -> Proof:
        return Proof(totp=self.totp, webauthn=self.webauthn, recovery_code=self.recovery_code)


class ConfirmRequest(StepUpFields):
    password: str = Field(
        description="The account's password, asked again.",
        json_schema_extra={"example": "correct horse battery staple"},
    )


STEP_UP = (
    "The password is required, and for an account with an authenticator app or a "
    "passkey also `totp` or `webauthn` (a passkey when it has one), or a `recovery_code`."
)
STEP_UP_FAILED = problem(
    "The password is wrong (`wrong-password`; a failed sign-in of the account), the "
    "`totp`, `webauthn` or `recovery_code` given is not accepted (`invalid-otp`; a wrong "
    "code of the account), or the account's code sign-in is locked (Retry-After).",
    retry_after,
)
STEP_UP_MISSING = (
    "After the right password: the account needs `totp`, `webauthn` or `recovery_code` "
    "(`errors` names the one missing), or one was given that it does not need; or a "
    "malformed field."
)
