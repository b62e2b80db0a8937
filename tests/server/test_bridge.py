"""The bridge between the event loop and the Flask app, driven as an ASGI server does.

The end-to-end behaviour (through uvicorn and real sockets) is in
tests/e2e/test_hostile_clients.py; here each rule is checked on its own, quickly.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

import pytest

from secureflaskauth.api.holding import HOLD_ANSWER
from secureflaskauth.server.bridge import DRAIN_LIMIT_BYTES, WsgiBridge

LIMIT = 1024


def echo(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """A WSGI app that reports what it was given, or 413 past LIMIT as Flask does."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length > LIMIT:
        start_response("413 Request Entity Too Large", [("Content-Type", "text/plain")])
        return [b"too large"]
    body = environ["wsgi.input"].read(length)
    seen = {
        "body": body.decode(),
        "length": environ.get("CONTENT_LENGTH"),
        "script_name": environ["SCRIPT_NAME"],
        "path": environ["PATH_INFO"],
        "headers": sorted(k for k in environ if k.startswith("HTTP_")),
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(seen).encode()]


class Exchange:
    """One request through the bridge: what the app answered, and how much of the
    request body the bridge took from the server."""

    def __init__(self, body_parts: list[bytes] | None = None, *, stall: bool = False) -> None:
        self.parts = list(body_parts or [b""])
        self.stall = stall
        self.received = 0
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if not self.parts:
            if self.stall:
                await asyncio.sleep(3600)
            return {"type": "http.disconnect"}
        part = self.parts.pop(0)
        self.received += len(part)
        more = bool(self.parts) or self.stall
        return {"type": "http.request", "body": part, "more_body": more}

    async def send(self, message: MutableMapping[str, Any]) -> None:
        self.sent.append(dict(message))

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.sent[0]["headers"])

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])


HOST = (b"host", b"127.0.0.1:5000")


