"""/auth/refresh, /auth/logout, /auth/logout-all and /auth/sessions."""

from __future__ import annotations

from secureflaskauth import wiring
from secureflaskauth.api.answers import NO_STORE, ok, problem
from secureflaskauth.api.auth import client_info
from secureflaskauth.api.operations import Routes
from secureflaskauth.api.schemas import RefreshRequest, SessionInfo, TokenResponse
from secureflaskauth.domain.clock import iso_utc
from secureflaskauth.domain.tokens import AccessClaims

routes = Routes("sessions", __name__, url_prefix="/auth", tag="sessions")


@routes.route(
    "POST",
    "/refresh",
    summary="Exchange a refresh token for a new pair (the old one stops working)",
    body=RefreshRequest,
    responses={
        200: ok(
            "New access and refresh token. Repeats within a few seconds get the same pair.",
            TokenResponse,
        ),
        401: problem(
            "Invalid, expired or revoked; a reused rotated token ends its session "
            "(`invalid-refresh-token`)."
        ),
    },
    cache=NO_STORE,
)
def refresh(body: RefreshRequest) -> TokenResponse:
    client = client_info()
    pair = wiring.current().sessions.refresh(
        body.refresh_token, ip=client.ip, user_agent=client.user_agent
    )
    return TokenResponse.of(pair, "Tokens refreshed.")


@routes.route(
    "POST",
    "/logout",
    summary="End this session",
    responses={204: ok("Signed out.")},
    bearer=True,
    cache=NO_STORE,
)
def logout(claims: AccessClaims) -> None:
    wiring.current().sessions.logout(claims.sub, claims.sid, client_info())


@routes.route(
    "POST",
    "/logout-all",
    summary="End every session of the user",
    responses={204: ok("Every session ended.")},
    bearer=True,
    cache=NO_STORE,
)
def logout_all(claims: AccessClaims) -> None:
    wiring.current().sessions.logout_all(claims.sub, client_info())


@routes.route(
    "GET",
    "/sessions",
    summary="The user's active sessions",
    responses={
        200: ok("Newest first; `current` marks the session of this token.", list[SessionInfo])
    },
    bearer=True,
    cache=NO_STORE,
)
def list_sessions(claims: AccessClaims) -> list[SessionInfo]:
    sessions = wiring.current().sessions.active_for_user(claims.sub)
    return [
        SessionInfo(
            id=s.id,
            current=s.id == claims.sid,
            created_at=iso_utc(s.created_at),
            last_used_at=iso_utc(s.last_used_at),
            expires_at=iso_utc(min(s.expires_at, s.last_used_at + s.idle_timeout)),
            ip=s.ip,
            user_agent=s.user_agent,
            amr=list(s.amr),
        )
        for s in sessions
    ]


@routes.route(
    "DELETE",
    "/sessions/<session_id>",
    summary="End one of the user's sessions",
    responses={
        204: ok("Session ended."),
        404: problem(
            "No session of this user that is active or whose time ran out less than the "
            "longest access-token lifetime (an hour) ago, so that its last token may still "
            "be good (`session-not-found`)."
        ),
    },
    bearer=True,
    cache=NO_STORE,
    params={"session_id": "The `id` of one of the user's sessions (GET /auth/sessions)."},
)
def end_session(claims: AccessClaims, session_id: str) -> None:
    wiring.current().sessions.end_own(claims.sub, session_id, client_info())
