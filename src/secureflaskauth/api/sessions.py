"""/auth/refresh, /auth/logout, /auth/logout-all and /auth/sessions."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from secureflaskauth import wiring
from secureflaskauth.api.auth import bearer_token, client_info, no_store
from secureflaskauth.api.body import read_json
from secureflaskauth.api.schemas import RefreshRequest
from secureflaskauth.domain.clock import iso_utc

bp = Blueprint("sessions", __name__, url_prefix="/auth")


def _claims() -> dict[str, object]:
    return wiring.current().sessions.authenticate(bearer_token())


def _no_content() -> Response:
    return no_store(Response(status=204))


@bp.post("/refresh")
def refresh() -> Response:
    body = read_json(RefreshRequest)
    client = client_info()
    pair = wiring.current().sessions.refresh(
        body.refresh_token, ip=client.ip, user_agent=client.user_agent
    )
    return no_store(
        jsonify(
            {
                "message": "Tokens refreshed.",
                "access_token": pair.access_token,
                "token_type": "Bearer",
                "expires_in": pair.expires_in,
                "refresh_token": pair.refresh_token,
            }
        )
    )


@bp.post("/logout")
def logout() -> Response:
    claims = _claims()
    wiring.current().sessions.logout(str(claims["sub"]), str(claims["sid"]), client_info())
    return _no_content()


@bp.post("/logout-all")
def logout_all() -> Response:
    claims = _claims()
    wiring.current().sessions.logout_all(str(claims["sub"]), client_info())
    return _no_content()


@bp.get("/sessions")
def list_sessions() -> Response:
    claims = _claims()
    sessions = wiring.current().sessions.active_for_user(str(claims["sub"]))
    return no_store(
        jsonify(
            [
                {
                    "id": s.id,
                    "current": s.id == claims["sid"],
                    "created_at": iso_utc(s.created_at),
                    "last_used_at": iso_utc(s.last_used_at),
                    "expires_at": iso_utc(min(s.expires_at, s.last_used_at + s.idle_timeout)),
                    "ip": s.ip,
                    "user_agent": s.user_agent,
                    "amr": list(s.amr),
                }
                for s in sessions
            ]
        )
    )


@bp.delete("/sessions/<session_id>")
def end_session(session_id: str) -> Response:
    claims = _claims()
    wiring.current().sessions.end_own(str(claims["sub"]), session_id, client_info())
    return _no_content()
