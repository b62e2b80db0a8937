"""/auth/*: register, login, verify-otp, resend-otp and the protected endpoint."""

from __future__ import annotations

from flask import Response, jsonify, request

from secureflaskauth import wiring
from secureflaskauth.api.answers import NO_STORE, ok, problem, retry_after
from secureflaskauth.api.operations import Routes
from secureflaskauth.api.schemas import (
    ChallengeResponse,
    LoginRequest,
    MessageResponse,
    RegisterRequest,
    RegisterResponse,
    ResendRequest,
    SignInResponse,
    VerifyRequest,
)
from secureflaskauth.domain.errors import ValidationFailed
from secureflaskauth.domain.models import Client
from secureflaskauth.domain.text import header_text, shorten
from secureflaskauth.domain.tokens import AccessClaims

routes = Routes("auth", __name__, url_prefix="/auth", tag="auth")
SMS_FAILED = problem("The SMS could not be sent (`sms-delivery-failed`).")


def client_info() -> Client:
    agent = shorten(header_text(request.user_agent.string), 256)
    return Client(ip=request.remote_addr or "unknown", user_agent=agent)


@routes.route(
    "POST",
    "/register",
    summary="Register a user",
    body=RegisterRequest,
    responses={
        201: ok("User registered.", RegisterResponse),
        409: problem("Username taken, or one that reads like it (`username-taken`)."),
    },
    throttled=True,
    cache=NO_STORE,
)
def register(body: RegisterRequest) -> RegisterResponse:
    user_id = wiring.current().registration.register(
        body.username, body.password, body.phone_number, client_info()
    )
    return RegisterResponse(message="User registered successfully.", user_id=user_id)


@routes.route(
    "POST",
    "/login",
    summary="Check the password and start the second step",
    description=(
        "The second step is the SMS code, or the authenticator app's code for an account "
        "with one (`method` says which; `methods` lists what the account may use). Such an "
        "account gets no SMS unless it asks for one at /auth/resend-otp."
    ),
    body=LoginRequest,
    responses={
        200: ok(
            "Second step started (a code sent, or the app's expected); pass session_id to "
            "/auth/verify-otp.",
            ChallengeResponse,
        ),
        401: problem("Wrong username or password, one answer for both (`invalid-credentials`)."),
        403: problem(
            "The right password, but an administrator has required a new one: reset it "
            "with /auth/password/forgot (`password-reset-required`)."
        ),
        423: problem(
            "Sign-in disabled after too many failed attempts, until an admin acts "
            "(`sign-in-disabled`)."
        ),
        502: SMS_FAILED,
    },
    throttled=True,
    cache=NO_STORE,
)
def login(body: LoginRequest) -> ChallengeResponse:
    state = wiring.current().signin.login(body.username, body.password, client_info())
    return ChallengeResponse.of(state)


@routes.route(
    "POST",
    "/verify-otp",
    summary="Check the one-time code (or a recovery code) and get an access token",
    description=(
        "Send `otp`, the code sent by SMS or the authenticator app's (`method` says which; "
        "without it, the method the sign-in started with), or `recovery_code`, one of the "
        "account's "
        "recovery codes, in its place (the lost phone; it works once, a notice SMS goes "
        "to the account's number, and the answer carries `recovery_codes_remaining`). "
        "A wrong recovery code counts as a wrong code."
    ),
    body=VerifyRequest,
    responses={
        200: ok("Signed in.", SignInResponse),
        401: problem(
            "Wrong code (`invalid-otp`, see attempts_remaining; with Retry-After when "
            "too many wrong codes locked the account's sign-in for a while), or a sign-in "
            "that is over: expired, used or out of tries (`sign-in-expired`).",
            retry_after,
        ),
        409: problem(
            "The right code, but the account's number is not verified yet and already "
            "belongs to as many verified accounts as SFA_MAX_ACCOUNTS_PER_NUMBER allows "
            "(`phone-number-unavailable`); no session is started."
        ),
        422: problem(
            "A malformed field; or no `method`, no SMS sent for this sign-in and no "
            "authenticator app (`errors.method`, and `methods`: what the account may use)."
        ),
    },
    throttled=True,
    cache=NO_STORE,
)
def verify_otp(body: VerifyRequest) -> Response:
    parts = wiring.current()
    if errors := body.null_fields():
        raise ValidationFailed(errors)
    if (body.otp is None) == (body.recovery_code is None):
        message = "Give either otp or recovery_code (exactly one)."
        raise ValidationFailed({"otp": [message], "recovery_code": [message]})
    if body.method is not None and body.recovery_code is not None:
        raise ValidationFailed({"method": ["Names whose code `otp` is; not with recovery_code."]})
    remaining: int | None = None
    if body.recovery_code is not None:
        signed_in, remaining = parts.recovery_signin.verify(
            body.session_id, body.recovery_code, client_info()
        )
    else:
        assert body.otp is not None
        signed_in = parts.second_step.verify(body.session_id, body.otp, client_info(), body.method)
    answer = SignInResponse.of(signed_in.tokens, "Authentication successful.")
    answer.recovery_codes_remaining = remaining
    # Without a recovery code the answer is the seed's, with no member more.
    return jsonify(answer.model_dump(mode="json", exclude_none=True))


@routes.route(
    "POST",
    "/resend-otp",
    summary="Send a new one-time code by SMS; the previous one stops working",
    description=(
        "Also sends the first SMS of a sign-in that started with the authenticator app "
        '(`"method":"sms"`, which is the only method a code can be sent by).'
    ),
    body=ResendRequest,
    responses={
        200: ok("New code sent.", ChallengeResponse),
        401: problem("The sign-in is over: expired, used or out of tries (`sign-in-expired`)."),
        429: problem(
            "Not yet (see `resend_after`), or no more codes for this sign-in "
            "(`resend_after` is null)."
        ),
        502: SMS_FAILED,
    },
    throttled=True,
    cache=NO_STORE,
)
def resend_otp(body: ResendRequest) -> ChallengeResponse:
    state = wiring.current().signin.resend(body.session_id, client_info())
    return ChallengeResponse.of(state, "A new one-time code was sent by SMS.")


@routes.route(
    "GET",
    "/private",
    summary="A protected resource",
    responses={200: ok("Access granted.", MessageResponse)},
    bearer=True,
    cache=NO_STORE,
    memory=True,
)
def private(claims: AccessClaims) -> MessageResponse:
    return MessageResponse(message="Access granted.")
