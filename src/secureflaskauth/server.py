"""Serve the app with gunicorn (threaded workers), the server chosen by measurement."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from secureflaskauth.settings import Settings


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        super().__init__()

    def load_config(self) -> None:
        s = self._settings
        options: dict[str, Any] = {
            "bind": f"{s.host}:{s.port}",
            "workers": s.workers,
            "threads": s.threads,
            "worker_class": "gthread",
            "graceful_timeout": 30,
            "timeout": 60,
            "keepalive": 5,
            "accesslog": None,
            "errorlog": "-",
            "limit_request_line": 8190,
            "limit_request_field_size": 8190,
            "forwarded_allow_ips": "*" if s.trusted_proxies else "127.0.0.1",
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        from secureflaskauth.app import create_app

        # Migrations already ran in the master process; keys exist.
        return create_app(self._settings, migrate=False)


def serve(settings: Settings) -> None:
    from secureflaskauth.adapters.db.migrate import upgrade

    upgrade(settings.database_url)
    _Gunicorn(settings).run()
