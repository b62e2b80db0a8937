"""Usernames: what is allowed and when two are the same."""

from __future__ import annotations

import unicodedata

MIN_LENGTH = 8
MAX_LENGTH = 64
_PUNCTUATION = frozenset("._-")


def display_form(raw: str) -> str:
    """The form stored and shown: NFKC, so fullwidth and composed letters settle."""
    return unicodedata.normalize("NFKC", raw)


def canonical(raw: str) -> str:
    """The form compared for uniqueness and lookup: NFKC, case-folded, NFKC again
    (Unicode's identifier caseless match, UAX #31 / RFC 8265 style)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", raw).casefold())


def _allowed(ch: str) -> bool:
    if ch in _PUNCTUATION:
        return True
    category = unicodedata.category(ch)
    return category.startswith("L") or category == "Nd"


def problems(raw: str) -> list[str]:
    """Reasons the username is not acceptable; empty when it is."""
    form = display_form(raw)
    found = []
    if not MIN_LENGTH <= len(form) <= MAX_LENGTH:
        found.append(f"Must be {MIN_LENGTH} to {MAX_LENGTH} characters long.")
    if not all(_allowed(ch) for ch in form):
        found.append("May contain only letters, digits and the characters . _ -")
    return found