def http_scope(
    path: str,
    headers: list[tuple[bytes, bytes]],
    *,
    method: str = "GET",
    http_version: str = "1.1",
    root_path: str = "",
) -> dict[str, Any]:
    """The ASGI scope uvicorn gives the bridge for one request."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": http_version,
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": root_path,
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 5000),
    }


def run(
    exchange: Exchange,
    headers: list[tuple[bytes, bytes]],
    *,
    http_version: str = "1.1",
    root_path: str = "",
    body_timeout: float = 5.0,
) -> Exchange:
    scope = http_scope(
        "/auth/login", headers, method="POST", http_version=http_version, root_path=root_path
    )
    bridge = WsgiBridge(echo, threads=2, max_body_bytes=LIMIT, body_timeout=body_timeout)
    asyncio.run(bridge(scope, exchange.receive, exchange.send))
    return exchange


def test_the_app_gets_the_whole_body_at_once_with_its_length() -> None:
    # Sent in three parts without a length (chunked): the app sees one body and a length.
    done = run(Exchange([b'{"a":', b" 1", b"}"]), [HOST])
    assert done.status == 200
    seen = json.loads(done.body)
    assert seen["body"] == '{"a": 1}'
    assert seen["length"] == "8"


def test_a_body_over_the_limit_is_drained_and_the_connection_kept() -> None:
    parts = [b"x" * 1000] * 5
    done = run(Exchange(parts), [HOST, (b"content-length", b"5000")])
    assert done.status == 413
    assert done.received == 5000  # read to its end: the next request can follow
    assert b"connection" not in done.headers


def test_a_chunked_body_over_the_limit_gets_413_too() -> None:
    done = run(Exchange([b"x" * 1000] * 3), [HOST])
    assert done.status == 413
    assert b"connection" not in done.headers


def test_a_body_too_large_to_drain_is_not_read_and_the_connection_closes() -> None:
    declared = str(DRAIN_LIMIT_BYTES + 1).encode()
    done = run(Exchange([b"x" * 100]), [HOST, (b"content-length", declared)])
    assert done.status == 413
    assert done.received == 0
    assert done.headers[b"connection"] == b"close"


def test_a_stalled_body_gets_408_problem_json() -> None:
    exchange = Exchange([b'{"a":'], stall=True)
    done = run(exchange, [HOST, (b"content-length", b"100")], body_timeout=0.2)
    assert done.status == 408
    assert done.headers[b"content-type"] == b"application/problem+json"
    assert done.headers[b"connection"] == b"close"
    problem = json.loads(done.body)
    assert problem["type"] == "urn:secureflaskauth:problem:request-timeout"
    assert problem["status"] == 408


def test_client_headers_never_move_the_app() -> None:
    headers = [
        HOST,
        (b"script_name", b"/auth"),
        (b"x_forwarded_for", b"203.0.113.9"),
        (b"x-forwarded-prefix", b"/auth"),
    ]
    seen = json.loads(run(Exchange(), headers, root_path="/auth").body)
    assert seen["script_name"] == ""
    assert seen["path"] == "/auth/login"
    # Names with "_" are dropped: they would be read as their "-" twins.
    assert seen["headers"] == ["HTTP_HOST", "HTTP_X_FORWARDED_PREFIX"]


@pytest.mark.parametrize(
    "hosts",
    [[], [b"a b"], [b"a", b"b"], [b"a/b"], [b"a:b"]],
    ids=["none", "space", "two", "slash", "port"],
)
def test_a_request_needs_one_valid_host(hosts: list[bytes]) -> None:
    done = run(Exchange(), [(b"host", h) for h in hosts])
    assert done.status == 400
    assert done.headers[b"content-type"] == b"application/problem+json"
    assert json.loads(done.body)["type"] == "urn:secureflaskauth:problem:bad-host"


@pytest.mark.parametrize("host", [b"auth.example.com", b"127.0.0.1:5000", b"[::1]:5000", b""])
def test_valid_hosts_pass(host: bytes) -> None:
    assert run(Exchange(), [(b"host", host)]).status == 200


def test_http_1_0_needs_no_host() -> None:
    assert run(Exchange(), [], http_version="1.0").status == 200


@pytest.mark.parametrize("lengths", [[b"1x"], [b"1", b"2"]], ids=["not-a-number", "two"])
def test_a_content_length_must_be_one_number(lengths: list[bytes]) -> None:
    done = run(Exchange([b"x"]), [HOST, *((b"content-length", n) for n in lengths)])
    assert done.status == 400
    assert json.loads(done.body)["type"] == "urn:secureflaskauth:problem:bad-content-length"


def test_an_answer_held_back_waits_on_the_loop_not_in_a_thread() -> None:
    """The app of one thread asks (api/holding.py) for its answer to leave no earlier
    than 0.5 s from now; a second request meanwhile gets the thread at once."""
    hold_seconds = 0.5

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/held":
            environ[HOLD_ANSWER](time.monotonic() + hold_seconds)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]

    bridge = WsgiBridge(app, threads=1, max_body_bytes=LIMIT)
    answered: dict[str, float] = {}

    async def one(path: str, began: float) -> None:
        exchange = Exchange()
        await bridge(http_scope(path, [HOST]), exchange.receive, exchange.send)
        assert (exchange.status, exchange.body) == (200, path.encode())
        answered[path] = time.monotonic() - began

    async def both() -> None:
        began = time.monotonic()
        held = asyncio.create_task(one("/held", began))
        await asyncio.sleep(0.05)  # the held request has had the thread and given it back
        await one("/other", began)
        await held

    asyncio.run(both())
    assert answered["/held"] >= hold_seconds
    assert answered["/other"] < hold_seconds / 2, answered


def _get(bridge: WsgiBridge, path: str) -> Exchange:
    exchange = Exchange()
    asyncio.run(bridge(http_scope(path, [HOST]), exchange.receive, exchange.send))
    return exchange


def _thread_name(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [threading.current_thread().name.encode()]


def test_a_request_the_app_answers_from_memory_runs_on_the_event_loop() -> None:
    """What the app's predicate (api/inline.py) is given is the request's WSGI environ;
    a yes runs the app on the loop's thread, a no on one of the bridge's threads."""
    asked: list[str] = []

    def inline(environ: Mapping[str, Any]) -> bool:
        asked.append(environ["PATH_INFO"])
        return bool(environ["PATH_INFO"] == "/memory")

    bridge = WsgiBridge(_thread_name, threads=1, max_body_bytes=LIMIT, inline=inline)
    on_loop = _get(bridge, "/memory")
    in_thread = _get(bridge, "/store")
    assert (on_loop.status, on_loop.body) == (200, threading.current_thread().name.encode())
    assert in_thread.status == 200
    assert in_thread.body.startswith(b"app_"), in_thread.body
    assert asked == ["/memory", "/store"]


def test_without_a_predicate_every_request_gets_a_thread() -> None:
    bridge = WsgiBridge(_thread_name, threads=1, max_body_bytes=LIMIT)
    assert _get(bridge, "/memory").body.startswith(b"app_")


def test_a_predicate_that_fails_sends_the_request_to_a_thread(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(_environ: Mapping[str, Any]) -> bool:
        raise RuntimeError("cannot tell")

    bridge = WsgiBridge(_thread_name, threads=1, max_body_bytes=LIMIT, inline=broken)
    exchange = _get(bridge, "/memory")
    assert (exchange.status, exchange.body[:4]) == (200, b"app_")
    assert "could not tell whether a request may run on the event loop" in caplog.text
