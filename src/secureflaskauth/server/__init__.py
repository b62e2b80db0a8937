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
    """Check, prepare the database and keys once, then run the server until it is
    stopped. ``worker`` is for ``make bench``, which compares the alternatives."""
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
    # Migrations, the first keys, waiting for a database that is not up yet. Made once
    # before the workers fork: workers racing to make them would each sign with a key
    # the others do not know yet, or read a key file another one has not written yet.
    prepare(settings)
    announce(settings, sqlite_file(settings.database_url.get_secret_value()))
    # Created before the workers fork, so they all write their samples there.
    with multiprocess_dir() as metrics_dir:
        log.info("metrics of every worker are gathered in %s", metrics_dir)
        Application(settings, worker).run()
