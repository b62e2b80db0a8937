"""Two nodes behind one load balancer.

Two ``secureflaskauth serve`` processes (two workers each) on different ports share
one PostgreSQL database and one Redis key prefix, as two machines would. Each has
a var directory of its own, so nothing can travel through a local file: what one
node knows, the other learns from PostgreSQL or Redis. They share SFA_SECRET_KEY,
as every node of a deployment must (it keys the OTP hashes).

The nodes trust one proxy, so each test speaks from a client IP of its own
(X-Forwarded-For) and the per-IP limits of one test do not spill into another.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

import tests.e2e.conftest as e2e
from secureflaskauth.adapters.redis.client import connect
from secureflaskauth.domain import otp
from tests.conftest import (
    PASSWORD,
    REDIS_URL,
    PostgresDatabases,
    delete_redis_keys,
    new_redis_prefix,
    service_unavailable,
)
from tests.e2e.conftest import (
    HTTP_TIMEOUT,
    Account,
    Server,
    Store,
    login,
    outbox_code,
    register,
    verify,
)
from tests.e2e.services import start_server_with

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

LOGIN_ACCOUNT_LIMIT = 4
LOGIN_IP_LIMIT = 6
MAX_ATTEMPTS = 5  # the default SFA_OTP_MAX_ATTEMPTS
RACERS = 20
KEY_PICKUP_DEADLINE = 30.0  # a node reloads its keys every 10 s


@dataclass(frozen=True)
class Cluster:
    nodes: tuple[Server, Server]
    environment: dict[str, str]  # what the nodes share, for the CLI too
    store: Store

    def pick(self, i: int) -> Server:
        return self.nodes[i % len(self.nodes)]


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_databases: PostgresDatabases | None,
    redis_available: bool,
) -> Iterator[Cluster]:
    if postgres_databases is None:
        service_unavailable("the test PostgreSQL")
    if not redis_available:
        service_unavailable(f"Redis at {REDIS_URL}")
    assert postgres_databases is not None
    workdir = tmp_path_factory.mktemp("multinode")
    database_url, prefix = postgres_databases.new(), new_redis_prefix()
    environment = {
        "SFA_SECRET_KEY": secrets.token_urlsafe(48),
        "SFA_TRUSTED_PROXIES": "1",
        # Per day: no window boundary falls inside a test (see same_window).
        "SFA_LIMIT_LOGIN_ACCOUNT": f"{LOGIN_ACCOUNT_LIMIT}/day",
        "SFA_LIMIT_LOGIN_IP": f"{LOGIN_IP_LIMIT}/day",
        "SFA_REDIS_URL": REDIS_URL,
        "SFA_REDIS_PREFIX": prefix,
        "SFA_DATABASE_URL": database_url,
    }
    stores = [Store(database_url, workdir / f"var-{n}", REDIS_URL, prefix) for n in "ab"]
    started: list[Server] = []
    try:
        for store in stores:
            started.append(start_server_with(store, workdir, environment))
        a, b = started
        assert a.port != b.port
        yield Cluster((a, b), environment, stores[0])
        for node in started:
            assert node.stop() == 0, node.log()
    finally:
        for node in started:
            node.kill()
        delete_redis_keys(prefix)


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A client session speaking from an address of its own."""
    with requests.Session() as session:
        session.headers["X-Forwarded-For"] = _unique_ip()
        yield session


_ip_counter = itertools.count(1)


def _unique_ip() -> str:
    """A client address no other test of the module uses (2001:db8::/32, RFC 3849)."""
    return f"2001:db8::{next(_ip_counter):x}"


