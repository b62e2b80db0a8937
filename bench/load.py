"""A small HTTP/1.1 load generator, run as its own process: the standard library's
asyncio (on uvloop when it is installed, as it is with the service) and a protocol
that parses the answers as their bytes arrive. It shares the machine's cores with
the server it measures, so each microsecond it spends on a request is one the server
does not get: ``wrk`` is lighter still, but has no open loop, and ``make bench``
needs nothing beyond the project's own dependencies.

Usage: ``python -m bench.load < spec.json``; prints one JSON result on stdout.

The spec names the server, the raw requests to send and how to send them::

    {"host": "127.0.0.1", "port": 5000, "requests": ["GET /healthz HTTP/1.1\\r\\n..."],
     "consume": false, "connections": 16, "processes": 2,
     "warmup": 2.0, "duration": 10.0, "expect": 200}

``connections`` keep-alive connections are spread over ``processes`` processes
(an event loop in each). Every connection sends its next request as soon as the previous
answer is in (closed loop), or, with ``"rate"``, at fixed times that do not wait for
the server (open loop: each latency counts from the time its request was due, or,
when its connection was free at that time, from when it was sent, so that the
generator's own lateness is not charged to the server; every request due in the
window is counted, even when answered after it).
Connection ``i`` cycles through the list from request ``i``; answers that arrive
during the warm-up are not counted. With ``consume`` each request is sent once
(one-time codes): each process takes them from its own share, the first tenth of
which is the warm-up, and the measurement stops when the
first process runs out, so every connection was busy throughout.
"""

from __future__ import annotations

import asyncio
import json
import math
import multiprocessing
import re
import statistics
import sys
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict, TypeVar, cast

T = TypeVar("T")
_HEADER_LIMIT = 64 * 1024
LATE_SECONDS = 10.0
ANSWER_SECONDS = 30.0  # an answer not whole by then is an error (a hung connection)


class Spec(TypedDict):
    host: str
    port: int
    requests: list[str]
    consume: bool
    connections: int
    processes: int
    warmup: float
    duration: float
    expect: int
    # Open loop: requests a second over all connections, each sent at its scheduled
    # time whatever the answers before it did, and its latency counted from that time
    # (a late server is charged for the wait it caused). Absent or 0: closed loop.
    rate: NotRequired[float]


class Result(TypedDict):
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: dict[str, int]
    exhausted: bool


# (started, done, status); status 0 is a connection error. Monotonic seconds.
_Sample = tuple[float, float, int]
_NOT_SENT = -1  # open loop: due, but not sent by the time the run gave up


