"""Flask-Babel's message functions, typed (the package ships no type information).
The names are gettext's, so ``pybabel extract`` finds the messages where they are used."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import flask_babel


def gettext(message: str, **variables: Any) -> str:
    return str(flask_babel.gettext(message, **variables))


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    return str(flask_babel.ngettext(singular, plural, num, **variables))


def lazy_gettext(message: str) -> Any:
    """A message translated when it is shown (at import time no language is chosen)."""
    return flask_babel.lazy_gettext(message)


def when(timestamp: float) -> str:
    """A moment (unix seconds) as the page's language writes a date, and the time in
    UTC: "Dec 3, 2026, 14:05 UTC"."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    day = flask_babel.format_date(moment, "medium")
    # The time kept left to right in a Hebrew sentence (UAX #9 left-to-right isolate).
    return f"{day}, \u2066{flask_babel.format_time(moment, 'HH:mm')} UTC\u2069"
