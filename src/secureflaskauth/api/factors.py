"""/auth/factors: the second factors of the signed-in account, listed, added (an
authenticator app) and removed."""

from __future__ import annotations

import segno
from pydantic import BaseModel, ConfigDict, Field

from secureflaskauth import wiring
from secureflaskauth.api.account import DELAYED
from secureflaskauth.api.answers import NO_STORE, ok, problem
from secureflaskauth.api.auth import client_info
from secureflaskauth.api.operations import Routes
from secureflaskauth.api.proof import STEP_UP, STEP_UP_FAILED, STEP_UP_MISSING, ConfirmRequest
from secureflaskauth.domain.clock import iso_utc
from secureflaskauth.domain.tokens.claims import AccessClaims

routes = Routes("factors", __name__, url_prefix="/auth", tag="factors")


class FactorEntry(BaseModel):
    id: str = Field(description="Pass to DELETE /auth/factors/{id}; `sms` for the phone.")
    type: str = Field(description="`sms`, `totp`, `webauthn` or `recovery_codes`.")
    label: str = Field(examples=["Authenticator app"])
    created_at: str = Field(description="ISO 8601, UTC.")
    last_used_at: str | None = Field(description="ISO 8601, UTC; null when not known or never.")


class TotpEnrolmentResponse(BaseModel):
    factor_id: str = Field(description="Pass to /auth/factors/totp/confirm with the first code.")
    secret: str = Field(description="The key in base 32, to type into the app by hand.")
    otpauth_uri: str = Field(
        description="The `otpauth://totp/...` URI the app reads.",
        examples=["otpauth://totp/SecureFlaskAuth:alice.cohen?secret=...&issuer=SecureFlaskAuth"],
    )
    qr_svg: str = Field(description="The URI as a QR code: an inline SVG element.")


class TotpConfirmRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    factor_id: str
    code: str = Field(
        description="The code the app shows now.",
        json_schema_extra={"pattern": "^[0-9]{6}$", "example": "123456"},
    )


@routes.route(
    "GET",
    "/factors",
    summary="The account's second factors",
    description=(
        "The phone (`sms`, always: it is the recovery channel), an authenticator app once "
        "confirmed (`totp`), and the recovery codes while some are unused."
    ),
    responses={200: ok("Oldest first, the phone first.", list[FactorEntry])},
    bearer=True,
    cache=NO_STORE,
)
def list_factors(claims: AccessClaims) -> list[FactorEntry]:
    parts = wiring.current()
    user = parts.own_account.user(claims.sub)
    return [
        FactorEntry(
            id=f.id,
            type=f.type,
            label=f.label,
            created_at=iso_utc(f.created_at),
            last_used_at=iso_utc(f.last_used_at) if f.last_used_at is not None else None,
        )
        for f in parts.factors.listed(user)
    ]


@routes.route(
    "POST",
    "/factors/totp",
    summary="Start adding an authenticator app (TOTP); shown once",
    description=(
        f"{STEP_UP} (A confirmed app replaces the earlier one.) The answer holds a new "
        "secret (160 bits) as text, as an `otpauth://` URI and as a QR code; it is stored "
        "encrypted and shown only now. The "
        "app is pending until /auth/factors/totp/confirm gets its first code (within 10 "
        "minutes); until then an earlier app keeps working, and a new start drops this one."
    ),
    body=ConfirmRequest,
    responses={
        200: ok("Pending app.", TotpEnrolmentResponse),
        401: STEP_UP_FAILED,
        422: problem(STEP_UP_MISSING),
        429: DELAYED,
    },
    bearer=True,
    cache=NO_STORE,
)
def add_totp(claims: AccessClaims, body: ConfirmRequest) -> TotpEnrolmentResponse:
    parts = wiring.current()
    user = parts.own_account.user(claims.sub)
    pending = parts.totp_enrolment.start(user, body.password, client_info(), body.proof())
    return TotpEnrolmentResponse(
        factor_id=pending.factor_id,
        secret=pending.secret,
        otpauth_uri=pending.otpauth_uri,
        qr_svg=qr_svg(pending.otpauth_uri),
    )


def qr_svg(uri: str) -> str:
    """``uri`` as a QR code, an inline SVG element (no size: the page sets it). Made
    here, with no network: the QR code is only a picture of the URI."""
    return str(segno.make(uri, error="m").svg_inline(scale=4, omitsize=True))


@routes.route(
    "POST",
    "/factors/totp/confirm",
    summary="Activate the pending authenticator app with its first code",
    description=(
        "From now on sign-ins ask for the app's code and send no SMS unless asked; the "
        "app replaces an earlier one. A notice goes to the account's number."
    ),
    body=TotpConfirmRequest,
    responses={
        204: ok("The app is active."),
        422: problem(
            "A wrong or malformed code (`errors.code`), or no pending app of this account "
            "with this id (`errors.factor_id`)."
        ),
    },
    bearer=True,
    throttled=True,
    cache=NO_STORE,
)
def confirm_totp(claims: AccessClaims, body: TotpConfirmRequest) -> None:
    parts = wiring.current()
    user = parts.own_account.user(claims.sub)
    parts.totp_enrolment.confirm(user, body.factor_id, body.code, client_info())


@routes.route(
    "DELETE",
    "/factors/<factor_id>",
    summary="Remove a second factor",
    description=(
        f"{STEP_UP} In the JSON body: a stolen token and password cannot remove the app "
        "or the passkey that protects the account. Removing the authenticator app brings "
        "back the SMS at sign-in; removing `recovery_codes` revokes every unused code. A "
        "notice goes to the account's number."
    ),
    body=ConfirmRequest,
    responses={
        204: ok("Removed."),
        401: STEP_UP_FAILED,
        404: problem("The account has no factor with this id (`factor-not-found`)."),
        409: problem(
            "The phone cannot be removed: it is the recovery channel (`factor-required`)."
        ),
        422: problem(STEP_UP_MISSING),
        429: DELAYED,
    },
    bearer=True,
    cache=NO_STORE,
    params={"factor_id": "The `id` of one of the account's factors (GET /auth/factors)."},
)
def remove_factor(claims: AccessClaims, body: ConfirmRequest, factor_id: str) -> None:
    parts = wiring.current()
    user = parts.own_account.user(claims.sub)
    parts.factors.remove(user, factor_id, body.password, client_info(), body.proof())
