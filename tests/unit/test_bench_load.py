"""``bench/load.py``. Its open loop: every request due inside the window is sent and
counted from the time it was due, however late a slow server makes it; the
generator's own lateness, with the connection free, is not charged to the server.
Its reading of answers: every framing, whole or a byte at a time, read to its end;
an answer cut short, reset, longer than it says or with a negative length is an
error."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from bench import load
from bench.load import Spec, run

DELAY = 0.3


class _Slow(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        time.sleep(DELAY)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class _Fast(_Slow):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def slow_port() -> Iterator[int]:
    yield from _serve(_Slow)


@pytest.fixture
def fast_port() -> Iterator[int]:
    yield from _serve(_Fast)


def spec(port: int) -> Spec:
    # One connection, a request due every 0.1 s for 1 s, each answered in 0.3 s.
    return Spec(
        host="127.0.0.1",
        port=port,
        requests=["GET / HTTP/1.1\r\nHost: x\r\n\r\n"],
        consume=False,
        connections=1,
        processes=1,
        warmup=0.0,
        duration=1.0,
        expect=200,
        rate=10.0,
    )


def test_requests_due_while_the_server_lags_are_sent_and_charged_their_wait(
    slow_port: int,
) -> None:
    # The tenth request is due at 0.9 s and answered at 3 s, 2.1 s after it was due.
    result = run(spec(slow_port))
    assert result["requests"] == 10
    assert result["p99_ms"] >= 1000 * (10 * DELAY - 0.9) * 0.95
    assert result["p50_ms"] >= 1000 * DELAY


def test_requests_still_unsent_when_the_run_gives_up_are_errors(
    slow_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(load, "LATE_SECONDS", 0.0)  # gives up 1 s after the window
    result = run(spec(slow_port))
    # Answered at 0.3, 0.6, ... 2.1 s (about seven); the rest were never sent.
    unsent = result["errors"].pop("not sent: the server fell behind", 0)
    assert result["errors"] == {}
    assert unsent >= 1
    assert result["requests"] + unsent == 10


def test_the_generators_own_lateness_is_not_charged_to_a_server_that_kept_up(
    fast_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every wait for a due time oversleeps by 50 ms (as a generator starved of the CPU
    would): the server answered each request at once on a free connection, so none
    counts those 50 ms."""
    oversleep = 0.05
    real_sleep = asyncio.sleep

    async def late_sleep(delay: float) -> None:
        await real_sleep(delay + oversleep)

    monkeypatch.setattr(asyncio, "sleep", late_sleep)  # the module bench.load uses
    start = time.monotonic() + 0.1
    samples, _, _ = asyncio.run(
        load._run_process(
            spec(fast_port), [spec(fast_port)["requests"][0].encode()], range(1), start
        )
    )
    latencies = [answered - started for started, answered, status in samples if status == 200]
    assert len(latencies) >= 5
    assert max(latencies) < oversleep, latencies


# The answers the generator parses as their bytes arrive: each framing a server may
# use, sent whole or a byte at a time.
_ANSWERS = {
    "content-length": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello",
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;ext=1\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n",
    "chunked with trailers": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"2\r\nok\r\n0\r\nX-Checksum: 1\r\nX-Other: 2\r\n\r\n",
    "no reason phrase": b"HTTP/1.1 200\r\ncontent-length: 2\r\n\r\nok",
    "no content": b"HTTP/1.1 204 No Content\r\n\r\n",
    "not modified, with the length it would have": b"HTTP/1.1 304 Not Modified\r\n"
    b"Content-Length: 5\r\n\r\n",
    "until the server closes": b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nthe whole body",
    "HTTP/1.0": b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "white space around the colon": b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok",
}
_CLOSES = {"until the server closes", "HTTP/1.0"}


@contextlib.contextmanager
def _raw_server(answer: bytes, trickle: bool, close: bool, reset: bool = False) -> Iterator[int]:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            pending = b""
            while True:
                while b"\r\n\r\n" not in pending:
                    data = self.request.recv(4096)
                    if not data:
                        return
                    pending += data
                pending = pending.split(b"\r\n\r\n", 1)[1]
                if trickle:
                    for i in range(len(answer)):
                        self.request.sendall(answer[i : i + 1])
                        time.sleep(0.0005)
                else:
                    self.request.sendall(answer)
                if reset:  # RST instead of FIN: the answer did not end
                    self.request.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.request.close()
                    return
                if close:
                    return

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _closed_loop(port: int, expect: int) -> load.Result:
    """Two connections for 0.5 s, in this process, on the generator's event loop."""
    request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    closed = Spec(
        host="127.0.0.1",
        port=port,
        requests=[request],
        consume=False,
        connections=2,
        processes=1,
        warmup=0.0,
        duration=0.5,
        expect=expect,
    )
    start = time.monotonic()
    log = load.run_loop(load._run_process(closed, [request.encode()], range(2), start))
    return load.summarise([log], start, closed)


@pytest.mark.parametrize("trickle", [False, True], ids=["whole", "a byte at a time"])
@pytest.mark.parametrize("framing", list(_ANSWERS))
def test_every_framing_of_an_answer_is_read_to_its_end(framing: str, trickle: bool) -> None:
    answer = _ANSWERS[framing]
    expect = {"no content": 204, "not modified, with the length it would have": 304}.get(
        framing, 200
    )
    with _raw_server(answer, trickle, close=framing in _CLOSES) as port:
        result = _closed_loop(port, expect)
        assert result["errors"] == {}, result
        # More answers than connections: one was read to its end and the next followed.
        assert result["requests"] >= 3, result


# Answers that are not whole answers: (the answer, whether the server then closes,
# whether it resets instead of closing).
_BROKEN = {
    "cut short": (b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nonly this much", True, False),
    "reset while read until close": (b"HTTP/1.1 200 OK\r\n\r\npart of a body", True, True),
    "a negative length": (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", False, False),
}


@pytest.mark.parametrize("broken", list(_BROKEN))
def test_an_answer_that_is_not_whole_is_a_connection_error_not_an_answer(broken: str) -> None:
    answer, close, reset = _BROKEN[broken]
    with _raw_server(answer, trickle=False, close=close, reset=reset) as port:
        result = _closed_loop(port, 200)
        assert result["requests"] == 0, result
        assert result["errors"].get("connection error", 0) >= 1, result


def test_an_answer_longer_than_its_framing_is_an_error() -> None:
    long = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok, and more"
    with _raw_server(long, trickle=False, close=False) as port:
        result = _closed_loop(port, 200)
        assert result["errors"].get("connection error", 0) >= 1, result


def test_the_open_loop_counts_a_request_sent_early_from_when_it_left(fast_port: int) -> None:
    """On the generator's own event loop (uvloop where installed, whose timers count
    whole milliseconds and may wake up early): a request that leaves before it is due
    counts from when it left, never from its due time still to come, so no latency
    comes out below zero or shorter than the request took."""
    quick = spec(fast_port)
    quick["rate"], quick["connections"] = 300.0, 2
    start = time.monotonic() + 0.05
    samples, _, _ = load.run_loop(
        load._run_process(quick, [quick["requests"][0].encode()], range(2), start)
    )
    latencies = [answered - started for started, answered, status in samples if status == 200]
    assert len(latencies) >= 200
    assert min(latencies) > 0, sorted(latencies)[:5]
