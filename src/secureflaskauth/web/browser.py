"""The browser's sign-in: who the hosted pages (and the OpenID Connect provider) see
signed in, from a cookie.

The cookie holds an opaque random value; the service stores only its keyed hash, bound
to the session the sign-in created (domain/browser.py), so the account's session list,
logout-all, a password change or reset and an administrator's revocation end it like
any other session. The cookie is ``__Host-`` (Secure, Path=/, no Domain: this host
only), HttpOnly (no script reads it) and SameSite=Lax (sent on top-level navigation to
the service, as an OpenID Connect client's redirect is, never on another site's
subrequests or POSTs). It is Secure in every mode: browsers keep Secure cookies of
http://localhost too, so development there works; any other host needs https.
"""

from __future__ import annotations

from dataclasses import dataclass

import flask
from flask import g, request

from secureflaskauth import wiring
from secureflaskauth.api.auth import client_info

COOKIE = "__Host-sfa-signin"
_CACHE = "sfa_browser_signin"


@dataclass(frozen=True, slots=True)
class BrowserSignIn:
    user_id: str  # the same id as the access token's `sub`
    session_id: str  # the sessions-table id this sign-in created
    auth_time: int  # unix seconds when the person completed the sign-in
    amr: tuple[str, ...]  # RFC 8176 values, as in the access token's `amr`


def current_signin() -> BrowserSignIn | None:
    """The sign-in of the current request's cookie; None when absent, expired, revoked
    or tampered with. Looked up once per request."""
    if _CACHE in g:
        found: BrowserSignIn | None = g.get(_CACHE)
        return found
    token = request.cookies.get(COOKIE, "")
    session = wiring.current().browser.find(token) if token else None
    found = (
        None
        if session is None
        else BrowserSignIn(
            user_id=session.user_id,
            session_id=session.id,
            auth_time=int(session.created_at),
            amr=session.amr,
        )
    )
    setattr(g, _CACHE, found)
    return found


def start_signin(response: flask.Response, session_id: str) -> None:
    """Sign the browser in with the session a completed sign-in created; a sign-in the
    browser had before ends (a new one replaces it, never stays beside it)."""
    parts = wiring.current()
    _end_current(parts)
    token = parts.browser.start(session_id)
    session = parts.sessions.store.get(session_id)
    lifetime = int(session.expires_at - parts.clock.now()) if session else 0
    response.set_cookie(
        COOKIE,
        token,
        max_age=max(0, lifetime),
        path="/",
        secure=True,
        httponly=True,
        samesite="Lax",
    )
    g.pop(_CACHE, None)


def end_signin(response: flask.Response) -> None:
    """End the browser's sign-in (its session, everywhere it is checked) and clear the
    cookie."""
    _end_current(wiring.current())
    forget_signin(response)


def forget_signin(response: flask.Response) -> None:
    """Clear the cookie of a sign-in that ended already (its account deleted): nothing
    more is done or recorded for it."""
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="Lax")
    setattr(g, _CACHE, None)


def _end_current(parts: wiring.Wiring) -> None:
    token = request.cookies.get(COOKIE, "")
    if token:
        parts.browser.end(token, client_info())
