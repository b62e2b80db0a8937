"""/auth/phone/change and /auth/phone/verify: a new phone number for the account."""

from __future__ import annotations

from secureflaskauth import wiring
from secureflaskauth.api.answers import NO_STORE, ok, problem, retry_after
from secureflaskauth.api.auth import SMS_FAILED, client_info
from secureflaskauth.api.operations import Routes
from secureflaskauth.api.proof import STEP_UP, STEP_UP_FAILED, STEP_UP_MISSING
from secureflaskauth.api.schemas import ChallengeResponse, PhoneChangeRequest, PhoneVerifyRequest
from secureflaskauth.domain.tokens.claims import AccessClaims

routes = Routes("phone", __name__, url_prefix="/auth", tag="account")


@routes.route(
    "POST",
    "/phone/change",
    summary="Send a code to a new phone number",
    description=(
        f"{STEP_UP} A token alone changes nothing. The new number follows "
        "the rules of registration (a mobile number in a country codes may be sent to) "
        "and its codes count against the SMS caps of a number not yet verified. The code "
        "goes to the new number; pass `session_id` and it to /auth/phone/verify (or "
        "`session_id` to /auth/resend-otp for a new code). The number does not change "
        "until then. After a change, the next one waits SFA_PHONE_CHANGE_COOLDOWN_SECONDS."
    ),
    body=PhoneChangeRequest,
    responses={
        200: ok("Code sent to the new number.", ChallengeResponse),
        401: STEP_UP_FAILED,
        422: problem(STEP_UP_MISSING + " Or a number registration would refuse."),
        429: problem(
            "Too many failed attempts for this account (`too-many-requests`, as "
            "/auth/login), the number was changed too recently, the account's code "
            "sign-in is locked, or an SMS cap (`sms-not-sent`); Retry-After says when.",
            retry_after,
        ),
        502: SMS_FAILED,
    },
    bearer=True,
    cache=NO_STORE,
)
def change_phone(claims: AccessClaims, body: PhoneChangeRequest) -> ChallengeResponse:
    parts = wiring.current()
    user = parts.own_account.user(claims.sub)
    state = parts.phone_change.start(
        user, body.password, body.phone_number, client_info(), body.proof()
    )
    return ChallengeResponse.of(state, "A one-time code was sent by SMS to the new number.")


@routes.route(
    "POST",
    "/phone/verify",
    summary="Verify the new number's code; the number changes, every other session ends",
    description=(
        "The code of a phone change of this account only. The new number replaces the "
        "old one and counts as verified; every other session of the user ends (this "
        "one stays), codes in flight end, and a notice goes to the old number by SMS. "
        "The code counts like a sign-in code (tries, the account's code lock and its "
        "failure delay)."
    ),
    body=PhoneVerifyRequest,
    responses={
        204: ok("The number is changed."),
        401: problem(
            "Wrong code (`invalid-otp`, see attempts_remaining; with Retry-After when the "
            "account's code sign-in is locked), or a change that is over or not this "
            "account's: expired, used, out of tries, of another kind or another account "
            "(`sign-in-expired`).",
            retry_after,
        ),
        409: problem(
            "The right code, but the number already belongs to as many verified accounts "
            "as SFA_MAX_ACCOUNTS_PER_NUMBER allows (`phone-number-unavailable`); the "
            "number stays as it was."
        ),
    },
    bearer=True,
    throttled=True,
    cache=NO_STORE,
)
def verify_phone(claims: AccessClaims, body: PhoneVerifyRequest) -> None:
    parts = wiring.current()
    user = parts.own_account.user(claims.sub)
    parts.phone_change.verify(user, claims.sid, body.session_id, body.otp, client_info())
