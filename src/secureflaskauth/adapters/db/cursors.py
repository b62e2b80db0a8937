"""Keyset cursors: the sort key of a page's last row, so the next page starts right
after it (``WHERE key > cursor ORDER BY key LIMIT n``) and costs the same at any
depth; OFFSET would read and drop every row before the page. The key travels as
URL-safe base64 of JSON (a float's JSON form reads back to the same float), tagged
with the order it belongs to."""

from __future__ import annotations

import base64
import binascii
import json
import math

from secureflaskauth.domain.directory import InvalidCursor

Key = tuple[float | str, ...]
_MAX_CURSOR = 512


def encode(order: str, key: Key) -> str:
    raw = json.dumps([order, *key], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def decode(cursor: str, order: str, kinds: tuple[type[float] | type[str], ...]) -> Key:
    """The key of a cursor ``encode(order, ...)`` made, its values of ``kinds``."""
    if len(cursor) > _MAX_CURSOR:
        raise InvalidCursor("too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw.decode("utf-8"))
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidCursor("not a cursor") from None
    if not isinstance(values, list) or len(values) != len(kinds) + 1 or values[0] != order:
        raise InvalidCursor("not a cursor of this listing")
    key: list[float | str] = []
    for value, kind in zip(values[1:], kinds, strict=True):
        if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise InvalidCursor("not a cursor of this listing")
            key.append(float(value))
        elif kind is str and isinstance(value, str) and _storable(value):
            key.append(value)
        else:
            raise InvalidCursor("not a cursor of this listing")
    return tuple(key)


def _storable(text: str) -> bool:
    """Text a database can take: no NUL, and no lone surrogate (JSON's ``"\\ud800"``
    decodes to one, which no UTF-8 encoder accepts)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
