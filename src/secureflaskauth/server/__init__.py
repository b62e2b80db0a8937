"""``secureflaskauth serve``: the production server.

gunicorn's arbiter runs SFA_WORKERS worker processes; each is an asyncio HTTP server
(uvicorn) that reads every request, body included, before one of its SFA_THREADS
threads runs the Flask app (``bridge``). Slow and idle clients cost a socket, never a
thread. The README's "Server choice" has the measurements behind this choice.

SIGTERM (systemd, Docker, Kubernetes) stops gracefully: the workers stop accepting,
close idle connections, finish the requests in flight (at most ``graceful_timeout``
seconds), then exit. SIGINT (Ctrl-C) and SIGQUIT stop at once.
"""

from __future__ import annotations

import logging

from secureflaskauth.observability.logs import configure_logging
from secureflaskauth.observability.metrics import multiprocess_dir
from secureflaskauth.server.gunicorn import WORKERS, Application, WorkerKind
from secureflaskauth.settings import Settings

__all__ = ["WORKERS", "WorkerKind", "serve"]

log = logging.getLogger("secureflaskauth.server")


def serve(settings: Settings, worker: WorkerKind = "uvicorn") -> None:
    """Prepare the database and keys once, then run the server until it is stopped.
    ``worker`` is for ``make bench``, which compares the alternatives."""
    from secureflaskauth.adapters.db.engine import make_engine
    from secureflaskauth.adapters.db.keys import SqlKeyStore
    from secureflaskauth.adapters.db.migrate import upgrade
    from secureflaskauth.domain.clock import SystemClock
    from secureflaskauth.wiring import ensure_signing_key, otp_key

    configure_logging(settings.log_format, settings.log_level)
    upgrade(settings.database_url)
    # First start: the signing key and the development OTP key are made here, once,
    # before the workers fork. Workers racing to make them would each sign with a key
    # the others do not know yet, or read a key file another one has not written yet.
    engine = make_engine(settings.database_url)
    try:
        ensure_signing_key(SqlKeyStore(engine), settings, SystemClock())
    finally:
        engine.dispose()
    otp_key(settings)
    # Created before the workers fork, so they all write their samples there.
    with multiprocess_dir() as metrics_dir:
        log.info("metrics of every worker are gathered in %s", metrics_dir)
        Application(settings, worker).run()
