"""Single use under races, through the real multi-worker server on both configurations:
one reset code presented by 50 clients at once sets one password, and one recovery code
presented by 50 clients at once signs in once (ASVS 15.4.2); a right code presented by
several clients at once counts no failure for those that lost the race.

The server allows the most tries the settings permit (10 per challenge, 100 failures
per account), so that as many requests as possible pass every counter and race for the
code itself rather than being turned away before it."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pyotp
import pytest
import requests

from secureflaskauth.domain.passwords import Argon2Parameters, PasswordHasher
from tests.conftest import PASSWORD, PostgresDatabases
from tests.e2e.conftest import (
    _KINDS,
    HTTP_TIMEOUT,
    Account,
    Server,
    login,
    outbox_code,
    serving,
)
from tests.e2e.test_concurrency import CLIENTS, _at_once, _verify
from tests.e2e.test_lifecycle_http import (
    NEW,
    call,
    forgot,
    login_status,
    new_account,
    problem_type,
    token_works,
)

pytestmark = pytest.mark.e2e

GENEROUS = {
    "SFA_OTP_MAX_ATTEMPTS": "10",
    "SFA_OTP_ACCOUNT_MAX_FAILURES": "100",
    "SFA_LOCKOUT_THRESHOLD": "100",
    "SFA_RESET_ANSWER_SECONDS": "0",
}


@pytest.fixture(scope="module", params=_KINDS)
def racing_server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_databases: PostgresDatabases | None,
    redis_available: bool,
) -> Iterator[Server]:
    # Each test races on an account of its own: the module's tests share the server.
    directory = tmp_path_factory.mktemp(f"races-{request.param}")
    yield from serving(request.param, directory, postgres_databases, redis_available, GENEROUS)


def test_50_resets_at_once_with_one_code_set_one_password(
    racing_server: Server, http: requests.Session
) -> None:
    server = racing_server
    account, token = new_account(http, server)
    started = forgot(http, server, account.username)
    code = outbox_code(http, server, account.phone)
    # Each client asks for a password of its own: the one that works afterwards
    # names the winner, and no other may have been set even for a moment.
    passwords = [f"new horse battery number {n:02d}" for n in range(CLIENTS)]
    wanted = iter(passwords)

    def request(client: requests.Session) -> requests.Response:
        return client.post(
            server.url("/auth/password/reset"),
            json={"session_id": started["session_id"], "otp": code, "new_password": next(wanted)},
            timeout=HTTP_TIMEOUT,
        )

    answers = _at_once(server, request)

    statuses = Counter(a.status for a in answers)
    assert statuses == {204: 1, 401: CLIENTS - 1}, statuses
    assert {a.body.get("type", "").rsplit(":", 1)[-1] for a in answers if a.status == 401} <= {
        "sign-in-expired",
        "invalid-otp",
    }
    events = server.store.query(
        "SELECT outcome FROM audit_events WHERE event = 'password_reset' AND user_id = :id",
        id=account.user_id,
    )
    assert events == [{"outcome": "success"}]
    [stored] = server.store.query(
        "SELECT password_hash FROM users WHERE id = :id", id=account.user_id
    )
    hasher = PasswordHasher(Argon2Parameters())
    set_to = [p for p in passwords if hasher.verify(stored["password_hash"], p)]
    assert len(set_to) == 1
    assert not token_works(http, server, token)
    assert login_status(http, server, account.username, PASSWORD) == 401
    assert login_status(http, server, account.username, set_to[0]) == 200


def test_50_uses_at_once_of_one_recovery_code_sign_in_once(
    racing_server: Server, http: requests.Session
) -> None:
    """A new sign-in ends the account's earlier ones, so whoever holds the password and
    one recovery code races for one live sign-in at most: its single use decides there,
    and the code's own (one conditional UPDATE) is tested against the stores in
    tests/stores/test_sql_races.py."""
    server = racing_server
    account, token = new_account(http, server)
    issued = call(http, server, "POST", "/auth/recovery-codes", token, password=PASSWORD)
    assert issued.status_code == 200, issued.text
    code = issued.json()["codes"][0]
    session_id = login(http, server, account)["session_id"]

    def request(client: requests.Session) -> requests.Response:
        return client.post(
            server.url("/auth/verify-otp"),
            json={"session_id": session_id, "recovery_code": code},
            timeout=HTTP_TIMEOUT,
        )

    answers = _at_once(server, request)

    statuses = Counter(a.status for a in answers)
    assert statuses == {200: 1, 401: CLIENTS - 1}, statuses
    [winner] = [a for a in answers if a.status == 200]
    assert winner.body["recovery_codes_remaining"] == 9
    assert token_works(http, server, winner.body["access_token"])
    used = server.store.query(
        "SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = :id AND used_at IS NOT NULL",
        id=account.user_id,
    )
    assert used == [{"n": 1}]
    events = server.store.query(
        "SELECT COUNT(*) AS n FROM audit_events WHERE event = 'recovery_code_used'"
        " AND user_id = :id",
        id=account.user_id,
    )
    assert events == [{"n": 1}]
    # Used up: a new sign-in cannot use it either.
    again = login(http, server, account)["session_id"]
    late = call(http, server, "POST", "/auth/verify-otp", session_id=again, recovery_code=code)
    assert problem_type(late, 401) == "invalid-otp"


# Every client of a right-code race passes the sign-in's tries (10), so each takes a
# try from the account's counts before its code is compared; the account's lock stays
# at its default (10 in a row), so that counted losers could even reach it.
RIGHT_CODE_CLIENTS = 10
RIGHT_CODE_RACE = {"SFA_OTP_MAX_ATTEMPTS": "10", "SFA_RESET_ANSWER_SECONDS": "0"}


@pytest.fixture(scope="module", params=_KINDS)
def right_code_server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_databases: PostgresDatabases | None,
    redis_available: bool,
) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp(f"right-code-{request.param}")
    yield from serving(
        request.param, directory, postgres_databases, redis_available, RIGHT_CODE_RACE
    )


def assert_no_failure_counted(
    server: Server, http: requests.Session, account: Account, password: str = PASSWORD
) -> None:
    """The account's failure counts are as before the race (none), and it signs in."""
    [counts] = server.store.query(
        "SELECT username_canonical, otp_failures, otp_locked_until, reset_failures,"
        " reset_locked_until FROM users WHERE id = :id",
        id=account.user_id,
    )
    assert {k: v for k, v in counts.items() if k != "username_canonical"} == {
        "otp_failures": 0,
        "otp_locked_until": None,
        "reset_failures": 0,
        "reset_locked_until": None,
    }
    failures = server.store.query(
        "SELECT failures FROM login_failures WHERE key = :k", k=counts["username_canonical"]
    )
    assert failures == []
    assert login_status(http, server, account.username, password) == 200  # no delay, no lock


