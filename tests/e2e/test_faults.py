"""Redis and PostgreSQL going away and coming back.

One server runs on a Redis and a PostgreSQL of the test's own (tests/e2e/services.py),
which the tests stop and start again on the same ports. While a store is down every
request that needs it must fail closed: 503 problem+json with Retry-After, never a
500, never a 200 that skipped a check, no SMS sent and no session given. /readyz
names the store that is down and /healthz stays 200. Once the store is back the
server recovers by itself, without a restart.

The Redis keeps nothing on disk, so a restart loses the challenges, counters and
revocations it held: the tests start new logins afterwards.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from secureflaskauth.domain import otp
from tests.conftest import PASSWORD, unique_username
from tests.e2e.conftest import (
    HTTP_TIMEOUT,
    Account,
    Server,
    Store,
    e164,
    login,
    outbox_code,
    register,
    sign_in,
    verify,
)
from tests.e2e.services import (
    PostgresServer,
    RedisServer,
    own_postgres,
    own_redis,
    start_server_with,
)
from tests.helpers import problem

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

RECOVERY_DEADLINE = 20.0  # seconds for the server to serve again once a store is back
PROBLEM_JSON = "application/problem+json"


@dataclass
class Stack:
    server: Server
    redis: RedisServer
    postgres: PostgresServer

    def ensure_up(self) -> None:
        """Both stores running and the server ready again (after a test that failed)."""
        self.redis.resume()
        if not self.redis.running:
            self.redis.start()
        if not self.postgres.running:
            self.postgres.start()
        eventually(lambda: requests.get(self.server.url("/readyz"), timeout=HTTP_TIMEOUT), 200)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("faults")
    with own_redis(workdir / "redis") as redis_server, own_postgres() as postgres:
        store = Store(postgres.url, workdir / "var", redis_url=redis_server.url)
        server = start_server_with(
            store,
            workdir,
            {
                "SFA_OTP_RESEND_COOLDOWN_SECONDS": "0",
                "SFA_OTP_MAX_RESENDS": "10",
            },
        )
        try:
            yield Stack(server, redis_server, postgres)
            # A server that saw its stores come and go still stops cleanly.
            assert server.stop() == 0, server.log()
        finally:
            server.kill()


@pytest.fixture
def up(stack: Stack) -> Iterator[Stack]:
    """The stack with both stores up; whatever a test stopped is started again."""
    stack.ensure_up()
    try:
        yield stack
    finally:
        stack.ensure_up()
    assert "unhandled error" not in stack.server.log(), stack.server.log()[-6000:]


# -- requests ----------------------------------------------------------------


@dataclass
class Client:
    """One user's view: an account, a signed-in session and a pending login."""

    server: Server
    http: requests.Session
    account: Account
    tokens: dict[str, str] = field(default_factory=dict)
    pending: str = ""  # the session_id of a login waiting for its code

    def post(self, path: str, body: dict[str, Any], token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.http.post(
            self.server.url(path), json=body, headers=headers, timeout=HTTP_TIMEOUT
        )

    def login(self) -> requests.Response:
        return self.post("/auth/login", {"username": self.account.username, "password": PASSWORD})

    def verify(self, session_id: str, code: str) -> requests.Response:
        return self.post("/auth/verify-otp", {"session_id": session_id, "otp": code})

    def resend(self, session_id: str) -> requests.Response:
        return self.post("/auth/resend-otp", {"session_id": session_id})

    def refresh(self) -> requests.Response:
        return self.post("/auth/refresh", {"refresh_token": self.tokens["refresh_token"]})

    def private(self, token: str | None = None) -> requests.Response:
        return self.http.get(
            self.server.url("/auth/private"),
            headers={"Authorization": f"Bearer {token or self.tokens['access_token']}"},
            timeout=HTTP_TIMEOUT,
        )

    def logout(self) -> requests.Response:
        return self.post("/auth/logout", {}, token=self.tokens["access_token"])

    def register(self) -> requests.Response:
        return self.post(
            "/auth/register",
            {
                "username": unique_username("fault"),
                "password": PASSWORD,
                "phone_number": self.account.phone,
            },
        )


def signed_in_client(server: Server, http: requests.Session) -> Client:
    """A client with a fresh session (tokens) and a pending login (its code unused)."""
    account = register(http, server)
    started = login(http, server, account)
    response = http.post(
        server.url("/auth/verify-otp"),
        json={"session_id": started["session_id"], "otp": outbox_code(http, server, account.phone)},
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 200, response.text
    client = Client(server, http, account, tokens=response.json())
    client.pending = login(http, server, account)["session_id"]
    return client


def sms_count(server: Server, phone: str) -> int:
    """How many SMS the server has sent to ``phone`` (its outbox is in the database)."""
    rows = server.store.query(
        'SELECT COUNT(*) AS n FROM sms_outbox WHERE "to" = :to', to=e164(phone)
    )
    return int(rows[0]["n"])


def assert_unavailable(response: requests.Response, what: str) -> None:
    """503 problem+json with Retry-After, and nothing a client could use."""
    body = problem(response, 503)
    assert int(response.headers["Retry-After"]) > 0, what
    assert not {"access_token", "refresh_token", "session_id"} & set(body), what


def assert_not_ready(server: Server, down: str, still_up: str) -> None:
    response = requests.get(server.url("/readyz"), timeout=HTTP_TIMEOUT)
    assert_unavailable(response, "/readyz")
    body = response.json()
    assert body["checks"] == {down: "unavailable", still_up: "ok"}
    assert down in body["detail"]
    health = requests.get(server.url("/healthz"), timeout=HTTP_TIMEOUT)
    assert health.status_code == 200, health.text
    assert health.json() == {"status": "ok"}


def eventually(
    request: Callable[[], requests.Response], status: int, deadline: float = RECOVERY_DEADLINE
) -> requests.Response:
    """Repeat ``request`` until it answers ``status``; meanwhile only 503s are allowed."""
    ends = time.monotonic() + deadline
    while True:
        response = request()
        if response.status_code == status:
            return response
        assert response.status_code == 503, f"{response.status_code} {response.text}"
        assert time.monotonic() < ends, f"no recovery within {deadline} s: {response.text}"
        time.sleep(0.2)


def assert_ready(server: Server) -> None:
    response = eventually(lambda: requests.get(server.url("/readyz"), timeout=HTTP_TIMEOUT), 200)
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


# -- Redis ------------------------------------------------------------------


def test_without_redis_every_request_that_needs_it_fails_closed_then_recovers(
    up: Stack, http: requests.Session
) -> None:
    server = up.server
    client = signed_in_client(server, http)
    code = outbox_code(http, server, client.account.phone)
    sent = sms_count(server, client.account.phone)

    up.redis.stop()

    assert_unavailable(client.login(), "login")
    assert_unavailable(client.verify(client.pending, code), "verify-otp with the right code")
    assert_unavailable(client.resend(client.pending), "resend-otp")
    # The revocation list cannot be read: the token is not taken on trust.
    assert_unavailable(client.private(), "private")
    assert_unavailable(client.logout(), "logout")
    assert_unavailable(client.register(), "register (its rate limit is in Redis)")
    assert_not_ready(server, "redis", "database")
    # A refresh needs only the database (the session is checked there); either it
    # works or it fails closed, and its new access token is not accepted without Redis.
    refreshed = client.refresh()
    if refreshed.status_code == 200:
        assert_unavailable(client.private(refreshed.json()["access_token"]), "private, new token")
        client.tokens = refreshed.json()
    else:
        assert_unavailable(refreshed, "refresh")
    # No SMS went out, no session was made, nobody was registered.
    assert sms_count(server, client.account.phone) == sent
    assert server.store.query(
        "SELECT COUNT(*) AS n FROM sessions WHERE user_id = :uid", uid=client.account.user_id
    ) == [{"n": 1}]
    users = server.store.query(
        "SELECT COUNT(*) AS n FROM users WHERE phone_e164 = :p", p=e164(client.account.phone)
    )
    assert users == [{"n": 1}]

    up.redis.start()  # the same port, empty: what Redis held is gone

    assert_ready(server)
    started = eventually(client.login, 200).json()
    resent = eventually(lambda: client.resend(started["session_id"]), 200)
    assert resent.json()["session_id"] == started["session_id"]
    final_code = outbox_code(http, server, client.account.phone)  # the resent one
    signed = verify(http, server, started["session_id"], final_code)
    assert eventually(lambda: client.private(signed), 200).json() == {"message": "Access granted."}
    assert eventually(client.private, 200).status_code == 200  # the session from before
    assert eventually(client.refresh, 200).json()["access_token"]
    assert sms_count(server, client.account.phone) == sent + 2


def test_a_redis_that_hangs_gives_503_after_its_timeout_then_recovers(
    up: Stack, http: requests.Session
) -> None:
    server = up.server
    client = signed_in_client(server, http)

    up.redis.pause()  # it accepts connections and never answers: only timeouts tell

    assert_unavailable(client.private(), "private")
    assert_unavailable(client.login(), "login")
    assert_not_ready(server, "redis", "database")

    up.redis.resume()  # nothing was lost this time

    assert_ready(server)
    assert eventually(client.private, 200).json() == {"message": "Access granted."}
    started = eventually(client.login, 200).json()
    code = outbox_code(http, server, client.account.phone)
    assert client.private(verify(http, server, started["session_id"], code)).status_code == 200


def test_a_logout_survives_a_redis_restart_that_lost_its_data(
    up: Stack, http: requests.Session
) -> None:
    client = signed_in_client(up.server, http)
    assert client.logout().status_code == 204
    assert client.private().status_code == 401

    up.redis.stop()
    up.redis.start()  # empty, as after a crash of a Redis without persistence
    assert_ready(up.server)

    response = eventually(client.private, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


# -- PostgreSQL --------------------------------------------------------------


def test_without_postgres_every_request_that_needs_it_fails_closed_then_recovers(
    up: Stack, http: requests.Session
) -> None:
    server = up.server
    client = signed_in_client(server, http)
    code = outbox_code(http, server, client.account.phone)
    sent = sms_count(server, client.account.phone)

    up.postgres.stop()

    assert_unavailable(client.login(), "login")
    # The right code, but the account cannot be read: no token without that check.
    assert_unavailable(client.verify(client.pending, code), "verify-otp with the right code")
    assert_unavailable(client.resend(client.pending), "resend-otp")
    assert_unavailable(client.refresh(), "refresh")
    assert_unavailable(client.logout(), "logout")
    assert_unavailable(client.register(), "register")
    # The token and its revocation check need no database, but the key ring reloads
    # from it now and then: 200 or 503 are both right, a 500 or 401 is not.
    for _ in range(4):
        checked = client.private()
        if checked.status_code != 200:
            assert_unavailable(checked, "private")
    assert_not_ready(server, "database", "redis")
    metrics = requests.get(server.url("/metrics"), timeout=HTTP_TIMEOUT)
    assert metrics.status_code in (200, 503), metrics.text

    up.postgres.start()

    assert_ready(server)
    # The code the client still holds works: the failed attempts did not use it up.
    signed = eventually(lambda: client.verify(client.pending, code), 200).json()
    # A worker whose revocation read failed waits RELOAD_RETRY_SECONDS (1 s) before it
    # asks the database again: until then it still fails closed.
    assert eventually(lambda: client.private(signed["access_token"]), 200).status_code == 200
    assert eventually(client.refresh, 200).json()["access_token"]
    started = eventually(client.login, 200).json()
    assert eventually(lambda: client.resend(started["session_id"]), 200).status_code == 200
    assert sms_count(server, client.account.phone) == sent + 2
    challenge = server.store.challenge(otp.challenge_id(client.pending))
    assert challenge is not None and challenge.used_at is not None
    assert challenge.attempts == 1


# -- both, under load ----------------------------------------------------------


@dataclass
class Traffic:
    """Clients that keep sending a mix of requests, counting what they get."""

    server: Server
    client: Client
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    kinds = ("healthz", "private", "login", "readyz", "verify")

    def send(self, kind: str, http: requests.Session) -> requests.Response:
        url, token = self.server.url, self.client.tokens["access_token"]
        if kind == "private":
            bearer = {"Authorization": f"Bearer {token}"}
            return http.get(url("/auth/private"), headers=bearer, timeout=HTTP_TIMEOUT)
        if kind == "login":
            body = {"username": self.client.account.username, "password": PASSWORD}
            return http.post(url("/auth/login"), json=body, timeout=HTTP_TIMEOUT)
        if kind == "verify":
            body = {"session_id": "no-such-session", "otp": "123456"}
            return http.post(url("/auth/verify-otp"), json=body, timeout=HTTP_TIMEOUT)
        return http.get(url(f"/{kind}"), timeout=HTTP_TIMEOUT)

    def run(self, name: str) -> None:
        with requests.Session() as http:
            n = 0
            while not self.stop.is_set():
                kind = self.kinds[n % len(self.kinds)]
                n += 1
                try:
                    response = self.send(kind, http)
                except requests.RequestException as exc:
                    with self.lock:
                        self.errors.append(f"{name} {kind}: {exc!r}")
                    continue
                self._record(kind, response)

    def _record(self, kind: str, response: requests.Response) -> None:
        with self.lock:
            self.statuses[(kind, response.status_code)] += 1
            if response.status_code == 503 and (
                "Retry-After" not in response.headers
                or not response.headers["Content-Type"].startswith(PROBLEM_JSON)
            ):
                self.bad.append(f"{kind}: 503 without Retry-After or problem+json")
            if (
                response.status_code == 200
                and kind == "login"
                and "session_id" not in response.json()
            ):
                self.bad.append(f"login 200 without a session: {response.text}")

    def seen(self, kind: str, status: int) -> int:
        with self.lock:
            return self.statuses[(kind, status)]


def test_stores_stopped_and_restarted_under_load_never_give_a_500(
    up: Stack, http: requests.Session
) -> None:
    server = up.server
    account, token = sign_in(http, server)
    client = Client(server, http, account, tokens={"access_token": token})
    traffic = Traffic(server, client)
    threads = [threading.Thread(target=traffic.run, args=(f"t{i}",), daemon=True) for i in range(3)]
    for thread in threads:
        thread.start()

    def settle(kind: str, status: int, more: int = 3) -> None:
        """Wait (bounded) until ``more`` further answers ``status`` to ``kind``."""
        target = traffic.seen(kind, status) + more
        ends = time.monotonic() + RECOVERY_DEADLINE
        while traffic.seen(kind, status) < target:
            assert time.monotonic() < ends, f"no {status} to {kind}: {traffic.statuses}"
            time.sleep(0.05)

    try:
        settle("login", 200)
        up.redis.stop()
        settle("login", 503)
        settle("private", 503)
        up.redis.start()
        settle("login", 200)
        settle("private", 200)
        up.postgres.stop("immediate")  # a crash, this time
        settle("login", 503)
        up.postgres.start()
        settle("login", 200)
        settle("private", 200)
        settle("readyz", 200)
    finally:
        traffic.stop.set()
        for thread in threads:
            thread.join(timeout=HTTP_TIMEOUT + 5)

    statuses = dict(traffic.statuses)
    assert not traffic.errors, traffic.errors[:5]
    assert not traffic.bad, traffic.bad[:5]
    assert {status for _, status in statuses} <= {200, 401, 429, 503}, statuses
    assert statuses.get(("healthz", 200), 0) > 0 and ("healthz", 503) not in statuses, statuses
    assert not any(status >= 500 and status != 503 for _, status in statuses), statuses
