"""Fixtures shared by every test: settings, apps on real stores, a code reader.

API tests run in two configurations: "sqlite" (SQLite alone) and "postgres+redis".
The latter needs SFA_TEST_POSTGRES_URL (default: the machine's server at
127.0.0.1:5432, database ``test``) and SFA_TEST_REDIS_URL (default: the machine's
Redis at 127.0.0.1:6379, db 0; each test gets its own key prefix). When one is
unreachable those tests are skipped with the reason, unless SFA_REQUIRE_SERVICES=1
(set by .ci/run), which makes it a failure.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from secureflaskauth.adapters.db.migrate import upgrade
from secureflaskauth.app import create_app
from secureflaskauth.settings import Settings
from tests.clock import FrozenClock

POSTGRES_URL = os.environ.get("SFA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SFA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("SFA_REQUIRE_SERVICES") == "1"
# The OWASP floor: the cheapest argon2id parameters the service accepts.
CHEAP_ARGON2: dict[str, Any] = {
    "argon2_time_cost": 2,
    "argon2_memory_kib": 19456,
    "argon2_parallelism": 1,
}
GENEROUS_LIMITS: dict[str, Any] = {
    "limit_register_ip": "10000/minute",
    "limit_register_account": "10000/minute",
    "limit_login_ip": "10000/minute",
    "limit_login_account": "10000/minute",
    "limit_verify_ip": "10000/minute",
    "limit_verify_account": "10000/minute",
    "limit_resend_ip": "10000/minute",
    "limit_resend_account": "10000/minute",
    "limit_sms_number": "10000/minute",
    "limit_sms_prefix": "10000/minute",
    "limit_sms_ip": "10000/minute",
    "limit_sms_account": "10000/minute",
    "limit_sms_unverified_number": "10000/minute",
    "limit_sms_unverified_account": "10000/minute",
    "sms_unverified_hourly_budget": 999_999,
    "sms_hourly_budget": 1_000_000,
    # Test accounts share PHONE; tests of SFA_MAX_ACCOUNTS_PER_NUMBER set it themselves.
    "max_accounts_per_number": 0,
}
PASSWORD = "correct horse battery staple"
PHONE = "0508464336"


def service_unavailable(reason: str) -> None:
    """Skip, or fail when the services are required."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service unavailable: {reason}", pytrace=False)
    pytest.skip(f"service unavailable: {reason}")


class PostgresDatabases:
    """A migrated template database, copied for each test (fast and isolated)."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = make_url(admin_url)
        self.engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        self.template = f"sfa_tmpl_{secrets.token_hex(4)}"
        with self.engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.template}"'))
        upgrade(self.url(self.template))
        self.created: list[str] = []

    def url(self, name: str) -> str:
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def new(self) -> str:
        name = f"sfa_t_{secrets.token_hex(6)}"
        with self.engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        self.created.append(name)
        return self.url(name)

    def new_empty(self) -> str:
        """A database with no schema at all (for migration tests)."""
        name = f"sfa_t_{secrets.token_hex(6)}"
        with self.engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self.url(name)

    def drop_all(self) -> None:
        # Each DROP DATABASE waits for a checkpoint: several at once share one, where one
        # after the other a run's few hundred databases would each wait for their own.
        def drop(name: str) -> None:
            with self.engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(drop, self.created))
        drop(self.template)
        self.engine.dispose()


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases | None]:
    try:
        databases = PostgresDatabases(POSTGRES_URL)
    except Exception as exc:  # unreachable server: reported per test
        yield None
        _ = exc
        return
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def redis_available() -> bool:
    """Whether the test Redis answers (asked once per session)."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def new_redis_prefix() -> str:
    """A key prefix of its own, so concurrent tests never see each other's keys."""
    return f"sfa-test:{secrets.token_hex(6)}:"


def delete_redis_keys(prefix: str, url: str = REDIS_URL) -> None:
    """Delete every key under ``prefix`` (SCAN, never KEYS: the Redis is shared)."""
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    try:
        batch = list(client.scan_iter(match=f"{prefix}*", count=500))
        for start in range(0, len(batch), 500):
            client.delete(*batch[start : start + 500])
    finally:
        client.close()


# The PostgreSQL+Redis variant carries the ``postgres`` marker: ``-m postgres`` selects it,
# ``-m "not postgres"`` leaves it out.
STORE_KINDS = ["sqlite", pytest.param("postgres+redis", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the head once per process, copied for each test (as the
    PostgreSQL template is): the app's own upgrade on start then finds nothing to do."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=STORE_KINDS)
def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    postgres_databases: PostgresDatabases | None,
    redis_available: bool,
    sqlite_template: Path,
) -> str:
    """Each API test runs on SQLite alone and on PostgreSQL with Redis (``redis_settings``)."""
    if request.param == "sqlite":
        shutil.copyfile(sqlite_template, tmp_path / "test.db")
        return f"sqlite:///{tmp_path / 'test.db'}"
    if postgres_databases is None:
        service_unavailable(f"PostgreSQL at {make_url(POSTGRES_URL).render_as_string()}")
    if not redis_available:
        service_unavailable(f"Redis at {REDIS_URL}")
    assert postgres_databases is not None
    return postgres_databases.new()


@pytest.fixture
def redis_settings(database_url: str) -> Iterator[dict[str, Any]]:
    """The Redis settings of the configuration: none on SQLite; on PostgreSQL the test
    Redis with a key prefix of the test's own, whose keys are deleted afterwards."""
    if database_url.startswith("sqlite"):
        yield {}
        return
    prefix = new_redis_prefix()
    yield {"redis_url": REDIS_URL, "redis_prefix": prefix}
    delete_redis_keys(prefix)


@pytest.fixture
def make_settings(
    tmp_path: Path, database_url: str, redis_settings: dict[str, Any]
) -> Callable[..., Settings]:
    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "var_dir": tmp_path / "var",
            "sms_echo": False,
            **redis_settings,
            **CHEAP_ARGON2,
            **GENEROUS_LIMITS,
            # No floor under /auth/password/forgot's answer (tests of it set one).
            "reset_answer_seconds": 0,
        }
        values.update(overrides)
        return Settings(**values)

    return factory


