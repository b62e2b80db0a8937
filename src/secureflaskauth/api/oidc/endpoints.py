"""The protocol endpoints of OAuth 2.0 and OpenID Connect: /oauth/authorize,
/oauth/token, /oauth/userinfo and /oauth/logout. They speak the protocol's own formats
(form bodies, redirects, JSON errors with error codes: RFC 6749 5.2, RFC 6750 3.1),
hence plain routes, described by discovery."""

from __future__ import annotations

from urllib.parse import unquote_plus

from flask import Blueprint, Response, jsonify, request

from secureflaskauth import wiring
from secureflaskauth.api.bearer import bearer_token
from secureflaskauth.api.oidc import authorize as authorization
from secureflaskauth.api.oidc import logout as rp_logout
from secureflaskauth.api.oidc.discovery import AUTHORIZE, LOGOUT, TOKEN, USERINFO
from secureflaskauth.api.oidc.server import bad_input, protocol_error, server
from secureflaskauth.domain.errors import InvalidToken
from secureflaskauth.domain.oidc.claims import granted, user_claims
from secureflaskauth.web.browser import current_signin, end_signin

bp = Blueprint("oidc", __name__)
_REALM = 'Bearer realm="secureflaskauth"'


def _no_store(response: Response) -> Response:
    """RFC 6749 5.1 and 4.1.2: an answer holding a code or a token is never stored."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@bp.route(AUTHORIZE, methods=["GET", "POST"])
def authorize() -> Response:
    """The authorization endpoint (OpenID Connect Core 3.1.2.1: GET and POST)."""
    return _no_store(authorization.authorize(current_signin()))


@bp.route(LOGOUT, methods=["GET", "POST"])
def logout() -> Response:
    """RP-initiated logout (RP-Initiated Logout 1.0, 2: GET and POST)."""
    return _no_store(rp_logout.logout(current_signin(), end_signin))


@bp.post(TOKEN)
def token() -> Response:
    w = wiring.current()
    ip = request.remote_addr or "unknown"
    w.throttle.check(f"ip:{ip}:token", w.throttle.limits.token_ip, per_ip=True, name="token_ip")
    # RFC 6749 3.2: no parameter more than once.
    if any(len(request.form.getlist(name)) > 1 for name in request.form):
        return protocol_error(bad_input("a repeated parameter"))
    if _two_client_authentications():
        return protocol_error(bad_input("two client authentication methods"))
    try:
        response: Response = server().create_token_response()
    except ValueError as exc:  # authlib refused to describe the input
        return protocol_error(bad_input(type(exc).__name__))
    return response


def _two_client_authentications() -> bool:
    """RFC 6749 2.3: one client authentication method per request. HTTP Basic with a
    client_secret in the body, or with a body's client_id naming another client."""
    basic = request.authorization
    if basic is None or basic.type != "basic":
        return False
    if "client_secret" in request.form:
        return True
    client_id = request.form.get("client_id")
    return client_id is not None and client_id != unquote_plus(basic.username or "")


def _insufficient_scope() -> Response:
    """RFC 6750 3.1: a valid token that does not grant openid (the API's own sign-ins)."""
    response = jsonify(
        error="insufficient_scope",
        error_description="The access token was not issued with the openid scope.",
    )
    response.status_code = 403
    response.headers["WWW-Authenticate"] = f'{_REALM}, error="insufficient_scope", scope="openid"'
    return response


@bp.route(USERINFO, methods=["GET", "POST"])
def userinfo() -> Response:
    """OpenID Connect Core 5.3: the claims of the scopes granted, for the Bearer token
    (from the Authorization header only). Its errors are the API's (RFC 6750)."""
    w = wiring.current()
    claims = w.sessions.authenticate(bearer_token())
    session = w.sessions.store.get(claims.sid)
    if session is None or session.client_id is None or "openid" not in granted(session.scope or ""):
        return _insufficient_scope()
    user = w.users.by_id(claims.sub)
    if user is None or user.disabled:
        raise InvalidToken("no such user")
    return _no_store(jsonify(user_claims(user, session.scope or "")))
