"""The Flask app (WSGI) behind an asyncio server: a thread only for complete requests.

A thread-per-connection server lets a client that sends half a request, or its body a
byte at a time, keep a thread for as long as it likes: a few dozen such clients stop
every worker. Here the server's event loop reads the request line and headers, and
this bridge reads the body into memory, bounded in size (SFA_MAX_BODY_BYTES) and in
time (``BODY_TIMEOUT_SECONDS``). Only then does the request get one of the worker's
SFA_THREADS threads, which runs the app and hands its whole answer back in one go;
or, when the app says it answers from memory alone (api/inline.py), the event loop
runs it at once, without the two hand-overs.
A slow or silent client costs a socket and a few kilobytes, never a thread. An answer
the app wants held back until a moment (api/holding.py: the floor under the duration
of /auth/password/forgot) waits on the event loop after its thread is free again.

Written here rather than taken from a2wsgi's WSGIMiddleware (whose environ builder
it uses): that one starts the app before the body is in, and crosses between the
thread and the event loop for every read and every write, which cost a fifth of the
throughput of /healthz in the measurements of the README's "Server choice".
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, cast
from wsgiref.types import WSGIApplication

from a2wsgi.wsgi import build_environ

from secureflaskauth.api.answers import NO_STORE
from secureflaskauth.api.errors import PROBLEM_JSON, problem_document
from secureflaskauth.api.holding import HOLD_ANSWER

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

log = logging.getLogger(__name__)

# Time for the whole body once the headers are in. A JSON body of at most 64 KiB
# takes well under a second even on a poor mobile link.
BODY_TIMEOUT_SECONDS = 10.0
# A refused body up to this size is still read (and dropped), so that the connection
# stays usable for the client's next request; a larger one is left unread and the
# answer closes the connection (RFC 9112 9.6, 9.3.1).
DRAIN_LIMIT_BYTES = 1 << 20
# RFC 9110 7.2: uri-host [ ":" port ], uri-host being an IP literal or a reg-name
# (RFC 3986 3.2.2).
_HOST = re.compile(rb"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(:[0-9]*)?")


class _Disconnected(Exception):
    """The client went away before its request was complete."""


@dataclass(frozen=True)
class _Body:
    """What was read: the body (None when too large), its size, and whether it was read
    to its end (when not, the connection cannot carry another request)."""

    data: bytes | None
    size: int
    complete: bool


class _Held:
    """The latest moment the app asked its answer to be held back until (api/holding.py)."""

    def __init__(self) -> None:
        self.not_before = 0.0

    def until(self, moment: float) -> None:
        """Called from the app's thread, before its answer is handed back."""
        self.not_before = max(self.not_before, moment)

    async def wait(self) -> None:
        # Against time.monotonic(), the clock the app gave the moment in; the loop may
        # wake a little early (uvloop counts whole milliseconds): wait again then.
        while (delay := self.not_before - time.monotonic()) > 0:
            await asyncio.sleep(delay)


