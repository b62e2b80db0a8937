"""Races through the real multi-worker server (checklist B-8): 50 clients, each a thread
with its own connection, held at a barrier and released together, on SQLite and on
PostgreSQL with Redis. Complements tests/e2e/test_concurrency.py (one code verified 50
times, 50 wrong codes, 50 registrations) with refreshes, logins, resends and wrong
codes against the account's code lock.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
import requests

from tests.conftest import PASSWORD
from tests.e2e.conftest import (
    HTTP_TIMEOUT,
    Account,
    Server,
    e164,
    login,
    outbox_code,
    register,
    verify,
)
from tests.security.conftest import Report, StoreFactory, TunedServer, start_tuned, stop

pytestmark = pytest.mark.e2e

CLIENTS = 50
SMS_PER_ACCOUNT = 20  # SFA_LIMIT_SMS_ACCOUNT of this server, per day
RESEND_COOLDOWN = 4  # SFA_OTP_RESEND_COOLDOWN_SECONDS of this server
OTP_LOCK_AFTER = 10  # SFA_OTP_ACCOUNT_MAX_FAILURES (default)
MAX_ATTEMPTS = 5  # SFA_OTP_MAX_ATTEMPTS (default)


@pytest.fixture(scope="module")
def race_server(
    new_store: StoreFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TunedServer]:
    """One server per store kind for the module: request limits raised (as in every e2e
    server), but a per-account SMS cap low enough that 50 logins exceed it, and a short
    resend cooldown that a test can wait out."""
    directory = tmp_path_factory.mktemp("races")
    server = start_tuned(
        new_store(directory),
        directory,
        {
            # Per day: a fixed window, which a burst is unlikely to straddle. The
            # accounts here never verify their number: the pending accounts' cap.
            "SFA_LIMIT_SMS_ACCOUNT": f"{SMS_PER_ACCOUNT}/day",
            "SFA_LIMIT_SMS_UNVERIFIED_ACCOUNT": f"{SMS_PER_ACCOUNT}/day",
            "SFA_OTP_RESEND_COOLDOWN_SECONDS": str(RESEND_COOLDOWN),
            # Wrong codes must reach the code lock without the password delay first.
            "SFA_LOCKOUT_THRESHOLD": "50",
        },
    )
    yield server
    stop(server)


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    retry_after: str | None


def at_once(
    server: Server, request: Callable[[requests.Session], requests.Response]
) -> list[Answer]:
    """Send ``request`` from CLIENTS threads released together; no answer may be a 5xx."""
    barrier = threading.Barrier(CLIENTS)

    def client(_: int) -> Answer:
        with requests.Session() as http:
            barrier.wait(timeout=60)
            response = request(http)
            return Answer(
                response.status_code, response.json(), response.headers.get("Retry-After")
            )

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        answers = list(pool.map(client, range(CLIENTS)))
    assert len(answers) == CLIENTS
    errors = [a for a in answers if a.status >= 500]
    assert not errors, f"{errors}\nthe server's log ends with:\n{server.log()[-4000:]}"
    return answers


def sms_count(server: Server, account: Account) -> int:
    [row] = server.store.query(
        'SELECT COUNT(*) AS n FROM sms_outbox WHERE "to" = :to', to=e164(account.phone)
    )
    return int(row["n"])


def post(server: Server, path: str, body: dict[str, Any]) -> Callable[[requests.Session], Any]:
    def request(http: requests.Session) -> requests.Response:
        return http.post(server.url(path), json=body, timeout=HTTP_TIMEOUT)

    return request


def test_50_refreshes_of_one_token_give_at_most_one_pair(
    race_server: TunedServer, report: Report
) -> None:
    server = race_server
    with requests.Session() as http:
        account = register(http, server)
        session_id = login(http, server, account)["session_id"]
        response = http.post(
            server.url("/auth/verify-otp"),
            json={"session_id": session_id, "otp": outbox_code(http, server, account.phone)},
            timeout=HTTP_TIMEOUT,
        )
        assert response.status_code == 200, response.text
        old = response.json()["refresh_token"]

        answers = at_once(server, post(server, "/auth/refresh", {"refresh_token": old}))

        statuses = Counter(a.status for a in answers)
        report(f"{CLIENTS} refreshes of one token: answers {dict(statuses)}")
        assert set(statuses) <= {200, 401}, statuses
        pairs = {
            (a.body["access_token"], a.body["refresh_token"]) for a in answers if a.status == 200
        }
        assert len(pairs) <= 1, f"{len(pairs)} distinct pairs"
        assert statuses[200] >= 1  # the first of them is a normal refresh
        [(access, new)] = pairs
        assert new != old
        private = http.get(
            server.url("/auth/private"),
            headers={"Authorization": f"Bearer {access}"},
            timeout=HTTP_TIMEOUT,
        )
        assert private.status_code == 200
    sid = jwt.decode(access, options={"verify_signature": False})["sid"]
    stored = server.store.query(
        "SELECT token_hash FROM refresh_tokens WHERE session_id = :sid", sid=sid
    )
    expected = {hashlib.sha256(t.encode()).hexdigest() for t in (old, new)}
    assert {row["token_hash"] for row in stored} == expected  # no loser's token was kept


def test_50_logins_at_once_send_no_more_codes_than_the_account_cap(
    race_server: TunedServer, report: Report
) -> None:
    server = race_server
    with requests.Session() as http:
        account = register(http, server)
    before = sms_count(server, account)

    answers = at_once(
        server, post(server, "/auth/login", {"username": account.username, "password": PASSWORD})
    )

    statuses = Counter(a.status for a in answers)
    sent = sms_count(server, account) - before
    report(f"{CLIENTS} logins at once, SMS cap {SMS_PER_ACCOUNT}: {sent} sent, {dict(statuses)}")
    assert set(statuses) <= {200, 429}, statuses
    assert sent == statuses[200]  # every code announced was sent, and no other
    assert 1 <= sent <= SMS_PER_ACCOUNT
    refused = [a for a in answers if a.status == 429]
    assert all(a.retry_after and int(a.retry_after) >= 1 for a in refused)
    assert all("session_id" not in a.body for a in refused)


def test_50_resends_at_once_after_the_cooldown_send_one_code(
    race_server: TunedServer, report: Report
) -> None:
    server = race_server
    with requests.Session() as http:
        account = register(http, server)
        session_id = login(http, server, account)["session_id"]
        first_code = outbox_code(http, server, account.phone)
    time.sleep(RESEND_COOLDOWN + 0.2)
    before = sms_count(server, account)

    answers = at_once(server, post(server, "/auth/resend-otp", {"session_id": session_id}))

    statuses = Counter(a.status for a in answers)
    sent = sms_count(server, account) - before
    report(f"{CLIENTS} resends at once after the cooldown: {sent} sent, answers {dict(statuses)}")
    assert set(statuses) <= {200, 401, 429}, statuses
    assert sent == statuses[200] == 1
    with requests.Session() as http:
        new_code = outbox_code(http, server, account.phone)
        if new_code != first_code:  # one in a million: the new code may repeat the old
            old = http.post(
                server.url("/auth/verify-otp"),
                json={"session_id": session_id, "otp": first_code},
                timeout=HTTP_TIMEOUT,
            )
            assert old.status_code == 401  # the replaced code stopped working
        assert verify(http, server, session_id, new_code)


def test_50_wrong_codes_at_once_against_the_account_lock(
    race_server: TunedServer, report: Report
) -> None:
    """One short of the account's code lock (10), a fresh sign-in gets 50 wrong codes at
    once: each try is claimed against the lock before its code is compared, so exactly
    one is evaluated."""
    server = race_server
    with requests.Session() as http:
        account = register(http, server)
        for tries in (MAX_ATTEMPTS, OTP_LOCK_AFTER - 1 - MAX_ATTEMPTS):
            session_id = login(http, server, account)["session_id"]
            code = outbox_code(http, server, account.phone)
            wrong = f"{(int(code) + 1) % 1_000_000:06d}"
            for _ in range(tries):
                response = http.post(
                    server.url("/auth/verify-otp"),
                    json={"session_id": session_id, "otp": wrong},
                    timeout=HTTP_TIMEOUT,
                )
                assert response.status_code == 401
        session_id = login(http, server, account)["session_id"]
        code = outbox_code(http, server, account.phone)
    query = "SELECT otp_failures FROM users WHERE id = :id"
    assert server.store.query(query, id=account.user_id) == [{"otp_failures": OTP_LOCK_AFTER - 1}]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    answers = at_once(
        server, post(server, "/auth/verify-otp", {"session_id": session_id, "otp": wrong})
    )

    [row] = server.store.query(query, id=account.user_id)
    evaluated = row["otp_failures"] - (OTP_LOCK_AFTER - 1)
    report(
        f"{CLIENTS} wrong codes at once with {OTP_LOCK_AFTER - 1} of {OTP_LOCK_AFTER} "
        f"failures used: {evaluated} evaluated"
    )
    assert {a.status for a in answers} == {401}
    assert evaluated == 1
    failed = server.store.query(
        "SELECT COUNT(*) AS n FROM audit_events WHERE event = 'otp_failed' AND user_id = :id",
        id=account.user_id,
    )
    assert failed == [{"n": OTP_LOCK_AFTER}]
    with requests.Session() as http:
        locked = http.post(
            server.url("/auth/login"),
            json={"username": account.username, "password": PASSWORD},
            timeout=HTTP_TIMEOUT,
        )
        assert locked.status_code == 429, locked.text
        # The right code no longer works either: the lock ended the sign-in.
        late = http.post(
            server.url("/auth/verify-otp"),
            json={"session_id": session_id, "otp": code},
            timeout=HTTP_TIMEOUT,
        )
        assert late.status_code == 401


# -- the per-account delay under a burst ---------------------------------------------

LOCKOUT_THRESHOLD = 5
LOCKOUT_BASE = 2  # seconds: short, so the test can wait out a delay


@pytest.fixture(scope="module")
def lockout_server(
    new_store: StoreFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TunedServer]:
    """Request limits raised, the per-account delay as configured (threshold 5), with a
    short first delay."""
    directory = tmp_path_factory.mktemp("lockout")
    server = start_tuned(
        new_store(directory),
        directory,
        {
            "SFA_LOCKOUT_THRESHOLD": str(LOCKOUT_THRESHOLD),
            "SFA_LOCKOUT_BASE_SECONDS": str(LOCKOUT_BASE),
        },
    )
    yield server
    stop(server)


def wrong_password(server: Server, username: str) -> Callable[[requests.Session], Any]:
    return post(server, "/auth/login", {"username": username, "password": "not " + PASSWORD})


def password_failures(server: Server, username: str) -> int:
    [row] = server.store.query(
        "SELECT COUNT(*) AS n FROM audit_events WHERE event = 'password_failed' "
        "AND username = :name",
        name=username,
    )
    return int(row["n"])


@pytest.mark.parametrize("known", [True, False], ids=["account", "unknown-username"])
def test_50_wrong_passwords_at_once_are_evaluated_once_per_delay(
    lockout_server: TunedServer, report: Report, known: bool
) -> None:
    """One short of the delay, then after each delay: of 50 wrong passwords sent at once,
    one is evaluated (401) and the others are refused unevaluated (429); alike for an
    unknown username."""
    server = lockout_server
    with requests.Session() as http:
        username = register(http, server).username if known else f"nobody.{time.time_ns()}"
        for _ in range(LOCKOUT_THRESHOLD - 1):
            assert wrong_password(server, username)(http).status_code == 401
    evaluated: list[int] = []
    for window in range(2):
        before = password_failures(server, username)
        answers = at_once(server, wrong_password(server, username))
        statuses = Counter(a.status for a in answers)
        evaluated.append(password_failures(server, username) - before)
        assert set(statuses) <= {401, 429}, statuses
        assert statuses[401] == evaluated[-1] == 1, statuses
        assert all(a.retry_after and int(a.retry_after) >= 1 for a in answers if a.status == 429)
        # The delay doubles with each failure: wait out this one.
        time.sleep(LOCKOUT_BASE * 2**window + 0.3)
    report(f"{CLIENTS} wrong passwords at once, twice: evaluated {evaluated}")


def test_50_wrong_passwords_at_once_from_no_failure_evaluate_the_threshold(
    lockout_server: TunedServer, report: Report
) -> None:
    server = lockout_server
    with requests.Session() as http:
        username = register(http, server).username
    answers = at_once(server, wrong_password(server, username))
    statuses = Counter(a.status for a in answers)
    report(f"{CLIENTS} wrong passwords at once, none before: {dict(statuses)}")
    assert statuses == Counter({401: LOCKOUT_THRESHOLD, 429: CLIENTS - LOCKOUT_THRESHOLD})
    assert password_failures(server, username) == LOCKOUT_THRESHOLD
