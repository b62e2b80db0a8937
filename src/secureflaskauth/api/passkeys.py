"""Passkeys (WebAuthn Level 3): added to the signed-in account under /auth/factors,
and used to sign in under /auth/webauthn, as the second step or alone."""

from __future__ import annotations

import unicodedata
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from secureflaskauth import wiring
from secureflaskauth.api.account import DELAYED
from secureflaskauth.api.answers import NO_STORE, ok, problem, retry_after
from secureflaskauth.api.auth import client_info
from secureflaskauth.api.operations import Routes
from secureflaskauth.api.proof import STEP_UP, STEP_UP_FAILED, STEP_UP_MISSING, ConfirmRequest
from secureflaskauth.api.schemas import TokenResponse
from secureflaskauth.domain.factors.passkeys import LABEL
from secureflaskauth.domain.tokens.claims import AccessClaims

routes = Routes("passkeys", __name__, url_prefix="/auth", tag="auth")
_STRICT = ConfigDict(extra="forbid", strict=True)
_CREDENTIAL = (
    "The JSON form of the browser's PublicKeyCredential (WebAuthn Level 3 "
    "`PublicKeyCredential.toJSON()`): `id`, `rawId`, `type`, `response` with its "
    "members in base64url."
)


class CreationOptions(BaseModel):
    """PublicKeyCredentialCreationOptionsJSON (WebAuthn Level 3 5.4), for
    `PublicKeyCredential.parseCreationOptionsFromJSON()`."""

    model_config = ConfigDict(extra="allow")
    challenge: str = Field(description="base64url; single use, valid for 2 minutes.")
    rp: dict[str, str] = Field(description="`id` (the RP ID) and `name`.")
    user: dict[str, str] = Field(description="`id` (base64url), `name`, `displayName`.")


class RequestOptions(BaseModel):
    """PublicKeyCredentialRequestOptionsJSON (WebAuthn Level 3 5.5), for
    `PublicKeyCredential.parseRequestOptionsFromJSON()`."""

    model_config = ConfigDict(extra="allow")
    challenge: str = Field(description="base64url; single use, valid for 2 minutes.")
    rpId: str = Field(description="The RP ID (WebAuthn's own member name).")


class PasskeyRequest(BaseModel):
    model_config = _STRICT
    credential: dict[str, Any] = Field(description=_CREDENTIAL)
    label: str = Field(
        default=LABEL,
        min_length=1,
        max_length=64,
        description="A name for the owner's list (GET /auth/factors).",
        examples=["Laptop"],
    )

    @field_validator("label")
    @classmethod
    def _printable(cls, value: str) -> str:
        value = value.strip()
        if not value or any(unicodedata.category(ch)[0] == "C" for ch in value):
            raise ValueError("must be printable text")
        return value


class FactorCreated(BaseModel):
    factor_id: str = Field(description="Its `id` in GET /auth/factors.")


class WebAuthnOptionsRequest(BaseModel):
    model_config = _STRICT
    session_id: str | None = Field(
        default=None,
        description="The login's session_id for the second step; absent for a sign-in "
        "with a passkey alone.",
    )


class WebAuthnVerifyRequest(BaseModel):
    model_config = _STRICT
    session_id: str | None = Field(
        default=None, description="As given to /auth/webauthn/options (absent: passkey alone)."
    )
    credential: dict[str, Any] = Field(description=_CREDENTIAL)


@routes.route(
    "POST",
    "/factors/webauthn/options",
    summary="Start adding a passkey: the creation options",
    description=(
        f"{STEP_UP} Pass the answer to `navigator.credentials.create()` "
        "(after `PublicKeyCredential.parseCreationOptionsFromJSON()`), then send the "
        "result to POST /auth/factors/webauthn within 2 minutes. A discoverable "
        "credential (resident key) is required, so the passkey also signs in alone; the "
        "account's passkeys are excluded."
    ),
    body=ConfirmRequest,
    responses={
        200: ok("Creation options.", CreationOptions),
        401: STEP_UP_FAILED,
        422: problem(
            STEP_UP_MISSING + " Or the account has the most passkeys it may have "
            "(`errors.password`)."
        ),
        429: DELAYED,
    },
    bearer=True,
    cache=NO_STORE,
    tag="factors",
)
def passkey_options(claims: AccessClaims, body: ConfirmRequest) -> CreationOptions:
    parts = wiring.current()
    user = parts.own_account.user(claims.sub)
    return CreationOptions.model_validate(
        parts.passkey_enrolment.options(user, body.password, client_info(), body.proof())
    )


