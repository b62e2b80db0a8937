"""Request and response bodies. They also feed the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from secureflaskauth.api.proof import StepUpFields
from secureflaskauth.domain import usernames
from secureflaskauth.domain.passwords import policy as password_policy
from secureflaskauth.domain.resetproof import ResetProof
from secureflaskauth.domain.sessions import TokenPair
from secureflaskauth.domain.signin import ChallengeState

_STRICT = ConfigDict(extra="forbid", strict=True)


class RegisterRequest(BaseModel):
    model_config = _STRICT
    username: str = Field(
        description=(
            "Letters, digits and . _ - (RFC 8265); unique regardless of case and width; "
            "invisible characters, mixed scripts and look-alikes of Latin names are refused."
        ),
        json_schema_extra={
            "minLength": usernames.MIN_LENGTH,
            "maxLength": usernames.MAX_LENGTH,
            "example": "alice.cohen",
        },
    )
    password: str = Field(
        description="Any printable Unicode; not a common password; must not contain the username.",
        json_schema_extra={
            "minLength": password_policy.MIN_LENGTH,
            "maxLength": password_policy.MAX_LENGTH,
            "example": "correct horse battery staple",
        },
    )
    phone_number: str = Field(
        description="A mobile number; without a country code it is read in the default region.",
        json_schema_extra={"example": "0508464336"},
    )


class RegisterResponse(BaseModel):
    message: str = Field(examples=["User registered successfully."])
    user_id: str = Field(description="Stable user id; the `sub` of access tokens.")


class LoginRequest(BaseModel):
    model_config = _STRICT
    username: str = Field(json_schema_extra={"example": "alice.cohen"})
    password: str = Field(json_schema_extra={"example": "correct horse battery staple"})


class ChallengeResponse(BaseModel):
    message: str
    session_id: str = Field(description="Pass to /auth/verify-otp and /auth/resend-otp.")
    expires_in: int = Field(description="Seconds until the code expires.")
    resend_after: int | None = Field(
        description="Seconds until a new code may be requested; null when no more may be."
    )
    sent_to: str | None = Field(
        description="The masked phone number the code went to; null when no SMS was sent "
        "(`method` is not `sms`) and for a password reset, whose answers tell nothing of "
        "the account."
    )
    attempts_remaining: int = Field(description="Wrong codes still allowed for this sign-in.")
    method: str = Field(
        description="The second step started: `sms` (a code was sent), `totp` (the "
        "authenticator app's code is expected) or `webauthn` (a passkey, at "
        "/auth/webauthn/options and /auth/webauthn/verify); no SMS is sent for the last two.",
        examples=["sms"],
    )
    methods: list[str] = Field(
        description="The second steps this account may use, the one started first; ask "
        'for an SMS with /auth/resend-otp `{"session_id","method":"sms"}`.',
        examples=[["webauthn", "totp", "sms"]],
    )

    @classmethod
    def of(cls, state: ChallengeState, message: str | None = None) -> ChallengeResponse:
        return cls(
            message=message or _STARTED[state.method],
            session_id=state.session_id,
            expires_in=state.expires_in,
            resend_after=state.resend_after,
            sent_to=state.sent_to,
            attempts_remaining=state.attempts_remaining,
            method=state.method,
            methods=list(state.methods),
        )


_STARTED = {
    "sms": "A one-time code was sent by SMS.",
    "totp": "Enter the code your authenticator app shows.",
    "webauthn": "Use your passkey: /auth/webauthn/options, then /auth/webauthn/verify.",
}


class VerifyRequest(BaseModel):
    """``otp``, or ``recovery_code`` in its place (the lost phone): exactly one."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"oneOf": [{"required": ["otp"]}, {"required": ["recovery_code"]}]},
    )
    session_id: str
    otp: Annotated[
        str | None,
        WithJsonSchema(
            {
                "type": "string",
                "description": "The code sent by SMS.",
                "pattern": "^[0-9]{6}$",
                "example": "123456",
            }
        ),
    ] = None
    recovery_code: Annotated[
        str | None,
        WithJsonSchema(
            {
                "type": "string",
                "description": "One of the account's recovery codes, in place of `otp`; "
                "works once.",
                "example": "7kq2-m9xd",
            }
        ),
    ] = None
    method: Annotated[
        Literal["sms", "totp"] | None,
        WithJsonSchema(
            {
                "type": "string",
                "enum": ["sms", "totp"],
                "description": "Whose code `otp` is: the SMS's or the authenticator "
                "app's. Without it: the SMS's once an SMS was sent for this sign-in, "
                "else the app's when the account has one, else refused (422 with "
                "`methods`: a sign-in started with a passkey finishes with it, or with "
                "an SMS asked for).",
            }
        ),
    ] = None

    def null_fields(self) -> dict[str, list[str]]:
        """Optional, but never null: an explicit null is a type error, as any non-string."""
        given = self.model_fields_set
        return {
            name: ["Must be a string."]
            for name in ("otp", "recovery_code", "method")
            if name in given and getattr(self, name) is None
        }


