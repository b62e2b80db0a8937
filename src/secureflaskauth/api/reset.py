"""/auth/password/forgot and /auth/password/reset: a forgotten password."""

from __future__ import annotations

from secureflaskauth import wiring
from secureflaskauth.api.answers import NO_STORE, ok, problem, retry_after
from secureflaskauth.api.auth import client_info
from secureflaskauth.api.holding import answer_hold
from secureflaskauth.api.operations import Routes
from secureflaskauth.api.passkeys import RequestOptions
from secureflaskauth.api.schemas import (
    ForgotRequest,
    ResetOptionsRequest,
    ResetRequest,
    ResetStartedResponse,
)
from secureflaskauth.domain.reset import ResetNotFound
from secureflaskauth.domain.tokens.claims import AccessClaims

routes = Routes("reset", __name__, url_prefix="/auth", tag="account")


@routes.route(
    "POST",
    "/password/forgot",
    summary="Ask for a password reset code by SMS",
    description=(
        "The answer is the same, in shape and in time, for every username: a code is "
        "sent only when the account exists, may sign in and has verified its number, "
        "and only to that number. Pass `session_id` to /auth/password/reset (or to "
        "/auth/resend-otp for a new code)."
    ),
    body=ForgotRequest,
    responses={
        202: ok("Accepted; a code went out if the account may have one.", ResetStartedResponse)
    },
    throttled=True,
    cache=NO_STORE,
)
def forgot(body: ForgotRequest) -> ResetStartedResponse:
    started = wiring.current().reset.forgot(body.username, client_info(), hold=answer_hold())
    return ResetStartedResponse(
        message="If the account can be reset, a code was sent to its verified number.",
        session_id=started.session_id,
        expires_in=started.expires_in,
        resend_after=started.resend_after,
    )


@routes.route(
    "POST",
    "/password/reset",
    summary="Set a new password with the reset code; every session ends",
    description=(
        "Wrong codes count like a sign-in's (the reset's tries, the request limits) but "
        "toward a lock of the account's resets of their own, never its sign-in. "
        "An account with an authenticator app or a passkey always needs, besides the SMS "
        "code, the app's code (`totp`), the passkey's assertion (`webauthn`, over the "
        "options of POST /auth/password/reset/options) or a recovery code; with "
        "SFA_RESET_WITH_SMS_ONLY=off every account needs one of them. "
        "Every session of the user ends, the account's failure counts start again and "
        "a notice goes to its number."
    ),
    body=ResetRequest,
    responses={
        204: ok("Password reset; sign in with the new one."),
        401: problem(
            "Wrong code (`invalid-otp`, see attempts_remaining; with Retry-After when "
            "wrong reset codes locked the account's resets), or a reset that is over: "
            "expired, used, "
            "out of tries, or no code was sent (`sign-in-expired`).",
            retry_after,
        ),
    },
    throttled=True,
    cache=NO_STORE,
)
def reset(body: ResetRequest) -> None:
    wiring.current().reset.reset(
        body.session_id, body.otp, body.new_password, client_info(), body.proof()
    )


@routes.route(
    "POST",
    "/password/reset/options",
    summary="Request options for the passkey of a password reset",
    description=(
        "For an account with a passkey, whose reset needs its assertion (`webauthn`) or a "
        "recovery code besides the SMS code. The options name no passkey (the browser "
        "offers those it holds) and are given alike for every `session_id`, so they tell "
        "nothing of the account; their challenge is bound to this reset, used once and "
        "valid 2 minutes. Pass the answer to `navigator.credentials.get()` and the "
        "result, as `webauthn`, to POST /auth/password/reset."
    ),
    body=ResetOptionsRequest,
    responses={200: ok("Request options.", RequestOptions)},
    throttled=True,
    cache=NO_STORE,
)
def reset_options(body: ResetOptionsRequest) -> RequestOptions:
    options = wiring.current().reset.passkey_options(body.session_id, client_info())
    return RequestOptions.model_validate(options)


@routes.route(
    "DELETE",
    "/password/reset",
    summary="Cancel a held password reset (SFA_RESET_WITH_SMS_ONLY=delayed)",
    description=(
        "A reset by SMS code alone waits out a hold before it takes effect; the owner "
        "cancels it from any signed-in session. A notice goes to the number."
    ),
    responses={
        204: ok("Cancelled: the password stays as it is."),
        404: problem("No reset of this account is waiting (`reset-not-found`)."),
    },
    bearer=True,
    cache=NO_STORE,
)
def cancel_reset(claims: AccessClaims) -> None:
    parts = wiring.current()
    user = parts.own_account.user(claims.sub)
    if not parts.reset.cancel_held(user, claims.sid, client_info()):
        raise ResetNotFound()