@pytest.mark.parametrize("race", range(3))  # the window is narrow: race more than once
def test_a_right_sign_in_code_sent_at_once_counts_no_failure_for_the_losers(
    right_code_server: Server, http: requests.Session, race: int
) -> None:
    server = right_code_server
    account, _ = new_account(http, server)
    session_id = login(http, server, account)["session_id"]
    code = outbox_code(http, server, account.phone)

    answers = _at_once(server, _verify(server, session_id, code), RIGHT_CODE_CLIENTS)

    statuses = Counter(a.status for a in answers)
    assert statuses == {200: 1, 401: RIGHT_CODE_CLIENTS - 1}, statuses
    lost = [a.body for a in answers if a.status == 401]
    assert {b["type"].rsplit(":", 1)[-1] for b in lost} == {"sign-in-expired"}, lost
    assert all("used" in b["detail"] for b in lost), lost
    assert_no_failure_counted(server, http, account)


@pytest.mark.parametrize("race", range(3))
def test_a_right_reset_code_sent_at_once_counts_no_failure_for_the_losers(
    right_code_server: Server, http: requests.Session, race: int
) -> None:
    server = right_code_server
    account, _ = new_account(http, server)
    started = forgot(http, server, account.username)
    code = outbox_code(http, server, account.phone)

    def request(client: requests.Session) -> requests.Response:
        return client.post(
            server.url("/auth/password/reset"),
            json={"session_id": started["session_id"], "otp": code, "new_password": NEW},
            timeout=HTTP_TIMEOUT,
        )

    answers = _at_once(server, request, RIGHT_CODE_CLIENTS)

    statuses = Counter(a.status for a in answers)
    assert statuses == {204: 1, 401: RIGHT_CODE_CLIENTS - 1}, statuses
    lost = [a.body for a in answers if a.status == 401]
    assert {b["type"].rsplit(":", 1)[-1] for b in lost} == {"sign-in-expired"}, lost
    assert all("used" in b["detail"] for b in lost), lost
    assert_no_failure_counted(server, http, account, NEW)


