"""Local HTTP servers of the tests: one base for every one of them, and the provider layer.

``LocalServer`` is a real threaded HTTP server on 127.0.0.1: ``start()``/``stop()``
(or ``with``), its ``url``, and every request that reached it in ``requests``, with
the status it got (None: no answer). A subclass implements ``respond`` (the answer,
or None to keep the request open without one).

``FakeProvider`` is a ``LocalServer`` that speaks an external provider's API: a
provider subclasses it and implements ``check`` (the provider's own refusals: path,
method, authentication, fields; None when the request is valid) and ``accept`` (its
success answer). The failure modes apply to valid requests only, as at the real
provider: ``fail_with_reply`` answers the provider's error (``times`` of them, then
normal service), ``respond_raw`` answers something that is not the provider (a
proxy's page), ``hang`` keeps the request open without an answer, ``succeed``
restores normal service.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

_MAX_REQUEST_BYTES = 64 * 1024


@dataclass
class Received:
    """A request as the fake received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names in lower case
    body: bytes
    status: int | None = None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def form(self) -> dict[str, list[str]]:
        """The form fields, if the body is form-encoded (else none)."""
        if self.content_type != "application/x-www-form-urlencoded":
            return {}
        return parse_qs(self.body.decode("utf-8"), keep_blank_values=True)

    def json(self) -> Any:
        """The JSON body, or None if it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def basic_auth(self) -> tuple[str, str] | None:
        """(user, password) of an ``Authorization: Basic`` header, or None."""
        scheme, _, encoded = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        return (user, password) if sep else None


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
        return cls(status, json.dumps(payload).encode(), "application/json", headers or {})


@dataclass
class _Mode:
    reply: Reply | None = None  # an error or a raw answer
    hang_seconds: float | None = None
    times: int | None = None  # how many requests it applies to; None: all


class LocalServer:
    """A threaded HTTP server on a local port: start() it (or use ``with``), then ``url``."""

    name = "local-server"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._requests: list[Received] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def respond(self, request: Received) -> Reply | None:
        """The answer to ``request``, or None to keep it open without one."""
        raise NotImplementedError

    # -- lifecycle --------------------------------------------------------

    def start(self) -> None:
        self._release.clear()
        self._server = _Server(("127.0.0.1", 0), _Handler, self)
        # A short poll interval keeps stop() (which waits for one poll) fast.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name=self.name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._release.set()  # wake every hanging request
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    def requests_once(self, count: int, timeout: float = 10.0) -> list[Received]:
        """``requests`` once ``count`` of them have arrived, or ``timeout`` has passed: a
        client that gave up waiting for an answer (its timeout) can be back before the
        handler thread has recorded its request, on a busy machine."""
        deadline = time.monotonic() + timeout
        while len(found := self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return found

    def forget_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def _receive(self, request: Received) -> Reply | None:
        with self._lock:
            self._requests.append(request)
        return self.respond(request)


class FakeProvider(LocalServer):
    """An external provider's API on a local port, with the provider's failure modes."""

    name = "fake"

    def __init__(self) -> None:
        super().__init__()
        self._mode = _Mode()

    # -- what a provider implements ----------------------------------------

    def check(self, request: Received) -> Reply | None:
        raise NotImplementedError

    def accept(self, request: Received) -> Reply:
        raise NotImplementedError

    # -- failure modes ----------------------------------------------------

    def fail_with_reply(self, reply: Reply, times: int | None = None) -> None:
        with self._lock:
            self._mode = _Mode(reply=reply, times=times)

    def respond_raw(
        self, status: int, body: bytes, content_type: str = "text/html", times: int | None = None
    ) -> None:
        """Answer valid requests with something that is not the provider's API."""
        self.fail_with_reply(Reply(status, body, content_type), times)

    def hang(self, seconds: float = 30.0, times: int | None = None) -> None:
        """Keep valid requests open without an answer (until stop())."""
        with self._lock:
            self._mode = _Mode(hang_seconds=seconds, times=times)

    def succeed(self) -> None:
        with self._lock:
            self._mode = _Mode()

    def _take_mode(self) -> _Mode:
        """The mode for this request, counting it down."""
        with self._lock:
            mode, times = self._mode, self._mode.times
            if times is not None:
                if times <= 0:
                    self._mode = mode = _Mode()
                else:
                    self._mode = _Mode(mode.reply, mode.hang_seconds, times - 1)
            return mode

    def respond(self, request: Received) -> Reply | None:
        refused = self.check(request)
        if refused is not None:
            return refused
        mode = self._take_mode()
        if mode.hang_seconds is not None:
            self._release.wait(mode.hang_seconds)
            return None
        return mode.reply or self.accept(request)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Do not wait for handler threads on close: a hanging one is released by stop().
    block_on_close = False

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], owner: LocalServer
    ) -> None:
        super().__init__(address, handler)
        self.owner = owner

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and closed its socket is expected here


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output clean

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, _MAX_REQUEST_BYTES)) if length > 0 else b""
        parts = urlsplit(self.path)
        request = Received(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        reply = self.server.owner._receive(request)
        if reply is None:
            self.close_connection = True
            return
        request.status = reply.status
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        # One request per connection: no idle keep-alive threads outlive a test.
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply.body)
