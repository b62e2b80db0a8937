"""/auth/*: register, login, verify-otp, resend-otp and the protected endpoint."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from secureflaskauth import wiring
from secureflaskauth.api.body import read_json
from secureflaskauth.api.errors import MissingToken
from secureflaskauth.api.schemas import (
    LoginRequest,
    RegisterRequest,
    ResendRequest,
    VerifyRequest,
)
from secureflaskauth.domain.errors import InvalidToken
from secureflaskauth.domain.models import Client
from secureflaskauth.domain.signin import ChallengeState

bp = Blueprint("auth", __name__, url_prefix="/auth")


def client_info() -> Client:
    return Client(ip=request.remote_addr or "unknown", user_agent=request.user_agent.string[:256])


def no_store(response: Response) -> Response:
    """Token and challenge answers must not be cached (RFC 6749 5.1)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _json(payload: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(payload)
    response.status_code = status
    return no_store(response)


def _challenge(state: ChallengeState, message: str) -> Response:
    return _json(
        {
            "message": message,
            "session_id": state.session_id,
            "expires_in": state.expires_in,
            "resend_after": state.resend_after,
            "sent_to": state.sent_to,
            "attempts_remaining": state.attempts_remaining,
        }
    )


@bp.post("/register")
def register() -> Response:
    body = read_json(RegisterRequest)
    user_id = wiring.current().registration.register(
        body.username, body.password, body.phone_number, client_info()
    )
    return _json({"message": "User registered successfully.", "user_id": user_id}, 201)


@bp.post("/login")
def login() -> Response:
    body = read_json(LoginRequest)
    state = wiring.current().signin.login(body.username, body.password, client_info())
    return _challenge(state, "A one-time code was sent by SMS.")


@bp.post("/verify-otp")
def verify_otp() -> Response:
    body = read_json(VerifyRequest)
    signed_in = wiring.current().signin.verify(body.session_id, body.otp, client_info())
    return _json(
        {
            "message": "Authentication successful.",
            "access_token": signed_in.tokens.access_token,
            "token_type": "Bearer",
            "expires_in": signed_in.tokens.expires_in,
            "refresh_token": signed_in.tokens.refresh_token,
        }
    )


@bp.post("/resend-otp")
def resend_otp() -> Response:
    body = read_json(ResendRequest)
    state = wiring.current().signin.resend(body.session_id, client_info())
    return _challenge(state, "A new one-time code was sent by SMS.")


def bearer_token() -> str:
    """The token from the one Authorization header (RFC 6750 2.1); nowhere else."""
    values = request.headers.getlist("Authorization")
    if not values:
        raise MissingToken("no Authorization header")
    if len(values) != 1:
        raise InvalidToken("repeated Authorization header")
    scheme, _, token = values[0].partition(" ")
    if scheme.lower() != "bearer":
        raise MissingToken("not a Bearer credential")
    token = token.strip()
    # Swagger UI adds "Bearer " itself; people following the seed's instructions
    # type "Bearer <token>" into it as well. Accept that one doubled prefix.
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    if not token or " " in token:
        raise InvalidToken("malformed Bearer credential")
    return token


@bp.get("/private")
def private() -> Response:
    wiring.current().sessions.authenticate(bearer_token())
    return _json({"message": "Access granted."})
