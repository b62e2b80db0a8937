"""Single use under races, through the real multi-worker server on both configurations:
one reset code presented by 50 clients at once sets one password, and one recovery code
presented by 50 clients at once signs in once (ASVS 15.4.2).

The server allows the most tries the settings permit (10 per challenge, 100 failures
per account), so that as many requests as possible pass every counter and race for the
code itself rather than being turned away before it."""

from __future__ import annotations

from collections import Counter

import pytest
import requests

from secureflaskauth.domain.passwords import Argon2Parameters, PasswordHasher
from tests.conftest import PASSWORD
from tests.e2e.conftest import HTTP_TIMEOUT, Launch, Server, Store, login, outbox_code
from tests.e2e.test_concurrency import CLIENTS, _at_once
from tests.e2e.test_lifecycle_http import (
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


@pytest.fixture
def racing_server(fresh_store: Store, launch: Launch) -> Server:
    return launch(fresh_store, GENEROUS)


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
