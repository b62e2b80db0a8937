"""Where a page may send the browser after it: a path of this service, never another
site (ASVS 3.7.2; no open redirect)."""

from __future__ import annotations

from flask import Response, render_template

ACCOUNT = "/account"
# The pages themselves: reached with a plain redirect.
_OWN_PAGES = ("/account", "/signin", "/signup", "/forgot")
_MAX_LENGTH = 4096


def safe_next(value: str | None) -> str | None:
    """``value`` when it is a same-origin relative path, else None.

    Exactly one leading "/" ("//host" and "/\\host" name another host), no backslash
    anywhere (browsers read it as "/"), no control character or space (browsers drop
    tabs and line breaks from URLs, so "/\\t/host" would become "//host"), no scheme.
    """
    if not value or len(value) > _MAX_LENGTH:
        return None
    if not value.startswith("/") or value.startswith("//"):
        return None
    if "\\" in value or any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in value):
        return None
    return value


def after_signin(value: str | None) -> str:
    """Where a completed sign-in goes: ``value`` when safe, else the account page."""
    return safe_next(value) or ACCOUNT


def continue_to(path: str) -> Response:
    """The answer of a form that sends the browser on to ``path`` (a safe one).

    A page of these pages gets a redirect (303). Anything else (an authorization
    request, which redirects on to its client's site) gets a page that moves on at once
    (a refresh, no script needed) with a link: browsers apply the form's CSP
    ``form-action 'self'`` to every redirect that follows a form's submission, so a
    chain of redirects ending on another site would be blocked.
    """
    own = any(path == p or path.startswith((p + "/", p + "?")) for p in _OWN_PAGES)
    if own:
        return see_other(path)
    return Response(render_template("pages/continue.html", destination=path))


def see_other(location: str) -> Response:
    """303 See Other: after a form, the browser GETs ``location`` (a path of ours)."""
    response = Response(status=303)
    response.headers["Location"] = location
    return response
