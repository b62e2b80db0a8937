"""``python -m bench.hostile``: how each server copes with slow, idle and hostile clients.

For every server of ``bench.servers`` (same app, same budget: SFA_WORKERS processes x
SFA_THREADS threads), from a fresh start each time:

- slow headers: 200 idle connections and 50 that sent a request line and one header,
  then nothing; the worst /healthz latency of a new client over the next 8 s;
- slow body: 50 POSTs whose headers are complete but whose body stalls; the same probe,
  and what the server does with the stalled requests (answer, close, or nothing);
- bodies over SFA_MAX_BODY_BYTES: a 100 KiB body then a second request on the same
  connection; a 2 MiB chunked body; 200 MiB sent as fast as possible (the RSS growth
  shows whether the server buffers it);
- header limits and malformed requests: the status and media type of each answer;
- SIGTERM with idle keep-alive and half-sent connections open and one sign-up (an
  argon2 hash) in flight: seconds until the server exits, and the sign-up's status.

Prints a Markdown table per server. Throughput is ``make bench BENCH_ARGS="--servers
all"``. Every request goes to 127.0.0.1 and every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench.servers import SERVERS, Server, available, base_env, free_port

PROBE_SECONDS = 8.0  # longer than gunicorn gthread's 5 s wait for a first byte
PROBE_TIMEOUT = 1.0
Row = tuple[str, str]


def _connect(port: int, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _read_answer(sock: socket.socket, timeout: float) -> bytes:
    """Bytes up to the end of one response's headers plus what came with them; b"" when
    the server closed without answering."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = _header(head, b"content-length")
    if length is not None:
        while len(rest) < int(length):
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    return data if not head else head + b"\r\n\r\n" + rest


def _header(head: bytes, name: bytes) -> bytes | None:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


def _status(answer: bytes) -> str:
    if not answer:
        return "closed, no answer"
    line = answer.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ", 2)
    status = parts[1] if len(parts) > 1 else line
    media = (_header(answer.partition(b"\r\n\r\n")[0], b"content-type") or b"-").decode()
    return f"{status} {media.split(';')[0]}"


def _exchange(port: int, request: bytes, timeout: float = 5.0) -> str:
    try:
        with _connect(port) as sock:
            sock.sendall(request)
            return _status(_read_answer(sock, timeout))
    except OSError as exc:
        return f"error: {type(exc).__name__}"


def _healthz(port: int) -> float | None:
    """Seconds for a new client's GET /healthz; None when it took over PROBE_TIMEOUT."""
    started = time.monotonic()
    try:
        with _connect(port, PROBE_TIMEOUT) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            if not _status(_read_answer(sock, PROBE_TIMEOUT)).startswith("200"):
                return None
    except OSError:
        return None
    return time.monotonic() - started


def _probe(port: int) -> str:
    """The worst /healthz latency over PROBE_SECONDS, and how many probes failed."""
    worst, failed, total = 0.0, 0, 0
    deadline = time.monotonic() + PROBE_SECONDS
    while time.monotonic() < deadline:
        total += 1
        seconds = _healthz(port)
        if seconds is None:
            failed += 1
        else:
            worst = max(worst, seconds)
        time.sleep(0.25)
    verdict = "ok" if not failed and worst < PROBE_TIMEOUT else "FAILS"
    return f"{verdict}: worst {worst * 1000:.0f} ms, {failed}/{total} probes over 1 s"


@contextmanager
def _held(port: int, count: int, first_bytes: bytes) -> Iterator[list[socket.socket]]:
    with ExitStack() as stack:
        sockets = []
        for _ in range(count):
            sock = stack.enter_context(_connect(port))
            if first_bytes:
                sock.sendall(first_bytes)
            sockets.append(sock)
        yield sockets


def slow_headers(server: Server) -> list[Row]:
    half = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    with _held(server.port, 200, b""), _held(server.port, 50, half) as held:
        probed = _probe(server.port)
        fate = _fate(held[0], 40.0)
    return [
        ("/healthz with 200 idle + 50 half-sent requests", probed),
        ("a half-sent request, after", fate),
    ]


def slow_body(server: Server) -> list[Row]:
    head = (
        b"POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b'Content-Length: 1000\r\n\r\n{"username": '
    )
    with _held(server.port, 50, head) as held:
        probed = _probe(server.port)
        fate = _fate(held[0], 40.0)
    return [("/healthz with 50 stalled bodies", probed), ("a stalled body, after", fate)]


def _fate(sock: socket.socket, limit: float) -> str:
    """What the server does with a held connection: answers, closes, or nothing."""
    started = time.monotonic()
    try:
        answer = _read_answer(sock, limit)
    except TimeoutError:
        return f"still open after {limit:.0f} s"
    except OSError as exc:
        return f"{type(exc).__name__} after {time.monotonic() - started:.1f} s"
    return f"{_status(answer)} after {time.monotonic() - started:.1f} s"


