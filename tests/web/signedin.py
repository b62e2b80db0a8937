"""Browsers signed in to the pages, each with its own cookies, and what the account
pages say (a field's message, the alert, the notices)."""

from __future__ import annotations

import html
import re
from typing import Any

from flask import Flask
from werkzeug.test import TestResponse

from secureflaskauth.web.browser import COOKIE
from tests.api.test_refresh import query, wiring_of
from tests.conftest import register
from tests.web.visit import Visitor

_ALERT = re.compile(r'<div class="alert" role="alert">(.*?)</div>', re.S)
_NOTICE = re.compile(r'<p class="notice" role="status">(.*?)</p>', re.S)
_TAGS = re.compile(r"<[^>]+>")


def browser(app: Flask) -> Visitor:
    """A browser of its own (its own cookie jar)."""
    return Visitor(app.test_client())


def signed_in(app: Flask, username: str | None = None) -> tuple[Visitor, str]:
    """A browser signed in with the password and the SMS code, on /account."""
    visitor = browser(app)
    username = username or register(visitor.client)
    done = visitor.sign_in(username)
    assert done.headers.get("Location") == "/account", done.get_data()[:500]
    assert visitor.follow(done).status_code == 200
    return visitor, username


def session_id(app: Flask, visitor: Visitor) -> str:
    """The session of the browser's sign-in (while it is signed in)."""
    cookie = visitor.client.get_cookie(COOKIE)
    assert cookie is not None
    found = wiring_of(app).browser.find(cookie.value)
    assert found is not None
    return found.id


def revoked(app: Flask, sid: str) -> bool:
    [row] = query(app, "SELECT revoked_at FROM sessions WHERE id = :id", id=sid)
    return row["revoked_at"] is not None


def is_signed_in(visitor: Visitor) -> bool:
    return visitor.get("/account").status_code == 200


def _text(fragment: str) -> str:
    return " ".join(html.unescape(_TAGS.sub("", fragment)).split())


def error_of(response: TestResponse, field: str) -> str:
    """The message next to a field ("" when none)."""
    found = re.search(
        rf'<p class="error" id="{re.escape(field)}-error">(.*?)</p>',
        response.get_data(as_text=True),
    )
    return _text(found.group(1)) if found else ""


def alert_of(response: TestResponse) -> str:
    found = _ALERT.search(response.get_data(as_text=True))
    return _text(found.group(1)) if found else ""


def notices_of(response: TestResponse) -> list[str]:
    return [_text(m) for m in _NOTICE.findall(response.get_data(as_text=True))]


def audit(app: Flask, event: str) -> list[dict[str, Any]]:
    return query(app, "SELECT * FROM audit_events WHERE event = :e ORDER BY id", e=event)
