"""The pages' files (one style sheet, one small script, the icon), served by routes of
their own (the app has no static folder). Their URLs carry a digest of the content,
so a browser may keep them for a day and still never uses an old one."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from flask import Response, abort, send_from_directory, url_for

STATIC = Path(__file__).parent / "static"
FILES = frozenset({"pages.css", "pages.js", "icon.svg"})


@cache
def digest(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:16]


def url(name: str) -> str:
    """The URL of one of the files."""
    return url_for("pages.asset", name=name, v=digest(name))


def serve(name: str) -> Response:
    """The route of the files (registered by pages.py)."""
    if name not in FILES:
        abort(404)
    return send_from_directory(STATIC, name, max_age=86400)
