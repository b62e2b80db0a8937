"""English and Hebrew (right to left): the language of a page is the one asked for with
``?lang=`` (remembered in a cookie), else the cookie's, else the best of the browser's
Accept-Language, else English. Messages are Flask-Babel's (gettext catalogues in
web/translations, compiled .mo files shipped beside their .po sources)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, g, request
from flask_babel import Babel, get_locale

TRANSLATIONS = Path(__file__).parent / "translations"
DEFAULT = "en"
# Each language: its own name (as the switch shows it) and its direction.
LANGUAGES = {"en": ("English", "ltr"), "he": ("עברית", "rtl")}
COOKIE = "__Host-sfa-lang"
_YEAR = 365 * 86400
# Forms whose answer is another path's page: the switch links to that page.
_PAGE_OF = {
    "/signin/resend": "/signin/code",
    "/signin/passkey": "/signin",
    "/signin/code/passkey": "/signin/code",
    "/forgot/resend": "/forgot/reset",
    "/account/app/confirm": "/account/app",
    "/account/passkeys": "/account/passkeys/new",
    "/account/phone/resend": "/account/phone/verify",
}


def select() -> str:
    """The language of the current page."""
    for asked in (request.args.get("lang"), request.cookies.get(COOKIE)):
        if asked in LANGUAGES:
            return asked
    best = request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT)
    return best or DEFAULT


def language() -> str:
    return str(get_locale() or DEFAULT)


def direction() -> str:
    return LANGUAGES.get(language(), LANGUAGES[DEFAULT])[1]


def switches() -> list[tuple[str, str, str]]:
    """The other languages' links: (code, name, URL of this page in it)."""
    here = language()
    arguments: dict[str, Any] = request.args.to_dict()
    path = _PAGE_OF.get(request.path, request.path)
    return [
        (code, name, f"{path}?{urlencode({**arguments, 'lang': code})}")
        for code, (name, _) in LANGUAGES.items()
        if code != here
    ]


def remember(response: Response) -> Response:
    """Keep a language asked for with ``?lang=`` for the next pages."""
    asked = request.args.get("lang")
    if asked in LANGUAGES and request.cookies.get(COOKIE) != asked and "lang_kept" not in g:
        response.set_cookie(
            COOKIE, asked, max_age=_YEAR, path="/", secure=True, httponly=True, samesite="Lax"
        )
        g.lang_kept = True
    return response


def install(app: Flask) -> None:
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    Babel(app, locale_selector=select)
