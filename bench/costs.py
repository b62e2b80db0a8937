"""``python -m bench.costs``: what one request costs, part by part, in one process.

No server and no sockets: each app is called as a WSGI function with a ready-made
request, on one thread, so what is measured is the Python each request runs. Each
figure is the best of ``--rounds`` rounds of ``--requests`` requests (the least
disturbed by other work on the machine), in microseconds a request. The differences
between rows are the costs of the parts: the service's middleware (request id,
security headers, metrics, Cache-Control, the problem handler) is its /healthz
minus a bare Flask app's; the full token check is /auth/private with the
verified-token cache off minus /healthz, and the cache's saving that minus
/auth/private with the token remembered (the same token every request: always a
hit); the access log line is /auth/private at INFO minus the same at WARNING, and
is measured again in one process, the line on and off in turns, so that the other
work of a busy machine falls on both alike.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import jwt
from flask import Flask, jsonify

from bench import naive
from secureflaskauth.app import create_app
from secureflaskauth.settings import Settings

PASSWORD = "bench-Tr0ub4dor-&-horse"  # noqa: S105 - a throwaway benchmark password
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def environ(path: str, token: str | None = None) -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "5000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:5000",
        "HTTP_ACCEPT": "application/json",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    if token:
        env["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return env


def cost(app: WsgiApp, env: dict[str, Any], requests: int, rounds: int) -> float:
    """Microseconds a request, best of ``rounds``; every answer must be a 200."""
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses.append(status)

    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(requests):
            body = app(dict(env), start_response)
            for _chunk in body:
                pass
            close = getattr(body, "close", None)
            if close:
                close()
        best = min(best, (time.perf_counter() - started) / requests)
    if bad := [s for s in statuses if not s.startswith("200")]:
        raise RuntimeError(f"{len(bad)} answers were not 200: {bad[0]}")
    return best * 1e6


def service(var: Path, **variables: str) -> Flask:
    """The service as configured by SFA_ variables, on the SQLite database in ``var``."""
    os.environ.update(
        {
            "SFA_VAR_DIR": str(var),
            "SFA_DATABASE_URL": f"sqlite:///{var / 'costs.db'}",
            "SFA_SMS_ECHO": "false",
            "SFA_RATE_LIMITS": "off",
            "SFA_LOG_FORMAT": "json",
            **variables,
        }
    )
    return create_app(Settings())


def sign_in(app: Flask) -> str:
    """An access token, through the API's own flow."""
    client = app.test_client()
    user = {"username": "costs.user", "password": PASSWORD, "phone_number": "0508464336"}
    client.post("/auth/register", json=user)
    login = client.post("/auth/login", json={"username": user["username"], "password": PASSWORD})
    session_id = login.get_json()["session_id"]
    outbox = client.get("/dev/outbox", headers={"Accept": "application/json"}).get_json()
    match = re.search(r"\b(\d{6})\b", outbox[0]["body"])
    assert match is not None
    answer = client.post("/auth/verify-otp", json={"session_id": session_id, "otp": match[1]})
    token: str = answer.get_json()["access_token"]
    return token


ROWS = {
    "bare": "bare Flask app, one JSON answer",
    "healthz": "service GET /healthz",
    "private": "service GET /auth/private (token remembered)",
    "private-full": "service GET /auth/private (full check: SFA_JWT_VERIFIED_CACHE_SIZE=0)",
    "private-quiet": "service GET /auth/private (token remembered), no access log line",
    "access-line": "the access log line alone (/auth/private with it less without, in turns)",
    "naive": "naive app GET /auth/private (bench/naive.py: PyJWT every time)",
    "pyjwt": "PyJWT decode alone (EdDSA)",
}


def one(row: str, n: int, r: int) -> float:
    """One row, measured in this process (a fresh one for each row)."""
    if row == "bare":
        bare = Flask("bare")
        bare.get("/hello")(lambda: jsonify(message="hello"))
        return cost(bare, environ("/hello"), n, r)
    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp)
        variables = {
            "private-full": {"SFA_JWT_VERIFIED_CACHE_SIZE": "0"},
            "private-quiet": {"SFA_LOG_LEVEL": "WARNING"},
        }.get(row, {})
        app = service(var, **variables)
        token = sign_in(app)
        if row == "healthz":
            return cost(app, environ("/healthz"), n, r)
        if row.startswith("private"):
            return cost(app, environ("/auth/private", token), n, r)
        if row == "access-line":
            return in_turns(app, environ("/auth/private", token), n, r)
        jwks = app.test_client().get("/.well-known/jwks.json").get_json()
        if row == "naive":
            (var / "jwks.json").write_text(json.dumps(jwks))
            os.environ["NAIVE_JWKS"] = str(var / "jwks.json")
            return cost(naive.create_app(), environ("/auth/private", token), n, r)
        key = jwt.PyJWK(jwks["keys"][0])
        best = float("inf")
        for _ in range(r):
            started = time.perf_counter()
            for _ in range(n):
                jwt.decode(token, key=key, algorithms=["EdDSA"], audience="secureflaskauth")
            best = min(best, (time.perf_counter() - started) / n)
        return best * 1e6


def in_turns(app: WsgiApp, env: dict[str, Any], requests: int, rounds: int) -> float:
    """The access line's cost: rounds with and without it, taken in turns."""
    access = logging.getLogger("secureflaskauth.access")
    best = {logging.NOTSET: float("inf"), logging.WARNING: float("inf")}
    try:
        for _ in range(rounds):
            for level in best:
                access.setLevel(level)
                best[level] = min(best[level], cost(app, env, requests, 1))
    finally:
        access.setLevel(logging.NOTSET)
    return best[logging.NOTSET] - best[logging.WARNING]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.costs", description=__doc__)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--requests", type=int, default=5000)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--row", choices=ROWS, help=argparse.SUPPRESS)  # one row, in a child
    a = p.parse_args(argv)
    if a.row:
        print(one(a.row, a.requests, a.rounds))
        return 0
    print("| in one process, one thread | µs a request |\n|---|---:|")
    for row, label in ROWS.items():
        child = [sys.executable, "-m", "bench.costs", "--row", row]
        # The logs go to a file, as a server's do (bench/servers.py): a pipe read by
        # this process would add its own waits to every line.
        with tempfile.TemporaryFile() as logs:
            done = subprocess.run(  # noqa: S603 - this module, with our own arguments
                [*child, "--requests", str(a.requests), "--rounds", str(a.rounds)],
                stdout=subprocess.PIPE,
                stderr=logs,
                text=True,
                check=False,
                cwd=Path(__file__).resolve().parent.parent,
            )
            if done.returncode:
                logs.seek(0)
                tail = logs.read()[-2000:].decode(errors="replace")
                raise RuntimeError(f"{row} failed:\n{tail}")
        print(f"| {label} | {float(done.stdout.split()[-1]):.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
