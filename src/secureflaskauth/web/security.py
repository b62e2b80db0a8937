"""What every page answer carries: a Content-Security-Policy with a nonce of its own,
the app's security headers, no caching; and the CSRF check of every form.

CSRF: Flask-WTF's synchronizer token (CSRFProtect). A random token is kept in the
pre-session cookie (Flask's signed session cookie, ``__Host-``, HttpOnly, SameSite=Lax)
and every form carries it signed with the secret key (itsdangerous, with a time limit);
each POST of the pages is refused unless the two match (compared in constant time),
and over https unless the Referer is this origin too. The pages check it themselves
(WTF_CSRF_CHECK_DEFAULT off): the JSON API, which takes bearer tokens and no cookies,
is left as it is. SameSite=Lax alone would not do: it lets a top-level GET through and
says nothing of same-site subdomains.
"""

from __future__ import annotations

import secrets

from flask import Flask, Request, Response, g, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from flask_wtf.csrf import CSRFProtect

from secureflaskauth.api.answers import CACHE_CONTROL, NO_STORE

csrf = CSRFProtect()
FLOW_COOKIE = "__Host-sfa-flow"
_NONCE = "csp_nonce"


def nonce() -> str:
    """This answer's CSP nonce (a new one for every request)."""
    if _NONCE not in g:
        setattr(g, _NONCE, secrets.token_urlsafe(18))
    value: str = g.get(_NONCE)
    return value


def policy(for_nonce: str) -> str:
    """The pages' CSP: nothing but the service's own files, scripts only with the nonce
    (no 'strict-dynamic': the one script loads nothing, so nothing it would add runs
    either), forms only to the service."""
    return (
        "default-src 'none'; "
        f"script-src 'nonce-{for_nonce}'; "
        f"style-src 'self' 'nonce-{for_nonce}'; "
        "img-src 'self'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def headers(response: Response) -> Response:
    """The headers of every page answer; the app's own (api/headers.py) add the rest."""
    response.headers["Content-Security-Policy"] = policy(nonce())
    # Same-origin: the CSRF check reads the Referer of a form sent over https; no other
    # origin ever learns the page (whose URL may hold an authorization request).
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "pages.asset":  # the files, named by their digest, are kept
        response.headers[CACHE_CONTROL] = NO_STORE
        response.headers["Pragma"] = "no-cache"
    return response


def check_csrf() -> None:
    """Refuse a form POST without the right token (CSRFError, a 400 page)."""
    if request.method == "POST":
        csrf.protect()


class FlowSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session (the pre-session cookie above), without Flask's
    work on the requests that carry no such cookie and leave the session untouched:
    every API request. For each request Flask builds a new itsdangerous serializer
    (key list, signer) before it looks for the cookie, and works out every cookie
    attribute before it finds there is nothing to write: measured, about a tenth of
    a /auth/private answered from memory (README, Performance). A request with the
    cookie, or one that reads or writes the session, gets Flask's own code."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        # Flask's own would add nothing here: no Vary (never accessed), no cookie to
        # set (empty) or to delete (not modified).
        if not session and not session.modified and not session.accessed:
            return
        super().save_session(app, session, response)


def install(app: Flask, secret_key: bytes) -> None:
    app.secret_key = secret_key
    app.session_interface = FlowSessions()
    app.config.update(
        SESSION_COOKIE_NAME=FLOW_COOKIE,
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_DOMAIN=None,
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=3600,
        WTF_CSRF_SSL_STRICT=True,
    )
    csrf.init_app(app)
