"""uvicorn's HTTP/1 protocol (httptools) with the two limits it lacks on a request head.

uvicorn bounds neither the time nor the size of a request line and its headers
(uvicorn issue 157, "timeout-request-start", is still open): a client that sends half
a head and stops keeps its socket forever, and one that never ends a header line
makes httptools buffer it without end. Both are what a slowloris attack needs, so
this subclass adds, as hyper and nginx have them:

- a deadline for the head (``HEAD_TIMEOUT_SECONDS``), counted from the connection's
  start, or from the first byte of each later request on a kept-alive connection;
- a size limit for the head (``HEAD_LIMIT_BYTES``), answered with 431.

The answers the server gives itself (400 for a malformed request, 408, 431) are
problem+json like every other error of the service. The idle time between requests
stays uvicorn's own keep-alive timeout.

It also ends a kept-alive connection after ``KEEPALIVE_REQUESTS`` requests (the last
answer says ``Connection: close``), as Apache's ``MaxKeepAliveRequests`` and nginx's
``keepalive_requests`` do. The workers take connections from one listening socket,
and whichever is awake first takes them: a load balancer's few long-lived connections
could stay with one worker while the other idles (measured: 15 of 16 on one worker,
its answers queueing for hundreds of milliseconds). A connection that ends is opened
again, and most likely taken by the worker with less to do, the one waiting for work;
so the split evens out.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from secureflaskauth.server.bridge import problem_answer

HEAD_TIMEOUT_SECONDS = 10.0
# The request line and every header together. A request of this service needs a few
# hundred bytes, a bearer token included; nginx's default allows 4 x 8 KiB.
HEAD_LIMIT_BYTES = 32 * 1024
_TOO_LARGE = HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE  # RFC 6585 5
_TOO_LARGE_DETAIL = f"The request line and headers exceed {HEAD_LIMIT_BYTES} bytes."
# Requests answered on one connection before it is closed: Apache's default. (nginx's,
# 1000, let a 15-to-1 split of 16 connections last for most of a 10 s benchmark run;
# one reconnection in 100 requests cost no measurable throughput.)
KEEPALIVE_REQUESTS = 100


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with a deadline and a size limit on each request head."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Bytes received since the head began, while it is incomplete (None otherwise):
        # they bound what the parser may buffer of a header line that never ends.
        self._head_bytes: int | None = None
        # The size of the head as parsed: request target, header names and values.
        self._head_size = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._requests = 0  # requests whose head arrived on this connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._head_bytes is None or self.transport.is_closing():
            return
        # Still inside a head after this chunk: all of it counts (at worst a little
        # more, when the chunk began with the end of the previous request's body).
        self._head_bytes += len(data)
        if self._head_bytes > HEAD_LIMIT_BYTES:
            self._stop_head()
            self._refuse(_TOO_LARGE, "request-head-too-large", _TOO_LARGE_DETAIL)

    # httptools' callbacks, called from inside data_received

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_size = 0
        if self._head_bytes is None:  # a later request on a kept-alive connection
            self._start_head()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._head_size += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._head_size += len(name) + len(value) + 4  # ": " and CRLF

    def on_headers_complete(self) -> None:
        self._stop_head()
        self._requests += 1
        if self._head_size <= HEAD_LIMIT_BYTES:
            super().on_headers_complete()
        else:
            # A head that arrived whole, but too large: uvicorn runs the request cycle
            # as usual, with an app that refuses it (as it does past limit_concurrency).
            app, self.app = self.app, _head_too_large
            try:
                super().on_headers_complete()
            finally:
                self.app = app
        if self._requests >= KEEPALIVE_REQUESTS and self.cycle is not None:
            # The cycle has not answered yet (it runs as a task of the loop): its answer
            # says Connection: close, and uvicorn closes the connection after it.
            self.cycle.keep_alive = False

    def send_400_response(self, msg: str) -> None:
        self._stop_head()
        self._refuse(HTTPStatus.BAD_REQUEST, "malformed-request", "The request is not valid HTTP.")

    def _start_head(self) -> None:
        self._head_bytes = 0
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(HEAD_TIMEOUT_SECONDS, self._head_timed_out)

    def _stop_head(self) -> None:
        self._head_bytes = None
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._head_bytes is None or self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined head behind a request still being answered: wait for it.
            self._head_timer = self.loop.call_later(HEAD_TIMEOUT_SECONDS, self._head_timed_out)
            return
        started = self._head_bytes > 0 or self._head_size > 0
        self._stop_head()
        if not started:  # an unused connection: close it without a word (RFC 9112 9.6)
            self.transport.close()
            return
        self._refuse(
            HTTPStatus.REQUEST_TIMEOUT,  # RFC 9110 15.5.9
            "request-timeout",
            f"The request headers did not arrive within {HEAD_TIMEOUT_SECONDS:g} seconds.",
        )

    def _refuse(self, status: HTTPStatus, slug: str, detail: str) -> None:
        """Answer before any request cycle exists, then close."""
        headers, body = problem_answer(status, slug, detail)
        lines = [f"HTTP/1.1 {status.value} {status.phrase}".encode()]
        lines += [name + b": " + value for name, value in self.server_state.default_headers]
        lines += [name + b": " + value for name, value in headers]
        self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        self.transport.close()


async def _head_too_large(scope: Any, receive: Any, send: Any) -> None:
    headers, body = problem_answer(_TOO_LARGE, "request-head-too-large", _TOO_LARGE_DETAIL)
    await send({"type": "http.response.start", "status": _TOO_LARGE.value, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
