"""``python bench/launch.py WORKER``: ``secureflaskauth serve`` with another worker kind
(the alternatives ``make bench`` compares); ``launch:asgi_app`` is the app for granian's
ASGI interface."""

from __future__ import annotations

import sys

from secureflaskauth.server import WORKERS, serve
from secureflaskauth.settings import Settings

if __name__ == "__main__":
    kind = sys.argv[1]
    if kind not in WORKERS:
        sys.exit(f"unknown worker {kind!r}: one of {', '.join(WORKERS)}")
    serve(Settings(), kind)


def asgi_app() -> object:
    """The service's ASGI app (Flask behind the bridge), for granian's ASGI interface."""
    from secureflaskauth.app import create_app
    from secureflaskauth.server.bridge import WsgiBridge

    settings = Settings()
    app = create_app(settings, migrate=False)
    return WsgiBridge(app, threads=settings.threads, max_body_bytes=settings.max_body_bytes)