def _segment(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def kid(token: str) -> str:
    return str(_segment(token, 0)["kid"])


def sid(token: str) -> str:
    return str(_segment(token, 1)["sid"])


def private(node: Server, token: str) -> requests.Response:
    """GET /auth/private on a new connection, so successive calls spread over the
    node's workers."""
    return requests.get(
        node.url("/auth/private"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=HTTP_TIMEOUT,
    )


def post_login(http: requests.Session, node: Server, account: Account) -> requests.Response:
    return http.post(
        node.url("/auth/login"),
        json={"username": account.username, "password": PASSWORD},
        timeout=HTTP_TIMEOUT,
    )


def post_verify(
    http: requests.Session, node: Server, session_id: str, code: str
) -> requests.Response:
    return http.post(
        node.url("/auth/verify-otp"),
        json={"session_id": session_id, "otp": code},
        timeout=HTTP_TIMEOUT,
    )


def same_window() -> None:
    """Wait out the last minute of a UTC day, so a daily counter cannot reset mid-test."""
    left = 86400 - time.time() % 86400
    if left < 60:
        time.sleep(left + 1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def sign_in_across(http: requests.Session, cluster: Cluster) -> tuple[Account, dict[str, Any]]:
    """Register and log in on node A; read the SMS and verify on node B."""
    a, b = cluster.nodes
    account = register(http, a)
    session_id = login(http, a, account)["session_id"]
    response = post_verify(http, b, session_id, outbox_code(http, b, account.phone))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return account, body


def test_a_code_sent_by_one_node_is_accepted_by_the_other(
    cluster: Cluster, http: requests.Session
) -> None:
    a, b = cluster.nodes
    account = register(http, a)
    started = login(http, a, account)
    code = outbox_code(http, b, account.phone)  # the outbox is in the shared database
    challenge_id = otp.challenge_id(started["session_id"])

    token = verify(http, b, started["session_id"], code)

    for node in (a, b, a, b):
        response = private(node, token)
        assert response.status_code == 200, response.text
        assert response.json() == {"message": "Access granted."}
    # The challenge lived in Redis, used once; nothing of it in the SQL table.
    challenge = cluster.store.challenge(challenge_id)
    assert challenge is not None
    assert challenge.user_id == account.user_id
    assert challenge.used_at is not None
    assert challenge.attempts == 1
    rows = cluster.store.query("SELECT id FROM otp_challenges WHERE id = :id", id=challenge_id)
    assert rows == []
    # The session is in the shared database, whichever node created it.
    sessions = cluster.store.query("SELECT user_id FROM sessions WHERE id = :sid", sid=sid(token))
    assert sessions == [{"user_id": account.user_id}]
    # A used code is refused by the node that did not accept it, too.
    again = post_verify(http, a, started["session_id"], code)
    assert again.status_code == 401, again.text


def test_wrong_codes_spread_over_nodes_share_one_attempt_counter(
    cluster: Cluster, http: requests.Session
) -> None:
    a, b = cluster.nodes
    account = register(http, a)
    session_id = login(http, b, account)["session_id"]
    code = outbox_code(http, a, account.phone)

    remaining = []
    for attempt in range(MAX_ATTEMPTS):
        response = post_verify(http, cluster.pick(attempt), session_id, wrong(code))
        assert response.status_code == 401, response.text
        assert response.headers["Content-Type"].startswith("application/problem+json")
        remaining.append(response.json()["attempts_remaining"])
    assert remaining == [4, 3, 2, 1, 0]

    # The right code is now refused on both nodes: the challenge is dead everywhere.
    for node in (a, b):
        response = post_verify(http, node, session_id, code)
        assert response.status_code == 401, response.text
        assert response.json()["attempts_remaining"] == 0
        assert "access_token" not in response.json()
    challenge = cluster.store.challenge(otp.challenge_id(session_id))
    assert challenge is not None
    assert challenge.attempts == MAX_ATTEMPTS
    assert challenge.used_at is None
    sessions = cluster.store.query(
        "SELECT id FROM sessions WHERE user_id = :uid", uid=account.user_id
    )
    assert sessions == []


def test_one_code_sent_to_both_nodes_at_once_is_used_once(
    cluster: Cluster, http: requests.Session
) -> None:
    account = register(http, cluster.nodes[0])
    session_id = login(http, cluster.nodes[0], account)["session_id"]
    code = outbox_code(http, cluster.nodes[1], account.phone)
    barrier = threading.Barrier(RACERS)

    def racer(n: int) -> int:
        with requests.Session() as own:
            own.headers["X-Forwarded-For"] = http.headers["X-Forwarded-For"]
            barrier.wait(timeout=HTTP_TIMEOUT)
            return post_verify(own, cluster.pick(n), session_id, code).status_code

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        statuses = sorted(pool.map(racer, range(RACERS)))

    assert statuses == [200] + [401] * (RACERS - 1)
    sessions = cluster.store.query(
        "SELECT id FROM sessions WHERE user_id = :uid", uid=account.user_id
    )
    assert len(sessions) == 1


def test_the_resend_cooldown_is_shared_by_the_nodes(
    cluster: Cluster, http: requests.Session
) -> None:
    a, b = cluster.nodes
    account = register(http, a)
    session_id = login(http, a, account)["session_id"]

    response = http.post(
        b.url("/auth/resend-otp"), json={"session_id": session_id}, timeout=HTTP_TIMEOUT
    )

    assert response.status_code == 429, response.text
    assert 0 < int(response.headers["Retry-After"]) <= 30  # the default cooldown
    assert response.json()["attempts_remaining"] == MAX_ATTEMPTS
    # The code of the login still works, on the node that refused the resend.
    assert verify(http, b, session_id, outbox_code(http, b, account.phone))


def test_the_per_account_login_limit_counts_logins_on_every_node(
    cluster: Cluster, http: requests.Session
) -> None:
    account = register(http, cluster.nodes[0])
    same_window()
    for n in range(LOGIN_ACCOUNT_LIMIT):
        # A new client address each time: only the account's counter is shared.
        http.headers["X-Forwarded-For"] = _unique_ip()
        response = post_login(http, cluster.pick(n), account)
        assert response.status_code == 200, f"login {n + 1}: {response.text}"

    for node in cluster.nodes:  # the next one is refused, whichever node gets it
        http.headers["X-Forwarded-For"] = _unique_ip()
        response = post_login(http, node, account)
        assert response.status_code == 429, response.text
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert 0 < int(response.headers["Retry-After"]) <= 86400
        assert "session_id" not in response.json()
    # Four SMS were sent, no more.
    sent = cluster.store.query(
        'SELECT COUNT(*) AS n FROM sms_outbox WHERE "to" = :to', to=e2e.e164(account.phone)
    )
    assert sent == [{"n": LOGIN_ACCOUNT_LIMIT}]


def test_the_per_ip_login_limit_counts_logins_on_every_node(
    cluster: Cluster, http: requests.Session
) -> None:
    accounts = [register(http, cluster.nodes[0]) for _ in range(LOGIN_IP_LIMIT + 2)]
    same_window()
    for n, account in enumerate(accounts[:LOGIN_IP_LIMIT]):
        response = post_login(http, cluster.pick(n), account)
        assert response.status_code == 200, f"login {n + 1}: {response.text}"

    for node, account in zip(cluster.nodes, accounts[LOGIN_IP_LIMIT:], strict=True):
        response = post_login(http, node, account)
        assert response.status_code == 429, response.text
        assert int(response.headers["Retry-After"]) > 0
    # Another address is not affected.
    http.headers["X-Forwarded-For"] = _unique_ip()
    response = post_login(http, cluster.nodes[1], accounts[-1])
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("direction", ["a-to-b", "b-to-a"])
def test_a_logout_on_one_node_is_refused_at_once_on_the_other(
    cluster: Cluster, http: requests.Session, direction: str
) -> None:
    here, there = cluster.nodes if direction == "a-to-b" else cluster.nodes[::-1]
    _, tokens = sign_in_across(http, cluster)
    token = tokens["access_token"]
    for _ in range(4):  # every worker of the other node has accepted it
        response = private(there, token)
        assert response.status_code == 200, response.text

    response = http.post(
        here.url("/auth/logout"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 204, response.text

    # At once: no sleep, no cache on the other node.
    for node in (there, there, there, there, here):
        response = private(node, token)
        assert response.status_code == 401, response.text
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    ended = cluster.store.query("SELECT revoked_at FROM sessions WHERE id = :sid", sid=sid(token))
    assert len(ended) == 1 and ended[0]["revoked_at"] is not None
    # The revocation that the other node read is in Redis.
    client = connect(REDIS_URL)
    try:
        assert client.exists(f"{cluster.store.redis_prefix}revoked:{sid(token)}") == 1
    finally:
        client.close()
    # The durable copy, reloaded into a Redis that restarted empty.
    archived = cluster.store.query("SELECT session_id FROM revoked_sessions")
    assert sid(token) in [row["session_id"] for row in archived]
    refreshed = http.post(
        there.url("/auth/refresh"),
        json={"refresh_token": tokens["refresh_token"]},
        timeout=HTTP_TIMEOUT,
    )
    assert refreshed.status_code == 401, refreshed.text


def test_a_rotated_key_reaches_every_node_and_old_tokens_stay_valid(
    cluster: Cluster, http: requests.Session, tmp_path: Path
) -> None:
    _, first = sign_in_across(http, cluster)
    old_token, refresh_token = first["access_token"], first["refresh_token"]
    old_kid = kid(old_token)

    rotated = subprocess.run(
        [*e2e._serve_command(), "keys", "rotate"],
        cwd=tmp_path,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("SFA_")},
            **cluster.environment,
            "SFA_VAR_DIR": str(tmp_path / "var-cli"),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert rotated.returncode == 0, rotated.stderr
    match = re.search(r"new signing key (\S+)", rotated.stdout)
    assert match, rotated.stdout
    new_kid = match.group(1)
    assert new_kid != old_kid

    # Every node signs with the new key before long; each token it signs is accepted
    # by every node at once, and so is the token signed before the rotation.
    deadline = time.monotonic() + KEY_PICKUP_DEADLINE
    signs_new = {node.port: 0 for node in cluster.nodes}
    for n in itertools.count():
        node, other = cluster.pick(n), cluster.pick(n + 1)
        response = requests.post(
            node.url("/auth/refresh"), json={"refresh_token": refresh_token}, timeout=HTTP_TIMEOUT
        )
        assert response.status_code == 200, response.text
        refresh_token, token = response.json()["refresh_token"], response.json()["access_token"]
        assert kid(token) in (old_kid, new_kid)
        for verifier in (other, other, node):
            checked = private(verifier, token)
            assert checked.status_code == 200, f"{kid(token)} refused: {checked.text}"
            assert private(verifier, old_token).status_code == 200
        signs_new[node.port] = signs_new[node.port] + 1 if kid(token) == new_kid else 0
        if min(signs_new.values()) >= 4:  # four in a row on each node, over new connections
            break
        assert time.monotonic() < deadline, f"the new key was not picked up: {signs_new}"
        time.sleep(0.25)

    for node in cluster.nodes:
        published = {
            k["kid"]
            for k in requests.get(node.url("/.well-known/jwks.json"), timeout=HTTP_TIMEOUT).json()[
                "keys"
            ]
        }
        assert {old_kid, new_kid} <= published
