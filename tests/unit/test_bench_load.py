"""The open loop of ``bench/load.py``: every request due inside the window is sent
and counted from the time it was due, however late a slow server makes it; the
generator's own lateness, with the connection free, is not charged to the server."""

from __future__ import annotations

import asyncio
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