class WsgiBridge:
    """An ASGI application that runs a WSGI application on ``threads`` threads, each
    request only once its body is in."""

    def __init__(
        self,
        app: WSGIApplication,
        *,
        threads: int,
        max_body_bytes: int,
        body_timeout: float = BODY_TIMEOUT_SECONDS,
        inline: Callable[[MutableMapping[str, Any]], bool] | None = None,
    ) -> None:
        self._app = app
        self._inline = inline
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="app")
        self._max_body = max_body_bytes
        self._body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # no lifespan or websocket: the worker turns them off
            return
        headers = _request_headers(scope["headers"])
        if not _valid_host(headers, scope.get("http_version", "1.1")):
            detail = "The request needs exactly one valid Host header."
            await _refuse(send, HTTPStatus.BAD_REQUEST, "bad-host", detail)  # RFC 9112 3.2
            return
        declared = _content_length(headers)
        if declared == -1:
            detail = "The Content-Length header is not one number."
            await _refuse(
                send, HTTPStatus.BAD_REQUEST, "bad-content-length", detail
            )  # RFC 9112 6.3
            return
        try:
            async with asyncio.timeout(self._body_timeout):
                body = await self._read_body(receive, declared)
        except TimeoutError:
            detail = f"The request body did not arrive within {self._body_timeout:g} seconds."
            await _refuse(send, HTTPStatus.REQUEST_TIMEOUT, "request-timeout", detail)
            return
        except _Disconnected:
            return
        # The app sees the length it is given: the body, or the refused size (Flask
        # answers 413 from the length alone, without reading).
        headers = [(n, v) for n, v in headers if n not in (b"content-length", b"transfer-encoding")]
        headers.append((b"content-length", str(body.size).encode()))
        # Never re-route by anything the client sent: the app is mounted at the root.
        scope = {**scope, "headers": headers, "root_path": ""}
        # a2wsgi builds the WSGI environ (PEP 3333) from the ASGI scope.
        environ: dict[str, Any] = dict(
            build_environ(cast(Any, scope), cast(Any, io.BytesIO(body.data or b"")))
        )
        held = _Held()
        environ[HOLD_ANSWER] = held.until
        if self._runs_inline(environ):
            status, response_headers, content = self._call(environ)
        else:
            loop = asyncio.get_running_loop()
            status, response_headers, content = await loop.run_in_executor(
                self._threads, self._call, environ
            )
        await held.wait()
        if not body.complete:
            # The unread rest of the body must not be taken for the next request.
            response_headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": content, "more_body": False})

    def _runs_inline(self, environ: dict[str, Any]) -> bool:
        if self._inline is None:
            return False
        try:
            return self._inline(environ)
        except Exception:  # a thread runs it then, which always answers
            log.exception("could not tell whether a request may run on the event loop")
            return False

    def _call(self, environ: dict[str, Any]) -> tuple[int, Headers, bytes]:
        """Run the app in one of the threads and return its whole answer: one hand-over
        between the event loop and the thread per request. (The service's answers are
        small JSON documents; the largest, a Swagger UI asset, is about 1.5 MB.)"""
        started: list[tuple[str, list[tuple[str, str]]]] = []
        chunks: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            started.append((status, headers))
            return chunks.append

        result = self._app(environ, start_response)
        try:
            chunks.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = started[-1]
        encoded = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        return int(status.split(" ", 1)[0]), encoded, b"".join(chunks)

    async def _read_body(self, receive: Receive, declared: int | None) -> _Body:
        if declared is not None and declared > DRAIN_LIMIT_BYTES:
            return _Body(None, declared, complete=False)
        kept: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            more = bool(message.get("more_body", False))
            if size <= self._max_body:
                kept.append(chunk)
            elif size > DRAIN_LIMIT_BYTES:
                return _Body(None, size, complete=False)
        return _Body(b"".join(kept) if size <= self._max_body else None, size, complete=True)


def _request_headers(raw: Iterable[tuple[bytes, bytes]]) -> Headers:
    # A name with "_" would become the same WSGI variable as its "-" twin (X_Forwarded_For
    # and X-Forwarded-For are both HTTP_X_FORWARDED_FOR): dropped, as nginx and gunicorn do.
    return [(name, value) for name, value in raw if b"_" not in name]


def _valid_host(headers: Headers, http_version: str) -> bool:
    hosts = [value for name, value in headers if name == b"host"]
    if not hosts:
        return http_version == "1.0"  # HTTP/1.0 had no Host header
    return len(hosts) == 1 and _HOST.fullmatch(hosts[0]) is not None


def _content_length(headers: Headers) -> int | None:
    """The declared length; None when there is none, -1 when it is not one number."""
    values = {value.strip() for name, value in headers if name == b"content-length"}
    if not values:
        return None
    value = values.pop()
    return int(value) if not values and value.isdigit() else -1


def problem_answer(status: HTTPStatus, slug: str, detail: str) -> tuple[Headers, bytes]:
    """Headers and body of an answer the server gives without the app: problem+json
    like the app's, and the connection closed, as what else the client sent is unread."""
    body = json.dumps(problem_document(status.value, status.phrase, detail, slug)).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", NO_STORE.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"connection", b"close"),
    ]
    return headers, body


async def _refuse(send: Send, status: HTTPStatus, slug: str, detail: str) -> None:
    headers, body = problem_answer(status, slug, detail)
    await send({"type": "http.response.start", "status": status.value, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
