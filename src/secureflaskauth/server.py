"""Serve the app with gunicorn (threaded workers), the server chosen by measurement.

SIGTERM (systemd, Docker, Kubernetes) stops gracefully: the workers stop accepting,
finish the requests in flight (at most ``graceful_timeout`` seconds), then exit.
SIGINT (Ctrl-C) and SIGQUIT stop at once. ``make bench`` measures this server.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from secureflaskauth.observability.logs import configure_logging
from secureflaskauth.observability.metrics import multiprocess_dir, worker_exited
from secureflaskauth.settings import Settings

log = logging.getLogger("secureflaskauth.server")


class _Logger(Logger):  # type: ignore[misc]
    """gunicorn's own messages go to the service's handler, in its format (JSON)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for handler in list(self.error_log.handlers):
            self.error_log.removeHandler(handler)
        self.error_log.propagate = True


def _child_exit(_server: Any, worker: Any) -> None:
    # A dead worker's in-flight gauge must not count any more; its counters stay.
    worker_exited(worker.pid)


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
            # No runtime control socket: one fewer local attack surface, and several
            # servers on one machine (tests, benchmarks) must not share a socket path.
            "control_socket_disable": True,
            "logger_class": _Logger,
            "loglevel": s.log_level.lower(),
            "child_exit": _child_exit,
            "umask": 0o077,  # gunicorn's own files too (adapters/files.py)
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        from secureflaskauth.app import create_app

        # Migrations already ran in the master process, keys exist, files are private.
        return create_app(self._settings, migrate=False, protect_files=False)


def serve(settings: Settings) -> None:
    from secureflaskauth.adapters.db.engine import sqlite_file
    from secureflaskauth.startup import announce, check_directories, prepare
    from secureflaskauth.wiring import preflight, protect_at_rest

    configure_logging(settings.log_format, settings.log_level)
    # Each step refuses in one line (StartupFailed, ConfigurationError) before the
    # next one writes anything: a directory it cannot write (a bind mount of another
    # owner), files left open to others, settings no worker could start with.
    check_directories(settings)
    protect_at_rest(settings)
    preflight(settings)
    # Migrations, the first keys, waiting for a database that is not up yet.
    prepare(settings)
    announce(settings, sqlite_file(settings.database_url))
    # Created before the workers fork, so they all write their samples there.
    with multiprocess_dir() as metrics_dir:
        log.info("metrics of every worker are gathered in %s", metrics_dir)
        _Gunicorn(settings).run()
