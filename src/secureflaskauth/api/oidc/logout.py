"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): an app sends the person
here with the ID token it received (``id_token_hint``); the browser's sign-in ends, and
so does the session of that ID token's tokens; then back to the app's registered
``post_logout_redirect_uri`` (exact match) with its ``state``.

Without a valid hint nothing is ended (another site could otherwise sign people out at
will: RP-Initiated Logout 1.0, 6) and a page says where to sign out instead.

Written here rather than with authlib's EndSessionEndpoint, which verifies the hint
with joserfc against a key set: the service's key ring verifies its own ID tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from flask import Response, request

from secureflaskauth import wiring
from secureflaskauth.api.oidc.authorize import SignedIn
from secureflaskauth.api.oidc.server import error_page
from secureflaskauth.domain.errors import InvalidToken
from secureflaskauth.domain.oidc.idtokens import IdTokenHint

ACCOUNT_PAGE = "/account"


def _hint() -> IdTokenHint | None:
    token = request.values.get("id_token_hint", "")
    if not token:
        return None
    try:
        return wiring.current().oidc.id_tokens.read_hint(token)
    except InvalidToken:
        return None


def _not_done(detail: str) -> Response:
    return error_page(
        400,
        "You were not signed out",
        f"{detail} To sign out, use your account page ({ACCOUNT_PAGE}).",
    )


def logout(signin: SignedIn | None, end_signin: Callable[[Response], None]) -> Response:
    """End the browser's sign-in of the hint's user, and the hint's session."""
    w = wiring.current()
    hint = _hint()
    if hint is None:
        return _not_done("The app's sign-out link is missing its ID token, or it is not valid.")
    client_id = request.values.get("client_id") or (
        hint.audience[0] if len(hint.audience) == 1 else ""
    )
    client = w.oidc.clients.get(client_id)
    if client is None or client_id not in hint.audience:
        return _not_done("The sign-out link names no app this ID token was issued to.")
    target = request.values.get("post_logout_redirect_uri")
    if target is not None and target not in client.post_logout_redirect_uris:
        return _not_done("The app asked to return to an address it has not registered.")
    # The session of the ID token's tokens, if it is the hint's user's, at this app.
    session = w.sessions.store.get(hint.session_id) if hint.session_id else None
    if (
        session is not None
        and session.user_id == hint.subject
        and session.client_id == client.client_id
        and session.revoked_at is None
    ):
        w.sessions.end(session, reason="rp-initiated logout")
    if target is None:
        response = Response(
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<title>Signed out</title></head><body><main><h1>You are signed out</h1>"
            "</main></body></html>",
            mimetype="text/html",
        )
    else:
        state = request.values.get("state")
        location = f"{target}{'&' if '?' in target else '?'}{urlencode({'state': state})}"
        response = Response(status=302, headers={"Location": location if state else target})
    # The browser's sign-in ends only when it is the hint's user's (another person's
    # sign-in in this browser is not this app's to end).
    if signin is not None and signin.user_id == hint.subject:
        end_signin(response)
    w.audit.emit(
        "logged_out",
        "success",
        user_id=hint.subject,
        ip=request.remote_addr,
        detail={"client_id": client.client_id, "by": "rp-initiated logout"},
    )
    return response
