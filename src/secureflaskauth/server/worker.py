"""The worker process: uvicorn's asyncio HTTP server under gunicorn's arbiter."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from typing import Any, NoReturn

from gunicorn.arbiter import Arbiter
from uvicorn import Server
from uvicorn_worker import UvicornWorker

from secureflaskauth.server.protocol import GuardedHttpToolsProtocol


def _plain(record: logging.LogRecord) -> bool:
    # uvicorn adds a copy of some messages with terminal colour codes for its own
    # console format; a JSON line needs only the message.
    record.__dict__.pop("color_message", None)
    return True


class Worker(UvicornWorker):  # type: ignore[misc]
    """uvicorn (httptools parser, uvloop where installed) with the service's choices.

    - the HTTP protocol bounds each request head in time and size (``protocol``);
    - ``proxy_headers`` off: client addresses come from the app's own ProxyFix, by the
      count of trusted proxies (SFA_TRUSTED_PROXIES); the server trusts no header;
    - ``limit_concurrency``: past this many connections and requests at once a worker
      answers 503 instead of taking more (gunicorn's ``worker_connections``, 1000);
    - ``timeout_graceful_shutdown``: on SIGTERM, idle connections close at once and
      the requests in flight get this long (gunicorn's ``graceful_timeout``);
    - SIGQUIT, which gunicorn's arbiter sends its workers for a quick stop (on its own
      SIGINT or SIGQUIT), ends the worker at once, as gunicorn's own workers do:
      uvicorn-worker's handler only marks the worker as no longer alive, which
      uvicorn never reads, so the worker went on serving until the arbiter killed it
      after ``graceful_timeout`` (uvicorn-worker issue 2);
    - Ctrl-C at a terminal sends SIGINT to the arbiter and to every worker at once.
      While serving, uvicorn's own handler stops the worker; when it is done (or its
      graceful timeout has passed), uvicorn puts back the handler it found and raises
      the signal again. With the default action there each worker died of it and the
      arbiter logged "Worker (pid:N) was sent SIGINT!" for every one. The handler it
      finds ends the worker there and then, as that default did, but with status 0:
      not later, once a thread still running a request has finished (the app's
      threads would hold a normal exit, while the arbiter, no longer hearing from
      the worker, neither replaced it nor could stop it with SIGQUIT). Before it
      serves, SIGINT ends it at once as SIGQUIT does.
    """

    sockets: list[Any]  # gunicorn's Worker sets it: the listening sockets
    CONFIG_KWARGS: dict[str, Any] = {  # noqa: RUF012 - uvicorn-worker's own class attribute
        "loop": "auto",
        "http": GuardedHttpToolsProtocol,
        "ws": "none",
        "interface": "asgi3",
        "lifespan": "off",
        "proxy_headers": False,
        "server_header": False,
        "access_log": False,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # uvicorn-worker hands uvicorn's loggers gunicorn's handlers; the service's
        # handler (JSON) is on the root logger, as for gunicorn's own messages.
        errors = logging.getLogger("uvicorn.error")
        errors.handlers.clear()
        errors.propagate = True
        errors.addFilter(_plain)
        # The app writes its own access line (observability/): uvicorn's would repeat it.
        # uvicorn's HTTP protocol logs access whenever "uvicorn.access" has a handler
        # anywhere up its chain, so that logger gets none and does not propagate.
        access = logging.getLogger("uvicorn.access")
        access.handlers.clear()
        access.propagate = False
        self.config.access_log = False
        self.config.limit_concurrency = self.cfg.worker_connections
        self.config.timeout_graceful_shutdown = self.cfg.graceful_timeout

    def init_signals(self) -> None:
        super().init_signals()
        # Until ``_serve`` installs the quick stop on the event loop, SIGQUIT would have
        # its default action, a core dump: the process's memory, keys included, written
        # to the working directory where core dumps are on. Loading the app takes a
        # second or two, during which a quick stop ends the worker as well.
        signal.signal(signal.SIGQUIT, _quit_while_loading)
        signal.signal(signal.SIGINT, _quit_while_loading)

    async def _serve(self) -> None:
        # uvicorn-worker's own, with the uvicorn server kept for the SIGQUIT handler.
        self.config.app = self.wsgi
        server = Server(config=self.config)
        asyncio.get_running_loop().add_signal_handler(signal.SIGQUIT, self._quit, server)
        # What uvicorn puts back, and calls, once it has stopped on a SIGINT.
        signal.signal(signal.SIGINT, _stopped)
        await server.serve(sockets=self.sockets)
        if server.force_exit:
            # A quick stop cuts what is still running, as a kill would: uvicorn would
            # otherwise answer each request in flight with a 500 while its thread went
            # on, and the process would wait for that thread, a blocked one until the
            # arbiter killed it.
            _exit_now()
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)

    def _quit(self, server: Server) -> None:
        """A quick stop: the server stops listening and ends its loop without waiting
        for connections or requests in flight; then the process ends (``_serve``)."""
        self.alive = False
        server.should_exit = True
        server.force_exit = True

    def run(self) -> None:
        # uvloop takes over each listening socket it is given: libuv closes the fd, then
        # uvloop detaches a socket.socket (closed once) but calls close() on any other
        # object, expecting EBADF: a second close of the same fd number, which would
        # close whatever another thread had opened under that number meanwhile.
        # gunicorn's listeners are wrappers (gunicorn.sock.BaseSocket), so every worker
        # closed its socket twice and gunicorn logged the EBADF at INFO ("Error while
        # closing socket [Errno 9] Bad file descriptor"). The sockets themselves are
        # handed on instead; gunicorn's code in the worker needs only their fds.
        # Here, in the worker process just before it serves: with reuse_port gunicorn
        # gives each worker new listeners after it was built.
        self.sockets = [getattr(listener, "sock", listener) for listener in self.sockets]
        super().run()


def _quit_while_loading(_signum: int, _frame: object) -> None:
    os._exit(0)


def _stopped(_signum: int, _frame: object) -> None:
    _exit_now()


def _exit_now() -> NoReturn:
    """End the process with status 0, its threads where they are. Each log line is
    already written (logs.py); whatever a print left is flushed."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
