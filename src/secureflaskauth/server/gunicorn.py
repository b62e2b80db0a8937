"""gunicorn's arbiter: worker processes, their restarts, graceful stop, the logs."""

from __future__ import annotations

import gc
from typing import Any, Literal

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from secureflaskauth.observability.metrics import worker_exited
from secureflaskauth.settings import Settings

WorkerKind = Literal["uvicorn", "gthread", "asgi"]
# uvicorn: the service's (see worker.py); gthread and asgi: gunicorn's own threaded and
# asyncio workers, kept for ``make bench`` to compare against.
WORKERS: dict[WorkerKind, str] = {
    "uvicorn": "secureflaskauth.server.worker.Worker",
    "gthread": "gthread",
    "asgi": "asgi",
}


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


class Application(BaseApplication):  # type: ignore[misc]
    """gunicorn's arbiter, configured from the settings, running ``worker`` processes."""

    def __init__(self, settings: Settings, worker: WorkerKind) -> None:
        self._settings = settings
        self._worker = worker
        super().__init__()

    def load_config(self) -> None:
        s = self._settings
        options: dict[str, Any] = {
            "bind": f"{s.host}:{s.port}",
            "workers": s.workers,
            "threads": s.threads if self._worker == "gthread" else 1,
            "worker_class": WORKERS[self._worker],
            "graceful_timeout": 30,
            "timeout": 60,
            "keepalive": 5,
            "accesslog": None,
            "errorlog": "-",
            # gunicorn's own parser (gthread, asgi); uvicorn's limits are in protocol.py.
            "limit_request_line": 8190,
            "limit_request_field_size": 8190,
            # No proxy may set SCRIPT_NAME, PATH_INFO or the scheme through the server:
            # client addresses and the scheme come from the app's ProxyFix, by count.
            "forwarded_allow_ips": "",
            "forwarder_headers": "",
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

    def load(self) -> Any:
        from secureflaskauth.app import create_app

        # Migrations already ran in the master process, keys exist, files are private.
        app = create_app(self._settings, migrate=False, protect_files=False)
        # What the app is made of lives as long as the worker: out of the collector's
        # sight, a full collection is no longer an 80 ms pause of every thread (about
        # 130,000 objects), only the objects made since (Python's gc.freeze docs).
        gc.collect()
        gc.freeze()
        if self._worker == "gthread":
            return app
        from secureflaskauth.api.inline import runs_inline_of
        from secureflaskauth.server.bridge import WsgiBridge

        return WsgiBridge(
            app,
            threads=self._settings.threads,
            max_body_bytes=self._settings.max_body_bytes,
            inline=runs_inline_of(app),
        )
