"""The real server process: ``secureflaskauth serve`` on a free local port.

One server per database kind is shared by the whole session (``server``); tests
that restart a server start their own with ``launch`` on a ``fresh_store``.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import phonenumbers
import pytest
import requests
from sqlalchemy import text
from sqlalchemy.engine import make_url

from secureflaskauth.adapters.db.challenges import SqlChallengeStore
from secureflaskauth.adapters.db.engine import make_engine
from secureflaskauth.adapters.redis.challenges import RedisChallengeStore
from secureflaskauth.adapters.redis.client import connect
from secureflaskauth.domain.models import Challenge
from tests.conftest import (
    PASSWORD,
    POSTGRES_URL,
    REDIS_URL,
    STORE_KINDS,
    PostgresDatabases,
    delete_redis_keys,
    new_redis_prefix,
    service_unavailable,
    unique_username,
)

STARTUP_TIMEOUT = 30.0
SHUTDOWN_TIMEOUT = 45.0  # gunicorn's graceful timeout is 30 s
HTTP_TIMEOUT = 30.0
_CODE = re.compile(r"code: (\d{6})")
_KINDS = STORE_KINDS


@dataclass(frozen=True)
class Store:
    """Where a server keeps its state: the database, the var directory and, with
    PostgreSQL, Redis under a key prefix of its own."""

    database_url: str
    var_dir: Path
    redis_url: str | None = None
    redis_prefix: str = "sfa:"

    def query(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        """Read the server's database directly (to check what was stored)."""
        engine = make_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return [dict(row._mapping) for row in conn.execute(text(sql), params)]
        finally:
            engine.dispose()

    def challenge(self, challenge_id: str) -> Challenge | None:
        """A stored OTP challenge, read from wherever the server keeps it."""
        if self.redis_url:
            client = connect(self.redis_url)
            try:
                return RedisChallengeStore(client, self.redis_prefix).get(challenge_id)
            finally:
                client.close()
        engine = make_engine(self.database_url)
        try:
            return SqlChallengeStore(engine).get(challenge_id)
        finally:
            engine.dispose()