def oversize(server: Server) -> list[Row]:
    rows = [("100 KiB body, then a request on the same connection", _then_reuse(server.port))]
    chunked = b"POST /auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    chunked += b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"x" * 65536
    body = (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 32 + b"0\r\n\r\n"
    rows.append(("2 MiB chunked body", _exchange(server.port, chunked + body)))
    rows.append(("200 MiB body sent at full speed", _flood(server)))
    return rows


def _then_reuse(port: int) -> str:
    body = json.dumps({"username": "x" * (100 * 1024)}).encode()
    request = (
        b"POST /auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    ) + body
    try:
        with _connect(port) as sock:
            sock.sendall(request)
            first = _read_answer(sock, 10.0)
            closes = (_header(first.partition(b"\r\n\r\n")[0], b"connection") or b"").lower()
            if closes == b"close":
                return f"{_status(first)}, Connection: close"
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            second = _read_answer(sock, 10.0)
            return f"{_status(first)}; next on the connection: {_status(second)}"
    except OSError as exc:
        return f"error: {type(exc).__name__}"


def _flood(server: Server) -> str:
    size = 200 << 20
    before = _rss_mib(server)
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], _rss_mib(server))

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.monotonic()
    outcome = "sent"
    try:
        with _connect(server.port, 30.0) as sock:
            sock.sendall(
                b"POST /auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % size
            )
            block = b"x" * (1 << 20)
            for _ in range(size >> 20):
                if time.monotonic() - started > 30:
                    outcome = "stopped after 30 s"
                    break
                sock.sendall(block)
            answer = _status(_read_answer(sock, 10.0))
    except OSError as exc:
        answer = f"{type(exc).__name__} after {time.monotonic() - started:.1f} s"
        outcome = "cut off"
    finally:
        done.set()
        sampler.join()
    return f"{answer} ({outcome}); RSS +{peak[0] - before:.0f} MiB"


def headers(server: Server) -> list[Row]:
    def get(extra: bytes, path: bytes = b"/healthz") -> bytes:
        return b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + b"\r\n"

    port = server.port
    many = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"y" * 40) for i in range(200))
    cases: list[tuple[str, bytes]] = [
        ("one 16 KiB header", get(b"X-Big: " + b"y" * 16384 + b"\r\n")),
        ("200 headers of 50 bytes", get(many)),
        ("1 MiB of headers", get(b"".join([b"X-F: " + b"y" * 8000 + b"\r\n"] * 128))),
        ("16 KiB request line", get(b"", b"/healthz?" + b"q" * 16384)),
        ("malformed request line", b"GARBAGE\r\n\r\n"),
        ("Host with a space", b"GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n"),
        (
            "GET /public/metrics, SCRIPT_NAME: /public",
            get(b"SCRIPT_NAME: /public\r\n", b"/public/metrics"),
        ),
        ("GET /healthz, SCRIPT_NAME: /x", get(b"SCRIPT_NAME: /x\r\n")),
    ]
    return [(name, _exchange(port, request)) for name, request in cases]


def sigterm(server: Server) -> list[Row]:
    assert server.process is not None
    keep_alive = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    signup = json.dumps(
        {
            "username": f"bench{secrets.token_hex(4)}",
            "password": "bench-Tr0ub4dor-&-horse",
            "phone_number": "0508464336",
        }
    ).encode()
    result: list[str] = []
    with _held(server.port, 20, keep_alive) as idle, _held(server.port, 10, b"GET / HTTP/1.1\r\n"):
        for sock in idle:
            _read_answer(sock, 5.0)
        with _connect(server.port, 60.0) as busy:
            busy.sendall(
                b"POST /auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                % len(signup)
                + signup
            )
            time.sleep(0.05)  # the hash has started
            started = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            result.append(_fate(busy, 60.0))
        try:
            server.process.wait(timeout=45)
            exited = f"{time.monotonic() - started:.1f} s"
        except Exception:
            exited = "still running after 45 s"
    return [
        ("SIGTERM: exit with 20 keep-alive + 10 half-sent open", exited),
        ("SIGTERM: the sign-up in flight", result[0]),
    ]


def _rss_mib(server: Server) -> float:
    """Resident memory of the server's process group (the arbiter and its workers)."""
    assert server.process is not None
    group = server.process.pid
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != group:
                continue
            status = (entry / "status").read_text()
        except (OSError, ProcessLookupError):
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


CHECKS: dict[str, Callable[[Server], list[Row]]] = {
    "slow-headers": slow_headers,
    "slow-body": slow_body,
    "oversize": oversize,
    "headers": headers,
    "sigterm": sigterm,  # last: it stops the server
}


def run_server(
    name: str, env: dict[str, str], tmp: Path, checks: Sequence[str], workers: int, threads: int
) -> Iterator[Row]:
    for check in checks:
        # A fresh server for each check: what one left behind must not weigh on the next.
        with Server(name, free_port(), env, tmp, workers, threads) as server:
            if check == checks[0]:
                yield ("RSS at rest", f"{_rss_mib(server):.0f} MiB")
            yield from CHECKS[check](server)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--servers", default="all", help="comma-separated, of: " + ",".join(SERVERS))
    p.add_argument("--checks", default=",".join(CHECKS), help="comma-separated subset")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=8)
    a = p.parse_args(argv)
    servers = SERVERS if a.servers == "all" else tuple(a.servers.split(","))
    checks = [c for c in CHECKS if c in a.checks.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="sfa-hostile-"))
    env = base_env(tmp, secrets.token_urlsafe(48))
    try:
        for name in servers:
            if not available(name):
                print(f"{name} is not installed; skipped", file=sys.stderr)
                continue
            print(f"{name} ...", file=sys.stderr, flush=True)
            print(f"\n### {name} ({a.workers} x {a.threads})\n\n| check | result |\n|---|---|")
            for check, result in run_server(name, env, tmp, checks, a.workers, a.threads):
                print(f"| {check} | {result} |", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