class TokenResponse(BaseModel):
    message: str
    access_token: str = Field(description="A JWT (typ at+jwt) to send as `Authorization: Bearer`.")
    token_type: str = Field(examples=["Bearer"])
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str = Field(
        description="Opaque; exchange at /auth/refresh for a new pair. Single use (rotated)."
    )

    @classmethod
    def of(cls, pair: TokenPair, message: str) -> Self:
        """The one token answer: of a sign-in and of a refresh alike (RFC 6749 5.1)."""
        return cls(
            message=message,
            access_token=pair.access_token,
            token_type="Bearer",  # noqa: S106 - the scheme (RFC 6750), not a secret
            expires_in=pair.expires_in,
            refresh_token=pair.refresh_token,
        )


class SignInResponse(TokenResponse):
    """A completed sign-in; after a recovery code, how many codes remain."""

    recovery_codes_remaining: int | None = Field(
        default=None,
        description="Only when a recovery code was used: the account's unused codes left.",
    )


class RefreshRequest(BaseModel):
    model_config = _STRICT
    refresh_token: str


class SessionInfo(BaseModel):
    id: str
    current: bool = Field(description="True for the session of the token making the request.")
    created_at: str = Field(description="ISO 8601, UTC.")
    last_used_at: str
    expires_at: str = Field(description="When it ends unless used or ended before.")
    ip: str
    user_agent: str
    amr: list[str]


class ResendRequest(BaseModel):
    model_config = _STRICT
    session_id: str
    method: Literal["sms"] = Field(
        default="sms",
        description="How the new code is sent: by SMS (also the first SMS of a sign-in "
        "that started with the authenticator app).",
    )


class MessageResponse(BaseModel):
    message: str = Field(examples=["Access granted."])


class OutboxMessage(BaseModel):
    """A text message of the development outbox."""

    to: str = Field(description="The destination number (E.164).", examples=["+972508464336"])
    body: str = Field(description="The text as it would have been sent.")
    sent_at: str = Field(
        description="When it was sent (ISO 8601, UTC).", json_schema_extra={"format": "date-time"}
    )


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    status: str = Field(examples=["ready"])
    checks: dict[str, str] = Field(description="Each backing store and its state (`ok`).")


class JsonWebKey(BaseModel):
    """A public signing key (RFC 7517 4, RFC 8037 2 for OKP, RFC 7518 6.2 for EC, RFC 7518
    6.3 for the RSA key of RS256 ID tokens)."""

    kty: str = Field(examples=["OKP"])
    kid: str = Field(description="Matches the `kid` header of the tokens it signed.")
    alg: str = Field(examples=["EdDSA"])
    use: str = Field(examples=["sig"])
    crv: str | None = Field(default=None, examples=["Ed25519"], description="OKP and EC keys.")
    x: str | None = Field(default=None, description="OKP and EC keys.")
    y: str | None = Field(default=None, description="EC keys only.")
    n: str | None = Field(default=None, description="RSA keys only.")
    e: str | None = Field(default=None, description="RSA keys only.")


class KeySet(BaseModel):
    """A JSON Web Key Set (RFC 7517 5)."""

    keys: list[JsonWebKey]


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str
    errors: dict[str, list[str]] | None = Field(
        default=None, description="Validation errors by field (422 only)."
    )
    attempts_remaining: int | None = None
    expires_in: int | None = None
    resend_after: int | None = None


