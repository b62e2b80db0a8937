"""Client-supplied text made safe to store, list and log."""

from __future__ import annotations


def printable(text: str, limit: int) -> str:
    """Unprintable characters (NUL, CR, LF, ...) escaped as \\uXXXX, then cut to ``limit``:
    no value can forge a log line, break a database column (PostgreSQL text cannot hold
    NUL) or a listing (ASVS 16.4.1)."""
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in text)[:limit]
