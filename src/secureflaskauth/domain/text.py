"""Client-supplied text made safe to store, list and log."""

from __future__ import annotations

import re

# An escape printable() wrote, cut short at the end of a text.
_CUT_ESCAPE = re.compile(r"\\u[0-9a-f]{0,3}$")


def printable(text: str, limit: int) -> str:
    """Unprintable characters (NUL, CR, LF, ...) escaped as \\uXXXX, then cut to ``limit``
    between whole characters and escapes: no value can forge a log line, break a
    database column (PostgreSQL text cannot hold NUL) or a listing (ASVS 16.4.1)."""
    escaped = "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in text)
    return shorten(escaped, limit)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, never inside an escape of printable()."""
    if len(text) <= limit:
        return text
    return _CUT_ESCAPE.sub("", text[:limit])


def header_text(value: str) -> str:
    """A request header's text: WSGI hands headers over as latin-1 decoded bytes, while
    clients send UTF-8 (a user agent with a device's name): decoded again as UTF-8, a
    byte that is no UTF-8 shown as U+FFFD."""
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        return value  # not from the wire as bytes: already text
    return raw.decode("utf-8", errors="replace")
