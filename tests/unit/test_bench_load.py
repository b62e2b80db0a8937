"""The open loop of ``bench/load.py``: every request due inside the window is sent
and counted from the time it was due, however late a slow server makes it."""

from __future__ import annotations

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


@pytest.fixture
def slow_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


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
