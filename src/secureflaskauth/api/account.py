"""/auth/me and the changes a signed-in user makes to their own account."""

from __future__ import annotations

from secureflaskauth import wiring
from secureflaskauth.api.answers import NO_STORE, ok, problem, retry_after
from secureflaskauth.api.auth import client_info
from secureflaskauth.api.operations import Routes
from secureflaskauth.api.proof import STEP_UP, STEP_UP_FAILED, STEP_UP_MISSING, ConfirmRequest
from secureflaskauth.api.schemas import (
    AccountInfo,
    PasswordChangeRequest,
    RecoveryCodesResponse,
)
from secureflaskauth.domain.clock import iso_utc
from secureflaskauth.domain.tokens.claims import AccessClaims

routes = Routes("account", __name__, url_prefix="/auth", tag="account")


@routes.route(
    "GET",
    "/me",
    summary="The signed-in user's account",
    responses={200: ok("The account; the phone number masked.", AccountInfo)},
    bearer=True,
    cache=NO_STORE,
)
def me(claims: AccessClaims) -> AccountInfo:
    profile = wiring.current().own_account.profile(claims.sub)
    return AccountInfo(
        user_id=profile.user_id,
        username=profile.username,
        phone_number=profile.phone_number,
        phone_verified=profile.phone_verified,
        factors=list(profile.factors),
        created_at=iso_utc(profile.created_at),
    )


WRONG_PASSWORD = problem(
    "The password is wrong (`wrong-password`); it counts as a failed sign-in of the account."
)
DELAYED = problem(
    "Too many failed attempts for this account: wait for Retry-After "
    "(`too-many-requests`), as /auth/login does.",
    retry_after,
)


@routes.route(
    "POST",
    "/password/change",
    summary="Change the password; every other session ends",
    description=(
        "The current password is required, and the strongest factor where the account "
        "has an authenticator app or a passkey (`totp`, `webauthn` or `recovery_code`): "
        "a token alone changes nothing. The policy of registration applies to "
        "`new_password` (422). This session stays signed in, every other one ends at "
        "once, sign-ins waiting for their code end, and a notice goes to the account's "
        "number by SMS."
    ),
    body=PasswordChangeRequest,
    responses={
        204: ok("Password changed."),
        401: STEP_UP_FAILED,
        422: problem(STEP_UP_MISSING + " Or a `new_password` the policy refuses."),
        429: DELAYED,
    },
    bearer=True,
    cache=NO_STORE,
)
def change_password(claims: AccessClaims, body: PasswordChangeRequest) -> None:
    wiring.current().own_account.change_password(
        claims.sub,
        claims.sid,
        body.current_password,
        body.new_password,
        client_info(),
        body.proof(),
    )


@routes.route(
    "DELETE",
    "/account",
    summary="Delete the account; every session ends at once",
    description=(
        f"{STEP_UP} Every session ends at once; the username, the phone "
        "number, the password hash and the recovery codes are erased, and the audit "
        "trail keeps the user id only. The username is free for a new registration, "
        "which gets a new user id."
    ),
    body=ConfirmRequest,
    responses={
        204: ok("Account deleted."),
        401: STEP_UP_FAILED,
        422: problem(STEP_UP_MISSING),
        429: DELAYED,
    },
    bearer=True,
    cache=NO_STORE,
)
def delete_account(claims: AccessClaims, body: ConfirmRequest) -> None:
    wiring.current().own_account.delete(claims.sub, body.password, client_info(), body.proof())


@routes.route(
    "POST",
    "/recovery-codes",
    summary="New recovery codes, shown once; earlier ones stop working",
    description=(
        "Ten single-use codes for signing in without the phone: at /auth/verify-otp, "
        "`recovery_code` in place of `otp`. Only keyed hashes are stored, so they cannot "
        f"be shown again; keep them somewhere safe. {STEP_UP}"
    ),
    body=ConfirmRequest,
    responses={
        200: ok("The new codes.", RecoveryCodesResponse),
        401: STEP_UP_FAILED,
        422: problem(STEP_UP_MISSING),
        429: DELAYED,
    },
    bearer=True,
    cache=NO_STORE,
)
def recovery_codes(claims: AccessClaims, body: ConfirmRequest) -> RecoveryCodesResponse:
    codes = wiring.current().own_account.new_recovery_codes(
        claims.sub, body.password, client_info(), body.proof()
    )
    return RecoveryCodesResponse(codes=codes)
