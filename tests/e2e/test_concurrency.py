"""Races through the real multi-worker server: 50 clients released at once.

Each client is a thread with its own HTTP session (its own connection), all held
at a barrier and released together, so the requests reach both worker processes
at the same time.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import pytest
import requests

from secureflaskauth.domain import otp
from tests.conftest import PASSWORD, unique_username
from tests.e2e.conftest import HTTP_TIMEOUT, Server, login, outbox_code, register, unique_phone

pytestmark = pytest.mark.e2e

CLIENTS = 50
MAX_ATTEMPTS = 5  # the default SFA_OTP_MAX_ATTEMPTS


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def _at_once(
    server: Server,
    request: Callable[[requests.Session], requests.Response],
    clients: int = CLIENTS,
) -> list[Answer]:
    """Send ``request`` from ``clients`` threads released together; return every answer."""
    barrier = threading.Barrier(clients)

    def client(_: int) -> Answer:
        with requests.Session() as http:
            barrier.wait(timeout=60)
            response = request(http)
            return Answer(response.status_code, response.json() if response.content else {})

    with ThreadPoolExecutor(max_workers=clients) as pool:
        answers = list(pool.map(client, range(clients)))
    assert len(answers) == clients
    errors = [a for a in answers if a.status >= 500]
    assert not errors, f"{errors}\nthe server's log ends with:\n{server.log()[-4000:]}"
    return answers


def _verify(server: Server, session_id: str, code: str) -> Callable[[requests.Session], Any]:
    def request(http: requests.Session) -> requests.Response:
        return http.post(
            server.url("/auth/verify-otp"),
            json={"session_id": session_id, "otp": code},
            timeout=HTTP_TIMEOUT,
        )

    return request


def _challenge_row(server: Server, session_id: str) -> dict[str, Any]:
    challenge = server.store.challenge(otp.challenge_id(session_id))
    assert challenge is not None
    return asdict(challenge)


@pytest.mark.parametrize("race", range(3))  # the window is narrow: race more than once
def test_one_correct_code_sent_50_times_gives_one_token(
    server: Server, http: requests.Session, race: int
) -> None:
    account = register(http, server)
    session_id = login(http, server, account)["session_id"]
    code = outbox_code(http, server, account.phone)

    answers = _at_once(server, _verify(server, session_id, code))

    statuses = Counter(a.status for a in answers)
    assert statuses == {200: 1, 401: CLIENTS - 1}, statuses
    [winner] = [a for a in answers if a.status == 200]
    assert winner.body["token_type"] == "Bearer"
    private = http.get(
        server.url("/auth/private"),
        headers={"Authorization": f"Bearer {winner.body['access_token']}"},
        timeout=HTTP_TIMEOUT,
    )
    assert private.status_code == 200
    assert _challenge_row(server, session_id)["used_at"] is not None


def test_50_wrong_codes_at_once_count_only_the_allowed_tries(
    server: Server, http: requests.Session
) -> None:
    account = register(http, server)
    session_id = login(http, server, account)["session_id"]
    code = outbox_code(http, server, account.phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    answers = _at_once(server, _verify(server, session_id, wrong))

    assert {a.status for a in answers} == {401}
    # Each counted try saw its own count: 4, 3, 2, 1 tries left, then 0 for the rest.
    remaining = sorted(a.body["attempts_remaining"] for a in answers)
    assert [r for r in remaining if r > 0] == [1, 2, 3, 4], remaining
    row = _challenge_row(server, session_id)
    assert row["attempts"] == MAX_ATTEMPTS
    assert row["used_at"] is None
    [user] = server.store.query("SELECT otp_failures FROM users WHERE id = :id", id=account.user_id)
    assert user["otp_failures"] == MAX_ATTEMPTS

    # The challenge is spent: even the right code is refused now.
    late = _verify(server, session_id, code)(http)
    assert late.status_code == 401
    assert late.json()["attempts_remaining"] == 0
    assert _challenge_row(server, session_id)["used_at"] is None


def test_50_registrations_of_one_username_create_one_user(server: Server) -> None:
    username = unique_username("race")

    def request(http: requests.Session) -> requests.Response:
        return http.post(
            server.url("/auth/register"),
            json={"username": username, "password": PASSWORD, "phone_number": unique_phone()},
            timeout=HTTP_TIMEOUT,
        )

    answers = _at_once(server, request)

    statuses = Counter(a.status for a in answers)
    assert statuses == {201: 1, 409: CLIENTS - 1}, statuses
    [created] = [a for a in answers if a.status == 201]
    rows = server.store.query(
        "SELECT id FROM users WHERE username_canonical = :name", name=username.lower()
    )
    assert [row["id"] for row in rows] == [created.body["user_id"]]
