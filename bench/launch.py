"""``python bench/launch.py WORKER``: ``secureflaskauth serve`` with another worker kind
(the alternatives ``make bench`` compares); ``python bench/launch.py naive``: the naive
reference app (bench/naive.py) under exactly the service's server (gunicorn's arbiter,
uvicorn workers, the bridge, the same workers and threads); ``python bench/launch.py
threads``: ``secureflaskauth serve`` with every request handed to a thread, none run on
the event loop (api/inline.py), to measure what that path changes;
``launch:asgi_app`` is the app for granian's ASGI interface."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from secureflaskauth.server import WORKERS, serve
from secureflaskauth.server.gunicorn import Application
from secureflaskauth.settings import Settings


class NaiveApplication(Application):
    """The service's server configuration, serving the naive reference instead."""

    def load(self) -> Any:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from bench.naive import create_app
        from secureflaskauth.server.bridge import WsgiBridge

        s = Settings()
        return WsgiBridge(create_app(), threads=s.threads, max_body_bytes=s.max_body_bytes)


if __name__ == "__main__":
    kind = sys.argv[1]
    if kind == "naive":
        NaiveApplication(Settings(), "uvicorn").run()
    elif kind == "threads":
        import secureflaskauth.api.inline

        def never(_app: object) -> None:
            return None

        # The server asks for the app's answer when it loads it, after this.
        secureflaskauth.api.inline.runs_inline_of = never  # type: ignore[assignment]
        serve(Settings())
    elif kind in WORKERS:
        serve(Settings(), kind)
    else:
        sys.exit(f"unknown worker {kind!r}: naive or one of {', '.join(WORKERS)}")


def asgi_app() -> object:
    """The service's ASGI app (Flask behind the bridge), for granian's ASGI interface."""
    from secureflaskauth.app import create_app
    from secureflaskauth.server.bridge import WsgiBridge

    settings = Settings()
    app = create_app(settings, migrate=False)
    return WsgiBridge(app, threads=settings.threads, max_body_bytes=settings.max_body_bytes)