class AccountInfo(BaseModel):
    """The signed-in user's account (GET /auth/me)."""

    user_id: str = Field(description="Stable user id; the `sub` of access tokens.")
    username: str = Field(description="As registered (case kept).")
    phone_number: str = Field(
        description="Masked: the country code and the last four digits.",
        examples=["+972******4336"],
    )
    phone_verified: bool = Field(
        description="True once a code sent to the number for this account was verified."
    )
    factors: list[str] = Field(
        description='Second factors the account can use: `"sms"`, `"totp"` with an '
        'authenticator app, and `"recovery_codes"` while unused recovery codes remain.',
        examples=[["sms", "recovery_codes"]],
    )
    created_at: str = Field(
        description="When the account was registered (ISO 8601, UTC).",
        json_schema_extra={"format": "date-time"},
    )


class PasswordChangeRequest(StepUpFields):
    current_password: str = Field(json_schema_extra={"example": "correct horse battery staple"})
    new_password: str = Field(
        description="The rules of registration: not a common password, not the username.",
        json_schema_extra={
            "minLength": password_policy.MIN_LENGTH,
            "maxLength": password_policy.MAX_LENGTH,
            "example": "a new horse battery staple",
        },
    )


class RecoveryCodesResponse(BaseModel):
    codes: list[str] = Field(
        description="Ten single-use codes, shown this once; earlier codes stop working.",
        examples=[["7kq2-m9xd", "p4zt-0w8c"]],
    )


class ForgotRequest(BaseModel):
    model_config = _STRICT
    username: str = Field(json_schema_extra={"example": "alice.cohen"})


class ResetStartedResponse(BaseModel):
    """The same for every username, whether a code was sent or not."""

    message: str
    session_id: str = Field(description="Pass to /auth/password/reset and /auth/resend-otp.")
    expires_in: int = Field(description="Seconds until the code expires.")
    resend_after: int | None = Field(
        description="Seconds until a new code may be requested; null when no more may be."
    )


class ResetRequest(BaseModel):
    model_config = _STRICT
    session_id: str
    otp: str = Field(
        description="The code sent by SMS.",
        json_schema_extra={"pattern": "^[0-9]{6}$", "example": "123456"},
    )
    new_password: str = Field(
        description="The rules of registration: not a common password, not the username.",
        json_schema_extra={
            "minLength": password_policy.MIN_LENGTH,
            "maxLength": password_policy.MAX_LENGTH,
            "example": "a new horse battery staple",
        },
    )
    recovery_code: str = Field(
        default="",
        description="One of the account's recovery codes, used up: for an account with "
        "an authenticator app or a passkey in place of `totp` or `webauthn`, and when "
        "SFA_RESET_WITH_SMS_ONLY is off for one with neither.",
        json_schema_extra={"example": "7kq2-m9xd"},
    )
    totp: str = Field(
        default="",
        description="The authenticator app's current code: for an account with one, "
        "this, `webauthn` (when it has a passkey too) or `recovery_code` is required.",
        json_schema_extra={"pattern": "^[0-9]{6}$", "example": "654321"},
    )
    webauthn: dict[str, Any] | None = Field(
        default=None,
        description="A passkey's assertion (the JSON form of the browser's "
        "PublicKeyCredential) over the options of POST /auth/password/reset/options for "
        "this `session_id`: for an account with a passkey, this or `recovery_code` (or "
        "`totp` when it has an app too) is required.",
    )

    def proof(self) -> ResetProof:
        return ResetProof(
            recovery_code=self.recovery_code or None,
            totp=self.totp or None,
            webauthn=self.webauthn,
        )


class ResetOptionsRequest(BaseModel):
    model_config = _STRICT
    session_id: str = Field(
        max_length=128, description="The session_id /auth/password/forgot answered."
    )


class PhoneChangeRequest(StepUpFields):
    password: str = Field(
        description="The account's password, asked again.",
        json_schema_extra={"example": "correct horse battery staple"},
    )
    phone_number: str = Field(
        description="The new mobile number, under the rules of registration; without a "
        "country code it is read in the default region.",
        json_schema_extra={"example": "0549876543"},
    )


class PhoneVerifyRequest(BaseModel):
    model_config = _STRICT
    session_id: str = Field(description="From /auth/phone/change (or /auth/resend-otp).")
    otp: str = Field(
        description="The code sent by SMS to the new number.",
        json_schema_extra={"pattern": "^[0-9]{6}$", "example": "123456"},
    )