@routes.route(
    "POST",
    "/factors/webauthn",
    summary="Add the passkey the browser created",
    description=(
        "Active at once: from now on sign-ins start with a passkey and send no SMS unless "
        "asked. A notice goes to the account's number."
    ),
    body=PasskeyRequest,
    responses={
        201: ok("Added.", FactorCreated),
        422: problem(
            "Not a credential, a challenge not issued to this account or expired or "
            "used, a response that does not verify (origin, RP ID, signature), or a "
            "passkey registered already (`errors.credential`)."
        ),
    },
    bearer=True,
    throttled=True,
    cache=NO_STORE,
    tag="factors",
)
def add_passkey(claims: AccessClaims, body: PasskeyRequest) -> FactorCreated:
    parts = wiring.current()
    user = parts.own_account.user(claims.sub)
    factor_id = parts.passkey_enrolment.add(user, body.credential, body.label, client_info())
    return FactorCreated(factor_id=factor_id)


@routes.route(
    "POST",
    "/webauthn/options",
    summary="Request options for signing in with a passkey",
    description=(
        'With `{"session_id"}` from /auth/login: the second step, naming the account\'s '
        "passkeys. With `{}`: a sign-in with a passkey alone (the browser offers the ones "
        "it holds; user verification required). Pass the answer to "
        "`navigator.credentials.get()` and the result to /auth/webauthn/verify within 2 "
        "minutes."
    ),
    body=WebAuthnOptionsRequest,
    responses={
        200: ok("Request options.", RequestOptions),
        401: problem("The sign-in is over: expired, used or out of tries (`sign-in-expired`)."),
        422: problem("The account of this sign-in has no passkey (`errors.session_id`)."),
    },
    throttled=True,
    cache=NO_STORE,
)
def webauthn_options(body: WebAuthnOptionsRequest) -> RequestOptions:
    options = wiring.current().passkey_signin.options(body.session_id, client_info())
    return RequestOptions.model_validate(options)


@routes.route(
    "POST",
    "/webauthn/verify",
    summary="Sign in with the passkey's assertion and get an access token",
    description=(
        "As /auth/verify-otp answers. A refused assertion of the second step is a wrong "
        "code (a try of the sign-in and of the account's code lock); one of a sign-in "
        "with a passkey alone counts against the passkey's account."
    ),
    body=WebAuthnVerifyRequest,
    responses={
        200: ok("Signed in.", TokenResponse),
        401: problem(
            "The passkey was not accepted (`invalid-otp` with attempts_remaining for the "
            "second step, `passkey-refused` alone), the account's sign-in is locked "
            "(with Retry-After), or the sign-in is over (`sign-in-expired`).",
            retry_after,
        ),
    },
    throttled=True,
    cache=NO_STORE,
)
def webauthn_verify(body: WebAuthnVerifyRequest) -> TokenResponse:
    parts = wiring.current()
    signed_in = parts.passkey_signin.verify(body.session_id, body.credential, client_info())
    return TokenResponse.of(signed_in.tokens, "Authentication successful.")


@routes.route(
    "POST",
    "/webauthn/step-up",
    summary="Request options for confirming a sensitive action with a passkey",
    description=(
        "For an account with a passkey, the sensitive actions (POST /auth/password/change, "
        "POST /auth/phone/change, POST /auth/recovery-codes, DELETE /auth/factors/{id}, "
        "DELETE /auth/account) need an assertion besides the password. Pass the answer to "
        "`navigator.credentials.get()` and the result, as `webauthn`, in the action's body "
        "within 2 minutes. The challenge is bound to this account and used once."
    ),
    responses={
        200: ok("Request options naming the account's passkeys.", RequestOptions),
        422: problem("The account has no passkey (`errors.webauthn`)."),
    },
    bearer=True,
    cache=NO_STORE,
    tag="factors",
)
def webauthn_step_up(claims: AccessClaims) -> RequestOptions:
    parts = wiring.current()
    user = parts.own_account.user(claims.sub)
    return RequestOptions.model_validate(parts.passkey_step_up.options(user))