@pytest.fixture
def clock() -> FrozenClock:
    import time

    return FrozenClock(time.time())


@pytest.fixture
def make_app(
    make_settings: Callable[..., Settings], clock: FrozenClock
) -> Iterator[Callable[..., Flask]]:
    """Apps on the test's settings; their database connections are closed after the test
    (an engine left to the garbage collector drops PostgreSQL connections still open)."""
    made: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        app = create_app(make_settings(**overrides), clock=clock)
        made.append(app)
        return app

    yield factory
    for app in made:
        app.extensions["secureflaskauth"].engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class OwnRedis:
    """A redis-server this test starts and stops on a port of its own (no persistence)."""

    def __init__(self, directory: Path, *args: str) -> None:
        self.binary = shutil.which("redis-server")
        self.args = args  # more redis-server options, e.g. "--maxmemory-policy", "allkeys-lru"
        self.port = free_port()
        self.directory = directory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self.binary
        self.process = subprocess.Popen(
            [
                *(self.binary, "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.directory)),
                *self.args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        probe = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                probe.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        probe.close()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, decode_responses=True, socket_timeout=5)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    if server.binary is None:
        service_unavailable("redis-server (to stop and restart a Redis of the test's own)")
    server.start()
    yield server
    server.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


_CODE = re.compile(r"code: (\d{6})")


def last_code(client: FlaskClient) -> str:
    """The code of the newest message in the development outbox."""
    messages = client.get("/dev/outbox", headers={"Accept": "application/json"}).get_json()
    match = _CODE.search(messages[0]["body"])
    assert match, messages[0]
    return match.group(1)


def unique_username(prefix: str = "user") -> str:
    return f"{prefix}.{secrets.token_hex(4)}"


def register(client: FlaskClient, username: str | None = None, **fields: str) -> str:
    username = username or unique_username()
    body = {"username": username, "password": PASSWORD, "phone_number": PHONE, **fields}
    response = client.post("/auth/register", json=body)
    assert response.status_code == 201, response.get_json()
    return username


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post("/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def sign_in(client: FlaskClient, username: str | None = None) -> str:
    """Register (if needed), log in and verify; return the access token."""
    username = username or register(client)
    session_id = login(client, username)["session_id"]
    response = client.post(
        "/auth/verify-otp", json={"session_id": session_id, "otp": last_code(client)}
    )
    assert response.status_code == 200, response.get_json()
    token: str = response.get_json()["access_token"]
    return token


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say plainly what was skipped because a service was missing."""
    skipped = terminalreporter.stats.get("skipped", [])
    missing = [r for r in skipped if "service unavailable" in str(r.longrepr)]
    if missing:
        terminalreporter.write_line(
            f"NOTE: {len(missing)} tests were SKIPPED because PostgreSQL or Redis was unreachable "
            "(see the skip reasons above). Set SFA_REQUIRE_SERVICES=1 to make this a failure, "
            "as CI does.",
            yellow=True,
            bold=True,
        )


# The modules that take longest (each a minute or more of a worker's time in
# `pytest --durations` on a 2-core machine), run first. pytest-xdist hands out whole
# modules (--dist loadscope), in collection order with --no-loadscope-reorder (the
# Makefile's): a long module left for the end keeps one worker busy after the others
# have run out of work. Names here only order; a module missing from the list runs
# after these, as collected.
LONGEST_FIRST = (
    "tests/security/test_fuzz_openapi.py",
    "tests/web/test_page_security.py",
    "tests/security/test_enumeration.py",
    "tests/sms/test_provider_contract.py",
    "tests/browser/test_account_pages.py",
    "tests/e2e/test_hostile_clients.py",
    "tests/security/test_races.py",
    "tests/api/test_verified_numbers.py",
    "tests/e2e/test_startup.py",
    "tests/api/test_sessions_api.py",
    "tests/e2e/test_lifecycle_http.py",
    "tests/browser/test_pages.py",
    "tests/security/test_otp_guessing.py",
    "tests/oidc/test_authorize.py",
    "tests/oidc/test_authorize_input.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    # sorted() is stable: within a module, and among the rest, the collected order stays.
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: a worker more than the cores this process may use. Many tests wait
    (for a server to start or stop, a timeout to pass, a lockout to end) rather than
    compute, and a worker per core left a quarter of the CPU idle over the run.
    PYTEST_XDIST_AUTO_NUM_WORKERS and ``-n logical`` keep xdist's own meaning."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS") or config.option.numprocesses == "logical":
        return None
    return len(os.sched_getaffinity(0)) + 1