class Server:
    """One running ``secureflaskauth serve`` process."""

    def __init__(self, store: Store, workdir: Path, settings: dict[str, str] | None = None) -> None:
        self.store = store
        self.workdir = workdir
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.stderr_path = workdir / f"server-{self.port}.err"
        self.stdout_path = workdir / f"server-{self.port}.out"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                [*_serve_command(), "serve"],
                cwd=workdir,  # no stray .env file is read
                env={**_environment(store, self.port, workdir), **(settings or {})},
                stdout=out,
                stderr=err,
            )

    def url(self, path: str) -> str:
        return self.base_url + path

    def log(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def log_entries(self) -> list[dict[str, Any]]:
        """The JSON log's lines so far: a line still being written (read while the
        server runs) is left for the next read."""
        lines = self.log().splitlines(keepends=True)
        return [json.loads(line) for line in lines if line.endswith("\n") and line.strip()]

    def wait_until_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if requests.get(self.url("/healthz"), timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.kill()
        pytest.fail(
            f"the server did not answer /healthz (exit code {self.process.returncode}); "
            f"its stderr:\n{self.log()}",
            pytrace=False,
        )

    def stop(self) -> int:
        """SIGTERM, as a process manager does; return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"the server ignored SIGTERM; its stderr:\n{self.log()}", pytrace=False)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=SHUTDOWN_TIMEOUT)


def _serve_command() -> list[str]:
    script = Path(sys.executable).parent / "secureflaskauth"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "secureflaskauth.cli"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _environment(store: Store, port: int, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SFA_")}
    env.update(
        {
            "SFA_ENV": "development",
            "SFA_HOST": "127.0.0.1",
            "SFA_PORT": str(port),
            "SFA_DATABASE_URL": store.database_url,
            "SFA_VAR_DIR": str(store.var_dir),
            "SFA_WORKERS": "2",
            "SFA_THREADS": "8",
            "SFA_ARGON2_TIME_COST": "2",
            "SFA_ARGON2_MEMORY_KIB": "19456",
            "SFA_ARGON2_PARALLELISM": "1",
            "SFA_SMS_BACKEND": "outbox",
            "SFA_SMS_ECHO": "false",
            "SFA_RATE_LIMITS": "on",
            # gunicorn's control socket goes to $XDG_RUNTIME_DIR: one per server.
            "XDG_RUNTIME_DIR": str(workdir),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if store.redis_url:
        env.update({"SFA_REDIS_URL": store.redis_url, "SFA_REDIS_PREFIX": store.redis_prefix})
    for step in ("register", "login", "verify", "resend"):
        for scope in ("ip", "account"):
            env[f"SFA_LIMIT_{step.upper()}_{scope.upper()}"] = "10000/minute"
    for scope in ("number", "prefix", "ip", "account", "unverified_number", "unverified_account"):
        env[f"SFA_LIMIT_SMS_{scope.upper()}"] = "10000/minute"
    env["SFA_SMS_HOURLY_BUDGET"] = "1000000"
    env["SFA_SMS_UNVERIFIED_HOURLY_BUDGET"] = "999999"
    env["SFA_MAX_ACCOUNTS_PER_NUMBER"] = "0"  # every test account has the same number
    return env


def start_server(
    store: Store, workdir: Path, settings: dict[str, str] | None = None, attempts: int = 3
) -> Server:
    """Start a server and wait until it answers; retry when its port was taken meanwhile.
    ``settings``: SFA_* variables that differ from the tests' defaults."""
    for _ in range(attempts):
        server = Server(store, workdir, settings)
        try:
            server.wait_until_healthy()
        except pytest.fail.Exception:
            if "Address already in use" in server.log():
                continue
            raise
        return server
    pytest.fail("no free port for the server", pytrace=False)


# -- fixtures ---------------------------------------------------------------


class Launch(Protocol):
    def __call__(self, store: Store, settings: dict[str, str] | None = None) -> Server:
        """A healthy server on ``store``; ``settings``: SFA_* variables to change."""


def _new_store(
    kind: str,
    directory: Path,
    postgres_databases: PostgresDatabases | None,
    redis_available: bool,
) -> Store:
    if kind == "sqlite":
        url = f"sqlite:///{directory / 'secureflaskauth.db'}"
        return Store(database_url=url, var_dir=directory / "var")
    if postgres_databases is None:
        service_unavailable(f"PostgreSQL at {make_url(POSTGRES_URL).render_as_string()}")
    if not redis_available:
        service_unavailable(f"Redis at {REDIS_URL}")
    assert postgres_databases is not None
    url = postgres_databases.new()
    return Store(url, directory / "var", redis_url=REDIS_URL, redis_prefix=new_redis_prefix())


def _forget(store: Store) -> None:
    """Delete the store's Redis keys (its database goes with the session)."""
    if store.redis_url:
        delete_redis_keys(store.redis_prefix, store.redis_url)


def serving(
    kind: str,
    directory: Path,
    postgres_databases: PostgresDatabases | None,
    redis_available: bool,
    settings: dict[str, str] | None = None,
) -> Iterator[Server]:
    """A server on a new store of ``kind`` for the fixture that yields from this (a
    start costs seconds, so tests that need no server of their own share one), stopped
    with SIGTERM at the end."""
    store = _new_store(kind, directory, postgres_databases, redis_available)
    running = start_server(store, directory, settings)
    yield running
    assert running.stop() == 0, running.log()
    _forget(store)


@pytest.fixture(scope="session", params=_KINDS)
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_databases: PostgresDatabases | None,
    redis_available: bool,
) -> Iterator[Server]:
    """The shared server of a database kind."""
    directory = tmp_path_factory.mktemp(f"e2e-{request.param}")
    yield from serving(request.param, directory, postgres_databases, redis_available)


@pytest.fixture(params=_KINDS)
def fresh_store(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    postgres_databases: PostgresDatabases | None,
    redis_available: bool,
) -> Iterator[Store]:
    """An empty database and var directory of each kind, for a test's own servers."""
    store = _new_store(request.param, tmp_path, postgres_databases, redis_available)
    yield store
    _forget(store)


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    """Start servers for one test; any still running are stopped at its end."""
    started: list[Server] = []

    def factory(store: Store, settings: dict[str, str] | None = None) -> Server:
        started.append(start_server(store, tmp_path, settings))
        return started[-1]

    yield factory
    for running in started:
        if running.process.poll() is None:
            assert running.stop() == 0, running.log()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A client session, closed at the end (an open keep-alive connection slows a stop)."""
    with requests.Session() as session:
        yield session


# -- the seed flow, as a client does it over HTTP ------------------------------


def unique_phone() -> str:
    """A valid Israeli mobile number in local form, so each test finds its own SMS."""
    rng = random.SystemRandom()
    while True:
        local = "050" + "".join(rng.choice("0123456789") for _ in range(7))
        number = phonenumbers.parse(local, "IL")
        if phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE:
            return local


def e164(local: str) -> str:
    return phonenumbers.format_number(
        phonenumbers.parse(local, "IL"), phonenumbers.PhoneNumberFormat.E164
    )


@dataclass(frozen=True)
class Account:
    username: str
    phone: str
    user_id: str


def register(http: requests.Session, server: Server, username: str | None = None) -> Account:
    username = username or unique_username("e2e")
    phone = unique_phone()
    response = http.post(
        server.url("/auth/register"),
        json={"username": username, "password": PASSWORD, "phone_number": phone},
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 201, response.text
    return Account(username, phone, response.json()["user_id"])


def login(http: requests.Session, server: Server, account: Account) -> dict[str, Any]:
    response = http.post(
        server.url("/auth/login"),
        json={"username": account.username, "password": PASSWORD},
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def outbox_code(http: requests.Session, server: Server, phone: str) -> str:
    """The code of the newest SMS to ``phone`` in /dev/outbox (JSON)."""
    response = http.get(
        server.url("/dev/outbox"), headers={"Accept": "application/json"}, timeout=HTTP_TIMEOUT
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    for message in response.json():
        if message["to"] == e164(phone):
            match = _CODE.search(message["body"])
            assert match, message
            return match.group(1)
    raise AssertionError(f"no SMS to {phone} in the outbox")


def verify(http: requests.Session, server: Server, session_id: str, code: str) -> str:
    response = http.post(
        server.url("/auth/verify-otp"),
        json={"session_id": session_id, "otp": code},
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def sign_in(http: requests.Session, server: Server) -> tuple[Account, str]:
    """Register, log in, read the SMS and verify; return the account and its token."""
    account = register(http, server)
    session_id = login(http, server, account)["session_id"]
    return account, verify(http, server, session_id, outbox_code(http, server, account.phone))