@dataclass
class _Source:
    """The requests of one process. Cycled per connection, or (``consume``) one
    shared queue that every connection of the process takes from, so they all run
    out together."""

    requests: list[bytes]
    consume: bool
    taken: int = 0
    done: int = 0
    warm_count: int = 0
    warm_at: float | None = None
    ran_out_at: float | None = None

    def __post_init__(self) -> None:
        # One-time requests are too few for a timed warm-up: the first tenth is it.
        self.warm_count = max(1, len(self.requests) // 10) if self.consume else 0

    def next(self, connection: int, count: int) -> bytes | None:
        if self.consume:
            if self.taken >= len(self.requests):
                if self.ran_out_at is None:
                    self.ran_out_at = time.monotonic()
                return None
            self.taken += 1
            return self.requests[self.taken - 1]
        return self.requests[(connection + count) % len(self.requests)]

    def answered(self, now: float) -> None:
        self.done += 1
        if self.done == self.warm_count:
            self.warm_at = now


class _Response:
    __slots__ = ("close", "status")

    def __init__(self, status: int, close: bool) -> None:
        self.status = status
        self.close = close


# The three headers the generator needs, in a lower-cased head (optional white space
# around the colon, as lenient parsers allow).
_FRAMING = re.compile(rb"\r\n(content-length|transfer-encoding|connection)[ \t]*:[ \t]*([^\r]*)")


def _framing(lower_head: bytes) -> dict[bytes, bytes]:
    """Each framing header's first value."""
    found: dict[bytes, bytes] = {}
    for name, value in _FRAMING.findall(lower_head):
        found.setdefault(name, value.strip())
    return found


class _Client(asyncio.Protocol):
    """One keep-alive connection: sends a request and parses its answer as bytes arrive.

    A protocol instead of asyncio's streams: a request costs the generator one future
    and a parse of the bytes it got, not a ``readuntil`` and a ``readexactly`` each
    with its own wake-ups. The generator shares the machine's cores with the server
    it measures, so what it spends on a request is taken from the server."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[_Response] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.lost = False
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.close_after = False
        self.length: int | None = None  # body bytes still to come
        self.chunked = False
        self.until_eof = False
        self.head_done = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.waiter is not None and not self.waiter.done():
            if self.until_eof and exc is None:  # closed, not reset: the body is whole
                self._finish()
            else:
                self._fail(ConnectionResetError("connection closed mid-answer"))

    def send(self, request: bytes) -> asyncio.Future[_Response]:
        if self.lost or self.transport is None:
            raise ConnectionResetError("connection closed")
        if self.buffer:  # more than the last answer's framing said, or sent unasked
            raise ValueError("bytes beyond the previous answer")
        loop = asyncio.get_running_loop()
        self.waiter = loop.create_future()
        self._reset()
        self.timer = loop.call_later(ANSWER_SECONDS, self._too_late)
        self.transport.write(request)
        return self.waiter

    def _too_late(self) -> None:
        """No whole answer in ANSWER_SECONDS: an error, never a wait without end (the
        connection's coroutine then closes the connection, as for every error)."""
        if self.waiter is not None and not self.waiter.done():
            self._fail(TimeoutError("no whole answer in time"))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is None or self.waiter.done():
            return
        try:
            self._parse()
        except (ValueError, IndexError) as exc:
            self._fail(ValueError(f"bad answer: {exc}"))

    def _parse(self) -> None:
        buffer = self.buffer
        if not self.head_done:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > _HEADER_LIMIT:
                    raise ValueError("response header too large")
                return
            if end + 4 > _HEADER_LIMIT:
                raise ValueError("response header too large")
            self._head(bytes(buffer[: end + 4]))
            del buffer[: end + 4]
        if self.until_eof:
            buffer.clear()
            return
        if self.chunked:
            while True:
                line_end = buffer.find(b"\r\n")
                if line_end < 0:
                    return
                size = int(bytes(buffer[:line_end]).split(b";")[0], 16)
                if size == 0:  # the last chunk: trailer lines, if any, then an empty one
                    end = buffer.find(b"\r\n\r\n", line_end)
                    if end < 0:
                        return
                    del buffer[: end + 4]
                    self._finish()
                    return
                if len(buffer) < line_end + 2 + size + 2:
                    return
                del buffer[: line_end + 2 + size + 2]
        assert self.length is not None
        if len(buffer) >= self.length:
            del buffer[: self.length]
            self._finish()

    def _head(self, head: bytes) -> None:
        # Only three headers matter here: found by one pattern in the lower-cased head,
        # not by splitting every line (a protected answer carries a dozen security
        # headers).
        self.head_done = True
        version, status = head[: head.index(b"\r\n")].split(b" ", 2)[:2]
        self.status = int(status)
        self.close_after = version == b"HTTP/1.0"
        headers = _framing(head.lower())
        if (value := headers.get(b"connection")) is not None:
            self.close_after = value == b"close" or (self.close_after and value != b"keep-alive")
        self.chunked = b"chunked" in headers.get(b"transfer-encoding", b"")
        length = headers.get(b"content-length")
        if self.status in (204, 304) or self.status < 200:
            self.length = 0  # never a body, whatever the head says
        elif self.chunked:
            self.length = None
        elif length is not None:
            self.length = int(length)
            if self.length < 0:
                raise ValueError("negative Content-Length")
        else:  # the body runs until the server closes
            self.until_eof = True
            self.close_after = True

    def _fail(self, exc: Exception) -> None:
        assert self.waiter is not None
        if self.timer is not None:
            self.timer.cancel()
        self.waiter.set_exception(exc)

    def _finish(self) -> None:
        assert self.waiter is not None
        if self.timer is not None:
            self.timer.cancel()
        self.waiter.set_result(_Response(self.status, self.close_after))


async def _connection(
    spec: Spec, source: _Source, connection: int, start: float, end: float, samples: list[_Sample]
) -> None:
    loop = asyncio.get_running_loop()
    client: _Client | None = None
    count = 0
    rate = spec.get("rate") or 0.0
    interval = spec["connections"] / rate if rate else 0.0
    first = start + interval * connection / spec["connections"]
    # The due times are counted, not summed: adding the interval again and again
    # drifts by a rounding error that, at some clock values, puts one more request
    # inside the window. The epsilon keeps one due exactly at the end outside.
    due = math.ceil((end - first) / interval - 1e-6) if interval else 0
    sent = 0
    free_at = 0.0  # when this connection's previous answer arrived
    # Open loop: every request due before the end is sent, however late; a server
    # that has fallen behind gets the duration again (LATE_SECONDS at least) to catch
    # up, and what is still unsent then counts as an error, not as nothing.
    late_end = end + max(spec["duration"], LATE_SECONDS)
    now = time.monotonic()
    while sent < due if interval else now < end:
        next_at = first + sent * interval
        if interval and now >= late_end:
            samples.extend((first + k * interval, now, _NOT_SENT) for k in range(sent, due))
            break
        request = source.next(connection, count)
        if request is None:
            break
        count += 1
        try:
            if client is None:
                _, client = await loop.create_connection(_Client, spec["host"], spec["port"])
            if interval:
                if (delay := next_at - time.monotonic()) > 0:
                    await asyncio.sleep(delay)
                # A request the server's previous answer held up is charged from its due
                # time (the wait the server caused). One whose connection was free when
                # it fell due counts from when it left: this process's own lateness
                # (its timer wakes up to a millisecond late, and it shares the cores
                # with the server) is not the server's. uvloop's timers count whole
                # milliseconds and may also wake up to one early: such a request counts
                # from when it left too, never from a due time still to come (sleeping
                # again for the rest would spin the loop through timers of 0 ms).
                started = next_at if free_at > next_at else time.monotonic()
                sent += 1
            else:
                started = time.monotonic()
            response = await client.send(request)
            now = free_at = time.monotonic()
            samples.append((started, now, response.status))
            source.answered(now)
            if response.close:
                client.close()
                client = None
        except (OSError, ValueError):
            now = time.monotonic()
            samples.append((now, now, 0))
            if client is not None:
                client.close()
            client = None
            await asyncio.sleep(0.01)
            now = time.monotonic()
    if client is not None:
        client.close()


_ERRORS = {0: "connection error", _NOT_SENT: "not sent: the server fell behind"}
_ProcessLog = tuple[list[_Sample], float | None, float | None]  # samples, warm_at, ran_out_at


async def _run_process(
    spec: Spec, requests: list[bytes], connections: range, start: float
) -> _ProcessLog:
    end = start + spec["warmup"] + spec["duration"]
    source = _Source(requests, spec["consume"])
    samples: list[_Sample] = []
    await asyncio.sleep(max(0.0, start - time.monotonic()))
    await asyncio.gather(*(_connection(spec, source, i, start, end, samples) for i in connections))
    return samples, source.warm_at, source.ran_out_at


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """``main`` to its end on uvloop, the service's own event loop, or on asyncio's
    where uvloop is not installed (Windows)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def _process_main(
    spec: Spec, requests: list[bytes], connections: range, start: float, out: Any
) -> None:  # runs in a child process
    out.put(run_loop(_run_process(spec, requests, connections, start)))


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    rank = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[rank]


def summarise(logs: list[_ProcessLog], start: float, spec: Spec) -> Result:
    """Answers that arrived inside the window (after the warm-up, while every
    connection was still busy), or in the open loop the requests due inside it
    (however late they were answered): their rate and their latencies."""
    open_loop = bool(spec.get("rate"))
    window_start = start + spec["warmup"]
    if spec["consume"]:
        warm = [t for _, t, _ in logs]
        # Inf when a process never got past its warm-up: nothing is measured then.
        window_start = max(float("inf") if t is None else t for t in warm)
    window_end = start + spec["warmup"] + spec["duration"]
    ran_out = [t for _, _, t in logs if t is not None]
    exhausted = bool(ran_out) and min(ran_out) < window_end
    if exhausted:
        window_end = min(ran_out)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    for samples, _, _ in logs:
        for started, done, status in samples:
            if not window_start <= (started if open_loop else done) <= window_end:
                continue
            if status == spec["expect"]:
                latencies.append(done - started)
            else:
                key = _ERRORS.get(status, str(status))
                errors[key] = errors.get(key, 0) + 1
    seconds = max(window_end - window_start, 0.0)
    latencies.sort()
    return Result(
        requests=len(latencies),
        seconds=round(seconds, 3),
        rps=len(latencies) / seconds if seconds else 0.0,
        p50_ms=1000 * statistics.median(latencies) if latencies else float("nan"),
        p99_ms=1000 * _percentile(latencies, 0.99),
        errors=errors,
        exhausted=exhausted,
    )


def run(spec: Spec) -> Result:
    """Drive the server as the spec says and summarise what was measured."""
    requests = [r.encode("latin-1") for r in spec["requests"]]
    processes = max(1, min(spec["processes"], spec["connections"]))
    connections = [range(spec["connections"])[p::processes] for p in range(processes)]
    # Cycled requests: every process sees all of them; one-time requests are split.
    shares = [requests[p::processes] if spec["consume"] else requests for p in range(processes)]
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    start = time.monotonic() + 0.5  # time for the children to start
    children = [
        context.Process(target=_process_main, args=(spec, share, conns, start, out))
        for share, conns in zip(shares, connections, strict=True)
    ]
    for child in children:
        child.start()
    logs = [out.get() for _ in children]
    for child in children:
        child.join()
    return summarise(logs, start, spec)


def main() -> None:
    spec: Spec = json.load(sys.stdin)
    json.dump(run(spec), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
