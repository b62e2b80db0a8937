"""Flask-Babel's message functions, typed (the package ships no type information).
The names are gettext's, so ``pybabel extract`` finds the messages where they are used."""

from __future__ import annotations

from typing import Any

import flask_babel


def gettext(message: str, **variables: Any) -> str:
    return str(flask_babel.gettext(message, **variables))


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    return str(flask_babel.ngettext(singular, plural, num, **variables))


def lazy_gettext(message: str) -> Any:
    """A message translated when it is shown (at import time no language is chosen)."""
    return flask_babel.lazy_gettext(message)