def _race_second_step(
    server: Server, http: requests.Session, account: Account, body: dict[str, str]
) -> None:
    """``body`` (a right code for the sign-in it names) sent by several clients at once:
    one signs in, the others are told the code was used, and nothing is counted."""

    def request(client: requests.Session) -> requests.Response:
        return client.post(server.url("/auth/verify-otp"), json=body, timeout=HTTP_TIMEOUT)

    answers = _at_once(server, request, RIGHT_CODE_CLIENTS)

    statuses = Counter(a.status for a in answers)
    assert statuses == {200: 1, 401: RIGHT_CODE_CLIENTS - 1}, statuses
    lost = [a.body for a in answers if a.status == 401]
    assert {b["type"].rsplit(":", 1)[-1] for b in lost} == {"sign-in-expired"}, lost
    failed = server.store.query(
        "SELECT COUNT(*) AS n FROM audit_events WHERE event = 'otp_failed' AND user_id = :id",
        id=account.user_id,
    )
    assert failed == [{"n": 0}]
    assert_no_failure_counted(server, http, account)


@pytest.mark.parametrize("race", range(3))
def test_a_right_recovery_code_sent_at_once_counts_no_failure_for_the_losers(
    right_code_server: Server, http: requests.Session, race: int
) -> None:
    server = right_code_server
    account, token = new_account(http, server)
    issued = call(http, server, "POST", "/auth/recovery-codes", token, password=PASSWORD)
    assert issued.status_code == 200, issued.text
    session_id = login(http, server, account)["session_id"]
    body = {"session_id": session_id, "recovery_code": issued.json()["codes"][0]}
    _race_second_step(server, http, account, body)


@pytest.mark.parametrize("race", range(3))
def test_a_right_app_code_sent_at_once_counts_no_failure_for_the_losers(
    right_code_server: Server, http: requests.Session, race: int
) -> None:
    server = right_code_server
    account, token = new_account(http, server)
    started = call(http, server, "POST", "/auth/factors/totp", token, password=PASSWORD)
    assert started.status_code == 200, started.text
    app = pyotp.TOTP(started.json()["secret"])
    now = time.time()
    confirmed = call(
        http,
        server,
        "POST",
        "/auth/factors/totp/confirm",
        token,
        factor_id=started.json()["factor_id"],
        code=app.at(now),
    )
    assert confirmed.status_code == 204, confirmed.text
    session_id = login(http, server, account)["session_id"]
    # The next time step's code (one step of drift is allowed): not the confirming one.
    body = {"session_id": session_id, "otp": app.at(now + 30), "method": "totp"}
    _race_second_step(server, http, account, body)


def test_deletions_of_one_account_at_once_delete_it_once(
    racing_server: Server, http: requests.Session
) -> None:
    server = racing_server
    account, token = new_account(http, server)

    def request(client: requests.Session) -> requests.Response:
        return client.delete(
            server.url("/auth/account"),
            json={"password": PASSWORD},
            headers={"Authorization": f"Bearer {token}"},
            timeout=HTTP_TIMEOUT,
        )

    answers = _at_once(server, request, RIGHT_CODE_CLIENTS)

    statuses = Counter(a.status for a in answers)
    assert statuses == {204: 1, 401: RIGHT_CODE_CLIENTS - 1}, statuses
    events = server.store.query(
        "SELECT COUNT(*) AS n FROM audit_events WHERE event = 'account_deleted' AND user_id = :id",
        id=account.user_id,
    )
    assert events == [{"n": 1}]
    assert server.store.query("SELECT id FROM users WHERE id = :id", id=account.user_id) == []
