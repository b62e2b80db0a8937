"""Sessions through the real multi-worker server.

Concurrent refreshes of one token (two tabs, retries) yield one new pair; a logout
is seen at once by every worker process, whichever answers.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
import requests

from tests.e2e.conftest import HTTP_TIMEOUT, Account, Server, login, outbox_code, register

pytestmark = pytest.mark.e2e

REFRESHERS = 20
FRESH_CONNECTIONS = 30


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def signed_in(
    http: requests.Session, server: Server, account: Account | None = None
) -> dict[str, Any]:
    """Log in (registering first unless ``account`` is given), read the SMS and verify:
    the whole verify-otp body."""
    account = account or register(http, server)
    session_id = login(http, server, account)["session_id"]
    response = http.post(
        server.url("/auth/verify-otp"),
        json={"session_id": session_id, "otp": outbox_code(http, server, account.phone)},
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def sid(access_token: str) -> str:
    value: str = jwt.decode(access_token, options={"verify_signature": False})["sid"]
    return value


def refresh(http: requests.Session, server: Server, token: str) -> requests.Response:
    return http.post(
        server.url("/auth/refresh"), json={"refresh_token": token}, timeout=HTTP_TIMEOUT
    )


def private_on_a_new_connection(server: Server, token: str) -> int:
    """GET /auth/private over a connection of its own, so any worker may answer."""
    with requests.Session() as fresh:
        response = fresh.get(
            server.url("/auth/private"),
            headers={"Authorization": f"Bearer {token}", "Connection": "close"},
            timeout=HTTP_TIMEOUT,
        )
    return response.status_code


def refresh_at_once(server: Server, token: str) -> list[Answer]:
    """REFRESHERS clients, each on its own connection, released together."""
    barrier = threading.Barrier(REFRESHERS)

    def client(_: int) -> Answer:
        with requests.Session() as http:
            barrier.wait(timeout=60)
            response = refresh(http, server, token)
            return Answer(response.status_code, response.json())

    with ThreadPoolExecutor(max_workers=REFRESHERS) as pool:
        answers = list(pool.map(client, range(REFRESHERS)))
    errors = [a for a in answers if a.status >= 500]
    assert not errors, f"{errors}\nthe server's log ends with:\n{server.log()[-4000:]}"
    return answers


def test_concurrent_refreshes_of_one_token_yield_one_pair(
    server: Server, http: requests.Session
) -> None:
    body = signed_in(http, server)
    session = sid(body["access_token"])

    answers = refresh_at_once(server, body["refresh_token"])

    # Every repeat falls inside the grace window (5 s): nobody is signed out.
    assert Counter(a.status for a in answers) == {200: REFRESHERS}, answers
    pairs = {(a.body["access_token"], a.body["refresh_token"]) for a in answers}
    assert len(pairs) == 1, f"{len(pairs)} distinct pairs"
    [(access, new_refresh)] = pairs
    assert new_refresh != body["refresh_token"]
    assert sid(access) == session
    assert private_on_a_new_connection(server, access) == 200

    stored = server.store.query(
        "SELECT token_hash, rotated_at FROM refresh_tokens WHERE session_id = :sid", sid=session
    )
    hashes = {row["token_hash"]: row["rotated_at"] for row in stored}
    old_hash = hashlib.sha256(body["refresh_token"].encode()).hexdigest()
    new_hash = hashlib.sha256(new_refresh.encode()).hexdigest()
    assert set(hashes) == {old_hash, new_hash}  # the losers' tokens were never kept
    assert hashes[old_hash] is not None and hashes[new_hash] is None
    refreshed_events = server.store.query(
        "SELECT detail FROM audit_events WHERE event = 'token_refreshed' AND detail LIKE :sid",
        sid=f"%{session}%",
    )
    assert len(refreshed_events) == 1
    assert server.store.query("SELECT revoked_at FROM sessions WHERE id = :sid", sid=session) == [
        {"revoked_at": None}
    ]

    # The session goes on: the new refresh token rotates normally.
    onward = refresh(http, server, new_refresh)
    assert onward.status_code == 200, onward.text
    assert onward.json()["refresh_token"] not in (new_refresh, body["refresh_token"])


def test_logout_is_seen_at_once_by_every_worker(server: Server, http: requests.Session) -> None:
    body = signed_in(http, server)
    token = body["access_token"]
    # Warm every worker's revocation cache with this token first.
    assert {private_on_a_new_connection(server, token) for _ in range(6)} == {200}

    response = http.post(
        server.url("/auth/logout"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 204, response.text

    statuses = [private_on_a_new_connection(server, token) for _ in range(FRESH_CONNECTIONS)]
    assert statuses == [401] * FRESH_CONNECTIONS
    assert refresh(http, server, body["refresh_token"]).status_code == 401


def test_logout_all_is_seen_at_once_by_every_worker(server: Server, http: requests.Session) -> None:
    account = register(http, server)
    first, second = signed_in(http, server, account), signed_in(http, server, account)
    tokens = [first["access_token"], second["access_token"]]
    assert {private_on_a_new_connection(server, t) for t in tokens for _ in range(3)} == {200}

    response = http.post(
        server.url("/auth/logout-all"),
        headers={"Authorization": f"Bearer {second['access_token']}"},
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 204, response.text

    half = FRESH_CONNECTIONS // 2
    statuses = [private_on_a_new_connection(server, t) for t in tokens for _ in range(half)]
    assert statuses == [401] * (2 * half)
    for body in (first, second):
        assert refresh(http, server, body["refresh_token"]).status_code == 401
