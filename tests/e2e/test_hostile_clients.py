"""Slow, idle and hostile clients against the real server (``secureflaskauth serve``).

A client that sends half a request, a body that never ends, or nothing at all must
not keep the service from answering everybody else, nor keep SIGTERM from stopping
it. The server's own refusals (malformed request, head too large or too slow, body
too slow) are problem+json like every other error, and nothing a client sends can
move a request to another route.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import requests

from secureflaskauth.server.protocol import KEEPALIVE_REQUESTS
from tests.e2e.conftest import HTTP_TIMEOUT, Launch, Server, Store, register, sign_in

pytestmark = pytest.mark.e2e

HALF_SENT = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"  # a request line and one header
STALLED_BODY = (
    b"POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: 1000\r\n\r\n" + b'{"username": '
)
HEAD_TIMEOUT = 10.0  # server/protocol.py HEAD_TIMEOUT_SECONDS
BODY_TIMEOUT = 10.0  # server/bridge.py BODY_TIMEOUT_SECONDS
PROBE_SECONDS = 6.0  # past gunicorn gthread's 5 s wait for a connection's first byte


@contextmanager
def held(server: Server, count: int, first_bytes: bytes) -> Iterator[list[socket.socket]]:
    """``count`` connections that sent ``first_bytes`` (maybe nothing), then nothing more."""
    with ExitStack() as stack:
        sockets = []
        for _ in range(count):
            sock = stack.enter_context(socket.create_connection(("127.0.0.1", server.port), 5))
            if first_bytes:
                sock.sendall(first_bytes)
            sockets.append(sock)
        yield sockets


def assert_healthz_keeps_answering(server: Server) -> None:
    """New clients get /healthz within a second each, for PROBE_SECONDS."""
    deadline = time.monotonic() + PROBE_SECONDS
    while time.monotonic() < deadline:
        started = time.monotonic()
        response = requests.get(server.url("/healthz"), timeout=1.0)
        assert response.status_code == 200
        assert time.monotonic() - started < 1.0
        time.sleep(0.2)


def read_answer(sock: socket.socket, timeout: float) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the next answer on ``sock``."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data and (chunk := sock.recv(65536)):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head, "the server closed the connection without an answer"
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
    while len(body) < int(headers.get("content-length", 0)) and (chunk := sock.recv(65536)):
        body += chunk
    return int(status_line.split()[1]), headers, body


def assert_problem(answer: tuple[int, dict[str, str], bytes], status: int) -> dict[str, object]:
    got, headers, body = answer
    assert got == status, answer
    assert headers["content-type"] == "application/problem+json", headers
    problem: dict[str, object] = json.loads(body)
    assert problem["status"] == status
    assert problem["title"] and problem["detail"]
    return problem


@pytest.mark.parametrize(
    ("count", "first_bytes"), [(50, HALF_SENT), (200, b"")], ids=["half-sent", "idle"]
)
def test_slow_and_idle_connections_do_not_stop_the_service(
    server: Server, count: int, first_bytes: bytes
) -> None:
    with held(server, count, first_bytes) as sockets:
        opened = time.monotonic()
        assert_healthz_keeps_answering(server)
        # The held connections end at the head deadline: 408 when a head was started,
        # a silent close for a connection that never sent a byte (RFC 9112 9.6).
        wait = HEAD_TIMEOUT + 5 - (time.monotonic() - opened)
        if first_bytes:
            assert_problem(read_answer(sockets[0], wait), 408)
        else:
            sockets[0].settimeout(wait)
            assert sockets[0].recv(1) == b""


def test_stalled_bodies_do_not_stop_the_service(server: Server) -> None:
    with held(server, 50, STALLED_BODY) as sockets:
        opened = time.monotonic()
        assert_healthz_keeps_answering(server)
        wait = BODY_TIMEOUT + 5 - (time.monotonic() - opened)
        problem = assert_problem(read_answer(sockets[0], wait), 408)
        assert problem["type"] == "urn:secureflaskauth:problem:request-timeout"


def test_sigterm_stops_promptly_with_keep_alive_and_half_sent_connections(
    fresh_store: Store, launch: Launch
) -> None:
    server = launch(fresh_store)
    account = register(requests.Session(), server)
    keep_alive = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with held(server, 20, keep_alive) as idle, held(server, 10, HALF_SENT):
        for sock in idle:  # each got its answer and stays open (keep-alive)
            status, headers, _ = read_answer(sock, HTTP_TIMEOUT)
            assert status == 200
            assert headers.get("connection") != "close"
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        exit_code = server.process.wait(timeout=HTTP_TIMEOUT)
        stopped = time.monotonic() - started
        # The idle keep-alive connections were closed, not left to time out.
        idle[0].settimeout(1)
        assert idle[0].recv(1) == b""
    assert exit_code == 0, server.log()
    assert stopped < 5, f"SIGTERM took {stopped:.1f} s"
    # What was done before the signal is there after it.
    users = server.store.query("SELECT id FROM users WHERE id = :id", id=account.user_id)
    assert len(users) == 1


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_refused_body_leaves_the_pooled_connection_usable(server: Server, chunked: bool) -> None:
    body = json.dumps({"username": "x" * (100 * 1024)}).encode()  # over the 64 KiB default
    with requests.Session() as http:
        for _ in range(10):  # how the connection is left after a 413 can depend on timing
            data = iter([body[:50000], body[50000:]]) if chunked else body
            response = http.post(
                server.url("/auth/register"),
                data=data,
                headers={"Content-Type": "application/json"},
                timeout=HTTP_TIMEOUT,
            )
            assert response.status_code == 413, response.text
            assert response.headers["Content-Type"] == "application/problem+json"
            assert response.json()["status"] == 413
            # The next request on the same pool: no "Server disconnected".
            follow_up = http.get(server.url("/healthz"), timeout=HTTP_TIMEOUT)
            assert follow_up.status_code == 200


def test_a_body_too_large_to_drain_is_refused_and_the_connection_closed(server: Server) -> None:
    with held(server, 1, b"") as (sock,):
        sock.sendall(
            b"POST /auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n{"
        )
        answer = read_answer(sock, HTTP_TIMEOUT)
        assert_problem(answer, 413)
        assert answer[1]["connection"] == "close"


ROUTING_HEADERS = [
    {"SCRIPT_NAME": "/public"},
    {"Script-Name": "/public"},
    {"X-Script-Name": "/public"},
    {"X-Forwarded-Prefix": "/public"},
]


@pytest.mark.parametrize("trusted_proxies", ["0", "1"])
def test_client_headers_never_reroute(launch: Launch, tmp_path: Path, trusted_proxies: str) -> None:
    store = Store(f"sqlite:///{tmp_path / 'routing.db'}", tmp_path / "var")
    server = launch(store, {"SFA_TRUSTED_PROXIES": trusted_proxies})
    assert requests.get(server.url("/metrics"), timeout=HTTP_TIMEOUT).status_code == 200
    for headers in ROUTING_HEADERS:
        moved = requests.get(server.url("/public/metrics"), headers=headers, timeout=HTTP_TIMEOUT)
        assert moved.status_code == 404, (headers, moved.text[:200])
        assert moved.headers["Content-Type"] == "application/problem+json"
        # A prefix that does not match the path changes nothing either (it was a 500).
        plain = requests.get(
            server.url("/healthz"),
            headers={**headers, "X-Forwarded-For": "203.0.113.9"},
            timeout=HTTP_TIMEOUT,
        )
        assert plain.status_code == 200, (headers, plain.text[:200])
        assert plain.json() == {"status": "ok"}


def _raw(server: Server, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with held(server, 1, b"") as (sock,):
        sock.sendall(request)
        return read_answer(sock, HTTP_TIMEOUT)


@pytest.mark.parametrize(
    ("request_bytes", "status", "slug"),
    [
        (b"GARBAGE\r\n\r\n", 400, "malformed-request"),
        (
            b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"y" * 40000 + b"\r\n\r\n",
            431,
            "request-head-too-large",
        ),
        (
            b"GET /healthz?" + b"q" * 40000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            431,
            "request-head-too-large",
        ),
        (b"GET /healthz HTTP/1.1\r\n\r\n", 400, "bad-host"),
        (b"GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "bad-host"),
        (b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "bad-host"),
    ],
    ids=["request-line", "header-field", "request-target", "no-host", "bad-host", "two-hosts"],
)
def test_the_servers_own_refusals_are_problem_json(
    server: Server, request_bytes: bytes, status: int, slug: str
) -> None:
    problem = assert_problem(_raw(server, request_bytes), status)
    assert problem["type"] == f"urn:secureflaskauth:problem:{slug}"


def test_a_kept_alive_connection_ends_after_its_last_allowed_request(server: Server) -> None:
    """The workers share the listening socket: a connection that lives forever stays
    with the worker that took it. Each ends after KEEPALIVE_REQUESTS answers, the last
    saying so, and a new one is served as usual."""
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with held(server, 1, b"") as (sock,):
        for n in range(1, KEEPALIVE_REQUESTS + 1):
            sock.sendall(request)
            status, headers, _ = read_answer(sock, HTTP_TIMEOUT)
            assert status == 200
            assert (headers.get("connection") == "close") == (n == KEEPALIVE_REQUESTS), n
        sock.settimeout(HTTP_TIMEOUT)
        assert sock.recv(1) == b""  # closed by the server after the last answer
    assert requests.get(server.url("/healthz"), timeout=HTTP_TIMEOUT).status_code == 200


def test_a_repeated_authorization_header_is_refused_even_with_a_good_token(
    server: Server,
) -> None:
    """The server joins a repeated header into one value; the token check refuses it
    as malformed, on the event loop's path as on a thread's (the token is one the
    workers have verified before)."""
    with requests.Session() as http:
        _, token = sign_in(http, server)
        for _ in range(4):  # both workers have checked it, whichever took which
            assert (
                http.get(
                    server.url("/auth/private"),
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=HTTP_TIMEOUT,
                ).status_code
                == 200
            )
    line = f"Authorization: Bearer {token}\r\n".encode()
    twice = b"GET /auth/private HTTP/1.1\r\nHost: 127.0.0.1\r\n" + line + line + b"\r\n"
    status, _, body = _raw(server, twice)
    assert status == 401, body
    assert json.loads(body)["type"] == "urn:secureflaskauth:problem:invalid-token"
